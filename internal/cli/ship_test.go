package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/fixtures"
	"github.com/mailcheck-cli/mailcheck/refserver"
)

// term runs a command line as if stdout were a terminal of the given width.
func onTerminal(t *testing.T, env map[string]string, width int, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	io := &IOStreams{
		In: strings.NewReader(""), Out: &out, ErrOut: &errOut, OutTTY: true,
		TermWidth: func() int { return width },
		Getenv:    func(k string) string { return env[k] },
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := Run(ctx, io, args)
	return result{code: code, out: out.String(), errOut: errOut.String()}
}

// defaultZones writes the default scenario's zone files and returns the
// --zone flags that load them.
func defaultZones(t *testing.T) []string {
	t.Helper()
	return scenarioZoneFlags(t, fixtures.Default)
}

// TestVersionOneFormat: `version` and `--version` print the same line,
// with the commit and date; -v is not --version.
func TestVersionOneFormat(t *testing.T) {
	saved := [3]string{Version, Commit, Date}
	t.Cleanup(func() { Version, Commit, Date = saved[0], saved[1], saved[2] })
	Version, Commit, Date = "1.2.3", "0123456789abcdef0123456789abcdef01234567", "2026-11-29T16:09:00Z"

	a := run(t, nil, "version")
	b := run(t, nil, "--version")
	want := "mailcheck 1.2.3 (commit 0123456789ab, 2026-11-29T16:09:00Z, "
	if a.code != 0 || b.code != 0 || a.out != b.out || !strings.HasPrefix(a.out, want) {
		t.Fatalf("version %q (exit %d), --version %q (exit %d): want the same line starting %q", a.out, a.code, b.out, b.code, want)
	}
	if r := run(t, nil, "-v"); strings.Contains(r.out, "1.2.3") {
		t.Errorf("-v printed the version: %q", r.out)
	}
	if fr := run(t, nil, "--lang", "fr", "version"); !strings.Contains(fr.out, "(commit 0123456789ab,") {
		t.Errorf("French version line: %q", fr.out)
	}
}

// TestBuildFromBuildInfo: without -ldflags, a `go build` in a clone shows
// the revision and time the toolchain recorded; -ldflags win over them.
func TestBuildFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "fedcba9876543210fedcba9876543210fedcba98"},
			{Key: "vcs.time", Value: "2026-11-28T09:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	got := buildFrom("dev", "", "", bi).Line(finding.English)
	if want := "mailcheck v1.4.0 (commit fedcba987654+dirty, 2026-11-28T09:00:00Z, go1.26.8, "; !strings.HasPrefix(got, want) {
		t.Errorf("from build info: %q, want prefix %q", got, want)
	}
	got = buildFrom("2.0.0", "abc", "2026-12-01T00:00:00Z", bi).Line(finding.English)
	if want := "mailcheck 2.0.0 (commit abc, 2026-12-01T00:00:00Z, go1.26.8, "; !strings.HasPrefix(got, want) {
		t.Errorf("ldflags must win: %q, want prefix %q", got, want)
	}
	got = buildFrom("dev", "", "", nil).Line(finding.English)
	if !strings.HasPrefix(got, "mailcheck dev (commit unknown, date unknown, ") {
		t.Errorf("nothing known: %q", got)
	}
}

// TestVerboseBeforeTheCommand: root -v is --verbose, so `mailcheck -v
// domain x` runs the domain audit verbosely instead of failing.
func TestVerboseBeforeTheCommand(t *testing.T) {
	zones := defaultZones(t)
	r := run(t, nil, append([]string{"-v", "domain", "example.test", "--no-probe", "--format", "json"}, zones...)...)
	if r.code == ExitUsage {
		t.Fatalf("mailcheck -v domain failed as a usage error: %s", r.errOut)
	}
	rep := decodeReport(t, r.out)
	if len(rep.Detail) == 0 {
		t.Errorf("-v before the command did not make the run verbose (no detail lines)")
	}
}

