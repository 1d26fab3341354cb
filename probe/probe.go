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
	"time"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// Run probes one port of one address and judges it. The probe keeps what
// it learned when a step fails; the findings cover the connection (conn.*),
// TLS (tls.*) and authentication (auth.*), each with "host:port" (the
// standard port) as subject. Probe.Addr is the address actually dialled,
// after --port-map. When t.Addr is not set, the host's first address is
// used; Host probes every address. Unless SkipLegacyTLS, a port that speaks
// TLS also gets the cipher-suite scan: separate connections, a few at a
// time, that each offer one protocol version or one kind of suite.
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
	out := runPort(ctx, o, newRunState(), t, subjectFor(t, false))
	return out.probe, out.findings()
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
	t       Target
	subject string
	o       Options
	s       *Session
	err     error
	retries int // connections retried after a busy reply
	// sniff is what a second connection learned from a silent plaintext
	// port: a TLS handshake, or a reply in another protocol.
	sniff sniffResult
	scan  *scanResult
	// view is the TLS seen: the handshake's, or the scan's first flight
	// when crypto/tls could not complete one; verdict judges its chain.
	view    *handshakeView
	verdict *chainVerdict
}

// portOutcome is a judged port: its probe record and its findings, with
// the findings about its certificate apart so that Host and MX can say
// them once for every port that serves the same certificate.
type portOutcome struct {
	probe   finding.Probe
	subject string
	head    []finding.Finding // conn.*, tls.starttls-missing, a failed handshake
	cert    *chainVerdict     // nil when no certificate was seen
	tail    []finding.Finding // tls.ok, versions, suites, auth.*
}

func (po portOutcome) findings() []finding.Finding {
	out := append([]finding.Finding(nil), po.head...)
	if po.cert != nil {
		out = append(out, po.cert.findingsFor(po.subject)...)
	}
	return append(out, po.tail...)
}

func runPort(ctx context.Context, o Options, st *runState, t Target, subject string) portOutcome {
	start := time.Now()
	if t.Protocol == "" {
		p, ok := ProtocolForPort(t.Port)
		if !ok {
			pr := newProbe(t, "")
			pr.Status = StatusProtocolError
			pr.Error = fmt.Sprintf("no protocol given for non-standard port %d", t.Port)
			return portOutcome{probe: pr, subject: subject, head: []finding.Finding{finding.New("conn.protocol", subject,
				finding.T("no protocol given for non-standard port %d (use --protocol)", t.Port))}}
		}
		t.Protocol = p
	}
	if !slices.Contains(Protocols, t.Protocol) {
		pr := newProbe(t, "")
		pr.Status = StatusProtocolError
		pr.Error = fmt.Sprintf("unknown protocol %q", t.Protocol)
		return portOutcome{probe: pr, subject: subject, head: []finding.Finding{finding.New("conn.protocol", subject,
			finding.T("unknown protocol %q; use one of %s", t.Protocol, strings.Join(Protocols, ", ")))}}
	}
	r := &result{t: t, subject: subject, o: o}
	cfg := probeTLSConfig(t.name(), tls.VersionTLS10, tls.VersionTLS13)
	r.s, r.retries, r.err = openRetrying(ctx, o, t, cfg)
	dialogue := time.Since(start)
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
		r.sniff = sniffImplicitTLS(ctx, o, t)
		if greets(t.Protocol, r.sniff.reply) {
			// Our ClientHello met the greeting of a server that is just
			// slow to greet: it speaks the protocol, and timed out.
			r.sniff.lateGreeting, r.sniff.reply = r.sniff.reply, nil
		}
	}
	// The scan, after a handshake that completed or one the server
	// refused in TLS terms (an alert: it speaks TLS, just not what
	// crypto/tls offers, e.g. only DHE suites).
	handshakeDone := r.s != nil && r.s.TLS != nil && r.s.TLS.HandshakeComplete
	refusedInTLS := r.s != nil && stepOf(r.err) == stepHandshake && tlsLevelFailure(r.err)
	if !o.SkipLegacyTLS && (handshakeDone || refusedInTLS) && ctx.Err() == nil {
		r.scan = scanTLS(ctx, o, t, handshakeDone, dialogue)
	}
	switch {
	case r.s != nil && r.s.TLS != nil && len(r.s.TLS.PeerCertificates) > 0:
		v := viewOfConn(r.s.TLS)
		r.view = &v
	case r.scan != nil:
		if a, ok := r.scan.best(); ok {
			v := viewOfHello(a)
			r.view = &v
		}
	case r.s != nil && r.s.TLS != nil:
		v := viewOfConn(r.s.TLS)
		r.view = &v
	}
	if r.view != nil {
		r.verdict = st.verdict(ctx, o, t.name(), *r.view)
	}
	p := r.probe()
	p.DurationMS = time.Since(start).Milliseconds()
	out := portOutcome{probe: p, subject: subject, cert: r.verdict}
	out.head, out.tail = r.findings()
	return out
}

