package login

import (
	"testing"

	"github.com/mailcheck-cli/mailcheck/probe"
)

// Refusals as providers word them, classified by their protocol codes;
// the text decides only between kinds of credentials refusal.
func TestClassify(t *testing.T) {
	tests := []struct {
		name     string
		protocol string
		reply    string
		code     int
		secure   bool
		want     string
	}{
		{"smtp 535 5.7.8", "submission", "535 5.7.8 Authentication credentials invalid", 535, true, IDAuthFailed},
		{"smtp 535 no enhanced code", "smtps", "535 Incorrect authentication data", 535, true, IDAuthFailed},
		{"smtp google app password", "submission", "534 5.7.9 Application-specific password required. / 5.7.9 Learn more", 534, true, IDAppPasswordRequired},
		{"smtp microsoft 5.7.139", "submission", "535 5.7.139 Authentication unsuccessful, basic authentication is disabled.", 535, true, IDBasicAuthDisabled},
		{"smtp google web login", "submission", "534 5.7.14 <https://accounts.google.com/signin/continue> Please log in via your web browser", 534, true, IDBasicAuthDisabled},
		{"smtp starttls first", "submission", "530 5.7.0 Must issue a STARTTLS command first", 530, false, IDTLSRequired},
		{"smtp encryption required", "submission", "538 5.7.11 Encryption required for requested authentication mechanism", 538, false, IDTLSRequired},
		{"smtp temporary", "submission", "454 4.7.0 Temporary authentication failure", 454, true, IDTemporaryFailure},
		{"smtp 535 text says app password", "submission", "535 5.7.8 Application-specific password required", 535, true, IDAppPasswordRequired},
		{"imap authenticationfailed", "imaps", "a3 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)", 0, true, IDAuthFailed},
		{"imap app password in text", "imaps", "a3 NO [AUTHENTICATIONFAILED] Application-specific password required", 0, true, IDAppPasswordRequired},
		{"imap gmail alert", "imaps", "a3 NO [ALERT] Application-specific password required: https://support.google.com/accounts/answer/185833 (Failure)", 0, true, IDAppPasswordRequired},
		{"imap basic auth off", "imaps", "a3 NO [AUTHENTICATIONFAILED] Authentication failed: basic authentication is disabled", 0, true, IDBasicAuthDisabled},
		{"imap privacyrequired", "imap", "a2 NO [PRIVACYREQUIRED] TLS is required to log in", 0, false, IDTLSRequired},
		{"imap unavailable", "imaps", "a3 NO [UNAVAILABLE] Temporary authentication failure", 0, true, IDTemporaryFailure},
		{"imap expired", "imaps", "a3 NO [EXPIRED] Password expired", 0, true, IDAuthFailed},
		{"imap microsoft no code", "imaps", "a3 NO AUTHENTICATE failed.", 0, true, IDAuthFailed},
		{"imap plaintext refused without code", "imap", "a2 NO Plaintext authentication disallowed on non-secure (SSL/TLS) connections.", 0, false, IDTLSRequired},
		{"pop3 auth", "pop3s", "-ERR [AUTH] Invalid user name or password", 0, true, IDAuthFailed},
		{"pop3 auth before stls", "pop3", "-ERR [AUTH] Plaintext authentication disallowed on non-secure connections; issue STLS first", 0, false, IDTLSRequired},
		{"pop3 sys/temp, locked", "pop3s", "-ERR [SYS/TEMP] Temporary authentication failure: the account is locked", 0, true, IDAccountLocked},
		{"pop3 sys/temp", "pop3s", "-ERR [SYS/TEMP] Temporary authentication failure", 0, true, IDTemporaryFailure},
		{"yahoo too many bad attempts", "submission", "535 5.7.0 (#AUTH005) Too many bad auth attempts.", 535, true, IDAccountLocked},
		{"microsoft smtp auth off for the tenant", "submission", "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.", 535, true, IDAccessDisabled},
		{"microsoft 5.7.3", "submission", "535 5.7.3 Authentication unsuccessful [BN3PR03CA0067.namprd03.prod.outlook.com]", 535, true, IDAuthFailed},
		{"exchange imap login failed", "imaps", "a1 NO LOGIN failed.", 0, true, IDAccessDisabled},
		{"imap locked", "imaps", "a3 NO [UNAVAILABLE] Temporary authentication failure: the account is locked, try again later", 0, true, IDAccountLocked},
		{"google web login over plaintext is still tls-required", "submission", "530 5.7.0 Must issue a STARTTLS command first. x - gsmtp", 530, false, IDTLSRequired},
		{"pop3 in-use", "pop3s", "-ERR [IN-USE] Maildrop already locked", 0, true, IDTemporaryFailure},
		{"pop3 app password", "pop3s", "-ERR [AUTH] Application-specific password required", 0, true, IDAppPasswordRequired},
		{"pop3 no code", "pop3s", "-ERR invalid password", 0, true, IDAuthFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ParseRefusal(tt.protocol, &probe.ReplyError{Reply: tt.reply, Code: tt.code})
			got, why := Classify(r, tt.secure)
			if got != tt.want {
				t.Errorf("Classify(%+v) = %s (%s), want %s", r, got, why, tt.want)
			}
			if why.IsZero() {
				t.Error("no reason given")
			}
		})
	}
}

func TestParseRefusal(t *testing.T) {
	r := ParseRefusal("submission", &probe.ReplyError{Reply: "534 5.7.9 Application-specific password required. / 5.7.9 Learn more", Code: 534})
	if r.SMTPCode != 534 || r.Enhanced != "5.7.9" || r.Text != "Application-specific password required. Learn more" {
		t.Errorf("smtp: %+v", r)
	}
	r = ParseRefusal("imaps", &probe.ReplyError{Reply: "a3 NO [AUTHENTICATIONFAILED] Invalid credentials"})
	if r.Status != "NO" || r.Code != "AUTHENTICATIONFAILED" || r.Text != "Invalid credentials" {
		t.Errorf("imap: %+v", r)
	}
	r = ParseRefusal("pop3", &probe.ReplyError{Reply: "-ERR [SYS/TEMP] locked"})
	if r.Code != "SYS/TEMP" || r.Text != "locked" {
		t.Errorf("pop3: %+v", r)
	}
	// Not an enhanced code: 5.7 alone, a class of 3, a 4-digit subject.
	for _, s := range []string{"5.7 text", "3.7.8 text", "5.7000.1 text"} {
		if code, _ := cutEnhanced(s); code != "" {
			t.Errorf("cutEnhanced(%q) = %q", s, code)
		}
	}
}
