package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// writeAnnotations prints GitHub Actions workflow commands for the findings
// that count: ::error for fail, ::warning for warn, pointing at the zone
// file line when the finding has one.
func writeAnnotations(w io.Writer, r finding.Report) {
	for _, f := range r.Findings {
		if !counts(f) {
			continue
		}
		var command string
		switch f.Severity {
		case finding.Fail:
			command = "error"
		case finding.Warn:
			command = "warning"
		default:
			continue
		}
		var props []string
		if f.Location != nil && f.Location.File != "" {
			props = append(props, "file="+escapeProperty(f.Location.File))
			if f.Location.Line > 0 {
				props = append(props, "line="+strconv.Itoa(f.Location.Line))
			}
		}
		head := "::" + command
		if len(props) > 0 {
			head += " " + strings.Join(props, ",")
		}
		fmt.Fprintf(w, "%s::%s\n", head, escapeData(f.ID+": "+f.Title))
	}
}

// escapeData escapes a workflow command's message: a raw newline would end
// the command, and % introduces the escapes themselves.
func escapeData(s string) string {
	s = strings.ReplaceAll(s, "%", "%25")
	s = strings.ReplaceAll(s, "\r", "%0D")
	return strings.ReplaceAll(s, "\n", "%0A")
}

// escapeProperty escapes a property value, where ':' ends the properties
// and ',' separates them.
func escapeProperty(s string) string {
	s = escapeData(s)
	s = strings.ReplaceAll(s, ":", "%3A")
	return strings.ReplaceAll(s, ",", "%2C")
}
