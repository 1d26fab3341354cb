package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/fixtures"
	"github.com/mailcheck-cli/mailcheck/report"
	"github.com/mailcheck-cli/mailcheck/resolver"
	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

// lineWriter hands each NDJSON line written to a channel, as a consumer
// reading mailcheck's output would see it.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines chan string
}

func newLineWriter(n int) *lineWriter { return &lineWriter{lines: make(chan string, n)} }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line) // not a whole line yet
			return len(p), nil
		}
		var rep finding.Report
		if err := json.Unmarshal([]byte(line), &rep); err != nil {
			return 0, err
		}
		w.lines <- rep.Target
	}
}

func ndjsonStream(t *testing.T, w *lineWriter, total int) *report.Stream {
	t.Helper()
	s, err := report.NewStream(w, total, report.Options{Format: "ndjson"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func fakeReport(target string) finding.Report {
	return finding.Report{Schema: finding.Schema, Target: target,
		Findings: []finding.Finding{finding.New("mx.ok", target+" MX", finding.Text{})}}
}

func drain(ch chan string) []string {
	var out []string
	for {
		select {
		case s := <-ch:
			out = append(out, s)
		default:
			return out
		}
	}
}

// waitOrFail waits for ch to be closed; a minute without it means the run
// is stuck behind something it should not wait for.
func waitOrFail(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(time.Minute):
		t.Error(what)
	}
}

// In input order (the default), reports come out in the order given even
// when the first domain finishes last.
func TestBulkInputOrderHoldsFinishedReportsForEarlierOnes(t *testing.T) {
	targets := []string{"slow.test", "b.test", "c.test", "d.test"}
	others := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { wg.Wait(); close(others) }()
	w := newLineWriter(len(targets))
	b := &bulkRun{
		Targets: targets, Concurrency: 4, Order: InputOrder, Timeout: time.Minute,
		Out: ndjsonStream(t, w, len(targets)),
		Audit: func(ctx context.Context, target string) finding.Report {
			if target == "slow.test" {
				waitOrFail(t, others, "the other domains never finished")
			} else {
				defer wg.Done()
			}
			return fakeReport(target)
		},
	}
	if _, err := b.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := drain(w.lines); !slices.Equal(got, targets) {
		t.Fatalf("reports in order %v, want the input order %v", got, targets)
	}
}

// With --order completion, a slow domain does not hold back the lines of
// the domains that finished: the slow one is released only once the
// others' lines have been written.
func TestBulkCompletionOrderStreamsFinishedLines(t *testing.T) {
	targets := []string{"slow.test", "b.test", "c.test"}
	w := newLineWriter(len(targets))
	release := make(chan struct{})
	go func() {
		var seen []string
		for len(seen) < 2 {
			seen = append(seen, <-w.lines)
		}
		if slices.Contains(seen, "slow.test") {
			t.Errorf("slow.test was written before it finished")
		}
		close(release)
	}()
	b := &bulkRun{
		Targets: targets, Concurrency: 3, Order: CompletionOrder, Timeout: time.Minute,
		Out: ndjsonStream(t, w, len(targets)),
		Audit: func(ctx context.Context, target string) finding.Report {
			if target == "slow.test" {
				waitOrFail(t, release, "the finished domains' lines were held back behind a slow domain")
			}
			return fakeReport(target)
		},
	}
	if _, err := b.run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Each domain has its own deadline from its start: a domain that uses the
// whole of it leaves the next one its full time (a whole-run deadline
// would have expired before the next one started).
func TestBulkTimeoutIsPerDomain(t *testing.T) {
	const timeout = 200 * time.Millisecond
	var mu sync.Mutex
	var slowEnded time.Time
	w := newLineWriter(2)
	b := &bulkRun{
		Targets: []string{"slow.test", "next.test"}, Concurrency: 1, Order: InputOrder, Timeout: timeout,
		Out: ndjsonStream(t, w, 2),
		Audit: func(ctx context.Context, target string) finding.Report {
			if target == "slow.test" {
				<-ctx.Done() // every lookup of this domain hangs until its deadline
				mu.Lock()
				slowEnded = time.Now()
				mu.Unlock()
				return fakeReport(target)
			}
			mu.Lock()
			defer mu.Unlock()
			dl, ok := ctx.Deadline()
			switch {
			case ctx.Err() != nil:
				t.Errorf("next.test started with its deadline already passed: %v", ctx.Err())
			case !ok || dl.Sub(slowEnded) <= timeout/2:
				t.Errorf("next.test's deadline %v is not its own --timeout from its start (slow.test ended %v)", dl, slowEnded)
			}
			return fakeReport(target)
		},
	}
	if _, err := b.run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// The run keeps no report once its line is written: after each line, the
// reports of every line written before it must be collectable. A run that
// gathered the reports and rendered them at the end fails here.
func TestBulkKeepsNoReportAfterItsLine(t *testing.T) {
	const n = 40
	var targets []string
	for i := range n {
		targets = append(targets, fmt.Sprintf("d%02d.test", i))
	}
	var mu sync.Mutex
	alive := map[string]weak.Pointer[finding.Finding]{}
	w := newLineWriter(n)
	checked := 0
	check := &checkingWriter{w: w, after: func(written []string) {
		runtime.GC()
		runtime.GC()
		mu.Lock()
		defer mu.Unlock()
		// The line just written may still be on its way out; the ones
		// before it must be gone.
		for _, t0 := range written[:len(written)-1] {
			if alive[t0].Value() != nil {
				t.Errorf("the report of %s is still in memory after its line was written", t0)
			}
			checked++
		}
	}}
	b := &bulkRun{
		Targets: targets, Concurrency: 4, Order: InputOrder, Timeout: time.Minute,
		Out: ndjsonStream(t, newLineWriter(0), 0), // replaced below
		Audit: func(ctx context.Context, target string) finding.Report {
			rep := fakeReport(target)
			rep.Detail = []string{strings.Repeat("x", 64<<10)} // a report of some size
			mu.Lock()
			alive[target] = weak.Make(&rep.Findings[0])
			mu.Unlock()
			return rep
		},
	}
	s, err := report.NewStream(check, n, report.Options{Format: "ndjson"})
	if err != nil {
		t.Fatal(err)
	}
	b.Out = s
	if _, err := b.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("no report was checked")
	}
}

// checkingWriter calls after with the targets written so far, after each
// line.
type checkingWriter struct {
	w       *lineWriter
	written []string
	after   func([]string)
}

func (c *checkingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	for _, t := range drain(c.w.lines) {
		c.written = append(c.written, t)
		c.after(c.written)
	}
	return n, err
}

// Every domain falls in exactly one shard, whatever the number of shards,
// and the same one on every run and whatever the list's order.
func TestShardsPartitionTheList(t *testing.T) {
	var domains []string
	for i := range 1000 {
		domains = append(domains, fmt.Sprintf("host%d.example%d.test", i, i%7))
	}
	for n := 1; n <= 7; n++ {
		count := make([]int, n)
		for _, d := range domains {
			in := 0
			for i := range n {
				if (Shard{i, n}).Has(d) {
					in++
					count[i]++
				}
			}
			if in != 1 {
				t.Fatalf("%s is in %d of %d shards", d, in, n)
			}
		}
		for i, c := range count {
			// A hash splits a thousand names near evenly; an empty or
			// lopsided shard means the split is broken.
			if c < 1000/n/2 {
				t.Errorf("shard %d/%d has %d of 1000 domains", i, n, c)
			}
		}
	}
}

// N processes given one list with --shard 0/N ... N-1/N audit every domain
// exactly once between them.
func TestShardFlagSplitsAListAcrossRuns(t *testing.T) {
	sc, _ := fixtures.Load(fixtures.Default)
	data, _ := sc.File("example.test.zone")
	zone := filepath.Join(t.TempDir(), "example.test.zone")
	os.WriteFile(zone, data, 0o600)
	var list []string
	for i := range 12 {
		list = append(list, fmt.Sprintf("h%d.example.test", i))
	}
	file := filepath.Join(t.TempDir(), "list.txt")
	os.WriteFile(file, []byte(strings.Join(list, "\n")+"\n"), 0o600)
	var all []string
	for i := range 3 {
		r := run(t, nil, "domain", "--file", file, "--zone", zone, "--no-probe", "--format", "ndjson",
			"--shard", fmt.Sprintf("%d/3", i), "--fail-on", "never")
		if r.code != ExitOK && r.code != ExitInconclusive {
			t.Fatalf("shard %d/3: exit %d: %s", i, r.code, r.errOut)
		}
		for _, line := range strings.Split(strings.TrimSpace(r.out), "\n") {
			if line != "" {
				all = append(all, decodeReport(t, line).Target)
			}
		}
	}
	slices.Sort(all)
	want := slices.Clone(list)
	slices.Sort(want)
	if !slices.Equal(all, want) {
		t.Fatalf("the three shards audited %v, want each of %v once", all, want)
	}
}

// A domain whose server never answers fails its own report only: the
// others, audited beside it within the same run, complete.
func TestSlowDomainFailsOnlyItsOwnReport(t *testing.T) {
	sc, _ := fixtures.Load(fixtures.Default)
	z, err := resolver.ScenarioZone(sc)
	if err != nil {
		t.Fatal(err)
	}
	addr := resolvertest.StartServer(t, dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if len(r.Question) == 1 && dns.IsSubDomain("slow.test.", strings.ToLower(r.Question[0].Name)) {
			return // never answers
		}
		z.ServeDNS(w, r)
	}), 0)
	r := run(t, nil, "domain", "slow.test", "example.test", "--resolver", addr, "--no-probe", "--dkim-selector", "s2026",
		"--format", "ndjson", "--timeout", "3s", "--fail-on", "never")
	// --fail-on never: exit 0 whatever the reports say (the MTA-STS policy
	// of example.test cannot be fetched here); the reports tell the rest.
	if r.code != ExitOK {
		t.Fatalf("exit %d, want 0 with --fail-on never: %s", r.code, r.errOut)
	}
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 reports, got:\n%s", r.out)
	}
	slow, ok := decodeReport(t, lines[0]), decodeReport(t, lines[1])
	if !hasFinding(slow, "dns.lookup-failed", finding.Error) {
		t.Errorf("slow.test: want dns.lookup-failed, got %v", slow.Findings)
	}
	for _, f := range ok.Findings {
		if f.Severity == finding.Error {
			t.Errorf("example.test is inconclusive because of another domain: %s %s", f.ID, f.Subject)
		}
	}
	if !hasFinding(ok, "mx.ok", finding.Pass) {
		t.Errorf("example.test did not complete: %v", ok.Findings)
	}
}

