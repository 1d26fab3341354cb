package facts

import (
	"context"
	"testing"

	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

const testKey = `"v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"`

// The guessing policy decides how many queries DKIM costs a domain: with a
// selector named, auto asks it alone (no wildcard probe either: the record
// at a named selector is what verifiers use); with none, auto asks whether
// _domainkey exists before guessing.
func TestDKIMGuessPolicy(t *testing.T) {
	named := []Selector{{Name: "s2026", Source: FromFlag}}
	tests := []struct {
		name    string
		records []string
		guess   GuessPolicy
		named   []Selector
		queries int64 // TXT queries the resolver saw
		found   []string
		guessed int // guessed selectors in the facts
	}{
		{"auto, a selector named: no guesses", []string{"s2026._domainkey.example.com. TXT " + testKey},
			GuessUnlessNamed, named, 1, []string{"s2026"}, 0},
		{"auto, nothing named, no _domainkey: guesses answered by the NXDOMAIN above them", nil,
			GuessUnlessNamed, nil, 2, nil, len(CommonDKIMSelectors)},
		{"auto, nothing named, _domainkey exists: guesses asked", []string{"google._domainkey.example.com. TXT " + testKey},
			GuessUnlessNamed, nil, int64(2 + len(CommonDKIMSelectors)), []string{"google"}, len(CommonDKIMSelectors)},
		{"always: named and guesses at once", []string{"google._domainkey.example.com. TXT " + testKey},
			GuessAlways, named, int64(2 + len(CommonDKIMSelectors)), []string{"google"}, len(CommonDKIMSelectors)},
		{"never: named only", []string{"google._domainkey.example.com. TXT " + testKey},
			GuessNever, named, 1, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := resolvertest.New(append(tt.records, "example.com. MX 10 mail.example.com.")...)
			env := &Env{Resolver: r, Selectors: tt.named, Guess: tt.guess}
			d := gatherDKIM(context.Background(), r, "example.com", env.selectors("example.com"), tt.guess == GuessUnlessNamed)
			if got := r.Queries(); got != tt.queries {
				t.Errorf("%d queries, want %d", got, tt.queries)
			}
			guessed := 0
			var found []string
			for _, s := range d.Selectors {
				if s.Source == Guessed {
					guessed++
				}
				if s.Lookup.Err != nil {
					t.Errorf("%s: %v", s.Selector, s.Lookup.Err)
				}
				if s.Lookup.Status() == Answered {
					found = append(found, s.Selector)
				}
				if s.Source == Guessed && len(tt.found) == 0 && s.Lookup.Status() != NXDomain {
					t.Errorf("%s: %s, want nxdomain", s.Selector, s.Lookup.Status())
				}
			}
			if guessed != tt.guessed {
				t.Errorf("%d guessed selectors, want %d", guessed, tt.guessed)
			}
			if len(found) != len(tt.found) || (len(found) > 0 && found[0] != tt.found[0]) {
				t.Errorf("keys found at %v, want %v", found, tt.found)
			}
		})
	}
}
