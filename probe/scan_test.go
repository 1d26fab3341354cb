package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailcheck-cli/mailcheck/dialer"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/fixtures"
	"github.com/mailcheck-cli/mailcheck/pki"
	"github.com/mailcheck-cli/mailcheck/probe/tlswire"
)

// The kinds of suites the scan offers one by one cover the suite table
// exactly once each, so no suite is offered twice and none is left out.
func TestSuiteKindsPartition(t *testing.T) {
	for _, s := range tlswire.Suites() {
		var kinds []string
		for _, k := range suiteKinds {
			if k.match(s) {
				kinds = append(kinds, k.name)
			}
		}
		if len(kinds) != 1 {
			t.Errorf("%s belongs to kinds %v, want exactly one", s.Name, kinds)
		}
	}
}

// A bare close after a ClientHello is a refusal only from a server that
// speaks TLS on other connections; otherwise nothing can be told.
func TestSettleClosedHello(t *testing.T) {
	sc := &tlsScanner{}
	if a := sc.settle(helloAnswer{result: helloClosed}); a.result != helloInconclusive || a.why.IsZero() {
		t.Errorf("close from a server never heard in TLS: %+v", a)
	}
	sc.spoken.Store(true)
	if a := sc.settle(helloAnswer{result: helloClosed}); a.result != helloRefused {
		t.Errorf("close from a server that speaks TLS: %+v", a)
	}
}

// findingWith returns the first finding with id, severity and a subject
// containing subject.
func findingWith(fs []finding.Finding, id string, sev finding.Severity, subject string) (finding.Finding, bool) {
	for _, f := range fs {
		if f.ID == id && f.Severity == sev && strings.Contains(f.Subject, subject) {
			return f, true
		}
	}
	return finding.Finding{}, false
}

// Each scenario of issue 10 names what really happened: the finding's ID
// and severity, and the reason in its title (a word a user would look for).
func TestScenarioReasons(t *testing.T) {
	tests := []struct {
		scenario string
		id       string
		sev      finding.Severity
		subject  string
		reason   []string // each must appear in the title
	}{
		{"tls-legacy-dhe", "tls.version-legacy", finding.Warn, ":587", []string{"TLS1.0", "TLS1.1", "still accepted"}},
		{"tls-dhe-only", "tls.handshake-failed", finding.Fail, ":587", []string{"only DHE suites"}},
		{"tls-weak-ciphers", "tls.cipher-weak", finding.Fail, ":993", []string{"NULL", "EXPORT", "DES", "RC4", "3DES", "aNULL"}},
		{"tls-anon", "tls.cipher-weak", finding.Info, ":25", []string{"anonymous", "opportunistic"}},
		{"tls-anon", "tls.cipher-weak", finding.Fail, ":587", []string{"aNULL"}},
		{"tls-no-fs", "tls.no-forward-secrecy", finding.Warn, ":143", []string{"no forward secrecy"}},
		{"cert-bad-signature", "tls.cert-bad-signature", finding.Fail, ":25,465,587,110,995,143,993", []string{"signature", "does not verify"}},
		{"cert-missing-intermediate", "tls.chain-incomplete", finding.Fail, ":25,", []string{"does not send the intermediate", "fetched"}},
		{"cert-unknown-ca", "tls.cert-untrusted", finding.Fail, ":25,", []string{"root", "not a trusted CA"}},
		{"cert-revoked", "tls.cert-revoked", finding.Fail, ":25,", []string{"revoked", "OCSP"}},
		{"garbage-after-starttls", "tls.handshake-failed", finding.Fail, ":25", []string{"plaintext", "instead of a TLS handshake"}},
		{"garbage-after-starttls", "tls.handshake-failed", finding.Fail, ":110", []string{"STLS", "plaintext"}},
		{"long-lines", "conn.limit", finding.Error, ":143", []string{"mailcheck stopped reading", "longer than 4096 bytes", "inconclusive"}},
		{"http-on-mail-port", "conn.protocol", finding.Fail, ":25", []string{"HTTP server", "HTTP/1.1 400"}},
		{"busy-421", "conn.rate-limited", finding.Error, ":25", []string{"busy", "421"}},
	}
	results := map[string][]finding.Finding{}
	for _, tt := range tests {
		t.Run(tt.scenario+tt.subject, func(t *testing.T) {
			fs, ok := results[tt.scenario]
			if !ok {
				srv, o := startRef(t, loadScenario(t, tt.scenario), 1500*time.Millisecond, 5*time.Second)
				_, fs = Host(context.Background(), o, srv.MailHost(), nil, "")
				results[tt.scenario] = fs
			}
			f, ok := findingWith(fs, tt.id, tt.sev, tt.subject)
			if !ok {
				t.Fatalf("no %s at %s on %q in %v", tt.id, tt.sev, tt.subject, titles(fs))
			}
			for _, r := range tt.reason {
				if !strings.Contains(f.Title, r) {
					t.Errorf("%s title %q does not say %q", tt.id, f.Title, r)
				}
			}
			// The misreadings issue 10 found must not come back.
			for _, g := range fs {
				if strings.Contains(g.Subject, tt.subject) &&
					(strings.Contains(g.Title, "closed the connection") || strings.Contains(g.Title, "expects implicit TLS")) {
					t.Errorf("misread: %s %s", g.ID, g.Title)
				}
			}
		})
	}
}

