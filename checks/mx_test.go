package checks

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

// want is one finding a unit test expects: ID, severity and, when set, a
// substring of the subject.
type want struct {
	id      string
	sev     finding.Severity
	subject string
}

func (w want) String() string { return fmt.Sprintf("%s/%s %q", w.id, w.sev, w.subject) }

// runOn runs one check against a fake resolver.
func runOn(check func(context.Context, *Env, string) Result, r resolver.Resolver, domain string) Result {
	return check(context.Background(), &Env{Resolver: r}, domain)
}

// assertFindings checks that every wanted finding is present and that no
// other finding at warn or above (or any finding with a catalogue-less ID)
// is: the findings a user acts on are exactly those expected. As in the
// scenario comparison, a finding repeated for several subjects is
// expected once its ID and severity are listed.
func assertFindings(t *testing.T, got []finding.Finding, wants ...want) {
	t.Helper()
	matched := make([]bool, len(got))
	for _, w := range wants {
		found := false
		for i, f := range got {
			if f.ID == w.id && f.Severity == w.sev && strings.Contains(f.Subject, w.subject) {
				matched[i], found = true, true
			}
		}
		if !found {
			t.Errorf("missing %v; got:\n%s", w, listFindings(got))
		}
	}
	for i, f := range got {
		if _, ok := finding.Lookup(f.ID); !ok {
			t.Errorf("finding %s is not in the catalogue", f.ID)
		}
		listed := slices.ContainsFunc(wants, func(w want) bool { return w.id == f.ID && w.sev == f.Severity })
		if !matched[i] && !listed && f.Severity >= finding.Warn {
			t.Errorf("unexpected %s/%s %q: %s", f.ID, f.Severity, f.Subject, f.Title)
		}
	}
}

func listFindings(fs []finding.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  %s/%s %q: %s %q\n", f.ID, f.Severity, f.Subject, f.Title, f.Evidence)
	}
	return b.String()
}

// assertNoFindings fails the test for each of ids that got holds, at any
// severity: what assertFindings lets pass below Warn.
func assertNoFindings(t *testing.T, got []finding.Finding, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if f := findingByID(got, id); f != nil {
			t.Errorf("unexpected %s: %s", id, f.Title)
		}
	}
}

func findingByID(fs []finding.Finding, id string) *finding.Finding {
	i := slices.IndexFunc(fs, func(f finding.Finding) bool { return f.ID == id })
	if i < 0 {
		return nil
	}
	return &fs[i]
}

