package facts

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/resolver"
)

// CommonDKIMSelectors are the selectors tried besides those given: the
// defaults of widely used mail providers, signing software and control
// panels. DKIM has no way to list a domain's selectors (RFC 6376 §3.1), so
// a guess that finds nothing proves nothing.
var CommonDKIMSelectors = []string{
	// Generic names: cPanel, Plesk, OpenDKIM and rspamd set-ups, rotation
	// and key-size schemes.
	"default", "dkim", "mail", "smtp", "email", "dk", "key1", "key2", "s1024", "s2048",
	// SendGrid and many self-hosted set-ups.
	"s1", "s2",
	// Google Workspace; Microsoft 365; iCloud custom domains.
	"google", "selector1", "selector2", "sig1",
	// Mailchimp and Mandrill.
	"k1", "k2", "k3", "mandrill",
	// Fastmail; Proton Mail; Zoho Mail.
	"fm1", "fm2", "fm3", "protonmail", "protonmail2", "protonmail3", "zoho", "zmail",
	// MXroute; Everlytic; Mailjet; Postmark; Amazon SES (legacy).
	"mxvault", "everlytickey1", "everlytickey2", "mailjet", "pm", "amazonses",
}

// SelectorSource says why a selector is looked up. A selector can have
// several sources.
type SelectorSource uint8

const (
	// FromFlag: named with --dkim-selector; mail is signed with it.
	FromFlag SelectorSource = 1 << iota
	// FromPolicy: listed in the policy file's require.dkim_selectors.
	FromPolicy
	// FromZone: a name <selector>._domainkey.<domain> in the zone files.
	FromZone
	// Guessed: one of CommonDKIMSelectors.
	Guessed
)

// Named reports whether someone said mail is signed with the selector (the
// flag or the policy file): then a missing key is a fault, not a miss.
func (s SelectorSource) Named() bool { return s&(FromFlag|FromPolicy) != 0 }

// Selector is a selector to look up and why.
type Selector struct {
	Name   string
	Source SelectorSource
}

// DKIM holds the key records found at every selector looked up.
type DKIM struct {
	Domain    string
	Selectors []*DKIMSelector
	// Wildcard is the answer at a random selector: when it holds TXT
	// records, a wildcard answers every selector, and guessed selectors
	// returning the same records are not keys published for them.
	Wildcard *DKIMSelector
}

// DKIMSelector is the answer at one selector.
type DKIMSelector struct {
	Selector string
	Source   SelectorSource
	Lookup   Lookup // TXT at <selector>._domainkey.<domain>, CNAMEs followed
	// FromWildcard is set when the selector's records equal those at a
	// random selector.
	FromWildcard bool
}

// Name is the DNS name of the selector's key record, fully qualified.
func (s *DKIMSelector) Name() string { return s.Lookup.Name }

// Keys returns the TXT records at the selector (RFC 6376 §3.6.2.2: the
// strings of one record are concatenated).
func (s *DKIMSelector) Keys() []TXT { return s.Lookup.TXTs() }

// Get returns the selector's facts, nil when it was not looked up.
func (d *DKIM) Get(selector string) *DKIMSelector {
	selector = strings.ToLower(selector)
	for _, s := range d.Selectors {
		if s.Selector == selector {
			return s
		}
	}
	return nil
}

// dkimMaxConcurrent bounds the selector queries in flight. The common
// selectors and a few given ones fit in one wave, so DKIM costs one round
// trip; the bound only guards against a very long list.
const dkimMaxConcurrent = 64

// DKIMSelectors merges selectors from several sources, first occurrence
// first, lower case, sources combined.
func DKIMSelectors(lists ...[]Selector) []Selector {
	var out []Selector
	for _, list := range lists {
		for _, s := range list {
			name := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(s.Name), "."))
			if name == "" {
				continue
			}
			if i := slices.IndexFunc(out, func(o Selector) bool { return o.Name == name }); i >= 0 {
				out[i].Source |= s.Source
				continue
			}
			out = append(out, Selector{Name: name, Source: s.Source})
		}
	}
	return out
}

// Guesses returns CommonDKIMSelectors as Guessed selectors.
func Guesses() []Selector {
	out := make([]Selector, len(CommonDKIMSelectors))
	for i, s := range CommonDKIMSelectors {
		out[i] = Selector{Name: s, Source: Guessed}
	}
	return out
}

