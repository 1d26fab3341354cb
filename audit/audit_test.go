package audit

import (
	"context"
	"testing"
	"time"

	"github.com/mailcheck-cli/mailcheck/checks/dnsbl"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/fixtures"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

func defaultState(t *testing.T) State {
	t.Helper()
	return scenarioState(t, fixtures.Default)
}

func scenarioState(t *testing.T, name string) State {
	t.Helper()
	sc, err := fixtures.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	z, err := resolver.ScenarioZone(sc)
	if err != nil {
		t.Fatal(err)
	}
	return State{Resolver: resolver.NewCache(resolver.Chain{Zone: z}), Zone: z}
}

// The report shows what was judged: every area's records, parsed, each
// with where it was read.
func TestReportRecords(t *testing.T) {
	st := defaultState(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rep := New(Options{Proposed: st}).Domain(ctx, "example.test")
	for _, area := range []string{"mx", "spf", "dmarc", "dkim", "mtasts", "tlsrpt", "dnssec", "ptr", "ns", "dane", "bimi"} {
		rs := rep.Records[area]
		if len(rs) == 0 {
			t.Errorf("no %s records in the report", area)
			continue
		}
		if rs[0].Status == "" || rs[0].Source == "" {
			t.Errorf("%s record without status or source: %+v", area, rs[0])
		}
	}
	for _, area := range []string{"spf", "dmarc", "dkim"} {
		rs := rep.Records[area]
		if len(rs) == 0 || len(rs[0].Tags) < 2 || rs[0].Location == nil || rs[0].Location.Line == 0 {
			t.Errorf("%s record lacks parsed tags or its zone file line: %+v", area, rs)
		}
	}
	// DKIM: the zone's selector is found without --dkim-selector.
	if dk := rep.Records["dkim"]; len(dk) == 0 || dk[0].Name != "s2026._domainkey.example.test" {
		t.Errorf("dkim records %+v", dk)
	}
}

// With a baseline, every finding is marked new, unchanged or fixed, and
// the change rules run on the two sets of facts.
func TestBaselinePipeline(t *testing.T) {
	st := defaultState(t)
	base := defaultState(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rep := New(Options{Proposed: st, Baseline: &base}).Domain(ctx, "example.test")
	if len(rep.Findings) == 0 {
		t.Fatal("no findings")
	}
	for _, f := range rep.Findings {
		if f.Baseline != "unchanged" {
			t.Errorf("identical states: %s on %s is %q", f.ID, f.Subject, f.Baseline)
		}
	}
	if worst, inc := rep.Worst(); worst > finding.Pass || inc {
		t.Errorf("nothing may count: worst %s, inconclusive %v", worst, inc)
	}
}

// The blocklists' answers are in the report too: each list's answer for
// each address, with where the address came from and the verdict.
func TestReportRecordsBlocklists(t *testing.T) {
	st := scenarioState(t, "dnsbl-listed")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lists := []dnsbl.List{dnsbl.Custom("zen.dnsbl.test"), dnsbl.Custom("bl.dnsbl.test")}
	rep := New(Options{Proposed: st, DNSBL: lists}).Domain(ctx, "example.test")
	listed := map[string]bool{}
	for _, r := range rep.Records["dnsbl"] {
		for _, tg := range r.Tags {
			if tg.Name == "verdict" && tg.Value == "listed" {
				listed[r.Name] = true
			}
		}
	}
	for _, name := range []string{"25.2.0.192.zen.dnsbl.test", "7.100.51.198.bl.dnsbl.test"} {
		if !listed[name] {
			t.Errorf("%s is not in the records as listed: %+v", name, rep.Records["dnsbl"])
		}
	}
	if len(rep.Records["dnsbl"]) != 4 {
		t.Errorf("%d blocklist records, want 2 lists × 2 addresses: %+v", len(rep.Records["dnsbl"]), rep.Records["dnsbl"])
	}
}
