package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailcheck-cli/mailcheck/dialer"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/pki"
)

// action is what a scripted server does after answering a command.
type action int

const (
	carryOn   action = iota
	upgrade          // start a TLS handshake (after STARTTLS/STLS)
	hangUp           // close the connection
	hangUpTLS        // close instead of handshaking (a reset mid-STARTTLS)
)

// scripted is a small line server: it sends greeting, then answers each
// command with respond. implicit starts with TLS. It stands in for a real
// server in unit tests of the dialogues; the refserver tests cover the
// real thing.
type scripted struct {
	greeting string // "" sends nothing (a silent server)
	implicit bool
	respond  func(cmd string, secure bool) (string, action)
}

type testPKI struct {
	cert  tls.Certificate
	roots *x509.CertPool
}

func newTestPKI(t *testing.T, o pki.LeafOptions) testPKI {
	t.Helper()
	root, err := pki.NewRoot("probe test root")
	if err != nil {
		t.Fatal(err)
	}
	inter, err := root.NewIntermediate("probe test intermediate")
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Names) == 0 {
		o.Names = []string{"mail.example.test"}
	}
	cert, err := inter.Issue(o)
	if err != nil {
		t.Fatal(err)
	}
	return testPKI{cert: cert, roots: root.Pool()}
}

// start listens on loopback and returns the port.
func (s scripted) start(t *testing.T, p testPKI) int {
	t.Helper()
	return startOn(t, s, p, "127.0.0.1", 0)
}

func (s scripted) handle(c net.Conn, cfg *tls.Config) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	secure := false
	if s.implicit {
		tc := tls.Server(c, cfg)
		if tc.Handshake() != nil {
			return
		}
		c, secure = tc, true
	}
	if s.greeting == "" {
		// Silent: wait for the client to give up.
		_, _ = c.Read(make([]byte, 1))
		return
	}
	if _, err := c.Write([]byte(s.greeting)); err != nil {
		return
	}
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		reply, act := s.respond(strings.TrimRight(line, "\r\n"), secure)
		if reply != "" {
			if _, err := c.Write([]byte(reply)); err != nil {
				return
			}
		}
		switch act {
		case hangUp, hangUpTLS:
			return
		case upgrade:
			tc := tls.Server(c, cfg)
			if tc.Handshake() != nil {
				return
			}
			c, r, secure = tc, bufio.NewReader(tc), true
		}
	}
}

// smtpServer answers like a small MTA; tweak adjusts the EHLO keywords.
func smtpServer(before, after string, startTLS action) scripted {
	return scripted{
		greeting: "220 mail.example.test ESMTP ready\r\n",
		respond: func(cmd string, secure bool) (string, action) {
			verb, _, _ := strings.Cut(strings.ToUpper(cmd), " ")
			switch verb {
			case "EHLO":
				ext := before
				if secure {
					ext = after
				}
				return "250-mail.example.test hello\r\n" + ext + "250 8BITMIME\r\n", carryOn
			case "STARTTLS":
				return "220 2.0.0 go ahead\r\n", startTLS
			case "QUIT":
				return "221 bye\r\n", hangUp
			}
			return "502 5.5.1 unknown\r\n", carryOn
		},
	}
}

func testOptions(roots *x509.CertPool, step time.Duration, ports map[int]int) Options {
	d := &dialer.Dialer{PortMap: ports, Roots: roots, StepTimeout: step}
	return Options{Dialer: d, Verbose: true, EHLOName: "probe.example.test"}
}

func target(port int) Target {
	return Target{Host: "mail.example.test", Addr: netip.MustParseAddr("127.0.0.1"), Port: port}
}

// ids maps each finding ID to its severity.
func ids(fs []finding.Finding) map[string]finding.Severity {
	m := map[string]finding.Severity{}
	for _, f := range fs {
		m[f.ID] = f.Severity
	}
	return m
}

