package checks

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

func spfTXT(name, record string) string {
	return fmt.Sprintf("%s. 300 IN TXT %q", name, record)
}

func TestSPF(t *testing.T) {
	mx := []string{"example.com. MX 10 mx.example.com.", "mx.example.com. A 192.0.2.1"}
	tests := []struct {
		name    string
		records []string
		fail    func(*resolvertest.Fake)
		want    []want
		notWant []string
	}{
		{
			name:    "healthy",
			records: append(mx, spfTXT("example.com", "v=spf1 mx include:_spf.example.net -all"), spfTXT("_spf.example.net", "v=spf1 ip4:198.51.100.0/24 ~all")),
			want:    []want{{"spf.ok", finding.Pass, "example.com TXT"}},
		},
		{
			name:    "missing",
			records: append(mx, spfTXT("example.com", "google-site-verification=abc")),
			want:    []want{{"spf.missing", finding.Fail, "example.com TXT"}},
		},
		{
			name:    "v=spf10 is not SPF",
			records: append(mx, spfTXT("example.com", "v=spf10 -all")),
			want:    []want{{"spf.missing", finding.Fail, ""}},
		},
		{
			name:    "multiple",
			records: append(mx, spfTXT("example.com", "v=spf1 mx -all"), spfTXT("example.com", "V=SPF1 a -all")),
			want:    []want{{"spf.multiple", finding.Fail, "example.com TXT"}},
		},
		{
			name:    "syntax",
			records: append(mx, spfTXT("example.com", "v=spf1 mx ip4:192.0.2.300 -all")),
			want:    []want{{"spf.syntax", finding.Fail, "example.com TXT"}},
			notWant: []string{"spf.ok"},
		},
		{
			name:    "duplicate redirect",
			records: append(mx, spfTXT("example.com", "v=spf1 redirect=a.example.net redirect=b.example.net")),
			want:    []want{{"spf.syntax", finding.Fail, ""}},
		},
		{
			name:    "redirect ignored beside all",
			records: append(mx, spfTXT("example.com", "v=spf1 mx redirect=_spf.example.net -all"), spfTXT("_spf.example.net", "v=spf1 -all")),
			want:    []want{{"spf.syntax", finding.Warn, "example.com TXT"}},
		},
		{
			name:    "+all",
			records: append(mx, spfTXT("example.com", "v=spf1 mx +all")),
			want:    []want{{"spf.all-pass", finding.Fail, "example.com TXT"}},
		},
		{
			name:    "bare all",
			records: append(mx, spfTXT("example.com", "v=spf1 all")),
			want:    []want{{"spf.all-pass", finding.Fail, ""}},
		},
		{
			name:    "+all inside an include",
			records: append(mx, spfTXT("example.com", "v=spf1 include:lax.example.net -all"), spfTXT("lax.example.net", "v=spf1 +all")),
			want:    []want{{"spf.all-pass", finding.Fail, "example.com TXT"}},
		},
		{
			name:    "+all behind a neutral include does not pass anyone",
			records: append(mx, spfTXT("example.com", "v=spf1 ?include:lax.example.net -all"), spfTXT("lax.example.net", "v=spf1 +all")),
			want:    []want{{"spf.ok", finding.Pass, ""}},
		},
		{
			name:    "+all in the redirect target",
			records: append(mx, spfTXT("example.com", "v=spf1 mx redirect=_spf.example.net"), spfTXT("_spf.example.net", "v=spf1 +all")),
			want:    []want{{"spf.all-pass", finding.Fail, "example.com TXT"}},
		},
		{
			name:    "?all",
			records: append(mx, spfTXT("example.com", "v=spf1 mx ?all")),
			want:    []want{{"spf.all-neutral", finding.Warn, "example.com TXT"}},
		},
		{
			name:    "no all, no redirect",
			records: append(mx, spfTXT("example.com", "v=spf1 mx")),
			want:    []want{{"spf.all-neutral", finding.Warn, ""}},
		},
		{
			name:    "redirect decides",
			records: append(mx, spfTXT("example.com", "v=spf1 redirect=_spf.example.net"), spfTXT("_spf.example.net", "v=spf1 mx:example.com -all")),
			want:    []want{{"spf.ok", finding.Pass, ""}},
		},
		{
			name:    "ptr",
			records: append(mx, spfTXT("example.com", "v=spf1 ptr -all")),
			want:    []want{{"spf.ptr", finding.Warn, "example.com TXT"}},
		},
		{
			name:    "include without SPF",
			records: append(mx, spfTXT("example.com", "v=spf1 include:_spf.example.net -all"), spfTXT("_spf.example.net", "not spf")),
			want:    []want{{"spf.include-missing", finding.Fail, "_spf.example.net"}},
		},
		{
			name:    "include NXDOMAIN",
			records: append(mx, spfTXT("example.com", "v=spf1 include:gone.example.net -all")),
			want:    []want{{"spf.include-missing", finding.Fail, "gone.example.net"}},
		},
		{
			name:    "redirect without SPF",
			records: append(mx, spfTXT("example.com", "v=spf1 redirect=gone.example.net")),
			want:    []want{{"spf.include-missing", finding.Fail, "gone.example.net"}},
		},
		{
			name: "loop",
			records: append(mx, spfTXT("example.com", "v=spf1 include:a.example.net -all"),
				spfTXT("a.example.net", "v=spf1 include:b.example.net -all"), spfTXT("b.example.net", "v=spf1 include:a.example.net -all")),
			want: []want{{"spf.loop", finding.Fail, "a.example.net"}},
		},
		{
			name:    "self include",
			records: append(mx, spfTXT("example.com", "v=spf1 include:example.com -all")),
			want:    []want{{"spf.loop", finding.Fail, "example.com"}},
		},
		{
			name:    "three void lookups",
			records: append(mx, spfTXT("example.com", "v=spf1 a:gone1.example.com mx:gone2.example.com exists:gone3.example.com a:mx.example.com -all")),
			want:    []want{{"spf.void-limit", finding.Fail, "example.com TXT"}},
		},
		{
			// RFC 7208 §4.6.4: two are allowed, but each authorises no one.
			name:    "two void lookups are under the limit and each is named",
			records: append(mx, spfTXT("example.com", "v=spf1 a:gone1.example.com mx:gone2.example.com -all")),
			want:    []want{{"spf.void-lookup", finding.Warn, "example.com TXT"}},
			notWant: []string{"spf.void-limit", "spf.ok"},
		},
		{
			name:    "AAAA-only host is not void",
			records: append(mx, spfTXT("example.com", "v=spf1 a:v6.example.com a:gone1.example.com a:gone2.example.com -all"), "v6.example.com. AAAA 2001:db8::1"),
			want:    []want{{"spf.void-lookup", finding.Warn, "example.com TXT"}},
			notWant: []string{"spf.void-limit"},
		},
		{
			// RFC 7208 §5.1: include:_spf2 is never evaluated nor counted.
			name:    "terms after all",
			records: append(mx, spfTXT("example.com", "v=spf1 mx -all include:_spf2.example.net")),
			want:    []want{{"spf.after-all", finding.Warn, "example.com TXT"}},
			notWant: []string{"spf.ok", "spf.include-missing", "spf.void-lookup"},
		},
		{
			// RFC 7208 §6: modifiers are not mechanisms; nothing is ignored.
			name:    "modifiers after all",
			records: append(mx, spfTXT("example.com", "v=spf1 mx -all ra=postmaster exp=explain.example.com")),
			want:    []want{{"spf.ok", finding.Pass, "example.com TXT"}},
			notWant: []string{"spf.after-all"},
		},
		{
			// RFC 7208 §6.1: after the redirect, mx is the target's MX.
			name: "redirect leaves the domain's MX out",
			records: append(mx, spfTXT("example.com", "v=spf1 redirect=provider.example.net"),
				spfTXT("provider.example.net", "v=spf1 mx -all"), "provider.example.net. MX 10 out.provider.example.net.",
				"out.provider.example.net. A 198.51.100.5"),
			want: []want{{"spf.mx-not-authorized", finding.Info, "example.com TXT"}, {"spf.ok", finding.Pass, ""}},
		},
		{
			name: "redirect that lists the domain's MX",
			records: append(mx, spfTXT("example.com", "v=spf1 redirect=provider.example.net"),
				spfTXT("provider.example.net", "v=spf1 mx:example.com ~all")),
			want:    []want{{"spf.ok", finding.Pass, "example.com TXT"}},
			notWant: []string{"spf.mx-not-authorized"},
		},
		{
			name:    "macros counted, not resolved",
			records: append(mx, spfTXT("example.com", "v=spf1 exists:%{i}._spf.%{d} include:%{d2}.example.net -all")),
			want:    []want{{"spf.ok", finding.Pass, ""}},
		},
		{
			name:    "root TXT times out",
			records: mx,
			fail:    func(f *resolvertest.Fake) { f.Fail("example.com", dns.TypeTXT, resolver.Timeout) },
			want:    []want{{"dns.lookup-failed", finding.Error, "example.com TXT"}},
			notWant: []string{"spf.missing", "spf.ok"},
		},
		{
			name:    "root TXT outside the zones",
			records: mx,
			fail:    func(f *resolvertest.Fake) { f.Fail("example.com", dns.TypeTXT, resolver.OutOfZone) },
			want:    []want{{"dns.not-checked", finding.Info, "example.com TXT"}},
			notWant: []string{"spf.missing", "spf.ok"},
		},
		{
			name:    "include SERVFAIL is inconclusive, not missing",
			records: append(mx, spfTXT("example.com", "v=spf1 include:_spf.example.net -all")),
			fail:    func(f *resolvertest.Fake) { f.Fail("_spf.example.net", dns.TypeTXT, resolver.ServFail) },
			want:    []want{{"dns.lookup-failed", finding.Error, "_spf.example.net TXT"}},
			notWant: []string{"spf.include-missing", "spf.ok"},
		},
		{
			name:    "include outside the zones is not checked",
			records: append(mx, spfTXT("example.com", "v=spf1 include:_spf.example.net -all")),
			fail:    func(f *resolvertest.Fake) { f.Fail("_spf.example.net", dns.TypeTXT, resolver.OutOfZone) },
			want:    []want{{"dns.not-checked", finding.Info, "_spf.example.net TXT"}, {"spf.ok", finding.Pass, ""}},
			notWant: []string{"spf.include-missing"},
		},
		{
			name:    "void probe fails: inconclusive, not void",
			records: append(mx, spfTXT("example.com", "v=spf1 a:x1.example.com a:x2.example.com a:x3.example.com -all")),
			fail: func(f *resolvertest.Fake) {
				for _, h := range []string{"x1", "x2", "x3"} {
					f.Fail(h+".example.com", dns.TypeA, resolver.Timeout)
					f.Fail(h+".example.com", dns.TypeAAAA, resolver.Timeout)
				}
			},
			want:    []want{{"dns.lookup-failed", finding.Error, "x1.example.com"}},
			notWant: []string{"spf.void-limit"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := resolvertest.New(tt.records...)
			if tt.fail != nil {
				tt.fail(r)
			}
			res := runOn(checkSPF, r, "example.com")
			assertFindings(t, res.Findings, tt.want...)
			assertNoFindings(t, res.Findings, tt.notWant...)
		})
	}
}

