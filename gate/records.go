package gate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mailcheck-cli/mailcheck/checks/dkim"
	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
)

// dmarcState is the DMARC policy that applies to a domain, read from the
// audit's own discovery (facts.DMARC, RFC 9989 §4.10), so that the gate and
// the DMARC check never disagree.
type dmarcState struct {
	// Policy is the effective p= (or sp= when inherited): none, quarantine
	// or reject; empty when no DMARC policy applies.
	Policy string
	Text   string
	Loc    *finding.Location
	// Note explains an absent, inherited or odd policy for the evidence.
	Note string
}

// dmarcOf reads the policy that applies from discovery. A record that does
// not parse still counts as p=none when it asks for aggregate reports
// (RFC 7489 §6.6.3: receivers then apply no policy but send reports);
// otherwise no policy applies.
func dmarcOf(d *facts.DMARC) dmarcState {
	l := d.Applying
	if l == nil {
		for _, w := range d.Walk {
			if n := len(w.Records); n > 1 {
				// RFC 9989 §4.10: a name with several records has none.
				return dmarcState{Note: fmt.Sprintf("%d DMARC records at _dmarc.%s: receivers apply none of them", n, w.Domain),
					Loc: w.Lookup.Location(w.Records[1].Index)}
			}
		}
		return dmarcState{Note: "no DMARC record at _dmarc." + d.Domain + " or above it"}
	}
	st := dmarcState{Text: l.Records[0].Text, Loc: l.Lookup.Location(l.Location())}
	if l.ParseErr != nil {
		if hasTag(st.Text, "rua") {
			st.Policy = "none"
			st.Note = fmt.Sprintf("the record at _dmarc.%s is not valid (%v); receivers treat it as p=none because it asks for reports", l.Domain, l.ParseErr)
		} else {
			st.Note = fmt.Sprintf("the record at _dmarc.%s is not valid (%v) and asks for no reports: receivers apply no policy", l.Domain, l.ParseErr)
		}
		return st
	}
	st.Policy = string(d.Applied())
	if d.Inherited() {
		st.Note = "inherited from the record at _dmarc." + l.Domain
	}
	return st
}

// hasTag reports whether a tag=value list has a non-empty tag name.
func hasTag(text, name string) bool {
	for _, part := range strings.Split(text, ";") {
		k, v, _ := strings.Cut(part, "=")
		if strings.EqualFold(strings.TrimSpace(k), name) && strings.TrimSpace(v) != "" {
			return true
		}
	}
	return false
}

// dkimKey is what one selector publishes.
type dkimKey struct {
	Name string // <selector>._domainkey.<domain>
	// Found: a TXT record with a p= tag exists at Name (a key record,
	// valid or not).
	Found bool
	// Valid: the key parses (RFC 6376 §3.6.1).
	Valid  bool
	Reason string // why not Valid
	Key    string // the p= value, whitespace removed
	Text   string
	Loc    *finding.Location
}

// dkimKeyOf reads the key record among the TXT records the audit gathered
// at a selector (CNAMEs followed, as verifiers do). The best record wins:
// a valid key before an invalid one.
func dkimKeyOf(s *facts.DKIMSelector) dkimKey {
	k := dkimKey{Name: s.Name(), Reason: "no key record at " + trimDot(s.Name())}
	for _, t := range s.Keys() {
		tags, err := dkim.ParseTagList(t.Text)
		if err != nil || !slices.ContainsFunc(tags, func(tg dkim.Tag) bool { return tg.Name == "p" }) {
			continue // not a key record
		}
		cand := dkimKey{Name: s.Name(), Found: true, Text: t.Text, Loc: s.Lookup.Location(t.Index)}
		cand.Key, cand.Valid, cand.Reason = checkDKIMKey(t.Text, tags)
		if !k.Found || cand.Valid && !k.Valid {
			k = cand
		}
	}
	return k
}

// checkDKIMKey validates a key record with the DKIM check's parser (RFC
// 6376 §3.6.1, RFC 8463): v=, when present, first and DKIM1; a known k=;
// a p= that decodes to a public key of that type. An empty p= is a revoked
// key. key is the p= value without whitespace, to tell keys apart.
func checkDKIMKey(txt string, tags []dkim.Tag) (key string, valid bool, reason string) {
	for _, tg := range tags {
		if tg.Name == "p" {
			key = strings.Join(strings.Fields(tg.Value), "")
		}
	}
	rec, err := dkim.ParseRecord(txt)
	switch {
	case err != nil:
		return key, false, err.Error()
	case rec.Revoked():
		return key, false, "p= is empty: the key is revoked (RFC 6376 §3.6.1)"
	}
	return key, true, ""
}

// mxHosts lists the MX targets of the domain as the policy file writes
// them: fully qualified, lower case, "." for a null MX.
func mxHosts(m *facts.MX) []string {
	var hosts []string
	for _, r := range m.Records {
		if r.Target == "" {
			hosts = append(hosts, ".")
			continue
		}
		hosts = append(hosts, fqdn(r.Target))
	}
	return hosts
}
