package refserver

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/fixtures"
)

func smtpClient(t *testing.T, s *Server, port int) *smtp.Client {
	t.Helper()
	c := smtp.NewClient(dial(t, s, port))
	t.Cleanup(func() { c.Close() })
	if err := c.Hello("client.example.test"); err != nil {
		t.Fatal(err)
	}
	return c
}

func smtpStartTLS(t *testing.T, s *Server, port int) *smtp.Client {
	t.Helper()
	c, err := smtp.NewClientStartTLS(dial(t, s, port), clientTLS(s))
	if err != nil {
		t.Fatalf("STARTTLS on %d: %v", port, err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Hello("client.example.test"); err != nil {
		t.Fatal(err)
	}
	return c
}

func smtpCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

func TestSubmissionRequiresTLSThenAuth(t *testing.T) {
	s := startScenario(t, "default")
	c := smtpClient(t, s, PortSubmission)
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Fatal("587 does not offer STARTTLS")
	}
	if ok, _ := c.Extension("AUTH"); ok {
		t.Fatal("587 offers AUTH before TLS")
	}
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePwd)); smtpCode(err) != 530 {
		t.Fatalf("AUTH before TLS: got %v, want 530", err)
	}

	c = smtpStartTLS(t, s, PortSubmission)
	if ok, mechs := c.Extension("AUTH"); !ok || !strings.Contains(mechs, "PLAIN") || !strings.Contains(mechs, "LOGIN") {
		t.Fatalf("AUTH after TLS = %v %q, want PLAIN and LOGIN", ok, mechs)
	}
	if err := c.Mail("alice@example.test", nil); smtpCode(err) != 530 {
		t.Fatalf("MAIL before AUTH: got %v, want 530", err)
	}
	err := c.Auth(sasl.NewPlainClient("", alice, "wrong"))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 535 || se.EnhancedCode != (smtp.EnhancedCode{5, 7, 8}) {
		t.Fatalf("wrong password: got %v, want 535 5.7.8", err)
	}
	// A local part alone names the account too; LOGIN works like PLAIN.
	if err := c.Auth(sasl.NewLoginClient("alice", alicePwd)); err != nil {
		t.Fatalf("AUTH LOGIN: %v", err)
	}
	if err := c.SendMail(alice, []string{"bob@elsewhere.test"}, strings.NewReader("Subject: hi\r\n\r\nhello\r\n")); err != nil {
		t.Fatalf("submission after AUTH: %v", err)
	}
	msgs := s.Messages()
	if len(msgs) != 1 || msgs[0].StdPort != PortSubmission || msgs[0].User != alice || msgs[0].To[0] != "bob@elsewhere.test" {
		t.Fatalf("Messages() = %+v", msgs)
	}
}

func TestSubmissionsImplicitTLS(t *testing.T) {
	s := startScenario(t, "default")
	c := smtp.NewClient(dialTLS(t, s, PortSMTPS))
	defer c.Close()
	if err := c.Hello("client.example.test"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("465 offers STARTTLS inside TLS")
	}
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePwd)); err != nil {
		t.Fatalf("AUTH on 465: %v", err)
	}
}

