// Package cli holds mailcheck's commands: one file per command. Each command's
// RunE only fills an options struct; the work happens in a xRun(opts)
// function that tests call directly with buffer streams.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// Exit codes (SPEC "Exit codes").
const (
	ExitOK           = 0
	ExitFindings     = 1
	ExitUsage        = 2
	ExitInconclusive = 3
)

// IOStreams are the command's standard streams; tests use buffers.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// OutTTY says whether Out is a terminal (colour, prompts).
	OutTTY bool
	// OutFile says whether Out is a regular file (a redirection or -o):
	// text reports are wrapped to 80 columns for the people who read it
	// later, where a pipe's reader (grep, a CI log) gets lines unwrapped.
	OutFile bool
	// InTTY says whether In is a terminal (password prompt).
	InTTY bool
	// ErrTTY says whether ErrOut is a terminal (the progress line).
	ErrTTY bool
	// TermWidth returns the width of the terminal Out or ErrOut is on;
	// nil, or 0, means 80.
	TermWidth func() int
	// Getenv reads the environment (NO_COLOR, GITHUB_ACTIONS, password vars).
	Getenv func(string) string
	// Lang is the language of the texts for people (--lang, else the
	// locale variables); set before a command runs.
	Lang finding.Lang

	// state is shared with the signal watcher; output is the file of -o.
	state  *runState
	output *os.File
	// interrupted reports whether Ctrl-C or SIGTERM stopped the run; set
	// by Run.
	interrupted func() bool
}

func (io *IOStreams) getenv(name string) string {
	if io.Getenv == nil {
		return ""
	}
	return io.Getenv(name)
}

// SystemIO returns the process's streams.
func SystemIO() *IOStreams {
	return &IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		OutTTY:  term.IsTerminal(int(os.Stdout.Fd())),
		OutFile: isRegularFile(os.Stdout),
		InTTY:   term.IsTerminal(int(os.Stdin.Fd())),
		ErrTTY:  term.IsTerminal(int(os.Stderr.Fd())),
		TermWidth: func() int {
			for _, f := range []*os.File{os.Stdout, os.Stderr} {
				if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
					return w
				}
			}
			return 0
		},
		Getenv: os.Getenv,
	}
}

func isRegularFile(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode().IsRegular()
}

// UsageError is bad input: a one-line reason on stderr and exit 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usageErrorf(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// ExitError carries a command's exit code when there is nothing more to say
// (the findings were already printed).
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit %d", e.Code) }

// Main runs mailcheck with the process's arguments and returns its exit
// code. The first Ctrl-C (or SIGTERM) cancels the run, which then prints
// what completed and exits 130 (143); a second one exits at once.
func Main() int {
	io := SystemIO()
	io.state = &runState{}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if io.InTTY {
		// A second Ctrl-C may come while a password is read without echo:
		// the terminal must get its echo back before the process exits.
		if st, err := term.GetState(int(os.Stdin.Fd())); err == nil {
			io.state.atForcedExit(func() { _ = term.Restore(int(os.Stdin.Fd()), st) })
		}
	}
	go watchSignals(sigs, cancel, io.state, os.Stderr, langOfCommandLine(os.Args[1:], os.Getenv), os.Exit)
	return Run(ctx, io, os.Args[1:])
}

// Run executes one command line and maps its outcome to an exit code in one
// place.
func Run(ctx context.Context, io *IOStreams, args []string) int {
	if io.state == nil {
		io.state = &runState{}
	}
	io.interrupted = func() bool { return interruptedBy(ctx) }
	// cobra prints --help before any PreRun: the language must be known
	// before the tree, whose help texts are written in it, is built.
	io.Lang = langOfCommandLine(args, io.getenv)
	root := NewRootCmd(io)
	args = explainTextArgs(args)
	root.SetArgs(args)
	root.SetIn(io.In)
	root.SetOut(io.Out)
	root.SetErr(io.ErrOut)
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	if cmd, rest, err := root.Find(args); !isCompletionRequest(args) && (err != nil && cmd == root ||
		cmd.HasAvailableSubCommands() && !cmd.Runnable() && firstWord(cmd, rest) != "") {
		// cobra's own message spans several lines (and a group such as
		// `completion` only prints its help); say it in one line, with the
		// commands that were probably meant.
		return usageExit(io, unknownCommand(cmd, firstWord(cmd, rest), io.Lang))
	}
	cmd, err := root.ExecuteContextC(ctx)
	if ferr := finishRun(io); ferr != nil && err == nil {
		err = ferr
	}
	if interruptedBy(ctx) && !stopsOnSignal(cmd) {
		if err != nil && !errors.Is(err, context.Canceled) && !isExit(err) {
			fmt.Fprintln(io.ErrOut, "mailcheck: "+firstLine(strings.TrimSpace(err.Error())))
		}
		if errors.Is(context.Cause(ctx), ErrTerminated) {
			return ExitTerminated
		}
		return ExitInterrupted
	}
	if err == nil {
		return ExitOK
	}
	var exit *ExitError
	if errors.As(err, &exit) {
		return exit.Code
	}
	return usageExit(io, err)
}

// usageExit writes err on one line and returns exit code 2: every error
// that is not an ExitError is bad input (a flag, a domain, a file) or a
// failure to start (a port in use).
func usageExit(io *IOStreams, err error) int {
	fmt.Fprintln(io.ErrOut, "mailcheck: "+firstLine(strings.TrimSpace(err.Error())))
	return ExitUsage
}

// isCompletionRequest: the shell asks for completions through a hidden
// command that cobra adds only when it executes.
func isCompletionRequest(args []string) bool {
	return len(args) > 0 && (args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd)
}

func isExit(err error) bool {
	var exit *ExitError
	return errors.As(err, &exit)
}

// langOfCommandLine is the language a command line asks for, read before
// cobra parses it: the last --lang (either "--lang fr" or "--lang=fr",
// anywhere before a "--"), else the locale variables. A --lang value that
// mailcheck does not speak is left for the flag's own check to reject.
func langOfCommandLine(args []string, getenv func(string) string) finding.Lang {
	var value string
	given := false
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--":
			i = len(args)
		case a == "--lang" && i+1 < len(args):
			value, given = args[i+1], true
			i++
		case strings.HasPrefix(a, "--lang="):
			value, given = strings.TrimPrefix(a, "--lang="), true
		}
	}
	if given {
		if l, err := finding.ParseLang(value); err == nil {
			return l
		}
	}
	return finding.LangFromEnv(getenv)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// NewRootCmd builds the command tree.
func NewRootCmd(io *IOStreams) *cobra.Command {
	root := &cobra.Command{
		Use:   "mailcheck",
		Short: finding.T("Diagnose mail configuration: DNS policy records and the servers behind them").In(io.Lang),
		Long: finding.T(`mailcheck audits a domain's mail set-up — MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT,
DNSSEC, reverse DNS — and probes the SMTP, IMAP and POP3 servers behind it
(STARTTLS, certificates, TLS versions, AUTH). Every problem comes with its fix.`).In(io.Lang),
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       CurrentBuild().Line(io.Lang),
	}
	// One format for `mailcheck version` and `mailcheck --version`, and no
	// -v for --version: -v means --verbose, as in every subcommand.
	root.SetVersionTemplate("{{.Version}}\n")
	root.Flags().Bool("version", false, finding.T("print mailcheck's version, commit and build date").In(io.Lang))
	root.PersistentFlags().BoolP("verbose", "v", false, finding.T("include details and protocol transcripts").In(io.Lang))
	_ = root.PersistentFlags().MarkHidden("verbose")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &UsageError{Msg: err.Error()}
	})
	var lang string
	root.PersistentFlags().StringVar(&lang, "lang", "",
		finding.T("language of titles, fixes and help: en|fr (default: from LC_ALL, LC_MESSAGES, LANG)").In(io.Lang))
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if lang == "" {
			io.Lang = finding.LangFromEnv(io.getenv)
			return prepareRun(cmd, io)
		}
		l, err := finding.ParseLang(lang)
		if err != nil {
			return &UsageError{Msg: "--lang: " + err.Error()}
		}
		io.Lang = l
		return prepareRun(cmd, io)
	}
	root.AddCommand(
		NewCmdDomain(io, nil),
		NewCmdProbe(io),
		NewCmdLogin(io),
		NewCmdExplain(io, nil),
		NewCmdMessage(io, nil),
		NewCmdServe(io, nil),
		NewCmdDemo(io),
		NewCmdSelftest(io),
		NewCmdVersion(io),
		NewCmdMan(io),
	)
	root.CompletionOptions.HiddenDefaultCmd = false
	localizeHelp(root, io)
	applyConventions(root, io)
	return root
}
