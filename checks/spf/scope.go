package spf

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Evaluated returns the mechanisms check_host() can reach, in order:
// every mechanism up to and including the first all. RFC 7208 §5.1:
// "Mechanisms after "all" will never be tested." Modifiers are not
// mechanisms and are not in the list.
func (r *Record) Evaluated() []Term {
	var out []Term
	for _, t := range r.Terms {
		if t.Mechanism == "" {
			continue
		}
		out = append(out, t)
		if t.Mechanism == All {
			break
		}
	}
	return out
}

// AfterAll returns the mechanisms written after the first all. RFC 7208
// §5.1: they "MUST be ignored": whatever they were meant to authorise is
// not authorised, and they cost no lookup.
func (r *Record) AfterAll() []Term {
	all := -1
	var out []Term
	for i, t := range r.Terms {
		switch {
		case t.Mechanism == "":
		case all >= 0:
			out = append(out, t)
		case t.Mechanism == All:
			all = i
		}
	}
	return out
}

// LookupTerms returns the terms whose evaluation counts toward the limit
// of 10 DNS-querying terms (RFC 7208 §4.6.4): the evaluated mechanisms that
// query DNS, and the redirect unless an all makes it unused (§6.1).
// Mechanisms after all are never evaluated and cost nothing.
func (r *Record) LookupTerms() []Term {
	var out []Term
	for _, t := range r.Evaluated() {
		if t.CountsLookup() {
			out = append(out, t)
		}
	}
	if r.Redirect != nil && !r.RedirectIgnored() {
		out = append(out, *r.Redirect)
	}
	return out
}

// Scope is what check_host() knows while it evaluates one record (RFC 7208
// §4.1): <domain>, the domain whose record is evaluated, and <sender>.
// Including or redirecting to another domain changes <domain> and keeps
// <sender> (§5.2, §6.1), so that in the target's record "a", "mx", "ptr"
// without a domain, and the macro %{d}, speak of the target, while %{o},
// %{s} and %{l} still speak of the sender.
type Scope struct {
	Domain string // <domain>, without the trailing dot
	// Sender is <sender>: local-part@domain. RFC 7208 §4.3: a sender
	// without a local part is "postmaster@" the domain.
	Sender string
	// IP is the client address; the zero Addr when unknown (an audit
	// judging a record, not a message).
	IP netip.Addr
	// HELO is the client's HELO/EHLO name, "" when unknown.
	HELO string
}

// NewScope is the scope of the first check_host() call for mail from
// sender (an address, or a bare domain for postmaster@domain): <domain> is
// the sender's domain (RFC 7208 §4.1).
func NewScope(sender string) Scope {
	local, domain, ok := strings.Cut(sender, "@")
	if !ok {
		local, domain = "postmaster", sender
	}
	if local == "" {
		local = "postmaster"
	}
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	return Scope{Domain: domain, Sender: local + "@" + domain}
}

// Into is the scope check_host() evaluates an include or redirect target
// in: <domain> becomes the target; everything else stays (RFC 7208 §5.2,
// §6.1).
func (s Scope) Into(target string) Scope {
	s.Domain = strings.TrimSuffix(strings.ToLower(target), ".")
	return s
}

// Target returns the name the term queries in this scope: its domain-spec
// with macros expanded (RFC 7208 §7), or <domain> for a, mx and ptr
// without one. known is false when a macro needs what the scope does not
// know (the client's IP or HELO), and for terms that query no name (all,
// ip4, ip6, unknown modifiers).
func (t Term) Target(s Scope) (name string, known bool) {
	switch {
	case t.Mechanism == A || t.Mechanism == MX || t.Mechanism == PTR:
		if t.Domain == "" {
			return s.Domain, true
		}
	case t.Mechanism == Include || t.Mechanism == Exists:
	case t.Modifier == Redirect:
	default:
		return "", false
	}
	return Expand(t.Domain, s)
}

// maxDomainLength is the longest name a query may use (RFC 7208 §7.3).
const maxDomainLength = 253

