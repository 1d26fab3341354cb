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
	lookups := SPFLookups{Ctx: ctx, Resolver: r}
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

// SPFLookups gives check_host() (spf.CheckHost) the DNS answers it asks
// for, as it asks them, through mailcheck's resolver (so --zone, --resolver
// and the run's cache apply): NXDOMAIN and NODATA are empty answers, a
// failed lookup an error (temperror). Which records an evaluation needs
// depends on the IP, so they cannot all be gathered beforehand.
type SPFLookups struct {
	Ctx      context.Context
	Resolver resolver.Resolver
	// Observe, when set, sees each name asked with the TXT records found
	// (nil for other types) or the lookup's error: to show the records an
	// evaluation read, or to tell a name outside --zone.
	Observe func(name string, txts []string, err error)
}

func (l SPFLookups) observe(name string, txts []string, err error) error {
	if l.Observe != nil {
		l.Observe(strings.ToLower(strings.TrimSuffix(name, ".")), txts, err)
	}
	return err
}

func (l SPFLookups) TXT(name string) ([]string, error) {
	txts, _, err := resolver.TXT(l.Ctx, l.Resolver, name)
	return txts, l.observe(name, txts, err)
}

func (l SPFLookups) Addrs(name string, ipv6 bool) ([]netip.Addr, error) {
	qtype := dns.TypeA
	if ipv6 {
		qtype = dns.TypeAAAA
	}
	ans, _, err := resolver.Follow(l.Ctx, l.Resolver, name, qtype)
	if err != nil {
		return nil, l.observe(name, nil, err)
	}
	return resolver.AddrsIn(ans.RRs), nil
}

func (l SPFLookups) MX(name string) ([]string, error) {
	ans, _, err := resolver.Follow(l.Ctx, l.Resolver, name, dns.TypeMX)
	if err != nil {
		return nil, l.observe(name, nil, err)
	}
	var out []string
	for _, rr := range ans.RRs {
		if mx, ok := rr.(*dns.MX); ok {
			out = append(out, strings.ToLower(strings.TrimSuffix(mx.Mx, ".")))
		}
	}
	return out, nil
}

func (l SPFLookups) PTR(ip netip.Addr) ([]string, error) {
	rev, err := dns.ReverseAddr(ip.String())
	if err != nil {
		return nil, err
	}
	ans, _, err := resolver.Follow(l.Ctx, l.Resolver, rev, dns.TypePTR)
	if err != nil {
		return nil, l.observe(rev, nil, err)
	}
	var out []string
	for _, rr := range ans.RRs {
		if p, ok := rr.(*dns.PTR); ok {
			out = append(out, strings.ToLower(strings.TrimSuffix(p.Ptr, ".")))
		}
	}
	return out, nil
}
