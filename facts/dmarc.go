package facts

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"
	"golang.org/x/net/publicsuffix"

	"github.com/mailcheck-cli/mailcheck/checks/dmarc"
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

// DMARCLookup is the answer at one _dmarc name of the tree walk.
type DMARCLookup struct {
	Domain string // the name below _dmarc
	Lookup Lookup
	// Records are the TXT records starting v=DMARC1.
	Records []TXT
	// Record is the parsed record when there is exactly one; ParseErr is
	// set when it does not parse.
	Record   *dmarc.Record
	ParseErr error
}

// Single reports whether exactly one DMARC record is there: RFC 9989 §4.10
// discards every record at a name that holds more than one.
func (l *DMARCLookup) Single() bool { return l.Lookup.OK() && len(l.Records) == 1 }

// Name is the _dmarc name asked.
func (l *DMARCLookup) Name() string { return "_dmarc." + l.Domain }

// Location is where the first DMARC record was read, or nil.
func (l *DMARCLookup) Location() int {
	if len(l.Records) == 0 {
		return -1
	}
	return l.Records[0].Index
}

// DMARC is the result of DMARC policy discovery for a domain (RFC 9989
// §4.10): every answer of the tree walk, the record that applies, the
// Organizational Domain, and whether the report destinations outside it
// accept reports. It is the one discovery the audit, the CI gate and the
// message check share.
type DMARC struct {
	Domain string
	// Walk holds the tree walk's answers in order; Walk[0] is the domain's
	// own _dmarc name.
	Walk []*DMARCLookup
	// Applying is the first name of the walk with exactly one record; nil
	// when none was found.
	Applying *DMARCLookup
	// Blocked is set when a lookup the walk needed failed before any record
	// was found: the policy cannot be known. Failures at public suffixes do
	// not block, since they cannot hold the domain owner's own policy.
	Blocked *DMARCLookup
	// OrgDomain is the Organizational Domain (RFC 9989 §4.10).
	OrgDomain string
	// Notes are lines for --verbose: what the walk saw.
	Notes []string
	// Reports are the rua/ruf destinations outside the Organizational
	// Domain and whether each authorised reports (RFC 9990 §3).
	Reports []*ReportAuth
	// NonExistent is set when the domain does not exist for DMARC: its A,
	// AAAA and MX lookups all returned NXDOMAIN or NODATA (RFC 9989's np,
	// after RFC 9091 §2.7). An inherited policy then comes from np. Unknown
	// counts as existing; DiscoverDMARC alone does not look.
	NonExistent bool
}

// ReportAuth is the authorisation check of one external report
// destination: a v=DMARC1 TXT record at <policy domain>._report._dmarc.<dest>.
type ReportAuth struct {
	Dest       string   // the destination domain
	Tags       []string // "rua", "ruf"
	Name       string   // the name asked
	Lookup     Lookup
	Authorized bool
}

// PolicyDomain is where the applying record was found: the domain itself,
// or an ancestor. "" when no record applies.
func (d *DMARC) PolicyDomain() string {
	if d.Applying == nil {
		return ""
	}
	return d.Applying.Domain
}

// Inherited reports whether the applying record is an ancestor's.
func (d *DMARC) Inherited() bool {
	return d.Applying != nil && d.Applying.Domain != d.Domain
}

// Record is the applying parsed record, nil when none applies or it does
// not parse.
func (d *DMARC) Record() *dmarc.Record {
	if d.Applying == nil || d.Applying.ParseErr != nil {
		return nil
	}
	return d.Applying.Record
}

// Applied is the policy that applies to the domain: p where the record is
// the domain's own; when inherited, sp (else p) for a domain that exists,
// np (else sp, else p) for one that does not. "" when none applies.
func (d *DMARC) Applied() dmarc.Policy { return d.AppliedFrom().Policy }

// AppliedFrom is Applied with the tag the policy was read from.
func (d *DMARC) AppliedFrom() dmarc.Applied {
	r := d.Record()
	if r == nil {
		return dmarc.Applied{}
	}
	return r.PolicyFor(d.Inherited(), !d.NonExistent)
}

// Err is the lookup failure that keeps the policy from being known: the
// domain's own _dmarc name, or a name the walk needed. nil otherwise.
func (d *DMARC) Err() error {
	if len(d.Walk) > 0 && d.Walk[0].Lookup.Err != nil {
		return d.Walk[0].Lookup.Err
	}
	if d.Blocked != nil {
		return d.Blocked.Lookup.Err
	}
	return nil
}

// DiscoverDMARC runs DMARC policy discovery for domain: every _dmarc name
// of the tree walk at once, then the report destinations of the applying
// record. The message check uses it for the From domain.
func DiscoverDMARC(ctx context.Context, r resolver.Resolver, domain string) *DMARC {
	domain = strings.ToLower(trimDot(domain))
	d := &DMARC{Domain: domain, Walk: walkDMARC(ctx, r, domain)}
	d.discover()
	if d.Err() == nil {
		d.Reports = askReportAuth(ctx, r, d)
	}
	return d
}

