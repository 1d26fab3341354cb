package resolver_test

import (
	"context"
	"testing"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/resolver"
	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

func TestChain(t *testing.T) {
	zone := loadTestZone(t)
	next := resolvertest.New(
		"example.org. 300 IN TXT \"from next\"",
		"ns.sub.example.com. 300 IN A 192.0.2.99",
	)
	tests := []struct {
		name      string
		chain     resolver.Chain
		qname     string
		qtype     uint16
		server    string // who must answer; "" for an out-of-zone error
		wantRcode int
	}{
		{"in zone, answered by the zone", resolver.Chain{Zone: zone, Next: next},
			"mail.example.com", dns.TypeA, "zone:example.com.zone", dns.RcodeSuccess},
		{"in-zone NXDOMAIN is not asked of next", resolver.Chain{Zone: zone, Next: next},
			"example.org.example.com", dns.TypeTXT, "zone:example.com.zone", dns.RcodeNameError},
		{"outside, asked of next", resolver.Chain{Zone: zone, Next: next},
			"example.org", dns.TypeTXT, "fake", dns.RcodeSuccess},
		{"below a delegation, asked of next", resolver.Chain{Zone: zone, Next: next},
			"ns.sub.example.com", dns.TypeA, "fake", dns.RcodeSuccess},
		{"outside without next: not checked", resolver.Chain{Zone: zone},
			"example.org", dns.TypeTXT, "", 0},
		{"no zone at all, next answers", resolver.Chain{Next: next},
			"example.org", dns.TypeTXT, "fake", dns.RcodeSuccess},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ans, err := tt.chain.Query(context.Background(), tt.qname, tt.qtype)
			if tt.server == "" {
				if !resolver.IsOutOfZone(err) {
					t.Fatalf("got %v, %v; want an out-of-zone error", ans, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ans.Server != tt.server || ans.Rcode != tt.wantRcode {
				t.Errorf("answered by %q with %s, want %q with %s", ans.Server,
					dns.RcodeToString[ans.Rcode], tt.server, dns.RcodeToString[tt.wantRcode])
			}
		})
	}
}
