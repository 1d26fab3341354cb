package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// runStdin executes a command line with text on standard input.
func runStdin(t *testing.T, stdin string, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	io := &IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut, Getenv: func(k string) string { return env[k] }}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := Run(ctx, io, args)
	return result{code: code, out: out.String(), errOut: errOut.String()}
}

// firstID is the finding ID explain names first.
func firstID(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 1 && strings.Contains(f[0], ".") && strings.HasPrefix(f[1], "(") {
			return f[0]
		}
	}
	return ""
}

// A text that starts with "-" is explained, given as arguments, after
// "--", or on standard input.
func TestExplainTextStartingWithDash(t *testing.T) {
	const reply = "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections."
	for _, tt := range []struct {
		name  string
		stdin string
		args  []string
	}{
		{"as one argument", "", []string{"explain", reply}},
		{"as words", "", append([]string{"explain"}, strings.Fields(reply)...)},
		{"after --", "", []string{"explain", "--", reply}},
		{"on stdin", reply + "\n", []string{"explain", "-"}},
		{"flags after the text", "", []string{"explain", reply, "--format", "text"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runStdin(t, tt.stdin, nil, tt.args...)
			if r.code != ExitOK || firstID(r.out) != "login.tls-required" {
				t.Fatalf("exit %d, first %q\n%s%s", r.code, firstID(r.out), r.out, r.errOut)
			}
		})
	}
}

// A whole bounce on standard input: each failed recipient is explained
// from its own diagnostic code, with the receiving provider's fix.
func TestExplainBounceFromStdin(t *testing.T) {
	bounce := "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\n" +
		"Subject: Undelivered Mail Returned to Sender\n\n" +
		"This is the mail system at host mx.example.org.\n\n" +
		"Reporting-MTA: dns; mx.example.org\n" +
		"Arrival-Date: Sun, 29 Nov 2026 10:00:00 +0100\n\n" +
		"Final-Recipient: rfc822; bob@example.net\n" +
		"Original-Recipient: rfc822;bob@example.net\n" +
		"Action: failed\n" +
		"Status: 5.7.26\n" +
		"Remote-MTA: dns; mx.example.net\n" +
		"Diagnostic-Code: smtp; 550-5.7.26 Unauthenticated email from example.org is not\n" +
		"    accepted due to domain's DMARC policy.\n\n" +
		"Final-Recipient: rfc822; carol@hotmail.com\n" +
		"Action: failed\n" +
		"Status: 5.7.1\n" +
		"Diagnostic-Code: smtp; 550 5.7.1 Unfortunately, messages from [192.0.2.7] weren't sent.\n" +
		"    Please contact your Internet service provider since part of their network is on our\n" +
		"    block list (S3140).\n\n" +
		"Final-Recipient: rfc822; dave@example.com\n" +
		"Action: delivered\n" +
		"Status: 2.0.0\n"
	r := runStdin(t, bounce, nil, "explain", "-", "--format", "json")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	var ex explanation
	if err := json.Unmarshal([]byte(r.out), &ex); err != nil {
		t.Fatalf("%v\n%s", err, r.out)
	}
	if len(ex.Recipients) != 2 {
		t.Fatalf("want the 2 failed recipients, got %+v", ex.Recipients)
	}
	want := map[string]struct{ id, provider string }{
		"bob@example.net":   {"dmarc.unaligned", ""},
		"carol@hotmail.com": {"smtp.blocked-reputation", "microsoft"},
	}
	for _, rc := range ex.Recipients {
		w := want[rc.Recipient]
		if len(rc.Diagnosis.Candidates) == 0 || rc.Diagnosis.Candidates[0].ID != w.id {
			t.Errorf("%s: %+v, want %s first", rc.Recipient, rc.Diagnosis.Candidates, w.id)
			continue
		}
		if got := rc.Diagnosis.Candidates[0].Provider; got != w.provider {
			t.Errorf("%s: fix for provider %q, want %q", rc.Recipient, got, w.provider)
		}
	}
}

// A notification that gives the reason only in its text for the user (no
// Diagnostic-Code, as CommuniGate Pro sends for a local delivery) is still
// explained; a Status the reporting server guessed does not outrank the
// reply's own words.
func TestExplainBounceReasonOutsideDiagnostic(t *testing.T) {
	notice := "From: MAILER-DAEMON@mx.example.net\r\nSubject: Undeliverable mail\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=\"delivery-status\"; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain\r\n\r\nFailed to deliver to '<fred@example.net>'\r\n account is full (quota exceeded)\r\n\r\n" +
		"--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n" +
		"Final-Recipient: rfc822;fred@example.net\r\nAction: failed\r\nStatus: 5.0.0\r\n\r\n--b1--\r\n"
	guessed := "Final-Recipient: rfc822; fred@example.org\nAction: failed\nStatus: 5.1.1\n" +
		"Diagnostic-Code: smtp; 550 RCPT TO:<fred@example.org> max message size exceeded\n"
	for text, want := range map[string]string{notice: "smtp.mailbox-full", guessed: "smtp.message-too-large"} {
		r := runStdin(t, text, nil, "explain", "-", "--format", "json")
		var ex explanation
		if err := json.Unmarshal([]byte(r.out), &ex); err != nil || r.code != ExitOK {
			t.Fatalf("exit %d, %v: %s%s", r.code, err, r.errOut, r.out)
		}
		if len(ex.Recipients) != 1 || len(ex.Recipients[0].Diagnosis.Candidates) == 0 || ex.Recipients[0].Diagnosis.Candidates[0].ID != want {
			t.Errorf("%+v, want %s first", ex.Recipients, want)
		}
	}
}

