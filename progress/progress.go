// Package progress shows what a long run is doing on one status line of a
// terminal: the target and step that have been running longest, the time
// elapsed, and, for runs over many targets, how many are done and how fast.
//
// The line is for people watching a terminal, and only for them: the CLI
// makes a Meter only when standard error is a terminal and the output is
// text, so pipes, files and machine formats never see it. It appears after
// a delay (a run that ends within a second shows nothing), redraws itself
// in place with a carriage return and spaces (no escape sequences, so it
// also works where the terminal understands nothing else), and is erased
// before anything else is written to the terminal (see Passthrough).
//
// A nil *Meter and a nil *Task are valid and do nothing, so that code
// reports progress without checking whether anyone is watching:
//
//	m := progress.FromContext(ctx)
//	m.SetTotal(len(domains))
//	for _, d := range domains {
//		task := m.Start(d)
//		ctx := progress.WithTask(ctx, task)
//		progress.Step(ctx, finding.T("looking up MX"))
//		...
//		task.Done()
//	}
//
// and deeper down, for the parts of a target that run concurrently (the
// ports of a host), so that the line names the one holding the run up:
//
//	port := progress.TaskFromContext(ctx).Sub("mail.example.com:25")
//	defer port.Done()
//	ctx = progress.WithTask(ctx, port)
//	progress.Step(ctx, finding.T("waiting for the greeting"))
package progress

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// Options tune a Meter; the zero value works.
type Options struct {
	// Label names the run while no target has started ("mailcheck login").
	Label string
	// Lang is the language of the line.
	Lang finding.Lang
	// Width returns the terminal's width: the line is cut to one column
	// less, so that it never wraps. Nil means 80.
	Width func() int
	// Delay is how long a run goes before the line first shows (default
	// one second): a quick run shows nothing.
	Delay time.Duration
	// Interval is the time between redraws (default 100 ms).
	Interval time.Duration
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// Meter draws the status line of one run. Its methods are safe for
// concurrent use, and do nothing on a nil Meter.
type Meter struct {
	w    io.Writer
	opts Options

	mu      sync.Mutex
	started time.Time
	total   int
	done    int
	running []*Task
	shown   int  // width of the line on the terminal now; 0: none shown
	partial bool // someone else left a line unfinished: do not draw over it
	stopped bool
	quit    chan struct{}
	exited  chan struct{}
}

// Task is one target of a run (a domain, a host:port) between Start and
// Done, or a part of one (Sub). Its methods do nothing on a nil Task.
type Task struct {
	m       *Meter
	target  string
	started time.Time
	step    finding.Text
	sub     bool // a part of a target: shown, not counted
}

// New starts a Meter that draws on w, which should be a terminal. Stop it
// when the run ends.
func New(w io.Writer, opts Options) *Meter {
	if opts.Delay <= 0 {
		opts.Delay = time.Second
	}
	if opts.Interval <= 0 {
		opts.Interval = 100 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Meter{w: w, opts: opts, started: opts.Now(), quit: make(chan struct{}), exited: make(chan struct{})}
	go m.loop()
	return m
}

func (m *Meter) loop() {
	defer close(m.exited)
	select {
	case <-time.After(m.opts.Delay):
	case <-m.quit:
		return
	}
	tick := time.NewTicker(m.opts.Interval)
	defer tick.Stop()
	for {
		m.mu.Lock()
		m.draw()
		m.mu.Unlock()
		select {
		case <-tick.C:
		case <-m.quit:
			return
		}
	}
}

// SetTotal says how many targets the run has, for the "done" count and the
// rate; 0 or 1 shows neither.
func (m *Meter) SetTotal(n int) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.total = n
	m.mu.Unlock()
}

// Start records that work on target began.
func (m *Meter) Start(target string) *Task {
	if m == nil {
		return nil
	}
	t := &Task{m: m, target: target, started: m.opts.Now()}
	m.mu.Lock()
	m.running = append(m.running, t)
	m.mu.Unlock()
	return t
}

// Sub records that work on a part of t began: a port of a host, an MX of a
// domain. The line names the part that has run longest, since that is the
// one holding the run up ("mail.example.com:25 — waiting for the
// greeting"); parts are not counted as targets done.
func (t *Task) Sub(part string) *Task {
	if t == nil {
		return nil
	}
	s := &Task{m: t.m, target: part, started: t.m.opts.Now(), sub: true}
	t.m.mu.Lock()
	t.m.running = append(t.m.running, s)
	t.m.mu.Unlock()
	return s
}

// Step says what the task is doing now ("STARTTLS", "fetching the MTA-STS
// policy").
func (t *Task) Step(step finding.Text) {
	if t == nil {
		return
	}
	t.m.mu.Lock()
	t.step = step
	t.m.mu.Unlock()
}

// Done records that the task is over; calling it again does nothing.
func (t *Task) Done() {
	if t == nil {
		return
	}
	m := t.m
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, r := range m.running {
		if r == t {
			m.running = append(m.running[:i], m.running[i+1:]...)
			if !t.sub {
				m.done++
			}
			return
		}
	}
}

// Stop erases the line and stops drawing; calling it again does nothing.
func (m *Meter) Stop() {
	if m == nil {
		return
	}
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		return
	}
	m.stopped = true
	m.erase()
	m.mu.Unlock()
	close(m.quit)
	<-m.exited
}