func wantFindings(t *testing.T, fs []finding.Finding, want map[string]finding.Severity) {
	t.Helper()
	got := ids(fs)
	for id, sev := range want {
		if s, ok := got[id]; !ok || s != sev {
			t.Errorf("want %s at %s; got %v", id, sev, fs)
		}
	}
	for _, f := range fs {
		if _, ok := want[f.ID]; !ok && f.Severity >= finding.Warn {
			t.Errorf("unexpected %s (%s): %s", f.ID, f.Severity, f.Title)
		}
	}
}

func TestSMTPStartTLSHealthy(t *testing.T) {
	p := newTestPKI(t, pki.LeafOptions{})
	port := smtpServer("250-STARTTLS\r\n", "250-AUTH PLAIN LOGIN\r\n", upgrade).start(t, p)
	o := testOptions(p.roots, 2*time.Second, map[int]int{587: port})
	pr, fs := Run(context.Background(), o, target(587))
	wantFindings(t, fs, map[string]finding.Severity{"conn.ok": finding.Pass, "tls.ok": finding.Pass, "auth.ok": finding.Pass})
	if pr.Status != "ok" || !pr.StartTLS || pr.ImplicitTLS || pr.Protocol != "submission" {
		t.Errorf("probe %+v", pr)
	}
	if !slices.Equal(pr.AuthAfterTLS, []string{"PLAIN", "LOGIN"}) || len(pr.AuthBeforeTLS) != 0 {
		t.Errorf("auth before %v after %v", pr.AuthBeforeTLS, pr.AuthAfterTLS)
	}
	if pr.TLS == nil || !pr.TLS.Verified || pr.TLS.Version != "TLS1.3" || len(pr.TLS.Chain) != 2 {
		t.Fatalf("TLS state %+v", pr.TLS)
	}
	if pr.TLS.Chain[0].KeyType != "ECDSA" || pr.TLS.Chain[0].KeyBits != 256 || !slices.Contains(pr.TLS.Chain[0].DNSNames, "mail.example.test") {
		t.Errorf("leaf %+v", pr.TLS.Chain[0])
	}
	if !strings.HasPrefix(pr.Banner, "220 mail.example.test") {
		t.Errorf("banner %q", pr.Banner)
	}
	if !slices.Contains(pr.CapsBeforeTLS, "STARTTLS") || !slices.Contains(pr.CapsAfterTLS, "AUTH PLAIN LOGIN") {
		t.Errorf("caps before %v after %v", pr.CapsBeforeTLS, pr.CapsAfterTLS)
	}
	tr := strings.Join(pr.Transcript, "\n")
	for _, want := range []string{"S: 220 mail.example.test", "C: EHLO probe.example.test", "C: STARTTLS", "TLS: TLS1.3"} {
		if !strings.Contains(tr, want) {
			t.Errorf("transcript lacks %q:\n%s", want, tr)
		}
	}
	for _, f := range fs {
		if f.Subject != "mail.example.test:587" {
			t.Errorf("subject %q", f.Subject)
		}
	}
}

