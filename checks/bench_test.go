package checks

import (
	"context"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/fixtures"
	"github.com/mailcheck-cli/mailcheck/resolver"
	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

// benchDNSDelay is what every answer of the benchmark's DNS server waits:
// a distant authoritative server, so that round trips, not CPU, dominate.
const benchDNSDelay = 30 * time.Millisecond

// defaultLongestChain is the longest chain of DNS round trips of the
// default scenario's audit in which each lookup needs the previous answer:
// the least number of round trips any implementation needs, however
// parallel, with the per-run cache every audit has:
//
//	PTR      MX example.test → A mail.example.test → PTR 1.0.0.127.in-addr.arpa      3
//	         (→ A mail.example.test to confirm the PTR name: the cache already holds it)
//	MX       MX → {A, AAAA, CNAME} of each host                                        2
//	SPF      TXT example.test → MX example.test (the void check of "mx")              2
//	MTA-STS  {TXT _mta-sts, MX, A/AAAA mta-sts.example.test} → HTTPS (loopback)       1
//	DMARC    TXT _dmarc.example.test and _dmarc.test at once (tree walk); rua in-domain 1
//	DKIM     every selector at once                                                    1
//	TLS-RPT, DNSSEC: one lookup each, or independent lookups at once                   1
//
// A PTR name other than the MX host would cost a fourth trip; the default
// scenario's does not, so 3 is the bound here.
const defaultLongestChain = 3

// BenchmarkAuditLatency audits the default scenario through a live
// resolver asking a loopback DNS server that delays every answer by 30 ms,
// and reports wall time / (longest dependent chain × delay): 1.0 means the
// audit is as fast as its data dependencies allow; above that, something
// waits on something it does not need. Goal: at most 1.25.
func BenchmarkAuditLatency(b *testing.B) {
	sc, err := fixtures.Load(fixtures.Default)
	if err != nil {
		b.Fatal(err)
	}
	z, err := resolver.ScenarioZone(sc)
	if err != nil {
		b.Fatal(err)
	}
	var served atomic.Int64
	counted := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		served.Add(1)
		z.ServeDNS(w, r)
	})
	addr := resolvertest.StartServer(b, counted, benchDNSDelay)
	_, portText, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portText)
	live, err := resolver.NewLive([]string{addr}, resolver.LiveOptions{AttemptTimeout: 2 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var total time.Duration
	served.Store(0)
	for b.Loop() {
		// A new cache per audit, as each CLI run has.
		res := resolver.NewCache(live)
		env := scenarioEnv(b, sc, res)
		// Live DNS: the zone's name servers (127.0.0.1 in the fixture) are
		// asked directly too, on the benchmark server's port.
		env.NSPort = port
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		start := time.Now()
		out := audit(ctx, env, sc.Domain)
		total += time.Since(start)
		cancel()
		for _, f := range out.Findings {
			if f.Severity == finding.Error {
				b.Fatalf("the audit was inconclusive: %s %s: %s", f.ID, f.Subject, f.Title)
			}
		}
	}
	wall := total / time.Duration(b.N)
	b.ReportMetric(float64(wall)/float64(defaultLongestChain*benchDNSDelay), "wall/chain")
	b.ReportMetric(float64(wall.Microseconds())/1000, "ms/audit")
	// Every question the DNS server answered, the resolver's and the
	// name-server survey's direct ones alike: the cost of one audit to the
	// DNS.
	b.ReportMetric(float64(served.Load())/float64(b.N), "queries/audit")
}
