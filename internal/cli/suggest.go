package cli

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/agnivade/levenshtein"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/fixtures"
)

// closest returns the candidates a mistyped word most likely meant: those
// within a small edit distance (2, or a fifth of the word for long ones
// such as finding IDs), closest first, at most three. Case is ignored.
func closest(word string, candidates []string) []string {
	w := strings.ToLower(strings.TrimSpace(word))
	if w == "" {
		return nil
	}
	limit := max(2, len(w)/5)
	type scored struct {
		name string
		d    int
	}
	var found []scored
	for _, c := range candidates {
		lc := strings.ToLower(c)
		d := levenshtein.ComputeDistance(w, lc)
		if d <= limit || (len(w) >= 3 && strings.HasPrefix(lc, w)) {
			found = append(found, scored{c, d})
		}
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].d < found[j].d })
	var out []string
	for _, s := range found {
		if len(out) == 3 {
			break
		}
		out = append(out, s.name)
	}
	return out
}

// orList writes names as "a", "a or b", "a, b or c", each quoted.
func orList(names []string, lang finding.Lang) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	switch len(q) {
	case 0:
		return ""
	case 1:
		return q[0]
	}
	return finding.T("%s or %s", strings.Join(q[:len(q)-1], ", "), q[len(q)-1]).In(lang)
}

// unknownCommand is the one-line error for a mistyped command of parent.
func unknownCommand(parent *cobra.Command, word string, lang finding.Lang) error {
	var names []string
	for _, c := range parent.Commands() {
		if c.IsAvailableCommand() || c.Name() == "help" {
			names = append(names, c.Name())
			names = append(names, c.Aliases...)
		}
	}
	path := parent.CommandPath()
	if s := closest(word, names); len(s) > 0 {
		return &UsageError{Msg: finding.T("unknown command %q for %s; did you mean %s?", word, path, orList(s, lang)).In(lang)}
	}
	return &UsageError{Msg: finding.T("unknown command %q for %s (%s --help lists the commands)", word, path, path).In(lang)}
}

// firstWord is the first argument that is neither a flag nor a flag's
// value, by cmd's flags: the word cobra took for a command name.
func firstWord(root *cobra.Command, args []string) string {
	lookup := func(name string) *pflag.Flag {
		if f := root.Flags().Lookup(name); f != nil {
			return f
		}
		return root.PersistentFlags().Lookup(name)
	}
	short := func(name string) *pflag.Flag {
		if f := root.Flags().ShorthandLookup(name); f != nil {
			return f
		}
		return root.PersistentFlags().ShorthandLookup(name)
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			if i+1 < len(args) {
				return args[i+1]
			}
			return ""
		case strings.HasPrefix(a, "--"):
			if strings.Contains(a, "=") {
				continue
			}
			if f := lookup(a[2:]); f != nil && f.NoOptDefVal == "" {
				i++ // the flag's value
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			if len(a) == 2 {
				if f := short(a[1:]); f != nil && f.NoOptDefVal == "" {
					i++
				}
			}
		default:
			return a
		}
	}
	return ""
}

// loadScenario loads the named scenario of fixtures/; an unknown name is a
// usage error that suggests the names it was probably meant to be.
func loadScenario(name string, lang finding.Lang) (*fixtures.Scenario, error) {
	names := fixtures.Names()
	if !slices.Contains(names, name) {
		if s := closest(name, names); len(s) > 0 {
			return nil, &UsageError{Msg: finding.T("unknown scenario %q; did you mean %s? (mailcheck serve --list names them all)", name, orList(s, lang)).In(lang)}
		}
		return nil, &UsageError{Msg: finding.T("unknown scenario %q (mailcheck serve --list names them all)", name).In(lang)}
	}
	sc, err := fixtures.Load(name)
	if err != nil {
		return nil, &UsageError{Msg: err.Error()}
	}
	return sc, nil
}

// unknownID is the error for a finding ID the catalogue lacks, with the
// IDs it was probably meant to be.
func unknownID(id string, lang finding.Lang) error {
	if s := closest(id, finding.IDs()); len(s) > 0 {
		return &UsageError{Msg: finding.T("unknown finding ID %q; did you mean %s?", id, orList(s, lang)).In(lang)}
	}
	return &UsageError{Msg: finding.T("unknown finding ID %q (mailcheck explain --list shows them all)", id).In(lang)}
}
