package cli

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/fixtures"
	"github.com/mailcheck-cli/mailcheck/refserver"
)

// ServeOptions are the inputs of `mailcheck serve`.
type ServeOptions struct {
	IO       *IOStreams
	Scenario string
	List     bool
	BasePort int
	CAOut    string
	Accounts []string
	// Receive keeps accepted mail as files and prints how to analyse it;
	// ReceiveDir is where (default: a temporary directory).
	Receive    bool
	ReceiveDir string
	// Ready, when set, receives the started server (tests stop it by
	// cancelling the context).
	Ready func(*refserver.Server)
}

// NewCmdServe builds `mailcheck serve`.
func NewCmdServe(io *IOStreams, runF func(context.Context, *ServeOptions) error) *cobra.Command {
	opts := &ServeOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: finding.T("Run the embedded reference server (DNS + SMTP + IMAP + POP3 + HTTPS) on loopback").In(io.Lang),
		Long: finding.T(`serve runs a complete mail domain on loopback — DNS, SMTP (25, 587, 465), IMAP (143, 993),
POP3 (110, 995) and HTTPS (MTA-STS, autoconfig) — with the faults of a scenario switched on,
and prints a mailcheck command line that audits it. It relays nothing and keeps accepted
mail in memory.`).In(io.Lang),
		Example: `  mailcheck serve
  mailcheck serve --scenario cert-expired --base-port 10000 --ca-out /tmp/ref-ca.pem
  mailcheck serve --list`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return serveRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	l := io.Lang
	fl.StringVar(&opts.Scenario, "scenario", fixtures.Default, finding.T("scenario to serve (--list names them)").In(l))
	fl.BoolVar(&opts.List, "list", false, finding.T("list the scenarios and exit").In(l))
	fl.IntVar(&opts.BasePort, "base-port", 0,
		finding.T("DNS on N+53, each mail port P on N+P, HTTPS on N+443 (default: free ports)").In(l))
	fl.StringVar(&opts.CAOut, "ca-out", "",
		finding.T("write the PEM of the CA that signed the server's certificates to this file").In(l))
	fl.StringArrayVar(&opts.Accounts, "account", nil,
		finding.T("an account SMTP AUTH, IMAP and POP3 accept, USER:PASSWORD (repeatable)").In(l))
	fl.BoolVar(&opts.Receive, "receive", false,
		finding.T("keep the mail the SMTP ports accept as .eml files and print how to analyse each with mailcheck message").In(l))
	fl.StringVar(&opts.ReceiveDir, "receive-dir", "",
		finding.T("with --receive, write the files here (default: a temporary directory removed on exit)").In(l))
	return cmd
}

func serveRun(ctx context.Context, opts *ServeOptions) error {
	out, l := opts.IO.Out, opts.IO.Lang
	if opts.List {
		return listScenarios(opts.IO)
	}
	sc, err := loadScenario(opts.Scenario, l)
	if err != nil {
		return err
	}
	if opts.BasePort < 0 || opts.BasePort+993 > 65535 {
		return usageError(l, finding.T("--base-port %d: DNS, mail and HTTPS ports N+53 ... N+993 must fit under 65536", opts.BasePort))
	}
	accounts, err := parseAccounts(opts.Accounts, l)
	if err != nil {
		return err
	}
	var recv *receiver
	sopts := refserver.Options{Scenario: sc, BasePort: opts.BasePort, Accounts: accounts}
	if opts.Receive || refserver.HasMessageCase(sc) {
		if recv, err = newReceiver(opts.IO, opts.ReceiveDir); err != nil {
			return err
		}
		defer recv.close()
		if opts.Receive {
			sopts.OnMessage = recv.onMessage
		}
	}
	srv, err := refserver.Start(ctx, sopts)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer srv.Close()

	caPath, removeCA, err := writeCA(opts.IO, opts.CAOut, srv.CA().PEM())
	if err != nil {
		return err
	}
	defer removeCA()

	fmt.Fprintln(out, finding.T("mailcheck reference server: scenario %q (%s)", sc.Name, sc.Description).In(l))
	for _, ep := range srv.Endpoints() {
		fmt.Fprintf(out, "  %-11s %-5d -> %s\n", ep.Service, ep.StdPort, ep.Addr)
	}
	fmt.Fprintln(out, finding.T("  CA certificate: %s", caPath).In(l))
	if len(accounts) > 0 {
		users := make([]string, 0, len(accounts))
		for u := range accounts {
			users = append(users, u)
		}
		sort.Strings(users)
		fmt.Fprintln(out, finding.T("  accounts: %s", strings.Join(users, ", ")).In(l))
	}
	audit := auditCommand(srv, sc, caPath)
	if l != "" && l != finding.English {
		// The audit then speaks the language serve was asked for.
		audit += " --lang " + string(l)
	}
	fmt.Fprintf(out, "\n%s\n  %s\n", finding.T("Audit it with:").In(l), audit)
	if recv != nil {
		recv.started(srv)
		if err := recv.writeSample(srv); err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		if opts.Receive {
			fmt.Fprintf(out, "\n%s\n  swaks --server %s --from you@%s --to test@%s\n",
				finding.T("Receiving: mail for any address at %s on %s (port 25) is kept, the last %d messages, in %s. Try:",
					srv.Domain(), smtpAddr(srv), maxReceivedFiles, recv.dir).In(l),
				smtpAddr(srv), srv.Domain(), srv.Domain())
		}
	}
	fmt.Fprintf(out, "\n%s\n", finding.T("Press Ctrl-C to stop.").In(l))
	if opts.Ready != nil {
		opts.Ready(srv)
	}
	<-ctx.Done()
	return nil
}

