package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/net/idna"

	"github.com/mailcheck-cli/mailcheck/audit"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/report"
)

// DomainOptions are the inputs of `mailcheck domain`.
type DomainOptions struct {
	IO      *IOStreams
	Net     NetFlags
	Domains []string
	// File names a list of domains, one per line ("-" for stdin).
	File          string
	DKIMSelectors []string
	NoProbe       bool
	// The CI gate (SPEC "CI gate").
	Baseline     []string // zone files, or the single word "live"
	PolicyFile   string
	MTASTSPolicy string // the proposed MTA-STS policy document, when it lives in the repository
	// BaselineMTASTSPolicy is the baseline's policy document, for a CI run
	// that cannot (or should not) fetch the published one.
	BaselineMTASTSPolicy string
	DNSBL                DNSBLFlags // dnsbl.go
}

// NewCmdDomain builds `mailcheck domain`. runF replaces the run function in
// tests of flag handling; nil means domainRun.
func NewCmdDomain(io *IOStreams, runF func(context.Context, *DomainOptions) error) *cobra.Command {
	opts := &DomainOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "domain DOMAIN...",
		Short: finding.T("Audit domains: MX, SPF, DMARC, DKIM, MTA-STS, TLS-RPT, DNSSEC, PTR and the MX servers").In(io.Lang),
		Example: `  mailcheck domain example.com
  mailcheck domain example.com --dkim-selector s2026 --format json
  mailcheck domain example.com --zone proposed/example.com.zone --no-probe --fail-on warn`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Domains = args
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return domainRun(cmd.Context(), opts)
		},
	}
	opts.Net.register(cmd)
	fl := cmd.Flags()
	l := io.Lang
	fl.StringArrayVar(&opts.DKIMSelectors, "dkim-selector", nil,
		finding.T("DKIM selector to check (repeatable); common selectors are tried too").In(l))
	fl.BoolVar(&opts.NoProbe, "no-probe", false, finding.T("check DNS only; do not connect to the mail servers").In(l))
	fl.StringVar(&opts.File, "file", "", finding.T("read domains from this file, one per line (- for standard input)").In(l))
	fl.StringArrayVar(&opts.Baseline, "baseline", nil,
		finding.T("the current state to compare with: zone files (repeatable) or live; only new findings count for --fail-on").In(l))
	fl.StringVar(&opts.PolicyFile, "policy", "",
		finding.T("YAML file of expectations and accepted findings; violations are policy.* findings").In(l))
	fl.StringVar(&opts.MTASTSPolicy, "mta-sts-policy", "",
		finding.T("the proposed MTA-STS policy file (mta-sts.txt), when it is kept beside the zone").In(l))
	fl.StringVar(&opts.BaselineMTASTSPolicy, "baseline-mta-sts-policy", "",
		finding.T("the baseline's MTA-STS policy file (default: fetched from the published URL)").In(l))
	opts.DNSBL.register(cmd, l)
	return cmd
}