func titles(fs []finding.Finding) []string {
	var out []string
	for _, f := range fs {
		if f.Severity > finding.Pass {
			out = append(out, f.ID+" "+f.Severity.String()+" "+f.Subject+": "+f.Title)
		}
	}
	return out
}

// A certificate problem is said once, for every port that serves the
// certificate, and tls.ok is not said for a port whose certificate has a
// warning — while the other ports, with their own certificate, keep theirs.
func TestCertificateProblemOncePerCertificate(t *testing.T) {
	srv, o := startRef(t, loadScenario(t, "cert-expiring"), 2*time.Second, time.Minute)
	_, fs := Host(context.Background(), o, srv.MailHost(), nil, "")
	var expiring []finding.Finding
	for _, f := range fs {
		switch f.ID {
		case "tls.cert-expiring":
			expiring = append(expiring, f)
		case "tls.ok":
			t.Errorf("tls.ok beside a warning about the same certificate: %s", f.Subject)
		}
	}
	if len(expiring) != 1 || expiring[0].Subject != "mail.example.test:25,465,587,110,995,143,993" {
		t.Errorf("tls.cert-expiring: %v", titles(expiring))
	}

	sc := loadScenario(t, fixtures.Default, fixtures.Fault{Name: "cert-expiring", Ports: []int{993}})
	srv, o = startRef(t, sc, 2*time.Second, time.Minute)
	_, fs = Host(context.Background(), o, srv.MailHost(), nil, "")
	if f, ok := findingWith(fs, "tls.cert-expiring", finding.Warn, ""); !ok || f.Subject != "mail.example.test:993" {
		t.Errorf("expiring on 993 only: %v", titles(fs))
	}
	for _, p := range DefaultPorts {
		subject := fmt.Sprintf("mail.example.test:%d", p)
		_, ok := findingWith(fs, "tls.ok", finding.Pass, subject)
		if ok != (p != 993) {
			t.Errorf("%s: tls.ok %v", subject, ok)
		}
	}
}

