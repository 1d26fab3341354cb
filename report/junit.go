package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// JUnit layout: one <testsuite> per target and one <testcase> per finding,
// classname the target and name "ID subject", so that CI test views list
// each finding by a name that stays the same from run to run. A finding at
// or above FailOn that counts is a <failure>; an Error finding (the check
// was inconclusive) is <skipped>; everything else passes, including
// findings the baseline already had, findings the change fixed and findings
// a policy allowance accepts, which are noted in <system-out>.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties *junitProps     `xml:"properties,omitempty"`
	Cases      []junitTestCase `xml:"testcase"`
}

type junitProps struct {
	Props []junitProp `xml:"property"`
}

type junitProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitTestCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

func junitSeconds(ms int64) string {
	return fmt.Sprintf("%.3f", float64(ms)/1000)
}

func renderJUnit(w io.Writer, reports []finding.Report, opts Options) error {
	all := junitSuites{Name: opts.ToolName, Suites: []junitSuite{}}
	var totalMS int64
	for _, r := range reports {
		s := junitSuiteFor(r, opts)
		all.Tests += s.Tests
		all.Failures += s.Failures
		all.Skipped += s.Skipped
		totalMS += r.DurationMS
		all.Suites = append(all.Suites, s)
	}
	all.Time = junitSeconds(totalMS)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func junitSuiteFor(r finding.Report, opts Options) junitSuite {
	s := junitSuite{Name: r.Target, Time: junitSeconds(r.DurationMS), Cases: []junitTestCase{}}
	if !r.Started.IsZero() {
		// JUnit's timestamp has no zone designator; it is UTC.
		s.Timestamp = r.Started.UTC().Format("2006-01-02T15:04:05")
	}
	if opts.ToolVersion != "" {
		s.Properties = &junitProps{[]junitProp{{Name: "version", Value: opts.ToolVersion}}}
	}
	for _, f := range r.Findings {
		name := f.ID
		if f.Subject != "" {
			name += " " + f.Subject
		}
		tc := junitTestCase{Classname: r.Target, Name: name, Time: "0.000"}
		switch {
		case f.Severity == finding.Error && counts(f):
			tc.Skipped = &junitSkipped{Message: "inconclusive: " + oneLine(f.Title)}
			s.Skipped++
		case fails(f, opts.FailOn):
			tc.Failure = &junitFailure{Message: oneLine(f.Title), Type: f.Severity.String(), Body: junitBody(f)}
			s.Failures++
		default:
			tc.SystemOut = junitNote(f)
		}
		s.Tests++
		s.Cases = append(s.Cases, tc)
	}
	return s
}

func junitBody(f finding.Finding) string {
	var lines []string
	lines = append(lines, f.Evidence...)
	if l := locationText(f.Location); l != "" {
		lines = append(lines, "at "+l)
	}
	if fix := fixOf(f); fix != "" {
		lines = append(lines, "fix: "+fix)
	}
	if f.Ref != "" {
		lines = append(lines, "ref: "+f.Ref)
	}
	return strings.Join(lines, "\n")
}

// junitNote says why a finding that is not a pass did not fail the test.
func junitNote(f finding.Finding) string {
	if f.Severity == finding.Pass {
		return ""
	}
	note := f.Severity.String() + ": " + f.Title
	switch {
	case f.Allowed != "":
		note += " (allowed " + f.Allowed + ")"
	case f.Baseline == "unchanged":
		note += " (unchanged from the baseline)"
	case f.Baseline == "fixed":
		note += " (fixed by this change)"
	}
	return note
}
