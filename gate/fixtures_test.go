package gate

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailcheck-cli/mailcheck/dialer"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/pki"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// testNow is "today" for every fixture: allow entries before it are expired.
var testNow = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// want is one expected finding: ID, severity, and the Location, written
// "policy:LINE", "proposed:LINE" (a line of the proposed zone file), or
// "proposed" (the zone file, no line).
type want struct {
	id  string
	sev finding.Severity
	loc string
}

func (w want) String() string { return fmt.Sprintf("%s %s @%s", w.id, w.sev, w.loc) }

// fixtureCases lists what each directory of testdata must produce, from
// ChangeRules (baseline → proposed) and, when the case has a policy.yaml,
// Policy.Evaluate on the proposed state.
var fixtureCases = map[string][]want{
	"clean":                    {{"policy.ok", finding.Pass, "policy:0"}},
	"clean-policy-reformatted": {{"policy.ok", finding.Pass, "policy:0"}},
	"policy-mx":                {{"policy.mx", finding.Fail, "policy:2"}},
	"policy-dmarc-weak":        {{"policy.dmarc-policy", finding.Fail, "policy:2"}},
	"policy-dmarc-missing":     {{"policy.dmarc-policy", finding.Fail, "policy:2"}},
	"policy-dkim": {
		{"policy.dkim-selector", finding.Fail, "policy:2"}, // s2026 revoked
		{"policy.dkim-selector", finding.Fail, "policy:2"}, // s2027 never published
	},
	"policy-spf-lookups":     {{"policy.spf-lookups", finding.Fail, "policy:2"}},
	"policy-mta-sts-mode":    {{"policy.mta-sts-mode", finding.Fail, "policy:2"}},
	"policy-mta-sts-removed": {{"policy.mta-sts-mode", finding.Fail, "policy:2"}},
	"policy-allow-expired": {
		{"policy.ok", finding.Pass, "policy:0"},
		{"policy.allow-expired", finding.Fail, "policy:7"},
	},
	"dkim-selector-removed": {
		{"change.dkim-selector-removed", finding.Fail, "proposed"}, // s2026, given
		{"change.dkim-selector-removed", finding.Fail, "proposed"}, // selector1, a common one
	},
	"dkim-key-replaced":        {{"change.dkim-key-replaced", finding.Warn, "proposed:16"}},
	"mtasts-id-unchanged":      {{"change.mtasts-id-unchanged", finding.Fail, "proposed:17"}},
	"mx-not-in-mtasts":         {{"change.mx-not-in-mtasts", finding.Fail, "proposed:8"}},
	"mx-not-in-mtasts-testing": {{"change.mx-not-in-mtasts", finding.Warn, "proposed:8"}},
	"ttl-cached": {
		{"change.ttl-cached", finding.Info, "proposed:6"},  // MX, TTL 86400
		{"change.ttl-cached", finding.Warn, "proposed:15"}, // _dmarc, TTL 172800
	},
}

func TestFixtureCasesAreListed(t *testing.T) {
	dirs, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if _, ok := fixtureCases[d.Name()]; d.IsDir() && !ok {
			t.Errorf("testdata/%s has no expectations in fixtureCases", d.Name())
		}
	}
	ids := map[string]bool{}
	for _, ws := range fixtureCases {
		for _, w := range ws {
			ids[w.id] = true
		}
	}
	for _, id := range []string{"policy.mx", "policy.dmarc-policy", "policy.dkim-selector", "policy.spf-lookups",
		"policy.mta-sts-mode", "policy.allow-expired", "change.dkim-selector-removed",
		"change.mtasts-id-unchanged", "change.mx-not-in-mtasts", "change.ttl-cached"} {
		if !ids[id] {
			t.Errorf("no fixture produces %s", id)
		}
	}
}

