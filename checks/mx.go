package checks

import (
	"context"
	"net/netip"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// checkMX audits the MX RRset of domain (RFC 5321 §5.1, RFC 7505).
//
// A domain that does not exist at all (NXDOMAIN) is reported as mx.missing
// at fail: no MX, no address fallback, every message to it bounces. NODATA
// is mx.missing at the catalogue's warn, saying whether the implicit MX of
// RFC 5321 §5.1 (the domain's own A/AAAA) will receive the mail.
func checkMX(ctx context.Context, env *Env, domain string) Result {
	name := dns.Fqdn(domain)
	subject := Subject(name, dns.TypeMX)
	ans, _, err := resolver.Follow(ctx, env.Resolver, name, dns.TypeMX)
	if err != nil {
		return Result{Findings: []finding.Finding{LookupProblem(finding.T("The MX records"), name, dns.TypeMX, err)}}
	}
	if ans.NXDomain() {
		f := finding.New("mx.missing", subject, finding.T("%s does not exist (NXDOMAIN): mail to it cannot be delivered", domain))
		f.Severity = finding.Fail
		f.SetFix(finding.T("Create the domain's zone, or check the spelling of %s", domain))
		return Result{Findings: []finding.Finding{f}}
	}
	var mxs []*dns.MX
	var idx []int // index in ans.RRs, for locate
	for i, rr := range ans.RRs {
		if mx, ok := rr.(*dns.MX); ok {
			mxs = append(mxs, mx)
			idx = append(idx, i)
		}
	}
	if len(mxs) == 0 {
		return Result{Findings: []finding.Finding{mxMissing(ctx, env, domain)}}
	}

	var out []finding.Finding
	var hosts []mxHost
	nulls := 0
	for k, mx := range mxs {
		target := strings.ToLower(mx.Mx)
		if target == "." {
			nulls++
			continue
		}
		if mxLooksLikeIP(target) {
			// RFC 5321 §5.1: the MX RDATA is a domain name; an address
			// there is looked up as a (nonexistent) name and mail bounces.
			f := finding.New("mx.ip-literal", subject,
				finding.T("MX target %s is an IP address, not a host name", trimDot(target)), mx.String())
			f.SetFix(finding.T("Publish an A record for a host name (mail.%s. IN A %s) and point the MX at that name", domain, strings.Trim(trimDot(target), "[]")))
			locate(&f, ans, idx[k])
			out = append(out, f)
			continue
		}
		hosts = append(hosts, mxHost{name: target, rr: mx, index: idx[k]})
	}
	if nulls > 0 {
		if len(mxs) > nulls {
			// RFC 7505 §3: a domain that advertises a null MX MUST NOT
			// advertise any other MX RR.
			var ev []string
			for _, mx := range mxs {
				ev = append(ev, mx.String())
			}
			f := finding.New("mx.null-mixed", subject, finding.Text{}, ev...)
			f.SetFix(finding.T("Either remove the null MX (\"0 .\") if the domain receives mail, or remove every other MX record if it does not"))
			locate(&f, ans, idx[0])
			out = append(out, f)
		} else {
			f := finding.New("mx.null", subject, finding.Text{}, mxs[0].String())
			locate(&f, ans, idx[0])
			out = append(out, f)
			return Result{Findings: out}
		}
	}

	resolveMXHosts(ctx, env.Resolver, hosts)
	anyAAAA, aaaaUnknown, usable := false, false, 0
	for _, h := range hosts {
		out = append(out, h.findings(ans, subject)...)
		if len(h.v4)+len(h.v6) > 0 {
			usable++
		}
		if len(h.v6) > 0 {
			anyAAAA = true
		}
		if h.err6 != nil {
			aaaaUnknown = true
		}
	}
	if len(hosts) > 0 && !anyAAAA && !aaaaUnknown && usable > 0 {
		var names []string
		for _, h := range hosts {
			names = append(names, trimDot(h.name))
		}
		out = append(out, finding.New("mx.no-ipv6", subject, finding.Text{}, "MX hosts without AAAA: "+strings.Join(names, ", ")))
	}
	if highestSeverity(out) < finding.Warn {
		var ev []string
		for _, mx := range mxs {
			ev = append(ev, mx.String())
		}
		ok := finding.New("mx.ok", subject, finding.T("%d MX host(s), all resolvable", len(hosts)), ev...)
		locate(&ok, ans, idx[0])
		out = append([]finding.Finding{ok}, out...)
	}
	sortFindings(out)
	return Result{Findings: out}
}

// mxMissing reports a domain that exists but has no MX, saying whether mail
// falls back to its address (RFC 5321 §5.1 implicit MX).
func mxMissing(ctx context.Context, env *Env, domain string) finding.Finding {
	subject := Subject(domain, dns.TypeMX)
	addrs, err := resolver.Addrs(ctx, env.Resolver, domain)
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

// mxHost is one MX target and what its lookups found.
type mxHost struct {
	name  string
	rr    *dns.MX
	index int

	cname      string // the CNAME at name, if any
	cnameAns   *resolver.Answer
	v4, v6     []netip.Addr
	err4, err6 error
	errCNAME   error
}

// resolveMXHosts looks up every host's CNAME, A and AAAA at once: three
// queries per host, all hosts concurrently, so the MX check costs two
// round trips whatever the number of hosts.
func resolveMXHosts(ctx context.Context, r resolver.Resolver, hosts []mxHost) {
	var wg sync.WaitGroup
	for i := range hosts {
		h := &hosts[i]
		wg.Go(func() {
			// resolver.Follow chases CNAMEs for A/AAAA; ask for the CNAME
			// itself to report it (RFC 2181 §10.3, RFC 5321 §5.1).
			ans, err := r.Query(ctx, h.name, dns.TypeCNAME)
			if err != nil {
				h.errCNAME = err
				return
			}
			for _, rr := range ans.RRs {
				if c, ok := rr.(*dns.CNAME); ok {
					h.cname, h.cnameAns = strings.ToLower(c.Target), ans
				}
			}
		})
		for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
			wg.Go(func() {
				addrs, err := mxHostAddrs(ctx, r, h.name, qt)
				if qt == dns.TypeA {
					h.v4, h.err4 = addrs, err
				} else {
					h.v6, h.err6 = addrs, err
				}
			})
		}
	}
	wg.Wait()
}

// mxHostAddrs returns the addresses of one type at host, CNAMEs followed.
func mxHostAddrs(ctx context.Context, r resolver.Resolver, host string, qtype uint16) ([]netip.Addr, error) {
	ans, _, err := resolver.Follow(ctx, r, host, qtype)
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, rr := range ans.RRs {
		switch v := rr.(type) {
		case *dns.A:
			if a, ok := netip.AddrFromSlice(v.A.To4()); ok {
				out = append(out, a)
			}
		case *dns.AAAA:
			if a, ok := netip.AddrFromSlice(v.AAAA.To16()); ok {
				out = append(out, a)
			}
		}
	}
	return out, nil
}

func (h *mxHost) findings(ans *resolver.Answer, subject string) []finding.Finding {
	var out []finding.Finding
	host := trimDot(h.name)
	if h.cname != "" {
		// RFC 2181 §10.3: an MX must not point at an alias; some MTAs
		// refuse it and RFC 5321 §5.1 leaves it undefined.
		f := finding.New("mx.cname", Subject(h.name, dns.TypeCNAME),
			finding.T("MX target %s is a CNAME for %s", host, trimDot(h.cname)), h.rr.String())
		f.SetFix(finding.T("Point the MX at the canonical name: %s IN MX %d %s", h.rr.Hdr.Name, h.rr.Preference, h.cname))
		locate(&f, ans, h.index)
		out = append(out, f)
	} else if h.errCNAME != nil {
		out = append(out, LookupProblem(finding.T("Whether MX host %s is a CNAME", host), h.name, dns.TypeCNAME, h.errCNAME))
	}
	n := len(h.v4) + len(h.v6)
	switch {
	case n == 0 && h.err4 == nil && h.err6 == nil:
		f := finding.New("mx.unresolvable", Subject(h.name, dns.TypeA),
			finding.T("MX host %s has no A or AAAA record", host), h.rr.String())
		f.SetFix(finding.T("Publish an address for %s (%s IN A ...), or remove the MX record that names it", host, h.name))
		locate(&f, ans, h.index)
		out = append(out, f)
	case n == 0:
		// Neither type answered with an address and at least one lookup
		// failed: the host may well resolve.
		if h.err4 != nil {
			out = append(out, LookupProblem(finding.T("The address of MX host %s", host), h.name, dns.TypeA, h.err4))
		}
		if h.err6 != nil {
			out = append(out, LookupProblem(finding.T("The IPv6 address of MX host %s", host), h.name, dns.TypeAAAA, h.err6))
		}
	default:
		// Reachable; a failed lookup of the other type is still worth
		// saying, since it decides mx.no-ipv6.
		if h.err6 != nil {
			out = append(out, LookupProblem(finding.T("The IPv6 address of MX host %s", host), h.name, dns.TypeAAAA, h.err6))
		}
		if h.err4 != nil {
			out = append(out, LookupProblem(finding.T("The IPv4 address of MX host %s", host), h.name, dns.TypeA, h.err4))
		}
	}
	return out
}

// mxLooksLikeIP reports whether an MX target is an address rather than a
// name: a dotted quad (every label numeric), an IPv6 address, or an
// address literal in brackets (RFC 5321 §4.1.3 syntax, never valid in DNS).
func mxLooksLikeIP(target string) bool {
	t := strings.TrimSuffix(target, ".")
	if strings.HasPrefix(t, "[") || strings.Contains(t, ":") {
		return true
	}
	if _, err := netip.ParseAddr(t); err == nil {
		return true
	}
	labels := strings.Split(t, ".")
	if len(labels) != 4 {
		return false
	}
	for _, l := range labels {
		if l == "" || strings.Trim(l, "0123456789") != "" {
			return false
		}
	}
	return true
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
