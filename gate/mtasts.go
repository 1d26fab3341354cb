package gate

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/mailcheck-cli/mailcheck/checks/mtasts"
	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
)

// stsPolicy is a parsed MTA-STS policy (RFC 8461 §3.2) and where it was
// read.
type stsPolicy struct {
	*mtasts.Policy
	// Where names the source: a file, or the HTTPS URL.
	Where string
	// ModeLocation is the file and line of the mode field when the policy
	// was read from a file.
	ModeLocation *finding.Location
}

// sameAs compares two policies by meaning: line endings, field order, case
// and the order of mx lines do not matter; extension fields, which senders
// ignore, do not either.
func (p *stsPolicy) sameAs(q *stsPolicy) bool {
	return p.Version == q.Version && p.Mode == q.Mode && p.MaxAge == q.MaxAge && slices.Equal(p.mxSet(), q.mxSet())
}

func (p *stsPolicy) mxSet() []string {
	out := make([]string, len(p.MX))
	for i, m := range p.MX {
		out[i] = strings.ToLower(m)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (p *stsPolicy) mode() string { return string(p.Mode) }

func (p *stsPolicy) summary() string {
	return fmt.Sprintf("version: %s; mode: %s; mx: %s; max_age: %d", p.Version, p.Mode, strings.Join(p.mxSet(), ", "), p.MaxAge)
}

// newSTSPolicy records where a parsed policy came from; the mode's line
// is kept for a policy read from a file (SARIF, annotations).
func newSTSPolicy(pol *mtasts.Policy, where string) *stsPolicy {
	p := &stsPolicy{Policy: pol, Where: where}
	if line, ok := pol.Lines["mode"]; ok && !strings.HasPrefix(where, "https://") {
		p.ModeLocation = &finding.Location{File: where, Line: line}
	}
	return p
}

// policyOf reads the policy the audit gathered for one state: the file
// (--mta-sts-policy, --baseline-mta-sts-policy) or the document fetched
// over HTTPS, judged with the MTA-STS check's own reader and fetcher (RFC
// 8461 §3.3: 200 only, no redirects, text/plain, bounded size). The error
// is a *mtasts.ParseError for a policy that was read but is invalid.
func policyOf(m *facts.MTASTS) (*stsPolicy, error) {
	p := m.Policy
	if p == nil {
		return nil, errors.New("no MTA-STS policy was read (no _mta-sts record)")
	}
	if p.Err != nil {
		if p.FromFile {
			return nil, fmt.Errorf("%s: %w", p.Source, p.Err)
		}
		return nil, fmt.Errorf("fetching %s: %w", p.Source, p.Err)
	}
	return newSTSPolicy(p.Parsed, p.Source), nil
}

// stsRecord is the _mta-sts TXT record of one state.
type stsRecord struct {
	Present bool   // exactly one valid v=STSv1 record
	ID      string // its id=
	Text    string
	Loc     *finding.Location
}

// stsRecordOf reads the _mta-sts TXT record of one state. RFC 8461 §3.1:
// records not starting with "v=STSv1;" are discarded; anything but exactly
// one valid record means the domain has no policy.
func stsRecordOf(m *facts.MTASTS) stsRecord {
	if len(m.Records) != 1 {
		return stsRecord{}
	}
	t := m.Records[0]
	rec := stsRecord{Text: t.Text, Loc: m.Lookup.Location(t.Index)}
	if parsed, err := mtasts.ParseRecord(t.Text); err == nil {
		rec.Present, rec.ID = true, parsed.ID
	}
	if !rec.Present {
		return stsRecord{}
	}
	return rec
}
