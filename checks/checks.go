// Package checks judges a domain's mail DNS: one file per standard, each
// judge a pure function from the facts package's gathered values to
// findings. Judges ask no DNS question; package facts gathered every answer
// they read, once, concurrently.
package checks

import (
	"errors"
	"slices"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// Result is what a judge found. Detail holds lines for --verbose (the SPF
// include tree, for one).
type Result struct {
	Findings []finding.Finding
	Detail   []string
}

// Judge audits one standard from the gathered facts.
type Judge struct {
	Area string // the finding-ID prefix: "spf"
	Run  func(d *facts.Domain) Result
}

// All lists the judges in the order their findings are reported.
var All = []Judge{
	{"mx", judgeMX},
	{"spf", judgeSPF},
	{"dmarc", judgeDMARC},
	{"dkim", judgeDKIM},
	{"mtasts", judgeMTASTS},
	{"tlsrpt", judgeTLSRPT},
	{"dnssec", judgeDNSSEC},
	{"ptr", judgePTR},
	{"ns", judgeNS},
	{"dane", judgeDANE},
	{"bimi", judgeBIMI},
	{"dnsbl", judgeDNSBL},
}

// Run judges every standard and returns the findings in the order of All.
func Run(d *facts.Domain) Result {
	return RunJudges(d, All)
}

// RunJudges runs the given judges in order.
func RunJudges(d *facts.Domain, list []Judge) Result {
	var out Result
	for _, j := range list {
		r := j.Run(d)
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

// locate attaches the zone file and line of record i of the lookup's
// answer (when it came from a zone file) to f.
func locate(f *finding.Finding, l *facts.Lookup, i int) {
	if loc := l.Location(i); loc != nil {
		f.Location = loc
	}
}

// lookupProblem is LookupProblem for a failed facts.Lookup, about the name
// asked.
func lookupProblem(what finding.Text, l *facts.Lookup) finding.Finding {
	return LookupProblem(what, l.Name, l.Qtype, l.Err)
}

// failedName is the name and type of the question that failed inside err
// (a CNAME target, one family of a host), or name and qtype when err does
// not say.
func failedName(err error, name string, qtype uint16) (string, uint16) {
	var re *resolver.Error
	if errors.As(err, &re) && re.Name != "" {
		return re.Name, re.Qtype
	}
	return name, qtype
}

// sortFindings keeps a stable, readable order inside one area: worst first.
func sortFindings(fs []finding.Finding) {
	slices.SortStableFunc(fs, func(a, b finding.Finding) int { return int(b.Severity) - int(a.Severity) })
}
