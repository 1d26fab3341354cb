package refserver

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTP timeouts: RFC 5321 §4.5.3.2.7 gives the server 5 minutes per
// command; a test rig needs far less to notice a vanished client.
const (
	smtpReadTimeout  = 2 * time.Minute
	smtpWriteTimeout = 30 * time.Second
)

// startSMTP serves one SMTP port with go-smtp: 25 is a relay-less MX for
// the scenario's domain (RFC 5321), 587 is submission with STARTTLS
// (RFC 6409, RFC 3207), 465 is implicit-TLS submission (RFC 8314 §3.3).
func (s *Server) startSMTP(ln net.Listener) error {
	port := ln.(*faultListener).port
	srv := smtp.NewServer(&smtpBackend{s: s, port: port})
	srv.Domain = s.MailHost()
	srv.MaxMessageBytes = maxMessageBytes
	srv.MaxRecipients = 50
	// RFC 5321 §4.5.3.1.4: a command line is at most 512 octets; leave room
	// for extension parameters and long SASL initial responses.
	srv.MaxLineLength = 4000
	srv.ReadTimeout = smtpReadTimeout
	srv.WriteTimeout = smtpWriteTimeout
	// Whether AUTH may run before TLS is the session's decision (faults
	// auth-before-tls and tls-required, and the 530 reply of RFC 3207 §4),
	// so go-smtp is told to leave it to the session.
	srv.AllowInsecureAuth = true
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if port != PortSMTPS && !s.fault(FaultNoSTARTTLS, port) && !s.speaksTLS(port) {
		srv.TLSConfig = s.tlsConfig(port)
	}
	s.onClose(func() error {
		srv.Close()
		return nil
	})
	s.goServe(serviceName(port), func() error {
		err := srv.Serve(ln)
		if errors.Is(err, smtp.ErrServerClosed) {
			return nil
		}
		return err
	})
	return nil
}

type smtpBackend struct {
	s    *Server
	port int
}

func (b *smtpBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	_, secure := c.TLSConnectionState()
	return &smtpSession{s: b.s, port: b.port, secure: secure, conn: c}, nil
}

type smtpSession struct {
	s      *Server
	port   int
	secure bool
	user   string // authenticated account
	from   string
	to     []string
	conn   *smtp.Conn
}

var (
	errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	errRelayDenied  = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Relaying denied: this server accepts mail for its own domain only"}
	errSTARTTLS     = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first"}
	// The login-failure faults use the replies of the providers users meet
	// them at, so that `mailcheck explain` and login triage see real text.
	errAppPassword = &smtp.SMTPError{Code: 534, EnhancedCode: smtp.EnhancedCode{5, 7, 9},
		// go-smtp puts the enhanced code on the last line only; the first
		// line carries it in its text so both read "534-5.7.9 ...".
		Message: "5.7.9 Application-specific password required.\nSign in with an app password instead of the account password"}
	errBasicDisabled = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 139}, Message: "Authentication unsuccessful, basic authentication is disabled"}
	errLocked        = &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Temporary authentication failure: the account is locked, try again later"}
)

func (ss *smtpSession) submission() bool { return ss.port != PortSMTP }

// AuthMechanisms is what EHLO advertises (RFC 4954 §3). Healthy: PLAIN and
// LOGIN after TLS on submission ports, nothing on the MX port.
func (ss *smtpSession) AuthMechanisms() []string {
	s, p := ss.s, ss.port
	if !ss.secure && !s.fault(FaultAuthBeforeTLS, p) {
		return nil
	}
	if !ss.submission() && !s.fault(FaultAuthBeforeTLS, p) {
		return nil
	}
	switch {
	case s.fault(FaultNoAuth, p):
		return nil
	case s.fault(FaultOAuthOnly, p):
		return []string{"XOAUTH2", "OAUTHBEARER"}
	}
	return []string{sasl.Plain, sasl.Login}
}

func (ss *smtpSession) Auth(mech string) (sasl.Server, error) {
	if !ss.secure && !ss.s.fault(FaultAuthBeforeTLS, ss.port) {
		// RFC 3207 §4: the server may refuse AUTH until STARTTLS.
		return nil, errSTARTTLS
	}
	offered := false
	for _, m := range ss.AuthMechanisms() {
		offered = offered || strings.EqualFold(m, mech)
	}
	if !offered {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	check := func(user, pass string) error {
		u, out := ss.s.login(ss.port, ss.secure, user, pass)
		switch out {
		case authOK:
			ss.user = u
			return nil
		case authTLSRequired:
			return errSTARTTLS
		case authAppPassword:
			return errAppPassword
		case authBasicDisabled:
			return errBasicDisabled
		case authLocked:
			return errLocked
		}
		return smtp.ErrAuthFailed
	}
	switch strings.ToUpper(mech) {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			// RFC 4616 §2: an authorization identity other than the user
			// would mean acting for someone else; not supported.
			if identity != "" && identity != user {
				return smtp.ErrAuthFailed
			}
			return check(user, pass)
		}), nil
	case sasl.Login:
		return newLoginServer(check), nil
	}
	// XOAUTH2 and OAUTHBEARER (oauth-only fault): no token is ever valid
	// here, the point is what is advertised.
	return rejectServer{err: smtp.ErrAuthFailed}, nil
}

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if ss.submission() && ss.user == "" {
		// RFC 6409 §4.3: submission requires authentication.
		return errAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if !ss.submission() {
		_, dom, _ := strings.Cut(to, "@")
		if !strings.EqualFold(strings.TrimSuffix(dom, "."), ss.s.domain) {
			// RFC 5321 §3.6.2 and §7.1: an MX relays for nobody.
			return errRelayDenied
		}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(io.LimitReader(r, maxMessageBytes+1))
	if err != nil {
		return err
	}
	if len(data) > maxMessageBytes {
		return smtp.ErrDataTooLarge
	}
	now := time.Now()
	// RFC 5321 §4.4: a receiver adds its trace; as the final destination,
	// the return path too.
	state, tlsOn := ss.conn.TLSConnectionState()
	var st *tls.ConnectionState
	if tlsOn {
		st = &state
	}
	trace := ss.s.traceOf(ss.from, ss.conn.Hostname(), ss.conn.Conn().RemoteAddr(), st, ss.user != "", now)
	data = append([]byte(trace), data...)
	ss.s.storeMessage(Message{StdPort: ss.port, User: ss.user, From: ss.from, To: append([]string(nil), ss.to...), Data: data, Received: now})
	ss.s.logf("%s: accepted a message of %d bytes from <%s> for %d recipient(s)", serviceName(ss.port), len(data), ss.from, len(ss.to))
	return nil
}

func (ss *smtpSession) Reset() {
	ss.from, ss.to = "", nil
}

func (ss *smtpSession) Logout() error { return nil }

// loginServer is the server side of the LOGIN mechanism
// (draft-murchison-sasl-login): go-sasl has the client only. Many mail
// clients (Outlook among them) still use it, so the server offers it.
type loginServer struct {
	check func(user, pass string) error
	user  string
	step  int
}

func newLoginServer(check func(user, pass string) error) *loginServer {
	return &loginServer{check: check}
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step++
		if response != nil {
			// An initial response carries the user name.
			l.user = string(response)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.user = string(response)
		l.step++
		return []byte("Password:"), false, nil
	case 2:
		l.step++
		return nil, true, l.check(l.user, string(response))
	}
	return nil, false, errors.New("unexpected client response")
}

// rejectServer refuses any exchange with err.
type rejectServer struct{ err error }

func (r rejectServer) Next([]byte) ([]byte, bool, error) { return nil, false, r.err }
