package main

import (
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/audit"
	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// The synthetic domains are healthy: a benchmark over them measures the
// audit, not failures. Each passes every DNS check but MTA-STS (absent:
// fetching a policy is HTTPS, not DNS) and DNSSEC (unsigned), both info.
func TestSyntheticDomainsAreHealthy(t *testing.T) {
	z, err := newSynthetic(300)
	if err != nil {
		t.Fatal(err)
	}
	addr, stop := serve(z, 0)
	defer stop()
	live, err := resolver.NewLive([]string{addr}, resolver.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := resolver.NewCache(live)
	a := audit.New(audit.Options{
		Proposed:  audit.State{Resolver: r},
		Selectors: []string{"s2026"},
		DKIMGuess: facts.GuessUnlessNamed,
		Probe:     audit.NoProbe,
	})
	for _, i := range []int{0, 257, 299} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		rep := a.Domain(ctx, z.domain(i))
		cancel()
		got := map[string]finding.Severity{}
		for _, f := range rep.Findings {
			got[f.ID] = f.Severity
			if f.Severity >= finding.Warn {
				t.Errorf("%s: %s %s %s: %s", rep.Target, f.Severity, f.ID, f.Subject, f.Title)
			}
		}
		for _, id := range []string{"mx.ok", "spf.ok", "dmarc.ok", "dkim.ok", "tlsrpt.ok", "ptr.ok"} {
			if got[id] != finding.Pass {
				t.Errorf("%s: no %s in %v", rep.Target, id, got)
			}
		}
	}
	// Beyond N, nothing exists.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if ans, err := r.Query(ctx, z.domain(300), dns.TypeMX); err != nil || !ans.NXDomain() {
		t.Errorf("domain N: %v %v, want NXDOMAIN", ans, err)
	}
}
