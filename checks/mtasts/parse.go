// Package mtasts parses MTA-STS (RFC 8461): the TXT record at
// _mta-sts.<domain> (§3.1) and the policy served at
// https://mta-sts.<domain>/.well-known/mta-sts.txt (§3.2), and matches MX
// hosts against a policy's mx patterns (§4.1).
package mtasts

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mailcheck-cli/mailcheck/checks/internal/fields"
	"github.com/mailcheck-cli/mailcheck/checks/internal/reason"
	"github.com/mailcheck-cli/mailcheck/finding"
)

// Version is the only version of the record and the policy.
const Version = "STSv1"

// MaxAgeLimit is the largest max_age a policy may give: about a year
// (RFC 8461 §3.2).
const MaxAgeLimit = 31557600

// MaxPolicySize bounds the policy body a sender reads; 64 KiB is far more
// than any real policy and what checkers and senders commonly allow.
const MaxPolicySize = 64 << 10

// Mode is the policy's mode (RFC 8461 §5).
type Mode string

const (
	ModeEnforce Mode = "enforce" // senders must not deliver to MX hosts that fail validation
	ModeTesting Mode = "testing" // senders report failures (TLS-RPT) but deliver anyway
	ModeNone    Mode = "none"    // the domain has withdrawn its policy
)

// ParseError says what in a record or policy does not follow RFC 8461.
type ParseError struct {
	Line   int // policy line, 1-based; 0 for the TXT record
	Reason finding.Text
}

func (e *ParseError) Error() string { return e.text().String() }

// In writes the error in language l: a judge's sentence that holds it is
// translated whole.
func (e *ParseError) In(l finding.Lang) string { return e.text().In(l) }

func (e *ParseError) text() finding.Text {
	if e.Line > 0 {
		return finding.T("line %d: %s", e.Line, e.Reason)
	}
	return e.Reason
}

func recordErr(why finding.Text) error {
	return &ParseError{Reason: why}
}

// Extension is a field neither RFC 8461 nor this package knows.
type Extension struct {
	Name, Value string
}

// Record is a parsed _mta-sts TXT record.
type Record struct {
	Version    string
	ID         string // changes whenever the policy does (RFC 8461 §3.1)
	Extensions []Extension
}

// IsRecord reports whether a TXT record is meant as an MTA-STS record.
// RFC 8461 §3.1 has senders discard records that do not begin with
// "v=STSv1"; this is looser (case, leading blanks) so that a record which
// almost says so is reported as malformed rather than as absent.
func IsRecord(txt string) bool {
	s := strings.TrimLeft(txt, " \t")
	return len(s) >= 7 && strings.EqualFold(s[:7], "v="+Version)
}

// ParseRecord parses a record (RFC 8461 §3.1):
//
//	sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
//	sts-version     = %s"v=STSv1"
//	sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
func ParseRecord(txt string) (*Record, error) {
	r := &Record{Version: Version}
	seenID := false
	for f, err := range fields.All(txt, Version) {
		if err != nil {
			return nil, recordErr(reason.Of(err))
		}
		name, value := f.Name, f.Value
		switch {
		case name == "id":
			if seenID {
				return nil, recordErr(finding.T("id= appears more than once"))
			}
			seenID = true
			if err := checkID(value); err != nil {
				return nil, err
			}
			r.ID = value
		case fields.ValidExtensionName(name):
			if !fields.ValidExtensionValue(value) {
				return nil, recordErr(finding.T("the value of %s= is empty or holds a character the record may not contain", name))
			}
			r.Extensions = append(r.Extensions, Extension{name, value})
		default:
			return nil, recordErr(finding.T("%q is not a valid field name", name))
		}
	}
	if !seenID {
		return nil, recordErr(finding.T("the record has no id= field"))
	}
	return r, nil
}