func TestSMTPFaults(t *testing.T) {
	tests := []struct {
		name   string
		srv    scripted
		port   int
		status string
		want   map[string]finding.Severity
		check  func(t *testing.T, pr finding.Probe)
	}{
		{
			name: "no STARTTLS and AUTH in clear", port: 587, status: "ok",
			srv: smtpServer("250-AUTH PLAIN LOGIN CRAM-MD5\r\n", "", carryOn),
			want: map[string]finding.Severity{"conn.ok": finding.Pass, "tls.starttls-missing": finding.Fail,
				"auth.plaintext-exposed": finding.Fail},
			check: func(t *testing.T, pr finding.Probe) {
				if !slices.Equal(pr.AuthBeforeTLS, []string{"PLAIN", "LOGIN", "CRAM-MD5"}) || pr.StartTLS || pr.TLS != nil {
					t.Errorf("probe %+v", pr)
				}
			},
		},
		{
			name: "MX without STARTTLS", port: 25, status: "ok",
			srv:  smtpServer("", "", carryOn),
			want: map[string]finding.Severity{"conn.ok": finding.Pass, "tls.starttls-missing": finding.Fail, "auth.ok": finding.Pass},
		},
		{
			name: "421 greeting", port: 25, status: "rate-limited",
			srv:  scripted{greeting: "421 4.7.0 mail.example.test too busy\r\n", respond: func(string, bool) (string, action) { return "", hangUp }},
			want: map[string]finding.Severity{"conn.rate-limited": finding.Error},
			check: func(t *testing.T, pr finding.Probe) {
				if !strings.Contains(pr.Banner, "421 4.7.0") {
					t.Errorf("banner %q lost", pr.Banner)
				}
			},
		},
		{
			name: "close after the STARTTLS go-ahead", port: 587, status: "closed",
			srv:  smtpServer("250-STARTTLS\r\n250-AUTH PLAIN\r\n", "", hangUpTLS),
			want: map[string]finding.Severity{"conn.protocol": finding.Fail, "auth.plaintext-exposed": finding.Fail},
			check: func(t *testing.T, pr finding.Probe) {
				if !pr.StartTLS || len(pr.CapsBeforeTLS) == 0 || pr.Banner == "" || !strings.Contains(pr.Error, "TLS handshake") {
					t.Errorf("what was learned before the failure is lost: %+v", pr)
				}
			},
		},
		{
			name: "STARTTLS announced but refused with 454", port: 25, status: "protocol-error",
			srv: scripted{greeting: "220 mx\r\n", respond: func(cmd string, _ bool) (string, action) {
				switch {
				case strings.HasPrefix(cmd, "EHLO"):
					return "250-mx\r\n250 STARTTLS\r\n", carryOn
				case cmd == "STARTTLS":
					return "454 4.7.0 TLS not available due to local problem\r\n", carryOn
				}
				return "221 bye\r\n", hangUp
			}},
			want: map[string]finding.Severity{"tls.handshake-failed": finding.Fail, "auth.ok": finding.Pass},
		},
		{
			name: "554 greeting refuses this client", port: 25, status: "rate-limited",
			srv:  scripted{greeting: "554 5.7.1 your address is listed\r\n", respond: func(string, bool) (string, action) { return "", hangUp }},
			want: map[string]finding.Severity{"conn.rate-limited": finding.Error},
		},
		{
			name: "IMAP greeting on the SMTP port", port: 25, status: "protocol-error",
			srv:  scripted{greeting: "* OK IMAP4rev1 ready\r\n", respond: func(string, bool) (string, action) { return "", hangUp }},
			want: map[string]finding.Severity{"conn.protocol": finding.Fail},
		},
		{
			name: "plaintext on the implicit-TLS port", port: 465, status: "protocol-error",
			srv:  smtpServer("250-STARTTLS\r\n", "", upgrade),
			want: map[string]finding.Severity{"conn.protocol": finding.Fail},
			check: func(t *testing.T, pr finding.Probe) {
				if !strings.HasPrefix(pr.Banner, "220 mail.example.test") {
					t.Errorf("banner %q: the plaintext greeting should be shown", pr.Banner)
				}
			},
		},
		{
			name: "EHLO refused, HELO accepted", port: 25, status: "ok",
			srv: scripted{greeting: "220 old\r\n", respond: func(cmd string, _ bool) (string, action) {
				if strings.HasPrefix(cmd, "HELO ") {
					return "250 old\r\n", carryOn
				}
				if cmd == "QUIT" {
					return "221 bye\r\n", hangUp
				}
				return "500 what\r\n", carryOn
			}},
			want: map[string]finding.Severity{"conn.ok": finding.Pass, "tls.starttls-missing": finding.Fail, "auth.ok": finding.Pass},
		},
	}
	p := newTestPKI(t, pki.LeafOptions{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := tt.srv.start(t, p)
			o := testOptions(p.roots, 2*time.Second, map[int]int{tt.port: port})
			pr, fs := Run(context.Background(), o, target(tt.port))
			wantFindings(t, fs, tt.want)
			if pr.Status != tt.status {
				t.Errorf("status %q (%s), want %q", pr.Status, pr.Error, tt.status)
			}
			if tt.check != nil {
				tt.check(t, pr)
			}
		})
	}
}

func TestRefusedPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	o := testOptions(nil, time.Second, map[int]int{993: port})
	pr, fs := Run(context.Background(), o, target(993))
	wantFindings(t, fs, map[string]finding.Severity{"conn.refused": finding.Fail})
	if pr.Status != "refused" || pr.Protocol != "imaps" {
		t.Errorf("probe %+v", pr)
	}
}

// A silent plaintext port is first waited on for one step, then asked
// for TLS for half a step: the probe ends within 1.5 steps plus slack.
func TestSilentPortTimesOut(t *testing.T) {
	p := newTestPKI(t, pki.LeafOptions{})
	port := scripted{}.start(t, p)
	step := 300 * time.Millisecond
	o := testOptions(p.roots, step, map[int]int{110: port})
	start := time.Now()
	pr, fs := Run(context.Background(), o, target(110))
	if d := time.Since(start); d > step*3/2+500*time.Millisecond {
		t.Errorf("took %v with a %v step", d, step)
	}
	wantFindings(t, fs, map[string]finding.Severity{"conn.timeout": finding.Error})
	if pr.Status != "timeout" {
		t.Errorf("status %q", pr.Status)
	}
}

// Implicit TLS where a plaintext greeting belongs (tls-on-plain-port).
func TestTLSOnPlainPort(t *testing.T) {
	p := newTestPKI(t, pki.LeafOptions{})
	srv := smtpServer("250-STARTTLS\r\n", "", upgrade)
	srv.implicit = true
	port := srv.start(t, p)
	o := testOptions(p.roots, 400*time.Millisecond, map[int]int{587: port})
	_, fs := Run(context.Background(), o, target(587))
	wantFindings(t, fs, map[string]finding.Severity{"conn.protocol": finding.Fail})
}

func TestIMAPStartTLS(t *testing.T) {
	p := newTestPKI(t, pki.LeafOptions{})
	srv := scripted{
		greeting: "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n",
		respond: func(cmd string, secure bool) (string, action) {
			tag, verb, _ := strings.Cut(cmd, " ")
			switch strings.ToUpper(verb) {
			case "STARTTLS":
				return tag + " OK begin TLS\r\n", upgrade
			case "CAPABILITY":
				caps := "IMAP4rev1 STARTTLS LOGINDISABLED"
				if secure {
					caps = "IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2"
				}
				return "* CAPABILITY " + caps + "\r\n" + tag + " OK done\r\n", carryOn
			case "LOGOUT":
				return "* BYE\r\n" + tag + " OK bye\r\n", hangUp
			}
			return tag + " BAD what\r\n", carryOn
		},
	}
	port := srv.start(t, p)
	o := testOptions(p.roots, 2*time.Second, map[int]int{143: port})
	pr, fs := Run(context.Background(), o, target(143))
	wantFindings(t, fs, map[string]finding.Severity{"conn.ok": finding.Pass, "tls.ok": finding.Pass, "auth.ok": finding.Pass})
	// Before TLS: LOGINDISABLED and no AUTH=, so nothing is exposed.
	// After TLS: the LOGIN command is allowed again.
	if len(pr.AuthBeforeTLS) != 0 || !slices.Equal(pr.AuthAfterTLS, []string{"PLAIN", "XOAUTH2", "LOGIN"}) {
		t.Errorf("auth before %v after %v", pr.AuthBeforeTLS, pr.AuthAfterTLS)
	}
}

