package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// StepError says which step of a dialogue failed: "connect", "greeting",
// "EHLO", "STARTTLS", "TLS handshake", "CAPABILITY after STARTTLS" ...
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

// In writes the error in language l: the step's name translated, what
// went wrong translated when mailcheck said it (a Go error stays as is).
func (e *StepError) In(l finding.Lang) string {
	return finding.T("%s: %s", stepLabel(e.Step), e.Err).In(l)
}

// ReplyError is a well-formed reply that refuses what was asked.
type ReplyError struct {
	Reply string // the reply as received, first line(s)
	Code  int    // the SMTP reply code; 0 for IMAP and POP3
	// Busy marks a temporary refusal of service: SMTP 421 (RFC 5321
	// §3.8), an IMAP "* BYE" greeting (RFC 9051 §7.1.5), a POP3 "-ERR"
	// greeting or an [IN-USE]/[SYS/TEMP] response code (RFC 2449 §8.1,
	// RFC 3206). Such a probe is inconclusive, not a misconfiguration.
	Busy bool
}

func (e *ReplyError) Error() string { return e.text().String() }

// In writes the error in language l; the reply itself is data.
func (e *ReplyError) In(l finding.Lang) string { return e.text().In(l) }

func (e *ReplyError) text() finding.Text { return finding.T("server replied %s", printable(e.Reply)) }

// ProtocolError means the peer does not speak the protocol expected on
// the port: a TLS record where a greeting was expected, an SMTP greeting
// on an IMAP port, a malformed reply.
type ProtocolError struct {
	Reason finding.Text // what is wrong, for people: "not an SMTP reply line"
	Got    string       // what arrived instead, printable
}

func (e *ProtocolError) Error() string { return e.text().String() }

// In writes the error in language l; what arrived is data.
func (e *ProtocolError) In(l finding.Lang) string { return e.text().In(l) }

func (e *ProtocolError) text() finding.Text {
	if e.Got == "" {
		return e.Reason
	}
	return finding.T("%s: %s", e.Reason, printable(e.Got))
}

// textError is an error mailcheck words itself (not one from Go or the
// network): it can be written in the report's language wherever a finding
// shows it.
type textError struct{ text finding.Text }

func (e *textError) Error() string { return e.text.String() }

// In writes the error in language l.
func (e *textError) In(l finding.Lang) string { return e.text.In(l) }

// LimitKind names which of mailcheck's own bounds a peer ran past.
type LimitKind int

const (
	LimitLine    LimitKind = iota // a line longer than maxLineBytes
	LimitLines                    // a reply longer than maxReplyLines
	LimitLiteral                  // an IMAP literal larger than maxLiteral
)

// LimitError is returned when a peer's reply runs past one of the probe's
// own bounds (which keep a hostile peer from exhausting memory): the probe
// stopped reading; the server did not close anything.
type LimitError struct {
	Kind  LimitKind
	Bound int   // the bound: bytes per line, lines per reply, literal bytes
	Got   int64 // for a literal, the size announced
}

func (e *LimitError) Error() string {
	switch e.Kind {
	case LimitLines:
		return fmt.Sprintf("reply longer than %d lines", e.Bound)
	case LimitLiteral:
		return fmt.Sprintf("literal of %d bytes exceeds the %d-byte bound", e.Got, e.Bound)
	}
	return fmt.Sprintf("line longer than %d bytes", e.Bound)
}

// In writes the error in language l.
func (e *LimitError) In(l finding.Lang) string {
	if l == finding.English || l == "" {
		return e.Error()
	}
	return e.reason().In(l)
}

// reason says in a sentence what the server sent.
func (e *LimitError) reason() finding.Text {
	switch e.Kind {
	case LimitLines:
		return finding.T("a reply of more than %d lines", e.Bound)
	case LimitLiteral:
		return finding.T("an IMAP literal of %d bytes, over mailcheck's bound of %d", e.Got, e.Bound)
	}
	return finding.T("a line longer than %d bytes", e.Bound)
}

// Probe statuses (finding.Probe.Status): "ok", or where the probe stopped.
const (
	StatusOK            = "ok"
	StatusRefused       = "refused"        // the TCP connection was refused
	StatusTimeout       = "timeout"        // a connect, read or handshake step ran out of time
	StatusRateLimited   = "rate-limited"   // 421, * BYE, -ERR greeting: the server turned us away for now
	StatusProtocolError = "protocol-error" // the port does not speak the expected protocol
	StatusTLSFailed     = "tls-failed"     // the TLS handshake failed
	StatusClosed        = "closed"         // the server closed or reset the connection
	StatusLimit         = "limit"          // mailcheck's own bound on a reply stopped reading
)

// failure classifies err into a probe status: where and how it stopped.
func failure(err error) string {
	var re *ReplyError
	var pe *ProtocolError
	var rh tls.RecordHeaderError
	switch {
	case err == nil:
		return StatusOK
	case errors.As(err, new(*LimitError)):
		return StatusLimit
	case isRefused(err):
		return StatusRefused
	case isTimeout(err):
		return StatusTimeout
	case errors.As(err, &re) && re.Busy:
		return StatusRateLimited
	case errors.As(err, &pe), errors.As(err, &rh), errors.As(err, &re):
		return StatusProtocolError
	case isClosed(err):
		return StatusClosed
	}
	var se *StepError
	if errors.As(err, &se) && se.Step == stepHandshake {
		return StatusTLSFailed
	}
	return StatusClosed
}

func isRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

func isUnreachable(err error) bool {
	return errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.EADDRNOTAVAIL)
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

// A step of a dialogue ("connect", "greeting", "EHLO", "TLS handshake",
// "CAPABILITY after STARTTLS" ...) is named two ways in French: bare, as a
// label ("bannière d'accueil : EOF"), and with its article inside a
// sentence ("pendant la bannière d'accueil"). Protocol commands stay as
// they are. Every French phrase starts with "la" or "l'", so that the
// sentences can put "à", "de" or "pendant" before it without contraction.
var stepNamesFR = map[string]struct{ bare, phrase string }{
	"connect":     {"connexion", "la connexion"},
	"greeting":    {"bannière d'accueil", "la bannière d'accueil"},
	stepHandshake: {"négociation TLS", "la négociation TLS"},
	"dialogue":    {"échange", "l'échange"},
}

// stepLabel is a step as a label: "greeting", "EHLO".
type stepLabel string

// In writes the step in language l.
func (s stepLabel) In(l finding.Lang) string {
	if l != finding.French {
		return string(s)
	}
	if fr, ok := stepNamesFR[string(s)]; ok {
		return fr.bare
	}
	if cmd, after, ok := strings.Cut(string(s), " after "); ok {
		return cmd + " après " + after
	}
	return string(s)
}

// stepName is a step as a sentence names it: "the greeting" in English
// formats that say "the %s", "la bannière d'accueil" or "la commande EHLO"
// in French.
type stepName string

// In writes the step in language l.
func (s stepName) In(l finding.Lang) string {
	if l != finding.French {
		return string(s)
	}
	if fr, ok := stepNamesFR[string(s)]; ok {
		return fr.phrase
	}
	return "la commande " + stepLabel(s).In(l)
}
