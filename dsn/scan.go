package dsn

import (
	"encoding/base64"
	"io"
	"strings"
)

// scanStarts are the fields only a status report has; a line that starts
// with one (after indentation or quoting) begins the report.
var scanStarts = []string{"reporting-mta", "final-recipient", "original-recipient"}

// scanStart returns the offset of the first line that starts a report, -1
// when none does. A loop over lines rather than a regular expression: it
// runs over whole message bodies, megabytes of them.
func scanStart(text string) int {
	for off := 0; off < len(text); {
		end := strings.IndexByte(text[off:], '\n')
		line := text[off:]
		if end >= 0 {
			line = text[off : off+end]
		}
		l := strings.TrimLeft(line, " \t>")
		if name, _, ok := strings.Cut(l, ":"); ok && len(name) <= len("original-recipient")+2 {
			name = strings.TrimRight(name, " \t")
			for _, s := range scanStarts {
				if strings.EqualFold(name, s) {
					return off
				}
			}
		}
		if end < 0 {
			break
		}
		off += end + 1
	}
	return -1
}

// Scan reads the delivery-status fields out of text pasted from a mail
// client, where the MIME structure is gone: the "Final-Recipient:",
// "Action:", "Status:" and "Diagnostic-Code:" lines are taken wherever they
// stand. It returns nil when the text holds no recipient block.
//
// A whole message (headers and MIME parts) is better read with Parse; Scan
// is for `mailcheck explain -` and for bounces that lost their structure.
func Scan(text string) *Report {
	start := scanStart(text)
	if start < 0 {
		return nil
	}
	text = text[start:]
	var kept []string
	for _, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		trimmed := strings.TrimLeft(line, " \t>")
		// A MIME boundary ends the status part.
		if strings.HasPrefix(trimmed, "--") && len(kept) > 0 {
			break
		}
		if trimmed == "" {
			kept = append(kept, "")
			continue
		}
		kept = append(kept, unquote(line))
	}
	st := ParseStatusFields(strings.Join(kept, "\n"))
	if len(st.Recipients) == 0 {
		return nil
	}
	return &Report{
		ReportingMTA: st.ReportingMTA, ReceivedFromMTA: st.ReceivedFromMTA,
		ArrivalDate: st.ArrivalDate, OriginalEnvelopeID: st.OriginalEnvelopeID,
		MessageFields: st.MessageFields, Recipients: st.Recipients,
	}
}

// unquote removes the "> " marks of a quoted reply, keeping the
// indentation after them, which marks a folded continuation line.
func unquote(line string) string {
	rest := strings.TrimLeft(line, " \t")
	if !strings.HasPrefix(rest, ">") {
		return line
	}
	for strings.HasPrefix(rest, ">") {
		rest = strings.TrimPrefix(strings.TrimPrefix(rest, ">"), " ")
	}
	return rest
}

// newBase64Reader decodes a base64 part, skipping the line breaks base64
// bodies carry (RFC 2045 §6.8).
func newBase64Reader(r io.Reader) io.Reader {
	return base64.NewDecoder(base64.StdEncoding, &lineStripper{r: r})
}

// lineStripper drops CR, LF and spaces, which base64.NewDecoder rejects
// except for newlines.
type lineStripper struct{ r io.Reader }

func (l *lineStripper) Read(p []byte) (int, error) {
	for {
		n, err := l.r.Read(p)
		j := 0
		for _, c := range p[:n] {
			if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}
