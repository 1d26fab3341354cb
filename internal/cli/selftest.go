package cli

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailcheck-cli/mailcheck/audit"
	"github.com/mailcheck-cli/mailcheck/checks/dnsbl"
	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/fixtures"
	"github.com/mailcheck-cli/mailcheck/login"
	"github.com/mailcheck-cli/mailcheck/message"
	"github.com/mailcheck-cli/mailcheck/refserver"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// SelftestOptions are the inputs of `mailcheck selftest`.
type SelftestOptions struct {
	IO        *IOStreams
	Scenarios []string
	Timeout   time.Duration
	Verbose   bool
	Format    string
}

// ScenarioResult is one row of the selftest table.
type ScenarioResult struct {
	Scenario   string            `json:"scenario"`
	OK         bool              `json:"ok"`
	Missing    []string          `json:"missing,omitempty"`
	Unexpected []string          `json:"unexpected,omitempty"`
	Error      string            `json:"error,omitempty"`
	DurationMS int64             `json:"duration_ms"`
	Findings   []finding.Finding `json:"-"`

	// missing and unexpected are Missing and Unexpected as found, for the
	// text table, which writes them in the language of the run.
	missing    []fixtures.Expectation
	unexpected []finding.Finding
}

// NewCmdSelftest builds `mailcheck selftest`.
func NewCmdSelftest(io *IOStreams) *cobra.Command {
	opts := &SelftestOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "selftest [SCENARIO...]",
		Short: finding.T("Run every embedded scenario and compare the findings with what each expects").In(io.Lang),
		Long: finding.T(`selftest serves each embedded scenario with the reference server, audits it, and checks
that the audit reports exactly the findings the scenario expects. It needs no network.`).In(io.Lang),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Scenarios = args
			return selftestRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 20*time.Second, finding.T("bound on each scenario's audit").In(io.Lang))
	cmd.Flags().BoolVarP(&opts.Verbose, "verbose", "v", false, finding.T("list every finding of failing scenarios").In(io.Lang))
	cmd.Flags().StringVar(&opts.Format, "format", "text", finding.T("output format: %s", "text|json").In(io.Lang))
	return cmd
}

func selftestRun(ctx context.Context, opts *SelftestOptions) error {
	l := opts.IO.Lang
	if opts.Format != "text" && opts.Format != "json" {
		return usageError(l, finding.T("unknown --format %q for selftest (want text or json)", opts.Format))
	}
	if opts.Timeout <= 0 {
		return usageError(l, finding.T("--timeout must be positive, got %s", opts.Timeout.String()))
	}
	names := opts.Scenarios
	if len(names) == 0 {
		names = fixtures.Names()
	} else {
		for _, name := range names {
			if _, err := loadScenario(name, l); err != nil {
				return err
			}
		}
	}

	results := make([]ScenarioResult, len(names))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			sc, err := fixtures.Load(name)
			if err != nil {
				// A broken embedded scenario is a failed row, not a
				// reason to skip the others.
				results[i] = ScenarioResult{Scenario: name, Error: err.Error()}
				return
			}
			results[i] = runScenario(ctx, sc, opts.Timeout)
		})
	}
	wg.Wait()

	failed := 0
	for _, r := range results {
		if !r.OK {
			failed++
		}
	}
	if opts.Format == "json" {
		if err := writeJSON(opts.IO.Out, results); err != nil {
			return err
		}
	} else {
		printSelftest(opts, results, failed)
	}
	if failed > 0 {
		return &ExitError{Code: ExitFindings}
	}
	return nil
}

