package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Bounds on what a peer may send. RFC 5321 §4.5.3.1.5 caps a reply line at
// 512 octets and IMAP/POP3 lines are short too; 4 KiB leaves room for
// generous servers while keeping a hostile one from exhausting memory.
const (
	maxLineBytes  = 4096
	maxReplyLines = 100
	// maxLiteral bounds an IMAP literal ({n}) skipped inside a response.
	maxLiteral = 64 << 10
)

// ErrLineTooLong is returned when a peer sends a line longer than 4 KiB.
var ErrLineTooLong = &LimitError{Kind: LimitLine, Bound: maxLineBytes}

// ErrTooManyLines is returned when a reply runs past 100 lines.
var ErrTooManyLines = &LimitError{Kind: LimitLines, Bound: maxReplyLines}

// wire is a line-oriented connection with a deadline on every step, bounded
// reads and an optional transcript. It is used by one goroutine at a time.
type wire struct {
	raw  net.Conn // the TCP connection, also under TLS
	conn net.Conn // raw, or the *tls.Conn once upgraded
	r    *bufio.Reader
	step time.Duration

	mu         sync.Mutex
	transcript []string
	verbose    bool

	stopCancel func() bool

	// preTLS holds bytes the server sent after its go-ahead for TLS and
	// before the handshake (discarded, see upgrade); handshake records
	// what the handshake read, so that a plaintext answer can be shown.
	preTLS    []byte
	handshake *recordingConn
}

func newWire(ctx context.Context, conn net.Conn, step time.Duration, verbose bool) *wire {
	if step <= 0 {
		step = 10 * time.Second
	}
	w := &wire{raw: conn, conn: conn, r: bufio.NewReaderSize(conn, maxLineBytes), step: step, verbose: verbose}
	// A cancelled ctx must interrupt a blocked read at once, not at the
	// end of the step: a past deadline wakes every pending I/O call.
	w.stopCancel = context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	return w
}

// deadline bounds the next step by the step timeout and by ctx.
func (w *wire) deadline(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d := time.Now().Add(w.step)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	return w.conn.SetDeadline(d)
}

func (w *wire) note(format string, args ...any) {
	if !w.verbose {
		return
	}
	w.mu.Lock()
	w.transcript = append(w.transcript, fmt.Sprintf(format, args...))
	w.mu.Unlock()
}

func (w *wire) lines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.transcript...)
}

// readLine reads one line (without its CR LF) within the current deadline.
// The caller sets the deadline once per reply, so a server that drips a
// multi-line reply cannot stretch it past one step.
func (w *wire) readLine() (string, error) {
	b, err := w.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		w.note("S: %s… (cut: line longer than %d bytes)", printable(string(b[:80])), maxLineBytes)
		return "", ErrLineTooLong
	}
	if err != nil {
		if len(b) > 0 {
			w.note("S: %s (incomplete line, then %v)", printable(string(b)), err)
			return string(b), err
		}
		return "", err
	}
	line := strings.TrimRight(string(b), "\r\n")
	w.note("S: %s", printable(line))
	return line, nil
}

// skip reads exactly n bytes (an IMAP literal) and discards them.
func (w *wire) skip(n int64) error {
	if n > maxLiteral {
		return &LimitError{Kind: LimitLiteral, Bound: maxLiteral, Got: n}
	}
	_, err := io.CopyN(io.Discard, w.r, n)
	w.note("S: (%d-byte literal skipped)", n)
	return err
}

// writeLine sends line followed by CR LF. shown is what the transcript
// records instead of line; commands carrying credentials pass a redacted
// form so that a password never reaches a transcript.
func (w *wire) writeLine(ctx context.Context, line, shown string) error {
	if err := w.deadline(ctx); err != nil {
		return err
	}
	if shown == "" {
		shown = line
	}
	w.note("C: %s", shown)
	_, err := io.WriteString(w.conn, line+"\r\n")
	return err
}

// upgrade runs a TLS client handshake over the connection. Bytes the
// server sent after its go-ahead and before the handshake are discarded:
// RFC 3207 §4.2 and RFC 2595 §3.1 require a client to ignore anything
// received before TLS (the STARTTLS command-injection defence).
func (w *wire) upgrade(ctx context.Context, cfg *tls.Config) (*tls.Conn, error) {
	if n := w.r.Buffered(); n > 0 {
		b, _ := w.r.Peek(n)
		w.preTLS = append([]byte(nil), b[:min(n, 200)]...)
		w.note("S: (%d bytes sent before the TLS handshake, discarded)", n)
	}
	if err := w.deadline(ctx); err != nil {
		return nil, err
	}
	w.handshake = &recordingConn{Conn: w.raw}
	tc := tls.Client(w.handshake, cfg)
	err := tc.HandshakeContext(ctx)
	if err != nil {
		w.note("TLS: handshake failed: %v", err)
		return tc, err
	}
	w.conn = tc
	w.r = bufio.NewReaderSize(tc, maxLineBytes)
	st := tc.ConnectionState()
	w.note("TLS: %s %s", versionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
	return tc, nil
}

func (w *wire) close() {
	w.stopCancel()
	_ = w.conn.Close()
}

// printable makes a peer's bytes safe to show: control characters and
// invalid UTF-8 are escaped, so a banner cannot corrupt a terminal.
func printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x20 && r != '\t', r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

// versionName names a TLS version as the probes schema does: "TLS1.3".
func versionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLS1.0"
	case tls.VersionTLS11:
		return "TLS1.1"
	case tls.VersionTLS12:
		return "TLS1.2"
	case tls.VersionTLS13:
		return "TLS1.3"
	case 0x0300:
		return "SSL3.0"
	}
	return fmt.Sprintf("0x%04x", v)
}
