package resolver_test

import (
	"errors"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/resolver"
	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

func TestAskServer(t *testing.T) {
	addr := resolvertest.StartServer(t, loadTestZone(t), 0)
	tests := []struct {
		name      string
		qname     string
		qtype     uint16
		rcode     int
		aa        bool
		records   int
		serial    bool   // an SOA in the answer or authority section
		referral  string // the zone referred to
		recursion bool
	}{
		{name: "authoritative answer", qname: "example.com", qtype: dns.TypeSOA, aa: true, records: 1, serial: true},
		{name: "NODATA carries the SOA", qname: "mail.example.com", qtype: dns.TypeTXT, aa: true, serial: true},
		{name: "NXDOMAIN", qname: "nope.example.com", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true, serial: true},
		{name: "a CNAME is not chased by the server", qname: "alias.example.com", qtype: dns.TypeA, aa: true},
		{name: "referral below a cut", qname: "www.sub.example.com", qtype: dns.TypeA, referral: "sub.example.com."},
		{name: "outside the server's zones", qname: "example.org", qtype: dns.TypeA, rcode: dns.RcodeRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := resolver.AskServer(withTimeout(t, 3*time.Second), addr, tt.qname, tt.qtype)
			if err != nil {
				t.Fatal(err)
			}
			if r.Rcode != tt.rcode || r.Authoritative != tt.aa || r.RecursionAvailable {
				t.Errorf("rcode %s AA %v RA %v, want %s AA %v", dns.RcodeToString[r.Rcode], r.Authoritative,
					r.RecursionAvailable, dns.RcodeToString[tt.rcode], tt.aa)
			}
			if len(r.Records()) != tt.records {
				t.Errorf("%d records of the question's type: %v", len(r.Records()), r.Answer)
			}
			if soa, ok := r.SOA(); ok != tt.serial || (ok && soa.Serial != 1) {
				t.Errorf("SOA %v, %v", soa, ok)
			}
			d := r.Referral()
			if (d != nil) != (tt.referral != "") || (d != nil && d.Zone != tt.referral) {
				t.Errorf("referral %+v, want %q", d, tt.referral)
			}
			if tt.referral != "" && len(r.Additional) == 0 {
				t.Error("a referral's glue is in the additional section")
			}
		})
	}
	// Silence is the one error.
	silent := resolvertest.StartServer(t, resolvertest.Silent(), 0)
	_, err := resolver.AskServer(withTimeout(t, 300*time.Millisecond), silent, "example.com", dns.TypeSOA)
	var re *resolver.Error
	if !errors.As(err, &re) || re.Kind != resolver.Timeout || re.Server != silent {
		t.Errorf("silent server: %v, want a timeout naming it", err)
	}
}
