package probe

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"

	"github.com/emersion/go-sasl"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// redacted replaces credentials in transcripts.
const redacted = "<redacted>"

// ErrNotSecure is returned by Authenticate on a plaintext session unless
// the caller insists: a probe must never be the one that sends a password
// in clear.
var ErrNotSecure = errors.New("refusing to authenticate before TLS")

// Authenticate runs one SASL exchange (go-sasl supplies the mechanism):
// SMTP AUTH (RFC 4954 §4), IMAP AUTHENTICATE (RFC 9051 §6.2.2, with an
// initial response when SASL-IR is announced, RFC 4959) or POP3 AUTH
// (RFC 5034 §4). Every client line of the exchange is redacted in the
// transcript. A refusal is a *ReplyError carrying the server's reply (and
// SMTP code), which callers classify (535 5.7.8, [AUTHENTICATIONFAILED],
// 534 5.7.9 application-specific password required ...). On a session
// without TLS it returns ErrNotSecure unless allowPlaintext is set.
func (s *Session) Authenticate(ctx context.Context, c sasl.Client, allowPlaintext bool) error {
	if s.d == nil || s.w == nil {
		return errors.New("no session")
	}
	if s.TLS == nil && !allowPlaintext {
		return ErrNotSecure
	}
	mech, ir, err := c.Start()
	if err != nil {
		return err
	}
	switch d := s.d.(type) {
	case *smtpDialogue:
		err = d.authenticate(ctx, c, mech, ir)
	case *imapDialogue:
		err = d.authenticate(ctx, c, mech, ir, s.Caps().Has("SASL-IR"))
	case *pop3Dialogue:
		err = d.authenticate(ctx, c, mech, ir)
	default:
		err = errors.New("authentication is not supported for " + s.Target.Protocol)
	}
	if err != nil {
		return &StepError{Step: "AUTH " + mech, Err: err}
	}
	return nil
}

// encodeIR encodes an initial response; an empty one is "=" (RFC 4954 §4,
// RFC 4959 §3, RFC 5034 §4).
func encodeIR(ir []byte) string {
	if len(ir) == 0 {
		return "="
	}
	return base64.StdEncoding.EncodeToString(ir)
}

// respond answers one server challenge with the mechanism's next
// response, redacted in the transcript. A challenge that is not base64
// makes the client cancel the exchange with "*" (RFC 4954 §4).
func respond(ctx context.Context, w *wire, c sasl.Client, challenge string) error {
	ch, err := base64.StdEncoding.DecodeString(strings.TrimSpace(challenge))
	if err != nil {
		_ = w.writeLine(ctx, "*", "")
		return &ProtocolError{Reason: finding.T("SASL challenge is not base64"), Got: challenge}
	}
	resp, err := c.Next(ch)
	if err != nil {
		_ = w.writeLine(ctx, "*", "")
		return err
	}
	return w.writeLine(ctx, base64.StdEncoding.EncodeToString(resp), redacted)
}

func (d *smtpDialogue) authenticate(ctx context.Context, c sasl.Client, mech string, ir []byte) error {
	cmd := "AUTH " + mech
	if ir != nil {
		cmd += " " + encodeIR(ir)
	}
	if err := d.w.writeLine(ctx, cmd, "AUTH "+mech+" "+redacted); err != nil {
		return err
	}
	for range maxReplyLines {
		r, err := readSMTPReply(d.w)
		if err != nil {
			return err
		}
		switch {
		case r.Code == 235:
			return nil
		case r.Code == 334:
			if err := respond(ctx, d.w, c, strings.Join(r.Lines, "")); err != nil {
				return err
			}
		default:
			return &ReplyError{Reply: r.String(), Code: r.Code, Busy: r.Code == 421}
		}
	}
	return ErrTooManyLines
}

func (d *imapDialogue) authenticate(ctx context.Context, c sasl.Client, mech string, ir []byte, saslIR bool) error {
	d.tag++
	tag := "a" + strconv.Itoa(d.tag)
	cmd := tag + " AUTHENTICATE " + mech
	if ir != nil && saslIR {
		cmd += " " + encodeIR(ir)
		ir = nil
	}
	if err := d.w.writeLine(ctx, cmd, tag+" AUTHENTICATE "+mech+" "+redacted); err != nil {
		return err
	}
	for range maxReplyLines {
		line, err := readIMAPLine(d.w)
		if err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(line, "+"):
			if ir != nil {
				// No SASL-IR: the initial response answers the first,
				// empty, continuation (RFC 9051 §6.2.2).
				if err := d.w.writeLine(ctx, encodeIR(ir), redacted); err != nil {
					return err
				}
				ir = nil
				continue
			}
			if err := respond(ctx, d.w, c, strings.TrimPrefix(line, "+")); err != nil {
				return err
			}
		case strings.HasPrefix(line, tag+" "):
			status, _, _ := strings.Cut(line[len(tag)+1:], " ")
			if strings.EqualFold(status, "OK") {
				return nil
			}
			return &ReplyError{Reply: line}
		case strings.HasPrefix(line, "* "):
		default:
			return &ProtocolError{Reason: finding.T("not an IMAP response line"), Got: line}
		}
	}
	return ErrTooManyLines
}

