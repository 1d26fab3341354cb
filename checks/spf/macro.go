package spf

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// expand expands the macros of a domain-spec (RFC 7208 §7), or of an
// explanation string when explain is set (which allows %{c}, %{r} and
// %{t}). domain is the current domain (%{d}). A domain-spec longer than 253
// octets loses labels on the left until it fits (§7.3).
func (e *evaluator) expand(spec, domain string, explain bool) (string, error) {
	if !strings.Contains(spec, "%") {
		return strings.ToLower(strings.TrimSuffix(spec, ".")), nil
	}
	var b strings.Builder
	for i := 0; i < len(spec); i++ {
		c := spec[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(spec) {
			return "", fmt.Errorf("%q ends in a lone %%", spec)
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
			return "", fmt.Errorf("%q: %%%c is not a macro", spec, spec[i])
		}
		end := strings.IndexByte(spec[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("%q: unclosed macro", spec)
		}
		v, err := e.macro(spec[i+1:i+end], domain, explain)
		if err != nil {
			return "", fmt.Errorf("%q: %v", spec, err)
		}
		b.WriteString(v)
		i += end
	}
	out := b.String()
	if explain {
		return out, nil
	}
	out = strings.ToLower(strings.TrimSuffix(out, "."))
	for len(out) > 253 {
		_, rest, ok := strings.Cut(out, ".")
		if !ok {
			return "", fmt.Errorf("%q expands to a name longer than 253 octets", spec)
		}
		out = rest
	}
	return out, nil
}

// macro expands the body of one %{...}: letter, transformers, delimiters.
func (e *evaluator) macro(body, domain string, explain bool) (string, error) {
	if body == "" {
		return "", fmt.Errorf("empty macro")
	}
	letter := body[0]
	escape := letter >= 'A' && letter <= 'Z' // §7.3: uppercase means URL-escaped
	var value string
	switch letter | 0x20 {
	case 's':
		value = e.sender()
	case 'l':
		local, _, _ := strings.Cut(e.sender(), "@")
		value = local
	case 'o':
		_, dom, _ := strings.Cut(e.sender(), "@")
		value = dom
	case 'd':
		value = domain
	case 'i':
		value = dottedIP(e.q)
	case 'p':
		value = e.validatedName(domain)
	case 'v':
		value = "in-addr"
		if e.q.IP.Is6() {
			value = "ip6"
		}
	case 'h':
		value = e.q.HELO
	case 'c', 'r', 't':
		if !explain {
			return "", fmt.Errorf("%%{%c} is allowed only in an explanation", letter)
		}
		switch letter | 0x20 {
		case 'c':
			value = e.q.IP.String()
		case 'r':
			value = e.q.Receiver
			if value == "" {
				value = "unknown"
			}
		case 't':
			value = strconv.FormatInt(time.Now().Unix(), 10)
		}
	default:
		return "", fmt.Errorf("unknown macro letter %q", letter)
	}
	rest := body[1:]
	digits := 0
	for digits < len(rest) && rest[digits] >= '0' && rest[digits] <= '9' {
		digits++
	}
	keep := 0
	if digits > 0 {
		n, err := strconv.Atoi(rest[:digits])
		if err != nil || n == 0 {
			return "", fmt.Errorf("bad transformer in %%{%s}", body)
		}
		keep = n
	}
	rest = rest[digits:]
	reverse := false
	if rest != "" && (rest[0] == 'r' || rest[0] == 'R') {
		reverse, rest = true, rest[1:]
	}
	delims := rest
	if delims == "" {
		delims = "."
	}
	if strings.Trim(delims, ".-+,/_=") != "" {
		return "", fmt.Errorf("bad delimiter in %%{%s}", body)
	}
	// §7.3: split on the delimiters, reverse if asked, keep the
	// rightmost parts, join with dots.
	parts := strings.FieldsFunc(value, func(r rune) bool { return strings.ContainsRune(delims, r) })
	if len(parts) == 0 {
		parts = []string{value}
	}
	if reverse {
		slices.Reverse(parts)
	}
	if keep > 0 && keep < len(parts) {
		parts = parts[len(parts)-keep:]
	}
	value = strings.Join(parts, ".")
	if escape {
		value = urlEscape(value)
	}
	return value, nil
}

// sender is the sender for macros: "postmaster@<domain>" when the local
// part is missing (§4.3).
func (e *evaluator) sender() string {
	s := e.q.Sender
	if s == "" {
		return "postmaster@" + e.q.Domain
	}
	if !strings.Contains(s, "@") {
		return "postmaster@" + s
	}
	if strings.HasPrefix(s, "@") {
		return "postmaster" + s
	}
	return s
}

// dottedIP is %{i}: dotted quads for IPv4, dot-separated nibbles for IPv6
// (§7.3).
func dottedIP(q Query) string {
	if q.IP.Is4() {
		return q.IP.String()
	}
	b := q.IP.As16()
	parts := make([]string, 0, 32)
	for _, x := range b {
		parts = append(parts, strconv.FormatInt(int64(x>>4), 16), strconv.FormatInt(int64(x&0xf), 16))
	}
	return strings.Join(parts, ".")
}

// validatedName is %{p} (§7.3): a validated name of the client that is the
// domain or below it, else any validated name, else "unknown".
func (e *evaluator) validatedName(domain string) string {
	names, _ := e.validatedNames()
	for _, n := range names {
		if n == domain || strings.HasSuffix(n, "."+domain) {
			return n
		}
	}
	if len(names) > 0 {
		return names[0]
	}
	return "unknown"
}

// urlEscape percent-encodes every octet outside RFC 3986's unreserved set
// (ALPHA DIGIT "-" "." "_" "~"), as RFC 7208 §7.3 asks of uppercase macros.
func urlEscape(s string) string {
	var b strings.Builder
	for i := range len(s) {
		c := s[i]
		if isAlpha(c) || isDigit(c) || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
