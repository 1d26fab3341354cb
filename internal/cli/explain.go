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
	"github.com/mailcheck-cli/mailcheck/report"
)

// ExplainOptions are the inputs of `mailcheck explain`.
type ExplainOptions struct {
	IO     *IOStreams
	Query  string
	Format string
	List   bool
	// Stdin: the text to explain is read from standard input (`-`).
	Stdin bool
}

// maxPastedBytes bounds what `explain -` reads: a bounce with its
// returned headers, not a mailbox.
const maxPastedBytes = 1 << 20

// NewCmdExplain builds `mailcheck explain ID|TEXT|-`. A pasted text often
// starts with "-" ("-ERR [AUTH] Authentication failed."): Run marks where
// such a text begins (see explainTextArgs), so that the flag parser does
// not take it for an unknown flag.
func NewCmdExplain(io *IOStreams, runF func(context.Context, *ExplainOptions) error) *cobra.Command {
	opts := &ExplainOptions{IO: io}
	l := io.Lang
	cmd := &cobra.Command{
		Use:   "explain ID|TEXT|-",
		Short: finding.T("Show the fix for a finding ID, or map a pasted error, server reply or bounce to findings").In(l),
		Long: finding.T(`explain prints the catalogue entry of a finding ID (why it matters, the fix, the
reference), or reads a text people paste — a mail app's error, a server reply, a
bounce, a log line, in English or French — and names the findings that explain
it, the most specific evidence first: a provider's own code, then a standard
code, then a wording. When the text reveals the provider (Microsoft, Google,
Yahoo...), the fix is that provider's.

Give the text as arguments, or "-" to read it from standard input: several lines,
a whole bounce message (each failed recipient's Status and Diagnostic-Code is
explained). A text that starts with "-" is taken as text; to be sure, put "--"
before it, or paste it on standard input.`).In(l),
		Example: finding.T(`  mailcheck explain spf.lookup-limit
  mailcheck explain "535 5.7.139 Authentication unsuccessful, basic authentication is disabled"
  mailcheck explain -- "-ERR [AUTH] Authentication failed."
  mailcheck explain - < bounce.eml
  mailcheck explain --list`).In(l),
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 && args[0] == "-" {
				opts.Stdin, args = true, args[1:]
			}
			opts.Query = strings.TrimSpace(strings.Join(args, " "))
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return explainRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Format, "format", "text", finding.T("output format: text|json").In(l))
	cmd.Flags().BoolVar(&opts.List, "list", false, finding.T("list every finding ID with its title").In(l))
	return cmd
}

// explainFlags are the flags explain's command line may carry before its
// text (global ones included); with a value when true.
var explainFlags = map[string]bool{"--format": true, "--list": false, "--lang": true, "--help": false, "-h": false,
	"-o": true, "--output": true} // -o FILE: every reporting command takes it (conventions.go)

// explainTextArgs marks where the text of `mailcheck explain` begins when
// that text starts with "-": it puts "--" before the first word after
// "explain" that starts with "-" and is not one of explain's flags, so that
// `mailcheck explain -ERR [AUTH] Authentication failed.` explains the
// reply instead of failing on an unknown flag -ERR. Other command lines are
// returned unchanged.
func explainTextArgs(args []string) []string {
	at := -1
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return args
		}
		if strings.HasPrefix(a, "-") {
			if name, _, _ := strings.Cut(a, "="); explainFlags[name] && !strings.Contains(a, "=") {
				i++ // the flag's value
			}
			continue
		}
		if a == "explain" {
			at = i
		}
		break
	}
	if at < 0 {
		return args
	}
	for i := at + 1; i < len(args); i++ {
		a := args[i]
		name, _, hasValue := strings.Cut(a, "=")
		switch {
		case a == "--" || a == "-":
			return args
		case !strings.HasPrefix(a, "-"):
			continue
		case explainFlags[name] && !hasValue:
			i++
			continue
		case hasKey(explainFlags, name):
			continue
		}
		out := append(append(append([]string{}, args[:i]...), "--"), args[i:]...)
		return out
	}
	return args
}

func hasKey(m map[string]bool, k string) bool {
	_, ok := m[k]
	return ok
}

var findingID = regexp.MustCompile(`^[a-z0-9]+\.[a-z0-9-]+$`)

