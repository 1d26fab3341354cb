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

func (e *ReplyError) Error() string { return "server replied " + printable(e.Reply) }

// ProtocolError means the peer does not speak the protocol expected on
// the port: a TLS record where a greeting was expected, an SMTP greeting
// on an IMAP port, a malformed reply.
type ProtocolError struct {
	Reason string
	Got    string // what arrived instead, printable
}

func (e *ProtocolError) Error() string {
	if e.Got == "" {
		return e.Reason
	}
	return e.Reason + ": " + printable(e.Got)
}

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

// stepName is a step of a dialogue as a title names it: protocol commands
// stay as they are, the other words are translated.
type stepName string

var stepNamesFR = map[string]string{
	"greeting": "bannière d'accueil", "TLS handshake": "négociation TLS", "dialogue": "dialogue", "connect": "connexion",
}

// In writes the step in language l.
func (s stepName) In(l finding.Lang) string {
	if l != finding.French {
		return string(s)
	}
	if fr, ok := stepNamesFR[string(s)]; ok {
		return fr
	}
	if cmd, after, ok := strings.Cut(string(s), " after "); ok {
		return cmd + " après " + after
	}
	return string(s)
}
