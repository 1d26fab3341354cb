// Package fields reads the field list that the MTA-STS record (RFC 8461
// §3.1) and the TLS-RPT record (RFC 8460 §3) share: "v=" and a version,
// then name=value fields, each after a ";" with optional blanks around it,
// and an optional final ";". What a field may be named and hold, which
// fields are required and whether one may repeat are each standard's own
// rules, left to its package.
package fields

import (
	"iter"
	"strings"

	"github.com/mailcheck-cli/mailcheck/checks/internal/reason"
	"github.com/mailcheck-cli/mailcheck/finding"
)

// Field is one name=value field, both sides as written.
type Field struct {
	Name, Value string
}

// All checks that txt begins with "v=" and version, then yields its fields
// in record order. A syntax error is yielded once, with an empty Field, and
// ends the sequence; the error's text is meant for users as is. Fields are
// yielded as they are read, so that a caller which rejects a field reports
// that before any syntax error further on.
func All(txt, version string) iter.Seq2[Field, error] {
	return func(yield func(Field, error) bool) {
		// Both RFCs have senders discard records that do not begin with
		// the version, case included.
		if !strings.HasPrefix(txt, "v="+version) {
			yield(Field{}, reason.New(finding.T("the record must begin with v=%s", version)))
			return
		}
		parts := strings.Split(txt, ";")
		if strings.TrimRight(parts[0], " \t") != "v="+version {
			yield(Field{}, reason.New(finding.T("v=%s must be followed by %q", version, ";")))
			return
		}
		for i, f := range parts[1:] {
			// field-delim = *WSP ";" *WSP
			f = strings.Trim(f, " \t")
			if f == "" {
				if i == len(parts)-2 {
					return // the optional final delimiter
				}
				yield(Field{}, reason.New(finding.T("an empty field between semicolons")))
				return
			}
			name, value, ok := strings.Cut(f, "=")
			if !ok {
				yield(Field{}, reason.New(finding.T("%q is not a name=value field", f)))
				return
			}
			if !yield(Field{name, value}, nil) {
				return
			}
		}
	}
}

// ValidExtensionName checks the extension-field name both RFCs define
// alike (RFC 8461 §3.1 sts-ext-name, RFC 8460 §3 tlsrpt-ext-name):
// (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".").
func ValidExtensionName(s string) bool {
	if s == "" || len(s) > 32 || !isAlnum(s[0]) {
		return false
	}
	for _, c := range []byte(s[1:]) {
		if !isAlnum(c) && c != '_' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// ValidExtensionValue checks the extension-field value both RFCs define
// alike: 1*(%x21-3A / %x3C / %x3E-7E), visible ASCII except ";" and "=".
func ValidExtensionValue(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c < 0x21 || c > 0x7e || c == ';' || c == '=' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
