package cli

import (
	"context"
	"hash/fnv"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/progress"
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
	// progress line (progress.FromContext: a terminal's status line).
	FailOn    finding.Severity
	FailNever bool
	// reorderWindow bounds how far ahead of the first unwritten target the
	// run may start audits in input order; 0 means the default.
	reorderWindow int
}

// BulkStatus counts what a run has written: for its exit code.
type BulkStatus struct {
	Done, Total int
	// Failing counts reports with a finding at or above --fail-on;
	// Inconclusive those with a check that could not complete.
	Failing, Inconclusive int
	Elapsed               time.Duration
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
	if werr == nil {
		werr = b.Out.Close()
	}
	if werr != nil {
		return 0, werr
	}
	switch {
	case st.Failing > 0:
		return ExitFindings, nil
	case b.FailNever:
		// --fail-on never: nothing found makes the run fail, inconclusive
		// checks included (an interrupted run still exits 130).
		return ExitOK, nil
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
	task := progress.FromContext(ctx).Start(target)
	dctx, cancel := context.WithTimeout(progress.WithTask(ctx, task), b.Timeout)
	rep := b.Audit(dctx, target)
	cancel()
	if interruptedTarget(ctx) {
		// Ctrl-C cut this target short: what completed stands, marked so,
		// without the timeouts the interruption itself caused.
		rep.MarkInterrupted()
	}
	f := finished{index: i, target: target}
	worst, inc := rep.Worst()
	f.failing = !b.FailNever && worst >= b.FailOn && worst > finding.Pass
	f.inconclusive = inc
	task.Finish(f.failing, f.inconclusive)
	f.enc, f.err = b.Out.Encode(rep)
	return f
}
