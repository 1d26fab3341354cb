package probe

import (
	"context"
	"strings"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// pop3Dialogue speaks POP3 (RFC 1939) with CAPA (RFC 2449) and STLS
// (RFC 2595 §4).
type pop3Dialogue struct {
	w *wire
}

// pop3Status reads one status line: "+OK text" or "-ERR text".
func pop3Status(w *wire) (ok bool, line string, err error) {
	line, err = w.readLine()
	if err != nil {
		return false, line, err
	}
	switch {
	case line == "+OK" || strings.HasPrefix(line, "+OK "):
		return true, line, nil
	case line == "-ERR" || strings.HasPrefix(line, "-ERR "):
		return false, line, nil
	}
	return false, line, &ProtocolError{Reason: finding.T("not a POP3 status line"), Got: line}
}

// readPOP3Multiline reads the lines after a "+OK" up to the terminating
// ".", undoing dot-stuffing (RFC 1939 §3); at most 100 lines.
func readPOP3Multiline(w *wire) ([]string, error) {
	var out []string
	for n := 0; ; n++ {
		if n == maxReplyLines {
			return out, ErrTooManyLines
		}
		line, err := w.readLine()
		if err != nil {
			return out, err
		}
		if line == "." {
			return out, nil
		}
		out = append(out, strings.TrimPrefix(line, "."))
	}
}

// busyCode reports the RFC 2449 §8.1 / RFC 3206 response codes that mean
// "not now" rather than "no".
func busyCode(line string) bool {
	u := strings.ToUpper(line)
	return strings.HasPrefix(u, "-ERR [IN-USE]") || strings.HasPrefix(u, "-ERR [SYS/TEMP]") ||
		strings.HasPrefix(u, "-ERR [LOGIN-DELAY]")
}

// greet reads the greeting; a "-ERR" greeting refuses the session, which
// servers do when overloaded (RFC 1939 §4 allows only +OK).
func (d *pop3Dialogue) greet(ctx context.Context) (string, Caps, bool, error) {
	if err := d.w.deadline(ctx); err != nil {
		return "", Caps{}, false, err
	}
	ok, line, err := pop3Status(d.w)
	if err != nil {
		return line, Caps{}, false, err
	}
	if !ok {
		return line, Caps{}, false, &ReplyError{Reply: line, Busy: true}
	}
	return line, Caps{}, false, nil
}

// capabilities issues CAPA. "-ERR" means the server predates RFC 2449: it
// announces nothing, which is not an error.
func (d *pop3Dialogue) capabilities(ctx context.Context) (Caps, error) {
	if err := d.w.writeLine(ctx, "CAPA", ""); err != nil {
		return Caps{}, &StepError{Step: "CAPA", Err: err}
	}
	ok, line, err := pop3Status(d.w)
	if err != nil {
		return Caps{}, &StepError{Step: "CAPA", Err: err}
	}
	if !ok {
		if busyCode(line) {
			return Caps{}, &StepError{Step: "CAPA", Err: &ReplyError{Reply: line, Busy: true}}
		}
		return Caps{}, nil
	}
	lines, err := readPOP3Multiline(d.w)
	if err != nil {
		return ParsePOP3Capa(lines), &StepError{Step: "CAPA", Err: err}
	}
	return ParsePOP3Capa(lines), nil
}

func (d *pop3Dialogue) offersTLS(c Caps) bool { return c.Has("STLS") }

func (d *pop3Dialogue) startTLS(ctx context.Context) error {
	if err := d.w.writeLine(ctx, "STLS", ""); err != nil {
		return err
	}
	ok, line, err := pop3Status(d.w)
	if err != nil {
		return err
	}
	if !ok {
		return &ReplyError{Reply: line, Busy: busyCode(line)}
	}
	return nil
}

// mechanisms lists the SASL capability's mechanisms (RFC 2449 §6.3) and
// "USER" when USER/PASS, which sends the password as is, is announced
// (RFC 2449 §6.2).
func (d *pop3Dialogue) mechanisms(c Caps) []string {
	out := append([]string(nil), c.Params("SASL")...)
	if c.Has("USER") {
		out = appendUnique(out, "USER")
	}
	return out
}

func (d *pop3Dialogue) quit(ctx context.Context) {
	if err := d.w.writeLine(ctx, "QUIT", ""); err != nil {
		return
	}
	if _, _, err := pop3Status(d.w); err != nil {
		d.w.note("QUIT: %v", err)
	}
}
