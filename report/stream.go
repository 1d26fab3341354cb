package report

import (
	"bytes"
	"encoding/json"
	"io"
	"time"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// Stream writes the reports of a run one at a time, as each target
// finishes, so that a run over many targets keeps nothing of a target once
// its report is written. Encode renders one report and may be called from
// several goroutines at once (each target's worker renders its own); Write
// writes encoded reports in the order it is called, from one goroutine.
//
// ndjson, json and text are written as they come, byte for byte as Render
// writes the same reports in the same order. sarif, junit and markdown are
// documents whose head summarises the whole run: their Stream keeps the
// reports and renders them on Close (use ndjson for long lists).
type Stream struct {
	w      io.Writer
	opts   Options
	total  int
	format string
	n      int // reports written

	// text: the run's tally and the GitHub annotations, written after the
	// last report as Render writes them.
	tally       tally
	annotations bytes.Buffer
	// sarif, junit, markdown: the reports, rendered on Close.
	kept []finding.Report
}

// Encoded is one report rendered for a Stream: its bytes, and what the
// run's trailer needs of it. It holds nothing of the report itself.
type Encoded struct {
	data        []byte
	tally       tally
	annotations []byte
	report      *finding.Report // document formats only
}

// Streamed reports whether a format is written as each report completes
// (ndjson, json, text) rather than all at the end.
func Streamed(format string) bool {
	switch format {
	case "", "text", "json", "ndjson":
		return true
	}
	return false
}

// NewStream starts writing a run of total reports to w in opts.Format. The
// total matters to json, which writes one object for one report and an
// array for any other number.
func NewStream(w io.Writer, total int, opts Options) (*Stream, error) {
	name := opts.Format
	if name == "" {
		name = "text"
	}
	if _, ok := renderers[name]; !ok {
		return nil, &FormatError{Format: opts.Format}
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
	return &Stream{w: w, opts: opts, total: total, format: name}, nil
}

// Encode renders one report. It does not modify r.
func (s *Stream) Encode(r finding.Report) (Encoded, error) {
	var e Encoded
	if !Streamed(s.format) {
		e.report = &r // Render localizes it on Close
		return e, nil
	}
	r = localize([]finding.Report{r}, s.opts.Lang)[0]
	var buf bytes.Buffer
	switch s.format {
	case "ndjson":
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(normalized(r)); err != nil {
			return e, err
		}
	case "json":
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if s.total != 1 {
			// As an element of the array Render writes: indented one
			// level deeper.
			enc.SetIndent("  ", "  ")
		} else {
			enc.SetIndent("", "  ")
		}
		if err := enc.Encode(normalized(r)); err != nil {
			return e, err
		}
		if s.total != 1 {
			buf.Truncate(buf.Len() - 1) // the separator comes with the next one
		}
	case "text":
		p := newPalette(s.opts.Color)
		e.tally = writeTextReport(layout{w: &buf, width: s.opts.Width}, r, s.opts, p)
		if s.opts.GitHubActions {
			var ann bytes.Buffer
			writeAnnotations(&ann, r)
			e.annotations = ann.Bytes()
		}
	}
	e.data = buf.Bytes()
	return e, nil
}

// Write writes one encoded report.
func (s *Stream) Write(e Encoded) error {
	defer func() { s.n++ }()
	switch s.format {
	case "json":
		if s.total != 1 {
			sep := ",\n  "
			if s.n == 0 {
				sep = "[\n  "
			}
			if _, err := io.WriteString(s.w, sep); err != nil {
				return err
			}
		}
	case "text":
		if s.n > 0 {
			if _, err := io.WriteString(s.w, "\n"); err != nil {
				return err
			}
		}
		s.tally = s.tally.add(e.tally)
		s.annotations.Write(e.annotations)
	case "ndjson":
	default:
		s.kept = append(s.kept, *e.report)
		return nil
	}
	_, err := s.w.Write(e.data)
	return err
}

// Close writes what follows the last report: the json array's end, the text
// format's total line and annotations, or the whole document.
func (s *Stream) Close() error {
	switch s.format {
	case "json":
		if s.total == 1 {
			return nil
		}
		end := "\n]\n"
		if s.n == 0 {
			end = "[]\n"
		}
		_, err := io.WriteString(s.w, end)
		return err
	case "text":
		var b bytes.Buffer
		if s.n > 1 {
			// As renderText writes the run's total.
			p := newPalette(s.opts.Color)
			l := layout{w: &b, width: s.opts.Width}
			l.line("")
			l.para(p.heading.Sprint(finding.T("total:").In(s.opts.Lang))+" ", "  ", summaryLine(s.tally, p, s.opts.Lang))
		}
		b.Write(s.annotations.Bytes())
		_, err := s.w.Write(b.Bytes())
		return err
	case "ndjson":
		return nil
	}
	return Render(s.w, s.kept, s.opts)
}
