package refserver

// POP3 is hand-written: no maintained Go POP3 server library exists (the
// few on GitHub are abandoned and lack STLS or SASL). It implements
// RFC 1939 (the protocol), RFC 2449 (CAPA, extended response codes),
// RFC 2595 §4 (STLS), RFC 3206 (the AUTH and SYS codes) and RFC 5034
// (AUTH with SASL PLAIN).

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
)

const (
	// RFC 2449 §4 limits a command to 255 octets; AUTH PLAIN with an
	// initial response may be longer (RFC 5034 §4 allows any length), so
	// the bound is looser but still small.
	pop3MaxLine = 4096
	// RFC 1939 §3: an inactivity autologout timer of at least 10 minutes.
	pop3IdleTimeout  = 10 * time.Minute
	pop3WriteTimeout = 30 * time.Second
	// Misbehaving clients are dropped after this many -ERR replies.
	pop3MaxErrors = 20
)

func (s *Server) startPOP3(ln net.Listener) error {
	port := ln.(*faultListener).port
	s.serveConns(ln, port, func(c net.Conn) {
		p := &pop3Conn{s: s, port: port}
		p.setConn(c)
		p.serve()
	})
	return nil
}

type pop3Conn struct {
	s    *Server
	port int
	c    net.Conn
	r    *bufio.Reader
	w    *bufio.Writer

	user    string // from USER, awaiting PASS
	account string // set once in the TRANSACTION state
	msgs    []popMessage
	deleted map[int]bool // 1-based message numbers marked by DELE
	errors  int
}

func (p *pop3Conn) setConn(c net.Conn) {
	p.c = c
	p.r = bufio.NewReaderSize(c, 1024)
	p.w = bufio.NewWriter(c)
}

func (p *pop3Conn) secure() bool {
	_, ok := p.c.(*tls.Conn)
	return ok
}

func (p *pop3Conn) serve() {
	defer func() {
		if p.account != "" {
			// Not through QUIT: RFC 1939 §6 says no UPDATE state, so the
			// messages marked deleted stay.
			p.s.mail.unlockDrop(p.account, nil)
		}
		p.c.Close()
	}()
	if tc, ok := p.c.(*tls.Conn); ok {
		tc.SetDeadline(time.Now().Add(pop3WriteTimeout))
		if err := tc.Handshake(); err != nil {
			return
		}
	}
	if !p.reply("+OK mailcheck reference POP3 server ready") {
		return
	}
	for {
		line, err := p.readLine()
		if errors.Is(err, errLineTooLong) {
			p.reply("-ERR Line too long")
			return
		}
		if err != nil {
			return
		}
		cmd, arg, _ := strings.Cut(line, " ")
		if !p.handle(strings.ToUpper(cmd), arg) {
			return
		}
		if p.errors >= pop3MaxErrors {
			p.reply("-ERR Too many errors, closing connection")
			return
		}
	}
}

// readLine reads one CRLF-terminated line of at most pop3MaxLine octets.
func (p *pop3Conn) readLine() (string, error) {
	return readLimitedLine(p.c, p.r, pop3MaxLine, pop3IdleTimeout)
}

// reply writes one response line; false when the client is gone.
func (p *pop3Conn) reply(line string) bool {
	if strings.HasPrefix(line, "-ERR") {
		p.errors++
	}
	p.c.SetWriteDeadline(time.Now().Add(pop3WriteTimeout))
	p.w.WriteString(line + "\r\n")
	return p.w.Flush() == nil
}

// multiline writes a positive response followed by dot-stuffed lines and
// the terminating "." (RFC 1939 §3).
func (p *pop3Conn) multiline(first string, body []byte) bool {
	p.c.SetWriteDeadline(time.Now().Add(pop3WriteTimeout))
	p.w.WriteString(first + "\r\n")
	for len(body) > 0 {
		line, rest, found := bytes.Cut(body, []byte("\r\n"))
		if !found {
			line, rest = body, nil
		}
		if len(line) > 0 && line[0] == '.' {
			p.w.WriteByte('.')
		}
		p.w.Write(line)
		p.w.WriteString("\r\n")
		body = rest
	}
	p.w.WriteString(".\r\n")
	return p.w.Flush() == nil
}

