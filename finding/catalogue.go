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
	// ProviderFixes replace Fix when the text explained, or the address
	// being triaged, reveals the provider (keys of patterns/providers.yaml;
	// "*" serves every known provider that has no fix of its own): the
	// fix for a Microsoft 535 5.7.3 is not the fix for a Gmail 534 5.7.14.
	ProviderFixes map[string]string `yaml:"provider_fixes,omitempty" json:"-"`
	// Provider is the provider whose fix Fix holds, set by ForProvider.
	Provider string `yaml:"-" json:"provider,omitempty"`
	// FR is the entry in French, from i18n/fr/catalogue.yaml; In(French)
	// falls back to English for a field it leaves empty.
	FR *EntryText `yaml:"-" json:"-"`
	// frProviderFixes are the French provider fixes, from
	// i18n/fr/provider-fixes.yaml.
	frProviderFixes map[string]string
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

// providerFixKey is the ProviderFixes key that serves provider p.
func (e Entry) providerFixKey(p string) string {
	switch {
	case p == "":
		return ""
	case e.ProviderFixes[p] != "":
		return p
	case e.ProviderFixes["*"] != "":
		return "*"
	}
	return ""
}

// ForProvider returns the entry with the fix for provider p (a key of
// patterns/providers.yaml) when the catalogue has one; otherwise e.
func (e Entry) ForProvider(p string) Entry {
	k := e.providerFixKey(p)
	if k == "" {
		return e
	}
	e.Provider = p
	e.Fix = e.ProviderFixes[k]
	return e
}

// In returns the entry written in language l.
func (e Entry) In(l Lang) Entry {
	var t *EntryText
	if l == French {
		t = e.FR
	}
	if t == nil && (l != French || e.Provider == "") {
		return e
	}
	if t != nil {
		if t.Title != "" {
			e.Title = t.Title
		}
		if t.Why != "" {
			e.Why = t.Why
		}
		if t.Fix != "" && e.Provider == "" {
			e.Fix = t.Fix
		}
	}
	if k := e.providerFixKey(e.Provider); k != "" && e.frProviderFixes[k] != "" {
		e.Fix = e.frProviderFixes[k]
	}
	if t != nil && len(e.Severities) > 0 && len(t.Severities) > 0 {
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
	frFixes, err := loadProviderFixesTranslation(French)
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
		e.frProviderFixes = frFixes[e.ID]
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
	for id, fixes := range frFixes {
		e, ok := catalogue[id]
		if !ok {
			catalogueErr = fmt.Errorf("i18n/fr/%s: %s is not in the catalogue", providerFixesFile, id)
			return
		}
		for k := range fixes {
			if e.ProviderFixes[k] == "" {
				catalogueErr = fmt.Errorf("i18n/fr/%s: %s has no English fix for %s", providerFixesFile, id, k)
				return
			}
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

// CatalogueTitle is the catalogue title of id as a Text, written in the
// report's language when it is rendered.
func CatalogueTitle(id string) Text {
	e, _ := Lookup(id)
	return Text{format: "%s", args: []any{catalogueText{id, "title", e.Title}}, en: e.Title}
}

// ProviderFix is the catalogue's fix of id for provider (a key of
// patterns/providers.yaml) as a Text; ok is false when the catalogue has
// none for that provider.
func ProviderFix(id, provider string) (t Text, ok bool) {
	e, found := Lookup(id)
	if !found {
		return Text{}, false
	}
	pe := e.ForProvider(provider)
	if pe.Provider == "" {
		return Text{}, false
	}
	return Text{format: "%s", args: []any{providerFixText{id, provider, pe.Fix}}, en: pe.Fix}, true
}

// providerFixText is a provider fix of the catalogue, written in the
// language asked for.
type providerFixText struct{ id, provider, en string }

func (p providerFixText) String() string { return p.en }

func (p providerFixText) In(l Lang) string {
	e, ok := Lookup(p.id)
	if !ok {
		return p.en
	}
	return e.ForProvider(p.provider).In(l).Fix
}