// spfLookupChain builds an include tree: example.com includes n providers,
// each of which has `inner` a mechanisms.
func spfLookupChain(n, inner int) []string {
	recs := []string{"example.com. MX 10 mx.example.com.", "mx.example.com. A 192.0.2.1"}
	root := "v=spf1"
	for i := range n {
		p := fmt.Sprintf("p%d.example.net", i)
		root += " include:" + p
		rec := "v=spf1"
		for j := range inner {
			h := fmt.Sprintf("h%d.%s", j, p)
			rec += " a:" + h
			recs = append(recs, h+". A 198.51.100.1")
		}
		recs = append(recs, spfTXT(p, rec+" -all"))
	}
	return append(recs, spfTXT("example.com", root+" -all"))
}

func TestSPFLookupLimit(t *testing.T) {
	tests := []struct {
		n, inner  int
		wantCount int
		wantFail  bool
	}{
		{n: 2, inner: 4, wantCount: 10, wantFail: false}, // exactly 10 is allowed
		{n: 3, inner: 3, wantCount: 12, wantFail: true},
		{n: 11, inner: 0, wantCount: 11, wantFail: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d includes of %d", tt.n, tt.inner), func(t *testing.T) {
			r := resolvertest.New(spfLookupChain(tt.n, tt.inner)...)
			tree := facts.GatherSPF(context.Background(), r, "example.com")
			n, exact := tree.LookupCount()
			if n != tt.wantCount || !exact {
				t.Errorf("LookupCount = %d, %v; want %d, exact", n, exact, tt.wantCount)
			}
			res := runOn(checkSPF, r, "example.com")
			if tt.wantFail {
				assertFindings(t, res.Findings, want{"spf.lookup-limit", finding.Fail, "example.com TXT"})
				f := findingByID(res.Findings, "spf.lookup-limit")
				if !strings.Contains(f.Title, fmt.Sprint(tt.wantCount)) {
					t.Errorf("title does not give the count: %q", f.Title)
				}
				if tt.inner > 0 && !strings.Contains(f.Fix, "include:p0.example.net") {
					t.Errorf("fix does not name the includes to flatten: %q", f.Fix)
				}
			} else {
				assertFindings(t, res.Findings, want{"spf.ok", finding.Pass, ""})
			}
		})
	}
}

