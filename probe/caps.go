package probe

import (
	"slices"
	"strings"
)

// Caps is a capability set as a server announced it: each keyword (upper
// case) with its parameters, in the server's order. Checks ask it
// questions (Has, Params) instead of searching the raw reply, so "AUTH"
// inside a greeting text or "XSTARTTLS" never counts as STARTTLS.
type Caps struct {
	keys   []string
	params map[string][]string
}

// add records keyword with params; a repeated keyword merges its params.
func (c *Caps) add(keyword string, params ...string) {
	keyword = strings.ToUpper(keyword)
	if keyword == "" {
		return
	}
	if c.params == nil {
		c.params = map[string][]string{}
	}
	old, seen := c.params[keyword]
	if !seen {
		c.keys = append(c.keys, keyword)
	}
	for _, p := range params {
		if p != "" && !slices.Contains(old, p) {
			old = append(old, p)
		}
	}
	c.params[keyword] = old
}

// Has reports whether keyword (any case) was announced.
func (c Caps) Has(keyword string) bool {
	_, ok := c.params[strings.ToUpper(keyword)]
	return ok
}

// Params returns the parameters announced with keyword.
func (c Caps) Params(keyword string) []string {
	return c.params[strings.ToUpper(keyword)]
}

// Keywords returns the keywords in the server's order.
func (c Caps) Keywords() []string { return slices.Clone(c.keys) }

// Len is the number of keywords.
func (c Caps) Len() int { return len(c.keys) }

// List renders each keyword with its parameters ("AUTH PLAIN LOGIN"), the
// form the probes schema records.
func (c Caps) List() []string {
	if len(c.keys) == 0 {
		return nil
	}
	out := make([]string, 0, len(c.keys))
	for _, k := range c.keys {
		out = append(out, strings.Join(append([]string{k}, c.params[k]...), " "))
	}
	return out
}

// ParseEHLO parses the text of a 250 reply to EHLO: the first line is the
// server's domain and greeting, each further line an ehlo-keyword with
// optional parameters (RFC 5321 §4.1.1.1). The obsolete form
// "AUTH=PLAIN LOGIN" that pre-RFC 4954 servers sent is folded into AUTH.
// Parameters of AUTH are upper-cased: SASL mechanism names are case-
// insensitive (RFC 4422 §3.1).
func ParseEHLO(lines []string) Caps {
	var c Caps
	for i, l := range lines {
		if i == 0 {
			continue
		}
		fields := strings.Fields(l)
		if len(fields) == 0 {
			continue
		}
		kw, params := fields[0], fields[1:]
		if k, v, ok := strings.Cut(kw, "="); ok {
			kw, params = k, append([]string{v}, params...)
		}
		if !validKeyword(kw) {
			continue
		}
		if strings.EqualFold(kw, "AUTH") {
			params = upperAll(params)
		}
		c.add(kw, params...)
	}
	return c
}

// validKeyword: ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"),
// RFC 5321 §4.1.1.1. POP3 CAPA tags (RFC 2449 §6) fit the same shape, and
// servers in the wild use "_" and "." too, which are accepted.
func validKeyword(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		alnum := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9'
		if !alnum && (i == 0 || ch != '-' && ch != '_' && ch != '.') {
			return false
		}
	}
	return true
}

func upperAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToUpper(s)
	}
	return out
}

// ParseIMAPCapability extracts the capability list from an IMAP line: an
// untagged "* CAPABILITY ..." response, or any status response carrying a
// "[CAPABILITY ...]" response code (a greeting, a tagged OK), RFC 3501
// §7.2.1 and §7.1 / RFC 9051 §7.2.2. Each capability is an atom such as
// IMAP4rev1, STARTTLS, LOGINDISABLED or AUTH=PLAIN; they are kept as
// whole upper-case keywords. ok is false when the line carries none.
func ParseIMAPCapability(line string) (c Caps, ok bool) {
	var list string
	upper := strings.ToUpper(line)
	switch {
	case strings.HasPrefix(upper, "* CAPABILITY "):
		list = line[len("* CAPABILITY "):]
	default:
		// The response code follows the status word: "* OK [CAPABILITY
		// ...] text" or "tag OK [CAPABILITY ...] text".
		fields := strings.SplitN(line, " ", 3)
		if len(fields) < 3 || !strings.HasPrefix(strings.ToUpper(fields[2]), "[CAPABILITY ") {
			return Caps{}, false
		}
		rest := fields[2][len("[CAPABILITY "):]
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return Caps{}, false
		}
		list = rest[:end]
	}
	for _, atom := range strings.Fields(list) {
		if validAtom(atom) {
			c.add(atom)
		}
	}
	return c, true
}

// validAtom: ATOM-CHAR excludes "(){ %*\"\\]" and controls, RFC 3501 §9.
func validAtom(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch <= 0x20 || ch >= 0x7f || strings.IndexByte(`(){%*"\]`, ch) >= 0 {
			return false
		}
	}
	return true
}

// ParsePOP3Capa parses the lines of a CAPA reply after "+OK" and before
// the terminating ".", already dot-unstuffed: each line is a capability tag
// with optional arguments, RFC 2449 §5. SASL mechanism names are upper-
// cased (RFC 4422 §3.1).
func ParsePOP3Capa(lines []string) Caps {
	var c Caps
	for _, l := range lines {
		fields := strings.Fields(l)
		if len(fields) == 0 || !validKeyword(fields[0]) {
			continue
		}
		params := fields[1:]
		if strings.EqualFold(fields[0], "SASL") {
			params = upperAll(params)
		}
		c.add(fields[0], params...)
	}
	return c
}