func TestMXAcceptsLocalMailAndRefusesRelay(t *testing.T) {
	s := startScenario(t, "default")
	if ok, _ := smtpClient(t, s, PortSMTP).Extension("STARTTLS"); !ok {
		t.Fatal("25 does not offer STARTTLS")
	}
	c := smtpStartTLS(t, s, PortSMTP)
	if ok, _ := c.Extension("AUTH"); ok {
		t.Error("the MX offers AUTH")
	}
	if err := c.Mail("sender@remote.test", nil); err != nil {
		t.Fatal(err)
	}
	err := c.Rcpt("victim@elsewhere.test", nil)
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 550 || se.EnhancedCode != (smtp.EnhancedCode{5, 7, 1}) {
		t.Fatalf("relay attempt: got %v, want 550 5.7.1", err)
	}
	if err := c.Rcpt(alice, nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "From: sender@remote.test\r\nSubject: to the MX\r\n\r\nbody\r\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	msgs := s.Messages()
	if len(msgs) != 1 || msgs[0].StdPort != PortSMTP || !strings.Contains(string(msgs[0].Data), "Subject: to the MX") {
		t.Fatalf("Messages() = %+v", msgs)
	}
	// The mail reaches alice's mailbox: her INBOX now holds two messages.
	ic, err := imapclient.DialTLS(s.addr(PortIMAPS), &imapclient.Options{TLSConfig: clientTLS(s)})
	if err != nil {
		t.Fatal(err)
	}
	defer ic.Close()
	if err := ic.Login(alice, alicePwd).Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := ic.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages != 2 {
		t.Errorf("INBOX holds %d messages after delivery, want 2", sel.NumMessages)
	}
}

func TestIMAPSTARTTLSLoginListSelect(t *testing.T) {
	s := startScenario(t, "default")
	plain, err := imapclient.DialInsecure(s.addr(PortIMAP), nil)
	if err != nil {
		t.Fatal(err)
	}
	caps, err := plain.Capability().Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !caps.Has(imap.CapStartTLS) || !caps.Has(imap.CapLoginDisabled) || len(caps.AuthMechanisms()) != 0 {
		t.Fatalf("143 before TLS: caps %v, want STARTTLS and LOGINDISABLED and no AUTH=", caps)
	}
	err = plain.Login(alice, alicePwd).Wait()
	var ie *imap.Error
	if !errors.As(err, &ie) || ie.Code != imap.ResponseCodePrivacyRequired {
		t.Fatalf("LOGIN before TLS: got %v, want NO [PRIVACYREQUIRED]", err)
	}
	plain.Close()

	c, err := imapclient.DialStartTLS(s.addr(PortIMAP), &imapclient.Options{TLSConfig: clientTLS(s)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if caps, err := c.Capability().Wait(); err != nil || !slices.Contains(caps.AuthMechanisms(), "PLAIN") || caps.Has(imap.CapLoginDisabled) {
		t.Fatalf("143 after TLS: caps %v (%v), want AUTH=PLAIN without LOGINDISABLED", caps, err)
	}
	err = c.Login(alice, "wrong").Wait()
	if !errors.As(err, &ie) || ie.Code != imap.ResponseCodeAuthenticationFailed {
		t.Fatalf("wrong password: got %v, want NO [AUTHENTICATIONFAILED]", err)
	}
	if err := c.Login("alice", alicePwd).Wait(); err != nil {
		t.Fatalf("LOGIN with the local part: %v", err)
	}
	boxes, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(boxes) != 1 || boxes[0].Mailbox != "INBOX" {
		t.Fatalf("LIST = %+v, want INBOX", boxes)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages < 1 {
		t.Fatalf("INBOX is empty")
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Envelope: true}).Collect()
	if err != nil || len(msgs) != 1 || !strings.Contains(msgs[0].Envelope.Subject, "Welcome") {
		t.Fatalf("FETCH 1 ENVELOPE = %+v, %v", msgs, err)
	}
}

func TestIMAPSAuthenticatePlain(t *testing.T) {
	s := startScenario(t, "default")
	c, err := imapclient.DialTLS(s.addr(PortIMAPS), &imapclient.Options{TLSConfig: clientTLS(s)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Caps().Has(imap.CapStartTLS) {
		t.Error("993 offers STARTTLS inside TLS")
	}
	if err := c.Authenticate(sasl.NewPlainClient("", alice, alicePwd)); err != nil {
		t.Fatalf("AUTHENTICATE PLAIN on 993: %v", err)
	}
}

func TestPOP3STLSAndMaildrop(t *testing.T) {
	s := startScenario(t, "default")
	d := newDialogue(t, dial(t, s, PortPOP3))
	if g := d.line(); !strings.HasPrefix(g, "+OK") {
		t.Fatalf("greeting %q", g)
	}
	d.send("CAPA")
	if l := d.line(); !strings.HasPrefix(l, "+OK") {
		t.Fatal(l)
	}
	caps := d.multi()
	if !slices.Contains(caps, "STLS") || slices.Contains(caps, "USER") || slices.ContainsFunc(caps, func(c string) bool { return strings.HasPrefix(c, "SASL") }) {
		t.Fatalf("CAPA before TLS = %q, want STLS and neither USER nor SASL", caps)
	}
	if r := d.cmd("USER alice"); !strings.HasPrefix(r, "-ERR [AUTH]") {
		t.Fatalf("USER before TLS: %q, want -ERR [AUTH]", r)
	}
	if r := d.cmd("STLS"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("STLS: %q", r)
	}
	d.startTLS(s)
	d.send("CAPA")
	d.line()
	caps = d.multi()
	if slices.Contains(caps, "STLS") || !slices.Contains(caps, "USER") || !slices.Contains(caps, "SASL PLAIN") {
		t.Fatalf("CAPA after TLS = %q", caps)
	}
	d.cmd("USER alice")
	if r := d.cmd("PASS wrong"); !strings.HasPrefix(r, "-ERR [AUTH]") {
		t.Fatalf("wrong password: %q", r)
	}
	d.cmd("USER " + alice)
	if r := d.cmd("PASS " + alicePwd); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("PASS: %q", r)
	}
	if r := d.cmd("STAT"); !strings.HasPrefix(r, "+OK 1 ") {
		t.Fatalf("STAT: %q, want one message", r)
	}
	if r := d.cmd("RETR 1"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("RETR: %q", r)
	}
	if body := strings.Join(d.multi(), "\n"); !strings.Contains(body, "Subject: Welcome") {
		t.Fatalf("RETR 1 body: %q", body)
	}
	if r := d.cmd("UIDL 1"); !strings.HasPrefix(r, "+OK 1 mc") {
		t.Fatalf("UIDL 1: %q", r)
	}
	d.cmd("TOP 1 0")
	if top := d.multi(); !slices.Contains(top, "") || slices.ContainsFunc(top, func(l string) bool { return strings.HasPrefix(l, "This mailbox") }) {
		t.Fatalf("TOP 1 0 = %q, want the header and the blank line only", top)
	}
	if r := d.cmd("DELE 1"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("DELE: %q", r)
	}
	if r := d.cmd("STAT"); r != "+OK 0 0" {
		t.Fatalf("STAT after DELE: %q", r)
	}
	d.cmd("RSET")
	if r := d.cmd("STAT"); !strings.HasPrefix(r, "+OK 1 ") {
		t.Fatalf("STAT after RSET: %q", r)
	}
	if r := d.cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("QUIT: %q", r)
	}
}

func TestPOP3SAuthPlainAndLock(t *testing.T) {
	s := startScenario(t, "default")
	d := newDialogue(t, dialTLS(t, s, PortPOP3S))
	d.line()
	d.send("CAPA")
	d.line()
	if caps := d.multi(); slices.Contains(caps, "STLS") {
		t.Fatalf("995 offers STLS inside TLS: %q", caps)
	}
	if r := d.cmd("AUTH PLAIN"); r != "+ " {
		t.Fatalf("AUTH PLAIN without initial response: %q, want the empty challenge", r)
	}
	if r := d.cmd(b64("\x00alice\x00" + alicePwd)); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("AUTH PLAIN: %q", r)
	}
	// RFC 1939 §8: a second session on the same maildrop is refused.
	d2 := newDialogue(t, dialTLS(t, s, PortPOP3S))
	d2.line()
	if r := d2.cmd("AUTH PLAIN " + b64("\x00"+alice+"\x00"+alicePwd)); !strings.HasPrefix(r, "-ERR [IN-USE]") {
		t.Fatalf("second session: %q, want -ERR [IN-USE]", r)
	}
	if r := d2.cmd("AUTH PLAIN " + b64("\x00"+alice+"\x00nope")); !strings.HasPrefix(r, "-ERR [AUTH]") {
		t.Fatalf("wrong password: %q, want -ERR [AUTH]", r)
	}
}

func TestPOP3BoundsCommandLines(t *testing.T) {
	s := startScenario(t, "default")
	d := newDialogue(t, dial(t, s, PortPOP3))
	d.line()
	if r := d.cmd("NOOP " + strings.Repeat("x", 10000)); !strings.HasPrefix(r, "-ERR") {
		t.Fatalf("overlong line: %q", r)
	}
	if _, err := d.r.ReadString('\n'); err == nil {
		t.Fatal("connection still open after an overlong line")
	}
}

func TestHTTPSPolicyAndAutoconfig(t *testing.T) {
	s := startScenario(t, "default")
	client := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: s.CA().Pool()},
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, s.addr(PortHTTPS))
			},
		},
	}
	get := func(url string) (*http.Response, string) {
		t.Helper()
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		return resp, string(b)
	}
	resp, body := get("https://mta-sts.example.test/.well-known/mta-sts.txt")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || !strings.Contains(body, "mode: enforce") {
		t.Fatalf("mta-sts.txt: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	for _, url := range []string{
		"https://autoconfig.example.test/mail/config-v1.1.xml",
		"https://example.test/.well-known/autoconfig/mail/config-v1.1.xml",
	} {
		resp, body := get(url)
		if resp.StatusCode != 200 || !strings.Contains(body, "<socketType>SSL</socketType>") || !strings.Contains(body, "<port>993</port>") || !strings.Contains(body, "%EMAILADDRESS%") {
			t.Fatalf("%s: %d %q", url, resp.StatusCode, body)
		}
	}
	if resp, _ := get("https://mail.example.test/.well-known/mta-sts.txt"); resp.StatusCode != 404 {
		t.Errorf("policy on the wrong host: %d, want 404", resp.StatusCode)
	}
}