// TestDidYouMean: mistyped commands, IDs and scenarios get one line that
// names what was probably meant; IDs are found in any case.
func TestDidYouMean(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"domian", "example.com"}, `unknown command "domian" for mailcheck; did you mean "domain"?`},
		{[]string{"--lang", "en", "explian", "x"}, `did you mean "explain"?`},
		{[]string{"completion", "bsh"}, `unknown command "bsh" for mailcheck completion; did you mean "bash"`},
		{[]string{"explain", "spf.lookuplimit"}, `unknown finding ID "spf.lookuplimit"; did you mean "spf.lookup-limit"?`},
		{[]string{"demo", "--scenario", "cert-expird"}, `unknown scenario "cert-expird"; did you mean "cert-expired"?`},
		{[]string{"serve", "--scenario", "tarpitt"}, `unknown scenario "tarpitt"; did you mean "tarpit"?`},
		{[]string{"frobnicate"}, `unknown command "frobnicate" for mailcheck (mailcheck --help lists the commands)`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := run(t, nil, tt.args...)
			lines := strings.Split(strings.TrimSpace(r.errOut), "\n")
			if r.code != ExitUsage || len(lines) != 1 || !strings.Contains(lines[0], tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 and one line with %q", r.code, r.errOut, tt.want)
			}
		})
	}
	fr := run(t, map[string]string{"LANG": "fr_FR.UTF-8"}, "domian")
	if !strings.Contains(fr.errOut, `vouliez-vous dire "domain" ?`) {
		t.Errorf("French suggestion: %q", fr.errOut)
	}
	for _, id := range []string{"SPF.LOOKUP-LIMIT", "Spf.Lookup-Limit"} {
		r := run(t, nil, "explain", id)
		if r.code != ExitOK || !strings.HasPrefix(r.out, "spf.lookup-limit (") {
			t.Errorf("explain %s: exit %d, %q", id, r.code, r.out)
		}
		r = run(t, nil, "explain", id, "--format", "json")
		var e finding.Entry
		if err := json.Unmarshal([]byte(r.out), &e); err != nil || e.ID != "spf.lookup-limit" {
			t.Errorf("explain %s --format json: %v %q", id, err, r.out)
		}
	}
}

// TestExplainSaysWhenEachSeverityApplies: dkim.none-found is emitted as
// fail or error, never as the warn explain used to announce.
func TestExplainSaysWhenEachSeverityApplies(t *testing.T) {
	r := run(t, nil, "explain", "dkim.none-found")
	for _, want := range []string{
		"dkim.none-found (fail or error): ",
		"\n  fail: a selector given with --dkim-selector or required by the policy file publishes no key\n",
		"\n  error: no selector was given and no selector tried (the common ones, and in zone mode every one the zone holds) has a key",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("explain lacks %q:\n%s", want, r.out)
		}
	}
	if strings.Contains(r.out, "warn") {
		t.Errorf("explain still mentions warn:\n%s", r.out)
	}
	fr := run(t, nil, "--lang", "fr", "explain", "dkim.none-found")
	if !strings.Contains(fr.out, "(échec ou non concluant)") || !strings.Contains(fr.out, "  échec : un sélecteur donné avec --dkim-selector ou exigé par le fichier de politique ne publie aucune clé") {
		t.Errorf("French explain:\n%s", fr.out)
	}
	j := run(t, nil, "explain", "dkim.none-found", "--format", "json")
	var e finding.Entry
	if err := json.Unmarshal([]byte(j.out), &e); err != nil || len(e.Severities) != 2 {
		t.Errorf("JSON entry lacks the severities: %v\n%s", err, j.out)
	}
}

// TestCompletion: flag values, finding IDs and scenario names complete.
func TestCompletion(t *testing.T) {
	complete := func(args ...string) []string {
		r := run(t, nil, append([]string{"__complete"}, args...)...)
		var out []string
		for _, l := range strings.Split(r.out, "\n") {
			if l == "" || strings.HasPrefix(l, ":") {
				continue
			}
			name, _, _ := strings.Cut(l, "\t")
			out = append(out, name)
		}
		return out
	}
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"domain", "x", "--format", ""}, []string{"text", "json", "ndjson", "sarif", "junit", "markdown"}},
		{[]string{"probe", "x", "--fail-on", ""}, []string{"fail", "warn", "info", "never"}},
		{[]string{"probe", "x", "--protocol", "imap"}, []string{"imap", "imaps"}},
		{[]string{"login", "a@b.example", "--protocol", "pop"}, []string{"pop3", "pops", "pop3s"}},
		{[]string{"--lang", ""}, []string{"en", "fr"}},
		{[]string{"demo", "--lang", ""}, []string{"en", "fr"}},
		{[]string{"demo", "--scenario", "cert-ex"}, []string{"cert-expired", "cert-expiring"}},
		{[]string{"serve", "--scenario", "tarp"}, []string{"tarpit"}},
		{[]string{"selftest", "tarp"}, []string{"tarpit"}},
		{[]string{"explain", "dkim.s"}, []string{"dkim.sha1", "dkim.syntax"}},
		{[]string{"explain", "--format", ""}, []string{"text", "json", "markdown"}},
	}
	for _, tt := range tests {
		got := complete(tt.args...)
		if !slices.Equal(got, tt.want) {
			t.Errorf("complete %q = %q, want %q", tt.args, got, tt.want)
		}
	}
}

