package refserver

import (
	"bufio"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"time"
)

// The no-auth and oauth-only faults need an IMAP server that announces
// LOGINDISABLED after TLS (RFC 9051 §6.2.3: the LOGIN command is not
// available) with no AUTH= at all, or with only AUTH=XOAUTH2 and
// AUTH=OAUTHBEARER. imapserver cannot say that: it announces LOGINDISABLED
// only on plaintext connections and derives TLS from its own connection
// type. Since no login ever succeeds under these faults, this small
// hand-written responder covers the not-authenticated state only
// (CAPABILITY, NOOP, LOGOUT, STARTTLS, LOGIN, AUTHENTICATE) and answers
// every other command with BAD, as RFC 9051 §6 has a server do for a
// command that is not valid in the current state.

const (
	imapNoLoginMaxLine = 8 << 10 // RFC 2683 §3.2.1.5 suggests 8000 octets
	imapNoLoginIdle    = 2 * time.Minute
)

func (s *Server) startIMAPNoLogin(ln net.Listener, port int) {
	s.serveConns(ln, port, func(c net.Conn) {
		n := &imapNoLogin{s: s, port: port}
		n.setConn(c)
		n.serve()
	})
}

type imapNoLogin struct {
	s    *Server
	port int
	c    net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
}

func (n *imapNoLogin) setConn(c net.Conn) {
	n.c = c
	n.r = bufio.NewReaderSize(c, 1024)
	n.w = bufio.NewWriter(c)
}

func (n *imapNoLogin) secure() bool {
	_, ok := n.c.(*tls.Conn)
	return ok
}

func (n *imapNoLogin) canSTARTTLS() bool {
	return !n.secure() && n.port == PortIMAP && !n.s.fault(FaultNoSTARTTLS, n.port)
}

// caps is the capability list: before TLS as a healthy server's, after TLS
// without any password login.
func (n *imapNoLogin) caps() string {
	caps := []string{"IMAP4rev1"}
	if n.canSTARTTLS() {
		caps = append(caps, "STARTTLS")
	}
	if n.secure() && n.s.fault(FaultOAuthOnly, n.port) {
		caps = append(caps, "SASL-IR", "AUTH=XOAUTH2", "AUTH=OAUTHBEARER")
	}
	return strings.Join(append(caps, "LOGINDISABLED"), " ")
}

func (n *imapNoLogin) send(lines ...string) bool {
	n.c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	for _, l := range lines {
		n.w.WriteString(l + "\r\n")
	}
	return n.w.Flush() == nil
}

func (n *imapNoLogin) readLine() (string, error) {
	return readLimitedLine(n.c, n.r, imapNoLoginMaxLine, imapNoLoginIdle)
}

func (n *imapNoLogin) serve() {
	defer n.c.Close()
	if tc, ok := n.c.(*tls.Conn); ok {
		tc.SetDeadline(time.Now().Add(30 * time.Second))
		if err := tc.Handshake(); err != nil {
			return
		}
	}
	if !n.send("* OK [CAPABILITY " + n.caps() + "] IMAP server ready") {
		return
	}
	for bad := 0; bad < 20; {
		line, err := n.readLine()
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				n.send("* BYE Line too long")
			}
			return
		}
		tag, rest, _ := strings.Cut(line, " ")
		cmd, arg, _ := strings.Cut(rest, " ")
		if tag == "" || cmd == "" {
			bad++
			if !n.send("* BAD Invalid command") {
				return
			}
			continue
		}
		if strings.HasSuffix(line, "}") {
			// A synchronizing literal (RFC 9051 §4.3): refusing the command
			// instead of sending "+" is allowed, and the client sends
			// nothing more of it.
			bad++
			if !n.send(tag + " NO [CANNOT] Password login is not available on this server") {
				return
			}
			continue
		}
		ok := true
		switch strings.ToUpper(cmd) {
		case "CAPABILITY":
			ok = n.send("* CAPABILITY "+n.caps(), tag+" OK CAPABILITY completed")
		case "NOOP":
			ok = n.send(tag + " OK NOOP completed")
		case "LOGOUT":
			n.send("* BYE Logging out", tag+" OK LOGOUT completed")
			return
		case "STARTTLS":
			if !n.canSTARTTLS() {
				ok = n.send(tag + " BAD STARTTLS not available")
				break
			}
			if n.r.Buffered() > 0 || !n.send(tag+" OK Begin TLS negotiation now") {
				return
			}
			tc := tls.Server(n.c, n.s.tlsConfig(n.port))
			tc.SetDeadline(time.Now().Add(30 * time.Second))
			if err := tc.Handshake(); err != nil {
				return
			}
			tc.SetDeadline(time.Time{})
			n.setConn(tc)
		case "LOGIN":
			if !n.secure() {
				ok = n.send(tag + " NO [PRIVACYREQUIRED] TLS is required to log in")
				break
			}
			ok = n.send(tag + " NO [CANNOT] LOGIN is disabled on this server")
		case "AUTHENTICATE":
			ok = n.authenticate(tag, arg)
		default:
			bad++
			ok = n.send(tag + " BAD Command not valid before login")
		}
		if !ok {
			return
		}
	}
	n.send("* BYE Too many errors")
}

// authenticate refuses every exchange: an OAuth2 token cannot be valid
// here, and no other mechanism is offered.
func (n *imapNoLogin) authenticate(tag, arg string) bool {
	mech, ir, _ := strings.Cut(arg, " ")
	mech = strings.ToUpper(mech)
	oauth := mech == "XOAUTH2" || mech == "OAUTHBEARER"
	if !n.secure() || !oauth || !n.s.fault(FaultOAuthOnly, n.port) {
		if !n.secure() {
			return n.send(tag + " NO [PRIVACYREQUIRED] TLS is required to authenticate")
		}
		return n.send(tag + " NO [CANNOT] Unsupported authentication mechanism")
	}
	if ir == "" {
		if !n.send("+ ") {
			return false
		}
		if _, err := n.readLine(); err != nil {
			return false
		}
	}
	return n.send(tag + " NO [AUTHENTICATIONFAILED] Invalid OAuth2 token")
}
