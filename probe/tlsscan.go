package probe

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/probe/tlswire"
)

// The cipher-suite scan asks a port, one ClientHello per connection, which
// protocol versions and which kinds of suites it accepts. It reads only the
// server's first flight (see package tlswire for why it does not use
// crypto/tls): a ServerHello means "accepted", an alert or a lower version
// means "refused", and an attempt that could not complete — the run's
// deadline, a step timeout, a 421 that persists, a connection reset before
// the ClientHello was even sent — means "could not tell", never "refused".
//
// It is bounded in connections: four versions (SSL 3.0 to TLS 1.2) with
// every suite, then, at the highest version accepted, one hello per kind of
// suite (NULL, anonymous, EXPORT, DES, RC4, 3DES, RSA key exchange, DHE,
// ECDHE) and the weak kinds again at each older version accepted, and only
// where a weak kind is accepted, one more hello per suite of that kind to
// list them all. A healthy port costs thirteen short connections; the
// suites the server prefers within a strong kind stand for the others.

// scanConcurrency is how many hellos one port receives at once; a server
// slow to get to TLS (a deliberate greeting delay, a long path) gets
// slowScanConcurrency, so that the scan fits the run as a fast one does.
const (
	scanConcurrency     = 4
	slowScanConcurrency = 8
	slowDialogue        = 500 * time.Millisecond
)

// helloResult is what one ClientHello got.
type helloResult int

const (
	helloAccepted     helloResult = iota // a ServerHello at the version offered
	helloRefused                         // an alert, or a ServerHello at a lower version
	helloClosed                          // the connection closed right after the hello, nothing said
	helloInconclusive                    // the attempt could not complete
)

// helloAnswer is the server's answer to one ClientHello.
type helloAnswer struct {
	result  helloResult
	version uint16 // the version the server chose
	suite   uint16
	alert   *tlswire.Alert
	// why says why an attempt could not complete.
	why  finding.Text
	busy bool // turned away as busy (421, * BYE, -ERR [IN-USE])
	// What came after the ServerHello in the same flight.
	certs [][]byte
	ocsp  []byte
	kx    tlswire.KeyExchangeParams
}

