package checks

import (
	"context"
	"testing"
	"time"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// dnsblZone is a fixture blocklist: its RFC 5782 §5 test point (unless
// broken) and the records given.
func dnsblZone(origin string, testPoint bool, records string) string {
	z := "$ORIGIN " + origin + ".\n$TTL 300\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.53\n"
	if testPoint {
		z += "2.0.0.127 IN A 127.0.0.2\n"
	}
	return z + records
}

// The DNS blocklist judge on fixture lists (never real ones): the MX
// address and the addresses SPF authorises directly, each list's verdict,
// and what makes a list's answers worthless.
func TestJudgeDNSBL(t *testing.T) {
	const domain = `$ORIGIN example.com.
$TTL 300
@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300
@ IN NS ns1
ns1 IN A 192.0.2.53
@ IN MX 10 mail
mail IN A 192.0.2.25
mail IN AAAA 2001:db8::25
@ IN TXT "v=spf1 mx ip4:198.51.100.7 ip4:203.0.113.0/24 ip4:10.0.0.1 -all ip4:198.51.100.99"
`
	tests := []struct {
		name    string
		list    string // the zone of the list bl.test
		outside bool   // the list is in no zone
		want    []want
		notWant []string
	}{
		{"nothing listed", dnsblZone("bl.test", true, ""), false, []want{{"dnsbl.ok", finding.Pass, "DNSBL"}}, nil},
		{"the MX address listed", dnsblZone("bl.test", true, "25.2.0.192 IN A 127.0.0.2\n25.2.0.192 IN TXT \"spam trap hits\"\n"), false,
			[]want{{"dnsbl.listed", finding.Fail, "192.0.2.25"}}, []string{"dnsbl.ok"}},
		{"an SPF ip4 address listed", dnsblZone("bl.test", true, "7.100.51.198 IN A 127.0.0.3\n"), false,
			[]want{{"dnsbl.listed", finding.Fail, "198.51.100.7"}}, nil},
		// A term after all is never evaluated: its address is no sender.
		{"an address after all is not asked", dnsblZone("bl.test", true, "99.100.51.198 IN A 127.0.0.2\n"), false,
			[]want{{"dnsbl.ok", finding.Pass, "DNSBL"}}, []string{"dnsbl.listed"}},
		// A /24 is 256 queries: skipped, not listed, not asked.
		{"a wide range is not asked", dnsblZone("bl.test", true, "5.113.0.203 IN A 127.0.0.2\n"), false,
			[]want{{"dnsbl.ok", finding.Pass, "DNSBL"}}, []string{"dnsbl.listed"}},
		{"the list refuses", dnsblZone("bl.test", true, "* IN A 127.255.255.254\n"), false,
			[]want{{"dnsbl.refused", finding.Error, ""}}, []string{"dnsbl.listed", "dnsbl.ok"}},
		{"a resolver rewrites NXDOMAIN", dnsblZone("bl.test", true, "25.2.0.192 IN A 192.0.2.80\n"), false,
			[]want{{"dnsbl.refused", finding.Error, "192.0.2.25"}}, []string{"dnsbl.listed"}},
		// RFC 5782 §5: a list that lists 127.0.0.1 lists everything.
		{"the test points are wrong", dnsblZone("bl.test", true, "1.0.0.127 IN A 127.0.0.2\n25.2.0.192 IN A 127.0.0.2\n"), false,
			[]want{{"dnsbl.refused", finding.Error, "bl.test A"}}, []string{"dnsbl.listed", "dnsbl.ok"}},
		{"the list is outside the zones", "", true, []want{{"dns.not-checked", finding.Info, "DNSBL"}}, []string{"dnsbl.ok", "dnsbl.listed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srcs := []resolver.ZoneSource{{File: "example.com.zone", Origin: "example.com.", Data: []byte(domain)}}
			if !tt.outside {
				srcs = append(srcs, resolver.ZoneSource{File: "bl.test.zone", Origin: "bl.test.", Data: []byte(tt.list)})
			}
			z, err := resolver.NewZone(srcs...)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			res := checkDNSBL(ctx, &Env{Resolver: resolver.NewCache(z), Zone: z, DNSBL: []string{"bl.test"}}, "example.com")
			assertFindings(t, res.Findings, tt.want...)
			assertNoFindings(t, res.Findings, tt.notWant...)
		})
	}
}
