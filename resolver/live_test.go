package resolver_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/resolver"
	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

func newLive(t *testing.T, servers ...string) *resolver.Live {
	t.Helper()
	l, err := resolver.NewLive(servers, resolver.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func withTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestLiveAnswers(t *testing.T) {
	addr := resolvertest.StartServer(t, loadTestZone(t), 0)
	l := newLive(t, addr)
	tests := []struct {
		name  string
		qname string
		qtype uint16
		rcode int
		n     int
	}{
		{"records", "mail.example.com", dns.TypeA, dns.RcodeSuccess, 1},
		{"NODATA", "mail.example.com", dns.TypeTXT, dns.RcodeSuccess, 0},
		{"NXDOMAIN", "nope.example.com", dns.TypeTXT, dns.RcodeNameError, 0},
		{"CNAME returned as is", "alias.example.com", dns.TypeA, dns.RcodeSuccess, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ans, err := l.Query(withTimeout(t, 3*time.Second), tt.qname, tt.qtype)
			if err != nil {
				t.Fatal(err)
			}
			if ans.Rcode != tt.rcode || len(ans.RRs) != tt.n {
				t.Errorf("got %s with %d records, want %s with %d", dns.RcodeToString[ans.Rcode], len(ans.RRs),
					dns.RcodeToString[tt.rcode], tt.n)
			}
			if ans.NXDomain() != (tt.rcode == dns.RcodeNameError) || ans.NoData() != (tt.rcode == dns.RcodeSuccess && tt.n == 0) {
				t.Errorf("NXDomain %v NoData %v", ans.NXDomain(), ans.NoData())
			}
			if ans.Server != addr || ans.Name != tt.qname+"." || ans.Origins != nil {
				t.Errorf("server %q name %q origins %v", ans.Server, ans.Name, ans.Origins)
			}
		})
	}
}

func TestLiveRetriesOverTCPWhenTruncated(t *testing.T) {
	tests := []struct {
		name    string
		handler func(dns.Handler) dns.Handler
		qname   string
		want    int
	}{
		{"RRset larger than the UDP buffer", func(h dns.Handler) dns.Handler { return h }, "big.example.com", 20},
		{"server truncates every UDP answer", resolvertest.Truncating, "s1._domainkey.example.com", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			counter := &resolvertest.Counter{Handler: tt.handler(bigZone(t))}
			l := newLive(t, resolvertest.StartServer(t, counter, 0))
			ans, err := l.Query(withTimeout(t, 3*time.Second), tt.qname, dns.TypeTXT)
			if err != nil {
				t.Fatal(err)
			}
			if len(ans.RRs) != tt.want {
				t.Errorf("%d records, want %d", len(ans.RRs), tt.want)
			}
			if udp, tcp := counter.Counts(); udp != 1 || tcp != 1 {
				t.Errorf("%d UDP and %d TCP queries, want one of each", udp, tcp)
			}
		})
	}
}

func TestLiveServFail(t *testing.T) {
	counter := &resolvertest.Counter{Handler: resolvertest.ServFail()}
	addr := resolvertest.StartServer(t, counter, 0)
	_, err := newLive(t, addr).Query(withTimeout(t, 3*time.Second), "example.com", dns.TypeMX)
	var re *resolver.Error
	if !errors.As(err, &re) || re.Kind != resolver.ServFail || re.Server != addr {
		t.Fatalf("got %v, want SERVFAIL from %s", err, addr)
	}
	if udp, _ := counter.Counts(); udp != 1 {
		t.Errorf("asked %d times; a SERVFAIL is the server's answer, want 1", udp)
	}
}

func TestLiveTimeoutStaysWithinDeadline(t *testing.T) {
	silent := resolvertest.StartServer(t, resolvertest.Silent(), 0)
	const deadline = 800 * time.Millisecond
	for _, servers := range [][]string{{silent}, {silent, silent}} {
		start := time.Now()
		_, err := newLive(t, servers...).Query(withTimeout(t, deadline), "example.com", dns.TypeA)
		took := time.Since(start)
		var re *resolver.Error
		if !errors.As(err, &re) || re.Kind != resolver.Timeout {
			t.Errorf("%d servers: got %v, want a timeout", len(servers), err)
		}
		if took > deadline+150*time.Millisecond {
			t.Errorf("%d servers: gave up after %v, past the %v deadline", len(servers), took, deadline)
		}
	}
}

func TestLiveFailsOverToTheNextServer(t *testing.T) {
	silent := resolvertest.StartServer(t, resolvertest.Silent(), 0)
	servfail := resolvertest.StartServer(t, resolvertest.ServFail(), 0)
	good := resolvertest.StartServer(t, loadTestZone(t), 0)
	tests := []struct {
		name    string
		servers []string
	}{
		{"after a timeout", []string{silent, good}},
		{"after a SERVFAIL", []string{servfail, good}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const deadline = 3 * time.Second
			start := time.Now()
			ans, err := newLive(t, tt.servers...).Query(withTimeout(t, deadline), "mail.example.com", dns.TypeA)
			if err != nil {
				t.Fatal(err)
			}
			if ans.Server != good || len(ans.RRs) != 1 {
				t.Errorf("answer from %s with %v, want from %s", ans.Server, ans.RRs, good)
			}
			if took := time.Since(start); took > deadline/2 {
				t.Errorf("failover took %v: the first server had more than its share of the deadline", took)
			}
		})
	}
}