// helloOnce connects, takes the dialogue to the point where TLS starts,
// sends ch and reads the answer.
func helloOnce(ctx context.Context, o Options, t Target, ch *tlswire.ClientHello) helloAnswer {
	o.Verbose = false
	s, err := openBeforeTLS(ctx, o, t)
	if s != nil && s.w != nil {
		defer s.w.close()
	}
	if err != nil {
		return helloAnswer{result: helloInconclusive, busy: isBusy(err), why: attemptFailure(ctx, s, err)}
	}
	if err := s.w.deadline(ctx); err != nil {
		return helloAnswer{result: helloInconclusive, why: attemptFailure(ctx, s, err)}
	}
	conn := s.w.raw
	recordVersion := tlswire.VersionTLS10 // what most clients put on their first record
	if ch.Version == tlswire.VersionSSL30 {
		recordVersion = tlswire.VersionSSL30
	}
	if _, err := conn.Write(tlswire.Record(tlswire.RecordHandshake, recordVersion, ch.Marshal())); err != nil {
		if isClosed(err) {
			return helloAnswer{result: helloClosed}
		}
		return helloAnswer{result: helloInconclusive, why: attemptFailure(ctx, s, err)}
	}
	rd := &tlswire.Reader{R: conn}
	m, err := rd.Next()
	var nt *tlswire.NotTLSError
	switch {
	case errors.As(err, &nt):
		return helloAnswer{result: helloInconclusive,
			why: finding.T("the server answered %q instead of a TLS handshake", printable(firstLine(nt.First)))}
	case err != nil && isClosed(err) && !isTimeout(err):
		return helloAnswer{result: helloClosed}
	case err != nil:
		return helloAnswer{result: helloInconclusive, why: attemptFailure(ctx, s, err)}
	case m.Alert != nil:
		return helloAnswer{result: helloRefused, alert: m.Alert}
	case m.Type != tlswire.TypeServerHello:
		return helloAnswer{result: helloInconclusive, why: finding.T("the server answered with TLS message type %d instead of a ServerHello", int(m.Type))}
	}
	sh, err := tlswire.ParseServerHello(m.Body)
	if err != nil {
		return helloAnswer{result: helloInconclusive, why: finding.T("the server's ServerHello does not parse")}
	}
	a := helloAnswer{version: sh.Version, suite: sh.Suite}
	switch {
	case !slices.Contains(ch.Suites, sh.Suite):
		return helloAnswer{result: helloInconclusive, why: finding.T("the server chose %s, which was not offered", tlswire.SuiteName(sh.Suite))}
	case sh.Version < ch.Version:
		a.result = helloRefused
		return a
	case sh.Version > ch.Version:
		return helloAnswer{result: helloInconclusive, why: finding.T("the server chose %s, above the %s offered", tlswire.VersionName(sh.Version), tlswire.VersionName(ch.Version))}
	}
	a.result = helloAccepted
	// The rest of the first flight: the certificates (what a failed
	// crypto/tls handshake could not show), a stapled OCSP response and
	// the key exchange parameters. A failure here keeps what came.
	suite, _ := tlswire.SuiteByID(sh.Suite)
	for range 8 {
		m, err := rd.Next()
		if err != nil || m.Alert != nil {
			break
		}
		switch m.Type {
		case tlswire.TypeCertificate:
			a.certs, _ = tlswire.ParseCertificate(m.Body)
		case tlswire.TypeCertificateStatus:
			a.ocsp, _ = tlswire.ParseCertificateStatus(m.Body)
		case tlswire.TypeServerKeyExchange:
			a.kx, _ = tlswire.ParseServerKeyExchange(m.Body, suite.Kx)
		}
		if m.Type == tlswire.TypeServerHelloDone {
			break
		}
	}
	return a
}

// attemptFailure says why an attempt could not complete, for a person.
func attemptFailure(ctx context.Context, s *Session, err error) finding.Text {
	var re *ReplyError
	step := stepName(stepOf(err))
	switch {
	case ctx.Err() != nil || pastDeadline(ctx):
		return finding.T("the run's time limit ran out")
	case errors.As(err, &re) && re.Busy:
		return finding.T("the server turned the connection away as busy at the %s: %s", step, printable(re.Reply))
	case errors.Is(err, errNoSTARTTLS):
		return finding.T("the server did not offer STARTTLS on that connection")
	case isTimeout(err):
		return finding.T("no answer at the %s within the step timeout", step)
	case errors.As(err, new(*LimitError)):
		return finding.T("the server's reply at the %s ran past mailcheck's bounds", step)
	case isClosed(err):
		return finding.T("the server closed the connection at the %s", step)
	case errors.As(err, &re):
		return finding.T("the server refused the %s: %s", step, printable(re.Reply))
	}
	return finding.T("the attempt failed at the %s: %v", step, err)
}

