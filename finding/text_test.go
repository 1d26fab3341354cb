package finding

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// sourceFormats returns every format passed to finding.T (T inside this
// package) in the module's non-test Go files, with where each is used.
// A format that is not a string constant is an error: the translation
// tables could never hold it.
func sourceFormats(t *testing.T) map[string]string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		inFinding := f.Name.Name == "finding"
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 || !isTCall(call.Fun, inFinding) {
				return true
			}
			pos := fset.Position(call.Pos())
			where := strings.TrimPrefix(pos.Filename, root+string(filepath.Separator)) + ":" + strconv.Itoa(pos.Line)
			format, ok := constString(call.Args[0])
			if !ok {
				t.Errorf("%s: the format of T must be a string literal, so that it can be translated", where)
				return true
			}
			if _, seen := out[format]; !seen {
				out[format] = where
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func isTCall(fun ast.Expr, inFinding bool) bool {
	switch f := fun.(type) {
	case *ast.SelectorExpr:
		x, ok := f.X.(*ast.Ident)
		return ok && x.Name == "finding" && f.Sel.Name == "T"
	case *ast.Ident:
		return inFinding && f.Name == "T"
	}
	return false
}

// constString evaluates a string literal or a sum of string literals.
func constString(e ast.Expr) (string, bool) {
	switch v := e.(type) {
	case *ast.BasicLit:
		if v.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(v.Value)
		return s, err == nil
	case *ast.BinaryExpr:
		if v.Op != token.ADD {
			return "", false
		}
		a, ok1 := constString(v.X)
		b, ok2 := constString(v.Y)
		return a + b, ok1 && ok2
	case *ast.ParenExpr:
		return constString(v.X)
	}
	return "", false
}

var verb = regexp.MustCompile(`%(\[(\d+)\])?[-+# 0]*\d*(\.\d+)?([a-zA-Z%])`)

// verbs lists the verbs of a format by argument position: "%s %d" and
// "%[2]d %[1]s" both give [s d]. %% is left out.
func verbs(format string) []string {
	var out []string
	next := 0
	for _, m := range verb.FindAllStringSubmatch(format, -1) {
		if m[4] == "%" {
			continue
		}
		i := next
		if m[2] != "" {
			n, _ := strconv.Atoi(m[2])
			i = n - 1
		}
		for len(out) <= i {
			out = append(out, "")
		}
		out[i] = m[4]
		next = i + 1
	}
	return out
}

// TestEveryTextHasFrench: every format a finding, fix or report uses has a
// French translation with the same arguments, and the tables hold nothing
// the code no longer uses.
func TestEveryTextHasFrench(t *testing.T) {
	formats := sourceFormats(t)
	fr, err := Translations(French)
	if err != nil {
		t.Fatal(err)
	}
	for format, where := range formats {
		tr, ok := fr[format]
		switch {
		case !ok:
			t.Errorf("%s: no French for %q (add it to finding/i18n/fr/)", where, format)
		case !slices.Equal(verbs(format), verbs(tr)):
			t.Errorf("%s: the French of %q uses the arguments %v, the English %v", where, format, verbs(tr), verbs(format))
		}
	}
	for format := range fr {
		if _, used := formats[format]; !used && format != "%s" {
			t.Errorf("French translation of %q: no code uses this format any more", format)
		}
	}
}

// TestCatalogueHasFrench: every catalogue entry has a French title, why
// and fix.
func TestCatalogueHasFrench(t *testing.T) {
	entries, err := Entries()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.FR == nil || e.FR.Title == "" || e.FR.Why == "" || e.FR.Fix == "" {
			t.Errorf("catalogue entry %s has no complete French text (fr: title, why, fix)", e.ID)
		}
	}
}

func TestTextIn(t *testing.T) {
	translationsOnce.Do(loadTranslations) // then swap the real tables out for this test
	saved := translations
	translations = map[Lang]map[string]string{French: {
		"%d DMARC records at %s": "%[2]s : %[1]d enregistrements DMARC",
		"looking up %s":          "recherche de %s",
	}}
	t.Cleanup(func() { translations = saved })

	txt := T("%d DMARC records at %s", 2, "example.com")
	if got := txt.String(); got != "2 DMARC records at example.com" {
		t.Errorf("English: %q", got)
	}
	if got := txt.In(French); got != "example.com : 2 enregistrements DMARC" {
		t.Errorf("French: %q", got)
	}
	nested := T("%s failed: %s", T("looking up %s", "x"), "SERVFAIL")
	if got := nested.In(French); got != "recherche de x failed: SERVFAIL" {
		t.Errorf("an untranslated format still translates its Text arguments: %q", got)
	}
	if got := Verbatim("100% done").In(French); got != "100% done" {
		t.Errorf("Verbatim: %q", got)
	}
}

