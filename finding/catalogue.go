package finding

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// Entry is the catalogue's text for one finding ID, shown by `mailcheck explain ID`.
type Entry struct {
	ID       string   `yaml:"id" json:"id"`
	Title    string   `yaml:"title" json:"title"`
	Severity Severity `yaml:"severity" json:"severity"`
	Why      string   `yaml:"why" json:"why"`
	Fix      string   `yaml:"fix" json:"fix"`
	Ref      string   `yaml:"ref" json:"ref,omitempty"`
	// Severities says when the finding takes each severity it can have,
	// for an ID whose severity depends on the situation: dkim.none-found is
	// fail for a selector that was given, error (inconclusive) when none
	// was given and none could be guessed. Empty when the finding always
	// has Severity.
	Severities []SeverityCase `yaml:"severities,omitempty" json:"severities,omitempty"`
	// Match lists texts (case-insensitive substrings or /regexps/) of client
	// errors, server replies and bounces that point at this finding; used by
	// `mailcheck explain TEXT`.
	Match []string `yaml:"match,omitempty" json:"match,omitempty"`
	// FR is the entry in French, from i18n/fr/catalogue.yaml; In(French)
	// falls back to English for a field it leaves empty.
	FR *EntryText `yaml:"-" json:"-"`
}

// SeverityCase is one severity a finding can take and when it does.
type SeverityCase struct {
	Severity Severity `yaml:"severity" json:"severity"`
	When     string   `yaml:"when" json:"when"`
}

// EntryText is the translated text of an entry.
type EntryText struct {
	Title string `yaml:"title"`
	Why   string `yaml:"why"`
	Fix   string `yaml:"fix"`
	// Severities translates the When of each SeverityCase; it comes from
	// i18n/<lang>/severities.yaml.
	Severities map[Severity]string `yaml:"-"`
}

// PossibleSeverities lists the severities the finding can have: those of
// Severities in their order, or Severity alone.
func (e Entry) PossibleSeverities() []Severity {
	if len(e.Severities) == 0 {
		return []Severity{e.Severity}
	}
	out := make([]Severity, 0, len(e.Severities))
	for _, c := range e.Severities {
		out = append(out, c.Severity)
	}
	return out
}

// In returns the entry written in language l.
func (e Entry) In(l Lang) Entry {
	var t *EntryText
	if l == French {
		t = e.FR
	}
	if t == nil {
		return e
	}
	if t.Title != "" {
		e.Title = t.Title
	}
	if t.Why != "" {
		e.Why = t.Why
	}
	if t.Fix != "" {
		e.Fix = t.Fix
	}
	if len(e.Severities) > 0 && len(t.Severities) > 0 {
		cases := make([]SeverityCase, len(e.Severities))
		for i, c := range e.Severities {
			if w := t.Severities[c.Severity]; w != "" {
				c.When = w
			}
			cases[i] = c
		}
		e.Severities = cases
	}
	return e
}

//go:embed catalogue.yaml
var catalogueYAML []byte

var (
	catalogueOnce sync.Once
	catalogue     map[string]Entry
	catalogueErr  error
)

func load() {
	var entries []Entry
	if err := yaml.Unmarshal(catalogueYAML, &entries); err != nil {
		catalogueErr = fmt.Errorf("catalogue.yaml: %w", err)
		return
	}
	fr, err := loadCatalogueTranslation(French)
	if err != nil {
		catalogueErr = err
		return
	}
	frSev, err := loadSeverityTranslation(French)
	if err != nil {
		catalogueErr = err
		return
	}
	for id, m := range frSev {
		if fr == nil {
			fr = map[string]*EntryText{}
		}
		if fr[id] == nil {
			fr[id] = &EntryText{}
		}
		fr[id].Severities = m
	}
	catalogue = make(map[string]Entry, len(entries))
	for _, e := range entries {
		e.FR = fr[e.ID]
		if _, dup := catalogue[e.ID]; dup {
			catalogueErr = fmt.Errorf("catalogue.yaml: %s listed twice", e.ID)
			return
		}
		catalogue[e.ID] = e
	}
	for id := range fr {
		if _, ok := catalogue[id]; !ok {
			catalogueErr = fmt.Errorf("i18n/fr/%s: %s is not in the catalogue", catalogueFile, id)
			return
		}
	}
}

// Lookup returns the catalogue entry for id. IDs are lower case; Lookup
// folds case so that a user's SPF.LOOKUP-LIMIT finds spf.lookup-limit (the
// entry's ID is the canonical spelling).
func Lookup(id string) (Entry, bool) {
	catalogueOnce.Do(load)
	if e, ok := catalogue[id]; ok {
		return e, true
	}
	e, ok := catalogue[strings.ToLower(strings.TrimSpace(id))]
	return e, ok
}

// IDs lists every finding ID of the catalogue, sorted.
func IDs() []string {
	catalogueOnce.Do(load)
	ids := make([]string, 0, len(catalogue))
	for id := range catalogue {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Entries returns every catalogue entry sorted by ID, or the error that made
// the embedded catalogue unreadable (a build defect, caught by tests).
func Entries() ([]Entry, error) {
	catalogueOnce.Do(load)
	if catalogueErr != nil {
		return nil, catalogueErr
	}
	out := make([]Entry, 0, len(catalogue))
	for _, e := range catalogue {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// New makes a finding with the catalogue's default severity, title, fix and
// reference for id. title, when not zero, replaces the catalogue title with
// one specific to this occurrence. Callers adjust Severity or Fix afterwards
// where the situation calls for it. An id the catalogue lacks yields an
// Error-severity finding that says so, and tests reject it.
func New(id, subject string, title Text, evidence ...string) Finding {
	catalogueOnce.Do(load)
	e, ok := catalogue[id] // exact: code names IDs in their canonical spelling
	if !ok {
		return Finding{ID: id, Severity: Error, Subject: subject,
			Title: "internal: finding " + id + " is missing from the catalogue: " + title.String(), Evidence: evidence}
	}
	f := Finding{ID: id, Severity: e.Severity, Subject: subject, Title: e.Title,
		Evidence: evidence, Fix: e.Fix, Ref: e.Ref}
	if !title.IsZero() {
		f.SetTitle(title)
	}
	return f
}
