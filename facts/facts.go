// Package facts gathers, once per domain, every DNS record and policy
// document a mail audit judges: MX hosts and their addresses, the SPF tree,
// DMARC policy discovery, DKIM keys, MTA-STS (record and policy), TLS-RPT,
// DNSSEC and reverse DNS. Lookups run concurrently within the caller's
// deadline, so gathering costs the longest chain of dependent round trips.
//
// Each value keeps where it came from (the answer, with zone file and line,
// or the server) and how its lookup ended (answered, NXDOMAIN, NODATA,
// failed, not checked). Nothing here decides what is wrong: package checks
// judges these facts, the CI gate compares two sets of them, and probes and
// login discovery take their hosts from them.
package facts

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/mailcheck-cli/mailcheck/checks/dmarc"
	"github.com/mailcheck-cli/mailcheck/checks/dnsbl"
	"github.com/mailcheck-cli/mailcheck/dialer"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// Env is what gathering may use. Build one per run (or per state, for the
// CI gate's baseline); it is read-only while domains are gathered.
type Env struct {
	Resolver resolver.Resolver // cached and de-duplicated
	Dialer   *dialer.Dialer    // HTTPS for the MTA-STS policy; resolves through Resolver
	// Selectors are the DKIM selectors named for every domain (the flag, the
	// policy file). Guess says when CommonDKIMSelectors are added.
	Selectors []Selector
	Guess     GuessPolicy
	// ZoneNames lists the names the zone files hold below a name (nil
	// without --zone): in zone mode every selector the zone publishes is
	// looked up.
	ZoneNames func(under string) []string
	// ExtraZoneNames lists names from other zone files that must be looked
	// up too (the CI gate asks both states for the selectors either one
	// publishes).
	ExtraZoneNames func(under string) []string
	// MTASTSPolicyFile is read as the domain's MTA-STS policy instead of
	// fetching it (--mta-sts-policy, or the baseline's policy file).
	MTASTSPolicyFile string
	// ZoneFiles are this state's zone files (nil for live DNS): whether a
	// domain's data comes from them, and the parent's delegation they hold.
	ZoneFiles *resolver.Zone
	// NameServers say whether the zone's servers are asked directly.
	NameServers NSOptions
	// DNSBL are the blocklists the mail addresses are looked up on; none:
	// no blocklist is asked (--no-dnsbl, and every test but the DNSBL
	// scenarios: real lists are never queried by tests).
	DNSBL []dnsbl.List
	Now   func() time.Time
}

// Domain is everything gathered about one domain.
type Domain struct {
	Name   string // lower case, without the trailing dot
	MX     MX
	SPF    *SPFTree
	DMARC  *DMARC
	DKIM   DKIM
	MTASTS MTASTS
	TLSRPT TLSRPT
	DNSSEC DNSSEC
	PTR    PTR
	NS     NS
	DANE   DANE
	BIMI   BIMI
	DNSBL  DNSBL
	// Gathered is when gathering ended: the judges' clock for validity
	// periods, so that judging is a pure function of the facts.
	Gathered time.Time
}

// Gather gathers every fact about domain (lower case, validated) at once.
// Chains of dependent lookups (MX → addresses → PTR → forward; DMARC →
// report authorisations; MTA-STS record → policy) proceed independently.
func Gather(ctx context.Context, env *Env, domain string) *Domain {
	return GatherWith(ctx, env, domain, nil)
}