// Passthrough returns a writer to the same terminal as the Meter's (its
// standard error, or a standard output on the same terminal): each write
// erases the status line first, and the line is drawn again only once what
// was written ends with a newline, so that a prompt ("Password: ") is never
// drawn over.
func (m *Meter) Passthrough(w io.Writer) io.Writer {
	if m == nil {
		return w
	}
	return passthrough{m: m, w: w}
}

type passthrough struct {
	m *Meter
	w io.Writer
}

func (p passthrough) Write(b []byte) (int, error) {
	p.m.mu.Lock()
	defer p.m.mu.Unlock()
	p.m.erase()
	if len(b) > 0 {
		p.m.partial = b[len(b)-1] != '\n'
	}
	return p.w.Write(b)
}

// erase blanks the line drawn last; m.mu is held.
func (m *Meter) erase() {
	if m.shown == 0 {
		return
	}
	fmt.Fprint(m.w, "\r"+strings.Repeat(" ", m.shown)+"\r")
	m.shown = 0
}

// draw writes the line again; m.mu is held.
func (m *Meter) draw() {
	if m.stopped || m.partial {
		return
	}
	width := 80
	if m.opts.Width != nil {
		if w := m.opts.Width(); w > 0 {
			width = w
		}
	}
	line := ansi.Truncate(m.line(m.opts.Now()), width-1, "…")
	w := ansi.StringWidth(line)
	pad := max(m.shown-w, 0)
	fmt.Fprint(m.w, "\r"+line+strings.Repeat(" ", pad))
	if pad > 0 {
		fmt.Fprint(m.w, "\r"+line)
	}
	m.shown = w
}

// line is the status line at now; m.mu is held. It names the task that
// has run longest, since that is the one a user waits for.
func (m *Meter) line(now time.Time) string {
	lang := m.opts.Lang
	var parts []string
	if len(m.running) == 0 {
		parts = append(parts, m.opts.Label)
	} else {
		// The part running longest if any, else the target running longest.
		var t *Task
		targets := 0
		for _, r := range m.running {
			if !r.sub {
				targets++
			}
			if t == nil || r.sub && !t.sub || r.sub == t.sub && r.started.Before(t.started) {
				t = r
			}
		}
		what := t.target
		if !t.step.IsZero() {
			what += " — " + t.step.In(lang)
		}
		parts = append(parts, what)
		// The other targets: a part shown belongs to one of them.
		if n := targets - 1; n > 0 {
			parts = append(parts, finding.T("%d more running", n).In(lang))
		}
	}
	elapsed := now.Sub(m.started)
	parts = append(parts, Duration(elapsed))
	if m.total > 1 {
		parts = append(parts, finding.T("%d of %d done", m.done, m.total).In(lang))
		if secs := elapsed.Seconds(); secs >= 1 && m.done > 0 {
			parts = append(parts, finding.T("%.1f per second", float64(m.done)/secs).In(lang))
		}
	}
	return strings.Join(parts, " · ")
}

// Duration writes an elapsed time the way the status line shows it: tenths
// of a second under a minute (4.2s), then minutes and seconds (3m07s).
func Duration(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	d = d.Round(time.Second)
	return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
}

type meterKey struct{}
type taskKey struct{}

// NewContext returns ctx carrying m, for the code a command calls.
func NewContext(ctx context.Context, m *Meter) context.Context {
	return context.WithValue(ctx, meterKey{}, m)
}

// FromContext returns the Meter ctx carries, or nil.
func FromContext(ctx context.Context) *Meter {
	m, _ := ctx.Value(meterKey{}).(*Meter)
	return m
}

// WithTask returns ctx carrying t, so that code deeper down can report
// its step with Step without knowing the task.
func WithTask(ctx context.Context, t *Task) context.Context {
	if t == nil {
		return ctx
	}
	return context.WithValue(ctx, taskKey{}, t)
}

// TaskFromContext returns the task ctx carries, or nil.
func TaskFromContext(ctx context.Context) *Task {
	t, _ := ctx.Value(taskKey{}).(*Task)
	return t
}

// Step sets the step of the task ctx carries; without one it does nothing.
func Step(ctx context.Context, step finding.Text) {
	TaskFromContext(ctx).Step(step)
}
