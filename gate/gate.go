// Package gate is the CI gate of `mailcheck domain`: it decides whether a
// proposed DNS change (zone files in a pull request) may be merged.
//
// The command line drives it in this order:
//
//  1. Proposed run: checks.Run on a resolver that answers from the proposed
//     zone files (--zone).
//  2. Baseline run (with --baseline): checks.Run again on the current state,
//     the baseline zone files or live DNS.
//  3. Compare(baseline, proposed) marks every proposed finding "new" or
//     "unchanged" and lists what the change fixes as "fixed", so that only
//     what the change introduces counts for --fail-on (finding.Report.Worst).
//  4. ChangeRules(ctx, base, proposed, domain, opts) looks at the difference
//     itself for changes that break mail in flight even when both states are
//     valid on their own: a DKIM selector withdrawn too early, an MTA-STS
//     policy edited without a new id, a new MX the published MTA-STS policy
//     does not cover, a changed record whose old value stays cached.
//  5. With --policy: LoadPolicy reads the expectations file (a *PolicyError,
//     exit 2, when it is invalid) and Policy.Evaluate adds policy.* findings
//     about the proposed state, then applies the file's allow entries to
//     every finding: an accepted finding stays in the report, marked
//     Allowed, and does not count.
//
// A State describes one side: the resolver to ask (zone files, or live DNS
// through the CLI's cached chain) and where its MTA-STS policy document
// comes from (HTTPS through a dialer, or --mta-sts-policy FILE for the
// proposed side when the policy lives in the repository).
//
// Every finding this package makes carries its fix, and a Location (zone
// file and line of the proposed record, or the policy file and line of the
// requirement) whenever one is known, for SARIF results and annotations.
// A lookup that fails makes a finding inconclusive (severity error), never
// a violation.
package gate

import (
	"context"
	"github.com/mailcheck-cli/mailcheck/checks"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// subject names a DNS record set as the checks do: "example.com TXT".
func subject(name string, qtype uint16) string {
	return trimDot(name) + " " + dns.TypeToString[qtype]
}

func trimDot(name string) string {
	if len(name) > 1 && strings.HasSuffix(name, ".") {
		return name[:len(name)-1]
	}
	return name
}

// fqdn lower-cases a name and makes it absolute.
func fqdn(name string) string { return dns.Fqdn(strings.ToLower(strings.TrimSpace(name))) }

// sameHost compares host names as DNS does: without regard to case, and
// with or without the trailing dot.
func sameHost(a, b string) bool { return fqdn(a) == fqdn(b) }

// locationOf returns where record i of ans was read, or nil for live DNS.
func locationOf(ans *resolver.Answer, i int) *finding.Location {
	if ans == nil || i < 0 || i >= len(ans.Origins) || ans.Origins[i].File == "" {
		return nil
	}
	o := ans.Origins[i]
	return &finding.Location{File: o.File, Line: o.Line}
}

// lookupFinding is the checks' rule for a failed lookup, so that the gate
// and the audit report one alike.
func lookupFinding(what finding.Text, name string, qtype uint16, err error) finding.Finding {
	return checks.LookupProblem(what, name, qtype, err)
}

// inconclusive rewrites f (a requirement or change finding) to say that it
// could not be decided because of err: severity error, or info when the
// name lies outside the given zones (SPEC: never a false "missing").
func inconclusive(f finding.Finding, what finding.Text, err error) finding.Finding {
	if resolver.IsOutOfZone(err) {
		f.Severity = finding.Info
		f.SetTitle(finding.T("%s not checked: the name is outside the given zones and no --resolver was given", what))
	} else {
		f.Severity = finding.Error
		lf := checks.LookupProblem(what, "", 0, err)
		f.SetTitle(lf.TitleText())
	}
	f.Evidence = append(f.Evidence, err.Error())
	return f
}

// zoneFile names the zone file the proposed state of domain was read from,
// found through the origin of its SOA (or of any record at the apex), so
// that a finding about a record that no longer exists can still point at
// the file to edit. Empty for live DNS.
func zoneFile(ctx context.Context, r resolver.Resolver, domain string) *finding.Location {
	for _, qt := range []uint16{dns.TypeSOA, dns.TypeNS, dns.TypeMX, dns.TypeTXT} {
		ans, err := r.Query(ctx, fqdn(domain), qt)
		if err != nil {
			continue
		}
		for i := range ans.RRs {
			if loc := locationOf(ans, i); loc != nil {
				return &finding.Location{File: loc.File}
			}
		}
	}
	return nil
}