func TestRefusesNonLoopbackHost(t *testing.T) {
	for _, h := range []string{"0.0.0.0", "192.0.2.1", "::", "example.com"} {
		if srv, err := Start(context.Background(), Options{Host: h}); err == nil {
			srv.Close()
			t.Errorf("Start with Host %q succeeded", h)
		}
	}
}

func TestCloseIsPromptWithClientsConnected(t *testing.T) {
	sc := startScenario(t, "default")
	for _, p := range []int{PortSMTP, PortSubmission, PortIMAP, PortIMAPS, PortPOP3, PortPOP3S, PortHTTPS} {
		dial(t, sc, p)
	}
	// A client stuck mid-command on each protocol.
	c := dial(t, sc, PortPOP3)
	c.Write([]byte("USER al"))
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- sc.Close() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return within 5s")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	if _, err := net.DialTimeout("tcp", sc.addr(PortSMTP), time.Second); err == nil {
		t.Error("port 25 still accepts after Close")
	}
}

func TestDNSAnswersMXOverUDPAndTCP(t *testing.T) {
	s := startScenario(t, "default")
	for _, network := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: network, Timeout: 5 * time.Second}
		q := new(dns.Msg).SetQuestion("example.test.", dns.TypeMX)
		r, _, err := c.Exchange(q, s.DNSAddr())
		if err != nil {
			t.Fatalf("%s: %v", network, err)
		}
		if !r.Authoritative || len(r.Answer) != 1 {
			t.Fatalf("%s: answer %v", network, r)
		}
		if mx, ok := r.Answer[0].(*dns.MX); !ok || mx.Mx != "mail.example.test." {
			t.Fatalf("%s: MX %v", network, r.Answer[0])
		}
	}
	q := new(dns.Msg).SetQuestion("1.0.0.127.in-addr.arpa.", dns.TypePTR)
	r, err := dns.Exchange(q, s.DNSAddr())
	if err != nil || len(r.Answer) != 1 || r.Answer[0].(*dns.PTR).Ptr != "mail.example.test." {
		t.Fatalf("PTR: %v %v", r, err)
	}
}

