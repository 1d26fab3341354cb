package integration

// mailcheck message on mail that real MTAs handled: the reference server's
// signed message relayed by Postfix, and swaks' message received by
// `mailcheck serve --receive`.

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/smtp"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// messageReport is the part of a `mailcheck message` JSON report these
// tests read.
type messageReport struct {
	report
	Message struct {
		DKIM []struct {
			Selector, Result, Reason string
		} `json:"dkim"`
		SPF struct {
			IP, Result, TrustedHop string
		} `json:"spf"`
		DMARC struct {
			Result string
		} `json:"dmarc"`
		Route []struct {
			From, By, With, TLS string
		} `json:"route"`
	} `json:"message"`
}

func mailcheckMessage(t *testing.T, wantCode int, args ...string) messageReport {
	t.Helper()
	r := mailcheck(t, append(args, "--format", "json")...)
	if r.Code != wantCode {
		t.Fatalf("mailcheck %s: exit %d, want %d\n%s", strings.Join(args, " "), r.Code, wantCode, r)
	}
	var rep messageReport
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("not a JSON report: %v\n%s", err, r)
	}
	return rep
}

// printedCommand waits for serve to print a line holding marker followed by
// a `mailcheck message` command line, and returns its arguments.
func printedCommand(t *testing.T, s *servedServer, marker string, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		lines := strings.Split(s.Output.String(), "\n")
		for i, l := range lines {
			if !strings.Contains(l, marker) {
				continue
			}
			// The command is on the marker's line or the next one.
			for _, c := range []string{l, strings.Join(lines[i+1:min(i+2, len(lines))], "")} {
				if _, cmd, ok := strings.Cut(c, "mailcheck message "); ok {
					return append([]string{"message"}, strings.Fields(cmd)...)
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("serve printed no %q line within %v:\n%s", marker, timeout, s.Output)
	return nil
}

// TestMessageThroughPostfix: the reference server's DKIM-signed message
// (RSA and Ed25519), sent through the real Postfix and relayed by it to
// `serve --receive`, verifies as pass; the same message with its body
// altered fails with the body-hash reason.
func TestMessageThroughPostfix(t *testing.T) {
	s := startServe(t, "message-ok", "--receive")
	pf := startPostfixWith(t, postfixOptions{RelayHost: "[127.0.0.1]:" + s.port(t, "smtp")})

	sampleArgs := printedCommand(t, s, "The scenario's message", 10*time.Second)
	delivered, err := os.ReadFile(sampleArgs[1])
	if err != nil {
		t.Fatal(err)
	}
	// The message as the server sends it: from its first DKIM-Signature,
	// without the trace its own MX wrote on the sample.
	i := bytes.Index(delivered, []byte("DKIM-Signature:"))
	if i < 0 {
		t.Fatalf("the sample is not signed:\n%s", delivered)
	}
	signed := delivered[i:]

	caPEM, err := os.ReadFile(pf.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	c, err := smtp.Dial("127.0.0.1:" + strconv.Itoa(pf.MX))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	steps := []func() error{
		func() error { return c.Hello("client.example.test") },
		func() error { return c.StartTLS(&tls.Config{ServerName: "mail.example.test", RootCAs: roots}) },
		func() error { return c.Mail("postmaster@example.test") },
		func() error { return c.Rcpt(servedUser) },
		func() error {
			w, err := c.Data()
			if err != nil {
				return err
			}
			if _, err := w.Write(signed); err != nil {
				return err
			}
			return w.Close()
		},
		c.Quit,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("sending to Postfix: %v\n%s", err, pf.d.logTail())
		}
	}

	args := printedCommand(t, s, "analyse it:", 60*time.Second)
	rep := mailcheckMessage(t, 0, args...)
	if bad := rep.atOrAbove(); len(bad) > 0 {
		t.Errorf("relayed by Postfix: findings at warn or above: %+v", bad)
	}
	m := rep.Message
	if len(m.DKIM) != 2 || m.DKIM[0].Result != "pass" || m.DKIM[1].Result != "pass" || m.SPF.Result != "pass" || m.DMARC.Result != "pass" {
		t.Errorf("relayed by Postfix: dkim %+v spf %+v dmarc %+v", m.DKIM, m.SPF, m.DMARC)
	}
	// The route, oldest first: Postfix received it from the test's client
	// over STARTTLS (it says so with UTF8SMTPS, RFC 6531 and RFC 3848; the
	// version only with smtpd_tls_received_header), then handed it to the
	// reference server, whose header gives the version.
	if len(m.Route) != 2 || m.Route[0].From != "client.example.test" || m.Route[0].With != "UTF8SMTPS" ||
		m.Route[0].TLS != "TLS" || m.Route[1].From != "mail.example.test" || !strings.HasPrefix(m.Route[1].TLS, "TLS1.") {
		t.Errorf("route: %+v", m.Route)
	}

	// The same message, its body changed after signing.
	received, err := os.ReadFile(args[1])
	if err != nil {
		t.Fatal(err)
	}
	altered := bytes.Replace(received, []byte("written and DKIM-signed"), []byte("written, DKIM-signed and altered"), 1)
	if bytes.Equal(altered, received) {
		t.Fatalf("the body to alter is not there:\n%s", received)
	}
	file := filepath.Join(t.TempDir(), "altered.eml")
	if err := os.WriteFile(file, altered, 0o600); err != nil {
		t.Fatal(err)
	}
	rep = mailcheckMessage(t, 1, append([]string{"message", file}, args[2:]...)...)
	for _, sel := range []string{"mailcheck-rsa", "mailcheck-ed25519"} {
		if !rep.has("msg.dkim-body-hash", "fail", "DKIM-Signature d=example.test s="+sel) {
			t.Errorf("altered body: no msg.dkim-body-hash for s=%s: %v", sel, rep.ids())
		}
	}
	for _, d := range rep.Message.DKIM {
		if d.Result != "fail" || d.Reason != "body-hash" {
			t.Errorf("altered body: signature %+v", d)
		}
	}
}

// TestSwaksToServeReceive: swaks delivers a message to `serve --receive`,
// which keeps it and prints the command that analyses it.
func TestSwaksToServeReceive(t *testing.T) {
	swaks := needTools(t, "swaks")["swaks"]
	if r := run(t, runOpts{}, swaks, "--support"); !strings.Contains(r.Stdout+r.Stderr, "=== TLS supported") {
		prerequisite(t, "swaks without TLS support (Debian package libnet-ssleay-perl)")
	}
	s := startServe(t, "default", "--receive")
	r := run(t, runOpts{}, swaks, "--timeout", "15", "--server", "127.0.0.1:"+s.port(t, "smtp"),
		"--helo", "client.example.net", "--tls", "--tls-verify", "--tls-ca-path", s.CAFile, "--tls-sni", "mail.example.test",
		"--from", "carol@example.test", "--to", servedUser, "--header", "Subject: swaks to serve --receive")
	if r.Code != 0 {
		t.Fatalf("swaks: exit %d\n%s", r.Code, r)
	}
	args := printedCommand(t, s, "analyse it:", 10*time.Second)
	rep := mailcheckMessage(t, 0, args...)
	// swaks does not sign: DKIM is missing, SPF (127.0.0.1 is example.test's
	// MX) passes and carries DMARC.
	if !rep.has("msg.dkim-none", "warn", "") || rep.Message.SPF.Result != "pass" || rep.Message.DMARC.Result != "pass" {
		t.Errorf("findings %v, spf %+v, dmarc %+v", rep.ids(), rep.Message.SPF, rep.Message.DMARC)
	}
	if len(rep.Message.Route) != 1 || rep.Message.Route[0].From != "client.example.net" || rep.Message.Route[0].TLS == "" {
		t.Errorf("route: %+v", rep.Message.Route)
	}
}
