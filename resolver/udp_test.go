package resolver_test

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/resolver"
	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

// sources records the client ports queries come from.
type sources struct {
	h     dns.Handler
	mu    sync.Mutex
	ports map[string]int
}

func (s *sources) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	s.mu.Lock()
	s.ports[w.RemoteAddr().String()]++
	s.mu.Unlock()
	s.h.ServeDNS(w, r)
}

// Queries share a few sockets instead of opening one each.
func TestLiveReusesUDPSockets(t *testing.T) {
	src := &sources{h: loadTestZone(t), ports: map[string]int{}}
	l := newLive(t, resolvertest.StartServer(t, src, 0))
	ctx := withTimeout(t, 30*time.Second)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			name := fmt.Sprintf("n%d.example.com", i)
			if _, err := l.Query(ctx, name, dns.TypeA); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	src.mu.Lock()
	defer src.mu.Unlock()
	if n := len(src.ports); n > 4 {
		t.Errorf("200 queries came from %d source ports, want at most 4 sockets", n)
	}
}

// dropFirst drops the first copy of every query (a burst a server or a
// rate limit dropped), and answers a copy sent again.
type dropFirst struct {
	h    dns.Handler
	mu   sync.Mutex
	seen map[string]bool
}

func (d *dropFirst) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	key := fmt.Sprint(r.Id, r.Question[0].Name)
	d.mu.Lock()
	again := d.seen[key]
	d.seen[key] = true
	d.mu.Unlock()
	if again {
		d.h.ServeDNS(w, r)
	}
}

// A lost query is sent again after the retransmission timeout, well
// within an attempt: a fixed timer as long as the attempt (here 20 s)
// would leave the lookup unanswered at its 10 s deadline.
func TestLiveSendsALostQueryAgain(t *testing.T) {
	h := &dropFirst{h: loadTestZone(t), seen: map[string]bool{}}
	addr := resolvertest.StartServer(t, h, 0)
	l, err := resolver.NewLive([]string{addr}, resolver.LiveOptions{AttemptTimeout: 20 * time.Second, Rounds: 1})
	if err != nil {
		t.Fatal(err)
	}
	ans, err := l.Query(withTimeout(t, 10*time.Second), "mail.example.com", dns.TypeA)
	if err != nil || len(ans.RRs) != 1 {
		t.Fatalf("got %v %v, want the answer to the copy sent again", ans, err)
	}
}

// slowFirst answers the first copy of a query late and ignores the copies
// sent again: the late answer still counts.
type slowFirst struct {
	h    dns.Handler
	mu   sync.Mutex
	seen map[uint16]bool
}

func (s *slowFirst) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	s.mu.Lock()
	again := s.seen[r.Id]
	s.seen[r.Id] = true
	s.mu.Unlock()
	if again {
		return
	}
	time.Sleep(time.Second) // beyond the first retransmission timeout
	s.h.ServeDNS(w, r)
}

func TestLiveTakesALateAnswerToTheFirstCopy(t *testing.T) {
	addr := resolvertest.StartServer(t, &slowFirst{h: loadTestZone(t), seen: map[uint16]bool{}}, 0)
	l, err := resolver.NewLive([]string{addr}, resolver.LiveOptions{AttemptTimeout: 20 * time.Second, Rounds: 1})
	if err != nil {
		t.Fatal(err)
	}
	ans, err := l.Query(withTimeout(t, 10*time.Second), "mail.example.com", dns.TypeA)
	if err != nil || len(ans.RRs) != 1 {
		t.Fatalf("got %v %v, want the late answer", ans, err)
	}
}

// A server gone (ICMP port unreachable) fails the lookup as a transport
// error at once, not after the attempt's whole time.
func TestLiveClosedPort(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	l, err := resolver.NewLive([]string{addr}, resolver.LiveOptions{AttemptTimeout: 20 * time.Second, Rounds: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.Query(withTimeout(t, 10*time.Second), "mail.example.com", dns.TypeA)
	var re *resolver.Error
	if !errors.As(err, &re) || re.Kind != resolver.Transport {
		t.Fatalf("got %v, want a transport error", err)
	}
}
