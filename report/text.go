package report

import (
	"bufio"
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
		l.para(p.heading.Sprint(finding.T("total:").In(opts.Lang))+" ", "  ", summaryLine(total, p, opts.Lang))
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
		l.para("", "  ", p.heading.Sprint(finding.T("Client settings for %s", printable(r.Login.Address)).In(opts.Lang)))
		writeLoginTable(l, r.Login.Candidates, opts.Lang)
	}
	writeMessageText(l, r.Message, opts, p)
	for _, g := range groupByArea(r.Findings) {
		l.line("")
		l.line(p.heading.Sprint(areaTitle(g.area, opts.Lang)))
		for _, f := range g.findings {
			writeTextFinding(l, f, p, opts.Lang)
		}
	}
	if len(r.Probes) > 0 {
		l.line("")
		l.line(p.heading.Sprint(finding.T("Probes").In(opts.Lang)))
		writeProbeTable(l, r.Probes, opts.Lang)
		if opts.Verbose {
			writeTranscripts(l, r.Probes, p, opts.Lang)
		}
	}
	if opts.Verbose && len(r.Detail) > 0 {
		l.line("")
		l.line(p.heading.Sprint(finding.T("Detail").In(opts.Lang)))
		for _, line := range r.Detail {
			l.para("  ", "    ", printable(line))
		}
	}
	t := tallyOf(r.Findings)
	l.line("")
	l.para("", "  ", summaryLine(t, p, opts.Lang))
	return t
}

// label is the translated label of a "label: %s" format ("fix: %s" is
// "correction : %s" in French), for a hanging indent under it.
func label(format finding.Text, lang finding.Lang) (first, rest string) {
	first = format.In(lang)
	return first, strings.Repeat(" ", cellWidth(first))
}

func writeTextFinding(l layout, f finding.Finding, p palette, lang finding.Lang) {
	line := printable(oneLine(f.Title))
	if f.Subject != "" {
		line += " — " + printable(oneLine(f.Subject))
	}
	tags := []string{f.ID}
	if f.Baseline != "" {
		tags = append(tags, baselineWord(f.Baseline, lang))
	}
	if f.Allowed != "" {
		tags = append(tags, finding.T("allowed %s", printable(oneLine(f.Allowed))).In(lang))
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
		first, rest := label(finding.T("at %s", ""), lang)
		l.para("      "+first, "      "+rest, printable(loc))
	}
	if fix := fixOf(f); fix != "" {
		first, rest := label(finding.T("fix: %s", ""), lang)
		l.para("      "+first, "      "+rest, printable(oneLine(fix)))
	}
}

func summaryLine(t tally, p palette, l finding.Lang) string {
	parts := make([]string, 0, 5)
	for s := finding.Pass; s <= finding.Error; s++ {
		part := severityCount(s, t.bySeverity[s], l)
		if t.bySeverity[s] > 0 {
			part = p.sev(s, part)
		}
		parts = append(parts, part)
	}
	line := strings.Join(parts, ", ")
	var base []string
	for _, state := range baselineStates {
		if n := t.baseline[state]; n > 0 {
			base = append(base, baselineCount(state, n, l))
		}
	}
	if len(base) > 0 {
		line += finding.T(" (baseline: %s)", strings.Join(base, ", ")).In(l)
	}
	return line
}

func writeProbeTable(tl layout, probes []finding.Probe, l finding.Lang) {
	rows := [][]string{{finding.T("HOST").In(l), finding.T("ADDRESS").In(l), finding.T("PROTOCOL").In(l), finding.T("STATUS").In(l),
		finding.T("TLS").In(l), finding.T("VERIFIED").In(l), finding.T("AUTH BEFORE TLS").In(l), finding.T("AUTH AFTER TLS").In(l)}}
	for _, pr := range probes {
		version, verified := "-", "-"
		if pr.TLS != nil {
			version = pr.TLS.Version
			verified = yesNo(pr.TLS.Verified, l)
		}
		rows = append(rows, []string{pr.Host, pr.Addr, pr.Protocol, statusWord(pr.Status, l), version, verified,
			listOrDash(pr.AuthBeforeTLS), listOrDash(pr.AuthAfterTLS)})
	}
	tl.table(rows)
}

func writeTranscripts(l layout, probes []finding.Probe, p palette, lang finding.Lang) {
	for _, pr := range probes {
		if len(pr.Transcript) == 0 && pr.Error == "" {
			continue
		}
		l.line("")
		l.para("  ", "    ", p.faint.Sprint(printable(pr.Host+" "+pr.Addr+" ("+pr.Protocol+")")))
		if pr.Error != "" {
			first, rest := label(finding.T("error: %s", ""), lang)
			l.para("    "+first, "    "+rest, printable(oneLine(pr.Error)))
		}
		for _, line := range pr.Transcript {
			l.para("    ", "      ", printable(strings.TrimRight(line, "\r\n")))
		}
	}
}

func writeLoginTable(tl layout, candidates []finding.ClientEndpoint, l finding.Lang) {
	rows := [][]string{{finding.T("ROLE").In(l), finding.T("PROTOCOL").In(l), finding.T("HOST").In(l), finding.T("PORT").In(l),
		finding.T("SECURITY").In(l), finding.T("USERNAME").In(l), finding.T("VERDICT").In(l), finding.T("FROM").In(l), finding.T("REASON").In(l)}}
	for _, c := range candidates {
		verdict := verdictWord(c.Verdict, l)
		if c.Recommended && c.Verdict != "recommended" {
			verdict = finding.T("%s (recommended)", verdict).In(l)
		}
		sources := make([]string, len(c.Sources))
		for i, s := range c.Sources {
			sources[i] = sourceWord(s, l)
		}
		rows = append(rows, []string{roleWord(c.Role, l), c.Protocol, c.Host, strconv.Itoa(c.Port), securityName(c.TLS, l),
			dashIfEmpty(c.Username), verdict, listOrDash(sources), c.Reason})
	}
	tl.table(rows)
}

// securityName is the wording mail apps use for the connection security
// setting.
func securityName(tls string, l finding.Lang) string {
	switch tls {
	case "implicit":
		return "SSL/TLS"
	case "starttls":
		return "STARTTLS"
	case "none":
		return finding.T("none").In(l)
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
