// Package fields reads the field list that the MTA-STS record (RFC 8461
// §3.1) and the TLS-RPT record (RFC 8460 §3) share: "v=" and a version,
// then name=value fields, each after a ";" with optional blanks around it,
// and an optional final ";". What a field may be named and hold, which
// fields are required and whether one may repeat are each standard's own
// rules, left to its package.
package fields

import (
	"errors"
	"fmt"
	"iter"
	"strings"
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
			yield(Field{}, fmt.Errorf("the record must begin with v=%s", version))
			return
		}
		parts := strings.Split(txt, ";")
		if strings.TrimRight(parts[0], " \t") != "v="+version {
			yield(Field{}, fmt.Errorf("v=%s must be followed by \";\"", version))
			return
		}
		for i, f := range parts[1:] {
			// field-delim = *WSP ";" *WSP
			f = strings.Trim(f, " \t")
			if f == "" {
				if i == len(parts)-2 {
					return // the optional final delimiter
				}
				yield(Field{}, errors.New("an empty field between semicolons"))
				return
			}
			name, value, ok := strings.Cut(f, "=")
			if !ok {
				yield(Field{}, fmt.Errorf("%q is not a name=value field", f))
				return
			}
			if !yield(Field{name, value}, nil) {
				return
			}
		}
	}
}
