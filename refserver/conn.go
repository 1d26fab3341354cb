package refserver

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"sync"
	"time"
)

// faultListener is what every TCP service is given instead of its raw
// listener. It records each connection so that Close can drop it (the
// libraries' own Close miss connections accepted while they shut down),
// applies the connection-level faults that go-smtp and go-imap cannot
// express (a 421 greeting, a delayed banner, a close right after the
// STARTTLS reply, TLS where plaintext belongs and the reverse), and wraps
// implicit-TLS ports in TLS. The libraries tell TLS from plaintext by a
// *tls.Conn type assertion, so the TLS layer must be the outermost one.
type faultListener struct {
	net.Listener
	s    *Server
	port int
	slot chan struct{} // the one-connection fault's single place
}

func (s *Server) wrapListener(ln net.Listener, port int) net.Listener {
	// Keys are made now rather than at the first connection, which a
	// client would otherwise see as a slow greeting (RSA keys take long).
	s.tlsConfig(port)
	s.legacyTLSFor(port)
	return &faultListener{Listener: ln, s: s, port: port, slot: make(chan struct{}, 1)}
}

func (l *faultListener) Accept() (net.Conn, error) {
	for {
		raw, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		tc, ok := l.s.track(raw)
		if !ok {
			raw.Close()
			return nil, net.ErrClosed
		}
		l.s.logf("%s: connection from %s", serviceName(l.port), raw.RemoteAddr())
		var c net.Conn = tc
		busy := l.s.fault(FaultBusy, l.port)
		if l.s.fault(FaultOneConn, l.port) && !busy {
			select {
			case l.slot <- struct{}{}:
				c = &slotConn{Conn: c, slot: l.slot}
			default:
				busy = true
			}
		}
		if l.s.fault(FaultSlow, l.port) {
			c = &slowConn{Conn: c, delay: l.s.opts.SlowDelay, done: l.s.ctx.Done()}
		}
		if l.s.fault(FaultTarpit, l.port) {
			c = &tarpitConn{Conn: c, until: time.Now().Add(l.s.opts.TarpitDelay), done: l.s.ctx.Done()}
		}
		if !implicitTLSPort(l.port) {
			switch {
			case l.s.fault(FaultCloseMidSTARTTLS, l.port):
				c = &startTLSCloser{Conn: c}
			case l.s.fault(FaultGarbageAfterSTARTTLS, l.port):
				c = &garbageConn{startTLSCloser{Conn: c}}
			}
			if l.s.fault(FaultLongLines, l.port) {
				c = &longLineConn{Conn: c}
			}
		}
		if lt := l.s.legacyTLSFor(l.port); lt != nil {
			c = l.s.routeHellos(c, l.port, lt)
		}
		if l.s.speaksTLS(l.port) {
			c = tls.Server(c, l.s.tlsConfig(l.port))
		}
		if busy {
			l.s.wg.Add(1)
			go func() {
				defer l.s.wg.Done()
				l.s.refuseBusy(c, l.port)
			}()
			continue
		}
		return c, nil
	}
}

// implicitTLSPort reports whether TLS starts at connect on the standard
// port (RFC 8314 §3.3 for 465, 993, 995).
func implicitTLSPort(port int) bool {
	return port == PortSMTPS || port == PortIMAPS || port == PortPOP3S || port == PortHTTPS
}

// speaksTLS reports whether the server starts TLS at connect on this port,
// faults included.
func (s *Server) speaksTLS(port int) bool {
	if implicitTLSPort(port) {
		return !s.fault(FaultPlainOnTLSPort, port)
	}
	return s.fault(FaultTLSOnPlainPort, port)
}

