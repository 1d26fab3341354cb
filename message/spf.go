package message

import (
	"context"
	"errors"
	"strings"

	"github.com/mailcheck-cli/mailcheck/checks/spf"
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

// checkSPF evaluates SPF for the IP of the trusted hop with a real
// check_host(): the MAIL FROM domain, or the HELO name for a bounce
// (RFC 7208 §2.4).
func checkSPF(ctx context.Context, r resolver.Resolver, hops []received, trusted int, hopNumber int, env envelope, opts Options) (*finding.SPFCheck, []finding.Finding) {
	if trusted < 0 {
		return nil, []finding.Finding{noClient(hops, opts)}
	}
	h := hops[trusted]
	c := &finding.SPFCheck{IP: h.ip.String(), Hop: hopNumber, TrustedHop: h.hop.By, HELO: h.hop.From}
	how := hopChoice(h, hopNumber, opts)
	q := spf.Query{IP: h.ip, HELO: h.hop.From, Receiver: h.hop.By}
	switch {
	case env.known && !env.null:
		c.Identity, c.Sender, c.Domain = "mailfrom", env.mailFrom, domainOf(env.mailFrom)
	case h.hop.From != "" && !strings.HasPrefix(h.hop.From, "["):
		// RFC 7208 §2.4: with a null sender the HELO identity is
		// checked, as postmaster@HELO.
		c.Identity, c.Domain = "helo", strings.ToLower(h.hop.From)
		c.Sender = "postmaster@" + c.Domain
	default:
		f := finding.New("msg.spf-unknown-ip", "SPF", finding.T("No envelope sender and no HELO name: SPF cannot be evaluated"))
		f.Note(how)
		c.Result = "none"
		return c, []finding.Finding{f}
	}
	if c.Domain == "" {
		c.Domain = domainOf("@" + c.Sender)
	}
	q.Domain, q.Sender = c.Domain, c.Sender
	ev := spf.CheckHost(ctx, r, q)
	c.Result = string(ev.Status)
	c.Mechanism, c.Inner, c.MatchedIn, c.Path = ev.Mechanism, ev.Inner, ev.MatchedIn, ev.Path
	c.Record, c.Lookups, c.VoidLookups, c.Explanation = ev.Record, ev.Lookups, ev.VoidLookups, ev.Explanation
	subject := c.Domain + " (SPF, " + c.IP + ")"
	var f finding.Finding
	switch ev.Status {
	case spf.StatusPass:
		f = finding.New("msg.ok", subject, finding.T("SPF pass: %s is allowed to send for %s (%s)", c.IP, c.Domain, matchText(ev)))
	case spf.StatusFail:
		f = finding.New("msg.spf-fail", subject, finding.T("SPF fail: %s is not allowed to send for %s (%s)", c.IP, c.Domain, matchText(ev)))
		if ev.Explanation != "" {
			f.Evidence = append(f.Evidence, ev.Explanation)
		}
	case spf.StatusSoftfail:
		f = finding.New("msg.spf-softfail", subject, finding.T("SPF softfail: %s is probably not allowed to send for %s (%s)", c.IP, c.Domain, matchText(ev)))
	case spf.StatusNeutral:
		f = finding.New("msg.spf-neutral", subject, finding.T("SPF neutral: %s makes no statement about %s", c.Domain, c.IP))
	case spf.StatusNone:
		f = finding.New("msg.spf-none", subject, finding.T("SPF none: %s publishes no SPF record", c.Domain))
	case spf.StatusPermError:
		f = finding.New("msg.spf-permerror", subject, finding.T("SPF permerror: the SPF policy of %s cannot be evaluated: %s", c.Domain, problemText(ev.Err)))
	case spf.StatusTempError:
		var ee *spf.EvalError
		if errors.As(ev.Err, &ee) && ee.Problem == spf.ProblemNotChecked {
			f = finding.New("msg.spf-not-checked", subject, finding.T("SPF not checked: %s lies outside the given zones", ee.Domain))
		} else {
			f = finding.New("msg.spf-temperror", subject, finding.T("SPF temperror: a DNS lookup for %s failed: %s", c.Domain, problemText(ev.Err)))
		}
	}
	if ev.Record != "" {
		f.Evidence = append(f.Evidence, c.Domain+": "+ev.Record)
	}
	f.Note(how)
	f.Note(finding.T("%d of 10 DNS lookups used, %d of 2 void lookups.", ev.Lookups, ev.VoidLookups))
	return c, []finding.Finding{f}
}

// matchText says which term decided: "-all", "ip4:192.0.2.0/24",
// "include:_spf.example.net, ip4:198.51.100.0/24 in _spf.example.net", or
// that no term matched.
func matchText(ev spf.Evaluation) finding.Text {
	switch {
	case ev.Mechanism == "":
		return finding.T("no term matched")
	case ev.Inner != "":
		return finding.T("matched %s, by %s in %s", ev.Mechanism, ev.Inner, ev.MatchedIn)
	}
	return finding.T("matched %s", ev.Mechanism)
}

// problemText says why an evaluation stopped.
func problemText(err error) finding.Text {
	var ee *spf.EvalError
	if !errors.As(err, &ee) {
		return finding.T("unknown SPF evaluation error")
	}
	switch ee.Problem {
	case spf.ProblemNoRecord:
		return finding.T("%s has no SPF record", ee.Domain)
	case spf.ProblemBadDomain:
		return finding.T("%q is not a valid domain name", ee.Domain)
	case spf.ProblemMultiple:
		return finding.T("%s publishes more than one v=spf1 record", ee.Domain)
	case spf.ProblemSyntax:
		if ee.Err != nil {
			return finding.T("the record of %s does not parse: %v", ee.Domain, ee.Err)
		}
		return finding.T("the record of %s does not parse at %s", ee.Domain, ee.Term)
	case spf.ProblemLookupLimit:
		return finding.T("more than 10 DNS lookups (at %s in %s)", ee.Term, ee.Domain)
	case spf.ProblemVoidLimit:
		return finding.T("more than 2 lookups found nothing (at %s in %s)", ee.Term, ee.Domain)
	case spf.ProblemMXLimit:
		return finding.T("%s has more than 10 MX records (at %s)", ee.Domain, ee.Term)
	case spf.ProblemIncludeNone:
		return finding.T("%s, named by %s, has no SPF record", ee.Domain, ee.Term)
	case spf.ProblemDNS, spf.ProblemNotChecked:
		return finding.T("the lookup at %s failed: %v", ee.Domain, ee.Err)
	}
	return finding.T("unknown SPF evaluation error")
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
