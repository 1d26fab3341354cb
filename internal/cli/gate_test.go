package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// gateCase returns the zone flags of one of the gate's fixture pairs.
func gateCase(t *testing.T, name, side string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "gate", "testdata", name, side, "*.zone"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no zone files for %s/%s", name, side)
	}
	return files
}

func zoneFlags(flag string, files []string) []string {
	var out []string
	for _, f := range files {
		out = append(out, flag, f)
	}
	return out
}

func TestBaselineKeepsOldWarningsFromFailingTheBuild(t *testing.T) {
	// The clean pair's proposed zone keeps its baseline's warnings and info
	// findings (no HTTPS server for MTA-STS here, for one) and adds none.
	proposed := gateCase(t, "clean", "proposed")
	baseline := gateCase(t, "clean", "baseline")
	args := append([]string{"domain", "example.com", "--no-probe", "--fail-on", "warn", "--format", "json"}, zoneFlags("--zone", proposed)...)
	without := run(t, nil, args...)
	with := run(t, nil, append(args, zoneFlags("--baseline", baseline)...)...)
	if without.code != ExitFindings {
		t.Fatalf("without a baseline the pre-existing findings must count: exit %d\n%s", without.code, without.out)
	}
	if with.code != ExitOK {
		t.Fatalf("with a baseline, unchanged findings must not count: exit %d\n%s%s", with.code, with.out, with.errOut)
	}
	if !strings.Contains(with.out, `"baseline": "unchanged"`) && !strings.Contains(with.out, `"baseline":"unchanged"`) {
		t.Fatalf("findings are not marked unchanged:\n%s", with.out)
	}
}