// adSetter marks every answer as validated, like a validating resolver,
// and records whether queries asked for DNSSEC.
type adSetter struct {
	h              dns.Handler
	mu             sync.Mutex
	sawDO, sawAD   bool
	sawRD, sawEDNS bool
	bufsize        uint16
}

type adWriter struct{ dns.ResponseWriter }

func (w adWriter) WriteMsg(m *dns.Msg) error {
	m.AuthenticatedData = true
	return w.ResponseWriter.WriteMsg(m)
}

func (a *adSetter) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	a.mu.Lock()
	a.sawAD, a.sawRD = r.AuthenticatedData, r.RecursionDesired
	if opt := r.IsEdns0(); opt != nil {
		a.sawEDNS, a.sawDO, a.bufsize = true, opt.Do(), opt.UDPSize()
	}
	a.mu.Unlock()
	a.h.ServeDNS(adWriter{w}, r)
}

func TestLiveAuthenticData(t *testing.T) {
	plain := resolvertest.StartServer(t, loadTestZone(t), 0)
	ans, err := newLive(t, plain).Query(withTimeout(t, 3*time.Second), "mail.example.com", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if ans.Authentic {
		t.Error("Authentic set without the AD bit")
	}

	h := &adSetter{h: loadTestZone(t)}
	validating := resolvertest.StartServer(t, h, 0)
	ans, err = newLive(t, validating).Query(withTimeout(t, 3*time.Second), "mail.example.com", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if !ans.Authentic {
		t.Error("the AD bit of the answer was lost")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.sawEDNS || !h.sawDO || !h.sawAD || !h.sawRD || h.bufsize != 1232 {
		t.Errorf("query flags: EDNS0 %v DO %v AD %v RD %v buffer %d; want all set, buffer 1232",
			h.sawEDNS, h.sawDO, h.sawAD, h.sawRD, h.bufsize)
	}
}

func TestLiveRejectsOddReplies(t *testing.T) {
	other := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Question[0].Name = "other.example."
		_ = w.WriteMsg(m)
	})
	refused := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeRefused)
		_ = w.WriteMsg(m)
	})
	cnameNX := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeNameError)
		rr, _ := dns.NewRR(r.Question[0].Name + " 60 IN CNAME gone.example.")
		m.Answer = []dns.RR{rr}
		_ = w.WriteMsg(m)
	})

	_, err := newLive(t, resolvertest.StartServer(t, other, 0)).Query(withTimeout(t, 3*time.Second), "example.com", dns.TypeA)
	var re *resolver.Error
	if !errors.As(err, &re) || re.Kind != resolver.Transport {
		t.Errorf("an answer to another question: got %v, want a transport error", err)
	}
	_, err = newLive(t, resolvertest.StartServer(t, refused, 0)).Query(withTimeout(t, 3*time.Second), "example.com", dns.TypeA)
	if !errors.As(err, &re) || re.Kind != resolver.Refused {
		t.Errorf("REFUSED: got %v, want kind refused", err)
	}
	ans, err := newLive(t, resolvertest.StartServer(t, cnameNX, 0)).Query(withTimeout(t, 3*time.Second), "alias.example.com", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if ans.NXDomain() || len(ans.RRs) != 1 {
		t.Errorf("an alias to a missing name: NXDomain %v, %d records; the alias itself exists", ans.NXDomain(), len(ans.RRs))
	}
}

func TestNewLiveServers(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"192.0.2.53", "192.0.2.53:53"},
		{"192.0.2.53:5353", "192.0.2.53:5353"},
		{"2001:db8::53", "[2001:db8::53]:53"},
		{"[2001:db8::53]:5353", "[2001:db8::53]:5353"},
		{"[2001:db8::53]", "[2001:db8::53]:53"},
		{"dns.example", "dns.example:53"},
		{"dns.example:5300", "dns.example:5300"},
		{"192.0.2.53:0", ""},
		{"192.0.2.53:x", ""},
		{"bad host:53", ""},
	}
	for _, tt := range tests {
		l, err := resolver.NewLive([]string{tt.in}, resolver.LiveOptions{})
		if tt.want == "" {
			if err == nil {
				t.Errorf("%q: accepted as %v", tt.in, l.Servers())
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if got := l.Servers(); len(got) != 1 || got[0] != tt.want {
			t.Errorf("%q: %v, want %s", tt.in, got, tt.want)
		}
	}

	dir := t.TempDir()
	conf := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(conf, []byte("search example.com\nnameserver 192.0.2.1\nnameserver 2001:db8::1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := resolver.NewLive(nil, resolver.LiveOptions{ResolvConf: conf})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(l.Servers(), " "); got != "192.0.2.1:53 [2001:db8::1]:53" {
		t.Errorf("from resolv.conf: %s", got)
	}
	empty := filepath.Join(dir, "empty.conf")
	if err := os.WriteFile(empty, []byte("search example.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := resolver.NewLive(nil, resolver.LiveOptions{ResolvConf: empty}); err == nil {
		t.Error("a resolv.conf without nameserver was accepted")
	}
}
