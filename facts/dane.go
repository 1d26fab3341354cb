package facts

import (
	"context"
	"crypto/x509"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/checks/dane"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// DANE holds, for each MX host, the TLSA records senders look up before
// connecting (RFC 7672 §2.2) and what tells whether DNSSEC protects them;
// and, after probing, the certificate chains the hosts served on port 25.
type DANE struct {
	Hosts []*TLSAHost
	// Served are the chains the MX hosts presented after STARTTLS on port
	// 25, one per address probed. The audit fills them in after probing;
	// they are empty with --no-probe.
	Served []ServedChain
}

// TLSAHost is the TLSA RRset of one MX host.
type TLSAHost struct {
	Host   string // the MX host, without the trailing dot
	Lookup Lookup // TLSA at _25._tcp.<host>, CNAMEs followed
	// Records are the TLSA records read; Bad are those whose data is not
	// hexadecimal (dane.Parse).
	Records []dane.Record
	Bad     []error
	// Sigs are the RRSIGs over the TLSA RRset: from the answer (the live
	// resolver asks with DO) or, from a zone file, asked apart. Keys is
	// the DNSKEY lookup at their signer, to verify them.
	Sigs []*dns.RRSIG
	Keys Lookup
}

// Validated reports whether a validating resolver set the AD bit on the
// TLSA answer: then the records are what RFC 7672 §2.2 calls secure.
func (t *TLSAHost) Validated() bool { return t.Lookup.Answer != nil && t.Lookup.Answer.Authentic }

// FromZone reports whether the answer came from a zone file.
func (t *TLSAHost) FromZone() bool { return t.Lookup.Answer != nil && t.Lookup.Answer.Origins != nil }

// RRset returns the TLSA records of the answer, as the signatures cover
// them.
func (t *TLSAHost) RRset() []dns.RR {
	var out []dns.RR
	for _, rr := range t.Lookup.RRs() {
		if rr.Header().Rrtype == dns.TypeTLSA {
			out = append(out, rr)
		}
	}
	return out
}

// ServedChain is the chain one address of an MX host presented.
type ServedChain struct {
	Host  string // the MX host, without the trailing dot
	Addr  string // "ip:port" as probed
	Chain []*x509.Certificate
	// NoTLS is set when the server answered but offered no STARTTLS.
	NoTLS bool
}

// ChainsOf returns the chains host served.
func (d *DANE) ChainsOf(host string) []ServedChain {
	var out []ServedChain
	for _, c := range d.Served {
		if strings.EqualFold(c.Host, host) {
			out = append(out, c)
		}
	}
	return out
}

// gatherDANE looks up the TLSA records of every MX host at once, and what
// their signatures need.
func gatherDANE(ctx context.Context, r resolver.Resolver, mx *MX) DANE {
	var d DANE
	for _, h := range mx.Hosts {
		d.Hosts = append(d.Hosts, &TLSAHost{Host: h.Name})
	}
	var wg sync.WaitGroup
	for _, t := range d.Hosts {
		wg.Go(func() { gatherTLSA(ctx, r, t) })
	}
	wg.Wait()
	return d
}

func gatherTLSA(ctx context.Context, r resolver.Resolver, t *TLSAHost) {
	t.Lookup = ask(ctx, r, dane.TLSAName(25, t.Host), dns.TypeTLSA)
	for _, rr := range t.Lookup.RRs() {
		switch v := rr.(type) {
		case *dns.TLSA:
			rec, err := dane.FromRR(v)
			if err != nil {
				t.Bad = append(t.Bad, err)
				continue
			}
			t.Records = append(t.Records, rec)
		case *dns.RRSIG:
			if v.TypeCovered == dns.TypeTLSA {
				t.Sigs = append(t.Sigs, v)
			}
		}
	}
	if len(t.Records)+len(t.Bad) == 0 || t.Validated() {
		return
	}
	if len(t.Sigs) == 0 && t.FromZone() {
		// A zone resolver answers each type apart: ask for the signatures
		// at the name that holds the records.
		owner := t.Lookup.Name
		if n := len(t.Lookup.Chain); n > 0 {
			owner = t.Lookup.Chain[n-1]
		}
		sigs := askExact(ctx, r, owner, dns.TypeRRSIG)
		for _, rr := range sigs.RRs() {
			if s, ok := rr.(*dns.RRSIG); ok && s.TypeCovered == dns.TypeTLSA {
				t.Sigs = append(t.Sigs, s)
			}
		}
	}
	if len(t.Sigs) > 0 {
		t.Keys = askExact(ctx, r, t.Sigs[0].SignerName, dns.TypeDNSKEY)
	}
}
