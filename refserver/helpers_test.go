package refserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailcheck-cli/mailcheck/fixtures"
)

const (
	alice    = "alice@example.test"
	alicePwd = "correct horse battery staple"
)

// startScenario starts the named scenario on free loopback ports.
func startScenario(t *testing.T, name string, faults ...fixtures.Fault) *Server {
	t.Helper()
	sc, err := fixtures.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	sc.Faults = append(sc.Faults, faults...)
	srv, err := Start(context.Background(), Options{Scenario: sc, TarpitDelay: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// withFault starts the default scenario with one fault switched on.
func withFault(t *testing.T, name string, ports ...int) *Server {
	t.Helper()
	return startScenario(t, fixtures.Default, fixtures.Fault{Name: name, Ports: ports})
}

func (s *Server) addr(stdPort int) string {
	return net.JoinHostPort(s.host, strconv.Itoa(s.portMap[stdPort]))
}

// clientTLS is what a well-configured client uses: the server's CA, the
// mail host name, TLS 1.2 and up.
func clientTLS(s *Server) *tls.Config {
	return &tls.Config{RootCAs: s.CA().Pool(), ServerName: s.MailHost(), MinVersion: tls.VersionTLS12}
}

func dial(t *testing.T, s *Server, stdPort int) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.addr(stdPort), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

func dialTLS(t *testing.T, s *Server, stdPort int) *tls.Conn {
	t.Helper()
	tc := tls.Client(dial(t, s, stdPort), clientTLS(s))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake on %d: %v", stdPort, err)
	}
	return tc
}

// dialogue is a raw line-based conversation for POP3 and fault checks.
type dialogue struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func newDialogue(t *testing.T, c net.Conn) *dialogue {
	return &dialogue{t: t, c: c, r: bufio.NewReader(c)}
}

func (d *dialogue) line() string {
	d.t.Helper()
	l, err := d.r.ReadString('\n')
	if err != nil {
		d.t.Fatalf("reading a reply: %v (got %q)", err, l)
	}
	return strings.TrimRight(l, "\r\n")
}

func (d *dialogue) send(cmd string) {
	d.t.Helper()
	if _, err := d.c.Write([]byte(cmd + "\r\n")); err != nil {
		d.t.Fatalf("sending %q: %v", strings.Fields(cmd)[0], err)
	}
}

// cmd sends a command and returns the first reply line.
func (d *dialogue) cmd(cmd string) string {
	d.t.Helper()
	d.send(cmd)
	return d.line()
}

// multi reads the lines of a multi-line POP3 reply up to ".".
func (d *dialogue) multi() []string {
	d.t.Helper()
	var out []string
	for {
		l := d.line()
		if l == "." {
			return out
		}
		out = append(out, l)
	}
}

// smtpReply reads a possibly multi-line SMTP reply.
func (d *dialogue) smtpReply() []string {
	d.t.Helper()
	var out []string
	for {
		l := d.line()
		out = append(out, l)
		if len(l) < 4 || l[3] != '-' {
			return out
		}
	}
}

// startTLS upgrades the dialogue's connection.
func (d *dialogue) startTLS(s *Server) *tls.ConnectionState {
	d.t.Helper()
	tc := tls.Client(d.c, clientTLS(s))
	if err := tc.Handshake(); err != nil {
		d.t.Fatalf("TLS handshake after STARTTLS: %v", err)
	}
	d.c, d.r = tc, bufio.NewReader(tc)
	st := tc.ConnectionState()
	return &st
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
