package gate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
	"gopkg.in/yaml.v3"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// Policy is a parsed --policy file: what the proposed state must satisfy,
// and which findings the team has accepted for a while.
type Policy struct {
	// File is the path the policy was read from; findings point at it.
	File    string
	Require Requirements
	Allow   []Allowance
}

// Requirements are the `require:` section. A zero value (nil, "") means
// "not required". Each Line field is the line of that key in File.
type Requirements struct {
	// MX lists exactly the MX hosts the domain must have, lower case and
	// fully qualified; "." requires a null MX (RFC 7505).
	MX     []string
	MXLine int
	// DMARCPolicy is the weakest acceptable p=: none, quarantine or reject.
	DMARCPolicy     string
	DMARCPolicyLine int
	// DKIMSelectors must each publish a valid key.
	DKIMSelectors     []string
	DKIMSelectorsLine int
	// SPFMaxLookups, when not nil, caps the SPF DNS-querying terms
	// (RFC 7208 §4.6.4 allows 10).
	SPFMaxLookups     *int
	SPFMaxLookupsLine int
	// MTASTSMode is the weakest acceptable MTA-STS mode: none, testing or
	// enforce.
	MTASTSMode     string
	MTASTSModeLine int
}

// Allowance is one `allow:` entry: a finding ID the team accepts, why, and
// until when (inclusive, a calendar date in UTC).
type Allowance struct {
	ID     string
	Reason string
	Until  time.Time
	Line   int
}

// UntilText is Until as written in the file.
func (a Allowance) UntilText() string { return a.Until.Format(time.DateOnly) }

// Expired reports whether the allowance no longer applies on now's date
// (UTC): an entry "until: 2027-06-30" still applies all of that day.
func (a Allowance) Expired(now time.Time) bool {
	today := now.UTC().Format(time.DateOnly)
	return a.UntilText() < today
}

// PolicyError says why a policy file is invalid; the CLI prints it as is
// and exits 2.
type PolicyError struct {
	File   string
	Line   int // 0 when the problem is not on one line (unreadable file)
	Reason string
	Err    error // the underlying error, if any
}

func (e *PolicyError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
	}
	return e.File + ": " + e.Reason
}

func (e *PolicyError) Unwrap() error { return e.Err }

// LoadPolicy reads and validates a policy file. Unknown keys, wrong types and
// missing allow fields are errors that name the file and line, so a typo
// never silently weakens the gate.
func LoadPolicy(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &PolicyError{File: path, Reason: err.Error(), Err: err}
	}
	return ParsePolicy(path, data)
}

// ParsePolicy is LoadPolicy on a file already read; file names it in errors.
func ParsePolicy(file string, data []byte) (*Policy, error) {
	p := &policyParser{file: file}
	pol, err := p.parse(data)
	if err != nil {
		return nil, err
	}
	return pol, nil
}

// DMARC policies and MTA-STS modes from weakest to strongest: a requirement
// is met by its own word or any later one.
var (
	dmarcStrength  = []string{"none", "quarantine", "reject"} // RFC 7489 §6.3 p=
	mtastsStrength = []string{"none", "testing", "enforce"}   // RFC 8461 §5 mode
)

const (
	maxSPFLookups  = 10 // RFC 7208 §4.6.4
	requireKeys    = "mx, dmarc_policy, dkim_selectors, spf_max_lookups, mta_sts_mode"
	allowKeys      = "id, reason, until"
	topKeys        = "require, allow"
	policyDateHint = "a date written YYYY-MM-DD"
)

func strength(scale []string, word string) int {
	for i, w := range scale {
		if w == word {
			return i
		}
	}
	return -1
}

type policyParser struct{ file string }

func (p *policyParser) errorf(n *yaml.Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &PolicyError{File: p.file, Line: line, Reason: fmt.Sprintf(format, args...)}
}

func (p *policyParser) parse(data []byte) (*Policy, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, p.yamlError(err)
	}
	if len(doc.Content) == 0 {
		return nil, p.errorf(nil, "the policy is empty: expected %s", topKeys)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, p.errorf(&extra, "a policy file holds one YAML document")
	}
	root := doc.Content[0]
	pol := &Policy{File: p.file}
	err := p.mapping(root, "the policy", topKeys, func(key string, k, v *yaml.Node) error {
		switch key {
		case "require":
			return p.require(v, &pol.Require)
		case "allow":
			a, err := p.allow(v)
			pol.Allow = a
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return pol, nil
}

// yamlError turns yaml.v3's "yaml: line N: reason" into FILE:N: reason.
func (p *policyParser) yamlError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, reason, ok := strings.Cut(rest, ": "); ok {
			if n, convErr := strconv.Atoi(num); convErr == nil {
				return &PolicyError{File: p.file, Line: n, Reason: reason, Err: err}
			}
		}
	}
	return &PolicyError{File: p.file, Reason: msg, Err: err}
}

// mapping walks a mapping node, rejecting keys not listed in known (comma
// separated) and keys given twice.
func (p *policyParser) mapping(n *yaml.Node, what, known string, each func(key string, k, v *yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		return p.errorf(n, "%s must be a mapping of %s", what, known)
	}
	seen := map[string]bool{}
	allowed := map[string]bool{}
	for _, k := range strings.Split(known, ", ") {
		allowed[k] = true
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return p.errorf(k, "%s: keys must be plain words", what)
		}
		if !allowed[k.Value] {
			return p.errorf(k, "unknown key %q in %s (known: %s)", k.Value, what, known)
		}
		if seen[k.Value] {
			return p.errorf(k, "%q is given twice in %s", k.Value, what)
		}
		seen[k.Value] = true
		if err := each(k.Value, k, v); err != nil {
			return err
		}
	}
	return nil
}