// tlsLevelFailure: the handshake failed on something the server said in
// TLS (an alert, a message crypto/tls rejects), not on a close, a timeout,
// plaintext or one of mailcheck's bounds.
func tlsLevelFailure(err error) bool {
	var rh tls.RecordHeaderError
	return err != nil && !isClosed(err) && !isTimeout(err) && !errors.As(err, &rh) && !errors.As(err, new(*LimitError))
}

// sniffResult is what a second connection to a silent plaintext port got.
type sniffResult struct {
	tls   bool   // a TLS handshake completed: the port speaks implicit TLS
	reply []byte // or the port answered the ClientHello in plaintext (an HTTP server)
	// lateGreeting: the answer was the protocol's greeting, late.
	lateGreeting []byte
}

// greets reports whether b starts with a greeting of protocol (RFC 5321
// §4.2: a 220, 4yz or 554 reply; RFC 9051 §7.1: "* OK", "* PREAUTH",
// "* BYE"; RFC 1939 §4: "+OK" or "-ERR").
func greets(protocol string, b []byte) bool {
	line := firstLine(b)
	switch protocol {
	case "smtp", "submission", "smtps":
		code, _, _, ok := parseSMTPLine(line)
		return ok && (code == 220 || code == 554 || code/100 == 4)
	case "imap", "imaps":
		return strings.HasPrefix(line, "* OK") || strings.HasPrefix(line, "* PREAUTH") || strings.HasPrefix(line, "* BYE")
	}
	return strings.HasPrefix(line, "+OK") || strings.HasPrefix(line, "-ERR")
}

