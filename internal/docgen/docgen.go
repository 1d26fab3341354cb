// Package docgen writes mailcheck's generated documentation: the Markdown
// pages of docs/commands/ and the finding catalogue of docs/findings.md,
// which the repository keeps (a test fails when they are stale), and the
// man pages that release archives carry. Everything comes from the command
// tree and the embedded catalogue, so that the documentation cannot say
// something the binary does not do.
package docgen

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/report"
)

// WriteCatalogue writes the finding catalogue as Markdown: one section per
// check area, one entry per finding ID with its severities and when each
// applies, why it matters, the fix and the reference.
func WriteCatalogue(w io.Writer, lang finding.Lang) error {
	entries, err := finding.Entries()
	if err != nil {
		return err
	}
	byArea := map[string][]finding.Entry{}
	for _, e := range entries {
		area, _, _ := strings.Cut(e.ID, ".")
		byArea[area] = append(byArea[area], e.In(lang))
	}
	areas := report.AreaOrder()
	var rest []string
	for a := range byArea {
		if !slices.Contains(areas, a) {
			rest = append(rest, a)
		}
	}
	sort.Strings(rest)
	areas = append(areas, rest...)

	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# %s\n\n", finding.T("Finding catalogue").In(lang))
	fmt.Fprintf(bw, "%s\n\n", finding.T("Generated from the catalogue built into mailcheck by `mailcheck explain --list --format markdown`: do not edit by hand. `mailcheck explain ID` shows one entry.").In(lang))
	fmt.Fprintf(bw, "%s\n\n", finding.T("Severities: `pass` the check ran and found nothing wrong; `info` worth knowing, nothing to fix; `warn` works today but is weaker than it should be; `fail` broken or unsafe, fix it; `error` inconclusive: a timeout, SERVFAIL, 421 reply or rate limit stopped the check, and nothing is known about what it checks.").In(lang))
	for _, area := range areas {
		es := byArea[area]
		if len(es) == 0 {
			continue
		}
		fmt.Fprintf(bw, "## %s\n\n", report.AreaTitle(area, lang))
		for _, e := range es {
			writeEntry(bw, e, lang)
		}
	}
	return bw.Flush()
}

func writeEntry(w io.Writer, e finding.Entry, lang finding.Lang) {
	md := report.MarkdownText
	fmt.Fprintf(w, "### `%s`\n\n", e.ID)
	fmt.Fprintf(w, "**%s**\n\n", md(e.Title))
	if len(e.Severities) == 0 {
		fmt.Fprintf(w, "- %s: `%s`\n", finding.T("Severity").In(lang), e.Severity)
	} else {
		fmt.Fprintf(w, "- %s:\n", finding.T("Severity").In(lang))
		for _, c := range e.Severities {
			fmt.Fprintf(w, "  - `%s`: %s\n", c.Severity, md(c.When))
		}
	}
	if e.Why != "" {
		fmt.Fprintf(w, "- %s: %s\n", finding.T("Why").In(lang), md(e.Why))
	}
	fmt.Fprintf(w, "- %s: %s\n", finding.T("Fix").In(lang), md(e.Fix))
	if e.Ref != "" {
		fmt.Fprintf(w, "- %s: %s\n", finding.T("Reference").In(lang), md(e.Ref))
	}
	fmt.Fprintln(w)
}

// Commands writes one Markdown page per command of root into dir
// (mailcheck.md, mailcheck_domain.md ...), linked to each other.
func Commands(root *cobra.Command, dir string) error {
	prepare(root)
	return doc.GenMarkdownTreeCustom(root, dir, func(string) string { return "" }, func(name string) string { return name })
}

// ManHeader is what the man pages say about the release they belong to.
type ManHeader struct {
	Version string    // "1.2.3"
	Date    time.Time // the release's date; zero means SOURCE_DATE_EPOCH or now
}

// Man writes one man page per command of root into dir, in section 1
// (mailcheck.1, mailcheck-domain.1 ...).
func Man(root *cobra.Command, dir string, h ManHeader) error {
	prepare(root)
	header := &doc.GenManHeader{Title: "MAILCHECK", Section: "1", Source: strings.TrimSpace("mailcheck " + h.Version), Manual: "mailcheck manual"}
	if !h.Date.IsZero() {
		d := h.Date.UTC()
		header.Date = &d
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return doc.GenManTree(root, header, dir)
}

// prepare readies root for documentation: cobra adds its completion
// command only when it executes, and the documentation should show it.
func prepare(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	disableAutoGenTag(root)
}

func disableAutoGenTag(c *cobra.Command) {
	// The tag carries the day of generation: the pages would differ every
	// day and the staleness test could never pass.
	c.DisableAutoGenTag = true
	for _, sub := range c.Commands() {
		disableAutoGenTag(sub)
	}
}

// Docs returns the generated files of docs/, by path relative to docs/:
// commands/*.md and findings.md.
func Docs(root *cobra.Command) (map[string][]byte, error) {
	tmp, err := os.MkdirTemp("", "mailcheck-docs-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := Commands(root, tmp); err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	names, err := filepath.Glob(filepath.Join(tmp, "*.md"))
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		files[filepath.Join("commands", filepath.Base(n))] = b
	}
	var cat bytes.Buffer
	if err := WriteCatalogue(&cat, finding.English); err != nil {
		return nil, err
	}
	files["findings.md"] = cat.Bytes()
	return files, nil
}