// refuseBusy answers as an overloaded server does: a temporary-failure
// greeting, then close (RFC 5321 §3.8 421; RFC 9051 §7.1.5 BYE
// [UNAVAILABLE]; RFC 3206 §4 [SYS/TEMP]).
func (s *Server) refuseBusy(c net.Conn, port int) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var line string
	switch port {
	case PortSMTP, PortSubmission, PortSMTPS:
		line = "421 4.3.2 Service not available, try again later\r\n"
	case PortIMAP, PortIMAPS:
		line = "* BYE [UNAVAILABLE] Service not available, try again later\r\n"
	case PortPOP3, PortPOP3S:
		line = "-ERR [SYS/TEMP] Service not available, try again later\r\n"
	case PortHTTPS:
		line = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
	}
	s.logf("%s: busy fault: refusing %s", serviceName(port), c.RemoteAddr())
	c.Write([]byte(line))
}

// track records a connection so Close can drop it. It refuses connections
// once the server is closing.
func (s *Server) track(c net.Conn) (*trackedConn, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false
	}
	s.conns[c] = struct{}{}
	return &trackedConn{Conn: c, s: s}, true
}

type trackedConn struct {
	net.Conn
	s    *Server
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.s.mu.Lock()
		delete(c.s.conns, c.Conn)
		c.s.mu.Unlock()
	})
	return c.Conn.Close()
}

// tarpitConn holds back every write until a moment after accept: the
// tarpit fault, a server that delays its greeting (RFC 5321 §4.5.3.2.1
// allows a client to wait 5 minutes for it). Under TLS it is the server's
// handshake that is held back, which a client sees the same way.
type tarpitConn struct {
	net.Conn
	until time.Time
	done  <-chan struct{}
}

func (c *tarpitConn) Write(b []byte) (int, error) {
	if d := time.Until(c.until); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-c.done:
			t.Stop()
			return 0, net.ErrClosed
		}
	}
	return c.Conn.Write(b)
}

// startTLSCloser is the close-mid-starttls fault: it watches the client's
// lines for STARTTLS (SMTP, IMAP) or STLS (POP3), lets the server's
// positive reply through, then closes the connection before any TLS
// handshake, as a broken middlebox or a crashing TLS layer does. The
// libraries cannot be told to do this, so it lives below them.
type startTLSCloser struct {
	net.Conn
	mu    sync.Mutex
	line  []byte
	armed bool
}

// maxSniffLine bounds the partial line kept while watching for STARTTLS.
const maxSniffLine = 512

func (c *startTLSCloser) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range b[:n] {
		if ch != '\n' {
			if len(c.line) < maxSniffLine {
				c.line = append(c.line, ch)
			}
			continue
		}
		if isStartTLSCommand(string(bytes.TrimRight(c.line, "\r"))) {
			c.armed = true
		}
		c.line = c.line[:0]
	}
	return n, err
}

func (c *startTLSCloser) Write(b []byte) (int, error) {
	c.mu.Lock()
	armed := c.armed
	c.mu.Unlock()
	n, err := c.Conn.Write(b)
	if armed {
		c.Conn.Close()
	}
	return n, err
}

// isStartTLSCommand recognises "STARTTLS" (RFC 3207), "STLS" (RFC 2595 §4)
// and "tag STARTTLS" (RFC 9051 §6.2.1).
func isStartTLSCommand(line string) bool {
	f := strings.Fields(line)
	switch {
	case len(f) == 1:
		return strings.EqualFold(f[0], "STARTTLS") || strings.EqualFold(f[0], "STLS")
	case len(f) == 2:
		return strings.EqualFold(f[1], "STARTTLS")
	}
	return false
}

// errLineTooLong is readLimitedLine's error for a line over its limit; the
// hand-written responders answer it before they hang up.
var errLineTooLong = errors.New("line too long")

// readLimitedLine reads one line, ended by LF or CRLF, for the responders
// the libraries do not cover (POP3, IMAP without login). It waits at most
// idle and keeps at most limit octets, so that a client cannot make the
// server buffer without bound; a longer line is errLineTooLong.
func readLimitedLine(c net.Conn, r *bufio.Reader, limit int, idle time.Duration) (string, error) {
	c.SetReadDeadline(time.Now().Add(idle))
	var buf []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			return "", err
		}
		if len(buf)+len(chunk) > limit {
			return "", errLineTooLong
		}
		buf = append(buf, chunk...)
		if !isPrefix {
			return string(buf), nil
		}
	}
}