func checkID(id string) error {
	if id == "" || len(id) > 32 {
		return recordErr(finding.T("id=%q must be 1 to 32 letters and digits", id))
	}
	for _, c := range []byte(id) {
		if !isAlnum(c) {
			return recordErr(finding.T("id=%q must be 1 to 32 letters and digits; %q is neither", id, c))
		}
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Policy is a parsed policy file.
type Policy struct {
	Version string
	Mode    Mode
	// MX holds the mx patterns in file order: host names, or "*." and a
	// domain for exactly one further leftmost label.
	MX         []string
	MaxAge     int // seconds
	Extensions []Extension
	// Lines is the line of each field by name (mx: of the first), for
	// pointing at the field at fault.
	Lines map[string]int
}

// ParsePolicy parses a policy body (RFC 8461 §3.2): lines "key: value"
// ended by LF or CRLF (erratum 6253), in any order. version, mode and
// max_age must appear, and mx at least once unless the mode is none.
// Blank lines, which the grammar does not allow, are skipped as widely
// deployed senders do, so that a stray empty line is not called fatal.
func ParsePolicy(body []byte) (*Policy, error) {
	if len(body) > MaxPolicySize {
		return nil, &ParseError{Reason: finding.T("the policy is %d bytes; senders read at most %d", len(body), MaxPolicySize)}
	}
	p := &Policy{Lines: map[string]int{}}
	lines := strings.Split(string(body), "\n")
	for i, line := range lines {
		n := i + 1
		line = strings.TrimSuffix(line, "\r")
		if strings.Trim(line, " \t") == "" {
			continue
		}
		if strings.ContainsRune(line, '\r') {
			return nil, &ParseError{Line: n, Reason: finding.T("a bare CR inside a line; end lines with LF or CRLF")}
		}
		if line[0] == ' ' || line[0] == '\t' {
			return nil, &ParseError{Line: n, Reason: finding.T("the line begins with whitespace")}
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, &ParseError{Line: n, Reason: finding.T("%q is not a \"key: value\" line", line)}
		}
		// sts-policy-field-delim = ":" *WSP, and trailing *WSP is allowed;
		// no whitespace may come before the colon.
		value = strings.Trim(value, " \t")
		if _, dup := p.Lines[name]; dup && name != "mx" {
			return nil, &ParseError{Line: n, Reason: finding.T("%s appears more than once (first on line %d)", name, p.Lines[name])}
		}
		if _, seen := p.Lines[name]; !seen {
			p.Lines[name] = n
		}
		switch name {
		case "version":
			if value != Version {
				return nil, &ParseError{Line: n, Reason: finding.T("version %q; it must be %s", value, Version)}
			}
			p.Version = value
		case "mode":
			switch m := Mode(value); m {
			case ModeEnforce, ModeTesting, ModeNone:
				p.Mode = m
			default:
				return nil, &ParseError{Line: n, Reason: finding.T("mode %q; it must be enforce, testing or none (lower case)", value)}
			}
		case "max_age":
			age, err := parseMaxAge(value)
			if err != nil {
				return nil, &ParseError{Line: n, Reason: reason.Of(err)}
			}
			p.MaxAge = age
		case "mx":
			if err := checkMXPattern(value); err != nil {
				return nil, &ParseError{Line: n, Reason: reason.Of(err)}
			}
			p.MX = append(p.MX, strings.ToLower(value))
		default:
			if !fields.ValidExtensionName(name) {
				return nil, &ParseError{Line: n, Reason: finding.T("%q is not a valid field name", name)}
			}
			if value == "" {
				return nil, &ParseError{Line: n, Reason: finding.T("the field %s has no value", name)}
			}
			p.Extensions = append(p.Extensions, Extension{name, value})
		}
	}
	for _, req := range []string{"version", "mode", "max_age"} {
		if _, ok := p.Lines[req]; !ok {
			return nil, &ParseError{Reason: finding.T("the policy has no %s field", req)}
		}
	}
	if len(p.MX) == 0 && p.Mode != ModeNone {
		return nil, &ParseError{Reason: finding.T("the policy has no mx field; mode %s needs at least one", p.Mode)}
	}
	return p, nil
}

// parseMaxAge checks sts-policy-max-age-value = 1*10(DIGIT), at most
// MaxAgeLimit.
func parseMaxAge(v string) (int, error) {
	if v == "" || len(v) > 10 || strings.TrimLeft(v, "0123456789") != "" {
		return 0, reason.New(finding.T("max_age %q must be a number of seconds", v))
	}
	n, err := strconv.Atoi(v)
	if err != nil || n > MaxAgeLimit {
		return 0, reason.New(finding.T("max_age %s exceeds the limit of %d seconds (one year)", v, MaxAgeLimit))
	}
	return n, nil
}

// checkMXPattern checks sts-policy-mx-value = ["*."] Domain, Domain as in
// RFC 5321 §4.1.2: letters, digits and hyphens, no trailing dot.
func checkMXPattern(v string) error {
	d := strings.TrimPrefix(v, "*.")
	if d == "" {
		return reason.New(finding.T("mx %q names no host", v))
	}
	if strings.HasSuffix(d, ".") {
		return reason.New(finding.T("mx %q ends in a dot; write it without (senders compare names without the root)", v))
	}
	for label := range strings.SplitSeq(d, ".") {
		if !validLabel(label) {
			if strings.Contains(label, "*") {
				return reason.New(finding.T("mx %q: a wildcard is allowed only as the whole leftmost label (\"*.example.com\")", v))
			}
			return reason.New(finding.T("mx %q is not a host name (label %q)", v, label))
		}
	}
	return nil
}

// validLabel checks sub-domain = Let-dig [Ldh-str] (RFC 5321 §4.1.2), at
// most 63 octets.
func validLabel(l string) bool {
	if l == "" || len(l) > 63 || !isAlnum(l[0]) || !isAlnum(l[len(l)-1]) {
		return false
	}
	for _, c := range []byte(l) {
		if !isAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}

// MatchMX reports whether an MX host matches one policy pattern (RFC 8461
// §4.1): names compare case-insensitively, and "*.example.com" matches a
// name with exactly one more label ("mx1.example.com", not
// "a.b.example.com" nor "example.com"). A trailing dot on host, as MX
// records carry, is ignored.
func MatchMX(pattern, host string) bool {
	pattern = strings.ToLower(strings.TrimSuffix(pattern, "."))
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		first, parent, ok := strings.Cut(host, ".")
		return ok && first != "" && parent == rest
	}
	return host == pattern
}

// Matches reports whether host matches one of the policy's mx patterns.
func (p *Policy) Matches(host string) bool {
	for _, pat := range p.MX {
		if MatchMX(pat, host) {
			return true
		}
	}
	return false
}

// Text renders the policy in canonical form, LF-terminated lines: what a
// fix can tell an administrator to publish.
func (p *Policy) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: %s\nmode: %s\n", p.Version, p.Mode)
	for _, mx := range p.MX {
		fmt.Fprintf(&b, "mx: %s\n", mx)
	}
	fmt.Fprintf(&b, "max_age: %d\n", p.MaxAge)
	for _, e := range p.Extensions {
		fmt.Fprintf(&b, "%s: %s\n", e.Name, e.Value)
	}
	return b.String()
}