func (p *policyParser) require(n *yaml.Node, r *Requirements) error {
	return p.mapping(n, "require", requireKeys, func(key string, k, v *yaml.Node) error {
		switch key {
		case "mx":
			hosts, err := p.names(v, "require.mx", true)
			if err != nil {
				return err
			}
			if len(hosts) == 0 {
				return p.errorf(v, `require.mx needs at least one host (use "." to require a null MX)`)
			}
			r.MX, r.MXLine = hosts, k.Line
		case "dmarc_policy":
			w, err := p.word(v, "require.dmarc_policy", dmarcStrength)
			if err != nil {
				return err
			}
			r.DMARCPolicy, r.DMARCPolicyLine = w, k.Line
		case "dkim_selectors":
			sels, err := p.names(v, "require.dkim_selectors", false)
			if err != nil {
				return err
			}
			if len(sels) == 0 {
				return p.errorf(v, "require.dkim_selectors needs at least one selector")
			}
			r.DKIMSelectors, r.DKIMSelectorsLine = sels, k.Line
		case "spf_max_lookups":
			n, err := p.scalar(v, "require.spf_max_lookups")
			if err != nil {
				return err
			}
			max, convErr := strconv.Atoi(n.Value)
			if convErr != nil || max < 0 || max > maxSPFLookups {
				return p.errorf(v, "require.spf_max_lookups must be a whole number from 0 to %d (the limit of RFC 7208 §4.6.4), not %q", maxSPFLookups, n.Value)
			}
			r.SPFMaxLookups, r.SPFMaxLookupsLine = &max, k.Line
		case "mta_sts_mode":
			w, err := p.word(v, "require.mta_sts_mode", mtastsStrength)
			if err != nil {
				return err
			}
			r.MTASTSMode, r.MTASTSModeLine = w, k.Line
		}
		return nil
	})
}

func (p *policyParser) allow(n *yaml.Node) ([]Allowance, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, p.errorf(n, "allow must be a list of entries with %s", allowKeys)
	}
	var out []Allowance
	for _, e := range n.Content {
		a := Allowance{Line: e.Line}
		var untilSet bool
		err := p.mapping(e, "an allow entry", allowKeys, func(key string, k, v *yaml.Node) error {
			s, err := p.scalar(v, "allow."+key)
			if err != nil {
				return err
			}
			val := strings.TrimSpace(s.Value)
			switch key {
			case "id":
				if _, ok := finding.Lookup(val); !ok {
					return p.errorf(v, "allow: unknown finding ID %q (see `mailcheck explain`)", val)
				}
				if val == "policy.allow-expired" {
					return p.errorf(v, "allow: policy.allow-expired cannot itself be allowed; extend or remove the expired entry")
				}
				a.ID = val
			case "reason":
				if val == "" {
					return p.errorf(v, "allow: the reason must not be empty")
				}
				a.Reason = val
			case "until":
				t, err := time.Parse(time.DateOnly, val)
				if err != nil {
					return p.errorf(v, "allow: until must be %s, not %q", policyDateHint, val)
				}
				a.Until, untilSet = t, true
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		var missing []string
		if a.ID == "" {
			missing = append(missing, "id")
		}
		if a.Reason == "" {
			missing = append(missing, "reason")
		}
		if !untilSet {
			missing = append(missing, "until")
		}
		if len(missing) > 0 {
			return nil, p.errorf(e, "allow entry lacks %s: every accepted finding needs an id, a reason and an expiry", strings.Join(missing, ", "))
		}
		out = append(out, a)
	}
	return out, nil
}

func (p *policyParser) scalar(n *yaml.Node, what string) (*yaml.Node, error) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return nil, p.errorf(n, "%s needs a single value", what)
	}
	return n, nil
}

// word reads a scalar that must be one of scale's words.
func (p *policyParser) word(n *yaml.Node, what string, scale []string) (string, error) {
	s, err := p.scalar(n, what)
	if err != nil {
		return "", err
	}
	w := strings.ToLower(strings.TrimSpace(s.Value))
	if strength(scale, w) < 0 {
		return "", p.errorf(n, "%s must be one of %s, not %q", what, strings.Join(scale, ", "), s.Value)
	}
	return w, nil
}

// names reads a list of DNS names (one bare name is taken as a list of
// one). hosts are made fully qualified; selectors stay relative.
func (p *policyParser) names(n *yaml.Node, what string, hosts bool) ([]string, error) {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	var out []string
	for _, it := range items {
		s, err := p.scalar(it, what)
		if err != nil {
			return nil, err
		}
		v := strings.ToLower(strings.TrimSpace(s.Value))
		if hosts && v == "." {
			out = append(out, ".")
			continue
		}
		if !validName(v) {
			return nil, p.errorf(it, "%s: %q is not a valid DNS name", what, s.Value)
		}
		if hosts {
			v = dns.Fqdn(v)
		} else {
			v = strings.TrimSuffix(v, ".")
		}
		out = append(out, v)
	}
	return out, nil
}

// validName accepts host names and DKIM selectors: dot-separated labels of
// 1 to 63 letters, digits, hyphens or underscores (RFC 1035 §2.3.1, with
// the underscore that service labels and some selectors use), at most 253
// characters in all, an optional trailing dot.
func validName(name string) bool {
	name = strings.TrimSuffix(name, ".")
	if name == "" || len(name) > 253 {
		return false
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
