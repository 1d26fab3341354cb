package integration

// Tier 2: mailcheck's live resolver and DNS checks against NSD.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/fixtures"
	"github.com/mailcheck-cli/mailcheck/nameserver"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// nsdInstance is an NSD serving the zones of one fixtures scenario.
type nsdInstance struct {
	Addr      string   // 127.0.0.1:PORT, for --resolver
	ZoneFiles []string // the zone files it serves, for --zone
	Scenario  *fixtures.Scenario
}

// startNSD serves the zone files of scenario with NSD on a loopback high
// port and waits until it answers for every zone.
func startNSD(t *testing.T, scenario string) *nsdInstance {
	t.Helper()
	sc, err := fixtures.Load(scenario)
	if err != nil {
		t.Fatal(err)
	}
	var zones []nsdZone
	for _, zf := range sc.Zones {
		data, err := sc.File(zf)
		if err != nil {
			t.Fatal(err)
		}
		zones = append(zones, nsdZone{Name: fixtures.Origin(zf), File: zf, Data: data})
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		inst, err := launchNSD(t, "127.0.0.1", freeUDPAndTCPPort(t), zones)
		if err == nil {
			inst.Scenario = sc
			return inst
		}
		lastErr = err
	}
	t.Fatalf("NSD did not start: %v", lastErr)
	return nil
}

// nsdZone is one zone file NSD serves.
type nsdZone struct {
	Name, File string // origin, and file name in NSD's directory
	Data       []byte
}

