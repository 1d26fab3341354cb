package finding_test

import (
	"slices"
	"testing"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/fixtures"
)

// TestScenarioSeveritiesAreInTheCatalogue: every severity a scenario
// expects for a finding is one the catalogue says the finding can have, so
// that `explain ID` never announces a severity the finding is not emitted
// with (dkim.none-found said "warn" while it is emitted as fail or error).
func TestScenarioSeveritiesAreInTheCatalogue(t *testing.T) {
	for _, name := range fixtures.Names() {
		sc, err := fixtures.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, exp := range sc.Expect {
			e, ok := finding.Lookup(exp.ID)
			if !ok {
				continue // the fixtures' own tests report unknown IDs
			}
			if possible := e.PossibleSeverities(); !slices.Contains(possible, exp.Severity) {
				t.Errorf("scenario %s expects %s at %s; the catalogue says it is %v: add a severities note", name, exp.ID, exp.Severity, possible)
			}
		}
	}
}
