package message

import (
	"net/mail"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// received is one parsed Received field (RFC 5321 §4.4): who connected
// (the name it gave and the address the receiver saw), who received, with
// what protocol and whether over TLS, and when.
type received struct {
	hop finding.Hop
	ip  netip.Addr // FromIP parsed; invalid when the header names none
	raw string
}

// receivedKeywords start the clauses of a Received field.
var receivedKeywords = map[string]bool{"from": true, "by": true, "via": true, "with": true, "id": true, "for": true}

// parseReceived reads one Received field value. It never fails: what the
// header does not state stays empty.
func parseReceived(value string) received {
	r := received{raw: value}
	clauses, date := splitDate(value)
	if t, err := mail.ParseDate(date); err == nil {
		r.hop.Time = t
	}
	words := tokenize(clauses)
	// Each keyword's clause runs to the next keyword outside comments.
	clause := map[string][]token{}
	cur := ""
	for _, w := range words {
		if !w.comment && receivedKeywords[strings.ToLower(w.text)] {
			k := strings.ToLower(w.text)
			if _, seen := clause[k]; !seen {
				cur = k
				clause[cur] = []token{}
				continue
			}
		}
		if cur != "" {
			clause[cur] = append(clause[cur], w)
		}
	}
	if from := clause["from"]; len(from) > 0 {
		r.hop.From = strings.TrimSuffix(from[0].text, ".")
		r.ip, r.hop.FromHost = clientAddress(from)
		if r.ip.IsValid() {
			r.hop.FromIP = r.ip.String()
		}
	}
	if by := clause["by"]; len(by) > 0 && !by[0].comment {
		r.hop.By = strings.ToLower(strings.TrimSuffix(by[0].text, "."))
	}
	if with := clause["with"]; len(with) > 0 && !with[0].comment {
		r.hop.With = with[0].text
		if len(with) > 2 && strings.EqualFold(with[0].text, "Microsoft") {
			// "with Microsoft SMTP Server (version=...)"
			r.hop.With = "Microsoft SMTP Server"
		}
	}
	if id := clause["id"]; len(id) > 0 && !id[0].comment {
		r.hop.ID = id[0].text
	}
	r.hop.TLS, r.hop.Cipher = tlsOf(value)
	proto := strings.ToUpper(r.hop.With)
	// RFC 3848 and RFC 8314 §7.3: ESMTPS/ESMTPSA/SMTPS mean TLS; ESMTPA
	// and ESMTPSA mean the client authenticated (a submission).
	switch proto {
	case "ESMTPS", "ESMTPSA", "SMTPS", "UTF8SMTPS", "UTF8SMTPSA", "LMTPS", "LMTPSA":
		if r.hop.TLS == "" {
			r.hop.TLS = "TLS"
		}
	case "SMTP", "ESMTP", "ESMTPA", "UTF8SMTP", "UTF8SMTPA":
		// Only a hop that names its client crossed a network.
		r.hop.Plaintext = r.hop.TLS == "" && r.hop.From != ""
	}
	r.hop.Authenticated = strings.HasSuffix(proto, "SMTPA") || strings.HasSuffix(proto, "SMTPSA")
	return r
}

// splitDate splits "clauses ; date" at the last semicolon outside comments.
func splitDate(v string) (clauses, date string) {
	depth, at := 0, -1
	for i := range len(v) {
		switch v[i] {
		case '(':
			depth++
		case ')':
			if depth > 0 {
				depth--
			}
		case ';':
			if depth == 0 {
				at = i
			}
		}
	}
	if at < 0 {
		return v, ""
	}
	return v[:at], strings.TrimSpace(v[at+1:])
}

type token struct {
	text    string
	comment bool // the inside of a parenthesised comment
}

// tokenize splits on white space, keeping (nested) comments whole.
func tokenize(s string) []token {
	var out []token
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ' || c == '\t':
			i++
		case c == '(':
			depth, j := 0, i
			for ; j < len(s); j++ {
				if s[j] == '(' {
					depth++
				} else if s[j] == ')' {
					depth--
					if depth == 0 {
						break
					}
				}
			}
			end := min(j, len(s))
			out = append(out, token{text: strings.TrimSpace(s[i+1 : end]), comment: true})
			i = end + 1
		default:
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '\t' && s[j] != '(' {
				j++
			}
			out = append(out, token{text: s[i:j]})
			i = j
		}
	}
	return out
}

