package checks

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/checks/dmarc"
	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

func dmarcTXT(name, record string) string {
	return fmt.Sprintf("_dmarc.%s. 300 IN TXT %q", name, record)
}

func TestDMARCTreeWalk(t *testing.T) {
	tests := []struct {
		domain string
		want   []string
	}{
		{"example.com", []string{"example.com", "com"}},
		{"a.b.example.com.", []string{"a.b.example.com", "b.example.com", "example.com", "com"}},
		{"com", []string{"com"}},
		// RFC 9989 §4.10: 8 labels or more jump straight to the last 7.
		{"a.b.c.d.e.f.g.example.com", []string{
			"a.b.c.d.e.f.g.example.com", "c.d.e.f.g.example.com", "d.e.f.g.example.com", "e.f.g.example.com",
			"f.g.example.com", "g.example.com", "example.com", "com"}},
		{"b.c.d.e.f.g.example.com", []string{
			"b.c.d.e.f.g.example.com", "c.d.e.f.g.example.com", "d.e.f.g.example.com", "e.f.g.example.com",
			"f.g.example.com", "g.example.com", "example.com", "com"}},
	}
	for _, tt := range tests {
		if got := facts.DMARCTreeWalk(tt.domain); !slices.Equal(got, tt.want) {
			t.Errorf("DMARCTreeWalk(%q) =\n %q\nwant\n %q", tt.domain, got, tt.want)
		}
	}
	for _, d := range []string{"a.b.c.d.e.f.g.h.i.j.example.com", "a.b.c.example.com"} {
		if n := len(facts.DMARCTreeWalk(d)); n > 8 {
			t.Errorf("the walk for %s makes %d queries; at most 8", d, n)
		}
	}
}

