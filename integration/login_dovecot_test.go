package integration

// Tier 2: `mailcheck login` against Dovecot, with the password passed the
// way support staff would pass it (an environment variable), never argv.

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// dovecotLogin runs mailcheck login for the Dovecot account with the
// password in MAILCHECK_TEST_PASSWORD and returns the report, after
// checking the exit code and that the password is in no output.
func dovecotLogin(t *testing.T, dv *dovecotInstance, password string, wantCode int, extra ...string) report {
	t.Helper()
	args := append([]string{"login", dv.User, "--host", "mail.example.test",
		"--zone", dv.ZoneFile, "--port-map", dv.PortMap(), "--ca", dv.CAFile, "--timeout", "15s",
		"--password-env", "MAILCHECK_TEST_PASSWORD", "--format", "json", "-v"}, extra...)
	r := run(t, runOpts{Env: []string{"MAILCHECK_TEST_PASSWORD=" + password}}, mailcheckBin, args...)
	if r.Code != wantCode {
		t.Fatalf("mailcheck %s: exit %d, want %d\n%s\n%s", strings.Join(args, " "), r.Code, wantCode, r, dv.LogTail())
	}
	for _, secret := range []string{password,
		base64.StdEncoding.EncodeToString([]byte("\x00" + dv.User + "\x00" + password))} {
		if strings.Contains(r.Stdout, secret) || strings.Contains(r.Stderr, secret) {
			t.Fatalf("the password is in mailcheck's output:\n%s", r)
		}
	}
	return jsonReport(t, r)
}

func TestDovecotLogin(t *testing.T) {
	dv := startDovecot(t, dovecotOptions{})
	imaps := "mail.example.test:993"
	tests := []struct {
		name     string
		password string
		extra    []string
		code     int
		id       string
		sev      string
		subject  string
	}{
		{"right password, IMAP over TLS", dv.Password, []string{"--port", "993"}, 0, "login.ok", "pass", imaps},
		{"right password, POP3 with STLS", dv.Password, []string{"--port", "110"}, 0, "login.ok", "pass", "mail.example.test:110"},
		// The seeds' most common failure: plaintext (or STARTTLS) on the
		// implicit-TLS port. Dovecot waits for a ClientHello that never
		// comes; mailcheck names 993 SSL/TLS and logs in there.
		{"plaintext to the implicit-TLS port", dv.Password, []string{"--port", "993", "--tls", "starttls"}, 1, "login.wrong-port", "fail", imaps},
		{"TLS to the STARTTLS port", dv.Password, []string{"--port", "143", "--tls", "implicit"}, 1, "login.wrong-port", "fail", "mail.example.test:143"},
		// Last: Dovecot delays every later login from an address that
		// failed one (its auth penalty), which would time them out.
		{"wrong password", "not-" + dv.Password, []string{"--port", "993"}, 1, "login.auth-failed", "fail", imaps},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := dovecotLogin(t, dv, tt.password, tt.code, tt.extra...)
			if !rep.has(tt.id, tt.sev, tt.subject) {
				t.Errorf("want %s/%s@%s; findings: %v\n%s", tt.id, tt.sev, tt.subject, rep.ids(), dv.LogTail())
			}
			if tt.id == "login.wrong-port" && !rep.has("login.ok", "pass", "") {
				t.Errorf("no login on the settings that work; findings: %v", rep.ids())
			}
		})
	}
}

// jsonReport decodes one JSON report from a finished run.
func jsonReport(t *testing.T, r result) report {
	t.Helper()
	var rep report
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("output is not one JSON report: %v\n%s", err, r)
	}
	return rep
}
