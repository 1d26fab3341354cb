package checks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"
	"golang.org/x/net/publicsuffix"

	"github.com/mailcheck-cli/mailcheck/checks/dmarc"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// DMARCTreeWalk returns the names whose _dmarc records the DNS Tree Walk of
// RFC 9989 (§4.10) asks for, in order: the domain itself; then, when it has
// 8 labels or more, its last 7 labels, otherwise its parent; then one label
// shorter each time, down to a single label. It needs no public suffix list.
func DMARCTreeWalk(domain string) []string {
	labels := dns.SplitDomainName(strings.ToLower(trimDot(domain)))
	if len(labels) == 0 {
		return nil
	}
	names := []string{strings.Join(labels, ".")}
	// Bound the walk to 8 queries: a long name jumps straight to 7 labels.
	if len(labels) >= 8 {
		labels = labels[len(labels)-7:]
	} else {
		labels = labels[1:]
	}
	for len(labels) > 0 {
		names = append(names, strings.Join(labels, "."))
		labels = labels[1:]
	}
	return names
}

// dmarcLookup is the answer at one _dmarc name of the walk.
type dmarcLookup struct {
	domain  string // the name below _dmarc
	err     error
	ans     *resolver.Answer
	records []string // TXT records starting v=DMARC1
	index   int      // of the first of them in ans.RRs
	rec     *dmarc.Record
	parse   error
}

// single reports whether exactly one DMARC record is there: RFC 9989 §4.10
// discards every record at a name that holds more than one.
func (l *dmarcLookup) single() bool { return l.err == nil && len(l.records) == 1 }

func (l *dmarcLookup) subject() string { return Subject("_dmarc."+l.domain, dns.TypeTXT) }

// DMARCPolicy is what policy discovery found for a domain.
type DMARCPolicy struct {
	// Domain is where the applying record was found: the audited domain,
	// or an ancestor when the policy is inherited. "" when none was found.
	Domain string
	Record *dmarc.Record
	// OrgDomain is the Organizational Domain from the tree walk (RFC 9989
	// §4.10): the first record with psd=n, one label below the first with
	// psd=y, else the shortest name holding a record.
	OrgDomain string
	lookups   []*dmarcLookup
	applying  *dmarcLookup
	notes     []string
}

// Applied is the policy that applies to the domain policy discovery was
// run for: p where the record is the domain's own, sp (else p) when it is
// inherited from an ancestor. "" when no record was found.
func (p *DMARCPolicy) Applied(domain string) dmarc.Policy {
	if p.Record == nil {
		return ""
	}
	return dmarcApplied(p.Record, p.Domain != strings.ToLower(trimDot(domain)))
}

// DiscoverDMARC runs DMARC policy discovery for domain (RFC 9989 §4.10):
// the record that applies, where it was found, and the Organizational
// Domain. A lookup the walk needed that failed is returned as the error
// (a *resolver.Error): then nothing can be concluded. The CI gate uses it
// for policy.dmarc-policy.
func DiscoverDMARC(ctx context.Context, r resolver.Resolver, domain string) (*DMARCPolicy, error) {
	domain = strings.ToLower(trimDot(domain))
	lookups := lookupDMARC(ctx, r, domain)
	if err := lookups[0].err; err != nil {
		return nil, err
	}
	for _, l := range lookups {
		if l.single() {
			break
		}
		if l.err != nil && !isPublicSuffix(l.domain) {
			return nil, l.err
		}
	}
	pol, _ := discoverDMARC(domain, lookups)
	return pol, nil
}

// lookupDMARC asks for every _dmarc name of the tree walk at once — at
// most 8 names, and one round trip instead of one per label — and then
// reads the answers in the order the walk defines.
func lookupDMARC(ctx context.Context, r resolver.Resolver, domain string) []*dmarcLookup {
	names := DMARCTreeWalk(domain)
	out := make([]*dmarcLookup, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		l := &dmarcLookup{domain: name, index: -1}
		out[i] = l
		wg.Go(func() {
			txts, ans, err := resolver.TXT(ctx, r, "_dmarc."+name)
			if err != nil {
				l.err = err
				return
			}
			l.ans = ans
			for _, t := range txts {
				if dmarc.IsDMARC(t) {
					l.records = append(l.records, t)
				}
			}
			for i, rr := range ans.RRs {
				if t, ok := rr.(*dns.TXT); ok && dmarc.IsDMARC(strings.Join(t.Txt, "")) {
					l.index = i
					break
				}
			}
			if len(l.records) == 1 {
				l.rec, l.parse = dmarc.Parse(l.records[0])
			}
		})
	}
	wg.Wait()
	return out
}

