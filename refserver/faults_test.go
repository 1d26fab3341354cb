package refserver

import (
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// peerChain connects to an implicit-TLS port without verifying and
// returns what the server sent, then what verification says about it.
func peerChain(t *testing.T, s *Server, port int) ([]*x509.Certificate, error) {
	t.Helper()
	tc := tlsClientNoVerify(t, s, port)
	chain := tc.ConnectionState().PeerCertificates
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{DNSName: s.MailHost(), Roots: s.CA().Pool(), Intermediates: inter})
	return chain, err
}

func tlsClientNoVerify(t *testing.T, s *Server, port int) *tls.Conn {
	t.Helper()
	cfg := clientTLS(s)
	cfg.InsecureSkipVerify = true
	tc := tls.Client(dial(t, s, port), cfg)
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake on %d: %v", port, err)
	}
	return tc
}

func TestHealthyChainVerifies(t *testing.T) {
	s := startScenario(t, "default")
	for _, p := range []int{PortSMTPS, PortIMAPS, PortPOP3S, PortHTTPS} {
		chain, err := peerChain(t, s, p)
		if err != nil {
			t.Errorf("port %d: %v", p, err)
		}
		if len(chain) != 2 {
			t.Errorf("port %d sends %d certificates, want the leaf and the intermediate", p, len(chain))
		}
		if !slices.Contains(chain[0].DNSNames, "mta-sts.example.test") || !slices.Contains(chain[0].DNSNames, "example.test") {
			t.Errorf("leaf names %v", chain[0].DNSNames)
		}
	}
}

