package spf

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// RFC 7208 §7.4's own examples: sender strong-bad@email.example.com,
// client 192.0.2.3 (or 2001:db8::cb01).
func TestExpandRFC7208Examples(t *testing.T) {
	s := NewScope("strong-bad@email.example.com")
	s.IP = netip.MustParseAddr("192.0.2.3")
	tests := []struct{ spec, want string }{
		{"%{s}", "strong-bad@email.example.com"},
		{"%{o}", "email.example.com"},
		{"%{d}", "email.example.com"},
		{"%{d4}", "email.example.com"},
		{"%{d3}", "email.example.com"},
		{"%{d2}", "example.com"},
		{"%{d1}", "com"},
		{"%{dr}", "com.example.email"},
		{"%{d2r}", "example.email"},
		{"%{l}", "strong-bad"},
		{"%{l-}", "strong.bad"},
		{"%{lr}", "strong-bad"},
		{"%{lr-}", "bad.strong"},
		{"%{l1r-}", "strong"},
		{"%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
		{"%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
		{"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
		{"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"},
		{"%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"},
		{"%%%_%-.example.com", "% %20.example.com"},
	}
	for _, tt := range tests {
		if got, ok := Expand(tt.spec, s); !ok || got != tt.want {
			t.Errorf("Expand(%q) = %q, %v; want %q", tt.spec, got, ok, tt.want)
		}
	}
	s.IP = netip.MustParseAddr("2001:db8::cb01")
	want := "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"
	if got, ok := Expand("%{ir}.%{v}._spf.%{d2}", s); !ok || got != want {
		t.Errorf("IPv6: %q, %v", got, ok)
	}
	// Without a client, a macro that needs one cannot be expanded.
	if _, ok := Expand("%{i}.example.com", NewScope("example.com")); ok {
		t.Error("%{i} expanded without a client address")
	}
	// §7.3: names longer than 253 characters lose labels on the left.
	long := strings.Repeat("a", 60) + "." + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60) + "." + strings.Repeat("d", 60) + ".%{d}"
	if got, ok := Expand(long, s); !ok || len(got) > 253 || !strings.HasSuffix(got, "email.example.com") || strings.HasPrefix(got, "a") {
		t.Errorf("long name: %q (%d), %v", got, len(got), ok)
	}
}

func TestScopeIntoKeepsTheSender(t *testing.T) {
	s := NewScope("example.com").Into("_spf.Provider.NET.")
	if s.Domain != "_spf.provider.net" || s.Sender != "postmaster@example.com" {
		t.Errorf("%+v", s)
	}
	if got, _ := Expand("%{d}|%{o}", s); got != "_spf.provider.net|example.com" {
		t.Errorf("d and o after a redirect: %q", got)
	}
	a := Term{Mechanism: A, CIDR4: -1, CIDR6: -1}
	if got, ok := a.Target(s); !ok || got != "_spf.provider.net" {
		t.Errorf("a without a domain targets the redirected domain: %q", got)
	}
	if _, ok := (Term{Mechanism: IP4}).Target(s); ok {
		t.Error("ip4 has no target")
	}
}

func TestEvaluatedAndAfterAll(t *testing.T) {
	tests := []struct {
		record          string
		evaluated, rest []string
		lookups         []string
	}{
		{"v=spf1 mx -all", []string{"mx", "-all"}, nil, []string{"mx"}},
		{"v=spf1 ip4:192.0.2.1 -all include:_spf.example.net a", []string{"ip4:192.0.2.1", "-all"},
			[]string{"include:_spf.example.net", "a"}, nil},
		{"v=spf1 a ~all exp=explain.example.com", []string{"a", "~all"}, nil, []string{"a"}},
		{"v=spf1 include:a.example redirect=b.example", []string{"include:a.example"}, nil,
			[]string{"include:a.example", "redirect=b.example"}},
		{"v=spf1 -all redirect=b.example", []string{"-all"}, nil, nil},
	}
	texts := func(ts []Term) []string {
		var out []string
		for _, t := range ts {
			out = append(out, t.Text)
		}
		return out
	}
	for _, tt := range tests {
		r, err := Parse(tt.record)
		if err != nil {
			t.Fatal(err)
		}
		if got := texts(r.Evaluated()); !slices.Equal(got, tt.evaluated) {
			t.Errorf("%s: Evaluated %v, want %v", tt.record, got, tt.evaluated)
		}
		if got := texts(r.AfterAll()); !slices.Equal(got, tt.rest) {
			t.Errorf("%s: AfterAll %v, want %v", tt.record, got, tt.rest)
		}
		if got := texts(r.LookupTerms()); !slices.Equal(got, tt.lookups) {
			t.Errorf("%s: LookupTerms %v, want %v", tt.record, got, tt.lookups)
		}
	}
}

// facts is a map-backed Facts: "name/TXT", "name/A", "name/AAAA",
// "name/MX", "ip/PTR" → records; a key in fail makes the lookup fail.
type facts struct {
	data map[string][]string
	fail map[string]bool
}

func (f facts) get(key string) ([]string, error) {
	if f.fail[key] {
		return nil, errors.New("SERVFAIL")
	}
	return f.data[key], nil
}

func (f facts) TXT(name string) ([]string, error) { return f.get(name + "/TXT") }
func (f facts) MX(name string) ([]string, error)  { return f.get(name + "/MX") }
func (f facts) PTR(ip netip.Addr) ([]string, error) {
	return f.get(ip.String() + "/PTR")
}
func (f facts) Addrs(name string, v6 bool) ([]netip.Addr, error) {
	key := name + "/A"
	if v6 {
		key = name + "/AAAA"
	}
	ss, err := f.get(key)
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out, err
}

func TestCheckHost(t *testing.T) {
	world := facts{data: map[string][]string{
		// The redirect case of the issue: mx in the redirected record is
		// the provider's MX, not the domain's own.
		"example.com/TXT":       {"v=spf1 redirect=_spf.provider.net", "google-site-verification=x"},
		"example.com/MX":        {"mail.example.com"},
		"mail.example.com/A":    {"192.0.2.25"},
		"_spf.provider.net/TXT": {"v=spf1 mx a:relay.provider.net/28 -all"},
		"_spf.provider.net/MX":  {"mx.provider.net"},
		"mx.provider.net/A":     {"198.51.100.5"},
		"relay.provider.net/A":  {"198.51.100.17"},

		// Terms after all are never evaluated.
		"afterall.example/TXT": {"v=spf1 ip4:192.0.2.1 -all ip4:192.0.2.9 include:_spf.provider.net"},

		// An include's own a and mx speak of the include target.
		"inc.example/TXT":                         {"v=spf1 include:_spf.partner.example ~all"},
		"inc.example/A":                           {"192.0.2.50"},
		"_spf.partner.example/TXT":                {"v=spf1 a exists:%{i}.allow.%{o}.example -all"},
		"_spf.partner.example/A":                  {"203.0.113.7"},
		"203.0.113.8.allow.inc.example.example/A": {"127.0.0.2"},

		// Void lookups.
		"voids.example/TXT":   {"v=spf1 a:gone1.example a:gone2.example a:gone3.example ip4:192.0.2.1 -all"},
		"twovoid.example/TXT": {"v=spf1 a:gone1.example mx:gone2.example ip4:192.0.2.1 -all"},
		// An IPv4 client asks A only: a name with only AAAA is void.
		"v6only.example/TXT": {"v=spf1 a:six.example -all"},
		"six.example/AAAA":   {"2001:db8::6"},

		"noinc.example/TXT":     {"v=spf1 include:nothing.example -all"},
		"loop.example/TXT":      {"v=spf1 include:loop2.example -all"},
		"loop2.example/TXT":     {"v=spf1 include:loop.example -all"},
		"redirnone.example/TXT": {"v=spf1 redirect=nothing.example"},
		"allredir.example/TXT":  {"v=spf1 ?all redirect=_spf.provider.net"},
		"two.example/TXT":       {"v=spf1 -all", "v=spf1 +all"},
		"bad.example/TXT":       {"v=spf1 ip4:300.0.0.1 -all"},
		"temp.example/TXT":      {"v=spf1 include:broken.example -all"},
		"ptr.example/TXT":       {"v=spf1 ptr -all"},
		"192.0.2.77/PTR":        {"host.ptr.example."},
		"host.ptr.example/A":    {"192.0.2.77"},
		"nullmx.example/TXT":    {"v=spf1 mx -all"},
		"nullmx.example/MX":     {"."},
	}, fail: map[string]bool{"broken.example/TXT": true}}
	for i := range 11 {
		name := "l" + string(rune('a'+i)) + ".example"
		world.data[name+"/TXT"] = []string{"v=spf1 -all"}
	}
	many := "v=spf1"
	for i := range 11 {
		many += " include:l" + string(rune('a'+i)) + ".example"
	}
	world.data["many.example/TXT"] = []string{many + " -all"}

	tests := []struct {
		name, domain, ip string
		result           Result
		matched, where   string
		voids            int
	}{
		{"the domain's own MX is not the redirect target's mx", "example.com", "192.0.2.25", Fail, "-all", "_spf.provider.net", 0},
		{"the redirect target's MX passes", "example.com", "198.51.100.5", Pass, "mx", "_spf.provider.net", 0},
		{"a with a CIDR in the redirected record", "example.com", "198.51.100.30", Pass, "a:relay.provider.net/28", "_spf.provider.net", 0},
		{"after all: never evaluated", "afterall.example", "192.0.2.9", Fail, "-all", "afterall.example", 0},
		{"before all: matches", "afterall.example", "192.0.2.1", Pass, "ip4:192.0.2.1", "afterall.example", 0},
		{"include target's a", "inc.example", "203.0.113.7", Pass, "include:_spf.partner.example", "inc.example", 0},
		{"the including domain's address is not the include's a", "inc.example", "192.0.2.50", SoftFail, "~all", "inc.example", 1},
		{"%{o} stays the sender's domain in an include", "inc.example", "203.0.113.8", Pass, "include:_spf.partner.example", "inc.example", 0},
		{"three void lookups", "voids.example", "192.0.2.1", PermError, "a:gone3.example", "voids.example", 3},
		{"two void lookups are allowed", "twovoid.example", "192.0.2.1", Pass, "ip4:192.0.2.1", "twovoid.example", 2},
		{"A-only for an IPv4 client", "v6only.example", "192.0.2.1", Fail, "-all", "v6only.example", 1},
		{"include of a domain without SPF", "noinc.example", "192.0.2.1", PermError, "include:nothing.example", "noinc.example", 1},
		{"include loop", "loop.example", "192.0.2.1", PermError, "include:loop2.example", "loop.example", 0},
		{"redirect to a domain without SPF", "redirnone.example", "192.0.2.1", PermError, "", "nothing.example", 1},
		{"all makes the redirect unused", "allredir.example", "198.51.100.5", Neutral, "?all", "allredir.example", 0},
		{"two records", "two.example", "192.0.2.1", PermError, "", "two.example", 0},
		{"syntax error", "bad.example", "192.0.2.1", PermError, "", "bad.example", 0},
		{"a failed lookup in an include", "temp.example", "192.0.2.1", TempError, "include:broken.example", "temp.example", 0},
		{"no record", "none.example", "192.0.2.1", None, "", "none.example", 0},
		{"lookup limit", "many.example", "192.0.2.1", PermError, "include:lk.example", "many.example", 0},
		{"ptr validated", "ptr.example", "192.0.2.77", Pass, "ptr", "ptr.example", 0},
		{"null MX matches nothing", "nullmx.example", "192.0.2.1", Fail, "-all", "nullmx.example", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewScope(tt.domain)
			s.IP = netip.MustParseAddr(tt.ip)
			out := CheckHost(world, s)
			if out.Result != tt.result {
				t.Fatalf("result %s (%s), want %s", out.Result, out.Reason, tt.result)
			}
			matched := ""
			if out.Matched != nil {
				matched = out.Matched.Text
			}
			if matched != tt.matched {
				t.Errorf("matched %q, want %q", matched, tt.matched)
			}
			if tt.where != "" && out.Domain != tt.where {
				t.Errorf("decided at %q, want %q", out.Domain, tt.where)
			}
			if len(out.Voids) != tt.voids {
				t.Errorf("voids %v, want %d", out.Voids, tt.voids)
			}
			if (out.Result == PermError || out.Result == TempError) && out.Reason == "" {
				t.Error("an error result without a reason")
			}
			if tt.domain == "loop.example" && !strings.Contains(out.Reason, "leads back to loop.example") {
				t.Errorf("a loop is named as such: %q", out.Reason)
			}
		})
	}
}

func TestCheckHostRedirectPath(t *testing.T) {
	world := facts{data: map[string][]string{
		"example.com/TXT":             {"v=spf1 redirect=_spf.provider.net"},
		"_spf.provider.net/TXT":       {"v=spf1 include:_netblocks.provider.net -all"},
		"_netblocks.provider.net/TXT": {"v=spf1 ip4:198.51.100.0/24 -all"},
	}}
	s := NewScope("example.com")
	s.IP = netip.MustParseAddr("198.51.100.9")
	out := CheckHost(world, s)
	if out.Result != Pass || !slices.Equal(out.Path, []string{"redirect=_spf.provider.net", "include:_netblocks.provider.net"}) || out.Lookups != 2 {
		t.Errorf("%+v", out)
	}
}
