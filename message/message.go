// Package message analyses one received message the way the receivers
// that judged it did: every DKIM signature verified (go-msgauth's verifier,
// keys fetched through mailcheck's resolver), SPF evaluated with a real
// check_host() for the IP that connected to the first trusted receiver,
// DMARC alignment and disposition for the From domain, the receivers' own
// Authentication-Results cross-checked, the Received route with its delays
// and TLS, and, for a bounce, each failed recipient explained.
package message

import (
	"context"
	"fmt"
	"net/mail"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// Env is what an analysis needs from outside.
type Env struct {
	Resolver resolver.Resolver
	// Now is the clock for signature expiry; nil means time.Now.
	Now func() time.Time
}

// Options tune one analysis.
type Options struct {
	// Source names the input in the report ("-" for standard input).
	Source string
	// TrustedHops are the hosts (or domains) whose Received headers are
	// trusted to name the connecting client (--trusted-hop).
	TrustedHops []string
}

// Analysis is the result: the message section of the report and its
// findings.
type Analysis struct {
	Message  *finding.MessageReport
	Findings []finding.Finding
}

// hopDelayWarn is the delay at one hop from which the route is reported:
// beyond the seconds a healthy relay takes, and beyond greylisting's
// usual first retry, a queue held the message.
const hopDelayWarn = 15 * time.Minute

// Analyze reads and analyses one message. The error is for input that is
// not a message at all (ErrNotMessage); everything else is a finding.
func Analyze(ctx context.Context, env *Env, data []byte, opts Options) (*Analysis, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("the message is larger than %d MB", MaxSize>>20)
	}
	p, err := parse(data)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if env.Now != nil {
		now = env.Now
	}
	m := &finding.MessageReport{
		Source: opts.Source, Size: len(data), HeadersOnly: p.headersOnly,
		To:        decoded(p.first("To")),
		Subject:   decoded(p.first("Subject")),
		Date:      p.first("Date"),
		MessageID: p.first("Message-ID"),
		DKIM:      []finding.DKIMSignature{},
	}
	a := &Analysis{Message: m}

	// The route: Received fields top first as written, shown oldest first.
	var hops []received
	for _, v := range p.all("Received") {
		hops = append(hops, parseReceived(v))
	}
	trusted := trustedHop(hops, opts.TrustedHops)
	if trusted >= 0 {
		hops[trusted].hop.Trusted = true
	}
	date, _ := mailDate(m.Date)
	m.Route = route(hops, date)
	a.Findings = append(a.Findings, routeFindings(m.Route)...)
	m.ARC = arcOf(p)
	m.AuthResults = parseAuthResults(p)

	if rep, structured := readBounce(p); rep != nil && len(rep.Recipients) > 0 {
		// A bounce is about the recipients it lists: its own
		// authentication (a MAILER-DAEMON message) is not the question.
		b, fs := judgeBounce(rep, structured)
		m.Bounce = b
		m.From = decoded(p.first("From"))
		a.Findings = append(a.Findings, fs...)
		return a, nil
	}

	env2 := envelopeOf(p)
	if env2.known {
		m.ReturnPath = "<" + env2.mailFrom + ">"
	}
	from, fromErr := fromOf(p)
	m.From = decoded(p.first("From"))
	m.FromDomain = from

	// DKIM, SPF and the From domain's DMARC policy need DNS and nothing
	// of each other: they run at once. Alignment comes after.
	var wg sync.WaitGroup
	var dkimFs, spfFs []finding.Finding
	var pol *facts.DMARC
	var polErr error
	wg.Go(func() { m.DKIM, dkimFs = verifyDKIM(ctx, env.Resolver, p, now()) })
	wg.Go(func() {
		hopNumber := 0
		if trusted >= 0 {
			hopNumber = len(hops) - trusted
		}
		m.SPF, spfFs = checkSPF(ctx, env.Resolver, hops, trusted, hopNumber, env2, opts)
	})
	if from != "" {
		wg.Go(func() { pol, polErr = policyOf(ctx, env.Resolver, from) })
	}
	wg.Wait()
	if m.DKIM == nil {
		m.DKIM = []finding.DKIMSignature{}
	}
	a.Findings = append(a.Findings, dkimFs...)
	a.Findings = append(a.Findings, spfFs...)

	var dmFs []finding.Finding
	m.DMARC, dmFs = checkDMARC(ctx, env.Resolver, dmarcInput{
		fromDomain: from, fromErr: fromErr, dkim: m.DKIM, spf: m.SPF, policy: pol, policyErr: polErr,
	})
	a.Findings = append(a.Findings, dmFs...)

	var sigB []string
	for i, v := range p.all("DKIM-Signature") {
		if i >= len(m.DKIM) {
			break
		}
		sigB = append(sigB, parseSigTags(v, i).tags["b"])
	}
	a.Findings = append(a.Findings, compareAuthResults(m.AuthResults, m.DKIM, sigB, m.SPF, m.DMARC, opts.TrustedHops)...)

	if p.headersOnly {
		f := finding.New("msg.headers-only", "message", finding.T("Only the headers were given: DKIM body hashes cannot be checked"))
		f.Note(finding.T("SPF, DMARC policy and alignment, the keys, the route and the receivers' verdicts are still checked; paste the whole message (\"Show original\", \"View source\") to verify DKIM."))
		a.Findings = append(a.Findings, f)
	}
	return a, nil
}