func TestCertificateFaults(t *testing.T) {
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	tests := []struct {
		fault string
		check func(t *testing.T, chain []*x509.Certificate, err error)
	}{
		{FaultCertExpired, func(t *testing.T, chain []*x509.Certificate, err error) {
			if !chain[0].NotAfter.Before(time.Now()) || !errors.As(err, &invalid) || invalid.Reason != x509.Expired {
				t.Errorf("NotAfter %v, verify %v: want expired", chain[0].NotAfter, err)
			}
		}},
		{FaultCertExpiring, func(t *testing.T, chain []*x509.Certificate, err error) {
			left := time.Until(chain[0].NotAfter)
			if err != nil || left < 9*24*time.Hour || left > 11*24*time.Hour {
				t.Errorf("expires in %v (verify %v), want ~10 days and valid", left, err)
			}
		}},
		{FaultCertSelfSigned, func(t *testing.T, chain []*x509.Certificate, err error) {
			leaf := chain[0]
			selfSigned := leaf.Issuer.String() == leaf.Subject.String() &&
				leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature) == nil
			if len(chain) != 1 || !selfSigned || !errors.As(err, &unknownAuthority) {
				t.Errorf("chain of %d, verify %v: want one self-signed certificate", len(chain), err)
			}
		}},
		{FaultCertUnknownCA, func(t *testing.T, chain []*x509.Certificate, err error) {
			if !errors.As(err, &unknownAuthority) || chain[0].Issuer.CommonName == "mailcheck reference intermediate CA" {
				t.Errorf("issuer %q, verify %v: want an unknown authority", chain[0].Issuer.CommonName, err)
			}
		}},
		{FaultCertWrongName, func(t *testing.T, chain []*x509.Certificate, err error) {
			if !errors.As(err, &hostname) {
				t.Errorf("names %v, verify %v: want a host name error", chain[0].DNSNames, err)
			}
		}},
		{FaultCertMissingIntermediate, func(t *testing.T, chain []*x509.Certificate, err error) {
			if len(chain) != 1 || !errors.As(err, &unknownAuthority) {
				t.Errorf("chain of %d, verify %v: want the leaf alone, unverifiable", len(chain), err)
			}
		}},
		{FaultCertWeakKey, func(t *testing.T, chain []*x509.Certificate, err error) {
			k, ok := chain[0].PublicKey.(*rsa.PublicKey)
			if !ok || k.N.BitLen() != 1024 || err != nil {
				t.Errorf("key %T, verify %v: want a valid certificate with a 1024-bit RSA key", chain[0].PublicKey, err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fault, func(t *testing.T) {
			s := withFault(t, tt.fault)
			for _, p := range []int{PortSMTPS, PortIMAPS, PortPOP3S} {
				chain, err := peerChain(t, s, p)
				tt.check(t, chain, err)
			}
			// STARTTLS ports carry the same certificate.
			c, err := smtp.NewClientStartTLS(dial(t, s, PortSubmission), &tls.Config{InsecureSkipVerify: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Noop(); err != nil {
				t.Fatal(err)
			}
			st, _ := c.TLSConnectionState()
			c.Close()
			if !st.PeerCertificates[0].Equal(mustChain(t, s, PortIMAPS)[0]) {
				t.Error("587 serves another certificate than 993")
			}
			// The MTA-STS host keeps a good certificate unless 443 is named.
			if _, err := peerChain(t, s, PortHTTPS); err != nil {
				t.Errorf("HTTPS certificate: %v", err)
			}
		})
	}
}

func mustChain(t *testing.T, s *Server, port int) []*x509.Certificate {
	chain, _ := peerChain(t, s, port)
	return chain
}

func TestCertificateFaultOnOnePort(t *testing.T) {
	s := withFault(t, FaultCertExpired, PortSubmission)
	if _, err := peerChain(t, s, PortIMAPS); err != nil {
		t.Errorf("993 without the fault: %v", err)
	}
	c, err := smtp.NewClientStartTLS(dial(t, s, PortSubmission), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.TLSConnectionState(); !st.PeerCertificates[0].NotAfter.Before(time.Now()) {
		t.Error("587 does not serve the expired certificate")
	}
}

func TestTLSLegacy(t *testing.T) {
	legacy := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}
	for _, tt := range []struct {
		name  string
		fault bool
	}{{"healthy refuses TLS 1.0", false}, {"tls-legacy accepts TLS 1.0", true}} {
		t.Run(tt.name, func(t *testing.T) {
			s := startScenario(t, "default")
			if tt.fault {
				s = withFault(t, FaultTLSLegacy)
			}
			for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
				cfg := legacy.Clone()
				cfg.MinVersion, cfg.MaxVersion = v, v
				tc := tls.Client(dial(t, s, PortIMAPS), cfg)
				err := tc.Handshake()
				if tt.fault && (err != nil || tc.ConnectionState().Version != v) {
					t.Errorf("%s: %v", tls.VersionName(v), err)
				}
				if !tt.fault && err == nil {
					t.Errorf("%s handshake succeeded against a healthy server", tls.VersionName(v))
				}
			}
		})
	}
}

func TestNoSTARTTLS(t *testing.T) {
	s := withFault(t, FaultNoSTARTTLS)
	for _, p := range []int{PortSMTP, PortSubmission} {
		if ok, _ := smtpClient(t, s, p).Extension("STARTTLS"); ok {
			t.Errorf("%d offers STARTTLS", p)
		}
	}
	ic, err := imapclient.DialInsecure(s.addr(PortIMAP), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ic.Close()
	if caps, err := ic.Capability().Wait(); err != nil || caps.Has(imap.CapStartTLS) {
		t.Errorf("143 caps %v (%v): STARTTLS offered", caps, err)
	}
	d := newDialogue(t, dial(t, s, PortPOP3))
	d.line()
	d.send("CAPA")
	d.line()
	if caps := d.multi(); slices.Contains(caps, "STLS") {
		t.Errorf("110 CAPA %q offers STLS", caps)
	}
	if r := d.cmd("STLS"); !strings.HasPrefix(r, "-ERR") {
		t.Errorf("STLS: %q", r)
	}
}

func TestAuthBeforeTLS(t *testing.T) {
	s := withFault(t, FaultAuthBeforeTLS)
	c := smtpClient(t, s, PortSubmission)
	if ok, mechs := c.Extension("AUTH"); !ok || !strings.Contains(mechs, "PLAIN") {
		t.Fatalf("587 before TLS: AUTH %v %q, want PLAIN offered", ok, mechs)
	}
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePwd)); err != nil {
		t.Fatalf("AUTH in plaintext: %v", err)
	}
	ic, err := imapclient.DialInsecure(s.addr(PortIMAP), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ic.Close()
	caps, err := ic.Capability().Wait()
	if err != nil || caps.Has(imap.CapLoginDisabled) || !slices.Contains(caps.AuthMechanisms(), "PLAIN") {
		t.Fatalf("143 before TLS: caps %v (%v), want AUTH=PLAIN without LOGINDISABLED", caps, err)
	}
	if err := ic.Login(alice, alicePwd).Wait(); err != nil {
		t.Fatalf("LOGIN in plaintext: %v", err)
	}
	d := newDialogue(t, dial(t, s, PortPOP3))
	d.line()
	d.send("CAPA")
	d.line()
	if caps := d.multi(); !slices.Contains(caps, "USER") {
		t.Errorf("110 CAPA %q lacks USER", caps)
	}
}

func TestNoAuth(t *testing.T) {
	s := withFault(t, FaultNoAuth)
	if ok, mechs := smtpStartTLS(t, s, PortSubmission).Extension("AUTH"); ok {
		t.Errorf("587 after TLS offers AUTH %q", mechs)
	}
	d := newDialogue(t, dialTLS(t, s, PortPOP3S))
	d.line()
	d.send("CAPA")
	d.line()
	if caps := d.multi(); slices.Contains(caps, "USER") || slices.ContainsFunc(caps, func(c string) bool { return strings.HasPrefix(c, "SASL") }) {
		t.Errorf("995 CAPA %q offers a login", caps)
	}
	// IMAP: healthy before TLS, LOGINDISABLED and no AUTH= after it.
	ic := imapStartTLS(t, s)
	caps, err := ic.Capability().Wait()
	if err != nil || !caps.Has(imap.CapLoginDisabled) || len(caps.AuthMechanisms()) != 0 || caps.Has(imap.CapStartTLS) {
		t.Errorf("143 after TLS: caps %v (%v), want LOGINDISABLED and no AUTH=", caps, err)
	}
	var ie *imap.Error
	if err := ic.Login(alice, alicePwd).Wait(); !errors.As(err, &ie) || ie.Type != imap.StatusResponseTypeNo {
		t.Errorf("LOGIN after TLS: %v, want NO", err)
	}
}

// imapStartTLS logs nothing in: it checks the plaintext greeting of 143 is
// a healthy one and upgrades the connection.
func imapStartTLS(t *testing.T, s *Server) *imapclient.Client {
	t.Helper()
	plain, err := imapclient.DialInsecure(s.addr(PortIMAP), nil)
	if err != nil {
		t.Fatal(err)
	}
	caps, err := plain.Capability().Wait()
	plain.Close()
	if err != nil || !caps.Has(imap.CapStartTLS) || !caps.Has(imap.CapLoginDisabled) || len(caps.AuthMechanisms()) != 0 {
		t.Fatalf("143 before TLS: caps %v (%v), want STARTTLS LOGINDISABLED", caps, err)
	}
	ic, err := imapclient.DialStartTLS(s.addr(PortIMAP), &imapclient.Options{TLSConfig: clientTLS(s)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ic.Close() })
	return ic
}

func TestOAuthOnly(t *testing.T) {
	s := withFault(t, FaultOAuthOnly)
	c := smtpStartTLS(t, s, PortSubmission)
	if ok, mechs := c.Extension("AUTH"); !ok || mechs != "XOAUTH2 OAUTHBEARER" {
		t.Errorf("587 after TLS: AUTH %q, want XOAUTH2 OAUTHBEARER only", mechs)
	}
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePwd)); smtpCode(err) != 504 {
		t.Errorf("AUTH PLAIN: %v, want 504", err)
	}
	d := newDialogue(t, dialTLS(t, s, PortPOP3S))
	d.line()
	d.send("CAPA")
	d.line()
	if caps := d.multi(); !slices.Contains(caps, "SASL XOAUTH2 OAUTHBEARER") || slices.Contains(caps, "USER") {
		t.Errorf("995 CAPA %q", caps)
	}
	ic := imapStartTLS(t, s)
	caps, err := ic.Capability().Wait()
	// go-imap keeps capabilities in a map: compare the mechanisms as a set.
	mechs := caps.AuthMechanisms()
	slices.Sort(mechs)
	if err != nil || !caps.Has(imap.CapLoginDisabled) || !slices.Equal(mechs, []string{"OAUTHBEARER", "XOAUTH2"}) {
		t.Errorf("143 after TLS: caps %v (%v), want AUTH=XOAUTH2 AUTH=OAUTHBEARER LOGINDISABLED", caps, err)
	}
	err = ic.Authenticate(sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: alice, Token: "not-a-token"}))
	var ie *imap.Error
	if !errors.As(err, &ie) || ie.Code != imap.ResponseCodeAuthenticationFailed {
		t.Errorf("AUTHENTICATE OAUTHBEARER: %v, want NO [AUTHENTICATIONFAILED]", err)
	}
	ic2, err := imapclient.DialTLS(s.addr(PortIMAPS), &imapclient.Options{TLSConfig: clientTLS(s)})
	if err != nil {
		t.Fatal(err)
	}
	defer ic2.Close()
	if caps, err := ic2.Capability().Wait(); err != nil || !caps.Has(imap.CapLoginDisabled) || caps.Has(imap.CapStartTLS) {
		t.Errorf("993: caps %v (%v)", caps, err)
	}
}

