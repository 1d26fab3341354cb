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

	"github.com/mailcheck-cli/mailcheck/finding"
)

// Run probes one port of one address and judges it. The probe keeps what
// it learned when a step fails; the findings cover the connection (conn.*),
// TLS (tls.*) and authentication (auth.*), each with "host:port" (the
// standard port) as subject. Probe.Addr is the address actually dialled,
// after --port-map. When t.Addr is not set, the host's first address is
// used; Host probes every address. Unless SkipLegacyTLS, a port that
// completed TLS gets two more connections, concurrently, that offer only
// TLS 1.0 and only TLS 1.1.
func Run(ctx context.Context, o Options, t Target) (finding.Probe, []finding.Finding) {
	if !t.Addr.IsValid() {
		if a, err := netip.ParseAddr(t.Host); err == nil {
			t.Addr = a
		} else {
			addrs, err := lookupAddrs(ctx, o, t.Host)
			if len(addrs) == 0 {
				p := newProbe(t, "")
				p.Status = StatusClosed
				p.Error = "no address: " + errString(err)
				return p, []finding.Finding{addrFinding(t.Host, subjectFor(t, false), err)}
			}
			t.Addr = addrs[0]
		}
	}
	return run(ctx, o, t, subjectFor(t, false))
}

// subjectFor names a port as findings do: "mail.example.test:587", and
// with the address when the host has several, so that the A and AAAA
// results stay apart: "mail.example.test:587 (2001:db8::25)".
func subjectFor(t Target, withAddr bool) string {
	s := net.JoinHostPort(t.name(), strconv.Itoa(t.Port))
	if withAddr && t.Host != "" && t.Host != t.Addr.String() {
		s += " (" + t.Addr.String() + ")"
	}
	return s
}

func newProbe(t Target, dialled string) finding.Probe {
	if t.Protocol == "" {
		t.Protocol, _ = ProtocolForPort(t.Port)
	}
	if dialled == "" && t.Addr.IsValid() {
		dialled = net.JoinHostPort(t.Addr.String(), strconv.Itoa(t.Port))
	}
	return finding.Probe{Host: t.name(), Addr: dialled, Protocol: t.Protocol,
		AuthBeforeTLS: []string{}, AuthAfterTLS: []string{}}
}

// probeTLSConfig is the configuration of every probing handshake. It does
// not verify: certFindings does, so that every defect of the chain can be
// reported instead of the first one that aborts a handshake. It offers
// every version from TLS 1.0 and every cipher suite Go has, so that old
// servers still complete a handshake and can be described (the findings
// then say what is wrong with them).
func probeTLSConfig(host string, minV, maxV uint16) *tls.Config {
	var suites []uint16
	for _, cs := range tls.CipherSuites() {
		suites = append(suites, cs.ID)
	}
	for _, cs := range tls.InsecureCipherSuites() {
		suites = append(suites, cs.ID)
	}
	cfg := &tls.Config{
		InsecureSkipVerify: true, // verified by certFindings, see above
		MinVersion:         minV,
		MaxVersion:         maxV,
		CipherSuites:       suites,
	}
	if _, err := netip.ParseAddr(host); err != nil {
		cfg.ServerName = host // SNI, RFC 6066 §3: names only, never addresses
	}
	return cfg
}

// result is what one probe of one port learned, before judgement.
type result struct {
	t        Target
	subject  string
	s        *Session
	err      error
	sniffTLS bool // a silent plaintext port completed a TLS handshake
	legacy   []string
	o        Options
}

