package checks

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// ptrLookup is what the reverse and forward lookups of one address found.
type ptrLookup struct {
	addr  netip.Addr
	rev   string           // the reverse name: 1.2.0.192.in-addr.arpa.
	ans   *resolver.Answer // the PTR answer, for locate
	names []string         // PTR targets, lower case, without the trailing dot
	index []int            // of each name's record in ans
	// forward holds the addresses of each PTR name in addr's family.
	forward   map[string][]netip.Addr
	confirmed bool
	err       error // the failed lookup, when the answer is not known
}

// PTRForAddr looks up the PTR names of addr and whether one of them
// resolves back to addr (forward-confirmed reverse DNS, RFC 8601 §3 "iprev").
// CNAMEs at the reverse name are followed (RFC 2317 classless delegation).
// Only the address family of addr is asked forward. err is set when the
// answer is unknown: the PTR lookup failed, or no name confirmed and a
// forward lookup failed. No PTR at all is names == nil with err == nil.
func PTRForAddr(ctx context.Context, r resolver.Resolver, addr netip.Addr) (names []string, confirmed bool, err error) {
	l := ptrLookupAddr(ctx, r, addr)
	return l.names, l.confirmed, l.err
}

func ptrLookupAddr(ctx context.Context, r resolver.Resolver, addr netip.Addr) *ptrLookup {
	addr = addr.Unmap()
	l := &ptrLookup{addr: addr, forward: map[string][]netip.Addr{}}
	rev, err := dns.ReverseAddr(addr.String())
	if err != nil {
		l.err = err
		return l
	}
	l.rev = rev
	ans, _, err := resolver.Follow(ctx, r, rev, dns.TypePTR)
	if err != nil {
		l.err = err
		return l
	}
	l.ans = ans
	for i, rr := range ans.RRs {
		if p, ok := rr.(*dns.PTR); ok {
			n := strings.ToLower(trimDot(p.Ptr))
			if !slices.Contains(l.names, n) {
				l.names = append(l.names, n)
				l.index = append(l.index, i)
			}
		}
	}
	qtype := dns.TypeA
	if addr.Is6() {
		qtype = dns.TypeAAAA
	}
	errs := make([]error, len(l.names))
	fwd := make([][]netip.Addr, len(l.names))
	var wg sync.WaitGroup
	for i, n := range l.names {
		wg.Go(func() {
			a, _, err := resolver.Follow(ctx, r, n, qtype)
			if err != nil {
				errs[i] = err
				return
			}
			for _, rr := range a.RRs {
				var ip netip.Addr
				switch v := rr.(type) {
				case *dns.A:
					ip, _ = netip.AddrFromSlice(v.A.To4())
				case *dns.AAAA:
					ip, _ = netip.AddrFromSlice(v.AAAA.To16())
				}
				if ip.IsValid() {
					fwd[i] = append(fwd[i], ip.Unmap())
				}
			}
		})
	}
	wg.Wait()
	for i, n := range l.names {
		l.forward[n] = fwd[i]
		if slices.Contains(fwd[i], addr) {
			l.confirmed = true
		}
	}
	if !l.confirmed {
		// A forward lookup that failed may have been the confirming one.
		for _, e := range errs {
			if e != nil {
				l.err = e
				break
			}
		}
	}
	return l
}

