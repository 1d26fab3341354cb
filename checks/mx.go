package checks

import (
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
)

// judgeMX audits the MX RRset of the domain (RFC 5321 §5.1, RFC 7505).
//
// A domain that does not exist at all (NXDOMAIN) is reported as mx.missing
// at fail: no MX, no address fallback, every message to it bounces. NODATA
// is mx.missing at the catalogue's warn, saying whether the implicit MX of
// RFC 5321 §5.1 (the domain's own A/AAAA) will receive the mail.
func judgeMX(d *facts.Domain) Result {
	m := &d.MX
	domain := d.Name
	subject := Subject(domain, dns.TypeMX)
	if !m.Lookup.OK() {
		return Result{Findings: []finding.Finding{lookupProblem(finding.T("The MX records"), &m.Lookup)}}
	}
	if m.Lookup.Answer.NXDomain() {
		f := finding.New("mx.missing", subject, finding.T("%s does not exist (NXDOMAIN): mail to it cannot be delivered", domain))
		f.Severity = finding.Fail
		f.SetFix(finding.T("Create the domain's zone, or check the spelling of %s", domain))
		return Result{Findings: []finding.Finding{f}}
	}
	if len(m.Records) == 0 {
		return Result{Findings: []finding.Finding{mxMissing(domain, m.Implicit)}}
	}

	var out []finding.Finding
	for _, rec := range m.Literals {
		// RFC 5321 §5.1: the MX RDATA is a domain name; an address
		// there is looked up as a (nonexistent) name and mail bounces.
		f := finding.New("mx.ip-literal", subject,
			finding.T("MX target %s is an IP address, not a host name", rec.Target), rec.RR.String())
		f.SetFix(finding.T("Publish an A record for a host name (mail.%s. IN A %s) and point the MX at that name", domain, strings.Trim(rec.Target, "[]")))
		locate(&f, &m.Lookup, rec.Index)
		out = append(out, f)
	}
	if m.Nulls > 0 {
		var ev []string
		for _, rec := range m.Records {
			ev = append(ev, rec.RR.String())
		}
		if !m.NullOnly() {
			// RFC 7505 §3: a domain that advertises a null MX MUST NOT
			// advertise any other MX RR.
			f := finding.New("mx.null-mixed", subject, finding.Text{}, ev...)
			f.SetFix(finding.T("Either remove the null MX (\"0 .\") if the domain receives mail, or remove every other MX record if it does not"))
			locate(&f, &m.Lookup, m.Records[0].Index)
			out = append(out, f)
		} else {
			f := finding.New("mx.null", subject, finding.Text{}, ev[0])
			locate(&f, &m.Lookup, m.Records[0].Index)
			return Result{Findings: append(out, f)}
		}
	}

	anyAAAA, aaaaUnknown, usable := false, false, 0
	for _, h := range m.Hosts {
		out = append(out, mxHostFindings(m, h)...)
		if len(h.Addrs.All()) > 0 {
			usable++
		}
		if len(h.Addrs.V6()) > 0 {
			anyAAAA = true
		}
		if h.Addrs.AAAA.Err != nil {
			aaaaUnknown = true
		}
	}
	if len(m.Hosts) > 0 && !anyAAAA && !aaaaUnknown && usable > 0 {
		var names []string
		for _, h := range m.Hosts {
			names = append(names, h.Name)
		}
		out = append(out, finding.New("mx.no-ipv6", subject, finding.Text{}, "MX hosts without AAAA: "+strings.Join(names, ", ")))
	}
	if highestSeverity(out) < finding.Warn {
		var ev []string
		for _, rec := range m.Records {
			ev = append(ev, rec.RR.String())
		}
		ok := finding.New("mx.ok", subject, finding.T("%d MX host(s), all resolvable", len(m.Hosts)), ev...)
		locate(&ok, &m.Lookup, m.Records[0].Index)
		out = append([]finding.Finding{ok}, out...)
	}
	sortFindings(out)
	return Result{Findings: out}
}

