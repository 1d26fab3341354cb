package facts

import (
	"context"
	"slices"
	"testing"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/resolver"
	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

func hostsOf(ts []Target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Host)
	}
	return out
}

// TestMXRule: the one rule every consumer of "the domain's mail hosts"
// follows (checks, probes, PTR, MTA-STS, login, the gate).
func TestMXRule(t *testing.T) {
	tests := []struct {
		name    string
		records []string
		domain  string
		targets []string // Targets(), most preferred first
		names   []string // HostNames(): MX hosts only
		nulls   int
		literal int
	}{
		{"preference order, duplicates once", []string{
			"example.com. MX 20 b.example.com.", "example.com. MX 10 A.Example.com.", "example.com. MX 30 a.example.com.",
		}, "example.com", []string{"a.example.com", "b.example.com"}, []string{"a.example.com", "b.example.com"}, 0, 0},
		{"null MX alone names no host", []string{"example.com. MX 0 ."}, "example.com", nil, nil, 1, 0},
		{"null MX beside a host", []string{"example.com. MX 0 .", "example.com. MX 10 mx.example.com."},
			"example.com", []string{"mx.example.com"}, []string{"mx.example.com"}, 1, 0},
		{"IP literals are no hosts", []string{"example.com. MX 10 192.0.2.1.", "example.com. MX 20 [192.0.2.2].", "example.com. MX 30 mx.example.com."},
			"example.com", []string{"mx.example.com"}, []string{"mx.example.com"}, 0, 2},
		{"a CNAME target is still the MX host", []string{"example.com. MX 10 alias.example.com.", "alias.example.com. CNAME real.example.net."},
			"example.com", []string{"alias.example.com"}, []string{"alias.example.com"}, 0, 0},
		{"no MX: the domain itself (implicit MX)", []string{"example.com. A 192.0.2.1"}, "example.com", []string{"example.com"}, nil, 0, 0},
		{"NXDOMAIN: nothing", []string{"other.com. A 192.0.2.1"}, "example.com", nil, nil, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := GatherMX(context.Background(), resolvertest.New(tt.records...), tt.domain)
			if got := hostsOf(m.Targets()); !slices.Equal(got, tt.targets) {
				t.Errorf("Targets() = %v, want %v", got, tt.targets)
			}
			if got := m.HostNames(); !slices.Equal(got, tt.names) {
				t.Errorf("HostNames() = %v, want %v", got, tt.names)
			}
			if m.Nulls != tt.nulls || len(m.Literals) != tt.literal {
				t.Errorf("nulls %d literals %d, want %d %d", m.Nulls, len(m.Literals), tt.nulls, tt.literal)
			}
			// LookupMX (names only, for login discovery) agrees.
			l := LookupMX(context.Background(), resolvertest.New(tt.records...), tt.domain)
			if got := l.HostNames(); !slices.Equal(got, tt.names) {
				t.Errorf("LookupMX HostNames() = %v, want %v", got, tt.names)
			}
		})
	}
}

func TestMXHostsResolvedWithTheirFamilies(t *testing.T) {
	r := resolvertest.New("example.com. MX 10 mx.example.com.", "mx.example.com. A 192.0.2.1")
	r.Fail("mx.example.com.", dns.TypeAAAA, resolver.Timeout)
	m := GatherMX(context.Background(), r, "example.com")
	ts := m.Targets()
	if len(ts) != 1 || ts[0].Addrs == nil {
		t.Fatalf("targets %+v", ts)
	}
	a := ts[0].Addrs
	if len(a.V4()) != 1 || a.AAAA.Err == nil || a.Err() == nil {
		t.Errorf("an AAAA failure must be kept beside the IPv4 address: %+v", a)
	}
}

func TestIsIPLiteral(t *testing.T) {
	for s, want := range map[string]bool{
		"192.0.2.1": true, "192.0.2.1.": true, "[192.0.2.1]": true, "2001:db8::1": true, "[IPv6:2001:db8::1]": true,
		"mail.example.com": false, "1.example.com": false, "192.0.2": false, "10.0.0.1.in-addr.arpa": false,
	} {
		if got := IsIPLiteral(s); got != want {
			t.Errorf("IsIPLiteral(%q) = %v, want %v", s, got, want)
		}
	}
}
