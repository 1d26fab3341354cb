package finding

import (
	"slices"
	"testing"
)

// matchTable maps texts users paste into `mailcheck explain` — client errors,
// server replies, bounces, log lines — to the findings that explain them.
// best is the entry Match must put first; also lists others it must return.
// The product relies on this table: extend it whenever a pattern is added.
var matchTable = []struct {
	name string
	text string
	best string
	also []string
}{
	{"gmail bad credentials", "535-5.7.8 Username and Password not accepted. For more information, go to\n535 5.7.8  https://support.google.com/mail/?p=BadCredentials d2-20020a17090 - gsmtp",
		"login.auth-failed", nil},
	{"gmail app password", "534-5.7.9 Application-specific password required. Learn more at\n534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor x5sm1 - gsmtp",
		"login.app-password-required", nil},
	{"gmail imap app password", "a1 NO [ALERT] Application-specific password required: https://support.google.com/accounts/answer/185833 (Failure)",
		"login.app-password-required", nil},
	{"microsoft basic auth off", "535 5.7.139 Authentication unsuccessful, basic authentication is disabled. [BN9PR03CA0123.namprd03.prod.outlook.com]",
		"login.basic-auth-disabled", []string{"login.auth-failed"}},
	{"microsoft smtp auth off", "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.",
		"login.access-disabled", []string{"login.basic-auth-disabled"}},
	{"gmail web login", "a1 NO [ALERT] Please log in via your web browser: https://support.google.com/mail/accounts/answer/78754 (Failure)",
		"login.basic-auth-disabled", nil},
	{"smtp starttls first", "530 5.7.0 Must issue a STARTTLS command first. d2e1a72fcca58-7c8a1b2e3fsm12 - gsmtp",
		"login.tls-required", nil},
	{"imap logindisabled", "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS LOGINDISABLED] Dovecot ready.",
		"login.tls-required", nil},
	{"imap privacyrequired", "a1 NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.",
		"login.tls-required", nil},
	{"pop3 plaintext refused", "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.",
		"login.tls-required", []string{"login.auth-failed"}},
	{"imap auth failed", "a1 NO [AUTHENTICATIONFAILED] Authentication failed.", "login.auth-failed", nil},
	{"pop3 auth failed", "-ERR [AUTH] Authentication failed.", "login.auth-failed", nil},
	{"expired password", "a1 NO [EXPIRED] Password has expired, change it in webmail", "login.auth-failed", nil},
	{"go unknown authority", "tls: failed to verify certificate: x509: certificate signed by unknown authority",
		"tls.cert-untrusted", nil},
	{"python missing intermediate", "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate (_ssl.c:1006)",
		"tls.cert-untrusted", nil},
	{"postfix untrusted", "Untrusted TLS connection established to mx.example.com[192.0.2.1]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384",
		"tls.cert-untrusted", nil},
	{"go expired", "tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time 2026-11-21T10:00:00Z is after 2026-10-01T00:00:00Z",
		"tls.cert-expired", nil},
	{"go hostname", "tls: failed to verify certificate: x509: certificate is valid for mail.example.net, not imap.example.com",
		"tls.cert-hostname", nil},
	{"windows principal name", "The target principal name is incorrect.", "tls.cert-hostname", nil},
	{"python self-signed", "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate (_ssl.c:1006)",
		"tls.cert-self-signed", nil},
	{"node self-signed chain", "Error: self signed certificate in certificate chain { code: 'SELF_SIGNED_CERT_IN_CHAIN' }",
		"tls.cert-self-signed", nil},
	{"go refused", "dial tcp 192.0.2.10:993: connect: connection refused", "conn.refused", nil},
	{"go timeout", "dial tcp 192.0.2.10:25: i/o timeout", "conn.timeout", nil},
	{"gmail try later", "421 4.7.0 Try again later, closing connection. (EHLO) x1-20020a05600c - gsmtp", "conn.rate-limited", nil},
	{"gmail imap too many", "* BYE [ALERT] Too many simultaneous connections. (Failure)", "conn.rate-limited", nil},
	{"openssl tls to plaintext", "140736:error:1408F10B:SSL routines:ssl3_get_record:wrong version number:ssl/record/ssl3_record.c:332:",
		"login.wrong-port", []string{"conn.protocol"}},
	{"go tls to plaintext", "imap.example.com:143: tls: first record does not look like a TLS handshake",
		"login.wrong-port", []string{"conn.protocol"}},
	{"openssl 3 packet length", "40E7A5D1:error:0A0000C6:SSL routines::packet length too long:ssl/record/methods/tls_common.c:662:",
		"login.wrong-port", []string{"conn.protocol"}},
	{"outlook encryption type", "The server does not support the specified connection encryption type. Try changing the encryption method.",
		"login.wrong-port", nil},
	{"gmail dmarc reject", "550-5.7.26 Unauthenticated email from example.com is not accepted due to\n550-5.7.26 domain's DMARC policy. Please contact the administrator of\n550-5.7.26 example.com domain if this was a legitimate mail.",
		"dmarc.unaligned", nil},
	{"microsoft dmarc reject", "550 5.7.509 Access denied, sending domain [EXAMPLE.COM] does not pass DMARC verification and has a DMARC policy of reject.",
		"dmarc.unaligned", nil},
	{"gmail unauthenticated sender", "550-5.7.26 This mail has been blocked because the sender is unauthenticated.\n550-5.7.26 Gmail requires all senders to authenticate with either SPF or DKIM.",
		"smtp.sender-unauthenticated", []string{"dkim.none-found", "spf.missing"}},
	{"spf fail", "550-5.7.23 [198.51.100.7] The message was rejected because of Sender Policy Framework violation",
		"spf.not-authorized", nil},
	{"spf too many lookups", "550 5.7.24 SPF Permanent Error: Too many DNS lookups", "spf.lookup-limit", []string{"spf.syntax", "spf.multiple"}},
	{"spf two records", "SPF Permanent Error: Two or more type TXT spf records found.", "spf.multiple", nil},
	{"spf void lookups", "SPF Permanent Error: Void lookup limit of 2 exceeded", "spf.void-limit", nil},
	{"gmail ptr", "550-5.7.25 [192.0.2.1] The IP address sending this message does not have a\n550-5.7.25 PTR record setup, or the corresponding forward DNS entry does not\n550-5.7.25 point to the sending IP.",
		"ptr.missing", []string{"ptr.mismatch"}},
	{"postfix no reverse", "450 4.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.1]", "ptr.missing", nil},
	{"null mx", "556 5.1.10 Recipient address has null MX", "mx.null", nil},
	{"postfix no such domain", "Host or domain name not found. Name service error for name=example.test type=MX: Host not found",
		"smtp.domain-not-found", []string{"mx.missing"}},
	{"dkim no key", "dkim=neutral (no key for signature) header.i=@example.com header.s=s2026", "dkim.none-found", nil},
	{"python no smtp auth", "smtplib.SMTPNotSupportedError: SMTP AUTH extension not supported by server.", "login.tls-required", []string{"auth.none-offered"}},
	{"python no starttls", "smtplib.SMTPNotSupportedError: STARTTLS extension not supported by server.", "tls.starttls-missing", nil},
	{"postfix tls required", "TLS is required, but was not offered by host mx.example.com[192.0.2.1]", "tls.starttls-missing", nil},
	{"openssl small key", "error:0A00018F:SSL routines::ee key too small", "tls.weak-key", nil},
	{"go legacy tls", "tls: server selected unsupported protocol version 301", "tls.version-legacy", nil},
	{"tls-rpt fetch error", `"result-type": "sts-policy-fetch-error"`, "mtasts.policy-unreachable", nil},
	{"postfix tls broken on the server", "454 4.7.0 TLS not available due to local problem", "tls.handshake-failed", []string{"login.temporary-failure"}},
	{"gmail wants auth", "530-5.7.0 Authentication Required. Learn more at\n530 5.7.0 https://support.google.com/mail/?p=WantAuthError x1si - gsmtp", "login.auth-required", []string{"login.tls-required"}},
	{"apple mail french", "Le nom d’utilisateur ou le mot de passe pour « imap.mail.me.com » est incorrect.", "login.auth-failed", nil},
	{"oauth only ehlo", "250-mail.example.com\n250-AUTH XOAUTH2 OAUTHBEARER\n250 8BITMIME", "auth.oauth-only", nil},
}

