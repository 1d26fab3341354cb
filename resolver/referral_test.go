package resolver_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/resolver"
	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

// delegatingZone delegates _dmarc and an SPF include target to servers
// that are not there, the shapes the issue found reported as "missing".
const delegatingZone = `$ORIGIN example.com.
$TTL 300
@            IN SOA ns1 hostmaster 1 7200 3600 1209600 300
@            IN NS  ns1
ns1          IN A   192.0.2.53
@            IN TXT "v=spf1 include:_spf.example.com -all"
_dmarc       IN NS  ns.dead.example.net.
_spf         IN NS  ns1.spf
ns1.spf      IN A   192.0.2.99
mail         IN A   192.0.2.25
`

// answering replies to every query with the message build makes.
func answering(build func(q *dns.Msg) *dns.Msg) dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) { _ = w.WriteMsg(build(r)) })
}

func TestReferralIsNotNoData(t *testing.T) {
	zone, err := resolver.NewZone(resolver.ZoneSource{File: "example.com.zone", Data: []byte(delegatingZone)})
	if err != nil {
		t.Fatal(err)
	}
	authoritative := resolvertest.StartServer(t, zone, 0)

	soa, _ := dns.NewRR("example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300")
	rootNS, _ := dns.NewRR(". 518400 IN NS a.root-servers.net.")
	childNS, _ := dns.NewRR("_dmarc.example.com. 300 IN NS ns.dead.example.net.")
	// A lame server refers every name it is not authoritative for to the
	// root (an "upward referral").
	upward := resolvertest.StartServer(t, answering(func(q *dns.Msg) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Ns = []dns.RR{rootNS}
		return m
	}), 0)
	// A recursive resolver's NODATA carries the SOA and no AA bit.
	recursiveNoData := resolvertest.StartServer(t, answering(func(q *dns.Msg) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(q)
		m.RecursionAvailable = true
		m.Ns = []dns.RR{soa}
		return m
	}), 0)
	// RFC 2308 §2.2 type 2 NODATA: SOA and NS in the authority section.
	noDataWithNS := resolvertest.StartServer(t, answering(func(q *dns.Msg) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Ns = []dns.RR{soa, childNS}
		return m
	}), 0)
	// RFC 2308 §2.2 type 3 NODATA: nothing in the authority section.
	bareNoData := resolvertest.StartServer(t, answering(func(q *dns.Msg) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(q)
		return m
	}), 0)
	// An authoritative answer with NS in the authority section is an
	// answer, whatever else the section holds.
	aaWithNS := resolvertest.StartServer(t, answering(func(q *dns.Msg) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Authoritative = true
		m.Ns = []dns.RR{childNS}
		return m
	}), 0)

	tests := []struct {
		name     string
		server   string
		qname    string
		qtype    uint16
		referral string // the zone a Referral error names; "" for an answer
	}{
		{"_dmarc delegated to a dead server", authoritative, "_dmarc.example.com", dns.TypeTXT, "_dmarc.example.com."},
		{"SPF include target delegated", authoritative, "_spf.example.com", dns.TypeTXT, "_spf.example.com."},
		{"below the delegation", authoritative, "x._spf.example.com", dns.TypeTXT, "_spf.example.com."},
		{"upward referral from a lame server", upward, "example.com", dns.TypeMX, "."},
		{"NODATA from the authoritative server", authoritative, "mail.example.com", dns.TypeTXT, ""},
		{"NODATA from a recursive resolver", recursiveNoData, "mail.example.com", dns.TypeTXT, ""},
		{"NODATA with SOA and NS", noDataWithNS, "mail.example.com", dns.TypeTXT, ""},
		{"NODATA with an empty authority section", bareNoData, "mail.example.com", dns.TypeTXT, ""},
		{"authoritative, NS in authority", aaWithNS, "mail.example.com", dns.TypeTXT, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			live := newLive(t, tt.server)
			ans, err := live.Query(withTimeout(t, 3*time.Second), tt.qname, tt.qtype)
			if tt.referral == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !ans.NoData() {
					t.Errorf("rcode %s, %d records; want NODATA", dns.RcodeToString[ans.Rcode], len(ans.RRs))
				}
				return
			}
			d, ok := resolver.IsReferral(err)
			if !ok {
				t.Fatalf("got %+v, %v; want a referral error", ans, err)
			}
			if d.Zone != tt.referral {
				t.Errorf("delegation to %q, want %q", d.Zone, tt.referral)
			}
			var re *resolver.Error
			if !errors.As(err, &re) || re.Server != tt.server {
				t.Errorf("error %v does not name the server %s", err, tt.server)
			}
			if resolver.IsOutOfZone(err) {
				t.Error("a referral must not read as out of zone (not checked)")
			}
		})
	}
}

