package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailcheck-cli/mailcheck/dialer"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/report"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// NetFlags are the flags every network command accepts (SPEC "Flags every
// network command accepts").
type NetFlags struct {
	OutputFlags
	Resolvers []string
	Zones     []string
	PortMap   []string
	CAFile    string
}

// OutputFlags are the run-bound and output flags; demo and selftest take
// these alone since they make their own resolver and dialer.
type OutputFlags struct {
	Timeout time.Duration
	Format  string
	FailOn  string
	Verbose bool
	NoColor bool
}

// flagUsage holds the usage texts of the flags NetFlags and OutputFlags
// register. Commands register these flags while the tree is being built,
// with no language at hand, so register writes them in English and
// localizeHelp rewrites every flag that carries one of them in the run's
// language.
var flagUsage = struct {
	resolver, zone, portMap, ca, timeout, format, failOn, verbose, noColor finding.Text
}{
	resolver: finding.T("DNS server to ask, HOST:PORT (repeatable; default: the system's resolvers)"),
	zone:     finding.T("answer DNS from this RFC 1035 zone file instead of the network (repeatable)"),
	portMap:  finding.T("connect to port Q wherever a check would use standard port P: P=Q[,P=Q...]"),
	ca:       finding.T("also trust the CA certificates in this PEM file"),
	timeout:  finding.T("bound on the whole run; per-step timeouts are derived from it"),
	format:   finding.T("output format: %s", strings.Join(report.Formats(), "|")),
	failOn:   finding.T("lowest severity that makes the exit code 1: fail|warn|info|never"),
	verbose:  finding.T("include details and protocol transcripts (credentials always redacted)"),
	noColor:  finding.T("never colour the text output (NO_COLOR is honoured too)"),
}

// sharedFlagUsages lists flagUsage's texts, for localizeHelp.
func sharedFlagUsages() []finding.Text {
	u := flagUsage
	return []finding.Text{u.resolver, u.zone, u.portMap, u.ca, u.timeout, u.format, u.failOn, u.verbose, u.noColor}
}

func (f *NetFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.Resolvers, "resolver", nil, flagUsage.resolver.String())
	fl.StringArrayVar(&f.Zones, "zone", nil, flagUsage.zone.String())
	fl.StringArrayVar(&f.PortMap, "port-map", nil, flagUsage.portMap.String())
	fl.StringVar(&f.CAFile, "ca", "", flagUsage.ca.String())
	f.OutputFlags.register(cmd)
}

func (f *OutputFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.DurationVar(&f.Timeout, "timeout", 30*time.Second, flagUsage.timeout.String())
	fl.StringVar(&f.Format, "format", "text", flagUsage.format.String())
	fl.StringVar(&f.FailOn, "fail-on", "fail", flagUsage.failOn.String())
	fl.BoolVarP(&f.Verbose, "verbose", "v", false, flagUsage.verbose.String())
	fl.BoolVar(&f.NoColor, "no-color", false, flagUsage.noColor.String())
}

// Net is what NetFlags resolve to: a resolver, a dialer and render options.
type Net struct {
	Resolver resolver.Resolver
	Cache    *resolver.Cache
	Zone     *resolver.Zone // nil without --zone
	// HasResolver is set when --resolver was given.
	HasResolver bool
	Dialer      *dialer.Dialer
	Timeout     time.Duration
	Render      report.Options
	// FailOn is the lowest counting severity; never == false disables exit 1.
	FailOn    finding.Severity
	FailNever bool
}

// build validates the flags and makes the run's resolver and dialer. Every
// problem is a UsageError (exit 2).
func (f *NetFlags) build(io *IOStreams) (*Net, error) {
	n, err := f.OutputFlags.build(io)
	if err != nil {
		return nil, err
	}
	portMap, err := parsePortMap(f.PortMap)
	if err != nil {
		return nil, err
	}
	roots, err := loadRoots(f.CAFile)
	if err != nil {
		return nil, err
	}
	servers, err := normaliseResolvers(f.Resolvers)
	if err != nil {
		return nil, err
	}

	n.HasResolver = len(servers) > 0
	var next resolver.Resolver
	if len(servers) > 0 || len(f.Zones) == 0 {
		live, err := resolver.NewLive(servers, resolver.LiveOptions{})
		if err != nil {
			return nil, usageErrorf("resolver: %v", err)
		}
		next = live
	}
	base := next
	if len(f.Zones) > 0 {
		z, err := resolver.LoadZoneFiles(f.Zones)
		if err != nil {
			return nil, &UsageError{Msg: err.Error()}
		}
		n.Zone = z
		base = &resolver.Chain{Zone: z, Next: next}
	}
	n.setResolver(base, portMap, roots)
	return n, nil
}

// setResolver wraps base in the run's cache and makes the dialer use it.
func (n *Net) setResolver(base resolver.Resolver, portMap map[int]int, roots *x509.CertPool) {
	n.Cache = resolver.NewCache(base)
	n.Resolver = n.Cache
	n.Dialer = &dialer.Dialer{
		Resolver:    n.Resolver,
		PortMap:     portMap,
		Roots:       roots,
		StepTimeout: stepTimeout(n.Timeout),
	}
}

