package cli

import (
	"io"
	"regexp"
	"strings"

	"github.com/charmbracelet/x/ansi"
	"github.com/spf13/cobra"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/internal/docgen"
	"github.com/mailcheck-cli/mailcheck/report"
)

// looksLikeID is the shape of a finding ID in any case: SPF.LOOKUP-LIMIT
// is spf.lookup-limit typed with caps lock on.
var looksLikeID = regexp.MustCompile(`^[A-Za-z0-9]+\.[A-Za-z0-9-]+$`)

// extendExplain adds to `explain`, around the command's own logic:
//
//   - `--list --format markdown`: the catalogue as docs/findings.md holds it;
//   - finding IDs in any case, and "did you mean" for a mistyped one;
//   - for an ID, when each of its severities applies (the catalogue's
//     severities notes), wrapped to the terminal's width;
//   - completion of finding IDs.
//
// Anything else goes to the command unchanged.
func extendExplain(cmd *cobra.Command, io *IOStreams) {
	inner := cmd.RunE
	if f := cmd.Flags().Lookup("format"); f != nil {
		f.Usage = finding.T("output format: text|json|markdown (markdown with --list: the catalogue as docs/findings.md holds it)").In(io.Lang)
	}
	if cmd.ValidArgsFunction == nil {
		cmd.ValidArgsFunction = completeIDs(io.Lang)
	}
	cmd.RunE = func(c *cobra.Command, args []string) error {
		format := "text"
		if f := c.Flags().Lookup("format"); f != nil {
			format = strings.ToLower(f.Value.String())
		}
		list, _ := c.Flags().GetBool("list")
		if list && format == "markdown" {
			return docgen.WriteCatalogue(io.Out, io.Lang)
		}
		if len(args) == 1 && looksLikeID.MatchString(args[0]) {
			e, ok := finding.Lookup(args[0])
			if !ok {
				if len(closest(args[0], finding.IDs())) > 0 {
					return unknownID(args[0], io.Lang)
				}
				return inner(c, args)
			}
			args = []string{e.ID}
		}
		if format == "markdown" {
			return &UsageError{Msg: finding.T("--format markdown goes with --list: the catalogue as Markdown").In(io.Lang)}
		}
		return inner(c, args)
	}
}

// labelled writes text after the label a "  label: %s" format gives in
// lang ("  pourquoi : %s" in French), its lines aligned under the text.
func labelled(w io.Writer, width int, format finding.Text, lang finding.Lang, text string) {
	first := format.In(lang)
	report.Paragraph(w, width, first, strings.Repeat(" ", ansi.StringWidth(first)), text)
}

// severityList names the severities a finding can have: "warn", or "fail
// or error" for dkim.none-found.
func severityList(e finding.Entry, lang finding.Lang) string {
	var sevs []string
	for _, s := range e.PossibleSeverities() {
		sevs = append(sevs, severityWord(s).In(lang))
	}
	if len(sevs) == 1 {
		return sevs[0]
	}
	return finding.T("%s or %s", strings.Join(sevs[:len(sevs)-1], ", "), sevs[len(sevs)-1]).In(lang)
}