// walkDMARC asks for every _dmarc name of the tree walk at once — at most
// 8 names, one round trip instead of one per label.
func walkDMARC(ctx context.Context, r resolver.Resolver, domain string) []*DMARCLookup {
	names := DMARCTreeWalk(domain)
	out := make([]*DMARCLookup, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		l := &DMARCLookup{Domain: name}
		out[i] = l
		wg.Go(func() {
			l.Lookup = ask(ctx, r, "_dmarc."+name, dns.TypeTXT)
			for _, t := range l.Lookup.TXTs() {
				if dmarc.IsDMARC(t.Text) {
					l.Records = append(l.Records, t)
				}
			}
			if len(l.Records) == 1 {
				l.Record, l.ParseErr = dmarc.Parse(l.Records[0].Text)
			}
		})
	}
	wg.Wait()
	return out
}

// discover follows the tree walk over the answers: policy discovery takes
// the first name with exactly one DMARC record; the Organizational Domain
// is determined as RFC 9989 §4.10 says.
func (d *DMARC) discover() {
	for _, l := range d.Walk {
		if l.Lookup.Err != nil {
			if d.Applying == nil && !isPublicSuffix(l.Domain) {
				d.Blocked = l
				return
			}
			d.Notes = append(d.Notes, fmt.Sprintf("DMARC tree walk: _dmarc.%s not checked (%v)", l.Domain, l.Lookup.Err))
			continue
		}
		if !l.Single() {
			continue
		}
		d.Notes = append(d.Notes, fmt.Sprintf("DMARC tree walk: _dmarc.%s: %s", l.Domain, l.Records[0].Text))
		if d.Applying == nil {
			d.Applying = l
		}
	}
	d.OrgDomain = orgDomain(d.Domain, d.Walk)
	if d.OrgDomain == "" {
		d.OrgDomain = d.Domain
	}
	if psl, err := publicsuffix.EffectiveTLDPlusOne(d.Domain); err == nil && psl != d.OrgDomain {
		// RFC 7489 §3.2 receivers still use the public suffix list.
		d.Notes = append(d.Notes, fmt.Sprintf("DMARC organizational domain: %s by the RFC 9989 tree walk, %s by the public suffix list (RFC 7489 receivers)", d.OrgDomain, psl))
	}
}

// isPublicSuffix reports whether name is a public suffix by the PSL, whose
// default rule makes every unlisted TLD (".test") one. Used only to decide
// whether an unanswered lookup above the domain could hide its policy: a
// record at a public suffix is a PSD policy, never the domain owner's own.
func isPublicSuffix(name string) bool {
	ps, _ := publicsuffix.PublicSuffix(name)
	return ps == name
}

// orgDomain applies RFC 9989 §4.10's Organizational Domain rules to the
// walk's answers: stop at psd=n (that name) or psd=y (one label below it,
// unless it is where the walk started); otherwise the name with the fewest
// labels that has a record. Lookups that failed are skipped.
func orgDomain(domain string, walk []*DMARCLookup) string {
	org := ""
	for i, l := range walk {
		if !l.Single() || l.Record == nil {
			continue
		}
		switch l.Record.PSD {
		case "n":
			return l.Domain
		case "y":
			if i > 0 {
				return oneLabelBelow(domain, l.Domain)
			}
		}
		org = l.Domain
	}
	return org
}

// oneLabelBelow returns the ancestor of domain (or domain) that has one
// label more than psd.
func oneLabelBelow(domain, psd string) string {
	labels := dns.SplitDomainName(domain)
	n := dns.CountLabel(psd) + 1
	if n > len(labels) {
		return domain
	}
	return strings.Join(labels[len(labels)-n:], ".")
}

// askReportAuth looks up, all at once, whether every report address outside
// the Organizational Domain has agreed to receive reports for the policy
// domain (RFC 7489 §7.1, RFC 9990 §3).
func askReportAuth(ctx context.Context, r resolver.Resolver, d *DMARC) []*ReportAuth {
	rec := d.Record()
	if rec == nil {
		return nil
	}
	var dests []*ReportAuth
	add := func(tag string, uris []dmarc.URI) {
		for _, u := range uris {
			if u.Domain == d.OrgDomain || strings.HasSuffix(u.Domain, "."+d.OrgDomain) {
				continue
			}
			i := slices.IndexFunc(dests, func(a *ReportAuth) bool { return a.Dest == u.Domain })
			if i < 0 {
				dests = append(dests, &ReportAuth{Dest: u.Domain, Name: d.PolicyDomain() + "._report._dmarc." + u.Domain})
				i = len(dests) - 1
			}
			if !slices.Contains(dests[i].Tags, tag) {
				dests[i].Tags = append(dests[i].Tags, tag)
			}
		}
	}
	add("rua", rec.RUA)
	add("ruf", rec.RUF)
	var wg sync.WaitGroup
	for _, a := range dests {
		wg.Go(func() {
			a.Lookup = ask(ctx, r, a.Name, dns.TypeTXT)
			a.Authorized = slices.ContainsFunc(a.Lookup.TXTs(), func(t TXT) bool { return dmarc.IsDMARC(t.Text) })
		})
	}
	wg.Wait()
	return dests
}
