package probe

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

	"github.com/mailcheck-cli/mailcheck/dialer"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// Options configure probes. Dialer is required; the rest have defaults.
type Options struct {
	Dialer   *dialer.Dialer
	Resolver resolver.Resolver // for Host, MX and PTR; defaults to Dialer.Resolver
	// Verbose records a transcript of every dialogue (credentials
	// redacted) in Probe.Transcript.
	Verbose bool
	// Now is the clock certificates are judged by; time.Now when nil.
	Now func() time.Time
	// EHLOName is the name sent with EHLO/HELO. Empty: the address literal
	// of the local end ("[192.0.2.7]"), which RFC 5321 §4.1.4 prescribes
	// for a client without a meaningful name.
	EHLOName string
	// SkipLegacyTLS leaves out the cipher-suite scan: the extra
	// connections that test which protocol versions (SSL 3.0 to TLS 1.2)
	// and which kinds of suites each port accepts.
	SkipLegacyTLS bool
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o Options) resolver() resolver.Resolver {
	if o.Resolver != nil {
		return o.Resolver
	}
	if o.Dialer != nil && o.Dialer.Resolver != nil {
		return o.Dialer.Resolver
	}
	return noResolver{}
}

// dialer returns o.Dialer, or one with the defaults (system roots, no
// port map, 10 s steps) when none was given.
func (o Options) dialer() *dialer.Dialer {
	if o.Dialer != nil {
		return o.Dialer
	}
	return &dialer.Dialer{}
}

// noResolver answers when Options name no resolver at all: every lookup
// fails (inconclusive) instead of panicking.
type noResolver struct{}

func (noResolver) Query(_ context.Context, name string, qtype uint16) (*resolver.Answer, error) {
	return nil, &resolver.Error{Kind: resolver.Transport, Name: name, Qtype: qtype, Err: errors.New("no resolver configured")}
}

// Target is one port of one address.
type Target struct {
	// Host is the name dialled: sent as SNI and checked against the
	// certificate. Empty: the address itself.
	Host string
	Addr netip.Addr
	// Port is the standard port; the dialer maps it (--port-map).
	Port int
	// Protocol is one of smtp submission smtps imap imaps pop3 pop3s;
	// empty means ProtocolForPort(Port).
	Protocol string
}

// name is what certificates are checked against.
func (t Target) name() string {
	if t.Host != "" {
		return t.Host
	}
	return t.Addr.String()
}

// ProtocolForPort names the protocol of a standard mail port.
func ProtocolForPort(port int) (string, bool) {
	switch port {
	case 25:
		return "smtp", true
	case 587:
		return "submission", true
	case 465:
		return "smtps", true
	case 143:
		return "imap", true
	case 993:
		return "imaps", true
	case 110:
		return "pop3", true
	case 995:
		return "pop3s", true
	}
	return "", false
}

// DefaultPorts are the ports `mailcheck probe` tries when none are given.
var DefaultPorts = []int{25, 465, 587, 110, 995, 143, 993}

// Protocols lists the protocol names Target accepts.
var Protocols = []string{"smtp", "submission", "smtps", "imap", "imaps", "pop3", "pop3s"}

// implicitTLS: RFC 8314 §3.3 (submissions), §3.2 (imaps, pop3s).
func implicitTLS(protocol string) bool {
	return protocol == "smtps" || protocol == "imaps" || protocol == "pop3s"
}

// dialogue is one protocol's side of a session.
type dialogue interface {
	// greet reads the greeting; caps is set (hasCaps) when the greeting
	// carries them (IMAP's [CAPABILITY] response code).
	greet(ctx context.Context) (banner string, caps Caps, hasCaps bool, err error)
	capabilities(ctx context.Context) (Caps, error)
	offersTLS(Caps) bool
	startTLS(ctx context.Context) error
	mechanisms(Caps) []string
	quit(ctx context.Context)
}

// Session is one connection to one mail port, taken as far as its
// capabilities (after TLS when the session upgraded). What it learned stays
// readable after an error. It is not safe for concurrent use.
type Session struct {
	Target Target
	// Dialled is the address actually connected to (after --port-map).
	Dialled string
	Banner  string
	// CapsBeforeTLS and CapsAfterTLS are the capability sets announced on
	// the plaintext and on the encrypted connection. For implicit TLS only
	// CapsAfterTLS is set.
	CapsBeforeTLS, CapsAfterTLS Caps
	HaveCapsBefore, HaveCaps    bool // whether each set was obtained
	// TLS is the handshake's state once one completed.
	TLS *tls.ConnectionState

	w *wire
	d dialogue
	// peek holds the first bytes the server sent: evidence of a plaintext
	// reply to a TLS ClientHello, and the way to tell a silent server
	// (implicit TLS on a plaintext port) from one that answered.
	peek *recordingConn
}

