package dnsbl

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestQueryName(t *testing.T) {
	zen := Custom("zen.spamhaus.org.")
	spamcop := Custom("bl.spamcop.net")
	tests := []struct {
		list List
		ip   string
		want string
		ok   bool
	}{
		// RFC 5782 §2.1's example.
		{zen, "192.0.2.99", "99.2.0.192.zen.spamhaus.org.", true},
		{zen, "::ffff:192.0.2.99", "99.2.0.192.zen.spamhaus.org.", true},
		// RFC 5782 §2.4's example.
		{zen, "2001:db8:1:2:3:4:567:89ab", "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.zen.spamhaus.org.", true},
		{spamcop, "2001:db8::1", "", false},
		{Custom("dnsbl.example.test"), "127.0.0.2", "2.0.0.127.dnsbl.example.test.", true},
	}
	for _, tt := range tests {
		got, ok := tt.list.QueryName(netip.MustParseAddr(tt.ip))
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s %s: %q, %v; want %q, %v", tt.list.Zone, tt.ip, got, ok, tt.want, tt.ok)
		}
	}
}

func TestInterpret(t *testing.T) {
	zen := Custom("zen.spamhaus.org")
	generic := Custom("dnsbl.example.test")
	addrs := func(ss ...string) []netip.Addr {
		var out []netip.Addr
		for _, s := range ss {
			out = append(out, netip.MustParseAddr(s))
		}
		return out
	}
	tests := []struct {
		name     string
		list     List
		answers  []netip.Addr
		verdict  Verdict
		meanings []string
	}{
		{"NXDOMAIN", zen, nil, NotListed, nil},
		{"SBL", zen, addrs("127.0.0.2"), Listed, []string{"SBL: a spam source or spam operation"}},
		{"XBL and PBL", zen, addrs("127.0.0.4", "127.0.0.11"), Listed, []string{
			"XBL: a compromised host or open proxy", "PBL (set by Spamhaus): an address that should not send mail directly"}},
		// The answer a public resolver gets: never "listed".
		{"public resolver", zen, addrs("127.255.255.254"), Refused, nil},
		{"over quota", zen, addrs("127.255.255.255"), Refused, nil},
		{"an error code beside a listing", zen, addrs("127.0.0.2", "127.255.255.254"), Refused, nil},
		{"undocumented listing code", zen, addrs("127.0.0.5"), Listed, []string{"listed (code 127.0.0.5)"}},
		{"generic list", generic, addrs("127.0.0.2"), Listed, []string{"listed (code 127.0.0.2)"}},
		{"generic list, error range", generic, addrs("127.255.255.254"), Refused, nil},
		// An ISP resolver that answers its own search page for NXDOMAIN.
		{"NXDOMAIN rewritten", zen, addrs("198.51.100.80"), Unexpected, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.list.Interpret(tt.answers)
			if r.Verdict != tt.verdict || !slices.Equal(r.Meanings, tt.meanings) {
				t.Errorf("%v %q, want %v %q", r.Verdict, r.Meanings, tt.verdict, tt.meanings)
			}
			if (r.Verdict == Refused || r.Verdict == Unexpected) && r.Reason == "" {
				t.Error("an inconclusive answer without a reason")
			}
		})
	}
}

func TestDefaultLists(t *testing.T) {
	seen := map[string]bool{}
	for _, l := range Default() {
		if seen[l.Zone] || l.Name == "" || !strings.HasPrefix(l.Delist, "https://") || l.Source == "" || len(l.Codes) == 0 {
			t.Errorf("incomplete or repeated list %+v", l)
		}
		seen[l.Zone] = true
		listed, _ := TestPoints()
		if r := l.Interpret([]netip.Addr{listed}); r.Verdict != Listed {
			t.Errorf("%s: the RFC 5782 test point reads %v", l.Zone, r.Verdict)
		}
	}
	if !Checked(netip.MustParseAddr("198.51.100.7")) || Checked(netip.MustParseAddr("10.0.0.1")) || Checked(netip.MustParseAddr("127.0.0.1")) {
		t.Error("Checked: public unicast only")
	}
}
