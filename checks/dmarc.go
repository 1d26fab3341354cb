package checks

import (
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/checks/dmarc"
	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
)

// judgeDMARC audits the domain's DMARC policy (RFC 9989, with RFC 7489
// compatibility) from the discovery facts.DMARC made.
func judgeDMARC(d *facts.Domain) Result {
	pol := d.DMARC
	domain := d.Name
	own := pol.Walk[0]
	var res Result
	if own.Lookup.Err != nil {
		res.Findings = []finding.Finding{lookupProblem(finding.T("The DMARC policy"), &own.Lookup)}
		return res
	}
	res.Detail = pol.Notes
	if b := pol.Blocked; b != nil {
		res.Findings = []finding.Finding{lookupProblem(finding.T("Whether %s inherits a DMARC policy from %s", domain, b.Domain), &b.Lookup)}
		return res
	}

	var out []finding.Finding
	switch {
	case len(own.Records) > 1:
		f := finding.New("dmarc.multiple", dmarcSubject(own), finding.T("%d DMARC records at _dmarc.%s: receivers discard them all", len(own.Records), domain), texts(own.Records)...)
		if pol.Applying != nil {
			f.Note(finding.T("receivers fall back to the policy at _dmarc.%s", pol.PolicyDomain()))
		}
		f.SetFix(finding.T("Keep one v=DMARC1 TXT record at _dmarc.%s and delete the others", domain))
		locate(&f, &own.Lookup, own.Location())
		res.Findings = []finding.Finding{f}
		return res
	case pol.Applying == nil:
		res.Findings = []finding.Finding{dmarcMissing(domain)}
		return res
	}
	l := pol.Applying
	if l.ParseErr != nil {
		f := finding.New("dmarc.syntax", dmarcSubject(l), finding.T("DMARC record does not parse: %s", l.ParseErr), l.Records[0].Text)
		f.SetFix(dmarcSyntaxFix(l))
		locate(&f, &l.Lookup, l.Location())
		res.Findings = []finding.Finding{f}
		return res
	}
	if pol.Inherited() {
		f := finding.New("dmarc.inherited", Subject("_dmarc."+domain, dns.TypeTXT),
			finding.T("No DMARC record at _dmarc.%s: the policy of %s applies", domain, l.Domain), l.Records[0].Text)
		if l.Record.PSD == "y" {
			f.SetTitle(finding.T("No DMARC record at _dmarc.%s: the public suffix policy of %s applies (psd=y)", domain, l.Domain))
		}
		if from := pol.AppliedFrom(); from.Tag == "np" {
			f.Note(finding.T("%s does not exist (no A, AAAA or MX record): receivers apply np=%s, the policy for non-existent subdomains (RFC 9989)", domain, from.Policy))
		}
		f.SetFix(finding.T("Nothing to do if %s's policy is the one you want; otherwise publish your own at _dmarc.%s", l.Domain, domain))
		locate(&f, &l.Lookup, l.Location())
		out = append(out, f)
	}
	out = append(out, dmarcPolicyFindings(domain, pol)...)
	out = append(out, dmarcReportFindings(pol)...)
	if highestSeverity(out) < finding.Warn {
		ok := finding.New("dmarc.ok", dmarcSubject(l), finding.T("DMARC policy is valid: p=%s", pol.Applied()), l.Records[0].Text)
		locate(&ok, &l.Lookup, l.Location())
		out = append(out, ok)
	}
	sortFindings(out)
	res.Findings = out
	return res
}

func dmarcSubject(l *facts.DMARCLookup) string { return Subject(l.Name(), dns.TypeTXT) }

// texts returns the text of each record.
func texts(ts []facts.TXT) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Text
	}
	return out
}

func dmarcMissing(domain string) finding.Finding {
	f := finding.New("dmarc.missing", Subject("_dmarc."+domain, dns.TypeTXT), finding.T("No DMARC record at _dmarc.%s or above it", domain))
	rec := fmt.Sprintf("v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@%s", domain)
	f.SetFix(finding.T("Publish a TXT record at _dmarc.%s: %q (create the dmarc-reports mailbox; start with p=none for a few weeks if you are not sure every sender is covered by SPF or DKIM)", domain, rec))
	return f
}

