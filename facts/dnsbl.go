package facts

import (
	"context"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/checks/dnsbl"
	"github.com/mailcheck-cli/mailcheck/checks/spf"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// Bounds on what is asked of blocklists for one domain: an address range
// in an ip4: term is looked up address by address only when it is small
// (a /28, 16 addresses, at most); a wider one is skipped and said so. A
// list is a shared public service: one audit must not send it thousands
// of queries.
const (
	dnsblMaxRange = 16
	dnsblMaxAddrs = 64
)

// DNSBL is what the DNS blocklists said about the addresses the domain
// receives and sends mail from: the MX hosts' addresses and the IPv4
// addresses its SPF record authorises directly (ip4: terms of the
// domain's own record).
type DNSBL struct {
	Lists []dnsbl.List
	// Addrs are the addresses looked up, with why.
	Addrs []BlockAddr
	// Skipped lists what was left out, for people ("ip4:192.0.2.0/24: 256
	// addresses").
	Skipped []string
	// Answers holds one lookup per list and address; TestPoints one pair
	// per list (RFC 5782 §5).
	Answers    []*DNSBLAnswer
	TestPoints []*DNSBLTestPoints
}

// BlockAddr is one address looked up and where it came from.
type BlockAddr struct {
	Addr    netip.Addr
	Sources []AddrSource
}

// AddrSource is why an address is looked up: it is an address of an MX
// host, or an SPF term authorises it.
type AddrSource struct {
	MXHost  string // the MX host, or ""
	SPFTerm string // the ip4: term, or ""
}

func (s AddrSource) String() string {
	if s.MXHost != "" {
		return "MX host " + s.MXHost
	}
	return "SPF " + s.SPFTerm
}

// SourceStrings lists the sources for people, in English.
func (a BlockAddr) SourceStrings() []string {
	out := make([]string, len(a.Sources))
	for i, s := range a.Sources {
		out[i] = s.String()
	}
	return out
}

// DNSBLAnswer is one list's answer about one address.
type DNSBLAnswer struct {
	List   int // index in Lists
	Addr   netip.Addr
	Lookup Lookup // A at the query name
	Result dnsbl.Result
	// Reason is the TXT the list publishes beside a listing (RFC 5782
	// §2.1), asked only for a listed address.
	Reason []string
}

// DNSBLTestPoints are a list's answers for the addresses RFC 5782 §5 has
// every list answer alike: 127.0.0.2 listed, 127.0.0.1 not.
type DNSBLTestPoints struct {
	List                  int
	Listed, NotListed     Lookup
	ListedRes, NotListRes dnsbl.Result
}

// Sound reports whether the list answered its test points as RFC 5782 §5
// says; a list (or a resolver in front of it) that does not cannot be
// believed about any address.
func (t *DNSBLTestPoints) Sound() bool {
	return t.Listed.Err == nil && t.NotListed.Err == nil &&
		t.ListedRes.Verdict == dnsbl.Listed && t.NotListRes.Verdict == dnsbl.NotListed
}

// dnsblAddrs lists the addresses worth asking about: every address of the
// MX hosts, and the ip4: terms check_host() can reach in the domain's own
// record. Private, loopback and other non-public addresses are on no list.
func dnsblAddrs(mx *MX, tree *SPFTree) ([]BlockAddr, []string) {
	var out []BlockAddr
	var skipped []string
	add := func(a netip.Addr, source AddrSource) {
		a = a.Unmap()
		if !dnsbl.Checked(a) {
			return
		}
		if i := slices.IndexFunc(out, func(b BlockAddr) bool { return b.Addr == a }); i >= 0 {
			out[i].Sources = append(out[i].Sources, source)
			return
		}
		if len(out) == dnsblMaxAddrs {
			skipped = append(skipped, a.String()+" ("+source.String()+"): too many addresses")
			return
		}
		out = append(out, BlockAddr{Addr: a, Sources: []AddrSource{source}})
	}
	for _, t := range mx.Targets() {
		if t.Addrs == nil {
			continue
		}
		for _, a := range t.Addrs.All() {
			add(a, AddrSource{MXHost: t.Host})
		}
	}
	if tree != nil && tree.Root.Record != nil {
		for _, t := range tree.Root.Record.Evaluated() {
			if t.Mechanism != spf.IP4 || !t.Prefix.IsValid() {
				continue
			}
			p := t.Prefix.Masked()
			size := 1 << (32 - p.Bits())
			if size > dnsblMaxRange {
				skipped = append(skipped, "SPF "+t.Text+": a range of "+strconv.Itoa(size)+" addresses")
				continue
			}
			for a, n := p.Addr(), 0; n < size && p.Contains(a); a, n = a.Next(), n+1 {
				add(a, AddrSource{SPFTerm: t.Text})
			}
		}
	}
	return out, skipped
}

// gatherDNSBL asks every list about every address, and its test points,
// all at once; the TXT reason of a listing is asked once it is known.
func gatherDNSBL(ctx context.Context, r resolver.Resolver, lists []dnsbl.List, mx *MX, tree *SPFTree) DNSBL {
	d := DNSBL{Lists: lists}
	if len(lists) == 0 {
		return d
	}
	d.Addrs, d.Skipped = dnsblAddrs(mx, tree)
	if len(d.Addrs) == 0 {
		return d
	}
	listed, notListed := dnsbl.TestPoints()
	var wg sync.WaitGroup
	for i, l := range lists {
		tp := &DNSBLTestPoints{List: i}
		d.TestPoints = append(d.TestPoints, tp)
		wg.Go(func() { tp.Listed, tp.ListedRes = askList(ctx, r, l, listed) })
		wg.Go(func() { tp.NotListed, tp.NotListRes = askList(ctx, r, l, notListed) })
		for _, a := range d.Addrs {
			if _, ok := l.QueryName(a.Addr); !ok {
				continue // an IPv6 address on a list that does not answer for IPv6
			}
			ans := &DNSBLAnswer{List: i, Addr: a.Addr}
			d.Answers = append(d.Answers, ans)
			wg.Go(func() {
				ans.Lookup, ans.Result = askList(ctx, r, l, a.Addr)
				if ans.Result.Verdict == dnsbl.Listed {
					txt := ask(ctx, r, ans.Lookup.Name, dns.TypeTXT)
					for _, t := range txt.TXTs() {
						ans.Reason = append(ans.Reason, t.Text)
					}
				}
			})
		}
	}
	wg.Wait()
	return d
}

// askList asks list l about ip and reads the answer.
func askList(ctx context.Context, r resolver.Resolver, l dnsbl.List, ip netip.Addr) (Lookup, dnsbl.Result) {
	name, _ := l.QueryName(ip)
	lk := ask(ctx, r, name, dns.TypeA)
	if lk.Err != nil {
		return lk, dnsbl.Result{}
	}
	return lk, l.Interpret(addrsOf(&lk))
}

// ListName names list i for people: "Spamhaus ZEN (zen.spamhaus.org)".
func (d *DNSBL) ListName(i int) string {
	l := d.Lists[i]
	if l.Name == "" || strings.EqualFold(l.Name, l.Zone) {
		return l.Zone
	}
	return l.Name + " (" + l.Zone + ")"
}
