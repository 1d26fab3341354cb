package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// JUnit layout: one <testsuite> per target and one <testcase> per check
// (the finding area: mx, spf, dmarc, tls ...), classname the target and
// name the check, so that CI test views list the same tests from run to
// run whatever a run finds. A check fails when one of its findings counts
// and is at or above FailOn; the <failure> lists each such finding with its
// evidence, location and fix. A check that did not fail but had an
// inconclusive (Error) finding is <skipped>. Every other finding — passes,
// findings the baseline already had, findings the change fixed, findings a
// policy allowance accepts — is noted in <system-out>.

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
	var props []junitProp
	if opts.ToolVersion != "" {
		props = append(props, junitProp{Name: "version", Value: opts.ToolVersion})
	}
	if r.Interrupted {
		props = append(props, junitProp{Name: "interrupted", Value: "true"})
	}
	if len(props) > 0 {
		s.Properties = &junitProps{props}
	}
	var areas []string
	byArea := map[string][]finding.Finding{}
	for _, f := range r.Findings {
		a := f.Area()
		if _, seen := byArea[a]; !seen {
			areas = append(areas, a)
		}
		byArea[a] = append(byArea[a], f)
	}
	for _, a := range areas {
		s.Cases = append(s.Cases, junitCase(r.Target, a, byArea[a], opts))
		tc := &s.Cases[len(s.Cases)-1]
		switch {
		case tc.Failure != nil:
			s.Failures++
		case tc.Skipped != nil:
			s.Skipped++
		}
		s.Tests++
	}
	return s
}

// junitCase is one check's test case.
func junitCase(target, area string, fs []finding.Finding, opts Options) junitTestCase {
	tc := junitTestCase{Classname: target, Name: area, Time: "0.000"}
	var failed, inconclusive []finding.Finding
	var notes []string
	for _, f := range fs {
		switch {
		case fails(f, opts.FailOn):
			failed = append(failed, f)
		case f.Severity == finding.Error && counts(f):
			inconclusive = append(inconclusive, f)
		}
		note := junitNote(f, opts.Lang)
		if note == "" {
			note = finding.T("pass: %s", oneLine(f.Title)).In(opts.Lang)
		}
		if f.Subject != "" {
			note += " [" + f.ID + " " + oneLine(f.Subject) + "]"
		}
		notes = append(notes, note)
	}
	switch {
	case len(failed) > 0:
		var msgs, bodies []string
		for _, f := range failed {
			msgs = append(msgs, finding.T("%s: %s", f.ID, oneLine(f.Title)).In(opts.Lang))
			bodies = append(bodies, f.ID+" "+severityWord(f.Severity, opts.Lang)+" "+oneLine(f.Subject)+"\n"+junitBody(f, opts.Lang))
		}
		tc.Failure = &junitFailure{Message: strings.Join(msgs, "; "), Type: failed[0].Severity.String(), Body: strings.Join(bodies, "\n\n")}
	case len(inconclusive) > 0:
		var msgs []string
		for _, f := range inconclusive {
			msgs = append(msgs, finding.T("%s: %s", f.ID, oneLine(f.Title)).In(opts.Lang))
		}
		tc.Skipped = &junitSkipped{Message: finding.T("inconclusive: %s", strings.Join(msgs, "; ")).In(opts.Lang)}
	}
	tc.SystemOut = strings.Join(notes, "\n")
	return tc
}

func junitBody(f finding.Finding, l finding.Lang) string {
	var lines []string
	lines = append(lines, f.Evidence...)
	if loc := locationText(f.Location); loc != "" {
		lines = append(lines, finding.T("at %s", loc).In(l))
	}
	if fix := fixOf(f); fix != "" {
		lines = append(lines, finding.T("fix: %s", fix).In(l))
	}
	if f.Ref != "" {
		lines = append(lines, finding.T("ref: %s", f.Ref).In(l))
	}
	return strings.Join(lines, "\n")
}

// junitNote says why a finding that is not a pass did not fail the test.
func junitNote(f finding.Finding, l finding.Lang) string {
	if f.Severity == finding.Pass {
		return ""
	}
	note := finding.T("%s: %s", severityWord(f.Severity, l), f.Title).In(l)
	switch {
	case f.Allowed != "":
		note += finding.T(" (allowed %s)", f.Allowed).In(l)
	case f.Baseline == "unchanged":
		note += finding.T(" (unchanged from the baseline)").In(l)
	case f.Baseline == "fixed":
		note += finding.T(" (fixed by this change)").In(l)
	}
	return note
}
