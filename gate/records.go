package gate

import (
	"context"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/miekg/dns"
	"golang.org/x/net/publicsuffix"

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
		tags := parseTags(t)
		if len(tags) > 0 && tags[0].key == "v" && tags[0].value == "DMARC1" {
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
	for _, tg := range parseTags(st.Text) {
		switch tg.key {
		case "p":
			p = strings.ToLower(tg.value)
		case "sp":
			sp = strings.ToLower(tg.value)
		case "rua":
			rua = tg.value != ""
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
		tags := parseTags(t)
		if !hasTag(tags, "p") {
			continue
		}
		cand := dkimKey{Name: name, Found: true, Text: t, Loc: locationOf(ans, i), Answer: ans}
		cand.Key, cand.Valid, cand.Reason = checkDKIMKey(tags)
		if !k.Found || cand.Valid && !k.Valid {
			k = cand
		}
	}
	return k, nil
}

func hasTag(tags []tag, key string) bool {
	for _, t := range tags {
		if t.key == key {
			return true
		}
	}
	return false
}

// checkDKIMKey validates a key record's tags per RFC 6376 §3.6.1: v=, when
// present, is first and DKIM1; p= is the base64 public key (folding
// whitespace allowed), empty for a revoked key; k= is rsa (the default,
// a SubjectPublicKeyInfo) or ed25519 (RFC 8463 §4.2: the raw 32 bytes).
func checkDKIMKey(tags []tag) (key string, valid bool, reason string) {
	kType := "rsa"
	for i, t := range tags {
		switch t.key {
		case "v":
			if i != 0 || t.value != "DKIM1" {
				return "", false, "v= must be the first tag and read DKIM1"
			}
		case "k":
			kType = strings.ToLower(t.value)
		case "p":
			key = strings.Join(strings.Fields(t.value), "")
		}
	}
	if key == "" {
		return "", false, "p= is empty: the key is revoked (RFC 6376 §3.6.1)"
	}
	der, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return key, false, "p= is not valid base64"
	}
	switch kType {
	case "rsa":
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			// Some signers publish a bare PKCS#1 RSAPublicKey; verifiers
			// commonly accept it.
			if _, err1 := x509.ParsePKCS1PublicKey(der); err1 == nil {
				return key, true, ""
			}
			return key, false, "p= does not hold an RSA public key: " + err.Error()
		}
		if _, ok := pub.(*rsa.PublicKey); !ok {
			return key, false, fmt.Sprintf("k=rsa but p= holds a %T", pub)
		}
		return key, true, ""
	case "ed25519":
		if len(der) != ed25519.PublicKeySize {
			return key, false, fmt.Sprintf("k=ed25519 but p= holds %d bytes, not %d", len(der), ed25519.PublicKeySize)
		}
		return key, true, ""
	}
	return key, false, fmt.Sprintf("unknown key type k=%s", kType)
}

// spfCount is the result of counting SPF lookups.
type spfCount struct {
	Lookups int
	// Terms lists each counted term with the record it appears in, for the
	// evidence.
	Terms []string
	// Record is the domain's own SPF record, and where it was read.
	Record string
	Loc    *finding.Location
}

// maxSPFWalk bounds the include tree walked; past it the count is already
// far beyond any limit.
const maxSPFWalk = 40

// countSPFLookups counts the DNS-querying terms that evaluating domain's
// SPF record costs, across includes and redirect (RFC 7208 §4.6.4:
// include, a, mx, ptr and exists count one each, and so does redirect,
// which §6.1 applies only when the record has no "all"). Loops and targets
// without an SPF record end that branch (the SPF check reports them). On a
// failed lookup the count so far comes back with the error: a lower bound.
//
// TODO(merge): checks/spf is being written with its own counter; once it
// exports one, use it here instead.
func countSPFLookups(ctx context.Context, r resolver.Resolver, domain string) (spfCount, error) {
	var c spfCount
	var walk func(name string, stack []string, top bool) error
	walk = func(name string, stack []string, top bool) error {
		for _, s := range stack {
			if s == name {
				return nil
			}
		}
		if c.Lookups > maxSPFWalk {
			return nil
		}
		texts, ans, err := resolver.TXT(ctx, r, name)
		if err != nil {
			return err
		}
		var recs []int
		for i, t := range texts {
			low := strings.ToLower(t)
			if low == "v=spf1" || strings.HasPrefix(low, "v=spf1 ") {
				recs = append(recs, i)
			}
		}
		if len(recs) != 1 {
			return nil // none or several: a permerror the SPF check reports
		}
		rec := texts[recs[0]]
		if top {
			c.Record, c.Loc = rec, locationOf(ans, recs[0])
		}
		stack = append(stack, name)
		var redirect string
		hasAll := false
		for _, term := range strings.Fields(rec)[1:] {
			low := strings.ToLower(term)
			if mod, target, ok := strings.Cut(low, "="); ok && !strings.ContainsAny(mod, ":/") {
				if mod == "redirect" {
					redirect = target
				}
				continue
			}
			mech := strings.TrimLeft(low, "+-~?")
			mname, target, _ := strings.Cut(mech, ":")
			mname, _, _ = strings.Cut(mname, "/")
			switch mname {
			case "all":
				hasAll = true
			case "a", "mx", "ptr", "exists":
				c.Lookups++
				c.Terms = append(c.Terms, term+" (in "+trimDot(name)+")")
			case "include":
				c.Lookups++
				c.Terms = append(c.Terms, term+" (in "+trimDot(name)+")")
				if target != "" && !strings.Contains(target, "%") {
					if err := walk(fqdn(target), stack, false); err != nil {
						return err
					}
				}
			}
		}
		if redirect != "" && !hasAll {
			c.Lookups++
			c.Terms = append(c.Terms, "redirect="+redirect+" (in "+trimDot(name)+")")
			if !strings.Contains(redirect, "%") {
				return walk(fqdn(redirect), stack, false)
			}
		}
		return nil
	}
	err := walk(fqdn(domain), nil, true)
	return c, err
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
