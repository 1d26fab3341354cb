package finding

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// The texts people paste — client errors, server replies, bounce lines,
// log lines — are matched against a reviewed table, patterns/*.yaml: one
// row per pattern, with the finding it points at, how specific it is, the
// provider it reveals and the page it was seen on or is defined by.

//go:embed patterns/*.yaml
var patternsFS embed.FS

// providersFile holds the provider signatures; every other file in
// patterns/ holds patterns.
const providersFile = "providers.yaml"

// Strength says how much a pattern tells about the cause. A text is
// explained by its most specific evidence: an enhanced status code or
// wording only one provider uses beats a standard protocol code, which
// beats a phrase, which beats a hint.
type Strength int

const (
	// Hint: the pattern names only a class of problem (a credentials
	// refusal, a temporary failure, a generic code such as 454 4.7.0) or
	// one of several causes; it makes runner-up candidates.
	Hint Strength = iota + 1
	// Phrase: a wording that names the cause.
	Phrase
	// Code: a protocol code that names the cause (RFC 3463 enhanced
	// status codes, RFC 5530 IMAP and RFC 3206 POP3 response codes).
	Code
	// Signature: a provider-specific code or wording that names the cause
	// (Microsoft 5.7.139, Yahoo [TSS04], Google WebLoginRequired).
	Signature
)

var strengthNames = map[string]Strength{"hint": Hint, "phrase": Phrase, "code": Code, "signature": Signature}

func (s Strength) String() string {
	for name, v := range strengthNames {
		if v == s {
			return name
		}
	}
	return "unknown"
}

// MarshalText writes the strength's name.
func (s Strength) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads hint, phrase, code or signature.
func (s *Strength) UnmarshalText(b []byte) error {
	v, ok := strengthNames[string(b)]
	if !ok {
		return fmt.Errorf("unknown strength %q (want hint, phrase, code or signature)", b)
	}
	*s = v
	return nil
}

// Pattern is one row of the pattern table.
type Pattern struct {
	// ID is the catalogue finding the pattern points at.
	ID string `yaml:"id"`
	// Match is a substring, or a regular expression written /.../. Both
	// ignore case, accents and the kind of apostrophe, and see line
	// breaks and repeated SMTP reply codes ("550-5.7.1 ") as one space.
	Match string `yaml:"match"`
	// Code is an RFC 3463 enhanced status code ("5.7.139"), matched where
	// it is not part of a longer dotted number; an alternative to Match.
	Code string `yaml:"code"`
	// Case makes Match compare letter case exactly, on the text as pasted
	// (Exchange's "LOGIN failed" is not Courier's "Login failed").
	Case     bool     `yaml:"case"`
	Strength Strength `yaml:"strength"`
	// Provider is the provider the pattern reveals (a key of
	// providers.yaml), whose fixes then apply.
	Provider string `yaml:"provider"`
	// Lang is the language of the wording: en (default) or fr.
	Lang Lang `yaml:"lang"`
	// Source is the page the wording was seen on or is defined by.
	Source string `yaml:"source"`

	file string
	re   *regexp.Regexp
	sub  string // folded substring, when re is nil
}

// ProviderSignature recognises a provider in a pasted text: a host or
// domain name it uses, or a marker only its replies carry.
type ProviderSignature struct {
	Key   string   `yaml:"key"`
	Name  string   `yaml:"name"`
	Match []string `yaml:"match"`
	// Source documents the names.
	Source string `yaml:"source"`

	res []*regexp.Regexp
}

type patternTable struct {
	patterns  []*Pattern
	providers []*ProviderSignature
	err       error
}

var (
	patternsOnce sync.Once
	patterns     patternTable
)

// Patterns returns the pattern table, or the error that made it unreadable
// (a build defect, caught by tests).
func Patterns() ([]Pattern, error) {
	t := loadedPatterns()
	out := make([]Pattern, len(t.patterns))
	for i, p := range t.patterns {
		out[i] = *p
	}
	return out, t.err
}

// Providers returns the provider signatures.
func Providers() ([]ProviderSignature, error) {
	t := loadedPatterns()
	out := make([]ProviderSignature, len(t.providers))
	for i, p := range t.providers {
		out[i] = *p
	}
	return out, t.err
}

// ProviderName is the display name of a provider key ("" when unknown).
func ProviderName(key string) string {
	for _, p := range loadedPatterns().providers {
		if p.Key == key {
			return p.Name
		}
	}
	return ""
}

func loadedPatterns() *patternTable {
	patternsOnce.Do(func() { patterns = loadPatterns() })
	return &patterns
}

