package resolver

import (
	"net"

	"github.com/miekg/dns"
)

// serverUDPSize is the EDNS0 payload size the zone server advertises and the
// most it sends over UDP: 1232 bytes avoids IP fragmentation on any path
// (DNS Flag Day 2020).
const serverUDPSize = 1232

// ServeDNS implements dns.Handler: the zones' authoritative server, for the
// embedded reference server and the tests. It answers with AA set, puts the
// SOA in the authority section of NXDOMAIN and NODATA answers (RFC 2308
// §3), returns a CNAME without chasing it, refers names at or below a
// delegation to the child's servers, and refuses names outside every zone.
// Over UDP an answer larger than the client's buffer is truncated with TC
// set, so the client retries over TCP (RFC 7766 §5).
func (z *Zone) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := z.respond(r)
	udp := false
	if _, ok := w.RemoteAddr().(*net.UDPAddr); ok {
		udp = true
	}
	if udp {
		// RFC 6891 §6.2.5: without EDNS0 the limit is 512 bytes.
		size := dns.MinMsgSize
		if opt := r.IsEdns0(); opt != nil {
			size = min(max(int(opt.UDPSize()), dns.MinMsgSize), serverUDPSize)
		}
		m.Truncate(size)
	} else {
		m.Compress = true
	}
	_ = w.WriteMsg(m) // a client that went away needs no answer
}

func (z *Zone) respond(r *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	if r.Opcode != dns.OpcodeQuery {
		m.SetRcode(r, dns.RcodeNotImplemented)
		return m
	}
	if len(r.Question) != 1 {
		m.SetRcode(r, dns.RcodeFormatError)
		return m
	}
	m.SetReply(r)
	m.RecursionAvailable = false
	if opt := r.IsEdns0(); opt != nil {
		// RFC 6891 §7: echo EDNS0, and the DO bit (RFC 3225 §3).
		m.SetEdns0(serverUDPSize, opt.Do())
		if opt.Version() != 0 {
			// RFC 6891 §6.1.3: only version 0 exists.
			m.Rcode = dns.RcodeBadVers
			return m
		}
	}
	q := r.Question[0]
	if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
		m.Rcode = dns.RcodeRefused
		return m
	}
	name := canonical(q.Name)
	zd := z.find(name, q.Qtype)
	if zd == nil {
		if ref := z.referral(name, q.Qtype); ref != nil {
			m.Ns, m.Extra = ref.ns, append(ref.glue, m.Extra...)
			return m
		}
		m.Rcode = dns.RcodeRefused
		return m
	}
	m.Authoritative = true
	rrs, _, rcode := zd.lookup(name, q.Qtype)
	m.Rcode = rcode
	for _, rr := range rrs {
		m.Answer = append(m.Answer, dns.Copy(rr))
	}
	if opt := r.IsEdns0(); opt != nil && opt.Do() && q.Qtype != dns.TypeRRSIG && len(rrs) > 0 {
		// RFC 4035 §3.1.1: a signed zone's server answers a DO query with
		// the signatures over the RRsets it returns.
		m.Answer = append(m.Answer, zd.signatures(name, rrs)...)
	}
	if len(m.Answer) == 0 && zd.soa != nil {
		soa := dns.Copy(zd.soa).(*dns.SOA)
		// RFC 2308 §3: the negative TTL is the lesser of the SOA's TTL and
		// its MINIMUM field.
		soa.Hdr.Ttl = min(soa.Hdr.Ttl, soa.Minttl)
		m.Ns = []dns.RR{soa}
	}
	return m
}

type referral struct {
	file string // the zone file that delegates
	ns   []dns.RR
	glue []dns.RR
}

// delegation says what the referral says, for a Referral error.
func (r *referral) delegation() *Delegation {
	d := &Delegation{}
	for _, rr := range r.ns {
		ns := rr.(*dns.NS)
		d.Zone = canonical(ns.Hdr.Name)
		d.NameServers = append(d.NameServers, canonical(ns.Ns))
	}
	return d
}

// referral returns the NS records of the topmost delegation above or at
// name, with the addresses the zone holds for them (RFC 1034 §4.3.2 step
// 3b), or nil when no loaded zone delegates name.
func (z *Zone) referral(name string, qtype uint16) *referral {
	for _, zd := range z.zones {
		if !dns.IsSubDomain(zd.origin, name) || !zd.delegated(name, qtype) {
			continue
		}
		cut := ""
		for cur := name; cur != zd.origin && cur != "."; cur = parent(cur) {
			if zd.cuts[cur] {
				cut = cur
			}
		}
		ref := &referral{file: zd.file}
		for _, rr := range zd.nodes[cut].rrs {
			ns, ok := rr.(*dns.NS)
			if !ok {
				continue
			}
			ref.ns = append(ref.ns, dns.Copy(ns))
			if host := zd.nodes[canonical(ns.Ns)]; host != nil {
				for _, a := range host.rrs {
					if t := a.Header().Rrtype; t == dns.TypeA || t == dns.TypeAAAA {
						ref.glue = append(ref.glue, dns.Copy(a))
					}
				}
			}
		}
		return ref
	}
	return nil
}

// signatures returns the zone's RRSIGs at name that cover the types of
// rrs, for a DO answer (a zone file signed beforehand, or at load time by
// SignZone).
func (zd *zoneData) signatures(name string, rrs []dns.RR) []dns.RR {
	sigs, _, _ := zd.lookup(name, dns.TypeRRSIG)
	var out []dns.RR
	for _, rr := range sigs {
		s, ok := rr.(*dns.RRSIG)
		if !ok {
			continue
		}
		for _, a := range rrs {
			if a.Header().Rrtype == s.TypeCovered {
				out = append(out, dns.Copy(s))
				break
			}
		}
	}
	return out
}
