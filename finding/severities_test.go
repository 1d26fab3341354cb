package finding

import (
	"slices"
	"testing"
)

// TestSeverityNotes: an entry that lists when each severity applies lists
// its default severity among them, each severity once, each with a
// sentence, and each sentence in French too.
func TestSeverityNotes(t *testing.T) {
	entries, err := Entries()
	if err != nil {
		t.Fatal(err)
	}
	fr, err := loadSeverityTranslation(French)
	if err != nil {
		t.Fatal(err)
	}
	noted := 0
	for _, e := range entries {
		if len(e.Severities) == 0 {
			if _, ok := fr[e.ID]; ok {
				t.Errorf("%s: French severity notes for an entry without severities", e.ID)
			}
			continue
		}
		noted++
		possible := e.PossibleSeverities()
		if !slices.Contains(possible, e.Severity) {
			t.Errorf("%s: the default severity %s is not among its severities %v", e.ID, e.Severity, possible)
		}
		seen := map[Severity]bool{}
		for _, c := range e.Severities {
			if seen[c.Severity] {
				t.Errorf("%s: severity %s listed twice", e.ID, c.Severity)
			}
			seen[c.Severity] = true
			if c.When == "" {
				t.Errorf("%s: severity %s says nothing about when it applies", e.ID, c.Severity)
			}
			if fr[e.ID][c.Severity] == "" {
				t.Errorf("%s: no French for when severity %s applies (i18n/fr/severities.yaml)", e.ID, c.Severity)
			}
		}
		for s := range fr[e.ID] {
			if !seen[s] {
				t.Errorf("%s: French note for severity %s, which the entry does not list", e.ID, s)
			}
		}
		frEntry := e.In(French)
		for i, c := range frEntry.Severities {
			if c.When == e.Severities[i].When {
				t.Errorf("%s: the note for %s is not translated by In(French)", e.ID, c.Severity)
			}
		}
	}
	if noted == 0 {
		t.Error("no catalogue entry says when its severities apply")
	}
}

func TestLookupFoldsCase(t *testing.T) {
	for _, in := range []string{"spf.lookup-limit", "SPF.LOOKUP-LIMIT", " Spf.Lookup-Limit "} {
		e, ok := Lookup(in)
		if !ok || e.ID != "spf.lookup-limit" {
			t.Errorf("Lookup(%q) = %q, %v; want spf.lookup-limit", in, e.ID, ok)
		}
	}
	if f := New("SPF.OK", "x", Text{}); f.Severity != Error {
		t.Errorf("New with a misspelt ID must be flagged as internal, not folded: %+v", f)
	}
	if ids := IDs(); len(ids) < 50 || !slices.IsSorted(ids) {
		t.Errorf("IDs() = %d IDs, sorted %v", len(ids), slices.IsSorted(ids))
	}
}