func domainRun(ctx context.Context, opts *DomainOptions) error {
	domains, err := collectDomains(opts)
	if err != nil {
		return err
	}
	selectors, err := normaliseSelectors(opts.DKIMSelectors)
	if err != nil {
		return err
	}
	n, err := opts.Net.build(opts.IO)
	if err != nil {
		return err
	}
	if err := n.zoneCovers(domains); err != nil {
		return err
	}
	o := audit.Options{
		Proposed:  audit.State{Resolver: n.Resolver, Dialer: n.Dialer, Zone: n.Zone},
		Selectors: selectors,
		Probe:     audit.ProbeMX,
		Verbose:   n.Verbose(),
		Now:       time.Now,
	}
	if o.DNSBL, err = opts.DNSBL.lists(); err != nil {
		return err
	}
	o.NameServers = nameServerOptions(n)
	if opts.NoProbe {
		o.Probe = audit.NoProbe
	}
	if err := opts.gateOptions(n, &o); err != nil {
		return err
	}
	ctx, cancel := n.runContext(ctx)
	defer cancel()

	a := audit.New(o)
	reports := make([]finding.Report, len(domains))
	// Domains are audited concurrently, a few at a time: one domain is
	// already many parallel lookups.
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, d := range domains {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			reports[i] = a.Domain(ctx, d)
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

// collectDomains merges the arguments and --file, validating each.
func collectDomains(opts *DomainOptions) ([]string, error) {
	raw := append([]string(nil), opts.Domains...)
	if opts.File != "" {
		var r io.Reader
		if opts.File == "-" {
			r = opts.IO.In
		} else {
			f, err := os.Open(opts.File)
			if err != nil {
				return nil, usageErrorf("--file: %v", unwrapPath(err))
			}
			defer f.Close()
			r = f
		}
		sc := bufio.NewScanner(io.LimitReader(r, 16<<20))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			raw = append(raw, line)
		}
		if err := sc.Err(); err != nil {
			return nil, usageErrorf("--file %s: %v", opts.File, err)
		}
	}
	if len(raw) == 0 {
		return nil, usageErrorf("no domain given: mailcheck domain DOMAIN... (or --file F)")
	}
	seen := map[string]bool{}
	var out []string
	for _, d := range raw {
		nd, err := normaliseDomain(d)
		if err != nil {
			return nil, err
		}
		if !seen[nd] {
			seen[nd] = true
			out = append(out, nd)
		}
	}
	return out, nil
}

// normaliseDomain turns user input into a lower-case ASCII domain name
// (IDNA 2008, RFC 5891) or explains why it is not one.
func normaliseDomain(in string) (string, error) {
	d := strings.TrimSuffix(strings.TrimSpace(in), ".")
	if d == "" {
		return "", usageErrorf("invalid domain %q: empty", in)
	}
	if strings.Contains(d, "@") {
		return "", usageErrorf("invalid domain %q: that is an address; use the part after @ or `mailcheck login`", in)
	}
	if strings.Contains(d, "://") || strings.ContainsAny(d, "/:") {
		return "", usageErrorf("invalid domain %q: give a bare domain name such as example.com", in)
	}
	ascii, err := idna.Lookup.ToASCII(d)
	if err != nil {
		return "", usageErrorf("invalid domain %q: %v", in, err)
	}
	ascii = strings.ToLower(ascii)
	if len(ascii) > 253 {
		return "", usageErrorf("invalid domain %q: longer than 253 characters", in)
	}
	labels := strings.Split(ascii, ".")
	if len(labels) < 2 {
		return "", usageErrorf("invalid domain %q: a mail domain has at least two labels", in)
	}
	for _, l := range labels {
		if err := checkLabel(l); err != nil {
			return "", usageErrorf("invalid domain %q: %v", in, err)
		}
	}
	return ascii, nil
}

func checkLabel(l string) error {
	if l == "" {
		return fmt.Errorf("empty label")
	}
	if len(l) > 63 {
		return fmt.Errorf("label %q is longer than 63 characters", l)
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return fmt.Errorf("label %q starts or ends with a hyphen", l)
	}
	for _, c := range l {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("label %q has the character %q", l, c)
		}
	}
	return nil
}

// normaliseSelectors validates --dkim-selector values (RFC 6376 §3.1: a
// selector is one or more dot-separated labels).
func normaliseSelectors(in []string) ([]string, error) {
	var out []string
	for _, s := range in {
		s = strings.ToLower(strings.TrimSpace(s))
		s = strings.TrimSuffix(s, "._domainkey")
		if s == "" {
			return nil, usageErrorf("empty --dkim-selector")
		}
		for _, l := range strings.Split(s, ".") {
			if err := checkLabel(l); err != nil {
				return nil, usageErrorf("invalid --dkim-selector %q: %v", s, err)
			}
		}
		out = append(out, s)
	}
	return out, nil
}