func (p *pop3Conn) handle(cmd, arg string) bool {
	if p.account == "" {
		return p.authorization(cmd, arg)
	}
	return p.transaction(cmd, arg)
}

// loginOffered reports whether USER and SASL may run on this connection.
func (p *pop3Conn) loginOffered() bool {
	return p.secure() || p.s.fault(FaultAuthBeforeTLS, p.port)
}

func (p *pop3Conn) canSTLS() bool {
	return !p.secure() && p.port == PortPOP3 && !p.s.fault(FaultNoSTARTTLS, p.port)
}

func (p *pop3Conn) capa() bool {
	caps := []string{"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE"}
	if p.account == "" {
		if p.canSTLS() {
			caps = append(caps, "STLS")
		}
		if p.loginOffered() {
			switch {
			case p.s.fault(FaultNoAuth, p.port):
			case p.s.fault(FaultOAuthOnly, p.port):
				caps = append(caps, "SASL XOAUTH2 OAUTHBEARER")
			default:
				caps = append(caps, "USER", "SASL PLAIN")
			}
		}
	}
	caps = append(caps, "IMPLEMENTATION mailcheck-refserver")
	return p.multiline("+OK Capability list follows", []byte(strings.Join(caps, "\r\n")))
}

// AUTHORIZATION state (RFC 1939 §4).
func (p *pop3Conn) authorization(cmd, arg string) bool {
	switch cmd {
	case "CAPA":
		return p.capa()
	case "QUIT":
		p.reply("+OK Bye")
		return false
	case "STLS":
		return p.stls()
	case "USER":
		if err := p.loginRefusal(); err != "" {
			return p.reply(err)
		}
		if p.s.fault(FaultNoAuth, p.port) || p.s.fault(FaultOAuthOnly, p.port) {
			return p.reply("-ERR [AUTH] Password login is not available")
		}
		if arg == "" {
			return p.reply("-ERR Syntax: USER name")
		}
		p.user = arg
		return p.reply("+OK Send PASS")
	case "PASS":
		if p.user == "" {
			return p.reply("-ERR Send USER first")
		}
		user := p.user
		p.user = ""
		return p.finishLogin(user, arg)
	case "AUTH":
		return p.auth(arg)
	case "APOP":
		return p.reply("-ERR APOP is not supported")
	}
	p.user = ""
	return p.reply("-ERR Unknown command or not allowed before login")
}

// loginRefusal is the reply to a login command the connection does not
// allow before TLS ("" when it does).
func (p *pop3Conn) loginRefusal() string {
	if p.loginOffered() {
		return ""
	}
	if p.s.fault(FaultTLSRequired, p.port) {
		return "-ERR [AUTH] TLS required"
	}
	// RFC 2595 §2.1 and §4: plaintext passwords only under TLS.
	return "-ERR [AUTH] Plaintext authentication disallowed on non-secure connections; issue STLS first"
}

func (p *pop3Conn) stls() bool {
	if p.secure() {
		// RFC 2595 §4: STLS is not allowed once TLS is active.
		return p.reply("-ERR Command not permitted when TLS active")
	}
	if !p.canSTLS() {
		return p.reply("-ERR STLS not supported")
	}
	if p.r.Buffered() > 0 {
		// RFC 2595 §4 (and RFC 3207 §6 for the same attack on SMTP): data
		// pipelined after STLS must not leak into the TLS session.
		return p.reply("-ERR Pipelined data after STLS")
	}
	if !p.reply("+OK Begin TLS negotiation") {
		return false
	}
	tc := tls.Server(p.c, p.s.tlsConfig(p.port))
	tc.SetDeadline(time.Now().Add(pop3WriteTimeout))
	if err := tc.Handshake(); err != nil {
		return false
	}
	tc.SetDeadline(time.Time{})
	p.setConn(tc)
	// RFC 2595 §4: the client forgets what it learned before TLS; the
	// server forgets the half-done USER.
	p.user = ""
	return true
}

