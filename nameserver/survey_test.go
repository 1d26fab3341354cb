package nameserver_test

import (
	"context"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/nameserver"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// The parent delegates sub.example.test to four servers, the child lists
// four too, and they disagree: ns1 serves the new zone, ns2 an old one,
// ns3 is the parent's own server (which refers instead of answering), ns4
// refuses, ns5 does not exist.
const parentZone = `$ORIGIN example.test.
$TTL 300
@        IN SOA ns1 hostmaster 7 7200 3600 1209600 300
@        IN NS  ns1
ns1      IN A   127.0.0.1
sub      IN NS  ns1.sub
sub      IN NS  ns2.sub
sub      IN NS  ns3.sub
sub      IN NS  ns5.sub
ns1.sub  IN A   127.0.0.2
ns2.sub  IN A   127.0.0.3
ns3.sub  IN A   127.0.0.1
ns5.sub  IN A   127.0.0.5
`

const childNew = `$ORIGIN sub.example.test.
$TTL 300
@        IN SOA ns1 hostmaster 2026120102 7200 3600 1209600 300
@        IN NS  ns1
@        IN NS  ns2
@        IN NS  ns3
@        IN NS  ns4
ns1      IN A   127.0.0.2
ns2      IN A   127.0.0.3
ns3      IN A   127.0.0.1
ns4      IN A   127.0.0.4
@        IN MX  10 mail
mail     IN A   127.0.0.2
@        IN TXT "v=spf1 mx -all"
@        IN TXT "google-site-verification=new"
_mta-sts IN TXT "v=STSv1; id=1"
` + "_dmarc   IN TXT \"v=DMARC1;\tp=reject\"\n" // a TAB between the tags, typed raw

const childOld = `$ORIGIN sub.example.test.
$TTL 300
@        IN SOA ns1 hostmaster 2026120101 7200 3600 1209600 300
@        IN NS  ns1
@        IN NS  ns2
@        IN NS  ns3
@        IN NS  ns4
ns1      IN A   127.0.0.2
ns2      IN A   127.0.0.3
ns3      IN A   127.0.0.1
ns4      IN A   127.0.0.4
@        IN MX  10 oldmail
oldmail  IN A   127.0.0.3
@        IN TXT "v=spf1 a -all"
@        IN TXT "google-site-verification=old"
_dmarc   IN TXT "v=DMARC1; p=none"
_mta-sts IN TXT "v=STSv1; id=1"
`

// otherZone is all the refusing server serves.
const otherZone = `$ORIGIN example.org.
@ 300 IN SOA ns hostmaster 1 7200 3600 1209600 300
@ 300 IN NS ns
ns 300 IN A 127.0.0.4
`

func zone(t *testing.T, files ...string) *resolver.Zone {
	t.Helper()
	var srcs []resolver.ZoneSource
	for i, data := range files {
		srcs = append(srcs, resolver.ZoneSource{File: "zone" + strconv.Itoa(i), Origin: ".", Data: []byte(data)})
	}
	z, err := resolver.NewZone(srcs...)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// serveAt serves h on ip:port over UDP and TCP until the test ends, or
// reports false when that port is taken on ip.
func serveAt(t *testing.T, ip string, port int, h dns.Handler) bool {
	t.Helper()
	addr := net.JoinHostPort(ip, strconv.Itoa(port))
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		pc.Close()
		return false
	}
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		<-started
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = srv.ShutdownContext(ctx)
		})
	}
	return true
}

// world starts the servers of the test on loopback addresses sharing one
// port, and returns the port. Nothing listens on 127.0.0.5.
func world(t *testing.T, servers map[string]dns.Handler) int {
	t.Helper()
	for range 20 {
		probe, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := probe.LocalAddr().(*net.UDPAddr).Port
		probe.Close()
		ok := true
		for _, ip := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"} {
			if h := servers[ip]; h != nil && !serveAt(t, ip, port, h) {
				ok = false
				break
			}
		}
		if ok {
			return port
		}
	}
	t.Fatal("no port free on every loopback address")
	return 0
}

