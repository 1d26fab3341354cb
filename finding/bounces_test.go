package finding

import (
	"slices"
	"testing"
)

// TestBounceCauses: the bounce classes support staff meet most, each from
// a real reply, are named with their catalogue severity and, where the
// text reveals the provider, that provider's own fix in both languages.
func TestBounceCauses(t *testing.T) {
	for _, tt := range []struct {
		name     string
		text     string
		id       string
		severity Severity
		provider string // the provider whose fix must be chosen; "" for the generic fix
	}{
		{"postfix user unknown", "550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown in virtual mailbox table",
			"smtp.recipient-unknown", Fail, ""},
		{"gmail no such user", "550-5.1.1 The email account that you tried to reach does not exist. Please try\n550-5.1.1 double-checking the recipient's email address for typos or\n550 5.1.1  https://support.google.com/mail/?p=NoSuchUser s19si71853ejd.408 - gsmtp",
			"smtp.recipient-unknown", Fail, "google"},
		{"exchange recipient not found", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
			"smtp.recipient-unknown", Fail, "microsoft"},
		{"microsoft edge blocking", "550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [PR2FRA01FT009.eop-fra01.prod.protection.outlook.com]",
			"smtp.recipient-unknown", Fail, "microsoft"},
		{"orange unknown, in French", "550 5.1.1 Adresse d au moins un destinataire invalide. Invalid recipient. OFR_416 [416]",
			"smtp.recipient-unknown", Fail, ""},
		{"dovecot quota", "552 5.2.2 <quotauser@otherdomain.tld> Quota exceeded (mailbox for user is full)",
			"smtp.mailbox-full", Fail, ""},
		{"gmail over quota", "452-4.2.2 The email account that you tried to reach is over quota. Please direct\n452 4.2.2 https://support.google.com/mail/?p=OverQuotaTemp d34si16258651pld.82 - gsmtp",
			"smtp.mailbox-full", Fail, "google"},
		{"orange full mailbox answers 5.1.1", "552 5.1.1 Boite du destinataire pleine. Recipient overquota. OFR_417 [417]",
			"smtp.mailbox-full", Fail, ""},
		{"postfix size limit", "552 5.3.4 Message size exceeds fixed limit", "smtp.message-too-large", Fail, ""},
		{"gmail size limit", "552-5.2.3 Your message exceeded Google's message size limits. Please visit 552-5.2.3  https://support.google.com/mail/?p=MaxSizeError to view our size 552 5.2.3 guidelines.",
			"smtp.message-too-large", Fail, "google"},
		{"postgrey", "450 4.2.0 <mirabellug@aful.org>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/aful.org.html",
			"smtp.greylisted", Info, ""},
		{"rspamd soft reject", "451 4.7.1 Try again later", "smtp.greylisted", Info, ""},
		{"rspamd reject", "554 5.7.1 Spam message rejected; If this is not spam contact abuse", "smtp.content-rejected", Fail, ""},
		{"gmail unsolicited message", "550-5.7.1 [62.210.82.129 12] Our system has detected that this message is 550-5.7.1 likely unsolicited mail. To reduce the amount of spam sent to Gmail, 550-5.7.1 this message has been blocked.",
			"smtp.content-rejected", Fail, "google"},
		{"microsoft remote spam", "550 5.7.350 Remote server returned message detected as spam", "smtp.content-rejected", Fail, "microsoft"},
		{"postfix nxdomain", "Host or domain name not found. Name service error for name=example.con type=MX: Host not found",
			"smtp.domain-not-found", Fail, ""},
		{"gmail bad domain", "DNS Error: DNS type 'mx' lookup of dasdasdsadas.com responded with code NXDOMAIN Domain name not found: dasdasdsadas.com Learn more at https://support.google.com/mail/?p=BadRcptDomain",
			"smtp.domain-not-found", Fail, ""},
		{"gmail unauthenticated", "550-5.7.26 This mail has been blocked because the sender is unauthenticated.\n550-5.7.26 Gmail requires all senders to authenticate with either SPF or DKIM.",
			"smtp.sender-unauthenticated", Fail, "google"},
		{"outlook.com bulk rules", "550 5.7.515 Access denied, sending domain EXAMPLE.JP doesn't meet the required authentication level.",
			"smtp.sender-unauthenticated", Fail, "microsoft"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := Diagnose(tt.text)
			best, ok := d.Best()
			if !ok || best.Entry.ID != tt.id {
				t.Fatalf("Diagnose(%q) = %v, want %s first", tt.text, d.IDs(), tt.id)
			}
			if best.Entry.Severity != tt.severity {
				t.Errorf("%s: severity %s, want %s", tt.id, best.Entry.Severity, tt.severity)
			}
			if best.Entry.Provider != tt.provider {
				t.Errorf("%s: the fix is %q's, want %q's", tt.id, best.Entry.Provider, tt.provider)
			}
			generic, _ := Lookup(tt.id)
			if fr := best.Entry.In(French); fr.Fix == best.Entry.Fix || fr.Fix == generic.In(French).Fix && tt.provider != "" {
				t.Errorf("%s: the French fix is not the provider's own in French: %q", tt.id, fr.Fix)
			}
		})
	}
}

