package checks

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailcheck-cli/mailcheck/dialer"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/fixtures"
	"github.com/mailcheck-cli/mailcheck/pki"
	"github.com/mailcheck-cli/mailcheck/refserver"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// scenarioResolver is the one place scenarios' zones are loaded: the zone
// files answer for their names, nothing else answers (a name outside them
// is "not checked", as with --zone and no --resolver), and a per-run cache
// sits in front, as in the CLI.
func scenarioResolver(t testing.TB, sc *fixtures.Scenario) (resolver.Resolver, *resolver.Zone) {
	t.Helper()
	z, err := resolver.ScenarioZone(sc)
	if err != nil {
		t.Fatalf("scenario %s: %v", sc.Name, err)
	}
	return resolver.NewCache(resolver.Chain{Zone: z}), z
}

// scenarioEnv builds the Env of a --no-probe audit of the scenario: DNS
// from its zones, and HTTPS on port 443 (mapped to an in-test server)
// serving, as the reference server does, its mta-sts.txt at
// mta-sts.<domain> and its BIMI documents at bimi.<domain>, with a
// certificate for both from a test CA; 404 for anything else.
func scenarioEnv(t testing.TB, sc *fixtures.Scenario, res resolver.Resolver) *Env {
	t.Helper()
	ca, err := pki.NewRoot("mailcheck scenario test CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(pki.LeafOptions{Names: []string{"mta-sts." + sc.Domain, refserver.BIMIHost(sc.Domain)}})
	if err != nil {
		t.Fatal(err)
	}
	policy, policyErr := sc.File("mta-sts.txt")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if host == refserver.BIMIHost(sc.Domain) {
			body, mediaType, ok, err := refserver.BIMIDocument(sc, ca, r.URL.Path)
			if err != nil || !ok {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", mediaType)
			w.Write(body)
			return
		}
		if r.URL.Path != "/.well-known/mta-sts.txt" || policyErr != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write(policy)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return &Env{
		Resolver: res,
		Dialer: &dialer.Dialer{
			Resolver:    res,
			PortMap:     map[int]int{443: p},
			Roots:       ca.Pool(),
			StepTimeout: 5 * time.Second,
		},
		DKIMSelectors: sc.DKIMSelectors,
		DNSBL:         sc.DNSBL,
	}
}

// runScenario audits the scenario's domain with every DNS check.
func runScenario(t testing.TB, name string) (*fixtures.Scenario, Result) {
	t.Helper()
	sc, err := fixtures.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	res, zone := scenarioResolver(t, sc)
	env := scenarioEnv(t, sc, res)
	env.Zone = zone
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return sc, audit(ctx, env, sc.Domain)
}

// TestScenarios runs every embedded scenario's DNS checks (--no-probe) and
// compares the findings with what the scenario expects: each expectation
// met, and no warn, fail or error finding it does not list. Expectations
// of probe areas (conn, tls, auth, login) are left to the probe tests.
func TestScenarios(t *testing.T) {
	names := fixtures.Names()
	if len(names) < 2 {
		t.Fatalf("only %d scenarios embedded", len(names))
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sc, res := runScenario(t, name)
			for _, f := range res.Findings {
				if _, ok := finding.Lookup(f.ID); !ok {
					t.Errorf("finding %s is not in the catalogue", f.ID)
				}
			}
			m := sc.CompareZoneFiles(res.Findings)
			for _, e := range m.Missing {
				t.Errorf("expected %s at %s (subject containing %q), not found", e.ID, e.Severity, e.Subject)
			}
			for _, f := range m.Unexpected {
				t.Errorf("unexpected %s at %s on %s: %s %q", f.ID, f.Severity, f.Subject, f.Title, f.Evidence)
			}
			if t.Failed() {
				t.Logf("all findings:\n%s", listFindings(res.Findings))
			}
		})
	}
}

// TestDefaultScenarioIsClean holds the healthy domain to its promise: no
// finding at warn or above, and the MX, SPF and DMARC verdicts point at
// the zone file lines they judged.
func TestDefaultScenarioIsClean(t *testing.T) {
	_, res := runScenario(t, fixtures.Default)
	for _, f := range res.Findings {
		if f.Severity >= finding.Warn {
			t.Errorf("%s at %s on %s: %s %q", f.ID, f.Severity, f.Subject, f.Title, f.Evidence)
		}
	}
	for _, id := range []string{"mx.ok", "spf.ok", "dmarc.ok"} {
		f := findingByID(res.Findings, id)
		if f == nil {
			t.Errorf("%s missing from the healthy domain's findings", id)
			continue
		}
		if f.Location == nil || !strings.HasSuffix(f.Location.File, "example.test.zone") || f.Location.Line <= 0 {
			t.Errorf("%s has no zone file location: %+v", id, f.Location)
		}
	}
}

// A CNAME chain mailcheck stops following is its own limit, not a server
// failure: the finding says so, in English and in French, and never
// SERVFAIL.
func TestChainLimitIsNotServfail(t *testing.T) {
	_, res := runScenario(t, "cname-chain-too-long")
	f := findingByID(res.Findings, "dns.lookup-failed")
	if f == nil {
		t.Fatalf("no dns.lookup-failed:\n%s", listFindings(res.Findings))
	}
	fr := f.In(finding.French)
	for _, title := range []string{f.Title, fr.Title} {
		if strings.Contains(title, "SERVFAIL") || !strings.Contains(title, "CNAME") {
			t.Errorf("title %q: want the CNAME limit named, never SERVFAIL", title)
		}
	}
}

// The parsers' reasons reach a French report in French: the part of a
// syntax finding's title after "does not parse:" (the term at fault and
// why) is translated with the sentence that holds it.
func TestParserErrorsInFrench(t *testing.T) {
	for _, tc := range []struct{ scenario, id string }{
		{"spf-syntax", "spf.syntax"}, {"dmarc-syntax", "dmarc.syntax"}, {"dkim-syntax", "dkim.syntax"},
		{"mtasts-syntax", "mtasts.syntax"}, {"mtasts-policy-syntax", "mtasts.syntax"},
		{"tlsrpt-syntax", "tlsrpt.syntax"}, {"bimi-syntax", "bimi.syntax"},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			_, res := runScenario(t, tc.scenario)
			f := findingByID(res.Findings, tc.id)
			if f == nil {
				t.Fatalf("no %s:\n%s", tc.id, listFindings(res.Findings))
			}
			_, reason, ok := strings.Cut(f.Title, ": ")
			if !ok {
				t.Fatalf("title %q has no reason", f.Title)
			}
			reason, _, _ = strings.Cut(reason, "; senders ignore it")
			// The end of the reason is the parser's words, not the data.
			tail := reason[max(0, len(reason)-15):]
			if fr := f.In(finding.French).Title; strings.Contains(fr, tail) {
				t.Errorf("French title %q keeps the English reason %q", fr, reason)
			}
		})
	}
}
