package spf

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/resolver"
)

// Status is the result of check_host() (RFC 7208 §2.6).
type Status string

const (
	StatusNone      Status = "none"      // no syntactically valid domain, or no SPF record
	StatusNeutral   Status = "neutral"   // the domain makes no assertion about the IP
	StatusPass      Status = "pass"      // the client is authorised
	StatusFail      Status = "fail"      // the client is not authorised
	StatusSoftfail  Status = "softfail"  // probably not authorised; a weak fail
	StatusTempError Status = "temperror" // a transient (DNS) error; retrying may succeed
	StatusPermError Status = "permerror" // the records cannot be interpreted; needs a fix
)

// Evaluation limits (RFC 7208 §4.6.4).
const (
	MaxLookups     = 10 // DNS-querying terms per check_host()
	MaxVoidLookups = 2  // terms whose lookup returns no answer or NXDOMAIN
	MaxMXNames     = 10 // MX records one mx mechanism may look at
	MaxPTRNames    = 10 // PTR names one ptr mechanism (or %{p}) may look at
)

// Query is the input of check_host() (RFC 7208 §4.1): the client's IP, the
// domain whose policy is asked, and the sender it came from.
type Query struct {
	IP netip.Addr
	// Domain is the domain to check: the MAIL FROM domain, or the HELO
	// name when MAIL FROM was empty (RFC 7208 §2.4).
	Domain string
	// Sender is the MAIL FROM address; "postmaster@<HELO>" when it was
	// empty (§2.4). Macros %{s}, %{l} and %{o} read it.
	Sender string
	// HELO is the name the client gave in HELO/EHLO (%{h}).
	HELO string
	// Receiver names the host doing the check, for %{r} in explanations.
	Receiver string
}

// Evaluation is what check_host() found: the result, the term that decided
// it and how many lookups it took.
type Evaluation struct {
	Status Status
	// Mechanism is the term of the queried domain's record (or of its
	// redirect target's) that matched, as written ("ip4:192.0.2.0/24",
	// "-all", "include:_spf.example.net"); "" when none did (the default
	// result), and for none, temperror and permerror. Its qualifier gave
	// the result.
	Mechanism string
	// Inner is the term that matched inside an include, "" when
	// Mechanism is not an include; MatchedIn is the domain whose record
	// holds Inner (or Mechanism).
	Inner     string
	MatchedIn string
	// Path is the chain of records followed to MatchedIn: the queried
	// domain, then each include or redirect target.
	Path []string
	// Record is the SPF record of the queried domain, "" when none.
	Record string
	// Lookups counts the DNS-querying terms evaluated (include, a, mx,
	// ptr, exists, redirect); VoidLookups those that found nothing.
	Lookups, VoidLookups int
	// Explanation is the expanded exp= text of a fail, when the domain
	// provides one (RFC 7208 §6.2).
	Explanation string
	// Err says why the result is none, temperror or permerror: an
	// *EvalError.
	Err error
}

// Problem classifies why an evaluation ended in none, permerror or
// temperror.
type Problem int

const (
	ProblemNoRecord    Problem = iota + 1 // the domain publishes no SPF record (none)
	ProblemBadDomain                      // the domain is not a valid FQDN (none)
	ProblemMultiple                       // more than one v=spf1 record (permerror)
	ProblemSyntax                         // a record does not parse (permerror)
	ProblemLookupLimit                    // more than MaxLookups DNS-querying terms (permerror)
	ProblemVoidLimit                      // more than MaxVoidLookups void lookups (permerror)
	ProblemMXLimit                        // an mx mechanism meets more than MaxMXNames MX records (permerror)
	ProblemIncludeNone                    // an include or redirect target has no SPF record (permerror)
	ProblemDNS                            // a lookup failed (temperror)
	ProblemNotChecked                     // a name lies outside the given zones (not checked)
)

// EvalError is the Err of an Evaluation.
type EvalError struct {
	Problem Problem
	Domain  string // the domain whose record or term was at fault
	Term    string // the term, when one was
	Err     error  // the syntax or DNS error beneath, if any
}

