package integration

// Tier 2: mailcheck's live resolver and DNS checks against NSD.

import (
	"context"
	"fmt"
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
	nsd := needTools(t, "nsd")["nsd"]
	sc, err := fixtures.Load(scenario)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	type zone struct{ Name, File string }
	var zones []zone
	inst := &nsdInstance{Scenario: sc}
	for _, zf := range sc.Zones {
		data, err := sc.File(zf)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, zf)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		zones = append(zones, zone{Name: fixtures.Origin(zf), File: zf})
		inst.ZoneFiles = append(inst.ZoneFiles, p)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port := freeUDPAndTCPPort(t)
		conf := filepath.Join(dir, "nsd.conf")
		writeTemplate(t, "nsd.conf.tmpl", conf, map[string]any{"Port": port, "Dir": dir, "Zones": zones})
		inst.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		d := startDaemon(t, dir, fmt.Sprintf("nsd-%d", attempt), []string{filepath.Join(dir, "nsd.log")}, nsd, "-d", "-c", conf)
		live, err := resolver.NewLive([]string{inst.Addr}, resolver.LiveOptions{})
		if err != nil {
			t.Fatal(err)
		}
		lastErr = d.waitFor(10*time.Second, func() error {
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
		if lastErr == nil {
			return inst
		}
		t.Logf("NSD on %s: %v\n%s", inst.Addr, lastErr, d.logTail())
		d.stop(t)
	}
	t.Fatalf("NSD did not start: %v", lastErr)
	return nil
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
			live := mailcheckJSON(t, []int{0, 1, 3}, append(slices.Clone(args), "--resolver", ns.Addr)...)
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
	rep := mailcheckJSON(t, []int{1}, "domain", "example.test", "--no-probe", "--resolver", ns.Addr, "--dkim-selector", "s2026", "--timeout", "15s")
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
