package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/progress"
)

// The causes of a run's cancellation by a signal (context.Cause).
var (
	ErrInterrupted = errors.New("interrupted (Ctrl-C)")
	ErrTerminated  = errors.New("terminated (SIGTERM)")
)

// Exit codes of a run stopped by a signal: 128 + the signal's number, as
// shells report a process the signal killed.
const (
	ExitInterrupted = 130
	ExitTerminated  = 143
)

// interruptedBy reports whether ctx was cancelled by Ctrl-C or SIGTERM.
func interruptedBy(ctx context.Context) bool {
	cause := context.Cause(ctx)
	return errors.Is(cause, ErrInterrupted) || errors.Is(cause, ErrTerminated)
}

// runState is what a run shares with the goroutine that watches signals:
// the status line to erase and the clean-ups to do before a forced exit.
type runState struct {
	mu      sync.Mutex
	meter   *progress.Meter
	cleanup map[int]func()
	next    int
}

// The methods of a nil runState (a command tree executed without Run)
// do nothing.

func (s *runState) setMeter(m *progress.Meter) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.meter = m
	s.mu.Unlock()
}

// stopMeter erases the status line, if one is drawn.
func (s *runState) stopMeter() {
	if s == nil {
		return
	}
	s.mu.Lock()
	m := s.meter
	s.mu.Unlock()
	m.Stop()
}

// atForcedExit registers f to run if a second Ctrl-C ends the process at
// once (deferred calls do not run then); the returned function unregisters
// it. Clean-ups must be quick: removing a file, not a network call.
func (s *runState) atForcedExit(f func()) (remove func()) {
	if s == nil {
		return func() {}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cleanup == nil {
		s.cleanup = map[int]func(){}
	}
	id := s.next
	s.next++
	s.cleanup[id] = f
	return func() {
		s.mu.Lock()
		delete(s.cleanup, id)
		s.mu.Unlock()
	}
}

func (s *runState) runCleanups() {
	s.mu.Lock()
	fs := make([]func(), 0, len(s.cleanup))
	for _, f := range s.cleanup {
		fs = append(fs, f)
	}
	s.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// watchSignals turns the first SIGINT or SIGTERM into a cancellation of the
// run with ErrInterrupted or ErrTerminated as its cause: the command stops
// its checks, prints what completed marked as interrupted, and exits 130
// (143). A second signal ends the process at once, after the registered
// clean-ups. It returns when sigs is closed.
func watchSignals(sigs <-chan os.Signal, cancel context.CancelCauseFunc, state *runState, errOut io.Writer, lang finding.Lang, exit func(int)) {
	first := true
	for sig := range sigs {
		state.stopMeter()
		if first {
			first = false
			if sig == syscall.SIGTERM {
				fmt.Fprintln(errOut, "\nmailcheck: "+finding.T("terminated: stopping").In(lang))
				cancel(ErrTerminated)
			} else {
				fmt.Fprintln(errOut, "\nmailcheck: "+finding.T("interrupted: stopping (press Ctrl-C again to quit at once)").In(lang))
				cancel(ErrInterrupted)
			}
			continue
		}
		state.runCleanups()
		if sig == syscall.SIGTERM {
			exit(ExitTerminated)
		} else {
			exit(ExitInterrupted)
		}
		return
	}
}