// bracketed finds an address literal: [192.0.2.1], [IPv6:2001:db8::1],
// [2001:db8::1%5].
var bracketed = regexp.MustCompile(`\[(?:IPv6:)?([0-9A-Fa-f:.]+)(?:%[^\]]*)?\]`)

// clientAddress reads the TCP-info of a from clause (RFC 5321 §4.4): the
// address the receiver saw, which it writes in a comment: "(rdns [ip])",
// "([ip])", "(ip)" (Microsoft), "(rdns. [ip])" (Gmail); failing that, an
// address literal given as the HELO name ("from [ip] (helo=...)", Exim).
// It returns the address and the reverse name the receiver found, "" when
// it says none.
func clientAddress(from []token) (netip.Addr, string) {
	for _, t := range from {
		if !t.comment {
			continue
		}
		if m := bracketed.FindStringSubmatch(t.text); m != nil {
			if a, err := netip.ParseAddr(m[1]); err == nil {
				host := ""
				if f := strings.Fields(t.text); len(f) > 1 && !strings.HasPrefix(f[0], "[") {
					host = strings.ToLower(strings.TrimSuffix(f[0], "."))
				}
				if host == "unknown" {
					host = ""
				}
				return a.Unmap(), host
			}
		}
	}
	// Microsoft writes the bare address in the comment.
	for _, t := range from {
		if !t.comment {
			continue
		}
		for _, f := range strings.Fields(t.text) {
			f = strings.Trim(f, "[],")
			if i := strings.IndexByte(f, '%'); i >= 0 {
				f = f[:i]
			}
			if a, err := netip.ParseAddr(f); err == nil {
				return a.Unmap(), ""
			}
		}
	}
	if len(from) > 0 && !from[0].comment {
		if m := bracketed.FindStringSubmatch(from[0].text); m != nil {
			if a, err := netip.ParseAddr(m[1]); err == nil {
				return a.Unmap(), ""
			}
		}
	}
	return netip.Addr{}, ""
}

// TLS statements of the common MTAs, each with its own wording:
// Postfix "(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))",
// Sendmail, Gmail and Microsoft "(version=TLS1_3 cipher=...)",
// "(version=TLSv1.3, cipher=...)", Exim "with esmtps (TLS1.3) tls CIPHER".
var (
	tlsPostfix = regexp.MustCompile(`(?i)using\s+(TLSv?1(?:[._]\d)?|SSLv3)\s+with\s+cipher\s+([A-Za-z0-9_-]+)`)
	tlsVersion = regexp.MustCompile(`(?i)version=(TLSv?1(?:[._]\d)?|SSLv3)[\s,]+cipher=([A-Za-z0-9_-]+)`)
	tlsExim    = regexp.MustCompile(`(?i)with\s+esmtpsa?\s+\((TLS1(?:\.\d)?)[):]\S*\s*(?:tls\s+([A-Za-z0-9_-]+))?`)
	tlsSays    = regexp.MustCompile(`(?i)over TLS secured channel|Google Transport Security|with\s+(?:e?smtps|utf8smtps)a?\b`)
)

// tlsOf returns the TLS version ("TLS1.3", or "TLS" when the header says TLS
// without a version) and cipher a Received field states.
func tlsOf(v string) (version, cipher string) {
	for _, re := range []*regexp.Regexp{tlsPostfix, tlsVersion, tlsExim} {
		if m := re.FindStringSubmatch(v); m != nil {
			version = normaliseTLS(m[1])
			if len(m) > 2 {
				cipher = m[2]
			}
			return version, cipher
		}
	}
	if tlsSays.MatchString(v) {
		return "TLS", ""
	}
	return "", ""
}

