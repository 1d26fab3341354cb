package integration

// Tier 2: mailcheck's SMTP probes against Postfix.

import (
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// postfixInstance is a running Postfix: smtpd services for the MX and
// submission roles, and a misconfigured one that offers AUTH before TLS.
type postfixInstance struct {
	MX, Submission, Exposed int // ports on 127.0.0.1
	CAFile                  string
	ZoneFile                string // example.test zone: mail.example.test A 127.0.0.1
	Dovecot                 *dovecotInstance
	d                       *daemon
}

// postfixOptions vary the Postfix of a test.
type postfixOptions struct {
	// RelayHost, "[127.0.0.1]:PORT", makes Postfix relay mail for
	// example.test there instead of delivering it itself.
	RelayHost string
}

// startPostfix starts Postfix's master in the foreground from
// testdata/postfix/, with SASL through a Dovecot started for it, and waits
// until every smtpd greets.
func startPostfix(t *testing.T) *postfixInstance { return startPostfixWith(t, postfixOptions{}) }

func startPostfixWith(t *testing.T, o postfixOptions) *postfixInstance {
	t.Helper()
	tools := needTools(t, "postfix", "master")
	needRoot(t, "Postfix")
	pfUser, err := user.Lookup("postfix")
	if err != nil {
		prerequisite(t, "user postfix (created by Debian's postfix package) is missing")
	}
	if _, err := user.LookupGroup("postdrop"); err != nil {
		prerequisite(t, "group postdrop (created by Debian's postfix package) is missing")
	}
	dv := startDovecot(t, dovecotOptions{AuthSocketUser: "postfix"})

	dir := t.TempDir()
	openDir(t, dir)
	tp := newTestPKI(t, dir, "mail.example.test")
	pf := &postfixInstance{CAFile: tp.CAFile, ZoneFile: filepath.Join(dir, "example.test.zone"), Dovecot: dv}
	writeTemplate(t, "mail.example.test.zone.tmpl", pf.ZoneFile, map[string]string{"Addr": "127.0.0.1"})
	conf := filepath.Join(dir, "conf")
	for _, sub := range []string{"conf", "queue", "data"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	uid, _ := strconv.Atoi(pfUser.Uid)
	if err := os.Chown(filepath.Join(dir, "data"), uid, -1); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "postfix.log")

	startWithRetries(t, "Postfix", func(attempt int) (*daemon, error) {
		ports := freePorts(t, "127.0.0.1", 3)
		pf.MX, pf.Submission, pf.Exposed = ports[0], ports[1], ports[2]
		data := map[string]any{
			"Dir": dir, "KeyFile": tp.KeyFile, "CertFile": tp.CertFile, "AuthSocket": dv.AuthSocket,
			"MX": pf.MX, "Submission": pf.Submission, "Exposed": pf.Exposed,
			"RelayHost": o.RelayHost,
		}
		writeTemplate(t, "postfix/main.cf.tmpl", filepath.Join(conf, "main.cf"), data)
		writeTemplate(t, "postfix/master.cf.tmpl", filepath.Join(conf, "master.cf"), data)
		// `postfix check` creates the queue directories with the owners
		// and modes Postfix insists on.
		if r := run(t, runOpts{}, tools["postfix"], "-c", conf, "check"); r.Code != 0 {
			t.Fatalf("postfix -c %s check:\n%s\n%s", conf, r, tail(logFile))
		}
		// master -d stays in the foreground, in the test's process group
		// for its children: no init system needed.
		pf.d = startDaemon(t, dir, fmt.Sprintf("postfix-master-%d", attempt), []string{logFile},
			tools["master"], "-c", conf, "-d")
		return pf.d, pf.d.waitFor(15*time.Second, func() error {
			for _, p := range ports {
				g, err := greeting(net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
				if err != nil {
					return err
				}
				if !strings.HasPrefix(g, "220 mail.example.test ESMTP") {
					return fmt.Errorf("port %d greets %q", p, g)
				}
			}
			return nil
		})
	})
	return pf
}

// tail returns the end of a file, or "" if it cannot be read.
func tail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(data)
}

func TestPostfixProbe(t *testing.T) {
	pf := startPostfix(t)
	portMap := fmt.Sprintf("25=%d,587=%d", pf.MX, pf.Submission)
	args := []string{"probe", "mail.example.test", "--ports", "25,587", "--zone", pf.ZoneFile, "--port-map", portMap, "--timeout", "15s"}

	rep := mailcheckJSON(t, []int{0}, append(slices.Clone(args), "--ca", pf.CAFile)...)
	if bad := rep.atOrAbove(); len(bad) > 0 {
		t.Errorf("Postfix with STARTTLS and smtpd_tls_auth_only: findings at warn or above: %+v\n%s", bad, pf.d.logTail())
	}
	for _, std := range []int{25, 587} {
		subject := "mail.example.test:" + strconv.Itoa(std)
		for _, id := range []string{"conn.ok", "tls.ok"} {
			if !rep.has(id, "pass", subject) {
				t.Errorf("%s: no %s; findings: %v", subject, id, rep.ids())
			}
		}
		if rep.has("auth.plaintext-exposed", "", subject) || rep.has("tls.starttls-missing", "", subject) {
			t.Errorf("%s: %v", subject, rep.ids())
		}
	}
	mx := rep.probeAt(t, "127.0.0.1:"+strconv.Itoa(pf.MX))
	if mx.Protocol != "smtp" || !mx.STARTTLS || !strings.HasPrefix(mx.Banner, "220 mail.example.test ESMTP Postfix") {
		t.Errorf("MX probe: protocol %q starttls %v banner %q; want smtp with STARTTLS and Postfix's banner", mx.Protocol, mx.STARTTLS, mx.Banner)
	}
	if !slices.Contains(mx.CapsBeforeTLS, "STARTTLS") || mx.TLS == nil || !mx.TLS.Verified || !slices.Contains([]string{"TLS1.2", "TLS1.3"}, mx.TLS.Version) {
		t.Errorf("MX probe: caps %v tls %+v; want STARTTLS offered and a verified TLS 1.2+ session", mx.CapsBeforeTLS, mx.TLS)
	}
	sub := rep.probeAt(t, "127.0.0.1:"+strconv.Itoa(pf.Submission))
	if sub.Protocol != "submission" || !sub.STARTTLS || len(sub.AuthBeforeTLS) != 0 || !slices.Contains(sub.AuthAfterTLS, "PLAIN") {
		t.Errorf("submission probe: protocol %q starttls %v auth before %v after %v; want STARTTLS, no AUTH before TLS and PLAIN (Dovecot SASL) after",
			sub.Protocol, sub.STARTTLS, sub.AuthBeforeTLS, sub.AuthAfterTLS)
	}
	if !rep.has("auth.ok", "pass", "mail.example.test:587") {
		t.Errorf("submission: no auth.ok; findings: %v", rep.ids())
	}

	// Without the test CA, the same chain is untrusted: a failure.
	untrusted := mailcheckJSON(t, []int{1}, args...)
	for _, std := range []int{25, 587} {
		if !untrusted.has("tls.cert-untrusted", "fail", "mail.example.test:"+strconv.Itoa(std)) {
			t.Errorf("without --ca: no tls.cert-untrusted fail on port %d; findings: %v", std, untrusted.ids())
		}
	}

	t.Run("auth-before-tls-reported", func(t *testing.T) {
		rep := mailcheckJSON(t, []int{1}, "probe", "mail.example.test:"+strconv.Itoa(pf.Exposed), "--protocol", "submission",
			"--zone", pf.ZoneFile, "--ca", pf.CAFile, "--timeout", "15s")
		p := rep.probeAt(t, "127.0.0.1:"+strconv.Itoa(pf.Exposed))
		if !slices.Contains(p.AuthBeforeTLS, "PLAIN") {
			t.Errorf("smtpd_tls_auth_only=no: auth before TLS %v, want PLAIN", p.AuthBeforeTLS)
		}
		if !rep.has("auth.plaintext-exposed", "", "") {
			t.Errorf("smtpd_tls_auth_only=no: no auth.plaintext-exposed; findings: %v", rep.ids())
		}
	})

	t.Run("swaks-auth-through-dovecot", func(t *testing.T) {
		swaks := needTools(t, "swaks")["swaks"]
		if r := run(t, runOpts{}, swaks, "--support"); !strings.Contains(r.Stdout+r.Stderr, "=== TLS supported") {
			prerequisite(t, "swaks without TLS support (Debian package libnet-ssleay-perl)")
		}
		dv := pf.Dovecot
		for _, tc := range []struct {
			name, password string
			code           int
			reply          string
		}{
			{"right-password", dv.Password, 0, "235 "},
			{"wrong-password", "not-" + dv.Password, 28, "535 "}, // swaks exit 28: AUTH failed
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := run(t, runOpts{Env: []string{"SWAKS_OPT_auth_password=" + tc.password}}, swaks,
					"--server", "127.0.0.1:"+strconv.Itoa(pf.Submission), "--timeout", "15",
					"--tls", "--tls-verify", "--tls-ca-path", pf.CAFile, "--tls-sni", "mail.example.test",
					"--auth", "PLAIN", "--auth-user", dv.User, "--quit-after", "AUTH")
				if r.Code != tc.code || !strings.Contains(r.Stdout, tc.reply) {
					t.Errorf("swaks AUTH PLAIN on Postfix submission: want exit %d and %q\n%s\n%s", tc.code, tc.reply, r, dv.LogTail())
				}
			})
		}
	})
}
