package gate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/checks"
	"github.com/mailcheck-cli/mailcheck/checks/mtasts"
	"github.com/mailcheck-cli/mailcheck/dialer"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// MTASTSSource says where one state's MTA-STS policy document comes from:
// a local file (--mta-sts-policy, when the policy lives in the repository
// beside the zone), or else HTTPS through Dialer. Neither set means the
// policy document is not available to the gate.
type MTASTSSource struct {
	File   string
	Dialer *dialer.Dialer
}

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

// load reads the policy document from src: the file, or HTTPS, with the
// MTA-STS check's own reader and fetcher, so that the gate and the check
// judge a policy alike (RFC 8461 §3.3: 200 only, no redirects, text/plain,
// bounded size).
func (src MTASTSSource) load(ctx context.Context, domain string) (*stsPolicy, error) {
	if src.File != "" {
		pol, _, err := checks.ReadMTASTSPolicyFile(src.File)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src.File, err)
		}
		return newSTSPolicy(pol, src.File), nil
	}
	if src.Dialer == nil {
		return nil, errors.New("no MTA-STS policy source (neither a policy file nor HTTPS)")
	}
	url := checks.MTASTSPolicyURL(domain)
	pol, _, err := checks.FetchMTASTSPolicy(ctx, src.Dialer, domain)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", url, err)
	}
	return newSTSPolicy(pol, url), nil
}

// stsRecord is the _mta-sts TXT record of one state.
type stsRecord struct {
	Present bool   // exactly one valid v=STSv1 record
	ID      string // its id=
	Text    string
	Loc     *finding.Location
}

// lookupSTSRecord reads _mta-sts.<domain> TXT. RFC 8461 §3.1: records not
// starting with "v=STSv1;" are discarded; anything but exactly one valid
// record means the domain has no policy.
func lookupSTSRecord(ctx context.Context, r resolver.Resolver, domain string) (stsRecord, *resolver.Answer, error) {
	name := "_mta-sts." + fqdn(domain)
	ans, _, err := resolver.Follow(ctx, r, name, dns.TypeTXT)
	if err != nil {
		return stsRecord{}, nil, err
	}
	var found []stsRecord
	for i, rr := range ans.RRs {
		t, ok := rr.(*dns.TXT)
		if !ok {
			continue
		}
		text := strings.Join(t.Txt, "")
		if !mtasts.IsRecord(text) {
			continue
		}
		rec := stsRecord{Text: text, Loc: locationOf(ans, i)}
		if parsed, err := mtasts.ParseRecord(text); err == nil {
			rec.Present, rec.ID = true, parsed.ID
		}
		found = append(found, rec)
	}
	if len(found) != 1 || !found[0].Present {
		return stsRecord{}, ans, nil
	}
	return found[0], ans, nil
}
