package message

import (
	"context"
	"os"
	"testing"
	"time"
)

// FuzzAnalyze feeds arbitrary input to the whole analysis: whatever a user
// pastes, mailcheck answers with findings or ErrNotMessage, never a panic.
func FuzzAnalyze(f *testing.F) {
	for _, name := range []string{"postfix.eml", "exchange.eml", "gmail.eml"} {
		data, err := os.ReadFile("../dsn/testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(delivered(base(), "alice@example.com", "192.0.2.10"))
	f.Add([]byte("Authentication-Results: spf=pass (a;b) smtp.mailfrom=x; x; dkim=fail header.b=\"q;\"\r\n" +
		"Received: from a (b [c]) (d (e)) by f with g; h\r\nDKIM-Signature: v=1; a=rsa-sha256; d=; s=\r\n\r\n"))
	z := world()
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done := make(chan struct{})
		go func() {
			defer close(done)
			a, err := Analyze(ctx, &Env{Resolver: z}, data, Options{})
			if err == nil && a.Message == nil {
				t.Error("no message section and no error")
			}
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Analyze hangs on %q", data)
		}
	})
}

func FuzzParseReceived(f *testing.F) {
	f.Add("from mail-out.example.com (mail-out.example.com [192.0.2.10]) (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)) by mx.example.net (Postfix) with ESMTPS id 4Z; Tue,  3 Mar 2026 10:15:40 +0100 (CET)")
	f.Add("from [198.51.100.23] (helo=mail.example.org) by mx.example.net with esmtps (TLS1.3) tls TLS_AES_256_GCM_SHA384 (Exim 4.96) id 1t; Wed, 04 Mar 2026 12:00:01 +0000")
	f.Add("((((;)")
	f.Fuzz(func(t *testing.T, v string) {
		r := parseReceived(v)
		if r.ip.IsValid() != (r.hop.FromIP != "") {
			t.Errorf("ip %v but FromIP %q", r.ip, r.hop.FromIP)
		}
	})
}