func TestPOP3UserInClear(t *testing.T) {
	p := newTestPKI(t, pki.LeafOptions{})
	srv := scripted{
		greeting: "+OK POP3 ready <1.2@mail.example.test>\r\n",
		respond: func(cmd string, secure bool) (string, action) {
			switch strings.ToUpper(cmd) {
			case "CAPA":
				return "+OK\r\nTOP\r\nUSER\r\nSTLS\r\n.\r\n", carryOn
			case "STLS":
				return "+OK begin\r\n", upgrade
			case "QUIT":
				return "+OK bye\r\n", hangUp
			}
			return "-ERR what\r\n", carryOn
		},
	}
	port := srv.start(t, p)
	o := testOptions(p.roots, 2*time.Second, map[int]int{110: port})
	pr, fs := Run(context.Background(), o, target(110))
	wantFindings(t, fs, map[string]finding.Severity{"conn.ok": finding.Pass, "tls.ok": finding.Pass, "auth.plaintext-exposed": finding.Fail})
	if !slices.Equal(pr.AuthBeforeTLS, []string{"USER"}) {
		t.Errorf("auth before TLS %v", pr.AuthBeforeTLS)
	}
}

func TestCertificateDefects(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name  string
		leaf  pki.LeafOptions
		host  string
		want  map[string]finding.Severity
		clean bool // tls.ok may be said: nothing at warn or above
		valid bool // a client would accept the chain
	}{
		{name: "expired, wrong name", host: "mail.example.test",
			leaf: pki.LeafOptions{Names: []string{"other.example.test"}, NotBefore: now.AddDate(0, -3, 0), NotAfter: now.AddDate(0, 0, -2)},
			want: map[string]finding.Severity{"tls.cert-expired": finding.Fail, "tls.cert-hostname": finding.Fail}},
		{name: "expiring", host: "mail.example.test",
			leaf: pki.LeafOptions{NotAfter: now.AddDate(0, 0, 10)},
			want: map[string]finding.Severity{"tls.cert-expiring": finding.Warn}, valid: true},
		{name: "self-signed", host: "mail.example.test",
			leaf: pki.LeafOptions{SelfSigned: true},
			want: map[string]finding.Severity{"tls.cert-self-signed": finding.Fail}},
		{name: "missing intermediate without AIA, weak key", host: "mail.example.test",
			leaf: pki.LeafOptions{OmitChain: true, RSABits: 1024},
			want: map[string]finding.Severity{"tls.cert-untrusted": finding.Fail, "tls.weak-key": finding.Fail}},
		{name: "bad signature", host: "mail.example.test",
			leaf: pki.LeafOptions{CorruptSignature: true},
			want: map[string]finding.Severity{"tls.cert-bad-signature": finding.Fail}},
		{name: "healthy", host: "mail.example.test", want: map[string]finding.Severity{}, clean: true, valid: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestPKI(t, tt.leaf)
			chain := make([]*x509.Certificate, len(p.cert.Certificate))
			for i, der := range p.cert.Certificate {
				c, err := x509.ParseCertificate(der)
				if err != nil {
					t.Fatal(err)
				}
				chain[i] = c
			}
			v := handshakeView{Version: tls.VersionTLS13, Certs: chain, Complete: true}
			o := Options{Dialer: &dialer.Dialer{Roots: p.roots, StepTimeout: 2 * time.Second}, Now: func() time.Time { return now }}
			cv := newRunState().verdict(context.Background(), o, tt.host, v)
			fs := cv.findingsFor("mail.example.test:993")
			wantFindings(t, fs, tt.want)
			if cv.clean != tt.clean {
				t.Errorf("clean = %v, want %v", cv.clean, tt.clean)
			}
			if s := tlsState(v, tt.host, p.roots, now); s.Verified != tt.valid || (s.VerifyError == "") != tt.valid {
				t.Errorf("verified = %v (%s), want %v", s.Verified, s.VerifyError, tt.valid)
			}
		})
	}
}
