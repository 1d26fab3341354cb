// Package dmarc parses DMARC policy records (RFC 9989, which obsoletes
// RFC 7489 and RFC 9091). The record keeps the legacy tags a receiver that
// still implements RFC 7489 acts on (pct, rf, ri), so a checker can warn
// about both generations of receivers.
//
// It is written here rather than taken from go-msgauth's dmarc package:
// that parser knows RFC 7489 only (no np, psd or t) and stops at the first
// problem without naming the tag, while a diagnostic must name the
// offending tag and keep the rest of the record for a corrected one.
package dmarc

import (
	"strconv"
	"strings"

	"github.com/mailcheck-cli/mailcheck/checks/internal/reason"
	"github.com/mailcheck-cli/mailcheck/finding"
)

// Policy is the value of p, sp and np.
type Policy string

const (
	None       Policy = "none"       // "no preference"; monitoring only
	Quarantine Policy = "quarantine" // treat failing mail as suspicious
	Reject     Policy = "reject"     // reject failing mail
)

// Strength orders policies: none < quarantine < reject; "" (absent) is -1.
func (p Policy) Strength() int {
	switch p {
	case None:
		return 0
	case Quarantine:
		return 1
	case Reject:
		return 2
	}
	return -1
}

// Tag is one tag=value pair as written.
type Tag struct {
	Name  string // lower case
	Value string // trimmed of surrounding whitespace
}

// URI is one entry of rua or ruf: "mailto:" addr-spec with an optional
// "!" size limit (RFC 7489 §6.2; RFC 9989 keeps the syntax but tells
// reporters to ignore the size).
type URI struct {
	Raw     string // as written
	Address string // the mailbox, percent-decoded
	Domain  string // lower-case domain of Address
	Size    string // "" or the limit as written ("10m")
}

// Record is a parsed "v=DMARC1" record.
type Record struct {
	Tags []Tag // every tag in order, unknown ones included

	Policy            Policy // p; "" when absent
	SubdomainPolicy   Policy // sp; "" when absent (p applies)
	NonexistentPolicy Policy // np (RFC 9989); "" when absent (sp applies)
	ADKIM, ASPF       string // "r" or "s"; "" when absent (relaxed)
	Percent           int    // pct (RFC 7489 only); 100 when absent
	HasPercent        bool
	FailureOptions    []string // fo
	RUA, RUF          []URI
	Testing           bool   // t=y (RFC 9989)
	PSD               string // psd: "y", "n" or "u" (the default)
	Unknown           []string
}

// Tag returns the value of the named tag and whether it is present.
func (r *Record) Tag(name string) (string, bool) {
	for _, t := range r.Tags {
		if t.Name == name {
			return t.Value, true
		}
	}
	return "", false
}

// EffectiveSubdomainPolicy is the policy for existing subdomains: sp, else p.
func (r *Record) EffectiveSubdomainPolicy() Policy {
	if r.SubdomainPolicy != "" {
		return r.SubdomainPolicy
	}
	return r.Policy
}

// EffectiveNonexistentPolicy is the policy for subdomains that do not
// exist: np, else sp, else p (RFC 9989 np tag).
func (r *Record) EffectiveNonexistentPolicy() Policy {
	if r.NonexistentPolicy != "" {
		return r.NonexistentPolicy
	}
	return r.EffectiveSubdomainPolicy()
}

// String writes the record back: "v=DMARC1; tag=value; ...".
func (r *Record) String() string { return Format(r.Tags) }

// Format writes tags as a record; the first is expected to be v.
func Format(tags []Tag) string {
	parts := make([]string, len(tags))
	for i, t := range tags {
		parts[i] = t.Name + "=" + t.Value
	}
	return strings.Join(parts, "; ")
}

// With returns the record's tags with name set to value: replaced where it
// is, or appended. A value of "" removes the tag. The record is unchanged;
// computed fixes are built with it.
func (r *Record) With(name, value string) []Tag {
	out := make([]Tag, 0, len(r.Tags)+1)
	found := false
	for _, t := range r.Tags {
		if t.Name == name {
			if found || value == "" {
				continue
			}
			found = true
			t.Value = value
		}
		out = append(out, t)
	}
	if !found && value != "" {
		out = append(out, Tag{Name: name, Value: value})
	}
	return out
}

// SyntaxError names the tag at fault.
type SyntaxError struct {
	Tag    string // "p=maybe"; "" for the record as a whole
	Reason finding.Text
}

