package checks

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

func TestPTR(t *testing.T) {
	mx := []string{"example.com. IN MX 10 mail.example.com.", "mail.example.com. IN A 192.0.2.1"}
	with := func(extra ...string) []string { return append(slices.Clone(mx), extra...) }
	type failure struct {
		name  string
		qtype uint16
		kind  resolver.Kind
	}
	tests := []struct {
		name    string
		records []string
		fail    []failure
		want    []want
		absent  []string
	}{
		{name: "confirmed", records: with("1.2.0.192.in-addr.arpa. IN PTR mail.example.com."),
			want: []want{{"ptr.ok", finding.Pass, "example.com MX"}}},
		{name: "no PTR (NXDOMAIN)", records: mx,
			want: []want{{"ptr.missing", finding.Fail, "192.0.2.1 PTR"}}, absent: []string{"ptr.ok"}},
		{name: "no PTR (NODATA)", records: with("1.2.0.192.in-addr.arpa. IN TXT \"x\""),
			want: []want{{"ptr.missing", finding.Fail, "192.0.2.1 PTR"}}},
		{name: "PTR name resolves elsewhere", records: with("1.2.0.192.in-addr.arpa. IN PTR host.isp.example.", "host.isp.example. IN A 198.51.100.7"),
			want: []want{{"ptr.mismatch", finding.Warn, "192.0.2.1 PTR"}}, absent: []string{"ptr.ok"}},
		{name: "PTR name has no address", records: with("1.2.0.192.in-addr.arpa. IN PTR host.isp.example."),
			want: []want{{"ptr.mismatch", finding.Warn, "192.0.2.1 PTR"}}},
		{name: "one of two PTR names confirms", records: with(
			"1.2.0.192.in-addr.arpa. IN PTR host.isp.example.", "1.2.0.192.in-addr.arpa. IN PTR mail.example.com."),
			want: []want{{"ptr.ok", finding.Pass, ""}}},
		{name: "IPv6", records: []string{"example.com. IN MX 10 mail.example.com.", "mail.example.com. IN AAAA 2001:db8::25",
			"5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. IN PTR mail.example.com."},
			want: []want{{"ptr.ok", finding.Pass, ""}}},
		{name: "classless delegation CNAME (RFC 2317)", records: with(
			"1.2.0.192.in-addr.arpa. IN CNAME 1.0-25.2.0.192.in-addr.arpa.", "1.0-25.2.0.192.in-addr.arpa. IN PTR mail.example.com."),
			want: []want{{"ptr.ok", finding.Pass, ""}}},
		{name: "two MX hosts on one address: one finding", records: with("example.com. IN MX 20 mx2.example.com.", "mx2.example.com. IN A 192.0.2.1"),
			want: []want{{"ptr.missing", finding.Fail, "192.0.2.1 PTR"}}},
		{name: "no MX: the domain's own address", records: []string{"example.com. IN A 192.0.2.1", "1.2.0.192.in-addr.arpa. IN PTR example.com."},
			want: []want{{"ptr.ok", finding.Pass, ""}}},
		{name: "null MX: nothing to check", records: []string{"example.com. IN MX 0 ."},
			absent: []string{"ptr.ok", "ptr.missing"}},
		{name: "PTR lookup fails: inconclusive, never missing", records: mx,
			fail: []failure{{"1.2.0.192.in-addr.arpa.", dns.TypePTR, resolver.ServFail}},
			want: []want{{"dns.lookup-failed", finding.Error, "192.0.2.1 PTR"}}, absent: []string{"ptr.missing", "ptr.ok"}},
		{name: "reverse zone not given: not checked", records: mx,
			fail: []failure{{"1.2.0.192.in-addr.arpa.", dns.TypePTR, resolver.OutOfZone}},
			want: []want{{"dns.not-checked", finding.Info, ""}}, absent: []string{"ptr.missing", "ptr.ok"}},
		{name: "forward lookup of the PTR name fails: inconclusive, not mismatch",
			records: with("1.2.0.192.in-addr.arpa. IN PTR host.isp.example."),
			fail:    []failure{{"host.isp.example.", dns.TypeA, resolver.Timeout}},
			want:    []want{{"dns.lookup-failed", finding.Error, ""}}, absent: []string{"ptr.mismatch", "ptr.ok"}},
		{name: "MX lookup fails", records: mx, fail: []failure{{"example.com.", dns.TypeMX, resolver.ServFail}},
			want: []want{{"dns.lookup-failed", finding.Error, "example.com MX"}}, absent: []string{"ptr.ok"}},
		{name: "MX host address lookup fails", records: mx,
			fail: []failure{{"mail.example.com.", dns.TypeA, resolver.ServFail}, {"mail.example.com.", dns.TypeAAAA, resolver.ServFail}},
			want: []want{{"dns.lookup-failed", finding.Error, "mail.example.com"}}, absent: []string{"ptr.ok", "ptr.missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := resolvertest.New(tt.records...)
			for _, f := range tt.fail {
				r.Fail(f.name, f.qtype, f.kind)
			}
			res := runOn(checkPTR, r, "example.com")
			assertFindings(t, res.Findings, tt.want...)
			for _, id := range tt.absent {
				if f := findingByID(res.Findings, id); f != nil {
					t.Errorf("unexpected %s/%s: %s", f.ID, f.Severity, f.Title)
				}
			}
			// Each test has one MX address: never two findings about it.
			if c := countID(res.Findings, "ptr.missing"); c > 1 {
				t.Errorf("%d ptr.missing findings for one address", c)
			}
		})
	}
}

