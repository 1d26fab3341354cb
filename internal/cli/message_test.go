package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/refserver"
)

func TestMessageUsageErrors(t *testing.T) {
	dir := t.TempDir()
	notMail := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notMail, []byte("Hello,\nplease find my question below.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"empty standard input", "", []string{"message"}, "empty input"},
		{"missing file", "", []string{"message", filepath.Join(dir, "nope.eml")}, "no such file"},
		{"not a message", "", []string{"message", notMail}, "does not start with mail header fields"},
		{"bad trusted hop", "From: a@example.com\n\nhi\n", []string{"message", "-", "--trusted-hop", "mx example com"}, "--trusted-hop"},
		{"two files", "", []string{"message", "a.eml", "b.eml"}, "accepts at most 1 arg"},
		{"bad format", "From: a@example.com\n\nhi\n", []string{"message", "-", "--format", "yaml"}, "--format"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runStdin(t, tt.stdin, nil, tt.args...)
			if r.code != ExitUsage || !strings.Contains(r.errOut, tt.want) || strings.Count(strings.TrimSpace(r.errOut), "\n") > 0 {
				t.Errorf("exit %d, stderr %q; want exit 2 and one line with %q", r.code, r.errOut, tt.want)
			}
		})
	}
}

// sampleFile serves a message scenario and writes the message its MX
// delivered to a file.
func sampleFile(t *testing.T, scenario string) (string, *refserver.Server) {
	t.Helper()
	srv, _, _ := serveScenario(t, scenario)
	data, ok, err := srv.SampleMessage()
	if err != nil || !ok {
		t.Fatalf("SampleMessage: %v %v", ok, err)
	}
	file := filepath.Join(t.TempDir(), "sample.eml")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return file, srv
}

func TestMessageFormats(t *testing.T) {
	file, srv := sampleFile(t, "message-key-missing")
	r := run(t, nil, "message", file, "--resolver", srv.DNSAddr(), "--format", "json")
	if r.code != ExitFindings {
		t.Fatalf("exit %d, want 1: %s%s", r.code, r.errOut, r.out)
	}
	rep := decodeReport(t, r.out)
	if !hasFinding(rep, "msg.dkim-key-missing", finding.Fail) || !hasFinding(rep, "msg.ok", finding.Pass) {
		t.Errorf("findings: %+v", rep.Findings)
	}
	m := rep.Message
	if m == nil || len(m.DKIM) != 2 || m.DKIM[0].Reason != "key-missing" || m.SPF == nil || m.SPF.Result != "pass" ||
		m.DMARC == nil || m.DMARC.Result != "pass" || len(m.Route) != 1 || len(m.AuthResults) != 1 {
		t.Fatalf("message section: %+v", m)
	}

	text := run(t, nil, "message", file, "--resolver", srv.DNSAddr(), "--lang", "fr")
	for _, want := range []string{"Parcours, du relais le plus ancien au plus récent", "Aucune clé DKIM à mailcheck-rsa._domainkey.example.test", "[msg.dkim-key-missing]", "Objet :"} {
		if !strings.Contains(text.out, want) {
			t.Errorf("French text lacks %q:\n%s", want, text.out)
		}
	}
	md := run(t, nil, "message", file, "--resolver", srv.DNSAddr(), "--format", "markdown")
	for _, want := range []string{"### Message", "### Route, oldest hop first", "| DKIM | d=example.test s=mailcheck-rsa", "`msg.dkim-key-missing`"} {
		if !strings.Contains(md.out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.out)
		}
	}
}

// TestMessageHeadersOnlyFromStdin: what support staff paste most, the
// headers alone, through standard input.
func TestMessageHeadersOnlyFromStdin(t *testing.T) {
	file, srv := sampleFile(t, "message-ok")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	head, _, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	r := runStdin(t, strings.ReplaceAll(string(head), "\r\n", "\n"), nil, "message", "-", "--resolver", srv.DNSAddr(), "--format", "json")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s%s", r.code, r.errOut, r.out)
	}
	rep := decodeReport(t, r.out)
	if rep.Target != "stdin" || !rep.Message.HeadersOnly || !hasFinding(rep, "msg.headers-only", finding.Info) ||
		!hasFinding(rep, "msg.dkim-unverifiable", finding.Info) {
		t.Errorf("target %q, headers only %v, findings %+v", rep.Target, rep.Message.HeadersOnly, rep.Findings)
	}
}