func TestGatherNamesEveryKindOfServer(t *testing.T) {
	port := world(t, map[string]dns.Handler{
		"127.0.0.1": zone(t, parentZone),
		"127.0.0.2": zone(t, childNew),
		"127.0.0.3": zone(t, childOld),
		"127.0.0.4": zone(t, otherZone),
	})
	// The resolver used to find the zone and the servers' addresses sees
	// the parent and the new child, as a recursive resolver would.
	r := zone(t, parentZone, childNew)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := nameserver.Gather(ctx, r, "sub.example.test", nameserver.Options{Port: port, QueryTimeout: time.Second})

	if s.ZoneErr != nil || s.Zone != "sub.example.test." {
		t.Fatalf("zone %q, %v", s.Zone, s.ZoneErr)
	}
	if s.Parent.Err != nil || !slices.Equal(s.Parent.NameServers, []string{"ns1.sub.example.test.", "ns2.sub.example.test.", "ns3.sub.example.test.", "ns5.sub.example.test."}) {
		t.Errorf("parent NS %v, %v", s.Parent.NameServers, s.Parent.Err)
	}
	if got := s.Parent.Glue["ns5.sub.example.test."]; len(got) != 1 || got[0].String() != "127.0.0.5" {
		t.Errorf("glue for ns5: %v", got)
	}
	if s.Child.Err != nil || len(s.Child.NameServers) != 4 {
		t.Errorf("child NS %v, %v", s.Child.NameServers, s.Child.Err)
	}
	if got := s.OnlyInParent(); !slices.Equal(got, []string{"ns5.sub.example.test."}) {
		t.Errorf("only in parent: %v", got)
	}
	if got := s.OnlyInChild(); !slices.Equal(got, []string{"ns4.sub.example.test."}) {
		t.Errorf("only in child: %v", got)
	}
	if n := s.NameServerCount(); n != 4 {
		t.Errorf("NameServerCount %d", n)
	}

	want := map[string]struct {
		status nameserver.Status
		serial uint32
	}{
		"ns1.sub.example.test.": {nameserver.Authoritative, 2026120102},
		"ns2.sub.example.test.": {nameserver.Authoritative, 2026120101},
		"ns3.sub.example.test.": {nameserver.Lame, 0},
		"ns4.sub.example.test.": {nameserver.Lame, 0},
		"ns5.sub.example.test.": {nameserver.Unreachable, 0},
	}
	for _, srv := range s.Servers {
		w, ok := want[srv.Host]
		if !ok {
			t.Errorf("unexpected server %s", srv.Host)
			continue
		}
		if len(srv.Replies) != 1 {
			t.Errorf("%s: %d replies (addresses %v, %v)", srv.Host, len(srv.Replies), srv.Addrs, srv.AddrErr)
			continue
		}
		r := srv.Replies[0]
		if r.Status != w.status || r.Serial != w.serial {
			t.Errorf("%s: %v serial %d (rcode %s, err %v), want %v serial %d", srv.Host, r.Status, r.Serial,
				dns.RcodeToString[r.Rcode], r.Err, w.status, w.serial)
		}
		switch srv.Host {
		case "ns3.sub.example.test.":
			if r.Referral == nil || r.Referral.Zone != "sub.example.test." {
				t.Errorf("ns3 is lame by a referral to the zone itself; got %+v", r.Referral)
			}
		case "ns4.sub.example.test.":
			if r.Rcode != dns.RcodeRefused {
				t.Errorf("ns4 is lame by REFUSED; got %s", dns.RcodeToString[r.Rcode])
			}
		}
	}

	stale := s.Stale()
	if len(stale) != 1 || stale[0].Host != "ns2.sub.example.test." || stale[0].Serial != 2026120101 || stale[0].Newest != 2026120102 {
		t.Errorf("stale: %+v", stale)
	}
	var disagree []string
	for _, d := range s.Disagreements() {
		disagree = append(disagree, d.Question.String())
	}
	// The verification token differs too, but is not a mail record; the
	// MTA-STS record is the same on both.
	if want := []string{"sub.example.test MX", "sub.example.test TXT (v=spf1)", "_dmarc.sub.example.test TXT"}; !slices.Equal(disagree, want) {
		t.Errorf("disagreements %v, want %v", disagree, want)
	}
	for _, d := range s.Disagreements() {
		if d.Question.Name == "_dmarc.sub.example.test." {
			// The TAB in the zone file is decoded: the data is what a
			// receiver reads.
			if got := d.Variants[0].Set.Data; len(got) != 1 || (got[0] != "v=DMARC1;\tp=reject" && got[0] != "v=DMARC1; p=none") {
				t.Errorf("DMARC variants %q", got)
			}
		}
	}
	if got := s.ByStatus(nameserver.Unreachable); len(got) != 1 || got[0].String() != "ns5.sub.example.test (127.0.0.5)" {
		t.Errorf("unreachable: %v", got)
	}
}