// normaliseTLS writes TLSv1.2, TLS1_2 and TLS1.2 alike: "TLS1.2".
func normaliseTLS(s string) string {
	s = strings.ToUpper(strings.ReplaceAll(s, "_", "."))
	s = strings.Replace(s, "TLSV", "TLS", 1)
	if s == "TLS1" {
		s = "TLS1.0"
	}
	return strings.Replace(s, "SSLV3", "SSL3", 1)
}

// route returns the hops oldest first, with the delay of each: the time
// since the previous hop, or since the Date header for the first.
func route(hops []received, date time.Time) []finding.Hop {
	out := make([]finding.Hop, len(hops))
	prev := date
	for i := range hops {
		h := hops[len(hops)-1-i].hop
		if !h.Time.IsZero() && !prev.IsZero() {
			d := h.Time.Sub(prev).Milliseconds()
			h.DelayMS = &d
		}
		if !h.Time.IsZero() {
			prev = h.Time
		}
		out[i] = h
	}
	return out
}

// isInternal reports an address that cannot be the client of a hop
// between organisations: loopback, private (RFC 1918, ULA), link-local,
// carrier-grade NAT (RFC 6598), unspecified.
func isInternal(a netip.Addr) bool {
	return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsUnspecified() ||
		cgnat.Contains(a)
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// trustedHop picks the Received field whose client address SPF is judged
// on. Received fields are prepended, so the top ones were written by the
// receiving side and the lower ones by whoever sent: only the receiver's
// own are trustworthy. With --trusted-hop, the topmost field written by
// one of those hosts is taken. Otherwise the receiving organisation is
// followed down from the top: each receiving host's registered domain
// joins it, and a hop whose client is a private address or a host of one
// of those domains is internal (Microsoft 365 relays between
// *.prod.outlook.com and *.office365.com hosts on public IPv6 addresses).
// The first hop whose client is outside is where mail entered the
// receiving network. Failing that, the topmost public client (mail between
// two hosts of one provider), then the topmost client at all (a test on
// loopback). Submission hops (ESMTPA, ESMTPSA) are not SPF's business and
// are passed over.
//
// It returns the index in hops (top first), -1 when none qualifies.
func trustedHop(hops []received, trusted []string) int {
	if len(trusted) > 0 {
		for i, h := range hops {
			for _, t := range trusted {
				t = strings.ToLower(strings.TrimSuffix(t, "."))
				if h.hop.By == t || strings.HasSuffix(h.hop.By, "."+t) {
					if h.ip.IsValid() {
						return i
					}
				}
			}
		}
		return -1
	}
	receiving := map[string]bool{}
	firstPublic, firstAny := -1, -1
	for i, h := range hops {
		if org := registeredDomain(h.hop.By); org != "" {
			receiving[org] = true
		}
		if !h.ip.IsValid() || h.hop.Authenticated {
			continue
		}
		if firstAny < 0 {
			firstAny = i
		}
		if isInternal(h.ip) {
			continue
		}
		if firstPublic < 0 {
			firstPublic = i
		}
		if !receiving[registeredDomain(h.hop.From)] && !receiving[registeredDomain(h.hop.FromHost)] {
			return i
		}
	}
	if firstPublic >= 0 {
		return firstPublic
	}
	return firstAny
}

// registeredDomain is a host name's registered domain by the public suffix
// list ("outlook.com" for "am0pr04mb1234.eurprd04.prod.outlook.com"), ""
// for an address literal or a name without one.
func registeredDomain(name string) string {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if name == "" || strings.HasPrefix(name, "[") || !strings.Contains(name, ".") {
		return ""
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return ""
	}
	d, err := publicsuffix.EffectiveTLDPlusOne(name)
	if err != nil {
		return ""
	}
	return d
}
