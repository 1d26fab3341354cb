// Package spf parses Sender Policy Framework records (RFC 7208) far enough
// to audit them: every term is checked against the §12 ABNF, macros (§7)
// included, and kept in order with what a checker needs to know about it
// (does it cost a DNS lookup, does its target hold a macro).
package spf

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/mailcheck-cli/mailcheck/checks/internal/reason"
	"github.com/mailcheck-cli/mailcheck/finding"
)

// Qualifier is a mechanism's prefix (RFC 7208 §4.6.2). A mechanism without
// one has QualifierPass.
type Qualifier byte

const (
	QualifierPass     Qualifier = '+' // "pass"
	QualifierFail     Qualifier = '-' // "fail"
	QualifierSoftfail Qualifier = '~' // "softfail"
	QualifierNeutral  Qualifier = '?' // "neutral"
)

// Result names the result a qualifier produces (RFC 7208 §2.6).
func (q Qualifier) Result() string {
	switch q {
	case QualifierFail:
		return "fail"
	case QualifierSoftfail:
		return "softfail"
	case QualifierNeutral:
		return "neutral"
	}
	return "pass"
}

// Mechanism names (RFC 7208 §5), lower case.
const (
	All     = "all"
	Include = "include"
	A       = "a"
	MX      = "mx"
	PTR     = "ptr"
	IP4     = "ip4"
	IP6     = "ip6"
	Exists  = "exists"
)

// Modifiers defined by RFC 7208 §6.
const (
	Redirect = "redirect"
	Exp      = "exp"
)

// Term is one mechanism or modifier, as written.
type Term struct {
	Text string // as it appears in the record
	// Mechanism is the lower-case mechanism name, "" for a modifier.
	Mechanism string
	Qualifier Qualifier // for mechanisms
	// Modifier is the lower-case modifier name, "" for a mechanism.
	Modifier string
	// Domain is the domain-spec of include, a, mx, ptr, exists, redirect
	// and exp ("" when a, mx or ptr use the current domain); the value of
	// an unknown modifier.
	Domain string
	// Prefix is the network of ip4 and ip6 (with its CIDR length).
	Prefix netip.Prefix
	// CIDR4 and CIDR6 are the dual-cidr-length of a and mx, -1 when absent.
	CIDR4, CIDR6 int
}

// HasMacro reports whether the term's domain-spec holds a macro-expand
// other than the literal escapes %%, %_ and %-: its target depends on the
// message being checked (RFC 7208 §7).
func (t Term) HasMacro() bool { return HasMacro(t.Domain) }

// CountsLookup reports whether evaluating the term makes DNS queries that
// count toward the limit of 10 (RFC 7208 §4.6.4): include, a, mx, ptr,
// exists and the redirect modifier. all, ip4, ip6 and exp do not.
func (t Term) CountsLookup() bool {
	switch t.Mechanism {
	case Include, A, MX, PTR, Exists:
		return true
	}
	return t.Modifier == Redirect
}

// Record is a parsed "v=spf1" record.
type Record struct {
	Terms []Term // every term in order, modifiers included
	// Redirect and Exp point into Terms, nil when absent.
	Redirect *Term
	Exp      *Term
}

// All returns the record's all mechanism, nil when there is none.
func (r *Record) All() *Term {
	for i := range r.Terms {
		if r.Terms[i].Mechanism == All {
			return &r.Terms[i]
		}
	}
	return nil
}

// RedirectIgnored reports whether the record has a redirect that check_host
// never follows because an all mechanism is present (RFC 7208 §6.1).
func (r *Record) RedirectIgnored() bool { return r.Redirect != nil && r.All() != nil }

// String writes the record back in canonical spacing.
func (r *Record) String() string {
	var b strings.Builder
	b.WriteString("v=spf1")
	for _, t := range r.Terms {
		b.WriteByte(' ')
		b.WriteString(t.Text)
	}
	return b.String()
}

// SyntaxError says which term of a record is malformed and why.
type SyntaxError struct {
	Term   string // the offending term; "" when the record as a whole is at fault
	Reason finding.Text
}

func (e *SyntaxError) Error() string { return e.text().String() }

// In writes the error in language l: a judge's sentence that holds it is
// translated whole.
func (e *SyntaxError) In(l finding.Lang) string { return e.text().In(l) }

func (e *SyntaxError) text() finding.Text {
	if e.Term == "" {
		return e.Reason
	}
	return finding.T("%q: %s", e.Term, e.Reason)
}

