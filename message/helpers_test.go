package message

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

// Keys are generated at test time, once per size: no private key is kept
// in the repository, and RSA generation is slow enough to share.
var (
	keyMu   sync.Mutex
	rsaKeys = map[int]*rsa.PrivateKey{}
)

func rsaKey(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	keyMu.Lock()
	defer keyMu.Unlock()
	if k, ok := rsaKeys[bits]; ok {
		return k
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	rsaKeys[bits] = k
	return k
}

func edKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// keyRecord is the TXT record publishing key's public half (RFC 6376
// §3.6.1, RFC 8463 §4.2), in zone presentation form with strings of at most
// 255 octets.
func keyRecord(t testing.TB, name string, key crypto.Signer) string {
	t.Helper()
	var txt string
	switch pub := key.Public().(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		txt = "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	case ed25519.PublicKey:
		txt = "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	}
	return txtRecord(name, txt)
}

func txtRecord(name, txt string) string {
	var parts []string
	for len(txt) > 250 {
		parts = append(parts, `"`+txt[:250]+`"`)
		txt = txt[250:]
	}
	parts = append(parts, `"`+txt+`"`)
	return name + ". 300 IN TXT " + strings.Join(parts, " ")
}

// msg builds a message from header lines and a body, with CRLF line ends.
func msg(headers []string, body string) []byte {
	return []byte(strings.Join(headers, "\r\n") + "\r\n\r\n" + strings.ReplaceAll(body, "\n", "\r\n"))
}

// prepend adds header fields on top, as each hop does.
func prepend(m []byte, headers ...string) []byte {
	return append([]byte(strings.Join(headers, "\r\n")+"\r\n"), m...)
}

type signOpts struct {
	domain, selector string
	key              crypto.Signer
	header, body     dkim.Canonicalization
	headerKeys       []string
	expires          time.Time
}

// sign DKIM-signs m as the sending server does, and returns it with the
// signature on top.
func sign(t testing.TB, m []byte, o signOpts) []byte {
	t.Helper()
	if o.header == "" {
		o.header = dkim.CanonicalizationRelaxed
	}
	if o.body == "" {
		o.body = dkim.CanonicalizationRelaxed
	}
	if o.headerKeys == nil {
		o.headerKeys = []string{"From", "To", "Subject", "Date", "Message-ID"}
	}
	var out bytes.Buffer
	err := dkim.Sign(&out, bytes.NewReader(m), &dkim.SignOptions{
		Domain: o.domain, Selector: o.selector, Signer: o.key,
		HeaderCanonicalization: o.header, BodyCanonicalization: o.body,
		HeaderKeys: o.headerKeys, Expiration: o.expires,
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// base is a plain message from alice@example.com.
func base(extra ...string) []byte {
	h := []string{
		"From: Alice <alice@example.com>",
		"To: Bob <bob@example.net>",
		"Subject: Quarterly figures",
		"Date: Tue, 03 Mar 2026 10:00:00 +0000",
		"Message-ID: <figures-2026-q1@example.com>",
		"MIME-Version: 1.0",
		"Content-Type: text/plain; charset=utf-8",
	}
	return msg(append(h, extra...), "Hello Bob,\n\nthe figures are attached.\n\nAlice\n")
}

// delivered adds what the final receiver writes: Return-Path and its
// Received header for a client at ip.
func delivered(m []byte, mailFrom, ip string) []byte {
	return prepend(m,
		"Return-Path: <"+mailFrom+">",
		"Received: from out.example.com (out.example.com ["+ip+"])\r\n"+
			"\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n"+
			"\tby mx.example.net (Postfix) with ESMTPS id 4ZKq1S6yQzz9tHb\r\n"+
			"\tfor <bob@example.net>; Tue, 03 Mar 2026 10:00:04 +0000")
}

// world is the DNS of a test: the example domains' SPF and DMARC, and the
// DKIM keys published by each test.
func world(records ...string) *resolvertest.Fake {
	return worldWith("v=DMARC1; p=reject; rua=mailto:dmarc@example.com", records...)
}

// worldWith is world with another DMARC record for example.com.
func worldWith(dmarc string, records ...string) *resolvertest.Fake {
	z := resolvertest.New(
		`example.com. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 include:_spf.esp.example -all"`,
		txtRecord("_dmarc.example.com", dmarc),
		`_spf.esp.example. 300 IN TXT "v=spf1 ip4:198.51.100.0/24 -all"`,
		`esp.example. 300 IN TXT "v=spf1 include:_spf.esp.example -all"`,
		`lists.example. 300 IN TXT "v=spf1 ip4:203.0.113.0/24 -all"`,
		`_dmarc.lists.example. 300 IN TXT "v=DMARC1; p=none"`,
		`example.net. 300 IN TXT "v=spf1 mx -all"`,
		`_dmarc.example.net. 300 IN TXT "v=DMARC1; p=quarantine"`,
	)
	z.Add(records...)
	return z
}

func analyze(t testing.TB, z *resolvertest.Fake, m []byte, opts ...Options) *Analysis {
	t.Helper()
	o := Options{Source: "test.eml"}
	if len(opts) > 0 {
		o = opts[0]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := Analyze(ctx, &Env{Resolver: z, Now: func() time.Time { return time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC) }}, m, o)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// expect is one finding a user would check: ID, severity and where.
type expect struct {
	id       string
	severity finding.Severity
	subject  string // a substring of the subject; "" for any
}

// checkFindings asserts that every expected finding is there, and that no
// other finding at warn or above is.
func checkFindings(t *testing.T, a *Analysis, want ...expect) {
	t.Helper()
	matched := make([]bool, len(a.Findings))
	for _, w := range want {
		found := false
		for i, f := range a.Findings {
			if f.ID == w.id && f.Severity == w.severity && strings.Contains(f.Subject, w.subject) {
				matched[i], found = true, true
			}
		}
		if !found {
			t.Errorf("missing %s (%s) on %q", w.id, w.severity, w.subject)
		}
	}
	for i, f := range a.Findings {
		if !matched[i] && f.Severity >= finding.Warn {
			t.Errorf("unexpected %s (%s) on %q: %s %q", f.ID, f.Severity, f.Subject, f.Title, f.Evidence)
		}
	}
	if t.Failed() {
		t.Log(listFindings(a.Findings))
	}
}

func listFindings(fs []finding.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  %-5s %-24s %-40s %s\n", f.Severity, f.ID, f.Subject, f.Title)
		for _, e := range f.Evidence {
			fmt.Fprintf(&b, "        %s\n", e)
		}
	}
	return b.String()
}