// Several pasted lines are one text: a multi-line SMTP reply is read whole.
func TestExplainMultiLineReply(t *testing.T) {
	reply := "535-5.7.8 Username and Password not accepted. For more information, go to\n" +
		"535 5.7.8  https://support.google.com/mail/?p=BadCredentials x1-20020a - gsmtp\n"
	r := runStdin(t, reply, nil, "explain", "-")
	if firstID(r.out) != "login.auth-failed" || !strings.Contains(r.out, "Google") {
		t.Fatalf("%s", r.out)
	}
	if strings.Contains(r.out, "Set-CASMailbox") {
		t.Errorf("a Google reply got Microsoft's PowerShell fix:\n%s", r.out)
	}
}

// explain --list shows the support IDs.
func TestExplainListShowsSupportIDs(t *testing.T) {
	r := run(t, nil, "explain", "--list")
	for _, id := range []string{"login.auth-required", "smtp.relay-denied", "smtp.sender-mismatch",
		"smtp.blocked-reputation", "login.account-locked", "login.access-disabled", "tls.client-too-old"} {
		if !strings.Contains(r.out, id) {
			t.Errorf("explain --list lacks %s", id)
		}
	}
	fr := run(t, nil, "explain", "--list", "--lang", "fr")
	if !strings.Contains(fr.out, "Le serveur refuse de relayer le message") {
		t.Errorf("explain --list --lang fr is not French")
	}
}

// Only a word that starts with "-" and is not one of explain's flags
// begins the text; other command lines are left alone.
func TestExplainTextArgs(t *testing.T) {
	for _, tt := range []struct{ in, want []string }{
		{[]string{"explain", "-ERR", "[AUTH]", "failed"}, []string{"explain", "--", "-ERR", "[AUTH]", "failed"}},
		{[]string{"--lang", "fr", "explain", "--format", "json", "-ERR x"}, []string{"--lang", "fr", "explain", "--format", "json", "--", "-ERR x"}},
		{[]string{"explain", "--format=json", "-ERR x"}, []string{"explain", "--format=json", "--", "-ERR x"}},
		{[]string{"explain", "--", "-ERR x"}, []string{"explain", "--", "-ERR x"}},
		{[]string{"explain", "-", "--format", "json"}, []string{"explain", "-", "--format", "json"}},
		{[]string{"explain", "--list"}, []string{"explain", "--list"}},
		{[]string{"login", "-x"}, []string{"login", "-x"}},
		{[]string{"domain", "explain", "-x"}, []string{"domain", "explain", "-x"}},
	} {
		if got := explainTextArgs(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("explainTextArgs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// In French: the help, the headings and the catalogue texts; IDs stay.
func TestExplainInFrench(t *testing.T) {
	help := run(t, map[string]string{"LANG": "fr_FR.UTF-8"}, "explain", "--help")
	if !strings.Contains(help.out, "entrée standard") {
		t.Errorf("explain --help under LANG=fr is not French:\n%s", help.out)
	}
	r := run(t, nil, "explain", "--lang", "fr", "550 5.7.1 <x@example.org>: Relay access denied")
	if firstID(r.out) != "smtp.relay-denied" || !strings.Contains(r.out, "Le serveur refuse de relayer") || !strings.Contains(r.out, "correction") {
		t.Errorf("French explain:\n%s", r.out)
	}
	fr := run(t, nil, "explain", "Le serveur IMAP mail.exemple.fr n’autorise pas les mots de passe non chiffrés.")
	if firstID(fr.out) != "login.tls-required" {
		t.Errorf("a French Thunderbird message: %s", fr.out)
	}
}

func TestExplainUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"explain"},
		{"explain", "-", "and", "text"},
		{"explain", "--format"},
		{"explain", "--format", "xml", "some text"},
		{"explain", "--format", "markdown", "some text"}, // markdown is the catalogue: with --list only
		{"explain", "--lang", "de", "some text"},
	} {
		r := runStdin(t, "x", nil, args...)
		if r.code != ExitUsage || strings.Count(strings.TrimSpace(r.errOut), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q", args, r.code, r.errOut)
		}
	}
	big := strings.Repeat("x", maxPastedBytes+1)
	if r := runStdin(t, big, nil, "explain", "-"); r.code != ExitUsage {
		t.Errorf("an over-long paste: exit %d", r.code)
	}
	// An empty paste (a pipe that produced nothing) is bad input, not an
	// unrecognised message.
	for _, empty := range []string{"", "\n", "  \r\n\t\n"} {
		if r := runStdin(t, empty, nil, "explain", "-"); r.code != ExitUsage || !strings.Contains(r.errOut, "standard input was empty") {
			t.Errorf("empty standard input %q: exit %d, stderr %q", empty, r.code, r.errOut)
		}
	}
}

// login's help is French with --lang fr or a French locale.
func TestLoginHelpInFrench(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		args []string
	}{
		{nil, []string{"--lang", "fr", "login", "--help"}},
		{nil, []string{"login", "--help", "--lang=fr"}},
		{map[string]string{"LC_ALL": "fr_FR.UTF-8"}, []string{"login", "-h"}},
	} {
		r := run(t, tt.env, tt.args...)
		if r.code != ExitOK || !strings.Contains(r.out, "mot de passe") || !strings.Contains(r.out, "--password-env") {
			t.Errorf("%v %v: exit %d\n%s", tt.env, tt.args, r.code, r.out)
		}
	}
	if r := run(t, nil, "login", "--help"); strings.Contains(r.out, "mot de passe") {
		t.Errorf("English help is French:\n%s", r.out)
	}
}
