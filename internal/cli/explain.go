package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// ExplainOptions are the inputs of `mailcheck explain`.
type ExplainOptions struct {
	IO     *IOStreams
	Query  string
	Format string
}

// NewCmdExplain builds `mailcheck explain ID|TEXT`.
func NewCmdExplain(io *IOStreams, runF func(context.Context, *ExplainOptions) error) *cobra.Command {
	opts := &ExplainOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "explain ID|TEXT",
		Short: "Show the fix for a finding ID, or map a pasted error, server reply or bounce to findings",
		Example: `  mailcheck explain spf.lookup-limit
  mailcheck explain "535 5.7.139 Authentication unsuccessful, basic authentication is disabled"
  mailcheck explain "x509: certificate signed by unknown authority"
  mailcheck explain --list`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Query = strings.TrimSpace(strings.Join(args, " "))
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return explainRun(opts, cmd.Flags().Changed("list"))
		},
	}
	cmd.Flags().StringVar(&opts.Format, "format", "text", "output format: text|json")
	cmd.Flags().Bool("list", false, "list every finding ID with its title")
	return cmd
}

var findingID = regexp.MustCompile(`^[a-z0-9]+\.[a-z0-9-]+$`)

func explainRun(opts *ExplainOptions, list bool) error {
	if opts.Format != "text" && opts.Format != "json" {
		return usageErrorf("unknown --format %q for explain (want text or json)", opts.Format)
	}
	out := opts.IO.Out
	if list {
		entries, err := finding.Entries()
		if err != nil {
			return err
		}
		for i := range entries {
			entries[i] = entries[i].In(opts.IO.Lang)
		}
		if opts.Format == "json" {
			return writeJSON(out, entries)
		}
		for _, e := range entries {
			fmt.Fprintf(out, "%-30s %-5s %s\n", e.ID, e.Severity, e.Title)
		}
		return nil
	}
	if opts.Query == "" {
		return usageErrorf("nothing to explain: give a finding ID (e.g. spf.lookup-limit) or paste an error message")
	}
	if findingID.MatchString(opts.Query) {
		e, ok := finding.Lookup(opts.Query)
		if !ok {
			return usageErrorf("unknown finding ID %q (mailcheck explain --list shows them all)", opts.Query)
		}
		e = e.In(opts.IO.Lang)
		if opts.Format == "json" {
			return writeJSON(out, e)
		}
		printEntry(out, e)
		return nil
	}
	matches := finding.Match(opts.Query)
	for i := range matches {
		matches[i] = matches[i].In(opts.IO.Lang)
	}
	if opts.Format == "json" {
		if matches == nil {
			matches = []finding.Entry{}
		}
		if err := writeJSON(out, matches); err != nil {
			return err
		}
	} else if len(matches) == 0 {
		fmt.Fprintln(out, "mailcheck does not recognise this message.")
		fmt.Fprintln(out, "To diagnose a login problem, run: mailcheck login user@example.com")
		fmt.Fprintln(out, "To audit a domain's mail set-up, run: mailcheck domain example.com")
	} else {
		for i, e := range matches {
			if i > 0 {
				fmt.Fprintln(out)
			}
			printEntry(out, e)
		}
	}
	return nil
}

func printEntry(w io.Writer, e finding.Entry) {
	fmt.Fprintf(w, "%s (%s): %s\n", e.ID, e.Severity, e.Title)
	if e.Why != "" {
		fmt.Fprintf(w, "  why: %s\n", e.Why)
	}
	fmt.Fprintf(w, "  fix: %s\n", e.Fix)
	if e.Ref != "" {
		fmt.Fprintf(w, "  ref: %s\n", e.Ref)
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
