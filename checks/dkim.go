package checks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/checks/dkim"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// CommonDKIMSelectors are the selectors the DKIM check tries besides those
// given with --dkim-selector: the defaults of widely used mail providers,
// signing software and control panels. DKIM has no way to list a domain's
// selectors (RFC 6376 §3.1), so a guess that finds nothing proves nothing.
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

// dkimMaxConcurrent bounds the selector queries in flight. The common
// selectors and a few given ones fit in one wave, so the check costs one
// round trip; the bound only guards against a very long --dkim-selector list.
const dkimMaxConcurrent = 64

// dkimLookup is the answer for one selector.
type dkimLookup struct {
	selector string
	given    bool // named with --dkim-selector
	name     string
	txts     []dkimTXT
	ans      *resolver.Answer
	chain    []string // CNAMEs followed
	err      error
	// wildcard is set when the selector's records equal those of a random
	// selector, so that they come from a wildcard, not from a key published
	// for this selector.
	wildcard bool
}

// dkimTXT is one TXT record with its index in the answer, for locate.
type dkimTXT struct {
	text  string
	index int
}

// checkDKIM looks for DKIM keys (RFC 6376 §3.6.1) at the selectors given
// with --dkim-selector and at CommonDKIMSelectors, all at once, and judges
// each key found.
//
// A random selector is asked too: when it has a TXT record, a wildcard
// answers every selector, and guessed selectors returning the same records
// are not reported as keys. A given selector is reported whatever answers
// it, since a verifier would use that record.
//
// Severities where the catalogue leaves a choice:
//   - a selector given with --dkim-selector that has no key is dkim.none-found
//     at fail: the administrator says mail is signed with it, and a verifier
//     finding no key fails the signature (RFC 6376 §6.1.2);
//   - with no selector given, finding no key at any common selector is
//     dkim.none-found at error (inconclusive): the key is likely published
//     under a selector nobody guessed;
//   - a lookup failure on a given selector is reported as such; failures on
//     guessed selectors are summed up in Detail, and become one finding only
//     when every guess failed (or when a guessed selector is a CNAME leading
//     outside the given zones, which is worth knowing);
//   - h=sha1 alone is dkim.sha1 at fail: RFC 8301 §3.1 has verifiers reject
//     rsa-sha1, so such a key verifies no signature;
//   - an RSA key of 1024 up to 2047 bits is dkim.key-weak at warn (RFC 8301
//     §3.2: signers SHOULD use 2048 bits), under 1024 at fail (verifiers
//     MUST NOT accept it).
func checkDKIM(ctx context.Context, env *Env, domain string) Result {
	var lookups []dkimLookup
	seen := map[string]bool{}
	for _, s := range env.DKIMSelectors {
		s = strings.ToLower(strings.TrimSuffix(s, "."))
		if s != "" && !seen[s] {
			seen[s] = true
			lookups = append(lookups, dkimLookup{selector: s, given: true})
		}
	}
	for _, s := range CommonDKIMSelectors {
		if !seen[s] {
			seen[s] = true
			lookups = append(lookups, dkimLookup{selector: s})
		}
	}
	probe := dkimLookup{selector: "mc-" + randomLabel()}
	lookups = append(lookups, probe)

	sem := make(chan struct{}, dkimMaxConcurrent)
	var wg sync.WaitGroup
	for i := range lookups {
		l := &lookups[i]
		l.name = dns.Fqdn(l.selector + "._domainkey." + domain)
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			l.txts, l.ans, l.chain, l.err = dkimQuery(ctx, env.Resolver, l.name)
		})
	}
	wg.Wait()
	probe = lookups[len(lookups)-1]
	lookups = lookups[:len(lookups)-1]

	var res Result
	var wildcardTexts []string
	if probe.err == nil && len(probe.txts) > 0 {
		wildcardTexts = dkimTexts(probe.txts)
		res.Detail = append(res.Detail, fmt.Sprintf("DKIM: a wildcard answers every selector under _domainkey.%s (%s has %d TXT record(s)); guessed selectors with the same records are not counted as keys",
			domain, trimDot(probe.name), len(probe.txts)))
	}

	var out []finding.Finding
	var guessed, guessFailed, guessedKeys int
	var firstGuessErr error
	var firstGuessErrName string
	for i := range lookups {
		l := &lookups[i]
		if wildcardTexts != nil && len(l.txts) > 0 && slices.Equal(dkimTexts(l.txts), wildcardTexts) {
			l.wildcard = true
		}
		if !l.given {
			guessed++
		}
		switch {
		case l.err != nil && l.given:
			out = append(out, LookupProblem(finding.T("DKIM selector %s", l.selector), l.name, dns.TypeTXT, l.err))
		case l.err != nil:
			guessFailed++
			if firstGuessErr == nil {
				firstGuessErr, firstGuessErrName = l.err, l.name
			}
			if resolver.IsOutOfZone(l.err) && len(l.chain) > 0 {
				// The selector exists in the zone as an alias to a provider's
				// key outside it: say that it was not checked.
				f := LookupProblem(finding.T("DKIM selector %s", l.selector), l.name, dns.TypeTXT, l.err)
				f.Evidence = append(f.Evidence, "CNAME "+trimDot(l.name)+" → "+strings.Join(mapTrimDot(l.chain), " → "))
				out = append(out, f)
			}
		case len(l.txts) == 0 || (l.wildcard && !l.given):
			if l.given {
				out = append(out, dkimMissingGiven(l))
			}
		default:
			if !l.given {
				guessedKeys++
			}
			out = append(out, dkimKeyFindings(l)...)
		}
	}

	if guessFailed > 0 {
		res.Detail = append(res.Detail, fmt.Sprintf("DKIM: %d of %d guessed selector lookups failed (first: %s)", guessFailed, guessed, errText(firstGuessErr)))
	}
	if len(env.DKIMSelectors) == 0 && guessedKeys == 0 {
		switch {
		case guessFailed == guessed:
			f := LookupProblem(finding.T("DKIM (common selectors)"), firstGuessErrName, dns.TypeTXT, firstGuessErr)
			f.SetTitle(finding.T("DKIM could not be checked: all %d common-selector lookups failed (%s)", guessed, errText(firstGuessErr)))
			if resolver.IsOutOfZone(firstGuessErr) {
				f.SetTitle(finding.T("DKIM not checked: the %d common selectors of %s lie outside the given zones and no --resolver was given", guessed, domain))
			}
			out = append(out, f)
		case !slices.ContainsFunc(out, func(f finding.Finding) bool { return f.ID == "dns.not-checked" }):
			out = append(out, dkimNoneGuessed(domain, guessed, guessFailed))
		}
	}
	sortFindings(out)
	res.Findings = out
	return res
}

