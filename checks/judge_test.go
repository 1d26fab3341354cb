package checks

import (
	"context"
	"time"

	"github.com/mailcheck-cli/mailcheck/checks/dnsbl"
	"github.com/mailcheck-cli/mailcheck/dialer"
	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// Env states, for a test, what the audit gathers: the DNS to ask, HTTPS
// for MTA-STS, the selectors given with --dkim-selector.
type Env struct {
	Resolver         resolver.Resolver
	Dialer           *dialer.Dialer
	DKIMSelectors    []string
	MTASTSPolicyFile string
	Now              func() time.Time
	// Zone holds the zone files in zone mode: their DKIM selectors are
	// looked up, as the CLI does with --zone.
	Zone *resolver.Zone
	// DNSBL are the blocklist zones asked (fixture lists only).
	DNSBL []string
	// NSPort, when set, has the name servers asked directly on that port.
	NSPort int
}

func (e *Env) facts() *facts.Env {
	fe := &facts.Env{Resolver: e.Resolver, Dialer: e.Dialer, MTASTSPolicyFile: e.MTASTSPolicyFile, Now: e.Now}
	if e.Zone != nil {
		fe.ZoneNames = e.Zone.NamesUnder
		fe.ZoneFiles = e.Zone
	}
	for _, z := range e.DNSBL {
		fe.DNSBL = append(fe.DNSBL, dnsbl.Custom(z))
	}
	if e.NSPort != 0 {
		fe.NameServers = facts.NSOptions{Ask: true, Port: e.NSPort}
	}
	for _, s := range e.DKIMSelectors {
		fe.Selectors = append(fe.Selectors, facts.Selector{Name: s, Source: facts.FromFlag})
	}
	return fe
}

// gather gathers every fact of domain, as the audit does.
func gather(ctx context.Context, env *Env, domain string) *facts.Domain {
	return facts.Gather(ctx, env.facts(), domain)
}

// judgeWith gathers the facts of domain and runs one judge on them: the
// audit of one standard, end to end.
func judgeWith(j func(*facts.Domain) Result) func(context.Context, *Env, string) Result {
	return func(ctx context.Context, env *Env, domain string) Result {
		return j(gather(ctx, env, domain))
	}
}

var (
	checkMX     = judgeWith(judgeMX)
	checkSPF    = judgeWith(judgeSPF)
	checkDMARC  = judgeWith(judgeDMARC)
	checkDKIM   = judgeWith(judgeDKIM)
	checkMTASTS = judgeWith(judgeMTASTS)
	checkTLSRPT = judgeWith(judgeTLSRPT)
	checkDNSSEC = judgeWith(judgeDNSSEC)
	checkPTR    = judgeWith(judgePTR)
	checkNS     = judgeWith(judgeNS)
	checkDANE   = judgeWith(judgeDANE)
	checkBIMI   = judgeWith(judgeBIMI)
	checkDNSBL  = judgeWith(judgeDNSBL)
)

// audit gathers every fact of domain and runs every judge.
func audit(ctx context.Context, env *Env, domain string) Result {
	return Run(gather(ctx, env, domain))
}
