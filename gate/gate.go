// Package gate is the CI gate of `mailcheck domain`: it decides whether a
// proposed DNS change (zone files in a pull request) may be merged. It asks
// no DNS question: the audit pipeline (package audit) gathers the facts of
// both states (package facts) and hands them here.
//
// The pipeline uses it in this order:
//
//  1. The proposed state is gathered from the proposed zone files (--zone)
//     and judged (package checks); with --baseline, the baseline state (the
//     baseline zone files beside every other --zone, or live DNS) likewise.
//  2. Compare(baseline, proposed) marks every proposed finding "new" or
//     "unchanged" and lists what the change fixes as "fixed", so that only
//     what the change introduces counts for --fail-on (finding.Report.Worst).
//  3. ChangeRules(base, proposed) looks at the difference itself for changes
//     that break mail in flight even when both states are valid on their
//     own: a DKIM selector withdrawn too early, an MTA-STS policy edited
//     without a new id, a new MX the published MTA-STS policy does not
//     cover, a changed record whose old value stays cached.
//  4. With --policy: LoadPolicy reads the expectations file (a *PolicyError,
//     exit 2, when it is invalid) and Policy.Evaluate adds policy.* findings
//     about the proposed facts, then applies the file's allow entries to
//     every finding: an accepted finding stays in the report, marked
//     Allowed, and does not count.
//
// Every finding this package makes carries its fix, and a Location (zone
// file and line of the proposed record, or the policy file and line of the
// requirement) whenever one is known, for SARIF results and annotations.
// A lookup that failed makes a finding inconclusive (severity error), never
// a violation.
package gate

import (
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/checks"
	"github.com/mailcheck-cli/mailcheck/facts"
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

// zoneFile names the zone file the proposed state of the domain was read
// from, found through the origin of any record gathered at the domain, so
// that a finding about a record that no longer exists can still point at
// the file to edit. nil for live DNS.
func zoneFile(d *facts.Domain) *finding.Location {
	if f := d.ZoneFile(); f != "" {
		return &finding.Location{File: f}
	}
	return nil
}
