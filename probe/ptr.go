package probe

import (
	"context"
	"net/netip"
	"strings"

	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// reverse is the reverse DNS of one address: its PTR names and whether
// one resolves back to it (forward-confirmed reverse DNS, RFC 8601 §3).
type reverse struct {
	addr      netip.Addr
	names     []string
	confirmed bool
	err       error
}

// lookupReverse shares the domain audit's lookup (facts.LookupReverse), so
// that probe and audit judge an address alike.
func lookupReverse(ctx context.Context, r resolver.Resolver, addr netip.Addr) reverse {
	l := facts.LookupReverse(ctx, r, addr)
	return reverse{addr: l.Addr, names: l.Names, confirmed: l.Confirmed(), err: l.Err()}
}

func (rv reverse) finding() finding.Finding {
	// The same subject as the audit's ptr.* findings: "192.0.2.1 PTR".
	subject := rv.addr.String() + " PTR"
	switch {
	case rv.confirmed:
		return finding.New("ptr.ok", subject, finding.T("%s has a PTR that resolves back to it (%s)", rv.addr, strings.Join(rv.names, ", ")))
	case rv.err != nil && resolver.IsOutOfZone(rv.err):
		return finding.New("dns.not-checked", subject, finding.T("Reverse DNS of %s not checked: outside the given zones", rv.addr.String()))
	case rv.err != nil:
		return finding.New("dns.lookup-failed", subject, finding.T("Reverse DNS of %s could not be checked: %v", rv.addr, lookupError{rv.err}))
	case len(rv.names) == 0:
		return finding.New("ptr.missing", subject, finding.T("%s has no PTR record", rv.addr.String()))
	}
	return finding.New("ptr.mismatch", subject,
		finding.T("The PTR of %s (%s) does not resolve back to it", rv.addr, strings.Join(rv.names, ", ")))
}
