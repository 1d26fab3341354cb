package gate

import (
	"context"
	"slices"
	"time"

	"github.com/mailcheck-cli/mailcheck/checks"
	"github.com/mailcheck-cli/mailcheck/dialer"
	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// State is, for these tests, one state of the DNS: the resolver (zone files
// or a fake), HTTPS for the MTA-STS policy, or a policy file.
type State struct {
	Resolver   resolver.Resolver
	Dialer     *dialer.Dialer
	PolicyFile string
}

// LiveState is a state whose MTA-STS policy is fetched over HTTPS.
func LiveState(r resolver.Resolver, d *dialer.Dialer) State {
	return State{Resolver: r, Dialer: d}
}

// ChangeOptions name the selectors given with --dkim-selector.
type ChangeOptions struct {
	DKIMSelectors []string
}

// gatherState gathers a state's facts as the audit pipeline does, with the
// selectors named by the flag and by the policy.
func gatherState(ctx context.Context, st State, domain string, flag, policy []string) *facts.Domain {
	env := &facts.Env{Resolver: st.Resolver, Dialer: st.Dialer, MTASTSPolicyFile: st.PolicyFile,
		Now: func() time.Time { return testNow }}
	for _, s := range flag {
		env.Selectors = append(env.Selectors, facts.Selector{Name: s, Source: facts.FromFlag})
	}
	for _, s := range policy {
		env.Selectors = append(env.Selectors, facts.Selector{Name: s, Source: facts.FromPolicy})
	}
	return facts.Gather(ctx, env, domain)
}

// changeRules gathers both states and runs ChangeRules on them.
func changeRules(ctx context.Context, base, prop State, domain string, o ChangeOptions) []finding.Finding {
	return ChangeRules(gatherState(ctx, base, domain, o.DKIMSelectors, nil), gatherState(ctx, prop, domain, o.DKIMSelectors, nil))
}

// evaluate gathers the state and evaluates the policy on it.
func (p *Policy) evaluate(ctx context.Context, st State, domain string, now time.Time, in []finding.Finding) []finding.Finding {
	return p.Evaluate(gatherState(ctx, st, domain, nil, p.Require.DKIMSelectors), now, slices.Clone(in))
}

// judgeState gathers and judges a state, as the audit does for each side.
func judgeState(ctx context.Context, st State, domain string, flag []string) []finding.Finding {
	return checks.Run(gatherState(ctx, st, domain, flag, nil)).Findings
}
