package gate

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

func fnd(id string, sev finding.Severity, subject string) finding.Finding {
	return finding.Finding{ID: id, Severity: sev, Subject: subject, Title: id + " on " + subject}
}

// exitCode is the decision `mailcheck domain --fail-on FAILON` makes from
// a report (SPEC "Exit codes").
func exitCode(fs []finding.Finding, failOn finding.Severity) int {
	r := finding.Report{Findings: fs}
	worst, inconclusive := r.Worst()
	switch {
	case worst >= failOn && worst > finding.Pass:
		return 1
	case inconclusive:
		return 3
	}
	return 0
}

func TestCompareMarksNewUnchangedFixed(t *testing.T) {
	baseline := []finding.Finding{
		fnd("mx.ok", finding.Pass, "example.com MX"),
		fnd("spf.ok", finding.Pass, "example.com TXT"),
		fnd("dmarc.rua-missing", finding.Warn, "_dmarc.example.com TXT"),
		fnd("tlsrpt.missing", finding.Warn, "_smtp._tls.example.com TXT"),
		fnd("dnssec.unsigned", finding.Info, "example.com DNSKEY"),
		fnd("dns.lookup-failed", finding.Error, "s1._domainkey.example.com TXT"),
	}
	proposed := []finding.Finding{
		fnd("mx.ok", finding.Pass, "Example.COM. MX"),
		fnd("dmarc.rua-missing", finding.Warn, "_DMARC.example.com. TXT"),
		fnd("spf.all-neutral", finding.Warn, "example.com TXT"),
	}
	got := Compare(baseline, proposed)
	type row struct{ id, baseline string }
	var rows []row
	for _, f := range got {
		rows = append(rows, row{f.ID, f.Baseline})
	}
	want := []row{
		{"mx.ok", Unchanged},
		{"dmarc.rua-missing", Unchanged},
		{"spf.all-neutral", New},
		// Fixed: warn and error findings only; the vanished spf.ok pass and
		// the info finding are not listed.
		{"tlsrpt.missing", Fixed},
		{"dns.lookup-failed", Fixed},
	}
	if !slices.Equal(rows, want) {
		t.Errorf("Compare:\n got  %v\n want %v", rows, want)
	}
	if proposed[0].Baseline != "" {
		t.Error("Compare modified its input")
	}
}

func TestCompareRepeatedIdentity(t *testing.T) {
	// Repeats of one identity pair up one to one, exact titles first.
	a := finding.Finding{ID: "mx.unresolvable", Severity: finding.Fail, Subject: "example.com MX", Title: "mx1 has no address"}
	b := finding.Finding{ID: "mx.unresolvable", Severity: finding.Fail, Subject: "example.com MX", Title: "mx2 has no address"}
	c := finding.Finding{ID: "mx.unresolvable", Severity: finding.Fail, Subject: "example.com MX", Title: "mx3 has no address"}
	got := Compare([]finding.Finding{a, b}, []finding.Finding{b, c})
	var marks []string
	for _, f := range got {
		marks = append(marks, f.Title+"="+f.Baseline)
	}
	// c pairs with a by identity (same ID and subject), so nothing is new
	// and nothing is fixed: the count of problems did not change.
	want := []string{"mx2 has no address=unchanged", "mx3 has no address=unchanged"}
	if !slices.Equal(marks, want) {
		t.Errorf("got %v, want %v", marks, want)
	}
	got = Compare([]finding.Finding{a, b}, []finding.Finding{b})
	if len(got) != 2 || got[1].Title != "mx1 has no address" || got[1].Baseline != Fixed {
		t.Errorf("removing mx1's problem: got %+v", got)
	}
}

func TestSubjectKey(t *testing.T) {
	for _, tt := range [][2]string{
		{"Example.COM. MX", "example.com mx"},
		{"mx1.example.com.:25", "mx1.example.com:25"},
		{"  _dmarc.example.com   TXT ", "_dmarc.example.com txt"},
		{".", "."},
	} {
		if got := SubjectKey(tt[0]); got != tt[1] {
			t.Errorf("SubjectKey(%q) = %q, want %q", tt[0], got, tt[1])
		}
	}
}

