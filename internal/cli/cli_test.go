package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/fixtures"
	"github.com/mailcheck-cli/mailcheck/refserver"
)

// result is what one command line produced.
type result struct {
	code        int
	out, errOut string
}

// run executes a command line with buffer streams, as a user's shell would
// with stdout not a terminal.
func run(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	io := &IOStreams{
		In: strings.NewReader(""), Out: &out, ErrOut: &errOut,
		Getenv: func(k string) string { return env[k] },
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := Run(ctx, io, args)
	return result{code: code, out: out.String(), errOut: errOut.String()}
}

// serveScenario serves a scenario for the test's lifetime and writes the
// CA that signed its certificates to a file, whose name it returns for --ca.
func serveScenario(t *testing.T, name string) (*refserver.Server, *fixtures.Scenario, string) {
	t.Helper()
	sc, err := fixtures.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := refserver.Start(ctx, refserver.Options{Scenario: sc, TarpitDelay: 30 * time.Second})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); srv.Close() })
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, srv.CA().PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv, sc, ca
}

// startRef serves a scenario and returns the flags that point mailcheck at it.
func startRef(t *testing.T, name string) (*refserver.Server, []string) {
	t.Helper()
	srv, sc, ca := serveScenario(t, name)
	var pm []string
	for std, actual := range srv.PortMap() {
		pm = append(pm, "--port-map", itoa(std)+"="+itoa(actual))
	}
	flags := append([]string{"--resolver", srv.DNSAddr(), "--ca", ca}, pm...)
	for _, s := range sc.DKIMSelectors {
		flags = append(flags, "--dkim-selector", s)
	}
	return srv, flags
}

func itoa(i int) string { return strconv.Itoa(i) }

func decodeReport(t *testing.T, out string) finding.Report {
	t.Helper()
	var rep finding.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("output is not one JSON report: %v\n%s", err, out)
	}
	if rep.Schema != "mailcheck/v1" {
		t.Fatalf("schema = %q", rep.Schema)
	}
	return rep
}

func hasFinding(rep finding.Report, id string, sev finding.Severity) bool {
	for _, f := range rep.Findings {
		if f.ID == id && f.Severity == sev {
			return true
		}
	}
	return false
}