func TestSPFCountsEveryQueryingTerm(t *testing.T) {
	// RFC 7208 §4.6.4: include, a, mx, ptr, exists and redirect count;
	// all, ip4, ip6 and exp do not. The ignored redirect (all present)
	// is never evaluated.
	r := resolvertest.New(
		spfTXT("example.com", "v=spf1 a mx ptr exists:x.example.com ip4:192.0.2.1 ip6:2001:db8::1 include:i.example.net exp=e.example.com ~all"),
		spfTXT("i.example.net", "v=spf1 redirect=j.example.net"),
		spfTXT("j.example.net", "v=spf1 -all"),
		"example.com. A 192.0.2.1", "example.com. MX 10 example.com.", "x.example.com. A 127.0.0.2",
	)
	n, exact := facts.GatherSPF(context.Background(), r, "example.com").LookupCount()
	if n != 6 || !exact {
		t.Errorf("LookupCount = %d, %v; want 6 (a mx ptr exists include redirect), exact", n, exact)
	}
	r2 := resolvertest.New(spfTXT("example.com", "v=spf1 redirect=x.example.net -all"))
	if n, _ := facts.GatherSPF(context.Background(), r2, "example.com").LookupCount(); n != 0 {
		t.Errorf("an ignored redirect counted: %d", n)
	}
}

