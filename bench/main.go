// Command bench measures bulk `mailcheck domain` runs: it serves N synthetic
// healthy mail domains from an in-process DNS server that holds every answer
// for a fixed delay (a distant server: one round trip = the delay), runs a
// mailcheck binary over the list as a child process (so that its CPU time
// and peak memory are its own, not the server's), and reports:
//
//	domains/s      N / wall time of the child
//	queries/domain DNS queries the server answered / N
//	CPU/domain     the child's user+system time / N
//	peak RSS       the child's maximum resident set size
//	first line     time from start to the first NDJSON line on stdout
//
// and how many reports were inconclusive or carried dns.lookup-failed (a
// healthy list must have none).
//
//	go build -o /tmp/mailcheck ./cmd/mailcheck
//	go run ./bench -bin /tmp/mailcheck -n 1000
//	go run ./bench -bin /tmp/mailcheck -n 100000 -- --concurrency 256
//
// Arguments after -- are passed to `mailcheck domain`. Without -bin, the
// mailcheck of this module is built into a temporary directory first.
// Every address it serves and asks is on loopback.
package main

import (
	"bufio"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

func main() {
	n := flag.Int("n", 1000, "number of synthetic domains (at most 131072)")
	delay := flag.Duration("delay", 30*time.Millisecond, "delay of every DNS answer (one round trip)")
	bin := flag.String("bin", "", "mailcheck binary to run (default: build this module's)")
	selector := flag.Bool("selector", true, "pass --dkim-selector s2026 (the selector every synthetic domain publishes)")
	timeout := flag.String("timeout", "", "--timeout to pass (default: mailcheck's own)")
	keep := flag.String("out", "", "keep the NDJSON output in this file")
	flag.Parse()
	if *n < 1 || *n > maxDomains {
		fatalf("-n must be between 1 and %d", maxDomains)
	}
	if *bin == "" {
		*bin = build()
	}

	zone, err := newSynthetic(*n)
	if err != nil {
		fatalf("%v", err)
	}
	addr, stop := serve(zone, *delay)
	defer stop()

	args := []string{"domain", "--file", "-", "--no-probe", "--resolver", addr, "--format", "ndjson", "--fail-on", "never"}
	if *selector {
		args = append(args, "--dkim-selector", "s2026")
	}
	if *timeout != "" {
		args = append(args, "--timeout", *timeout)
	}
	args = append(args, flag.Args()...)

	res := run(*bin, args, zone, *keep)
	queries := zone.queries.Load()
	fmt.Printf("mailcheck %s\n", strings.Join(args, " "))
	fmt.Printf("N                 %d (%d reports, exit %d)\n", *n, res.lines, res.exit)
	fmt.Printf("RTT               %s\n", *delay)
	fmt.Printf("wall              %.2f s\n", res.wall.Seconds())
	fmt.Printf("domains/s         %.1f\n", float64(*n)/res.wall.Seconds())
	fmt.Printf("queries/domain    %.1f\n", float64(queries)/float64(*n))
	fmt.Printf("CPU/domain        %.2f ms (user %.1f s, sys %.1f s)\n",
		float64((res.user+res.sys).Microseconds())/1000/float64(*n), res.user.Seconds(), res.sys.Seconds())
	fmt.Printf("peak RSS          %.1f MiB\n", float64(res.maxRSS)/1024)
	fmt.Printf("first line        %.3f s\n", res.first.Seconds())
	fmt.Printf("inconclusive      %d reports (dns.lookup-failed in %d)\n", res.inconclusive, res.lookupFailed)
	fmt.Printf("queries by type   %s\n", zone.byType())
	if res.stderr != "" {
		fmt.Printf("stderr (first lines):\n%s\n", res.stderr)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(2)
}

// build compiles ./cmd/mailcheck of the module the bench is run from.
func build() string {
	dir, err := os.MkdirTemp("", "mailcheck-bench")
	if err != nil {
		fatalf("%v", err)
	}
	out := filepath.Join(dir, "mailcheck")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/mailcheck")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fatalf("go build: %v", err)
	}
	return out
}

type result struct {
	lines, inconclusive, lookupFailed int
	exit                              int
	wall, first, user, sys            time.Duration
	maxRSS                            int64 // KiB
	stderr                            string
}

// run starts mailcheck with the domain list on its standard input and reads
// its NDJSON as it comes.
func run(bin string, args []string, z *synthetic, keep string) result {
	cmd := exec.Command(bin, args...)
	var list strings.Builder
	for i := range z.n {
		list.WriteString(z.domain(i))
		list.WriteByte('\n')
	}
	cmd.Stdin = strings.NewReader(list.String())
	var stderr strings.Builder
	cmd.Stderr = &limitedWriter{w: &stderr, left: 4096}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		fatalf("%v", err)
	}
	var kept *bufio.Writer
	if keep != "" {
		f, err := os.Create(keep)
		if err != nil {
			fatalf("%v", err)
		}
		defer f.Close()
		kept = bufio.NewWriter(f)
		defer kept.Flush()
	}
	var res result
	start := time.Now()
	if err := cmd.Start(); err != nil {
		fatalf("%v", err)
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if res.lines == 0 {
			res.first = time.Since(start)
		}
		res.lines++
		if kept != nil {
			kept.Write(sc.Bytes())
			kept.WriteByte('\n')
		}
		var rep struct {
			Findings []struct{ ID, Severity string }
		}
		if err := json.Unmarshal(sc.Bytes(), &rep); err != nil {
			fatalf("line %d is not JSON: %v", res.lines, err)
		}
		inc, failed := false, false
		for _, f := range rep.Findings {
			inc = inc || f.Severity == "error"
			failed = failed || f.ID == "dns.lookup-failed"
		}
		if inc {
			res.inconclusive++
		}
		if failed {
			res.lookupFailed++
		}
	}
	err = cmd.Wait()
	res.wall = time.Since(start)
	if ee, ok := err.(*exec.ExitError); ok {
		res.exit = ee.ExitCode()
	} else if err != nil {
		fatalf("%v", err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.maxRSS = ru.Maxrss
		res.user = time.Duration(ru.Utime.Nano())
		res.sys = time.Duration(ru.Stime.Nano())
	}
	res.stderr = stderr.String()
	return res
}

type limitedWriter struct {
	w    *strings.Builder
	left int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.left > 0 {
		k := min(len(p), l.left)
		l.w.Write(p[:k])
		l.left -= k
	}
	return len(p), nil
}

// serve answers the synthetic zone on a loopback UDP and TCP port, each
// answer held for delay.
func serve(z *synthetic, delay time.Duration) (string, func()) {
	var h dns.Handler = z
	if delay > 0 {
		inner := h
		h = dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
			time.Sleep(delay)
			inner.ServeDNS(w, r)
		})
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		fatalf("%v", err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		fatalf("%v", err)
	}
	servers := []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}}
	var wg sync.WaitGroup
	for _, s := range servers {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		wg.Go(func() { _ = s.ActivateAndServe() })
		<-started
	}
	return pc.LocalAddr().String(), func() {
		for _, s := range servers {
			_ = s.Shutdown()
		}
		wg.Wait()
	}
}

