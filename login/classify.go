package login

import (
	"errors"
	"strconv"
	"strings"

	"github.com/mailcheck-cli/mailcheck/probe"
)

// Outcome IDs of a login attempt.
const (
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

// Classify maps a refusal to a login.* finding ID. The protocol's codes
// decide; the reply text only narrows a credentials refusal down to its
// provider-specific cause (an application password required, password
// logins turned off), for which no standard code exists. secure says
// whether the refused attempt ran over TLS.
func Classify(r Refusal, secure bool) (id, why string) {
	switch r.Protocol {
	case "smtp":
		return classifySMTP(r, secure)
	case "imap":
		return classifyIMAP(r, secure)
	case "pop3":
		return classifyPOP3(r, secure)
	}
	return IDAuthFailed, "the server refused the login"
}

func classifySMTP(r Refusal, secure bool) (string, string) {
	switch {
	case r.Enhanced == "5.7.139":
		// Microsoft's code for SMTP AUTH turned off for the mailbox or
		// tenant (basic authentication disabled).
		return IDBasicAuthDisabled, "SMTP AUTH with a password is disabled (5.7.139)"
	case r.SMTPCode == 534 && r.Enhanced == "5.7.9":
		// RFC 4954 §6: "authentication mechanism is too weak"; Google
		// and Yahoo send it when an application password is required.
		return IDAppPasswordRequired, "the server refuses the account password (534 5.7.9): an application-specific password is required"
	case r.SMTPCode == 534 && r.Enhanced == "5.7.14":
		// Google: sign-in blocked until the user logs in on the web, or
		// for apps that do not use OAuth2.
		return IDBasicAuthDisabled, "the provider blocks this sign-in (534 5.7.14): it wants a web sign-in or OAuth2"
	case r.SMTPCode == 530 && r.Enhanced == "5.7.0" && !secure,
		r.SMTPCode == 538, r.Enhanced == "5.7.11":
		// RFC 3207 §4 (530 5.7.0 before STARTTLS), RFC 4954 §6 (538
		// 5.7.11 encryption required for the mechanism).
		return IDTLSRequired, "the server wants TLS before the login"
	case r.SMTPCode == 454, r.SMTPCode == 421, r.SMTPCode/100 == 4:
		// RFC 4954 §6: 454 4.7.0 temporary authentication failure.
		return IDTemporaryFailure, "the server failed the login temporarily"
	}
	return refineByText(IDAuthFailed, "the server rejected the user name or password", r.Text)
}

func classifyIMAP(r Refusal, secure bool) (string, string) {
	switch r.Code {
	case "PRIVACYREQUIRED":
		// RFC 5530 §3: the operation is not permitted without TLS.
		return IDTLSRequired, "the server refuses the login without TLS ([PRIVACYREQUIRED])"
	case "UNAVAILABLE":
		// RFC 5530 §3: a temporary failure; try again later.
		return IDTemporaryFailure, "the authentication service is temporarily unavailable ([UNAVAILABLE])"
	case "EXPIRED":
		return IDAuthFailed, "the password has expired ([EXPIRED])"
	case "CONTACTADMIN":
		return IDAuthFailed, "the account needs the administrator ([CONTACTADMIN])"
	case "AUTHENTICATIONFAILED", "AUTHORIZATIONFAILED":
		return refineByText(IDAuthFailed, "the server rejected the user name or password (["+r.Code+"])", r.Text)
	}
	if !secure && r.Status == "NO" && mentionsTLS(r.Text) {
		return IDTLSRequired, "the server refuses the login without TLS"
	}
	return refineByText(IDAuthFailed, "the server refused the login", r.Text)
}

func classifyPOP3(r Refusal, secure bool) (string, string) {
	switch r.Code {
	case "SYS/TEMP", "IN-USE", "LOGIN-DELAY":
		// RFC 3206 §4, RFC 2449 §8.1: not now, rather than no.
		return IDTemporaryFailure, "the server failed the login temporarily ([" + r.Code + "])"
	case "SYS/PERM":
		// RFC 3206 §4: a permanent server-side error; the credentials
		// were not judged.
		return IDTemporaryFailure, "the server reports a system error ([SYS/PERM]): contact the provider"
	}
	if !secure && mentionsTLS(r.Text) {
		// RFC 3206 §4: [AUTH] before STLS on a server that wants TLS.
		return IDTLSRequired, "the server refuses the login before STLS"
	}
	why := "the server rejected the user name or password"
	if r.Code == "AUTH" {
		why += " ([AUTH])"
	}
	return refineByText(IDAuthFailed, why, r.Text)
}

// refineByText narrows a credentials refusal by the provider's words.
func refineByText(id, why, text string) (string, string) {
	t := strings.ToLower(text)
	switch {
	case strings.Contains(t, "application-specific password"), strings.Contains(t, "app-specific password"),
		strings.Contains(t, "app password"), strings.Contains(t, "application password"),
		strings.Contains(t, "invalidsecondfactor"):
		return IDAppPasswordRequired, "the provider refuses the account password and asks for an application-specific password"
	case strings.Contains(t, "basic auth"), strings.Contains(t, "basicauthblocked"),
		strings.Contains(t, "web browser"), strings.Contains(t, "web login"):
		return IDBasicAuthDisabled, "the provider has turned off password logins: OAuth2 is required"
	}
	return id, why
}

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
