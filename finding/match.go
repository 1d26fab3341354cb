package finding

import (
	"regexp"
	"sort"
	"strings"
)

// Candidate is one finding that explains a pasted text, with the evidence
// for it.
type Candidate struct {
	// Entry is the catalogue entry, its Fix the provider's own when the
	// text revealed the provider and the catalogue has one.
	Entry Entry `json:"entry"`
	// Strength is that of the most specific pattern that matched.
	Strength Strength `json:"strength"`
	// Matched is the stretch of text that pattern matched.
	Matched string `json:"matched"`
	// Source is the page that pattern comes from.
	Source string `json:"source"`
	// Hits counts the patterns of this finding that matched.
	Hits int `json:"-"`
}

// Diagnosis is what Diagnose makes of a pasted text.
type Diagnosis struct {
	// Candidates are best first: by strength, then by the length of text
	// the best pattern matched, then by the number of patterns that
	// matched, then by ID.
	Candidates []Candidate `json:"candidates"`
	// Provider is the provider the text reveals (a key of
	// patterns/providers.yaml), "" when none; ProviderName its name.
	Provider     string `json:"provider,omitempty"`
	ProviderName string `json:"provider_name,omitempty"`
}

// IDs lists the candidates' finding IDs, best first.
func (d Diagnosis) IDs() []string {
	ids := make([]string, len(d.Candidates))
	for i, c := range d.Candidates {
		ids[i] = c.Entry.ID
	}
	return ids
}

// Best is the best candidate; ok is false when nothing matched.
func (d Diagnosis) Best() (c Candidate, ok bool) {
	if len(d.Candidates) == 0 {
		return Candidate{}, false
	}
	return d.Candidates[0], true
}

// pastedText is a text in the forms patterns are matched against.
type pastedText struct {
	raw      string
	variants []string
}

// smtpContinuation is the reply code (and enhanced status code) that starts
// each line of a multi-line SMTP reply ("550-5.7.26 "), also where a paste
// has joined the lines ("... to 550-5.7.1 users ...").
var smtpContinuation = regexp.MustCompile(`(?m)(^|\s)[245]\d\d[ -](?:[245]\.\d{1,3}\.\d{1,3} )?`)

// unwrap joins a pasted multi-line reply into one line without the repeated
// reply codes, so that a phrase the server broke across lines
// ("... due to\n550-5.7.26 domain's DMARC policy") still matches.
func unwrap(text string) string {
	return smtpContinuation.ReplaceAllString(text, " ")
}

func newPastedText(text string) *pastedText {
	return &pastedText{raw: text, variants: []string{
		strings.ToLower(text), fold(text), fold(unwrap(text)),
	}}
}

// Diagnose maps a pasted text — a client error, a server reply, a bounce or
// DSN diagnostic code, a log line, in English or French — to the findings
// that explain it, the most specific first, and picks each finding's fix
// for the provider the text reveals. It is what `mailcheck explain TEXT`
// shows, and what login triage uses for the replies it receives.
func Diagnose(text string) Diagnosis {
	return DiagnoseFor(text, "")
}

