package report

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/fatih/color"
	"github.com/mailcheck-cli/mailcheck/finding"
)

// palette colours text when enabled and passes it through otherwise. Each
// colour is forced on or off explicitly so that fatih/color's own terminal
// and NO_COLOR detection never overrides the caller's decision.
type palette struct {
	severity [5]*color.Color
	heading  *color.Color
	faint    *color.Color
}

func newPalette(enabled bool) palette {
	p := palette{
		severity: [5]*color.Color{
			finding.Pass:  color.New(color.FgGreen),
			finding.Info:  color.New(color.FgCyan),
			finding.Warn:  color.New(color.FgYellow),
			finding.Fail:  color.New(color.FgRed),
			finding.Error: color.New(color.FgMagenta),
		},
		heading: color.New(color.Bold),
		faint:   color.New(color.Faint),
	}
	for _, c := range append(p.severity[:], p.heading, p.faint) {
		if enabled {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
	}
	return p
}

func (p palette) sev(s finding.Severity, text string) string {
	if s < finding.Pass || s > finding.Error {
		return text
	}
	return p.severity[s].Sprint(text)
}

func renderText(w io.Writer, reports []finding.Report, opts Options) error {
	bw := bufio.NewWriter(w)
	l := layout{w: bw, width: opts.Width}
	p := newPalette(opts.Color)
	var total tally
	for i, r := range reports {
		if i > 0 {
			l.line("")
		}
		t := writeTextReport(l, r, opts, p)
		total = total.add(t)
	}
	if len(reports) > 1 {
		l.line("")
		l.para(p.heading.Sprint("total:")+" ", "  ", summaryLine(total, p))
	}
	if opts.GitHubActions {
		// Workflow commands are read by GitHub line by line: never wrapped.
		for _, r := range reports {
			writeAnnotations(bw, r)
		}
	}
	return bw.Flush()
}

func writeTextReport(l layout, r finding.Report, opts Options, p palette) tally {
	header := p.heading.Sprint(printable(r.Target))
	var when []string
	if !r.Started.IsZero() {
		when = append(when, r.Started.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	if r.DurationMS > 0 {
		when = append(when, strconv.FormatInt(r.DurationMS, 10)+" ms")
	}
	if len(when) > 0 {
		header += p.faint.Sprint(" (" + strings.Join(when, ", ") + ")")
	}
	l.para("", "  ", header)
	if r.Interrupted {
		l.para("  ", "  ", p.sev(finding.Error,
			finding.T("Interrupted: the run was stopped before this target was complete; what follows is what completed.").In(opts.Lang)))
	}

	// The settings a mail app needs come first: they are what support
	// staff read out to the user on the phone.
	if r.Login != nil && len(r.Login.Candidates) > 0 {
		l.line("")
		l.para("", "  ", p.heading.Sprint("Client settings for "+printable(r.Login.Address)))
		writeLoginTable(l, r.Login.Candidates)
	}
	for _, g := range groupByArea(r.Findings) {
		l.line("")
		l.line(p.heading.Sprint(areaTitle(g.area)))
		for _, f := range g.findings {
			writeTextFinding(l, f, p)
		}
	}
	if len(r.Probes) > 0 {
		l.line("")
		l.line(p.heading.Sprint("Probes"))
		writeProbeTable(l, r.Probes)
		if opts.Verbose {
			writeTranscripts(l, r.Probes, p)
		}
	}
	if opts.Verbose && len(r.Detail) > 0 {
		l.line("")
		l.line(p.heading.Sprint("Detail"))
		for _, line := range r.Detail {
			l.para("  ", "    ", printable(line))
		}
	}
	t := tallyOf(r.Findings)
	l.line("")
	l.para("", "  ", summaryLine(t, p))
	return t
}

func writeTextFinding(l layout, f finding.Finding, p palette) {
	line := printable(oneLine(f.Title))
	if f.Subject != "" {
		line += " — " + printable(oneLine(f.Subject))
	}
	tags := []string{f.ID}
	if f.Baseline != "" {
		tags = append(tags, f.Baseline)
	}
	if f.Allowed != "" {
		tags = append(tags, "allowed "+printable(oneLine(f.Allowed)))
	}
	line += " " + p.faint.Sprint("["+strings.Join(tags, ", ")+"]")
	l.para("  "+p.sev(f.Severity, mark(f.Severity))+" ", "    ", line)
	// Only what needs attention gets its evidence and fix; a finding the
	// change fixed is listed, but there is nothing left to do about it.
	if f.Severity < finding.Warn || f.Baseline == "fixed" {
		return
	}
	for _, ev := range f.Evidence {
		for _, el := range strings.Split(ev, "\n") {
			l.para("      ", "        ", printable(strings.TrimRight(el, "\r")))
		}
	}
	if loc := locationText(f.Location); loc != "" {
		l.para("      at ", "         ", printable(loc))
	}
	if fix := fixOf(f); fix != "" {
		l.para("      fix: ", "           ", printable(oneLine(fix)))
	}
}

func summaryLine(t tally, p palette) string {
	parts := make([]string, 0, 5)
	for s := finding.Pass; s <= finding.Error; s++ {
		part := fmt.Sprintf("%d %s", t.bySeverity[s], s)
		if t.bySeverity[s] > 0 {
			part = p.sev(s, part)
		}
		parts = append(parts, part)
	}
	line := strings.Join(parts, ", ")
	var base []string
	for _, state := range baselineStates {
		if n := t.baseline[state]; n > 0 {
			base = append(base, fmt.Sprintf("%d %s", n, state))
		}
	}
	if len(base) > 0 {
		line += " (baseline: " + strings.Join(base, ", ") + ")"
	}
	return line
}

func writeProbeTable(l layout, probes []finding.Probe) {
	rows := [][]string{{"HOST", "ADDRESS", "PROTOCOL", "STATUS", "TLS", "VERIFIED", "AUTH BEFORE TLS", "AUTH AFTER TLS"}}
	for _, pr := range probes {
		version, verified := "-", "-"
		if pr.TLS != nil {
			version = pr.TLS.Version
			verified = "no"
			if pr.TLS.Verified {
				verified = "yes"
			}
		}
		rows = append(rows, []string{pr.Host, pr.Addr, pr.Protocol, pr.Status, version, verified,
			listOrDash(pr.AuthBeforeTLS), listOrDash(pr.AuthAfterTLS)})
	}
	l.table(rows)
}

func writeTranscripts(l layout, probes []finding.Probe, p palette) {
	for _, pr := range probes {
		if len(pr.Transcript) == 0 && pr.Error == "" {
			continue
		}
		l.line("")
		l.para("  ", "    ", p.faint.Sprint(printable(pr.Host+" "+pr.Addr+" ("+pr.Protocol+")")))
		if pr.Error != "" {
			l.para("    error: ", "           ", printable(oneLine(pr.Error)))
		}
		for _, line := range pr.Transcript {
			l.para("    ", "      ", printable(strings.TrimRight(line, "\r\n")))
		}
	}
}

func writeLoginTable(l layout, candidates []finding.ClientEndpoint) {
	rows := [][]string{{"ROLE", "PROTOCOL", "HOST", "PORT", "SECURITY", "USERNAME", "VERDICT", "FROM", "REASON"}}
	for _, c := range candidates {
		verdict := c.Verdict
		if c.Recommended && verdict != "recommended" {
			verdict += " (recommended)"
		}
		rows = append(rows, []string{c.Role, c.Protocol, c.Host, strconv.Itoa(c.Port), securityName(c.TLS),
			dashIfEmpty(c.Username), verdict, listOrDash(c.Sources), c.Reason})
	}
	l.table(rows)
}

// securityName is the wording mail apps use for the connection security
// setting.
func securityName(tls string) string {
	switch tls {
	case "implicit":
		return "SSL/TLS"
	case "starttls":
		return "STARTTLS"
	case "none":
		return "none"
	}
	return tls
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func listOrDash(items []string) string {
	if len(items) == 0 {
		return "-"
	}
	return strings.Join(items, " ")
}
