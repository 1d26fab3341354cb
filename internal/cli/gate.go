package cli

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/mailcheck-cli/mailcheck/checks"
	"github.com/mailcheck-cli/mailcheck/dialer"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/gate"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// ciGate is the CI gate of `domain`: the baseline to compare with, the
// policy file, and the two states the change rules look at.
type ciGate struct {
	baseline *checks.Env // nil without --baseline
	policy   *gate.Policy
	proposed gate.State
	base     gate.State
	now      func() time.Time
}

// buildGate reads --baseline, --policy and --mta-sts-policy. It returns nil
// when none is given. Problems are usage errors (exit 2).
func (opts *DomainOptions) buildGate(n *Net) (*ciGate, error) {
	if len(opts.Baseline) == 0 && opts.PolicyFile == "" && opts.MTASTSPolicy == "" {
		return nil, nil
	}
	g := &ciGate{now: time.Now}
	g.proposed = gate.LiveState(n.Resolver, n.Dialer)
	if opts.MTASTSPolicy != "" {
		if _, err := os.Stat(opts.MTASTSPolicy); err != nil {
			return nil, usageErrorf("--mta-sts-policy: %v", unwrapPath(err))
		}
		g.proposed.MTASTS = gate.MTASTSSource{File: opts.MTASTSPolicy}
	}
	if opts.PolicyFile != "" {
		p, err := gate.LoadPolicy(opts.PolicyFile)
		if err != nil {
			var pe *gate.PolicyError
			if errors.As(err, &pe) {
				return nil, &UsageError{Msg: pe.Error()}
			}
			return nil, usageErrorf("--policy: %v", err)
		}
		g.policy = p
	}
	if len(opts.Baseline) > 0 {
		base, err := opts.baselineResolver()
		if err != nil {
			return nil, err
		}
		cache := resolver.NewCache(base)
		d := &dialer.Dialer{Resolver: cache, PortMap: n.Dialer.PortMap, Roots: n.Dialer.Roots, StepTimeout: n.Dialer.StepTimeout}
		g.baseline = &checks.Env{Resolver: cache, Dialer: d, Now: time.Now}
		g.base = gate.LiveState(cache, d)
	}
	return g, nil
}

// baselineResolver answers for the baseline: live DNS (--baseline live,
// through --resolver when given), or the baseline zone files, with names
// outside them asked of --resolver as for the proposed zones.
func (opts *DomainOptions) baselineResolver() (resolver.Resolver, error) {
	servers, err := normaliseResolvers(opts.Net.Resolvers)
	if err != nil {
		return nil, err
	}
	newLive := func() (resolver.Resolver, error) {
		live, err := resolver.NewLive(servers, resolver.LiveOptions{})
		if err != nil {
			return nil, usageErrorf("--baseline live: %v", err)
		}
		return live, nil
	}
	if len(opts.Baseline) == 1 && opts.Baseline[0] == "live" {
		return newLive()
	}
	for _, b := range opts.Baseline {
		if b == "live" {
			return nil, usageErrorf("--baseline live cannot be combined with baseline zone files")
		}
	}
	z, err := resolver.LoadZoneFiles(opts.Baseline)
	if err != nil {
		return nil, &UsageError{Msg: "--baseline " + err.Error()}
	}
	var next resolver.Resolver
	if len(servers) > 0 {
		if next, err = newLive(); err != nil {
			return nil, err
		}
	}
	return &resolver.Chain{Zone: z, Next: next}, nil
}

// apply runs the baseline audit and the change rules, marks what is new,
// unchanged and fixed, then evaluates the policy file.
func (g *ciGate) apply(ctx context.Context, rep *finding.Report, env *checks.Env, noProbe bool) {
	domain := rep.Target
	if g.baseline != nil {
		g.baseline.DKIMSelectors = env.DKIMSelectors
		base := auditDomain(ctx, g.baseline, domain, noProbe, false)
		rep.Findings = gate.Compare(base.Findings, rep.Findings)
		rep.Findings = append(rep.Findings, gate.ChangeRules(ctx, g.base, g.proposed, domain,
			gate.ChangeOptions{DKIMSelectors: env.DKIMSelectors})...)
	}
	if g.policy != nil {
		rep.Findings = g.policy.Evaluate(ctx, g.proposed, domain, g.now(), rep.Findings)
	}
}
