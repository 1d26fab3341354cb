package resolver

import (
	"bytes"
	"crypto"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// SignOptions bound the signatures SignZone makes.
type SignOptions struct {
	Inception, Expiration time.Time
}

// SignZone signs the zone text data of origin for tests and the reference
// server: it makes a new key (a combined signing key, ECDSA P-256 SHA-256,
// algorithm 13), and appends the DNSKEY and an RRSIG over every
// authoritative RRset (RFC 4035 §2.2) after the text, so that the line of
// every record already there stays the same. Delegation NS RRsets and glue
// below a cut are not signed (§2.2). data must not be signed already. There
// is no NSEC chain: nothing mailcheck judges needs one. The private key is
// thrown away, so the parent's DS cannot exist: a zone signed here is
// checked as a zone file is, without the chain of trust.
func SignZone(data []byte, origin string, o SignOptions) ([]byte, error) {
	origin = canonical(origin)
	zp := dns.NewZoneParser(bytes.NewReader(data), origin, "")
	var rrs []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		switch rr.Header().Rrtype {
		case dns.TypeDNSKEY, dns.TypeRRSIG:
			return nil, fmt.Errorf("sign %s: the zone is signed already (%s)", origin, rr.Header().String())
		}
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("sign %s: %w", origin, err)
	}
	ttl := uint32(3600)
	cuts := map[string]bool{}
	for _, rr := range rrs {
		h := rr.Header()
		switch {
		case h.Rrtype == dns.TypeSOA && canonical(h.Name) == origin:
			ttl = h.Ttl
		case h.Rrtype == dns.TypeNS && canonical(h.Name) != origin:
			cuts[canonical(h.Name)] = true
		}
	}
	below := func(name string, qtype uint16) bool {
		for cur := name; cur != origin && cur != "."; cur = parent(cur) {
			if cuts[cur] && !(cur == name && qtype == dns.TypeDS) {
				return true
			}
		}
		return false
	}

	key := &dns.DNSKEY{Hdr: dns.RR_Header{Name: origin, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: ttl},
		Flags: 257, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
	priv, err := key.Generate(256)
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", origin, err)
	}
	rrs = append(rrs, key)

	type setKey struct {
		name  string
		rtype uint16
	}
	sets := map[setKey][]dns.RR{}
	var order []setKey
	for _, rr := range rrs {
		h := rr.Header()
		k := setKey{canonical(h.Name), h.Rrtype}
		if below(k.name, k.rtype) {
			continue
		}
		if _, seen := sets[k]; !seen {
			order = append(order, k)
		}
		sets[k] = append(sets[k], rr)
	}
	var out bytes.Buffer
	out.Write(data)
	if len(data) > 0 && data[len(data)-1] != '\n' {
		out.WriteByte('\n')
	}
	fmt.Fprintf(&out, "; DNSSEC: a combined signing key made at load and a signature over every RRset, valid %s to %s\n",
		o.Inception.UTC().Format(time.DateOnly), o.Expiration.UTC().Format(time.DateOnly))
	fmt.Fprintln(&out, key.String())
	slices.SortStableFunc(order, func(a, b setKey) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return int(a.rtype) - int(b.rtype)
	})
	for _, k := range order {
		set := sets[k]
		sig := &dns.RRSIG{
			Hdr:        dns.RR_Header{Name: k.name, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: set[0].Header().Ttl},
			Algorithm:  key.Algorithm,
			Inception:  uint32(o.Inception.Unix()),
			Expiration: uint32(o.Expiration.Unix()),
			KeyTag:     key.KeyTag(),
			SignerName: origin,
		}
		if err := sig.Sign(priv.(crypto.Signer), set); err != nil {
			return nil, fmt.Errorf("sign %s %s: %w", k.name, dns.TypeToString[k.rtype], err)
		}
		fmt.Fprintln(&out, sig.String())
	}
	return out.Bytes(), nil
}
