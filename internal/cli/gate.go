package cli

import (
	"errors"
	"os"
	"slices"

	"github.com/mailcheck-cli/mailcheck/audit"
	"github.com/mailcheck-cli/mailcheck/dialer"
	"github.com/mailcheck-cli/mailcheck/gate"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// gateOptions reads --baseline, --baseline-mta-sts-policy, --policy and
// --mta-sts-policy into the audit options. Problems are usage errors
// (exit 2). The gate itself asks no DNS: the audit gathers both states.
func (opts *DomainOptions) gateOptions(n *Net, o *audit.Options) error {
	for _, f := range []struct{ flag, path string }{
		{"--mta-sts-policy", opts.MTASTSPolicy},
		{"--baseline-mta-sts-policy", opts.BaselineMTASTSPolicy},
	} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return usageErrorf("%s: %v", f.flag, unwrapPath(err))
		}
	}
	o.Proposed.MTASTSPolicyFile = opts.MTASTSPolicy
	if opts.PolicyFile != "" {
		p, err := gate.LoadPolicy(opts.PolicyFile)
		if err != nil {
			var pe *gate.PolicyError
			if errors.As(err, &pe) {
				return &UsageError{Msg: pe.Error()}
			}
			return usageErrorf("--policy: %v", err)
		}
		sels, err := normaliseSelectors(p.Require.DKIMSelectors)
		if err != nil {
			return usageErrorf("%s: require.dkim_selectors: %v", opts.PolicyFile, err)
		}
		p.Require.DKIMSelectors = sels
		o.Policy = p
	}
	if opts.BaselineMTASTSPolicy != "" && len(opts.Baseline) == 0 {
		return usageErrorf("--baseline-mta-sts-policy needs --baseline")
	}
	if len(opts.Baseline) == 0 {
		return nil
	}
	base, zone, err := opts.baselineResolver(n)
	if err != nil {
		return err
	}
	cache := resolver.NewCache(base)
	d := &dialer.Dialer{Resolver: cache, PortMap: n.Dialer.PortMap, Roots: n.Dialer.Roots, StepTimeout: n.Dialer.StepTimeout}
	o.Baseline = &audit.State{Resolver: cache, Dialer: d, Zone: zone, MTASTSPolicyFile: opts.BaselineMTASTSPolicy}
	return nil
}

// baselineResolver answers for the baseline: live DNS (--baseline live,
// through --resolver when given), or the baseline zone files together with
// every --zone file that is not the proposed version of one of them (a
// reverse zone, a provider's zone), with names outside them asked of
// --resolver as for the proposed zones.
func (opts *DomainOptions) baselineResolver(n *Net) (resolver.Resolver, *resolver.Zone, error) {
	servers, err := normaliseResolvers(opts.Net.Resolvers)
	if err != nil {
		return nil, nil, err
	}
	newLive := func() (resolver.Resolver, error) {
		live, err := resolver.NewLive(servers, resolver.LiveOptions{})
		if err != nil {
			return nil, usageErrorf("--baseline live: %v", err)
		}
		return live, nil
	}
	if len(opts.Baseline) == 1 && opts.Baseline[0] == "live" {
		live, err := newLive()
		return live, nil, err
	}
	if slices.Contains(opts.Baseline, "live") {
		return nil, nil, usageErrorf("--baseline live cannot be combined with baseline zone files")
	}
	bz, err := resolver.LoadZoneFiles(opts.Baseline)
	if err != nil {
		return nil, nil, &UsageError{Msg: "--baseline " + err.Error()}
	}
	files := slices.Clone(opts.Baseline)
	if n.Zone != nil {
		origins := bz.Origins()
		for _, zf := range n.Zone.Files() {
			if !slices.Contains(origins, zf.Origin) {
				files = append(files, zf.File)
			}
		}
	}
	z := bz
	if len(files) > len(opts.Baseline) {
		if z, err = resolver.LoadZoneFiles(files); err != nil {
			return nil, nil, &UsageError{Msg: err.Error()}
		}
	}
	var next resolver.Resolver
	if len(servers) > 0 {
		if next, err = newLive(); err != nil {
			return nil, nil, err
		}
	}
	return &resolver.Chain{Zone: z, Next: next}, z, nil
}