// runScenario serves one scenario and audits it: the DNS checks answered
// from the scenario's zone files (so that a signed zone is judged as
// signed, which a non-validating loopback resolver could not show), and,
// for server scenarios, every mail port of every MX host probed through the
// reference server. The probe step timeout is kept short so the tarpit
// scenario is detected quickly; the tarpit itself waits far longer.
func runScenario(ctx context.Context, sc *fixtures.Scenario, timeout time.Duration) ScenarioResult {
	started := time.Now()
	res := ScenarioResult{Scenario: sc.Name}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	srv, err := refserver.Start(ctx, refserver.Options{Scenario: sc, TarpitDelay: timeout})
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer srv.Close()
	// The zones as served: TLSA data for the server's certificates, and
	// the signatures of a scenario signed at start-up.
	zone := srv.Zone()
	n := &Net{Timeout: min(timeout, 8*time.Second)}
	n.setResolver(&resolver.Chain{Zone: zone}, srv.PortMap(), srv.CA().Pool())
	o := audit.Options{
		Proposed:  audit.State{Resolver: n.Resolver, Dialer: n.Dialer, Zone: zone},
		Selectors: sc.DKIMSelectors,
		Probe:     audit.NoProbe,
		Now:       time.Now,
	}
	for _, z := range sc.DNSBL {
		o.DNSBL = append(o.DNSBL, dnsbl.Custom(z)) // fixture lists, in the scenario's zones
	}
	keep := fixtures.DNSOnly
	if sc.Probe {
		keep = nil
		o.Probe = audit.ProbeAllPorts
		// A server scenario is the live tier: the zone's name servers,
		// which the reference server's DNS listeners are, are asked too.
		o.NameServers = facts.NSOptions{Ask: true, AskZoneServers: true, Port: n.Dialer.Port(53)}
	}
	findings := audit.New(o).Domain(ctx, sc.Domain).Findings
	if req, ok := login.ScenarioRequest(sc); ok {
		// The scenario's support case, as `mailcheck login` would run it.
		rep := login.Check(ctx, &login.Env{Resolver: n.Resolver, Dialer: n.Dialer}, req)
		findings = append(findings, rep.Findings...)
	}
	if raw, ok, err := srv.SampleMessage(); err != nil {
		res.Error = err.Error()
		return res
	} else if ok {
		// The scenario's message case, as `mailcheck message` would judge
		// the message the reference server sends (its keys were made at
		// start-up, so its own zone answers).
		env := &message.Env{Resolver: resolver.NewCache(&resolver.Chain{Zone: srv.Zone()})}
		a, err := message.Analyze(ctx, env, raw, message.Options{Source: sc.Name})
		if err != nil {
			res.Error = err.Error()
			return res
		}
		findings = append(findings, a.Findings...)
		if keep != nil {
			keep = func(area string) bool { return fixtures.DNSOnly(area) || area == "msg" }
		}
	}
	m := sc.Compare(findings, keep)
	res.missing, res.unexpected = m.Missing, m.Unexpected
	for _, e := range m.Missing {
		s := e.ID + " (" + e.Severity.String() + ")"
		if e.Subject != "" {
			s += " on " + e.Subject
		}
		res.Missing = append(res.Missing, s)
	}
	for _, f := range m.Unexpected {
		res.Unexpected = append(res.Unexpected, f.ID+" ("+f.Severity.String()+") on "+f.Subject)
	}
	res.OK = m.OK()
	res.Findings = findings
	res.DurationMS = time.Since(started).Milliseconds()
	return res
}

func printSelftest(opts *SelftestOptions, results []ScenarioResult, failed int) {
	l := opts.IO.Lang
	tw := tabwriter.NewWriter(opts.IO.Out, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", finding.T("SCENARIO").In(l), finding.T("RESULT").In(l), finding.T("TIME").In(l), finding.T("DETAILS").In(l))
	for _, r := range results {
		verdict, details := finding.T("ok").In(l), ""
		if !r.OK {
			verdict = finding.T("FAIL").In(l)
			var parts []string
			if r.Error != "" {
				parts = append(parts, finding.T("error: %s", r.Error).In(l))
			}
			if len(r.missing) > 0 {
				var ms []string
				for _, e := range r.missing {
					ms = append(ms, expectationText(e, l))
				}
				parts = append(parts, finding.T("missing: %s", strings.Join(ms, ", ")).In(l))
			}
			if len(r.unexpected) > 0 {
				var us []string
				for _, f := range r.unexpected {
					us = append(us, finding.T("%s (%s) on %s", f.ID, severityWord(f.Severity), f.Subject).In(l))
				}
				parts = append(parts, finding.T("unexpected: %s", strings.Join(us, ", ")).In(l))
			}
			details = strings.Join(parts, "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%dms\t%s\n", r.Scenario, verdict, r.DurationMS, details)
	}
	tw.Flush()
	if opts.Verbose {
		width := severityWidth(l)
		for _, r := range results {
			if r.OK {
				continue
			}
			fmt.Fprintf(opts.IO.Out, "\n%s\n", finding.T("%s produced:", r.Scenario).In(l))
			for _, f := range r.Findings {
				fmt.Fprintf(opts.IO.Out, "  %-*s %-28s %s\n", width, severityWord(f.Severity).In(l), f.ID, f.Subject)
			}
		}
	}
	fmt.Fprintf(opts.IO.Out, "\n%s\n", finding.T("%d passed, %d failed", len(results)-failed, failed).In(l))
}

// expectationText names a finding a scenario expected, in l: its ID,
// severity and, when the scenario names one, its subject.
func expectationText(e fixtures.Expectation, l finding.Lang) string {
	if e.Subject != "" {
		return finding.T("%s (%s) on %s", e.ID, severityWord(e.Severity), e.Subject).In(l)
	}
	return e.ID + " (" + severityWord(e.Severity).In(l) + ")"
}
