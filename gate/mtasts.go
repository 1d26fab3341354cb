package gate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"

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

// maxPolicySize bounds the policy document read from a peer; real
// policies are a few hundred bytes.
const maxPolicySize = 64 << 10

// stsPolicy is the part of an MTA-STS policy (RFC 8461 §3.2) that affects
// delivery; extension fields are ignored as the RFC says senders must.
type stsPolicy struct {
	Version string
	Mode    string
	MX      []string // lower case, no trailing dot, sorted
	MaxAge  int
	// Where names the source: a file, or the HTTPS URL.
	Where string
	// Location is the file and line of the mode field when read from a file.
	ModeLocation *finding.Location
}

// sameAs compares two policies by meaning: line endings, field order and
// the order of mx lines do not matter.
func (p *stsPolicy) sameAs(q *stsPolicy) bool {
	return p.Version == q.Version && p.Mode == q.Mode && p.MaxAge == q.MaxAge && slices.Equal(p.MX, q.MX)
}

func (p *stsPolicy) summary() string {
	return fmt.Sprintf("version: %s; mode: %s; mx: %s; max_age: %d", p.Version, p.Mode, strings.Join(p.MX, ", "), p.MaxAge)
}

// covers reports whether host matches one of the policy's mx patterns.
func (p *stsPolicy) covers(host string) bool {
	for _, pat := range p.MX {
		if mxPatternMatches(pat, host) {
			return true
		}
	}
	return false
}

// mxPatternMatches implements RFC 8461 §4.1: a pattern is a host name, or
// "*." followed by a name, where the wildcard stands for exactly one
// leftmost label ("*.example.com" matches "mx.example.com", not
// "example.com" nor "a.b.example.com"). Names compare without regard to
// case or a trailing dot.
func mxPatternMatches(pattern, host string) bool {
	pattern = strings.TrimSuffix(strings.ToLower(pattern), ".")
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		label, parent, found := strings.Cut(host, ".")
		return found && label != "" && parent == rest
	}
	return pattern == host
}

// parseSTSPolicy parses a policy document. RFC 8461 §3.2: "key: value"
// lines separated by CRLF (LF accepted, as senders do), version STSv1,
// mode enforce|testing|none, one mx line per pattern (needed unless the
// mode is none), max_age in seconds up to 31557600.
func parseSTSPolicy(text, where string) (*stsPolicy, error) {
	p := &stsPolicy{MaxAge: -1, Where: where}
	for i, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("%s: line %d: %q is not \"key: value\"", where, i+1, line)
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		switch key {
		case "version":
			p.Version = value
		case "mode":
			p.Mode = value
			if !strings.HasPrefix(where, "https://") {
				p.ModeLocation = &finding.Location{File: where, Line: i + 1}
			}
		case "mx":
			p.MX = append(p.MX, strings.TrimSuffix(strings.ToLower(value), "."))
		case "max_age":
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 || n > 31557600 {
				return nil, fmt.Errorf("%s: line %d: max_age %q is not a number of seconds up to 31557600", where, i+1, value)
			}
			p.MaxAge = n
		}
	}
	switch {
	case p.Version != "STSv1":
		return nil, fmt.Errorf("%s: version is %q, want STSv1", where, p.Version)
	case strength(mtastsStrength, p.Mode) < 0:
		return nil, fmt.Errorf("%s: mode is %q, want enforce, testing or none", where, p.Mode)
	case p.MaxAge < 0:
		return nil, fmt.Errorf("%s: max_age is missing", where)
	case len(p.MX) == 0 && p.Mode != "none":
		return nil, fmt.Errorf("%s: no mx line", where)
	}
	slices.Sort(p.MX)
	p.MX = slices.Compact(p.MX)
	return p, nil
}

// policyURL is where RFC 8461 §3.3 says the policy is published.
func policyURL(domain string) string {
	return "https://mta-sts." + trimDot(fqdn(domain)) + "/.well-known/mta-sts.txt"
}

// load reads the policy document from src: the file, or HTTPS.
func (src MTASTSSource) load(ctx context.Context, domain string) (*stsPolicy, error) {
	if src.File != "" {
		data, err := os.ReadFile(src.File)
		if err != nil {
			return nil, err
		}
		return parseSTSPolicy(string(data), src.File)
	}
	if src.Dialer == nil {
		return nil, errors.New("no MTA-STS policy source (neither a policy file nor HTTPS)")
	}
	url := policyURL(domain)
	ctx, cancel := src.Dialer.Step(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := src.Dialer.HTTPClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", url, err)
	}
	defer resp.Body.Close()
	// RFC 8461 §3.3: only a 200 counts, redirects are not followed, and the
	// media type is text/plain.
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching %s: HTTP status %s", url, resp.Status)
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "text/plain" {
		return nil, fmt.Errorf("fetching %s: Content-Type %q, want text/plain", url, resp.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPolicySize+1))
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", url, err)
	}
	if len(body) > maxPolicySize {
		return nil, fmt.Errorf("fetching %s: the policy is larger than %d bytes", url, maxPolicySize)
	}
	return parseSTSPolicy(string(body), url)
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
		tags := parseTags(text)
		if len(tags) == 0 || tags[0].key != "v" || tags[0].value != "STSv1" {
			continue
		}
		rec := stsRecord{Text: text, Loc: locationOf(ans, i)}
		for _, tg := range tags[1:] {
			if tg.key == "id" {
				rec.ID = tg.value
			}
		}
		// RFC 8461 §3.1: id is 1 to 32 letters and digits.
		rec.Present = rec.ID != "" && len(rec.ID) <= 32 && isAlnum(rec.ID)
		found = append(found, rec)
	}
	if len(found) != 1 || !found[0].Present {
		return stsRecord{}, ans, nil
	}
	return found[0], ans, nil
}

func isAlnum(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

type tag struct{ key, value string }

// parseTags splits a "k=v; k=v" record (DKIM, DMARC, MTA-STS and TLS-RPT
// share the tag-list form of RFC 6376 §3.2) into its tags, in order. Tag
// names are case-sensitive there; the values are kept as written.
func parseTags(text string) []tag {
	var out []tag
	for _, part := range strings.Split(text, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			out = append(out, tag{key: part})
			continue
		}
		out = append(out, tag{key: strings.TrimSpace(k), value: strings.TrimSpace(v)})
	}
	return out
}
