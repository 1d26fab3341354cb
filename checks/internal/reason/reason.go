// Package reason gives the record parsers' errors (checks/spf, dmarc,
// dkim, mtasts, tlsrpt) a message that reports can write in the reader's
// language: the message is a finding.Text, and an error that implements
// In(finding.Lang) is translated wherever it is an argument of a
// finding.T sentence ("SPF record does not parse: %s").
package reason

import (
	"errors"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// Error is an error whose message is a Text.
type Error struct {
	Text finding.Text
}

// New returns an error saying t.
func New(t finding.Text) error { return &Error{Text: t} }

func (e *Error) Error() string { return e.Text.String() }

// In writes the message in language l.
func (e *Error) In(l finding.Lang) string { return e.Text.In(l) }

// Of returns the message of err as a Text: its own when err (or one it
// wraps) is an *Error, the English message as data otherwise.
func Of(err error) finding.Text {
	var re *Error
	if errors.As(err, &re) {
		return re.Text
	}
	return finding.Verbatim(err.Error())
}
