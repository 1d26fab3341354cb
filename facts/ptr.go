package facts

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/resolver"
)

// PTR is the reverse DNS of every address of every host that receives the
// domain's mail (MX.Targets): receivers commonly refuse or penalise mail
// from an address whose PTR is missing or does not resolve back (M3AAWG),
// and an MX host usually sends mail too.
type PTR struct {
	// Addrs holds one entry per distinct address, in the order the hosts
	// list them.
	Addrs []*ReverseLookup
}

// ReverseLookup is forward-confirmed reverse DNS of one address (RFC 8601
// §3 "iprev"): its PTR names, and each name's addresses in the address's
// family. CNAMEs at the reverse name are followed (RFC 2317 classless
// delegation).
type ReverseLookup struct {
	Addr  netip.Addr
	Hosts []string // the mail hosts with this address
	// Reverse is the PTR lookup at the reverse name (Reverse.Name).
	Reverse Lookup
	// Names are the PTR targets, lower case, without the trailing dot;
	// Index is each one's record index in Reverse.
	Names []string
	Index []int
	// Forward holds each name's lookup in the address's family.
	Forward map[string]Lookup
	// ReverseErr is set when the reverse name could not even be formed.
	ReverseErr error
}

// Confirmed reports whether a PTR name resolves back to the address.
func (l *ReverseLookup) Confirmed() bool { return len(l.ConfirmingNames()) > 0 }

// ConfirmingNames lists the PTR names that resolve back to the address.
func (l *ReverseLookup) ConfirmingNames() []string {
	var out []string
	for _, n := range l.Names {
		fw := l.Forward[n]
		if slices.Contains(unmapped(addrsOf(&fw)), l.Addr) {
			out = append(out, n)
		}
	}
	return out
}

// ForwardAddrs returns the addresses name resolves to in the family.
func (l *ReverseLookup) ForwardAddrs(name string) []netip.Addr {
	fw := l.Forward[name]
	return unmapped(addrsOf(&fw))
}

// Err is the lookup failure that leaves the answer unknown: the PTR lookup
// failed, or no name confirmed and a forward lookup failed (it may have been
// the confirming one). nil otherwise.
func (l *ReverseLookup) Err() error {
	if l.ReverseErr != nil {
		return l.ReverseErr
	}
	if l.Reverse.Err != nil {
		return l.Reverse.Err
	}
	if l.Confirmed() {
		return nil
	}
	for _, n := range l.Names {
		if err := l.Forward[n].Err; err != nil {
			return err
		}
	}
	return nil
}

func unmapped(as []netip.Addr) []netip.Addr {
	for i := range as {
		as[i] = as[i].Unmap()
	}
	return as
}

// gatherPTR looks up the reverse DNS of every address of targets at once.
func gatherPTR(ctx context.Context, r resolver.Resolver, targets []Target) PTR {
	var p PTR
	byAddr := map[netip.Addr]*ReverseLookup{}
	for _, t := range targets {
		if t.Addrs == nil {
			continue
		}
		for _, a := range t.Addrs.All() {
			a = a.Unmap()
			l := byAddr[a]
			if l == nil {
				l = &ReverseLookup{Addr: a, Forward: map[string]Lookup{}}
				byAddr[a] = l
				p.Addrs = append(p.Addrs, l)
			}
			if !slices.Contains(l.Hosts, t.Host) {
				l.Hosts = append(l.Hosts, t.Host)
			}
		}
	}
	var wg sync.WaitGroup
	for _, l := range p.Addrs {
		wg.Go(func() { l.gather(ctx, r) })
	}
	wg.Wait()
	return p
}

// LookupReverse is forward-confirmed reverse DNS of one address, for the
// probes of hosts that are not a domain's MX.
func LookupReverse(ctx context.Context, r resolver.Resolver, addr netip.Addr) *ReverseLookup {
	l := &ReverseLookup{Addr: addr.Unmap(), Forward: map[string]Lookup{}}
	l.gather(ctx, r)
	return l
}

func (l *ReverseLookup) gather(ctx context.Context, r resolver.Resolver) {
	rev, err := dns.ReverseAddr(l.Addr.String())
	if err != nil {
		l.ReverseErr = err
		return
	}
	l.Reverse = ask(ctx, r, rev, dns.TypePTR)
	for i, rr := range l.Reverse.RRs() {
		if p, ok := rr.(*dns.PTR); ok {
			n := strings.ToLower(trimDot(p.Ptr))
			if !slices.Contains(l.Names, n) {
				l.Names = append(l.Names, n)
				l.Index = append(l.Index, i)
			}
		}
	}
	qtype := dns.TypeA
	if l.Addr.Is6() {
		qtype = dns.TypeAAAA
	}
	fwd := make([]Lookup, len(l.Names))
	var wg sync.WaitGroup
	for i, n := range l.Names {
		wg.Go(func() { fwd[i] = ask(ctx, r, n, qtype) })
	}
	wg.Wait()
	for i, n := range l.Names {
		l.Forward[n] = fwd[i]
	}
}