func TestChangeRuleFailsTheBuildWithSARIFLocation(t *testing.T) {
	proposed := gateCase(t, "dkim-selector-removed", "proposed")
	baseline := gateCase(t, "dkim-selector-removed", "baseline")
	args := append([]string{"domain", "example.com", "--no-probe", "--format", "sarif"}, zoneFlags("--zone", proposed)...)
	r := run(t, nil, append(args, zoneFlags("--baseline", baseline)...)...)
	if r.code != ExitFindings {
		t.Fatalf("exit %d, want 1 for a removed DKIM selector; stderr %q", r.code, r.errOut)
	}
	var sarif struct {
		Runs []struct {
			Results []struct {
				RuleID    string `json:"ruleId"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(r.out), &sarif); err != nil {
		t.Fatalf("not SARIF JSON: %v\n%s", err, r.out)
	}
	found := false
	for _, res := range sarif.Runs[0].Results {
		if res.RuleID == "change.dkim-selector-removed" {
			found = true
			if res.Level != "error" {
				t.Errorf("level %q, want error", res.Level)
			}
			if len(res.Locations) == 0 || !strings.HasSuffix(res.Locations[0].PhysicalLocation.ArtifactLocation.URI, ".zone") {
				t.Errorf("the result must point at the proposed zone file: %+v", res.Locations)
			}
		}
	}
	if !found {
		t.Fatalf("no change.dkim-selector-removed result:\n%s", r.out)
	}
}

func TestPolicyFileErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "mailcheck.yaml")
	os.WriteFile(bad, []byte("require:\n  dmarc_policy: strict\n"), 0o600)
	proposed := gateCase(t, "clean", "proposed")
	r := run(t, nil, append([]string{"domain", "example.com", "--no-probe", "--policy", bad}, zoneFlags("--zone", proposed)...)...)
	if r.code != ExitUsage || !strings.Contains(r.errOut, bad+":2") {
		t.Fatalf("exit %d stderr %q: want 2 with FILE:LINE", r.code, r.errOut)
	}
	r = run(t, nil, append([]string{"domain", "example.com", "--no-probe", "--baseline", "live", "--baseline", "x.zone"}, zoneFlags("--zone", proposed)...)...)
	if r.code != ExitUsage {
		t.Fatalf("mixing live and zone baselines: exit %d", r.code)
	}
}

// writeZone writes a zone file for example.com from the clean pair's
// proposed zone with edits applied, and returns its path.
func writeZone(t *testing.T, dir, name string, edit func(string) string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "gate", "testdata", "clean", "proposed", "example.com.zone"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(edit(string(data))), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func findingsWith(rep finding.Report, id string) []finding.Finding {
	var out []finding.Finding
	for _, f := range rep.Findings {
		if f.ID == id {
			out = append(out, f)
		}
	}
	return out
}

// The policy file's require.dkim_selectors feed the DKIM check and the
// change rules as --dkim-selector does: a listed selector with a key is
// judged (no "no key at any common selector"), and removing it is a change
// that fails the build.
func TestPolicySelectorsFeedTheDKIMCheckAndChangeRules(t *testing.T) {
	dir := t.TempDir()
	rename := func(z string) string { return strings.Replace(z, "s2026._domainkey", "corp-2026._domainkey", 1) }
	base := writeZone(t, dir, "base.zone", rename)
	// The proposed zone drops the key and publishes nothing under
	// _domainkey, so zone mode finds no selector of its own.
	prop := writeZone(t, dir, "prop.zone", func(z string) string {
		var keep []string
		for _, l := range strings.Split(z, "\n") {
			if !strings.Contains(l, "_domainkey") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	})
	policy := filepath.Join(dir, "mailcheck.yaml")
	os.WriteFile(policy, []byte("require:\n  dkim_selectors: [corp-2026]\n"), 0o600)
	sts := filepath.Join("..", "..", "gate", "testdata", "clean", "baseline", "mta-sts.txt")

	// The baseline alone, audited as the proposed state: the selector the
	// policy names is found and judged; DKIM is not "inconclusive".
	r := run(t, nil, "domain", "example.com", "--zone", base, "--policy", policy, "--mta-sts-policy", sts, "--no-probe", "--format", "json")
	rep := decodeReport(t, r.out)
	if !hasFinding(rep, "dkim.ok", finding.Pass) || len(findingsWith(rep, "dkim.none-found")) > 0 || !hasFinding(rep, "policy.ok", finding.Pass) {
		t.Errorf("the policy's selector must be judged by the DKIM check too:\n%s", r.out)
	}

	// The change removes the selector: without --dkim-selector, the policy
	// alone makes it a removal that fails the build.
	r = run(t, nil, "domain", "example.com", "--zone", prop, "--baseline", base, "--policy", policy,
		"--mta-sts-policy", sts, "--baseline-mta-sts-policy", sts, "--no-probe", "--format", "json")
	rep = decodeReport(t, r.out)
	if r.code != ExitFindings {
		t.Errorf("exit %d, want 1", r.code)
	}
	if !hasFinding(rep, "change.dkim-selector-removed", finding.Fail) {
		t.Errorf("want change.dkim-selector-removed:\n%s", r.out)
	}
	for _, f := range findingsWith(rep, "dkim.none-found") {
		if f.Severity != finding.Fail || !strings.Contains(f.Subject, "corp-2026") {
			t.Errorf("the DKIM check must say the required selector has no key, got %s on %s", f.Severity, f.Subject)
		}
	}
	if !hasFinding(rep, "policy.dkim-selector", finding.Fail) {
		t.Errorf("want policy.dkim-selector:\n%s", r.out)
	}
}

// A baseline of zone files keeps every other --zone: the reverse zone
// answers for both states, so reverse-DNS findings are unchanged, not new.
func TestBaselineKeepsTheOtherZones(t *testing.T) {
	dir := t.TempDir()
	zone := writeZone(t, dir, "example.com.zone", func(z string) string { return z })
	rev := filepath.Join(dir, "2.0.192.in-addr.arpa.zone")
	os.WriteFile(rev, []byte("$ORIGIN 2.0.192.in-addr.arpa.\n$TTL 3600\n@ IN SOA ns1.example.com. h.example.com. 1 2 3 4 5\n@ IN NS ns1.example.com.\n1 IN PTR mx1.example.com.\n2 IN PTR www.example.com.\n"), 0o600)
	sts := filepath.Join("..", "..", "gate", "testdata", "clean", "baseline", "mta-sts.txt")
	r := run(t, nil, "domain", "example.com", "--zone", zone, "--zone", rev, "--baseline", zone,
		"--mta-sts-policy", sts, "--baseline-mta-sts-policy", sts, "--no-probe", "--format", "json")
	rep := decodeReport(t, r.out)
	var ptr int
	for _, f := range rep.Findings {
		if f.Area() != "ptr" {
			continue
		}
		ptr++
		if f.Baseline != "unchanged" {
			t.Errorf("%s on %s is %q; the reverse zone serves the baseline too", f.ID, f.Subject, f.Baseline)
		}
	}
	if ptr == 0 || !hasFinding(rep, "ptr.mismatch", finding.Warn) && !hasFinding(rep, "ptr.mismatch", finding.Fail) {
		t.Errorf("want reverse-DNS findings from the reverse zone:\n%s", r.out)
	}
	if r.code != ExitOK {
		t.Errorf("exit %d: nothing changed, nothing may count\n%s", r.code, r.out)
	}
}

// --baseline-mta-sts-policy gives the baseline its policy: identical states
// exit 0 with nothing "fixed" and nothing inconclusive.
func TestBaselineMTASTSPolicy(t *testing.T) {
	files := gateCase(t, "clean", "proposed")
	sts := filepath.Join("..", "..", "gate", "testdata", "clean", "baseline", "mta-sts.txt")
	args := append([]string{"domain", "example.com", "--no-probe", "--format", "json", "--mta-sts-policy", sts,
		"--baseline-mta-sts-policy", sts}, zoneFlags("--zone", files)...)
	r := run(t, nil, append(args, zoneFlags("--baseline", files)...)...)
	rep := decodeReport(t, r.out)
	for _, f := range rep.Findings {
		if f.Baseline == "fixed" || f.Severity == finding.Error {
			t.Errorf("identical states: %s %s %q on %s", f.ID, f.Severity, f.Baseline, f.Subject)
		}
	}
	if r.code != ExitOK {
		t.Errorf("exit %d, want 0\n%s", r.code, r.out)
	}
	r = run(t, nil, "domain", "example.com", "--zone", files[0], "--baseline-mta-sts-policy", sts, "--no-probe")
	if r.code != ExitUsage {
		t.Errorf("--baseline-mta-sts-policy without --baseline: exit %d, want 2", r.code)
	}
}

// The gate's DMARC requirement reads the audit's own discovery (RFC 9989
// tree walk): a record at an intermediate name applies to the check and to
// the policy alike, so one report never says both p=reject and p=none.
func TestOneDMARCDiscovery(t *testing.T) {
	dir := t.TempDir()
	zone := writeZone(t, dir, "example.com.zone", func(z string) string {
		return strings.Replace(z, `_dmarc           IN TXT  "v=DMARC1; p=reject; rua=mailto:dmarc@example.com"`,
			`_dmarc           IN TXT  "v=DMARC1; p=none; rua=mailto:dmarc@example.com"
_dmarc.b         IN TXT  "v=DMARC1; p=reject; rua=mailto:dmarc@example.com"
a.b              IN A    192.0.2.9
a.b              IN MX   0 .`, 1)
	})
	policy := filepath.Join(dir, "mailcheck.yaml")
	os.WriteFile(policy, []byte("require:\n  dmarc_policy: reject\n"), 0o600)
	r := run(t, nil, "domain", "a.b.example.com", "--zone", zone, "--policy", policy, "--no-probe", "--format", "json")
	rep := decodeReport(t, r.out)
	if !hasFinding(rep, "dmarc.ok", finding.Pass) {
		t.Fatalf("the DMARC check should find p=reject at _dmarc.b.example.com:\n%s", r.out)
	}
	for _, f := range findingsWith(rep, "policy.dmarc-policy") {
		t.Errorf("the gate disagrees with the DMARC check: %s %q %q", f.Severity, f.Title, f.Evidence)
	}
}

// TestREADMEOfflineExample runs the README's offline CI command line as
// written, on the shipped fixture: it must pass.
func TestREADMEOfflineExample(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "mailcheck domain example.test --zone fixtures/default/")
	if start < 0 {
		t.Fatal("the README has no offline example on the default fixture")
	}
	end := strings.Index(text[start:], "\n```")
	cmd := strings.ReplaceAll(text[start:start+end], "\\\n", " ")
	args := strings.Fields(cmd)[1:]
	// Paths in the README are relative to the repository root.
	t.Chdir(filepath.Join("..", ".."))
	r := run(t, nil, args...)
	if r.code != ExitOK {
		t.Errorf("`%s` exits %d, want 0\n%s%s", cmd, r.code, r.out, r.errOut)
	}
}

// Several domains with a baseline run concurrently over shared, read-only
// options (go test -race, which CI runs, catches any write).
func TestGateRunsDomainsConcurrently(t *testing.T) {
	files := gateCase(t, "clean", "proposed")
	sts := filepath.Join("..", "..", "gate", "testdata", "clean", "baseline", "mta-sts.txt")
	args := append([]string{"domain", "example.com", "www.example.com", "mx1.example.com", "--no-probe", "--format", "json",
		"--dkim-selector", "s2026", "--mta-sts-policy", sts, "--baseline-mta-sts-policy", sts}, zoneFlags("--zone", files)...)
	r := run(t, nil, append(args, zoneFlags("--baseline", files)...)...)
	var reps []finding.Report
	if err := json.Unmarshal([]byte(r.out), &reps); err != nil || len(reps) != 3 {
		t.Fatalf("want 3 reports: %v\n%s%s", err, r.out, r.errOut)
	}
}