// The zone resolver gives what the zone's server gives: a referral for a
// delegated name, with or without a Chain in front, unless a resolver that
// can follow the delegation is there to ask.
func TestZoneAndServerAgreeOnReferrals(t *testing.T) {
	zone, err := resolver.NewZone(resolver.ZoneSource{File: "example.com.zone", Data: []byte(delegatingZone)})
	if err != nil {
		t.Fatal(err)
	}
	live := newLive(t, resolvertest.StartServer(t, zone, 0))
	for _, name := range []string{"_dmarc.example.com", "_spf.example.com"} {
		ctx := withTimeout(t, 3*time.Second)
		_, zerr := zone.Query(ctx, name, dns.TypeTXT)
		_, cerr := resolver.Chain{Zone: zone}.Query(ctx, name, dns.TypeTXT)
		_, lerr := live.Query(ctx, name, dns.TypeTXT)
		zd, zok := resolver.IsReferral(zerr)
		cd, cok := resolver.IsReferral(cerr)
		ld, lok := resolver.IsReferral(lerr)
		if !zok || !cok || !lok {
			t.Fatalf("%s: zone %v, chain %v, live %v; want three referrals", name, zerr, cerr, lerr)
		}
		if zd.Zone != ld.Zone || cd.Zone != ld.Zone || len(zd.NameServers) != len(ld.NameServers) || zd.NameServers[0] != ld.NameServers[0] {
			t.Errorf("%s: zone says %+v, chain %+v, server %+v", name, zd, cd, ld)
		}
	}
	next := resolvertest.New(`_dmarc.example.com. 300 IN TXT "v=DMARC1; p=reject"`)
	txts, _, err := resolver.TXT(context.Background(), resolver.Chain{Zone: zone, Next: next}, "_dmarc.example.com")
	if err != nil || len(txts) != 1 {
		t.Errorf("with a resolver behind the zone, the delegated name is asked of it: %q, %v", txts, err)
	}
}

func TestFollowNamesItsOwnLimits(t *testing.T) {
	records := []string{
		"loop1.example.com. 300 IN CNAME loop2.example.com.",
		"loop2.example.com. 300 IN CNAME loop1.example.com.",
		"self.example.com. 300 IN CNAME self.example.com.",
	}
	for i := range 12 {
		records = append(records, "c"+strconv.Itoa(i)+".example.com. 300 IN CNAME c"+strconv.Itoa(i+1)+".example.com.")
	}
	records = append(records, "c12.example.com. 300 IN A 192.0.2.1")
	fake := resolvertest.New(records...)
	tests := []struct {
		name string
		kind resolver.Kind
	}{
		{"loop1.example.com", resolver.CNAMELoop},
		{"self.example.com", resolver.CNAMELoop},
		{"c0.example.com", resolver.ChainLimit},
	}
	for _, tt := range tests {
		_, _, err := resolver.Follow(context.Background(), fake, tt.name, dns.TypeA)
		var re *resolver.Error
		if !errors.As(err, &re) || re.Kind != tt.kind {
			t.Errorf("%s: %v, want kind %v", tt.name, err, tt.kind)
			continue
		}
		if re.Kind == resolver.ServFail {
			t.Errorf("%s: mailcheck's own limit reported as SERVFAIL", tt.name)
		}
	}
	if ans, chain, err := resolver.Follow(context.Background(), fake, "c5.example.com", dns.TypeA); err != nil || len(ans.RRs) != 1 || len(chain) != 7 {
		t.Errorf("a chain of 7 within the limit: %v, %v, %v", ans, chain, err)
	}
}

func TestDelegationAt(t *testing.T) {
	parent := resolver.ZoneSource{File: "example.com.zone", Data: []byte(delegatingZone)}
	child := resolver.ZoneSource{File: "_spf.example.com.zone", Data: []byte(`$ORIGIN _spf.example.com.
@ 300 IN SOA ns1 hostmaster 1 7200 3600 1209600 300
@ 300 IN NS ns1
@ 300 IN NS ns9.example.net.
ns1 300 IN A 192.0.2.99
@ 300 IN TXT "v=spf1 -all"
`)}
	z, err := resolver.NewZone(parent, child)
	if err != nil {
		t.Fatal(err)
	}
	d := z.DelegationAt("_spf.example.com")
	if d == nil || d.Zone != "_spf.example.com." || !slices.Equal(d.NameServers, []string{"ns1.spf.example.com."}) {
		t.Errorf("the parent's delegation: %+v", d)
	}
	// The child answers for its own NS RRset, which differs.
	ans, err := z.Query(context.Background(), "_spf.example.com", dns.TypeNS)
	if err != nil || len(ans.RRs) != 2 {
		t.Errorf("the child's NS RRset: %v, %v", ans, err)
	}
	for _, name := range []string{"example.com", "mail.example.com", "x._spf.example.com", "example.org"} {
		if d := z.DelegationAt(name); d != nil {
			t.Errorf("DelegationAt(%s) = %+v, want nil: no cut there", name, d)
		}
	}
}
