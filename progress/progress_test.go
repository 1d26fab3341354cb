package progress

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// screen plays what was written to a terminal back as the lines a user
// sees: a carriage return moves to the start of the line, and what follows
// overwrites it.
func screen(s string) []string {
	lines := [][]rune{nil}
	col := 0
	for _, r := range s {
		cur := &lines[len(lines)-1]
		switch r {
		case '\r':
			col = 0
		case '\n':
			lines = append(lines, nil)
			col = 0
		default:
			for len(*cur) <= col {
				*cur = append(*cur, ' ')
			}
			(*cur)[col] = r
			col++
		}
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.TrimRight(string(l), " ")
	}
	return out
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// syncBuffer is a buffer the meter's goroutine and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// still makes a meter that never draws by itself (the delay is an hour):
// the test draws when it wants to look.
func still(w *syncBuffer, clock *fakeClock, opts Options) *Meter {
	opts.Delay = time.Hour
	opts.Now = clock.Now
	return New(w, opts)
}

func (m *Meter) drawNow() {
	m.mu.Lock()
	m.draw()
	m.mu.Unlock()
}

func TestLineNamesTargetStepElapsedAndCounts(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)}
	var out syncBuffer
	m := still(&out, clock, Options{Label: "mailcheck probe", Width: func() int { return 120 }})
	defer m.Stop()

	m.drawNow()
	if got := screen(out.String())[0]; got != "mailcheck probe · 0.0s" {
		t.Errorf("before any target: %q", got)
	}
	m.SetTotal(4)
	slow := m.Start("tarpit.example.com:25")
	clock.Advance(time.Second)
	fast := m.Start("mail.example.com:993")
	fast.Step(finding.T("TLS handshake"))
	slow.Step(finding.T("waiting for the greeting"))
	clock.Advance(1500 * time.Millisecond)
	m.drawNow()
	want := "tarpit.example.com:25 — waiting for the greeting · 1 more running · 2.5s · 0 of 4 done"
	if got := screen(out.String())[0]; got != want {
		t.Errorf("two running:\n got %q\nwant %q", got, want)
	}
	slow.Done()
	slow.Done() // twice: counted once
	m.Start("mx2.example.com:25").Done()
	clock.Advance(1500 * time.Millisecond)
	m.drawNow()
	want = "mail.example.com:993 — TLS handshake · 4.0s · 2 of 4 done · 0.5 per second"
	if got := screen(out.String())[0]; got != want {
		t.Errorf("after two done:\n got %q\nwant %q", got, want)
	}
	m.Stop()
	if got := screen(out.String())[0]; got != "" {
		t.Errorf("Stop must leave the line blank, it shows %q", got)
	}
}

