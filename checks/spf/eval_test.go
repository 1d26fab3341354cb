package spf

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/resolver"
	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

// TestMacroExpansionRFCExamples runs the examples of RFC 7208 §7.4.
func TestMacroExpansionRFCExamples(t *testing.T) {
	e := &evaluator{ctx: context.Background(), r: resolvertest.New(), q: Query{
		IP: netip.MustParseAddr("192.0.2.3"), Domain: "email.example.com", Sender: "strong-bad@email.example.com",
	}}
	for _, tt := range []struct{ spec, want string }{
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
		{"%%%_%-", "% %20"},
	} {
		got, err := e.expand(tt.spec, "email.example.com", false)
		if err != nil || got != tt.want {
			t.Errorf("expand(%q) = %q, %v; want %q", tt.spec, got, err, tt.want)
		}
	}
	e.q.IP = netip.MustParseAddr("2001:db8::cb01")
	got, _ := e.expand("%{ir}.%{v}._spf.%{d2}", "email.example.com", false)
	if want := "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"; got != want {
		t.Errorf("IPv6 %%{ir} = %q, want %q", got, want)
	}
	// Uppercase macros are URL-escaped; %{c} is for explanations only.
	e.q.Sender = "a b@email.example.com"
	if got, _ := e.expand("%{S}", "email.example.com", true); got != "a%20b%40email.example.com" {
		t.Errorf("%%{S} = %q", got)
	}
	if _, err := e.expand("%{c}.example.com", "email.example.com", false); err == nil {
		t.Error("%{c} accepted in a domain-spec")
	}
}

func check(r resolver.Resolver, ip, domain string) Evaluation {
	return CheckHost(context.Background(), r, Query{IP: netip.MustParseAddr(ip), Domain: domain,
		Sender: "user@" + domain, HELO: "mail." + domain})
}

func problem(e Evaluation) Problem {
	var ee *EvalError
	if errors.As(e.Err, &ee) {
		return ee.Problem
	}
	return 0
}

func TestCheckHost(t *testing.T) {
	zone := resolvertest.New(
		`example.com. TXT "v=spf1 ip4:192.0.2.0/24 include:_spf.esp.example ~all"`,
		`_spf.esp.example. TXT "v=spf1 ip4:198.51.100.0/24 ip6:2001:db8:5::/48 -all"`,
		`mx.example. TXT "v=spf1 mx/30 -all"`,
		`mx.example. MX 10 mail.mx.example.`,
		`mail.mx.example. A 203.0.113.9`,
		`a.example. TXT "v=spf1 a:host.a.example -all"`,
		`host.a.example. A 203.0.113.20`,
		`host.a.example. AAAA 2001:db8:a::20`,
		`redir.example. TXT "v=spf1 redirect=example.com"`,
		`redirnone.example. TXT "v=spf1 redirect=nothing.example"`,
		`neutral.example. TXT "v=spf1 ip4:192.0.2.1"`,
		`two.example. TXT "v=spf1 -all"`,
		`two.example. TXT "v=spf1 +all"`,
		`syntax.example. TXT "v=spf1 ip4:300.1.1.1 -all"`,
		`exists.example. TXT "v=spf1 exists:%{ir}.allow.exists.example -all"`,
		`3.2.0.192.allow.exists.example. A 127.0.0.2`,
		`ptr.example. TXT "v=spf1 ptr -all"`,
		`9.113.0.203.in-addr.arpa. PTR host.ptr.example.`,
		`host.ptr.example. A 203.0.113.9`,
		`cname.example. CNAME spf-target.example.`,
		`spf-target.example. TXT "v=spf1 ip4:192.0.2.77 -all"`,
		`exp.example. TXT "v=spf1 -all exp=why.exp.example"`,
		`why.exp.example. TXT "%{i} is not one of %{d}'s designated mail servers."`,
		`broken-include.example. TXT "v=spf1 include:nothing.example -all"`,
		`dnsfail.example. TXT "v=spf1 include:timeout.example -all"`,
	)
	zone.Fail("timeout.example.", dns.TypeTXT, resolver.Timeout)

	for _, tt := range []struct {
		name, ip, domain string
		status           Status
		mechanism        string
		matchedIn        string
		problem          Problem
	}{
		{"ip4 in the record", "192.0.2.10", "example.com", StatusPass, "ip4:192.0.2.0/24", "example.com", 0},
		{"pass through an include", "198.51.100.7", "example.com", StatusPass, "include:_spf.esp.example", "_spf.esp.example", 0},
		{"include does not match: softfail all", "203.0.113.1", "example.com", StatusSoftfail, "~all", "example.com", 0},
		{"ip6 in an include", "2001:db8:5::1", "example.com", StatusPass, "include:_spf.esp.example", "_spf.esp.example", 0},
		{"mx with a cidr", "203.0.113.10", "mx.example", StatusPass, "mx/30", "mx.example", 0},
		{"mx fails outside the cidr", "203.0.113.50", "mx.example", StatusFail, "-all", "mx.example", 0},
		{"a for IPv6 asks AAAA", "2001:db8:a::20", "a.example", StatusPass, "a:host.a.example", "a.example", 0},
		{"redirect", "198.51.100.7", "redir.example", StatusPass, "include:_spf.esp.example", "_spf.esp.example", 0},
		{"redirect to nothing", "192.0.2.1", "redirnone.example", StatusPermError, "", "", ProblemIncludeNone},
		{"no all: neutral", "203.0.113.1", "neutral.example", StatusNeutral, "", "", 0},
		{"two records", "192.0.2.1", "two.example", StatusPermError, "", "", ProblemMultiple},
		{"syntax", "192.0.2.1", "syntax.example", StatusPermError, "", "", ProblemSyntax},
		{"no record", "192.0.2.1", "norecord.example", StatusNone, "", "", ProblemNoRecord},
		{"exists with a macro", "192.0.2.3", "exists.example", StatusPass, "exists:%{ir}.allow.exists.example", "exists.example", 0},
		{"exists does not", "192.0.2.4", "exists.example", StatusFail, "-all", "exists.example", 0},
		{"ptr validated", "203.0.113.9", "ptr.example", StatusPass, "ptr", "ptr.example", 0},
		{"record behind a CNAME", "192.0.2.77", "cname.example", StatusPass, "ip4:192.0.2.77", "cname.example", 0},
		{"include of a domain without SPF", "192.0.2.1", "broken-include.example", StatusPermError, "", "", ProblemIncludeNone},
		{"include times out", "192.0.2.1", "dnsfail.example", StatusTempError, "", "", ProblemDNS},
		{"not an FQDN", "192.0.2.1", "localhost", StatusNone, "", "", ProblemBadDomain},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := check(zone, tt.ip, tt.domain)
			if got.Status != tt.status || got.Mechanism != tt.mechanism || got.MatchedIn != tt.matchedIn || problem(got) != tt.problem {
				t.Errorf("%s for %s: %s %q in %q (problem %d, %v); want %s %q in %q (problem %d)",
					tt.domain, tt.ip, got.Status, got.Mechanism, got.MatchedIn, problem(got), got.Err,
					tt.status, tt.mechanism, tt.matchedIn, tt.problem)
			}
		})
	}

	got := check(zone, "198.51.100.7", "example.com")
	if got.Inner != "ip4:198.51.100.0/24" || strings.Join(got.Path, " ") != "example.com _spf.esp.example" || got.Lookups != 1 {
		t.Errorf("include pass: inner %q path %v lookups %d", got.Inner, got.Path, got.Lookups)
	}
	got = check(zone, "192.0.2.9", "exp.example")
	if got.Status != StatusFail || got.Explanation != "192.0.2.9 is not one of exp.example's designated mail servers." {
		t.Errorf("exp: %s %q", got.Status, got.Explanation)
	}
}

