// Package refserver is mailcheck's embedded reference server: DNS, SMTP
// (MX, submission, implicit-TLS submission), IMAP, POP3 and HTTPS (MTA-STS
// policy, client autoconfiguration) for one fixtures scenario, on loopback
// only. Real clients accept it (curl, swaks, openssl s_client, dig,
// Thunderbird); `mailcheck serve`, `demo`, `selftest` and the probe tests run
// against it.
//
// A scenario's `faults:` switch on misbehaviour per standard port (see
// Fault* constants). Certificate and TLS-version faults apply to the HTTPS
// port only when the fault lists 443 explicitly: otherwise a broken mail
// certificate would also break the MTA-STS policy fetch, which is a
// different finding.
package refserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mailcheck-cli/mailcheck/fixtures"
	"github.com/mailcheck-cli/mailcheck/pki"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// Standard ports, as the SPEC and --port-map name them.
const (
	PortSMTP       = 25
	PortSubmission = 587
	PortSMTPS      = 465
	PortPOP3       = 110
	PortPOP3S      = 995
	PortIMAP       = 143
	PortIMAPS      = 993
	PortHTTPS      = 443
	PortHTTP       = 80 // the CA certificates that leaves name in AIA (aia.go)
	PortDNS        = 53
)

// MailPorts are the standard ports PortMap reports, in a stable order.
var MailPorts = []int{PortSMTP, PortSMTPS, PortSubmission, PortPOP3, PortPOP3S, PortIMAP, PortIMAPS, PortHTTPS, PortHTTP}

// Options configure Start.
type Options struct {
	Scenario *fixtures.Scenario // nil: the default scenario
	// Host is the listen address, default "127.0.0.1". Only loopback
	// addresses are accepted: the server is a test rig, not a mail service.
	Host string
	// BasePort 0 puts every listener on a free port; N puts DNS on N+53
	// (UDP and TCP), each mail port P on N+P and HTTPS on N+443.
	BasePort int
	// Accounts (user → password) are merged with the scenario's accounts.
	Accounts map[string]string
	// Logf, when set, receives one line per connection and notable event.
	// Passwords are never passed to it.
	Logf func(format string, args ...any)
	// TarpitDelay is how long the tarpit fault holds back the greeting
	// (default 60s).
	TarpitDelay time.Duration
	// OnMessage, when set, is called with each message accepted over SMTP
	// (`serve --receive`), after it is stored.
	OnMessage func(Message)
	// SlowDelay is how long the slow fault holds back every write
	// (default 150ms).
	SlowDelay time.Duration
}

// Endpoint is one listening service.
type Endpoint struct {
	Service string // smtp submission smtps imap imaps pop3 pop3s dns https
	StdPort int
	Addr    string // host:port it listens on
}

// Message is one mail accepted over SMTP. It is kept in memory only.
type Message struct {
	StdPort  int    // the standard port it arrived on (25, 587, 465)
	User     string // the authenticated account; "" on the MX port
	From     string
	To       []string
	Data     []byte
	Received time.Time
}

// Bounds on what the server keeps: it is a demo, never a mail store.
const (
	maxMessages     = 100
	maxMessageBytes = 1 << 20
)

// Server is a running reference server. Close stops it.
type Server struct {
	opts     Options
	sc       *fixtures.Scenario
	domain   string
	host     string
	ca       *pki.Authority
	certs    *certSet
	accounts *accountBook
	mail     *mailStore
	keys     *dkimKeys      // DKIM signing keys of a message case, nil otherwise
	zone     *resolver.Zone // what the DNS serves

	tlsConfigs map[int]*tls.Config

	ctx    context.Context
	cancel context.CancelFunc

	endpoints []Endpoint
	portMap   map[int]int
	dnsAddr   string

	mu      sync.Mutex
	closed  bool
	conns   map[net.Conn]struct{}
	closers []func() error
	wg      sync.WaitGroup

	msgMu    sync.Mutex
	messages []Message

	bimi bimiDocs // bimi.go
}