func TestLangFromEnv(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want Lang
	}{
		{map[string]string{}, English},
		{map[string]string{"LANG": "fr_FR.UTF-8"}, French},
		{map[string]string{"LANG": "fr_CA"}, French},
		{map[string]string{"LC_ALL": "C", "LANG": "fr_FR.UTF-8"}, English},
		{map[string]string{"LC_MESSAGES": "fr_BE.UTF-8", "LANG": "en_US.UTF-8"}, French},
		{map[string]string{"LANG": "de_DE.UTF-8"}, English},
	}
	for _, tt := range tests {
		if got := LangFromEnv(func(k string) string { return tt.env[k] }); got != tt.want {
			t.Errorf("%v: got %s, want %s", tt.env, got, tt.want)
		}
	}
}

func TestFindingIn(t *testing.T) {
	f := New("spf.missing", "example.com TXT", T("No SPF record: %s does not exist", "example.com"))
	f.SetFix(T("Publish one TXT record at %s: %q (%s)", "example.com", "v=spf1 -all", T("the domain sends no mail")))
	fr := f.In(French)
	if fr.Title == f.Title || fr.Fix == f.Fix {
		t.Errorf("not translated:\n%s\n%s", fr.Title, fr.Fix)
	}
	if f.Title != "No SPF record: example.com does not exist" {
		t.Errorf("the finding itself must stay English: %q", f.Title)
	}
	plain := New("mx.null", "example.com MX", Text{})
	e, _ := Lookup("mx.null")
	if got := plain.In(French).Title; got != e.In(French).Title {
		t.Errorf("a catalogue title is translated from the catalogue: %q", got)
	}
}

// TestAllowedAndReasonIn: the policy allowance of a finding and the reason
// of a client setting, when set as Texts, are written in the language
// asked for; their exported fields stay English.
func TestAllowedAndReasonIn(t *testing.T) {
	translationsOnce.Do(loadTranslations)
	saved := translations
	translations = map[Lang]map[string]string{French: {
		"until %s: %s":        "jusqu'au %s : %s",
		"no STARTTLS offered": "STARTTLS n'est pas proposé",
	}}
	t.Cleanup(func() { translations = saved })

	f := New("dmarc.rua-missing", "_dmarc.example.com TXT", Text{})
	f.SetAllowed(T("until %s: %s", "2027-06-30", "our provider handles reports"))
	if f.Allowed != "until 2027-06-30: our provider handles reports" {
		t.Errorf("Allowed = %q", f.Allowed)
	}
	if got := f.In(French).Allowed; got != "jusqu'au 2027-06-30 : our provider handles reports" {
		t.Errorf("French Allowed = %q", got)
	}
	plain := New("dmarc.rua-missing", "_dmarc.example.com TXT", Text{})
	plain.Allowed = "set as a plain string"
	if got := plain.In(French).Allowed; got != "set as a plain string" {
		t.Errorf("a plain Allowed must stay as it is: %q", got)
	}

	var c ClientEndpoint
	c.SetReason(T("no STARTTLS offered"))
	if c.Reason != "no STARTTLS offered" || c.In(French).Reason != "STARTTLS n'est pas proposé" {
		t.Errorf("reason %q, in French %q", c.Reason, c.In(French).Reason)
	}
	c.Reason = "overwritten by hand"
	if got := c.In(French).Reason; got != "overwritten by hand" {
		t.Errorf("a Reason overwritten after SetReason must stay as it is: %q", got)
	}
}

// codeSpans lists the `code` spans of a text.
func codeSpans(s string) []string {
	var out []string
	for {
		i := strings.IndexByte(s, '`')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i+1:], '`')
		if j < 0 {
			break
		}
		out = append(out, s[i+1:i+1+j])
		s = s[i+j+2:]
	}
	slices.Sort(out)
	return out
}

// TestCatalogueFrenchFollowsEnglish: a French entry quotes the same
// commands and records as the English one (`code` spans), so a changed
// English fix cannot keep a stale French one that tells users to run
// something else.
func TestCatalogueFrenchFollowsEnglish(t *testing.T) {
	entries, err := Entries()
	if err != nil {
		t.Fatal(err)
	}
	// Placeholders are translated: <domain> is <domaine>, HOST is HÔTE.
	placeholder := regexp.MustCompile(`<[^>]*>`)
	words := strings.NewReplacer("HÔTE", "HOST", "nimporte-quoi", "anything")
	norm := func(spans []string) []string {
		out := make([]string, len(spans))
		for i, s := range spans {
			out[i] = words.Replace(placeholder.ReplaceAllString(s, "<…>"))
		}
		slices.Sort(out)
		return out
	}
	for _, e := range entries {
		if e.FR == nil {
			continue
		}
		for _, pair := range [][2]string{{e.Fix, e.FR.Fix}, {e.Why, e.FR.Why}} {
			if en, fr := norm(codeSpans(pair[0])), norm(codeSpans(pair[1])); !slices.Equal(en, fr) {
				t.Errorf("%s: the French quotes %q, the English %q", e.ID, fr, en)
			}
		}
	}
}