// TestBasePort lays the ports out as serve --base-port does: each at
// base + standard port. Another process may hold one of them, so a few
// random bases are tried.
func TestBasePort(t *testing.T) {
	var s *Server
	var base int
	var err error
	for range 10 {
		base = 20000 + rand.IntN(20000)
		s, err = Start(context.Background(), Options{BasePort: base})
		if err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("no free base port: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	for _, p := range MailPorts {
		if got := s.PortMap()[p]; got != base+p {
			t.Errorf("port %d on %d, want %d", p, got, base+p)
		}
	}
	if want := net.JoinHostPort("127.0.0.1", strconv.Itoa(base+53)); s.DNSAddr() != want {
		t.Errorf("DNS on %s, want %s", s.DNSAddr(), want)
	}
	if g := newDialogue(t, dial(t, s, PortSMTP)).line(); !strings.HasPrefix(g, "220 mail.example.test ") {
		t.Errorf("greeting on %d: %q", base+25, g)
	}
	if len(s.Endpoints()) != 10 {
		t.Errorf("Endpoints() = %v", s.Endpoints())
	}
}

// Every fault is switched on by a scenario that probes and says what it
// expects (the connection and TLS faults by one named after the fault, the
// login faults by the login-* support cases), and every scenario starts:
// its faults are known and its zones load.
func TestEveryScenarioStarts(t *testing.T) {
	covered := map[string]bool{}
	for _, name := range fixtures.Names() {
		sc, err := fixtures.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := Start(context.Background(), Options{Scenario: sc})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		srv.Close()
		for _, f := range sc.Faults {
			if sc.Probe && len(sc.Expect) > 0 && len(sc.Faults) == 1 {
				covered[f.Name] = true
			}
		}
	}
	for _, f := range Faults {
		if !covered[f] {
			t.Errorf("no probing scenario switches on fault %s alone", f)
		}
	}
}

func TestUnknownFaultIsRefused(t *testing.T) {
	sc, err := fixtures.Load("default")
	if err != nil {
		t.Fatal(err)
	}
	sc.Faults = []fixtures.Fault{{Name: "cert-expird"}}
	if srv, err := Start(context.Background(), Options{Scenario: sc}); err == nil {
		srv.Close()
		t.Fatal("a misspelt fault was accepted")
	}
}