// TestCheckHostLimits holds the evaluator to RFC 7208 §4.6.4: more than 10
// DNS-querying terms, more than 2 void lookups, more than 10 MX records,
// and include loops end in permerror, having counted what they used.
func TestCheckHostLimits(t *testing.T) {
	var recs []string
	// chain0 includes chain1 ... chain11: 11 includes.
	for i := range 12 {
		next := fmt.Sprintf("include:chain%d.example", i+1)
		if i == 11 {
			next = ""
		}
		recs = append(recs, fmt.Sprintf(`chain%d.example. TXT "v=spf1 %s -all"`, i, next))
	}
	recs = append(recs,
		`voids.example. TXT "v=spf1 a:v1.voids.example a:v2.voids.example a:v3.voids.example -all"`,
		`loop1.example. TXT "v=spf1 include:loop2.example -all"`,
		`loop2.example. TXT "v=spf1 include:loop1.example -all"`,
		`manymx.example. TXT "v=spf1 mx -all"`,
		`ten.example. TXT "v=spf1 a a a a a a a a a a ip4:192.0.2.1 -all"`,
		`ten.example. A 203.0.113.1`,
	)
	for i := range 11 {
		recs = append(recs, fmt.Sprintf("manymx.example. MX %d mx%d.manymx.example.", i, i))
	}
	zone := resolvertest.New(recs...)

	for _, tt := range []struct {
		domain  string
		status  Status
		problem Problem
		lookups int
	}{
		{"chain0.example", StatusPermError, ProblemLookupLimit, 11},
		{"voids.example", StatusPermError, ProblemVoidLimit, 3},
		{"loop1.example", StatusPermError, ProblemLookupLimit, 11},
		{"manymx.example", StatusPermError, ProblemMXLimit, 1},
		{"ten.example", StatusPass, 0, 10}, // exactly 10 is allowed
	} {
		got := check(zone, "192.0.2.1", tt.domain)
		if got.Status != tt.status || problem(got) != tt.problem || got.Lookups != tt.lookups {
			t.Errorf("%s: %s problem %d after %d lookups (%v); want %s problem %d after %d",
				tt.domain, got.Status, problem(got), got.Lookups, got.Err, tt.status, tt.problem, tt.lookups)
		}
	}
}

func TestCheckHostOutOfZone(t *testing.T) {
	z, err := resolver.NewZone(resolver.ZoneSource{File: "t.zone", Origin: "example.com.",
		Data: []byte("$TTL 300\n@ SOA ns. h. 1 2 3 4 5\n@ TXT \"v=spf1 include:_spf.elsewhere.example -all\"\n")})
	if err != nil {
		t.Fatal(err)
	}
	got := check(resolver.Chain{Zone: z}, "192.0.2.1", "example.com")
	if got.Status != StatusTempError || problem(got) != ProblemNotChecked {
		t.Errorf("include outside --zone: %s problem %d (%v); want temperror, not checked", got.Status, problem(got), got.Err)
	}
}
