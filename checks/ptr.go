package checks

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
)

// judgePTR checks forward-confirmed reverse DNS for every address of every
// host that receives the domain's mail (the MX hosts, or the domain itself
// when it has no MX record: RFC 5321 §5.1). Receivers commonly refuse or
// penalise mail from an address whose PTR is missing or does not resolve
// back (M3AAWG), and an MX host usually sends mail too.
func judgePTR(d *facts.Domain) Result {
	m := &d.MX
	name := dns.Fqdn(d.Name)
	if !m.Lookup.OK() {
		return Result{Findings: []finding.Finding{lookupProblem(finding.T("Reverse DNS of the MX hosts"), &m.Lookup)}}
	}
	if m.Lookup.Answer.NXDomain() {
		return Result{}
	}
	targets := m.Targets()
	if len(targets) == 0 {
		return Result{Detail: []string{"PTR: null MX, no mail host to check"}}
	}

	var out []finding.Finding
	var detail []string
	for _, t := range targets {
		if t.Addrs == nil {
			continue
		}
		err := t.Addrs.Err()
		if err == nil {
			continue
		}
		if len(t.Addrs.All()) == 0 {
			qname, qtype := failedName(err, t.Host, dns.TypeA)
			out = append(out, LookupProblem(finding.T("Reverse DNS of %s", t.Host), qname, qtype, err))
			continue
		}
		detail = append(detail, fmt.Sprintf("PTR: some addresses of %s could not be looked up: %s", t.Host, errText(err)))
	}

	var confirmed []string
	for _, l := range d.PTR.Addrs {
		subject := l.Addr.String() + " PTR"
		mxNames := strings.Join(l.Hosts, ", ")
		switch err := l.Err(); {
		case l.Confirmed():
			confirmed = append(confirmed, fmt.Sprintf("%s (%s) → %s", l.Addr, mxNames, strings.Join(l.ConfirmingNames(), ", ")))
		case err != nil:
			qname, qtype := failedName(err, l.Reverse.Name, dns.TypePTR)
			f := LookupProblem(finding.T("The reverse DNS of %s (%s)", l.Addr.String(), mxNames), qname, qtype, err)
			f.Subject = subject
			out = append(out, f)
		case len(l.Names) == 0:
			what := "no PTR record"
			if l.Reverse.Status() == facts.NXDomain {
				what = "NXDOMAIN"
			}
			f := finding.New("ptr.missing", subject,
				finding.T("%s, an address of MX host %s, has no PTR record", l.Addr, mxNames),
				trimDot(l.Reverse.Name)+": "+what)
			f.SetFix(finding.T("Ask whoever holds the reverse zone of %s (the hosting provider or ISP; often a \"reverse DNS\" setting in its control panel) to publish %s IN PTR %s.", l.Addr, l.Reverse.Name, l.Hosts[0]))
			out = append(out, f)
		default:
			var ev []string
			for _, n := range l.Names {
				ev = append(ev, trimDot(l.Reverse.Name)+" PTR "+n)
				if fw := l.ForwardAddrs(n); len(fw) > 0 {
					ev = append(ev, fmt.Sprintf("%s resolves to %s, not %s", n, joinAddrs(fw), l.Addr))
				} else {
					ev = append(ev, fmt.Sprintf("%s has no %s record", n, ptrFamily(l.Addr)))
				}
			}
			f := finding.New("ptr.mismatch", subject,
				finding.T("The PTR name of %s (MX host %s) does not resolve back to it", l.Addr, mxNames), ev...)
			f.SetFix(finding.T("Set the PTR of %s to %s. (which resolves to it), or publish %s. IN %s %s", l.Addr, l.Hosts[0], l.Names[0], ptrFamily(l.Addr), l.Addr))
			locate(&f, &l.Reverse, l.Index[0])
			out = append(out, f)
		}
	}
	if len(out) == 0 && len(confirmed) > 0 {
		f := finding.New("ptr.ok", Subject(name, dns.TypeMX),
			finding.T("All %d MX address(es) have a PTR record that resolves back to them", len(confirmed)), confirmed...)
		out = append(out, f)
	}
	sortFindings(out)
	return Result{Findings: out, Detail: detail}
}

func ptrFamily(a netip.Addr) string {
	if a.Is6() {
		return "AAAA"
	}
	return "A"
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}