func loadPatterns() patternTable {
	var t patternTable
	files, err := fs.Glob(patternsFS, "patterns/*.yaml")
	if err != nil {
		return patternTable{err: err}
	}
	sort.Strings(files)
	for _, f := range files {
		data, err := patternsFS.ReadFile(f)
		if err != nil {
			return patternTable{err: err}
		}
		if path.Base(f) == providersFile {
			if err := yaml.Unmarshal(data, &t.providers); err != nil {
				return patternTable{err: fmt.Errorf("%s: %w", f, err)}
			}
			continue
		}
		var ps []*Pattern
		if err := yaml.Unmarshal(data, &ps); err != nil {
			return patternTable{err: fmt.Errorf("%s: %w", f, err)}
		}
		for _, p := range ps {
			p.file = path.Base(f)
			if err := p.compile(); err != nil {
				return patternTable{err: fmt.Errorf("%s: %s %q: %w", f, p.ID, p.Match+p.Code, err)}
			}
		}
		t.patterns = append(t.patterns, ps...)
	}
	for _, p := range t.providers {
		for _, m := range p.Match {
			re, err := compileMatch(m, false)
			if err != nil {
				return patternTable{err: fmt.Errorf("%s: %s %q: %w", providersFile, p.Key, m, err)}
			}
			p.res = append(p.res, re)
		}
	}
	return t
}

func (p *Pattern) compile() error {
	if p.Lang == "" {
		p.Lang = English
	}
	switch {
	case p.Match != "" && p.Code != "":
		return fmt.Errorf("give match or code, not both")
	case p.Code != "":
		if !enhancedCode.MatchString(p.Code) {
			return fmt.Errorf("%q is not an enhanced status code", p.Code)
		}
		// RFC 3463 §2: class.subject.detail; not inside an IP address
		// or a version number.
		p.re = regexp.MustCompile(`(^|[^\d.])` + regexp.QuoteMeta(p.Code) + `($|[^\d.]|\.($|[^\d]))`)
		return nil
	case p.Match == "":
		return fmt.Errorf("empty pattern")
	}
	if isRegexp(p.Match) || p.Case {
		re, err := compileMatch(p.Match, p.Case)
		p.re = re
		return err
	}
	p.sub = fold(p.Match)
	return nil
}

var enhancedCode = regexp.MustCompile(`^[245]\.\d{1,3}\.\d{1,3}$`)

func isRegexp(s string) bool {
	return len(s) >= 2 && strings.HasPrefix(s, "/") && strings.HasSuffix(s, "/")
}

// compileMatch compiles a /regexp/ or a substring as a regular expression
// that ignores case unless exact is set.
func compileMatch(s string, exact bool) (*regexp.Regexp, error) {
	expr := regexp.QuoteMeta(s)
	if isRegexp(s) {
		expr = s[1 : len(s)-1]
	}
	if !exact {
		expr = "(?i)" + expr
	}
	return regexp.Compile(expr)
}

// longest returns the longest stretch of t that p matches, or "".
func (p *Pattern) longest(t *pastedText) string {
	if p.Case {
		return longestMatch(p.re, t.raw)
	}
	best := ""
	for _, v := range t.variants {
		var m string
		if p.re == nil {
			if strings.Contains(v, p.sub) {
				m = p.sub
			}
		} else if m = longestMatch(p.re, v); m != "" && p.Code != "" {
			m = p.Code // without the boundary around it
		}
		if len(m) > len(best) {
			best = m
		}
	}
	return best
}

func longestMatch(re *regexp.Regexp, s string) string {
	best := ""
	for _, loc := range re.FindAllStringIndex(s, -1) {
		if loc[1]-loc[0] > len(best) {
			best = s[loc[0]:loc[1]]
		}
	}
	return best
}

// foldReplacer makes French wordings match however they were typed or
// copied: typographic apostrophes, non-breaking spaces, accents.
var foldReplacer = strings.NewReplacer(
	"’", "'", "‘", "'", "`", "'", "\u00a0", " ", "\u202f", " ",
	"à", "a", "â", "a", "ä", "a", "ç", "c", "é", "e", "è", "e", "ê", "e", "ë", "e",
	"î", "i", "ï", "i", "ô", "o", "ö", "o", "ù", "u", "û", "u", "ü", "u", "œ", "oe",
)

// fold lower-cases s, folds French accents and apostrophes, and collapses
// runs of white space to one space.
func fold(s string) string {
	return strings.Join(strings.Fields(foldReplacer.Replace(strings.ToLower(s))), " ")
}
