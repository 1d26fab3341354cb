package cli

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/report"
)

// defaultConcurrency is how many domains are audited at once unless
// --concurrency says otherwise. A domain audit is a few dependent round
// trips (about five: MX → addresses → PTR → forward, beside SPF, DMARC,
// DKIM ... in parallel), so at 30 ms a round trip one domain takes about
// 150 ms while costing under a millisecond of CPU: 64 domains in flight per
// core keep the run busy rather than waiting. Measured with bench/ on two
// cores: 128 gives the most domains a second; 256 and 512 give fewer, as
// the bursts of queries overflow the server's socket and are sent again.
// At most 256, so that a large machine does not flood one resolver.
func defaultConcurrency() int { return min(64*runtime.GOMAXPROCS(0), 256) }

// Order is the order reports are written in.
type Order int

const (
	// InputOrder writes reports in the order the domains were given: the
	// default, so that two runs over one list give the same output (diff,
	// review, CI logs) and a short list reads as typed. A domain that
	// finishes early waits for those before it, rendered (a few KiB, not
	// its facts), within a window that bounds memory; a slow domain holds
	// the others back at most its --timeout.
	InputOrder Order = iota
	// CompletionOrder writes each report as soon as its domain finishes
	// (--order completion): the most throughput and the first lines
	// soonest when some domains are slow; a consumer that needs an order
	// sorts by target.
	CompletionOrder
)

func parseOrder(s string) (Order, error) {
	switch strings.ToLower(s) {
	case "input":
		return InputOrder, nil
	case "completion":
		return CompletionOrder, nil
	}
	return 0, usageErrorf("unknown --order %q (want input or completion)", s)
}

// Shard is the slice of the input one process audits (--shard I/N): the
// domains whose name hashes to I modulo N. It depends on the name alone —
// not on its place in the list, its case or duplicates — so N processes
// given the same list (even re-sorted) split it without coordination, and
// every domain lands in exactly one shard.
type Shard struct {
	Index, Count int
}

// parseShard reads "I/N": N ≥ 1 shards numbered from 0 (as a Kubernetes
// Indexed Job's completion index) to N-1.
func parseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{0, 1}, nil
	}
	is, ns, ok := strings.Cut(strings.TrimSpace(s), "/")
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil {
		return Shard{}, usageErrorf("bad --shard %q: want I/N, e.g. 0/4 for the first of four shards", s)
	}
	if n < 1 || n > 1<<20 {
		return Shard{}, usageErrorf("bad --shard %q: N must be between 1 and %d", s, 1<<20)
	}
	if i < 0 || i >= n {
		return Shard{}, usageErrorf("bad --shard %q: I must be between 0 and %d (shards are numbered from 0)", s, n-1)
	}
	return Shard{i, n}, nil
}

// Has reports whether the shard audits domain (lower case, validated).
func (s Shard) Has(domain string) bool {
	if s.Count <= 1 {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(domain))
	return h.Sum64()%uint64(s.Count) == uint64(s.Index)
}

// bulkRun is one run of the audit over a list of targets.
type bulkRun struct {
	Targets []string
	// Concurrency is the number of targets audited at once.
	Concurrency int
	Order       Order
	// Timeout bounds each target's audit, from when it starts.
	Timeout time.Duration
	// Audit audits one target within ctx.
	Audit func(ctx context.Context, target string) finding.Report
	// Out receives the reports as they are written.
	Out *report.Stream
	// FailOn decides what counts as a failure for the exit code and the
	// progress line.
	FailOn    finding.Severity
	FailNever bool
	// Progress hears about each target; nil for none.
	Progress BulkProgress
	// reorderWindow bounds how far ahead of the first unwritten target the
	// run may start audits in input order; 0 means the default.
	reorderWindow int
}

// BulkProgress is told how a run over many targets goes, for a progress
// display on standard error. Started is called from the audit workers,
// Finished from the one goroutine that writes reports (after the report is
// written), Close once at the end; an implementation that draws on the
// terminal draws in Finished and Close only, so it never interleaves with
// the reports.
type BulkProgress interface {
	Started(target string)
	Finished(target string, st BulkStatus)
	Close(st BulkStatus)
}

// BulkStatus is the state of a run: what a progress line shows.
type BulkStatus struct {
	Done, Total int
	// Failing counts reports with a finding at or above --fail-on;
	// Inconclusive those with a check that could not complete.
	Failing, Inconclusive int
	Elapsed               time.Duration
}

// Rate is targets done per second so far.
func (s BulkStatus) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Done) / s.Elapsed.Seconds()
}

// ETA is the time left at the rate so far; 0 when unknown.
func (s BulkStatus) ETA() time.Duration {
	r := s.Rate()
	if r <= 0 || s.Done >= s.Total {
		return 0
	}
	return time.Duration(float64(s.Total-s.Done) / r * float64(time.Second))
}

// finished is one audited target, rendered: what the writer needs of it.
type finished struct {
	index        int
	target       string
	enc          report.Encoded
	err          error
	failing      bool
	inconclusive bool
}

