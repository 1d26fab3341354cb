package probe

import (
	"context"
	"strconv"
	"strings"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// imapDialogue speaks IMAP4rev1/rev2 (RFC 3501, RFC 9051) up to and
// including STARTTLS and capability discovery.
type imapDialogue struct {
	w   *wire
	tag int
}

// IMAPResponse is what one command produced: the untagged lines and the
// tagged completion line.
type IMAPResponse struct {
	Untagged []string
	Tagged   string // "a1 OK done"
	Status   string // OK, NO or BAD
}

// literalSize returns n when line ends with an IMAP literal announcement
// "{n}" or "{n+}" (RFC 3501 §4.3, RFC 7888).
func literalSize(line string) (int64, bool) {
	if !strings.HasSuffix(line, "}") {
		return 0, false
	}
	open := strings.LastIndexByte(line, '{')
	if open < 0 {
		return 0, false
	}
	num := strings.TrimSuffix(line[open+1:len(line)-1], "+")
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// readIMAPLine reads one response line, skipping any literals inside it so
// that a literal's content is never mistaken for a response.
func readIMAPLine(w *wire) (string, error) {
	line, err := w.readLine()
	if err != nil {
		return line, err
	}
	for i := 0; ; i++ {
		n, ok := literalSize(line)
		if !ok {
			return line, nil
		}
		if i == maxReplyLines {
			return line, ErrTooManyLines
		}
		if err := w.skip(n); err != nil {
			return line, err
		}
		rest, err := w.readLine()
		if err != nil {
			return line, err
		}
		line += " " + rest
		if len(line) > maxLineBytes*4 {
			return line[:maxLineBytes], ErrLineTooLong
		}
	}
}

// Command sends one tagged command and reads until its completion, within
// one step. shown replaces the arguments in the transcript when they carry
// credentials. At most 100 untagged lines are accepted.
func (d *imapDialogue) command(ctx context.Context, cmd, shown string) (IMAPResponse, error) {
	d.tag++
	tag := "a" + strconv.Itoa(d.tag)
	if shown != "" {
		shown = tag + " " + shown
	}
	if err := d.w.writeLine(ctx, tag+" "+cmd, shown); err != nil {
		return IMAPResponse{}, err
	}
	var resp IMAPResponse
	for n := 0; ; n++ {
		if n == maxReplyLines {
			return resp, ErrTooManyLines
		}
		line, err := readIMAPLine(d.w)
		if err != nil {
			return resp, err
		}
		if rest, ok := strings.CutPrefix(line, tag+" "); ok {
			resp.Tagged = line
			status, _, _ := strings.Cut(rest, " ")
			resp.Status = strings.ToUpper(status)
			switch resp.Status {
			case "OK":
				return resp, nil
			case "NO", "BAD":
				return resp, &ReplyError{Reply: line}
			}
			return resp, &ProtocolError{Reason: finding.T("tagged response is not OK, NO or BAD"), Got: line}
		}
		if !strings.HasPrefix(line, "* ") && !strings.HasPrefix(line, "+") {
			return resp, &ProtocolError{Reason: finding.T("not an IMAP response line"), Got: line}
		}
		resp.Untagged = append(resp.Untagged, line)
	}
}

// greet reads the greeting, RFC 9051 §7.1: "* OK", "* PREAUTH" or "* BYE"
// (the server refuses this connection; busy, RFC 9051 §7.1.5). A greeting
// may carry the capabilities in a response code, saving a round trip.
func (d *imapDialogue) greet(ctx context.Context) (string, Caps, bool, error) {
	if err := d.w.deadline(ctx); err != nil {
		return "", Caps{}, false, err
	}
	line, err := readIMAPLine(d.w)
	if err != nil {
		return line, Caps{}, false, err
	}
	fields := strings.SplitN(line, " ", 3)
	if len(fields) < 2 || fields[0] != "*" {
		return line, Caps{}, false, &ProtocolError{Reason: finding.T("not an IMAP greeting"), Got: line}
	}
	switch strings.ToUpper(fields[1]) {
	case "OK", "PREAUTH":
		caps, ok := ParseIMAPCapability(line)
		return line, caps, ok, nil
	case "BYE":
		return line, Caps{}, false, &ReplyError{Reply: line, Busy: true}
	}
	return line, Caps{}, false, &ProtocolError{Reason: finding.T("not an IMAP greeting"), Got: line}
}

// capabilities issues CAPABILITY (RFC 9051 §6.1.1). The tagged OK may
// carry a [CAPABILITY] code as well; both are merged.
func (d *imapDialogue) capabilities(ctx context.Context) (Caps, error) {
	resp, err := d.command(ctx, "CAPABILITY", "")
	if err != nil {
		return Caps{}, &StepError{Step: "CAPABILITY", Err: err}
	}
	var caps Caps
	for _, l := range append(resp.Untagged, resp.Tagged) {
		if c, ok := ParseIMAPCapability(l); ok {
			for _, k := range c.keys {
				caps.add(k)
			}
		}
	}
	return caps, nil
}

func (d *imapDialogue) offersTLS(c Caps) bool { return c.Has("STARTTLS") }

// startTLS: RFC 9051 §6.2.1; the OK is the go-ahead for the handshake.
func (d *imapDialogue) startTLS(ctx context.Context) error {
	_, err := d.command(ctx, "STARTTLS", "")
	return err
}

// mechanisms lists the AUTH= capabilities (RFC 9051 §6.2.2) and, unless
// LOGINDISABLED is announced, "LOGIN" for the LOGIN command, which sends
// the password as is (RFC 9051 §6.2.3).
func (d *imapDialogue) mechanisms(c Caps) []string {
	var out []string
	for _, k := range c.keys {
		if m, ok := strings.CutPrefix(k, "AUTH="); ok && m != "" {
			out = appendUnique(out, m)
		}
	}
	if !c.Has("LOGINDISABLED") {
		out = appendUnique(out, "LOGIN")
	}
	return out
}

func (d *imapDialogue) quit(ctx context.Context) {
	if _, err := d.command(ctx, "LOGOUT", ""); err != nil {
		d.w.note("LOGOUT: %v", err)
	}
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