// smtpAddr is where the server's MX port listens.
func smtpAddr(srv *refserver.Server) string {
	for _, ep := range srv.Endpoints() {
		if ep.StdPort == refserver.PortSMTP {
			return ep.Addr
		}
	}
	return ""
}

// writeCA writes the PEM of the server's CA where --ca-out says, or to a
// temporary file that is removed on every way out of serve: the normal
// return, an error, Ctrl-C and SIGTERM (which cancel the run and so return
// through remove), and a second Ctrl-C, which exits at once through the
// forced-exit clean-ups. The temporary name is unpredictable
// (os.CreateTemp), so that no one can plant a link where it is written.
func writeCA(io *IOStreams, caOut string, pem []byte) (path string, remove func(), err error) {
	if caOut != "" {
		if err := os.WriteFile(caOut, pem, 0o644); err != nil {
			return "", nil, fmt.Errorf("--ca-out: %v", unwrapPath(err))
		}
		return caOut, func() {}, nil
	}
	f, err := os.CreateTemp("", "mailcheck-reference-ca-*.pem")
	if err != nil {
		return "", nil, fmt.Errorf("serve: the CA certificate file: %v", unwrapPath(err))
	}
	path = f.Name()
	rm := func() { os.Remove(path) }
	unregister := io.atForcedExit(rm)
	remove = func() { unregister(); rm() }
	_, werr := f.Write(pem)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		remove()
		return "", nil, fmt.Errorf("serve: the CA certificate file: %v", unwrapPath(werr))
	}
	// Readable by the other programs the user points at it (curl, swaks).
	if err := os.Chmod(path, 0o644); err != nil {
		remove()
		return "", nil, fmt.Errorf("serve: the CA certificate file: %v", unwrapPath(err))
	}
	return path, remove, nil
}

// auditCommand is the ready-to-paste command line that audits the server.
func auditCommand(srv *refserver.Server, sc *fixtures.Scenario, caPath string) string {
	var pm []string
	ports := srv.PortMap()
	std := make([]int, 0, len(ports))
	for p := range ports {
		std = append(std, p)
	}
	sort.Ints(std)
	for _, p := range std {
		pm = append(pm, fmt.Sprintf("%d=%d", p, ports[p]))
	}
	cmd := fmt.Sprintf("mailcheck domain %s --resolver %s --port-map %s --ca %s", srv.Domain(), srv.DNSAddr(), strings.Join(pm, ","), caPath)
	for _, s := range sc.DKIMSelectors {
		cmd += " --dkim-selector " + s
	}
	// The reference server answers for its own zones only: the scenario's
	// fixture blocklists, or none (the public lists are not reachable
	// through it, and asking them would make every audit inconclusive).
	for _, z := range sc.DNSBL {
		cmd += " --dnsbl " + z
	}
	if len(sc.DNSBL) == 0 {
		cmd += " --no-dnsbl"
	}
	return cmd
}

func listScenarios(io *IOStreams) error {
	for _, name := range fixtures.Names() {
		sc, err := fixtures.Load(name)
		if err != nil {
			return err
		}
		kind := finding.Verbatim("dns")
		if sc.Probe {
			kind = finding.T("server")
		}
		fmt.Fprintf(io.Out, "%-30s %-*s %s\n", name, kindWidth(io.Lang), kind.In(io.Lang), sc.Description)
	}
	return nil
}

// kindWidth is the width of the kind column of serve --list: "server"
// and "dns" in l.
func kindWidth(l finding.Lang) int {
	return max(len("dns"), len([]rune(finding.T("server").In(l))))
}

// parseAccounts reads USER:PASSWORD pairs. The password may contain ':'.
func parseAccounts(in []string, l finding.Lang) (map[string]string, error) {
	m := map[string]string{}
	for _, a := range in {
		user, pass, ok := strings.Cut(a, ":")
		if !ok || user == "" || pass == "" {
			// Never echo the value: it holds a password.
			return nil, usageError(l, finding.T("bad --account: want USER:PASSWORD"))
		}
		m[user] = pass
	}
	return m, nil
}
