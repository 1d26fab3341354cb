package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/mailcheck-cli/mailcheck/pki"
)

// commandTimeout bounds every external command a test runs, so that a
// server that stops answering fails the test instead of hanging it.
const commandTimeout = 20 * time.Second

// mailcheckBin is the mailcheck binary TestMain builds once for every test.
var mailcheckBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "mailcheck-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	mailcheckBin = filepath.Join(dir, "mailcheck")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", mailcheckBin, "./cmd/mailcheck")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "integration: go build ./cmd/mailcheck: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// prerequisite reports that something a test needs is missing. On a
// developer's machine the test is skipped with the reason; under CI=true
// it fails, because CI installs everything and a skip there would hide a
// broken install step behind a green run.
func prerequisite(t testing.TB, format string, args ...any) {
	t.Helper()
	reason := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and a prerequisite is missing: %s (.ci/run should have installed it)", reason)
	}
	t.Skipf("skipped: %s (.ci/run installs it; under CI=true this is a failure)", reason)
}

// sbinDirs are searched after PATH: a non-login root shell, or a user's
// PATH, may leave out where Debian puts daemons.
var sbinDirs = []string{"/usr/sbin", "/sbin", "/usr/lib/postfix/sbin"}

// needTools returns the path of each program, or reports the first missing
// one as a missing prerequisite.
func needTools(t testing.TB, names ...string) map[string]string {
	t.Helper()
	paths := map[string]string{}
	for _, name := range names {
		p, err := exec.LookPath(name)
		if err != nil {
			for _, d := range sbinDirs {
				cand := filepath.Join(d, name)
				if fi, statErr := os.Stat(cand); statErr == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
					p, err = cand, nil
					break
				}
			}
		}
		if err != nil {
			prerequisite(t, "program %q is not installed", name)
		}
		paths[name] = p
	}
	return paths
}

// needRoot reports a missing prerequisite unless the test runs as root:
// Postfix and Dovecot switch to their own users and must start as root.
func needRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		prerequisite(t, "%s needs root", why)
	}
}

// result is what one external command did.
type result struct {
	Stdout, Stderr string
	Code           int // exit code; -1 if it did not exit normally
	Elapsed        time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("exit %d after %v\n--- stdout\n%s\n--- stderr\n%s", r.Code, r.Elapsed.Round(time.Millisecond), r.Stdout, r.Stderr)
}

// runOpts tweak run.
type runOpts struct {
	Env   []string // added to the environment
	Stdin string
}