func TestUsageErrorsExitTwoWithOneLine(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "example.test.zone")
	os.WriteFile(broken, []byte("$ORIGIN example.test.\n$TTL 300\n@ IN SOA ns. h. 1 2 3 4 5\nmail IN A 192.0.2.300\n"), 0o600)
	list := filepath.Join(dir, "list.txt")
	os.WriteFile(list, []byte("# customers\nexample.com # ok\nuser@example.org\n"), 0o600)
	tests := []struct {
		name string
		args []string
		want string // in the one stderr line
	}{
		{"invalid domain", []string{"domain", "exa mple.com", "--no-probe"}, "invalid domain"},
		{"address instead of domain", []string{"domain", "user@example.com"}, "invalid domain"},
		{"single label", []string{"domain", "localhost"}, "at least two labels"},
		{"no domain", []string{"domain"}, "no domain given"},
		{"unknown format", []string{"domain", "example.test", "--format", "xml"}, "unknown --format"},
		{"bad fail-on", []string{"domain", "example.test", "--fail-on", "sometimes"}, "unknown --fail-on"},
		{"bad port map", []string{"domain", "example.test", "--port-map", "25:2525"}, "bad --port-map"},
		{"missing zone file", []string{"domain", "example.test", "--zone", filepath.Join(dir, "nope.zone")}, "nope.zone"},
		{"unparsable zone", []string{"domain", "example.test", "--zone", broken}, broken + ":4:"},
		{"missing CA file", []string{"domain", "example.test", "--ca", filepath.Join(dir, "ca.pem")}, "--ca"},
		{"bad resolver", []string{"domain", "example.test", "--resolver", "1.2.3.4:99999"}, "bad --resolver"},
		{"negative timeout", []string{"domain", "example.test", "--timeout", "-1s"}, "--timeout"},
		{"bad line in --file", []string{"domain", "--file", list}, list + ":3: invalid domain"},
		{"zero concurrency", []string{"domain", "example.test", "--concurrency", "0"}, "--concurrency must be at least 1"},
		{"negative concurrency", []string{"domain", "example.test", "--concurrency", "-4"}, "--concurrency"},
		{"shard not I/N", []string{"domain", "example.test", "--shard", "2"}, "bad --shard"},
		{"shard index too high", []string{"domain", "example.test", "--shard", "4/4"}, "between 0 and 3"},
		{"shard count zero", []string{"domain", "example.test", "--shard", "0/0"}, "bad --shard"},
		{"shard negative", []string{"domain", "example.test", "--shard", "-1/4"}, "bad --shard"},
		{"unknown order", []string{"domain", "example.test", "--order", "random"}, "unknown --order"},
		{"unknown dkim-guess", []string{"domain", "example.test", "--dkim-guess", "sometimes"}, "unknown --dkim-guess"},
		{"unknown flag", []string{"domain", "example.test", "--frobnicate"}, "unknown flag"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
		{"probe bad protocol", []string{"probe", "mail.example.test", "--protocol", "gopher"}, "unknown --protocol"},
		{"probe odd port without protocol", []string{"probe", "mail.example.test:2525"}, "--protocol"},
		{"explain unknown id", []string{"explain", "spf.nonsense"}, "unknown finding ID"},
		{"serve unknown scenario", []string{"serve", "--scenario", "nope"}, "unknown scenario"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, nil, tt.args...)
			if r.code != ExitUsage {
				t.Fatalf("exit %d, want 2; stderr %q", r.code, r.errOut)
			}
			lines := strings.Split(strings.TrimSpace(r.errOut), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], tt.want) {
				t.Fatalf("stderr %q: want one line containing %q", r.errOut, tt.want)
			}
			if r.out != "" {
				t.Fatalf("nothing belongs on stdout on a usage error, got %q", r.out)
			}
		})
	}
}

func TestDomainAgainstReferenceServer(t *testing.T) {
	_, flags := startRef(t, fixtures.Default)
	r := run(t, nil, append([]string{"domain", "example.test", "--format", "json"}, flags...)...)
	if r.code != ExitOK {
		t.Fatalf("exit %d on the healthy scenario; stderr %q\n%s", r.code, r.errOut, r.out)
	}
	rep := decodeReport(t, r.out)
	for _, f := range rep.Findings {
		if f.Severity >= finding.Warn {
			t.Errorf("healthy scenario reported %s %s on %s", f.Severity, f.ID, f.Subject)
		}
	}
	for _, id := range []string{"mx.ok", "spf.ok", "dmarc.ok", "dkim.ok", "mtasts.ok", "tlsrpt.ok", "conn.ok", "tls.ok"} {
		if !hasFinding(rep, id, finding.Pass) {
			t.Errorf("missing %s pass", id)
		}
	}
	if len(rep.Probes) == 0 || rep.Probes[0].Protocol != "smtp" || rep.Probes[0].TLS == nil || !rep.Probes[0].TLS.Verified {
		t.Errorf("want a verified port-25 probe of the MX, got %+v", rep.Probes)
	}
}

func TestFaultScenarioFailsTheRun(t *testing.T) {
	_, flags := startRef(t, "cert-expired")
	r := run(t, nil, append([]string{"domain", "example.test", "--format", "json"}, flags...)...)
	if r.code != ExitFindings {
		t.Fatalf("exit %d, want 1 for an expired certificate; stderr %q", r.code, r.errOut)
	}
	if rep := decodeReport(t, r.out); !hasFinding(rep, "tls.cert-expired", finding.Fail) {
		t.Fatalf("no tls.cert-expired fail in %s", r.out)
	}
}

