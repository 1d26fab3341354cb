package login

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/probe"
)

// Outcome IDs of a login attempt.
const (
	IDAccountLocked       = "login.account-locked"
	IDAccessDisabled      = "login.access-disabled"
	IDOK                  = "login.ok"
	IDAuthFailed          = "login.auth-failed"
	IDAppPasswordRequired = "login.app-password-required"
	IDBasicAuthDisabled   = "login.basic-auth-disabled"
	IDTLSRequired         = "login.tls-required"
	IDTemporaryFailure    = "login.temporary-failure"
)

// Refusal is a server's refusal of a login, reduced to the codes its
// protocol defines for it.
type Refusal struct {
	Protocol string // smtp, imap or pop3
	Reply    string // as received, first lines
	// SMTPCode and Enhanced: RFC 5321 §4.2 reply code and RFC 3463
	// enhanced status code ("5.7.8"), as RFC 4954 §6 uses them.
	SMTPCode int
	Enhanced string
	// Status is IMAP's NO or BAD; Code the response code in brackets,
	// RFC 5530 (AUTHENTICATIONFAILED, PRIVACYREQUIRED, UNAVAILABLE...)
	// for IMAP, RFC 2449 §8 / RFC 3206 (AUTH, SYS/TEMP, IN-USE...) for
	// POP3.
	Status string
	Code   string
	// Text is the human-readable rest of the reply.
	Text string
}

// ParseRefusal reads the codes out of a refused login's reply. protocol
// is smtp, imap or pop3 (the probe's smtps/imaps/pop3s/submission are
// accepted too).
func ParseRefusal(protocol string, re *probe.ReplyError) Refusal {
	r := Refusal{Protocol: family(protocol), Reply: re.Reply, SMTPCode: re.Code}
	switch r.Protocol {
	case "smtp":
		// "535 5.7.8 text / 5.7.8 more": the code, then each line's text.
		rest := re.Reply
		if len(rest) >= 3 {
			if c, err := strconv.Atoi(rest[:3]); err == nil && r.SMTPCode == 0 {
				r.SMTPCode = c
			}
			rest = strings.TrimSpace(rest[3:])
		}
		var texts []string
		for _, line := range strings.Split(rest, " / ") {
			code, text := cutEnhanced(line)
			if r.Enhanced == "" {
				r.Enhanced = code
			}
			texts = append(texts, text)
		}
		r.Text = strings.Join(texts, " ")
	case "imap":
		// "a3 NO [AUTHENTICATIONFAILED] text" (RFC 9051 §7.1).
		fields := strings.SplitN(re.Reply, " ", 3)
		if len(fields) >= 2 {
			r.Status = strings.ToUpper(fields[1])
		}
		if len(fields) == 3 {
			r.Code, r.Text = cutBracketCode(fields[2])
		}
	case "pop3":
		// "-ERR [AUTH] text" (RFC 2449 §8).
		rest := strings.TrimSpace(strings.TrimPrefix(re.Reply, "-ERR"))
		r.Status = "-ERR"
		r.Code, r.Text = cutBracketCode(rest)
	}
	return r
}

func family(protocol string) string {
	switch protocol {
	case "smtp", "smtps", "submission":
		return "smtp"
	case "imap", "imaps":
		return "imap"
	case "pop3", "pop3s":
		return "pop3"
	}
	return protocol
}

// cutEnhanced splits "5.7.8 text" into the RFC 3463 code and the text:
// class 2, 4 or 5, then 1-3 digit subject and detail.
func cutEnhanced(s string) (code, text string) {
	s = strings.TrimSpace(s)
	head, rest, _ := strings.Cut(s, " ")
	parts := strings.Split(head, ".")
	if len(parts) != 3 || (parts[0] != "2" && parts[0] != "4" && parts[0] != "5") {
		return "", s
	}
	for _, p := range parts[1:] {
		if len(p) < 1 || len(p) > 3 {
			return "", s
		}
		if _, err := strconv.Atoi(p); err != nil {
			return "", s
		}
	}
	return head, rest
}

// cutBracketCode splits "[CODE args] text" into the upper-case code atom
// and the text.
func cutBracketCode(s string) (code, text string) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "[") {
		return "", s
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return "", s
	}
	inner := s[1:end]
	atom, _, _ := strings.Cut(inner, " ")
	return strings.ToUpper(atom), strings.TrimSpace(s[end+1:])
}

// Classify maps a refusal to a login.* finding ID and says why, for an
// address whose provider is not known. See ClassifyFor.
func Classify(r Refusal, secure bool) (id string, why finding.Text) {
	return ClassifyFor(r, secure, "")
}

// loginOutcomes are the findings a refused login can end in.
var loginOutcomes = []string{IDAuthFailed, IDAppPasswordRequired, IDBasicAuthDisabled, IDTLSRequired,
	IDTemporaryFailure, IDAccountLocked, IDAccessDisabled}

