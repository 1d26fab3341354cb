package message

import (
	"strconv"
	"strings"

	"github.com/emersion/go-msgauth/authres"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// parseAuthResults reads every Authentication-Results field (RFC 8601) and
// ARC-Authentication-Results field (RFC 8617 §4.1.1), top first, with
// go-msgauth's parser. Two things are done first that it does not do:
// comments are removed (they may hold ";" and "=", and Gmail's SPF comment
// names the IP), and a field without an authserv-id, as Microsoft 365
// writes it, gets one, since the parser takes the first element for it.
func parseAuthResults(p *parsed) []finding.AuthResults {
	var out []finding.AuthResults
	for _, f := range p.fields {
		name := strings.ToLower(f.Name)
		if name != "authentication-results" && name != "arc-authentication-results" {
			continue
		}
		ar := finding.AuthResults{Header: f.Name}
		value, comments := stripComments(f.Value)
		segs := splitTop(value, ';')
		skipped := 0 // elements before the results, for the comments' index
		if name == "arc-authentication-results" && len(segs) > 0 {
			// "i=1; mx.google.com; ..." (RFC 8617 §4.1.1)
			if k, v, ok := strings.Cut(strings.TrimSpace(segs[0]), "="); ok && strings.EqualFold(strings.TrimSpace(k), "i") {
				ar.Instance, _ = strconv.Atoi(strings.TrimSpace(v))
				segs, skipped = segs[1:], skipped+1
			}
		}
		if len(segs) > 0 && !strings.Contains(segs[0], "=") {
			// authserv-id [version]
			if fs := strings.Fields(segs[0]); len(fs) > 0 {
				ar.AuthServID = strings.ToLower(fs[0])
			}
			segs, skipped = segs[1:], skipped+1
		}
		for i, seg := range segs {
			seg = strings.TrimSpace(seg)
			if seg == "" || strings.EqualFold(seg, "none") {
				continue
			}
			if !strings.Contains(seg, "=") {
				// Microsoft 365 puts its authserv-id in the middle:
				// "spf=pass ... ; outlook.com; dkim=none ...".
				if ar.AuthServID == "" && len(strings.Fields(seg)) == 1 {
					ar.AuthServID = strings.ToLower(seg)
				}
				continue
			}
			res, ok := parseResult(seg)
			if !ok {
				continue
			}
			res.Comment = comments[i+skipped]
			ar.Results = append(ar.Results, res)
		}
		out = append(out, ar)
	}
	return out
}

// parseResult reads one "method=result prop=value ..." element.
func parseResult(seg string) (finding.AuthResult, bool) {
	_, results, err := authres.Parse("mailcheck.invalid; " + seg)
	if err != nil || len(results) != 1 {
		return finding.AuthResult{}, false
	}
	r := finding.AuthResult{Properties: map[string]string{}}
	switch v := results[0].(type) {
	case *authres.AuthResult:
		r.Method, r.Result, r.Reason = "auth", string(v.Value), v.Reason
	case *authres.DKIMResult:
		r.Method, r.Result, r.Reason = "dkim", string(v.Value), v.Reason
	case *authres.DomainKeysResult:
		r.Method, r.Result, r.Reason = "domainkeys", string(v.Value), v.Reason
	case *authres.IPRevResult:
		r.Method, r.Result, r.Reason = "iprev", string(v.Value), v.Reason
	case *authres.SenderIDResult:
		r.Method, r.Result, r.Reason = "sender-id", string(v.Value), v.Reason
	case *authres.SPFResult:
		r.Method, r.Result, r.Reason = "spf", string(v.Value), v.Reason
	case *authres.DMARCResult:
		r.Method, r.Result, r.Reason = "dmarc", string(v.Value), v.Reason
	case *authres.ARCResult:
		r.Method, r.Result = "arc", string(v.Value)
	case *authres.GenericResult:
		r.Method, r.Result = v.Method, string(v.Value)
	default:
		return finding.AuthResult{}, false
	}
	r.Result = strings.ToLower(r.Result)
	// go-msgauth keeps only some properties per method; the comparison
	// needs header.b and header.s too, so every ptype.property is kept.
	for _, tok := range strings.Fields(seg)[1:] {
		k, v, ok := strings.Cut(tok, "=")
		if ok && strings.Contains(k, ".") {
			r.Properties[strings.ToLower(k)] = strings.Trim(v, `"`)
		}
	}
	if len(r.Properties) == 0 {
		r.Properties = nil
	}
	return r, true
}

// stripComments removes RFC 5322 comments (nested parentheses, outside
// quoted strings) and returns, per ";"-separated element, the comments it
// held, joined.
func stripComments(s string) (string, map[int]string) {
	var b strings.Builder
	comments := map[int]string{}
	var cur strings.Builder
	depth, elem, quoted := 0, 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case depth == 0 && c == '"':
			quoted = !quoted
			b.WriteByte(c)
		case quoted:
			if c == '\\' && i+1 < len(s) {
				b.WriteByte(c)
				i++
				c = s[i]
			}
			b.WriteByte(c)
		case c == '(':
			if depth > 0 {
				cur.WriteByte(c)
			}
			depth++
		case c == ')' && depth > 0:
			depth--
			if depth > 0 {
				cur.WriteByte(c)
			} else {
				if comments[elem] != "" {
					comments[elem] += " "
				}
				comments[elem] += strings.TrimSpace(cur.String())
				cur.Reset()
				b.WriteByte(' ')
			}
		case depth > 0:
			cur.WriteByte(c)
		default:
			if c == ';' {
				elem++
			}
			b.WriteByte(c)
		}
	}
	return b.String(), comments
}