func TestFailOnThreshold(t *testing.T) {
	// A zone whose only problem is a warning: DMARC p=none.
	dir := t.TempDir()
	sc, _ := fixtures.Load(fixtures.Default)
	zoneArgs := []string{}
	for _, z := range sc.Zones {
		data, _ := sc.File(z)
		if z == "example.test.zone" {
			data = bytes.Replace(data, []byte("p=reject"), []byte("p=none"), 1)
		}
		p := filepath.Join(dir, z)
		os.WriteFile(p, data, 0o600)
		zoneArgs = append(zoneArgs, "--zone", p)
	}
	// MTA-STS needs HTTPS, which a zone file alone cannot give: leave the
	// check out of this test by pointing 443 at the reference server.
	srv, flags := startRef(t, fixtures.Default)
	_ = srv
	base := append([]string{"domain", "example.test", "--no-probe", "--dkim-selector", "s2026"}, zoneArgs...)
	base = append(base, stripResolver(flags)...)
	for _, tt := range []struct {
		failOn string
		want   int
	}{{"fail", ExitOK}, {"warn", ExitFindings}, {"info", ExitFindings}, {"never", ExitOK}} {
		r := run(t, nil, append(base, "--fail-on", tt.failOn)...)
		if r.code != tt.want {
			t.Errorf("--fail-on %s: exit %d, want %d\n%s%s", tt.failOn, r.code, tt.want, r.out, r.errOut)
		}
	}
}

// stripResolver keeps the reference server's --port-map and --ca but not its
// --resolver, so that DNS answers come from --zone alone.
func stripResolver(flags []string) []string {
	var out []string
	for i := 0; i < len(flags); i++ {
		if flags[i] == "--resolver" {
			i++
			continue
		}
		out = append(out, flags[i])
	}
	return out
}

func TestDeadResolverIsInconclusiveWithinTimeout(t *testing.T) {
	// A DNS server that never answers.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	start := time.Now()
	r := run(t, nil, "domain", "example.com", "--resolver", pc.LocalAddr().String(), "--timeout", "2s", "--format", "json")
	elapsed := time.Since(start)
	if r.code != ExitInconclusive {
		t.Fatalf("exit %d, want 3 (inconclusive); stderr %q\n%s", r.code, r.errOut, r.out)
	}
	if elapsed > 3*time.Second {
		t.Fatalf("took %s with --timeout 2s", elapsed)
	}
	rep := decodeReport(t, r.out)
	for _, f := range rep.Findings {
		if strings.HasSuffix(f.ID, ".missing") {
			t.Errorf("a dead resolver must not produce %s (%s)", f.ID, f.Title)
		}
	}
	if !hasFinding(rep, "dns.lookup-failed", finding.Error) {
		t.Errorf("want dns.lookup-failed errors, got %s", r.out)
	}
}

// Zone mode fails closed: a target outside every --zone, without
// --resolver, is bad input (exit 2, one line naming it and the zones), never
// a report of "not checked" lines that passes a pipeline with a typo.
func TestTargetOutsideTheZonesIsUsageError(t *testing.T) {
	sc, _ := fixtures.Load(fixtures.Default)
	data, _ := sc.File("example.test.zone")
	p := filepath.Join(t.TempDir(), "example.test.zone")
	os.WriteFile(p, data, 0o600)
	r := run(t, nil, "domain", "example.com", "--zone", p, "--no-probe")
	if r.code != ExitUsage {
		t.Fatalf("exit %d, want 2; stdout %q", r.code, r.out)
	}
	if lines := strings.Split(strings.TrimSpace(r.errOut), "\n"); len(lines) != 1 ||
		!strings.Contains(lines[0], "example.com") || !strings.Contains(lines[0], p) {
		t.Errorf("want one line naming the target and the zone file, got %q", r.errOut)
	}
	if r.out != "" {
		t.Errorf("nothing may be reported: %q", r.out)
	}
}