// fromOf returns the From domain DMARC is evaluated for, or why there is
// none: RFC 9989 §4.4 needs exactly one author address.
func fromOf(p *parsed) (string, finding.Text) {
	values := p.all("From")
	switch len(values) {
	case 0:
		return "", finding.T("The message has no From header: DMARC cannot be evaluated, and receivers reject it")
	case 1:
	default:
		return "", finding.T("The message has %d From headers: receivers reject it (RFC 5322 allows one)", len(values))
	}
	addrs, err := fromAddresses(values[0])
	if err != nil || len(addrs) == 0 {
		return "", finding.T("The From header %q does not hold a valid address: DMARC cannot be evaluated", values[0])
	}
	if len(addrs) > 1 {
		return "", finding.T("The From header holds %d addresses: DMARC needs exactly one, and receivers reject such mail", len(addrs))
	}
	d := domainOf(addrs[0].Address)
	if d == "" {
		return "", finding.T("The From address %q has no domain: DMARC cannot be evaluated", addrs[0].Address)
	}
	return d, finding.Text{}
}

// routeFindings reports hops that held the message long, and hops that
// crossed between organisations without TLS.
func routeFindings(hops []finding.Hop) []finding.Finding {
	var out []finding.Finding
	for i, h := range hops {
		name := h.By
		if name == "" {
			name = "?"
		}
		subject := fmt.Sprintf("Received %d (by %s)", i+1, name)
		if h.DelayMS != nil && time.Duration(*h.DelayMS)*time.Millisecond >= hopDelayWarn {
			d := time.Duration(*h.DelayMS) * time.Millisecond
			f := finding.New("msg.hop-delay", subject, finding.T("The message waited %s before %s received it", d.Round(time.Second).String(), name))
			out = append(out, f)
		}
		if h.Plaintext && h.FromIP != "" && !isInternalString(h.FromIP) {
			f := finding.New("msg.hop-plaintext", subject, finding.T("%s received the message from %s without TLS", name, h.FromIP))
			out = append(out, f)
		}
	}
	return out
}

// mailDate parses a Date header (RFC 5322 §3.3).
func mailDate(s string) (time.Time, error) {
	return mail.ParseDate(s)
}

func isInternalString(ip string) bool {
	a, err := netip.ParseAddr(ip)
	return err == nil && isInternal(a)
}

// arcOf reports an ARC chain (RFC 8617): how many instances, who sealed
// them, and the last seal's chain validation (cv=). The seals are not
// verified.
func arcOf(p *parsed) *finding.ARC {
	seals := p.all("ARC-Seal")
	if len(seals) == 0 {
		return nil
	}
	byInstance := map[int]sigTags{}
	top := 0
	for i, v := range seals {
		st := parseSigTags(v, i)
		n, err := strconv.Atoi(st.tags["i"])
		if err != nil || n < 1 || n > 50 {
			continue
		}
		byInstance[n] = st
		top = max(top, n)
	}
	arc := &finding.ARC{Instances: len(byInstance)}
	for n := 1; n <= top; n++ {
		if st, ok := byInstance[n]; ok {
			arc.Sealers = append(arc.Sealers, strings.ToLower(st.tags["d"]))
		}
	}
	if st, ok := byInstance[top]; ok {
		arc.ChainValidation = strings.ToLower(st.tags["cv"])
	}
	return arc
}
