package integration

// Tier 2: mailcheck's SMTP probes against Postfix.

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
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

	"github.com/mailcheck-cli/mailcheck/pki"
)

// postfixInstance is a running Postfix: smtpd services for the MX and
// submission roles, and a misconfigured one that offers AUTH before TLS.
type postfixInstance struct {
	MX, Submission, Exposed int // ports on 127.0.0.1
	// DHELegacy accepts TLS 1.0 and 1.1 with DHE suites only; DHEOnly
	// speaks TLS 1.2 with DHE suites only (both with an RSA certificate).
	DHELegacy, DHEOnly int
	CAFile             string
	ZoneFile           string // example.test zone: mail.example.test A 127.0.0.1
	Dovecot            *dovecotInstance
	d                  *daemon
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
	rsaKey, rsaCert := rsaLeaf(t, dir, tp, "mail.example.test")
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
		ports := freePorts(t, "127.0.0.1", 5)
		pf.MX, pf.Submission, pf.Exposed, pf.DHELegacy, pf.DHEOnly = ports[0], ports[1], ports[2], ports[3], ports[4]
		data := map[string]any{
			"Dir": dir, "KeyFile": tp.KeyFile, "CertFile": tp.CertFile, "AuthSocket": dv.AuthSocket,
			"RSAKeyFile": rsaKey, "RSACertFile": rsaCert,
			"MX": pf.MX, "Submission": pf.Submission, "Exposed": pf.Exposed, "DHELegacy": pf.DHELegacy, "DHEOnly": pf.DHEOnly,
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

// rsaLeaf issues an RSA leaf from the test PKI's intermediate (DHE_RSA
// suites need an RSA key) and writes it with its chain; it returns the
// key and chain files.
func rsaLeaf(t *testing.T, dir string, tp testPKI, names ...string) (keyFile, certFile string) {
	t.Helper()
	leaf, err := tp.Authority.Issue(pki.LeafOptions{Names: names, RSABits: 2048})
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
	keyFile, certFile = filepath.Join(dir, "rsa-key.pem"), filepath.Join(dir, "rsa-cert.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, chain.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return keyFile, certFile
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
	// One certificate on both ports: one finding naming both.
	if !untrusted.has("tls.cert-untrusted", "fail", "mail.example.test:25,587") {
		t.Errorf("without --ca: no tls.cert-untrusted fail for ports 25 and 587; findings: %v", untrusted.ids())
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

	// Issue 10: a server that accepts TLS 1.0 and 1.1 only with DHE suites
	// was reported as not accepting them (crypto/tls offers no DHE).
	t.Run("dhe-only-legacy-reported", func(t *testing.T) {
		rep := mailcheckJSON(t, []int{0}, "probe", "mail.example.test", "--ports", "25", "--zone", pf.ZoneFile,
			"--port-map", fmt.Sprintf("25=%d", pf.DHELegacy), "--ca", pf.CAFile, "--timeout", "20s")
		subject := "mail.example.test:25"
		if !rep.has("tls.version-legacy", "warn", subject) || !rep.has("tls.ok", "pass", subject) {
			t.Fatalf("DHE-only TLS 1.0/1.1: want tls.version-legacy warn beside tls.ok; findings: %v\n%s", rep.ids(), pf.d.logTail())
		}
		for _, f := range rep.Findings {
			if f.ID == "tls.version-legacy" && !(strings.Contains(f.Title, "TLS1.0") && strings.Contains(f.Title, "TLS1.1")) {
				t.Errorf("title %q names not both versions", f.Title)
			}
		}
		p := rep.probeAt(t, "127.0.0.1:"+strconv.Itoa(pf.DHELegacy))
		if !slices.Equal(p.LegacyTLS, []string{"TLS1.0", "TLS1.1"}) {
			t.Errorf("legacy_tls %v", p.LegacyTLS)
		}
		if p.TLSScan == nil || !slices.ContainsFunc(p.TLSScan.Suites, func(s scanSuite) bool {
			return s.Version == "TLS1.0" && strings.HasPrefix(s.Name, "TLS_DHE_RSA_WITH_AES_")
		}) {
			t.Errorf("no TLS1.0 DHE suite in the scan: %+v", p.TLSScan)
		}
	})

	// A TLS 1.2 server with DHE suites only completes no handshake with
	// crypto/tls: the finding says why, and the scan's first flight still
	// shows the version, suite and chain.
	t.Run("dhe-only-tls12-named", func(t *testing.T) {
		rep := mailcheckJSON(t, []int{1}, "probe", "mail.example.test", "--ports", "25", "--zone", pf.ZoneFile,
			"--port-map", fmt.Sprintf("25=%d", pf.DHEOnly), "--ca", pf.CAFile, "--timeout", "20s")
		var title string
		for _, f := range rep.Findings {
			if f.ID == "tls.handshake-failed" && f.Severity == "fail" {
				title = f.Title
			}
		}
		if !strings.Contains(title, "only DHE suites") {
			t.Errorf("tls.handshake-failed title %q; findings %v\n%s", title, rep.ids(), pf.d.logTail())
		}
		p := rep.probeAt(t, "127.0.0.1:"+strconv.Itoa(pf.DHEOnly))
		if p.TLS == nil || p.TLS.Version != "TLS1.2" || !strings.HasPrefix(p.TLS.Cipher, "TLS_DHE_RSA_") || !p.TLS.Verified {
			t.Errorf("partial TLS state %+v", p.TLS)
		}
	})

	// Postfix keeps anonymous suites on port 25 by default (opportunistic
	// TLS): reported, at info only.
	t.Run("anonymous-suites-on-25", func(t *testing.T) {
		rep := mailcheckJSON(t, []int{0}, append(slices.Clone(args), "--ca", pf.CAFile)...)
		if !rep.has("tls.cipher-weak", "info", "mail.example.test:25") || rep.has("tls.cipher-weak", "", "mail.example.test:587") {
			t.Errorf("want aNULL at info on 25 and nothing on 587 (aNULL excluded); findings: %v", rep.ids())
		}
	})
}
