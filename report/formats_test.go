package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

func TestJSONParsesBackIntoReports(t *testing.T) {
	reports := sampleReports()
	// A start time in another zone must still come out in UTC.
	reports[0].Started = started.In(time.FixedZone("CET", 3600))

	one := render(t, reports[:1], Options{Format: "json"})
	if !strings.Contains(one, `"schema": "mailcheck/v1"`) || !strings.Contains(one, `"started": "2026-11-21T10:00:00Z"`) {
		t.Errorf("JSON lacks the schema or a UTC start time:\n%s", one)
	}
	var got finding.Report
	if err := json.Unmarshal([]byte(one), &got); err != nil {
		t.Fatalf("one report is not a JSON object: %v", err)
	}
	if got.Schema != finding.Schema || got.Target != "example.com" || !got.Started.Equal(started) {
		t.Errorf("report header did not survive: %+v", got)
	}
	if len(got.Findings) != len(reports[0].Findings) {
		t.Fatalf("%d findings came back, want %d", len(got.Findings), len(reports[0].Findings))
	}
	for i, f := range got.Findings {
		want := reports[0].Findings[i]
		if f.ID != want.ID || f.Severity != want.Severity || f.Baseline != want.Baseline || f.Allowed != want.Allowed {
			t.Errorf("finding %d: got %s/%v/%q, want %s/%v/%q", i, f.ID, f.Severity, f.Baseline, want.ID, want.Severity, want.Baseline)
		}
	}
	if p := got.Probes[1]; p.AuthBeforeTLS == nil || p.AuthAfterTLS == nil {
		t.Error("empty AUTH lists must be [] in JSON, not null")
	}

	var many []finding.Report
	if err := json.Unmarshal([]byte(render(t, reports, Options{Format: "json"})), &many); err != nil {
		t.Fatalf("several reports are not a JSON array: %v", err)
	}
	if len(many) != 2 || many[1].Target != "example.org" {
		t.Errorf("array holds %d reports", len(many))
	}
}

func TestNDJSONIsOneObjectPerLine(t *testing.T) {
	out := render(t, sampleReports(), Options{Format: "ndjson"})
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want one per report (2)", len(lines))
	}
	for i, line := range lines {
		var r finding.Report
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.Schema != finding.Schema {
			t.Errorf("line %d: %v (schema %q)", i+1, err, r.Schema)
		}
	}
}

// noNetwork refuses every URL: the SARIF schema must compile from the local
// copy alone, with draft-04's meta-schema built into the library.
type noNetwork struct{}

func (noNetwork) Load(url string) (any, error) {
	return nil, errors.New("refusing to load " + url + " in a test")
}

func sarifSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "sarif-schema-2.1.0.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noNetwork{})
	const url = "file:///sarif-schema-2.1.0.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compiling the SARIF schema: %v", err)
	}
	return sch
}