// Names a zone's records point at outside the zones are "not checked"
// (info), never missing: here an SPF include of another domain.
func TestOutOfZoneNamesAreNotChecked(t *testing.T) {
	sc, _ := fixtures.Load(fixtures.Default)
	data, _ := sc.File("example.test.zone")
	zone := strings.Replace(string(data), "v=spf1 mx -all", "v=spf1 mx include:_spf.other.test -all", 1)
	if zone == string(data) {
		t.Fatal("the default zone no longer holds the SPF record this test edits")
	}
	p := filepath.Join(t.TempDir(), "example.test.zone")
	os.WriteFile(p, []byte(zone), 0o600)
	r := run(t, nil, "domain", "example.test", "--zone", p, "--no-probe", "--format", "json")
	rep := decodeReport(t, r.out)
	for _, f := range rep.Findings {
		// bimi.missing and dane.missing (info) speak of names inside the
		// zone, which are known not to exist.
		outside := strings.Contains(f.Subject, "other.test") || f.Severity > finding.Info
		if outside && (strings.HasSuffix(f.ID, ".missing") || f.ID == "spf.include-missing") {
			t.Errorf("a name outside the zones must be reported as not checked, got %s %s on %s", f.Severity, f.ID, f.Subject)
		}
	}
	if !hasFinding(rep, "dns.not-checked", finding.Info) {
		t.Errorf("want dns.not-checked, got %s", r.out)
	}
}

func TestTextOutputColour(t *testing.T) {
	_, flags := startRef(t, fixtures.Default)
	args := append([]string{"domain", "example.test", "--no-probe"}, flags...)
	r := run(t, nil, args...)
	if strings.Contains(r.out, "\x1b[") {
		t.Fatal("colour codes on a non-terminal")
	}
	if !strings.Contains(r.out, "SPF") || !strings.Contains(r.out, "✓") {
		t.Fatalf("text report lacks its areas and marks:\n%s", r.out)
	}
}

func TestNDJSONHasOneReportPerLine(t *testing.T) {
	_, flags := startRef(t, fixtures.Default)
	r := run(t, nil, append([]string{"domain", "example.test", "www.example.test", "--no-probe", "--format", "ndjson"}, flags...)...)
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %d:\n%s", len(lines), r.out)
	}
	for i, l := range lines {
		rep := decodeReport(t, l)
		if want := []string{"example.test", "www.example.test"}[i]; rep.Target != want {
			t.Errorf("line %d target %q, want %q", i, rep.Target, want)
		}
	}
}

func TestDomainsFromFile(t *testing.T) {
	_, flags := startRef(t, fixtures.Default)
	list := filepath.Join(t.TempDir(), "domains.txt")
	os.WriteFile(list, []byte("# comment\nexample.test\n\nEXAMPLE.test.\n"), 0o600)
	r := run(t, nil, append([]string{"domain", "--file", list, "--no-probe", "--format", "json"}, flags...)...)
	rep := decodeReport(t, r.out) // duplicates folded: one report, not an array
	if rep.Target != "example.test" {
		t.Fatalf("target %q", rep.Target)
	}
}

func TestExplain(t *testing.T) {
	r := run(t, nil, "explain", "spf.lookup-limit")
	if r.code != ExitOK || !strings.Contains(r.out, "spf.lookup-limit") || !strings.Contains(r.out, "fix:") {
		t.Fatalf("explain ID: exit %d\n%s", r.code, r.out)
	}
	r = run(t, nil, "explain", "535 5.7.139 Authentication unsuccessful, basic authentication is disabled")
	if !strings.Contains(r.out, "login.basic-auth-disabled") {
		t.Fatalf("explain text did not name login.basic-auth-disabled:\n%s", r.out)
	}
	r = run(t, nil, "explain", "the printer is on fire")
	if r.code != ExitOK || !strings.Contains(r.out, "mailcheck login") {
		t.Fatalf("unknown text must say so and suggest mailcheck login:\n%s", r.out)
	}
	r = run(t, nil, "explain", "--list")
	if n := strings.Count(r.out, "\n"); n < 60 {
		t.Fatalf("--list printed %d lines", n)
	}
}

func TestDemo(t *testing.T) {
	r := run(t, nil, "demo", "--format", "json")
	if r.code != ExitOK {
		t.Fatalf("demo exit %d; stderr %q", r.code, r.errOut)
	}
	rep := decodeReport(t, r.out)
	if rep.Target != "example.test" || len(rep.Probes) == 0 {
		t.Fatalf("demo must audit example.test with probes, got target %q, %d probes", rep.Target, len(rep.Probes))
	}
}

