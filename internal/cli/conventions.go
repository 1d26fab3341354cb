package cli

import (
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/fixtures"
	"github.com/mailcheck-cli/mailcheck/progress"
)

// Conventions every command follows, applied once to the whole tree so
// that each command file states only what is its own:
//
//   - a command with --format writes its report to -o FILE (--output);
//   - a command annotated for progress shows the status line on a
//     terminal, for text output only;
//   - flag values listed in a flag's help as a|b|c complete in the shell,
//     and so do scenario names and finding IDs;
//   - serve stops on Ctrl-C as its normal end (exit 0).
const (
	annotationProgress = "mailcheck/progress"
	annotationSignal   = "mailcheck/signal"
	signalStops        = "stops" // Ctrl-C or SIGTERM is the normal end of the command
)

// progressCommands show the status line: the commands whose runs can take
// long enough for a user to wonder.
var progressCommands = map[string]bool{
	"domain": true, "probe": true, "login": true, "demo": true, "selftest": true, "message": true,
}

func applyConventions(root *cobra.Command, io *IOStreams) {
	// The version line carries the commit and date: say so, in any language.
	if f := root.Flags().Lookup("version"); f != nil {
		f.Usage = finding.T("print mailcheck's version, commit and build date").In(io.Lang)
	}
	for _, c := range root.Commands() {
		switch c.Name() {
		case "explain":
			extendExplain(c, io)
		case "selftest":
			if c.ValidArgsFunction == nil {
				c.ValidArgsFunction = completeScenarios
			}
		}
	}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Flags().Lookup("format") != nil && c.Flags().Lookup("output") == nil {
			short := "o"
			if c.Flags().ShorthandLookup("o") != nil {
				short = ""
			}
			c.Flags().StringP("output", short, "", finding.T("write the report to FILE instead of standard output").In(io.Lang))
			_ = c.MarkFlagFilename("output")
		}
		if c.Parent() == root && progressCommands[c.Name()] {
			setAnnotation(c, annotationProgress, "true")
		}
		if c.Name() == "serve" && c.Parent() == root {
			setAnnotation(c, annotationSignal, signalStops)
		}
		registerValueCompletions(c)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func setAnnotation(c *cobra.Command, key, value string) {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[key] = value
}

// stopsOnSignal reports whether Ctrl-C is cmd's normal end (serve).
func stopsOnSignal(cmd *cobra.Command) bool {
	return cmd != nil && cmd.Annotations[annotationSignal] == signalStops
}

// valueList finds the values a flag's help lists as a|b|c.
var valueList = regexp.MustCompile(`\b[a-z0-9-]+(?:\|[a-z0-9-]+)+\b`)

// registerValueCompletions completes the values of c's flags: scenario
// names for --scenario, and the a|b|c list of a flag's help otherwise
// (--format, --fail-on, --protocol, --lang).
func registerValueCompletions(c *cobra.Command) {
	register := func(fs *pflag.FlagSet) {
		fs.VisitAll(func(f *pflag.Flag) {
			if _, done := c.GetFlagCompletionFunc(f.Name); done {
				return
			}
			if f.Name == "scenario" {
				_ = c.RegisterFlagCompletionFunc(f.Name, completeScenarios)
				return
			}
			values := valueList.FindAllString(f.Usage, -1)
			if len(values) == 0 {
				return
			}
			list := strings.Split(values[len(values)-1], "|")
			_ = c.RegisterFlagCompletionFunc(f.Name, func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
				var out []cobra.Completion
				for _, v := range list {
					if strings.HasPrefix(v, toComplete) {
						out = append(out, v)
					}
				}
				return out, cobra.ShellCompDirectiveNoFileComp
			})
		})
	}
	register(c.LocalNonPersistentFlags())
	register(c.PersistentFlags())
}

// completeScenarios completes scenario names, with their descriptions.
func completeScenarios(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var out []cobra.Completion
	for _, name := range fixtures.Names() {
		if !strings.HasPrefix(name, toComplete) {
			continue
		}
		desc := ""
		if sc, err := fixtures.Load(name); err == nil {
			desc = sc.Description
		}
		out = append(out, cobra.CompletionWithDesc(name, desc))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeIDs completes finding IDs, with their titles.
func completeIDs(lang finding.Lang) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		entries, err := finding.Entries()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var out []cobra.Completion
		for _, e := range entries {
			if strings.HasPrefix(e.ID, strings.ToLower(toComplete)) {
				out = append(out, cobra.CompletionWithDesc(e.ID, e.In(lang).Title))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// prepareRun applies -o and starts the status line; it runs before every
// command, after the language is known.
func prepareRun(cmd *cobra.Command, io *IOStreams) error {
	if f := cmd.Flags().Lookup("output"); f != nil && f.Changed {
		if f.Value.String() == "" {
			return &UsageError{Msg: finding.T("-o needs a file name").In(io.Lang)}
		}
		file, err := os.OpenFile(f.Value.String(), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return &UsageError{Msg: "-o: " + unwrapPath(err).Error()}
		}
		io.output = file
		io.Out = file
		io.OutTTY, io.OutFile = false, true
	}
	// The run's state stops the line when the run ends: without one (a
	// command tree executed without Run) there is no line.
	if io.state != nil && wantsProgress(cmd, io) {
		label := cmd.CommandPath()
		m := progress.New(io.ErrOut, progress.Options{Label: label, Lang: io.Lang, Width: io.TermWidth})
		io.state.setMeter(m)
		io.ErrOut = m.Passthrough(io.ErrOut)
		if io.OutTTY {
			io.Out = m.Passthrough(io.Out)
		}
		cmd.SetContext(progress.NewContext(cmd.Context(), m))
	}
	return nil
}

// wantsProgress: a status line only for a person at a terminal reading
// text — never on a pipe, in a file, in a machine format, or on a terminal
// that cannot redraw a line (TERM=dumb).
func wantsProgress(cmd *cobra.Command, io *IOStreams) bool {
	if !io.ErrTTY || io.getenv("TERM") == "dumb" || cmd.Annotations[annotationProgress] != "true" {
		return false
	}
	if f := cmd.Flags().Lookup("format"); f != nil && !strings.EqualFold(f.Value.String(), "text") {
		return false
	}
	return true
}

// finishRun erases the status line and closes the file of -o.
func finishRun(io *IOStreams) error {
	io.state.stopMeter()
	if io.output == nil {
		return nil
	}
	f := io.output
	io.output = nil
	if err := f.Close(); err != nil {
		return &UsageError{Msg: "-o: " + unwrapPath(err).Error()}
	}
	return nil
}

// reportWidth is the width text reports wrap to: the terminal's width on
// a terminal (80 if it cannot be read); else COLUMNS when set; else 80 for
// a file (-o, or a redirection), read later by people; else, on a pipe,
// whose reader is a program (grep, a CI log), 0: unwrapped.
func (io *IOStreams) reportWidth() int {
	if io.OutTTY {
		if io.TermWidth != nil {
			if w := io.TermWidth(); w > 0 {
				return w
			}
		}
		return 80
	}
	if c, err := strconv.Atoi(io.getenv("COLUMNS")); err == nil && c > 0 {
		return c
	}
	if io.OutFile {
		return 80
	}
	return 0
}

// messageWidth is the width messages on standard error wrap to: the
// terminal's, or 0 (unwrapped) when standard error is not a terminal.
func (io *IOStreams) messageWidth() int {
	if io.ErrTTY && io.TermWidth != nil {
		return io.TermWidth()
	}
	return 0
}

// isInterrupted reports whether Ctrl-C or SIGTERM stopped the run.
func (io *IOStreams) isInterrupted() bool {
	return io.interrupted != nil && io.interrupted()
}

// atForcedExit registers a clean-up for a second Ctrl-C; see runState.
func (io *IOStreams) atForcedExit(f func()) (remove func()) {
	return io.state.atForcedExit(f)
}

// interruptedTarget reports whether the work on one target was cut short:
// the run was interrupted while it went on.
func interruptedTarget(ctx context.Context) bool { return interruptedBy(ctx) }
