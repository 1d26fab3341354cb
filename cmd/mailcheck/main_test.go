package main

// End-to-end tests of the mailcheck process: what a user sees on a real
// terminal (a pseudo-terminal here) and what real signals do. The test
// binary runs itself as mailcheck when MAILCHECK_TEST_AS_MAIN is set, so
// that nothing needs building.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/mailcheck-cli/mailcheck/fixtures"
	"github.com/mailcheck-cli/mailcheck/refserver"
)

func TestMain(m *testing.M) {
	if os.Getenv("MAILCHECK_TEST_AS_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// mailcheck is the command line of this binary running as mailcheck, with
// a clean environment plus env.
func mailcheck(t *testing.T, env []string, args ...string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append([]string{"MAILCHECK_TEST_AS_MAIN=1", "PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"TMPDIR=" + t.TempDir(), "LANG=C.UTF-8"}, env...)
	return cmd
}

// buffer collects what a process writes, safely for the reading goroutine.
type buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// waitFor polls until cond holds, for at most d.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}

// tarpit serves the tarpit scenario (the greeting on port 25 never comes)
// and returns the flags that probe it.
func tarpit(t *testing.T) []string {
	t.Helper()
	sc, err := fixtures.Load("tarpit")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := refserver.Start(ctx, refserver.Options{Scenario: sc, TarpitDelay: time.Minute})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); srv.Close() })
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, srv.CA().PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--resolver", srv.DNSAddr(), "--ca", ca}
	for std, actual := range srv.PortMap() {
		flags = append(flags, "--port-map", strconv.Itoa(std)+"="+strconv.Itoa(actual))
	}
	return flags
}

// onTerminal starts cmd with its standard output and error on a
// pseudo-terminal of 80 columns; it returns what the terminal receives.
func onTerminal(t *testing.T, cmd *exec.Cmd) *buffer {
	t.Helper()
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	out := &buffer{}
	go io.Copy(out, tty) // ends with EIO when the process exits
	return out
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestProgressAndCtrlCOnATerminal: probing a tarpit on a terminal shows
// what is running and for how long; Ctrl-C stops the run at once, prints
// what completed marked as interrupted, and exits 130.
func TestProgressAndCtrlCOnATerminal(t *testing.T) {
	cmd := mailcheck(t, []string{"TERM=xterm-256color"}, append([]string{"probe", "mail.example.test", "--timeout", "60s"}, tarpit(t)...)...)
	screen := onTerminal(t, cmd)
	progress := func() bool { return strings.Contains(screen.String(), "mail.example.test — probing port 25, 465") }
	if !waitFor(15*time.Second, progress) {
		cmd.Process.Kill()
		t.Fatalf("no progress line on the terminal:\n%q", screen.String())
	}
	// The elapsed time moves on while the tarpit holds the greeting.
	if !waitFor(5*time.Second, func() bool { return strings.Contains(screen.String(), "· 2.") }) {
		t.Errorf("the elapsed time does not move:\n%q", screen.String())
	}
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	code := exitCode(cmd.Wait())
	if took := time.Since(sent); took > 5*time.Second {
		t.Errorf("%s from Ctrl-C to exit", took)
	}
	waitFor(2*time.Second, func() bool { return strings.Contains(screen.String(), "pass,") })
	out := screen.String()
	if code != 130 {
		t.Errorf("exit %d after Ctrl-C, want 130:\n%s", code, out)
	}
	for _, want := range []string{"interrupted: stopping (press Ctrl-C again to quit at once)", "Interrupted: the run was stopped", "\x1b["} {
		if !strings.Contains(out, want) {
			t.Errorf("the terminal lacks %q:\n%q", want, out)
		}
	}
	if strings.Contains(out, "conn.timeout") {
		t.Errorf("Ctrl-C produced a false conn.timeout:\n%s", out)
	}
}

// TestNoProgressOffTheTerminal: with standard error on a pipe, or
// TERM=dumb, or a machine format, nothing but the report is written, and
// TERM=dumb has no colour either.
func TestNoProgressOffTheTerminal(t *testing.T) {
	flags := tarpit(t)
	probe := append([]string{"probe", "mail.example.test:25", "--timeout", "3s"}, flags...)

	// Standard error on a pipe.
	cmd := mailcheck(t, nil, probe...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); exitCode(err) != 3 {
		t.Errorf("exit %v, want 3 (the tarpit is inconclusive)", err)
	}
	if stderr.Len() > 0 {
		t.Errorf("stderr on a pipe got %q", stderr.String())
	}

	for name, args := range map[string][]string{
		"TERM=dumb": probe,
		"json":      append(append([]string{}, probe...), "--format", "json"),
	} {
		env := []string{"TERM=xterm"}
		if name == "TERM=dumb" {
			env = []string{"TERM=dumb"}
		}
		cmd := mailcheck(t, env, args...)
		screen := onTerminal(t, cmd)
		if err := cmd.Wait(); exitCode(err) != 3 {
			t.Errorf("%s: exit %v", name, err)
		}
		waitFor(2*time.Second, func() bool { return strings.Contains(screen.String(), "conn.timeout") })
		out := screen.String()
		if strings.Contains(out, "probing port") {
			t.Errorf("%s: a progress line was drawn:\n%q", name, out)
		}
		if name == "TERM=dumb" && strings.Contains(out, "\x1b[") {
			t.Errorf("TERM=dumb got colour:\n%q", out)
		}
		if !strings.Contains(out, "conn.timeout") {
			t.Errorf("%s: no report on the terminal:\n%q", name, out)
		}
	}
}

// TestServeCleansUpOnSIGTERM: the reference server removes its temporary
// CA file when SIGTERM stops it, and exits 0.
func TestServeCleansUpOnSIGTERM(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		cmd := mailcheck(t, nil, "serve")
		out := &buffer{}
		cmd.Stdout = out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var ca string
		if !waitFor(15*time.Second, func() bool {
			_, rest, ok := strings.Cut(out.String(), "CA certificate: ")
			ca, _, _ = strings.Cut(rest, "\n")
			return ok && strings.Contains(rest, "\n")
		}) {
			cmd.Process.Kill()
			t.Fatalf("serve did not print its CA file:\n%s", out.String())
		}
		if _, err := os.Stat(ca); err != nil {
			t.Fatalf("the CA file %s does not exist while serving: %v", ca, err)
		}
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		if code := exitCode(cmd.Wait()); code != 0 {
			t.Errorf("%v: exit %d, want 0", sig, code)
		}
		if _, err := os.Stat(ca); !os.IsNotExist(err) {
			t.Errorf("%v: %s is still there after serve stopped (%v)", sig, ca, err)
		}
	}
}

// TestSecondCtrlCAtAPasswordPrompt: Ctrl-C at the password prompt (read
// without echo) cancels the run, but the prompt still waits for its line;
// a second Ctrl-C exits at once with 130 and gives the terminal its echo
// back.
func TestSecondCtrlCAtAPasswordPrompt(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	defer tty.Close()
	cmd := mailcheck(t, []string{"TERM=xterm"}, "login", "alice@example.test", "--user", "alice@example.test",
		"--host", "127.0.0.1", "--port", "1", "--protocol", "imaps", "--timeout", "5s")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	screen := &buffer{}
	go io.Copy(screen, ptmx)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !waitFor(15*time.Second, func() bool { return strings.Contains(screen.String(), "Password for alice@example.test: ") }) {
		cmd.Process.Kill()
		t.Fatalf("no password prompt:\n%q", screen.String())
	}
	if echo(t, tty) {
		t.Fatal("the prompt reads the password with echo on")
	}
	cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if code := exitCode(err); code != 130 {
			t.Errorf("exit %d after a second Ctrl-C, want 130", code)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("a second Ctrl-C did not end the process")
	}
	if !echo(t, tty) {
		t.Error("the terminal was left without echo")
	}
}

// echo reports whether the terminal echoes what is typed.
func echo(t *testing.T, tty *os.File) bool {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio.Lflag&unix.ECHO != 0
}
