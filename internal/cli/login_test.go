package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/fixtures"
)

const loginPassword = "correct horse battery staple"

// loginFlags serves a scenario and returns the network flags that point
// `mailcheck login` at it.
func loginFlags(t *testing.T, name string) []string {
	t.Helper()
	srv, _, ca := serveScenario(t, name)
	return []string{"--resolver", srv.DNSAddr(), "--ca", ca, "--port-map", srv.PortMapFlag(), "--timeout", "8s"}
}

// runLogin runs a command line with stdin and an environment.
func runLogin(t *testing.T, stdin string, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	io := &IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut, Getenv: func(k string) string { return env[k] }}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := Run(ctx, io, args)
	return result{code: code, out: out.String(), errOut: errOut.String()}
}

// noSecret fails when the password shows in any output, as is or in the
// base64 a SASL exchange would carry.
func noSecret(t *testing.T, r result, password string) {
	t.Helper()
	forms := []string{password,
		base64.StdEncoding.EncodeToString([]byte("\x00alice@example.test\x00" + password)),
		base64.StdEncoding.EncodeToString([]byte(password))}
	for _, s := range forms {
		if strings.Contains(r.out, s) || strings.Contains(r.errOut, s) {
			t.Fatalf("the password (%q) is in the output:\nstdout:\n%s\nstderr:\n%s", s, r.out, r.errOut)
		}
	}
}

func loginReport(t *testing.T, r result) finding.Report {
	t.Helper()
	return decodeReport(t, r.out)
}

func loginHas(rep finding.Report, id string, sev finding.Severity) bool {
	return slices.ContainsFunc(rep.Findings, func(f finding.Finding) bool { return f.ID == id && f.Severity == sev })
}

func TestLoginDiscoveryText(t *testing.T) {
	flags := loginFlags(t, fixtures.Default)
	r := runLogin(t, "", nil, append([]string{"login", "alice@example.test"}, flags...)...)
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	for _, want := range []string{"Client settings for alice@example.test", "login.settings-found"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("output lacks %q:\n%s", want, r.out)
		}
	}
	// The candidates table: the recommended rows first.
	var rows [][]string
	for _, l := range strings.Split(r.out, "\n") {
		if f := strings.Fields(l); len(f) >= 6 && (f[0] == "incoming" || f[0] == "outgoing") {
			rows = append(rows, f)
		}
	}
	if len(rows) != 6 || strings.Join(rows[0][:7], " ") != "incoming imap mail.example.test 993 SSL/TLS alice@example.test recommended" ||
		strings.Join(rows[1][:7], " ") != "outgoing submission mail.example.test 465 SSL/TLS alice@example.test recommended" {
		t.Errorf("candidate rows %q", rows)
	}
}

// A login with the password from the environment, in every output format
// and with transcripts: the password is nowhere.
func TestLoginPasswordNeverShown(t *testing.T) {
	flags := loginFlags(t, fixtures.Default)
	env := map[string]string{"MAILPASS": loginPassword}
	type run struct{ format, proto string }
	var runs []run
	for _, format := range []string{"text", "json", "ndjson", "markdown", "sarif", "junit"} {
		runs = append(runs, run{format, "imap"})
	}
	for _, proto := range []string{"pop3", "submission"} {
		runs = append(runs, run{"text", proto}, run{"json", proto})
	}
	for _, rn := range runs {
		args := append([]string{"login", "alice@example.test", "--password-env", "MAILPASS", "-v", "--format", rn.format, "--protocol", rn.proto}, flags...)
		r := runLogin(t, "", env, args...)
		if r.code != ExitOK {
			t.Fatalf("%s %s: exit %d\n%s%s", rn.format, rn.proto, r.code, r.out, r.errOut)
		}
		noSecret(t, r, loginPassword)
		// SARIF lists only results that need attention; a pass is not one.
		if rn.format != "sarif" && !strings.Contains(r.out, "login.ok") {
			t.Errorf("%s %s: no login.ok:\n%s", rn.format, rn.proto, r.out)
		}
		if rn.format == "text" && !strings.Contains(r.out, "<redacted>") {
			t.Errorf("%s: the -v transcript shows no redacted credential line:\n%s", rn.proto, r.out)
		}
	}
}