func run(ctx context.Context, o Options, t Target, subject string) (finding.Probe, []finding.Finding) {
	start := time.Now()
	if t.Protocol == "" {
		p, ok := ProtocolForPort(t.Port)
		if !ok {
			pr := newProbe(t, "")
			pr.Status = StatusProtocolError
			pr.Error = fmt.Sprintf("no protocol given for non-standard port %d", t.Port)
			return pr, []finding.Finding{finding.New("conn.protocol", subject, finding.T("%s (use --protocol)", pr.Error))}
		}
		t.Protocol = p
	}
	if !slices.Contains(Protocols, t.Protocol) {
		pr := newProbe(t, "")
		pr.Status = StatusProtocolError
		pr.Error = fmt.Sprintf("unknown protocol %q", t.Protocol)
		return pr, []finding.Finding{finding.New("conn.protocol", subject,
			finding.T("%s; use one of %s", pr.Error, strings.Join(Protocols, ", ")))}
	}
	r := &result{t: t, subject: subject, o: o}
	cfg := probeTLSConfig(t.name(), tls.VersionTLS10, tls.VersionTLS13)
	r.s, r.err = Open(ctx, o, t, cfg)
	if r.err == nil && !implicitTLS(t.Protocol) && r.s.OffersTLS() {
		r.err = r.s.StartTLS(ctx, cfg)
	}
	if r.s != nil {
		r.s.Close(ctx)
		var rh tls.RecordHeaderError
		if errors.As(r.err, &rh) && r.s.Banner == "" {
			// A plaintext greeting answered our ClientHello: show it.
			r.s.Banner = printable(firstLine(r.s.peek.firstBytes()))
		}
	}
	// A plaintext port that stays silent may be speaking implicit TLS,
	// waiting for our ClientHello: ask it, on a second connection, only
	// now (sending early would trip pregreet detection such as
	// Postfix's postscreen on a real MX that merely greets slowly).
	if r.err != nil && !implicitTLS(t.Protocol) && isTimeout(r.err) && r.s != nil && r.s.silent() && ctx.Err() == nil {
		r.sniffTLS = sniffImplicitTLS(ctx, o, t)
	}
	if !o.SkipLegacyTLS && r.s != nil && r.s.TLS != nil && r.err == nil {
		r.legacy = legacyVersions(ctx, o, t)
	}
	p := r.probe()
	p.DurationMS = time.Since(start).Milliseconds()
	return p, r.findings()
}

