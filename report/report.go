// Package report renders finding reports for people (text, markdown) and for
// machines (json, ndjson, sarif, junit). Renderers only format: what counts
// towards the exit code is decided by finding.Report.Worst and Options.FailOn.
package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// Options selects and tunes a format.
type Options struct {
	// Format is one of Formats(); empty means "text".
	Format string
	// Color turns on ANSI colour in the text format. The caller decides
	// (terminal, NO_COLOR, --no-color); the renderer never looks at the
	// environment.
	Color bool
	// Width is the number of columns the text format wraps its lines to
	// (the CLI passes the terminal's width, or 80 when the output is not a
	// terminal); 0 leaves lines unwrapped.
	Width int
	// Verbose adds Detail lines and probe transcripts to the text format.
	Verbose bool
	// FailOn is the lowest severity that fails (JUnit failures). The zero
	// value, Pass, is taken as Fail, the CLI's default; Error or above means
	// nothing fails (--fail-on never), since Error is inconclusive, not a
	// failure.
	FailOn finding.Severity
	// GitHubActions adds ::error/::warning workflow commands to the text
	// format so that GitHub annotates the zone file lines at fault.
	GitHubActions bool
	// ToolName and ToolVersion name the tool in SARIF and JUnit output;
	// ToolName defaults to "mailcheck".
	ToolName, ToolVersion string
	// Lang is the language of titles and fixes; findings are made in
	// English and written in Lang here. Empty means English.
	Lang finding.Lang
	// Interrupted, when set and true at render time, says that Ctrl-C
	// stopped the run: if no report is marked Interrupted yet (a command
	// that knows which targets completed marks those that did not), every
	// report is marked, so that no command prints an interrupted run as a
	// complete one.
	Interrupted func() bool
	// Now is the clock for times the renderer adds itself (SARIF's
	// invocation end); nil means time.Now. Tests pass a fixed clock.
	Now func() time.Time
}

// FormatError reports an unknown format name; the CLI maps it to exit code 2.
type FormatError struct {
	Format string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("unknown format %q (want one of %s)", e.Format, strings.Join(Formats(), ", "))
}

type renderer func(w io.Writer, reports []finding.Report, opts Options) error

var renderers = map[string]renderer{
	"text":     renderText,
	"json":     renderJSON,
	"ndjson":   renderNDJSON,
	"sarif":    renderSARIF,
	"junit":    renderJUnit,
	"markdown": renderMarkdown,
}

// Formats lists the format names Render accepts, in the order SPEC lists them.
func Formats() []string {
	return []string{"text", "json", "ndjson", "sarif", "junit", "markdown"}
}