// dkimQuery returns the TXT records at a selector, CNAMEs followed (hosted
// providers publish selectors as CNAMEs to their own zone).
func dkimQuery(ctx context.Context, r resolver.Resolver, name string) ([]dkimTXT, *resolver.Answer, []string, error) {
	ans, chain, err := resolver.Follow(ctx, r, name, dns.TypeTXT)
	if err != nil {
		return nil, nil, chain, err
	}
	var out []dkimTXT
	for i, rr := range ans.RRs {
		if t, ok := rr.(*dns.TXT); ok {
			// RFC 6376 §3.6.2.2: the strings of one TXT record are
			// concatenated with nothing between them.
			out = append(out, dkimTXT{text: strings.Join(t.Txt, ""), index: i})
		}
	}
	return out, ans, chain, nil
}

func dkimTexts(ts []dkimTXT) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.text
	}
	slices.Sort(out)
	return out
}

func mapTrimDot(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = trimDot(n)
	}
	return out
}

// randomLabel returns a label no one publishes, for the wildcard probe.
func randomLabel() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func dkimMissingGiven(l *dkimLookup) finding.Finding {
	title := finding.T("No DKIM key at selector %s (given with --dkim-selector)", l.selector)
	var ev []string
	if l.ans != nil && l.ans.NXDomain() {
		ev = append(ev, trimDot(l.name)+": NXDOMAIN")
	} else {
		ev = append(ev, trimDot(l.name)+": no TXT record")
	}
	if l.wildcard {
		ev = append(ev, "only the wildcard's record answers here")
	}
	f := finding.New("dkim.none-found", Subject(l.name, dns.TypeTXT), title, ev...)
	f.Severity = finding.Fail
	f.SetFix(finding.T("Publish the public key of the signing key as %s IN TXT \"v=DKIM1; k=rsa; p=<base64 public key>\" (your mail provider shows the record to publish); "+
		"or, if mail is signed with another selector (the s= tag of the DKIM-Signature header), check that one", l.name))
	return f
}

func dkimNoneGuessed(domain string, guessed, failed int) finding.Finding {
	ev := []string{fmt.Sprintf("tried %d common selectors: %s", guessed, strings.Join(CommonDKIMSelectors, ", "))}
	if failed > 0 {
		ev = append(ev, fmt.Sprintf("%d of those lookups failed", failed))
	}
	f := finding.New("dkim.none-found", Subject("_domainkey."+domain, dns.TypeTXT),
		finding.T("No DKIM key at any common selector; the key may use a selector that was not guessed"), ev...)
	// SPEC: inconclusive when no selector was given and none guessed.
	f.Severity = finding.Error
	f.SetFix(finding.T("Look up the selector in the s= tag of the DKIM-Signature header of a message sent from %s and run again with --dkim-selector SELECTOR; if no message carries a DKIM-Signature, enable DKIM signing at your mail provider and publish its key", domain))
	return f
}