func TestFixtures(t *testing.T) {
	ca, err := pki.NewRoot("gate test CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(pki.LeafOptions{Names: []string{"mta-sts.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	for name, wants := range fixtureCases {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", name)
			got := runFixture(t, dir, ca.Pool(), leaf)
			gotW := make([]want, 0, len(got))
			for _, f := range got {
				gotW = append(gotW, want{f.ID, f.Severity, describeLocation(dir, f.Location)})
			}
			if !sameWants(gotW, wants) {
				t.Errorf("findings:\n  got  %v\n  want %v", gotW, wants)
			}
			for _, f := range got {
				t.Logf("%s %s %q evidence=%q", f.ID, f.Severity, f.Title, f.Evidence)
				if f.Fix == "" {
					t.Errorf("%s has no fix", f.ID)
				}
			}
		})
	}
}

// runFixture runs the change rules and, when the case has a policy, the
// policy on the proposed zone, as `mailcheck domain example.com --zone
// proposed/example.com.zone --baseline baseline/example.com.zone [--policy
// policy.yaml] [--mta-sts-policy proposed/mta-sts.txt] --dkim-selector s2026`
// would. The published MTA-STS policy (baseline/mta-sts.txt) is served over
// HTTPS at mta-sts.example.com.
func runFixture(t *testing.T, dir string, roots *x509.CertPool, leaf tls.Certificate) []finding.Finding {
	t.Helper()
	ctx := context.Background()
	base := loadZone(t, filepath.Join(dir, "baseline", "example.com.zone"))
	prop := loadZone(t, filepath.Join(dir, "proposed", "example.com.zone"))
	port := servePolicy(t, filepath.Join(dir, "baseline", "mta-sts.txt"), leaf)

	baseState := LiveState(base, testDialer(base, port, roots))
	propState := LiveState(prop, testDialer(prop, port, roots))
	if file := filepath.Join(dir, "proposed", "mta-sts.txt"); exists(file) {
		propState.PolicyFile = file
	}
	out := changeRules(ctx, baseState, propState, "example.com", ChangeOptions{DKIMSelectors: []string{"s2026"}})
	if file := filepath.Join(dir, "policy.yaml"); exists(file) {
		pol, err := LoadPolicy(file)
		if err != nil {
			t.Fatal(err)
		}
		out = pol.evaluate(ctx, propState, "example.com", testNow, out)
	}
	return out
}

// testDialer reaches the test HTTPS server wherever port 443 is asked,
// resolving names through r and trusting only the test CA.
func testDialer(r resolver.Resolver, port int, roots *x509.CertPool) *dialer.Dialer {
	return &dialer.Dialer{Resolver: r, PortMap: map[int]int{443: port}, Roots: roots, StepTimeout: 5 * time.Second}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func loadZone(t *testing.T, path string) *resolver.Zone {
	t.Helper()
	z, err := resolver.LoadZoneFiles([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// servePolicy serves the file (404 when absent) at the MTA-STS well-known
// path over TLS with a certificate for mta-sts.example.com, and returns
// the port.
func servePolicy(t *testing.T, file string, leaf tls.Certificate) int {
	t.Helper()
	body, readErr := os.ReadFile(file)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if readErr != nil || r.URL.Path != "/.well-known/mta-sts.txt" || r.Host != "mta-sts.example.com" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}}
	// Handshakes the client rightly refuses (wrong name) are expected.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, p, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(p)
	return port
}

func describeLocation(dir string, loc *finding.Location) string {
	if loc == nil {
		return "none"
	}
	switch loc.File {
	case filepath.Join(dir, "policy.yaml"):
		return "policy:" + strconv.Itoa(loc.Line)
	case filepath.Join(dir, "proposed", "example.com.zone"):
		if loc.Line == 0 {
			return "proposed"
		}
		return "proposed:" + strconv.Itoa(loc.Line)
	}
	return fmt.Sprintf("%s:%d", loc.File, loc.Line)
}

func sameWants(got, expected []want) bool {
	key := func(w want) string { return w.String() }
	g := make([]string, len(got))
	for i, w := range got {
		g[i] = key(w)
	}
	e := make([]string, len(expected))
	for i, w := range expected {
		e[i] = key(w)
	}
	slices.Sort(g)
	slices.Sort(e)
	return strings.Join(g, "\n") == strings.Join(e, "\n")
}
