package dsn

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func parseFile(t *testing.T, name string) *Report {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := Parse(f)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return rep
}

// want is what a support person reads off one recipient of a bounce.
type want struct {
	recipient  string
	action     Action
	status     string
	diagPrefix string
	remoteMTA  string
}

func checkRecipients(t *testing.T, got []Recipient, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Fatalf("%d recipients, want %d: %+v", len(got), len(wants), got)
	}
	for i, w := range wants {
		g := got[i]
		if g.FinalRecipient != w.recipient || g.Action != w.action || g.Status.String() != w.status {
			t.Errorf("recipient %d: %q %q %q, want %q %q %q", i, g.FinalRecipient, g.Action, g.Status, w.recipient, w.action, w.status)
		}
		if !strings.HasPrefix(g.DiagnosticCode, w.diagPrefix) || g.DiagnosticType != "smtp" {
			t.Errorf("recipient %d: diagnostic %q %q, want smtp; %q...", i, g.DiagnosticType, g.DiagnosticCode, w.diagPrefix)
		}
		if g.RemoteMTA != w.remoteMTA {
			t.Errorf("recipient %d: remote MTA %q, want %q", i, g.RemoteMTA, w.remoteMTA)
		}
		if strings.Contains(g.DiagnosticCode, "\n") {
			t.Errorf("recipient %d: diagnostic not unfolded: %q", i, g.DiagnosticCode)
		}
	}
}

func TestParsePostfix(t *testing.T) {
	rep := parseFile(t, "postfix.eml")
	if rep.ReportingMTA != "mail.example.com" || !strings.HasPrefix(rep.ArrivalDate, "Tue,  3 Mar 2026") {
		t.Errorf("per-message fields: %q %q", rep.ReportingMTA, rep.ArrivalDate)
	}
	checkRecipients(t, rep.Recipients, []want{
		{"bob@example.org", Failed, "5.1.1", "550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown in virtual mailbox table", "mx1.example.org"},
		{"carol@gmail.example", Failed, "5.7.26", "550-5.7.26 This mail has been blocked because the sender is unauthenticated.", "gmail-smtp-in.l.google.example"},
	})
	if rep.Recipients[0].OriginalRecipient != "bob@example.org" {
		t.Errorf("Original-Recipient %q", rep.Recipients[0].OriginalRecipient)
	}
	if !strings.HasPrefix(rep.HumanText, "This is the mail system at host mail.example.com.") {
		t.Errorf("human text %q", rep.HumanText)
	}
	o := rep.Original
	if o == nil || o.HeadersOnly || o.Subject != "Quarterly figures" || o.From != "Alice <alice@example.com>" ||
		o.MessageID != "<c3a1e9f0-7d1b-4b9e-9a55-0c1d2e3f4a5b@example.com>" {
		t.Errorf("original: %+v", o)
	}
	if len(rep.Failed()) != 2 {
		t.Errorf("Failed() = %d recipients", len(rep.Failed()))
	}
}

func TestParseExchangeOnline(t *testing.T) {
	rep := parseFile(t, "exchange.eml")
	if rep.ReportingMTA != "AM0PR04MB7123.eurprd04.prod.outlook.com" {
		t.Errorf("Reporting-MTA %q", rep.ReportingMTA)
	}
	checkRecipients(t, rep.Recipients, []want{
		{"erin@fabrikam.example", Failed, "5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound", ""},
		{"frank@northwind.example", Failed, "5.7.509", "550 5.7.509 Access denied, sending domain contoso.example does not pass DMARC verification", "northwind-example.mail.protection.outlook.com"},
	})
	// Extension fields are kept for whoever wants them.
	found := false
	for _, f := range rep.Recipients[0].Fields {
		found = found || (f.Name == "X-Display-Name" && f.Value == "erin@fabrikam.example")
	}
	if !found {
		t.Errorf("X-Display-Name not kept: %+v", rep.Recipients[0].Fields)
	}
	// The human part is the text/plain alternative, quoted-printable undone.
	if !strings.Contains(rep.HumanText, "Recipient not found by SMTP address lookup") {
		t.Errorf("human text %q", rep.HumanText)
	}
	if o := rep.Original; o == nil || !o.HeadersOnly || o.Subject != "Contract draft" {
		t.Errorf("original: %+v", o)
	}
}