// maxDomains is the size of 198.18.0.0/15, the benchmarking range of
// RFC 2544 that numbers the synthetic mail hosts.
const maxDomains = 1 << 17

const parent = "bench.test."

// synthetic is an authoritative server for N healthy mail domains
// d000000.bench.test ...: each its own zone (SOA), with one MX host that has
// an IPv4 and an IPv6 address, forward-confirmed reverse DNS for both, SPF
// "mx -all", DMARC p=reject with an in-domain rua, a 2048-bit DKIM key at
// s2026 and TLS-RPT. No MTA-STS: fetching a policy would be HTTPS, not DNS.
// Answers are made from the name, so the server's memory does not grow
// with N.
type synthetic struct {
	n       int
	dkim    string
	queries atomic.Int64
	types   sync.Map // qtype → *atomic.Int64
}

func newSynthetic(n int) (*synthetic, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	return &synthetic{n: n, dkim: "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)}, nil
}

func (z *synthetic) domain(i int) string { return fmt.Sprintf("d%06d.bench.test", i) }

func (z *synthetic) v4(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{198, 18 + byte(i>>16), byte(i >> 8), byte(i)})
}

func (z *synthetic) v6(i int) netip.Addr {
	return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0xbe, 0x0c, 14: byte(i >> 8), 15: byte(i), 13: byte(i >> 16)})
}

