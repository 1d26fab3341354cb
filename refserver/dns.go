package refserver

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/miekg/dns"
)

// startDNS serves the scenario's zones, authoritatively, over UDP and TCP
// on one port (RFC 7766 §5: TCP is not optional), with the resolver
// package's zone handler.
func (s *Server) startDNS() error {
	zone, err := s.servedZone() // TLSA placeholders (tlsa.go) or DKIM keys (message.go) filled in
	if err != nil {
		return err
	}
	s.zone = zone
	pc, ln, err := s.listenDNS()
	if err != nil {
		return err
	}
	s.dnsAddr = pc.LocalAddr().String()
	// In the port map too: mailcheck asks a zone's name servers directly
	// on port 53, which --port-map 53=Q sends here.
	s.portMap[PortDNS] = pc.LocalAddr().(*net.UDPAddr).Port
	if err := s.serveDNS(zone, pc, ln); err != nil {
		return fmt.Errorf("refserver: dns on %s: %w", s.dnsAddr, err)
	}
	return nil
}

// serveDNS answers from h on pc (UDP) and ln (TCP) until the server
// closes. It returns once both read from their sockets, so that a query
// sent as soon as Start returns is answered; on a failure both are closed.
func (s *Server) serveDNS(h dns.Handler, pc net.PacketConn, ln net.Listener) error {
	servers := []*dns.Server{
		{PacketConn: pc, Handler: h, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second},
		{Listener: ln, Handler: h, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
			IdleTimeout: func() time.Duration { return 10 * time.Second }},
	}
	for _, srv := range servers {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		failed := make(chan error, 1)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			failed <- srv.ActivateAndServe()
		}()
		select {
		case <-started:
		case err := <-failed:
			pc.Close()
			ln.Close()
			return err
		}
		s.onClose(func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			return srv.ShutdownContext(ctx)
		})
	}
	return nil
}

// listenDNS binds UDP and TCP on the same port: base+53, or a free port
// whose TCP side is free too (retrying when another process holds it).
func (s *Server) listenDNS() (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", s.listenAddr(PortDNS))
		if err != nil {
			return nil, nil, fmt.Errorf("refserver: dns (port 53): %w", err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", net.JoinHostPort(s.host, strconv.Itoa(port)))
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		lastErr = err
		if s.opts.BasePort > 0 {
			break
		}
	}
	return nil, nil, fmt.Errorf("refserver: dns (port 53): %w", lastErr)
}