// splitTop splits on sep outside quoted strings.
func splitTop(s string, sep byte) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case '\\':
			i++
		case sep:
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// trustedAuthResults picks the receiver's own verdicts for SPF and DMARC:
// the Authentication-Results field of a --trusted-hop host if one wrote
// one, else the topmost (the last receiver's). ARC copies are not used:
// they are what earlier receivers saw.
func trustedAuthResults(ars []finding.AuthResults, trusted []string) int {
	first := -1
	for i, ar := range ars {
		if ar.Instance > 0 || !strings.EqualFold(ar.Header, "Authentication-Results") {
			continue
		}
		if first < 0 {
			first = i
		}
		for _, t := range trusted {
			t = strings.ToLower(strings.TrimSuffix(t, "."))
			if ar.AuthServID != "" && (ar.AuthServID == t || strings.HasSuffix(t, "."+ar.AuthServID) || strings.HasSuffix(ar.AuthServID, "."+t)) {
				return i
			}
		}
	}
	return first
}

// compareAuthResults finds where a receiver's verdicts disagree with
// mailcheck's own: DKIM against every receiver (a signature a list broke
// passed at the list's receiver), SPF and DMARC against the trusted one
// only (each receiver judges the IP that connected to it).
func compareAuthResults(ars []finding.AuthResults, sigs []finding.DKIMSignature, sigB []string,
	spfc *finding.SPFCheck, dm *finding.DMARCCheck, trusted []string) []finding.Finding {
	var out []finding.Finding
	for _, ar := range ars {
		who := ar.AuthServID
		if who == "" {
			who = ar.Header
		}
		if ar.Instance > 0 {
			// ARC-Authentication-Results repeat an Authentication-Results
			// field the same receiver wrote; compare that one only.
			continue
		}
		for _, r := range ar.Results {
			if r.Method != "dkim" {
				continue
			}
			i := matchSignature(r, sigs, sigB)
			if i < 0 {
				continue
			}
			if f, ok := dkimMismatch(who, r, sigs[i]); ok {
				out = append(out, f)
			}
		}
	}
	t := trustedAuthResults(ars, trusted)
	if t < 0 {
		return out
	}
	ar := ars[t]
	who := ar.AuthServID
	if who == "" {
		who = ar.Header
	}
	for _, r := range ar.Results {
		switch r.Method {
		case "spf":
			if spfc == nil || !definitiveSPF(spfc.Result) {
				continue
			}
			id := r.Properties["smtp.mailfrom"]
			if id == "" {
				id = r.Properties["smtp.helo"]
			}
			if d := strings.ToLower(strings.TrimSuffix(identityDomain(id), ".")); d != "" && d != spfc.Domain {
				continue
			}
			theirs, ours := r.Result == "pass", spfc.Result == "pass"
			if !definitiveSPF(r.Result) || theirs == ours {
				continue
			}
			f := finding.New("msg.authres-mismatch", "Authentication-Results "+who,
				finding.T("%s recorded spf=%s, mailcheck finds spf=%s for %s", who, r.Result, spfc.Result, spfc.IP))
			f.Note(finding.T("The SPF record of %s changed since the message arrived, or %s judged another address than %s.", spfc.Domain, who, spfc.IP))
			out = append(out, f)
		case "dmarc":
			if dm == nil || (dm.Result != "pass" && dm.Result != "fail") || (r.Result != "pass" && r.Result != "fail") || r.Result == dm.Result {
				continue
			}
			if d := strings.ToLower(r.Properties["header.from"]); d != "" && d != dm.FromDomain {
				continue
			}
			f := finding.New("msg.authres-mismatch", "Authentication-Results "+who,
				finding.T("%s recorded dmarc=%s, mailcheck finds dmarc=%s for %s", who, r.Result, dm.Result, dm.FromDomain))
			f.Note(finding.T("The SPF and DKIM results it relied on differ from mailcheck's (see above), or the DMARC record changed since."))
			out = append(out, f)
		}
	}
	return out
}