// An existing warning must not fail a pull request that does not touch it,
// but the same warning fails a run without a baseline.
func TestUnchangedWarningDoesNotFailWithBaseline(t *testing.T) {
	baseline := []finding.Finding{fnd("dmarc.rua-missing", finding.Warn, "_dmarc.example.com TXT")}
	proposed := []finding.Finding{
		fnd("mx.ok", finding.Pass, "example.com MX"),
		fnd("dmarc.rua-missing", finding.Warn, "_dmarc.example.com TXT"),
	}
	if code := exitCode(proposed, finding.Warn); code != 1 {
		t.Errorf("without baseline, --fail-on warn: exit %d, want 1", code)
	}
	if code := exitCode(Compare(baseline, proposed), finding.Warn); code != 0 {
		t.Errorf("with baseline, --fail-on warn: exit %d, want 0", code)
	}
	// A new warning beside it still fails.
	proposed = append(proposed, fnd("spf.all-neutral", finding.Warn, "example.com TXT"))
	if code := exitCode(Compare(baseline, proposed), finding.Warn); code != 1 {
		t.Errorf("new warning with baseline: exit %d, want 1", code)
	}
	// A fixed failure does not count either.
	baseline = append(baseline, fnd("spf.all-pass", finding.Fail, "example.com TXT"))
	if code := exitCode(Compare(baseline, proposed[:2]), finding.Fail); code != 0 {
		t.Errorf("only a fixed failure: exit %d, want 0", code)
	}
}

func TestAllowancesKeepFindingsButDoNotCount(t *testing.T) {
	p, err := ParsePolicy("mailcheck.yaml", []byte(`allow:
  - id: dmarc.rua-missing
    reason: reports are handled by our provider
    until: 2027-06-30
  - id: tlsrpt.missing
    reason: no reports wanted
    until: 2026-01-31
`))
	if err != nil {
		t.Fatal(err)
	}
	evidence := []string{"v=DMARC1; p=reject"}
	in := []finding.Finding{
		{ID: "dmarc.rua-missing", Severity: finding.Warn, Subject: "_dmarc.example.com TXT", Evidence: evidence},
		{ID: "tlsrpt.missing", Severity: finding.Warn, Subject: "_smtp._tls.example.com TXT"},
	}
	st := State{Resolver: resolvertest.New()}
	now := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	out := p.evaluate(context.Background(), st, "example.com", now, in)

	byID := map[string]finding.Finding{}
	for _, f := range out {
		byID[f.ID] = f
	}
	d := byID["dmarc.rua-missing"]
	if d.Allowed != "until 2027-06-30: reports are handled by our provider" || d.Severity != finding.Warn {
		t.Errorf("dmarc.rua-missing: Allowed %q severity %s", d.Allowed, d.Severity)
	}
	if last := d.Evidence[len(d.Evidence)-1]; !strings.HasPrefix(last, "allowed until 2027-06-30 by mailcheck.yaml:2:") {
		t.Errorf("evidence line %q", last)
	}
	if byID["tlsrpt.missing"].Allowed != "" {
		t.Error("an expired allowance still applies")
	}
	exp, ok := byID["policy.allow-expired"]
	if !ok || exp.Severity != finding.Fail || exp.Location == nil || exp.Location.Line != 5 ||
		!slices.Contains(exp.Evidence, "reason: no reports wanted") {
		t.Errorf("policy.allow-expired = %+v", exp)
	}
	if len(in[0].Evidence) != 1 || in[0].Allowed != "" || len(evidence) != 1 {
		t.Error("Evaluate modified its input")
	}
	// The expired allowance fails the run; without it, the allowed warning
	// alone does not.
	if code := exitCode(out, finding.Warn); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	p.Allow = p.Allow[:1]
	out = p.evaluate(context.Background(), st, "example.com", now, in[:1])
	if code := exitCode(out, finding.Warn); code != 0 {
		t.Errorf("only an allowed warning: exit %d, want 0", code)
	}
}