func TestParseGmail(t *testing.T) {
	rep := parseFile(t, "gmail.eml")
	checkRecipients(t, rep.Recipients, []want{
		{"heidi@example.net", Failed, "5.1.1", "550 5.1.1 <heidi@example.net>: Recipient address rejected: User unknown in local recipient table",
			"mx.example.net. (192.0.2.80, the server for the domain example.net.)"},
	})
	if rep.Recipients[0].LastAttempt != "Thu, 05 Mar 2026 01:23:47 -0800 (PST)" {
		t.Errorf("Last-Attempt-Date %q", rep.Recipients[0].LastAttempt)
	}
	// The base64 text part nested in multipart/related and alternative.
	if !strings.HasPrefix(rep.HumanText, "** Address not found **") {
		t.Errorf("human text %q", rep.HumanText)
	}
	if o := rep.Original; o == nil || o.Subject != "Lunch on Friday?" || o.MessageID != "<CAK7x9Qm2bW@mail.gmail.example>" {
		t.Errorf("original: %+v", o)
	}
}

func TestParseNotADSN(t *testing.T) {
	for _, msg := range []string{
		"From: a@example.com\r\nSubject: hello\r\n\r\nbody\r\n",
		"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n--x--\r\n",
	} {
		if _, err := Parse(strings.NewReader(msg)); !errors.Is(err, ErrNotDSN) {
			t.Errorf("Parse(%q) = %v, want ErrNotDSN", msg, err)
		}
	}
}

func TestParseStatusFieldsDelayed(t *testing.T) {
	// A delay notice whose per-message block runs into the recipient block
	// without an empty line, as some MTAs write it.
	st := ParseStatusFields("Reporting-MTA: dns; mx.example.com\r\n" +
		"Final-Recipient: rfc822; ivan@example.org\r\n" +
		"Action: delayed\r\n" +
		"Status: 4.4.7 (delivery time expired)\r\n" +
		"Will-Retry-Until: Fri, 6 Mar 2026 10:00:00 +0000\r\n")
	if st.ReportingMTA != "mx.example.com" || len(st.Recipients) != 1 {
		t.Fatalf("%+v", st)
	}
	r := st.Recipients[0]
	if r.Action != Delayed || r.Status != (Status{4, 4, 7}) || !r.Status.Transient() || r.WillRetryUntil == "" {
		t.Errorf("%+v", r)
	}
}

func TestParseStatus(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Status
		ok   bool
	}{
		{"5.1.1", Status{5, 1, 1}, true},
		{"5.7.509", Status{5, 7, 509}, true},
		{"4.4.7 (delivery time expired)", Status{4, 4, 7}, true},
		{" 2.0.0", Status{2, 0, 0}, true},
		{"3.1.1", Status{}, false},
		{"5.1", Status{}, false},
		{"5.1.1234", Status{}, false},
		{"550", Status{}, false},
	} {
		got, err := ParseStatus(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseStatus(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestScanPasted(t *testing.T) {
	// What a user pastes from a mail client's "show original" view of the
	// report part, quoted in a reply.
	pasted := `Hi, my mail bounced, see below.

> Reporting-MTA: dns; mail.example.com
> Arrival-Date: Tue,  3 Mar 2026 10:15:40 +0100 (CET)
>
> Final-Recipient: rfc822; bob@example.org
> Action: failed
> Status: 5.1.1
> Remote-MTA: dns; mx1.example.org
> Diagnostic-Code: smtp; 550 5.1.1 <bob@example.org>: Recipient address
>     rejected: User unknown in virtual mailbox table
>
> --4ZKq1S6yQzz9tHb.1772529342/mail.example.com
> Content-Type: message/rfc822
`
	rep := Scan(pasted)
	if rep == nil {
		t.Fatal("Scan found nothing")
	}
	checkRecipients(t, rep.Recipients, []want{
		{"bob@example.org", Failed, "5.1.1", "550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown in virtual mailbox table", "mx1.example.org"},
	})
	if Scan("550 5.1.1 user unknown") != nil {
		t.Error("Scan of a bare reply found a report")
	}
}

func FuzzParseStatusFields(f *testing.F) {
	for _, name := range []string{"postfix.eml", "exchange.eml", "gmail.eml"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Fuzz(func(t *testing.T, s string) {
		st := ParseStatusFields(s)
		for _, r := range st.Recipients {
			if !r.Status.IsZero() && r.Status.Class != 2 && r.Status.Class != 4 && r.Status.Class != 5 {
				t.Errorf("status %v", r.Status)
			}
		}
		Scan(s)
		Parse(strings.NewReader(s))
	})
}