// definitiveSPF is a result that says something about the IP.
func definitiveSPF(r string) bool {
	switch r {
	case "pass", "fail", "softfail", "neutral", "none", "permerror":
		return true
	}
	return false
}

// identityDomain is the domain of "user@domain", "@domain" or "domain".
func identityDomain(id string) string {
	if i := strings.LastIndexByte(id, '@'); i >= 0 {
		return id[i+1:]
	}
	return id
}

// matchSignature finds the signature an AR dkim result speaks of:
// header.b (the first characters of b=, RFC 6008) when given, else
// header.d or the domain of header.i, with header.s when given.
func matchSignature(r finding.AuthResult, sigs []finding.DKIMSignature, sigB []string) int {
	if b := r.Properties["header.b"]; len(b) >= 8 {
		for i, full := range sigB {
			if strings.HasPrefix(full, b) {
				return i
			}
		}
	}
	d := strings.ToLower(r.Properties["header.d"])
	if d == "" {
		d = strings.ToLower(identityDomain(r.Properties["header.i"]))
	}
	s := strings.ToLower(r.Properties["header.s"])
	if d == "" {
		return -1
	}
	found := -1
	for i, sig := range sigs {
		if sig.Domain == d && (s == "" || sig.Selector == s) {
			if found >= 0 {
				return -1 // ambiguous
			}
			found = i
		}
	}
	return found
}

// dkimMismatch compares a receiver's dkim verdict with mailcheck's, and
// says what usually causes the difference.
func dkimMismatch(who string, r finding.AuthResult, sig finding.DKIMSignature) (finding.Finding, bool) {
	ours := sig.Result
	if ours == "neutral" || ours == "temperror" || ours == "" {
		return finding.Finding{}, false // mailcheck could not conclude
	}
	theirsPass := r.Result == "pass"
	theirsFail := r.Result == "fail" || r.Result == "permerror"
	if !(theirsPass && ours != "pass") && !(theirsFail && ours == "pass") {
		return finding.Finding{}, false
	}
	f := finding.New("msg.authres-mismatch", "Authentication-Results "+who,
		finding.T("%s recorded dkim=%s for d=%s s=%s, mailcheck finds %s", who, r.Result, sig.Domain, sig.Selector, ours))
	switch {
	case theirsFail:
		f.Note(finding.T("%s saw a different message or key: the key was published or fixed since, or its DNS lookup failed.", who))
	case sig.Reason == reasonBodyHash:
		f.Note(finding.T("The body changed after %s checked it: a mailing list footer, a forwarding service or a security gateway rewrote it.", who))
	case sig.Reason == reasonKeyMissing || sig.Reason == reasonKeyRevoked:
		f.Note(finding.T("The key of d=%s s=%s was removed or revoked since %s checked it (a key rotation).", sig.Domain, sig.Selector, who))
	case sig.Reason == reasonSignature:
		f.Note(finding.T("The key at s=%s changed since %s checked it, or a signed header was changed after.", sig.Selector, who))
	case sig.Reason == reasonBodyLength || sig.Reason == reasonWeakHash:
		f.Note(finding.T("%s accepts signatures that mailcheck does not (l= or rsa-sha1).", who))
	}
	return f, true
}
