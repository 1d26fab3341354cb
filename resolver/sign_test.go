package resolver

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// A zone signed by SignZone verifies as a validator checks it: each
// authoritative RRset under a signature of the new key, the delegation
// and its glue unsigned, and the lines of the original records unchanged.
func TestSignZone(t *testing.T) {
	const zoneText = `$ORIGIN example.test.
$TTL 300
@        IN SOA ns1 hostmaster 7 7200 3600 1209600 300
@        IN NS  ns1
ns1      IN A   127.0.0.1
@        IN MX  10 mail
mail     IN A   127.0.0.1
_25._tcp.mail IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
sub      IN NS  ns.sub
ns.sub   IN A   127.0.0.2
`
	now := time.Now()
	signed, err := SignZone([]byte(zoneText), "example.test.", SignOptions{Inception: now.Add(-time.Hour), Expiration: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(signed), zoneText) {
		t.Fatal("the original text is not kept as it was")
	}
	z, err := NewZone(ZoneSource{File: "example.test.zone", Origin: "example.test.", Data: signed})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	keys, err := z.Query(ctx, "example.test.", dns.TypeDNSKEY)
	if err != nil || len(keys.RRs) != 1 {
		t.Fatalf("DNSKEY: %v, %v", keys, err)
	}
	key := keys.RRs[0].(*dns.DNSKEY)
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"example.test.", dns.TypeMX}, {"_25._tcp.mail.example.test.", dns.TypeTLSA}, {"example.test.", dns.TypeDNSKEY}, {"example.test.", dns.TypeNS}} {
		set, err := z.Query(ctx, q.name, q.qtype)
		if err != nil {
			t.Fatal(err)
		}
		sigs, err := z.Query(ctx, q.name, dns.TypeRRSIG)
		if err != nil {
			t.Fatal(err)
		}
		verified := false
		for _, rr := range sigs.RRs {
			if s := rr.(*dns.RRSIG); s.TypeCovered == q.qtype && s.Verify(key, set.RRs) == nil && s.ValidityPeriod(now) {
				verified = true
			}
		}
		if !verified {
			t.Errorf("%s %s: no signature verifies", q.name, dns.TypeToString[q.qtype])
		}
	}
	// RFC 4035 §2.2: the delegation and its glue belong to the child.
	if strings.Contains(string(signed), "RRSIG\tNS 13 3") || strings.Contains(string(signed), "ns.sub.example.test.\t300\tIN\tRRSIG") {
		t.Errorf("the delegation or its glue is signed:\n%s", signed)
	}
	if _, err := SignZone(signed, "example.test.", SignOptions{Inception: now, Expiration: now}); err == nil {
		t.Error("a signed zone was signed again")
	}

	// RFC 4035 §3.1.1: the zone's server sends the signatures with a DO
	// answer, and only then.
	for _, do := range []bool{true, false} {
		q := new(dns.Msg)
		q.SetQuestion("_25._tcp.mail.example.test.", dns.TypeTLSA)
		q.SetEdns0(1232, do)
		sigs := 0
		for _, rr := range z.respond(q).Answer {
			if s, ok := rr.(*dns.RRSIG); ok && s.TypeCovered == dns.TypeTLSA {
				sigs++
			}
		}
		if (sigs == 1) != do {
			t.Errorf("DO %v: %d RRSIG TLSA in the answer", do, sigs)
		}
	}
}