func (e *SyntaxError) Error() string { return e.text().String() }

// In writes the error in language l: a judge's sentence that holds it is
// translated whole.
func (e *SyntaxError) In(l finding.Lang) string { return e.text().In(l) }

func (e *SyntaxError) text() finding.Text {
	if e.Tag == "" {
		return e.Reason
	}
	return finding.T("%q: %s", e.Tag, e.Reason)
}

// IsDMARC reports whether a TXT record is a DMARC record: its first tag is
// v=DMARC1. RFC 7489 §6.3: the value "MUST match precisely"; other records
// at _dmarc are ignored, not errors.
func IsDMARC(txt string) bool {
	first, _, _ := strings.Cut(txt, ";")
	name, value, ok := strings.Cut(first, "=")
	// ABNF literals are case-insensitive ("v"); the %x-coded DMARC1 is not.
	return ok && strings.EqualFold(strings.Trim(name, " \t"), "v") &&
		strings.Trim(value, " \t") == "DMARC1"
}

const wsp = " \t"

// Parse parses a DMARC record. A record without p is returned beside its
// *SyntaxError, so that a checker can still look at its other tags. Unknown tags are kept and ignored (RFC 9989
// §4.7 "Unknown tags MUST be ignored"); an invalid value of a known tag, a
// repeated tag or a missing p is a *SyntaxError.
func Parse(txt string) (*Record, error) {
	if !IsDMARC(txt) {
		return nil, &SyntaxError{Reason: finding.T("the record does not start with %q", "v=DMARC1")}
	}
	r := &Record{Percent: 100, PSD: "u"}
	seen := map[string]bool{}
	for i, part := range strings.Split(txt, ";") {
		part = strings.Trim(part, wsp)
		if part == "" {
			// A trailing ";" is allowed (dmarc-sep at the end); an empty
			// element between two is harmless and common.
			continue
		}
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			return nil, &SyntaxError{Tag: part, Reason: finding.T("not a tag=value pair")}
		}
		name = strings.ToLower(strings.Trim(name, wsp))
		value = strings.Trim(value, wsp)
		tag := Tag{Name: name, Value: value}
		if !isTagName(name) {
			return nil, &SyntaxError{Tag: part, Reason: finding.T("%q is not a valid tag name", name)}
		}
		// RFC 7489 §6.4 takes its tag-list syntax from DKIM, where a tag
		// that appears twice makes the whole list invalid (RFC 6376 §3.2).
		if seen[name] {
			return nil, &SyntaxError{Tag: part, Reason: finding.T("tag %s appears twice", name)}
		}
		seen[name] = true
		if i == 0 {
			r.Tags = append(r.Tags, Tag{Name: "v", Value: "DMARC1"})
			continue
		}
		if err := r.set(tag); err != nil {
			return nil, &SyntaxError{Tag: part, Reason: reason.Of(err)}
		}
		r.Tags = append(r.Tags, tag)
	}
	if r.Policy == "" {
		// RFC 7489 §6.3: p is REQUIRED; a receiver following it discards a
		// record without one (or, §6.6.3, falls back to p=none when rua is
		// valid). RFC 9989 also reads a record without p as p=none.
		return r, &SyntaxError{Reason: finding.T("no p tag: receivers treat the record as p=none or ignore it")}
	}
	return r, nil
}

func isTagName(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z') && !('0' <= c && c <= '9') && c != '_' {
			return false
		}
	}
	return 'a' <= s[0] && s[0] <= 'z'
}

