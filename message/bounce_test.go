package message

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// TestBounces reads the Postfix, Exchange Online and Gmail notifications
// of the dsn package's test data: each failed recipient is a
// msg.bounce-failed, and its diagnostic is mapped by the same engine as
// `mailcheck explain` to the cause a support agent would name: an unknown
// recipient (Postfix and Gmail 5.1.1, Exchange's 5.1.10 RecipientNotFound
// — not a null MX), an unauthenticated sender (Gmail's 5.7.26 "the sender
// is unauthenticated" — not a missing DKIM key), a DMARC rejection
// (Exchange's 5.7.509).
func TestBounces(t *testing.T) {
	for _, tt := range []struct {
		file       string
		recipients []string
		statuses   []string
		causes     []string
		reporting  string
		subject    string
	}{
		{"postfix.eml", []string{"bob@example.org", "carol@gmail.example"}, []string{"5.1.1", "5.7.26"},
			[]string{"smtp.recipient-unknown", "smtp.sender-unauthenticated"}, "mail.example.com", "Quarterly figures"},
		{"exchange.eml", []string{"erin@fabrikam.example", "frank@northwind.example"}, []string{"5.1.10", "5.7.509"},
			[]string{"smtp.recipient-unknown", "dmarc.unaligned"}, "AM0PR04MB7123.eurprd04.prod.outlook.com", "Contract draft"},
		{"gmail.eml", []string{"heidi@example.net"}, []string{"5.1.1"},
			[]string{"smtp.recipient-unknown"}, "googlemail.example", "Lunch on Friday?"},
	} {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile("../dsn/testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			a := analyze(t, world(), data)
			b := a.Message.Bounce
			if b == nil || !b.Structured || b.ReportingMTA != tt.reporting {
				t.Fatalf("bounce: %+v", b)
			}
			if b.Original == nil || b.Original.Subject != tt.subject {
				t.Errorf("original: %+v", b.Original)
			}
			var want []expect
			for i, r := range tt.recipients {
				rc := b.Recipients[i]
				if rc.Recipient != r || rc.Status != tt.statuses[i] || rc.Action != "failed" {
					t.Errorf("recipient %d: %+v", i, rc)
				}
				if !slices.Equal(rc.Findings, []string{tt.causes[i]}) {
					t.Errorf("recipient %s (%s): causes %v, want %s", r, rc.Status, rc.Findings, tt.causes[i])
				}
				// The cause is what explain gives for the recipient.
				if c, ok := finding.DiagnoseBounce(finding.BounceReport{Diagnostic: rc.Diagnostic, Status: rc.Status, Recipient: r}).Best(); !ok || c.Entry.ID != tt.causes[i] {
					t.Errorf("recipient %s: explain gives %+v, the bounce %s", r, c.Entry.ID, tt.causes[i])
				}
				e, _ := finding.Lookup(tt.causes[i])
				want = append(want, expect{"msg.bounce-failed", finding.Fail, r}, expect{tt.causes[i], e.Severity, r})
			}
			checkFindings(t, a, want...)
			// A bounce is judged on its recipients, not on its own
			// authentication.
			for _, f := range a.Findings {
				if strings.HasPrefix(f.ID, "msg.dkim") || strings.HasPrefix(f.ID, "msg.spf") || strings.HasPrefix(f.ID, "msg.dmarc") {
					t.Errorf("bounce analysed as a message: %s", f.ID)
				}
			}
		})
	}
}

// TestDeferredBounceCause: a delay notice for a full mailbox (452 4.2.2)
// names the cause at warn, as the delay itself is: the message is still
// being retried, nothing bounced yet.
func TestDeferredBounceCause(t *testing.T) {
	pasted := "From: MAILER-DAEMON@mail.example.com\r\nSubject: Delayed Mail (still being retried)\r\n\r\n" +
		"Final-Recipient: rfc822; dora@example.net\r\nAction: delayed\r\nStatus: 4.2.2\r\n" +
		"Diagnostic-Code: smtp; 452-4.2.2 The email account that you tried to reach is over quota.\r\n"
	a := analyze(t, world(), []byte(pasted))
	checkFindings(t, a, expect{"msg.bounce-delayed", finding.Warn, "dora@example.net"},
		expect{"smtp.mailbox-full", finding.Warn, "dora@example.net"})
}

