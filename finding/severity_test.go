package finding

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestParseSeverity(t *testing.T) {
	tests := []struct {
		in   string
		want Severity
	}{
		{"pass", Pass}, {"info", Info}, {"warn", Warn}, {"fail", Fail}, {"error", Error},
		{"FAIL", Fail}, {"Warn", Warn},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSeverity(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("ParseSeverity(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "warning", "critical", "never"} {
		if _, err := ParseSeverity(bad); err == nil {
			t.Errorf("ParseSeverity(%q) accepted an unknown name", bad)
		}
	}
}

func TestSeverityOrder(t *testing.T) {
	if !(Pass < Info && Info < Warn && Warn < Fail) {
		t.Error("severities must order pass < info < warn < fail for --fail-on")
	}
	if got := Severity(9).String(); !strings.Contains(got, "9") {
		t.Errorf("an out-of-range severity prints as %q; want its number for debugging", got)
	}
}

func TestSeverityJSONRoundTrip(t *testing.T) {
	for _, s := range []Severity{Pass, Info, Warn, Fail, Error} {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if want := `"` + s.String() + `"`; string(b) != want {
			t.Errorf("json.Marshal(%v) = %s, want %s", s, b, want)
		}
		var back Severity
		if err := json.Unmarshal(b, &back); err != nil || back != s {
			t.Errorf("round trip of %s gave %v, %v", b, back, err)
		}
	}
	var s Severity
	if err := json.Unmarshal([]byte(`"fatal"`), &s); err == nil {
		t.Error(`json.Unmarshal accepted severity "fatal"`)
	}
}

func TestFindingJSONRoundTrip(t *testing.T) {
	in := Finding{ID: "spf.lookup-limit", Severity: Fail, Subject: "example.com TXT",
		Title: "SPF needs 12 DNS lookups; the limit is 10", Evidence: []string{"v=spf1 include:a -all"},
		Fix: "Flatten includes", Ref: "RFC 7208 §4.6.4", Location: &Location{File: "zones/example.com.zone", Line: 12},
		Baseline: "new"}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"severity":"fail"`) {
		t.Errorf("severity is not written by name: %s", b)
	}
	var out Finding
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.ID != in.ID || out.Severity != in.Severity || out.Location == nil || *out.Location != *in.Location ||
		out.Baseline != in.Baseline || len(out.Evidence) != 1 {
		t.Errorf("round trip changed the finding: %+v", out)
	}
}

func TestReportWorst(t *testing.T) {
	tests := []struct {
		name         string
		findings     []Finding
		worst        Severity
		inconclusive bool
	}{
		{"empty", nil, Pass, false},
		{"all pass", []Finding{{Severity: Pass}, {Severity: Pass}}, Pass, false},
		{"highest wins", []Finding{{Severity: Info}, {Severity: Fail}, {Severity: Warn}}, Fail, false},
		{"error is apart", []Finding{{Severity: Warn}, {Severity: Error}}, Warn, true},
		{"only error", []Finding{{Severity: Error}}, Pass, true},
		{"unchanged does not count", []Finding{{Severity: Fail, Baseline: "unchanged"}, {Severity: Warn, Baseline: "new"}}, Warn, false},
		{"fixed does not count", []Finding{{Severity: Fail, Baseline: "fixed"}}, Pass, false},
		{"unchanged error is not inconclusive", []Finding{{Severity: Error, Baseline: "unchanged"}}, Pass, false},
		{"allowed does not count", []Finding{{Severity: Fail, Allowed: "until 2027-06-30: provider"}, {Severity: Info}}, Info, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Report{Findings: tt.findings}
			worst, inconclusive := r.Worst()
			if worst != tt.worst || inconclusive != tt.inconclusive {
				t.Errorf("Worst() = %v, %v; want %v, %v", worst, inconclusive, tt.worst, tt.inconclusive)
			}
		})
	}
}

func TestReportJSONKeepsArrays(t *testing.T) {
	r := Report{Schema: Schema, Target: "example.com", Started: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC),
		Probes: []Probe{{Host: "mx1.example.com", Addr: "192.0.2.1:25", Protocol: "smtp", Status: "ok"}}}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"findings":[]`, `"auth_before_tls":[]`, `"auth_after_tls":[]`, `"schema":"mailcheck/v1"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s: %s", want, b)
		}
	}
	p := Probe{AuthAfterTLS: []string{"PLAIN", "LOGIN"}}
	b, err = json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"auth_after_tls":["PLAIN","LOGIN"]`) {
		t.Errorf("probe JSON lost its mechanisms: %s", b)
	}
	var back Probe
	if err := json.Unmarshal(b, &back); err != nil || len(back.AuthAfterTLS) != 2 {
		t.Errorf("probe JSON does not parse back: %v %+v", err, back)
	}
}