// auth runs AUTH mech [initial-response] (RFC 5034 §4).
func (p *pop3Conn) auth(arg string) bool {
	if err := p.loginRefusal(); err != "" {
		return p.reply(err)
	}
	fields := strings.Fields(arg)
	if len(fields) == 0 || len(fields) > 2 {
		return p.reply("-ERR Syntax: AUTH mechanism [initial-response]")
	}
	mech := strings.ToUpper(fields[0])
	var srv sasl.Server
	var outcome authOutcome
	var account string
	switch {
	case mech == sasl.Plain && !p.s.fault(FaultNoAuth, p.port) && !p.s.fault(FaultOAuthOnly, p.port):
		srv = sasl.NewPlainServer(func(identity, user, pass string) error {
			if identity != "" && identity != user {
				outcome = authBadCredentials
				return errors.New("authorization identity not supported")
			}
			account, outcome = p.s.login(p.port, p.secure(), user, pass)
			if outcome != authOK {
				return errors.New("refused")
			}
			return nil
		})
	case (mech == "XOAUTH2" || mech == "OAUTHBEARER") && p.s.fault(FaultOAuthOnly, p.port):
		outcome = authOAuthRejected
		srv = rejectServer{err: errors.New("no valid token")}
	default:
		return p.reply("-ERR [AUTH] Unsupported authentication mechanism")
	}
	var resp []byte
	if len(fields) == 2 {
		var err error
		if resp, err = decodeSASL(fields[1]); err != nil {
			return p.reply("-ERR Invalid base64 data")
		}
	}
	for {
		challenge, done, err := srv.Next(resp)
		if err != nil {
			if outcome == authOK {
				outcome = authBadCredentials
			}
			return p.reply(pop3AuthError(outcome))
		}
		if done {
			break
		}
		if !p.reply("+ " + base64.StdEncoding.EncodeToString(challenge)) {
			return false
		}
		line, err := p.readLine()
		if err != nil {
			return false
		}
		if line == "*" {
			return p.reply("-ERR Authentication cancelled")
		}
		if resp, err = decodeSASL(line); err != nil {
			return p.reply("-ERR Invalid base64 data")
		}
	}
	return p.enter(account)
}

func decodeSASL(s string) ([]byte, error) {
	if s == "=" {
		return []byte{}, nil
	}
	return base64.StdEncoding.DecodeString(s)
}

func (p *pop3Conn) finishLogin(user, pass string) bool {
	account, outcome := p.s.login(p.port, p.secure(), user, pass)
	if outcome != authOK {
		return p.reply(pop3AuthError(outcome))
	}
	return p.enter(account)
}

// pop3AuthError words a refused login with RFC 2449 §8 / RFC 3206 codes.
func pop3AuthError(o authOutcome) string {
	switch o {
	case authTLSRequired:
		return "-ERR [AUTH] TLS required"
	case authAppPassword:
		return "-ERR [AUTH] Application-specific password required"
	case authBasicDisabled:
		return "-ERR [AUTH] Authentication failed: basic authentication is disabled"
	case authLocked:
		// RFC 3206 §4: SYS/TEMP, a temporary problem on the server's side.
		return "-ERR [SYS/TEMP] Temporary authentication failure: the account is locked, try again later"
	}
	return "-ERR [AUTH] Invalid user name or password"
}

// enter takes the maildrop lock and moves to TRANSACTION (RFC 1939 §5).
func (p *pop3Conn) enter(account string) bool {
	msgs, ok := p.s.mail.lockDrop(account)
	if !ok {
		// RFC 2449 §8.1.1: IN-USE, another session holds the maildrop.
		return p.reply("-ERR [IN-USE] Maildrop already locked by another session")
	}
	p.account, p.msgs, p.deleted = account, msgs, map[int]bool{}
	return p.reply(fmt.Sprintf("+OK %d message(s) in maildrop", len(msgs)))
}

