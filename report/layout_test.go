package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// loginReport is a login triage whose settings table is far wider than 80
// columns, with a long reason in its last column.
func loginReport() finding.Report {
	return finding.Report{Schema: finding.Schema, Target: "alice@example.com", Started: started, DurationMS: 1200,
		Findings: []finding.Finding{finding.New("login.tls-required", "mail.example.com:143", finding.Text{},
			"S: * OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] Dovecot ready.")},
		Login: &finding.LoginSettings{Address: "alice@example.com", Candidates: []finding.ClientEndpoint{
			{Role: "incoming", Protocol: "imap", Host: "mail.example.com", Port: 993, TLS: "implicit", Verdict: "recommended", Recommended: true,
				Username: "alice@example.com", Sources: []string{"srv", "autoconfig"}},
			{Role: "incoming", Protocol: "imap", Host: "mail.example.com", Port: 143, TLS: "none", Verdict: "fails",
				Reason:  "the server advertises LOGINDISABLED before STARTTLS, so a mail app set to no encryption cannot log in at all",
				Sources: []string{"user"}},
		}}}
}

// TestTextFitsTheWidth: at 80 columns (a terminal that size, or a file) no
// line runs past the width, and nothing is lost: every word of the
// unwrapped report is still there, in the same order.
func TestTextFitsTheWidth(t *testing.T) {
	reports := append(sampleReports(), loginReport())
	for _, width := range []int{80, 60} {
		for _, verbose := range []bool{false, true} {
			wrapped := render(t, reports, Options{Format: "text", Width: width, Verbose: verbose})
			for i, line := range strings.Split(wrapped, "\n") {
				if w := cellWidth(line); w > width {
					t.Errorf("width %d, verbose %v: line %d is %d columns: %q", width, verbose, i+1, w, line)
				}
			}
			plain := render(t, reports, Options{Format: "text", Verbose: verbose})
			if got, want := words(wrapped), words(plain); got != want {
				t.Errorf("width %d, verbose %v: wrapping changed the words:\n%s", width, verbose, wrapped)
			}
		}
	}
}

// words is the text's words in order, table headers and "LABEL:" pairs
// aside, so that a table laid out differently still compares equal.
func words(s string) string {
	var out []string
	for _, w := range strings.Fields(s) {
		if strings.Trim(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZ:") == "" {
			continue
		}
		out = append(out, w)
	}
	sortWords(out)
	return strings.Join(out, " ")
}

// sortWords orders words so that the comparison ignores the order of the
// cells a narrow table moves below their row, while still catching a word
// lost or cut in two.
func sortWords(ws []string) {
	for i := 1; i < len(ws); i++ {
		for j := i; j > 0 && ws[j] < ws[j-1]; j-- {
			ws[j], ws[j-1] = ws[j-1], ws[j]
		}
	}
}

func TestTextWrapsWithHangingIndent(t *testing.T) {
	out := render(t, sampleReports()[:1], Options{Format: "text", Width: 80})
	for _, want := range []string{
		"      fix: Flatten or remove includes so that at most 10 lookups remain: replace\n" +
			"           `a`/`mx` with `ip4:`/`ip6:` ranges, drop includes of services no\n",
		"  ✗ SPF needs 12 DNS lookups; the limit is 10 — example.com TXT\n    [spf.lookup-limit, new]\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("80-column text lacks\n%s\ngot:\n%s", want, out)
		}
	}
}

func TestTableThatFitsStaysATable(t *testing.T) {
	out := render(t, sampleReports()[:1], Options{Format: "text", Width: 200})
	if !strings.Contains(out, "  mx1.example.com  192.0.2.1:25  smtp      ok       TLS1.3  yes       -                PLAIN LOGIN\n") {
		t.Errorf("a table that fits must keep its columns:\n%s", out)
	}
	narrow := render(t, sampleReports()[:1], Options{Format: "text", Width: 80})
	for _, want := range []string{
		"  HOST             ADDRESS       PROTOCOL  STATUS   TLS     VERIFIED\n",
		"  mx1.example.com  192.0.2.1:25  smtp      ok       TLS1.3  yes\n" +
			"    AUTH BEFORE TLS: -  AUTH AFTER TLS: PLAIN LOGIN\n",
	} {
		if !strings.Contains(narrow, want) {
			t.Errorf("80-column probe table lacks\n%s\ngot:\n%s", want, narrow)
		}
	}
}

