// Package bimi reads what Brand Indicators for Message Identification
// publishes: the assertion record at <selector>._bimi.<domain>
// (draft-brand-indicators-for-message-identification), the SVG logo it
// points to (the SVG Tiny Portable/Secure profile, draft-svg-tiny-ps-
// abrotman), the evidence document (a Verified Mark Certificate chain), and
// whether the domain's DMARC policy lets receivers show the logo at all.
// It does no I/O: the caller fetches, within its deadlines and size
// bounds, and passes the bytes.
package bimi

import (
	"net/url"
	"strings"

	"github.com/mailcheck-cli/mailcheck/checks/dmarc"
	"github.com/mailcheck-cli/mailcheck/checks/internal/reason"
	"github.com/mailcheck-cli/mailcheck/finding"
)

// DefaultSelector is the selector receivers use when a message names none.
const DefaultSelector = "default"

// RecordName is the name of the assertion record for a selector.
func RecordName(selector, domain string) string {
	return selector + "._bimi." + strings.TrimSuffix(domain, ".")
}

// Record is a parsed assertion record.
type Record struct {
	// Location is the l= URI of the logo; "" when empty.
	Location string
	// Evidence is the a= URI of the evidence document (a VMC); "" when
	// empty or absent.
	Evidence string
	// Unknown lists tags the draft does not define; receivers ignore them.
	Unknown []string
}

// Declined reports an explicit refusal to take part (both l= and a=
// empty: "v=BIMI1; l=; a=;"), which is not the same as publishing no
// record: it stops a parent domain's logo from being used.
func (r *Record) Declined() bool { return r.Location == "" && r.Evidence == "" }

// SyntaxError names the tag at fault.
type SyntaxError struct {
	Tag    string // "l", "a"; "" for the record as a whole
	Reason finding.Text
}

func (e *SyntaxError) Error() string { return e.text().String() }

// In writes the error in language l: a judge's sentence that holds it is
// translated whole.
func (e *SyntaxError) In(l finding.Lang) string { return e.text().In(l) }

func (e *SyntaxError) text() finding.Text {
	if e.Tag == "" {
		return e.Reason
	}
	return finding.T("%s=: %s", e.Tag, e.Reason)
}

// IsBIMI reports whether a TXT record is meant as a BIMI assertion
// record: its first tag is v=BIMI1, in any case. The draft has receivers
// ignore records that do not start with the v tag of the current version,
// so that other TXT records at the name (a wildcard's "v=spf1 -all", a
// verification token) are no BIMI record at all; a v=bimi1 in the wrong
// case is kept, and ParseRecord reports it, since receivers must not fix
// it.
func IsBIMI(txt string) bool {
	first, _, _ := strings.Cut(txt, ";")
	name, value, ok := strings.Cut(first, "=")
	return ok && strings.Trim(name, " \t") == "v" && strings.EqualFold(strings.Trim(value, " \t"), "BIMI1")
}

// ParseRecord parses an assertion record, its TXT strings already joined.
// The draft: "Mail receivers MUST NOT attempt to fix syntactical or
// capitalization errors" — v must be exactly BIMI1 and first; l= is
// required (empty to decline), a= optional; each holds at most one HTTPS
// URI with a fully qualified host.
func ParseRecord(txt string) (*Record, error) {
	r := &Record{}
	seen := map[string]bool{}
	hasL := false
	for i, part := range strings.Split(txt, ";") {
		part = strings.Trim(part, " \t\r\n")
		if part == "" {
			continue
		}
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			return nil, &SyntaxError{Reason: finding.T("%q is not a tag=value pair", part)}
		}
		name = strings.Trim(name, " \t\r\n")
		value = strings.Trim(value, " \t\r\n")
		if seen[name] {
			// The record uses DKIM's tag-list syntax, where a repeated
			// tag invalidates the list (RFC 6376 §3.2).
			return nil, &SyntaxError{Tag: name, Reason: finding.T("the tag appears twice")}
		}
		seen[name] = true
		if i == 0 {
			if name != "v" || value != "BIMI1" {
				return nil, &SyntaxError{Tag: "v", Reason: finding.T("the record must start with v=BIMI1, not %q", part)}
			}
			continue
		}
		switch name {
		case "v":
			return nil, &SyntaxError{Tag: "v", Reason: finding.T("v must be the first tag")}
		case "l":
			hasL = true
			if err := checkURI(value); err != nil {
				return nil, &SyntaxError{Tag: "l", Reason: reason.Of(err)}
			}
			r.Location = value
		case "a":
			if err := checkURI(value); err != nil {
				return nil, &SyntaxError{Tag: "a", Reason: reason.Of(err)}
			}
			r.Evidence = value
		default:
			r.Unknown = append(r.Unknown, name)
		}
	}
	if !seen["v"] {
		return nil, &SyntaxError{Tag: "v", Reason: finding.T("no v=BIMI1 tag")}
	}
	if !hasL {
		return nil, &SyntaxError{Tag: "l", Reason: finding.T("no l= tag (leave it empty to decline BIMI)")}
	}
	return r, nil
}

// checkURI accepts "" or one https URI with a fully qualified host.
// Commas must be percent-encoded: an unencoded one is read as a list,
// which the draft no longer allows.
func checkURI(v string) error {
	if v == "" {
		return nil
	}
	if strings.Contains(v, ",") {
		return reason.New(finding.T("%q holds a comma: one URI only (encode a comma in it as %%2C)", v))
	}
	u, err := url.Parse(v)
	if err != nil {
		return reason.New(finding.T("%q is not a URI", v))
	}
	if u.Scheme != "https" {
		return reason.New(finding.T("%q: only https is allowed", v))
	}
	host := u.Hostname()
	if host == "" || !strings.Contains(strings.TrimSuffix(host, "."), ".") {
		return reason.New(finding.T("%q does not name a fully qualified host", v))
	}
	return nil
}

// DMARCBlock says why a DMARC policy stops receivers from showing a BIMI
// logo; "" when it does not. The draft's receiver steps: no BIMI when the
// policy that applies is none, when a subdomain policy is none, or when
// p=quarantine applies to less than 100% of mail (pct).
type DMARCBlock string

const (
	BlockNoPolicy      DMARCBlock = "no DMARC policy"
	BlockPolicyNone    DMARCBlock = "p=none"
	BlockSubdomainNone DMARCBlock = "sp=none"
	BlockPartial       DMARCBlock = "p=quarantine with pct below 100"
)

// DMARCBlocks applies those steps to the DMARC record that applies to the
// domain (nil when it has none). applied is the policy the receiver uses
// (dmarc.Record.PolicyFor).
func DMARCBlocks(rec *dmarc.Record, applied dmarc.Policy) DMARCBlock {
	switch {
	case rec == nil || applied == "":
		return BlockNoPolicy
	case applied == dmarc.None:
		return BlockPolicyNone
	case rec.SubdomainPolicy == dmarc.None:
		return BlockSubdomainNone
	case applied == dmarc.Quarantine && rec.HasPercent && rec.Percent < 100:
		return BlockPartial
	}
	return ""
}
