package finding

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// Lang is the language of the texts mailcheck shows people: finding titles
// and fixes, the catalogue, explain, the chrome of the text report. IDs,
// JSON keys and flag names never change with it.
type Lang string

const (
	English Lang = "en"
	French  Lang = "fr"
)

// Langs lists the languages mailcheck speaks, the default first.
func Langs() []Lang { return []Lang{English, French} }

// ParseLang accepts "en", "fr" and locale names such as "fr_FR.UTF-8" or
// "en-GB".
func ParseLang(s string) (Lang, error) {
	if l, ok := langOfLocale(s); ok {
		return l, nil
	}
	return "", fmt.Errorf("unknown language %q (want en or fr)", s)
}

// langOfLocale reads the language part of a POSIX locale name
// (language[_territory][.codeset][@modifier]) or a BCP 47 tag.
func langOfLocale(s string) (Lang, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if i := strings.IndexAny(s, "_-.@"); i >= 0 {
		s = s[:i]
	}
	switch s {
	case "en":
		return English, true
	case "fr":
		return French, true
	}
	return "", false
}

// LangFromEnv picks the language the way gettext does: the first of
// LC_ALL, LC_MESSAGES and LANG that is set decides; a locale mailcheck does
// not speak, C or POSIX, means English.
func LangFromEnv(getenv func(string) string) Lang {
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if val := getenv(v); val != "" {
			if l, ok := langOfLocale(val); ok {
				return l
			}
			return English
		}
	}
	return English
}

// Text is a sentence for people, kept as its English format and arguments
// so that it can be written in any language later: the language is chosen
// when a report is rendered, not where the finding is made. Arguments are
// data (names, numbers, records) or Texts themselves, which are translated
// in turn. The English format is the key of the translation tables in
// i18n/<lang>/*.yaml.
type Text struct {
	format string
	args   []any
	en     string
}

// T makes a Text; format and args work as in fmt.Sprintf. The format must
// be a string literal so that the translation tests can find it.
func T(format string, args ...any) Text {
	return Text{format: format, args: args, en: fmt.Sprintf(format, args...)}
}

// Verbatim is text that is data, not prose (a server's reply, a record),
// and is never translated.
func Verbatim(s string) Text {
	return Text{format: "%s", args: []any{s}, en: s}
}

// IsZero reports whether t is the zero Text (no text at all).
func (t Text) IsZero() bool { return t.format == "" && t.en == "" }

// String is the English text.
func (t Text) String() string { return t.en }

// Format is the English format string, the key of the translation tables.
func (t Text) Format() string { return t.format }

// Append joins u after t, each translated on its own. Prefer one format
// for a whole sentence: word order differs between languages.
func (t Text) Append(u Text) Text {
	if t.IsZero() {
		return u
	}
	return Text{format: "%s%s", args: []any{t, u}, en: t.en + u.en}
}

// In writes t in language l; a format without a translation stays English.
func (t Text) In(l Lang) string {
	if l == English || l == "" || t.format == "" {
		return t.en
	}
	format, ok := translation(l, t.format)
	if !ok && !hasTextArg(t.args) {
		return t.en
	}
	if !ok {
		format = t.format
	}
	args := make([]any, len(t.args))
	for i, a := range t.args {
		args[i] = localize(a, l)
	}
	return fmt.Sprintf(format, args...)
}

// Localizer is a value that can write itself in a language: a Text, or a
// typed status with translated names.
type Localizer interface {
	In(Lang) string
}

func localize(a any, l Lang) any {
	if v, ok := a.(Localizer); ok {
		return v.In(l)
	}
	return a
}

func hasTextArg(args []any) bool {
	for _, a := range args {
		if _, ok := a.(Localizer); ok {
			return true
		}
	}
	return false
}

// MarshalText writes the English text, so that a Text in a JSON value reads
// as a plain string.
func (t Text) MarshalText() ([]byte, error) { return []byte(t.en), nil }

//go:embed i18n
var i18nFS embed.FS

// catalogueFile, in i18n/<lang>/, holds the catalogue in that language:
// finding ID → title, why and fix.
const catalogueFile = "catalogue.yaml"

// providerFixesFile, in i18n/<lang>/, holds the catalogue's provider fixes
// in that language: finding ID → provider key → fix.
const providerFixesFile = "provider-fixes.yaml"

// loadProviderFixesTranslation reads i18n/<lang>/provider-fixes.yaml.
func loadProviderFixesTranslation(l Lang) (map[string]map[string]string, error) {
	data, err := i18nFS.ReadFile("i18n/" + string(l) + "/" + providerFixesFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m map[string]map[string]string
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("i18n/%s/%s: %w", l, providerFixesFile, err)
	}
	return m, nil
}

// severitiesFile, in i18n/<lang>/, translates the catalogue's severity
// notes: finding ID → severity → when it applies.
const severitiesFile = "severities.yaml"

// loadSeverityTranslation reads i18n/<lang>/severities.yaml.
func loadSeverityTranslation(l Lang) (map[string]map[Severity]string, error) {
	data, err := i18nFS.ReadFile("i18n/" + string(l) + "/" + severitiesFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var raw map[string]map[string]string
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("i18n/%s/%s: %w", l, severitiesFile, err)
	}
	out := make(map[string]map[Severity]string, len(raw))
	for id, m := range raw {
		out[id] = map[Severity]string{}
		for name, when := range m {
			s, err := ParseSeverity(name)
			if err != nil {
				return nil, fmt.Errorf("i18n/%s/%s: %s: %w", l, severitiesFile, id, err)
			}
			out[id][s] = when
		}
	}
	return out, nil
}

// loadCatalogueTranslation reads i18n/<lang>/catalogue.yaml.
func loadCatalogueTranslation(l Lang) (map[string]*EntryText, error) {
	data, err := i18nFS.ReadFile("i18n/" + string(l) + "/" + catalogueFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m map[string]*EntryText
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("i18n/%s/%s: %w", l, catalogueFile, err)
	}
	return m, nil
}

var (
	translationsOnce sync.Once
	translations     map[Lang]map[string]string
	translationsErr  error
)

// loadTranslations reads every i18n/<lang>/*.yaml file: a mapping from the
// English format to the translated one. A translated format may reorder its
// arguments with explicit indexes (%[2]s).
func loadTranslations() {
	translations = map[Lang]map[string]string{}
	translationsErr = fs.WalkDir(i18nFS, "i18n", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".yaml" || path.Base(p) == catalogueFile || path.Base(p) == providerFixesFile || path.Base(p) == severitiesFile {
			return err
		}
		lang, err := ParseLang(path.Base(path.Dir(p)))
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		data, err := i18nFS.ReadFile(p)
		if err != nil {
			return err
		}
		var m map[string]string
		if err := yaml.Unmarshal(data, &m); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if translations[lang] == nil {
			translations[lang] = map[string]string{}
		}
		for k, v := range m {
			if _, dup := translations[lang][k]; dup {
				return fmt.Errorf("%s: %q is translated twice", p, k)
			}
			translations[lang][k] = v
		}
		return nil
	})
}

func translation(l Lang, format string) (string, bool) {
	translationsOnce.Do(loadTranslations)
	s, ok := translations[l][format]
	return s, ok && s != ""
}

// Translations returns the translation table of l (English format →
// translated format), or the error that made the embedded tables
// unreadable (a build defect, caught by tests).
func Translations(l Lang) (map[string]string, error) {
	translationsOnce.Do(loadTranslations)
	return translations[l], translationsErr
}
