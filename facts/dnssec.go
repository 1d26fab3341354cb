package facts

import (
	"context"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/resolver"
)

// DNSSEC is what tells whether the zone holding a domain is signed: the
// zone apex (the nearest name, from the domain up to the label below the
// TLD, that owns an SOA record), its DNSKEY RRset with the signatures over
// it, and whether the resolver validated it (the AD bit).
type DNSSEC struct {
	// Apex is the zone apex, fully qualified; "" when none was found (the
	// domain does not exist). ApexErr is set when an SOA lookup failed.
	Apex    string
	ApexErr error
	// SOA is the SOA lookup at the apex.
	SOA Lookup
	// DNSKEY is the DNSKEY lookup at the apex (not following CNAMEs).
	DNSKEY Lookup
	Keys   []*dns.DNSKEY
	// Sigs are the RRSIGs over the DNSKEY set: from the DNSKEY answer (the
	// live resolver asks with DO) or, from a zone file, asked apart.
	Sigs []*dns.RRSIG
	// FromZone is set when the DNSKEY answer came from a zone file.
	FromZone bool
}

// Authentic reports whether a validating resolver set the AD bit.
func (d *DNSSEC) Authentic() bool { return d.DNSKEY.Answer != nil && d.DNSKEY.Answer.Authentic }

func gatherDNSSEC(ctx context.Context, r resolver.Resolver, domain string) DNSSEC {
	var d DNSSEC
	d.Apex, d.SOA, d.ApexErr = findApex(ctx, r, domain)
	if d.ApexErr != nil || d.Apex == "" {
		return d
	}
	d.DNSKEY = askExact(ctx, r, d.Apex, dns.TypeDNSKEY)
	if d.DNSKEY.Err != nil {
		return d
	}
	d.FromZone = d.DNSKEY.Answer.Origins != nil
	for _, rr := range d.DNSKEY.RRs() {
		switch v := rr.(type) {
		case *dns.DNSKEY:
			d.Keys = append(d.Keys, v)
		case *dns.RRSIG:
			if v.TypeCovered == dns.TypeDNSKEY {
				d.Sigs = append(d.Sigs, v)
			}
		}
	}
	if len(d.Keys) > 0 && len(d.Sigs) == 0 && d.FromZone && !d.Authentic() {
		// A zone resolver answers each type apart: ask for the signatures.
		sigs := askExact(ctx, r, d.Apex, dns.TypeRRSIG)
		for _, rr := range sigs.RRs() {
			if s, ok := rr.(*dns.RRSIG); ok && s.TypeCovered == dns.TypeDNSKEY {
				d.Sigs = append(d.Sigs, s)
			}
		}
	}
	return d
}

// findApex walks up from domain to the label below the TLD, returning the
// first name that owns an SOA record. A domain that does not exist has no
// apex ("").
func findApex(ctx context.Context, r resolver.Resolver, domain string) (string, Lookup, error) {
	start := strings.ToLower(dns.Fqdn(domain))
	for name := start; dns.CountLabel(name) >= 2; {
		l := askExact(ctx, r, name, dns.TypeSOA)
		if l.Err != nil {
			return "", l, l.Err
		}
		if l.Answer.NXDomain() && name == start {
			return "", l, nil
		}
		for _, rr := range l.RRs() {
			if soa, ok := rr.(*dns.SOA); ok && strings.EqualFold(soa.Hdr.Name, name) {
				return name, l, nil
			}
		}
		i, _ := dns.NextLabel(name, 0)
		name = name[i:]
	}
	return "", Lookup{}, nil
}