func TestSPFMacroCountIsLowerBound(t *testing.T) {
	r := resolvertest.New(spfTXT("example.com", "v=spf1 include:%{d2}.example.net -all"))
	tree := facts.GatherSPF(context.Background(), r, "example.com")
	if n, exact := tree.LookupCount(); n != 1 || exact {
		t.Errorf("LookupCount = %d, %v; want 1, not exact", n, exact)
	}
	res := runOn(checkSPF, r, "example.com")
	if !strings.Contains(strings.Join(res.Detail, "\n"), "macro") {
		t.Errorf("Detail does not say the macro target was not resolved: %q", res.Detail)
	}
}

func TestSPFMXNameLimit(t *testing.T) {
	recs := []string{spfTXT("example.com", "v=spf1 mx -all")}
	for i := range 11 {
		recs = append(recs, fmt.Sprintf("example.com. MX %d mx%d.example.com.", i, i), fmt.Sprintf("mx%d.example.com. A 192.0.2.%d", i, i+1))
	}
	res := runOn(checkSPF, resolvertest.New(recs...), "example.com")
	assertFindings(t, res.Findings, want{"spf.lookup-limit", finding.Warn, "example.com TXT"})
}

func TestSPFFixes(t *testing.T) {
	res := runOn(checkSPF, resolvertest.New(spfTXT("example.com", "v=spf1 mx +all"), "example.com. MX 10 mx.example.com."), "example.com")
	if f := findingByID(res.Findings, "spf.all-pass"); f == nil || !strings.Contains(f.Fix, `"v=spf1 mx -all"`) {
		t.Errorf("all-pass fix should be the corrected record: %+v", f)
	}
	res = runOn(checkSPF, resolvertest.New("example.com. MX 10 mx.example.com.", "mx.example.com. A 192.0.2.1"), "example.com")
	if f := findingByID(res.Findings, "spf.missing"); f == nil || !strings.Contains(f.Fix, `"v=spf1 mx -all"`) {
		t.Errorf("missing fix should suggest a record naming the MX hosts: %+v", f)
	}
	res = runOn(checkSPF, resolvertest.New("example.com. MX 0 ."), "example.com")
	if f := findingByID(res.Findings, "spf.missing"); f == nil || !strings.Contains(f.Fix, `"v=spf1 -all"`) {
		t.Errorf("a domain without mail should be told v=spf1 -all: %+v", f)
	}
}

