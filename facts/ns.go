package facts

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/nameserver"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// NSOptions say how the name servers of a domain's zone are surveyed.
type NSOptions struct {
	// Ask has every server of the zone asked directly, on Port, for the
	// zone's SOA and the mail records (nameserver.Gather). Without it, or
	// for a domain whose data comes from zone files, only the NS RRsets are
	// read: the zone's own and the parent's delegation when a zone file
	// holds it. Zone files are the proposed state; their servers serve the
	// published one, which says nothing about them.
	Ask bool
	// AskZoneServers asks the servers even when the domain's data comes
	// from zone files: a test rig (selftest) where they serve those files.
	AskZoneServers bool
	// Port is the port servers are asked on: 53, or Q of --port-map 53=Q.
	Port int
	// SkipIPv6 leaves out the servers' IPv6 addresses: from a host without
	// an IPv6 route, every one of them would look unreachable.
	SkipIPv6 bool
}

// NS is what was learnt about the name servers of the zone that holds the
// domain.
type NS struct {
	Survey *nameserver.Survey
	// Asked is set when each server was asked directly. Otherwise the
	// survey holds the NS RRsets only (its servers have no replies).
	Asked bool
	// SkippedIPv6 is set when the servers' IPv6 addresses were left out.
	SkippedIPv6 bool
	// Child is the NS lookup at the apex in zone mode, for the zone file
	// location of the findings.
	Child Lookup
}

// HasIPv6Route reports whether this host can reach IPv6 addresses at all:
// connecting a UDP socket sends nothing, and fails at once without a route.
func HasIPv6Route() bool {
	c, err := net.Dial("udp6", "[2001:db8::53]:53")
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func gatherNS(ctx context.Context, env *Env, domain string) NS {
	o := env.NameServers
	inFiles := env.ZoneFiles != nil && env.ZoneFiles.Contains(dns.Fqdn(domain))
	if o.Ask && (!inFiles || o.AskZoneServers) {
		s := nameserver.Gather(ctx, env.Resolver, domain, nameserver.Options{Port: o.Port, SkipIPv6: o.SkipIPv6})
		return NS{Survey: s, Asked: true, SkippedIPv6: o.SkipIPv6}
	}
	return zoneNS(ctx, env.Resolver, env.ZoneFiles, domain)
}

// errParentNotGiven says that the parent's delegation is not among the
// zone files: the two sides cannot be compared.
var errParentNotGiven = errors.New("the parent zone is not among the zone files")

// zoneNS reads the NS RRsets of the domain's zone without asking any
// server: the apex (the nearest name at or above the domain owning an
// SOA), its NS RRset, and the parent's delegation when a zone file holds
// it.
func zoneNS(ctx context.Context, r resolver.Resolver, zone *resolver.Zone, domain string) NS {
	s := &nameserver.Survey{Domain: dns.Fqdn(strings.ToLower(domain))}
	out := NS{Survey: s}
	s.Zone, s.ZoneErr = apexOf(ctx, r, s.Domain)
	if s.ZoneErr != nil {
		return out
	}
	out.Child = askExact(ctx, r, s.Zone, dns.TypeNS)
	s.Child = nameserver.Delegation{Err: out.Child.Err}
	if out.Child.Answer != nil {
		s.Child.From = out.Child.Answer.Server
	}
	for _, rr := range out.Child.RRs() {
		if ns, ok := rr.(*dns.NS); ok && strings.EqualFold(ns.Hdr.Name, s.Zone) {
			s.Child.NameServers = append(s.Child.NameServers, strings.ToLower(dns.Fqdn(ns.Ns)))
		}
	}
	s.Parent = nameserver.Delegation{Err: errParentNotGiven}
	if zone != nil {
		if d := zone.DelegationAt(s.Zone); d != nil {
			s.Parent = nameserver.Delegation{NameServers: slices.Clone(d.NameServers), From: "zone files"}
		}
	}
	for _, side := range []*nameserver.Delegation{&s.Parent, &s.Child} {
		slices.Sort(side.NameServers)
		side.NameServers = slices.Compact(side.NameServers)
	}
	hosts := map[string]*nameserver.Server{}
	for _, h := range s.Parent.NameServers {
		hosts[h] = &nameserver.Server{Host: h, InParent: true}
	}
	for _, h := range s.Child.NameServers {
		if hosts[h] == nil {
			hosts[h] = &nameserver.Server{Host: h}
		}
		hosts[h].InChild = true
	}
	for _, srv := range hosts {
		s.Servers = append(s.Servers, srv)
	}
	slices.SortFunc(s.Servers, func(a, b *nameserver.Server) int { return strings.Compare(a.Host, b.Host) })
	return out
}

// apexOf finds the apex of the zone holding name: the nearest name at or
// above it that owns an SOA record (RFC 1034 §4.2). A name that does not
// exist still lies in a zone, which the walk up finds.
func apexOf(ctx context.Context, r resolver.Resolver, name string) (string, error) {
	for cur := name; ; {
		l := askExact(ctx, r, cur, dns.TypeSOA)
		if l.Err != nil {
			return "", l.Err
		}
		for _, rr := range l.RRs() {
			if soa, ok := rr.(*dns.SOA); ok && strings.EqualFold(soa.Hdr.Name, cur) {
				return cur, nil
			}
		}
		if dns.CountLabel(cur) <= 1 {
			return "", &resolver.Error{Kind: resolver.ServFail, Name: name, Qtype: dns.TypeSOA,
				Err: errors.New("no zone apex above the name")}
		}
		i, _ := dns.NextLabel(cur, 0)
		cur = cur[i:]
	}
}