// index reads i from "d%06d.bench.test." and returns the labels before it.
func (z *synthetic) index(name string) (int, string, bool) {
	rest, ok := strings.CutSuffix(name, "."+parent)
	if !ok {
		return 0, "", false
	}
	prefix := ""
	if dot := strings.LastIndexByte(rest, '.'); dot >= 0 {
		prefix, rest = rest[:dot], rest[dot+1:]
	}
	if len(rest) != 7 || rest[0] != 'd' {
		return 0, "", false
	}
	i, err := strconv.Atoi(rest[1:])
	if err != nil || i < 0 || i >= z.n {
		return 0, "", false
	}
	return i, prefix, true
}

func (z *synthetic) count(qtype uint16) {
	z.queries.Add(1)
	c, _ := z.types.LoadOrStore(qtype, new(atomic.Int64))
	c.(*atomic.Int64).Add(1)
}

func (z *synthetic) byType() string {
	var parts []string
	z.types.Range(func(k, v any) bool {
		parts = append(parts, fmt.Sprintf("%s=%d", dns.TypeToString[k.(uint16)], v.(*atomic.Int64).Load()))
		return true
	})
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func (z *synthetic) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	if len(r.Question) != 1 {
		m.SetRcode(r, dns.RcodeFormatError)
		_ = w.WriteMsg(m)
		return
	}
	q := r.Question[0]
	z.count(q.Qtype)
	m.SetReply(r)
	m.Authoritative = true
	if opt := r.IsEdns0(); opt != nil {
		m.SetEdns0(1232, opt.Do())
	}
	name := strings.ToLower(q.Name)
	rrs, zone, exists := z.lookup(name, q.Qtype)
	switch {
	case zone == "":
		m.Rcode = dns.RcodeRefused
		m.Authoritative = false
	case len(rrs) > 0:
		m.Answer = rrs
	default:
		if !exists {
			m.Rcode = dns.RcodeNameError
		}
		m.Ns = []dns.RR{z.soa(zone)}
	}
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		m.Truncate(1232)
	}
	_ = w.WriteMsg(m)
}

func (z *synthetic) soa(zone string) dns.RR {
	return &dns.SOA{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 300},
		Ns: "ns." + parent, Mbox: "hostmaster." + parent, Serial: 2026010101, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: 300}
}

func rr(s string) dns.RR {
	r, err := dns.NewRR(s)
	if err != nil {
		panic(err)
	}
	return r
}