// launchNSD starts one NSD on ip:port serving zones, in a directory of its
// own, and waits until it answers for every zone. It fails (and stops NSD)
// when NSD does not come up, so that the caller can try another port.
func launchNSD(t *testing.T, ip string, port int, zones []nsdZone) (*nsdInstance, error) {
	t.Helper()
	nsd := needTools(t, "nsd")["nsd"]
	dir := t.TempDir()
	inst := &nsdInstance{}
	for _, z := range zones {
		p := filepath.Join(dir, z.File)
		if err := os.WriteFile(p, z.Data, 0o644); err != nil {
			t.Fatal(err)
		}
		inst.ZoneFiles = append(inst.ZoneFiles, p)
	}
	conf := filepath.Join(dir, "nsd.conf")
	writeTemplate(t, "nsd.conf.tmpl", conf, map[string]any{"IP": ip, "Port": port, "Dir": dir, "Zones": zones})
	inst.Addr = net.JoinHostPort(ip, strconv.Itoa(port))
	d := startDaemon(t, dir, "nsd-"+ip+"-"+strconv.Itoa(port), []string{filepath.Join(dir, "nsd.log")}, nsd, "-d", "-c", conf)
	live, err := resolver.NewLive([]string{inst.Addr}, resolver.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = d.waitFor(10*time.Second, func() error {
		for _, z := range zones {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			a, err := live.Query(ctx, z.Name, dns.TypeSOA)
			cancel()
			if err != nil {
				return err
			}
			if len(a.RRs) == 0 {
				return fmt.Errorf("no SOA for %s yet", z.Name)
			}
		}
		return nil
	})
	if err != nil {
		t.Logf("NSD on %s: %v\n%s", inst.Addr, err, d.logTail())
		d.stop(t)
		return nil, err
	}
	return inst, nil
}

// portMap is the --port-map value that sends mailcheck's direct questions
// to a zone's name servers (port 53) to NSD's port.
func (n *nsdInstance) portMap() string {
	_, port, _ := net.SplitHostPort(n.Addr)
	return "53=" + port
}

// freeUDPAndTCPPort returns a port free for both UDP and TCP on 127.0.0.1.
func freeUDPAndTCPPort(t *testing.T) int {
	t.Helper()
	for i := 0; i < 20; i++ {
		port := freePorts(t, "127.0.0.1", 1)[0]
		pc, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no port free for both UDP and TCP")
	return 0
}

// mailcheck's live resolver reads NSD's answers as NSD means them: records,
// NXDOMAIN and NODATA are three different things.
func TestNSDLiveResolver(t *testing.T) {
	ns := startNSD(t, "default")
	live, err := resolver.NewLive([]string{ns.Addr}, resolver.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	query := func(name string, qtype uint16) *resolver.Answer {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a, err := live.Query(ctx, name, qtype)
		if err != nil {
			t.Fatalf("%s %s: %v", name, dns.TypeToString[qtype], err)
		}
		return a
	}

	mx := query("example.test.", dns.TypeMX)
	if len(mx.RRs) != 1 || mx.RRs[0].(*dns.MX).Mx != "mail.example.test." || mx.RRs[0].(*dns.MX).Preference != 10 {
		t.Errorf("example.test MX = %v, want 10 mail.example.test.", mx.RRs)
	}
	txt, _, err := resolver.TXT(context.Background(), live, "_dmarc.example.test.")
	if err != nil || len(txt) != 1 || !strings.HasPrefix(txt[0], "v=DMARC1; p=reject") {
		t.Errorf("_dmarc.example.test TXT = %q, %v; want one v=DMARC1 p=reject record", txt, err)
	}
	// The DKIM key is split over two strings in the zone; TXT joins them.
	dkim, _, err := resolver.TXT(context.Background(), live, "s2026._domainkey.example.test.")
	if err != nil || len(dkim) != 1 || !strings.HasPrefix(dkim[0], "v=DKIM1; k=rsa; p=MIIB") || !strings.HasSuffix(dkim[0], "IDAQAB") {
		t.Errorf("s2026._domainkey TXT = %q, %v; want the whole key in one string", dkim, err)
	}
	if a := query("nosuch.example.test.", dns.TypeA); !a.NXDomain() {
		t.Errorf("nosuch.example.test A: rcode %d, %v; want NXDOMAIN", a.Rcode, a.RRs)
	}
	if a := query("mail.example.test.", dns.TypeTXT); !a.NoData() {
		t.Errorf("mail.example.test TXT: rcode %d, %v; want NODATA", a.Rcode, a.RRs)
	}
	ptr := query("1.0.0.127.in-addr.arpa.", dns.TypePTR)
	if len(ptr.RRs) != 1 || ptr.RRs[0].(*dns.PTR).Ptr != "mail.example.test." {
		t.Errorf("127.0.0.1 PTR = %v, want mail.example.test.", ptr.RRs)
	}
	// Outside NSD's zones the answer is REFUSED: a failed lookup, never
	// "no such name".
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if a, err := live.Query(ctx, "example.org.", dns.TypeMX); err == nil {
		t.Errorf("example.org MX from a server not authoritative for it: got an answer (rcode %d), want an error", a.Rcode)
	}
}

// The same zone files give the same findings whether mailcheck reads them
// with --zone or asks NSD serving them: what CI checks before publishing
// is what the live audit sees after.
func TestNSDMatchesZoneFiles(t *testing.T) {
	for _, scenario := range []string{"default", "dmarc-missing", "dmarc-inherited", "spf-missing", "mx-null", "mx-cname", "mtasts-missing", "dkim-revoked"} {
		t.Run(scenario, func(t *testing.T) {
			ns := startNSD(t, scenario)
			sc := ns.Scenario
			args := []string{"domain", sc.Domain, "--no-probe", "--timeout", "15s"}
			for _, s := range sc.DKIMSelectors {
				args = append(args, "--dkim-selector", s)
			}
			live := mailcheckJSON(t, []int{0, 1, 3}, append(slices.Clone(args), "--resolver", ns.Addr, "--port-map", ns.portMap())...)
			zoneArgs := slices.Clone(args)
			for _, z := range ns.ZoneFiles {
				zoneArgs = append(zoneArgs, "--zone", z)
			}
			offline := mailcheckJSON(t, []int{0, 1, 3}, zoneArgs...)
			if got, want := live.ids(), offline.ids(); !slices.Equal(got, want) {
				t.Errorf("findings differ\n  --resolver %s: %v\n  --zone:        %v", ns.Addr, got, want)
			}
			if live.has("dns.lookup-failed", "", "") {
				t.Errorf("a lookup against NSD failed: %v", live.ids())
			}
			// A DNS-only scenario's expectations hold from DNS alone (the
			// others need the reference server's HTTPS and mail ports).
			for _, e := range sc.Expect {
				if sc.Probe {
					break
				}
				if !slices.ContainsFunc(live.Findings, func(f finding) bool {
					return f.ID == e.ID && f.Severity == e.Severity.String() && strings.Contains(f.Subject, e.Subject)
				}) {
					t.Errorf("scenario %s expects %s/%s@%s; live findings: %v", scenario, e.ID, e.Severity, e.Subject, live.ids())
				}
			}
		})
	}
}

// NXDOMAIN at _dmarc is "no DMARC record" (a fail the admin must fix), not
// a failed lookup.
func TestNSDDMARCMissingIsNotALookupFailure(t *testing.T) {
	ns := startNSD(t, "dmarc-missing")
	rep := mailcheckJSON(t, []int{1}, "domain", "example.test", "--no-probe", "--resolver", ns.Addr, "--port-map", ns.portMap(), "--dkim-selector", "s2026", "--timeout", "15s")
	if !rep.has("dmarc.missing", "fail", "_dmarc.example.test TXT") {
		t.Errorf("no dmarc.missing fail at _dmarc.example.test TXT: %v", rep.ids())
	}
	for _, f := range rep.Findings {
		if f.Severity == "error" {
			t.Errorf("inconclusive finding against a healthy NSD: %+v", f)
		}
	}
}

// A resolver that cannot be reached makes the run inconclusive (exit 3,
// dns.lookup-failed at error), never "record missing", and within the
// --timeout given.
func TestResolverUnreachable(t *testing.T) {
	// A closed port: the kernel answers with ICMP port unreachable.
	closed := freeUDPAndTCPPort(t)
	// A silent one: a socket that reads queries and never answers.
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	silentTCP, err := net.Listen("tcp", silent.LocalAddr().String())
	if err != nil {
		t.Skipf("TCP port %s is taken; the silent-resolver case needs both", silent.LocalAddr())
	}
	defer silentTCP.Close()

	for _, tc := range []struct{ name, addr string }{
		{"closed-port", net.JoinHostPort("127.0.0.1", strconv.Itoa(closed))},
		{"silent", silent.LocalAddr().String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			rep := mailcheckJSON(t, []int{3}, "domain", "example.test", "--no-probe", "--resolver", tc.addr, "--timeout", "3s")
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %v with --timeout 3s", took)
			}
			if !rep.has("dns.lookup-failed", "error", "") {
				t.Errorf("no dns.lookup-failed error: %v", rep.ids())
			}
			for _, f := range rep.Findings {
				if strings.HasSuffix(f.ID, ".missing") || f.Severity == "fail" {
					t.Errorf("a failed lookup reported as a verdict: %+v", f)
				}
			}
		})
	}
}

// delegationWorld is NSD 1 on 127.0.0.1 serving testdata/delegations'
// example.test and reverse zones, and NSD 2 on 127.0.0.2, same port,
// serving sub.example.test; nothing listens on 127.0.0.3.
type delegationWorld struct {
	port       int
	nsd1, nsd2 *nsdInstance
	zones      *resolver.Zone // every zone file, as a recursive resolver would see the data
}

func startDelegationWorld(t *testing.T) *delegationWorld {
	t.Helper()
	read := func(file string) nsdZone {
		data, err := os.ReadFile(filepath.Join("testdata", "delegations", file))
		if err != nil {
			t.Fatal(err)
		}
		return nsdZone{Name: fixtures.Origin(file), File: file, Data: data}
	}
	parent := []nsdZone{read("example.test.zone"), read("127.in-addr.arpa.zone")}
	child := []nsdZone{read("sub.example.test.zone")}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port := freeUDPAndTCPPort(t)
		if !portFree("127.0.0.2", port) || !portFree("127.0.0.3", port) {
			continue
		}
		w := &delegationWorld{port: port}
		if w.nsd1, lastErr = launchNSD(t, "127.0.0.1", port, parent); lastErr != nil {
			continue
		}
		if w.nsd2, lastErr = launchNSD(t, "127.0.0.2", port, child); lastErr != nil {
			continue
		}
		var srcs []resolver.ZoneSource
		for _, z := range append(parent, child...) {
			srcs = append(srcs, resolver.ZoneSource{File: z.File, Data: z.Data})
		}
		var err error
		if w.zones, err = resolver.NewZone(srcs...); err != nil {
			t.Fatal(err)
		}
		return w
	}
	t.Fatalf("the two NSDs did not start: %v", lastErr)
	return nil
}

