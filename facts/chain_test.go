package facts

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/resolver"
	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

// chasing serves zones as NSD and BIND do: a CNAME whose target the
// server holds is followed within the same answer (RFC 1034 §4.3.2 step
// 3a), with the SOA of the target's zone when the target has no record of
// the type (RFC 2308 §2.2). It counts the questions it is asked.
type chasing struct {
	z       *resolver.Zone
	apexes  []string
	mu      sync.Mutex
	queries map[string]int
}

func (c *chasing) asked(name string, qtype uint16) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queries[strings.ToLower(name)+" "+dns.TypeToString[qtype]]
}

func (c *chasing) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	q := r.Question[0]
	c.mu.Lock()
	c.queries[strings.ToLower(q.Name)+" "+dns.TypeToString[q.Qtype]]++
	c.mu.Unlock()
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	ctx := context.Background()
	ans, err := c.z.Query(ctx, q.Name, q.Qtype)
	if err != nil {
		m.Rcode = dns.RcodeRefused
		w.WriteMsg(m)
		return
	}
	m.Answer, m.Rcode = ans.RRs, ans.Rcode
	cur := strings.ToLower(q.Name)
	for range 8 {
		if q.Qtype == dns.TypeCNAME || len(m.Answer) == 0 {
			break
		}
		cn, ok := m.Answer[len(m.Answer)-1].(*dns.CNAME)
		if !ok || !strings.EqualFold(cn.Hdr.Name, cur) {
			break
		}
		next, err := c.z.Query(ctx, cn.Target, q.Qtype)
		if err != nil {
			break // outside the server's zones: the resolver follows
		}
		m.Answer, m.Rcode, cur = append(m.Answer, next.RRs...), next.Rcode, strings.ToLower(cn.Target)
	}
	last := m.Answer
	hasType := false
	for _, rr := range last {
		if rr.Header().Rrtype == q.Qtype && strings.EqualFold(rr.Header().Name, cur) {
			hasType = true
		}
	}
	if !hasType {
		for _, apex := range c.apexes {
			if dns.IsSubDomain(apex, cur) {
				soa, _ := c.z.Query(ctx, apex, dns.TypeSOA)
				m.Ns = soa.RRs
			}
		}
	}
	w.WriteMsg(m)
}

// An MX host that is an alias (bad.test): its AAAA answer, only the CNAME
// and the SOA, is not asked again at the target, and the A records that
// came with the CNAME are not asked again when the PTR check confirms the
// address: four round trips, not five.
func TestCNAMEAnswersAreNotAskedAgain(t *testing.T) {
	z, err := resolver.NewZone(
		resolver.ZoneSource{File: "bad.test.zone", Origin: "bad.test.", Data: []byte(`$TTL 300
@ SOA ns.bad.test. h.bad.test. 1 2 3 4 300
@ NS ns.bad.test.
@ MX 10 mx.bad.test.
mx CNAME host.bad.test.
host A 192.0.2.10
`)},
		resolver.ZoneSource{File: "rev.zone", Origin: "2.0.192.in-addr.arpa.", Data: []byte(`$TTL 300
@ SOA ns.bad.test. h.bad.test. 1 2 3 4 300
@ NS ns.bad.test.
10 PTR host.bad.test.
`)})
	if err != nil {
		t.Fatal(err)
	}
	h := &chasing{z: z, apexes: []string{"bad.test.", "2.0.192.in-addr.arpa."}, queries: map[string]int{}}
	live, err := resolver.NewLive([]string{resolvertest.StartServer(t, h, 0)}, resolver.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := resolver.NewView(resolver.NewCache(live))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mx := GatherMX(ctx, r, "bad.test")
	ptr := gatherPTR(ctx, r, mx.Targets())

	if len(mx.Hosts) != 1 || mx.Hosts[0].CNAMETarget != "host.bad.test" {
		t.Fatalf("MX hosts %+v", mx.Hosts)
	}
	a := &mx.Hosts[0].Addrs
	if v4 := a.V4(); len(v4) != 1 || v4[0].String() != "192.0.2.10" {
		t.Errorf("IPv4 %v, want 192.0.2.10", v4)
	}
	if st := a.AAAA.Status(); st != NoData || len(a.AAAA.Chain) != 1 {
		t.Errorf("AAAA: %s through %v, want nodata at host.bad.test", st, a.AAAA.Chain)
	}
	if len(ptr.Addrs) != 1 || !ptr.Addrs[0].Confirmed() {
		t.Errorf("the PTR of 192.0.2.10 is not confirmed: %+v", ptr.Addrs)
	}
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"host.bad.test.", dns.TypeAAAA}, {"host.bad.test.", dns.TypeA}} {
		if n := h.asked(q.name, q.qtype); n != 0 {
			t.Errorf("%s %s was asked %d times; the alias's answer already held it", q.name, dns.TypeToString[q.qtype], n)
		}
	}
}

// A server that returns the CNAME alone, without the SOA of the target's
// zone or recursion, says nothing of the target: it is asked.
func TestCNAMEWithoutTheTargetIsFollowed(t *testing.T) {
	z, err := resolver.NewZone(resolver.ZoneSource{File: "bad.test.zone", Origin: "bad.test.", Data: []byte(`$TTL 300
@ SOA ns.bad.test. h.bad.test. 1 2 3 4 300
@ NS ns.bad.test.
mx CNAME host.bad.test.
host A 192.0.2.10
`)})
	if err != nil {
		t.Fatal(err)
	}
	h := &chasing{z: z, queries: map[string]int{}} // no apex: never an SOA
	live, err := resolver.NewLive([]string{resolvertest.StartServer(t, h, 0)}, resolver.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l := ask(ctx, resolver.NewCache(live), "mx.bad.test", dns.TypeAAAA)
	if l.Status() != NoData || h.asked("host.bad.test.", dns.TypeAAAA) != 1 {
		t.Errorf("%s, target asked %d times; want nodata after asking the target once", l.Status(), h.asked("host.bad.test.", dns.TypeAAAA))
	}
}
