package probe

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// maxPTRNames bounds the names checked for one address; real hosts have one.
const maxPTRNames = 10

// reverse is the reverse DNS of one address: its PTR names and which of
// them resolve back to it (forward-confirmed reverse DNS, RFC 8601 §3 /
// M3AAWG's sender practices).
type reverse struct {
	addr      netip.Addr
	name      string // the in-addr.arpa / ip6.arpa name
	names     []string
	confirmed []string
	err       error
}

// lookupReverse asks for addr's PTR records (CNAMEs followed, for RFC 2317
// classless delegation) and each name's addresses, concurrently bounded by
// ctx.
func lookupReverse(ctx context.Context, r resolver.Resolver, addr netip.Addr) reverse {
	rv := reverse{addr: addr}
	rv.name, rv.err = dns.ReverseAddr(addr.Unmap().String())
	if rv.err != nil {
		return rv
	}
	ans, _, err := resolver.Follow(ctx, r, rv.name, dns.TypePTR)
	if err != nil {
		rv.err = err
		return rv
	}
	for _, rr := range ans.RRs {
		if p, ok := rr.(*dns.PTR); ok && len(rv.names) < maxPTRNames {
			rv.names = append(rv.names, strings.TrimSuffix(strings.ToLower(p.Ptr), "."))
		}
	}
	for _, n := range rv.names {
		addrs, _ := resolver.Addrs(ctx, r, n)
		if slices.ContainsFunc(addrs, func(a netip.Addr) bool { return a.Unmap() == addr.Unmap() }) {
			rv.confirmed = append(rv.confirmed, n)
		}
	}
	return rv
}

func (rv reverse) finding() finding.Finding {
	subject := strings.TrimSuffix(rv.name, ".") + " PTR"
	if rv.name == "" {
		subject = rv.addr.String() + " PTR"
	}
	switch {
	case rv.err != nil && resolver.IsOutOfZone(rv.err):
		return finding.New("dns.not-checked", subject, "Reverse DNS of "+rv.addr.String()+" not checked: outside the given zones")
	case rv.err != nil:
		return finding.New("dns.lookup-failed", subject, fmt.Sprintf("Reverse DNS of %s could not be checked: %v", rv.addr, rv.err))
	case len(rv.names) == 0:
		return finding.New("ptr.missing", subject, rv.addr.String()+" has no PTR record")
	case len(rv.confirmed) == 0:
		return finding.New("ptr.mismatch", subject,
			fmt.Sprintf("The PTR of %s (%s) does not resolve back to it", rv.addr, strings.Join(rv.names, ", ")))
	}
	return finding.New("ptr.ok", subject, fmt.Sprintf("%s has the forward-confirmed PTR %s", rv.addr, rv.confirmed[0]))
}