func TestMX(t *testing.T) {
	tests := []struct {
		name    string
		records []string
		fail    func(*resolvertest.Fake)
		want    []want
		notWant []string // IDs that must not appear at any severity
	}{
		{
			name: "healthy dual-stack",
			records: []string{
				"example.com. MX 10 mx1.example.com.", "example.com. MX 20 mx2.example.com.",
				"mx1.example.com. A 192.0.2.1", "mx1.example.com. AAAA 2001:db8::1", "mx2.example.com. A 192.0.2.2",
			},
			want:    []want{{"mx.ok", finding.Pass, "example.com MX"}},
			notWant: []string{"mx.no-ipv6"},
		},
		{
			name:    "no IPv6 anywhere",
			records: []string{"example.com. MX 10 mx1.example.com.", "mx1.example.com. A 192.0.2.1"},
			want:    []want{{"mx.ok", finding.Pass, ""}, {"mx.no-ipv6", finding.Info, "example.com MX"}},
		},
		{
			name:    "NODATA with address fallback",
			records: []string{"example.com. A 192.0.2.1"},
			want:    []want{{"mx.missing", finding.Warn, "example.com MX"}},
		},
		{
			name:    "NODATA without any address",
			records: []string{"example.com. TXT \"v=spf1 -all\""},
			want:    []want{{"mx.missing", finding.Warn, "example.com MX"}},
		},
		{
			name:    "NXDOMAIN",
			records: []string{"other.com. A 192.0.2.1"},
			want:    []want{{"mx.missing", finding.Fail, "example.com MX"}},
		},
		{
			name:    "null MX",
			records: []string{"example.com. MX 0 ."},
			want:    []want{{"mx.null", finding.Info, "example.com MX"}},
			notWant: []string{"mx.ok", "mx.no-ipv6"},
		},
		{
			name:    "null MX beside a real one",
			records: []string{"example.com. MX 0 .", "example.com. MX 10 mx1.example.com.", "mx1.example.com. A 192.0.2.1"},
			want:    []want{{"mx.null-mixed", finding.Fail, "example.com MX"}},
			notWant: []string{"mx.ok"},
		},
		{
			name:    "CNAME target",
			records: []string{"example.com. MX 10 mail.example.com.", "mail.example.com. CNAME real.example.net.", "real.example.net. A 192.0.2.1"},
			want:    []want{{"mx.cname", finding.Fail, "mail.example.com CNAME"}},
			notWant: []string{"mx.unresolvable"},
		},
		{
			name:    "IP literal target",
			records: []string{"example.com. MX 10 192.0.2.1.", "example.com. MX 20 mx1.example.com.", "mx1.example.com. A 192.0.2.2"},
			want:    []want{{"mx.ip-literal", finding.Fail, "example.com MX"}},
			notWant: []string{"mx.unresolvable"},
		},
		{
			name:    "target without address",
			records: []string{"example.com. MX 10 mx1.example.com.", "example.com. MX 20 mx2.example.com.", "mx2.example.com. A 192.0.2.2"},
			want:    []want{{"mx.unresolvable", finding.Fail, "mx1.example.com"}},
			notWant: []string{"mx.ok"},
		},
		{
			name:    "MX lookup times out",
			records: []string{"example.com. MX 10 mx1.example.com."},
			fail:    func(f *resolvertest.Fake) { f.Fail("example.com", dns.TypeMX, resolver.Timeout) },
			want:    []want{{"dns.lookup-failed", finding.Error, "example.com MX"}},
			notWant: []string{"mx.missing", "mx.ok"},
		},
		{
			name:    "MX outside the given zones",
			records: []string{"example.com. MX 10 mx1.example.com."},
			fail:    func(f *resolvertest.Fake) { f.Fail("example.com", dns.TypeMX, resolver.OutOfZone) },
			want:    []want{{"dns.not-checked", finding.Info, "example.com MX"}},
			notWant: []string{"mx.missing", "mx.ok"},
		},
		{
			name:    "host address lookup fails: not unresolvable",
			records: []string{"example.com. MX 10 mx1.example.com."},
			fail: func(f *resolvertest.Fake) {
				f.Fail("mx1.example.com", dns.TypeA, resolver.ServFail)
				f.Fail("mx1.example.com", dns.TypeAAAA, resolver.ServFail)
			},
			want:    []want{{"dns.lookup-failed", finding.Error, "mx1.example.com A"}, {"dns.lookup-failed", finding.Error, "mx1.example.com AAAA"}},
			notWant: []string{"mx.unresolvable", "mx.ok", "mx.no-ipv6"},
		},
		{
			name:    "AAAA lookup fails: IPv6 unknown, not absent",
			records: []string{"example.com. MX 10 mx1.example.com.", "mx1.example.com. A 192.0.2.1"},
			fail:    func(f *resolvertest.Fake) { f.Fail("mx1.example.com", dns.TypeAAAA, resolver.Timeout) },
			want:    []want{{"dns.lookup-failed", finding.Error, "mx1.example.com AAAA"}},
			notWant: []string{"mx.no-ipv6", "mx.unresolvable"},
		},
		{
			// The address lookups say whether the host is an alias: no
			// CNAME query of its own, so none that could fail.
			name:    "alias seen through the address lookup",
			records: []string{"example.com. MX 10 mx1.example.com.", "mx1.example.com. CNAME real.example.net.", "real.example.net. A 192.0.2.1"},
			fail:    func(f *resolvertest.Fake) { f.Fail("mx1.example.com", dns.TypeCNAME, resolver.Refused) },
			want:    []want{{"mx.cname", finding.Fail, "mx1.example.com CNAME"}},
		},
		{
			name:    "fallback address lookup fails",
			records: []string{"example.com. TXT \"x\""},
			fail:    func(f *resolvertest.Fake) { f.Fail("example.com", dns.TypeA, resolver.Timeout) },
			want:    []want{{"mx.missing", finding.Warn, "example.com MX"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := resolvertest.New(tt.records...)
			if tt.fail != nil {
				tt.fail(r)
			}
			res := runOn(checkMX, r, "example.com")
			assertFindings(t, res.Findings, tt.want...)
			assertNoFindings(t, res.Findings, tt.notWant...)
		})
	}
}

func TestMXMissingSaysWhetherMailFallsBack(t *testing.T) {
	with := runOn(checkMX, resolvertest.New("example.com. A 192.0.2.1"), "example.com")
	without := runOn(checkMX, resolvertest.New("example.com. TXT \"x\""), "example.com")
	fw, fo := findingByID(with.Findings, "mx.missing"), findingByID(without.Findings, "mx.missing")
	if fw == nil || fo == nil {
		t.Fatal("mx.missing not reported")
	}
	if !slices.Contains(fw.Evidence, "192.0.2.1") {
		t.Errorf("fallback address not in evidence: %q", fw.Evidence)
	}
	if fw.Title == fo.Title {
		t.Errorf("with and without a fallback address read the same: %q", fw.Title)
	}
}

func TestMXCNAMEFixNamesTarget(t *testing.T) {
	r := resolvertest.New("example.com. MX 10 mail.example.com.", "mail.example.com. CNAME real.example.net.", "real.example.net. A 192.0.2.1")
	f := findingByID(runOn(checkMX, r, "example.com").Findings, "mx.cname")
	if f == nil || !strings.Contains(f.Fix, "real.example.net") {
		t.Fatalf("mx.cname fix should name the canonical host: %+v", f)
	}
}

func TestMXHostsResolvedConcurrently(t *testing.T) {
	// Twelve hosts, each lookup held until all twelve A queries are in
	// flight: a check that resolves hosts one after another deadlocks
	// here and fails on the context deadline.
	var recs []string
	for i := range 12 {
		recs = append(recs, fmt.Sprintf("example.com. MX 10 mx%d.example.com.", i), fmt.Sprintf("mx%d.example.com. A 192.0.2.%d", i, i+1))
	}
	g := newBarrier(resolvertest.New(recs...), dns.TypeA, 12)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res := checkMX(ctx, &Env{Resolver: g}, "example.com")
	assertFindings(t, res.Findings, want{"mx.ok", finding.Pass, ""})
}

// barrier holds every query of one type until n of them are waiting, then
// releases them all. It proves that lookups run concurrently: done one
// after another, the first never returns.
type barrier struct {
	next    resolver.Resolver
	qtype   uint16
	exempt  string // a name whose queries pass straight through
	mu      sync.Mutex
	waiting int
	n       int
	release chan struct{}
}

func newBarrier(next resolver.Resolver, qtype uint16, n int) *barrier {
	return &barrier{next: next, qtype: qtype, n: n, release: make(chan struct{})}
}

func (b *barrier) Query(ctx context.Context, name string, qtype uint16) (*resolver.Answer, error) {
	if qtype == b.qtype && dns.Fqdn(name) != b.exempt {
		b.mu.Lock()
		b.waiting++
		if b.waiting == b.n {
			close(b.release)
		}
		b.mu.Unlock()
		select {
		case <-b.release:
		case <-ctx.Done():
			return nil, &resolver.Error{Kind: resolver.Timeout, Name: name, Qtype: qtype, Err: ctx.Err()}
		}
	}
	return b.next.Query(ctx, name, qtype)
}