func TestMatchRealWorldTexts(t *testing.T) {
	if len(matchTable) < 25 {
		t.Fatalf("the match table has %d cases; the product requires at least 25", len(matchTable))
	}
	for _, tt := range matchTable {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range Match(tt.text) {
				got = append(got, e.ID)
			}
			if len(got) == 0 || got[0] != tt.best {
				t.Fatalf("Match(%q) = %v, want %s first", tt.text, got, tt.best)
			}
			for _, id := range tt.also {
				if !slices.Contains(got, id) {
					t.Errorf("Match(%q) = %v, want it to include %s", tt.text, got, id)
				}
			}
		})
	}
}

func TestMatchFindsNothingInUnrelatedText(t *testing.T) {
	for _, text := range []string{
		"",
		"250 2.0.0 OK  1700000000 x1-20020a05600c - gsmtp",
		"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=LOGIN] Dovecot ready.",
		// Enhanced status codes must not match inside an IP address.
		"Received: from mail-wr1-f53.google.com (209.85.7.23) by mx.example.com",
	} {
		if got := Match(text); len(got) != 0 {
			var ids []string
			for _, e := range got {
				ids = append(ids, e.ID)
			}
			t.Errorf("Match(%q) = %v, want nothing", text, ids)
		}
	}
}

func TestMatchIgnoresCase(t *testing.T) {
	got := Match("X509: CERTIFICATE SIGNED BY UNKNOWN AUTHORITY")
	if len(got) == 0 || got[0].ID != "tls.cert-untrusted" {
		t.Errorf("upper-case text did not match tls.cert-untrusted: %v", got)
	}
}