// DiagnoseFor is Diagnose for a text whose provider the caller already
// knows (login triage knows the address's provider): provider, when not
// empty, is used unless a pattern itself names another.
func DiagnoseFor(text, provider string) Diagnosis {
	t := loadedPatterns()
	if t.err != nil || strings.TrimSpace(text) == "" {
		return Diagnosis{}
	}
	pt := newPastedText(text)
	type best struct {
		c        Candidate
		provider string
	}
	byID := map[string]*best{}
	for _, p := range t.patterns {
		m := p.longest(pt)
		if m == "" {
			continue
		}
		b := byID[p.ID]
		if b == nil {
			b = &best{}
			byID[p.ID] = b
		}
		b.c.Hits++
		if p.Strength > b.c.Strength || (p.Strength == b.c.Strength && len(m) > len(b.c.Matched)) {
			b.c.Strength, b.c.Matched, b.c.Source = p.Strength, m, p.Source
			b.provider = p.Provider
		}
	}
	var d Diagnosis
	var providers []string
	for id, b := range byID {
		e, ok := Lookup(id)
		if !ok {
			continue // the pattern tests reject such a row
		}
		b.c.Entry = e
		d.Candidates = append(d.Candidates, b.c)
		if b.provider != "" {
			providers = append(providers, b.provider)
		}
	}
	sort.Slice(d.Candidates, func(i, j int) bool {
		a, b := d.Candidates[i], d.Candidates[j]
		switch {
		case a.Strength != b.Strength:
			return a.Strength > b.Strength
		case len(a.Matched) != len(b.Matched):
			return len(a.Matched) > len(b.Matched)
		case a.Hits != b.Hits:
			return a.Hits > b.Hits
		}
		return a.Entry.ID < b.Entry.ID
	})
	// The provider: the one the best candidate's own pattern names, else
	// the caller's, else the first a signature in the text reveals.
	switch {
	case len(d.Candidates) > 0 && byID[d.Candidates[0].Entry.ID].provider != "":
		d.Provider = byID[d.Candidates[0].Entry.ID].provider
	case provider != "":
		d.Provider = provider
	case len(providers) > 0:
		d.Provider = providers[0]
	default:
		d.Provider = revealedProvider(t.providers, text)
	}
	d.ProviderName = ProviderName(d.Provider)
	for i := range d.Candidates {
		d.Candidates[i].Entry = d.Candidates[i].Entry.ForProvider(d.Provider)
	}
	return d
}

// revealedProvider is the provider whose signature occurs first in text.
func revealedProvider(providers []*ProviderSignature, text string) string {
	key, at := "", -1
	for _, p := range providers {
		for _, re := range p.res {
			if loc := re.FindStringIndex(text); loc != nil && (at < 0 || loc[0] < at) {
				key, at = p.Key, loc[0]
			}
		}
	}
	return key
}

// Match returns the catalogue entries that explain text, best first, each
// with its provider-specific fix where the text reveals the provider. See
// Diagnose for the evidence and the ranking.
func Match(text string) []Entry {
	d := Diagnose(text)
	out := make([]Entry, len(d.Candidates))
	for i, c := range d.Candidates {
		out[i] = c.Entry
	}
	return out
}

// BounceReport is what a delivery status notification says about one
// recipient that was not delivered (RFC 3464 §2.3).
type BounceReport struct {
	// Diagnostic is the remote server's reply (Diagnostic-Code), Status
	// the enhanced status code the reporting server gave, Recipient the
	// address (its domain may reveal the receiving provider).
	Diagnostic, Status, Recipient string
	// Notice is the notification's text for the user, which some servers
	// (CommuniGate Pro, Exchange for a local delivery) fill instead of a
	// Diagnostic-Code; "" when unknown.
	Notice string
}

// DiagnoseBounce is Diagnose for one recipient of a bounce. The remote
// server's own words outrank the Status field: a reporting server that
// gets a bare 550 at RCPT may write 5.1.1 whatever the reply said
// ("550 RCPT TO:<x> max message size exceeded"), so the status joins the
// evidence only when the reply names no cause by a phrase or better. The
// notice is read when neither names any.
//
// Of the recipient only "@domain" is read, for the provider it reveals: a
// local part is no evidence ("spam@", "unknown.recipient@").
func DiagnoseBounce(b BounceReport) Diagnosis {
	at := ""
	if i := strings.LastIndexByte(b.Recipient, '@'); i >= 0 {
		at = b.Recipient[i:]
	}
	if d := Diagnose(b.Diagnostic + " " + at); len(d.Candidates) > 0 && d.Candidates[0].Strength >= Phrase {
		return d
	}
	d := Diagnose(b.Diagnostic + " " + b.Status + " " + at)
	if len(d.Candidates) == 0 && strings.TrimSpace(b.Notice) != "" {
		d = Diagnose(b.Notice + " " + b.Status + " " + at)
	}
	return d
}