func TestDMARC(t *testing.T) {
	const good = "v=DMARC1; p=reject; rua=mailto:dmarc@example.com"
	tests := []struct {
		name    string
		domain  string // default example.com
		records []string
		fail    func(*resolvertest.Fake)
		want    []want
		notWant []string
	}{
		{
			name:    "healthy",
			records: []string{dmarcTXT("example.com", good)},
			want:    []want{{"dmarc.ok", finding.Pass, "_dmarc.example.com TXT"}},
		},
		{
			name:    "missing",
			records: []string{"example.com. A 192.0.2.1"},
			want:    []want{{"dmarc.missing", finding.Fail, "_dmarc.example.com TXT"}},
		},
		{
			name:    "other TXT at _dmarc is not a record",
			records: []string{dmarcTXT("example.com", "v=dmarc1; p=reject")},
			want:    []want{{"dmarc.missing", finding.Fail, ""}},
		},
		{
			name:    "multiple",
			records: []string{dmarcTXT("example.com", good), dmarcTXT("example.com", "v=DMARC1; p=none")},
			want:    []want{{"dmarc.multiple", finding.Fail, "_dmarc.example.com TXT"}},
			notWant: []string{"dmarc.ok"},
		},
		{
			name:    "syntax",
			records: []string{dmarcTXT("example.com", "v=DMARC1; p=rejected; rua=mailto:dmarc@example.com")},
			want:    []want{{"dmarc.syntax", finding.Fail, "_dmarc.example.com TXT"}},
		},
		{
			name:    "no p",
			records: []string{dmarcTXT("example.com", "v=DMARC1; rua=mailto:dmarc@example.com")},
			want:    []want{{"dmarc.syntax", finding.Fail, ""}},
		},
		{
			name:    "unknown tags are ignored",
			records: []string{dmarcTXT("example.com", good+"; future=1")},
			want:    []want{{"dmarc.ok", finding.Pass, ""}},
		},
		{
			name:    "p=none",
			records: []string{dmarcTXT("example.com", "v=DMARC1; p=none; rua=mailto:dmarc@example.com")},
			want:    []want{{"dmarc.policy-none", finding.Warn, "_dmarc.example.com TXT"}},
			notWant: []string{"dmarc.ok"},
		},
		{
			name:    "pct",
			records: []string{dmarcTXT("example.com", good+"; pct=25")},
			want:    []want{{"dmarc.pct-partial", finding.Warn, ""}},
		},
		{
			name:    "pct=100 is full",
			records: []string{dmarcTXT("example.com", good+"; pct=100")},
			want:    []want{{"dmarc.ok", finding.Pass, ""}},
		},
		{
			name:    "t=y",
			records: []string{dmarcTXT("example.com", good+"; t=y")},
			want:    []want{{"dmarc.testing", finding.Warn, ""}},
		},
		{
			name:    "sp weaker",
			records: []string{dmarcTXT("example.com", good+"; sp=none")},
			want:    []want{{"dmarc.sp-weaker", finding.Warn, ""}},
		},
		{
			name:    "np weaker",
			records: []string{dmarcTXT("example.com", good+"; np=quarantine")},
			want:    []want{{"dmarc.sp-weaker", finding.Warn, ""}},
		},
		{
			name:    "sp stronger is fine",
			records: []string{dmarcTXT("example.com", "v=DMARC1; p=quarantine; sp=reject; rua=mailto:dmarc@example.com")},
			want:    []want{{"dmarc.ok", finding.Pass, ""}},
		},
		{
			name:    "no rua",
			records: []string{dmarcTXT("example.com", "v=DMARC1; p=reject")},
			want:    []want{{"dmarc.rua-missing", finding.Info, ""}, {"dmarc.ok", finding.Pass, ""}},
		},
		{
			name:    "rua in a subdomain needs no authorization",
			records: []string{dmarcTXT("example.com", "v=DMARC1; p=reject; rua=mailto:d@reports.example.com")},
			want:    []want{{"dmarc.ok", finding.Pass, ""}},
		},
		{
			name:    "external rua not authorised",
			records: []string{dmarcTXT("example.com", "v=DMARC1; p=reject; rua=mailto:d@reports.example.net; ruf=mailto:f@other.example.org")},
			want: []want{
				{"dmarc.rua-unauthorized", finding.Warn, "_dmarc.example.com TXT"},
			},
		},
		{
			name: "external rua authorised",
			records: []string{dmarcTXT("example.com", "v=DMARC1; p=reject; rua=mailto:d@reports.example.net"),
				"example.com._report._dmarc.reports.example.net. TXT \"v=DMARC1\""},
			want: []want{{"dmarc.ok", finding.Pass, ""}},
		},
		{
			name: "external rua authorised by wildcard",
			records: []string{dmarcTXT("example.com", "v=DMARC1; p=reject; rua=mailto:d@reports.example.net"),
				"*._report._dmarc.reports.example.net. TXT \"v=DMARC1\""},
			// The fake has no wildcard synthesis; an explicit name stands
			// in the fixture test. Here the answer is NXDOMAIN: unauthorised.
			want: []want{{"dmarc.rua-unauthorized", finding.Warn, ""}},
		},
		{
			name:    "authorization lookup fails: inconclusive",
			records: []string{dmarcTXT("example.com", "v=DMARC1; p=reject; rua=mailto:d@reports.example.net")},
			fail: func(f *resolvertest.Fake) {
				f.Fail("example.com._report._dmarc.reports.example.net", dns.TypeTXT, resolver.Timeout)
			},
			want:    []want{{"dns.lookup-failed", finding.Error, "example.com._report._dmarc.reports.example.net TXT"}},
			notWant: []string{"dmarc.rua-unauthorized", "dmarc.ok"},
		},
		{
			name:    "inherited from the organizational domain",
			domain:  "shop.example.com",
			records: []string{"shop.example.com. A 192.0.2.1", dmarcTXT("example.com", good)},
			want:    []want{{"dmarc.inherited", finding.Info, "_dmarc.shop.example.com TXT"}, {"dmarc.ok", finding.Pass, "_dmarc.example.com"}},
		},
		{
			name:    "inherited sp=none",
			domain:  "shop.example.com",
			records: []string{"shop.example.com. A 192.0.2.1", dmarcTXT("example.com", good+"; sp=none")},
			want:    []want{{"dmarc.inherited", finding.Info, ""}, {"dmarc.policy-none", finding.Warn, "_dmarc.example.com"}},
		},
		{
			name:    "inherited from two levels up",
			domain:  "a.b.example.com",
			records: []string{"a.b.example.com. A 192.0.2.1", dmarcTXT("example.com", good)},
			want:    []want{{"dmarc.inherited", finding.Info, ""}},
		},
		{
			name:    "psd=y at the TLD",
			records: []string{"example.com. A 192.0.2.1", dmarcTXT("com", "v=DMARC1; p=reject; psd=y; rua=mailto:d@psd.com")},
			fail:    func(f *resolvertest.Fake) { f.Add("com._report._dmarc.psd.com. TXT \"v=DMARC1\"") },
			want:    []want{{"dmarc.inherited", finding.Info, ""}},
		},
		{
			name:    "own record lookup fails",
			records: []string{dmarcTXT("example.com", good)},
			fail:    func(f *resolvertest.Fake) { f.Fail("_dmarc.example.com", dns.TypeTXT, resolver.ServFail) },
			want:    []want{{"dns.lookup-failed", finding.Error, "_dmarc.example.com TXT"}},
			notWant: []string{"dmarc.missing", "dmarc.ok"},
		},
		{
			name:    "own record outside the zones",
			records: []string{dmarcTXT("example.com", good)},
			fail:    func(f *resolvertest.Fake) { f.Fail("_dmarc.example.com", dns.TypeTXT, resolver.OutOfZone) },
			want:    []want{{"dns.not-checked", finding.Info, "_dmarc.example.com TXT"}},
			notWant: []string{"dmarc.missing", "dmarc.ok"},
		},
		{
			name:    "parent lookup fails: inheritance unknown, not missing",
			domain:  "shop.example.com",
			records: []string{"shop.example.com. A 192.0.2.1"},
			fail:    func(f *resolvertest.Fake) { f.Fail("_dmarc.example.com", dns.TypeTXT, resolver.Timeout) },
			want:    []want{{"dns.lookup-failed", finding.Error, "_dmarc.example.com TXT"}},
			notWant: []string{"dmarc.missing", "dmarc.inherited"},
		},
		{
			name:    "public suffix outside the zones does not hide a missing record",
			records: []string{"example.com. A 192.0.2.1"},
			fail:    func(f *resolvertest.Fake) { f.Fail("_dmarc.com", dns.TypeTXT, resolver.OutOfZone) },
			want:    []want{{"dmarc.missing", finding.Fail, ""}},
		},
		{
			name:    "public suffix outside the zones beside a healthy record",
			records: []string{dmarcTXT("example.com", good)},
			fail:    func(f *resolvertest.Fake) { f.Fail("_dmarc.com", dns.TypeTXT, resolver.OutOfZone) },
			want:    []want{{"dmarc.ok", finding.Pass, ""}},
			notWant: []string{"dns.not-checked"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := resolvertest.New(tt.records...)
			if tt.fail != nil {
				tt.fail(r)
			}
			domain := tt.domain
			if domain == "" {
				domain = "example.com"
			}
			res := runOn(checkDMARC, r, domain)
			assertFindings(t, res.Findings, tt.want...)
			assertNoFindings(t, res.Findings, tt.notWant...)
		})
	}
}

