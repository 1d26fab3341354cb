package checks

import (
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/checks/dkim"
	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// CommonDKIMSelectors are the selectors tried besides those named (see
// facts.CommonDKIMSelectors).
var CommonDKIMSelectors = facts.CommonDKIMSelectors

// judgeDKIM judges the key records found at every selector looked up
// (RFC 6376 §3.6.1): those named with --dkim-selector or in the policy
// file, those the zone files publish, and the common guesses.
//
// A random selector is asked too: when it has a TXT record, a wildcard
// answers every selector, and guessed selectors returning the same records
// are not reported as keys. A named selector is reported whatever answers
// it, since a verifier would use that record.
//
// Severities where the catalogue leaves a choice:
//   - a named selector that has no key is dkim.none-found at fail: the
//     administrator says mail is signed with it, and a verifier finding no
//     key fails the signature (RFC 6376 §6.1.2);
//   - with no selector named, finding no key at any selector tried is
//     dkim.none-found at error (inconclusive): the key is likely published
//     under a selector nobody guessed;
//   - a lookup failure on a named selector is reported as such; failures on
//     other selectors are summed up in Detail, and become one finding only
//     when every one failed (or when a selector is a CNAME leading outside
//     the given zones, which is worth knowing);
//   - h=sha1 alone is dkim.sha1 at fail: RFC 8301 §3.1 has verifiers reject
//     rsa-sha1, so such a key verifies no signature;
//   - an RSA key of 1024 up to 2047 bits is dkim.key-weak at warn (RFC 8301
//     §3.2: signers SHOULD use 2048 bits), under 1024 at fail (verifiers
//     MUST NOT accept it).
func judgeDKIM(d *facts.Domain) Result {
	k := &d.DKIM
	domain := d.Name
	var res Result
	if w := k.Wildcard; w != nil && w.Lookup.Err == nil && len(w.Keys()) > 0 {
		res.Detail = append(res.Detail, fmt.Sprintf("DKIM: a wildcard answers every selector under _domainkey.%s (%s has %d TXT record(s)); guessed selectors with the same records are not counted as keys",
			domain, trimDot(w.Name()), len(w.Keys())))
	}

	var out []finding.Finding
	var tried, failed, found int
	named := false
	var firstErr *facts.Lookup
	for _, s := range k.Selectors {
		given := s.Source.Named()
		named = named || given
		if !given {
			tried++
		}
		switch {
		case s.Lookup.Err != nil && given:
			out = append(out, lookupProblem(finding.T("DKIM selector %s", s.Selector), &s.Lookup))
		case s.Lookup.Err != nil:
			failed++
			if firstErr == nil {
				firstErr = &s.Lookup
			}
			if resolver.IsOutOfZone(s.Lookup.Err) && len(s.Lookup.Chain) > 0 {
				// The selector exists in the zone as an alias to a provider's
				// key outside it: say that it was not checked.
				f := lookupProblem(finding.T("DKIM selector %s", s.Selector), &s.Lookup)
				f.Evidence = append(f.Evidence, "CNAME "+trimDot(s.Name())+" → "+strings.Join(mapTrimDot(s.Lookup.Chain), " → "))
				out = append(out, f)
			}
		case len(dkimKeyRecords(s)) == 0 || (s.FromWildcard && !given):
			if given {
				out = append(out, dkimMissingGiven(s))
			}
		case len(dkimKeyRecords(s)) > 1:
			if !given {
				found++
			}
			out = append(out, dkimMultiple(s))
		default:
			if !given {
				found++
			}
			out = append(out, dkimKeyFindings(s)...)
		}
	}

	if failed > 0 {
		res.Detail = append(res.Detail, fmt.Sprintf("DKIM: %d of %d guessed selector lookups failed (first: %s)", failed, tried, errText(firstErr.Err)))
	}
	if f, ok := dkimWildcardRevoked(k); ok {
		// A revoked key answers every selector: no selector holds a key,
		// and that is known, not guessed (M3AAWG parked domains).
		out = append(out, f)
		found++
	}
	if !named && found == 0 && tried > 0 {
		switch {
		case failed == tried:
			f := lookupProblem(finding.T("DKIM (common selectors)"), firstErr)
			f.SetTitle(finding.T("DKIM could not be checked: all %d common-selector lookups failed (%s)", tried, errText(firstErr.Err)))
			if resolver.IsOutOfZone(firstErr.Err) {
				f.SetTitle(finding.T("DKIM not checked: the %d common selectors of %s lie outside the given zones and no --resolver was given", tried, domain))
			}
			out = append(out, f)
		case !slices.ContainsFunc(out, func(f finding.Finding) bool { return f.ID == "dns.not-checked" }):
			out = append(out, dkimNoneGuessed(domain, tried, failed))
		}
	}
	sortFindings(out)
	res.Findings = out
	return res
}

func mapTrimDot(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = trimDot(n)
	}
	return out
}

