package spf

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Result is a check_host() result (RFC 7208 §2.6).
type Result string

const (
	None      Result = "none"      // no SPF record at the domain
	Neutral   Result = "neutral"   // "?" or no match: no assertion
	Pass      Result = "pass"      // the client is authorised
	Fail      Result = "fail"      // the client is not authorised
	SoftFail  Result = "softfail"  // probably not authorised
	TempError Result = "temperror" // a transient DNS error
	PermError Result = "permerror" // the records cannot be interpreted
)

// Limits of RFC 7208 §4.6.4.
const (
	MaxLookups = 10 // DNS-querying terms in one check_host() evaluation
	MaxVoids   = 2  // lookups that return no record (the RFC's recommended default)
	MaxNames   = 10 // MX names one mx term may look up; PTR names one ptr term uses
)

// Facts are the DNS data check_host() reads, already gathered: the
// evaluator does no I/O. Each method returns the records and nil when the
// name has some; an empty result and nil is a void answer (NXDOMAIN, or
// NOERROR with no record of the type: RFC 7208 §4.6.4); an error is a
// lookup that failed, which makes the result temperror (§2.6.6).
type Facts interface {
	// TXT returns the TXT records at name, each decoded and joined.
	TXT(name string) ([]string, error)
	// Addrs returns the A (ipv6 false) or AAAA records at name.
	Addrs(name string, ipv6 bool) ([]netip.Addr, error)
	// MX returns the exchange names of the MX records at name.
	MX(name string) ([]string, error)
	// PTR returns the names of the PTR records of ip.
	PTR(ip netip.Addr) ([]string, error)
}

// Outcome is what check_host() concluded, with what a judge needs to say
// why.
type Outcome struct {
	Result Result
	// Matched is the mechanism that decided, or the one whose evaluation
	// ended in an error or went over a limit; nil when none did (the
	// default neutral, a record that could not be read).
	Matched *Term
	// Domain is where the deciding record was: the evaluated domain, or
	// an include or redirect target.
	Domain string
	// Path is the chain of include and redirect terms from the first
	// record to Domain.
	Path []string
	// Lookups counts the DNS-querying terms evaluated (§4.6.4).
	Lookups int
	// Voids lists the void lookups, "domain: term".
	Voids []string
	// Reason says why the result is permerror or temperror.
	Reason string
}

// CheckHost evaluates the SPF policy of s.Domain for a client at s.IP as
// RFC 7208 §4 specifies, reading only f. Terms after all are never
// evaluated (§5.1); include and redirect targets are evaluated with
// <domain> set to the target (§5.2, §6.1); the lookup, void and MX/PTR
// name limits of §4.6.4 apply to the whole evaluation.
func CheckHost(f Facts, s Scope) Outcome {
	e := &evaluation{facts: f}
	out := e.checkHost(s, nil, nil)
	out.Lookups, out.Voids = e.lookups, e.voids
	return out
}

type evaluation struct {
	facts   Facts
	lookups int
	voids   []string
}

// checkHost evaluates s.Domain's record. path holds the include and
// redirect terms that led here, seen the domains being evaluated above
// (a loop would never end without the lookup limit; naming it is clearer).
func (e *evaluation) checkHost(s Scope, path, seen []string) Outcome {
	out := Outcome{Domain: s.Domain, Path: path}
	if slices.Contains(seen, s.Domain) {
		return e.fail(out, PermError, fmt.Sprintf("%s leads back to %s, which is being evaluated", path[len(path)-1], s.Domain))
	}
	seen = append(slices.Clip(seen), s.Domain)
	txts, err := e.facts.TXT(s.Domain)
	if err != nil {
		return e.fail(out, TempError, fmt.Sprintf("TXT lookup of %s failed: %v", s.Domain, err))
	}
	var records []string
	for _, t := range txts {
		if IsSPF(t) {
			records = append(records, t)
		}
	}
	switch len(records) {
	case 0:
		out.Result = None
		return out
	case 1:
	default:
		return e.fail(out, PermError, fmt.Sprintf("%s has %d SPF records (§4.5)", s.Domain, len(records)))
	}
	rec, err := Parse(records[0])
	if err != nil {
		return e.fail(out, PermError, fmt.Sprintf("the SPF record of %s does not parse: %v", s.Domain, err))
	}
	for _, t := range rec.Evaluated() {
		matched, res, reason := e.mechanism(t, s, path, seen)
		if over := e.overVoids(); over != "" && res == "" {
			res, reason = PermError, over
		}
		switch {
		case res != "":
			// An error inside the mechanism ends the evaluation.
			out.Result, out.Reason, out.Matched = res, reason, &t
			return out
		case matched:
			out.Result, out.Matched = Result(t.Qualifier.Result()), &t
			if t.Mechanism == Include {
				out.Path = append(slices.Clip(path), t.Text)
			}
			return out
		}
	}
	if rec.Redirect != nil && rec.All() == nil {
		// §6.1: the redirect applies only when no mechanism matched and
		// the record has no all.
		if over := e.count(); over != "" {
			return e.fail(out, PermError, over)
		}
		target, ok := rec.Redirect.Target(s)
		if !ok {
			return e.fail(out, PermError, fmt.Sprintf("%s: the target cannot be expanded", rec.Redirect.Text))
		}
		sub := e.checkHost(s.Into(target), append(slices.Clip(path), rec.Redirect.Text), seen)
		if sub.Result == None {
			// §6.1: a redirect target without an SPF record is a permerror.
			e.void(target, rec.Redirect.Text)
			sub.Result, sub.Reason = PermError, fmt.Sprintf("%s: %s has no SPF record", rec.Redirect.Text, target)
		}
		if over := e.overVoids(); over != "" && sub.Result != PermError {
			sub.Result, sub.Reason = PermError, over
		}
		return sub
	}
	out.Result = Neutral // §4.7: nothing matched
	return out
}