// IsSPF reports whether a TXT record is an SPF record: RFC 7208 §4.5 keeps
// those that begin with "v=spf1" (case-insensitively, §4.6.1 and §12)
// followed by a space or the end of the record; "v=spf10" is not one.
func IsSPF(txt string) bool {
	if len(txt) < 6 || !strings.EqualFold(txt[:6], "v=spf1") {
		return false
	}
	return len(txt) == 6 || txt[6] == ' '
}

// Parse parses an SPF record. The first syntax error is returned as a
// *SyntaxError naming the term; RFC 7208 §4.6 makes any such error a
// permerror for the whole record.
func Parse(txt string) (*Record, error) {
	if !IsSPF(txt) {
		return nil, &SyntaxError{Reason: finding.T("the record does not start with %q", "v=spf1")}
	}
	r := &Record{}
	// RFC 7208 §12: terms are separated by 1*SP; only spaces are allowed.
	for _, field := range strings.Split(txt[6:], " ") {
		if field == "" {
			continue
		}
		t, err := parseTerm(field)
		if err != nil {
			return nil, err
		}
		r.Terms = append(r.Terms, t)
	}
	for i := range r.Terms {
		t := &r.Terms[i]
		switch t.Modifier {
		case Redirect:
			// RFC 7208 §6: redirect and exp MUST NOT appear more than once.
			if r.Redirect != nil {
				return nil, &SyntaxError{Term: t.Text, Reason: finding.T("a second redirect modifier (RFC 7208 §6)")}
			}
			r.Redirect = t
		case Exp:
			if r.Exp != nil {
				return nil, &SyntaxError{Term: t.Text, Reason: finding.T("a second exp modifier (RFC 7208 §6)")}
			}
			r.Exp = t
		}
	}
	return r, nil
}

func parseTerm(s string) (Term, error) {
	t := Term{Text: s, CIDR4: -1, CIDR6: -1}
	// A modifier is name "=" ...; a mechanism name never holds "=" and a
	// mechanism's ":" comes before any "=" a macro-literal may hold.
	if i := strings.IndexAny(s, "=:/"); i > 0 && s[i] == '=' {
		return parseModifier(t, s[:i], s[i+1:])
	}
	rest := s
	t.Qualifier = QualifierPass
	switch rest[0] {
	case '+', '-', '~', '?':
		t.Qualifier = Qualifier(rest[0])
		rest = rest[1:]
	}
	name := rest
	arg, hasArg := "", false
	if i := strings.IndexAny(rest, ":/"); i >= 0 {
		name, arg = rest[:i], rest[i:]
		hasArg = true
	}
	t.Mechanism = strings.ToLower(name)
	bad := func(why finding.Text) (Term, error) {
		return Term{}, &SyntaxError{Term: s, Reason: why}
	}
	switch t.Mechanism {
	case All:
		if hasArg {
			return bad(finding.T("all takes no argument"))
		}
	case Include, Exists:
		if !strings.HasPrefix(arg, ":") || len(arg) < 2 {
			return bad(finding.T("%s needs a domain: %s:example.com", t.Mechanism, t.Mechanism))
		}
		t.Domain = arg[1:]
		if err := checkDomainSpec(t.Domain); err != nil {
			return bad(reason.Of(err))
		}
	case A, MX:
		spec, cidr := arg, ""
		if i := indexOutsideMacros(arg, '/'); i >= 0 {
			spec, cidr = arg[:i], arg[i:]
		}
		if spec != "" {
			if !strings.HasPrefix(spec, ":") || len(spec) < 2 {
				return bad(finding.T("expected :domain after %s", t.Mechanism))
			}
			t.Domain = spec[1:]
			if err := checkDomainSpec(t.Domain); err != nil {
				return bad(reason.Of(err))
			}
		}
		if cidr != "" {
			var err error
			if t.CIDR4, t.CIDR6, err = parseDualCIDR(cidr); err != nil {
				return bad(reason.Of(err))
			}
		}
	case PTR:
		if hasArg {
			if !strings.HasPrefix(arg, ":") || len(arg) < 2 {
				return bad(finding.T("expected :domain after %s", t.Mechanism))
			}
			t.Domain = arg[1:]
			if err := checkDomainSpec(t.Domain); err != nil {
				return bad(reason.Of(err))
			}
		}
	case IP4, IP6:
		if !strings.HasPrefix(arg, ":") {
			return bad(finding.T("%s needs an address: %s:192.0.2.0/24", t.Mechanism, t.Mechanism))
		}
		p, err := parseNetwork(t.Mechanism, arg[1:])
		if err != nil {
			return bad(reason.Of(err))
		}
		t.Prefix = p
	default:
		return bad(finding.T("unknown mechanism %q (RFC 7208 §5)", name))
	}
	return t, nil
}