// GatherWith is Gather that calls onMX with the MX facts (hosts and their
// addresses) as soon as they are complete, while the rest is still being
// gathered: the probes of the MX hosts start there. onMX must not modify
// them.
func GatherWith(ctx context.Context, env *Env, domain string, onMX func(*MX)) *Domain {
	r := env.Resolver
	d := &Domain{Name: trimDot(domain)}
	dl := env.Dialer
	if dl == nil {
		dl = &dialer.Dialer{Resolver: r}
	}
	// Lookups that need the answers of others wait on these; everything
	// else starts at once.
	mxDone, spfDone, dmarcDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		d.MX = GatherMX(ctx, r, d.Name)
		close(mxDone)
		if onMX != nil {
			wg.Go(func() { onMX(&d.MX) })
		}
		wg.Go(func() { d.DANE = gatherDANE(ctx, r, &d.MX) })
		d.PTR = gatherPTR(ctx, r, d.MX.Targets())
	})
	wg.Go(func() {
		d.SPF = GatherSPF(ctx, r, d.Name)
		close(spfDone)
	})
	wg.Go(func() {
		d.DMARC = DiscoverDMARC(ctx, r, d.Name)
		close(dmarcDone)
	})
	wg.Go(func() { d.DKIM = gatherDKIM(ctx, r, d.Name, env.selectors(d.Name), env.Guess == GuessUnlessNamed) })
	wg.Go(func() { d.MTASTS = gatherMTASTS(ctx, r, dl, d.Name, env.MTASTSPolicyFile) })
	wg.Go(func() { d.TLSRPT = gatherTLSRPT(ctx, r, d.Name) })
	wg.Go(func() { d.DNSSEC = gatherDNSSEC(ctx, r, d.Name) })
	wg.Go(func() { d.NS = gatherNS(ctx, env, d.Name) })
	wg.Go(func() {
		d.BIMI = gatherBIMI(ctx, r, dl, d.Name, func() string {
			<-dmarcDone
			return d.DMARC.OrgDomain
		})
	})
	wg.Go(func() {
		<-mxDone
		<-spfDone
		wg.Go(func() { d.SPF.MXChecks = checkMXAuthorized(ctx, r, d.Name, &d.MX, d.SPF) })
		d.DNSBL = gatherDNSBL(ctx, r, env.DNSBL, &d.MX, d.SPF)
	})
	wg.Wait()
	d.DMARC.NonExistent = nonExistent(&d.MX)
	d.Gathered = time.Now()
	if env.Now != nil {
		d.Gathered = env.Now()
	}
	return d
}

// GuessPolicy says when the common DKIM selectors are guessed.
type GuessPolicy int

const (
	// GuessAlways adds the guesses to the selectors named (the zero value,
	// and what the CI gate needs: a common selector that the change
	// removes must be seen in both states).
	GuessAlways GuessPolicy = iota
	// GuessUnlessNamed guesses only when no selector is named with the flag
	// or the policy file: then the named ones are where mail is signed, and
	// 36 more queries a domain say nothing the user asked about (bulk
	// audits of lists with known selectors). Its guesses also wait for a
	// cheaper first pass (see gatherDKIM): one more round trip, off the
	// audit's critical path, that spares them on domains with no DKIM.
	GuessUnlessNamed
	// GuessNever looks up only the selectors named or published in the
	// zone files.
	GuessNever
)

// selectors lists the DKIM selectors to ask for domain: those named, those
// the zone files publish, and the common guesses as env.Guess says.
func (env *Env) selectors(domain string) []Selector {
	lists := [][]Selector{env.Selectors}
	for _, names := range []func(string) []string{env.ZoneNames, env.ExtraZoneNames} {
		if names != nil {
			lists = append(lists, ZoneSelectors(names("_domainkey."+domain), domain))
		}
	}
	switch env.Guess {
	case GuessAlways:
		lists = append(lists, Guesses())
	case GuessUnlessNamed:
		if !slices.ContainsFunc(env.Selectors, func(s Selector) bool { return s.Source.Named() }) {
			lists = append(lists, Guesses())
		}
	}
	return DKIMSelectors(lists...)
}

// ZoneFile names the zone file that holds the domain (the file of its
// zone's SOA, MX or apex TXT records), "" for live DNS.
func (d *Domain) ZoneFile() string {
	answers := []*resolver.Answer{d.DNSSEC.SOA.Answer, d.MX.Lookup.Answer}
	if d.SPF != nil {
		answers = append(answers, d.SPF.Root.Answer)
	}
	for _, a := range answers {
		if a == nil {
			continue
		}
		for _, o := range a.Origins {
			if o.File != "" {
				return o.File
			}
		}
	}
	return ""
}

// nonExistent applies RFC 9091 §2.7, which RFC 9989 takes for np: a domain
// does not exist when its A, AAAA and MX queries all returned NXDOMAIN or
// NODATA. A failed query leaves it unknown, and unknown counts as existing.
func nonExistent(mx *MX) bool {
	// The MX gathering already holds what decides: NXDOMAIN, MX records,
	// or, without MX, the domain's own addresses (the implicit MX). No
	// lookup of its own, and unknown (a failed lookup) counts as existing.
	switch {
	case !mx.Lookup.OK():
		return false
	case mx.Lookup.Answer.NXDomain():
		return true
	case len(mx.Lookup.RRs()) > 0 || mx.Implicit == nil:
		return false
	}
	self := mx.Implicit
	if !self.A.OK() || !self.AAAA.OK() {
		return false
	}
	return dmarc.NonExistent(len(self.V4()) > 0, len(self.V6()) > 0, false)
}