func (d *pop3Dialogue) authenticate(ctx context.Context, c sasl.Client, mech string, ir []byte) error {
	cmd := "AUTH " + mech
	if ir != nil {
		cmd += " " + encodeIR(ir)
	}
	if err := d.w.writeLine(ctx, cmd, "AUTH "+mech+" "+redacted); err != nil {
		return err
	}
	for range maxReplyLines {
		line, err := d.w.readLine()
		if err != nil {
			return err
		}
		switch {
		case line == "+OK" || strings.HasPrefix(line, "+OK "):
			return nil
		case line == "-ERR" || strings.HasPrefix(line, "-ERR "):
			return &ReplyError{Reply: line, Busy: busyCode(line)}
		case strings.HasPrefix(line, "+"):
			if err := respond(ctx, d.w, c, strings.TrimPrefix(line, "+")); err != nil {
				return err
			}
		default:
			return &ProtocolError{Reason: finding.T("not a POP3 reply"), Got: line}
		}
	}
	return ErrTooManyLines
}

// SASLMechanisms returns the SASL mechanisms of the current capability
// set alone, without the IMAP LOGIN and POP3 USER commands that
// Mechanisms also lists.
func (s *Session) SASLMechanisms() []string {
	c := s.Caps()
	switch s.d.(type) {
	case *smtpDialogue:
		return c.Params("AUTH")
	case *imapDialogue:
		var out []string
		for _, k := range c.keys {
			if m, ok := strings.CutPrefix(k, "AUTH="); ok && m != "" {
				out = appendUnique(out, m)
			}
		}
		return out
	case *pop3Dialogue:
		return c.Params("SASL")
	}
	return nil
}

// Login uses the protocol's own password command: IMAP LOGIN (RFC 9051
// §6.2.3) or POP3 USER/PASS (RFC 1939 §7). SMTP has none: use
// Authenticate. The same TLS rule and redaction as Authenticate apply.
func (s *Session) Login(ctx context.Context, user, password string, allowPlaintext bool) error {
	if s.d == nil || s.w == nil {
		return errors.New("no session")
	}
	if s.TLS == nil && !allowPlaintext {
		return ErrNotSecure
	}
	var err error
	switch d := s.d.(type) {
	case *imapDialogue:
		var qu, qp string
		qu, err = imapQuoted(user)
		if err == nil {
			qp, err = imapQuoted(password)
		}
		if err == nil {
			_, err = d.command(ctx, "LOGIN "+qu+" "+qp, "LOGIN "+redacted)
		}
	case *pop3Dialogue:
		err = d.userPass(ctx, user, password)
	default:
		err = errors.New(s.Target.Protocol + " has no LOGIN command; use Authenticate")
	}
	if err != nil {
		return &StepError{Step: "LOGIN", Err: err}
	}
	return nil
}

// imapQuoted renders s as an IMAP quoted string (RFC 9051 §4.3). Strings
// a quoted string cannot carry (CR, LF, NUL, non-ASCII) are refused rather
// than sent as literals: AUTHENTICATE PLAIN carries them.
func imapQuoted(s string) (string, error) {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == 0 || ch == '\r' || ch == '\n' || ch >= 0x80:
			return "", errors.New("the user name or password needs AUTHENTICATE PLAIN (characters a quoted string cannot carry)")
		case ch == '"' || ch == '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(ch)
	}
	b.WriteByte('"')
	return b.String(), nil
}

func (d *pop3Dialogue) userPass(ctx context.Context, user, password string) error {
	for _, cmd := range [][2]string{{"USER " + user, "USER " + redacted}, {"PASS " + password, "PASS " + redacted}} {
		if err := d.w.writeLine(ctx, cmd[0], cmd[1]); err != nil {
			return err
		}
		ok, line, err := pop3Status(d.w)
		if err != nil {
			return err
		}
		if !ok {
			return &ReplyError{Reply: line, Busy: busyCode(line)}
		}
	}
	return nil
}