// TestBounceCausesFromExplain: the two rejections every support desk
// meets, Gmail's 5.7.26 and Exchange Online's 5.7.509, each come with the
// cause `mailcheck explain` finds for them.
func TestBounceCausesFromExplain(t *testing.T) {
	for _, file := range []string{"postfix.eml", "exchange.eml"} {
		data, err := os.ReadFile("../dsn/testdata/" + file)
		if err != nil {
			t.Fatal(err)
		}
		a := analyze(t, world(), data)
		last := a.Message.Bounce.Recipients[len(a.Message.Bounce.Recipients)-1]
		if len(last.Findings) != 1 {
			t.Errorf("%s: %s (%s): no cause found for %q", file, last.Recipient, last.Status, last.Diagnostic)
		}
	}
}

// TestPastedBounce: the status lines of a bounce pasted without its MIME
// structure are still read.
func TestPastedBounce(t *testing.T) {
	pasted := "From: MAILER-DAEMON@mail.example.com\r\nSubject: Undelivered Mail Returned to Sender\r\n\r\n" +
		"Final-Recipient: rfc822; bob@example.org\r\nAction: delayed\r\nStatus: 4.4.1\r\n" +
		"Diagnostic-Code: X-Postfix; connect to mx1.example.org[192.0.2.25]:25: Connection timed out\r\n"
	a := analyze(t, world(), []byte(pasted))
	b := a.Message.Bounce
	if b == nil || b.Structured || len(b.Recipients) != 1 || b.Recipients[0].Action != "delayed" {
		t.Fatalf("bounce: %+v", b)
	}
	want := []expect{{"msg.bounce-delayed", finding.Warn, "bob@example.org"}}
	if c, ok := finding.DiagnoseBounce(finding.BounceReport{Diagnostic: b.Recipients[0].Diagnostic, Status: "4.4.1", Recipient: "bob@example.org"}).Best(); ok {
		want = append(want, expect{c.Entry.ID, c.Entry.Severity, "bob@example.org"})
	}
	checkFindings(t, a, want...)
}

// noticeOnlyBounce is a notification in the shape CommuniGate Pro sends for
// a local delivery: the reason is in the text for the user, the
// delivery-status part has no Diagnostic-Code.
const noticeOnlyBounce = "From: MAILER-DAEMON@mx.example.net\r\n" +
	"To: alice@example.com\r\n" +
	"Subject: Undeliverable mail: Minutes\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/report; report-type=\"delivery-status\"; boundary=\"b1\"\r\n\r\n" +
	"--b1\r\nContent-Type: text/plain; charset=\"utf-8\"\r\n\r\n" +
	"Failed to deliver to '<fred@example.net>'\r\nLOCAL module(account fred) reports:\r\n account is full (quota exceeded)\r\n\r\n" +
	"--b1\r\nContent-Type: message/delivery-status\r\n\r\n" +
	"Reporting-MTA: dns; mx.example.net\r\n\r\n" +
	"Original-Recipient: rfc822;<fred@example.net>\r\nFinal-Recipient: LOCAL;<fred>\r\nAction: failed\r\nStatus: 5.0.0\r\n\r\n" +
	"--b1--\r\n"

// TestBounceReasonInNotice: without a Diagnostic-Code the cause is read
// from the notification's text.
func TestBounceReasonInNotice(t *testing.T) {
	a := analyze(t, world(), []byte(noticeOnlyBounce))
	checkFindings(t, a, expect{"msg.bounce-failed", finding.Fail, "fred"}, expect{"smtp.mailbox-full", finding.Fail, "fred"})
}
