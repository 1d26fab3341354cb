package resolver

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// maxCNAMEChain bounds CNAME chasing; real resolvers stop around 8–16.
const maxCNAMEChain = 8

// Follow asks for name/qtype and, when the answer is a CNAME, asks again at
// its target, as a receiving MTA's resolver would. It returns the final
// answer and the chain of names followed (empty when there was no CNAME).
// Records of qtype that came in the same answer as the CNAME are used as is.
func Follow(ctx context.Context, r Resolver, name string, qtype uint16) (*Answer, []string, error) {
	var chain []string
	cur := dns.Fqdn(strings.ToLower(name))
	for range maxCNAMEChain + 1 {
		ans, err := r.Query(ctx, cur, qtype)
		if err != nil {
			return nil, chain, err
		}
		if qtype == dns.TypeCNAME {
			return ans, chain, nil
		}
		target := ""
		var direct []dns.RR
		var origins []Origin
		for i, rr := range ans.RRs {
			switch v := rr.(type) {
			case *dns.CNAME:
				if strings.EqualFold(v.Hdr.Name, cur) {
					target = strings.ToLower(v.Target)
				}
			default:
				if rr.Header().Rrtype == qtype {
					direct = append(direct, rr)
					if ans.Origins != nil {
						origins = append(origins, ans.Origins[i])
					}
				}
			}
		}
		if target != "" && len(direct) == 0 && ans.Chased {
			// The server followed the chain to its end and found no
			// record of the type there: that is the answer for the last
			// name, with no need to ask it again.
			last, rest := ChainEnd(ans.RRs, cur)
			out := &Answer{Name: last, Qtype: qtype, Rcode: ans.ChainRcode,
				Authentic: ans.Authentic, Server: ans.Server, Stale: ans.Stale}
			return out, append(chain, rest...), nil
		}
		if target == "" || len(direct) > 0 {
			if target != "" {
				// The records came with the chain that leads to them:
				// say which names it went through.
				_, rest := ChainEnd(ans.RRs, cur)
				out := *ans
				out.RRs, out.Origins = direct, origins
				return &out, append(chain, rest...), nil
			}
			return ans, chain, nil
		}
		if target == canonical(name) || slices.Contains(chain, target) {
			// RFC 1034 §3.6.2: a resolver must detect CNAME loops; this
			// one is the zone's fault, not a server failure.
			return nil, append(chain, target), &Error{Kind: CNAMELoop, Name: name, Qtype: qtype, Server: ans.Server,
				Err: fmt.Errorf("%s leads back to %s", strings.TrimSuffix(cur, "."), strings.TrimSuffix(target, "."))}
		}
		chain = append(chain, target)
		cur = target
	}
	// Not the server's failure: mailcheck stopped following (a receiver's
	// resolver may follow further, or stop sooner).
	return nil, chain, &Error{Kind: ChainLimit, Name: name, Qtype: qtype,
		Err: fmt.Errorf("more than %d CNAMEs from %s", maxCNAMEChain, strings.TrimSuffix(canonical(name), "."))}
}

// TXT returns the TXT records at name (CNAMEs followed), each record's
// character-strings decoded and concatenated without separators (see
// TXTData), with the answer they came from.
func TXT(ctx context.Context, r Resolver, name string) ([]string, *Answer, error) {
	ans, _, err := Follow(ctx, r, name, dns.TypeTXT)
	if err != nil {
		return nil, nil, err
	}
	var out []string
	for _, rr := range ans.RRs {
		if data, ok := TXTData(rr); ok {
			out = append(out, data)
		}
	}
	return out, ans, nil
}

// Addrs returns the A and AAAA addresses of host (CNAMEs followed), asking
// both types concurrently. A name with no address at all returns an empty
// slice and no error. When a lookup fails, its error is returned beside the
// addresses the other lookup found, so a caller can still use those without
// concluding that the failed type has no records.
func Addrs(ctx context.Context, r Resolver, host string) ([]netip.Addr, error) {
	qtypes := [2]uint16{dns.TypeA, dns.TypeAAAA}
	var addrs [2][]netip.Addr
	var errs [2]error
	var wg sync.WaitGroup
	for i, qt := range qtypes {
		wg.Go(func() {
			ans, _, err := Follow(ctx, r, host, qt)
			if err != nil {
				errs[i] = err
				return
			}
			addrs[i] = AddrsIn(ans.RRs)
		})
	}
	wg.Wait()
	return append(addrs[0], addrs[1]...), cmp.Or(errs[0], errs[1])
}

// AddrsIn returns the addresses of the A and AAAA records among rrs.
func AddrsIn(rrs []dns.RR) []netip.Addr {
	var out []netip.Addr
	for _, rr := range rrs {
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
	return out
}