// run audits every target and writes each report as it is ready, keeping
// nothing of a target after its report is written. It returns the exit
// code SPEC gives the reports.
func (b *bulkRun) run(ctx context.Context) (int, error) {
	total := len(b.Targets)
	workers := max(1, min(b.Concurrency, total))
	window := workers
	if b.Order == InputOrder {
		window = b.reorderWindow
		if window <= 0 {
			window = max(4*workers, 256)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// A slot is taken for each target started and given back when its
	// report is written: at most window targets are between the two, so
	// the reports waiting for an earlier one are bounded.
	slots := make(chan struct{}, window)
	jobs := make(chan int)
	results := make(chan finished, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				results <- b.auditOne(ctx, i)
			}
		})
	}
	go func() {
		defer close(jobs)
		for i := range b.Targets {
			if ctx.Err() != nil {
				return // interrupted: start nothing more
			}
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(results)
	}()

	start := time.Now()
	st := BulkStatus{Total: total}
	pending := map[int]finished{} // input order: done, waiting for an earlier one
	next := 0
	var werr error
	write := func(f finished) {
		<-slots
		if werr == nil && f.err != nil {
			werr = f.err
		}
		if werr == nil {
			werr = b.Out.Write(f.enc)
		}
		if werr != nil {
			cancel() // nothing more can be written: stop auditing
			return
		}
		st.Done++
		if f.failing {
			st.Failing++
		}
		if f.inconclusive {
			st.Inconclusive++
		}
		st.Elapsed = time.Since(start)
		if b.Progress != nil {
			b.Progress.Finished(f.target, st)
		}
	}
	for f := range results {
		if b.Order == CompletionOrder {
			write(f)
			continue
		}
		pending[f.index] = f
		for {
			g, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			write(g)
		}
	}
	st.Elapsed = time.Since(start)
	if b.Progress != nil {
		b.Progress.Close(st)
	}
	if werr == nil {
		werr = b.Out.Close()
	}
	if werr != nil {
		return 0, werr
	}
	switch {
	case st.Failing > 0:
		return ExitFindings, nil
	case st.Inconclusive > 0, st.Done < total:
		// Interrupted (Ctrl-C) before every domain was audited: what was
		// written stands, and the run is inconclusive.
		return ExitInconclusive, nil
	}
	return ExitOK, nil
}

// auditOne audits target i within its own deadline and renders its
// report; the report itself is dropped here.
func (b *bulkRun) auditOne(ctx context.Context, i int) finished {
	target := b.Targets[i]
	if b.Progress != nil {
		b.Progress.Started(target)
	}
	dctx, cancel := context.WithTimeout(ctx, b.Timeout)
	rep := b.Audit(dctx, target)
	cancel()
	f := finished{index: i, target: target}
	worst, inc := rep.Worst()
	f.failing = !b.FailNever && worst >= b.FailOn && worst > finding.Pass
	f.inconclusive = inc
	f.enc, f.err = b.Out.Encode(rep)
	return f
}

// ttyProgress is a minimal progress line on a terminal's standard error:
// done/total, rate, time left, and how many reports fail or are
// inconclusive. It redraws at most ten times a second, in place, with a
// carriage return; Close erases it. The run loop calls it from the one
// goroutine that writes reports, so drawing needs no lock. The lead's
// terminal progress package can take its place behind BulkProgress.
type ttyProgress struct {
	w    io.Writer
	lang finding.Lang
	now  func() time.Time

	last  time.Time
	shown int // width of the line drawn; 0: none
}

func (p *ttyProgress) Started(string) {}

func (p *ttyProgress) Finished(_ string, st BulkStatus) {
	now := p.now()
	if now.Sub(p.last) < 100*time.Millisecond && st.Done < st.Total {
		return
	}
	p.last = now
	p.draw(progressLine(st).In(p.lang))
}

func (p *ttyProgress) Close(BulkStatus) { p.erase() }

func (p *ttyProgress) draw(line string) {
	n := utf8.RuneCountInString(line)
	fmt.Fprint(p.w, "\r"+line+strings.Repeat(" ", max(p.shown-n, 0)))
	p.shown = max(n, p.shown)
}

func (p *ttyProgress) erase() {
	if p.shown > 0 {
		fmt.Fprint(p.w, "\r"+strings.Repeat(" ", p.shown)+"\r")
		p.shown = 0
	}
}

// sharedTerminal erases the progress line before each write of the
// reports, when they go to the same terminal.
type sharedTerminal struct {
	w io.Writer
	p *ttyProgress
}

func (t sharedTerminal) Write(b []byte) (int, error) {
	t.p.erase()
	return t.w.Write(b)
}

// progressLine is "1234/100000 domains · 512/s · 3m12s left · 2 failing ·
// 1 inconclusive".
func progressLine(st BulkStatus) finding.Text {
	line := finding.T("%d/%d domains · %.0f/s", st.Done, st.Total, st.Rate())
	if eta := st.ETA(); eta > 0 {
		line = line.Append(finding.T(" · %s left", eta.Round(time.Second).String()))
	}
	if st.Failing > 0 {
		line = line.Append(finding.T(" · %d failing", st.Failing))
	}
	if st.Inconclusive > 0 {
		line = line.Append(finding.T(" · %d inconclusive", st.Inconclusive))
	}
	return line
}
