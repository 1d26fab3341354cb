package probe

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/dialer"
	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/pki"
	"github.com/mailcheck-cli/mailcheck/resolver"
	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

// startOn serves s on addr:port (port 0: any) and returns the port.
func startOn(t *testing.T, s scripted, p testPKI, addr string, port int) int {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(addr, fmt.Sprint(port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	cfg := &tls.Config{Certificates: []tls.Certificate{p.cert}, MinVersion: tls.VersionTLS12}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.handle(c, cfg)
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// A host with two addresses is probed at each, and each address's
// findings and reverse DNS are told apart.
func TestHostEveryAddress(t *testing.T) {
	p := newTestPKI(t, pki.LeafOptions{})
	good := smtpServer("250-STARTTLS\r\n", "", upgrade)
	port := startOn(t, good, p, "127.0.0.1", 0)
	startOn(t, smtpServer("250-AUTH PLAIN\r\n", "", carryOn), p, "127.0.0.2", port)
	fake := resolvertest.New(
		"mail.example.test. 300 IN A 127.0.0.1",
		"mail.example.test. 300 IN A 127.0.0.2",
		"1.0.0.127.in-addr.arpa. 300 IN PTR mail.example.test.",
		"2.0.0.127.in-addr.arpa. 300 IN PTR other.example.test.",
	)
	o := Options{Dialer: &dialer.Dialer{Resolver: fake, PortMap: map[int]int{25: port}, Roots: p.roots, StepTimeout: 2 * time.Second}}
	probes, fs := Host(context.Background(), o, "mail.example.test", []int{25}, "")
	if len(probes) != 2 {
		t.Fatalf("%d probes", len(probes))
	}
	bySubject := map[string]map[string]finding.Severity{}
	for _, f := range fs {
		if bySubject[f.Subject] == nil {
			bySubject[f.Subject] = map[string]finding.Severity{}
		}
		bySubject[f.Subject][f.ID] = f.Severity
	}
	first := bySubject["mail.example.test:25 (127.0.0.1)"]
	second := bySubject["mail.example.test:25 (127.0.0.2)"]
	if first["tls.ok"] != finding.Pass || first["auth.ok"] != finding.Pass {
		t.Errorf("127.0.0.1: %v", first)
	}
	if _, ok := second["tls.starttls-missing"]; !ok || second["auth.plaintext-exposed"] != finding.Fail {
		t.Errorf("127.0.0.2: %v", second)
	}
	if bySubject["127.0.0.1 PTR"]["ptr.ok"] != finding.Pass {
		t.Errorf("PTR of 127.0.0.1: %v", fs)
	}
	if bySubject["127.0.0.2 PTR"]["ptr.mismatch"] != finding.Warn {
		t.Errorf("PTR of 127.0.0.2: %v", fs)
	}
	if !slices.Equal(probes[1].PTR, []string{"other.example.test"}) {
		t.Errorf("PTR field %v", probes[1].PTR)
	}
}

// MX probes every MX host in preference order; a failed address lookup is
// inconclusive, never "no server".
func TestMXHosts(t *testing.T) {
	p := newTestPKI(t, pki.LeafOptions{Names: []string{"mx1.example.test", "mx2.example.test"}})
	port := startOn(t, smtpServer("250-STARTTLS\r\n", "", upgrade), p, "127.0.0.1", 0)
	fake := resolvertest.New(
		"example.test. 300 IN MX 20 mx2.example.test.",
		"example.test. 300 IN MX 10 mx1.example.test.",
		"example.test. 300 IN MX 30 broken.example.test.",
		"mx1.example.test. 300 IN A 127.0.0.1",
		"mx2.example.test. 300 IN A 127.0.0.1",
	)
	fake.Fail("broken.example.test.", dns.TypeA, resolver.ServFail)
	o := Options{Dialer: &dialer.Dialer{Resolver: fake, PortMap: map[int]int{25: port}, Roots: p.roots, StepTimeout: 2 * time.Second}}
	mx := facts.GatherMX(context.Background(), fake, "example.test")
	probes, fs := MX(context.Background(), o, &mx)
	var hosts []string
	for _, pr := range probes {
		hosts = append(hosts, pr.Host)
	}
	if !slices.Equal(hosts, []string{"mx1.example.test", "mx2.example.test"}) {
		t.Errorf("probed %v", hosts)
	}
	got := map[string]finding.Severity{}
	for _, f := range fs {
		got[f.Subject+" "+f.ID] = f.Severity
	}
	for key, sev := range map[string]finding.Severity{
		"mx1.example.test:25 tls.ok":               finding.Pass,
		"mx2.example.test:25 tls.ok":               finding.Pass,
		"broken.example.test:25 dns.lookup-failed": finding.Error,
	} {
		if got[key] != sev {
			t.Errorf("%s: got %v", key, fs)
		}
	}
	// The null MX accepts no mail: nothing to probe, nothing to report.
	null := facts.GatherMX(context.Background(), resolvertest.New("null.test. 300 IN MX 0 ."), "null.test")
	if probes, fs := MX(context.Background(), Options{Dialer: &dialer.Dialer{Resolver: resolvertest.New()}}, &null); len(probes)+len(fs) != 0 {
		t.Errorf("null MX: %v %v", probes, fs)
	}
}

// Cancelling the context ends a probe stuck on a silent server at once.
func TestCancelStopsProbe(t *testing.T) {
	p := newTestPKI(t, pki.LeafOptions{})
	port := scripted{}.start(t, p)
	o := testOptions(p.roots, 10*time.Second, map[int]int{143: port})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	pr, fs := Run(ctx, o, target(143))
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v after a 200ms context", d)
	}
	if pr.Status != "timeout" || !slices.ContainsFunc(fs, func(f finding.Finding) bool { return f.ID == "conn.timeout" }) {
		t.Errorf("status %s, findings %v", pr.Status, fs)
	}
	if !strings.Contains(pr.Error, "greeting") {
		t.Errorf("error %q does not say where it stopped", pr.Error)
	}
}
