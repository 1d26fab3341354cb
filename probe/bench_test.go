package probe

import (
	"context"
	"testing"
	"time"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/fixtures"
)

// BenchmarkHostSevenPorts measures the product promise of issue 10: a
// whole `mailcheck probe` of a healthy host's seven ports on loopback —
// greeting, STARTTLS or implicit TLS, certificate, AUTH, reverse DNS and
// the version and cipher-suite scan of every port — stays well under a
// second. Run it with
//
//	go test -run XXX -bench HostSevenPorts -benchtime 20x ./probe/
//
// and read ns/op (wall time per probe of the seven ports).
func BenchmarkHostSevenPorts(b *testing.B) {
	sc, err := fixtures.Load(fixtures.Default)
	if err != nil {
		b.Fatal(err)
	}
	srv, o := startRef(b, sc, 5*time.Second, time.Minute)
	ctx := context.Background()
	Host(ctx, o, srv.MailHost(), nil, "") // warm-up: first handshakes, session state
	b.ResetTimer()
	for b.Loop() {
		probes, fs := Host(ctx, o, srv.MailHost(), nil, "")
		if len(probes) != len(DefaultPorts) {
			b.Fatalf("%d probes", len(probes))
		}
		for _, f := range fs {
			if f.Severity != finding.Pass {
				b.Fatalf("%s %s: %s", f.ID, f.Subject, f.Title)
			}
		}
	}
}
