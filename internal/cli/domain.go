package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/net/idna"

	"github.com/mailcheck-cli/mailcheck/audit"
	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/progress"
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
	// Bulk runs: domains in flight, this process's slice of the list, the
	// order of the reports, and the DKIM guessing policy.
	Concurrency int
	Shard       string
	Order       string
	DKIMGuess   string
	// DNSBL are the blocklist flags (dnsbl.go).
	DNSBL DNSBLFlags
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
  mailcheck domain example.com --zone proposed/example.com.zone --no-probe --fail-on warn
  mailcheck domain --file domains.txt --no-probe --dkim-selector s2026 --format ndjson --shard 0/4`,
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
	// For domain, --timeout bounds each domain's audit, not the whole run:
	// a long list must not turn into failed lookups at its end.
	fl.Lookup("timeout").Usage = finding.T("bound on each domain's audit (per target, from its start); per-step timeouts are derived from it").In(l)
	fl.IntVar(&opts.Concurrency, "concurrency", defaultConcurrency(),
		finding.T("domains audited at once (64 per CPU, at most 256, unless given)").In(l))
	fl.StringVar(&opts.Shard, "shard", "",
		finding.T("audit only slice I of N of the input (I from 0 to N-1), e.g. 0/4: N processes split one list without coordination").In(l))
	fl.StringVar(&opts.Order, "order", "input",
		finding.T("order of the reports: input (as given) or completion (each as soon as its domain finishes)").In(l))
	fl.StringVar(&opts.DKIMGuess, "dkim-guess", "auto",
		finding.T("try common DKIM selectors: auto (only when no selector is named), always, never").In(l))
	fl.StringArrayVar(&opts.DKIMSelectors, "dkim-selector", nil,
		finding.T("DKIM selector to check (repeatable); common selectors are tried too only with --dkim-guess always").In(l))
	fl.BoolVar(&opts.NoProbe, "no-probe", false, finding.T("check DNS only; do not connect to the mail servers").In(l))
	fl.StringVar(&opts.File, "file", "",
		finding.T("read domains from this file, one per line, # starts a comment (- for standard input)").In(l))
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
	if opts.Concurrency < 1 {
		return usageErrorf("--concurrency must be at least 1, got %d", opts.Concurrency)
	}
	shard, err := parseShard(opts.Shard)
	if err != nil {
		return err
	}
	order, err := parseOrder(opts.Order)
	if err != nil {
		return err
	}
	guess, err := parseDKIMGuess(opts.DKIMGuess)
	if err != nil {
		return err
	}
	if guess == facts.GuessUnlessNamed && len(opts.Baseline) > 0 {
		// The change rules compare every selector either state has: a
		// common one that the change drops must be seen in the baseline.
		guess = facts.GuessAlways
	}
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
		DKIMGuess: guess,
		Probe:     audit.ProbeMX,
		Verbose:   n.Verbose(),
		Now:       time.Now,
	}
	bulk := opts.File != ""
	if o.DNSBL, err = opts.DNSBL.lists(bulk); err != nil {
		return err
	}
	if o.NameServers, err = nameServerOptions(n, opts.DNSBL.NSCheck, bulk); err != nil {
		return err
	}
	if opts.NoProbe {
		o.Probe = audit.NoProbe
	}
	if err := opts.gateOptions(n, &o); err != nil {
		return err
	}
	if shard.Count > 1 {
		domains = slices.DeleteFunc(domains, func(d string) bool { return !shard.Has(d) })
	}

	a := audit.New(o)
	progress.FromContext(ctx).SetTotal(len(domains))
	stream, err := report.NewStream(opts.IO.Out, len(domains), n.Render)
	if err != nil {
		return err
	}
	b := &bulkRun{
		Targets:     domains,
		Concurrency: opts.Concurrency,
		Order:       order,
		Timeout:     n.Timeout,
		Audit:       a.Domain,
		Out:         stream,
		FailOn:      n.FailOn,
		FailNever:   n.FailNever,
	}
	code, err := b.run(ctx)
	if err != nil {
		return err
	}
	if code != ExitOK {
		return &ExitError{Code: code}
	}
	return nil
}

// parseDKIMGuess reads --dkim-guess.
func parseDKIMGuess(s string) (facts.GuessPolicy, error) {
	switch strings.ToLower(s) {
	case "auto":
		return facts.GuessUnlessNamed, nil
	case "always":
		return facts.GuessAlways, nil
	case "never":
		return facts.GuessNever, nil
	}
	return 0, usageErrorf("unknown --dkim-guess %q (want auto, always or never)", s)
}

// maxListLine bounds one line of --file: a domain name is at most 253
// characters, so a longer line is not a list of domains.
const maxListLine = 64 << 10

// collectDomains merges the arguments and --file, validating each. A line
// of --file holds one domain; a # starts a comment, on its own line or
// after the domain. An invalid line is reported with its file and line
// number, as FILE:LINE: reason.
func collectDomains(opts *DomainOptions) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	add := func(d string) error {
		nd, err := normaliseDomain(d)
		if err != nil {
			return err
		}
		if !seen[nd] {
			seen[nd] = true
			out = append(out, nd)
		}
		return nil
	}
	for _, d := range opts.Domains {
		if err := add(d); err != nil {
			return nil, err
		}
	}
	if opts.File != "" {
		var r io.Reader
		name := opts.File
		if opts.File == "-" {
			r, name = opts.IO.In, "stdin"
		} else {
			f, err := os.Open(opts.File)
			if err != nil {
				return nil, usageErrorf("--file: %v", unwrapPath(err))
			}
			defer f.Close()
			r = f
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 4096), maxListLine)
		line := 0
		for sc.Scan() {
			line++
			text := sc.Text()
			if line == 1 {
				text = strings.TrimPrefix(text, "\ufeff") // a byte order mark
			}
			text, _, _ = strings.Cut(text, "#")
			text = strings.TrimSpace(text)
			if text == "" {
				continue
			}
			if err := add(text); err != nil {
				return nil, usageErrorf("%s:%d: %v", name, line, err)
			}
		}
		if err := sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				return nil, usageErrorf("%s:%d: line longer than %d KiB: not a list of domains", name, line+1, maxListLine>>10)
			}
			return nil, usageErrorf("--file %s: %v", opts.File, err)
		}
	}
	if len(out) == 0 {
		return nil, usageErrorf("no domain given: mailcheck domain DOMAIN... (or --file F)")
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