// checkPTR checks forward-confirmed reverse DNS for every address of every
// MX host (the implicit MX, the domain itself, when there is no MX record:
// RFC 5321 §5.1). Receivers commonly refuse or penalise mail from an
// address whose PTR is missing or does not resolve back (M3AAWG), and an
// MX host usually sends mail too.
func checkPTR(ctx context.Context, env *Env, domain string) Result {
	name := dns.Fqdn(domain)
	ans, _, err := resolver.Follow(ctx, env.Resolver, name, dns.TypeMX)
	if err != nil {
		return Result{Findings: []finding.Finding{LookupProblem(finding.T("Reverse DNS of the MX hosts"), name, dns.TypeMX, err)}}
	}
	if ans.NXDomain() {
		return Result{}
	}
	var hosts []string
	mxCount := 0
	for _, rr := range ans.RRs {
		if mx, ok := rr.(*dns.MX); ok {
			mxCount++
			h := strings.ToLower(trimDot(mx.Mx))
			if _, err := netip.ParseAddr(h); err == nil {
				// An address written as an MX target is no host name
				// (mx.ip-literal); senders never look it up, so neither
				// does this check.
				continue
			}
			if mx.Mx != "." && !slices.Contains(hosts, h) {
				hosts = append(hosts, h)
			}
		}
	}
	if mxCount == 0 {
		hosts = []string{strings.ToLower(trimDot(domain))}
	}
	if len(hosts) == 0 {
		return Result{Detail: []string{"PTR: null MX, no mail host to check"}}
	}

	// Every host's addresses at once, then every address's PTR at once.
	addrs := make([][]netip.Addr, len(hosts))
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() { addrs[i], errs[i] = resolver.Addrs(ctx, env.Resolver, h) })
	}
	wg.Wait()

	var out []finding.Finding
	var detail []string
	var order []netip.Addr
	hostsOf := map[netip.Addr][]string{}
	for i, h := range hosts {
		if errs[i] != nil {
			if len(addrs[i]) == 0 {
				var re *resolver.Error
				qname, qtype := h, dns.TypeA
				if errors.As(errs[i], &re) {
					qname, qtype = re.Name, re.Qtype
				}
				out = append(out, LookupProblem(finding.T("Reverse DNS of %s", h), qname, qtype, errs[i]))
				continue
			}
			detail = append(detail, fmt.Sprintf("PTR: some addresses of %s could not be looked up: %s", h, errText(errs[i])))
		}
		for _, a := range addrs[i] {
			a = a.Unmap()
			if _, seen := hostsOf[a]; !seen {
				order = append(order, a)
			}
			hostsOf[a] = append(hostsOf[a], h)
		}
	}

	lookups := make([]*ptrLookup, len(order))
	for i, a := range order {
		wg.Go(func() { lookups[i] = ptrLookupAddr(ctx, env.Resolver, a) })
	}
	wg.Wait()

	var confirmed []string
	for _, l := range lookups {
		subject := l.addr.String() + " PTR"
		mxNames := strings.Join(hostsOf[l.addr], ", ")
		switch {
		case l.confirmed:
			var names []string
			for _, n := range l.names {
				if slices.Contains(l.forward[n], l.addr) {
					names = append(names, n)
				}
			}
			confirmed = append(confirmed, fmt.Sprintf("%s (%s) → %s", l.addr, mxNames, strings.Join(names, ", ")))
		case l.err != nil:
			var re *resolver.Error
			qname, qtype := l.rev, dns.TypePTR
			if errors.As(l.err, &re) {
				qname, qtype = re.Name, re.Qtype
			}
			f := LookupProblem(finding.T("The reverse DNS of %s (%s)", l.addr.String(), mxNames), qname, qtype, l.err)
			f.Subject = subject
			out = append(out, f)
		case len(l.names) == 0:
			what := "no PTR record"
			if l.ans != nil && l.ans.NXDomain() {
				what = "NXDOMAIN"
			}
			f := finding.New("ptr.missing", subject,
				finding.T("%s, an address of MX host %s, has no PTR record", l.addr, mxNames),
				trimDot(l.rev)+": "+what)
			f.SetFix(finding.T("Ask whoever holds the reverse zone of %s (the hosting provider or ISP; often a \"reverse DNS\" setting in its control panel) to publish %s IN PTR %s.", l.addr, l.rev, hostsOf[l.addr][0]))
			out = append(out, f)
		default:
			var ev []string
			for _, n := range l.names {
				ev = append(ev, trimDot(l.rev)+" PTR "+n)
				if fw := l.forward[n]; len(fw) > 0 {
					ev = append(ev, fmt.Sprintf("%s resolves to %s, not %s", n, joinAddrs(fw), l.addr))
				} else {
					ev = append(ev, fmt.Sprintf("%s has no %s record", n, ptrFamily(l.addr)))
				}
			}
			f := finding.New("ptr.mismatch", subject,
				finding.T("The PTR name of %s (MX host %s) does not resolve back to it", l.addr, mxNames), ev...)
			f.SetFix(finding.T("Set the PTR of %s to %s. (which resolves to it), or publish %s. IN %s %s", l.addr, hostsOf[l.addr][0], l.names[0], ptrFamily(l.addr), l.addr))
			locate(&f, l.ans, l.index[0])
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