// TRANSACTION state (RFC 1939 §5) and QUIT into UPDATE (§6).
func (p *pop3Conn) transaction(cmd, arg string) bool {
	switch cmd {
	case "CAPA":
		return p.capa()
	case "QUIT":
		deleted := map[string]bool{}
		for n := range p.deleted {
			deleted[p.msgs[n-1].uid] = true
		}
		p.s.mail.unlockDrop(p.account, deleted)
		p.account = ""
		p.reply("+OK Bye")
		return false
	case "NOOP":
		return p.reply("+OK")
	case "STAT":
		n, size := p.totals()
		return p.reply(fmt.Sprintf("+OK %d %d", n, size))
	case "LIST", "UIDL":
		if arg == "" {
			var b strings.Builder
			for i, m := range p.msgs {
				if p.deleted[i+1] {
					continue
				}
				if cmd == "LIST" {
					fmt.Fprintf(&b, "%d %d\r\n", i+1, len(m.data))
				} else {
					fmt.Fprintf(&b, "%d %s\r\n", i+1, m.uid)
				}
			}
			n, size := p.totals()
			return p.multiline(fmt.Sprintf("+OK %d messages (%d octets)", n, size), []byte(strings.TrimSuffix(b.String(), "\r\n")))
		}
		n, ok := p.msgNum(arg)
		if !ok {
			return p.reply("-ERR No such message")
		}
		if cmd == "LIST" {
			return p.reply(fmt.Sprintf("+OK %d %d", n, len(p.msgs[n-1].data)))
		}
		return p.reply(fmt.Sprintf("+OK %d %s", n, p.msgs[n-1].uid))
	case "RETR":
		n, ok := p.msgNum(arg)
		if !ok {
			return p.reply("-ERR No such message")
		}
		m := p.msgs[n-1]
		return p.multiline(fmt.Sprintf("+OK %d octets", len(m.data)), m.data)
	case "TOP":
		num, lines, _ := strings.Cut(arg, " ")
		n, ok := p.msgNum(num)
		k, err := strconv.Atoi(strings.TrimSpace(lines))
		if !ok || err != nil || k < 0 {
			return p.reply("-ERR Syntax: TOP msg lines, of an existing message")
		}
		return p.multiline("+OK Top of message follows", top(p.msgs[n-1].data, k))
	case "DELE":
		n, ok := p.msgNum(arg)
		if !ok {
			return p.reply("-ERR No such message")
		}
		p.deleted[n] = true
		return p.reply(fmt.Sprintf("+OK Message %d deleted", n))
	case "RSET":
		p.deleted = map[int]bool{}
		return p.reply("+OK")
	case "STLS", "USER", "PASS", "AUTH", "APOP":
		return p.reply("-ERR Already logged in")
	}
	return p.reply("-ERR Unknown command")
}

// msgNum parses a message number that names a message not marked deleted.
func (p *pop3Conn) msgNum(arg string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(arg))
	if err != nil || n < 1 || n > len(p.msgs) || p.deleted[n] {
		return 0, false
	}
	return n, true
}

func (p *pop3Conn) totals() (n, size int) {
	for i, m := range p.msgs {
		if !p.deleted[i+1] {
			n++
			size += len(m.data)
		}
	}
	return n, size
}

// top returns the header, the blank line and the first k body lines
// (RFC 1939 §7 TOP).
func top(data []byte, k int) []byte {
	head, body, found := bytes.Cut(data, []byte("\r\n\r\n"))
	if !found {
		return data
	}
	out := append(append([]byte{}, head...), "\r\n\r\n"...)
	for i := 0; i < k && len(body) > 0; i++ {
		line, rest, ok := bytes.Cut(body, []byte("\r\n"))
		out = append(append(out, line...), "\r\n"...)
		if !ok {
			break
		}
		body = rest
	}
	return out
}