// dkimKeyFindings judges every TXT record at a selector that has some.
// RFC 6376 §6.1.2 lets a verifier use any of several records, so each is
// judged; dkim.ok is reported for a selector whose records are all sound.
func dkimKeyFindings(l *dkimLookup) []finding.Finding {
	subject := Subject(l.name, dns.TypeTXT)
	var out []finding.Finding
	var oks []string
	for _, t := range l.txts {
		var notes []string
		if len(l.chain) > 0 {
			notes = append(notes, "CNAME "+trimDot(l.name)+" → "+strings.Join(mapTrimDot(l.chain), " → "))
		}
		if l.wildcard {
			notes = append(notes, "the same record answers at a random selector: it comes from a wildcard")
		}
		add := func(f finding.Finding) {
			f.Evidence = append(f.Evidence, notes...)
			locate(&f, l.ans, t.index)
			out = append(out, f)
		}
		rec, err := dkim.ParseRecord(t.text)
		if err != nil {
			f := finding.New("dkim.syntax", subject,
				finding.T("DKIM key record at selector %s is not usable: %v", l.selector, err), t.text)
			f.SetFix(finding.T("Replace the record at %s with \"v=DKIM1; k=rsa; p=<base64 public key>\" as your signing software or provider gives it (RFC 6376 §3.6.1); %s", trimDot(l.name), dkimSyntaxHint(err)))
			add(f)
			continue
		}
		if rec.Revoked() {
			f := finding.New("dkim.revoked", subject,
				finding.T("DKIM key at selector %s is revoked (empty p=): signatures made with it fail", l.selector), t.text)
			f.SetFix(finding.T("Nothing to do if selector %s is retired; if mail is still signed with it, switch signing to a selector with a published key", l.selector))
			add(f)
			continue
		}
		bad := false
		if bits := rec.RSABits(); bits > 0 && bits < 2048 {
			f := finding.New("dkim.key-weak", subject,
				finding.T("DKIM key at selector %s is a %d-bit RSA key", l.selector, bits), fmt.Sprintf("%d-bit RSA key", bits))
			if bits < 1024 {
				// RFC 8301 §3.2: verifiers MUST NOT consider signatures with
				// keys under 1024 bits valid.
				f.Severity = finding.Fail
				f.Evidence = append(f.Evidence, "RFC 8301 §3.2: verifiers reject signatures made with RSA keys under 1024 bits")
			} else {
				f.Severity = finding.Warn
				f.Evidence = append(f.Evidence, "RFC 8301 §3.2: signers SHOULD use RSA keys of at least 2048 bits")
			}
			f.SetFix(finding.T("Generate a 2048-bit RSA key, publish it under a new selector, switch signing to that selector, then revoke %s with \"v=DKIM1; p=\"", l.selector))
			add(f)
			bad = true
		}
		if rec.SHA1Only() {
			f := finding.New("dkim.sha1", subject,
				finding.T("DKIM key at selector %s allows only SHA-1 (h=sha1): verifiers reject rsa-sha1 signatures", l.selector), t.text)
			f.Severity = finding.Fail
			f.SetFix(finding.T("Remove h= from the record (or set h=sha256) and sign with rsa-sha256 (RFC 8301 §3.1)"))
			add(f)
			bad = true
		}
		if rec.Testing() {
			f := finding.New("dkim.testing", subject,
				finding.T("DKIM key at selector %s is in testing mode (t=y): verifiers may ignore its results", l.selector), t.text)
			f.SetFix(finding.T("Remove y from the t= tag once signing works: RFC 6376 §3.6.1 asks verifiers not to treat signed and unsigned mail differently while it is set"))
			add(f)
			bad = true
		}
		if !bad {
			oks = append(oks, dkimDescribe(rec))
			if len(oks) == 1 {
				f := finding.New("dkim.ok", subject, finding.Text{}, t.text)
				add(f)
			}
		}
	}
	for i := range out {
		if out[i].ID == "dkim.ok" {
			out[i].SetTitle(finding.T("DKIM key at selector %s: %s", l.selector, strings.Join(oks, "; ")))
		}
	}
	return out
}

func dkimDescribe(rec *dkim.Record) string {
	if bits := rec.RSABits(); bits > 0 {
		return fmt.Sprintf("%d-bit RSA", bits)
	}
	return string(rec.KeyType)
}

// dkimSyntaxHint says what to change in a record that does not parse.
func dkimSyntaxHint(err error) string {
	pe, ok := err.(*dkim.ParseError)
	if !ok {
		return "check the record against RFC 6376 §3.6.1"
	}
	switch pe.Tag {
	case "p":
		return "p= must be the whole base64 public key; a key split across TXT strings is joined without spaces, so check no part is missing"
	case "v":
		return "v=DKIM1 must be the record's first tag, or be left out"
	case "k":
		return "k= must be rsa or ed25519"
	case "h":
		return "remove h= or set it to sha256"
	case "s":
		return "remove s= or set it to email"
	}
	return "tags are name=value pairs separated by semicolons, each name at most once"
}
