package facts

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/checks/spf"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// SPFCheck is check_host() evaluated for one address of one of the
// domain's own MX hosts, with the domain as sender: whether the SPF policy
// authorises the host to send the domain's mail. After a redirect, "a",
// "mx" and %{d} in the target's record speak of the target (RFC 7208
// §6.1), so a record that looks right can leave the domain's own MX hosts
// out; evaluating it as receivers do is the only way to know.
type SPFCheck struct {
	Host    string // the MX host, without the trailing dot
	Addr    netip.Addr
	Outcome spf.Outcome
}

// maxSPFChecks bounds the evaluations: the MX hosts' addresses, IPv4 and
// IPv6, are few in practice; a long list adds nothing the first ones do not
// show.
const maxSPFChecks = 16

// checkMXAuthorized runs check_host() for every address of the domain's MX
// hosts, all at once. Every lookup goes through r, the run's cache, which
// already holds most of the answers (the SPF tree, the MX hosts and their
// addresses, the reverse names), so the evaluations cost few round trips
// of their own.
func checkMXAuthorized(ctx context.Context, r resolver.Resolver, domain string, mx *MX, tree *SPFTree) []SPFCheck {
	if tree == nil || tree.Root.Record == nil {
		return nil
	}
	var out []SPFCheck
	for _, t := range mx.Targets() {
		if t.Addrs == nil || len(mx.Records) == 0 {
			continue // the implicit MX: the domain itself, judged by "a"
		}
		for _, a := range t.Addrs.All() {
			if len(out) == maxSPFChecks {
				break
			}
			if !slices.ContainsFunc(out, func(c SPFCheck) bool { return c.Addr == a }) {
				out = append(out, SPFCheck{Host: t.Host, Addr: a})
			}
		}
	}
	lookups := spfLookups{ctx: ctx, r: r}
	var wg sync.WaitGroup
	for i := range out {
		wg.Go(func() {
			scope := spf.NewScope(domain)
			scope.IP = out[i].Addr
			scope.HELO = out[i].Host
			out[i].Outcome = spf.CheckHost(lookups, scope)
		})
	}
	wg.Wait()
	return out
}

// spfLookups gives check_host() the DNS answers it asks for, through the
// run's resolver: NXDOMAIN and NODATA are empty answers, a failed lookup
// an error (temperror).
type spfLookups struct {
	ctx context.Context
	r   resolver.Resolver
}

func (l spfLookups) TXT(name string) ([]string, error) {
	txts, _, err := resolver.TXT(l.ctx, l.r, name)
	return txts, err
}

func (l spfLookups) Addrs(name string, ipv6 bool) ([]netip.Addr, error) {
	qtype := dns.TypeA
	if ipv6 {
		qtype = dns.TypeAAAA
	}
	ans, _, err := resolver.Follow(l.ctx, l.r, name, qtype)
	if err != nil {
		return nil, err
	}
	lk := Lookup{Answer: ans}
	return addrsOf(&lk), nil
}

func (l spfLookups) MX(name string) ([]string, error) {
	ans, _, err := resolver.Follow(l.ctx, l.r, name, dns.TypeMX)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range ans.RRs {
		if mx, ok := rr.(*dns.MX); ok {
			out = append(out, strings.ToLower(mx.Mx))
		}
	}
	return out, nil
}

func (l spfLookups) PTR(ip netip.Addr) ([]string, error) {
	rev, err := dns.ReverseAddr(ip.String())
	if err != nil {
		return nil, err
	}
	ans, _, err := resolver.Follow(l.ctx, l.r, rev, dns.TypePTR)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range ans.RRs {
		if p, ok := rr.(*dns.PTR); ok {
			out = append(out, strings.ToLower(p.Ptr))
		}
	}
	return out, nil
}