func (e *EvalError) Error() string {
	s := fmt.Sprintf("spf: %s: problem %d", e.Domain, e.Problem)
	if e.Term != "" {
		s += " at " + e.Term
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *EvalError) Unwrap() error { return e.Err }

// CheckHost evaluates the SPF policy of q.Domain for q.IP as a receiving
// MTA would (RFC 7208 §4): records are fetched through r, so zone files,
// --resolver and the run's cache apply; CNAMEs are followed.
func CheckHost(ctx context.Context, r resolver.Resolver, q Query) Evaluation {
	if q.IP.Is4In6() {
		// RFC 7208 §5: an IPv4-mapped IPv6 address is evaluated as IPv4.
		q.IP = q.IP.Unmap()
	}
	e := &evaluator{ctx: ctx, r: r, q: q}
	domain := strings.ToLower(strings.TrimSuffix(q.Domain, "."))
	res := e.checkHost(domain, 0)
	out := Evaluation{
		Status: res.status, Mechanism: res.term, Inner: res.inner, MatchedIn: res.matchedIn, Path: res.path,
		Lookups: e.lookups, VoidLookups: e.voids, Err: res.err, Record: e.topRecord,
	}
	if res.status == StatusFail && res.exp != "" {
		out.Explanation = e.explain(res.exp, res.expDomain)
	}
	return out
}

type evaluator struct {
	ctx       context.Context
	r         resolver.Resolver
	q         Query
	lookups   int
	voids     int
	topRecord string
}

// result is one check_host() level's outcome.
type result struct {
	status    Status
	term      string
	inner     string
	matchedIn string
	path      []string
	err       error
	exp       string // the exp= domain-spec of the record that failed
	expDomain string
}

func errResult(status Status, p Problem, domain, term string, err error) result {
	return result{status: status, err: &EvalError{Problem: p, Domain: domain, Term: term, Err: err}}
}

// maxDepth bounds include/redirect nesting independently of the lookup
// count, so that a loop cannot recurse without end even if counting failed.
const maxDepth = MaxLookups + 1

// checkHost is check_host(<ip>, <domain>, <sender>) (RFC 7208 §4).
func (e *evaluator) checkHost(domain string, depth int) result {
	if !validDomain(domain) {
		// RFC 7208 §4.3: a malformed domain is "none".
		return errResult(StatusNone, ProblemBadDomain, domain, "", nil)
	}
	rec, raw, res, ok := e.record(domain)
	if !ok {
		return res
	}
	if depth == 0 {
		e.topRecord = raw
	}
	for _, t := range rec.Terms {
		if t.Mechanism == "" {
			continue
		}
		matched, res, ok := e.mechanism(t, domain, depth)
		if !ok {
			return res
		}
		if matched {
			out := result{status: StatusFromQualifier(t.Qualifier), term: t.Text, matchedIn: domain, path: []string{domain}}
			if res.matchedIn != "" {
				// An include matched: keep what matched inside it.
				out.matchedIn, out.path = res.matchedIn, append([]string{domain}, res.path...)
				out.inner = res.term
				if res.inner != "" {
					out.inner = res.inner
				}
			}
			if out.status == StatusFail && rec.Exp != nil {
				out.exp, out.expDomain = rec.Exp.Domain, domain
			}
			return out
		}
	}
	// RFC 7208 §6.1: redirect applies when no mechanism matched (it is
	// ignored when the record has an all mechanism, which always matches).
	if rec.Redirect != nil {
		if !e.count() {
			return errResult(StatusPermError, ProblemLookupLimit, domain, rec.Redirect.Text, nil)
		}
		target, err := e.expand(rec.Redirect.Domain, domain, false)
		if err != nil {
			return errResult(StatusPermError, ProblemSyntax, domain, rec.Redirect.Text, err)
		}
		if depth+1 > maxDepth {
			return errResult(StatusPermError, ProblemLookupLimit, domain, rec.Redirect.Text, nil)
		}
		sub := e.checkHost(target, depth+1)
		if sub.status == StatusNone {
			// §6.1: a redirect target without a record is a permerror.
			return errResult(StatusPermError, ProblemIncludeNone, target, rec.Redirect.Text, nil)
		}
		sub.path = append([]string{domain}, sub.path...)
		return sub
	}
	// §4.7: no match and no redirect: neutral.
	return result{status: StatusNeutral, path: []string{domain}}
}

// StatusFromQualifier maps a qualifier to the result of its mechanism
// matching (RFC 7208 §4.6.2).
func StatusFromQualifier(q Qualifier) Status {
	return Status(q.Result())
}

// record fetches and parses the SPF record of domain (RFC 7208 §4.4, §4.5).
func (e *evaluator) record(domain string) (*Record, string, result, bool) {
	txts, _, err := resolver.TXT(e.ctx, e.r, domain)
	if err != nil {
		return nil, "", e.dnsError(domain, "", err), false
	}
	var spfs []string
	for _, t := range txts {
		if IsSPF(t) {
			spfs = append(spfs, t)
		}
	}
	switch len(spfs) {
	case 0:
		return nil, "", errResult(StatusNone, ProblemNoRecord, domain, "", nil), false
	case 1:
	default:
		return nil, "", errResult(StatusPermError, ProblemMultiple, domain, "", nil), false
	}
	rec, err := Parse(spfs[0])
	if err != nil {
		var se *SyntaxError
		term := ""
		if errors.As(err, &se) {
			term = se.Term
		}
		return nil, spfs[0], errResult(StatusPermError, ProblemSyntax, domain, term, err), false
	}
	return rec, spfs[0], result{}, true
}

// dnsError turns a failed lookup into temperror (RFC 7208 §4.4, §5), or
// into a "not checked" temperror when the name lies outside --zone.
func (e *evaluator) dnsError(domain, term string, err error) result {
	p := ProblemDNS
	if resolver.IsOutOfZone(err) {
		p = ProblemNotChecked
	}
	return errResult(StatusTempError, p, domain, term, err)
}

// count takes one DNS-querying term from the budget; false when the limit
// of 10 is exceeded (RFC 7208 §4.6.4).
func (e *evaluator) count() bool {
	e.lookups++
	return e.lookups <= MaxLookups
}

// void records a term whose lookup found nothing; false when there have
// been more than MaxVoidLookups (RFC 7208 §4.6.4).
func (e *evaluator) void() bool {
	e.voids++
	return e.voids <= MaxVoidLookups
}

// mechanism evaluates one mechanism. ok is false when evaluation stops
// with res (an error, or an include's error).
func (e *evaluator) mechanism(t Term, domain string, depth int) (matched bool, res result, ok bool) {
	if t.CountsLookup() && !e.count() {
		return false, errResult(StatusPermError, ProblemLookupLimit, domain, t.Text, nil), false
	}
	target := domain
	if t.Domain != "" {
		var err error
		if target, err = e.expand(t.Domain, domain, false); err != nil {
			return false, errResult(StatusPermError, ProblemSyntax, domain, t.Text, err), false
		}
	}
	switch t.Mechanism {
	case All:
		return true, result{}, true
	case IP4, IP6:
		// An ip4 mechanism never matches an IPv6 client and vice versa
		// (§5.6).
		return t.Prefix.Addr().Is4() == e.q.IP.Is4() && t.Prefix.Contains(e.q.IP), result{}, true
	case Include:
		if depth+1 > maxDepth {
			return false, errResult(StatusPermError, ProblemLookupLimit, domain, t.Text, nil), false
		}
		sub := e.checkHost(target, depth+1)
		// RFC 7208 §5.2: the include matches on pass only; temperror
		// and permerror propagate; none is a permerror.
		switch sub.status {
		case StatusPass:
			return true, sub, true
		case StatusFail, StatusSoftfail, StatusNeutral:
			return false, result{}, true
		case StatusNone:
			return false, errResult(StatusPermError, ProblemIncludeNone, target, t.Text, nil), false
		}
		return false, sub, false
	case A:
		addrs, void, err := e.addrs(target)
		if err != nil {
			return false, e.dnsError(target, t.Text, err), false
		}
		if void && !e.void() {
			return false, errResult(StatusPermError, ProblemVoidLimit, domain, t.Text, nil), false
		}
		return e.matchAny(addrs, t), result{}, true
	case MX:
		ans, _, err := resolver.Follow(e.ctx, e.r, target, dns.TypeMX)
		if err != nil {
			return false, e.dnsError(target, t.Text, err), false
		}
		var hosts []string
		for _, rr := range ans.RRs {
			if mx, ok := rr.(*dns.MX); ok && mx.Mx != "." {
				hosts = append(hosts, mx.Mx)
			}
		}
		if len(hosts) == 0 && !e.void() {
			return false, errResult(StatusPermError, ProblemVoidLimit, domain, t.Text, nil), false
		}
		if len(hosts) > MaxMXNames {
			// §4.6.4: more than 10 MX records is a permerror.
			return false, errResult(StatusPermError, ProblemMXLimit, target, t.Text, nil), false
		}
		for _, h := range hosts {
			addrs, _, err := e.addrs(h)
			if err != nil {
				return false, e.dnsError(h, t.Text, err), false
			}
			if e.matchAny(addrs, t) {
				return true, result{}, true
			}
		}
		return false, result{}, true
	case PTR:
		names, void := e.validatedNames()
		if void && !e.void() {
			return false, errResult(StatusPermError, ProblemVoidLimit, domain, t.Text, nil), false
		}
		for _, n := range names {
			if n == target || strings.HasSuffix(n, "."+target) {
				return true, result{}, true
			}
		}
		return false, result{}, true
	case Exists:
		// §5.7: an A lookup whatever the client's address family.
		ans, _, err := resolver.Follow(e.ctx, e.r, target, dns.TypeA)
		if err != nil {
			return false, e.dnsError(target, t.Text, err), false
		}
		n := 0
		for _, rr := range ans.RRs {
			if _, ok := rr.(*dns.A); ok {
				n++
			}
		}
		if n == 0 && !e.void() {
			return false, errResult(StatusPermError, ProblemVoidLimit, domain, t.Text, nil), false
		}
		return n > 0, result{}, true
	}
	return false, errResult(StatusPermError, ProblemSyntax, domain, t.Text, nil), false
}

// addrs looks up the addresses of the client's family at name (§5.3:
// A for an IPv4 client, AAAA for IPv6). void reports an answer with none.
func (e *evaluator) addrs(name string) ([]netip.Addr, bool, error) {
	qtype := dns.TypeA
	if e.q.IP.Is6() {
		qtype = dns.TypeAAAA
	}
	ans, _, err := resolver.Follow(e.ctx, e.r, name, qtype)
	if err != nil {
		return nil, false, err
	}
	var out []netip.Addr
	for _, rr := range ans.RRs {
		switch v := rr.(type) {
		case *dns.A:
			if a, ok := netip.AddrFromSlice(v.A.To4()); ok {
				out = append(out, a)
			}
		case *dns.AAAA:
			if a, ok := netip.AddrFromSlice(v.AAAA.To16()); ok {
				out = append(out, a)
			}
		}
	}
	return out, len(out) == 0, nil
}

// matchAny applies the dual-cidr-length of an a or mx term (§5.6).
func (e *evaluator) matchAny(addrs []netip.Addr, t Term) bool {
	bits := t.CIDR4
	if e.q.IP.Is6() {
		bits = t.CIDR6
	}
	for _, a := range addrs {
		if bits < 0 {
			if a == e.q.IP {
				return true
			}
			continue
		}
		p, err := a.Prefix(bits)
		if err == nil && p.Contains(e.q.IP) {
			return true
		}
	}
	return false
}

// validatedNames returns the client's validated domain names (§5.5): the
// PTR names (at most 10) whose own addresses include the IP. A DNS error
// on the PTR lookup leaves none; on a name's address lookup, skips it.
func (e *evaluator) validatedNames() (names []string, void bool) {
	rev, err := dns.ReverseAddr(e.q.IP.String())
	if err != nil {
		return nil, false
	}
	ans, _, err := resolver.Follow(e.ctx, e.r, rev, dns.TypePTR)
	if err != nil {
		return nil, false
	}
	var ptrs []string
	for _, rr := range ans.RRs {
		if p, ok := rr.(*dns.PTR); ok {
			ptrs = append(ptrs, strings.ToLower(strings.TrimSuffix(p.Ptr, ".")))
		}
	}
	if len(ptrs) == 0 {
		return nil, true
	}
	if len(ptrs) > MaxPTRNames {
		ptrs = ptrs[:MaxPTRNames]
	}
	for _, name := range ptrs {
		addrs, _, err := e.addrs(name)
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if a == e.q.IP {
				names = append(names, name)
				break
			}
		}
	}
	return names, false
}

// explain fetches and expands the exp= explanation (§6.2). Any problem
// means no explanation, never a different result.
func (e *evaluator) explain(spec, domain string) string {
	target, err := e.expand(spec, domain, false)
	if err != nil {
		return ""
	}
	txts, _, err := resolver.TXT(e.ctx, e.r, target)
	if err != nil || len(txts) != 1 {
		return ""
	}
	text, err := e.expand(txts[0], domain, true)
	if err != nil {
		return ""
	}
	// An explanation is shown to people: keep it printable and short.
	text = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, text)
	if len(text) > 512 {
		text = text[:512]
	}
	return text
}

// validDomain checks that a domain can be queried: an FQDN of at most 253
// octets with labels of 1 to 63 octets (RFC 7208 §4.3).
func validDomain(d string) bool {
	if d == "" || len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
	}
	return true
}