// Open connects to t and reads the greeting and capabilities; for an
// implicit-TLS protocol it first completes the handshake with cfg. It
// returns the session even on error once a connection exists, so that the
// caller sees what was learned; the caller must Close it.
func Open(ctx context.Context, o Options, t Target, cfg *tls.Config) (*Session, error) {
	return open(ctx, o, t, cfg, false)
}

// errNoSTARTTLS: openBeforeTLS met a plaintext port that offers no
// STARTTLS/STLS, so no ClientHello can be sent.
var errNoSTARTTLS = errors.New("the server offers no STARTTLS")

// openBeforeTLS takes a session as far as the moment a ClientHello is due:
// right after connecting for implicit TLS, after the go-ahead of
// STARTTLS/STLS otherwise. The caller speaks TLS itself on s.w.raw (the
// cipher-suite scan); the session is closed with s.w.close, without a
// goodbye, as the connection is then in the middle of a handshake.
func openBeforeTLS(ctx context.Context, o Options, t Target) (*Session, error) {
	return open(ctx, o, t, nil, true)
}

func open(ctx context.Context, o Options, t Target, cfg *tls.Config, beforeTLS bool) (*Session, error) {
	if t.Protocol == "" {
		p, ok := ProtocolForPort(t.Port)
		if !ok {
			return nil, fmt.Errorf("no protocol given for non-standard port %d", t.Port)
		}
		t.Protocol = p
	}
	if !slices.Contains(Protocols, t.Protocol) {
		return nil, fmt.Errorf("unknown protocol %q (want one of %s)", t.Protocol, strings.Join(Protocols, ", "))
	}
	d := o.dialer()
	s := &Session{Target: t}
	s.Dialled = net.JoinHostPort(t.Addr.String(), strconv.Itoa(d.Port(t.Port)))
	conn, err := d.DialAddr(ctx, netip.AddrPortFrom(t.Addr, uint16(t.Port)))
	if err != nil {
		return nil, &StepError{Step: "connect", Err: err}
	}
	s.peek = &recordingConn{Conn: conn}
	s.w = newWire(ctx, s.peek, d.StepTimeout, o.Verbose)
	s.w.note("connected to %s (%s)", s.Dialled, t.Protocol)
	switch t.Protocol {
	case "smtp", "submission", "smtps":
		name := o.EHLOName
		if name == "" {
			name = addressLiteral(conn.LocalAddr())
		}
		s.d = &smtpDialogue{w: s.w, ehloName: name}
	case "imap", "imaps":
		s.d = &imapDialogue{w: s.w}
	default:
		s.d = &pop3Dialogue{w: s.w}
	}
	if implicitTLS(t.Protocol) {
		if beforeTLS {
			return s, nil
		}
		if err := s.handshake(ctx, cfg); err != nil {
			return s, err
		}
	}
	banner, caps, hasCaps, err := s.d.greet(ctx)
	s.Banner = printable(banner)
	if s.Banner == "" && errors.As(err, new(*LimitError)) {
		// Keep the start of the over-long greeting: what was seen stays.
		s.Banner = printable(firstLine(s.peek.firstBytes())) + "…"
	}
	if err != nil {
		return s, &StepError{Step: "greeting", Err: err}
	}
	if !hasCaps {
		caps, err = s.d.capabilities(ctx)
		if err != nil {
			return s, err
		}
	}
	s.setCaps(caps)
	if beforeTLS {
		if !s.OffersTLS() {
			return s, errNoSTARTTLS
		}
		if err := s.d.startTLS(ctx); err != nil {
			return s, &StepError{Step: s.startTLSCommand(), Err: err}
		}
	}
	return s, nil
}

// startTLSCommand is the protocol's command for STARTTLS.
func (s *Session) startTLSCommand() string {
	if _, ok := s.d.(*pop3Dialogue); ok {
		return "STLS"
	}
	return "STARTTLS"
}

// isBusy reports a temporary refusal of service (421, * BYE, -ERR
// [IN-USE]): worth another try a moment later.
func isBusy(err error) bool {
	var re *ReplyError
	return errors.As(err, &re) && re.Busy
}

// busyBackoff is the wait before the next try after a busy reply: it
// doubles from 100 ms up to 2 s.
func busyBackoff(try int) time.Duration {
	return min(100*time.Millisecond<<try, 2*time.Second)
}

// maxBusyRetries bounds the retries of one connection turned away as busy.
const maxBusyRetries = 6