// mxMissing reports a domain that exists but has no MX, saying whether mail
// falls back to its address (RFC 5321 §5.1 implicit MX).
func mxMissing(domain string, implicit *facts.Addrs) finding.Finding {
	subject := Subject(domain, dns.TypeMX)
	var addrs []netip.Addr
	var err error
	if implicit != nil {
		addrs, err = implicit.All(), implicit.Err()
	}
	switch {
	case len(addrs) > 0:
		var ev []string
		for _, a := range addrs {
			ev = append(ev, a.String())
		}
		f := finding.New("mx.missing", subject, finding.T("No MX record: mail falls back to %s's own address", domain), ev...)
		f.SetFix(finding.T("Publish an MX record naming the host that receives mail (%s. IN MX 10 mail.%s.), or a null MX (%s. IN MX 0 .) if the domain receives no mail (RFC 7505)", domain, domain, domain))
		return f
	case err != nil:
		f := finding.New("mx.missing", subject, finding.T("No MX record; whether mail falls back to an address could not be checked"), errText(err).String())
		f.SetFix(finding.T("Publish an MX record (%s. IN MX 10 mail.%s.), or a null MX (%s. IN MX 0 .) if the domain receives no mail", domain, domain, domain))
		return f
	}
	f := finding.New("mx.missing", subject, finding.T("No MX record and no A/AAAA record: the domain cannot receive mail"))
	f.SetFix(finding.T("Publish an MX record (%s. IN MX 10 mail.%s.) if the domain receives mail; otherwise say so with a null MX (%s. IN MX 0 .), so that senders fail at once (RFC 7505)", domain, domain, domain))
	return f
}

// mxHostFindings judges what one MX host resolves to.
func mxHostFindings(m *facts.MX, h *facts.MXHost) []finding.Finding {
	var out []finding.Finding
	host := h.Name
	rr := h.Record.RR
	if h.CNAMETarget != "" {
		// RFC 2181 §10.3: an MX must not point at an alias; some MTAs
		// refuse it and RFC 5321 §5.1 leaves it undefined.
		f := finding.New("mx.cname", Subject(host, dns.TypeCNAME),
			finding.T("MX target %s is a CNAME for %s", host, h.CNAMETarget), rr.String())
		f.SetFix(finding.T("Point the MX at the canonical name: %s IN MX %d %s.", rr.Hdr.Name, rr.Preference, h.CNAMETarget))
		locate(&f, &m.Lookup, h.Record.Index)
		out = append(out, f)
	}
	err4, err6 := h.Addrs.A.Err, h.Addrs.AAAA.Err
	switch n := len(h.Addrs.All()); {
	case n == 0 && err4 == nil && err6 == nil:
		f := finding.New("mx.unresolvable", Subject(host, dns.TypeA),
			finding.T("MX host %s has no A or AAAA record", host), rr.String())
		f.SetFix(finding.T("Publish an address for %s (%s. IN A ...), or remove the MX record that names it", host, host))
		locate(&f, &m.Lookup, h.Record.Index)
		out = append(out, f)
	case n == 0:
		// Neither type answered with an address and at least one lookup
		// failed: the host may well resolve.
		if err4 != nil {
			out = append(out, LookupProblem(finding.T("The address of MX host %s", host), dns.Fqdn(host), dns.TypeA, err4))
		}
		if err6 != nil {
			out = append(out, LookupProblem(finding.T("The IPv6 address of MX host %s", host), dns.Fqdn(host), dns.TypeAAAA, err6))
		}
	default:
		// Reachable; a failed lookup of the other type is still worth
		// saying, since it decides mx.no-ipv6.
		if err6 != nil {
			out = append(out, LookupProblem(finding.T("The IPv6 address of MX host %s", host), dns.Fqdn(host), dns.TypeAAAA, err6))
		}
		if err4 != nil {
			out = append(out, LookupProblem(finding.T("The IPv4 address of MX host %s", host), dns.Fqdn(host), dns.TypeA, err4))
		}
	}
	return out
}

// highestSeverity returns the highest severity among fs, Error counted as highest.
func highestSeverity(fs []finding.Finding) finding.Severity {
	w := finding.Pass
	for _, f := range fs {
		if f.Severity > w {
			w = f.Severity
		}
	}
	return w
}