func (r *Record) set(t Tag) error {
	v := t.Value
	switch t.Name {
	case "v":
		return reason.New(finding.T("v must be the first tag"))
	case "p", "sp", "np":
		p, err := parsePolicy(v)
		if err != nil {
			return err
		}
		switch t.Name {
		case "p":
			r.Policy = p
		case "sp":
			r.SubdomainPolicy = p
		default:
			r.NonexistentPolicy = p
		}
	case "adkim", "aspf":
		lv := strings.ToLower(v)
		if lv != "r" && lv != "s" {
			return reason.New(finding.T("%s must be r (relaxed) or s (strict)", t.Name))
		}
		if t.Name == "adkim" {
			r.ADKIM = lv
		} else {
			r.ASPF = lv
		}
	case "pct":
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 100 || strings.HasPrefix(v, "+") {
			return reason.New(finding.T("pct must be an integer from 0 to 100"))
		}
		r.Percent, r.HasPercent = n, true
	case "fo":
		// RFC 7489 §6.3: fo = 0 / 1 / d / s, colon-separated.
		for _, o := range strings.Split(v, ":") {
			o = strings.Trim(o, wsp)
			if o != "0" && o != "1" && o != "d" && o != "s" {
				return reason.New(finding.T("fo option %q is not one of 0, 1, d, s", o))
			}
			r.FailureOptions = append(r.FailureOptions, o)
		}
	case "rua", "ruf":
		uris, err := parseURIs(v)
		if err != nil {
			return err
		}
		if t.Name == "rua" {
			r.RUA = uris
		} else {
			r.RUF = uris
		}
	case "t":
		switch strings.ToLower(v) {
		case "y":
			r.Testing = true
		case "n":
		default:
			return reason.New(finding.T("t must be y or n"))
		}
	case "psd":
		lv := strings.ToLower(v)
		if lv != "y" && lv != "n" && lv != "u" {
			return reason.New(finding.T("psd must be y, n or u"))
		}
		r.PSD = lv
	case "ri":
		// RFC 7489 §6.3: a 32-bit unsigned interval in seconds.
		if _, err := strconv.ParseUint(v, 10, 32); err != nil {
			return reason.New(finding.T("ri must be a number of seconds"))
		}
	case "rf":
		for _, f := range strings.Split(v, ":") {
			if !isTagName(strings.ToLower(strings.Trim(f, wsp))) {
				return reason.New(finding.T("rf format %q is not a keyword", f))
			}
		}
	default:
		r.Unknown = append(r.Unknown, t.Name)
	}
	return nil
}

func parsePolicy(v string) (Policy, error) {
	switch p := Policy(strings.ToLower(v)); p {
	case None, Quarantine, Reject:
		return p, nil
	}
	return "", reason.New(finding.T("policy %q is not none, quarantine or reject", v))
}

// parseURIs parses a comma-separated list of report URIs.
func parseURIs(v string) ([]URI, error) {
	if v == "" {
		return nil, reason.New(finding.T("empty list of report addresses"))
	}
	var out []URI
	for _, raw := range strings.Split(v, ",") {
		u, err := ParseURI(strings.Trim(raw, wsp))
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// ParseURI parses one report URI: "mailto:" addr-spec [ "!" size ]. Only
// mailto is defined for reports (RFC 9990 §3, RFC 7489 §7.1 before it).
func ParseURI(raw string) (URI, error) {
	u := URI{Raw: raw}
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok || !strings.EqualFold(scheme, "mailto") {
		return u, reason.New(finding.T("report address %q is not a mailto: URI", raw))
	}
	// "!" cannot appear unescaped in a URI's addr-spec here: it starts the
	// size suffix (RFC 7489 §6.2 dmarc-uri).
	if addr, size, ok := strings.Cut(rest, "!"); ok {
		if !isSize(size) {
			return u, reason.New(finding.T("size limit %q in %q is not a number with an optional k, m, g or t", size, raw))
		}
		rest, u.Size = addr, size
	}
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		// hfields (RFC 6068) carry no meaning for reports; keep the mailbox.
		rest = rest[:i]
	}
	addr, err := percentDecode(rest)
	if err != nil {
		return u, reason.New(finding.T("report address %q: %s", raw, reason.Of(err)))
	}
	local, domain, ok := cutLast(addr, "@")
	if !ok || local == "" || !isDomainName(domain) {
		return u, reason.New(finding.T("report address %q is not local-part@domain", raw))
	}
	u.Address = addr
	u.Domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	return u, nil
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// isSize: size = 1*DIGIT [ "k" / "m" / "g" / "t" ] (RFC 7489 §6.4).
func isSize(s string) bool {
	s = strings.TrimRight(s, "kmgtKMGT")
	if s == "" {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func percentDecode(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", reason.New(finding.T("truncated %%-escape"))
		}
		n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", reason.New(finding.T("bad %%-escape %q", s[i:i+3]))
		}
		b.WriteByte(byte(n))
		i += 2
	}
	return b.String(), nil
}

// isDomainName checks a report domain loosely: dot-separated labels of
// letters, digits, hyphens and underscores, at least two labels.
func isDomainName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	labels := strings.Split(s, ".")
	if len(labels) < 2 || len(s) > 253 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := range len(l) {
			c := l[i] | 0x20
			if !('a' <= c && c <= 'z') && !('0' <= l[i] && l[i] <= '9') && l[i] != '-' && l[i] != '_' {
				return false
			}
		}
	}
	return true
}