// The command line serve prints audits the scenario as served: for the
// healthy default, a clean run; for a blocklist scenario, its fixture
// lists (the public ones are not reachable through the reference server).
func TestServePrintsAWorkingCommandLine(t *testing.T) {
	for _, tt := range []struct {
		scenario string
		code     int
		want     string
	}{
		{fixtures.Default, ExitOK, ""},
		{"dnsbl-listed", ExitFindings, "dnsbl.listed"},
	} {
		t.Run(tt.scenario, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var out bytes.Buffer
			ready := make(chan *refserver.Server, 1)
			caOut := filepath.Join(t.TempDir(), "ca.pem")
			done := make(chan error, 1)
			go func() {
				done <- serveRun(ctx, &ServeOptions{
					IO: &IOStreams{Out: &out, ErrOut: &out, Getenv: os.Getenv}, Scenario: tt.scenario,
					CAOut: caOut, Ready: func(s *refserver.Server) { ready <- s },
				})
			}()
			select {
			case <-ready:
			case err := <-done:
				t.Fatalf("serve stopped: %v", err)
			case <-time.After(20 * time.Second):
				t.Fatal("serve did not start")
			}
			var line string
			for _, l := range strings.Split(out.String(), "\n") {
				if strings.HasPrefix(strings.TrimSpace(l), "mailcheck domain ") {
					line = strings.TrimSpace(l)
				}
			}
			if line == "" {
				t.Fatalf("no command line printed:\n%s", out.String())
			}
			args := strings.Fields(line)[1:]
			r := run(t, nil, append(args, "--format", "json")...)
			if r.code != tt.code {
				t.Fatalf("the printed command %q exits %d, want %d: %s%s", line, r.code, tt.code, r.errOut, r.out)
			}
			if rep := decodeReport(t, r.out); tt.want != "" && !slices.ContainsFunc(rep.Findings, func(f finding.Finding) bool { return f.ID == tt.want }) {
				t.Errorf("the printed command %q does not report %s:\n%s", line, tt.want, r.out)
			}
			cancel()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("serve did not stop when its context ended")
			}
		})
	}
}

func TestGitHubAnnotations(t *testing.T) {
	_, flags := startRef(t, "cert-expired")
	r := run(t, map[string]string{"GITHUB_ACTIONS": "true"}, append([]string{"domain", "example.test"}, flags...)...)
	if !strings.Contains(r.out, "::error") {
		t.Fatalf("no ::error annotation under GITHUB_ACTIONS:\n%s", r.out)
	}
}

func TestProbeClosedPorts(t *testing.T) {
	_, flags := startRef(t, "port-closed")
	flags = netOnly(flags)
	// A sweep of the default ports: the closed POP3 and submission ports
	// are reported, but a host need not offer every service.
	r := run(t, nil, append([]string{"probe", "mail.example.test", "--format", "json"}, flags...)...)
	if r.code != ExitOK {
		t.Fatalf("sweep: exit %d, want 0\n%s%s", r.code, r.out, r.errOut)
	}
	rep := decodeReport(t, r.out)
	if !hasFinding(rep, "conn.refused", finding.Info) || len(rep.Probes) != 7 {
		t.Fatalf("want conn.refused at info and 7 probes, got %d probes:\n%s", len(rep.Probes), r.out)
	}
	// A port asked for by name must answer.
	r = run(t, nil, append([]string{"probe", "mail.example.test:110", "--format", "json"}, flags...)...)
	if r.code != ExitFindings || !hasFinding(decodeReport(t, r.out), "conn.refused", finding.Fail) {
		t.Fatalf("named port: exit %d, want 1 with conn.refused fail\n%s", r.code, r.out)
	}
}

// netOnly drops the domain-only flags (--dkim-selector) from startRef's.
func netOnly(flags []string) []string {
	var out []string
	for i := 0; i < len(flags); i++ {
		if flags[i] == "--dkim-selector" {
			i++
			continue
		}
		out = append(out, flags[i])
	}
	return out
}