// portFree reports whether UDP and TCP port are free on ip.
func portFree(ip string, port int) bool {
	addr := net.JoinHostPort(ip, strconv.Itoa(port))
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	pc.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// A name delegated to a dead or lame server is not NODATA: NSD answers
// with a referral (RFC 2308 §2.2), the live resolver says so, the zone
// resolver reading the same file says the same, and the audit reports an
// inconclusive dns.lookup-failed rather than dmarc.missing or
// spf.include-missing — the same findings via NSD and via --zone.
func TestNSDReferralsAreLookupFailures(t *testing.T) {
	w := startDelegationWorld(t)
	live, err := resolver.NewLive([]string{w.nsd1.Addr}, resolver.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, zone, ns string }{
		{"_dmarc.example.test.", "_dmarc.example.test.", "ns.dead.example.test."},
		{"_spf.example.test.", "_spf.example.test.", "ns.lame.example.test."},
		{"x._spf.example.test.", "_spf.example.test.", "ns.lame.example.test."},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, lerr := live.Query(ctx, tc.name, dns.TypeTXT)
		_, zerr := w.zones.Query(ctx, tc.name, dns.TypeTXT)
		cancel()
		ld, lok := resolver.IsReferral(lerr)
		zd, zok := resolver.IsReferral(zerr)
		if !lok || !zok {
			t.Errorf("%s: NSD gave %v, the zone file %v; want two referrals", tc.name, lerr, zerr)
			continue
		}
		for _, d := range []*resolver.Delegation{ld, zd} {
			if d.Zone != tc.zone || !slices.Equal(d.NameServers, []string{tc.ns}) {
				t.Errorf("%s: delegation %+v, want %s to %s", tc.name, d, tc.zone, tc.ns)
			}
		}
	}
	// The lame server itself refuses the name: a failed lookup too.
	lame, err := resolver.NewLive([]string{w.nsd2.Addr}, resolver.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var re *resolver.Error
	if _, err := lame.Query(ctx, "_spf.example.test.", dns.TypeTXT); !errors.As(err, &re) || re.Kind != resolver.Refused {
		t.Errorf("the lame server: %v, want REFUSED", err)
	}

	args := []string{"domain", "example.test", "--no-probe", "--timeout", "15s"}
	viaNSD := mailcheckJSON(t, []int{1, 3}, append(slices.Clone(args), "--resolver", w.nsd1.Addr, "--port-map", w.nsd1.portMap())...)
	zoneArgs := slices.Clone(args)
	for _, z := range w.nsd1.ZoneFiles {
		zoneArgs = append(zoneArgs, "--zone", z)
	}
	viaZone := mailcheckJSON(t, []int{1, 3}, zoneArgs...)
	for name, rep := range map[string]report{"via NSD": viaNSD, "via --zone": viaZone} {
		for _, subject := range []string{"_dmarc.example.test TXT", "_spf.example.test TXT"} {
			if !rep.has("dns.lookup-failed", "error", subject) {
				t.Errorf("%s: no dns.lookup-failed error at %s: %v", name, subject, rep.ids())
			}
		}
		for _, wrong := range []string{"dmarc.missing", "spf.include-missing"} {
			if rep.has(wrong, "", "") {
				t.Errorf("%s: a referral reported as %s: %v", name, wrong, rep.ids())
			}
		}
	}
	if got, want := viaNSD.ids(), viaZone.ids(); !slices.Equal(got, want) {
		t.Errorf("findings differ\n  --resolver: %v\n  --zone:     %v", got, want)
	}
}

// The name-server survey asks each server of sub.example.test directly: the
// real NSD serving it is authoritative, the parent's NSD listed as a child
// server refers instead of answering (lame), and the third is unreachable.
func TestNSDLameServers(t *testing.T) {
	w := startDelegationWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()

	// Asked directly, NSD 1 refers the child zone's SOA: the reply a lame
	// server gives.
	reply, err := resolver.AskServer(ctx, w.nsd1.Addr, "sub.example.test.", dns.TypeSOA)
	if err != nil {
		t.Fatal(err)
	}
	if d := reply.Referral(); d == nil || d.Zone != "sub.example.test." || reply.Authoritative {
		t.Errorf("NSD 1 for sub.example.test SOA: AA %v, referral %+v", reply.Authoritative, d)
	}
	reply, err = resolver.AskServer(ctx, w.nsd2.Addr, "sub.example.test.", dns.TypeSOA)
	if err != nil || !reply.Authoritative || len(reply.Records()) != 1 {
		t.Fatalf("NSD 2 for sub.example.test SOA: %+v, %v", reply, err)
	}

	s := nameserver.Gather(ctx, w.zones, "sub.example.test", nameserver.Options{Port: w.port, QueryTimeout: 2 * time.Second})
	if s.ZoneErr != nil || s.Parent.Err != nil || s.Child.Err != nil {
		t.Fatalf("zone %v, parent %v, child %v", s.ZoneErr, s.Parent.Err, s.Child.Err)
	}
	got := map[string]nameserver.Status{}
	for _, srv := range s.Servers {
		for _, r := range srv.Replies {
			got[srv.Host] = r.Status
			if srv.Host == "ns2.sub.example.test." && (r.Referral == nil || r.Referral.Zone != "sub.example.test.") {
				t.Errorf("ns2.sub is lame by a referral: %+v", r)
			}
			if srv.Host == "ns1.sub.example.test." && r.Serial != 7 {
				t.Errorf("ns1.sub serial %d, want 7", r.Serial)
			}
		}
	}
	want := map[string]nameserver.Status{
		"ns1.sub.example.test.": nameserver.Authoritative,
		"ns2.sub.example.test.": nameserver.Lame,
		"ns3.sub.example.test.": nameserver.Unreachable,
	}
	if !maps.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	// One authoritative server: nothing to disagree with, nothing stale.
	if len(s.Disagreements()) != 0 || len(s.Stale()) != 0 {
		t.Errorf("disagreements %v, stale %v", s.Disagreements(), s.Stale())
	}
}

// mailcheck domain on a zone whose listed name servers include a lame and
// an unreachable one: asked directly (live DNS, through NSD 2 as the
// resolver and --port-map 53=PORT to reach each server), ns1.sub answers
// authoritatively, ns2.sub (NSD 1, which only refers to the child) is
// ns.lame and ns3.sub ns.unreachable. Read from the same zone file with
// --zone, every other finding is the same; the servers themselves are not
// asked there (zone files are the proposed state), so the name-server
// verdict is the files' own: three servers listed, ns.ok.
func TestNSDLameServerFindings(t *testing.T) {
	w := startDelegationWorld(t)
	args := []string{"domain", "sub.example.test", "--no-probe", "--timeout", "15s"}
	live := mailcheckJSON(t, []int{1, 3}, append(slices.Clone(args), "--resolver", w.nsd2.Addr, "--port-map", w.nsd2.portMap())...)
	for _, want := range []struct{ id, sev string }{{"ns.lame", "fail"}, {"ns.unreachable", "warn"}} {
		if !live.has(want.id, want.sev, "sub.example.test NS") {
			t.Errorf("live: no %s %s at sub.example.test NS: %v", want.id, want.sev, live.ids())
		}
	}
	for _, f := range live.Findings {
		if f.ID == "ns.lame" && !strings.Contains(f.Title, "ns2.sub.example.test (127.0.0.1)") {
			t.Errorf("ns.lame names another server: %+v", f)
		}
		if f.ID == "ns.unreachable" && !strings.Contains(f.Title, "ns3.sub.example.test (127.0.0.3)") {
			t.Errorf("ns.unreachable names another server: %+v", f)
		}
	}
	zoneArgs := append(slices.Clone(args), "--zone", w.nsd2.ZoneFiles[0])
	offline := mailcheckJSON(t, []int{0, 1, 3}, zoneArgs...)
	if !offline.has("ns.ok", "pass", "sub.example.test NS") {
		t.Errorf("--zone: want ns.ok from the zone file's three servers: %v", offline.ids())
	}
	withoutNS := func(r report) []string {
		var out []string
		for _, id := range r.ids() {
			if !strings.HasPrefix(id, "ns.") {
				out = append(out, id)
			}
		}
		return out
	}
	if got, want := withoutNS(live), withoutNS(offline); !slices.Equal(got, want) {
		t.Errorf("findings other than the name servers' differ\n  --resolver: %v\n  --zone:     %v", got, want)
	}
}