// gatherDKIM looks up every selector and a random one (the wildcard probe)
// at once. CNAMEs are followed: hosted providers publish selectors as
// CNAMEs to their own zone.
//
// With firstPass, guesses wait for a cheaper first pass: when
// _domainkey.<domain> does not exist (NXDOMAIN), no name below it does
// (RFC 8020 §2) and every guess is NXDOMAIN without being asked. A domain
// that publishes any key has _domainkey (an empty non-terminal at least),
// and its guesses are asked. The first pass runs beside the named
// selectors and the wildcard probe, so DKIM costs at most two round trips,
// off the critical path of the audit (MX → addresses → PTR → forward).
// Without it, every selector is asked at once: one round trip.
func gatherDKIM(ctx context.Context, r resolver.Resolver, domain string, selectors []Selector, firstPass bool) DKIM {
	d := DKIM{Domain: domain}
	var first, guesses []*DKIMSelector
	for _, s := range selectors {
		ds := &DKIMSelector{Selector: s.Name, Source: s.Source}
		d.Selectors = append(d.Selectors, ds)
		if firstPass && s.Source == Guessed {
			guesses = append(guesses, ds)
		} else {
			first = append(first, ds)
		}
	}
	// The random selector tells a wildcard from keys published for the
	// selectors tried (and finds the revoked wildcard of a parked domain):
	// needed when some selector is a guess or comes from the zone alone.
	// When every selector was named, the record at each is the one a
	// verifier uses, wildcard or not: one query a domain less in a list.
	if len(selectors) == 0 || slices.ContainsFunc(selectors, func(s Selector) bool { return !s.Source.Named() }) {
		d.Wildcard = &DKIMSelector{Selector: "mc-" + randomLabel()}
		first = append(first, d.Wildcard)
	}
	sem := make(chan struct{}, dkimMaxConcurrent)
	askAll := func(wg *sync.WaitGroup, list []*DKIMSelector) {
		for _, s := range list {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				s.Lookup = ask(ctx, r, s.Selector+"._domainkey."+domain, dns.TypeTXT)
			})
		}
	}
	var wg sync.WaitGroup
	askAll(&wg, first)
	if len(guesses) > 0 {
		wg.Go(func() {
			parent := askExact(ctx, r, "_domainkey."+domain, dns.TypeTXT)
			if parent.OK() && parent.Answer.NXDomain() {
				for _, s := range guesses {
					s.Lookup = belowNXDomain(parent, s.Selector+"._domainkey."+domain)
				}
				return
			}
			var inner sync.WaitGroup
			askAll(&inner, guesses)
			inner.Wait()
		})
	}
	wg.Wait()
	if d.Wildcard == nil {
		return d
	}
	if wild := sortedTexts(d.Wildcard.Keys()); len(wild) > 0 {
		for _, s := range d.Selectors {
			if keys := sortedTexts(s.Keys()); len(keys) > 0 && slices.Equal(keys, wild) {
				s.FromWildcard = true
			}
		}
	}
	return d
}

// belowNXDomain is the TXT lookup of name, below the name of parent, which
// does not exist: NXDOMAIN too (RFC 8020 §2), from the same server.
func belowNXDomain(parent Lookup, name string) Lookup {
	name = dns.Fqdn(strings.ToLower(name))
	return Lookup{Name: name, Qtype: dns.TypeTXT, Answer: &resolver.Answer{
		Name: name, Qtype: dns.TypeTXT, Rcode: dns.RcodeNameError,
		Authentic: parent.Answer.Authentic, Server: parent.Answer.Server,
	}}
}

func sortedTexts(ts []TXT) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Text
	}
	slices.Sort(out)
	return out
}

// randomLabel returns a label no one publishes, for the wildcard probe.
func randomLabel() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ZoneSelectors lists the selectors a zone publishes under
// _domainkey.<domain>: every name there but the wildcard (the random probe
// finds it) and names starting with "_" (_adsp and other policy records of
// old drafts, not keys).
func ZoneSelectors(names []string, domain string) []Selector {
	suffix := "._domainkey." + dns.Fqdn(strings.ToLower(domain))
	var out []Selector
	for _, n := range names {
		sel, ok := strings.CutSuffix(n, suffix)
		if !ok || sel == "" || sel == "*" || strings.HasPrefix(sel, "_") {
			continue
		}
		out = append(out, Selector{Name: sel, Source: FromZone})
	}
	return out
}