func TestLoginWrongPasswordFromStdin(t *testing.T) {
	flags := loginFlags(t, fixtures.Default)
	const wrong = "Tr0ub4dor&3"
	r := runLogin(t, wrong+"\nsecond line is ignored\n", nil,
		append([]string{"login", "alice@example.test", "--password-stdin", "--format", "json", "-v"}, flags...)...)
	if r.code != ExitFindings {
		t.Fatalf("exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	noSecret(t, r, wrong)
	rep := loginReport(t, r)
	if !loginHas(rep, "login.auth-failed", finding.Fail) {
		t.Errorf("no login.auth-failed: %+v", rep.Findings)
	}
}

func TestLoginExitCodes(t *testing.T) {
	t.Run("wrong port", func(t *testing.T) {
		flags := loginFlags(t, fixtures.Default)
		r := runLogin(t, "", nil, append([]string{"login", "alice@example.test", "--port", "143", "--tls", "implicit", "--format", "json"}, flags...)...)
		rep := loginReport(t, r)
		if r.code != ExitFindings || !loginHas(rep, "login.wrong-port", finding.Fail) {
			t.Fatalf("exit %d, findings %+v", r.code, rep.Findings)
		}
	})
	t.Run("locked account", func(t *testing.T) {
		// The reply carries a temporary code ([UNAVAILABLE]) and says the
		// account is locked: the lock is the diagnosis, a fail to act on.
		flags := loginFlags(t, "login-locked")
		r := runLogin(t, "", map[string]string{"P": loginPassword}, append([]string{"login", "alice@example.test", "--password-env", "P", "--protocol", "imaps", "--format", "json"}, flags...)...)
		rep := loginReport(t, r)
		if r.code != ExitFindings || !loginHas(rep, "login.account-locked", finding.Fail) {
			t.Fatalf("exit %d, findings %+v", r.code, rep.Findings)
		}
	})
	t.Run("app password", func(t *testing.T) {
		flags := loginFlags(t, "login-app-password")
		r := runLogin(t, loginPassword+"\n", nil, append([]string{"login", "alice@example.test", "--password-stdin", "--protocol", "submission"}, flags...)...)
		if r.code != ExitFindings || !strings.Contains(r.out, "login.app-password-required") || !strings.Contains(r.out, "fix: ") {
			t.Fatalf("exit %d\n%s", r.code, r.out)
		}
		noSecret(t, r, loginPassword)
	})
}

// Bad input: exit 2 with one line on stderr, and never an echo of what
// might be a password.
func TestLoginUsageErrors(t *testing.T) {
	tests := []struct {
		name   string
		stdin  string
		env    map[string]string
		args   []string
		secret string
	}{
		{"no address", "", nil, []string{"login"}, ""},
		{"not an address", "", nil, []string{"login", "example.com"}, ""},
		{"bad domain", "", nil, []string{"login", "alice@exa mple.com"}, ""},
		{"password as a second argument", "", nil, []string{"login", "alice@example.com", "hunter2hunter2"}, "hunter2hunter2"},
		{"password flag", "", nil, []string{"login", "alice@example.com", "--password", "hunter2hunter2"}, "hunter2hunter2"},
		{"password flag with =", "", nil, []string{"login", "alice@example.com", "--password=hunter2hunter2"}, "hunter2hunter2"},
		{"both password sources", "x\n", map[string]string{"P": "x"}, []string{"login", "alice@example.com", "--password-env", "P", "--password-stdin"}, ""},
		{"empty variable", "", nil, []string{"login", "alice@example.com", "--password-env", "NOPE"}, ""},
		{"empty stdin", "", nil, []string{"login", "alice@example.com", "--password-stdin"}, ""},
		{"bad tls", "", nil, []string{"login", "alice@example.com", "--tls", "maybe"}, ""},
		{"bad protocol", "", nil, []string{"login", "alice@example.com", "--protocol", "jmap"}, ""},
		{"bad port", "", nil, []string{"login", "alice@example.com", "--port", "70000"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runLogin(t, tt.stdin, tt.env, tt.args...)
			if r.code != ExitUsage {
				t.Fatalf("exit %d, want 2\n%s%s", r.code, r.out, r.errOut)
			}
			if n := strings.Count(strings.TrimSpace(r.errOut), "\n"); n != 0 || r.errOut == "" {
				t.Errorf("stderr is not one line: %q", r.errOut)
			}
			if tt.secret != "" {
				noSecret(t, r, tt.secret)
			}
		})
	}
}

func TestReadPasswordLineIsBounded(t *testing.T) {
	if _, err := readPasswordLine(strings.NewReader(strings.Repeat("x", maxPasswordBytes+10)), finding.English); err == nil {
		t.Error("an over-long line was accepted")
	}
	p, err := readPasswordLine(strings.NewReader("pw with spaces\r\nnext"), finding.English)
	if err != nil || string(p) != "pw with spaces" {
		t.Errorf("got %q, %v", string(p), err)
	}
}