func explainRun(opts *ExplainOptions) error {
	l := opts.IO.Lang
	if opts.Format != "text" && opts.Format != "json" {
		return usageError(l, finding.T("unknown --format %q for explain (want text or json)", opts.Format))
	}
	if opts.List {
		return explainList(opts)
	}
	if opts.Stdin {
		if opts.Query != "" {
			return usageError(l, finding.T("give the text either as arguments or on standard input (-), not both"))
		}
		text, err := readPasted(opts.IO.In, l)
		if err != nil {
			return err
		}
		if strings.TrimSpace(text) == "" {
			return usageError(l, finding.T("nothing to explain: standard input was empty"))
		}
		opts.Query = text
	}
	if opts.Query == "" {
		return usageError(l, finding.T("nothing to explain: give a finding ID (e.g. spf.lookup-limit), paste an error message, or use - to read it from standard input"))
	}
	if findingID.MatchString(opts.Query) {
		e, ok := finding.Lookup(opts.Query)
		if !ok {
			return usageError(l, finding.T("unknown finding ID %q (mailcheck explain --list shows them all)", opts.Query))
		}
		e = e.In(opts.IO.Lang)
		if opts.Format == "json" {
			return writeJSON(opts.IO.Out, e)
		}
		printEntry(opts.IO.Out, opts.IO.reportWidth(), opts.IO.Lang, e)
		return nil
	}
	ex := explainText(opts.Query, opts.IO.Lang)
	if opts.Format == "json" {
		return writeJSON(opts.IO.Out, ex)
	}
	printExplanation(opts.IO.Out, opts.IO.reportWidth(), opts.IO.Lang, ex)
	return nil
}

// readPasted reads standard input within maxPastedBytes; errors are said
// in l.
func readPasted(r io.Reader, l finding.Lang) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxPastedBytes+1))
	if err != nil {
		return "", usageError(l, finding.T("reading standard input: %s", err.Error()))
	}
	if len(b) > maxPastedBytes {
		return "", usageError(l, finding.T("standard input is longer than %d bytes: paste the error, the reply or the bounce, not a mailbox", maxPastedBytes))
	}
	return string(b), nil
}

// explanation is what explain says about a pasted text: one diagnosis of
// the whole text, or one per failed recipient of a bounce.
type explanation struct {
	Diagnosis  *diagnosisJSON  `json:"diagnosis,omitempty"`
	Recipients []recipientJSON `json:"recipients,omitempty"`
}

type diagnosisJSON struct {
	Provider     string          `json:"provider,omitempty"`
	ProviderName string          `json:"provider_name,omitempty"`
	Candidates   []candidateJSON `json:"candidates"`
}

type candidateJSON struct {
	finding.Entry
	Strength finding.Strength `json:"strength"`
	Matched  string           `json:"matched"`
	Source   string           `json:"source"`
}

type recipientJSON struct {
	Recipient  string         `json:"recipient"`
	Action     string         `json:"action"`
	Status     string         `json:"status,omitempty"`
	Diagnostic string         `json:"diagnostic,omitempty"`
	Diagnosis  *diagnosisJSON `json:"diagnosis"`
}

func toJSON(d finding.Diagnosis, l finding.Lang) *diagnosisJSON {
	out := &diagnosisJSON{Provider: d.Provider, ProviderName: d.ProviderName, Candidates: []candidateJSON{}}
	for _, c := range d.Candidates {
		out.Candidates = append(out.Candidates, candidateJSON{Entry: c.Entry.In(l), Strength: c.Strength, Matched: c.Matched, Source: c.Source})
	}
	return out
}

// explainText diagnoses a pasted text; a bounce is explained recipient by
// recipient, from its Status and Diagnostic-Code.
func explainText(text string, l finding.Lang) explanation {
	if rs := bounceRecipients(text); len(rs) > 0 {
		var ex explanation
		for _, r := range rs {
			// The recipient's domain may reveal the receiving provider,
			// whose fix then applies (a Microsoft block list, Gmail's
			// sender guidelines).
			d := finding.DiagnoseBounce(finding.BounceReport{Diagnostic: r.diagnostic, Status: r.status,
				Recipient: r.recipient, Notice: r.human})
			ex.Recipients = append(ex.Recipients, recipientJSON{
				Recipient: r.recipient, Action: r.action, Status: r.status,
				Diagnostic: r.diagnostic, Diagnosis: toJSON(d, l),
			})
		}
		return ex
	}
	return explanation{Diagnosis: toJSON(finding.Diagnose(text), l)}
}

