// Package checks audits a domain's mail DNS: one file per standard, each
// check a function of (context, Env, domain) that returns findings. Run
// starts every check concurrently; DNS answers are shared through the
// resolver's per-run cache, so checks ask freely and the audit's wall time
// is its longest chain of dependent lookups.
package checks

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/dialer"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// Env is what every check may use. Build one per run.
type Env struct {
	Resolver resolver.Resolver // already cached and de-duplicated
	Dialer   *dialer.Dialer    // HTTPS for MTA-STS; resolves through Resolver
	Now      func() time.Time
	// DKIMSelectors are the selectors given with --dkim-selector; the DKIM
	// check adds its list of common selectors to them.
	DKIMSelectors []string
	// MTASTSPolicyFile, when set, is read as the domain's MTA-STS policy
	// instead of fetching it over HTTPS (--mta-sts-policy: a CI run on a
	// proposed zone whose policy file lives in the same repository).
	MTASTSPolicyFile string
}

func (e *Env) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// Result is what a check found. Detail holds lines for --verbose (the SPF
// include tree, for one).
type Result struct {
	Findings []finding.Finding
	Detail   []string
}

// Check audits one standard for one domain.
type Check struct {
	Area string // the finding-ID prefix: "spf"
	Run  func(ctx context.Context, env *Env, domain string) Result
}

// All lists the checks in the order their findings are reported.
var All = []Check{
	{"mx", checkMX},
	{"spf", checkSPF},
	{"dmarc", checkDMARC},
	{"dkim", checkDKIM},
	{"mtasts", checkMTASTS},
	{"tlsrpt", checkTLSRPT},
	{"dnssec", checkDNSSEC},
	{"ptr", checkPTR},
}

// Run runs every check on domain concurrently and returns their results in
// the order of All. domain must already be validated and lower case.
func Run(ctx context.Context, env *Env, domain string) Result {
	return RunChecks(ctx, env, domain, All)
}

// RunChecks runs the given checks concurrently, keeping their order.
func RunChecks(ctx context.Context, env *Env, domain string, list []Check) Result {
	results := make([]Result, len(list))
	var wg sync.WaitGroup
	for i, c := range list {
		wg.Go(func() { results[i] = c.Run(ctx, env, domain) })
	}
	wg.Wait()
	var out Result
	for _, r := range results {
		out.Findings = append(out.Findings, r.Findings...)
		out.Detail = append(out.Detail, r.Detail...)
	}
	return out
}

// LookupProblem turns a failed lookup into the finding that says so: info
// "not checked" for a name outside the given zones, otherwise an error
// (inconclusive) finding. Never a "missing" finding: the record may exist.
// what says which check could not run ("SPF", "the DMARC policy").
func LookupProblem(what finding.Text, name string, qtype uint16, err error) finding.Finding {
	subject := Subject(name, qtype)
	if resolver.IsOutOfZone(err) {
		return finding.New("dns.not-checked", subject, finding.T("%s not checked: %s is outside the given zones and no --resolver was given", what, trimDot(name)))
	}
	return finding.New("dns.lookup-failed", subject, finding.T("%s could not be checked: %s", what, errText(err)))
}

// Subject names a DNS record set as findings do: "example.com TXT".
func Subject(name string, qtype uint16) string {
	return trimDot(name) + " " + dns.TypeToString[qtype]
}

// errText says why a lookup failed: "SERVFAIL looking up example.com TXT".
func errText(err error) finding.Text {
	var re *resolver.Error
	if errors.As(err, &re) {
		return finding.T("%s looking up %s %s", re.Kind, trimDot(re.Name), dns.TypeToString[re.Qtype])
	}
	return finding.Verbatim(err.Error())
}

func trimDot(name string) string {
	if len(name) > 1 && name[len(name)-1] == '.' {
		return name[:len(name)-1]
	}
	return name
}

// locate attaches the zone file and line of the first record of ans (if
// it came from a zone file) to f.
func locate(f *finding.Finding, ans *resolver.Answer, rrIndex int) {
	if ans == nil || rrIndex < 0 || rrIndex >= len(ans.Origins) {
		return
	}
	o := ans.Origins[rrIndex]
	f.Location = &finding.Location{File: o.File, Line: o.Line}
}

// sortFindings keeps a stable, readable order inside one area: worst first.
func sortFindings(fs []finding.Finding) {
	slices.SortStableFunc(fs, func(a, b finding.Finding) int { return int(b.Severity) - int(a.Severity) })
}
