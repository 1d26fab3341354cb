package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/login"
	"github.com/mailcheck-cli/mailcheck/report"
)

// LoginOptions are the inputs of `mailcheck login`.
type LoginOptions struct {
	IO      *IOStreams
	Net     NetFlags
	Address string

	Host     string
	Port     int
	Protocol string
	TLS      string
	User     string

	PasswordEnv       string
	PasswordStdin     bool
	AllowInsecureAuth bool
	// password catches --password VALUE to refuse it without echoing it.
	password string
}

// maxPasswordBytes bounds what --password-stdin reads: a password, not a
// file.
const maxPasswordBytes = 4096

// NewCmdLogin builds `mailcheck login`.
func NewCmdLogin(io *IOStreams) *cobra.Command {
	opts := &LoginOptions{IO: io}
	l := io.Lang
	cmd := &cobra.Command{
		Use:   "login ADDRESS",
		Short: finding.T("Discover client settings for an address, probe them, optionally try a login").In(l),
		Long: finding.T(`login answers "my mail app says login failed". It finds the settings a mail app
should use for ADDRESS — from the known providers (Gmail/Google Workspace, Outlook.com,
Microsoft 365, Yahoo, AOL, AT&T, iCloud, Fastmail, Zoho, GMX, Proton), SRV records
(RFC 6186, RFC 8314), the autoconfig file, or guesses from the MX host — probes every
candidate (connection, TLS mode, certificate, login mechanisms) and recommends one for
incoming mail and one for sending.

Give the settings the user typed with --host, --port, --protocol and --tls: when they
do not work, login.wrong-port names the settings that do. With --protocol or --port,
only the settings of that protocol are probed and judged.

With a password, it logs in once (IMAP, POP3 or SMTP submission) and says why the server
refuses, reading the reply as mailcheck explain does: wrong password, application
password required, OAuth2 only, IMAP/POP/SMTP AUTH switched off, account locked, TLS
required, or a temporary failure; the fix is the provider's own where it is known.
The password is read from an environment variable (--password-env VAR), from the first
line of standard input (--password-stdin), or, when --user is given and standard input
is a terminal, from a prompt that does not echo. It is never accepted on the command
line, never sent without TLS or to a certificate that does not verify unless
--allow-insecure-auth is given, and never shown: transcripts (-v) redact it.`).In(l),
		Example: finding.T(`  mailcheck login alice@example.com
  mailcheck login alice@example.com --host mail.example.com --port 143 --tls implicit
  mailcheck login alice@example.com --protocol imaps --password-env MAILPASS
  mailcheck login alice@example.com --user alice --password-stdin < pass.txt`).In(l),
		Args: func(cmd *cobra.Command, args []string) error {
			// The arguments are not echoed: a user may have typed the
			// password as a second one.
			if len(args) != 1 {
				return usageError(io.Lang, finding.T("give exactly one address: mailcheck login ADDRESS (got %d arguments)", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Address = args[0]
			if cmd.Flags().Changed("password") {
				return usageError(io.Lang, finding.T("a password on the command line is visible to other users and kept in shell history: use --password-env VAR or --password-stdin"))
			}
			return loginRun(cmd.Context(), opts)
		},
	}
	opts.Net.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&opts.Host, "host", "", finding.T("server host name the user typed (default: the discovered one)").In(l))
	fl.IntVar(&opts.Port, "port", 0, finding.T("server port the user typed (993, 143, 995, 110, 465, 587 ...)").In(l))
	fl.StringVar(&opts.Protocol, "protocol", "", finding.T("protocol of --host/--port: imap|imaps|pop3|pops|pop3s|submission|smtp|smtps").In(l))
	fl.StringVar(&opts.TLS, "tls", "", finding.T("connection security the user chose: implicit (SSL/TLS)|starttls|none (default: from the port)").In(l))
	fl.StringVar(&opts.User, "user", "", finding.T("user name for the login (default: the address, or what the provider documents)").In(l))
	fl.StringVar(&opts.PasswordEnv, "password-env", "", finding.T("read the password from this environment variable").In(l))
	fl.BoolVar(&opts.PasswordStdin, "password-stdin", false, finding.T("read the password from the first line of standard input").In(l))
	fl.BoolVar(&opts.AllowInsecureAuth, "allow-insecure-auth", false, finding.T("send the password even without TLS or to a certificate that does not verify (reported)").In(l))
	fl.StringVar(&opts.password, "password", "", "refused: use --password-env or --password-stdin")
	_ = fl.MarkHidden("password")
	return cmd
}

func loginRun(ctx context.Context, opts *LoginOptions) error {
	address, err := normaliseAddress(opts.Address, opts.IO.Lang)
	if err != nil {
		return err
	}
	settings, err := loginSettings(opts)
	if err != nil {
		return err
	}
	pass, err := readPassword(opts)
	if err != nil {
		return err
	}
	n, err := opts.Net.build(opts.IO)
	if err != nil {
		return err
	}
	ctx, cancel := n.runContext(ctx)
	defer cancel()

	env := &login.Env{Resolver: n.Resolver, Dialer: n.Dialer, Now: time.Now, Verbose: n.Verbose()}
	rep := login.Check(ctx, env, login.Request{
		Address: address, Settings: settings, Username: opts.User,
		Password: pass, AllowInsecureAuth: opts.AllowInsecureAuth,
	})
	reports := []finding.Report{rep}
	if err := report.Render(opts.IO.Out, reports, n.Render); err != nil {
		return err
	}
	if code := n.exitCode(reports); code != ExitOK {
		return &ExitError{Code: code}
	}
	return nil
}

// normaliseAddress validates local@domain: a local part without spaces or
// controls (RFC 5321 §4.5.3.1.1 bounds it at 64 octets) and a domain as
// `mailcheck domain` accepts it. Errors are said in l.
func normaliseAddress(in string, l finding.Lang) (string, error) {
	a := strings.TrimSpace(in)
	at := strings.LastIndexByte(a, '@')
	if at < 0 {
		return "", usageError(l, finding.T("invalid address %q: want user@domain", in))
	}
	local, dom := a[:at], a[at+1:]
	if local == "" || len(local) > 64 || strings.ContainsAny(local, " \t\r\n<>@") {
		return "", usageError(l, finding.T("invalid address %q: the part before @ must be 1-64 characters without spaces", in))
	}
	for _, r := range local {
		if r < 0x20 || r == 0x7f {
			return "", usageError(l, finding.T("invalid address %q: control character in the local part", in))
		}
	}
	d, err := normaliseDomain(dom)
	if err != nil {
		return "", usageError(l, finding.T("invalid address %q: %s", in, err.Error()))
	}
	return local + "@" + d, nil
}

// loginSettings turns --host/--port/--protocol/--tls into the typed
// settings; nil when none was given.
func loginSettings(opts *LoginOptions) (*login.Settings, error) {
	if opts.Host == "" && opts.Port == 0 && opts.Protocol == "" && opts.TLS == "" {
		return nil, nil
	}
	s := &login.Settings{Port: opts.Port}
	if opts.Host != "" {
		h, err := normaliseHost(strings.TrimSuffix(opts.Host, "."))
		if err != nil {
			return nil, err
		}
		s.Host = h
	}
	l := opts.IO.Lang
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, usageError(l, finding.T("bad --port %d: want 1-65535", opts.Port))
	}
	switch strings.ToLower(opts.Protocol) {
	case "":
	case "imap":
		s.Protocol = "imap"
	case "imaps":
		s.Protocol, s.TLS = "imap", login.TLSImplicit
	case "pop3", "pop":
		s.Protocol = "pop3"
	case "pop3s", "pops":
		s.Protocol, s.TLS = "pop3", login.TLSImplicit
	case "submission", "smtp":
		s.Protocol = "submission"
	case "smtps", "submissions":
		s.Protocol, s.TLS = "submission", login.TLSImplicit
	default:
		return nil, usageError(l, finding.T("unknown --protocol %q (want imap, imaps, pop3, pop3s, submission, smtp or smtps)", opts.Protocol))
	}
	switch strings.ToLower(opts.TLS) {
	case "":
	case "implicit", "ssl", "tls", "ssl/tls":
		s.TLS = login.TLSImplicit
	case "starttls":
		s.TLS = login.TLSStartTLS
	case "none", "plain", "off":
		s.TLS = login.TLSNone
	default:
		return nil, usageError(l, finding.T("unknown --tls %q (want implicit, starttls or none)", opts.TLS))
	}
	// A bare --host (no port, protocol or TLS mode) means every standard
	// client port of that host.
	return s, nil
}

// readPassword reads the password as the flags say. A login is attempted
// only when asked for: --password-env, --password-stdin, or --user on a
// terminal (then the password is prompted for without echo).
func readPassword(opts *LoginOptions) (login.Password, error) {
	l := opts.IO.Lang
	if opts.PasswordEnv != "" && opts.PasswordStdin {
		return "", usageError(l, finding.T("give either --password-env or --password-stdin, not both"))
	}
	switch {
	case opts.PasswordEnv != "":
		v := opts.IO.Getenv(opts.PasswordEnv)
		if v == "" {
			return "", usageError(l, finding.T("--password-env %s: the variable is unset or empty", opts.PasswordEnv))
		}
		return login.Password(v), nil
	case opts.PasswordStdin:
		return readPasswordLine(opts.IO.In, l)
	case opts.User != "" && opts.IO.InTTY:
		f, ok := opts.IO.In.(*os.File)
		if !ok {
			return "", nil
		}
		fmt.Fprint(opts.IO.ErrOut, finding.T("Password for %s: ", opts.User).In(l))
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(opts.IO.ErrOut)
		if err != nil {
			return "", usageError(l, finding.T("reading the password: %s", err.Error()))
		}
		if len(b) == 0 {
			return "", usageError(l, finding.T("empty password"))
		}
		return login.Password(b), nil
	}
	return "", nil
}

// readPasswordLine reads the first line of r, without its line end,
// within maxPasswordBytes. Errors are said in l.
func readPasswordLine(r io.Reader, l finding.Lang) (login.Password, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, maxPasswordBytes+1), maxPasswordBytes+1)
	line, err := br.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", &UsageError{Msg: "--password-stdin: " + err.Error()}
	}
	if len(line) > maxPasswordBytes {
		return "", usageError(l, finding.T("--password-stdin: the first line is longer than %d bytes", maxPasswordBytes))
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", usageError(l, finding.T("--password-stdin: standard input is empty"))
	}
	return login.Password(line), nil
}