func TestBusy421(t *testing.T) {
	s := withFault(t, FaultBusy)
	for _, tt := range []struct {
		port int
		want string
	}{
		{PortSMTP, "421 4.3.2 Service not available, try again later"},
		{PortIMAP, "* BYE [UNAVAILABLE] "},
		{PortPOP3, "-ERR [SYS/TEMP] "},
	} {
		d := newDialogue(t, dial(t, s, tt.port))
		if g := d.line(); !strings.HasPrefix(g, tt.want) {
			t.Errorf("%d greeting %q, want %q", tt.port, g, tt.want)
		}
		if _, err := d.r.ReadString('\n'); err != io.EOF {
			t.Errorf("%d: connection not closed after the busy greeting (%v)", tt.port, err)
		}
	}
	d := newDialogue(t, dialTLS(t, s, PortSMTPS))
	if g := d.line(); !strings.HasPrefix(g, "421 ") {
		t.Errorf("465 greeting %q", g)
	}
}

func TestTarpit(t *testing.T) {
	s := withFault(t, FaultTarpit, PortSMTP)
	start := time.Now()
	d := newDialogue(t, dial(t, s, PortSMTP))
	if g := d.line(); !strings.HasPrefix(g, "220 ") {
		t.Fatalf("greeting %q", g)
	}
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Errorf("greeting after %v, want at least the 300ms tarpit delay", waited)
	}
	start = time.Now()
	newDialogue(t, dial(t, s, PortSubmission)).line()
	if waited := time.Since(start); waited > 250*time.Millisecond {
		t.Errorf("587 (not in the fault's ports) greeted after %v", waited)
	}
}

