package gate

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/pki"
)

// TestGateFlow runs the whole gate as `mailcheck domain example.com --zone
// proposed/example.com.zone --baseline baseline/example.com.zone --policy
// policy.yaml --no-probe --fail-on info` does: the checks on both states,
// Compare, ChangeRules, then the policy. Whatever the checks think of the
// fixture zones (unsigned, no IPv6: both states share that), a change that
// adds an unrelated record passes even at info, and one that breaks a rule
// fails.
func TestGateFlow(t *testing.T) {
	ca, err := pki.NewRoot("gate test CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(pki.LeafOptions{Names: []string{"mta-sts.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		exit int
	}{
		{"clean", 0},
		{"dkim-selector-removed", 1},
		{"policy-dmarc-weak", 1},
		{"mx-not-in-mtasts", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join("testdata", tt.name)
			base := loadZone(t, filepath.Join(dir, "baseline", "example.com.zone"))
			prop := loadZone(t, filepath.Join(dir, "proposed", "example.com.zone"))
			port := servePolicy(t, filepath.Join(dir, "baseline", "mta-sts.txt"), leaf)
			baseState := LiveState(base, testDialer(base, port, ca.Pool()))
			propState := LiveState(prop, testDialer(prop, port, ca.Pool()))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			run := func(st State) []finding.Finding {
				return judgeState(ctx, st, "example.com", []string{"s2026"})
			}

			fs := Compare(run(baseState), run(propState))
			fs = append(fs, changeRules(ctx, baseState, propState, "example.com", ChangeOptions{DKIMSelectors: []string{"s2026"}})...)
			if file := filepath.Join(dir, "policy.yaml"); exists(file) {
				pol, err := LoadPolicy(file)
				if err != nil {
					t.Fatal(err)
				}
				fs = pol.evaluate(ctx, propState, "example.com", testNow, fs)
			}
			if code := exitCode(fs, finding.Info); code != tt.exit {
				for _, f := range fs {
					t.Logf("%s %s baseline=%q allowed=%q %q", f.ID, f.Severity, f.Baseline, f.Allowed, f.Title)
				}
				t.Errorf("exit %d, want %d", code, tt.exit)
			}
		})
	}
}