// isPublicSuffix reports whether name is a public suffix by the PSL, whose
// default rule makes every unlisted TLD (".test") one. Used only to decide
// whether an unanswered lookup above the domain could hide its policy: a
// record at a public suffix is a PSD policy, never the domain owner's own.
func isPublicSuffix(name string) bool {
	ps, _ := publicsuffix.PublicSuffix(name)
	return ps == name
}

// checkDMARC audits domain's DMARC policy (RFC 9989, with RFC 7489
// compatibility).
func checkDMARC(ctx context.Context, env *Env, domain string) Result {
	domain = strings.ToLower(trimDot(domain))
	lookups := lookupDMARC(ctx, env.Resolver, domain)
	own := lookups[0]
	var res Result
	if own.err != nil {
		res.Findings = []finding.Finding{LookupProblem(finding.T("The DMARC policy"), "_dmarc."+domain, dns.TypeTXT, own.err)}
		return res
	}
	pol, problem := discoverDMARC(domain, lookups)
	res.Detail = pol.notes
	if problem != nil {
		res.Findings = []finding.Finding{*problem}
		return res
	}

	var out []finding.Finding
	switch {
	case len(own.records) > 1:
		f := finding.New("dmarc.multiple", own.subject(), finding.T("%d DMARC records at _dmarc.%s: receivers discard them all", len(own.records), domain), own.records...)
		if pol.applying != nil {
			f.Evidence = append(f.Evidence, "receivers fall back to the policy at _dmarc."+pol.Domain)
		}
		f.SetFix(finding.T("Keep one v=DMARC1 TXT record at _dmarc.%s and delete the others", domain))
		locate(&f, own.ans, own.index)
		res.Findings = []finding.Finding{f}
		return res
	case pol.applying == nil:
		res.Findings = []finding.Finding{dmarcMissing(domain)}
		return res
	}
	l := pol.applying
	if l.parse != nil {
		f := finding.New("dmarc.syntax", l.subject(), finding.T("DMARC record does not parse: %s", l.parse.Error()), l.records[0])
		f.SetFix(dmarcSyntaxFix(l))
		locate(&f, l.ans, l.index)
		res.Findings = []finding.Finding{f}
		return res
	}
	inherited := pol.Domain != domain
	if inherited {
		f := finding.New("dmarc.inherited", Subject("_dmarc."+domain, dns.TypeTXT),
			finding.T("No DMARC record at _dmarc.%s: the policy of %s applies", domain, pol.Domain), l.records[0])
		if l.rec.PSD == "y" {
			f.SetTitle(finding.T("No DMARC record at _dmarc.%s: the public suffix policy of %s applies (psd=y)", domain, pol.Domain))
		}
		f.SetFix(finding.T("Nothing to do if %s's policy is the one you want; otherwise publish your own at _dmarc.%s", pol.Domain, domain))
		locate(&f, l.ans, l.index)
		out = append(out, f)
	}
	out = append(out, dmarcPolicyFindings(domain, pol, l)...)
	out = append(out, dmarcReportFindings(ctx, env.Resolver, pol, l)...)
	if highestSeverity(out) < finding.Warn {
		ok := finding.New("dmarc.ok", l.subject(), finding.T("DMARC policy is valid: p=%s", dmarcApplied(l.rec, inherited)), l.records[0])
		locate(&ok, l.ans, l.index)
		out = append(out, ok)
	}
	sortFindings(out)
	res.Findings = out
	return res
}

// dmarcApplied is the policy that applies to the audited domain: p at the
// domain itself, sp (else p) when inherited from an ancestor.
func dmarcApplied(r *dmarc.Record, inherited bool) dmarc.Policy {
	if inherited {
		return r.EffectiveSubdomainPolicy()
	}
	return r.Policy
}

// discoverDMARC follows the tree walk over the answers: policy discovery
// takes the first name with exactly one DMARC record; the Organizational
// Domain is determined as RFC 9989 §4.10 says. A lookup that failed where
// the walk still needs it makes the result inconclusive (the returned
// finding), except at public suffixes, which cannot hold the domain's own
// policy (see isPublicSuffix).
func discoverDMARC(domain string, lookups []*dmarcLookup) (*DMARCPolicy, *finding.Finding) {
	pol := &DMARCPolicy{lookups: lookups}
	for _, l := range lookups {
		if l.err != nil {
			if pol.applying == nil && !isPublicSuffix(l.domain) {
				f := LookupProblem(finding.T("Whether %s inherits a DMARC policy from %s", domain, l.domain), "_dmarc."+l.domain, dns.TypeTXT, l.err)
				return pol, &f
			}
			pol.notes = append(pol.notes, fmt.Sprintf("DMARC tree walk: _dmarc.%s not checked (%s)", l.domain, errText(l.err)))
			continue
		}
		if !l.single() {
			continue
		}
		pol.notes = append(pol.notes, fmt.Sprintf("DMARC tree walk: _dmarc.%s: %s", l.domain, l.records[0]))
		if pol.applying == nil {
			pol.applying, pol.Domain, pol.Record = l, l.domain, l.rec
		}
	}
	pol.OrgDomain = dmarcOrgDomain(domain, lookups)
	if pol.OrgDomain == "" {
		pol.OrgDomain = domain
	}
	if psl, err := publicsuffix.EffectiveTLDPlusOne(domain); err == nil && psl != pol.OrgDomain {
		// RFC 7489 §3.2 receivers still use the public suffix list.
		pol.notes = append(pol.notes, fmt.Sprintf("DMARC organizational domain: %s by the RFC 9989 tree walk, %s by the public suffix list (RFC 7489 receivers)", pol.OrgDomain, psl))
	}
	return pol, nil
}