// dmarcSyntaxFix names the tag to correct, or gives the corrected record
// when the fault is a missing p.
func dmarcSyntaxFix(l *facts.DMARCLookup) finding.Text {
	var se *dmarc.SyntaxError
	if !errors.As(l.ParseErr, &se) {
		se = nil
	}
	if se != nil && se.Tag == "" && l.Record != nil {
		tags := append([]dmarc.Tag{l.Record.Tags[0], {Name: "p", Value: string(dmarc.Quarantine)}}, l.Record.Tags[1:]...)
		return finding.T("Add a p tag right after v: %q", dmarc.Format(tags))
	}
	if se != nil && se.Tag != "" {
		return finding.T("Correct or remove %q: receivers ignore a record they cannot parse, so the domain has no DMARC policy until then", se.Tag)
	}
	return finding.T("Rewrite the record as v=DMARC1; p=...; rua=mailto:... (RFC 9989 §4.7)")
}

// dmarcPolicyFindings judges the strength of the policy that applies.
func dmarcPolicyFindings(domain string, pol *facts.DMARC) []finding.Finding {
	l := pol.Applying
	r := l.Record
	inherited := pol.Inherited()
	var out []finding.Finding
	add := func(f finding.Finding) {
		locate(&f, &l.Lookup, l.Location())
		out = append(out, f)
	}
	if from := pol.AppliedFrom(); from.Policy == dmarc.None {
		title := finding.T("DMARC policy is p=none: spoofed mail is delivered")
		// Strengthen the tag the policy came from (RFC 9989: np, then sp,
		// then p for a name that does not exist; sp, then p for one that
		// does).
		fix := dmarc.Format(r.With(from.Tag, string(dmarc.Quarantine)))
		if inherited {
			title = finding.T("The DMARC policy that applies to %s through %s is none (%s=none): spoofed mail is delivered", domain, l.Domain, from.Tag)
		}
		f := finding.New("dmarc.policy-none", dmarcSubject(l), title, l.Records[0].Text)
		f.SetFix(finding.T("Once the aggregate reports show your own mail passing, publish at _dmarc.%s: %q (then p=reject)", l.Domain, fix))
		add(f)
	}
	if r.HasPercent && r.Percent < 100 {
		f := finding.New("dmarc.pct-partial", dmarcSubject(l), finding.T("DMARC pct=%d: the policy applies to %d%% of failing mail at receivers that still honour pct", r.Percent, r.Percent), l.Records[0].Text)
		f.SetFix(finding.T("Remove pct (RFC 9989 dropped it; use t=y while testing): %q", dmarc.Format(r.With("pct", ""))))
		add(f)
	}
	if r.Testing {
		f := finding.New("dmarc.testing", dmarcSubject(l), finding.T("DMARC t=y: receivers apply one step less than the published policy"), l.Records[0].Text)
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
			// Tag names, not prose: "sp=none np=none" reads in any language.
			tags := strings.Join(weaker, " ")
			f := finding.New("dmarc.sp-weaker", dmarcSubject(l),
				finding.T("DMARC %s is weaker than p=%s: subdomains can be spoofed", tags, r.Policy), l.Records[0].Text)
			f.SetFix(finding.T("Remove %s so that subdomains take p=%s: %q", tags, r.Policy, dmarc.Format(fixTags)))
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
func dmarcReportFindings(pol *facts.DMARC) []finding.Finding {
	l := pol.Applying
	rec := l.Record
	var out []finding.Finding
	if len(rec.RUA) == 0 {
		f := finding.New("dmarc.rua-missing", dmarcSubject(l), finding.Text{}, l.Records[0].Text)
		f.SetFix(finding.T("Ask for aggregate reports to see who sends as the domain: %q", dmarc.Format(rec.With("rua", "mailto:dmarc-reports@"+l.Domain))))
		locate(&f, &l.Lookup, l.Location())
		out = append(out, f)
	}
	for _, a := range pol.Reports {
		switch {
		case a.Lookup.Err != nil:
			out = append(out, lookupProblem(finding.T("Whether %s accepts DMARC reports for %s", a.Dest, l.Domain), &a.Lookup))
		case !a.Authorized:
			f := finding.New("dmarc.rua-unauthorized", dmarcSubject(l),
				finding.T("%s does not accept DMARC reports for %s: no v=DMARC1 record at %s", a.Dest, l.Domain, a.Name),
				l.Records[0].Text, strings.Join(a.Tags, " and ")+" address in "+a.Dest)
			f.SetFix(finding.T("Ask the operator of %s to publish TXT %q at %s, or send reports to an address in %s; receivers drop reports to %s until then", a.Dest, "v=DMARC1", a.Name, pol.OrgDomain, a.Dest))
			locate(&f, &l.Lookup, l.Location())
			out = append(out, f)
		}
	}
	return out
}