func TestTLSOnPlainPort(t *testing.T) {
	s := withFault(t, FaultTLSOnPlainPort)
	for _, tt := range []struct {
		port int
		want string
	}{{PortSMTP, "220 "}, {PortSubmission, "220 "}, {PortIMAP, "* OK "}, {PortPOP3, "+OK"}} {
		d := newDialogue(t, dialTLS(t, s, tt.port))
		if g := d.line(); !strings.HasPrefix(g, tt.want) {
			t.Errorf("%d: greeting inside TLS %q", tt.port, g)
		}
	}
}

func TestPlainOnTLSPort(t *testing.T) {
	s := withFault(t, FaultPlainOnTLSPort)
	for _, tt := range []struct {
		port int
		want string
	}{{PortSMTPS, "220 "}, {PortIMAPS, "* OK "}, {PortPOP3S, "+OK"}} {
		d := newDialogue(t, dial(t, s, tt.port))
		if g := d.line(); !strings.HasPrefix(g, tt.want) {
			t.Errorf("%d: plaintext greeting %q", tt.port, g)
		}
	}
}

func TestCloseMidSTARTTLS(t *testing.T) {
	s := withFault(t, FaultCloseMidSTARTTLS)
	for _, tt := range []struct {
		port     int
		cmd, ok  string
		preamble []string
	}{
		{PortSubmission, "STARTTLS", "220 ", []string{"EHLO client.example.test"}},
		{PortIMAP, "a1 STARTTLS", "a1 OK", nil},
		{PortPOP3, "STLS", "+OK", nil},
	} {
		d := newDialogue(t, dial(t, s, tt.port))
		d.line()
		for _, p := range tt.preamble {
			d.send(p)
			d.smtpReply()
		}
		if r := d.cmd(tt.cmd); !strings.HasPrefix(r, tt.ok) {
			t.Errorf("%d: %s answered %q", tt.port, tt.cmd, r)
		}
		tc := tls.Client(d.c, clientTLS(s))
		if err := tc.Handshake(); err == nil {
			t.Errorf("%d: TLS handshake succeeded after STARTTLS", tt.port)
		}
	}
}