// What a probe saw before it stopped stays in its record, and in JSON.
func TestPartialResultsKept(t *testing.T) {
	probeOf := func(t *testing.T, scenario string, port int) finding.Probe {
		srv, o := startRef(t, loadScenario(t, scenario), 2*time.Second, time.Minute)
		pr, _ := Run(context.Background(), o, Target{Host: srv.MailHost(), Port: port})
		return pr
	}
	t.Run("DHE only: the chain and suite from the scan", func(t *testing.T) {
		pr := probeOf(t, "tls-dhe-only", 587)
		if pr.Status != StatusTLSFailed || pr.TLS == nil || pr.TLS.Version != "TLS1.2" || !strings.Contains(pr.TLS.Cipher, "_DHE_RSA_") ||
			len(pr.TLS.Chain) != 2 || !pr.TLS.Verified || pr.TLS.Chain[0].KeyType != "RSA" {
			t.Errorf("status %s, TLS %+v", pr.Status, pr.TLS)
		}
		if !strings.HasPrefix(pr.Banner, "220 ") || !pr.StartTLS || pr.TLSScan == nil {
			t.Errorf("banner %q starttls %v scan %v", pr.Banner, pr.StartTLS, pr.TLSScan)
		}
		b, err := json.Marshal(pr)
		if err != nil || !strings.Contains(string(b), `"cipher":"TLS_DHE_RSA_`) || !strings.Contains(string(b), `"tls_scan":`) {
			t.Errorf("JSON: %s %v", b, err)
		}
	})
	t.Run("long greeting: its start", func(t *testing.T) {
		pr := probeOf(t, "long-lines", 25)
		if pr.Status != StatusLimit || !strings.HasPrefix(pr.Banner, "220 mail.example.test") {
			t.Errorf("status %s banner %.60q", pr.Status, pr.Banner)
		}
	})
	t.Run("garbage after STARTTLS: banner and capabilities", func(t *testing.T) {
		pr := probeOf(t, "garbage-after-starttls", 143)
		if pr.Status != StatusTLSFailed || !strings.HasPrefix(pr.Banner, "* OK") || !slices.Contains(pr.CapsBeforeTLS, "STARTTLS") {
			t.Errorf("status %s banner %q caps %v", pr.Status, pr.Banner, pr.CapsBeforeTLS)
		}
	})
	t.Run("legacy DHE: the versions and suites", func(t *testing.T) {
		pr := probeOf(t, "tls-legacy-dhe", 995)
		if !slices.Equal(pr.LegacyTLS, []string{"TLS1.0", "TLS1.1"}) || pr.TLSScan == nil {
			t.Fatalf("legacy %v scan %v", pr.LegacyTLS, pr.TLSScan)
		}
		var dhe bool
		for _, s := range pr.TLSScan.Suites {
			dhe = dhe || (s.Version == "TLS1.0" && strings.HasPrefix(s.Name, "TLS_DHE_RSA_") && s.ForwardSecrecy && s.DHBits == 2048)
		}
		if !dhe {
			t.Errorf("no TLS1.0 DHE suite with a 2048-bit group in %+v", pr.TLSScan.Suites)
		}
	})
	t.Run("stapled OCSP", func(t *testing.T) {
		if pr := probeOf(t, fixtures.Default, 465); pr.TLS == nil || pr.TLS.OCSP == nil || pr.TLS.OCSP.Status != "good" {
			t.Errorf("default: TLS %+v", pr.TLS)
		}
		if pr := probeOf(t, "cert-revoked", 465); pr.TLS == nil || pr.TLS.OCSP == nil || pr.TLS.OCSP.Status != "revoked" {
			t.Errorf("revoked: TLS %+v", pr.TLS)
		}
	})
}

