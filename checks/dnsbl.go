package checks

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/checks/dnsbl"
	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// judgeDNSBL judges what the DNS blocklists said about the MX hosts'
// addresses and the addresses the SPF record authorises directly (RFC
// 5782):
//   - dnsbl.listed (fail) for each address a list lists, with the list,
//     what the listing means, its TXT reason and where to ask for removal;
//   - dnsbl.refused (error, inconclusive) when a list refused to answer
//     (an error code, an answer outside 127.0.0.0/8) or got its own test
//     points wrong (RFC 5782 §5): nothing it says about the domain can be
//     believed;
//   - lookups that failed are inconclusive; lists outside the given zones
//     are not checked;
//   - dnsbl.ok when every address was asked of every list and none lists
//     it.
//
// Nothing is reported when no list was given (--no-dnsbl) or no public
// address was found.
func judgeDNSBL(d *facts.Domain) Result {
	b := &d.DNSBL
	var res Result
	if len(b.Lists) == 0 {
		return res
	}
	for _, s := range b.Skipped {
		res.Detail = append(res.Detail, "DNSBL: not looked up: "+s)
	}
	if len(b.Addrs) == 0 {
		res.Detail = append(res.Detail, "DNSBL: no public address to look up")
		return res
	}
	var out []finding.Finding
	unsound := map[int]bool{}
	var outside []string
	for _, tp := range b.TestPoints {
		list := b.ListName(tp.List)
		switch {
		case resolver.IsOutOfZone(tp.Listed.Err) || resolver.IsOutOfZone(tp.NotListed.Err):
			unsound[tp.List] = true
			outside = append(outside, b.Lists[tp.List].Zone)
		case tp.Listed.Err != nil || tp.NotListed.Err != nil:
			unsound[tp.List] = true
			l := &tp.Listed
			if l.Err == nil {
				l = &tp.NotListed
			}
			out = append(out, lookupProblem(finding.T("Blocklist %s", list), l))
		case !tp.Sound():
			unsound[tp.List] = true
			f := finding.New("dnsbl.refused", Subject(b.Lists[tp.List].Zone, dns.TypeA),
				finding.T("Blocklist %s does not answer its test points as RFC 5782 §5 requires: its answers cannot be believed", list),
				fmt.Sprintf("127.0.0.2 (must be listed): %s", dnsblVerdict(tp.ListedRes)),
				fmt.Sprintf("127.0.0.1 (must not be listed): %s", dnsblVerdict(tp.NotListRes)))
			if reason := cmp.Or(tp.NotListRes.Reason, tp.ListedRes.Reason); reason != "" {
				f.Evidence = append(f.Evidence, reason)
			}
			f.SetFix(finding.T("Run mailcheck with a resolver of your own (--resolver), not a public or forwarding one, check the addresses on the list's web page (%s), or leave the list out (--dnsbl for the others, --no-dnsbl for none)", cmp.Or(b.Lists[tp.List].Delist, b.Lists[tp.List].Zone)))
			out = append(out, f)
		}
	}
	if len(outside) > 0 {
		out = append(out, finding.New("dns.not-checked", "DNSBL",
			finding.T("DNS blocklists not checked: %s lie outside the given zones and no --resolver was given", strings.Join(outside, ", "))))
	}
	asked, failed := 0, 0
	for _, a := range b.Answers {
		if unsound[a.List] {
			continue
		}
		asked++
		l := b.Lists[a.List]
		list := b.ListName(a.List)
		subject := a.Addr.String()
		switch {
		case a.Lookup.Err != nil:
			failed++
			out = append(out, lookupProblem(finding.T("Whether %s lists %s", list, a.Addr), &a.Lookup))
		case a.Result.Verdict == dnsbl.Listed:
			ev := []string{fmt.Sprintf("%s: %s", a.Lookup.Name, dnsblAnswers(a.Result.Answers))}
			ev = append(ev, a.Result.Meanings...)
			ev = append(ev, a.Reason...)
			f := finding.New("dnsbl.listed", subject, finding.T("%s (%s) is listed on %s", a.Addr, dnsblSources(b, a.Addr), list), ev...)
			if l.Delist != "" {
				f.SetFix(finding.T("Find and stop the cause (a compromised account or host, an open relay, a sender with bad practice), then ask for removal at %s", l.Delist))
			} else {
				f.SetFix(finding.T("Find and stop the cause (a compromised account or host, an open relay, a sender with bad practice), then ask the operator of %s for removal", l.Zone))
			}
			out = append(out, f)
		case a.Result.Verdict == dnsbl.Refused || a.Result.Verdict == dnsbl.Unexpected:
			f := finding.New("dnsbl.refused", subject, finding.T("Blocklist %s gave no usable answer about %s", list, a.Addr),
				fmt.Sprintf("%s: %s", a.Lookup.Name, dnsblAnswers(a.Result.Answers)), a.Result.Reason)
			f.SetFix(finding.T("Run mailcheck with a resolver of your own (--resolver), not a public or forwarding one, check the addresses on the list's web page (%s), or leave the list out (--dnsbl for the others, --no-dnsbl for none)", cmp.Or(l.Delist, l.Zone)))
			out = append(out, f)
		}
	}
	if asked > 0 && failed == 0 && highestSeverity(out) <= finding.Pass {
		var addrs []string
		for _, a := range b.Addrs {
			addrs = append(addrs, a.Addr.String())
		}
		var lists []string
		for i := range b.Lists {
			if !unsound[i] {
				lists = append(lists, b.ListName(i))
			}
		}
		out = append(out, finding.New("dnsbl.ok", "DNSBL", finding.T("%d address(es) on none of %d blocklist(s)", len(b.Addrs), len(lists)),
			strings.Join(addrs, ", "), strings.Join(lists, ", ")))
	}
	sortFindings(out)
	res.Findings = out
	return res
}

// dnsblSources says where an address came from: "MX host
// mail.example.com", "SPF ip4:192.0.2.7".
func dnsblSources(b *facts.DNSBL, ip netip.Addr) finding.Text {
	i := slices.IndexFunc(b.Addrs, func(a facts.BlockAddr) bool { return a.Addr == ip })
	if i < 0 {
		return finding.Text{}
	}
	var out finding.Text
	for _, s := range b.Addrs[i].Sources {
		t := finding.T("SPF %s", s.SPFTerm)
		if s.MXHost != "" {
			t = finding.T("MX host %s", s.MXHost)
		}
		if out.IsZero() {
			out = t
		} else {
			out = finding.T("%s, %s", out, t)
		}
	}
	return out
}

func dnsblAnswers(as []netip.Addr) string {
	if len(as) == 0 {
		return "no A record"
	}
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return strings.Join(out, ", ")
}

func dnsblVerdict(r dnsbl.Result) string {
	if len(r.Answers) == 0 {
		return r.Verdict.String()
	}
	return r.Verdict.String() + " (" + dnsblAnswers(r.Answers) + ")"
}
