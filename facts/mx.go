package facts

import (
	"cmp"
	"context"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/resolver"
)

// MX is a domain's MX RRset and what its targets resolve to. It holds the
// one rule everything that needs "the domain's mail hosts" follows (the MX
// check, PTR, MTA-STS coverage, probes, login discovery, the CI gate):
//   - a null MX ("0 .", RFC 7505) names no host;
//   - a target written as an IP address is no host name: senders look it up
//     as a name and fail (RFC 5321 §5.1), so it is neither resolved nor
//     probed;
//   - a target that is a CNAME is still the host the MX names; its
//     addresses are found through the alias;
//   - a domain that exists without any MX record receives mail at its own
//     addresses (the implicit MX of RFC 5321 §5.1).
type MX struct {
	Domain string // without the trailing dot
	Lookup Lookup
	// Records are the MX records of the answer, in answer order.
	Records []MXRecord
	// Hosts are the distinct targets that are host names, in answer order.
	Hosts []*MXHost
	// Literals are the records whose target is an IP address.
	Literals []MXRecord
	// Nulls counts null MX records.
	Nulls int
	// Implicit holds the domain's own addresses when it exists and has no
	// MX record; nil otherwise.
	Implicit *Addrs
}

// MXRecord is one MX record and its index in the answer.
type MXRecord struct {
	RR    *dns.MX
	Index int
	// Target is the exchange, lower case, without the trailing dot; ""
	// for a null MX.
	Target string
}

// MXHost is one MX target that is a host name, and what it resolves to.
type MXHost struct {
	Name   string // lower case, without the trailing dot
	Record MXRecord
	// CNAMETarget is where a CNAME at Name leads (RFC 2181 §10.3 forbids
	// one), read from the chain the address lookups followed: "" when Name
	// is no alias, or when neither address lookup answered.
	CNAMETarget string
	Addrs       Addrs
}

// ParseMX reads an MX lookup of domain by the rule above, without
// resolving anything.
func ParseMX(domain string, l Lookup) MX {
	m := MX{Domain: trimDot(strings.ToLower(domain)), Lookup: l}
	for i, rr := range l.RRs() {
		mx, ok := rr.(*dns.MX)
		if !ok {
			continue
		}
		rec := MXRecord{RR: mx, Index: i, Target: trimDot(strings.ToLower(mx.Mx))}
		if mx.Mx == "." {
			rec.Target = ""
		}
		m.Records = append(m.Records, rec)
		switch {
		case rec.Target == "":
			m.Nulls++
		case IsIPLiteral(rec.Target):
			m.Literals = append(m.Literals, rec)
		case !slices.ContainsFunc(m.Hosts, func(h *MXHost) bool { return h.Name == rec.Target }):
			m.Hosts = append(m.Hosts, &MXHost{Name: rec.Target, Record: rec})
		}
	}
	return m
}

// LookupMX asks for domain's MX records and reads them by the rule above;
// the hosts are not resolved. For callers that need only the names (login
// discovery).
func LookupMX(ctx context.Context, r resolver.Resolver, domain string) MX {
	return ParseMX(domain, ask(ctx, r, domain, dns.TypeMX))
}

// GatherMX looks up the MX records and then, all at once, every host's
// A and AAAA, CNAMEs followed (or the domain's own addresses when it has no MX): two
// round trips whatever the number of hosts.
func GatherMX(ctx context.Context, r resolver.Resolver, domain string) MX {
	m := LookupMX(ctx, r, domain)
	if !m.Lookup.OK() || m.Lookup.Answer.NXDomain() {
		return m
	}
	var wg sync.WaitGroup
	if len(m.Records) == 0 {
		wg.Go(func() {
			a := askAddrs(ctx, r, m.Domain)
			m.Implicit = &a
		})
	}
	for _, h := range m.Hosts {
		// The address lookups follow a CNAME and say so: no CNAME query of
		// its own (RFC 2181 §10.3, RFC 5321 §5.1).
		wg.Go(func() {
			h.Addrs = askAddrs(ctx, r, h.Name)
			for _, l := range []*Lookup{&h.Addrs.A, &h.Addrs.AAAA} {
				if len(l.Chain) > 0 && h.CNAMETarget == "" {
					h.CNAMETarget = trimDot(l.Chain[0])
				}
			}
		})
	}
	wg.Wait()
	return m
}

// Exists reports whether the MX lookup answered and the domain exists.
func (m *MX) Exists() bool { return m.Lookup.OK() && !m.Lookup.Answer.NXDomain() }

// NullOnly reports whether the domain publishes a null MX and nothing else:
// it accepts no mail.
func (m *MX) NullOnly() bool { return m.Nulls > 0 && m.Nulls == len(m.Records) }

// Target is one host that receives the domain's mail, with its addresses
// when they were gathered.
type Target struct {
	Host string // without the trailing dot
	Pref uint16
	// Addrs is nil when the host's addresses were not gathered.
	Addrs *Addrs
}

// Targets lists the hosts that receive the domain's mail, most preferred
// first: the MX hosts, or the domain itself when it exists without MX (the
// implicit MX); none for a null MX, a failed lookup or a domain that does
// not exist.
func (m *MX) Targets() []Target {
	if !m.Exists() {
		return nil
	}
	if len(m.Records) == 0 {
		return []Target{{Host: m.Domain, Addrs: m.Implicit}}
	}
	var out []Target
	for _, h := range m.Hosts {
		out = append(out, Target{Host: h.Name, Pref: h.Record.RR.Preference, Addrs: &h.Addrs})
	}
	slices.SortStableFunc(out, func(a, b Target) int { return cmp.Compare(a.Pref, b.Pref) })
	return out
}

// HostNames lists the MX host names (not the implicit MX), most preferred
// first.
func (m *MX) HostNames() []string {
	var out []string
	for _, t := range m.Targets() {
		if len(m.Records) > 0 {
			out = append(out, t.Host)
		}
	}
	return out
}

// IsIPLiteral reports whether an MX target is an address rather than a
// name: a dotted quad (every label numeric), an IPv6 address, or an address
// literal in brackets (RFC 5321 §4.1.3 syntax, never valid in DNS).
func IsIPLiteral(target string) bool {
	t := strings.TrimSuffix(target, ".")
	if strings.HasPrefix(t, "[") || strings.Contains(t, ":") {
		return true
	}
	if _, err := netip.ParseAddr(t); err == nil {
		return true
	}
	labels := strings.Split(t, ".")
	if len(labels) != 4 {
		return false
	}
	for _, l := range labels {
		if l == "" || strings.Trim(l, "0123456789") != "" {
			return false
		}
	}
	return true
}
