package refserver

import (
	"crypto/tls"
	"net"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
)

// startIMAP serves one IMAP port with go-imap's imapserver over the
// in-memory store: 143 with STARTTLS and LOGINDISABLED until TLS
// (RFC 9051 §6.2.1, §6.2.3; RFC 8314 §4.1), 993 with implicit TLS.
func (s *Server) startIMAP(ln net.Listener) error {
	port := ln.(*faultListener).port
	if s.fault(FaultNoAuth, port) || s.fault(FaultOAuthOnly, port) {
		s.startIMAPNoLogin(ln, port)
		return nil
	}
	opts := &imapserver.Options{
		NewSession: func(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &imapSession{s: s, port: port, conn: c}, nil, nil
		},
		Caps:   imap.CapSet{imap.CapIMAP4rev1: {}},
		Logger: imapLogger{s},
		// Login before TLS is refused by imapserver itself (NO
		// [PRIVACYREQUIRED], LOGINDISABLED advertised) unless a fault says
		// the server accepts it as a command: then the session decides.
		InsecureAuth: s.fault(FaultAuthBeforeTLS, port) || s.fault(FaultTLSRequired, port),
	}
	if port == PortIMAP && !s.fault(FaultNoSTARTTLS, port) && !s.speaksTLS(port) {
		opts.TLSConfig = s.tlsConfig(port)
	}
	srv := imapserver.New(opts)
	s.onClose(func() error {
		srv.Close()
		return nil
	})
	s.goServe(serviceName(port), func() error { return srv.Serve(ln) })
	return nil
}

type imapLogger struct{ s *Server }

func (l imapLogger) Printf(format string, args ...any) { l.s.logf("imap: "+format, args...) }

// imapSession is the in-memory store's session with mailcheck's accounts
// and login faults in front of it.
type imapSession struct {
	*imapmemserver.UserSession // nil until login

	s    *Server
	port int
	conn *imapserver.Conn
}

func (is *imapSession) secure() bool {
	_, ok := is.conn.NetConn().(*tls.Conn)
	return ok
}

// AuthenticateMechanisms are the AUTH= capabilities (RFC 9051 §6.2.2).
func (is *imapSession) AuthenticateMechanisms() []string {
	s, p := is.s, is.port
	switch {
	case !is.secure() && !s.fault(FaultAuthBeforeTLS, p):
		// tls-required: login is accepted as a command but nothing is
		// advertised before TLS.
		return nil
	}
	return []string{sasl.Plain}
}

func (is *imapSession) Authenticate(mech string) (sasl.Server, error) {
	offered := false
	for _, m := range is.AuthenticateMechanisms() {
		offered = offered || strings.EqualFold(m, mech)
	}
	if !offered {
		if !is.secure() && is.s.fault(FaultTLSRequired, is.port) {
			return nil, imapTLSRequired
		}
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "SASL mechanism not supported"}
	}
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		// RFC 4616 §2: acting for another identity is not supported.
		if identity != "" && identity != user {
			return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAuthorizationFailed, Text: "Authorization identity not supported"}
		}
		return is.Login(user, pass)
	}), nil
}

var (
	imapTLSRequired = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodePrivacyRequired, Text: "TLS is required to log in"}
	imapAppPassword = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAuthenticationFailed, Text: "Application-specific password required"}
	imapBasicOff    = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAuthenticationFailed, Text: "Authentication failed: basic authentication is disabled"}
	imapLocked      = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable, Text: "Temporary authentication failure: the account is locked, try again later"}
)

// Login checks the credentials with the account book (both "alice" and
// "alice@example.test" name the same account) and the login faults.
func (is *imapSession) Login(user, pass string) error {
	s, p := is.s, is.port
	u, out := s.login(p, is.secure(), user, pass)
	switch out {
	case authOK:
	case authTLSRequired:
		return imapTLSRequired
	case authAppPassword:
		return imapAppPassword
	case authBasicDisabled:
		return imapBasicOff
	case authLocked:
		return imapLocked
	default:
		return imapserver.ErrAuthFailed
	}
	s.mail.mu.Lock()
	mu := s.mail.imapUsers[u]
	s.mail.mu.Unlock()
	if mu == nil {
		return imapserver.ErrAuthFailed
	}
	is.UserSession = imapmemserver.NewUserSession(mu)
	return nil
}

func (is *imapSession) Close() error {
	if is.UserSession == nil {
		return nil
	}
	return is.UserSession.Close()
}