// ClassifyFor maps a refusal to a login.* finding ID and says why. The
// protocol's codes give the class (credentials refused, TLS required,
// temporary failure); the reply is then read by the same engine as
// `mailcheck explain` (finding.Diagnose), whose evidence — a provider's
// own code, a standard code naming the cause, a wording — names the cause
// within or beyond that class: an application password, password logins
// or the protocol switched off, a locked account. provider is the key of
// the address's provider, "" when none is known. secure says whether the
// refused attempt ran over TLS.
func ClassifyFor(r Refusal, secure bool, provider string) (id string, why finding.Text) {
	switch r.Protocol {
	case "smtp":
		id, why = classifySMTP(r, secure)
	case "imap":
		id, why = classifyIMAP(r, secure)
	case "pop3":
		id, why = classifyPOP3(r, secure)
	default:
		id, why = IDAuthFailed, finding.T("the server refused the login")
	}
	if id == IDTLSRequired && !secure {
		// The protocol state decides: no wording outranks a refusal of
		// a login attempted without TLS on a server that wants it.
		return id, why
	}
	for _, c := range finding.DiagnoseFor(r.Reply, provider).Candidates {
		if c.Strength <= finding.Hint || !slices.Contains(loginOutcomes, c.Entry.ID) {
			continue
		}
		if c.Entry.ID == id {
			return id, why
		}
		return c.Entry.ID, finding.T("the reply says so (%s): %s", c.Matched, finding.CatalogueTitle(c.Entry.ID))
	}
	return id, why
}

func classifySMTP(r Refusal, secure bool) (string, finding.Text) {
	switch {
	case r.SMTPCode == 530 && r.Enhanced == "5.7.0" && !secure,
		r.SMTPCode == 538, r.Enhanced == "5.7.11":
		// RFC 3207 §4 (530 5.7.0 before STARTTLS), RFC 4954 §6 (538
		// 5.7.11 encryption required for the mechanism).
		return IDTLSRequired, finding.T("the server wants TLS before the login")
	case r.SMTPCode == 454, r.SMTPCode == 421, r.SMTPCode/100 == 4:
		// RFC 4954 §6: 454 4.7.0 temporary authentication failure.
		return IDTemporaryFailure, finding.T("the server failed the login temporarily (%d %s)", r.SMTPCode, r.Enhanced)
	}
	return IDAuthFailed, finding.T("the server rejected the user name or password (%d %s)", r.SMTPCode, r.Enhanced)
}

func classifyIMAP(r Refusal, secure bool) (string, finding.Text) {
	switch r.Code {
	case "PRIVACYREQUIRED":
		// RFC 5530 §3: the operation is not permitted without TLS.
		return IDTLSRequired, finding.T("the server refuses the login without TLS ([PRIVACYREQUIRED])")
	case "UNAVAILABLE":
		// RFC 5530 §3: a temporary failure; try again later.
		return IDTemporaryFailure, finding.T("the authentication service is temporarily unavailable ([UNAVAILABLE])")
	case "EXPIRED":
		return IDAuthFailed, finding.T("the password has expired ([EXPIRED])")
	case "CONTACTADMIN":
		return IDAuthFailed, finding.T("the account needs the administrator ([CONTACTADMIN])")
	case "AUTHENTICATIONFAILED", "AUTHORIZATIONFAILED":
		return IDAuthFailed, finding.T("the server rejected the user name or password ([%s])", r.Code)
	}
	if !secure && r.Status == "NO" && mentionsTLS(r.Text) {
		return IDTLSRequired, finding.T("the server refuses the login without TLS")
	}
	return IDAuthFailed, finding.T("the server refused the login")
}

func classifyPOP3(r Refusal, secure bool) (string, finding.Text) {
	switch r.Code {
	case "SYS/TEMP", "IN-USE", "LOGIN-DELAY":
		// RFC 3206 §4, RFC 2449 §8.1: not now, rather than no.
		return IDTemporaryFailure, finding.T("the server failed the login temporarily ([%s])", r.Code)
	case "SYS/PERM":
		// RFC 3206 §4: a permanent server-side error; the credentials
		// were not judged.
		return IDTemporaryFailure, finding.T("the server reports a system error ([SYS/PERM]): contact the provider")
	}
	if !secure && mentionsTLS(r.Text) {
		// RFC 3206 §4: [AUTH] before STLS on a server that wants TLS.
		return IDTLSRequired, finding.T("the server refuses the login before STLS")
	}
	return IDAuthFailed, finding.T("the server rejected the user name or password")
}

// mentionsTLS: a refusal before TLS that speaks of encryption is a
// refusal for want of TLS, whatever its code.
func mentionsTLS(text string) bool {
	t := strings.ToLower(text)
	for _, w := range []string{"tls", "ssl", "stls", "starttls", "encrypt", "plaintext", "secure connection"} {
		if strings.Contains(t, w) {
			return true
		}
	}
	return false
}

// refusalOf finds the server's refusal in a login error.
func refusalOf(protocol string, err error) (Refusal, bool) {
	var re *probe.ReplyError
	if !errors.As(err, &re) {
		return Refusal{}, false
	}
	return ParseRefusal(protocol, re), true
}
