// Package audit is the domain audit pipeline that `mailcheck domain`, the
// CI gate and `mailcheck selftest` share:
//
//	gather (package facts) → probe the mail hosts it found (package probe)
//	→ judge (package checks) → compare with the baseline and apply the
//	policy file (package gate) → one finding.Report
//
// Each step reads what the one before produced; nothing asks DNS again.
package audit

import (
	"context"
	"crypto/x509"
	"slices"
	"sync"
	"time"

	"github.com/mailcheck-cli/mailcheck/checks"
	"github.com/mailcheck-cli/mailcheck/checks/dnsbl"
	"github.com/mailcheck-cli/mailcheck/dialer"
	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/gate"
	"github.com/mailcheck-cli/mailcheck/probe"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// ProbeMode says which servers an audit connects to.
type ProbeMode int

const (
	// NoProbe: DNS only (--no-probe).
	NoProbe ProbeMode = iota
	// ProbeMX: port 25 of every address of every mail host (the default).
	ProbeMX
	// ProbeAllPorts: every mail port of every MX host, with reverse DNS
	// per address (selftest, which serves every service of a scenario).
	ProbeAllPorts
)

// State is one state of the DNS: the proposed zone files (or live DNS), or
// the CI gate's baseline.
type State struct {
	Resolver resolver.Resolver // cached and de-duplicated
	Dialer   *dialer.Dialer
	// Zone holds this state's zone files (nil for live DNS): every DKIM
	// selector they publish is looked up.
	Zone *resolver.Zone
	// MTASTSPolicyFile is read as the state's MTA-STS policy instead of
	// fetching it (--mta-sts-policy, --baseline-mta-sts-policy).
	MTASTSPolicyFile string
}

// Options configure an audit run. They are shared, read-only, by every
// domain of the run.
type Options struct {
	Proposed State
	// Baseline is the state to compare with (--baseline); nil without.
	Baseline *State
	// Policy is the --policy file; nil without. Its DKIM selectors are
	// looked up in both states and judged like --dkim-selector ones.
	Policy *gate.Policy
	// Selectors are the --dkim-selector values.
	Selectors []string
	// DKIMGuess says when the common selectors are guessed (--dkim-guess);
	// the zero value guesses always.
	DKIMGuess facts.GuessPolicy
	Probe     ProbeMode
	// DNSBL are the blocklists the mail addresses are looked up on
	// (--dnsbl, default dnsbl.Default(); none with --no-dnsbl).
	DNSBL []dnsbl.List
	// NameServers say how the zone's name servers are asked (live DNS:
	// directly, on port 53 or --port-map 53=Q).
	NameServers facts.NSOptions
	Verbose     bool
	// Now is the clock of judges, probes and the policy's allow dates.
	Now func() time.Time
}

// Auditor runs the pipeline for one domain at a time, concurrently safe.
type Auditor struct {
	opts           Options
	proposed, base *facts.Env
}

// New prepares an auditor.
func New(o Options) *Auditor {
	a := &Auditor{opts: o}
	var named []facts.Selector
	for _, s := range o.Selectors {
		named = append(named, facts.Selector{Name: s, Source: facts.FromFlag})
	}
	if o.Policy != nil {
		for _, s := range o.Policy.Require.DKIMSelectors {
			named = append(named, facts.Selector{Name: s, Source: facts.FromPolicy})
		}
	}
	envOf := func(st *State, other *State) *facts.Env {
		env := &facts.Env{Resolver: st.Resolver, Dialer: st.Dialer, Selectors: named, Guess: o.DKIMGuess,
			MTASTSPolicyFile: st.MTASTSPolicyFile, Now: o.Now, DNSBL: o.DNSBL, NameServers: o.NameServers}
		if st.Zone != nil {
			env.ZoneNames = st.Zone.NamesUnder
			env.ZoneFiles = st.Zone
		}
		if other != nil && other.Zone != nil {
			// Both states ask for every selector either publishes, so that
			// the change rules see a selector the change removes.
			env.ExtraZoneNames = other.Zone.NamesUnder
		}
		return env
	}
	a.proposed = envOf(&o.Proposed, o.Baseline)
	if o.Baseline != nil {
		a.base = envOf(o.Baseline, &o.Proposed)
	}
	return a
}

func (a *Auditor) now() time.Time {
	if a.opts.Now != nil {
		return a.opts.Now()
	}
	return time.Now()
}

// Domain audits one domain (lower case, validated) and returns its report.
// The states are gathered and probed concurrently; the report holds the
// findings, the probes, the --verbose detail and the records judged.
func (a *Auditor) Domain(ctx context.Context, domain string) finding.Report {
	started := time.Now()
	var prop, base side
	var wg sync.WaitGroup
	wg.Go(func() {
		env, st := scoped(a.proposed, &a.opts.Proposed)
		prop = a.side(ctx, env, st, domain, a.opts.Verbose)
	})
	if a.base != nil {
		wg.Go(func() {
			env, st := scoped(a.base, a.opts.Baseline)
			base = a.side(ctx, env, st, domain, false)
		})
	}
	wg.Wait()

	findings := prop.findings
	if a.base != nil {
		findings = gate.Compare(base.findings, findings)
		findings = append(findings, gate.ChangeRules(base.facts, prop.facts)...)
	}
	if a.opts.Policy != nil {
		findings = a.opts.Policy.Evaluate(prop.facts, a.now(), findings)
	}
	return finding.Report{
		Schema:     finding.Schema,
		Target:     domain,
		Started:    started.UTC(),
		DurationMS: time.Since(started).Milliseconds(),
		Findings:   findings,
		Probes:     prop.probes,
		Detail:     prop.detail,
		Records:    facts.Records(prop.facts),
	}
}

// scoped returns the environment and state of one domain's audit: they ask
// DNS through a view of the run's cache that keeps each answer for this
// domain alone, so that its checks judge one consistent picture of DNS,
// and that is dropped with its report while the run's cache stays bounded.
func scoped(env *facts.Env, st *State) (*facts.Env, *State) {
	view := resolver.NewView(st.Resolver)
	e, s := *env, *st
	e.Resolver, s.Resolver = view, view
	if st.Dialer != nil {
		d := *st.Dialer
		d.Resolver = view
		e.Dialer, s.Dialer = &d, &d
	}
	return &e, &s
}

// side is one state's gathered facts, judged, and its probes.
type side struct {
	facts    *facts.Domain
	findings []finding.Finding
	probes   []finding.Probe
	detail   []string
}

func (a *Auditor) side(ctx context.Context, env *facts.Env, st *State, domain string, verbose bool) side {
	var s side
	var probeFindings []finding.Finding
	var onMX func(*facts.MX)
	if a.opts.Probe != NoProbe {
		po := probe.Options{Dialer: st.Dialer, Resolver: st.Resolver, Verbose: verbose, Now: a.opts.Now}
		onMX = func(mx *facts.MX) { s.probes, probeFindings = a.probeHosts(ctx, po, mx) }
	}
	s.facts = facts.GatherWith(ctx, env, domain, onMX)
	// DANE matches the TLSA records against the chains the probes saw.
	s.facts.DANE.Served = servedChains(s.probes)
	res := checks.Run(s.facts)
	s.findings = append(res.Findings, probeFindings...)
	s.detail = res.Detail
	return s
}

// probeHosts probes the hosts of the MX facts as the probe mode says.
func (a *Auditor) probeHosts(ctx context.Context, po probe.Options, mx *facts.MX) ([]finding.Probe, []finding.Finding) {
	if a.opts.Probe == ProbeMX {
		return probe.MX(ctx, po, mx)
	}
	hosts := mx.HostNames()
	probes := make([][]finding.Probe, len(hosts))
	fs := make([][]finding.Finding, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() { probes[i], fs[i] = probe.Host(ctx, po, h, nil, "") })
	}
	wg.Wait()
	return slices.Concat(probes...), slices.Concat(fs...)
}

// servedChains are the certificate chains the MX hosts served after
// STARTTLS on port 25, for DANE (RFC 7672 applies to SMTP between MTAs).
func servedChains(probes []finding.Probe) []facts.ServedChain {
	var out []facts.ServedChain
	for _, p := range probes {
		if p.Protocol == "smtp" && p.Status == probe.StatusOK && !p.StartTLS {
			// The server answered and offered no STARTTLS: a DANE sender
			// cannot deliver (RFC 7672 §2.2).
			out = append(out, facts.ServedChain{Host: p.Host, Addr: p.Addr, NoTLS: true})
			continue
		}
		if p.Protocol != "smtp" || p.TLS == nil || len(p.TLS.Chain) == 0 {
			continue
		}
		c := facts.ServedChain{Host: p.Host, Addr: p.Addr}
		for _, ci := range p.TLS.Chain {
			cert, err := x509.ParseCertificate(ci.DER)
			if err != nil {
				c.Chain = nil
				break
			}
			c.Chain = append(c.Chain, cert)
		}
		if len(c.Chain) > 0 {
			out = append(out, c)
		}
	}
	return out
}