// pastDeadline: the run's deadline has come, though ctx may not say so
// yet (a read deadline set to the same moment can fire first).
func pastDeadline(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// suiteKind is a kind of cipher suite the scan offers on its own. The
// kinds partition the suite table (TestSuiteKindsPartition).
type suiteKind struct {
	name  string
	weak  bool
	match func(tlswire.Suite) bool
}

func weakCipher(s tlswire.Suite) bool {
	switch s.Cipher {
	case tlswire.CipherNULL, tlswire.CipherRC4, tlswire.CipherRC2, tlswire.CipherDES40, tlswire.CipherDES,
		tlswire.Cipher3DES, tlswire.CipherIDEA:
		return true
	}
	return s.Export
}

// suiteKinds follow the categories testssl.sh reports, so that both tools'
// reports can be read side by side.
var suiteKinds = []suiteKind{
	{"NULL", true, func(s tlswire.Suite) bool { return s.Cipher == tlswire.CipherNULL }},
	{"aNULL", true, func(s tlswire.Suite) bool { return s.Anonymous() && s.Cipher != tlswire.CipherNULL }},
	{"EXPORT", true, func(s tlswire.Suite) bool {
		return s.Export && !s.Anonymous() && s.Cipher != tlswire.CipherNULL
	}},
	{"DES", true, func(s tlswire.Suite) bool {
		return (s.Cipher == tlswire.CipherDES || s.Cipher == tlswire.CipherRC2) && !s.Export && !s.Anonymous()
	}},
	{"RC4", true, func(s tlswire.Suite) bool { return s.Cipher == tlswire.CipherRC4 && !s.Export && !s.Anonymous() }},
	{"3DES", true, func(s tlswire.Suite) bool {
		return (s.Cipher == tlswire.Cipher3DES || s.Cipher == tlswire.CipherIDEA) && !s.Anonymous()
	}},
	{"RSA-kx", false, func(s tlswire.Suite) bool {
		return (s.Kx == tlswire.KxRSA || s.Kx == tlswire.KxECDH) && !weakCipher(s)
	}},
	{"DHE", false, func(s tlswire.Suite) bool { return s.Kx == tlswire.KxDHE && !weakCipher(s) }},
	{"ECDHE", false, func(s tlswire.Suite) bool { return s.Kx == tlswire.KxECDHE && !weakCipher(s) }},
}

// scanVersions are the versions the scan tries, oldest first. TLS 1.3 is
// what the probe's own handshake (crypto/tls) negotiates when offered.
var scanVersions = []uint16{tlswire.VersionSSL30, tlswire.VersionTLS10, tlswire.VersionTLS11, tlswire.VersionTLS12}

// helloFor builds a ClientHello at version v offering suites (those the
// version can carry).
func helloFor(host string, v uint16, suites []tlswire.Suite) *tlswire.ClientHello {
	ch := &tlswire.ClientHello{Version: v, StatusRequest: true,
		Groups: []uint16{tlswire.GroupX25519, tlswire.GroupP256, tlswire.GroupP384, tlswire.GroupP521}}
	_, _ = rand.Read(ch.Random[:])
	if v == tlswire.VersionSSL30 {
		ch.NoExtensions = true
	} else if _, err := netip.ParseAddr(host); err != nil {
		ch.ServerName = host // RFC 6066 §3: names only, never addresses
	}
	for _, s := range suites {
		if v >= tlswire.VersionTLS12 || !s.TLS12 {
			ch.Suites = append(ch.Suites, s.ID)
		}
	}
	return ch
}

// tlsScanner runs one port's hellos: at most scanConcurrency at once, one
// at a time once the server has turned one away as busy, each retried with
// backoff while the server stays busy and time remains.
type tlsScanner struct {
	o      Options
	t      Target
	slots  chan struct{}
	serial chan struct{}
	busy   atomic.Bool
	// spoken: the server answered some ClientHello in TLS (a ServerHello
	// or an alert), so a bare close after a hello is its way of refusing
	// (Windows servers reset the connection on a version they refuse).
	spoken atomic.Bool
}

func (sc *tlsScanner) try(ctx context.Context, ch *tlswire.ClientHello) helloAnswer {
	step := sc.o.dialer().StepTimeout
	if step <= 0 {
		step = 10 * time.Second
	}
	for n := 0; ; n++ {
		a := sc.tryOnce(ctx, ch)
		if !a.busy {
			return a
		}
		sc.busy.Store(true)
		if !waitBusy(ctx, step, n) {
			return a
		}
	}
}

func (sc *tlsScanner) tryOnce(ctx context.Context, ch *tlswire.ClientHello) helloAnswer {
	select {
	case sc.slots <- struct{}{}:
		defer func() { <-sc.slots }()
	case <-ctx.Done():
		return helloAnswer{result: helloInconclusive, why: finding.T("the run's time limit ran out")}
	}
	if sc.busy.Load() {
		select {
		case sc.serial <- struct{}{}:
			defer func() { <-sc.serial }()
		case <-ctx.Done():
			return helloAnswer{result: helloInconclusive, why: finding.T("the run's time limit ran out")}
		}
	}
	a := helloOnce(ctx, sc.o, sc.t, ch)
	if a.result == helloAccepted || a.result == helloRefused {
		sc.spoken.Store(true)
	}
	return a
}

// settle turns a bare close into a refusal when the server speaks TLS on
// other connections, and into "could not tell" otherwise.
func (sc *tlsScanner) settle(a helloAnswer) helloAnswer {
	if a.result != helloClosed {
		return a
	}
	if sc.spoken.Load() {
		a.result = helloRefused
		return a
	}
	a.result = helloInconclusive
	a.why = finding.T("the server closed the connection without answering the ClientHello")
	return a
}

// scanResult is what the scan learned, before judgement.
type scanResult struct {
	versions map[uint16]helloAnswer
	// kinds holds, per version, the answer to each kind's hello.
	kinds    map[uint16]map[string]helloAnswer
	accepted []acceptedSuite
}

type acceptedSuite struct {
	version uint16
	suite   tlswire.Suite
	kx      tlswire.KeyExchangeParams
}

// scanTLS runs the scan of one port. spoken says whether the probe's own
// handshake already got a TLS answer; dialogue is how long the probe took
// to get from connecting to TLS, what each hello will take too.
func scanTLS(ctx context.Context, o Options, t Target, spoken bool, dialogue time.Duration) *scanResult {
	n := scanConcurrency
	if dialogue > slowDialogue {
		n = slowScanConcurrency
	}
	sc := &tlsScanner{o: o, t: t, slots: make(chan struct{}, n), serial: make(chan struct{}, 1)}
	sc.spoken.Store(spoken)
	all := tlswire.Suites()
	host := t.name()
	res := &scanResult{versions: map[uint16]helloAnswer{}, kinds: map[uint16]map[string]helloAnswer{}}
	var mu sync.Mutex
	var wg sync.WaitGroup

	// 1. Each version with every suite: accepted or not, and what the
	// server prefers there.
	for _, v := range scanVersions {
		wg.Go(func() {
			a := sc.try(ctx, helloFor(host, v, all))
			mu.Lock()
			res.versions[v] = a
			mu.Unlock()
		})
	}
	wg.Wait()
	for v, a := range res.versions {
		res.versions[v] = sc.settle(a)
	}
	highest := uint16(0)
	for _, v := range scanVersions {
		if res.versions[v].result == helloAccepted {
			highest = v
		}
	}

	// 2. Each kind of suite at the highest version accepted, and the weak
	// kinds at every older version accepted too.
	for _, v := range scanVersions {
		if res.versions[v].result != helloAccepted {
			continue
		}
		byKind := map[string]helloAnswer{}
		res.kinds[v] = byKind
		for _, k := range suiteKinds {
			if !k.weak && v != highest {
				continue
			}
			ch := helloFor(host, v, filter(all, k.match))
			if len(ch.Suites) == 0 {
				continue
			}
			wg.Go(func() {
				a := sc.try(ctx, ch)
				mu.Lock()
				byKind[k.name] = a
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	for _, byKind := range res.kinds {
		for k, a := range byKind {
			byKind[k] = sc.settle(a)
		}
	}

	// 3. Every suite of a weak kind the server accepts, one hello each,
	// offering what is left of the kind.
	for v, byKind := range res.kinds {
		for _, k := range suiteKinds {
			a, ok := byKind[k.name]
			if !k.weak || !ok || a.result != helloAccepted {
				continue
			}
			wg.Go(func() {
				offered := filter(all, k.match)
				found := []uint16{a.suite}
				for range 16 {
					offered = slices.DeleteFunc(offered, func(s tlswire.Suite) bool { return slices.Contains(found, s.ID) })
					ch := helloFor(host, v, offered)
					if len(ch.Suites) == 0 {
						return
					}
					b := sc.try(ctx, ch)
					if b.result != helloAccepted {
						return
					}
					found = append(found, b.suite)
					mu.Lock()
					res.accepted = appendSuite(res.accepted, v, b)
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	for _, v := range scanVersions {
		if a := res.versions[v]; a.result == helloAccepted {
			res.accepted = appendSuite(res.accepted, v, a)
		}
		for _, k := range suiteKinds {
			if a, ok := res.kinds[v][k.name]; ok && a.result == helloAccepted {
				res.accepted = appendSuite(res.accepted, v, a)
			}
		}
	}
	slices.SortStableFunc(res.accepted, func(a, b acceptedSuite) int { return int(b.version) - int(a.version) })
	return res
}

func filter(all []tlswire.Suite, keep func(tlswire.Suite) bool) []tlswire.Suite {
	var out []tlswire.Suite
	for _, s := range all {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}

func appendSuite(list []acceptedSuite, v uint16, a helloAnswer) []acceptedSuite {
	for _, x := range list {
		if x.version == v && x.suite.ID == a.suite {
			return list
		}
	}
	s, _ := tlswire.SuiteByID(a.suite)
	return append(list, acceptedSuite{version: v, suite: s, kx: a.kx})
}

// weaknesses names what is wrong with an accepted suite, with the
// severity each deserves on this port. Anonymous suites are acceptable on
// port 25: see anonOnPort25.
func weaknesses(a acceptedSuite, protocol string) (tags []string, sev finding.Severity) {
	s := a.suite
	add := func(tag string, sv finding.Severity) {
		tags = append(tags, tag)
		sev = max(sev, sv)
	}
	switch s.Cipher {
	case tlswire.CipherNULL:
		add("NULL", finding.Fail) // no encryption at all
	case tlswire.CipherRC4:
		add("RC4", finding.Fail) // RFC 7465 §2: MUST NOT be negotiated
	case tlswire.CipherDES, tlswire.CipherDES40:
		add("DES", finding.Fail) // 56 bits or fewer: brute-forced
	case tlswire.CipherRC2:
		add("RC2", finding.Fail)
	case tlswire.Cipher3DES:
		add("3DES", finding.Warn) // 64-bit blocks: Sweet32, CVE-2016-2183
	case tlswire.CipherIDEA:
		add("IDEA", finding.Warn) // 64-bit blocks too
	}
	if s.Export {
		add("EXPORT", finding.Fail) // FREAK, Logjam: 512-bit keys
	}
	if s.Anonymous() {
		if protocol == "smtp" {
			add("aNULL", finding.Info)
		} else {
			add("aNULL", finding.Fail) // no server authentication: RFC 5246 §A.5
		}
	}
	if bits := a.kx.DHBits; bits > 0 && bits < 2048 {
		// Logjam (weakdh.org): 1024-bit groups are within reach of a
		// nation-state; NIST SP 800-131A asks for 2048.
		sv := finding.Warn
		if bits < 1024 {
			sv = finding.Fail
		}
		if s.Anonymous() && protocol == "smtp" {
			// The opportunistic fallback of port 25, where the
			// alternative is plaintext. OpenSSL 3's automatic DH picks
			// 1024 bits for anonymous suites (80-bit strength).
			sv = finding.Info
		}
		add(fmt.Sprintf("DH-%d", bits), sv)
	}
	return tags, sev
}

// record fills the schema's record of the scan.
func (sr *scanResult) record(protocol string, tls13 bool) *finding.TLSScan {
	out := &finding.TLSScan{Versions: []finding.TLSVersionResult{}, Suites: []finding.TLSSuite{}, ForwardSecrecy: tls13}
	for _, v := range scanVersions {
		a, ok := sr.versions[v]
		if !ok {
			continue
		}
		vr := finding.TLSVersionResult{Version: tlswire.VersionName(v)}
		switch a.result {
		case helloAccepted:
			vr.Result = "accepted"
		case helloRefused:
			vr.Result = "refused"
			vr.Detail = refusalDetail(a)
		default:
			vr.Result = "inconclusive"
			vr.Detail = a.why.String()
		}
		out.Versions = append(out.Versions, vr)
	}
	for _, a := range sr.accepted {
		tags, _ := weaknesses(a, protocol)
		s := finding.TLSSuite{Version: tlswire.VersionName(a.version), Name: a.suite.Name,
			ForwardSecrecy: a.suite.ForwardSecret(), Weak: tags, DHBits: a.kx.DHBits}
		if a.kx.Group != 0 {
			s.Curve = tlswire.GroupName(a.kx.Group)
		}
		out.ForwardSecrecy = out.ForwardSecrecy || s.ForwardSecrecy
		out.Suites = append(out.Suites, s)
	}
	for _, v := range scanVersions {
		for _, k := range suiteKinds {
			if a, ok := sr.kinds[v][k.name]; ok && a.result == helloInconclusive {
				out.Inconclusive = append(out.Inconclusive, fmt.Sprintf("%s %s suites: %s", tlswire.VersionName(v), k.name, a.why))
			}
		}
	}
	return out
}

// refusalDetail says how a hello was refused.
func refusalDetail(a helloAnswer) string {
	switch {
	case a.alert != nil:
		return a.alert.Error()
	case a.version != 0:
		return "the server answered with " + tlswire.VersionName(a.version)
	}
	return "the server closed the connection"
}

// legacyFindings judges the versions: SSL 3.0 (RFC 7568) and TLS 1.0/1.1
// (RFC 8996) accepted, or inconclusive. mainVersion is the version the
// probe's own handshake negotiated (0 if none).
func (sr *scanResult) legacyFindings(subject string, mainVersion uint16) []finding.Finding {
	var accepted, unknown []string
	var ev []finding.Text
	var why finding.Text
	for _, v := range []uint16{tlswire.VersionSSL30, tlswire.VersionTLS10, tlswire.VersionTLS11} {
		a, scanned := sr.versions[v]
		switch {
		case v == mainVersion || (scanned && a.result == helloAccepted):
			accepted = append(accepted, tlswire.VersionName(v))
			if scanned && a.result == helloAccepted {
				ev = append(ev, finding.T("%s: the server chose %s", tlswire.VersionName(v), tlswire.SuiteName(a.suite)))
			}
		case scanned && a.result == helloInconclusive:
			unknown = append(unknown, tlswire.VersionName(v))
			if why.IsZero() {
				why = a.why
			}
		}
	}
	switch {
	case len(accepted) > 0:
		f := newFinding("tls.version-legacy", subject,
			finding.T("%s still accepted (deprecated by RFC 8996)", strings.Join(accepted, ", ")), ev...)
		if accepted[0] == "SSL3.0" {
			f.Severity = finding.Fail
			f.SetTitle(finding.T("%s still accepted: SSL 3.0 is prohibited (RFC 7568, POODLE) and TLS 1.0/1.1 are deprecated (RFC 8996)", strings.Join(accepted, ", ")))
		}
		if len(unknown) > 0 {
			f.Note(finding.T("Whether the server accepts %s could not be told: %s", strings.Join(unknown, ", "), why))
		}
		return []finding.Finding{f}
	case len(unknown) > 0:
		f := finding.New("tls.version-legacy", subject,
			finding.T("Whether the server still accepts %s could not be checked: %s (inconclusive)", strings.Join(unknown, ", "), why))
		f.Severity = finding.Error
		return []finding.Finding{f}
	}
	return nil
}

// cipherFindings judges the suites: weak ones accepted (tls.cipher-weak)
// and the lack of forward secrecy (tls.no-forward-secrecy).
func (sr *scanResult) cipherFindings(subject, protocol string, port int, tls13 bool) []finding.Finding {
	var out []finding.Finding
	var tags []string
	var ev []string
	sev := finding.Pass
	for _, a := range sr.accepted {
		t, s := weaknesses(a, protocol)
		if len(t) == 0 {
			continue
		}
		sev = max(sev, s)
		for _, x := range t {
			if !slices.Contains(tags, x) {
				tags = append(tags, x)
			}
		}
		ev = append(ev, fmt.Sprintf("%s %s (%s)", tlswire.VersionName(a.version), a.suite.Name, strings.Join(t, ", ")))
	}
	var unknown []string
	var why finding.Text
	for _, v := range scanVersions {
		for _, k := range suiteKinds {
			if a, ok := sr.kinds[v][k.name]; ok && k.weak && a.result == helloInconclusive {
				unknown = append(unknown, tlswire.VersionName(v)+" "+k.name)
				if why.IsZero() {
					why = a.why
				}
			}
		}
	}
	switch {
	case len(tags) > 0:
		f := finding.New("tls.cipher-weak", subject,
			finding.T("Port %d accepts weak cipher suites: %s", port, strings.Join(tags, ", ")), ev...)
		f.Severity = sev
		if sev == finding.Info {
			// Only anonymous suites, on port 25.
			f.SetTitle(finding.T("Port %d accepts anonymous cipher suites (aNULL), which opportunistic TLS between mail servers tolerates", port))
			f.SetFix(finding.T("Nothing to fix on port 25: senders use opportunistic TLS (RFC 7435, RFC 3207) and do not authenticate the server unless MTA-STS or DANE tells them to, and then they do not offer anonymous suites; an anonymous suite still encrypts against passive eavesdroppers where the alternative would be plaintext. Postfix's default smtpd cipher list keeps them for that reason. On submission and mailbox ports they would be a failure."))
		}
		if len(unknown) > 0 {
			f.Note(finding.T("Not told: %s (%s)", strings.Join(unknown, ", "), why))
		}
		out = append(out, f)
	case len(unknown) > 0:
		f := newFinding("tls.cipher-weak", subject,
			finding.T("Whether port %d accepts weak cipher suites could not be checked: %s (inconclusive)", port, why),
			finding.T("not told: %s", strings.Join(unknown, ", ")))
		f.Severity = finding.Error
		out = append(out, f)
	}

	// Forward secrecy, judged at the highest version up to TLS 1.2 that
	// the scan could look at in full.
	highest := uint16(0)
	for _, v := range scanVersions {
		if sr.versions[v].result == helloAccepted {
			highest = v
		}
	}
	if highest == 0 {
		return out
	}
	byKind := sr.kinds[highest]
	dhe, ecdhe, rsa := byKind["DHE"], byKind["ECDHE"], byKind["RSA-kx"]
	if rsa.result == helloAccepted && dhe.result == helloRefused && ecdhe.result == helloRefused {
		title := finding.T("Port %d offers no forward secrecy: every %s suite it accepts uses RSA or static key exchange", port, tlswire.VersionName(highest))
		if tls13 {
			title = finding.T("Port %d offers forward secrecy only with TLS 1.3: its %s suites all use RSA or static key exchange", port, tlswire.VersionName(highest))
		}
		out = append(out, newFinding("tls.no-forward-secrecy", subject, title,
			finding.T("%s: the server chose %s", tlswire.VersionName(highest), tlswire.SuiteName(rsa.suite))))
	}
	return out
}

// acceptedSummary lists, for a port whose crypto/tls handshake failed, the
// suites the scan found accepted, and whether they are all DHE.
func (sr *scanResult) acceptedSummary() (names []string, allDHE bool) {
	allDHE = len(sr.accepted) > 0
	for _, a := range sr.accepted {
		if !slices.Contains(names, a.suite.Name) {
			names = append(names, a.suite.Name)
		}
		allDHE = allDHE && a.suite.Kx == tlswire.KxDHE
	}
	return names, allDHE
}

// best returns the answer that saw the most: the highest version accepted
// whose flight carried certificates.
func (sr *scanResult) best() (helloAnswer, bool) {
	for i := len(scanVersions) - 1; i >= 0; i-- {
		if a := sr.versions[scanVersions[i]]; a.result == helloAccepted && len(a.certs) > 0 {
			return a, true
		}
	}
	return helloAnswer{}, false
}