// Start listens on every service of the scenario and serves until Close or
// until ctx ends. It returns once every listener is bound, so a client may
// connect as soon as it returns.
func Start(ctx context.Context, opts Options) (*Server, error) {
	sc := opts.Scenario
	if sc == nil {
		var err error
		if sc, err = fixtures.Load(fixtures.Default); err != nil {
			return nil, err
		}
	}
	host, err := loopbackHost(opts.Host)
	if err != nil {
		return nil, err
	}
	if opts.BasePort < 0 || opts.BasePort+PortSubmission > 65535 {
		return nil, fmt.Errorf("refserver: base port %d leaves no room for port %d (base + 587 must be at most 65535)", opts.BasePort, PortSubmission)
	}
	if opts.TarpitDelay <= 0 {
		opts.TarpitDelay = 60 * time.Second
	}
	if opts.SlowDelay <= 0 {
		opts.SlowDelay = 150 * time.Millisecond
	}
	if err := checkFaults(sc); err != nil {
		return nil, err
	}
	accounts, err := newAccountBook(sc.Domain, sc.Accounts, opts.Accounts)
	if err != nil {
		return nil, err
	}

	s := &Server{
		opts:     opts,
		sc:       sc,
		domain:   strings.ToLower(strings.TrimSuffix(sc.Domain, ".")),
		host:     host,
		accounts: accounts,
		portMap:  map[int]int{},
		conns:    map[net.Conn]struct{}{},

		tlsConfigs: map[int]*tls.Config{},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if s.certs, err = newCertSet(s.domain); err != nil {
		return nil, err
	}
	s.ca = s.certs.root
	s.mail = newMailStore(s.domain, accounts)
	if HasMessageCase(sc) {
		if s.keys, err = newDKIMKeys(sc); err != nil {
			return nil, err
		}
	}

	if err := s.startAll(); err != nil {
		s.Close()
		return nil, err
	}
	// The caller's context bounds the server's life too; Close is still the
	// way to wait for it to stop.
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-s.ctx.Done():
		}
	}()
	return s, nil
}

func (s *Server) startAll() error {
	starts := []struct {
		port  int
		start func(net.Listener) error
	}{
		{PortSMTP, s.startSMTP},
		{PortSubmission, s.startSMTP},
		{PortSMTPS, s.startSMTP},
		{PortIMAP, s.startIMAP},
		{PortIMAPS, s.startIMAP},
		{PortPOP3, s.startPOP3},
		{PortPOP3S, s.startPOP3},
		{PortHTTPS, s.startHTTPS},
		{PortHTTP, s.startAIA},
	}
	for _, st := range starts {
		if s.fault(FaultHTTPOnMailPort, st.port) {
			st.start = s.startPlainHTTP
		}
		ln, err := s.listenTCP(st.port)
		if err != nil {
			return err
		}
		// Closed by Close whatever the library does: go-smtp only closes
		// the listeners its Serve has registered, which it may not have
		// done yet when Close follows Start at once.
		s.onClose(ln.Close)
		s.portMap[st.port] = ln.Addr().(*net.TCPAddr).Port
		if s.fault(FaultPortClosed, st.port) {
			// The port was taken only to give the port map an address
			// where nothing listens: connections are refused.
			ln.Close()
			continue
		}
		s.endpoints = append(s.endpoints, Endpoint{Service: serviceName(st.port), StdPort: st.port, Addr: ln.Addr().String()})
		if err := st.start(s.wrapListener(ln, st.port)); err != nil {
			return err
		}
	}
	if err := s.startDNS(); err != nil {
		return err
	}
	s.endpoints = append(s.endpoints, Endpoint{Service: "dns", StdPort: PortDNS, Addr: s.dnsAddr})
	if err := s.startSecondaries(); err != nil { // secondary.go
		return err
	}
	return nil
}

func serviceName(port int) string {
	switch port {
	case PortSMTP:
		return "smtp"
	case PortSubmission:
		return "submission"
	case PortSMTPS:
		return "smtps"
	case PortIMAP:
		return "imap"
	case PortIMAPS:
		return "imaps"
	case PortPOP3:
		return "pop3"
	case PortPOP3S:
		return "pop3s"
	case PortHTTPS:
		return "https"
	case PortHTTP:
		return "http"
	case PortDNS:
		return "dns"
	}
	return strconv.Itoa(port)
}

// loopbackHost refuses every listen address but loopback ones: the server
// has accounts with known passwords and no relay protection worth the name.
func loopbackHost(h string) (string, error) {
	switch h {
	case "":
		return "127.0.0.1", nil
	case "localhost":
		return "127.0.0.1", nil
	}
	ip, err := netip.ParseAddr(strings.Trim(h, "[]"))
	if err != nil || !ip.IsLoopback() {
		return "", fmt.Errorf("refserver: refusing to listen on %q: only loopback addresses (127.0.0.1, ::1) are allowed", h)
	}
	return ip.String(), nil
}

