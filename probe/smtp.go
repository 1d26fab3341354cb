package probe

import (
	"context"
	"errors"
	"strings"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// SMTPReply is one reply: a three-digit code and the text of each line.
type SMTPReply struct {
	Code  int
	Lines []string
}

func (r SMTPReply) String() string {
	if len(r.Lines) == 0 {
		return itoa3(r.Code)
	}
	return itoa3(r.Code) + " " + strings.Join(r.Lines, " / ")
}

func itoa3(n int) string {
	return string([]byte{byte('0' + n/100%10), byte('0' + n/10%10), byte('0' + n%10)})
}

// lineSource is where replies are read from; the wire in practice.
type lineSource interface {
	readLine() (string, error)
}

// readSMTPReply reads one possibly multi-line reply: "ddd-text" lines
// followed by a "ddd text" (or bare "ddd") line, RFC 5321 §4.2.1. Every
// line must carry the same code; at most 100 lines are accepted.
func readSMTPReply(src lineSource) (SMTPReply, error) {
	var r SMTPReply
	for n := 0; ; n++ {
		if n == maxReplyLines {
			return r, ErrTooManyLines
		}
		line, err := src.readLine()
		if err != nil {
			return r, err
		}
		code, more, text, ok := parseSMTPLine(line)
		if !ok {
			return r, &ProtocolError{Reason: finding.T("not an SMTP reply line"), Got: line}
		}
		if n == 0 {
			r.Code = code
		} else if code != r.Code {
			return r, &ProtocolError{Reason: finding.T("reply code changed inside a multi-line reply"), Got: line}
		}
		r.Lines = append(r.Lines, text)
		if !more {
			return r, nil
		}
	}
}

// parseSMTPLine splits "250-text", "250 text" or "250". RFC 5321 §4.2:
// the first digit is 2-5, the second 0-5; anything else is not SMTP.
func parseSMTPLine(line string) (code int, more bool, text string, ok bool) {
	if len(line) < 3 {
		return 0, false, "", false
	}
	d0, d1, d2 := line[0], line[1], line[2]
	if d0 < '2' || d0 > '5' || d1 < '0' || d1 > '5' || d2 < '0' || d2 > '9' {
		return 0, false, "", false
	}
	code = int(d0-'0')*100 + int(d1-'0')*10 + int(d2-'0')
	if len(line) == 3 {
		return code, false, "", true
	}
	switch line[3] {
	case '-':
		return code, true, line[4:], true
	case ' ':
		return code, false, line[4:], true
	}
	return 0, false, "", false
}

// smtpDialogue speaks SMTP (RFC 5321) up to and including STARTTLS
// (RFC 3207) and AUTH discovery (RFC 4954).
type smtpDialogue struct {
	w        *wire
	ehloName string
	// helo is set when the server refused EHLO and HELO was used: such a
	// server announces no extensions at all.
	helo bool
}

// cmd sends a command and reads its reply within one step.
func (d *smtpDialogue) cmd(ctx context.Context, line, shown string) (SMTPReply, error) {
	if err := d.w.writeLine(ctx, line, shown); err != nil {
		return SMTPReply{}, err
	}
	return readSMTPReply(d.w)
}

func (d *smtpDialogue) greet(ctx context.Context) (string, Caps, bool, error) {
	if err := d.w.deadline(ctx); err != nil {
		return "", Caps{}, false, err
	}
	r, err := readSMTPReply(d.w)
	banner := strings.Join(prefixLines(r), "\n")
	if err != nil {
		return banner, Caps{}, false, err
	}
	switch {
	case r.Code == 220:
		return banner, Caps{}, false, nil
	case r.Code/100 == 4:
		// RFC 5321 §3.1: 421 (or another 4yz) means "try again later".
		return banner, Caps{}, false, &ReplyError{Reply: r.String(), Code: r.Code, Busy: true}
	default:
		// 554 is "no SMTP service here" (RFC 5321 §3.1); anything else
		// is not a greeting at all.
		return banner, Caps{}, false, &ReplyError{Reply: r.String(), Code: r.Code}
	}
}

func prefixLines(r SMTPReply) []string {
	out := make([]string, len(r.Lines))
	for i, l := range r.Lines {
		sep := "-"
		if i == len(r.Lines)-1 {
			sep = " "
		}
		out[i] = itoa3(r.Code) + sep + l
	}
	return out
}

// capabilities sends EHLO and parses the extensions; a server that rejects
// EHLO with 500/502 (RFC 5321 §4.1.4) gets HELO and has no extensions.
func (d *smtpDialogue) capabilities(ctx context.Context) (Caps, error) {
	r, err := d.cmd(ctx, "EHLO "+d.ehloName, "")
	if err != nil {
		return Caps{}, &StepError{Step: "EHLO", Err: err}
	}
	switch {
	case r.Code == 250:
		return ParseEHLO(r.Lines), nil
	case r.Code == 421:
		return Caps{}, &StepError{Step: "EHLO", Err: &ReplyError{Reply: r.String(), Code: r.Code, Busy: true}}
	case r.Code == 500 || r.Code == 502 || r.Code == 504:
		d.helo = true
		r, err = d.cmd(ctx, "HELO "+d.ehloName, "")
		if err != nil {
			return Caps{}, &StepError{Step: "HELO", Err: err}
		}
		if r.Code != 250 {
			return Caps{}, &StepError{Step: "HELO", Err: &ReplyError{Reply: r.String(), Code: r.Code, Busy: r.Code == 421}}
		}
		return Caps{}, nil
	}
	return Caps{}, &StepError{Step: "EHLO", Err: &ReplyError{Reply: r.String(), Code: r.Code}}
}

func (d *smtpDialogue) offersTLS(c Caps) bool { return c.Has("STARTTLS") }

func (d *smtpDialogue) startTLS(ctx context.Context) error {
	r, err := d.cmd(ctx, "STARTTLS", "")
	if err != nil {
		return err
	}
	if r.Code != 220 {
		// RFC 3207 §4 calls 454 temporary, but in practice it reports a
		// server without a usable certificate: not treated as busy.
		return &ReplyError{Reply: r.String(), Code: r.Code, Busy: r.Code == 421}
	}
	return nil
}

// mechanisms are the SASL mechanisms of the AUTH keyword (RFC 4954 §3).
func (d *smtpDialogue) mechanisms(c Caps) []string { return c.Params("AUTH") }

func (d *smtpDialogue) quit(ctx context.Context) {
	if _, err := d.cmd(ctx, "QUIT", ""); err != nil && !errors.Is(err, context.Canceled) {
		d.w.note("QUIT: %v", err)
	}
}
