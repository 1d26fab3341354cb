package report

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// renderMarkdown writes a pull-request comment: per target a heading, the
// counts, a table of what needs attention with its fixes, and the passed
// checks folded away.
func renderMarkdown(w io.Writer, reports []finding.Report, opts Options) error {
	bw := bufio.NewWriter(w)
	for i, r := range reports {
		if i > 0 {
			fmt.Fprintln(bw)
		}
		writeMarkdownReport(bw, r, opts)
	}
	return bw.Flush()
}

func writeMarkdownReport(w io.Writer, r finding.Report, opts Options) {
	l := opts.Lang
	fmt.Fprintf(w, "## %s\n\n", finding.T("%s: %s", mdEscape(opts.ToolName, false), mdEscape(r.Target, false)).In(l))
	if r.Interrupted {
		fmt.Fprintf(w, "> %s\n\n", mdEscape(finding.T("Interrupted: the run was stopped before this target was complete; what follows is what completed.").In(l), false))
	}
	if !r.Started.IsZero() {
		fmt.Fprintf(w, "%s\n\n", finding.T("Checked %s in %d ms.", r.Started.UTC().Format("2006-01-02 15:04:05 UTC"), r.DurationMS).In(l))
	}

	writeMessageMarkdown(w, r.Message, opts)
	t := tallyOf(r.Findings)
	var head, cells []string
	for s := finding.Pass; s <= finding.Error; s++ {
		head = append(head, mark(s)+" "+severityWord(s, l))
		cells = append(cells, strconv.Itoa(t.bySeverity[s]))
	}
	writeMarkdownTable(w, head, [][]string{cells}, true)
	if len(t.baseline) > 0 {
		var head, base []string
		for _, state := range baselineStates {
			head = append(head, baselineWord(state, l))
			base = append(base, strconv.Itoa(t.baseline[state]))
		}
		fmt.Fprintln(w)
		writeMarkdownTable(w, head, [][]string{base}, true)
	}

	var attention, passed []finding.Finding
	for _, f := range r.Findings {
		if f.Severity == finding.Pass {
			passed = append(passed, f)
		} else {
			attention = append(attention, f)
		}
	}
	if len(attention) > 0 {
		writeMarkdownFindings(w, attention, l)
	}
	if len(passed) > 0 {
		fmt.Fprintf(w, "\n<details><summary>%s</summary>\n\n", finding.T("%d passed", len(passed)).In(l))
		var rows [][]string
		for _, f := range passed {
			rows = append(rows, []string{"`" + f.ID + "`", mdEscape(f.Subject, true), mdEscape(f.Title, true)})
		}
		writeMarkdownTable(w, []string{finding.T("ID").In(l), finding.T("Subject").In(l), finding.T("Title").In(l)}, rows, false)
		fmt.Fprintln(w, "\n</details>")
	}
}

func writeMarkdownFindings(w io.Writer, findings []finding.Finding, l finding.Lang) {
	withBaseline, withLocation := false, false
	for _, f := range findings {
		withBaseline = withBaseline || f.Baseline != "" || f.Allowed != ""
		withLocation = withLocation || (f.Location != nil && f.Location.File != "")
	}
	head := []string{finding.T("Severity").In(l), finding.T("ID").In(l), finding.T("Subject").In(l), finding.T("Title").In(l)}
	if withLocation {
		head = append(head, finding.T("Where").In(l))
	}
	if withBaseline {
		head = append(head, finding.T("Baseline").In(l))
	}
	var rows [][]string
	for _, f := range findings {
		row := []string{mark(f.Severity) + " " + severityWord(f.Severity, l), "`" + f.ID + "`",
			mdEscape(f.Subject, true), mdEscape(f.Title, true)}
		if withLocation {
			row = append(row, mdEscape(locationText(f.Location), true))
		}
		if withBaseline {
			state := baselineWord(f.Baseline, l)
			if f.Allowed != "" {
				state = strings.TrimSpace(finding.T("%s allowed: %s", state, f.Allowed).In(l))
			}
			row = append(row, mdEscape(state, true))
		}
		rows = append(rows, row)
	}
	fmt.Fprintln(w, "\n### "+finding.T("Findings").In(l))
	fmt.Fprintln(w)
	writeMarkdownTable(w, head, rows, false)

	var fixes []string
	for _, f := range findings {
		fix := fixOf(f)
		if fix == "" || f.Baseline == "fixed" {
			continue
		}
		fixes = append(fixes, "- **`"+f.ID+"`** "+finding.T("%s: %s", mdEscape(f.Subject, false), mdEscape(fix, false)).In(l))
	}
	if len(fixes) > 0 {
		fmt.Fprintln(w, "\n### "+finding.T("Fixes").In(l))
		fmt.Fprintln(w)
		for _, line := range fixes {
			fmt.Fprintln(w, line)
		}
	}
}

func locationText(l *finding.Location) string {
	if l == nil || l.File == "" {
		return ""
	}
	if l.Line > 0 {
		return l.File + ":" + strconv.Itoa(l.Line)
	}
	return l.File
}

func writeMarkdownTable(w io.Writer, head []string, rows [][]string, numeric bool) {
	fmt.Fprintln(w, "| "+strings.Join(head, " | ")+" |")
	align := "---"
	if numeric {
		align = "--:"
	}
	seps := make([]string, len(head))
	for i := range seps {
		seps[i] = align
	}
	fmt.Fprintln(w, "|"+strings.Join(seps, "|")+"|")
	for _, row := range rows {
		fmt.Fprintln(w, "| "+strings.Join(row, " | ")+" |")
	}
}

// MarkdownText escapes s for Markdown as the markdown format does: code
// spans are kept, HTML and Markdown specials are neutralised.
func MarkdownText(s string) string { return mdEscape(s, false) }

// mdEscape makes text from checks and DNS data safe in Markdown: specials
// are backslash-escaped and HTML is neutralised (record contents are not
// trusted), while `code spans`, which the catalogue uses for records to
// publish, are kept. In a table cell, | is escaped even inside code spans,
// as GitHub requires. Newlines become spaces: a cell or list item is one line.
func mdEscape(s string, cell bool) string {
	s = strings.Join(strings.Fields(s), " ")
	parts := strings.Split(s, "`")
	if len(parts)%2 == 0 {
		// An unbalanced backtick: no code spans, escape everything.
		return escapeMarkdownText(s, true)
	}
	var b strings.Builder
	for i, part := range parts {
		if i%2 == 1 {
			if part == "" {
				b.WriteString("``")
				continue
			}
			if cell {
				part = strings.ReplaceAll(part, "|", `\|`)
			}
			b.WriteString("`" + part + "`")
			continue
		}
		b.WriteString(escapeMarkdownText(part, false))
	}
	return b.String()
}

func escapeMarkdownText(s string, backticks bool) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\', '*', '_', '[', ']', '#', '~', '|', '!':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '`':
			if backticks {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
