package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