func (e *evaluation) fail(out Outcome, r Result, reason string) Outcome {
	out.Result, out.Reason = r, reason
	return out
}

// count charges one DNS-querying term and says why the evaluation must
// stop when that is one too many (§4.6.4).
func (e *evaluation) count() string {
	e.lookups++
	if e.lookups > MaxLookups {
		return fmt.Sprintf("more than %d DNS-querying terms (§4.6.4)", MaxLookups)
	}
	return ""
}

// void records a void lookup.
func (e *evaluation) void(domain, term string) {
	e.voids = append(e.voids, domain+": "+term)
}

// overVoids says why the evaluation must stop when the void lookups are
// over the limit (§4.6.4).
func (e *evaluation) overVoids() string {
	if len(e.voids) > MaxVoids {
		return fmt.Sprintf("more than %d void lookups (§4.6.4)", MaxVoids)
	}
	return ""
}

// mechanism evaluates one mechanism: whether it matches, or the result
// that ends the evaluation (temperror, permerror) and why.
func (e *evaluation) mechanism(t Term, s Scope, path, seen []string) (matched bool, end Result, reason string) {
	ip := s.IP.Unmap()
	v6 := ip.Is6()
	target := ""
	if t.CountsLookup() {
		if over := e.count(); over != "" {
			return false, PermError, over
		}
		var ok bool
		if target, ok = t.Target(s); !ok {
			return false, PermError, fmt.Sprintf("%s: the target cannot be expanded", t.Text)
		}
	}
	tempErr := func(err error) (bool, Result, string) {
		return false, TempError, fmt.Sprintf("%s: %v", t.Text, err)
	}
	switch t.Mechanism {
	case All:
		return true, "", ""
	case IP4:
		return !v6 && t.Prefix.Contains(ip), "", ""
	case IP6:
		return v6 && t.Prefix.Contains(ip), "", ""
	case Include:
		sub := e.checkHost(s.Into(target), append(slices.Clip(path), t.Text), seen)
		// §5.2: pass matches; fail, softfail and neutral do not; none
		// is a permerror.
		switch sub.Result {
		case Pass:
			return true, "", ""
		case TempError:
			return false, TempError, sub.Reason
		case PermError:
			return false, PermError, sub.Reason
		case None:
			e.void(target, t.Text)
			return false, PermError, fmt.Sprintf("%s: %s has no SPF record", t.Text, target)
		}
		return false, "", ""
	case A:
		addrs, err := e.facts.Addrs(target, v6)
		if err != nil {
			return tempErr(err)
		}
		if len(addrs) == 0 {
			e.void(s.Domain, t.Text)
		}
		return matchAny(addrs, ip, t), "", ""
	case MX:
		names, err := e.facts.MX(target)
		if err != nil {
			return tempErr(err)
		}
		if len(names) == 0 {
			e.void(s.Domain, t.Text)
		}
		if len(names) > MaxNames {
			return false, PermError, fmt.Sprintf("%s: %d MX names, more than %d (§4.6.4)", t.Text, len(names), MaxNames)
		}
		for _, n := range names {
			if n == "." || n == "" {
				continue // a null MX names no host (RFC 7505)
			}
			addrs, err := e.facts.Addrs(n, v6)
			if err != nil {
				return tempErr(err)
			}
			if matchAny(addrs, ip, t) {
				return true, "", ""
			}
		}
		return false, "", ""
	case PTR:
		names, err := e.facts.PTR(ip)
		if err != nil {
			// §5.5: a failed PTR lookup makes the mechanism not match.
			return false, "", ""
		}
		if len(names) == 0 {
			e.void(s.Domain, t.Text)
		}
		if len(names) > MaxNames {
			names = names[:MaxNames] // §4.6.4: the rest are ignored
		}
		for _, n := range names {
			n = strings.TrimSuffix(strings.ToLower(n), ".")
			addrs, err := e.facts.Addrs(n, v6)
			if err != nil || !slices.Contains(addrs, ip) {
				continue
			}
			if n == target || strings.HasSuffix(n, "."+target) {
				return true, "", ""
			}
		}
		return false, "", ""
	case Exists:
		// §5.7: always an A query, whatever the client's family.
		addrs, err := e.facts.Addrs(target, false)
		if err != nil {
			return tempErr(err)
		}
		if len(addrs) == 0 {
			e.void(s.Domain, t.Text)
		}
		return len(addrs) > 0, "", ""
	}
	return false, "", ""
}

// matchAny applies the dual-cidr-length of an a or mx term (§5.6).
func matchAny(addrs []netip.Addr, ip netip.Addr, t Term) bool {
	if !ip.IsValid() {
		return false
	}
	for _, a := range addrs {
		a = a.Unmap()
		if a.Is4() != ip.Is4() {
			continue
		}
		bits := a.BitLen()
		if a.Is4() && t.CIDR4 >= 0 {
			bits = t.CIDR4
		} else if a.Is6() && t.CIDR6 >= 0 {
			bits = t.CIDR6
		}
		if p, err := a.Prefix(bits); err == nil && p.Contains(ip) {
			return true
		}
	}
	return false
}
