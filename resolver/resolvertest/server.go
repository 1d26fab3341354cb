package resolvertest

import (
	"context"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// StartServer serves h on 127.0.0.1 over UDP and TCP on the same port and
// returns "127.0.0.1:PORT". It returns once both listeners are serving, so
// a test never races them, and shuts them down when the test ends. A delay
// above zero holds every answer that long (a slow or distant server).
func StartServer(t testing.TB, h dns.Handler, delay time.Duration) string {
	t.Helper()
	stop := make(chan struct{})
	if delay > 0 {
		h = delayed(h, delay, stop)
	}
	pc, ln := listenPair(t)
	addr := pc.LocalAddr().String()

	servers := []*dns.Server{
		{PacketConn: pc, Handler: h},
		{Listener: ln, Handler: h},
	}
	for _, srv := range servers {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		failed := make(chan error, 1)
		go func() { failed <- srv.ActivateAndServe() }()
		select {
		case <-started:
		case err := <-failed:
			t.Fatalf("resolvertest: DNS server on %s: %v", addr, err)
		}
	}
	t.Cleanup(func() {
		close(stop)
		for _, srv := range servers {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = srv.ShutdownContext(ctx) // a handler stuck past 2s is the test's own doing
			cancel()
		}
	})
	return addr
}

// listenPair binds a UDP socket on an ephemeral loopback port and a TCP
// listener on the same port, retrying when another process holds the TCP
// side of the port the kernel chose for UDP.
func listenPair(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("resolvertest: %v", err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			return pc, ln
		}
		lastErr = err
		pc.Close()
	}
	t.Fatalf("resolvertest: no port free for both UDP and TCP: %v", lastErr)
	return nil, nil
}

func delayed(h dns.Handler, d time.Duration, stop <-chan struct{}) dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		select {
		case <-time.After(d):
			h.ServeDNS(w, r)
		case <-stop:
		}
	})
}

// ServFail answers every query with SERVFAIL, as a resolver does when a
// domain's servers are broken or its signatures do not validate.
func ServFail() dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeServerFailure)
		_ = w.WriteMsg(m)
	})
}

// Silent never answers: the client sees a timeout.
func Silent() dns.Handler {
	return dns.HandlerFunc(func(dns.ResponseWriter, *dns.Msg) {})
}

// Truncating answers every UDP query with an empty, truncated (TC) reply,
// whatever its size, and passes TCP queries to h: a client passes only if
// it retries over TCP.
func Truncating(h dns.Handler) dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if _, ok := w.RemoteAddr().(*net.UDPAddr); !ok {
			h.ServeDNS(w, r)
			return
		}
		m := new(dns.Msg)
		m.SetReply(r)
		m.Truncated = true
		_ = w.WriteMsg(m)
	})
}

// Counter passes queries to a handler and counts them by transport.
type Counter struct {
	Handler  dns.Handler
	udp, tcp atomic.Int64
}

// ServeDNS implements dns.Handler.
func (c *Counter) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	if _, ok := w.RemoteAddr().(*net.UDPAddr); ok {
		c.udp.Add(1)
	} else {
		c.tcp.Add(1)
	}
	c.Handler.ServeDNS(w, r)
}

// Counts returns the queries seen over UDP and over TCP.
func (c *Counter) Counts() (udp, tcp int) { return int(c.udp.Load()), int(c.tcp.Load()) }