func countID(fs []finding.Finding, id string) int {
	n := 0
	for _, f := range fs {
		if f.ID == id {
			n++
		}
	}
	return n
}

func TestPTRForAddr(t *testing.T) {
	r := resolvertest.New(
		"1.2.0.192.in-addr.arpa. IN PTR mail.example.com.", "mail.example.com. IN A 192.0.2.1",
		"2.2.0.192.in-addr.arpa. IN PTR other.example.com.", "other.example.com. IN A 192.0.2.99",
		"3.2.0.192.in-addr.arpa. IN PTR slow.example.com.")
	r.Fail("slow.example.com.", dns.TypeA, resolver.Timeout)
	tests := []struct {
		addr      string
		names     []string
		confirmed bool
		err       bool
	}{
		{"192.0.2.1", []string{"mail.example.com"}, true, false},
		{"::ffff:192.0.2.1", []string{"mail.example.com"}, true, false},
		{"192.0.2.2", []string{"other.example.com"}, false, false},
		{"192.0.2.3", []string{"slow.example.com"}, false, true},
		{"192.0.2.4", nil, false, false},
	}
	for _, tt := range tests {
		l := facts.LookupReverse(context.Background(), r, netip.MustParseAddr(tt.addr))
		names, confirmed, err := l.Names, l.Confirmed(), l.Err()
		if !slices.Equal(names, tt.names) || confirmed != tt.confirmed || (err != nil) != tt.err {
			t.Errorf("LookupReverse(%s) = %v, %v, %v; want %v, %v, error %v", tt.addr, names, confirmed, err, tt.names, tt.confirmed, tt.err)
		}
	}
}

func TestPTRLocatesMismatch(t *testing.T) {
	z, err := resolver.NewZone(resolver.ZoneSource{File: "2.0.192.in-addr.arpa.zone", Data: []byte(
		"$ORIGIN 2.0.192.in-addr.arpa.\n@ IN SOA ns. h. 1 2 3 4 5\n@ IN NS ns.\n1 IN PTR host.isp.example.\n")})
	if err != nil {
		t.Fatal(err)
	}
	fake := resolvertest.New("example.com. IN MX 10 mail.example.com.", "mail.example.com. IN A 192.0.2.1", "host.isp.example. IN A 198.51.100.1")
	res := runOn(checkPTR, resolver.Chain{Zone: z, Next: fake}, "example.com")
	f := findingByID(res.Findings, "ptr.mismatch")
	if f == nil || f.Location == nil || f.Location.Line != 4 {
		t.Fatalf("ptr.mismatch located at %+v, want line 4\n%s", f, listFindings(res.Findings))
	}
}