// build validates the output flags.
func (f *OutputFlags) build(io *IOStreams) (*Net, error) {
	n := &Net{Timeout: f.Timeout}
	if f.Timeout <= 0 {
		return nil, usageErrorf("--timeout must be positive, got %s", f.Timeout)
	}
	if !validFormat(f.Format) {
		return nil, usageErrorf("unknown --format %q (want %s)", f.Format, strings.Join(report.Formats(), ", "))
	}
	switch strings.ToLower(f.FailOn) {
	case "never":
		n.FailNever = true
	case "fail", "warn", "info":
		n.FailOn, _ = finding.ParseSeverity(f.FailOn)
	default:
		return nil, usageErrorf("unknown --fail-on %q (want fail, warn, info or never)", f.FailOn)
	}
	n.Render = report.Options{
		Format: strings.ToLower(f.Format),
		// TERM=dumb is a terminal that understands no escape sequence.
		Color:         io.OutTTY && !f.NoColor && io.getenv("NO_COLOR") == "" && io.getenv("TERM") != "dumb",
		Width:         io.reportWidth(),
		Interrupted:   io.isInterrupted,
		Verbose:       f.Verbose,
		FailOn:        n.FailOn,
		GitHubActions: io.getenv("GITHUB_ACTIONS") == "true",
		ToolName:      "mailcheck",
		Lang:          io.Lang,
		ToolVersion:   CurrentBuild().Version,
	}
	if n.FailNever {
		n.Render.FailOn = finding.Error + 1
	}
	return n, nil
}

// stepTimeout derives the bound on one dial, handshake or reply from the
// whole run's bound: a quarter of it, between 200 ms and 10 s, so that one
// tarpit cannot use the whole run.
func stepTimeout(total time.Duration) time.Duration {
	return min(max(total/4, 200*time.Millisecond), 10*time.Second)
}

func validFormat(name string) bool {
	for _, f := range report.Formats() {
		if strings.EqualFold(f, name) {
			return true
		}
	}
	return false
}

// parsePortMap reads "25=2525,587=2587" (repeatable).
func parsePortMap(specs []string) (map[int]int, error) {
	m := map[int]int{}
	for _, spec := range specs {
		for _, pair := range strings.Split(spec, ",") {
			pair = strings.TrimSpace(pair)
			if pair == "" {
				continue
			}
			from, to, ok := strings.Cut(pair, "=")
			p, err1 := parsePort(from)
			q, err2 := parsePort(to)
			if !ok || err1 != nil || err2 != nil {
				return nil, usageErrorf("bad --port-map %q: want P=Q with ports 1-65535, e.g. 25=2525", pair)
			}
			m[p] = q
		}
	}
	return m, nil
}

func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("bad port %q", s)
	}
	return p, nil
}

// loadRoots returns the system roots plus the certificates in file.
func loadRoots(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	pemData, err := os.ReadFile(file)
	if err != nil {
		return nil, usageErrorf("--ca: %v", unwrapPath(err))
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pemData) {
		return nil, usageErrorf("--ca %s: no PEM certificate found", file)
	}
	return pool, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %v", pe.Path, pe.Err)
	}
	return err
}

// normaliseResolvers accepts HOST, HOST:PORT, [V6]:PORT and bare IPv6.
func normaliseResolvers(in []string) ([]string, error) {
	var out []string
	for _, r := range in {
		r = strings.TrimSpace(r)
		if r == "" {
			return nil, usageErrorf("empty --resolver")
		}
		host, port, err := net.SplitHostPort(r)
		if err != nil {
			host, port = strings.Trim(r, "[]"), "53"
		}
		if _, err := parsePort(port); err != nil || host == "" || strings.ContainsAny(host, " /") {
			return nil, usageErrorf("bad --resolver %q: want HOST or HOST:PORT", r)
		}
		out = append(out, net.JoinHostPort(host, port))
	}
	return out, nil
}

// zoneCovers makes zone mode fail closed: without --resolver, every domain
// must lie inside a --zone, since nothing could be checked for one outside
// them and a typo in a pipeline would pass silently.
func (n *Net) zoneCovers(domains []string) error {
	if n.Zone == nil || n.HasResolver {
		return nil
	}
	for _, d := range domains {
		if !n.Zone.Contains(d) {
			var zones []string
			for _, zf := range n.Zone.Files() {
				zones = append(zones, zf.File+" ("+strings.TrimSuffix(zf.Origin, ".")+")")
			}
			return usageErrorf("%s is outside every --zone (%s); give its zone file with --zone, or --resolver to ask DNS for names outside the zones", d, strings.Join(zones, ", "))
		}
	}
	return nil
}

// Verbose reports whether -v was given.
func (n *Net) Verbose() bool { return n.Render.Verbose }

// runContext bounds the whole run by --timeout.
func (n *Net) runContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, n.Timeout)
}

// exitCode applies SPEC's exit codes to the reports. --fail-on never
// always exits 0, inconclusive runs included: a pipeline that asks for
// never wants the report, not a verdict (the exit codes of a run stopped
// by Ctrl-C are decided in Run).
func (n *Net) exitCode(reports []finding.Report) int {
	if n.FailNever {
		return ExitOK
	}
	inconclusive := false
	for i := range reports {
		worst, inc := reports[i].Worst()
		if worst >= n.FailOn && worst > finding.Pass {
			return ExitFindings
		}
		inconclusive = inconclusive || inc
	}
	if inconclusive {
		return ExitInconclusive
	}
	return ExitOK
}