// TestOutputFile: -o FILE writes the report to FILE on every reporting
// command, wrapped to 80 columns for the people who read it later, with
// nothing on stdout.
func TestOutputFile(t *testing.T) {
	dir := t.TempDir()
	zones := defaultZones(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"domain", append([]string{"domain", "example.test", "--no-probe"}, zones...), "example.test ("},
		{"explain", []string{"explain", "spf.lookup-limit"}, "spf.lookup-limit (fail or warn)"},
		{"explain list", []string{"explain", "--list", "--format", "markdown"}, "# Finding catalogue"},
		{"selftest", []string{"selftest", "spf-missing", "--format", "json"}, `"scenario": "spf-missing"`},
		{"probe", []string{"probe", "127.0.0.1:1", "--protocol", "smtp", "--timeout", "2s", "--format", "json"}, `"target": "127.0.0.1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".out")
			r := run(t, nil, append(tt.args, "-o", file)...)
			if r.code == ExitUsage || r.out != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.out, r.errOut)
			}
			data, err := os.ReadFile(file)
			if err != nil || !strings.Contains(string(data), tt.want) {
				t.Fatalf("%s holds %q (%v), want %q", file, data, err, tt.want)
			}
			for i, line := range strings.Split(string(data), "\n") {
				if w := ansi.StringWidth(line); w > 80 && !strings.HasPrefix(tt.args[len(tt.args)-1], "json") &&
					!slices.Contains(tt.args, "json") && !slices.Contains(tt.args, "markdown") {
					t.Errorf("line %d of the text file is %d columns wide", i+1, w)
				}
			}
		})
	}
	r := run(t, nil, "explain", "spf.ok", "-o", filepath.Join(dir, "missing", "x.txt"))
	if r.code != ExitUsage || !strings.Contains(r.errOut, "-o: ") {
		t.Errorf("unwritable -o: exit %d, %q", r.code, r.errOut)
	}
}

// TestTerminalWidthAndColour: on a terminal the text wraps to its width
// and is coloured, but TERM=dumb and NO_COLOR turn colour off.
func TestTerminalWidthAndColour(t *testing.T) {
	zones := defaultZones(t)
	args := append([]string{"domain", "example.test", "--no-probe"}, zones...)
	r := onTerminal(t, nil, 60, args...)
	if !strings.Contains(r.out, "\x1b[") {
		t.Error("no colour on a terminal")
	}
	for i, line := range strings.Split(r.out, "\n") {
		if w := ansi.StringWidth(line); w > 60 {
			t.Errorf("line %d is %d columns on a 60-column terminal: %q", i+1, w, line)
		}
	}
	for _, env := range []map[string]string{{"TERM": "dumb"}, {"NO_COLOR": "1"}} {
		if r := onTerminal(t, env, 80, args...); strings.Contains(r.out, "\x1b[") {
			t.Errorf("%v: colour codes on the terminal", env)
		}
	}
	// A pipe gets lines unwrapped (grep, CI logs), unless COLUMNS says.
	piped := run(t, nil, args...)
	narrow := run(t, map[string]string{"COLUMNS": "50"}, args...)
	if longest(piped.out) <= 80 || longest(narrow.out) > 50 {
		t.Errorf("pipe: longest line %d (want unwrapped); COLUMNS=50: %d", longest(piped.out), longest(narrow.out))
	}
}

func longest(s string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		n = max(n, ansi.StringWidth(l))
	}
	return n
}

// TestNoProbeKeepsTheProbesKey: --no-probe JSON has "probes": [].
func TestNoProbeKeepsTheProbesKey(t *testing.T) {
	r := run(t, nil, append([]string{"domain", "example.test", "--no-probe", "--format", "json"}, defaultZones(t)...)...)
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.out), &raw); err != nil {
		t.Fatal(err)
	}
	if string(raw["probes"]) != "[]" {
		t.Errorf(`"probes" is %s, want []`, raw["probes"])
	}
}

// TestFailOnNeverIgnoresInconclusive: a run whose checks could not
// complete exits 3, or 0 with --fail-on never.
func TestFailOnNeverIgnoresInconclusive(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0") // a DNS server that never answers
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	base := []string{"domain", "example.com", "--resolver", pc.LocalAddr().String(), "--timeout", "1s", "--format", "json"}
	if r := run(t, nil, base...); r.code != ExitInconclusive {
		t.Fatalf("exit %d, want 3", r.code)
	}
	if r := run(t, nil, append(base, "--fail-on", "never")...); r.code != ExitOK {
		t.Errorf("--fail-on never: exit %d, want 0", r.code)
	}
}

// interruptAfter runs a command line and cancels it as Ctrl-C would after
// d; it returns the result and how long the run took.
func interruptAfter(t *testing.T, d time.Duration, cause error, args ...string) (result, time.Duration) {
	t.Helper()
	var out, errOut bytes.Buffer
	io := &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut, Getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	timer := time.AfterFunc(d, func() { cancel(cause) })
	defer timer.Stop()
	start := time.Now()
	code := Run(ctx, io, args)
	return result{code: code, out: out.String(), errOut: errOut.String()}, time.Since(start)
}

// TestCtrlCDuringAProbe: Ctrl-C while a tarpit holds the greeting stops
// the run promptly; what completed is printed, marked interrupted, without
// the false conn.timeout the interruption caused, and the exit code is 130.
func TestCtrlCDuringAProbe(t *testing.T) {
	_, flags := startRef(t, "tarpit")
	flags = netOnly(flags)
	r, took := interruptAfter(t, 1500*time.Millisecond, ErrInterrupted,
		append([]string{"probe", "mail.example.test", "--timeout", "60s", "--format", "json"}, flags...)...)
	if r.code != ExitInterrupted {
		t.Fatalf("exit %d, want 130\n%s%s", r.code, r.out, r.errOut)
	}
	if took > 10*time.Second {
		t.Errorf("the run took %s to stop after Ctrl-C", took)
	}
	rep := decodeReport(t, r.out)
	if !rep.Interrupted {
		t.Errorf("the report is not marked interrupted:\n%s", r.out)
	}
	for _, f := range rep.Findings {
		if f.ID == "conn.timeout" || f.Severity == finding.Error {
			t.Errorf("an interrupted probe reports %s %s", f.Severity, f.ID)
		}
	}
	if !hasFinding(rep, "tls.ok", finding.Pass) {
		t.Errorf("the ports that completed are missing:\n%s", r.out)
	}
	// The text says so too, and SIGTERM exits 143.
	r, _ = interruptAfter(t, time.Second, ErrTerminated, append([]string{"probe", "mail.example.test:25", "--timeout", "60s"}, flags...)...)
	if r.code != ExitTerminated || !strings.Contains(r.out, "Interrupted: the run was stopped") {
		t.Errorf("SIGTERM: exit %d\n%s", r.code, r.out)
	}
}

// TestCtrlCDuringADemo: the same through the demo's domain audit, where
// the command file marks nothing itself.
func TestCtrlCDuringADemo(t *testing.T) {
	r, took := interruptAfter(t, 1500*time.Millisecond, ErrInterrupted, "demo", "--scenario", "tarpit", "--timeout", "60s")
	if r.code != ExitInterrupted || !strings.Contains(r.out, "Interrupted: the run was stopped") || strings.Contains(r.out, "conn.timeout") {
		t.Fatalf("exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	if took > 10*time.Second {
		t.Errorf("the run took %s to stop after Ctrl-C", took)
	}
}

// TestCtrlCDuringADomainAudit: the domain command marks nothing itself;
// the report is marked interrupted all the same, without the false
// timeouts, and the exit code is 130.
func TestCtrlCDuringADomainAudit(t *testing.T) {
	_, flags := startRef(t, "tarpit")
	r, took := interruptAfter(t, 1500*time.Millisecond, ErrInterrupted,
		append([]string{"domain", "example.test", "--timeout", "60s", "--format", "json"}, flags...)...)
	if r.code != ExitInterrupted {
		t.Fatalf("exit %d, want 130\n%s%s", r.code, r.out, r.errOut)
	}
	rep := decodeReport(t, r.out)
	if !rep.Interrupted || hasFinding(rep, "conn.timeout", finding.Error) || !hasFinding(rep, "spf.ok", finding.Pass) {
		t.Errorf("want an interrupted report with the DNS checks and no conn.timeout:\n%s", r.out)
	}
	if took > 10*time.Second {
		t.Errorf("the run took %s to stop after Ctrl-C", took)
	}
}

// TestServeRemovesItsCAOnEveryExit: the temporary CA file is gone after
// Ctrl-C or SIGTERM (a cancelled run), and after a start-up error.
func TestServeRemovesItsCAOnEveryExit(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	for _, cause := range []error{ErrInterrupted, ErrTerminated} {
		var out bytes.Buffer
		io := &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &bytes.Buffer{}, Getenv: func(string) string { return "" }}
		ctx, cancel := context.WithCancelCause(context.Background())
		var caPath string
		cmd := NewCmdServe(io, func(ctx context.Context, o *ServeOptions) error {
			o.Ready = func(*refserver.Server) {
				caPath = caFileIn(out.String())
				if _, err := os.Stat(caPath); err != nil {
					t.Errorf("the CA file %q does not exist while serving: %v", caPath, err)
				}
				cancel(cause)
			}
			return serveRun(ctx, o)
		})
		cmd.SetArgs(nil)
		if err := cmd.ExecuteContext(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(caPath); !os.IsNotExist(err) {
			t.Errorf("%v: %s is still there after serve stopped", cause, caPath)
		}
	}
	// A port already in use: serve fails to start and leaves nothing.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if r := run(t, nil, "serve", "--base-port", itoa(port-53)); r.code != ExitUsage {
		t.Errorf("serve on a busy port: exit %d", r.code)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "mailcheck-*")); len(left) > 0 {
		t.Errorf("serve left %v behind", left)
	}
	// Serve stops on Ctrl-C as its normal end: exit 0.
	r, _ := interruptAfter(t, 500*time.Millisecond, ErrInterrupted, "serve")
	if r.code != ExitOK {
		t.Errorf("serve stopped by Ctrl-C: exit %d", r.code)
	}
}

// caFileIn finds the "CA certificate: PATH" line serve prints.
func caFileIn(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if _, p, ok := strings.Cut(l, "CA certificate: "); ok {
			return strings.TrimSpace(p)
		}
	}
	return ""
}

// TestSecondSignalExitsAtOnce: the first Ctrl-C cancels the run, the
// second runs the clean-ups and exits 130 without waiting for the run.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	sigs := make(chan os.Signal, 2)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	state := &runState{}
	cleaned := false
	state.atForcedExit(func() { cleaned = true })
	exited := make(chan int, 1)
	var errOut bytes.Buffer
	go watchSignals(sigs, cancel, state, &errOut, finding.English, func(code int) { exited <- code })
	sigs <- os.Interrupt
	<-ctx.Done()
	if !interruptedBy(ctx) || cleaned {
		t.Fatalf("first Ctrl-C: cause %v, cleaned %v", context.Cause(ctx), cleaned)
	}
	sigs <- syscall.SIGINT
	if code := <-exited; code != ExitInterrupted || !cleaned {
		t.Errorf("second Ctrl-C: exit %d, cleaned %v", code, cleaned)
	}
	if !strings.Contains(errOut.String(), "press Ctrl-C again to quit at once") {
		t.Errorf("stderr %q", errOut.String())
	}
}

// TestRealJSONMatchesTheDocumentedSchema: a real audit with live probes
// writes JSON that docs/schema/report-v1.schema.json describes.
func TestRealJSONMatchesTheDocumentedSchema(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "docs", "schema", "report-v1.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("file:///report.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("file:///report.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"demo", "--format", "json", "-v"},
		append([]string{"domain", "example.test", "www.example.test", "--no-probe", "--format", "json"}, defaultZones(t)...),
		// A bounce: the message section with its bounce, as `message` writes it.
		append([]string{"message", filepath.Join("..", "..", "dsn", "testdata", "postfix.eml"), "--format", "json"}, defaultZones(t)...),
	} {
		r := run(t, nil, args...)
		out, err := jsonschema.UnmarshalJSON(strings.NewReader(r.out))
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, r.out)
		}
		if err := sch.Validate(out); err != nil {
			t.Errorf("%v: the JSON does not match the documented schema: %v", args[0], err)
		}
	}
}