// sniffImplicitTLS reports whether the port completes a TLS handshake as
// soon as it is connected. Bounded by half a step: a TLS server answers a
// ClientHello at once.
func sniffImplicitTLS(ctx context.Context, o Options, t Target) bool {
	step := o.dialer().StepTimeout
	if step <= 0 {
		step = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, step/2)
	defer cancel()
	conn, err := o.dialer().DialAddr(ctx, netip.AddrPortFrom(t.Addr, uint16(t.Port)))
	if err != nil {
		return false
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	tc := tls.Client(conn, probeTLSConfig(t.name(), tls.VersionTLS10, tls.VersionTLS13))
	return tc.HandshakeContext(ctx) == nil
}

// legacyVersions tries TLS 1.0 and TLS 1.1 alone, each on its own
// connection, concurrently. RFC 8996 deprecates both.
func legacyVersions(ctx context.Context, o Options, t Target) []string {
	versions := []uint16{tls.VersionTLS10, tls.VersionTLS11}
	accepted := make([]bool, len(versions))
	var wg sync.WaitGroup
	for i, v := range versions {
		wg.Go(func() { accepted[i] = acceptsVersion(ctx, o, t, v) })
	}
	wg.Wait()
	var out []string
	for i, v := range versions {
		if accepted[i] {
			out = append(out, versionName(v))
		}
	}
	return out
}

func acceptsVersion(ctx context.Context, o Options, t Target, v uint16) bool {
	o.Verbose = false
	cfg := probeTLSConfig(t.name(), v, v)
	s, err := Open(ctx, o, t, cfg)
	if s == nil {
		return false
	}
	defer s.Close(ctx)
	if err != nil {
		return false
	}
	if s.TLS != nil {
		return s.TLS.Version == v
	}
	if !s.OffersTLS() {
		return false
	}
	if err := s.d.startTLS(ctx); err != nil {
		return false
	}
	err = s.handshake(ctx, cfg)
	return err == nil && s.TLS != nil && s.TLS.Version == v
}

// probe fills the schema's record of what was learned.
func (r *result) probe() finding.Probe {
	p := newProbe(r.t, "")
	p.Status = failure(r.err)
	if r.err != nil {
		p.Error = r.err.Error()
	}
	var re *ReplyError
	if errors.As(r.err, &re) && stepOf(r.err) == "greeting" {
		p.Status = StatusRateLimited // a 554 greeting refuses this client: see failureFinding
	}
	if r.sniffTLS {
		p.Status = StatusProtocolError
		p.Error += "; a TLS handshake on a new connection succeeded: the port speaks implicit TLS"
	}
	s := r.s
	if s == nil {
		return p
	}
	p.Addr = s.Dialled
	p.Banner = s.Banner
	p.ImplicitTLS = implicitTLS(r.t.Protocol)
	if s.HaveCapsBefore {
		p.CapsBeforeTLS = s.CapsBeforeTLS.List()
		p.StartTLS = s.OffersTLS()
		if !p.ImplicitTLS {
			p.AuthBeforeTLS = nonNil(s.d.mechanisms(s.CapsBeforeTLS))
		}
	}
	if s.HaveCaps {
		p.CapsAfterTLS = s.CapsAfterTLS.List()
		p.AuthAfterTLS = nonNil(s.d.mechanisms(s.CapsAfterTLS))
	}
	if s.TLS != nil {
		p.TLS = tlsState(s.TLS, r.t.name(), r.o.dialer().Roots, r.o.now())
		if v := s.TLS.Version; v == tls.VersionTLS10 || v == tls.VersionTLS11 {
			p.LegacyTLS = append(p.LegacyTLS, versionName(v))
		}
	}
	for _, v := range r.legacy {
		p.LegacyTLS = appendUnique(p.LegacyTLS, v)
	}
	if r.o.Verbose {
		p.Transcript = s.Transcript()
		if p.TLS != nil {
			// The verdict goes right after the handshake line.
			verdict := "TLS: " + strconv.Itoa(len(p.TLS.Chain)) + " certificates, verified for " + r.t.name()
			if !p.TLS.Verified {
				verdict = "TLS: " + strconv.Itoa(len(p.TLS.Chain)) + " certificates, NOT verified: " + p.TLS.VerifyError
			}
			at := slices.IndexFunc(p.Transcript, func(l string) bool { return strings.HasPrefix(l, "TLS: ") })
			if at < 0 {
				at = len(p.Transcript) - 1
			}
			p.Transcript = slices.Insert(p.Transcript, at+1, verdict)
		}
	}
	return p
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func errString(err error) string {
	if err == nil {
		return "the name has no A or AAAA record"
	}
	return err.Error()
}

// stepOf names the step an error happened at.
func stepOf(err error) string {
	var se *StepError
	if errors.As(err, &se) {
		return se.Step
	}
	return "dialogue"
}

// protocolNames is how findings name what the port should speak.
var protocolNames = map[string]string{
	"smtp": "SMTP", "submission": "SMTP submission", "smtps": "SMTP submission over implicit TLS",
	"imap": "IMAP", "imaps": "IMAP over implicit TLS", "pop3": "POP3", "pop3s": "POP3 over implicit TLS",
}

// needsAuth: ports where users log in. Port 25 receives mail from other
// servers without authentication (RFC 5321), so AUTH is not expected there.
func needsAuth(protocol string) bool { return protocol != "smtp" }

// findings judges the result: conn.* first, then tls.*, then auth.*.
func (r *result) findings() []finding.Finding {
	var out []finding.Finding
	subject := r.subject
	s, err := r.s, r.err
	proto := protocolNames[r.t.Protocol]
	port := r.t.Port

	// Connection.
	switch {
	case err == nil:
		out = append(out, finding.New("conn.ok", subject, finding.T("%s answers on port %d", proto, port), evidenceBanner(s)...))
	case s == nil && isRefused(err):
		return []finding.Finding{finding.New("conn.refused", subject,
			finding.T("Port %d refuses connections: no %s service is listening", port, proto))}
	case s == nil && isUnreachable(err):
		return []finding.Finding{finding.New("conn.unreachable", subject,
			finding.T("%s cannot be reached from here: %v", r.t.Addr, errors.Unwrap(err)))}
	case s == nil:
		f := finding.New("conn.timeout", subject, finding.T("Connecting to port %d failed: %v", port, errors.Unwrap(err)))
		return []finding.Finding{f}
	case r.sniffTLS:
		return []finding.Finding{finding.New("conn.protocol", subject,
			finding.T("Port %d speaks implicit TLS, but %s expects a plaintext greeting and STARTTLS", port, proto),
			"no greeting within the step timeout; a TLS ClientHello on a new connection completed a handshake")}
	default:
		out = append(out, r.failureFinding())
	}

	// TLS.
	if !implicitTLS(r.t.Protocol) && s.HaveCapsBefore && !s.OffersTLS() {
		cmd := "STARTTLS"
		if _, ok := s.d.(*pop3Dialogue); ok {
			cmd = "STLS"
		}
		f := finding.New("tls.starttls-missing", subject,
			finding.T("Port %d offers no %s: everything, passwords included, crosses the network in clear", port, cmd),
			"capabilities: "+capsText(s.CapsBeforeTLS))
		if r.t.Protocol == "smtp" {
			// Kept at fail on an MX too: without STARTTLS every
			// message arrives readable by anyone on the path, and
			// MTA-STS (RFC 8461) and DANE (RFC 7672) cannot protect
			// the domain. Opportunistic senders still deliver, so
			// the title says what is at stake rather than "broken".
			f.SetTitle(finding.T("Port 25 offers no STARTTLS: mail to this MX crosses the network in clear, and MTA-STS/DANE cannot be used"))
		}
		out = append(out, f)
	}
	if s.TLS != nil {
		out = append(out, certFindings(subject, r.t.name(), s.TLS, r.o.dialer().Roots, r.o.now())...)
		legacy := r.legacyList()
		if len(legacy) > 0 {
			out = append(out, finding.New("tls.version-legacy", subject,
				finding.T("%s still accepted (deprecated by RFC 8996)", strings.Join(legacy, " and "))))
		}
	}

	// Authentication.
	out = append(out, r.authFindings()...)
	return out
}

func (r *result) legacyList() []string {
	var out []string
	if v := r.s.TLS.Version; v == tls.VersionTLS10 || v == tls.VersionTLS11 {
		out = append(out, versionName(v))
	}
	for _, v := range r.legacy {
		out = appendUnique(out, v)
	}
	return out
}

func evidenceBanner(s *Session) []string {
	if s == nil || s.Banner == "" {
		return nil
	}
	return []string{"banner: " + s.Banner}
}

// failureFinding explains where a dialogue that had connected stopped.
func (r *result) failureFinding() finding.Finding {
	s, err, subject, port := r.s, r.err, r.subject, r.t.Port
	step := stepOf(err)
	ev := evidenceBanner(s)
	ev = append(ev, "error: "+err.Error())
	var re *ReplyError
	var rh tls.RecordHeaderError
	var pe *ProtocolError
	switch {
	case errors.As(err, &re) && re.Busy:
		return finding.New("conn.rate-limited", subject,
			finding.T("The server is busy or rate-limiting this client at %s: %s", step, printable(re.Reply)), ev...)
	case errors.As(err, &re) && step == "greeting":
		// A 554 greeting: the server refuses this client (often a
		// blocklisted address). That says more about the prober than
		// about the server, so it is inconclusive like a 421.
		f := finding.New("conn.rate-limited", subject,
			finding.T("The server refuses service to this client: %s", printable(re.Reply)), ev...)
		return f
	case errors.As(err, &rh):
		got := r.s.Banner
		return finding.New("conn.protocol", subject,
			finding.T("Port %d answers in plaintext (%q), but %s expects implicit TLS (RFC 8314)", port, got, protocolNames[r.t.Protocol]),
			append(ev, "first bytes: "+got)...)
	case errors.As(err, &pe):
		return finding.New("conn.protocol", subject,
			finding.T("Port %d does not speak %s at %s: %s", port, protocolNames[r.t.Protocol], step, pe.Error()), ev...)
	case isTimeout(err):
		what := "waiting for the " + step
		if step == "greeting" && !s.silent() {
			what = "in the middle of the greeting"
		}
		return finding.New("conn.timeout", subject,
			finding.T("Timed out %s on port %d (inconclusive)", what, port), ev...)
	case errors.As(err, &re) && (step == "STARTTLS" || step == "STLS"):
		// Announced but refused, typically "454 4.7.0 TLS not available
		// due to local problem": a missing or unreadable certificate,
		// which lasts until someone fixes it (RFC 3207 §4).
		return finding.New("tls.handshake-failed", subject,
			finding.T("Port %d announces %s but refuses it: %s", port, step, printable(re.Reply)), ev...)
	case errors.As(err, &re):
		return finding.New("conn.protocol", subject,
			finding.T("The server refused %s on port %d: %s", step, port, printable(re.Reply)), ev...)
	case step == stepHandshake && !isClosed(err):
		return finding.New("tls.handshake-failed", subject,
			finding.T("The TLS handshake on port %d failed: %v", port, errors.Unwrap(err)), ev...)
	}
	// The server closed or reset the connection.
	title := finding.T("The server closed the connection during the %s on port %d", step, port)
	if step == stepHandshake && !implicitTLS(r.t.Protocol) {
		title = finding.T("The server accepted STARTTLS on port %d, then closed the connection instead of completing the TLS handshake", port)
	}
	return finding.New("conn.protocol", subject, title, ev...)
}

func capsText(c Caps) string {
	if c.Len() == 0 {
		return "none announced"
	}
	return strings.Join(c.List(), ", ")
}

func firstLine(b []byte) string {
	s := string(b)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// cleartextSafe are SASL mechanisms that do not reveal the password (or a
// bearer token) to an eavesdropper: challenge-response and external
// mechanisms. Everything else — PLAIN, LOGIN, IMAP's LOGIN command,
// POP3's USER/PASS, and the OAuth bearer mechanisms, whose token is as good
// as a password — is exposed on a plaintext connection (RFC 8314 §1,
// RFC 4954 §4 and RFC 6750 §5.3 for bearer tokens).
var cleartextSafe = map[string]bool{
	"CRAM-MD5": true, "DIGEST-MD5": true, "GSSAPI": true, "GS2-KRB5": true, "EXTERNAL": true, "ANONYMOUS": true,
	"SCRAM-SHA-1": true, "SCRAM-SHA-256": true, "SCRAM-SHA-512": true,
	"SCRAM-SHA-1-PLUS": true, "SCRAM-SHA-256-PLUS": true, "SCRAM-SHA-512-PLUS": true,
}

var oauthMechs = map[string]bool{"XOAUTH2": true, "OAUTHBEARER": true}

func (r *result) authFindings() []finding.Finding {
	s, subject := r.s, r.subject
	var out []finding.Finding
	exposed := false
	if !implicitTLS(r.t.Protocol) && s.HaveCapsBefore {
		var bad []string
		for _, m := range s.d.mechanisms(s.CapsBeforeTLS) {
			if !cleartextSafe[m] {
				bad = append(bad, m)
			}
		}
		if len(bad) > 0 {
			exposed = true
			out = append(out, finding.New("auth.plaintext-exposed", subject,
				finding.T("Port %d offers %s before TLS: a client may send its password in clear", r.t.Port, strings.Join(bad, ", ")),
				"capabilities before TLS: "+capsText(s.CapsBeforeTLS)))
		}
	}
	if !s.HaveCaps {
		// No TLS session to judge. Port 25 needs no AUTH at all, so a
		// plaintext MX that exposes nothing is fine on this count.
		if !exposed && !needsAuth(r.t.Protocol) && s.HaveCapsBefore {
			out = append(out, finding.New("auth.ok", subject, finding.T("No authentication is offered in clear")))
		}
		return out
	}
	mechs := s.d.mechanisms(s.CapsAfterTLS)
	if needsAuth(r.t.Protocol) {
		if len(mechs) == 0 {
			return append(out, finding.New("auth.none-offered", subject,
				finding.T("Port %d offers no authentication mechanism even over TLS: mail clients cannot log in", r.t.Port),
				"capabilities after TLS: "+capsText(s.CapsAfterTLS)))
		}
		oauthOnly := true
		for _, m := range mechs {
			if !oauthMechs[m] {
				oauthOnly = false
			}
		}
		if oauthOnly {
			out = append(out, finding.New("auth.oauth-only", subject,
				finding.T("Port %d offers only %s: clients need OAuth2 support, passwords are refused", r.t.Port, strings.Join(mechs, ", "))))
		}
	}
	if exposed {
		return out
	}
	title := finding.T("Authentication (%s) is offered only over TLS", strings.Join(mechs, ", "))
	if len(mechs) == 0 {
		title = finding.T("No authentication is offered before TLS")
	}
	return append(out, finding.New("auth.ok", subject, title))
}