func (s *Server) listenAddr(stdPort int) string {
	port := 0
	if s.opts.BasePort > 0 {
		port = s.opts.BasePort + stdPort
	}
	return net.JoinHostPort(s.host, strconv.Itoa(port))
}

func (s *Server) listenTCP(stdPort int) (net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(s.ctx, "tcp", s.listenAddr(stdPort))
	if err != nil {
		return nil, fmt.Errorf("refserver: %s (port %d): %w", serviceName(stdPort), stdPort, err)
	}
	return ln, nil
}

// goServe runs fn until it returns; Close waits for it.
func (s *Server) goServe(name string, fn func() error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := fn(); err != nil && !s.isClosed() && !errors.Is(err, net.ErrClosed) {
			s.logf("%s: %v", name, err)
		}
	}()
}

// serveConns is the accept loop of the hand-written responders (POP3, IMAP
// without login): it hands each connection on ln to serve on a goroutine
// of its own. Close closes ln and waits for the loop and every serve.
func (s *Server) serveConns(ln net.Listener, port int, serve func(net.Conn)) {
	s.onClose(ln.Close)
	s.goServe(serviceName(port), func() error {
		for {
			c, err := ln.Accept()
			if err != nil {
				return err
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				serve(c)
			}()
		}
	})
}

// onClose registers a stop function Close calls, in reverse order.
func (s *Server) onClose(fn func() error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closers = append(s.closers, fn)
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

// DNSAddr is the DNS server's address; it answers over UDP and TCP.
func (s *Server) DNSAddr() string { return s.dnsAddr }

// PortMap maps each standard port (25 465 587 110 995 143 993 443, and 53
// for DNS) to the port the server listens on: the value of mailcheck's
// --port-map.
func (s *Server) PortMap() map[int]int {
	m := make(map[int]int, len(s.portMap))
	for k, v := range s.portMap {
		m[k] = v
	}
	return m
}

// PortMapFlag renders PortMap as a --port-map value: "25=10025,465=10465,...,53=10053".
func (s *Server) PortMapFlag() string {
	var parts []string
	for _, p := range append(slices.Clone(MailPorts), PortDNS) {
		if q, ok := s.portMap[p]; ok {
			parts = append(parts, fmt.Sprintf("%d=%d", p, q))
		}
	}
	return strings.Join(parts, ",")
}

// CA is the root that signed the served certificates (`serve --ca-out`).
func (s *Server) CA() *pki.Authority { return s.ca }

// CAPEM is the root certificate in PEM.
func (s *Server) CAPEM() []byte { return s.ca.PEM() }

// Domain is the scenario's domain, e.g. "example.test".
func (s *Server) Domain() string { return s.domain }

// MailHost is the host name of the MX and client services: "mail.<domain>".
func (s *Server) MailHost() string { return "mail." + s.domain }

// Scenario is the scenario being served.
func (s *Server) Scenario() *fixtures.Scenario { return s.sc }

// Endpoints lists the services, mail ports first, DNS last.
func (s *Server) Endpoints() []Endpoint { return slices.Clone(s.endpoints) }

// Messages returns the mail accepted over SMTP, oldest first (the last
// maxMessages only).
func (s *Server) Messages() []Message {
	s.msgMu.Lock()
	defer s.msgMu.Unlock()
	out := make([]Message, len(s.messages))
	for i, m := range s.messages {
		m.To = slices.Clone(m.To)
		m.Data = slices.Clone(m.Data)
		out[i] = m
	}
	return out
}

func (s *Server) storeMessage(m Message) {
	s.msgMu.Lock()
	s.messages = append(s.messages, m)
	if over := len(s.messages) - maxMessages; over > 0 {
		s.messages = slices.Delete(s.messages, 0, over)
	}
	s.msgMu.Unlock()
	s.mail.deliver(m)
	if s.opts.OnMessage != nil {
		s.opts.OnMessage(m)
	}
}

// Close stops every listener, drops every connection and waits for the
// server's goroutines. It is safe to call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	closers := s.closers
	conns := make([]net.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	s.cancel()
	// Connections first: a library's Close may wait for its handlers.
	for _, c := range conns {
		c.Close()
	}
	var errs []error
	for i := len(closers) - 1; i >= 0; i-- {
		if err := closers[i](); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	s.wg.Wait()
	return errors.Join(errs...)
}