// loginReplies logs in with the right password over TLS on 587, 993 and
// 995 and returns the three refusals.
func loginReplies(t *testing.T, s *Server) (smtpErr *smtp.SMTPError, imapErr *imap.Error, pop3 string) {
	t.Helper()
	err := smtpStartTLS(t, s, PortSubmission).Auth(sasl.NewPlainClient("", alice, alicePwd))
	if !errors.As(err, &smtpErr) {
		t.Fatalf("SMTP AUTH: %v, want a refusal", err)
	}
	ic, err := imapclient.DialTLS(s.addr(PortIMAPS), &imapclient.Options{TLSConfig: clientTLS(s)})
	if err != nil {
		t.Fatal(err)
	}
	defer ic.Close()
	if err := ic.Login(alice, alicePwd).Wait(); !errors.As(err, &imapErr) {
		t.Fatalf("IMAP LOGIN: %v, want a refusal", err)
	}
	d := newDialogue(t, dialTLS(t, s, PortPOP3S))
	d.line()
	d.cmd("USER " + alice)
	return smtpErr, imapErr, d.cmd("PASS " + alicePwd)
}

func TestLoginFaults(t *testing.T) {
	tests := []struct {
		fault    string
		smtp     smtp.EnhancedCode
		smtpCode int
		smtpText string
		imap     imap.ResponseCode
		imapText string
		pop3     string
	}{
		{FaultAppPasswordRequired, smtp.EnhancedCode{5, 7, 9}, 534, "Application-specific password required",
			imap.ResponseCodeAuthenticationFailed, "Application-specific password required", "-ERR [AUTH] Application-specific password required"},
		{FaultBasicAuthDisabled, smtp.EnhancedCode{5, 7, 139}, 535, "basic authentication is disabled",
			imap.ResponseCodeAuthenticationFailed, "basic authentication is disabled", "-ERR [AUTH] "},
		{FaultAccountLocked, smtp.EnhancedCode{4, 7, 0}, 454, "",
			imap.ResponseCodeUnavailable, "", "-ERR [SYS/TEMP] "},
	}
	for _, tt := range tests {
		t.Run(tt.fault, func(t *testing.T) {
			s := withFault(t, tt.fault)
			se, ie, pop3 := loginReplies(t, s)
			if se.Code != tt.smtpCode || se.EnhancedCode != tt.smtp || !strings.Contains(se.Message, tt.smtpText) {
				t.Errorf("SMTP: %d %v %q", se.Code, se.EnhancedCode, se.Message)
			}
			if ie.Code != tt.imap || !strings.Contains(ie.Text, tt.imapText) {
				t.Errorf("IMAP: [%s] %q", ie.Code, ie.Text)
			}
			if !strings.HasPrefix(pop3, tt.pop3) {
				t.Errorf("POP3: %q", pop3)
			}
		})
	}
}

