package dkim

import "strings"

// SelectorState is what the TXT records at one selector name say.
type SelectorState int

const (
	// NoKey: no TXT record looks like a key record.
	NoKey SelectorState = iota + 1
	// Key: exactly one key record, and it parses with a key in it.
	Key
	// Revoked: exactly one key record, with an empty p= (RFC 6376
	// §3.6.1: "this public key has been revoked").
	Revoked
	// Invalid: exactly one key record, and a verifier cannot use it.
	Invalid
	// Multiple: more than one key record. RFC 6376 §3.6.2.2: "TXT RRs
	// MUST be unique for a particular selector name; that is, if there
	// are multiple records in an RRset, the results are undefined" — and
	// §6.1.2 lets each verifier pick any of them.
	Multiple
)

func (s SelectorState) String() string {
	switch s {
	case NoKey:
		return "no key"
	case Key:
		return "key"
	case Revoked:
		return "revoked"
	case Invalid:
		return "invalid"
	case Multiple:
		return "multiple"
	}
	return "unknown"
}

// Selector is the reading of the TXT records at one selector name.
type Selector struct {
	State SelectorState
	// Keys are the records that look like key records, in answer order,
	// each with its parse result.
	Keys []KeyRecord
	// Others are TXT records there that are not key records (an SPF or
	// verification record published at the wrong name).
	Others []string
}

// KeyRecord is one key record and what parsing it gave.
type KeyRecord struct {
	Text   string
	Record *Record // nil when Err is set
	Err    error
}

// ReadSelector reads the TXT records at a selector name, each already
// decoded and joined (RFC 6376 §3.6.2.2).
func ReadSelector(txts []string) Selector {
	var s Selector
	for _, t := range txts {
		if !LooksLikeKey(t) {
			s.Others = append(s.Others, t)
			continue
		}
		rec, err := ParseRecord(t)
		s.Keys = append(s.Keys, KeyRecord{Text: t, Record: rec, Err: err})
	}
	switch {
	case len(s.Keys) == 0:
		s.State = NoKey
	case len(s.Keys) > 1:
		s.State = Multiple
	case s.Keys[0].Err != nil:
		s.State = Invalid
	case s.Keys[0].Record.Revoked():
		s.State = Revoked
	default:
		s.State = Key
	}
	return s
}

// LooksLikeKey reports whether a TXT record at a _domainkey name is meant
// as a key record: it starts with v=DKIM1, or it is a tag-list with a p=
// tag (v= is optional, RFC 6376 §3.6.1). Anything else there is not a key
// record at all, and a verifier finds no key in it.
func LooksLikeKey(txt string) bool {
	first, _, _ := strings.Cut(txt, ";")
	if name, value, ok := strings.Cut(first, "="); ok && strings.TrimSpace(name) == "v" {
		return strings.EqualFold(strings.TrimSpace(value), "DKIM1")
	}
	tags, err := ParseTagList(txt)
	if err != nil {
		return strings.Contains(txt, "p=")
	}
	for _, t := range tags {
		if t.Name == "p" {
			return true
		}
	}
	return false
}

// WildcardKind is what a selector nobody uses (a random label) finds: the
// answer every unpublished selector gets.
type WildcardKind int

const (
	// NoWildcard: nothing answers an unknown selector.
	NoWildcard WildcardKind = iota + 1
	// RevokedWildcard: a revoked key answers every selector — the set-up
	// recommended for a domain that sends no mail (M3AAWG "Protecting
	// Parked Domains" best practices; internet.nl's parked-domain how-to:
	// `*._domainkey IN TXT "v=DKIM1; p="`). Every signature claiming the
	// domain fails: conclusive, and correct for a parked domain.
	RevokedWildcard
	// KeyWildcard: a usable key answers every selector — unusual; any
	// selector "has" that key.
	KeyWildcard
	// OtherWildcard: a wildcard answers with records that are not one
	// valid key (a TXT wildcard meant for something else, or several
	// records).
	OtherWildcard
)

// ReadWildcard classifies the TXT records found at a random selector.
func ReadWildcard(txts []string) WildcardKind {
	if len(txts) == 0 {
		return NoWildcard
	}
	switch ReadSelector(txts).State {
	case Revoked:
		return RevokedWildcard
	case Key:
		return KeyWildcard
	}
	return OtherWildcard
}