func TestSPFDetailTree(t *testing.T) {
	r := resolvertest.New(
		spfTXT("example.com", "v=spf1 include:_spf.example.net ~all"),
		spfTXT("_spf.example.net", "v=spf1 include:a.example.net include:b.example.net ~all"),
		spfTXT("a.example.net", "v=spf1 ip4:192.0.2.0/24 -all"),
		spfTXT("b.example.net", "v=spf1 a:h.example.net -all"),
		"h.example.net. A 192.0.2.1",
	)
	res := runOn(checkSPF, r, "example.com")
	want := []string{
		"example.com: v=spf1 include:_spf.example.net ~all (4 lookups)",
		"  include:_spf.example.net → _spf.example.net: v=spf1 include:a.example.net include:b.example.net ~all (3 lookups)",
		"    include:a.example.net → a.example.net: v=spf1 ip4:192.0.2.0/24 -all (0 lookups)",
		"    include:b.example.net → b.example.net: v=spf1 a:h.example.net -all (1 lookup)",
	}
	if strings.Join(res.Detail, "\n") != strings.Join(want, "\n") {
		t.Errorf("Detail =\n%s\nwant\n%s", strings.Join(res.Detail, "\n"), strings.Join(want, "\n"))
	}
}

func TestSPFSiblingsConcurrent(t *testing.T) {
	// Eight sibling includes whose TXT lookups are held until all eight
	// are in flight: a walk that fetches them one by one times out.
	recs := []string{}
	root := "v=spf1"
	for i := range 8 {
		root += fmt.Sprintf(" include:p%d.example.net", i)
		recs = append(recs, spfTXT(fmt.Sprintf("p%d.example.net", i), "v=spf1 -all"))
	}
	recs = append(recs, spfTXT("example.com", root+" -all"))
	g := newBarrier(resolvertest.New(recs...), dns.TypeTXT, 8)
	g.exempt = "example.com."
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res := checkSPF(ctx, &Env{Resolver: g}, "example.com")
	assertFindings(t, res.Findings, want{"spf.ok", finding.Pass, ""})
}
