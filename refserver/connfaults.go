package refserver

import (
	"bytes"
	"net"
	"strings"
	"sync"
	"time"
)

// slowConn is the slow fault: the server takes Options.SlowDelay to start
// answering — its greeting, each reply, each flight of the TLS handshake —
// as a loaded server or a long path does. The wait is before the first
// write that follows what the client sent (a reply written in several
// pieces waits once).
type slowConn struct {
	net.Conn
	delay time.Duration
	done  <-chan struct{}

	mu       sync.Mutex
	answered bool // the server has written since the client last sent something
}

func (c *slowConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.mu.Lock()
		c.answered = false
		c.mu.Unlock()
	}
	return n, err
}

func (c *slowConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	wait := !c.answered
	c.answered = true
	c.mu.Unlock()
	if wait {
		t := time.NewTimer(c.delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-c.done:
			return 0, net.ErrClosed
		}
	}
	return c.Conn.Write(b)
}

// The one-connection fault: a port serves one connection at a time, as a
// server with a per-client concurrency limit of one does (Postfix
// smtpd_client_connection_count_limit = 1, Exim smtp_accept_max_per_host
// = 1). A second connection meanwhile gets the busy reply (421 ...) and
// is closed. faultListener.slot is the port's one place.

// slotConn gives its port's slot back when closed.
type slotConn struct {
	net.Conn
	slot chan struct{}
	once sync.Once
}

func (c *slotConn) Close() error {
	c.once.Do(func() { <-c.slot })
	return c.Conn.Close()
}

// garbageConn is the garbage-after-starttls fault: after the positive
// reply to STARTTLS/STLS it sends a line of plaintext where the TLS
// handshake should begin, then closes, as a broken TLS layer or a filter
// that intercepts STARTTLS does. It watches the client's lines the way
// startTLSCloser does.
type garbageConn struct {
	startTLSCloser
}

// garbageLine is what follows the go-ahead instead of a ServerHello.
const garbageLine = "not TLS: plaintext after the STARTTLS reply\r\n"

func (c *garbageConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	armed := c.armed
	c.mu.Unlock()
	n, err := c.Conn.Write(b)
	if armed {
		// Apart from the reply, so that a client reads it as the start of
		// the handshake rather than along with the reply.
		time.Sleep(30 * time.Millisecond)
		c.Conn.Write([]byte(garbageLine))
		c.Conn.Close()
	}
	return n, err
}

// longLineConn is the long-lines fault: the first line the server writes
// (the greeting) is padded past 4 KiB, beyond what a client keeps in one
// line (mailcheck stops at 4096 bytes; RFC 5321 §4.5.3.1.5 allows 512 for
// an SMTP reply line).
type longLineConn struct {
	net.Conn
	once sync.Once
}

// longLinePadding is the length the first line grows by.
const longLinePadding = 5000

func (c *longLineConn) Write(b []byte) (int, error) {
	out := b
	c.once.Do(func() {
		if i := bytes.Index(b, []byte("\r\n")); i >= 0 {
			out = append(append(append([]byte(nil), b[:i]...), " "+strings.Repeat("x", longLinePadding)...), b[i:]...)
		}
	})
	if _, err := c.Conn.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}