func TestLineInFrench(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	var out syncBuffer
	m := still(&out, clock, Options{Lang: finding.French})
	defer m.Stop()
	m.SetTotal(3)
	m.Start("a.example").Done()
	m.Start("b.example")
	m.Start("c.example")
	clock.Advance(2 * time.Second)
	m.drawNow()
	want := "b.example · encore 1 en cours · 2.0s · terminé : 1 sur 3 · 0.5 par seconde"
	if got := screen(out.String())[0]; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// TestLineNeverWraps: the line is cut to the terminal's width less one
// column; a line that wrapped could not be redrawn in place.
func TestLineNeverWraps(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	var out syncBuffer
	m := still(&out, clock, Options{Width: func() int { return 30 }})
	defer m.Stop()
	m.Start("a-very-long-host-name.mail.example.com:587").Step(finding.T("TLS handshake"))
	m.drawNow()
	got := screen(out.String())[0]
	if n := len([]rune(got)); n != 29 || !strings.HasSuffix(got, "…") {
		t.Errorf("line of %d columns: %q", n, got)
	}
}

// TestShorterLineLeavesNoDebris: a line shorter than the previous one
// blanks the rest of it.
func TestShorterLineLeavesNoDebris(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	var out syncBuffer
	m := still(&out, clock, Options{})
	defer m.Stop()
	task := m.Start("mail.example.com")
	task.Step(finding.T("waiting for the greeting"))
	m.drawNow()
	task.Step(finding.T("EHLO"))
	m.drawNow()
	if got := screen(out.String())[0]; got != "mail.example.com — EHLO · 0.0s" {
		t.Errorf("got %q", got)
	}
}

// TestPassthroughErasesAndRespectsPrompts: what else is written to the
// terminal is never mixed with the status line, and a prompt left without
// its newline is not drawn over until the answer's newline comes.
func TestPassthroughErasesAndRespectsPrompts(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	var out syncBuffer
	m := still(&out, clock, Options{Label: "mailcheck login"})
	defer m.Stop()
	errOut := m.Passthrough(&out)
	m.drawNow()
	fmt.Fprint(errOut, "Password for alice: ")
	m.drawNow()
	if got := screen(out.String()); got[0] != "Password for alice:" {
		t.Errorf("the prompt was drawn over: %q", got)
	}
	fmt.Fprintln(errOut)
	fmt.Fprintln(errOut, "note: something")
	m.drawNow()
	got := screen(out.String())
	want := []string{"Password for alice:", "note: something", "mailcheck login · 0.0s"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("screen:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestQuickRunShowsNothing: a run that ends before the delay writes
// nothing at all.
func TestQuickRunShowsNothing(t *testing.T) {
	var out syncBuffer
	m := New(&out, Options{Delay: time.Hour})
	m.Start("example.com").Done()
	m.Stop()
	m.Stop()
	if out.String() != "" {
		t.Errorf("a quick run wrote %q", out.String())
	}
}

// TestDrawsAfterTheDelay: the meter's own goroutine draws once the delay
// has passed, and keeps the elapsed time moving.
func TestDrawsAfterTheDelay(t *testing.T) {
	var out syncBuffer
	m := New(&out, Options{Label: "mailcheck demo", Delay: time.Millisecond, Interval: time.Millisecond})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "mailcheck demo · ") && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	m.Stop()
	if !strings.Contains(out.String(), "mailcheck demo · ") {
		t.Fatalf("nothing drawn: %q", out.String())
	}
	if got := screen(out.String())[0]; got != "" {
		t.Errorf("after Stop the line shows %q", got)
	}
}

// TestNilIsQuiet: code reports progress without checking for a meter.
func TestNilIsQuiet(t *testing.T) {
	var m *Meter
	m.SetTotal(3)
	task := m.Start("example.com")
	task.Step(finding.T("TLS handshake"))
	task.Done()
	m.Stop()
	var buf bytes.Buffer
	if w := m.Passthrough(&buf); w != &buf {
		t.Error("a nil meter's Passthrough must be the writer itself")
	}
	ctx := WithTask(context.Background(), task)
	Step(ctx, finding.T("TLS handshake"))
	if FromContext(ctx) != nil {
		t.Error("no meter in the context")
	}
}

func TestStepThroughContext(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	var out syncBuffer
	m := still(&out, clock, Options{})
	defer m.Stop()
	ctx := NewContext(context.Background(), m)
	task := FromContext(ctx).Start("example.com")
	Step(WithTask(ctx, task), finding.T("fetching the MTA-STS policy"))
	m.drawNow()
	if got := screen(out.String())[0]; got != "example.com — fetching the MTA-STS policy · 0.0s" {
		t.Errorf("got %q", got)
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0.0s", 4200 * time.Millisecond: "4.2s", 59*time.Second + 940*time.Millisecond: "59.9s",
		time.Minute: "1m00s", 3*time.Minute + 7*time.Second: "3m07s",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestPartHoldingTheRunUpIsNamed: of a host's ports probed at once, the
// line names the one that has been waiting longest; parts do not count as
// targets done.
func TestPartHoldingTheRunUpIsNamed(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	var out syncBuffer
	m := still(&out, clock, Options{Width: func() int { return 120 }})
	defer m.Stop()
	m.SetTotal(2)
	host := m.Start("mail.example.com")
	m.Start("mx2.example.com")
	ctx := WithTask(context.Background(), host)
	tarpit := TaskFromContext(ctx).Sub("mail.example.com:25")
	Step(WithTask(ctx, tarpit), finding.T("waiting for the greeting"))
	clock.Advance(time.Second)
	quick := host.Sub("mail.example.com:993")
	quick.Step(finding.T("TLS handshake"))
	clock.Advance(2 * time.Second)
	m.drawNow()
	want := "mail.example.com:25 — waiting for the greeting · 1 more running · 3.0s · 0 of 2 done"
	if got := screen(out.String())[0]; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	quick.Done()
	tarpit.Done()
	host.Done()
	m.drawNow()
	if got := screen(out.String())[0]; got != "mx2.example.com · 3.0s · 1 of 2 done · 0.3 per second" {
		t.Errorf("after the host: %q", got)
	}
}
