package checks

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/checks/mtasts"
	"github.com/mailcheck-cli/mailcheck/dialer"
	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/pki"
	"github.com/mailcheck-cli/mailcheck/resolver"
	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

const goodPolicy = "version: STSv1\nmode: enforce\nmx: mail.example.test\nmax_age: 604800\n"

// policyServer serves HTTPS on 127.0.0.1 with a certificate for names
// issued by ca, and returns its port.
func policyServer(t *testing.T, ca *pki.Authority, names []string, h http.Handler) int {
	t.Helper()
	cert, err := ca.Issue(pki.LeafOptions{Names: names})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// servePolicy answers the well-known path with body and content type.
func servePolicy(body, contentType string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/mta-sts.txt" || r.Host != "mta-sts.example.test" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", contentType)
		w.Write([]byte(body))
	})
}

func stsRecords(txt ...string) []string {
	recs := []string{
		"example.test. IN MX 10 mail.example.test.",
		"mail.example.test. IN A 127.0.0.1",
		"mta-sts.example.test. IN A 127.0.0.1",
	}
	for _, t := range txt {
		recs = append(recs, "_mta-sts.example.test. IN TXT \""+t+"\"")
	}
	return recs
}

func TestMTASTS(t *testing.T) {
	ca, err := pki.NewRoot("mailcheck test root")
	if err != nil {
		t.Fatal(err)
	}
	otherCA, err := pki.NewRoot("untrusted root")
	if err != nil {
		t.Fatal(err)
	}
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	names := []string{"mta-sts.example.test"}
	record := "v=STSv1; id=2026112101"

	tests := []struct {
		name    string
		records []string
		fail    map[string]uint16      // name → qtype failing with SERVFAIL
		ca      *pki.Authority         // issues the server certificate; nil: ca
		names   []string               // on the server certificate; nil: names
		handler http.Handler           // nil: no server, the port refuses connections
		stage   facts.MTASTSFetchStage // the fetch error stage expected, if any
		want    []want
		absent  []string
	}{
		{name: "valid", records: stsRecords(record), handler: servePolicy(goodPolicy, "text/plain; charset=utf-8"),
			want: []want{{"mtasts.ok", finding.Pass, "https://mta-sts.example.test/.well-known/mta-sts.txt"}}},
		{name: "wildcard mx pattern", records: stsRecords(record),
			handler: servePolicy("version: STSv1\nmode: enforce\nmx: *.example.test\nmax_age: 604800\n", "text/plain"),
			want:    []want{{"mtasts.ok", finding.Pass, ""}}},
		{name: "no record", records: stsRecords(), handler: servePolicy(goodPolicy, "text/plain"),
			want: []want{{"mtasts.missing", finding.Info, "_mta-sts.example.test TXT"}}, absent: []string{"mtasts.ok"}},
		{name: "other TXT only", records: stsRecords("google-site-verification=abc"), handler: servePolicy(goodPolicy, "text/plain"),
			want: []want{{"mtasts.missing", finding.Info, "_mta-sts.example.test TXT"}}},
		{name: "bad id", records: stsRecords("v=STSv1; id=2026-11-21"), handler: servePolicy(goodPolicy, "text/plain"),
			want: []want{{"mtasts.syntax", finding.Fail, "_mta-sts.example.test TXT"}}, absent: []string{"mtasts.ok"}},
		{name: "two records", records: stsRecords(record, "v=STSv1; id=2"), handler: servePolicy(goodPolicy, "text/plain"),
			want: []want{{"mtasts.syntax", finding.Fail, "_mta-sts.example.test TXT"}}, absent: []string{"mtasts.ok"}},
		{name: "404", records: stsRecords(record), handler: http.NotFoundHandler(), stage: facts.FetchStatus,
			want: []want{{"mtasts.policy-unreachable", finding.Fail, "https://mta-sts.example.test/"}}},
		{name: "redirect", records: stsRecords(record), stage: facts.FetchRedirect,
			handler: http.RedirectHandler("https://www.example.test/mta-sts.txt", http.StatusMovedPermanently),
			want:    []want{{"mtasts.policy-unreachable", finding.Fail, ""}}},
		{name: "html", records: stsRecords(record), handler: servePolicy(goodPolicy, "text/html"), stage: facts.FetchContentType,
			want: []want{{"mtasts.policy-unreachable", finding.Fail, ""}}},
		{name: "oversized", records: stsRecords(record), stage: facts.FetchSize,
			handler: servePolicy(goodPolicy+strings.Repeat("x: y\n", mtasts.MaxPolicySize/5+1), "text/plain"),
			want:    []want{{"mtasts.policy-unreachable", finding.Fail, ""}}},
		{name: "certificate for another name", records: stsRecords(record), names: []string{"www.example.test"}, stage: facts.FetchTLS,
			handler: servePolicy(goodPolicy, "text/plain"), want: []want{{"mtasts.policy-unreachable", finding.Fail, ""}}},
		{name: "untrusted CA", records: stsRecords(record), ca: otherCA, stage: facts.FetchTLS,
			handler: servePolicy(goodPolicy, "text/plain"), want: []want{{"mtasts.policy-unreachable", finding.Fail, ""}}},
		{name: "connection refused", records: stsRecords(record), stage: facts.FetchConnect,
			want: []want{{"mtasts.policy-unreachable", finding.Fail, ""}}},
		{name: "server hangs: inconclusive", records: stsRecords(record), stage: facts.FetchTimeout,
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-hang:
				case <-r.Context().Done():
				}
			}),
			want: []want{{"mtasts.policy-unreachable", finding.Error, ""}}},
		{name: "policy host has no address", records: slices.DeleteFunc(stsRecords(record), func(s string) bool { return strings.HasPrefix(s, "mta-sts.") }), stage: facts.FetchNoAddress,
			handler: servePolicy(goodPolicy, "text/plain"),
			want:    []want{{"mtasts.policy-unreachable", finding.Fail, ""}}},
		{name: "policy does not parse", records: stsRecords(record),
			handler: servePolicy("version: STSv1\nmode: enforcing\nmx: mail.example.test\nmax_age: 604800\n", "text/plain"),
			want:    []want{{"mtasts.syntax", finding.Fail, "https://mta-sts.example.test/"}}, absent: []string{"mtasts.ok"}},
		{name: "MX not covered, enforce", records: stsRecords(record),
			handler: servePolicy("version: STSv1\nmode: enforce\nmx: mx.example.test\nmax_age: 604800\n", "text/plain"),
			want:    []want{{"mtasts.mx-mismatch", finding.Fail, ""}}, absent: []string{"mtasts.ok"}},
		{name: "MX not covered, testing", records: stsRecords(record),
			handler: servePolicy("version: STSv1\nmode: testing\nmx: mx.example.test\nmax_age: 604800\n", "text/plain"),
			want:    []want{{"mtasts.mx-mismatch", finding.Warn, ""}, {"mtasts.testing", finding.Info, ""}}},
		{name: "testing", records: stsRecords(record),
			handler: servePolicy("version: STSv1\nmode: testing\nmx: mail.example.test\nmax_age: 604800\n", "text/plain"),
			want:    []want{{"mtasts.testing", finding.Info, ""}, {"mtasts.ok", finding.Pass, ""}}},
		{name: "mode none", records: stsRecords(record),
			handler: servePolicy("version: STSv1\nmode: none\nmax_age: 86400\n", "text/plain"),
			want:    []want{{"mtasts.mode-none", finding.Info, ""}}, absent: []string{"mtasts.mx-mismatch"}},
		{name: "TXT lookup fails: inconclusive, never missing", records: stsRecords(record),
			fail: map[string]uint16{"_mta-sts.example.test.": dns.TypeTXT}, handler: servePolicy(goodPolicy, "text/plain"),
			want: []want{{"dns.lookup-failed", finding.Error, "_mta-sts.example.test TXT"}}, absent: []string{"mtasts.missing", "mtasts.ok"}},
		{name: "policy host lookup fails: inconclusive, not unreachable", records: stsRecords(record),
			fail: map[string]uint16{"mta-sts.example.test.": dns.TypeA}, handler: servePolicy(goodPolicy, "text/plain"),
			want: []want{{"dns.lookup-failed", finding.Error, "mta-sts.example.test A"}}, absent: []string{"mtasts.policy-unreachable", "mtasts.ok"}},
		{name: "MX lookup fails: coverage inconclusive", records: stsRecords(record),
			fail: map[string]uint16{"example.test.": dns.TypeMX}, handler: servePolicy(goodPolicy, "text/plain"),
			want: []want{{"dns.lookup-failed", finding.Error, "example.test MX"}}, absent: []string{"mtasts.mx-mismatch", "mtasts.ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var port int
			if tt.handler != nil {
				issuer, certNames := ca, names
				if tt.ca != nil {
					issuer = tt.ca
				}
				if tt.names != nil {
					certNames = tt.names
				}
				port = policyServer(t, issuer, certNames, tt.handler)
			} else {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				port = ln.Addr().(*net.TCPAddr).Port
				ln.Close()
			}
			r := resolvertest.New(tt.records...)
			for n, qt := range tt.fail {
				r.Fail(n, qt, resolver.ServFail)
			}
			env := &Env{Resolver: r, Dialer: &dialer.Dialer{Resolver: r, PortMap: map[int]int{443: port},
				Roots: ca.Pool(), StepTimeout: 500 * time.Millisecond}}
			res := checkMTASTS(context.Background(), env, "example.test")
			assertFindings(t, res.Findings, tt.want...)
			for _, id := range tt.absent {
				if f := findingByID(res.Findings, id); f != nil {
					t.Errorf("unexpected %s/%s: %s", f.ID, f.Severity, f.Title)
				}
			}
			if tt.stage != "" {
				_, _, err := facts.FetchMTASTSPolicy(context.Background(), env.Dialer, "example.test")
				var fe *facts.MTASTSFetchError
				if !errors.As(err, &fe) || fe.Stage != tt.stage {
					t.Errorf("FetchMTASTSPolicy error %v, want stage %s", err, tt.stage)
				}
			}
		})
	}
}