func dkimMissingGiven(l *facts.DKIMSelector) finding.Finding {
	title := finding.T("No DKIM key at selector %s (given with --dkim-selector)", l.Selector)
	if l.Source&facts.FromFlag == 0 {
		title = finding.T("No DKIM key at selector %s (required by the policy file)", l.Selector)
	}
	var ev []string
	if l.Lookup.Status() == facts.NXDomain {
		ev = append(ev, trimDot(l.Name())+": NXDOMAIN")
	} else {
		ev = append(ev, trimDot(l.Name())+": no TXT record")
	}
	f := finding.New("dkim.none-found", Subject(l.Name(), dns.TypeTXT), title, ev...)
	if l.FromWildcard {
		f.Note(finding.T("only the wildcard's record answers here"))
	}
	f.Severity = finding.Fail
	f.SetFix(finding.T("Publish the public key of the signing key as %s IN TXT \"v=DKIM1; k=rsa; p=<base64 public key>\" (your mail provider shows the record to publish); "+
		"or, if mail is signed with another selector (the s= tag of the DKIM-Signature header), check that one", l.Name()))
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

// dkimKeyRecords are the TXT records at a selector that are meant as key
// records (v=DKIM1 first, or a tag-list with p=): a verification token or
// an SPF record published there is not a key, and a verifier ignores it.
func dkimKeyRecords(s *facts.DKIMSelector) []facts.TXT {
	var out []facts.TXT
	for _, t := range s.Keys() {
		if dkim.LooksLikeKey(t.Text) {
			out = append(out, t)
		}
	}
	return out
}

// dkimMultiple reports a selector with several key records. RFC 6376
// §3.6.2.2: "TXT RRs MUST be unique for a particular selector name; that
// is, if there are multiple records in an RRset, the results are
// undefined." Each verifier picks one, so signatures pass at some and fail
// at others: one finding, whatever each record is worth.
func dkimMultiple(s *facts.DKIMSelector) finding.Finding {
	recs := dkimKeyRecords(s)
	ev := texts(recs)
	f := finding.New("dkim.multiple", Subject(s.Name(), dns.TypeTXT),
		finding.T("%d key records at DKIM selector %s: each verifier picks one, so signatures pass or fail at random", len(recs), s.Selector), ev...)
	for i, k := range dkim.ReadSelector(ev).Keys {
		switch {
		case k.Err != nil:
			f.Note(finding.T("record %d is not usable: %s", i+1, k.Err))
		case k.Record.Revoked():
			f.Note(finding.T("record %d is a revoked key (empty p=)", i+1))
		}
	}
	f.SetFix(finding.T("Keep the one record of the key you sign with at %s and delete the others; publish a new key under a new selector, never beside the old one", trimDot(s.Name())))
	locate(&f, &s.Lookup, recs[0].Index)
	return f
}

// dkimWildcardRevoked reports a revoked key published at *._domainkey,
// found at the random selector, as the conclusive set-up it is.
func dkimWildcardRevoked(k *facts.DKIM) (finding.Finding, bool) {
	w := k.Wildcard
	if w == nil || w.Lookup.Err != nil {
		return finding.Finding{}, false
	}
	txts := texts(w.Keys())
	if dkim.ReadWildcard(txts) != dkim.RevokedWildcard {
		return finding.Finding{}, false
	}
	f := finding.New("dkim.wildcard-revoked", Subject("_domainkey."+k.Domain, dns.TypeTXT),
		finding.T("Every DKIM selector of %s answers with a revoked key: signatures claiming the domain fail", k.Domain), txts...)
	f.SetFix(finding.T("Nothing to do if %s sends no mail; if it does, publish the key at the selector the signer uses (a record at that name takes precedence over the wildcard)", k.Domain))
	locate(&f, &w.Lookup, 0)
	return f, true
}

// dkimKeyFindings judges every TXT record at a selector that has some.
// RFC 6376 §6.1.2 lets a verifier use any of several records, so each is
// judged; dkim.ok is reported for a selector whose records are all sound.
func dkimKeyFindings(l *facts.DKIMSelector) []finding.Finding {
	subject := Subject(l.Name(), dns.TypeTXT)
	var out []finding.Finding
	var oks []finding.Text
	for _, t := range dkimKeyRecords(l) {
		add := func(f finding.Finding) {
			if len(l.Lookup.Chain) > 0 {
				f.Evidence = append(f.Evidence, "CNAME "+trimDot(l.Name())+" → "+strings.Join(mapTrimDot(l.Lookup.Chain), " → "))
			}
			if l.FromWildcard {
				f.Note(finding.T("the same record answers at a random selector: it comes from a wildcard"))
			}
			locate(&f, &l.Lookup, t.Index)
			out = append(out, f)
		}
		rec, err := dkim.ParseRecord(t.Text)
		if err != nil {
			f := finding.New("dkim.syntax", subject,
				finding.T("DKIM key record at selector %s is not usable: %v", l.Selector, err), t.Text)
			f.SetFix(finding.T("Replace the record at %s with \"v=DKIM1; k=rsa; p=<base64 public key>\" as your signing software or provider gives it (RFC 6376 §3.6.1); %s", trimDot(l.Name()), dkimSyntaxHint(err)))
			add(f)
			continue
		}
		if rec.Revoked() {
			f := finding.New("dkim.revoked", subject,
				finding.T("DKIM key at selector %s is revoked (empty p=): signatures made with it fail", l.Selector), t.Text)
			f.SetFix(finding.T("Nothing to do if selector %s is retired; if mail is still signed with it, switch signing to a selector with a published key", l.Selector))
			add(f)
			continue
		}
		bad := false
		if bits := rec.RSABits(); bits > 0 && bits < 2048 {
			f := finding.New("dkim.key-weak", subject,
				finding.T("DKIM key at selector %s is a %d-bit RSA key", l.Selector, bits), fmt.Sprintf("%d-bit RSA key", bits))
			if bits < 1024 {
				// RFC 8301 §3.2: verifiers MUST NOT consider signatures with
				// keys under 1024 bits valid.
				f.Severity = finding.Fail
				f.Note(finding.T("RFC 8301 §3.2: verifiers reject signatures made with RSA keys under 1024 bits"))
			} else {
				f.Severity = finding.Warn
				f.Note(finding.T("RFC 8301 §3.2: signers SHOULD use RSA keys of at least 2048 bits"))
			}
			f.SetFix(finding.T("Generate a 2048-bit RSA key, publish it under a new selector, switch signing to that selector, then revoke %s with \"v=DKIM1; p=\"", l.Selector))
			add(f)
			bad = true
		}
		if rec.SHA1Only() {
			f := finding.New("dkim.sha1", subject,
				finding.T("DKIM key at selector %s allows only SHA-1 (h=sha1): verifiers reject rsa-sha1 signatures", l.Selector), t.Text)
			f.Severity = finding.Fail
			f.SetFix(finding.T("Remove h= from the record (or set h=sha256) and sign with rsa-sha256 (RFC 8301 §3.1)"))
			add(f)
			bad = true
		}
		if rec.Testing() {
			f := finding.New("dkim.testing", subject,
				finding.T("DKIM key at selector %s is in testing mode (t=y): verifiers may ignore its results", l.Selector), t.Text)
			f.SetFix(finding.T("Remove y from the t= tag once signing works: RFC 6376 §3.6.1 asks verifiers not to treat signed and unsigned mail differently while it is set"))
			add(f)
			bad = true
		}
		if !bad {
			oks = append(oks, dkimDescribe(rec))
			if len(oks) == 1 {
				f := finding.New("dkim.ok", subject, finding.Text{}, t.Text)
				add(f)
			}
		}
	}
	for i := range out {
		if out[i].ID == "dkim.ok" {
			desc := oks[0]
			for _, o := range oks[1:] {
				desc = finding.T("%s; %s", desc, o)
			}
			out[i].SetTitle(finding.T("DKIM key at selector %s: %s", l.Selector, desc))
		}
	}
	return out
}

func dkimDescribe(rec *dkim.Record) finding.Text {
	if bits := rec.RSABits(); bits > 0 {
		return finding.T("%d-bit RSA", bits)
	}
	return finding.Verbatim(string(rec.KeyType))
}

// dkimSyntaxHint says what to change in a record that does not parse.
func dkimSyntaxHint(err error) finding.Text {
	pe, ok := err.(*dkim.ParseError)
	if !ok {
		return finding.T("check the record against RFC 6376 §3.6.1")
	}
	switch pe.Tag {
	case "p":
		return finding.T("p= must be the whole base64 public key; a key split across TXT strings is joined without spaces, so check no part is missing")
	case "v":
		return finding.T("v=DKIM1 must be the record's first tag, or be left out")
	case "k":
		return finding.T("k= must be rsa or ed25519")
	case "h":
		return finding.T("remove h= or set it to sha256")
	case "s":
		return finding.T("remove s= or set it to email")
	}
	return finding.T("tags are name=value pairs separated by semicolons, each name at most once")
}
