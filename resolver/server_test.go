package resolver_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/resolver"
	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

// bigZone is testZone plus a TXT RRset too large for UDP.
func bigZone(t *testing.T) *resolver.Zone {
	t.Helper()
	var b strings.Builder
	b.WriteString(testZone)
	for i := range 20 {
		fmt.Fprintf(&b, "big IN TXT \"%02d %s\"\n", i, strings.Repeat("x", 200))
	}
	z, err := resolver.NewZone(resolver.ZoneSource{File: "example.com.zone", Data: []byte(b.String())})
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func exchange(t *testing.T, addr, network, name string, qtype uint16, edns bool) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	if edns {
		m.SetEdns0(1232, true)
	}
	c := &dns.Client{Net: network, UDPSize: 1232}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	r, _, err := c.ExchangeContext(ctx, m, addr)
	if err != nil {
		t.Fatalf("%s %s over %s: %v", name, dns.TypeToString[qtype], network, err)
	}
	return r
}

func TestZoneServeDNS(t *testing.T) {
	addr := resolvertest.StartServer(t, bigZone(t), 0)
	tests := []struct {
		name     string
		qname    string
		qtype    uint16
		rcode    int
		aa       bool
		answer   []uint16 // types in the answer section
		ns       []uint16 // types in the authority section
		extra    []uint16 // types in the additional section, OPT excluded
		edns     bool
		netw     string
		tc       bool
		minCount int // with tc: at least this many answers over TCP
	}{
		{name: "answer", qname: "mail.example.com", qtype: dns.TypeA, aa: true, answer: []uint16{dns.TypeA}},
		{name: "NXDOMAIN carries the SOA", qname: "nope.example.com", qtype: dns.TypeA, aa: true,
			rcode: dns.RcodeNameError, ns: []uint16{dns.TypeSOA}},
		{name: "NODATA carries the SOA", qname: "mail.example.com", qtype: dns.TypeMX, aa: true,
			ns: []uint16{dns.TypeSOA}},
		{name: "CNAME not chased", qname: "alias.example.com", qtype: dns.TypeA, aa: true,
			answer: []uint16{dns.TypeCNAME}},
		{name: "wildcard", qname: "x.wild.example.com", qtype: dns.TypeTXT, aa: true,
			answer: []uint16{dns.TypeTXT}},
		{name: "referral below a delegation", qname: "www.sub.example.com", qtype: dns.TypeA,
			ns: []uint16{dns.TypeNS}, extra: []uint16{dns.TypeA}},
		{name: "outside every zone is refused", qname: "example.org", qtype: dns.TypeA, rcode: dns.RcodeRefused},
		{name: "EDNS0 echoed", qname: "mail.example.com", qtype: dns.TypeA, aa: true,
			answer: []uint16{dns.TypeA}, edns: true},
		{name: "big answer truncated over UDP without EDNS0", qname: "big.example.com", qtype: dns.TypeTXT,
			aa: true, tc: true, minCount: 20},
		{name: "big answer truncated over UDP with EDNS0", qname: "big.example.com", qtype: dns.TypeTXT,
			aa: true, tc: true, edns: true, minCount: 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := exchange(t, addr, "udp", tt.qname, tt.qtype, tt.edns)
			if r.Rcode != tt.rcode || r.Authoritative != tt.aa {
				t.Errorf("rcode %s AA %v, want %s AA %v", dns.RcodeToString[r.Rcode], r.Authoritative,
					dns.RcodeToString[tt.rcode], tt.aa)
			}
			if opt := r.IsEdns0(); (opt != nil) != tt.edns {
				t.Errorf("OPT in reply: %v, want %v", opt != nil, tt.edns)
			} else if opt != nil && !opt.Do() {
				t.Error("the DO bit was not echoed")
			}
			if tt.tc {
				if !r.Truncated {
					t.Fatalf("no TC over UDP for a %d-record answer", tt.minCount)
				}
				if size := r.Len(); size > 1232 {
					t.Errorf("UDP reply of %d bytes", size)
				}
				full := exchange(t, addr, "tcp", tt.qname, tt.qtype, tt.edns)
				if full.Truncated || len(full.Answer) < tt.minCount {
					t.Errorf("over TCP: TC %v, %d answers, want all %d", full.Truncated, len(full.Answer), tt.minCount)
				}
				return
			}
			if r.Truncated {
				t.Error("TC set on a small answer")
			}
			assertTypes(t, "answer", r.Answer, tt.answer)
			assertTypes(t, "authority", r.Ns, tt.ns)
			var extra []dns.RR
			for _, rr := range r.Extra {
				if rr.Header().Rrtype != dns.TypeOPT {
					extra = append(extra, rr)
				}
			}
			assertTypes(t, "additional", extra, tt.extra)
		})
	}
}

func assertTypes(t *testing.T, section string, rrs []dns.RR, want []uint16) {
	t.Helper()
	var got []string
	for _, rr := range rrs {
		got = append(got, dns.TypeToString[rr.Header().Rrtype])
	}
	var w []string
	for _, qt := range want {
		w = append(w, dns.TypeToString[qt])
	}
	if strings.Join(got, " ") != strings.Join(w, " ") {
		t.Errorf("%s section %v, want %v", section, got, w)
	}
}

func TestStartServerDelay(t *testing.T) {
	const delay = 150 * time.Millisecond
	addr := resolvertest.StartServer(t, loadTestZone(t), delay)
	start := time.Now()
	r := exchange(t, addr, "udp", "mail.example.com", dns.TypeA, false)
	if took := time.Since(start); took < delay {
		t.Errorf("answered in %v, before the %v delay", took, delay)
	}
	if len(r.Answer) != 1 {
		t.Errorf("answer %v", r.Answer)
	}
}
