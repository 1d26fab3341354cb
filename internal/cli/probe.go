package cli

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/probe"
	"github.com/mailcheck-cli/mailcheck/progress"
	"github.com/mailcheck-cli/mailcheck/report"
)

// ProbeOptions are the inputs of `mailcheck probe`.
type ProbeOptions struct {
	IO       *IOStreams
	Net      NetFlags
	Targets  []string
	Ports    string
	Protocol string
}

// probeTarget is one HOST[:PORT] argument.
type probeTarget struct {
	host  string
	ports []int
}

// NewCmdProbe builds `mailcheck probe`.
func NewCmdProbe(io *IOStreams) *cobra.Command {
	opts := &ProbeOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "probe HOST[:PORT]...",
		Short: finding.T("Probe mail service ports: 25 465 587 110 995 143 993 by default").In(io.Lang),
		Example: `  mailcheck probe mail.example.com
  mailcheck probe mail.example.com:587 imap.example.com:993
  mailcheck probe mail.example.com --ports 2525 --protocol submission`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Targets = args
			return probeRun(cmd.Context(), opts)
		},
	}
	opts.Net.register(cmd)
	cmd.Flags().StringVar(&opts.Ports, "ports", "",
		finding.T("comma-separated ports to probe (default 25,465,587,110,995,143,993)").In(io.Lang))
	cmd.Flags().StringVar(&opts.Protocol, "protocol", "",
		finding.T("protocol for non-standard ports: smtp|submission|smtps|imap|imaps|pop3|pop3s").In(io.Lang))
	return cmd
}

func probeRun(ctx context.Context, opts *ProbeOptions) error {
	if len(opts.Targets) == 0 {
		return usageErrorf("no host given: mailcheck probe HOST[:PORT]...")
	}
	if opts.Protocol != "" && !validProtocol(opts.Protocol) {
		return usageErrorf("unknown --protocol %q (want smtp, submission, smtps, imap, imaps, pop3 or pop3s)", opts.Protocol)
	}
	// nil ports: the default sweep, where a closed port is not a failure.
	var ports []int
	if opts.Ports != "" {
		var err error
		if ports, err = parsePortList(opts.Ports); err != nil {
			return err
		}
	}
	var targets []probeTarget
	for _, arg := range opts.Targets {
		t, err := parseProbeTarget(arg, ports)
		if err != nil {
			return err
		}
		for _, p := range t.ports {
			if _, std := probe.ProtocolForPort(p); !std && opts.Protocol == "" {
				return usageErrorf("port %d is not a standard mail port: say which protocol it speaks with --protocol", p)
			}
		}
		targets = append(targets, t)
	}
	n, err := opts.Net.build(opts.IO)
	if err != nil {
		return err
	}
	ctx, cancel := n.runContext(ctx)
	defer cancel()

	popts := probe.Options{Dialer: n.Dialer, Resolver: n.Resolver, Verbose: n.Verbose()}
	reports := make([]finding.Report, len(targets))
	meter := progress.FromContext(ctx)
	meter.SetTotal(len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() {
			task := meter.Start(t.host)
			defer task.Done()
			task.Step(probeStep(t.ports))
			started := time.Now()
			probes, findings := probe.Host(progress.WithTask(ctx, task), popts, t.host, t.ports, opts.Protocol)
			reports[i] = finding.Report{
				Schema: finding.Schema, Target: t.host, Started: started.UTC(),
				DurationMS: time.Since(started).Milliseconds(),
				Findings:   findings, Probes: probes,
			}
			if interruptedTarget(ctx) {
				// Ctrl-C came while this host was being probed: its
				// timeouts are the interruption's, not the server's.
				reports[i].MarkInterrupted()
			}
		})
	}
	wg.Wait()
	if err := report.Render(opts.IO.Out, reports, n.Render); err != nil {
		return err
	}
	if code := n.exitCode(reports); code != ExitOK {
		return &ExitError{Code: code}
	}
	return nil
}

// probeStep is what the status line says while a host is probed.
func probeStep(ports []int) finding.Text {
	if len(ports) == 0 {
		ports = probe.DefaultPorts
	}
	list := make([]string, len(ports))
	for i, p := range ports {
		list[i] = strconv.Itoa(p)
	}
	return finding.T("probing port %s", strings.Join(list, ", "))
}

func validProtocol(p string) bool {
	switch p {
	case "smtp", "submission", "smtps", "imap", "imaps", "pop3", "pop3s":
		return true
	}
	return false
}

// parseProbeTarget reads HOST, HOST:PORT, an IP address or [IPv6]:PORT.
func parseProbeTarget(arg string, defaultPorts []int) (probeTarget, error) {
	if a, err := netip.ParseAddr(arg); err == nil {
		return probeTarget{host: a.String(), ports: defaultPorts}, nil
	}
	host, portStr, err := net.SplitHostPort(arg)
	if err != nil {
		if strings.Contains(arg, ":") && !strings.Contains(arg, "]") {
			return probeTarget{}, usageErrorf("bad target %q: want HOST or HOST:PORT", arg)
		}
		host, portStr = arg, ""
	}
	if _, err := netip.ParseAddr(host); err != nil {
		nh, err := normaliseHost(host)
		if err != nil {
			return probeTarget{}, err
		}
		host = nh
	}
	if portStr == "" {
		return probeTarget{host: host, ports: defaultPorts}, nil
	}
	p, err := parsePort(portStr)
	if err != nil {
		return probeTarget{}, usageErrorf("bad port in %q", arg)
	}
	return probeTarget{host: host, ports: []int{p}}, nil
}

// normaliseHost validates a host name like a domain, but allows a single
// label (a host on the local network).
func normaliseHost(h string) (string, error) {
	if !strings.Contains(strings.TrimSuffix(h, "."), ".") {
		if err := checkLabel(strings.ToLower(h)); err != nil {
			return "", usageErrorf("invalid host %q: %v", h, err)
		}
		return strings.ToLower(h), nil
	}
	return normaliseDomain(h)
}

func parsePortList(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		p, err := parsePort(part)
		if err != nil {
			return nil, usageErrorf("bad --ports %q: want a comma-separated list of ports 1-65535", s)
		}
		out = append(out, p)
	}
	return out, nil
}