func TestTextGolden80(t *testing.T) {
	got := render(t, append(sampleReports(), loginReport()), Options{Format: "text", Width: 80, Verbose: true})
	path := filepath.Join("testdata", "text-80.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("differs from %s; run go test ./report -update and review the diff\n--- got:\n%s", path, got)
	}
}

// TestTabsShowAsSpaces: a tab in a record or a reply is layout; it is
// expanded to the next tab stop instead of being escaped as \x09, while
// other control characters are still escaped.
func TestTabsShowAsSpaces(t *testing.T) {
	f := finding.New("dkim.syntax", "s1._domainkey.example.com TXT", finding.T("DKIM key record at selector %s is not usable: %v", "s1", "bad tag"),
		"v=DKIM1;\tk=rsa;\tp=MIIB", "col\tx\x1b[2J")
	out := render(t, []finding.Report{{Target: "example.com", Findings: []finding.Finding{f}}}, Options{Format: "text"})
	for _, want := range []string{"      v=DKIM1;        k=rsa;  p=MIIB\n", `      col     x\x1b[2J`} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, `\x09`) || strings.Contains(out, "\t") {
		t.Errorf("a tab reached the output:\n%q", out)
	}
}

// TestInterruptedIsMarked: a target cut short by Ctrl-C says so in text
// and JSON, keeps what completed and drops the inconclusive findings and
// timed-out probes the interruption itself produces.
func TestInterruptedIsMarked(t *testing.T) {
	r := sampleReports()[0]
	r.MarkInterrupted()
	for _, f := range r.Findings {
		if f.Severity == finding.Error {
			t.Errorf("an interrupted report kept the inconclusive %s", f.ID)
		}
	}
	if len(r.Probes) != 1 || r.Probes[0].Status != "ok" {
		t.Errorf("an interrupted report keeps the completed probes only: %+v", r.Probes)
	}
	text := render(t, []finding.Report{r}, Options{Format: "text"})
	if !strings.Contains(text, "example.com (2026-11-21 10:00:00 UTC, 412 ms)\n  Interrupted: the run was stopped before this target was complete") ||
		!strings.Contains(text, "[spf.lookup-limit, new]") {
		t.Errorf("text does not say the target was interrupted, or lost what completed:\n%s", text)
	}
	fr := render(t, []finding.Report{r}, Options{Format: "text", Lang: finding.French})
	if !strings.Contains(fr, "Interrompu : ") {
		t.Errorf("French text lacks the interrupted line:\n%s", fr)
	}
	var back finding.Report
	if err := json.Unmarshal([]byte(render(t, []finding.Report{r}, Options{Format: "json"})), &back); err != nil || !back.Interrupted {
		t.Errorf("JSON lacks \"interrupted\": true (%v)", err)
	}
	if md := render(t, []finding.Report{r}, Options{Format: "markdown"}); !strings.Contains(md, "> Interrupted: the run was stopped") {
		t.Errorf("markdown does not say the target was interrupted:\n%s", md)
	}
	if sarif := render(t, []finding.Report{r}, Options{Format: "sarif"}); !strings.Contains(sarif, `"executionSuccessful": false`) {
		t.Errorf("SARIF of an interrupted run claims a successful execution")
	}
	if junit := render(t, []finding.Report{r}, Options{Format: "junit"}); !strings.Contains(junit, `<property name="interrupted" value="true">`) {
		t.Errorf("JUnit of an interrupted run lacks the interrupted property:\n%s", junit)
	}
	complete := render(t, sampleReports()[1:], Options{Format: "json"})
	if strings.Contains(complete, "interrupted") {
		t.Errorf("a complete report must not mention interrupted:\n%s", complete)
	}
}

// TestProbesIsAlwaysAnArray: --no-probe reports keep the probes key.
func TestProbesIsAlwaysAnArray(t *testing.T) {
	out := render(t, sampleReports()[1:], Options{Format: "json"})
	if !strings.Contains(out, `"probes": []`) {
		t.Errorf("a report without probes lacks \"probes\": []:\n%s", out)
	}
}
