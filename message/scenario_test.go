package message

import (
	"context"
	"testing"
	"time"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/fixtures"
	"github.com/mailcheck-cli/mailcheck/refserver"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// TestScenarios runs the message case of every scenario that has one, as
// selftest does: the reference server signs and delivers its message with
// the scenario's faults, and the analysis, resolving through the server's
// own zone, must report exactly the msg.* findings the scenario expects.
func TestScenarios(t *testing.T) {
	ran := 0
	for _, name := range fixtures.Names() {
		sc, err := fixtures.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		if !refserver.HasMessageCase(sc) {
			continue
		}
		ran++
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			srv, err := refserver.Start(ctx, refserver.Options{Scenario: sc})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			raw, ok, err := srv.SampleMessage()
			if err != nil || !ok {
				t.Fatalf("SampleMessage: ok %v, %v", ok, err)
			}
			a, err := Analyze(ctx, &Env{Resolver: resolver.NewCache(resolver.Chain{Zone: srv.Zone()})}, raw, Options{Source: name})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range a.Findings {
				if _, ok := finding.Lookup(f.ID); !ok {
					t.Errorf("finding %s is not in the catalogue", f.ID)
				}
			}
			m := sc.Compare(a.Findings, func(area string) bool { return area == "msg" })
			for _, e := range m.Missing {
				t.Errorf("expected %s at %s (subject containing %q), not found", e.ID, e.Severity, e.Subject)
			}
			for _, f := range m.Unexpected {
				t.Errorf("unexpected %s at %s on %s: %s %q", f.ID, f.Severity, f.Subject, f.Title, f.Evidence)
			}
			if t.Failed() {
				t.Logf("all findings:\n%s", listFindings(a.Findings))
			}
		})
	}
	if ran < 7 {
		t.Errorf("only %d scenarios have a message case", ran)
	}
}