func printExplanation(w io.Writer, width int, l finding.Lang, ex explanation) {
	if ex.Diagnosis != nil {
		printDiagnosis(w, width, l, ex.Diagnosis)
		return
	}
	fmt.Fprintln(w, finding.T("Bounce: %d recipient(s) not delivered", len(ex.Recipients)).In(l))
	for _, r := range ex.Recipients {
		fmt.Fprintln(w)
		fmt.Fprintln(w, finding.T("%s: %s, status %s", r.Recipient, actionWord(r.Action), orDash(r.Status)).In(l))
		if r.Diagnostic != "" {
			fmt.Fprintln(w, finding.T("  server said: %s", r.Diagnostic).In(l))
		}
		printDiagnosis(w, width, l, r.Diagnosis)
	}
}

// actionWord names a delivery-status Action (RFC 3464 §2.3.3) for people;
// the JSON keeps the field's own value.
func actionWord(action string) finding.Text {
	switch action {
	case "failed":
		return finding.T("failed")
	case "delayed":
		return finding.T("delayed")
	}
	return finding.Verbatim(action)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func printDiagnosis(w io.Writer, width int, l finding.Lang, d *diagnosisJSON) {
	if len(d.Candidates) == 0 {
		fmt.Fprintln(w, finding.T("mailcheck does not recognise this message.").In(l))
		fmt.Fprintln(w, finding.T("To diagnose a login problem, run: mailcheck login user@example.com").In(l))
		fmt.Fprintln(w, finding.T("To audit a domain's mail set-up, run: mailcheck domain example.com").In(l))
		return
	}
	if d.ProviderName != "" {
		fmt.Fprintln(w, finding.T("Provider: %s", d.ProviderName).In(l))
	}
	best := d.Candidates[0]
	printEntry(w, width, l, best.Entry)
	fmt.Fprintln(w, finding.T("  evidence: %s %q (%s)", strengthWord(best.Strength), best.Matched, best.Source).In(l))
	if len(d.Candidates) > 1 {
		fmt.Fprintln(w, finding.T("Also possible:").In(l))
		for _, c := range d.Candidates[1:] {
			fmt.Fprintln(w, finding.T("  %s (%s): %s [%s %q]", c.ID, severityWord(c.Severity), c.Title, strengthWord(c.Strength), c.Matched).In(l))
		}
	}
}

// strengthWord names a pattern strength for people.
func strengthWord(s finding.Strength) finding.Text {
	switch s {
	case finding.Signature:
		return finding.T("provider signature")
	case finding.Code:
		return finding.T("protocol code")
	case finding.Phrase:
		return finding.T("wording")
	}
	return finding.T("hint")
}

// printEntry writes one catalogue entry: its severities and when each
// applies, why, the fix (the provider's own when the text revealed one)
// and the reference, wrapped to the width of the output.
func printEntry(w io.Writer, width int, l finding.Lang, e finding.Entry) {
	report.Paragraph(w, width, "", "  ", finding.T("%s (%s): %s", e.ID, severityList(e, l), e.Title).In(l))
	for _, c := range e.Severities {
		labelled(w, width, finding.T("  %s: %s", severityWord(c.Severity), ""), l, c.When)
	}
	if e.Why != "" {
		labelled(w, width, finding.T("  why: %s", ""), l, e.Why)
	}
	if e.Provider != "" {
		labelled(w, width, finding.T("  fix for %s: %s", finding.ProviderName(e.Provider), ""), l, e.Fix)
	} else {
		labelled(w, width, finding.T("  fix: %s", ""), l, e.Fix)
	}
	if e.Ref != "" {
		labelled(w, width, finding.T("  ref: %s", ""), l, e.Ref)
	}
}

// explainList prints every finding ID with its severity and title.
func explainList(opts *ExplainOptions) error {
	entries, err := finding.Entries()
	if err != nil {
		return err
	}
	for i := range entries {
		entries[i] = entries[i].In(opts.IO.Lang)
	}
	if opts.Format == "json" {
		return writeJSON(opts.IO.Out, entries)
	}
	width := severityWidth(opts.IO.Lang)
	for _, e := range entries {
		fmt.Fprintf(opts.IO.Out, "%-30s %-*s %s\n", e.ID, width, severityWord(e.Severity).In(opts.IO.Lang), e.Title)
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
