package finding

import (
	"regexp"
	"sort"
	"strings"
	"sync"
)

// A pattern is one compiled entry of a catalogue `match` list.
type pattern struct {
	text string         // lower-cased substring, when re is nil
	re   *regexp.Regexp // for patterns written as /.../
}

// compilePattern turns a catalogue match text into a pattern: /.../ is a
// regular expression, anything else a substring; both ignore case.
func compilePattern(s string) (pattern, error) {
	if len(s) >= 2 && strings.HasPrefix(s, "/") && strings.HasSuffix(s, "/") {
		re, err := regexp.Compile("(?i)" + s[1:len(s)-1])
		if err != nil {
			return pattern{}, err
		}
		return pattern{re: re}, nil
	}
	return pattern{text: strings.ToLower(s)}, nil
}

// longest returns the length of the longest occurrence of p in text, or -1.
// lower is text already lower-cased, so substrings are compared once.
func (p pattern) longest(text, lower string) int {
	if p.re == nil {
		if p.text != "" && strings.Contains(lower, p.text) {
			return len(p.text)
		}
		return -1
	}
	best := -1
	for _, loc := range p.re.FindAllStringIndex(text, -1) {
		best = max(best, loc[1]-loc[0])
	}
	return best
}

type matcher struct {
	entry    Entry
	patterns []pattern
}

var (
	matchersOnce sync.Once
	matchers     []matcher
)

// loadMatchers compiles every entry's patterns once. A pattern that does not
// compile is left out here; the catalogue tests reject it before release.
func loadMatchers() {
	entries, err := Entries()
	if err != nil {
		return
	}
	for _, e := range entries {
		m := matcher{entry: e}
		for _, s := range e.Match {
			if p, err := compilePattern(s); err == nil {
				m.patterns = append(m.patterns, p)
			}
		}
		if len(m.patterns) > 0 {
			matchers = append(matchers, m)
		}
	}
}

// smtpContinuation is the reply code (and enhanced status code) that starts
// each line of a multi-line SMTP reply ("550-5.7.26 ").
var smtpContinuation = regexp.MustCompile(`(?m)^\s*[2-5]\d\d[ -](?:[245]\.\d{1,3}\.\d{1,3} )?`)

// unwrap joins a pasted multi-line reply into one line without the repeated
// reply codes, so that a phrase the server broke across lines
// ("... due to\n550-5.7.26 domain's DMARC policy") still matches.
func unwrap(text string) string {
	return strings.Join(strings.Fields(smtpContinuation.ReplaceAllString(text, " ")), " ")
}

// Match returns the catalogue entries whose match patterns occur in text (a
// client error, server reply or bounce), best first: the entry whose pattern
// matched the longest stretch of text is the most specific. Ties keep ID
// order. Used by `mailcheck explain TEXT`.
func Match(text string) []Entry {
	matchersOnce.Do(loadMatchers)
	variants := []string{text, unwrap(text)}
	lowered := []string{strings.ToLower(variants[0]), strings.ToLower(variants[1])}
	type scored struct {
		entry Entry
		score int
	}
	var hits []scored
	for _, m := range matchers {
		best := -1
		for _, p := range m.patterns {
			for i := range variants {
				best = max(best, p.longest(variants[i], lowered[i]))
			}
		}
		if best > 0 {
			hits = append(hits, scored{m.entry, best})
		}
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].score > hits[j].score })
	out := make([]Entry, len(hits))
	for i, h := range hits {
		out[i] = h.entry
	}
	return out
}