// waitBusy sleeps before retry number try, unless the run's deadline
// would leave no room for the retry itself (one step): then it reports
// false at once.
func waitBusy(ctx context.Context, step time.Duration, try int) bool {
	if try >= maxBusyRetries {
		return false
	}
	wait := busyBackoff(try)
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait+step {
		return false
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// openRetrying is Open, tried again when the server turns the connection
// away as busy (a server that allows one connection at a time, or a
// short burst limit), within the run's time budget (RFC 5321 §4.5.4.1:
// a client retries a 421 later). It returns the last session and how many
// retries it took.
func openRetrying(ctx context.Context, o Options, t Target, cfg *tls.Config) (s *Session, retries int, err error) {
	step := o.dialer().StepTimeout
	if step <= 0 {
		step = 10 * time.Second
	}
	for try := 0; ; try++ {
		s, err = Open(ctx, o, t, cfg)
		if err == nil || !isBusy(err) || try >= 2 || !waitBusy(ctx, step, try+1) {
			return s, try, err
		}
		if s != nil {
			s.w.close()
		}
	}
}

const stepHandshake = "TLS handshake"

func (s *Session) handshake(ctx context.Context, cfg *tls.Config) error {
	tc, err := s.w.upgrade(ctx, cfg)
	if err != nil {
		if tc != nil {
			// A failed handshake may still have received the
			// certificates; keep them for the report.
			st := tc.ConnectionState()
			if len(st.PeerCertificates) > 0 {
				s.TLS = &st
			}
		}
		return &StepError{Step: stepHandshake, Err: err}
	}
	st := tc.ConnectionState()
	s.TLS = &st
	return nil
}

func (s *Session) setCaps(c Caps) {
	if s.TLS != nil {
		s.CapsAfterTLS, s.HaveCaps = c, true
	} else {
		s.CapsBeforeTLS, s.HaveCapsBefore = c, true
	}
}

// Caps returns the current capability set: after TLS once upgraded.
func (s *Session) Caps() Caps {
	if s.TLS != nil {
		return s.CapsAfterTLS
	}
	return s.CapsBeforeTLS
}

// OffersTLS reports whether the plaintext capabilities announce STARTTLS
// (SMTP, IMAP) or STLS (POP3).
func (s *Session) OffersTLS() bool {
	return s.HaveCapsBefore && s.d != nil && s.d.offersTLS(s.CapsBeforeTLS)
}

// Mechanisms returns the authentication mechanisms of the current
// capability set: SASL mechanisms, plus "LOGIN" for IMAP's LOGIN command
// (unless LOGINDISABLED) and "USER" for POP3's USER/PASS.
func (s *Session) Mechanisms() []string {
	if s.d == nil {
		return nil
	}
	return s.d.mechanisms(s.Caps())
}

// StartTLS upgrades a plaintext session: the STARTTLS/STLS command, the
// handshake with cfg, and the capabilities again, which a client must
// fetch anew after TLS (RFC 3207 §4.2, RFC 9051 §6.2.1, RFC 2595 §4).
func (s *Session) StartTLS(ctx context.Context, cfg *tls.Config) error {
	if s.TLS != nil {
		return errors.New("already using TLS")
	}
	cmd := s.startTLSCommand()
	if err := s.d.startTLS(ctx); err != nil {
		return &StepError{Step: cmd, Err: err}
	}
	if err := s.handshake(ctx, cfg); err != nil {
		return err
	}
	caps, err := s.d.capabilities(ctx)
	if err != nil {
		var se *StepError
		if errors.As(err, &se) {
			se.Step += " after " + cmd
		}
		return err
	}
	s.setCaps(caps)
	return nil
}

// Transcript returns the dialogue so far when Options.Verbose was set.
func (s *Session) Transcript() []string {
	if s.w == nil {
		return nil
	}
	return s.w.lines()
}

// Close says goodbye (QUIT/LOGOUT, bounded by one short step) when the
// session is healthy, and closes the connection.
func (s *Session) Close(ctx context.Context) {
	if s.w == nil {
		return
	}
	if s.d != nil && (s.HaveCaps || s.HaveCapsBefore) && ctx.Err() == nil {
		qctx, cancel := context.WithTimeout(ctx, min(s.w.step, 500*time.Millisecond))
		s.d.quit(qctx)
		cancel()
	}
	s.w.close()
}

// addressLiteral renders the local address as an RFC 5321 §4.1.3 address
// literal for EHLO.
func addressLiteral(a net.Addr) string {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return "[127.0.0.1]"
	}
	ip := ap.Addr().Unmap()
	if ip.Is6() {
		return "[IPv6:" + ip.String() + "]"
	}
	return "[" + ip.String() + "]"
}

// recordingConn keeps the first bytes read from the peer, so that a
// plaintext greeting answering our ClientHello can be shown as evidence.
type recordingConn struct {
	net.Conn
	mu    sync.Mutex
	first []byte
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		if room := 512 - len(c.first); room > 0 {
			c.first = append(c.first, p[:min(n, room)]...)
		}
		c.mu.Unlock()
	}
	return n, err
}

// silent reports whether the server has sent nothing at all.
func (s *Session) silent() bool { return s.peek == nil || len(s.peek.firstBytes()) == 0 }

func (c *recordingConn) firstBytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.first...)
}