// A slow server that still accepts TLS 1.0/1.1 is reported as such when
// time allows (issue 10: it got no finding at all).
func TestSlowServerLegacyTLS(t *testing.T) {
	sc := loadScenario(t, fixtures.Default, fixtures.Fault{Name: "slow"}, fixtures.Fault{Name: "tls-legacy"})
	srv, o := startRef(t, sc, 2*time.Second, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, fs := Run(ctx, o, Target{Host: srv.MailHost(), Port: 587})
	wantFindings(t, fs, map[string]finding.Severity{"conn.ok": finding.Pass, "tls.ok": finding.Pass, "auth.ok": finding.Pass,
		"tls.version-legacy": finding.Warn})
}

// countingServer serves its first connection with first and every later
// one with rest: a server that behaves once, then not (busy, silent).
func countingServer(t *testing.T, p testPKI, first scripted, rest func(net.Conn)) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	cfg := &tls.Config{Certificates: []tls.Certificate{p.cert}, MinVersion: tls.VersionTLS10}
	var n atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if n.Add(1) == 1 {
				go first.handle(c, cfg)
				continue
			}
			go func() {
				defer c.Close()
				rest(c)
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// An attempt that could not complete is inconclusive, never "not
// accepted": a server that accepts TLS 1.0 (on its first connection) and
// then stays busy, stays silent, or outlasts the run gets an error-level
// finding that says why, instead of no finding.
func TestScanInconclusive(t *testing.T) {
	tests := []struct {
		name    string
		rest    func(net.Conn)
		step    time.Duration
		timeout time.Duration
		reason  string
	}{
		{name: "421 that persists", step: 300 * time.Millisecond, timeout: 3 * time.Second, reason: "busy",
			rest: func(c net.Conn) { c.Write([]byte("421 4.7.0 Too many concurrent connections\r\n")) }},
		{name: "silent", step: 300 * time.Millisecond, timeout: 10 * time.Second, reason: "no answer at the greeting",
			rest: func(c net.Conn) { c.SetDeadline(time.Now().Add(5 * time.Second)); c.Read(make([]byte, 1)) }},
		{name: "run deadline", step: 5 * time.Second, timeout: 800 * time.Millisecond, reason: "time limit ran out",
			rest: func(c net.Conn) { c.SetDeadline(time.Now().Add(5 * time.Second)); c.Read(make([]byte, 1)) }},
		{name: "reset before the hello", step: 300 * time.Millisecond, timeout: 5 * time.Second, reason: "closed the connection at the greeting",
			rest: func(net.Conn) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestPKI(t, pki.LeafOptions{})
			port := countingServer(t, p, smtpServer("250-STARTTLS\r\n", "", upgrade), tt.rest)
			o := testOptions(p.roots, tt.step, map[int]int{25: port})
			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()
			start := time.Now()
			pr, fs := Run(ctx, o, target(25))
			if d := time.Since(start); d > tt.timeout+time.Second {
				t.Errorf("took %v for a %v budget", d, tt.timeout)
			}
			f, ok := findingWith(fs, "tls.version-legacy", finding.Error, "")
			if !ok {
				t.Fatalf("no inconclusive tls.version-legacy: %v", titles(fs))
			}
			if !strings.Contains(f.Title, "inconclusive") || !strings.Contains(f.Title, tt.reason) {
				t.Errorf("title %q does not say inconclusive and %q", f.Title, tt.reason)
			}
			if _, ok := findingWith(fs, "tls.version-legacy", finding.Warn, ""); ok {
				t.Error("a version reported accepted that no attempt saw")
			}
			if pr.TLSScan == nil || !slices.ContainsFunc(pr.TLSScan.Versions, func(v finding.TLSVersionResult) bool {
				return v.Version == "TLS1.0" && v.Result == "inconclusive" && v.Detail != ""
			}) {
				t.Errorf("scan record %+v", pr.TLSScan)
			}
			// The probe's own handshake worked: that part stays.
			if pr.Status != StatusOK || pr.TLS == nil || !pr.TLS.Verified {
				t.Errorf("status %s TLS %+v", pr.Status, pr.TLS)
			}
		})
	}
}

// mailcheck's own bounds are named as such: conn.limit, never "the server
// closed the connection".
func TestOwnLimitsNamed(t *testing.T) {
	manyLines := strings.Repeat("250-X-FILLER\r\n", 150)
	imapLiteral := scripted{
		greeting: "* OK ready\r\n",
		respond: func(cmd string, secure bool) (string, action) {
			if strings.HasSuffix(strings.ToUpper(cmd), "CAPABILITY") {
				return fmt.Sprintf("* CAPABILITY IMAP4rev1 STARTTLS {%d}\r\n", 200000), carryOn
			}
			return "", hangUp
		},
	}
	tests := []struct {
		name   string
		srv    scripted
		port   int
		reason string
	}{
		{"EHLO of 150 lines", smtpServer(manyLines, "", carryOn), 587, "more than 100 lines"},
		{"IMAP literal of 200000 bytes", imapLiteral, 143, "IMAP literal of 200000 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestPKI(t, pki.LeafOptions{})
			port := tt.srv.start(t, p)
			o := testOptions(p.roots, 2*time.Second, map[int]int{tt.port: port})
			pr, fs := Run(context.Background(), o, target(tt.port))
			f, ok := findingWith(fs, "conn.limit", finding.Error, "")
			if !ok || !strings.Contains(f.Title, tt.reason) {
				t.Fatalf("no conn.limit saying %q: %v", tt.reason, titles(fs))
			}
			if pr.Status != StatusLimit || pr.Banner == "" {
				t.Errorf("status %s banner %q", pr.Status, pr.Banner)
			}
		})
	}
}

// The AIA fetch tells a missing intermediate (then the chain verifies)
// from a URL that does not answer, and reads DER, PEM and PKCS#7.
func TestChainFromAIA(t *testing.T) {
	root, err := pki.NewRoot("aia test root")
	if err != nil {
		t.Fatal(err)
	}
	inter, err := root.NewIntermediate("aia test intermediate")
	if err != nil {
		t.Fatal(err)
	}
	formats := map[string][]byte{
		"der":   inter.Cert.Raw,
		"pem":   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: inter.Cert.Raw}),
		"p7c":   degeneratePKCS7(t, inter.Cert.Raw),
		"other": []byte("<html>not found</html>"),
	}
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := formats[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(web.Close)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + closed.Addr().String() + "/der"
	closed.Close()

	for _, tt := range []struct {
		url, id, title string
	}{
		{web.URL + "/der", "tls.chain-incomplete", "does not send the intermediate"},
		{web.URL + "/pem", "tls.chain-incomplete", "does not send the intermediate"},
		{web.URL + "/p7c", "tls.chain-incomplete", "does not send the intermediate"},
		{web.URL + "/other", "tls.cert-untrusted", "could not be fetched"},
		{web.URL + "/missing", "tls.cert-untrusted", "could not be fetched"},
		{deadURL, "tls.cert-untrusted", "could not be fetched"},
	} {
		t.Run(tt.url, func(t *testing.T) {
			leaf, err := inter.Issue(pki.LeafOptions{Names: []string{"mail.example.test"}, OmitChain: true, IssuerURL: tt.url})
			if err != nil {
				t.Fatal(err)
			}
			v := handshakeView{Version: tls.VersionTLS13, Certs: []*x509.Certificate{leaf.Leaf}, Complete: true}
			o := Options{Dialer: &dialer.Dialer{Roots: root.Pool(), StepTimeout: 2 * time.Second}}
			cv := newRunState().verdict(context.Background(), o, "mail.example.test", v)
			fs := cv.findingsFor("mail.example.test:25")
			if len(fs) != 1 || fs[0].ID != tt.id || fs[0].Severity != finding.Fail || !strings.Contains(fs[0].Title, tt.title) {
				t.Errorf("%v", titles(fs))
			}
		})
	}
}