func TestSARIFValidatesAgainstTheOASISSchema(t *testing.T) {
	sch := sarifSchema(t)
	for _, reports := range [][]finding.Report{sampleReports(), sampleReports()[1:], nil} {
		out := render(t, reports, Options{Format: "sarif"})
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(doc); err != nil {
			t.Errorf("SARIF for %d reports is invalid: %v", len(reports), err)
		}
	}
	// The schema must also catch mistakes, or the check above proves nothing.
	bad, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"version":"2.1.0","runs":[{"tool":{"driver":{}},"results":[{"level":"fatal","message":{"text":"x"}}]}]}`))
	if err := sch.Validate(bad); err == nil {
		t.Error("the schema accepted a driver without a name and a level of fatal")
	}
}

func TestSARIFContent(t *testing.T) {
	var log sarifLog
	if err := json.Unmarshal([]byte(render(t, sampleReports(), Options{Format: "sarif"})), &log); err != nil {
		t.Fatal(err)
	}
	if len(log.Runs) != 1 {
		t.Fatalf("%d runs, want 1", len(log.Runs))
	}
	run := log.Runs[0]
	if run.Tool.Driver.Name != "mailcheck" || run.Tool.Driver.Version != "1.2.3" {
		t.Errorf("driver = %+v", run.Tool.Driver)
	}
	results := map[string]sarifResult{}
	for _, r := range run.Results {
		results[r.RuleID] = r
		if run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("%s: ruleIndex %d points at %s", r.RuleID, r.RuleIndex, run.Tool.Driver.Rules[r.RuleIndex].ID)
		}
	}
	for _, pass := range []string{"mx.ok", "dkim.ok", "spf.ok"} {
		if _, ok := results[pass]; ok {
			t.Errorf("pass finding %s became a SARIF result", pass)
		}
	}
	seen := map[string]bool{}
	for _, rule := range run.Tool.Driver.Rules {
		if seen[rule.ID] {
			t.Errorf("rule %s listed twice", rule.ID)
		}
		seen[rule.ID] = true
		e, _ := finding.Lookup(rule.ID)
		if rule.ShortDescription.Text != e.Title || rule.FullDescription == nil || rule.FullDescription.Text != e.Why ||
			rule.Help == nil || !strings.HasPrefix(rule.Help.Text, e.Fix) {
			t.Errorf("rule %s does not carry the catalogue's title, why and fix", rule.ID)
		}
	}
	if len(run.Tool.Driver.Rules) != len(run.Results) {
		t.Errorf("%d rules for %d results with distinct IDs", len(run.Tool.Driver.Rules), len(run.Results))
	}

	spf := results["spf.lookup-limit"]
	if spf.Level != "error" || spf.BaselineState != "new" {
		t.Errorf("spf.lookup-limit: level %s, baseline %s", spf.Level, spf.BaselineState)
	}
	phys := spf.Locations[0].PhysicalLocation
	if phys == nil || phys.ArtifactLocation.URI != "zones/example.com.zone" || phys.Region == nil || phys.Region.StartLine != 12 {
		t.Errorf("spf.lookup-limit is not located at zones/example.com.zone:12: %+v", phys)
	}
	if !strings.Contains(spf.Message.Text, "SPF needs 12 DNS lookups") || !strings.Contains(spf.Message.Text, "Flatten") {
		t.Errorf("message lacks title or fix: %q", spf.Message.Text)
	}
	if got := results["spf.all-neutral"].BaselineState; got != "absent" {
		t.Errorf("a fixed finding has baselineState %q, want absent", got)
	}
	timeout := results["conn.timeout"]
	if timeout.Level != "warning" || timeout.Properties["inconclusive"] != true {
		t.Errorf("inconclusive finding: level %s, properties %v", timeout.Level, timeout.Properties)
	}
	if ll := timeout.Locations[0]; ll.PhysicalLocation != nil || ll.LogicalLocations[0].Name != "mx2.example.com:25" {
		t.Errorf("a finding without a file should be located at its subject: %+v", ll)
	}
	if s := results["dmarc.rua-missing"].Suppressions; len(s) != 1 || s[0].Kind != "external" {
		t.Errorf("an allowed finding should carry an external suppression: %+v", s)
	}
	if results["tls.cert-expiring"].Level != "warning" || results["tlsrpt.missing"].Level != "note" {
		t.Error("warn must map to warning and info to note")
	}
	if got := results["mx.cname"].Locations[0].PhysicalLocation.ArtifactLocation.URI; got != "zones/ex,ample:v2.zone" {
		t.Errorf("uri = %q", got)
	}
}

func TestArtifactURI(t *testing.T) {
	tests := map[string]string{
		"zones/example.com.zone":   "zones/example.com.zone",
		"./zones/example.com.zone": "zones/example.com.zone",
		"zones/my zone.txt":        "zones/my%20zone.txt",
		"/srv/dns/example.zone":    "file:///srv/dns/example.zone",
		"ex:ample.zone":            "./ex:ample.zone",
	}
	for in, want := range tests {
		if got := artifactURI(in); got != want {
			t.Errorf("artifactURI(%q) = %q, want %q", in, got, want)
		}
	}
}

type junitDoc struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Skipped  int `xml:"skipped,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Skipped  int    `xml:"skipped,attr"`
		Time     string `xml:"time,attr"`
		Cases    []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Type string `xml:"type,attr"`
			} `xml:"failure"`
			Skipped *struct{} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestJUnitFailuresFollowFailOn(t *testing.T) {
	tests := []struct {
		name     string
		failOn   finding.Severity
		failures int
	}{
		// One test case per check and target: 10 in the sample.
		// fail: the mx (mx.cname) and spf (spf.lookup-limit) checks of
		// example.com, the dmarc check (dmarc.missing) of example.org.
		{"fail", finding.Fail, 3},
		// The zero value is the CLI's default, fail.
		{"default", finding.Pass, 3},
		// warn adds the tls check (tls.cert-expiring); dmarc.policy-none is unchanged and
		// spf.all-neutral fixed, so neither counts.
		{"warn", finding.Warn, 4},
		// info adds the tlsrpt and mtasts checks; dmarc.rua-missing is allowed.
		{"info", finding.Info, 6},
		{"never", finding.Error, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := render(t, sampleReports(), Options{Format: "junit", FailOn: tt.failOn})
			var doc junitDoc
			if err := xml.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatalf("JUnit output is not XML: %v", err)
			}
			if doc.Failures != tt.failures || doc.Tests != 10 || doc.Skipped != 1 {
				t.Errorf("tests=%d failures=%d skipped=%d, want 10, %d, 1", doc.Tests, doc.Failures, doc.Skipped, tt.failures)
			}
			var tests, failures, skipped int
			for _, s := range doc.Suites {
				var caseFailures, caseSkipped int
				for _, c := range s.Cases {
					if c.Failure != nil {
						caseFailures++
					}
					if c.Skipped != nil {
						caseSkipped++
					}
				}
				if s.Tests != len(s.Cases) || s.Failures != caseFailures || s.Skipped != caseSkipped {
					t.Errorf("suite %s: attributes %d/%d/%d disagree with its test cases %d/%d/%d",
						s.Name, s.Tests, s.Failures, s.Skipped, len(s.Cases), caseFailures, caseSkipped)
				}
				tests, failures, skipped = tests+s.Tests, failures+s.Failures, skipped+s.Skipped
			}
			if tests != doc.Tests || failures != doc.Failures || skipped != doc.Skipped {
				t.Error("<testsuites> totals are not the sum of the suites")
			}
		})
	}
}

