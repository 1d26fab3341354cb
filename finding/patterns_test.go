package finding

import (
	"bytes"
	"net/url"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The pattern table is reviewed data: every row points at a catalogue
// finding, says how specific it is, names a provider that exists, and
// carries the URL of the page it comes from.
func TestPatternTable(t *testing.T) {
	ps, err := Patterns()
	if err != nil {
		t.Fatal(err)
	}
	provs, err := Providers()
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, p := range provs {
		if p.Key == "" || p.Name == "" || len(p.Match) == 0 || !isURL(p.Source) {
			t.Errorf("provider %+v: key, name, match and a source URL are required", p)
		}
		keys[p.Key] = true
	}
	langs := map[Lang]int{}
	for _, p := range ps {
		where := p.file + ": " + p.ID + " " + p.Match + p.Code
		if _, ok := Lookup(p.ID); !ok {
			t.Errorf("%s: not in the catalogue", where)
		}
		if p.Strength < Hint || p.Strength > Signature {
			t.Errorf("%s: no strength", where)
		}
		if !isURL(p.Source) {
			t.Errorf("%s: source %q is not a URL", where, p.Source)
		}
		if p.Provider != "" && !keys[p.Provider] {
			t.Errorf("%s: provider %q is not in providers.yaml", where, p.Provider)
		}
		if p.Lang != English && p.Lang != French {
			t.Errorf("%s: lang %q", where, p.Lang)
		}
		langs[p.Lang]++
	}
	if len(ps) < 150 || langs[French] < 25 {
		t.Errorf("%d patterns, %d of them French: explain needs a broad table", len(ps), langs[French])
	}
}

// The files reject misspelt keys ("stength:", "provder:").
func TestPatternFilesHaveKnownFieldsOnly(t *testing.T) {
	files, err := patternsFS.ReadDir("patterns")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := patternsFS.ReadFile("patterns/" + f.Name())
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if f.Name() == providersFile {
			var v []ProviderSignature
			err = dec.Decode(&v)
		} else {
			var v []Pattern
			err = dec.Decode(&v)
		}
		if err != nil {
			t.Errorf("%s: %v", f.Name(), err)
		}
	}
}

// Provider fixes name known providers and have French.
func TestProviderFixes(t *testing.T) {
	entries, err := Entries()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		for k, fix := range e.ProviderFixes {
			n++
			if k != "*" && ProviderName(k) == "" {
				t.Errorf("%s: provider fix for unknown provider %q", e.ID, k)
			}
			if strings.TrimSpace(fix) == "" {
				t.Errorf("%s: empty fix for %s", e.ID, k)
			}
			if e.frProviderFixes[k] == "" {
				t.Errorf("%s: the fix for %s has no French in i18n/fr/%s", e.ID, k, providerFixesFile)
			}
			fr := e.ForProvider(k).In(French)
			if k != "*" && fr.Fix == fix {
				t.Errorf("%s: In(French) kept the English fix for %s", e.ID, k)
			}
		}
	}
	if n < 20 {
		t.Errorf("%d provider fixes", n)
	}
}

func isURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// Every new ID SPEC "Additions" lists for support is in the catalogue, and
// explain --list shows it.
func TestSupportAdditions(t *testing.T) {
	entries, err := Entries()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.ID)
	}
	for _, id := range []string{"login.auth-required", "smtp.relay-denied", "smtp.sender-mismatch",
		"smtp.blocked-reputation", "login.account-locked", "login.access-disabled", "tls.client-too-old"} {
		if !slices.Contains(ids, id) {
			t.Errorf("%s is missing from the catalogue", id)
			continue
		}
		// Each means the mail or the login does not go through.
		if e, _ := Lookup(id); e.Severity != Fail {
			t.Errorf("%s: severity %s, want fail", id, e.Severity)
		}
	}
}