func TestDMARCOrgDomain(t *testing.T) {
	tests := []struct {
		name    string
		domain  string
		records []string
		want    string
	}{
		{"record at the domain only", "example.com", []string{dmarcTXT("example.com", "v=DMARC1; p=reject")}, "example.com"},
		{"shortest name with a record", "a.b.example.com", []string{
			dmarcTXT("a.b.example.com", "v=DMARC1; p=reject"), dmarcTXT("example.com", "v=DMARC1; p=reject")}, "example.com"},
		{"psd=n stops the walk", "a.b.example.com", []string{
			dmarcTXT("b.example.com", "v=DMARC1; p=reject; psd=n"), dmarcTXT("example.com", "v=DMARC1; p=reject")}, "b.example.com"},
		{"psd=y: one label below", "a.b.example.com", []string{dmarcTXT("example.com", "v=DMARC1; p=reject; psd=y")}, "b.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := resolvertest.New(tt.records...)
			if got := facts.DiscoverDMARC(t.Context(), r, tt.domain).OrgDomain; got != tt.want {
				t.Errorf("org domain = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDMARCPSDNoMakesParentExternal(t *testing.T) {
	// With psd=n at b.example.com, example.com is another organization:
	// a report address there needs its authorization.
	r := resolvertest.New(dmarcTXT("b.example.com", "v=DMARC1; p=reject; psd=n; rua=mailto:d@example.com"))
	res := runOn(checkDMARC, r, "b.example.com")
	assertFindings(t, res.Findings, want{"dmarc.rua-unauthorized", finding.Warn, ""})
	r.Add("b.example.com._report._dmarc.example.com. TXT \"v=DMARC1; rua=mailto:x@example.com\"")
	res = runOn(checkDMARC, r, "b.example.com")
	assertFindings(t, res.Findings, want{"dmarc.ok", finding.Pass, ""})
}

func TestDMARCFixes(t *testing.T) {
	r := resolvertest.New(dmarcTXT("example.com", "v=DMARC1; p=none; rua=mailto:d@example.com"))
	f := findingByID(runOn(checkDMARC, r, "example.com").Findings, "dmarc.policy-none")
	if f == nil || !strings.Contains(f.Fix, `"v=DMARC1; p=quarantine; rua=mailto:d@example.com"`) {
		t.Errorf("policy-none fix should be the record with p=quarantine and rua kept: %+v", f)
	}
	f = findingByID(runOn(checkDMARC, resolvertest.New("example.com. A 192.0.2.1"), "example.com").Findings, "dmarc.missing")
	if f == nil || !strings.Contains(f.Fix, "rua=mailto:dmarc-reports@example.com") {
		t.Errorf("missing fix should be a full record with rua: %+v", f)
	}
	r = resolvertest.New(dmarcTXT("example.com", "v=DMARC1; p=reject; sp=none; rua=mailto:d@example.com"))
	f = findingByID(runOn(checkDMARC, r, "example.com").Findings, "dmarc.sp-weaker")
	if f == nil || !strings.Contains(f.Fix, `"v=DMARC1; p=reject; rua=mailto:d@example.com"`) {
		t.Errorf("sp-weaker fix should drop sp: %+v", f)
	}
	r = resolvertest.New(dmarcTXT("example.com", "v=DMARC1; rua=mailto:d@example.com"))
	f = findingByID(runOn(checkDMARC, r, "example.com").Findings, "dmarc.syntax")
	if f == nil || !strings.Contains(f.Fix, `"v=DMARC1; p=quarantine; rua=mailto:d@example.com"`) {
		t.Errorf("a record without p should be given one: %+v", f)
	}
}

func TestDMARCWalkIsOneRoundTrip(t *testing.T) {
	// Every _dmarc name of the walk is held until all four are in flight.
	r := resolvertest.New("a.b.example.com. A 192.0.2.1", dmarcTXT("example.com", "v=DMARC1; p=reject; rua=mailto:d@example.com"))
	g := newBarrier(r, dns.TypeTXT, 4)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	res := checkDMARC(ctx, &Env{Resolver: g}, "a.b.example.com")
	assertFindings(t, res.Findings, want{"dmarc.inherited", finding.Info, ""}, want{"dmarc.ok", finding.Pass, ""})
}

func TestDiscoverDMARC(t *testing.T) {
	r := resolvertest.New(dmarcTXT("example.com", "v=DMARC1; p=reject; sp=quarantine"))
	pol := facts.DiscoverDMARC(t.Context(), r, "shop.example.com")
	if err := pol.Err(); err != nil {
		t.Fatal(err)
	}
	if pol.PolicyDomain() != "example.com" || pol.Applied() != dmarc.Quarantine || pol.OrgDomain != "example.com" {
		t.Errorf("policy = %+v, applied %q", pol, pol.Applied())
	}
	pol = facts.DiscoverDMARC(t.Context(), r, "example.com")
	if pol.Err() != nil || pol.Applied() != dmarc.Reject {
		t.Errorf("own policy: %+v, %v", pol, pol.Err())
	}
	r.Fail("_dmarc.example.com", dns.TypeTXT, resolver.Timeout)
	if err := facts.DiscoverDMARC(t.Context(), r, "shop.example.com").Err(); err == nil {
		t.Error("a failed lookup on the walk must be an error, not an absent policy")
	}
}