// sniffImplicitTLS sends a ClientHello as soon as the port is connected.
// Bounded by half a step: a TLS server answers a ClientHello at once, and
// so does an HTTP server (with "400 Bad Request").
func sniffImplicitTLS(ctx context.Context, o Options, t Target) sniffResult {
	step := o.dialer().StepTimeout
	if step <= 0 {
		step = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, step/2)
	defer cancel()
	conn, err := o.dialer().DialAddr(ctx, netip.AddrPortFrom(t.Addr, uint16(t.Port)))
	if err != nil {
		return sniffResult{}
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	rec := &recordingConn{Conn: conn}
	tc := tls.Client(rec, probeTLSConfig(t.name(), tls.VersionTLS10, tls.VersionTLS13))
	err = tc.HandshakeContext(ctx)
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) {
		// crypto/tls stops at the first five bytes: read what follows.
		_ = conn.SetReadDeadline(time.Now().Add(min(step/4, 500*time.Millisecond)))
		buf := make([]byte, 200)
		n, _ := conn.Read(buf)
		return sniffResult{reply: append(rec.firstBytes(), buf[:n]...)}
	}
	return sniffResult{tls: err == nil}
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
	if r.plaintextAfterGoAhead() {
		p.Status = StatusTLSFailed // the port speaks the protocol; its TLS is what fails
	}
	switch {
	case r.sniff.tls:
		p.Status = StatusProtocolError
		p.Error += "; a TLS handshake on a new connection succeeded: the port speaks implicit TLS"
	case len(r.sniff.reply) > 0:
		p.Status = StatusProtocolError
		p.Error += fmt.Sprintf("; a TLS ClientHello on a new connection was answered in plaintext: %q", printable(firstLine(r.sniff.reply)))
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
	if r.view != nil {
		// Also when crypto/tls could not complete the handshake and the
		// scan's first flight showed the version, suite and chain.
		p.TLS = tlsState(*r.view, r.t.name(), r.o.dialer().Roots, r.o.now())
		if r.verdict != nil {
			p.TLS.OCSP = r.verdict.ocsp
		}
	}
	p.LegacyTLS = r.legacyList()
	if r.scan != nil {
		p.TLSScan = r.scan.record(r.t.Protocol, r.mainVersion() == tls.VersionTLS13)
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
		if p.TLSScan != nil {
			p.Transcript = append(p.Transcript, scanTranscript(p.TLSScan)...)
		}
	}
	return p
}

// scanTranscript summarises the scan for -v.
func scanTranscript(sc *finding.TLSScan) []string {
	var out []string
	for _, v := range sc.Versions {
		line := "scan: " + v.Version + " " + v.Result
		if v.Detail != "" {
			line += " (" + v.Detail + ")"
		}
		out = append(out, line)
	}
	for _, s := range sc.Suites {
		line := "scan: " + s.Version + " " + s.Name
		if len(s.Weak) > 0 {
			line += " [" + strings.Join(s.Weak, ", ") + "]"
		}
		out = append(out, line)
	}
	for _, i := range sc.Inconclusive {
		out = append(out, "scan: not told: "+i)
	}
	return out
}

// mainVersion is the version the probe's own handshake negotiated.
func (r *result) mainVersion() uint16 {
	if r.s != nil && r.s.TLS != nil && r.s.TLS.HandshakeComplete {
		return r.s.TLS.Version
	}
	return 0
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

// protocolName is how findings name what a port should speak, given the
// protocol's key ("smtps"): "SMTP submission over implicit TLS". It is
// passed to finding.T as an argument and written in the report's language.
type protocolName string

func (p protocolName) String() string { return p.text().String() }

// In writes the name in language l.
func (p protocolName) In(l finding.Lang) string { return p.text().In(l) }

func (p protocolName) text() finding.Text {
	switch p {
	case "smtp":
		return finding.Verbatim("SMTP")
	case "submission":
		return finding.T("SMTP submission")
	case "smtps":
		return finding.T("SMTP submission over implicit TLS")
	case "imap":
		return finding.Verbatim("IMAP")
	case "imaps":
		return finding.T("IMAP over implicit TLS")
	case "pop3":
		return finding.Verbatim("POP3")
	case "pop3s":
		return finding.T("POP3 over implicit TLS")
	}
	return finding.Verbatim(string(p))
}

// newFinding is finding.New with evidence lines that are written in the
// report's language: sentences, and labelled data ("banner: 220 ...")
// whose label is translated and whose data is not.
func newFinding(id, subject string, title finding.Text, evidence ...finding.Text) finding.Finding {
	f := finding.New(id, subject, title)
	for _, e := range evidence {
		f.Note(e)
	}
	return f
}

// needsAuth: ports where users log in. Port 25 receives mail from other
// servers without authentication (RFC 5321), so AUTH is not expected there.
func needsAuth(protocol string) bool { return protocol != "smtp" }

// findings judges the result: conn.* first, then tls.*, then auth.*. The
// findings about the certificate are the verdict's (see portOutcome).
func (r *result) findings() (head, tail []finding.Finding) {
	subject := r.subject
	s, err := r.s, r.err
	proto := protocolName(r.t.Protocol)
	port := r.t.Port

	// Connection.
	switch {
	case err == nil:
		f := newFinding("conn.ok", subject, finding.T("%s answers on port %d", proto, port), evidenceBanner(s)...)
		if r.retries > 0 {
			f.Note(finding.T("The server turned the first %d connection(s) away as busy; a later one was served", r.retries))
		}
		head = append(head, f)
	case s == nil && isRefused(err):
		return []finding.Finding{finding.New("conn.refused", subject,
			finding.T("Port %d refuses connections: no %s service is listening", port, proto))}, nil
	case s == nil && isUnreachable(err):
		return []finding.Finding{finding.New("conn.unreachable", subject,
			finding.T("%s cannot be reached from here: %v", r.t.Addr, errors.Unwrap(err)))}, nil
	case s == nil:
		f := finding.New("conn.timeout", subject, finding.T("Connecting to port %d failed: %v", port, errors.Unwrap(err)))
		return []finding.Finding{f}, nil
	case r.sniff.tls:
		return []finding.Finding{newFinding("conn.protocol", subject,
			finding.T("Port %d speaks implicit TLS, but %s expects a plaintext greeting and STARTTLS", port, proto),
			finding.T("no greeting within the step timeout; a TLS ClientHello on a new connection completed a handshake"))}, nil
	case len(r.sniff.reply) > 0:
		got := printable(firstLine(r.sniff.reply))
		title := finding.T("Port %d does not speak %s: it sends no greeting, and it answered a TLS ClientHello with %q", port, proto, got)
		if strings.HasPrefix(got, "HTTP/") {
			title = finding.T("Port %d does not speak %s: an HTTP server answers there (%q)", port, proto, got)
		}
		return []finding.Finding{newFinding("conn.protocol", subject, title,
			finding.T("no greeting within the step timeout; a TLS ClientHello on a new connection got: %s", got))}, nil
	default:
		head = append(head, r.failureFinding())
	}

	// TLS.
	if !implicitTLS(r.t.Protocol) && s.HaveCapsBefore && !s.OffersTLS() {
		cmd := s.startTLSCommand()
		f := newFinding("tls.starttls-missing", subject,
			finding.T("Port %d offers no %s: everything, passwords included, crosses the network in clear", port, cmd),
			finding.T("capabilities: %s", capsText(s.CapsBeforeTLS)))
		if r.t.Protocol == "smtp" {
			// Kept at fail on an MX too: without STARTTLS every
			// message arrives readable by anyone on the path, and
			// MTA-STS (RFC 8461) and DANE (RFC 7672) cannot protect
			// the domain. Opportunistic senders still deliver, so
			// the title says what is at stake rather than "broken".
			f.SetTitle(finding.T("Port 25 offers no STARTTLS: mail to this MX crosses the network in clear, and MTA-STS/DANE cannot be used"))
		}
		head = append(head, f)
	}
	if r.verdict != nil && r.verdict.clean && r.mainVersion() != 0 {
		// Only beside no warning about the same certificate, and only for
		// a handshake that completed.
		leaf := r.view.Certs[0]
		day := leaf.NotAfter.UTC().Format("2006-01-02")
		f := finding.New("tls.ok", subject,
			finding.T("%s, certificate valid for %s until %s, issued by %s", versionName(r.view.Version), r.t.name(), day, issuerName(leaf)))
		if !r.verdict.okNote.IsZero() {
			f.Note(r.verdict.okNote)
		}
		tail = append(tail, f)
	}
	switch {
	case r.scan != nil:
		tail = append(tail, r.scan.legacyFindings(subject, r.mainVersion())...)
		tail = append(tail, r.scan.cipherFindings(subject, r.t.Protocol, port, r.mainVersion() == tls.VersionTLS13)...)
	case len(r.legacyList()) > 0:
		tail = append(tail, finding.New("tls.version-legacy", subject,
			finding.T("%s still accepted (deprecated by RFC 8996)", strings.Join(r.legacyList(), ", "))))
	}

	// Authentication.
	tail = append(tail, r.authFindings()...)
	return head, tail
}

// legacyList names the deprecated versions the port accepted: in the
// probe's own handshake, or in the scan.
func (r *result) legacyList() []string {
	var out []string
	if v := r.mainVersion(); v == tls.VersionTLS10 || v == tls.VersionTLS11 {
		out = append(out, versionName(v))
	}
	if r.scan != nil {
		for _, v := range scanVersions {
			if a := r.scan.versions[v]; v < tls.VersionTLS12 && a.result == helloAccepted {
				out = appendUnique(out, versionName(v))
			}
		}
	}
	return out
}

func evidenceBanner(s *Session) []finding.Text {
	if s == nil || s.Banner == "" {
		return nil
	}
	return []finding.Text{finding.T("banner: %s", s.Banner)}
}

// failureFinding explains where a dialogue that had connected stopped.
func (r *result) failureFinding() finding.Finding {
	s, err, subject, port := r.s, r.err, r.subject, r.t.Port
	step := stepOf(err)
	ev := evidenceBanner(s)
	ev = append(ev, finding.T("error: %s", err))
	var re *ReplyError
	var rh tls.RecordHeaderError
	var pe *ProtocolError
	var le *LimitError
	switch {
	case errors.As(err, &le):
		// mailcheck's own bound stopped reading: the server closed
		// nothing, and what it would have said next is unknown.
		f := newFinding("conn.limit", subject,
			finding.T("mailcheck stopped reading at the %s on port %d: the server sent %s (inconclusive)", stepName(step), port, le.reason()), ev...)
		if le.Kind == LimitLine && (r.t.Protocol == "smtp" || r.t.Protocol == "submission" || r.t.Protocol == "smtps") {
			f.Note(finding.T("SMTP allows 512 bytes in a reply line (RFC 5321 §4.5.3.1.5)"))
		}
		return f
	case errors.As(err, &re) && re.Busy:
		f := newFinding("conn.rate-limited", subject,
			finding.T("The server is busy or rate-limiting this client at %s: %s", stepName(step), printable(re.Reply)), ev...)
		if r.retries > 0 {
			f.Note(finding.T("Tried %d more time(s) with backoff; the server stayed busy", r.retries))
		}
		return f
	case errors.As(err, &re) && step == "greeting":
		// A 554 greeting: the server refuses this client (often a
		// blocklisted address). That says more about the prober than
		// about the server, so it is inconclusive like a 421.
		f := newFinding("conn.rate-limited", subject,
			finding.T("The server refuses service to this client: %s", printable(re.Reply)), ev...)
		return f
	case r.plaintextAfterGoAhead():
		// The go-ahead came, then plaintext instead of the server's
		// handshake: a proxy or filter in the way, or a broken TLS layer.
		got := s.w.preTLS
		if hs := s.w.handshake; hs != nil && len(hs.firstBytes()) > 0 {
			got = hs.firstBytes()
		}
		text := printable(firstLine(got))
		f := newFinding("tls.handshake-failed", subject,
			finding.T("After accepting %s on port %d, the server sent plaintext (%q) instead of a TLS handshake", s.startTLSCommand(), port, text),
			append(ev, finding.T("received after the go-ahead: %s", text))...)
		f.SetFix(finding.T("Something writes plaintext after the server's reply to STARTTLS: look for a proxy, filter or antivirus that intercepts STARTTLS (a firewall's SMTP inspection such as Cisco ESMTP fixup), and at the server's TLS log"))
		return f
	case errors.As(err, &rh):
		got := r.s.Banner
		return newFinding("conn.protocol", subject,
			finding.T("Port %d answers in plaintext (%q), but %s expects implicit TLS (RFC 8314)", port, got, protocolName(r.t.Protocol)),
			append(ev, finding.T("first bytes: %s", got))...)
	case errors.As(err, &pe):
		return newFinding("conn.protocol", subject,
			finding.T("Port %d does not speak %s at %s: %s", port, protocolName(r.t.Protocol), stepName(step), pe), ev...)
	case isTimeout(err):
		title := finding.T("Timed out waiting for the %s on port %d (inconclusive)", stepName(step), port)
		if step == "greeting" && !s.silent() {
			title = finding.T("Timed out in the middle of the greeting on port %d (inconclusive)", port)
		}
		f := newFinding("conn.timeout", subject, title, ev...)
		if g := r.sniff.lateGreeting; len(g) > 0 {
			f.Note(finding.T("A second connection got the greeting (%q) after the step timeout: the server is slow to greet; a longer --timeout may let the probe complete", printable(firstLine(g))))
		}
		return f
	case errors.As(err, &re) && (step == "STARTTLS" || step == "STLS"):
		// Announced but refused, typically "454 4.7.0 TLS not available
		// due to local problem": a missing or unreadable certificate,
		// which lasts until someone fixes it (RFC 3207 §4).
		return newFinding("tls.handshake-failed", subject,
			finding.T("Port %d announces %s but refuses it: %s", port, step, printable(re.Reply)), ev...)
	case errors.As(err, &re):
		return newFinding("conn.protocol", subject,
			finding.T("The server refused %s on port %d: %s", stepName(step), port, printable(re.Reply)), ev...)
	case step == stepHandshake && !isClosed(err):
		return r.handshakeFailure(ev)
	}
	// The server closed or reset the connection.
	title := finding.T("The server closed the connection during the %s on port %d", stepName(step), port)
	if step == stepHandshake && !implicitTLS(r.t.Protocol) {
		title = finding.T("The server accepted STARTTLS on port %d, then closed the connection instead of completing the TLS handshake", port)
	}
	return newFinding("conn.protocol", subject, title, ev...)
}

// plaintextAfterGoAhead: the server agreed to STARTTLS/STLS, then sent
// plaintext where its handshake should be (or before closing).
func (r *result) plaintextAfterGoAhead() bool {
	var rh tls.RecordHeaderError
	return r.s != nil && stepOf(r.err) == stepHandshake && !implicitTLS(r.t.Protocol) &&
		(errors.As(r.err, &rh) || (isClosed(r.err) && len(r.s.w.preTLS) > 0))
}

// handshakeFailure explains a handshake the server refused. When the scan
// found what the server does accept, the title says it: a server that
// offers only DHE suites completes no handshake with clients that dropped
// them (crypto/tls, NSS-based clients such as Thunderbird since 2020).
func (r *result) handshakeFailure(ev []finding.Text) finding.Finding {
	port := r.t.Port
	f := newFinding("tls.handshake-failed", r.subject,
		finding.T("The TLS handshake on port %d failed: %v", port, errors.Unwrap(r.err)), ev...)
	if r.scan == nil {
		return f
	}
	names, allDHE := r.scan.acceptedSummary()
	if len(names) == 0 {
		return f
	}
	shown := finding.Verbatim(strings.Join(names, ", "))
	if len(names) > 3 {
		shown = finding.T("%s, and %d more", strings.Join(names[:3], ", "), len(names)-3)
	}
	if allDHE {
		f.SetTitle(finding.T("The TLS handshake on port %d fails for clients without DHE: the server accepts only DHE suites (%s), which current clients such as Go programs and Thunderbird no longer offer", port, shown))
		f.SetFix(finding.T("Enable ECDHE suites and TLS 1.3 beside DHE (Postfix: remove the DHE-only cipher list and keep smtpd_tls_ciphers = medium; Dovecot: ssl_cipher_list and ssl_min_protocol = TLSv1.2); an ECDSA or RSA certificate works with ECDHE"))
		return f
	}
	f.SetTitle(finding.T("The TLS handshake on port %d fails for current clients: the server accepts only %s", port, shown))
	return f
}

func capsText(c Caps) finding.Text {
	if c.Len() == 0 {
		return finding.T("none announced")
	}
	return finding.Verbatim(strings.Join(c.List(), ", "))
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
			out = append(out, newFinding("auth.plaintext-exposed", subject,
				finding.T("Port %d offers %s before TLS: a client may send its password in clear", r.t.Port, strings.Join(bad, ", ")),
				finding.T("capabilities before TLS: %s", capsText(s.CapsBeforeTLS))))
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
			return append(out, newFinding("auth.none-offered", subject,
				finding.T("Port %d offers no authentication mechanism even over TLS: mail clients cannot log in", r.t.Port),
				finding.T("capabilities after TLS: %s", capsText(s.CapsAfterTLS))))
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