// lookup returns the records at name, the zone it belongs to ("" when the
// server is not authoritative for it), and whether the name exists.
func (z *synthetic) lookup(name string, qtype uint16) ([]dns.RR, string, bool) {
	if rev, ok := z.reverse(name); ok {
		if rev < 0 {
			return nil, "arpa.", false
		}
		if qtype == dns.TypePTR {
			return []dns.RR{rr(fmt.Sprintf("%s 300 IN PTR mail.%s.", name, z.domain(rev)))}, "arpa.", true
		}
		return nil, "arpa.", true
	}
	if name == parent || name == "test." {
		if qtype == dns.TypeSOA {
			return []dns.RR{z.soa(name)}, name, true
		}
		return nil, name, true
	}
	i, prefix, ok := z.index(name)
	if !ok {
		if strings.HasSuffix(name, "."+parent) || strings.HasSuffix(name, ".test.") {
			return nil, parent, false
		}
		return nil, "", false
	}
	d := z.domain(i) + "."
	one := func(s string) ([]dns.RR, string, bool) { return []dns.RR{rr(s)}, d, true }
	switch {
	case prefix == "" && qtype == dns.TypeSOA:
		return []dns.RR{z.soa(d)}, d, true
	case prefix == "" && qtype == dns.TypeMX:
		return one(fmt.Sprintf("%s 300 IN MX 10 mail.%s", d, d))
	case prefix == "" && qtype == dns.TypeNS:
		// Two name servers, as every zone should have (RFC 2182 §5); a
		// list audit reads them without asking each (--ns-check auto).
		return []dns.RR{rr(fmt.Sprintf("%s 300 IN NS ns1.bench.test.", d)), rr(fmt.Sprintf("%s 300 IN NS ns2.bench.test.", d))}, d, true
	case prefix == "" && qtype == dns.TypeTXT:
		return one(fmt.Sprintf(`%s 300 IN TXT "v=spf1 mx -all"`, d))
	case prefix == "":
		return nil, d, true
	case prefix == "mail" && qtype == dns.TypeA:
		return one(fmt.Sprintf("%s 300 IN A %s", name, z.v4(i)))
	case prefix == "mail" && qtype == dns.TypeAAAA:
		return one(fmt.Sprintf("%s 300 IN AAAA %s", name, z.v6(i)))
	case prefix == "mail":
		return nil, d, true
	case prefix == "_dmarc" && qtype == dns.TypeTXT:
		return one(fmt.Sprintf(`%s 300 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@%s"`, name, z.domain(i)))
	case prefix == "s2026._domainkey" && qtype == dns.TypeTXT:
		t := &dns.TXT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 300}}
		for s := z.dkim; s != ""; {
			k := min(len(s), 255)
			t.Txt = append(t.Txt, s[:k])
			s = s[k:]
		}
		return []dns.RR{t}, d, true
	case prefix == "_smtp._tls" && qtype == dns.TypeTXT:
		return one(fmt.Sprintf(`%s 300 IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@%s"`, name, z.domain(i)))
	case prefix == "_dmarc", prefix == "s2026._domainkey", prefix == "_domainkey", prefix == "_smtp._tls", prefix == "_tls":
		return nil, d, true
	}
	return nil, d, false
}

// reverse reads a PTR name of a synthetic address: the index, -1 for a
// name under the reverse trees that is none of them; ok false outside them.
func (z *synthetic) reverse(name string) (int, bool) {
	if !strings.HasSuffix(name, ".arpa.") && name != "arpa." {
		return 0, false
	}
	ip := reverseIP(name)
	if !ip.IsValid() {
		return -1, true
	}
	var i int
	if ip.Is4() {
		b := ip.As4()
		if b[0] != 198 || b[1] < 18 || b[1] > 19 {
			return -1, true
		}
		i = int(b[1]-18)<<16 | int(b[2])<<8 | int(b[3])
	} else {
		b := ip.As16()
		i = int(b[13])<<16 | int(b[14])<<8 | int(b[15])
	}
	if i >= z.n || (ip.Is6() && z.v6(i) != ip) {
		return -1, true
	}
	return i, true
}

// reverseIP parses a full in-addr.arpa or ip6.arpa name.
func reverseIP(name string) netip.Addr {
	if s, ok := strings.CutSuffix(name, ".in-addr.arpa."); ok {
		l := strings.Split(s, ".")
		if len(l) != 4 {
			return netip.Addr{}
		}
		a, err := netip.ParseAddr(l[3] + "." + l[2] + "." + l[1] + "." + l[0])
		if err != nil {
			return netip.Addr{}
		}
		return a
	}
	if s, ok := strings.CutSuffix(name, ".ip6.arpa."); ok {
		l := strings.Split(s, ".")
		if len(l) != 32 {
			return netip.Addr{}
		}
		var b strings.Builder
		for i := 31; i >= 0; i-- {
			b.WriteString(l[i])
			if i%4 == 0 && i > 0 {
				b.WriteByte(':')
			}
		}
		a, err := netip.ParseAddr(b.String())
		if err != nil {
			return netip.Addr{}
		}
		return a
	}
	return netip.Addr{}
}
