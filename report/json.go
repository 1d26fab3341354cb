package report

import (
	"encoding/json"
	"io"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// normalized returns a copy of r as SPEC's schema writes it: the schema name
// set and the start time in UTC.
func normalized(r finding.Report) finding.Report {
	if r.Schema == "" {
		r.Schema = finding.Schema
	}
	r.Started = r.Started.UTC()
	return r
}

// renderJSON writes one object for one report and an array for several (or
// none), as SPEC's output schema says.
func renderJSON(w io.Writer, reports []finding.Report, _ Options) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Fixes quote records like `<selector>._domainkey.<domain>`; keep them
	// readable instead of \u003c-escaped. JSON stays valid either way.
	enc.SetEscapeHTML(false)
	if len(reports) == 1 {
		return enc.Encode(normalized(reports[0]))
	}
	out := make([]finding.Report, len(reports))
	for i, r := range reports {
		out[i] = normalized(r)
	}
	return enc.Encode(out)
}

// renderNDJSON writes one compact object per line, so that a consumer can
// process each target as soon as its line arrives.
func renderNDJSON(w io.Writer, reports []finding.Report, _ Options) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, r := range reports {
		if err := enc.Encode(normalized(r)); err != nil {
			return err
		}
	}
	return nil
}
