package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
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

// Probe statuses (finding.Probe.Status): "ok", or where the probe stopped.
const (
	StatusOK            = "ok"
	StatusRefused       = "refused"        // the TCP connection was refused
	StatusTimeout       = "timeout"        // a connect, read or handshake step ran out of time
	StatusRateLimited   = "rate-limited"   // 421, * BYE, -ERR greeting: the server turned us away for now
	StatusProtocolError = "protocol-error" // the port does not speak the expected protocol
	StatusTLSFailed     = "tls-failed"     // the TLS handshake failed
	StatusClosed        = "closed"         // the server closed or reset the connection
)

// failure classifies err into a probe status: where and how it stopped.
func failure(err error) string {
	var re *ReplyError
	var pe *ProtocolError
	var rh tls.RecordHeaderError
	switch {
	case err == nil:
		return StatusOK
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
