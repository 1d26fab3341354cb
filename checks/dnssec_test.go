package checks

import (
	"context"
	"crypto"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

// signedKeySet makes a KSK for zone and an RRSIG over it valid from
// inception to expiration, both in presentation form. keyTagDelta, when
// not 0, makes the signature name another key.
func signedKeySet(t *testing.T, zone string, inception, expiration time.Time, keyTagDelta uint16) (key, sig string) {
	t.Helper()
	k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags: 257, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
	priv, err := k.Generate(256)
	if err != nil {
		t.Fatal(err)
	}
	s := &dns.RRSIG{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: 3600},
		TypeCovered: dns.TypeDNSKEY, Algorithm: k.Algorithm, Labels: uint8(dns.CountLabel(zone)), OrigTtl: 3600,
		Inception: uint32(inception.Unix()), Expiration: uint32(expiration.Unix()), KeyTag: k.KeyTag(), SignerName: zone}
	if err := s.Sign(priv.(crypto.Signer), []dns.RR{k}); err != nil {
		t.Fatal(err)
	}
	s.KeyTag += keyTagDelta
	return k.String(), s.String()
}

// corruptSignature changes one character of an RRSIG's signature.
func corruptSignature(t *testing.T, sig string) string {
	t.Helper()
	rr, err := dns.NewRR(sig)
	if err != nil {
		t.Fatal(err)
	}
	s := rr.(*dns.RRSIG)
	b := []byte(s.Signature)
	if b[10] == 'A' {
		b[10] = 'B'
	} else {
		b[10] = 'A'
	}
	s.Signature = string(b)
	return s.String()
}

// liveLike makes a map-backed resolver answer as a live resolver would:
// no zone-file origins, RRSIGs beside the DNSKEY records (DO set), and
// the AD bit when ad is true.
type liveLike struct {
	next resolver.Resolver
	ad   bool
}

func (l liveLike) Query(ctx context.Context, name string, qtype uint16) (*resolver.Answer, error) {
	ans, err := l.next.Query(ctx, name, qtype)
	if err != nil || qtype != dns.TypeDNSKEY {
		return ans, err
	}
	out := *ans
	if sigs, err := l.next.Query(ctx, name, dns.TypeRRSIG); err == nil {
		out.RRs = append(append([]dns.RR(nil), ans.RRs...), sigs.RRs...)
	}
	out.Authentic = l.ad
	return &out, nil
}

func dnssecZone(t *testing.T, extra ...string) *resolver.Zone {
	t.Helper()
	z, err := resolver.NewZone(resolver.ZoneSource{File: "example.com.zone", Data: []byte(
		"$ORIGIN example.com.\n@ IN SOA ns. h. 1 2 3 4 5\n@ IN NS ns.\n@ IN MX 10 mail\nmail IN A 192.0.2.1\n" +
			strings.Join(extra, "\n") + "\n")})
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func TestDNSSEC(t *testing.T) {
	now := time.Now()
	key, sig := signedKeySet(t, "example.com.", now.AddDate(0, -1, 0), now.AddDate(1, 0, 0), 0)
	k2, sigExpired := signedKeySet(t, "example.com.", now.AddDate(0, -2, 0), now.AddDate(0, -1, 0), 0)
	k3, sigOtherKey := signedKeySet(t, "example.com.", now.AddDate(0, -1, 0), now.AddDate(1, 0, 0), 1)
	corrupt := corruptSignature(t, sig)
	soa := "example.com. IN SOA ns. h. 1 2 3 4 5"

	tests := []struct {
		name   string
		r      resolver.Resolver
		domain string
		want   []want
		absent []string
	}{
		{name: "unsigned", r: dnssecZone(t), domain: "example.com",
			want: []want{{"dnssec.unsigned", finding.Info, "example.com DNSKEY"}}},
		{name: "signed zone file", r: dnssecZone(t, key, sig), domain: "example.com",
			want: []want{{"dnssec.ok", finding.Pass, "example.com DNSKEY"}}},
		{name: "subdomain uses its zone's apex", r: dnssecZone(t, key, sig, "sub IN A 192.0.2.2"), domain: "sub.example.com",
			want: []want{{"dnssec.ok", finding.Pass, "example.com DNSKEY"}}},
		{name: "expired signature", r: dnssecZone(t, k2, sigExpired), domain: "example.com",
			want: []want{{"dnssec.bogus", finding.Fail, "example.com DNSKEY"}}, absent: []string{"dnssec.ok"}},
		{name: "signature by an unpublished key", r: dnssecZone(t, k3, sigOtherKey), domain: "example.com",
			want: []want{{"dnssec.bogus", finding.Fail, ""}}},
		{name: "signature does not verify", r: dnssecZone(t, key, corrupt), domain: "example.com",
			want: []want{{"dnssec.bogus", finding.Fail, ""}}},
		{name: "keys without signatures in the file", r: dnssecZone(t, key), domain: "example.com",
			want: []want{{"dnssec.not-validated", finding.Info, ""}}, absent: []string{"dnssec.ok", "dnssec.unsigned"}},
		{name: "validating resolver", r: liveLike{resolvertest.New(soa, key, sig), true}, domain: "example.com",
			want: []want{{"dnssec.ok", finding.Pass, ""}}},
		{name: "non-validating resolver", r: liveLike{resolvertest.New(soa, key, sig), false}, domain: "example.com",
			want: []want{{"dnssec.not-validated", finding.Info, ""}}, absent: []string{"dnssec.ok"}},
		{name: "non-validating resolver, expired signature", r: liveLike{resolvertest.New(soa, k2, sigExpired), false}, domain: "example.com",
			want: []want{{"dnssec.bogus", finding.Fail, ""}}},
		{name: "domain does not exist", r: dnssecZone(t), domain: "nope.example.com", absent: []string{"dnssec.unsigned", "dnssec.ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runOn(checkDNSSEC, tt.r, tt.domain)
			assertFindings(t, res.Findings, tt.want...)
			for _, id := range tt.absent {
				if f := findingByID(res.Findings, id); f != nil {
					t.Errorf("unexpected %s/%s: %s", f.ID, f.Severity, f.Title)
				}
			}
		})
	}
}

func TestDNSSECLookupFailures(t *testing.T) {
	for _, qtype := range []uint16{dns.TypeSOA, dns.TypeDNSKEY} {
		for _, kind := range []resolver.Kind{resolver.ServFail, resolver.Timeout, resolver.OutOfZone} {
			r := resolvertest.New("example.com. IN SOA ns. h. 1 2 3 4 5")
			r.Fail("example.com.", qtype, kind)
			res := runOn(checkDNSSEC, r, "example.com")
			id, sev := "dns.lookup-failed", finding.Error
			if kind == resolver.OutOfZone {
				id, sev = "dns.not-checked", finding.Info
			}
			assertFindings(t, res.Findings, want{id, sev, "example.com " + dns.TypeToString[qtype]})
			if f := findingByID(res.Findings, "dnssec.unsigned"); f != nil {
				t.Errorf("%s on %s: reported unsigned", kind, dns.TypeToString[qtype])
			}
		}
	}
}