func TestAppPasswordReplyIsMultiline(t *testing.T) {
	s := withFault(t, FaultAppPasswordRequired, PortSubmission)
	d := newDialogue(t, dial(t, s, PortSubmission))
	d.line()
	d.send("EHLO client.example.test")
	d.smtpReply()
	d.cmd("STARTTLS")
	d.startTLS(s)
	d.send("EHLO client.example.test")
	d.smtpReply()
	d.send("AUTH PLAIN " + b64("\x00"+alice+"\x00"+alicePwd))
	r := d.smtpReply()
	if len(r) != 2 || !strings.HasPrefix(r[0], "534-5.7.9 Application-specific password required") || !strings.HasPrefix(r[1], "534 5.7.9 ") {
		t.Fatalf("reply %q", r)
	}
}

func TestTLSRequired(t *testing.T) {
	s := withFault(t, FaultTLSRequired)
	c := smtpClient(t, s, PortSubmission)
	if ok, _ := c.Extension("AUTH"); ok {
		t.Error("587 advertises AUTH before TLS")
	}
	err := c.Auth(sasl.NewPlainClient("", alice, alicePwd))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 530 || se.EnhancedCode != (smtp.EnhancedCode{5, 7, 0}) || se.Message != "Must issue a STARTTLS command first" {
		t.Errorf("SMTP AUTH before TLS: %v", err)
	}
	ic, err := imapclient.DialInsecure(s.addr(PortIMAP), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ic.Close()
	if caps, _ := ic.Capability().Wait(); caps.Has(imap.CapLoginDisabled) {
		t.Error("143 advertises LOGINDISABLED: the fault is a server that takes LOGIN and refuses it")
	}
	err = ic.Login(alice, alicePwd).Wait()
	var ie *imap.Error
	if !errors.As(err, &ie) || ie.Code != imap.ResponseCodePrivacyRequired {
		t.Errorf("IMAP LOGIN before TLS: %v", err)
	}
	d := newDialogue(t, dial(t, s, PortPOP3))
	d.line()
	if r := d.cmd("USER alice"); r != "-ERR [AUTH] TLS required" {
		t.Errorf("POP3 USER before TLS: %q", r)
	}
	// After TLS the account works.
	if err := smtpStartTLS(t, s, PortSubmission).Auth(sasl.NewPlainClient("", alice, alicePwd)); err != nil {
		t.Errorf("AUTH after TLS: %v", err)
	}
}

// The hand-written IMAP responder bounds lines as the POP3 server does:
// BYE, then close (RFC 9051 §7.1.5).
func TestOAuthOnlyIMAPBoundsCommandLines(t *testing.T) {
	s := withFault(t, FaultOAuthOnly)
	d := newDialogue(t, dial(t, s, PortIMAP))
	d.line()
	if r := d.cmd("a1 NOOP " + strings.Repeat("x", 10000)); !strings.HasPrefix(r, "* BYE") {
		t.Fatalf("overlong line: %q, want * BYE", r)
	}
	if _, err := d.r.ReadString('\n'); err == nil {
		t.Fatal("connection still open after an overlong line")
	}
}
