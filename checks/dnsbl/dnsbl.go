// Package dnsbl builds DNS blocklist queries and reads their answers (RFC
// 5782), for the addresses a domain sends and receives mail from. It does
// no I/O: the caller asks the names QueryName gives and passes the A
// records back to Interpret. Tests use fixture zones; real lists are never
// queried by tests.
//
// A list's answer is data about the address only when it is one of the
// list's listing codes. Several lists answer a refused query with a code of
// their own (Spamhaus answers queries through public resolvers with
// 127.255.255.254): such an answer, and anything outside 127.0.0.0/8 (a
// resolver that rewrites NXDOMAIN), is inconclusive, never "listed".
package dnsbl

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// List is one DNS blocklist.
type List struct {
	Zone string // the zone queried: zen.spamhaus.org
	Name string // for people: Spamhaus ZEN
	// Delist is where the owner of a listed address asks for removal.
	Delist string
	// IPv6 says whether the list answers queries for IPv6 addresses.
	IPv6 bool
	// Codes are the answers the list documents; an answer in 127.0.0.0/8
	// that is not among them reads as "listed" without a meaning.
	Codes []Code
	// Source is the documentation the codes were read from.
	Source string
}

// CodeKind says what a documented answer means.
type CodeKind int

const (
	// Listing: the address is on the list.
	Listing CodeKind = iota + 1
	// QueryError: the list refused to answer this query (public resolver,
	// over quota, wrong zone name); it says nothing about the address.
	QueryError
)

// Code is one documented answer.
type Code struct {
	Addr    netip.Addr
	Kind    CodeKind
	Meaning string
}

func code(a string, k CodeKind, meaning string) Code {
	return Code{Addr: netip.MustParseAddr(a), Kind: k, Meaning: meaning}
}

// Default returns the lists mailcheck checks unless told otherwise: a few
// widely used public lists whose free use covers occasional lookups, each
// with its removal page. Lists that need registration or a key
// (Barracuda, Abusix), charge for removal, or have closed (SORBS) are not
// among them.
func Default() []List {
	return []List{
		{
			Zone: "zen.spamhaus.org", Name: "Spamhaus ZEN", IPv6: true,
			Delist: "https://check.spamhaus.org/",
			Source: "https://docs.spamhaus.com/datasets/docs/source/10-data-type-documentation/datasets/040-zones.html; https://www.spamhaus.org/news/article/788/",
			Codes: []Code{
				code("127.0.0.2", Listing, "SBL: a spam source or spam operation"),
				code("127.0.0.3", Listing, "CSS: low-reputation sending seen by Spamhaus's automated systems"),
				code("127.0.0.4", Listing, "XBL: a compromised host or open proxy"),
				code("127.0.0.9", Listing, "DROP: a hijacked or criminal network"),
				code("127.0.0.10", Listing, "PBL (set by the ISP): an address that should not send mail directly"),
				code("127.0.0.11", Listing, "PBL (set by Spamhaus): an address that should not send mail directly"),
				code("127.0.0.30", Listing, "BCL: a botnet controller"),
				code("127.255.255.252", QueryError, "the list's name was mistyped in the query"),
				code("127.255.255.254", QueryError, "the query came through a public or open resolver, which Spamhaus does not answer"),
				code("127.255.255.255", QueryError, "too many queries from this resolver"),
			},
		},
		{
			Zone: "bl.spamcop.net", Name: "SpamCop", IPv6: false,
			Delist: "https://www.spamcop.net/bl.shtml",
			Source: "https://www.spamcop.net/bl.shtml",
			Codes:  []Code{code("127.0.0.2", Listing, "reported by SpamCop users as a spam source; listings expire 24 hours after reports stop")},
		},
		{
			Zone: "psbl.surriel.com", Name: "PSBL (Passive Spam Block List)", IPv6: false,
			Delist: "https://psbl.org/remove",
			Source: "https://psbl.org/; http://whoisping.com/rbl_details/24",
			Codes:  []Code{code("127.0.0.2", Listing, "sent mail to PSBL's spam traps")},
		},
	}
}

// Custom is a list given by its zone alone (--dnsbl ZONE): the generic
// reading of RFC 5782 applies, IPv4 only unless the caller knows better.
func Custom(zone string) List {
	zone = strings.ToLower(strings.TrimSuffix(zone, "."))
	for _, l := range Default() {
		if l.Zone == zone {
			return l
		}
	}
	return List{Zone: zone, Name: zone}
}