// TestBounceHardNegatives: replies that look like one of the bounce
// classes but are another problem keep their own cause.
func TestBounceHardNegatives(t *testing.T) {
	for _, tt := range []struct {
		name string
		text string
		not  string // must not be the best candidate
		best string // the cause it is; "" when nothing in particular
	}{
		{"gmail rate limit is not greylisting", "421 4.7.0 Try again later, closing connection. (EHLO) x1-20020a05600c - gsmtp",
			"smtp.greylisted", "conn.rate-limited"},
		{"a login deferral is not greylisting", "454 4.7.0 Cannot authenticate due to a temporary system problem. Try again later.",
			"smtp.greylisted", "login.temporary-failure"},
		{"a long line is not a large message", "Expected response code 250 but got code \"552\", with message \"552 message line is too long\"",
			"smtp.message-too-large", ""},
		{"a sending quota is not a mailbox quota", "421-4.7.28 Gmail has detected this sender exceeded the quota for sending messages that have the same Message-ID:. To best protect our users, the message has been temporarily rejected.",
			"smtp.mailbox-full", ""},
		{"an organisation's queue quota is throttling", "450 4.7.3 Organization queue quota exceeded. [outlook.com]",
			"smtp.mailbox-full", "conn.rate-limited"},
		{"postfix access denied is a relay refusal", "554 5.7.1 <user2@gmail.com>: Recipient address rejected: Access denied",
			"smtp.recipient-unknown", "smtp.relay-denied"},
		{"the sender's domain, not the recipient's", "553 5.1.8 Domain of sender address does not exist (in reply to MAIL FROM command)",
			"smtp.domain-not-found", "mx.missing"},
		{"a DNS failure is not a missing domain", "dsn=4.4.3, status=deferred (Host or domain name not found. Name service error for name=fontarboleas.es type=MX: Host not found, try again)",
			"smtp.domain-not-found", "dns.lookup-failed"},
		{"a DMARC rejection under 5.7.26", "550 5.7.26 Unauthenticated email from branan.org is not accepted due to domain's DMARC policy.",
			"smtp.sender-unauthenticated", "dmarc.unaligned"},
		{"gmail SPF hard fail under 5.7.26", "550 5.7.26 The (E)MAIL FROM domain [example.com] has an SPF record with a hard fail policy (-all) but it fails to pass SPF checks with the ip: [192.0.2.1].",
			"smtp.sender-unauthenticated", "spf.not-authorized"},
		{"a null MX is not an unknown recipient", "556 5.1.10 Recipient address has null MX", "smtp.recipient-unknown", "mx.null"},
		{"gmail 5.2.1 rate limit", "550 5.2.1 The user you are trying to contact is receiving email at a rate that prevents additional messages from being delivered.",
			"smtp.recipient-unknown", "conn.rate-limited"},
		{"an RBL listing is not content", "550-\"JunkMail rejected - ec2-54-74-157-229.eu-west-1.compute.amazonaws.com\n550-(allid.com.sg) [54.74.157.229]:34032 is in an RBL, see\n550 https://www.spamhaus.org/query/ip/54.74.157.229\"",
			"smtp.content-rejected", "smtp.blocked-reputation"},
		{"a spamhaus block is not content", "554 5.7.1 Service unavailable; Client host [192.0.2.7] blocked using zen.spamhaus.org",
			"smtp.content-rejected", "smtp.blocked-reputation"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ids := Diagnose(tt.text).IDs()
			if len(ids) > 0 && ids[0] == tt.not {
				t.Errorf("Diagnose(%q) = %v: %s must not come first", tt.text, ids, tt.not)
			}
			if tt.best != "" && (len(ids) == 0 || ids[0] != tt.best) {
				t.Errorf("Diagnose(%q) = %v, want %s first", tt.text, ids, tt.best)
			}
			if tt.best == "" && slices.Contains(ids, tt.not) {
				t.Errorf("Diagnose(%q) = %v: %s is no candidate at all", tt.text, ids, tt.not)
			}
		})
	}
}

// TestDiagnoseBounce: how one recipient of a bounce is read. The remote
// server's words outrank the Status the reporting server wrote, the status
// counts where the words name nothing better, the notice for the user is
// read where neither names anything, and of the recipient only the domain
// counts.
func TestDiagnoseBounce(t *testing.T) {
	for _, tt := range []struct {
		name     string
		b        BounceReport
		want     string
		provider string
		not      string
	}{
		{"the reply outranks a guessed status",
			BounceReport{Diagnostic: "550 RCPT TO:<fred@example.net> max message size exceeded", Status: "5.1.1", Recipient: "fred@example.net"},
			"smtp.message-too-large", "", "smtp.recipient-unknown"},
		{"the status outranks a hint",
			BounceReport{Diagnostic: "550 Requested action not taken: mailbox unavailable", Status: "5.2.2", Recipient: "fred@example.net"},
			"smtp.mailbox-full", "", ""},
		{"the notice when the reply is missing",
			BounceReport{Status: "5.0.0", Recipient: "fred@example.net", Notice: "Failed to deliver to '<fred@example.net>'\nLOCAL module(account fred) reports:\n account is full (quota exceeded)"},
			"smtp.mailbox-full", "", ""},
		{"the local part is no evidence",
			BounceReport{Diagnostic: "452 4.2.2 Over quota", Status: "4.2.2", Recipient: "spam@example.net"},
			"smtp.mailbox-full", "", "smtp.content-rejected"},
		{"the domain reveals the provider",
			BounceReport{Diagnostic: "550 5.2.2 mailbox full", Status: "5.2.2", Recipient: "fred@gmail.com"},
			"smtp.mailbox-full", "google", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := DiagnoseBounce(tt.b)
			ids := d.IDs()
			if len(ids) == 0 || ids[0] != tt.want {
				t.Fatalf("DiagnoseBounce(%+v) = %v, want %s first", tt.b, ids, tt.want)
			}
			if d.Candidates[0].Entry.Provider != tt.provider {
				t.Errorf("fix for %q, want %q", d.Candidates[0].Entry.Provider, tt.provider)
			}
			if tt.not != "" && slices.Contains(ids, tt.not) {
				t.Errorf("DiagnoseBounce(%+v) = %v: %s is no candidate", tt.b, ids, tt.not)
			}
		})
	}
}
