package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailcheck-cli/mailcheck/audit"
	"github.com/mailcheck-cli/mailcheck/checks/dnsbl"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/fixtures"
	"github.com/mailcheck-cli/mailcheck/progress"
	"github.com/mailcheck-cli/mailcheck/refserver"
	"github.com/mailcheck-cli/mailcheck/report"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// DemoOptions are the inputs of `mailcheck demo`.
type DemoOptions struct {
	IO       *IOStreams
	Output   OutputFlags
	Scenario string
}

// NewCmdDemo builds `mailcheck demo`.
func NewCmdDemo(io *IOStreams) *cobra.Command {
	opts := &DemoOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: finding.T("Start the reference server in-process and audit its default domain").In(io.Lang),
		Long: finding.T(`demo starts the embedded reference server on free loopback ports and runs the full
audit of its domain (DNS checks and live probes), exactly as 'mailcheck domain' would on
a real domain. No network access is needed.`).In(io.Lang),
		Example: `  mailcheck demo
  mailcheck demo --scenario cert-expired --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return demoRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Scenario, "scenario", fixtures.Default,
		finding.T("scenario to serve and audit (mailcheck serve --list names them)").In(io.Lang))
	opts.Output.register(cmd)
	return cmd
}

func demoRun(ctx context.Context, opts *DemoOptions) error {
	l := opts.IO.Lang
	sc, err := loadScenario(opts.Scenario, l)
	if err != nil {
		return err
	}
	n, err := opts.Output.build(opts.IO)
	if err != nil {
		return err
	}
	ctx, cancel := n.runContext(ctx)
	defer cancel()
	srv, err := refserver.Start(ctx, refserver.Options{Scenario: sc})
	if err != nil {
		return fmt.Errorf("%s: %w", finding.T("demo: starting the reference server").In(l), err)
	}
	defer srv.Close()
	labelled(opts.IO.ErrOut, opts.IO.messageWidth(), finding.T("mailcheck demo: %s", ""), l,
		finding.T("reference server for %s (scenario %s) on %s; auditing it", srv.Domain(), sc.Name, srv.DNSAddr()).In(l))

	task := progress.FromContext(ctx).Start(srv.Domain())
	task.Step(finding.T("auditing the reference server"))
	rep, err := auditReference(progress.WithTask(ctx, task), n, srv, sc)
	task.Done()
	if err != nil {
		return err
	}
	if interruptedTarget(ctx) {
		rep.MarkInterrupted()
	}
	reports := []finding.Report{rep}
	if err := report.Render(opts.IO.Out, reports, n.Render); err != nil {
		return err
	}
	if code := n.exitCode(reports); code != ExitOK {
		return &ExitError{Code: code}
	}
	return nil
}

// auditReference audits the reference server's domain through its own DNS
// server, port map and CA, as a user following serve's printed command would.
func auditReference(ctx context.Context, n *Net, srv *refserver.Server, sc *fixtures.Scenario) (finding.Report, error) {
	live, err := resolver.NewLive([]string{srv.DNSAddr()}, resolver.LiveOptions{})
	if err != nil {
		return finding.Report{}, err
	}
	n.setResolver(live, srv.PortMap(), srv.CA().Pool())
	o := audit.Options{
		Proposed:  audit.State{Resolver: n.Resolver, Dialer: n.Dialer},
		Selectors: sc.DKIMSelectors,
		Probe:     audit.ProbeMX,
		Verbose:   n.Verbose(),
		Now:       time.Now,
	}
	// As a user running serve's printed command would: the name servers
	// asked through --port-map 53=Q, the scenario's fixture blocklists.
	o.NameServers, _ = nameServerOptions(n, "always", false)
	for _, z := range sc.DNSBL {
		o.DNSBL = append(o.DNSBL, dnsbl.Custom(z))
	}
	if !sc.Probe {
		o.Probe = audit.NoProbe
	}
	return audit.New(o).Domain(ctx, sc.Domain), nil
}
