package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/fixtures"
)

// scenarioZoneFlags writes a scenario's zone files to a directory and returns the
// --zone flags naming them.
func scenarioZoneFlags(t *testing.T, name string) []string {
	t.Helper()
	sc, err := fixtures.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var flags []string
	for _, z := range sc.Zones {
		data, err := sc.File(z)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, z)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		flags = append(flags, "--zone", p)
	}
	return flags
}

// --dnsbl names the lists asked, --no-dnsbl asks none, and without either
// the default public lists are asked: in zone mode without --resolver they
// lie outside the zones, so they are "not checked" and never queried.
func TestDNSBLFlags(t *testing.T) {
	zones := scenarioZoneFlags(t, "dnsbl-listed")
	base := append([]string{"domain", "example.test", "--no-probe", "--format", "json", "--dkim-selector", "s2026"}, zones...)
	count := func(rep finding.Report, id string) int {
		n := 0
		for _, f := range rep.Findings {
			if f.ID == id {
				n++
			}
		}
		return n
	}

	r := run(t, nil, append(base, "--dnsbl", "zen.dnsbl.test", "--dnsbl", "bl.dnsbl.test.")...)
	rep := decodeReport(t, r.out)
	if r.code != ExitFindings || count(rep, "dnsbl.listed") != 2 {
		t.Errorf("fixture lists: exit %d, %d dnsbl.listed, want 1 and 2\n%s", r.code, count(rep, "dnsbl.listed"), r.out)
	}

	r = run(t, nil, append(base, "--no-dnsbl")...)
	rep = decodeReport(t, r.out)
	for _, f := range rep.Findings {
		if strings.HasPrefix(f.ID, "dnsbl.") || f.Subject == "DNSBL" {
			t.Errorf("--no-dnsbl: %s %s", f.ID, f.Title)
		}
	}

	r = run(t, nil, base...)
	rep = decodeReport(t, r.out)
	if count(rep, "dnsbl.listed")+count(rep, "dnsbl.ok") != 0 || !hasFinding(rep, "dns.not-checked", finding.Info) {
		t.Errorf("default lists in zone mode: want them not checked\n%s", r.out)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--dnsbl", "zen.dnsbl.test", "--no-dnsbl"}, "--no-dnsbl"},
		{[]string{"--dnsbl", "not a zone"}, "invalid --dnsbl"},
		{[]string{"--dnsbl", "localhost"}, "invalid --dnsbl"},
	} {
		r := run(t, nil, append(base, tc.args...)...)
		if r.code != ExitUsage || strings.Count(strings.TrimSpace(r.errOut), "\n") != 0 || !strings.Contains(r.errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line with %q", tc.args, r.code, r.errOut, tc.want)
		}
	}
}

// mailcheck domain against the reference server, as serve's printed
// command runs it (its DNS as --resolver, --port-map for every port, 53
// included, so that the name servers are asked): the issue 9 scenarios
// give the findings they expect — name servers, DANE against the served
// certificate, BIMI documents over HTTPS, fixture blocklists.
func TestIssue9ScenariosAgainstReferenceServer(t *testing.T) {
	for _, name := range []string{"ns-stale-secondary", "dane-match", "dane-mismatch", "dane-pkix-usage",
		"bimi-ok", "bimi-logo-invalid", "dnsbl-listed", "dnsbl-refused"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, flags := startRef(t, name)
			sc := srv.Scenario()
			args := append([]string{"domain", sc.Domain, "--format", "json", "--timeout", "15s"}, flags...)
			for _, z := range sc.DNSBL {
				args = append(args, "--dnsbl", z)
			}
			keep := fixtures.DNSOnly
			if sc.Probe {
				keep = nil
			} else {
				args = append(args, "--no-probe")
			}
			r := run(t, nil, args...)
			rep := decodeReport(t, r.out)
			m := sc.Compare(rep.Findings, keep)
			for _, e := range m.Missing {
				t.Errorf("expected %s (%s) %q, not found", e.ID, e.Severity, e.Subject)
			}
			for _, f := range m.Unexpected {
				t.Errorf("unexpected %s (%s) on %s: %s", f.ID, f.Severity, f.Subject, f.Title)
			}
			if t.Failed() {
				t.Logf("%s", r.out)
			}
			// With a probe, DANE is matched against the served chain, not
			// only judged from DNS.
			for _, f := range rep.Findings {
				if sc.Probe && f.ID == "dane.ok" && strings.Contains(f.Title, "not probed") {
					t.Errorf("dane.ok without the probe's chain: %s", f.Title)
				}
			}
		})
	}
}