func TestMarkdownEscapesCells(t *testing.T) {
	out := render(t, sampleReports(), Options{Format: "markdown"})
	for _, want := range []string{
		`CNAME to web.example.net \| 100% &lt;alias&gt; |`,
		"| ✗ fail | `spf.lookup-limit` | example.com TXT | SPF needs 12 DNS lookups; the limit is 10 | zones/example.com.zone:12 | new |",
		"| 1 | 1 | 1 |", // new, unchanged, fixed
		"`v=DMARC1; p=quarantine; rua=mailto:dmarc@<domain>`", // code spans survive
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if strings.Contains(out, "<alias>") {
		t.Error("raw HTML from a finding reached the markdown")
	}
	if strings.Contains(out, "**`spf.all-neutral`**") {
		t.Error("a finding the change fixed should not be listed with a fix")
	}
	cases := map[string]string{
		"a|b":            `a\|b`,
		"*bold* _it_":    `\*bold\* \_it\_`,
		"`x|y` and <b>":  "`x\\|y` and &lt;b&gt;",
		"odd ` tick":     "odd \\` tick",
		"line\nbreak":    "line break",
		"[link](http:x)": `\[link\](http:x)`,
	}
	for in, want := range cases {
		if got := mdEscape(in, true); got != want {
			t.Errorf("mdEscape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTextNeutralisesControlCharacters(t *testing.T) {
	r := finding.Report{Target: "evil.example", Findings: []finding.Finding{
		finding.New("conn.protocol", "evil.example:25", finding.T("Unexpected banner \x1b[2J\x1b]0;pwned\a"), "220 \x1b[31mhello"),
	}, Probes: []finding.Probe{{Host: "evil.example", Addr: "192.0.2.9:25", Protocol: "smtp", Status: "protocol-error",
		Transcript: []string{"S: 220 \x1b[2Jhi\r"}}}}
	var buf bytes.Buffer
	if err := Render(&buf, []finding.Report{r}, Options{Format: "text", Verbose: true}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.ContainsAny(out, "\x1b\x07\r") {
		t.Errorf("control characters from the server reached the terminal:\n%q", out)
	}
	if !strings.Contains(out, `Unexpected banner \x1b[2J`) {
		t.Errorf("the escape should be shown, not dropped:\n%s", out)
	}
}

func TestTextShowsLoginSettings(t *testing.T) {
	r := finding.Report{Target: "user@example.com", Findings: []finding.Finding{finding.New("login.ok", "mail.example.com:993", finding.Text{})},
		Login: &finding.LoginSettings{Address: "user@example.com", Candidates: []finding.ClientEndpoint{
			{Role: "incoming", Protocol: "imap", Host: "mail.example.com", Port: 993, TLS: "implicit", Verdict: "recommended", Recommended: true,
				Username: "user@example.com", Sources: []string{"srv", "autoconfig"}},
			{Role: "incoming", Protocol: "imap", Host: "mail.example.com", Port: 143, TLS: "none", Verdict: "fails", Reason: "LOGINDISABLED before STARTTLS",
				Sources: []string{"user"}},
		}}}
	out := render(t, []finding.Report{r}, Options{Format: "text"})
	for _, want := range []string{
		"Client settings for user@example.com",
		"incoming  imap      mail.example.com  993   SSL/TLS   user@example.com  recommended  srv autoconfig",
		"incoming  imap      mail.example.com  143   none      -                 fails        user            LOGINDISABLED before STARTTLS",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	// The settings come before the findings: support staff read them out.
	if strings.Index(out, "Client settings") > strings.Index(out, "login.ok") {
		t.Errorf("the client settings must come first:\n%s", out)
	}
}

// TestLangWritesFindingsInFrench: --lang fr changes titles and fixes in
// every format, never IDs or keys, and leaves the caller's report English.
func TestLangWritesFindingsInFrench(t *testing.T) {
	f := finding.New("spf.missing", "example.com TXT", finding.T("No SPF record: %s does not exist", "example.com"))
	reports := []finding.Report{{Schema: finding.Schema, Target: "example.com", Started: started, Findings: []finding.Finding{f}}}
	for _, format := range []string{"json", "text", "markdown"} {
		out := render(t, reports, Options{Format: format, Lang: finding.French})
		if !strings.Contains(out, "Aucun enregistrement SPF : example.com n'existe pas") || !strings.Contains(out, "spf.missing") {
			t.Errorf("%s in French lacks the French title or the ID:\n%s", format, out)
		}
	}
	if reports[0].Findings[0].Title != "No SPF record: example.com does not exist" {
		t.Errorf("rendering changed the caller's finding: %q", reports[0].Findings[0].Title)
	}
}