// QueryName is the name to ask the list about ip (RFC 5782 §2.1, §2.4):
// the octets of an IPv4 address, or the 32 nibbles of an IPv6 address,
// reversed, then the list's zone. ok is false for an IPv6 address on a list
// that does not answer for IPv6.
func (l List) QueryName(ip netip.Addr) (name string, ok bool) {
	ip = ip.Unmap()
	var labels []string
	switch {
	case ip.Is4():
		b := ip.As4()
		for i := 3; i >= 0; i-- {
			labels = append(labels, strconv.Itoa(int(b[i])))
		}
	case ip.Is6() && l.IPv6:
		const hex = "0123456789abcdef"
		b := ip.As16()
		for i := 15; i >= 0; i-- {
			labels = append(labels, string(hex[b[i]&0xf]), string(hex[b[i]>>4]))
		}
	default:
		return "", false
	}
	return strings.Join(labels, ".") + "." + l.Zone + ".", true
}

// Verdict is what a list's answer says about an address.
type Verdict int

const (
	// NotListed: NXDOMAIN, or no A record (RFC 5782 §2.1).
	NotListed Verdict = iota + 1
	// Listed: one of the list's listing answers.
	Listed
	// Refused: the list answered with a query-error code; nothing is
	// known about the address.
	Refused
	// Unexpected: an answer outside 127.0.0.0/8 — not a DNSBL answer, but
	// a resolver or network rewriting NXDOMAIN; nothing is known.
	Unexpected
)

func (v Verdict) String() string {
	switch v {
	case NotListed:
		return "not listed"
	case Listed:
		return "listed"
	case Refused:
		return "query refused"
	case Unexpected:
		return "unexpected answer"
	}
	return "unknown"
}

// Result is a list's answer for one address.
type Result struct {
	Verdict Verdict
	// Answers are the A records the list gave.
	Answers []netip.Addr
	// Meanings are the documented meanings of the listing codes, in
	// answer order; a listing code the list does not document has
	// "listed (code 127.0.0.N)".
	Meanings []string
	// Reason says why a Refused or Unexpected answer is inconclusive.
	Reason string
}

// Interpret reads the A records a query for QueryName returned (none for
// NXDOMAIN or NODATA). A query error code anywhere in the answer makes the
// whole answer Refused: a list that refuses says nothing reliable next to
// it.
func (l List) Interpret(answers []netip.Addr) Result {
	r := Result{Verdict: NotListed, Answers: slices.Clone(answers)}
	if len(answers) == 0 {
		return r
	}
	loopback := netip.MustParsePrefix("127.0.0.0/8")
	errRange := netip.MustParsePrefix("127.255.255.0/24")
	for _, a := range answers {
		a = a.Unmap()
		c, documented := l.code(a)
		switch {
		case documented && c.Kind == QueryError:
			return Result{Verdict: Refused, Answers: r.Answers, Reason: c.Meaning}
		case !documented && errRange.Contains(a):
			// 127.255.255.0/24 is the error range lists took up after
			// Spamhaus; it is never a listing.
			return Result{Verdict: Refused, Answers: r.Answers, Reason: "the list answered with error code " + a.String()}
		case !loopback.Contains(a):
			return Result{Verdict: Unexpected, Answers: r.Answers,
				Reason: a.String() + " is not a blocklist answer (RFC 5782 §2.1 answers lie in 127.0.0.0/8): a resolver on the way rewrites NXDOMAIN"}
		}
		r.Verdict = Listed
		if documented {
			r.Meanings = append(r.Meanings, c.Meaning)
		} else {
			r.Meanings = append(r.Meanings, "listed (code "+a.String()+")")
		}
	}
	return r
}

func (l List) code(a netip.Addr) (Code, bool) {
	for _, c := range l.Codes {
		if c.Addr == a {
			return c, true
		}
	}
	return Code{}, false
}

// TestPoints are the addresses RFC 5782 §5 has every IPv4 list answer the
// same way: 127.0.0.2 listed, 127.0.0.1 not. A list (or the resolver in
// front of it) that answers otherwise cannot be trusted for the run.
func TestPoints() (listed, notListed netip.Addr) {
	return netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.1")
}

// Checked says whether an address is worth asking a public blocklist
// about: global unicast, not private (RFC 1918, RFC 4193). Loopback,
// private and link-local addresses are on no public list. Fixture lists
// (--dnsbl on a test zone) may list anything: callers asking only their own
// zones need not filter.
func Checked(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsGlobalUnicast() && !ip.IsPrivate()
}