func parseModifier(t Term, name, value string) (Term, error) {
	// RFC 7208 §12: name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ).
	if !isModifierName(name) {
		return Term{}, &SyntaxError{Term: t.Text, Reason: finding.T("%q is not a valid modifier name", name)}
	}
	t.Modifier = strings.ToLower(name)
	t.Domain = value
	switch t.Modifier {
	case Redirect, Exp:
		if value == "" {
			return Term{}, &SyntaxError{Term: t.Text, Reason: finding.T("%s needs a domain", t.Modifier)}
		}
		if err := checkDomainSpec(value); err != nil {
			return Term{}, &SyntaxError{Term: t.Text, Reason: reason.Of(err)}
		}
	default:
		// RFC 7208 §6: unknown modifiers are ignored, but their value
		// must still be a macro-string (§12 unknown-modifier).
		if _, err := checkMacroString(value, false); err != nil {
			return Term{}, &SyntaxError{Term: t.Text, Reason: reason.Of(err)}
		}
	}
	return t, nil
}

func isModifierName(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !isDigit(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// parseDualCIDR parses [ "/" ip4-cidr-length ] [ "//" ip6-cidr-length ]
// (RFC 7208 §5.6).
func parseDualCIDR(s string) (v4, v6 int, err error) {
	v4, v6 = -1, -1
	if strings.HasPrefix(s, "//") {
		v6, err = parseCIDRLength(s[2:], 128)
		return v4, v6, err
	}
	s = s[1:]
	four, six, dual := strings.Cut(s, "//")
	if v4, err = parseCIDRLength(four, 32); err != nil {
		return -1, -1, err
	}
	if dual {
		if v6, err = parseCIDRLength(six, 128); err != nil {
			return -1, -1, err
		}
	}
	return v4, v6, nil
}

// parseCIDRLength parses "0" / %x31-39 0*2DIGIT: no leading zeros, at most
// max (RFC 7208 §12).
func parseCIDRLength(s string, max int) (int, error) {
	if s == "" || len(s) > 3 || (len(s) > 1 && s[0] == '0') {
		return 0, reason.New(finding.T("bad CIDR length %q", s))
	}
	for i := range len(s) {
		if !isDigit(s[i]) {
			return 0, reason.New(finding.T("bad CIDR length %q", s))
		}
	}
	n, _ := strconv.Atoi(s)
	if n > max {
		return 0, reason.New(finding.T("CIDR length /%d is longer than %d", n, max))
	}
	return n, nil
}

func parseNetwork(mech, s string) (netip.Prefix, error) {
	addr, cidr, hasCIDR := strings.Cut(s, "/")
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, reason.New(finding.T("%q is not an IP address", addr))
	}
	bits := 32
	if mech == IP6 {
		bits = 128
		// RFC 7208 §5.6: ip6 takes an IPv6 address; an IPv4-mapped
		// form is IPv6 syntax and allowed.
		if !a.Is6() {
			return netip.Prefix{}, reason.New(finding.T("%q is not an IPv6 address", addr))
		}
	} else if !a.Is4() {
		return netip.Prefix{}, reason.New(finding.T("%q is not an IPv4 address", addr))
	}
	n := bits
	if hasCIDR {
		if n, err = parseCIDRLength(cidr, bits); err != nil {
			return netip.Prefix{}, err
		}
	}
	return netip.PrefixFrom(a, n), nil
}

// checkDomainSpec checks domain-spec = macro-string domain-end, where
// domain-end = ( "." toplabel [ "." ] ) / macro-expand (RFC 7208 §7.1).
func checkDomainSpec(s string) error {
	endsInMacro, err := checkMacroString(s, false)
	if err != nil {
		return err
	}
	if endsInMacro {
		return nil
	}
	name := strings.TrimSuffix(s, ".")
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return reason.New(finding.T("%q is not a fully qualified domain name", s))
	}
	if !isTopLabel(name[i+1:]) {
		return reason.New(finding.T("%q does not end in a valid top-level label", s))
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" && !strings.Contains(name, "%") {
			return reason.New(finding.T("%q has an empty label", s))
		}
		if len(label) > 63 {
			return reason.New(finding.T("%q has a label longer than 63 octets", s))
		}
	}
	return nil
}