// run runs a command under commandTimeout and returns what it did. Only a
// failure to start it, or the timeout, fails the test: the exit code is
// the caller's to judge.
func run(t testing.TB, opts runOpts, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), opts.Env...)
	cmd.Stdin = strings.NewReader(opts.Stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	err := cmd.Run()
	r := result{Stdout: stdout.String(), Stderr: stderr.String(), Code: cmd.ProcessState.ExitCode(), Elapsed: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("%s %s: no result within %v\n%s", name, strings.Join(args, " "), commandTimeout, r)
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

// freePorts returns n TCP ports on addr that were free a moment ago. The
// daemon started on them may still lose a race for one; the start helpers
// retry with new ports when it does.
func freePorts(t testing.TB, addr string, n int) []int {
	t.Helper()
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var ports []int
	for len(ports) < n {
		ln, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
		if err != nil {
			t.Fatalf("finding a free port on %s: %v", addr, err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// writeTemplate renders testdata/NAME with data into dst.
func writeTemplate(t testing.TB, name, dst string, data any) {
	t.Helper()
	tmpl, err := template.New(filepath.Base(name)).Option("missingkey=error").ParseFiles(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		t.Fatalf("rendering testdata/%s: %v", name, err)
	}
	if err := os.WriteFile(dst, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// openDir makes dir and its parents up to the filesystem root traversable
// by everyone: Postfix and Dovecot drop root for their own users, which
// must still reach the configuration, queue and socket directories inside
// the test's temporary directory (created 0700).
func openDir(t testing.TB, dir string) {
	t.Helper()
	for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o011 != 0o011 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o011); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// testPKI is a certificate hierarchy generated for one test and written to
// files a real server can load.
type testPKI struct {
	CAFile    string // the root, PEM: what --ca and clients are given
	CertFile  string // the leaf followed by the intermediate, PEM
	KeyFile   string // the leaf's key, PKCS #8 PEM, mode 0600
	Authority *pki.Authority
}

// newTestPKI issues a leaf for names from a fresh root and intermediate
// and writes it into dir.
func newTestPKI(t testing.TB, dir string, names ...string) testPKI {
	t.Helper()
	root, err := pki.NewRoot("mailcheck integration test root CA")
	if err != nil {
		t.Fatal(err)
	}
	inter, err := root.NewIntermediate("mailcheck integration test intermediate CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := inter.Issue(pki.LeafOptions{Names: names})
	if err != nil {
		t.Fatal(err)
	}
	var chain bytes.Buffer
	for _, der := range leaf.Certificate {
		pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(leaf.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	p := testPKI{
		CAFile:    filepath.Join(dir, "ca.pem"),
		CertFile:  filepath.Join(dir, "cert.pem"),
		KeyFile:   filepath.Join(dir, "key.pem"),
		Authority: inter,
	}
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{p.CAFile, root.PEM(), 0o644},
		{p.CertFile, chain.Bytes(), 0o644},
		{p.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600},
	} {
		if err := os.WriteFile(f.path, f.data, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// daemon is a server process started by a test, in its own process group.
type daemon struct {
	name    string
	cmd     *exec.Cmd
	logs    []string // files worth showing when the daemon misbehaves
	exited  chan struct{}
	waitErr error
}

// startDaemon starts a long-running server in its own process group, with
// its output in dir/NAME.out. t.Cleanup stops the whole group: SIGTERM,
// then SIGKILL if it has not exited within 5 s.
func startDaemon(t testing.TB, dir, name string, logs []string, argv ...string) *daemon {
	t.Helper()
	out, err := os.Create(filepath.Join(dir, name+".out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	// Pdeathsig: a test binary killed by `go test -timeout` takes the
	// daemon with it instead of leaving it holding ports.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	d := &daemon{name: name, cmd: cmd, logs: append([]string{out.Name()}, logs...), exited: make(chan struct{})}
	go func() {
		d.waitErr = cmd.Wait()
		out.Close()
		close(d.exited)
	}()
	t.Cleanup(func() { d.stop(t) })
	return d
}

// stop ends the daemon's process group and waits for its leader.
func (d *daemon) stop(t testing.TB) {
	pgid := d.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(5 * time.Second):
		t.Logf("%s did not stop within 5s of SIGTERM; killing it", d.name)
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-d.exited
	}
	// Children that outlived their master (they run as other users, in
	// the same group) are not left behind either.
	syscall.Kill(-pgid, syscall.SIGKILL)
}

// running reports whether the daemon has not exited.
func (d *daemon) running() bool {
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// logTail returns the end of the daemon's output and log files, for
// failure messages.
func (d *daemon) logTail() string {
	var b strings.Builder
	for _, f := range d.logs {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if len(data) > 4000 {
			data = data[len(data)-4000:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", f, data)
	}
	return b.String()
}

// waitFor polls ready until it returns nil, the daemon exits, or the
// deadline passes. It returns the last error.
func (d *daemon) waitFor(timeout time.Duration, ready func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		if !d.running() {
			return fmt.Errorf("%s exited (%v) before it was ready: %w", d.name, d.waitErr, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v: %w", d.name, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startWithRetries starts a daemon on ports that were free a moment ago
// (see freePorts), trying up to three times: start(attempt) writes the
// configuration for fresh ports, starts the daemon and returns it with the
// result of waiting for it. A daemon that is not ready is stopped; when its
// logs say a port was "in use", it lost the race for one and the next
// attempt takes new ports, and any other failure ends the test at once.
func startWithRetries(t testing.TB, name string, start func(attempt int) (*daemon, error)) {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		d, err := start(attempt)
		if err == nil {
			return
		}
		lastErr = err
		t.Logf("%s, attempt %d: %v\n%s", name, attempt+1, err, d.logTail())
		d.stop(t)
		if !strings.Contains(d.logTail(), "in use") {
			break
		}
	}
	t.Fatalf("%s did not start: %v", name, lastErr)
}

// greeting connects to addr and returns the server's first line.
func greeting(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimRight(line, "\r\n"), err
}

// report is the part of mailcheck's JSON output (schema mailcheck/v1) the
// tests assert on.
type report struct {
	Schema   string    `json:"schema"`
	Target   string    `json:"target"`
	Findings []finding `json:"findings"`
	Probes   []probe   `json:"probes"`
}

type finding struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	Subject  string `json:"subject"`
	Title    string `json:"title"`
}

type probe struct {
	Host          string   `json:"host"`
	Addr          string   `json:"addr"`
	Protocol      string   `json:"protocol"`
	Status        string   `json:"status"`
	Banner        string   `json:"banner"`
	CapsBeforeTLS []string `json:"caps_before_tls"`
	CapsAfterTLS  []string `json:"caps_after_tls"`
	STARTTLS      bool     `json:"starttls"`
	TLS           *struct {
		Version  string `json:"version"`
		Cipher   string `json:"cipher"`
		Verified bool   `json:"verified"`
	} `json:"tls"`
	LegacyTLS []string `json:"legacy_tls"`
	TLSScan   *struct {
		Versions []struct {
			Version string `json:"version"`
			Result  string `json:"result"`
		} `json:"versions"`
		Suites []scanSuite `json:"suites"`
	} `json:"tls_scan"`
	AuthBeforeTLS []string `json:"auth_before_tls"`
	AuthAfterTLS  []string `json:"auth_after_tls"`
}

// scanSuite is one suite of a probe's tls_scan.
type scanSuite struct {
	Version string   `json:"version"`
	Name    string   `json:"name"`
	Weak    []string `json:"weak"`
}

// mailcheck runs the binary TestMain built.
func mailcheck(t testing.TB, args ...string) result {
	t.Helper()
	return run(t, runOpts{}, mailcheckBin, args...)
}

// mailcheckJSON runs mailcheck with --format json, checks that it exited
// with one of the codes wanted, and decodes its one report.
func mailcheckJSON(t testing.TB, wantCodes []int, args ...string) report {
	t.Helper()
	r := mailcheck(t, append(args, "--format", "json")...)
	if !slices.Contains(wantCodes, r.Code) {
		t.Fatalf("mailcheck %s: want exit code in %v\n%s", strings.Join(args, " "), wantCodes, r)
	}
	var rep report
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("mailcheck %s: output is not one JSON report: %v\n%s", strings.Join(args, " "), err, r)
	}
	if rep.Schema != "mailcheck/v1" {
		t.Errorf("schema = %q, want mailcheck/v1", rep.Schema)
	}
	return rep
}

// has reports whether the report holds finding id at severity (any
// severity when severity is "") about subject (any when "").
func (r report) has(id, severity, subject string) bool {
	for _, f := range r.Findings {
		if f.ID == id && (severity == "" || f.Severity == severity) && (subject == "" || f.Subject == subject) {
			return true
		}
	}
	return false
}

// atOrAbove lists the findings at warn, fail or error.
func (r report) atOrAbove() []finding {
	var out []finding
	for _, f := range r.Findings {
		switch f.Severity {
		case "warn", "fail", "error":
			out = append(out, f)
		}
	}
	return out
}

// probeAt returns the probe of the given address ("host:port").
func (r report) probeAt(t testing.TB, addr string) probe {
	t.Helper()
	for _, p := range r.Probes {
		if p.Addr == addr {
			return p
		}
	}
	t.Fatalf("no probe of %s in the report; probes: %+v", addr, r.Probes)
	return probe{}
}

// ids lists the report's findings as "id/severity@subject", sorted, for
// comparing reports and for failure messages.
func (r report) ids() []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.ID+"/"+f.Severity+"@"+f.Subject)
	}
	slices.Sort(out)
	return out
}

// lockedBuffer collects a subprocess's output while tests read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
