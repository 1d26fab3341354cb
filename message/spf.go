package message

import (
	"context"
	"strings"

	"github.com/mailcheck-cli/mailcheck/checks/spf"
	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// envelope is what the message says of its SMTP envelope.
type envelope struct {
	mailFrom string // the MAIL FROM address; "" for the null sender <>
	null     bool   // MAIL FROM was <>
	known    bool   // the message records MAIL FROM at all
}

// envelopeOf reads MAIL FROM from Return-Path, which the final receiver
// adds at delivery (RFC 5321 §4.4); the topmost one is the final
// receiver's.
func envelopeOf(p *parsed) envelope {
	rp := p.first("Return-Path")
	if rp == "" {
		return envelope{}
	}
	addr := strings.TrimSpace(rp)
	if i := strings.IndexByte(addr, '<'); i >= 0 {
		if j := strings.IndexByte(addr[i:], '>'); j >= 0 {
			addr = addr[i+1 : i+j]
		}
	}
	addr = strings.TrimSpace(addr)
	return envelope{mailFrom: addr, null: addr == "", known: true}
}

// checkSPF evaluates SPF for the IP of the trusted hop with check_host()
// (checks/spf, the same evaluator the domain audit judges with): the MAIL
// FROM domain, or the HELO name for a bounce (RFC 7208 §2.4). The records
// are fetched through mailcheck's resolver as the evaluation asks for them.
func checkSPF(ctx context.Context, r resolver.Resolver, hops []received, trusted int, hopNumber int, env envelope, opts Options) (*finding.SPFCheck, []finding.Finding) {
	if trusted < 0 {
		return nil, []finding.Finding{noClient(hops, opts)}
	}
	h := hops[trusted]
	c := &finding.SPFCheck{IP: h.ip.String(), Hop: hopNumber, TrustedHop: h.hop.By, HELO: h.hop.From}
	how := hopChoice(h, hopNumber, opts)
	var scope spf.Scope
	switch {
	case env.known && !env.null && domainOf(env.mailFrom) != "":
		c.Identity = "mailfrom"
		scope = spf.NewScope(env.mailFrom)
	case h.hop.From != "" && !strings.HasPrefix(h.hop.From, "["):
		// RFC 7208 §2.4: with a null sender the HELO identity is
		// checked, as postmaster@HELO.
		c.Identity = "helo"
		scope = spf.NewScope(h.hop.From)
	default:
		f := finding.New("msg.spf-unknown-ip", "SPF", finding.T("No envelope sender and no HELO name: SPF cannot be evaluated"))
		f.Note(how)
		c.Result = "none"
		return c, []finding.Finding{f}
	}
	scope.IP, scope.HELO = h.ip, h.hop.From
	c.Domain, c.Sender = scope.Domain, scope.Sender
	seen := &spfSeen{txt: map[string][]string{}}
	out := spf.CheckHost(facts.SPFLookups{Ctx: ctx, Resolver: r, Observe: seen.observe}, scope)
	c.Result = string(out.Result)
	c.Lookups, c.VoidLookups, c.Path, c.MatchedIn = out.Lookups, len(out.Voids), out.Path, out.Domain
	if out.Matched != nil {
		c.Mechanism = out.Matched.Text
		for _, p := range out.Path {
			if strings.HasPrefix(strings.TrimLeft(p, "+-~?"), spf.Include+":") {
				// The include of the queried record that matched, and
				// the term inside it that did.
				c.Mechanism, c.Inner = p, out.Matched.Text
				break
			}
		}
	}
	for _, t := range seen.txt[c.Domain] {
		if spf.IsSPF(t) {
			c.Record = t
		}
	}
	subject := c.Domain + " (SPF, " + c.IP + ")"
	var f finding.Finding
	switch out.Result {
	case spf.Pass:
		f = finding.New("msg.ok", subject, finding.T("SPF pass: %s is allowed to send for %s (%s)", c.IP, c.Domain, matchText(c)))
	case spf.Fail:
		f = finding.New("msg.spf-fail", subject, finding.T("SPF fail: %s is not allowed to send for %s (%s)", c.IP, c.Domain, matchText(c)))
	case spf.SoftFail:
		f = finding.New("msg.spf-softfail", subject, finding.T("SPF softfail: %s is probably not allowed to send for %s (%s)", c.IP, c.Domain, matchText(c)))
	case spf.Neutral:
		f = finding.New("msg.spf-neutral", subject, finding.T("SPF neutral: %s makes no statement about %s", c.Domain, c.IP))
	case spf.None:
		f = finding.New("msg.spf-none", subject, finding.T("SPF none: %s publishes no SPF record", c.Domain))
	case spf.PermError:
		f = finding.New("msg.spf-permerror", subject, finding.T("SPF permerror: the SPF policy of %s cannot be evaluated", c.Domain))
		f.Evidence = append(f.Evidence, out.Reason)
	case spf.TempError:
		if seen.outOfZone != "" {
			f = finding.New("msg.spf-not-checked", subject, finding.T("SPF not checked: %s lies outside the given zones", seen.outOfZone))
		} else {
			f = finding.New("msg.spf-temperror", subject, finding.T("SPF temperror: a DNS lookup for the SPF policy of %s failed", c.Domain))
			f.Evidence = append(f.Evidence, out.Reason)
		}
	}
	if c.Record != "" {
		f.Evidence = append(f.Evidence, c.Domain+": "+c.Record)
	}
	f.Note(how)
	f.Note(finding.T("%d of 10 DNS lookups used, %d of 2 void lookups.", c.Lookups, c.VoidLookups))
	return c, []finding.Finding{f}
}

// spfSeen keeps what an evaluation read: the TXT answers (for the record
// shown) and the first name outside --zone, which makes a temperror "not
// checked" rather than a failure.
type spfSeen struct {
	txt       map[string][]string
	outOfZone string
}

func (s *spfSeen) observe(name string, txts []string, err error) {
	if txts != nil {
		s.txt[name] = txts
	}
	if err != nil && resolver.IsOutOfZone(err) && s.outOfZone == "" {
		s.outOfZone = name
	}
}

// matchText says which term decided: "-all", "ip4:192.0.2.0/24",
// "include:_spf.example.net, by ip4:198.51.100.0/24 in _spf.example.net",
// or that no term matched.
func matchText(c *finding.SPFCheck) finding.Text {
	switch {
	case c.Mechanism == "":
		return finding.T("no term matched")
	case c.Inner != "":
		return finding.T("matched %s, by %s in %s", c.Mechanism, c.Inner, c.MatchedIn)
	}
	return finding.T("matched %s", c.Mechanism)
}

// hopChoice explains which Received field gave the IP, and why.
func hopChoice(h received, hopNumber int, opts Options) finding.Text {
	if len(opts.TrustedHops) > 0 {
		return finding.T("The client address %s comes from hop %d, the Received header written by %s, named with --trusted-hop.", h.ip, hopNumber, h.hop.By)
	}
	if isInternal(h.ip) {
		return finding.T("The client address %s comes from hop %d, the topmost Received header with an address (written by %s); no hop came from a public address. Use --trusted-hop HOST to choose another.", h.ip, hopNumber, h.hop.By)
	}
	return finding.T("The client address %s comes from hop %d, the Received header written by %s: the first, from the top, whose client is outside the receiving organisation, where the message entered it. Use --trusted-hop HOST if the receiver relays through a gateway.", h.ip, hopNumber, h.hop.By)
}

// noClient explains why no client address was found.
func noClient(hops []received, opts Options) finding.Finding {
	var t finding.Text
	switch {
	case len(hops) == 0:
		t = finding.T("The message has no Received header: the sending IP is unknown, so SPF was not evaluated")
	case len(opts.TrustedHops) > 0:
		t = finding.T("No Received header with a client address was written by %s (--trusted-hop): SPF was not evaluated", strings.Join(opts.TrustedHops, ", "))
	default:
		t = finding.T("No Received header records a relay's address (only submission or internal hops): SPF was not evaluated. A copy from the Sent folder has not yet reached a receiver that checks SPF.")
	}
	return finding.New("msg.spf-unknown-ip", "SPF", t)
}