// Render writes reports to w in opts.Format.
func Render(w io.Writer, reports []finding.Report, opts Options) error {
	name := opts.Format
	if name == "" {
		name = "text"
	}
	r, ok := renderers[name]
	if !ok {
		return &FormatError{Format: opts.Format}
	}
	if opts.FailOn == finding.Pass {
		opts.FailOn = finding.Fail
	}
	if opts.ToolName == "" {
		opts.ToolName = "mailcheck"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Interrupted != nil && opts.Interrupted() {
		reports = markInterrupted(reports)
	}
	return r(w, localize(reports, opts.Lang), opts)
}

// markInterrupted marks every report interrupted unless some already is;
// the callers' reports are not modified.
func markInterrupted(reports []finding.Report) []finding.Report {
	for _, r := range reports {
		if r.Interrupted {
			return reports
		}
	}
	out := make([]finding.Report, len(reports))
	for i, r := range reports {
		r.Findings = append([]finding.Finding(nil), r.Findings...)
		r.Probes = append([]finding.Probe(nil), r.Probes...)
		r.MarkInterrupted()
		out[i] = r
	}
	return out
}

// localize returns reports with every finding, and the reasons of the
// client settings, written in lang; the callers' reports are not modified.
func localize(reports []finding.Report, lang finding.Lang) []finding.Report {
	if lang == "" || lang == finding.English {
		return reports
	}
	out := make([]finding.Report, len(reports))
	for i, r := range reports {
		fs := make([]finding.Finding, len(r.Findings))
		for j, f := range r.Findings {
			fs[j] = f.In(lang)
		}
		r.Findings = fs
		if r.Login != nil {
			login := *r.Login
			login.Candidates = make([]finding.ClientEndpoint, len(r.Login.Candidates))
			for j, c := range r.Login.Candidates {
				login.Candidates[j] = c.In(lang)
			}
			r.Login = &login
		}
		out[i] = r
	}
	return out
}

// counts reports whether a finding counts towards the exit code: findings
// the baseline already had, findings the change fixed and findings a policy
// allowance accepts are shown but do not count.
func counts(f finding.Finding) bool {
	return f.Baseline != "unchanged" && f.Baseline != "fixed" && f.Allowed == ""
}

// fails reports whether f fails at opts.FailOn. Error findings never fail:
// they are inconclusive and have their own exit code.
func fails(f finding.Finding, failOn finding.Severity) bool {
	return counts(f) && f.Severity != finding.Error && f.Severity >= failOn
}

// tally counts findings per severity and per baseline state.
type tally struct {
	bySeverity [5]int
	baseline   map[string]int
}

func tallyOf(findings []finding.Finding) tally {
	t := tally{baseline: map[string]int{}}
	for _, f := range findings {
		if f.Severity >= finding.Pass && f.Severity <= finding.Error {
			t.bySeverity[f.Severity]++
		}
		if f.Baseline != "" {
			t.baseline[f.Baseline]++
		}
	}
	return t
}

func (t tally) add(u tally) tally {
	out := tally{baseline: map[string]int{}}
	for i := range t.bySeverity {
		out.bySeverity[i] = t.bySeverity[i] + u.bySeverity[i]
	}
	for k, v := range t.baseline {
		out.baseline[k] += v
	}
	for k, v := range u.baseline {
		out.baseline[k] += v
	}
	return out
}

// baselineStates is the order baseline counts are shown in.
var baselineStates = []string{"new", "unchanged", "fixed"}

// areaTitles names the check areas as admins know them.
var areaTitles = map[string]finding.Text{
	"mx":     finding.T("MX"),
	"spf":    finding.T("SPF"),
	"dmarc":  finding.T("DMARC"),
	"dkim":   finding.T("DKIM"),
	"mtasts": finding.T("MTA-STS"),
	"tlsrpt": finding.T("TLS-RPT"),
	"dnssec": finding.T("DNSSEC"),
	"ptr":    finding.T("Reverse DNS (PTR)"),
	"ns":     finding.T("Name servers"),
	"dane":   finding.T("DANE"),
	"bimi":   finding.T("BIMI"),
	"dnsbl":  finding.T("DNS blocklists"),
	"dns":    finding.T("DNS"),
	"conn":   finding.T("Connections"),
	"tls":    finding.T("TLS"),
	"auth":   finding.T("Authentication"),
	"login":  finding.T("Login"),
	"policy": finding.T("Policy"),
	"change": finding.T("Change safety"),
	"msg":    finding.T("Message checks"),
}

// AreaTitle names a check area (the part of a finding ID before the dot)
// as admins know it, in language l: "MTA-STS" for mtasts.
func AreaTitle(area string, l finding.Lang) string { return areaTitle(area, l) }

// AreaOrder lists the areas in the order reports show them when the
// checks ran in full: DNS policy first, then the live servers, then login
// triage and the CI gate.
func AreaOrder() []string {
	return []string{"mx", "spf", "dmarc", "dkim", "bimi", "mtasts", "tlsrpt", "dane", "dnssec", "ns", "dns", "ptr", "dnsbl",
		"conn", "tls", "auth", "smtp", "login", "policy", "change"}
}

func areaTitle(area string, l finding.Lang) string {
	if t, ok := areaTitles[area]; ok {
		return t.In(l)
	}
	return strings.ToUpper(area)
}

// group is the findings of one area, in the order they came.
type group struct {
	area     string
	findings []finding.Finding
}

// groupByArea keeps the order in which areas first appear: the checks run
// in a meaningful order (MX before SPF before the live probes), so the
// output follows it instead of sorting alphabetically.
func groupByArea(findings []finding.Finding) []group {
	var groups []group
	index := map[string]int{}
	for _, f := range findings {
		a := f.Area()
		i, ok := index[a]
		if !ok {
			i = len(groups)
			index[a] = i
			groups = append(groups, group{area: a})
		}
		groups[i].findings = append(groups[i].findings, f)
	}
	return groups
}

// marks are the one-character severity marks of the text format.
var marks = [...]string{finding.Pass: "✓", finding.Info: "i", finding.Warn: "!", finding.Fail: "✗", finding.Error: "?"}

func mark(s finding.Severity) string {
	if s < finding.Pass || s > finding.Error {
		return "?"
	}
	return marks[s]
}

// fixOf is the finding's fix, or the catalogue's when the check left it
// empty.
func fixOf(f finding.Finding) string {
	if f.Fix != "" {
		return f.Fix
	}
	if e, ok := finding.Lookup(f.ID); ok {
		return e.Fix
	}
	return ""
}

// oneLine folds runs of white space, newlines included, into single spaces:
// a title or subject must not break a line of the text format or a table.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// printable replaces control characters with visible \x escapes. Titles,
// evidence and transcripts carry text from DNS records and remote servers;
// a banner with terminal escape sequences must not reach the terminal. A
// tab is shown as the spaces up to the next tab stop (every 8 columns), as
// a terminal would: it is layout, not a hidden character.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if isControl(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	col := 0
	for _, r := range s {
		if r == '\t' {
			n := tabStop - col%tabStop
			b.WriteString(strings.Repeat(" ", n))
			col += n
			continue
		}
		col++
		if isControl(r) {
			fmt.Fprintf(&b, `\x%02x`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// tabStop is the distance between tab stops when tabs are expanded.
const tabStop = 8

func isControl(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0)
}