// degeneratePKCS7 wraps a certificate in a certs-only SignedData, as CAs
// publish .p7c files (RFC 2315 §9.1, RFC 5652 §5.1).
func degeneratePKCS7(t *testing.T, cert []byte) []byte {
	t.Helper()
	mustMarshal := func(v any) []byte {
		b, err := asn1.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	data := mustMarshal(struct{ OID asn1.ObjectIdentifier }{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}})
	sd := mustMarshal(struct {
		Version     int
		Digests     asn1.RawValue
		ContentInfo asn1.RawValue
		Certs       asn1.RawValue
		Signers     asn1.RawValue
	}{
		Version:     1,
		Digests:     asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true},
		ContentInfo: asn1.RawValue{FullBytes: data},
		Certs:       asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: cert},
		Signers:     asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true},
	})
	return mustMarshal(struct {
		OID     asn1.ObjectIdentifier
		Content asn1.RawValue
	}{
		OID:     asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2},
		Content: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: sd},
	})
}

// The hello the scan sends after STARTTLS is what a server reads first:
// no leftover of the dialogue before it (RFC 3207 §4.2).
func TestHelloAfterSTARTTLS(t *testing.T) {
	p := newTestPKI(t, pki.LeafOptions{})
	got := make(chan []byte, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		c.Write([]byte("220 ready\r\n"))
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			switch strings.ToUpper(strings.TrimSpace(line))[:4] {
			case "EHLO":
				c.Write([]byte("250-mail.example.test\r\n250 STARTTLS\r\n"))
			case "STAR":
				c.Write([]byte("220 go ahead\r\n"))
				hdr := make([]byte, 5)
				if _, err := r.Read(hdr); err == nil {
					got <- hdr
				}
				return
			}
		}
	}()
	o := testOptions(p.roots, 2*time.Second, map[int]int{25: ln.Addr().(*net.TCPAddr).Port})
	a := helloOnce(context.Background(), o, target(25), helloFor("mail.example.test", tlswire.VersionTLS12, tlswire.Suites()))
	select {
	case hdr := <-got:
		if hdr[0] != tlswire.RecordHandshake || hdr[1] != 3 {
			t.Errorf("first bytes after STARTTLS: % x", hdr)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no ClientHello after STARTTLS")
	}
	if a.result != helloClosed {
		t.Errorf("a server that hangs up after the hello: %+v", a)
	}
}

// A server that greets only late is slow, not another protocol: the
// ClientHello of the implicit-TLS check meets its greeting on a second
// connection, and the timeout stays a timeout.
func TestLateGreetingIsNotAnotherProtocol(t *testing.T) {
	p := newTestPKI(t, pki.LeafOptions{})
	port := countingServer(t, p, scripted{}, func(c net.Conn) {
		c.Write([]byte("220 mail.example.test ESMTP late\r\n"))
		c.SetDeadline(time.Now().Add(2 * time.Second))
		c.Read(make([]byte, 512))
	})
	o := testOptions(p.roots, 300*time.Millisecond, map[int]int{25: port})
	pr, fs := Run(context.Background(), o, target(25))
	f, ok := findingWith(fs, "conn.timeout", finding.Error, "")
	if !ok || !strings.Contains(strings.Join(f.Evidence, "\n"), "slow to greet") {
		t.Errorf("findings %v", titles(fs))
	}
	if _, bad := findingWith(fs, "conn.protocol", finding.Fail, ""); bad || pr.Status != StatusTimeout {
		t.Errorf("status %s, findings %v", pr.Status, titles(fs))
	}
}