// lockedBuffer is written by the server's goroutines and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServeReceive: serve --receive keeps what its MX accepts, prints the
// command that analyses it, and that command works.
func TestServeReceive(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &lockedBuffer{}
	ready := make(chan *refserver.Server, 1)
	dir := t.TempDir()
	done := make(chan error, 1)
	go func() {
		done <- serveRun(ctx, &ServeOptions{
			IO: &IOStreams{Out: out, ErrOut: out, Getenv: os.Getenv}, Scenario: "default",
			CAOut: filepath.Join(dir, "ca.pem"), Receive: true, ReceiveDir: filepath.Join(dir, "received"),
			Ready: func(s *refserver.Server) { ready <- s },
		})
	}()
	var srv *refserver.Server
	select {
	case srv = <-ready:
	case err := <-done:
		t.Fatalf("serve stopped: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not start")
	}
	addr := ""
	for _, ep := range srv.Endpoints() {
		if ep.StdPort == refserver.PortSMTP {
			addr = ep.Addr
		}
	}
	msg := "From: Carol <carol@example.test>\r\nTo: bob@example.test\r\nSubject: receive test\r\n" +
		"Date: Tue, 03 Mar 2026 10:00:00 +0000\r\nMessage-ID: <receive@example.test>\r\n\r\nHello\r\n"
	sendMail(t, srv, addr, "carol@example.test", "bob@example.test", msg)
	var line string
	deadline := time.Now().Add(10 * time.Second)
	for line == "" && time.Now().Before(deadline) {
		for _, l := range strings.Split(out.String(), "\n") {
			if _, cmd, ok := strings.Cut(l, "analyse it: mailcheck "); ok {
				line = strings.TrimSpace(cmd)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if line == "" {
		t.Fatalf("no analysis command printed:\n%s", out.String())
	}
	r := run(t, nil, append(strings.Fields(line), "--format", "json")...)
	rep := decodeReport(t, r.out)
	// Unsigned, from 127.0.0.1 which the example.test SPF record lists:
	// SPF carries DMARC.
	if r.code != ExitOK || !hasFinding(rep, "msg.dkim-none", finding.Warn) || rep.Message.SPF == nil ||
		rep.Message.SPF.Result != "pass" || rep.Message.DMARC.Result != "pass" || rep.Message.Subject != "receive test" {
		t.Errorf("exit %d: %+v %+v", r.code, rep.Findings, rep.Message)
	}
	if len(rep.Message.Route) != 1 || rep.Message.Route[0].By != "mail.example.test" || rep.Message.Route[0].TLS != "TLS1.3" {
		t.Errorf("the server's trace is missing: %+v", rep.Message.Route)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// sendMail delivers msg to the server's MX over STARTTLS, trusting its CA.
func sendMail(t *testing.T, srv *refserver.Server, addr, from, to, msg string) {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.StartTLS(&tls.Config{ServerName: srv.MailHost(), RootCAs: srv.CA().Pool()}); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail(from); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(to); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
}

// TestExplainReadsMIMEBounces: `explain -` reads whole notifications with
// the dsn package: Exchange Online's quoted-printable and Gmail's base64
// human parts around the delivery-status part. Each failed recipient gets
// its cause, with the fix of the provider that refused it.
func TestExplainReadsMIMEBounces(t *testing.T) {
	type cause struct{ recipient, id, provider string }
	for file, want := range map[string][]cause{
		"exchange.eml": {{"erin@fabrikam.example", "smtp.recipient-unknown", "microsoft"},
			{"frank@northwind.example", "dmarc.unaligned", ""}},
		"gmail.eml":   {{"heidi@example.net", "smtp.recipient-unknown", ""}},
		"postfix.eml": {{"bob@example.org", "smtp.recipient-unknown", ""}, {"carol@gmail.example", "smtp.sender-unauthenticated", "google"}},
	} {
		data, err := os.ReadFile(filepath.Join("..", "..", "dsn", "testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		r := runStdin(t, string(data), nil, "explain", "-", "--format", "json")
		var ex explanation
		if err := json.Unmarshal([]byte(r.out), &ex); r.code != ExitOK || err != nil {
			t.Fatalf("%s: exit %d, %v\n%s%s", file, r.code, err, r.errOut, r.out)
		}
		if len(ex.Recipients) != len(want) {
			t.Fatalf("%s: recipients %+v, want %v", file, ex.Recipients, want)
		}
		for i, w := range want {
			rc := ex.Recipients[i]
			if rc.Recipient != w.recipient || len(rc.Diagnosis.Candidates) == 0 {
				t.Errorf("%s: recipient %d: %+v, want %v", file, i, rc, w)
				continue
			}
			if c := rc.Diagnosis.Candidates[0]; c.ID != w.id || c.Provider != w.provider {
				t.Errorf("%s: %s: %s with the fix for %q, want %s for %q", file, w.recipient, c.ID, c.Provider, w.id, w.provider)
			}
		}
	}
}