// Expand expands the macros of a domain-spec in scope s (RFC 7208 §7.3),
// and, as §7.3 requires for a name used in a query, removes labels from the
// left until it is at most 253 characters long. ok is false when a macro
// needs what s does not know.
func Expand(spec string, s Scope) (name string, ok bool) {
	var b strings.Builder
	for i := 0; i < len(spec); i++ {
		c := spec[i]
		if c != '%' || i+1 >= len(spec) {
			b.WriteByte(c)
			continue
		}
		i++
		switch spec[i] {
		case '%':
			b.WriteByte('%')
			continue
		case '_':
			b.WriteByte(' ')
			continue
		case '-':
			b.WriteString("%20")
			continue
		case '{':
		default:
			return "", false // Parse refuses these
		}
		end := strings.IndexByte(spec[i:], '}')
		if end < 0 {
			return "", false
		}
		v, ok := expandMacro(spec[i+1:i+end], s)
		if !ok {
			return "", false
		}
		b.WriteString(v)
		i += end
	}
	name = strings.TrimSuffix(b.String(), ".")
	for len(name) > maxDomainLength {
		_, rest, found := strings.Cut(name, ".")
		if !found {
			return "", false
		}
		name = rest
	}
	return name, true
}

// expandMacro expands the body of one %{...}: macro-letter, transformers
// (a count of labels to keep from the right, "r" to reverse) and
// delimiters that split the value (default ".").
func expandMacro(body string, s Scope) (string, bool) {
	if body == "" {
		return "", false
	}
	letter := body[0]
	value, ok := macroValue(letter|0x20, s)
	if !ok {
		return "", false
	}
	rest := body[1:]
	digits := 0
	for digits < len(rest) && isDigit(rest[digits]) {
		digits++
	}
	keep := 0
	if digits > 0 {
		keep, _ = strconv.Atoi(rest[:digits])
	}
	rest = rest[digits:]
	reverse := false
	if rest != "" && (rest[0]|0x20) == 'r' {
		reverse, rest = true, rest[1:]
	}
	delims := rest
	if delims == "" {
		delims = "."
	}
	parts := strings.FieldsFunc(value, func(r rune) bool { return strings.ContainsRune(delims, r) })
	if reverse {
		for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
			parts[i], parts[j] = parts[j], parts[i]
		}
	}
	if keep > 0 && keep < len(parts) {
		parts = parts[len(parts)-keep:]
	}
	out := strings.Join(parts, ".")
	if 'A' <= letter && letter <= 'Z' {
		// §7.3: an upper-case macro letter URL-escapes its value.
		out = url.PathEscape(out)
	}
	return out, true
}

// macroValue is the value of a macro letter (RFC 7208 §7.2), false when
// the scope does not know it. c, r and t exist only in explanations.
func macroValue(letter byte, s Scope) (string, bool) {
	local, senderDomain, _ := strings.Cut(s.Sender, "@")
	switch letter {
	case 'd':
		return s.Domain, s.Domain != ""
	case 's':
		return s.Sender, s.Sender != ""
	case 'l':
		return local, s.Sender != ""
	case 'o':
		return senderDomain, s.Sender != ""
	case 'h':
		return s.HELO, s.HELO != ""
	case 'i':
		if !s.IP.IsValid() {
			return "", false
		}
		return dottedIP(s.IP), true
	case 'v':
		if !s.IP.IsValid() {
			return "", false
		}
		if s.IP.Unmap().Is4() {
			return "in-addr", true
		}
		return "ip6", true
	case 'p':
		// §7.3: "p" needs a validated reverse name; "unknown" is the
		// value when there is none, and what a judge without the PTR
		// lookups must assume.
		return "unknown", s.IP.IsValid()
	}
	return "", false
}

// dottedIP writes an address as %{i} does: dotted quad, or the 32 nibbles
// of an IPv6 address separated by dots (RFC 7208 §7.3).
func dottedIP(a netip.Addr) string {
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	const hex = "0123456789abcdef"
	b16 := a.As16()
	var nib []string
	for _, x := range b16 {
		nib = append(nib, string(hex[x>>4]), string(hex[x&0xf]))
	}
	return strings.Join(nib, ".")
}