// dmarcOrgDomain applies RFC 9989 §4.10's Organizational Domain rules to
// the walk's answers: stop at psd=n (that name) or psd=y (one label below
// it, unless it is where the walk started); otherwise the name with the
// fewest labels that has a record. Lookups that failed are skipped.
func dmarcOrgDomain(domain string, lookups []*dmarcLookup) string {
	org := ""
	for i, l := range lookups {
		if !l.single() || l.rec == nil {
			continue
		}
		switch l.rec.PSD {
		case "n":
			return l.domain
		case "y":
			if i > 0 {
				return dmarcOneLabelBelow(domain, l.domain)
			}
		}
		org = l.domain
	}
	return org
}

// dmarcOneLabelBelow returns the ancestor of domain (or domain) that has one
// label more than psd.
func dmarcOneLabelBelow(domain, psd string) string {
	labels := dns.SplitDomainName(domain)
	n := dns.CountLabel(psd) + 1
	if n > len(labels) {
		return domain
	}
	return strings.Join(labels[len(labels)-n:], ".")
}

func dmarcMissing(domain string) finding.Finding {
	f := finding.New("dmarc.missing", Subject("_dmarc."+domain, dns.TypeTXT), finding.T("No DMARC record at _dmarc.%s or above it", domain))
	rec := fmt.Sprintf("v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@%s", domain)
	f.SetFix(finding.T("Publish a TXT record at _dmarc.%s: %q (create the dmarc-reports mailbox; start with p=none for a few weeks if you are not sure every sender is covered by SPF or DKIM)", domain, rec))
	return f
}

// dmarcSyntaxFix names the tag to correct, or gives the corrected record
// when the fault is a missing p.
func dmarcSyntaxFix(l *dmarcLookup) finding.Text {
	var se *dmarc.SyntaxError
	if !errors.As(l.parse, &se) {
		se = nil
	}
	if se != nil && se.Tag == "" && l.rec != nil {
		tags := append([]dmarc.Tag{l.rec.Tags[0], {Name: "p", Value: string(dmarc.Quarantine)}}, l.rec.Tags[1:]...)
		return finding.T("Add a p tag right after v: %q", dmarc.Format(tags))
	}
	if se != nil && se.Tag != "" {
		return finding.T("Correct or remove %q: receivers ignore a record they cannot parse, so the domain has no DMARC policy until then", se.Tag)
	}
	return finding.T("Rewrite the record as v=DMARC1; p=...; rua=mailto:... (RFC 9989 §4.7)")
}

