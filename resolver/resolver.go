// Package resolver is mailcheck's one view of DNS. Unlike net.Resolver it
// tells NXDOMAIN from NODATA from a failed lookup, never follows a CNAME on
// its own, and says where a record came from (a zone file line), because a
// checker must know exactly which of those it is looking at.
package resolver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// Resolver answers one question. The error is only for lookups that did not
// produce an answer (timeout, SERVFAIL, REFUSED, transport failure, a name
// outside every given zone): NXDOMAIN and NODATA are answers, not errors.
type Resolver interface {
	Query(ctx context.Context, name string, qtype uint16) (*Answer, error)
}

// Answer is the answer section of a response, as is.
type Answer struct {
	Name  string // the question name, fully qualified, lower case
	Qtype uint16
	// Rcode is dns.RcodeSuccess (records, or NODATA when RRs is empty) or
	// dns.RcodeNameError (NXDOMAIN).
	Rcode int
	// RRs holds the answer section unmodified: a CNAME at Name is returned
	// as a CNAME and not chased (see Chase).
	RRs []dns.RR
	// Origins, when not nil, is parallel to RRs: where each record was read
	// (zone file and line). Live answers leave it nil.
	Origins []Origin
	// Authentic is the AD bit of a validating resolver's answer.
	Authentic bool
	// Server names who answered: "192.0.2.53:53" or "zone:FILE".
	Server string
	// Chased is set when RRs hold a CNAME chain from Name and the server
	// answered for the chain's last name too, so that nothing is left to
	// ask at its targets: a recursive resolver restarts the query at each
	// target (RFC 1034 §4.3.2 step 3a), and an authoritative server that
	// holds the last name puts the records there, or says that it has
	// none with its zone's SOA (RFC 2308 §2.1, §2.2). ChainRcode is then
	// the response code, which speaks of the last name (RFC 6604 §3).
	Chased     bool
	ChainRcode int
	// Stale is set when the answer was served from the run's cache after
	// its TTL because asking again failed (RFC 8767).
	Stale bool
}

// Origin is where a record was read from.
type Origin struct {
	File string
	Line int
}

// NXDomain reports whether the name does not exist.
func (a *Answer) NXDomain() bool { return a.Rcode == dns.RcodeNameError }

// NoData reports whether the name exists but has no record of the type asked
// (and no CNAME either).
func (a *Answer) NoData() bool { return a.Rcode == dns.RcodeSuccess && len(a.RRs) == 0 }

// Kind classifies why a lookup produced no answer.
type Kind int

const (
	Timeout   Kind = iota + 1 // no reply within the deadline
	ServFail                  // SERVFAIL from every server asked
	Refused                   // REFUSED, or another unexpected rcode
	Transport                 // network error other than a timeout
	OutOfZone                 // --zone given, no --resolver, name outside every zone: not checked
	// Referral: the server answered with a delegation instead of an
	// answer (RFC 2308 §2.2: NOERROR, no AA, NS records and no SOA in the
	// authority section). It is not NODATA: the data lives on the servers
	// the referral names, which this server did not ask — a server that
	// does not recurse, or a zone file delegating the name. The Error's
	// Err is a *Delegation.
	Referral
	// ChainLimit: mailcheck stopped following a CNAME chain longer than
	// it follows; no server failed.
	ChainLimit
	// CNAMELoop: a CNAME chain leads back to a name already in it (RFC
	// 1034 §3.6.2).
	CNAMELoop
)

// String is the kind in English, for logs and error messages.
func (k Kind) String() string { return k.text().String() }

// In writes the kind in language l: findings pass a Kind to finding.T as
// an argument, and it is translated with the sentence.
func (k Kind) In(l finding.Lang) string { return k.text().In(l) }

func (k Kind) text() finding.Text {
	switch k {
	case Timeout:
		return finding.T("timeout")
	case ServFail:
		return finding.T("SERVFAIL")
	case Refused:
		return finding.T("query refused")
	case Transport:
		return finding.T("transport error")
	case OutOfZone:
		return finding.T("outside the given zones")
	case Referral:
		return finding.T("a referral to other name servers instead of an answer")
	case ChainLimit:
		return finding.T("a CNAME chain longer than mailcheck follows (%d)", maxCNAMEChain)
	case CNAMELoop:
		return finding.T("a CNAME loop")
	}
	return finding.T("unknown failure")
}

// Delegation is the referral a server gave instead of an answer: the zone
// the name is delegated to and the name servers it names.
type Delegation struct {
	Zone        string   // the owner of the NS records, fully qualified, lower case
	NameServers []string // their targets, fully qualified, lower case, in answer order
}

func (d *Delegation) Error() string {
	ns := make([]string, len(d.NameServers))
	for i, n := range d.NameServers {
		ns[i] = strings.TrimSuffix(n, ".")
	}
	return fmt.Sprintf("%s is delegated to %s", strings.TrimSuffix(d.Zone, "."), strings.Join(ns, ", "))
}

// IsReferral returns the delegation when err says a server referred the
// question elsewhere instead of answering it.
func IsReferral(err error) (*Delegation, bool) {
	var re *Error
	if !errors.As(err, &re) || re.Kind != Referral {
		return nil, false
	}
	var d *Delegation
	if errors.As(re.Err, &d) {
		return d, true
	}
	return &Delegation{}, true
}

// Error is the error a Resolver returns. Checks turn Kind OutOfZone into an
// info finding ("not checked") and every other Kind into an error finding
// (inconclusive) — never into a "missing record" finding. A Referral too:
// the name may well hold the record on the servers it is delegated to.
type Error struct {
	Kind   Kind
	Name   string
	Qtype  uint16
	Server string
	Err    error // underlying cause, may be nil
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s %s: %s", e.Name, dns.TypeToString[e.Qtype], e.Kind)
	if e.Server != "" {
		s += " from " + e.Server
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// IsOutOfZone reports whether err says the name was not checked because it
// lies outside every --zone and no --resolver was given.
func IsOutOfZone(err error) bool {
	var re *Error
	return errors.As(err, &re) && re.Kind == OutOfZone
}