func TestGatherConsistentZone(t *testing.T) {
	parent := `$ORIGIN example.test.
@ 300 IN SOA ns1 hostmaster 7 7200 3600 1209600 300
@ 300 IN NS ns1
ns1 300 IN A 127.0.0.1
sub 300 IN NS ns1.sub
sub 300 IN NS ns2.sub
ns1.sub 300 IN A 127.0.0.2
ns2.sub 300 IN A 127.0.0.3
`
	child := `$ORIGIN sub.example.test.
@ 300 IN SOA ns1 hostmaster 5 7200 3600 1209600 300
@ 300 IN NS ns1
@ 300 IN NS ns2
ns1 300 IN A 127.0.0.2
ns2 300 IN A 127.0.0.3
@ 300 IN MX 0 .
@ 300 IN TXT "v=spf1 -all"
_dmarc 300 IN TXT "v=DMARC1; p=reject"
`
	port := world(t, map[string]dns.Handler{
		"127.0.0.1": zone(t, parent),
		"127.0.0.2": zone(t, child),
		"127.0.0.3": zone(t, child),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := nameserver.Gather(ctx, zone(t, parent, child), "sub.example.test", nameserver.Options{Port: port})
	if got := s.ByStatus(nameserver.Authoritative); len(got) != 2 {
		t.Errorf("authoritative: %v", got)
	}
	if len(s.Stale()) != 0 || len(s.Disagreements()) != 0 || len(s.OnlyInParent()) != 0 || len(s.OnlyInChild()) != 0 {
		t.Errorf("a consistent zone: stale %v, disagreements %v, parent-only %v, child-only %v",
			s.Stale(), s.Disagreements(), s.OnlyInParent(), s.OnlyInChild())
	}
	// A name below the zone's apex is surveyed as its zone.
	s = nameserver.Gather(ctx, zone(t, parent, child), "x.y.sub.example.test", nameserver.Options{Port: port})
	if s.Zone != "sub.example.test." {
		t.Errorf("zone of x.y.sub.example.test: %q, %v", s.Zone, s.ZoneErr)
	}
}

func TestGatherWithoutParent(t *testing.T) {
	// Only the child is known: the parent side is an error, and the
	// comparison of the two sides says nothing.
	child := `$ORIGIN example.test.
@ 300 IN SOA ns1 hostmaster 5 7200 3600 1209600 300
@ 300 IN NS ns1
ns1 300 IN A 127.0.0.2
`
	port := world(t, map[string]dns.Handler{"127.0.0.2": zone(t, child)})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := nameserver.Gather(ctx, zone(t, child), "example.test", nameserver.Options{Port: port})
	if s.Parent.Err == nil {
		t.Errorf("parent %v: want an error (test. is in no zone)", s.Parent.NameServers)
	}
	if s.NameServerCount() != 1 || s.OnlyInChild() != nil {
		t.Errorf("count %d, only in child %v", s.NameServerCount(), s.OnlyInChild())
	}
	if got := s.ByStatus(nameserver.Authoritative); len(got) != 1 {
		t.Errorf("authoritative: %v", got)
	}
}

func TestSerialLess(t *testing.T) {
	tests := []struct {
		a, b uint32
		less bool
	}{
		{1, 2, true},
		{2, 1, false},
		{5, 5, false},
		{4294967295, 1, true}, // wrapped: 1 is newer
		{1, 4294967295, false},
		{2026120101, 2026120102, true},
		{0, 1 << 31, false}, // undefined: neither
		{1 << 31, 0, false},
	}
	for _, tt := range tests {
		if got := nameserver.SerialLess(tt.a, tt.b); got != tt.less {
			t.Errorf("SerialLess(%d, %d) = %v", tt.a, tt.b, got)
		}
	}
}