// dmarcPolicyFindings judges the strength of the policy that applies.
func dmarcPolicyFindings(domain string, pol *DMARCPolicy, l *dmarcLookup) []finding.Finding {
	r := l.rec
	inherited := pol.Domain != domain
	var out []finding.Finding
	add := func(f finding.Finding) {
		locate(&f, l.ans, l.index)
		out = append(out, f)
	}
	if applied := dmarcApplied(r, inherited); applied == dmarc.None {
		title := finding.T("DMARC policy is p=none: spoofed mail is delivered")
		fix := dmarc.Format(r.With("p", string(dmarc.Quarantine)))
		if inherited {
			title = finding.T("The DMARC policy that applies to %s through %s is none: spoofed mail is delivered", domain, pol.Domain)
			if r.SubdomainPolicy != "" {
				fix = dmarc.Format(r.With("sp", string(dmarc.Quarantine)))
			}
		}
		f := finding.New("dmarc.policy-none", l.subject(), title, l.records[0])
		f.SetFix(finding.T("Once the aggregate reports show your own mail passing, publish at _dmarc.%s: %q (then p=reject)", pol.Domain, fix))
		add(f)
	}
	if r.HasPercent && r.Percent < 100 {
		f := finding.New("dmarc.pct-partial", l.subject(), finding.T("DMARC pct=%d: the policy applies to %d%% of failing mail at receivers that still honour pct", r.Percent, r.Percent), l.records[0])
		f.SetFix(finding.T("Remove pct (RFC 9989 dropped it; use t=y while testing): %q", dmarc.Format(r.With("pct", ""))))
		add(f)
	}
	if r.Testing {
		f := finding.New("dmarc.testing", l.subject(), finding.T("DMARC t=y: receivers apply one step less than the published policy"), l.records[0])
		f.SetFix(finding.T("When testing is over, remove t=y: %q", dmarc.Format(r.With("t", ""))))
		add(f)
	}
	if !inherited {
		var weaker []string
		fixTags := r.Tags
		if r.SubdomainPolicy != "" && r.SubdomainPolicy.Strength() < r.Policy.Strength() {
			weaker = append(weaker, "sp="+string(r.SubdomainPolicy))
			fixTags = (&dmarc.Record{Tags: fixTags}).With("sp", "")
		}
		if r.NonexistentPolicy != "" && r.NonexistentPolicy.Strength() < r.Policy.Strength() {
			weaker = append(weaker, "np="+string(r.NonexistentPolicy))
			fixTags = (&dmarc.Record{Tags: fixTags}).With("np", "")
		}
		if len(weaker) > 0 {
			f := finding.New("dmarc.sp-weaker", l.subject(),
				finding.T("DMARC %s is weaker than p=%s: subdomains can be spoofed", strings.Join(weaker, " and "), r.Policy), l.records[0])
			f.SetFix(finding.T("Remove %s so that subdomains take p=%s: %q", strings.Join(weaker, " and "), r.Policy, dmarc.Format(fixTags)))
			add(f)
		}
	}
	return out
}

// dmarcReportFindings checks that aggregate reports are requested and that
// every report address outside the Organizational Domain has agreed to
// receive them (RFC 7489 §7.1, RFC 9990 §3 external destinations): a TXT
// record starting v=DMARC1 at <policy-domain>._report._dmarc.<dest>. All
// such lookups run at once.
func dmarcReportFindings(ctx context.Context, r resolver.Resolver, pol *DMARCPolicy, l *dmarcLookup) []finding.Finding {
	rec := l.rec
	var out []finding.Finding
	if len(rec.RUA) == 0 {
		f := finding.New("dmarc.rua-missing", l.subject(), finding.Text{}, l.records[0])
		f.SetFix(finding.T("Ask for aggregate reports to see who sends as the domain: %q", dmarc.Format(rec.With("rua", "mailto:dmarc-reports@"+pol.Domain))))
		locate(&f, l.ans, l.index)
		out = append(out, f)
	}
	type dest struct {
		domain string
		tags   []string // "rua", "ruf"
		err    error
		authed bool
		name   string
	}
	var dests []*dest
	addDest := func(tag string, uris []dmarc.URI) {
		for _, u := range uris {
			if u.Domain == pol.OrgDomain || strings.HasSuffix(u.Domain, "."+pol.OrgDomain) {
				continue
			}
			i := slices.IndexFunc(dests, func(d *dest) bool { return d.domain == u.Domain })
			if i < 0 {
				dests = append(dests, &dest{domain: u.Domain, name: pol.Domain + "._report._dmarc." + u.Domain})
				i = len(dests) - 1
			}
			if !slices.Contains(dests[i].tags, tag) {
				dests[i].tags = append(dests[i].tags, tag)
			}
		}
	}
	addDest("rua", rec.RUA)
	addDest("ruf", rec.RUF)
	var wg sync.WaitGroup
	for _, d := range dests {
		wg.Go(func() {
			txts, _, err := resolver.TXT(ctx, r, d.name)
			d.err = err
			d.authed = slices.ContainsFunc(txts, dmarc.IsDMARC)
		})
	}
	wg.Wait()
	for _, d := range dests {
		switch {
		case d.err != nil:
			out = append(out, LookupProblem(finding.T("Whether %s accepts DMARC reports for %s", d.domain, pol.Domain), d.name, dns.TypeTXT, d.err))
		case !d.authed:
			f := finding.New("dmarc.rua-unauthorized", l.subject(),
				finding.T("%s does not accept DMARC reports for %s: no v=DMARC1 record at %s", d.domain, pol.Domain, d.name),
				l.records[0], strings.Join(d.tags, " and ")+" address in "+d.domain)
			f.SetFix(finding.T("Ask the operator of %s to publish TXT %q at %s, or send reports to an address in %s; receivers drop reports to %s until then", d.domain, "v=DMARC1", d.name, pol.OrgDomain, d.domain))
			locate(&f, l.ans, l.index)
			out = append(out, f)
		}
	}
	return out
}
