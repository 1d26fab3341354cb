package gate

import (
	"strings"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// Values of finding.Finding.Baseline.
const (
	New       = "new"
	Unchanged = "unchanged"
	Fixed     = "fixed"
)

// Compare marks each proposed finding New or Unchanged against the
// baseline's, and appends, marked Fixed, the baseline findings at warn,
// fail or error that the proposed state no longer has. A finding's identity
// is its ID and its subject (see SubjectKey): the title may carry numbers
// that change ("needs 12 lookups") without making it a new problem.
//
// Pass findings are compared too, but a pass that disappears is not listed:
// only problems can be fixed. When one identity occurs several times, the
// occurrences pair up one to one, those with the same title first.
// Neither input is modified.
func Compare(baseline, proposed []finding.Finding) []finding.Finding {
	type key struct{ id, subject string }
	keyOf := func(f finding.Finding) key { return key{f.ID, SubjectKey(f.Subject)} }

	used := make([]bool, len(baseline))
	byKey := map[key][]int{}
	for i, f := range baseline {
		if f.Baseline == Fixed {
			continue // a baseline report that was itself compared
		}
		k := keyOf(f)
		byKey[k] = append(byKey[k], i)
	}
	out := make([]finding.Finding, len(proposed), len(proposed)+len(baseline))
	copy(out, proposed)
	matched := make([]bool, len(out))
	// Two passes so that, among repeats of one identity, exact matches
	// pair first.
	for pass := range 2 {
		for i := range out {
			if matched[i] {
				continue
			}
			for _, j := range byKey[keyOf(out[i])] {
				if used[j] || pass == 0 && baseline[j].Title != out[i].Title {
					continue
				}
				used[j], matched[i] = true, true
				break
			}
		}
	}
	for i := range out {
		out[i].Baseline = New
		if matched[i] {
			out[i].Baseline = Unchanged
		}
	}
	for j, f := range baseline {
		if used[j] || f.Baseline == Fixed || f.Severity < finding.Warn {
			continue
		}
		f.Baseline = Fixed
		f.Allowed = ""
		out = append(out, f)
	}
	return out
}

// SubjectKey normalises a subject for comparison: DNS names compare without
// regard to case (RFC 4343) or a trailing dot, so "Example.COM. MX" and
// "example.com MX" are one subject, as are "mx1.example.com.:25" and
// "MX1.example.com:25".
func SubjectKey(subject string) string {
	fields := strings.Fields(strings.ToLower(subject))
	for i, f := range fields {
		f = strings.ReplaceAll(f, ".:", ":")
		if len(f) > 1 {
			f = strings.TrimSuffix(f, ".")
		}
		fields[i] = f
	}
	return strings.Join(fields, " ")
}
