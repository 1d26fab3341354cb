package message

import (
	"context"
	"strings"
	"testing"
)

// BenchmarkAnalyze1MB measures the analysis of a 1 MB message signed twice
// (RSA-2048 and ed25519), with the DNS answered from memory: what remains
// is mailcheck's own work, to which a real run adds DNS round trips.
// Goal: well under 100 ms.
func BenchmarkAnalyze1MB(b *testing.B) {
	rk, ek := rsaKey(b, 2048), edKey(b)
	z := world(keyRecord(b, "rsa1._domainkey.example.com", rk), keyRecord(b, "ed1._domainkey.example.com", ek))
	line := strings.Repeat("0123456789abcdef", 4) + "\n"
	body := strings.Repeat(line, (1<<20)/len(line))
	m := msg([]string{
		"From: Alice <alice@example.com>", "To: Bob <bob@example.net>", "Subject: a large attachment",
		"Date: Tue, 03 Mar 2026 10:00:00 +0000", "Message-ID: <big@example.com>",
	}, body)
	m = sign(b, m, signOpts{domain: "example.com", selector: "rsa1", key: rk})
	m = sign(b, m, signOpts{domain: "example.com", selector: "ed1", key: ek})
	m = delivered(m, "alice@example.com", "192.0.2.10")
	env := &Env{Resolver: z}
	b.SetBytes(int64(len(m)))
	b.ReportAllocs()
	for b.Loop() {
		a, err := Analyze(context.Background(), env, m, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if a.Message.DMARC.Result != "pass" || a.Message.DKIM[0].Result != "pass" || a.Message.DKIM[1].Result != "pass" {
			b.Fatalf("not a pass: %+v %+v", a.Message.DMARC, a.Message.DKIM)
		}
	}
}
