package gate

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"
	"golang.org/x/net/publicsuffix"

	"github.com/mailcheck-cli/mailcheck/checks/dkim"
	"github.com/mailcheck-cli/mailcheck/checks/dmarc"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// dmarcState is the DMARC policy that applies to a domain.
type dmarcState struct {
	// Policy is the effective p= (or sp= when inherited): none, quarantine
	// or reject; empty when no DMARC policy applies.
	Policy string
	Name   string // where the record was found
	Text   string
	Loc    *finding.Location
	// Note explains an absent or odd policy for the evidence.
	Note string
}

// lookupDMARC finds the DMARC policy that receivers apply to domain,
// following RFC 7489 §6.6.3: the record at _dmarc.<domain>, else at the
// organizational domain (where sp=, if present, governs subdomains). More
// than one DMARC record means no policy; a record without a valid p= counts
// as p=none only when it asks for aggregate reports.
func lookupDMARC(ctx context.Context, r resolver.Resolver, domain string) (dmarcState, error) {
	st, found, err := dmarcAt(ctx, r, fqdn(domain), false)
	if err != nil || found {
		return st, err
	}
	org, psErr := publicsuffix.EffectiveTLDPlusOne(trimDot(fqdn(domain)))
	if psErr != nil || fqdn(org) == fqdn(domain) {
		return st, nil
	}
	ost, found, err := dmarcAt(ctx, r, fqdn(org), true)
	if err != nil {
		return st, err
	}
	if found {
		return ost, nil
	}
	st.Note = "no DMARC record at _dmarc." + trimDot(fqdn(domain)) + " nor at _dmarc." + org
	return st, nil
}

func dmarcAt(ctx context.Context, r resolver.Resolver, domain string, inherited bool) (dmarcState, bool, error) {
	name := "_dmarc." + domain
	texts, ans, err := resolver.TXT(ctx, r, name)
	if err != nil {
		return dmarcState{}, false, err
	}
	st := dmarcState{Name: name, Note: "no DMARC record at " + trimDot(name)}
	var idx []int
	for i, t := range texts {
		if dmarc.IsDMARC(t) {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return st, false, nil
	}
	if len(idx) > 1 {
		// RFC 7489 §6.6.3 step 5: several records, no policy. Found all the
		// same: the organizational domain is not consulted.
		st.Note = fmt.Sprintf("%d DMARC records at %s: receivers apply none of them", len(idx), trimDot(name))
		st.Loc = locationOf(ans, idx[1])
		return st, true, nil
	}
	st.Text = texts[idx[0]]
	st.Loc = locationOf(ans, idx[0])
	var p, sp string
	var rua bool
	// Read leniently rather than with dmarc.Parse: a record that parser
	// rejects may still carry a policy receivers apply (§6.6.3).
	for _, part := range strings.Split(st.Text, ";") {
		name, value, _ := strings.Cut(part, "=")
		value = strings.ToLower(strings.TrimSpace(value))
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "p":
			p = value
		case "sp":
			sp = value
		case "rua":
			rua = value != ""
		}
	}
	if inherited && sp != "" {
		p = sp
	}
	switch {
	case strength(dmarcStrength, p) >= 0:
		st.Policy, st.Note = p, ""
		if inherited {
			st.Note = "inherited from the organizational domain's record at " + trimDot(name)
		}
	case rua:
		st.Policy = "none"
		st.Note = fmt.Sprintf("p=%q is not valid; receivers treat the record as p=none because it asks for reports", p)
	default:
		st.Note = fmt.Sprintf("p=%q is not valid and the record asks for no reports: receivers apply no policy", p)
	}
	return st, true, nil
}

// dkimKey is what one selector publishes.
type dkimKey struct {
	Name string // <selector>._domainkey.<domain>
	// Found: a TXT record with a p= tag exists at Name (a key record,
	// valid or not).
	Found bool
	// Valid: the key parses (RFC 6376 §3.6.1).
	Valid  bool
	Reason string // why not Valid
	Key    string // the p= value, whitespace removed
	Text   string
	Loc    *finding.Location
	Answer *resolver.Answer
}

// lookupDKIMKey reads the key record of selector under domain. A CNAME
// (common for keys hosted by a provider) is followed, as verifiers do.
func lookupDKIMKey(ctx context.Context, r resolver.Resolver, selector, domain string) (dkimKey, error) {
	name := strings.ToLower(selector) + "._domainkey." + fqdn(domain)
	texts, ans, err := resolver.TXT(ctx, r, name)
	k := dkimKey{Name: name, Answer: ans, Reason: "no key record at " + trimDot(name)}
	if err != nil {
		return k, err
	}
	for i, t := range texts {
		tags, err := dkim.ParseTagList(t)
		if err != nil || !slices.ContainsFunc(tags, func(tg dkim.Tag) bool { return tg.Name == "p" }) {
			continue // not a key record
		}
		cand := dkimKey{Name: name, Found: true, Text: t, Loc: locationOf(ans, i), Answer: ans}
		cand.Key, cand.Valid, cand.Reason = checkDKIMKey(t, tags)
		if !k.Found || cand.Valid && !k.Valid {
			k = cand
		}
	}
	return k, nil
}

// checkDKIMKey validates a key record with the DKIM check's parser (RFC
// 6376 §3.6.1, RFC 8463): v=, when present, first and DKIM1; a known k=;
// a p= that decodes to a public key of that type. An empty p= is a revoked
// key. key is the p= value without whitespace, to tell keys apart.
func checkDKIMKey(txt string, tags []dkim.Tag) (key string, valid bool, reason string) {
	for _, tg := range tags {
		if tg.Name == "p" {
			key = strings.Join(strings.Fields(tg.Value), "")
		}
	}
	rec, err := dkim.ParseRecord(txt)
	switch {
	case err != nil:
		return key, false, err.Error()
	case rec.Revoked():
		return key, false, "p= is empty: the key is revoked (RFC 6376 §3.6.1)"
	}
	return key, true, ""
}

// mxHosts reads the MX host names of domain (lower case, fully qualified;
// "." for a null MX), with the answer for locations.
func mxHosts(ctx context.Context, r resolver.Resolver, domain string) ([]string, *resolver.Answer, error) {
	ans, _, err := resolver.Follow(ctx, r, fqdn(domain), dns.TypeMX)
	if err != nil {
		return nil, nil, err
	}
	var hosts []string
	for _, rr := range ans.RRs {
		if mx, ok := rr.(*dns.MX); ok {
			hosts = append(hosts, fqdn(mx.Mx))
		}
	}
	return hosts, ans, nil
}
