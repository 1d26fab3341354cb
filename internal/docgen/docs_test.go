package docgen_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/internal/cli"
	"github.com/mailcheck-cli/mailcheck/internal/docgen"
)

var update = flag.Bool("update", false, "rewrite the generated files of docs/")

// docsDir is the repository's docs/.
const docsDir = "../../docs"

// englishRoot is the command tree as the documentation describes it: in
// English, whatever the locale of the machine running the test.
func englishRoot() *cli.IOStreams {
	return &cli.IOStreams{Lang: finding.English, Getenv: func(string) string { return "" }}
}

// TestDocsAreCurrent fails when a generated file of docs/ differs from
// what the code generates now: a flag, a command or a catalogue entry
// changed and the documentation was not regenerated. Regenerate with
//
//	go test ./internal/docgen -update
func TestDocsAreCurrent(t *testing.T) {
	files, err := docgen.Docs(cli.NewRootCmd(englishRoot()))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.RemoveAll(filepath.Join(docsDir, "commands")); err != nil {
			t.Fatal(err)
		}
		for name, data := range files {
			p := filepath.Join(docsDir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(docsDir, name))
		if err != nil {
			t.Errorf("docs/%s is missing (go test ./internal/docgen -update writes it)", name)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("docs/%s is stale: run go test ./internal/docgen -update and commit the result", name)
		}
	}
	// A page whose command is gone is stale too.
	pages, _ := filepath.Glob(filepath.Join(docsDir, "commands", "*.md"))
	for _, p := range pages {
		if _, ok := files[filepath.Join("commands", filepath.Base(p))]; !ok {
			t.Errorf("docs/commands/%s documents a command that no longer exists", filepath.Base(p))
		}
	}
	for _, want := range []string{"commands/mailcheck.md", "commands/mailcheck_domain.md", "commands/mailcheck_explain.md", "findings.md"} {
		if _, ok := files[want]; !ok {
			t.Errorf("the generated docs lack %s", want)
		}
	}
}

// TestCatalogueIsWhatExplainPrints: docs/findings.md is the output of
// `mailcheck explain --list --format markdown`, entry for entry.
func TestCatalogueIsWhatExplainPrints(t *testing.T) {
	var out, errOut bytes.Buffer
	io := &cli.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut, Getenv: func(string) string { return "" }}
	if code := cli.Run(context.Background(), io, []string{"explain", "--list", "--format", "markdown"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var want bytes.Buffer
	if err := docgen.WriteCatalogue(&want, finding.English); err != nil {
		t.Fatal(err)
	}
	if out.String() != want.String() {
		t.Error("explain --list --format markdown differs from the catalogue docgen writes")
	}
	ids := finding.IDs()
	for _, id := range ids {
		if !strings.Contains(out.String(), "### `"+id+"`\n") {
			t.Errorf("the catalogue lacks %s", id)
		}
	}
	if !strings.Contains(out.String(), "- Severity:\n  - `fail`: a selector given with --dkim-selector or required by the policy file publishes no key\n  - `error`: ") {
		t.Errorf("dkim.none-found's severities are not listed with when each applies")
	}
}

// TestManPages: one page per command, section 1, dated and versioned as
// the release says.
func TestManPages(t *testing.T) {
	dir := t.TempDir()
	date := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	if err := docgen.Man(cli.NewRootCmd(englishRoot()), dir, docgen.ManHeader{Version: "1.2.3", Date: date}); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	for _, want := range []string{"mailcheck.1", "mailcheck-domain.1", "mailcheck-probe.1", "mailcheck-login.1", "mailcheck-explain.1",
		"mailcheck-serve.1", "mailcheck-demo.1", "mailcheck-selftest.1", "mailcheck-version.1", "mailcheck-completion.1"} {
		if !slices.Contains(names, want) {
			t.Errorf("no %s among %v", want, names)
		}
	}
	if slices.Contains(names, "mailcheck-man.1") {
		t.Error("the hidden man command has a page")
	}
	page, err := os.ReadFile(filepath.Join(dir, "mailcheck-domain.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`.TH "MAILCHECK" "1" "Nov 2026" "mailcheck 1.2.3" "mailcheck manual"`, `\fB--fail-on\fP`, ".SH SEE ALSO"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("mailcheck-domain.1 lacks %q", want)
		}
	}
}
