package finding

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// corpusRow is one real pasted text of testdata/corpus.yaml.
type corpusRow struct {
	Text     string `yaml:"text"`
	Want     string `yaml:"want"`
	Provider string `yaml:"provider"`
	Lang     Lang   `yaml:"lang"`
	Source   string `yaml:"source"`
}

func loadCorpus(t *testing.T) []corpusRow {
	t.Helper()
	data, err := os.ReadFile("testdata/corpus.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rows []corpusRow
	if err := yaml.Unmarshal(data, &rows); err != nil {
		t.Fatalf("testdata/corpus.yaml: %v", err)
	}
	return rows
}

// corpusScore sorts each row into exact (the expected finding first),
// related (expected among the runners-up), wrong (not among the
// candidates) or none (no candidate at all).
type corpusScore struct{ exact, related, wrong, none int }

func (s corpusScore) total() int { return s.exact + s.related + s.wrong + s.none }

func (s corpusScore) String() string {
	return fmt.Sprintf("%d strings: %d exact (%.0f%%), %d related, %d wrong, %d none",
		s.total(), s.exact, 100*float64(s.exact)/float64(s.total()), s.related, s.wrong, s.none)
}

// TestCorpus scores explain on real strings people paste: at least 150,
// English and French, each with the page it was found on. At least 95%
// must put the expected finding first, and a row that names a provider
// must get that provider's own fix.
func TestCorpus(t *testing.T) {
	rows := loadCorpus(t)
	if len(rows) < 150 {
		t.Fatalf("the corpus has %d strings; it must keep at least 150", len(rows))
	}
	var score corpusScore
	french := 0
	for i, r := range rows {
		if r.Text == "" || r.Source == "" || r.Want == "" {
			t.Errorf("row %d: text, want and source are required", i+1)
			continue
		}
		if _, ok := Lookup(r.Want); !ok {
			t.Errorf("row %d: %s is not in the catalogue", i+1, r.Want)
		}
		if r.Lang == French {
			french++
		}
		d := Diagnose(r.Text)
		ids := d.IDs()
		switch {
		case len(ids) == 0:
			score.none++
			t.Logf("none    %-28s %q", r.Want, short(r.Text))
		case ids[0] == r.Want:
			score.exact++
		case slices.Contains(ids, r.Want):
			score.related++
			t.Logf("related %-28s got %v for %q", r.Want, ids, short(r.Text))
		default:
			score.wrong++
			t.Logf("wrong   %-28s got %v for %q", r.Want, ids, short(r.Text))
		}
		if r.Provider == "" || len(ids) == 0 || ids[0] != r.Want {
			continue
		}
		best := d.Candidates[0].Entry
		e, _ := Lookup(r.Want)
		if d.Provider != r.Provider {
			t.Errorf("row %d (%s): provider %q, want %q: %q", i+1, r.Want, d.Provider, r.Provider, short(r.Text))
		} else if e.providerFixKey(r.Provider) != "" && (best.Provider != r.Provider || best.Fix == e.Fix) {
			t.Errorf("row %d (%s): the fix is not %s's own: %q", i+1, r.Want, r.Provider, best.Fix)
		}
		if r.Provider != "microsoft" && strings.Contains(best.Fix, "Set-CASMailbox") {
			t.Errorf("row %d (%s): a %s text got Microsoft's PowerShell fix", i+1, r.Want, r.Provider)
		}
	}
	t.Logf("corpus score: %s; %d in French", score, french)
	if french < 20 {
		t.Errorf("the corpus has %d French strings; keep at least 20", french)
	}
	if score.exact*20 < score.total()*19 {
		t.Errorf("corpus score %s: below 95%% exact", score)
	}
}

func short(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 110 {
		return s[:110] + "…"
	}
	return s
}