func TestMTASTSMismatchFixListsCorrectedPolicy(t *testing.T) {
	ca, err := pki.NewRoot("mailcheck test root")
	if err != nil {
		t.Fatal(err)
	}
	port := policyServer(t, ca, []string{"mta-sts.example.test"},
		servePolicy("version: STSv1\nmode: enforce\nmx: mail.example.test\nmax_age: 604800\n", "text/plain"))
	r := resolvertest.New(append(stsRecords("v=STSv1; id=1"),
		"example.test. IN MX 20 backup.example.net.", "backup.example.net. IN A 127.0.0.2")...)
	env := &Env{Resolver: r, Dialer: &dialer.Dialer{Resolver: r, PortMap: map[int]int{443: port}, Roots: ca.Pool()},
		Now: func() time.Time { return time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC) }}
	res := checkMTASTS(context.Background(), env, "example.test")
	f := findingByID(res.Findings, "mtasts.mx-mismatch")
	if f == nil {
		t.Fatalf("no mtasts.mx-mismatch:\n%s", listFindings(res.Findings))
	}
	for _, s := range []string{"mx: mail.example.test\nmx: backup.example.net\n", "id=20261121100000"} {
		if !strings.Contains(f.Fix, s) {
			t.Errorf("fix %q lacks %q", f.Fix, s)
		}
	}
	if !strings.Contains(strings.Join(f.Evidence, "\n"), "backup.example.net") {
		t.Errorf("evidence %q does not name the uncovered host", f.Evidence)
	}
}

func TestMTASTSNoFetchWithoutRecord(t *testing.T) {
	ca, err := pki.NewRoot("mailcheck test root")
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int32
	port := policyServer(t, ca, []string{"mta-sts.example.test"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		servePolicy(goodPolicy, "text/plain").ServeHTTP(w, r)
	}))
	r := resolvertest.New(stsRecords()...)
	env := &Env{Resolver: r, Dialer: &dialer.Dialer{Resolver: r, PortMap: map[int]int{443: port}, Roots: ca.Pool()}}
	res := checkMTASTS(context.Background(), env, "example.test")
	assertFindings(t, res.Findings, want{"mtasts.missing", finding.Info, ""})
	if hits.Load() != 0 {
		t.Errorf("the policy was fetched %d times though no record announces it", hits.Load())
	}
}