// isTopLabel: toplabel = ( *alphanum ALPHA *alphanum ) /
// ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) — not all digits, so an
// IP address is not a domain (RFC 7208 §7.1, RFC 3696 §2).
func isTopLabel(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	alpha, hyphen := false, false
	for i := range len(s) {
		switch c := s[i]; {
		case isAlpha(c):
			alpha = true
		case c == '-':
			hyphen = true
		case isDigit(c):
		default:
			return false
		}
	}
	return alpha || hyphen
}

// HasMacro reports whether s holds a macro-expand that depends on the
// message: "%{...}". The escapes "%%", "%_" and "%-" do not.
func HasMacro(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		if s[i+1] == '{' {
			return true
		}
		i++
	}
	return false
}

// macroLetters are the macro-letters of RFC 7208 §7.2; c, r and t are only
// allowed in an exp explanation string, which this package does not fetch.
const macroLetters = "slodiphv"

// checkMacroString checks macro-string = *( macro-expand / macro-literal )
// and reports whether it ends in a macro-expand (RFC 7208 §7.1).
func checkMacroString(s string, explain bool) (endsInMacro bool, err error) {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '%' {
			// macro-literal = %x21-24 / %x26-7E: visible ASCII but "%".
			if c < 0x21 || c > 0x7e {
				return false, reason.New(finding.T("character %q is not allowed in a domain-spec", c))
			}
			i++
			endsInMacro = false
			continue
		}
		if i+1 >= len(s) {
			return false, reason.New(finding.T("%q ends in a lone %%", s))
		}
		switch s[i+1] {
		case '%', '_', '-':
			i += 2
			endsInMacro = true
			continue
		case '{':
		default:
			return false, reason.New(finding.T("%q: %%%c is not a macro; write %%%% for a literal %%", s, s[i+1]))
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return false, reason.New(finding.T("%q: macro %s is not closed with }", s, s[i:]))
		}
		if err := checkMacroBody(s[i+2:i+end], explain); err != nil {
			return false, reason.New(finding.T("%q: %s", s, reason.Of(err)))
		}
		i += end + 1
		endsInMacro = true
	}
	return endsInMacro, nil
}

// checkMacroBody checks macro-letter transformers *delimiter, the part of
// "%{...}" between the braces: transformers = *DIGIT [ "r" ], delimiter =
// "." / "-" / "+" / "," / "/" / "_" / "=" (RFC 7208 §7.1).
func checkMacroBody(b string, explain bool) error {
	if b == "" {
		return reason.New(finding.T("empty macro %%{}"))
	}
	letter := b[0] | 0x20 // macro-letters are case-insensitive (§7.1: uppercase URL-escapes)
	letters := macroLetters
	if explain {
		letters += "crt"
	}
	if !strings.ContainsRune(letters, rune(letter)) {
		return reason.New(finding.T("unknown macro letter %q", b[0]))
	}
	rest := b[1:]
	digits := 0
	for digits < len(rest) && isDigit(rest[digits]) {
		digits++
	}
	if digits > 0 {
		// RFC 7208 §7.3: the number of parts to keep; it must be nonzero.
		n, err := strconv.Atoi(rest[:digits])
		if err != nil || n == 0 {
			return reason.New(finding.T("bad transformer %q in %%{%s}", rest[:digits], b))
		}
	}
	rest = rest[digits:]
	if rest != "" && (rest[0] == 'r' || rest[0] == 'R') {
		rest = rest[1:]
	}
	for i := range len(rest) {
		if !strings.ContainsRune(".-+,/_=", rune(rest[i])) {
			return reason.New(finding.T("bad delimiter %q in %%{%s}", rest[i], b))
		}
	}
	return nil
}

// indexOutsideMacros is strings.IndexByte that skips "%{...}", whose
// delimiters may include "/".
func indexOutsideMacros(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '%' && i+1 < len(s) && s[i+1] == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return -1
			}
			i += end
		case s[i] == '%':
			i++
		case s[i] == c:
			return i
		}
	}
	return -1
}

func isAlpha(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }
