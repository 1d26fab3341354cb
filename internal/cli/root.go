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

// Version is set at build time with -ldflags "-X .../internal/cli.Version=v1.2.3".
var Version = "dev"

// IOStreams are the command's standard streams; tests use buffers.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// OutTTY says whether Out is a terminal (colour, prompts).
	OutTTY bool
	// InTTY says whether In is a terminal (password prompt).
	InTTY bool
	// Getenv reads the environment (NO_COLOR, GITHUB_ACTIONS, password vars).
	Getenv func(string) string
	// Lang is the language of the texts for people (--lang, else the
	// locale variables); set before a command runs.
	Lang finding.Lang
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
		OutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		InTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		Getenv: os.Getenv,
	}
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

// Main runs mailcheck with the process's arguments and returns its exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return Run(ctx, SystemIO(), os.Args[1:])
}

// Run executes one command line and maps its outcome to an exit code in one
// place.
func Run(ctx context.Context, io *IOStreams, args []string) int {
	// cobra prints --help before any PreRun: the language must be known
	// before the tree, whose help texts are written in it, is built.
	io.Lang = langOfCommandLine(args, io.getenv)
	root := NewRootCmd(io)
	root.SetArgs(explainTextArgs(args))
	root.SetIn(io.In)
	root.SetOut(io.Out)
	root.SetErr(io.ErrOut)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var exit *ExitError
	if errors.As(err, &exit) {
		return exit.Code
	}
	// Every other error is bad input (a flag, a domain, a file) or a
	// failure to start (a port in use): one line, exit 2.
	fmt.Fprintln(io.ErrOut, "mailcheck: "+firstLine(strings.TrimSpace(err.Error())))
	return ExitUsage
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
		Version:       Version,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &UsageError{Msg: err.Error()}
	})
	var lang string
	root.PersistentFlags().StringVar(&lang, "lang", "",
		finding.T("language of titles, fixes and help: en|fr (default: from LC_ALL, LC_MESSAGES, LANG)").In(io.Lang))
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if lang == "" {
			io.Lang = finding.LangFromEnv(io.getenv)
			return nil
		}
		l, err := finding.ParseLang(lang)
		if err != nil {
			return &UsageError{Msg: "--lang: " + err.Error()}
		}
		io.Lang = l
		return nil
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
	)
	root.CompletionOptions.HiddenDefaultCmd = false
	localizeHelp(root, io)
	return root
}