// A list file may carry comments, on their own lines or after a domain,
// and a bad line is reported with its file and line number.
func TestDomainListComments(t *testing.T) {
	sc, _ := fixtures.Load(fixtures.Default)
	data, _ := sc.File("example.test.zone")
	zone := filepath.Join(t.TempDir(), "example.test.zone")
	os.WriteFile(zone, data, 0o600)
	list := filepath.Join(t.TempDir(), "list.txt")
	os.WriteFile(list, []byte("\ufeff# customers\nexample.test # the main one\r\n  www.example.test\t# web\n"), 0o600)
	r := run(t, nil, "domain", "--file", list, "--zone", zone, "--no-probe", "--format", "ndjson", "--fail-on", "never")
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(r.out), "\n") {
		got = append(got, decodeReport(t, line).Target)
	}
	if !slices.Equal(got, []string{"example.test", "www.example.test"}) {
		t.Fatalf("targets %v; stderr %q", got, r.errOut)
	}
}

// An interrupted run (Ctrl-C) writes what finished, starts nothing more,
// and is inconclusive.
func TestBulkInterruptedRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	w := newLineWriter(100)
	var targets []string
	for i := range 100 {
		targets = append(targets, fmt.Sprintf("d%02d.test", i))
	}
	b := &bulkRun{
		Targets: targets, Concurrency: 2, Order: InputOrder, Timeout: time.Minute,
		Out: ndjsonStream(t, w, len(targets)),
		Audit: func(ctx context.Context, target string) finding.Report {
			if target == "d05.test" {
				cancel()
			}
			return fakeReport(target)
		},
	}
	code, err := b.run(ctx)
	if err != nil || code != ExitInconclusive {
		t.Fatalf("exit %d, %v; want 3", code, err)
	}
	got := drain(w.lines)
	if len(got) < 5 || len(got) > 10 {
		t.Errorf("%d reports written after an interruption at the sixth domain: %v", len(got), got)
	}
}
