package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// layout writes the text format's lines, wrapped to a width. Text passed to
// it may already carry colour: widths are measured in terminal cells with
// the escape sequences left out, and wide characters count double.
type layout struct {
	w io.Writer
	// width is the number of columns; 0 leaves lines unwrapped.
	width int
}

// minWrap is the narrowest column text is wrapped into: below that an
// indented paragraph is easier to read unwrapped than cut every few words.
const minWrap = 20

// line writes one line as it is.
func (l layout) line(s string) { fmt.Fprintln(l.w, s) }

// para writes text after the prefix first, wrapped to the width; the lines
// it continues on start with rest (a hanging indent). Words longer than a
// line are cut. Newlines in text start new lines, also indented with rest.
func (l layout) para(first, rest, text string) {
	if l.width <= 0 {
		for i, part := range strings.Split(text, "\n") {
			if i == 0 {
				l.line(first + part)
			} else {
				l.line(rest + part)
			}
		}
		return
	}
	room := max(l.width-max(ansi.StringWidth(first), ansi.StringWidth(rest)), minWrap)
	prefix := first
	for _, part := range strings.Split(text, "\n") {
		for _, wrapped := range strings.Split(wrapWords(part, room), "\n") {
			l.line(strings.TrimRight(prefix+wrapped, " "))
			prefix = rest
		}
	}
}

// nbHyphen stands in for '-' while a line is wrapped: the wrapping library
// breaks lines after hyphens, which would cut finding IDs (spf.lookup-limit),
// host names and records in two. Lines break at spaces only; a word longer
// than the line is cut.
const nbHyphen = "\u2011"

func wrapWords(s string, width int) string {
	if strings.Contains(s, nbHyphen) {
		return ansi.Wrap(s, width, "")
	}
	wrapped := ansi.Wrap(strings.ReplaceAll(s, "-", nbHyphen), width, "")
	return strings.ReplaceAll(wrapped, nbHyphen, "-")
}

// cellWidth is the width of s on a terminal.
func cellWidth(s string) int { return ansi.StringWidth(s) }

// table writes rows (the first is the header) as aligned columns indented
// by two spaces, without trailing blanks. When the table is wider than the
// layout, the last column is wrapped within its cell if that leaves it
// room enough; otherwise the leading columns that fit stay a table and the
// others follow each row as "HEADER: value" pairs, indented, so that
// nothing is cut and no line runs past the width.
func (l layout) table(rows [][]string) {
	if len(rows) == 0 {
		return
	}
	for _, row := range rows {
		for i := range row {
			row[i] = printable(oneLine(row[i]))
		}
	}
	var widths []int
	for _, row := range rows {
		for i, cell := range row {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], cellWidth(cell))
		}
	}
	const indent, gap = 2, 2
	span := func(n int) int { // width of the first n columns, gaps included
		w := indent
		for i := range n {
			w += widths[i]
			if i < n-1 {
				w += gap
			}
		}
		return w
	}
	n := len(widths)
	if l.width <= 0 || span(n) <= l.width {
		l.columns(rows, widths, n, 0)
		return
	}
	if last := l.width - span(n-1) - gap; n > 1 && last >= max(minWrap, cellWidth(rows[0][n-1])) {
		l.columns(rows, widths, n, last)
		return
	}
	keep := 1
	for keep < n-1 && span(keep+1) <= l.width {
		keep++
	}
	header := rows[0]
	for r, row := range rows {
		l.columns([][]string{row[:min(keep, len(row))]}, widths, keep, 0)
		if r == 0 {
			continue
		}
		var pairs []string
		for i := keep; i < len(row); i++ {
			if row[i] == "" {
				continue
			}
			// Non-breaking spaces keep a label with its value when the
			// pairs are wrapped; they are turned back into spaces below.
			pairs = append(pairs, strings.ReplaceAll(header[i]+":", " ", "\u00a0")+"\u00a0"+row[i])
		}
		var b strings.Builder
		layout{w: &b, width: l.width}.para("    ", "      ", strings.Join(pairs, "  "))
		io.WriteString(l.w, strings.ReplaceAll(b.String(), "\u00a0", " "))
	}
}

// columns writes the first n cells of each row padded to widths. When wrap
// is positive, the last of the n cells is wrapped to that width and its
// continuation lines are aligned under it.
func (l layout) columns(rows [][]string, widths []int, n, wrap int) {
	for _, row := range rows {
		var b strings.Builder
		b.WriteString("  ")
		lastAt := 2
		for i := 0; i < n && i < len(row); i++ {
			cell := row[i]
			if i == n-1 && wrap > 0 {
				lastAt = cellWidth(b.String())
				cell = wrapWords(cell, wrap)
				first, more, _ := strings.Cut(cell, "\n")
				b.WriteString(first)
				for _, cont := range strings.Split(more, "\n") {
					if cont != "" {
						b.WriteString("\n" + strings.Repeat(" ", lastAt) + cont)
					}
				}
				break
			}
			b.WriteString(cell)
			if i < n-1 && i < len(row)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-cellWidth(cell)+2))
			}
		}
		for _, line := range strings.Split(b.String(), "\n") {
			l.line(strings.TrimRight(line, " "))
		}
	}
}

// Paragraph writes text after the prefix first, wrapped to width columns,
// with the lines it continues on starting with rest, as the text format
// does; width 0 leaves it unwrapped. For the text of commands that write
// no report (explain).
func Paragraph(w io.Writer, width int, first, rest, text string) {
	layout{w: w, width: width}.para(first, rest, text)
}
