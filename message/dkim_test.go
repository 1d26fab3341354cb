package message

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// TestHealthyMessage is the message everyone wants: signed with RSA by the
// From domain, sent from an address its SPF lists, DMARC p=reject.
func TestHealthyMessage(t *testing.T) {
	key := rsaKey(t, 2048)
	z := world(keyRecord(t, "s2026._domainkey.example.com", key))
	m := delivered(sign(t, base(), signOpts{domain: "example.com", selector: "s2026", key: key}), "alice@example.com", "192.0.2.10")
	a := analyze(t, z, m)
	checkFindings(t, a,
		expect{"msg.ok", finding.Pass, "d=example.com s=s2026"},
		expect{"msg.ok", finding.Pass, "example.com (SPF"},
		expect{"msg.ok", finding.Pass, "_dmarc.example.com"},
	)
	sig := a.Message.DKIM[0]
	if sig.Result != "pass" || sig.KeyType != "rsa" || sig.KeyBits != 2048 || sig.Canonicalization != "relaxed/relaxed" {
		t.Errorf("signature: %+v", sig)
	}
	spf := a.Message.SPF
	if spf.IP != "192.0.2.10" || spf.Mechanism != "ip4:192.0.2.0/24" || spf.TrustedHop != "mx.example.net" || spf.Lookups != 0 {
		t.Errorf("SPF: %+v", spf)
	}
	if d := a.Message.DMARC; d.Policy != "reject" || len(d.DKIMAligned) != 1 || !d.SPFAligned || d.Disposition != "none" {
		t.Errorf("DMARC: %+v", d)
	}
}

// TestDualSignedEd25519AndRSA: senders that sign twice (RFC 8463 §1
// recommends it while receivers learn ed25519), both verified.
func TestDualSignedEd25519AndRSA(t *testing.T) {
	rk, ek := rsaKey(t, 2048), edKey(t)
	z := world(keyRecord(t, "rsa1._domainkey.example.com", rk), keyRecord(t, "ed1._domainkey.example.com", ek))
	m := sign(t, base(), signOpts{domain: "example.com", selector: "rsa1", key: rk})
	m = sign(t, m, signOpts{domain: "example.com", selector: "ed1", key: ek})
	a := analyze(t, z, delivered(m, "alice@example.com", "192.0.2.10"))
	checkFindings(t, a,
		expect{"msg.ok", finding.Pass, "s=rsa1"},
		expect{"msg.ok", finding.Pass, "s=ed1"},
		expect{"msg.ok", finding.Pass, "SPF"},
		expect{"msg.ok", finding.Pass, "_dmarc"},
	)
	got := map[string]string{}
	for _, s := range a.Message.DKIM {
		got[s.Selector] = s.Algorithm + " " + s.KeyType
	}
	if got["ed1"] != "ed25519-sha256 ed25519" || got["rsa1"] != "rsa-sha256 rsa" {
		t.Errorf("algorithms: %v", got)
	}
}

// TestDKIMFailures covers every way a signature fails that a support
// person must tell apart, each by its ID.
func TestDKIMFailures(t *testing.T) {
	key, other := rsaKey(t, 2048), edKey(t)
	short := rsaKey(t, 1024)
	good := sign(t, base(), signOpts{domain: "example.com", selector: "s1", key: key})
	bodyAltered := bytes.Replace(good, []byte("the figures are attached"), []byte("the figures are NOT attached"), 1)
	subjectAltered := bytes.Replace(good, []byte("Subject: Quarterly figures"), []byte("Subject: [EXT] Quarterly figures"), 1)

	for _, tt := range []struct {
		name    string
		records []string
		msg     []byte
		want    []expect
		reason  string
	}{
		{"body altered after signing", []string{keyRecord(t, "s1._domainkey.example.com", key)}, bodyAltered,
			[]expect{{"msg.dkim-body-hash", finding.Fail, "d=example.com s=s1"}}, reasonBodyHash},
		{"signed header altered", []string{keyRecord(t, "s1._domainkey.example.com", key)}, subjectAltered,
			[]expect{{"msg.dkim-fail", finding.Fail, "d=example.com s=s1"}}, reasonSignature},
		{"key mismatched", []string{keyRecord(t, "s1._domainkey.example.com", other)}, good,
			// An ed25519 key published for an rsa-sha256 signature: the
			// verifier refuses the key type.
			[]expect{{"msg.dkim-invalid", finding.Fail, "s=s1"}}, reasonMalformed},
		{"key missing", nil, good,
			[]expect{{"msg.dkim-key-missing", finding.Fail, "s=s1"}}, reasonKeyMissing},
		{"key revoked", []string{`s1._domainkey.example.com. 300 IN TXT "v=DKIM1; k=rsa; p="`}, good,
			[]expect{{"msg.dkim-invalid", finding.Fail, "s=s1"}}, reasonKeyRevoked},
		{"key record broken", []string{`s1._domainkey.example.com. 300 IN TXT "v=DKIM1; k=rsa; p=bm90IGEga2V5"`}, good,
			[]expect{{"msg.dkim-invalid", finding.Fail, "s=s1"}}, reasonKeyInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			z := world(tt.records...)
			a := analyze(t, z, delivered(tt.msg, "alice@example.com", "192.0.2.10"))
			// SPF still passes and aligns, so DMARC passes: only the
			// signature is at fault.
			want := append(tt.want, expect{"msg.ok", finding.Pass, "SPF"}, expect{"msg.ok", finding.Pass, "_dmarc"})
			checkFindings(t, a, want...)
			if r := a.Message.DKIM[0].Reason; r != tt.reason {
				t.Errorf("reason %q, want %q", r, tt.reason)
			}
		})
	}

	t.Run("same key, RSA mismatch", func(t *testing.T) {
		// A different RSA key of the same type: the signature itself
		// fails, told apart from a changed body.
		z := world(keyRecord(t, "s1._domainkey.example.com", short))
		a := analyze(t, z, delivered(good, "alice@example.com", "192.0.2.10"))
		checkFindings(t, a, expect{"msg.dkim-fail", finding.Fail, "s=s1"},
			expect{"msg.ok", finding.Pass, "SPF"}, expect{"msg.ok", finding.Pass, "_dmarc"})
		if r := a.Message.DKIM[0].Reason; r != reasonSignature {
			t.Errorf("reason %q, want %q", r, reasonSignature)
		}
	})
}

// TestDKIMWeakAndPartial: l=, rsa-sha1, short keys and expiry are noted.
func TestDKIMWeakAndPartial(t *testing.T) {
	short := rsaKey(t, 1024)
	z := world(keyRecord(t, "old._domainkey.example.com", short))
	good := sign(t, base(), signOpts{domain: "example.com", selector: "old", key: short})
	a := analyze(t, z, delivered(good, "alice@example.com", "192.0.2.10"))
	checkFindings(t, a,
		expect{"msg.ok", finding.Pass, "s=old"},
		expect{"msg.dkim-weak", finding.Warn, "s=old"},
		expect{"msg.ok", finding.Pass, "SPF"}, expect{"msg.ok", finding.Pass, "_dmarc"})

	// rsa-sha1 and l= are refused before any cryptography: the tags
	// alone decide, so a placeholder b= is enough.
	sha1 := prepend(base(), "DKIM-Signature: v=1; a=rsa-sha1; c=relaxed/relaxed; d=example.com; s=old;\r\n"+
		"\th=from:to:subject:date; bh=AAAA; b=AAAA")
	a = analyze(t, z, delivered(sha1, "alice@example.com", "192.0.2.10"))
	checkFindings(t, a, expect{"msg.dkim-weak", finding.Fail, "s=old"},
		expect{"msg.ok", finding.Pass, "SPF"}, expect{"msg.ok", finding.Pass, "_dmarc"})

	partial := prepend(base(), "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=old; l=20;\r\n"+
		"\th=from:to:subject:date; bh=AAAA; b=AAAA")
	a = analyze(t, z, delivered(partial, "alice@example.com", "192.0.2.10"))
	checkFindings(t, a, expect{"msg.dkim-body-length", finding.Warn, "s=old"},
		expect{"msg.ok", finding.Pass, "SPF"}, expect{"msg.ok", finding.Pass, "_dmarc"})
	if l := a.Message.DKIM[0].BodyLength; l == nil || *l != 20 {
		t.Errorf("body length %v", l)
	}

	expired := sign(t, base(), signOpts{domain: "example.com", selector: "old", key: short,
		expires: time.Date(2026, 3, 3, 11, 0, 0, 0, time.UTC)})
	a = analyze(t, z, delivered(expired, "alice@example.com", "192.0.2.10"))
	checkFindings(t, a, expect{"msg.dkim-expired", finding.Warn, "s=old"},
		expect{"msg.ok", finding.Pass, "SPF"}, expect{"msg.ok", finding.Pass, "_dmarc"})

	missingTag := prepend(base(), "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=old; bh=AAAA; b=AAAA")
	a = analyze(t, z, delivered(missingTag, "alice@example.com", "192.0.2.10"))
	checkFindings(t, a, expect{"msg.dkim-invalid", finding.Fail, "s=old"},
		expect{"msg.ok", finding.Pass, "SPF"}, expect{"msg.ok", finding.Pass, "_dmarc"})
}

// TestCanonicalisation: relaxed header canonicalisation survives a relay
// that refolds a header, simple does not; simple body canonicalisation
// breaks on trailing white space a relay strips, relaxed does not.
func TestCanonicalisation(t *testing.T) {
	key := edKey(t)
	z := world(keyRecord(t, "c._domainkey.example.com", key))
	refold := func(m []byte) []byte {
		return bytes.Replace(m, []byte("Subject: Quarterly figures"), []byte("Subject:  Quarterly\r\n  figures"), 1)
	}
	bodyWithSpaces := msg([]string{
		"From: Alice <alice@example.com>", "To: bob@example.net", "Subject: Quarterly figures",
		"Date: Tue, 03 Mar 2026 10:00:00 +0000", "Message-ID: <c@example.com>",
	}, "Line with trailing spaces   \nEnd\n")
	stripSpaces := func(m []byte) []byte {
		return bytes.Replace(m, []byte("spaces   \r\n"), []byte("spaces\r\n"), 1)
	}
	for _, tt := range []struct {
		name         string
		header, body dkim.Canonicalization
		base         []byte
		alter        func([]byte) []byte
		want         expect
	}{
		{"relaxed/simple survives a refolded header", dkim.CanonicalizationRelaxed, dkim.CanonicalizationSimple, base(), refold, expect{"msg.ok", finding.Pass, "DKIM-Signature"}},
		{"simple/simple breaks on a refolded header", dkim.CanonicalizationSimple, dkim.CanonicalizationSimple, base(), refold, expect{"msg.dkim-fail", finding.Fail, ""}},
		{"relaxed/simple breaks on stripped trailing spaces", dkim.CanonicalizationRelaxed, dkim.CanonicalizationSimple, bodyWithSpaces, stripSpaces, expect{"msg.dkim-body-hash", finding.Fail, ""}},
		{"relaxed/relaxed survives stripped trailing spaces", dkim.CanonicalizationRelaxed, dkim.CanonicalizationRelaxed, bodyWithSpaces, stripSpaces, expect{"msg.ok", finding.Pass, "DKIM-Signature"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.alter(sign(t, tt.base, signOpts{domain: "example.com", selector: "c", key: key, header: tt.header, body: tt.body}))
			a := analyze(t, z, delivered(m, "alice@example.com", "192.0.2.10"))
			checkFindings(t, a, tt.want, expect{"msg.ok", finding.Pass, "SPF"}, expect{"msg.ok", finding.Pass, "_dmarc"})
			if c := a.Message.DKIM[0].Canonicalization; c != string(tt.header)+"/"+string(tt.body) {
				t.Errorf("canonicalisation %q", c)
			}
		})
	}
}

// TestLFLineEnds: a message saved with Unix line ends (LF) verifies as on
// the wire, where it had CRLF.
func TestLFLineEnds(t *testing.T) {
	key := edKey(t)
	z := world(keyRecord(t, "lf._domainkey.example.com", key))
	m := delivered(sign(t, base(), signOpts{domain: "example.com", selector: "lf", key: key, header: dkim.CanonicalizationSimple, body: dkim.CanonicalizationSimple}), "alice@example.com", "192.0.2.10")
	lf := []byte("From MAILER-DAEMON Tue Mar  3 10:00:05 2026\n" + strings.ReplaceAll(string(m), "\r\n", "\n"))
	a := analyze(t, z, lf)
	checkFindings(t, a, expect{"msg.ok", finding.Pass, "DKIM-Signature"}, expect{"msg.ok", finding.Pass, "SPF"},
		expect{"msg.ok", finding.Pass, "_dmarc"})
}

// TestHeadersOnly: pasted headers say what can and cannot be verified.
func TestHeadersOnly(t *testing.T) {
	key := rsaKey(t, 2048)
	z := world(keyRecord(t, "s1._domainkey.example.com", key))
	full := delivered(sign(t, base(), signOpts{domain: "example.com", selector: "s1", key: key}), "alice@example.com", "192.0.2.10")
	head, _, _ := bytes.Cut(full, []byte("\r\n\r\n"))
	a := analyze(t, z, head)
	checkFindings(t, a,
		expect{"msg.headers-only", finding.Info, ""},
		expect{"msg.dkim-unverifiable", finding.Info, "s=s1"},
		expect{"msg.ok", finding.Pass, "SPF"},
		// DKIM is unknown, SPF passes aligned: DMARC passes on SPF.
		expect{"msg.ok", finding.Pass, "_dmarc"},
	)
	if !a.Message.HeadersOnly || a.Message.DKIM[0].Result != "neutral" || a.Message.DKIM[0].KeyBits != 2048 {
		t.Errorf("headers only: %v %+v", a.Message.HeadersOnly, a.Message.DKIM[0])
	}

	// Headers of a signature whose key is gone: that much is known.
	a = analyze(t, world(), head)
	checkFindings(t, a, expect{"msg.headers-only", finding.Info, ""}, expect{"msg.dkim-key-missing", finding.Fail, "s=s1"},
		expect{"msg.ok", finding.Pass, "SPF"}, expect{"msg.ok", finding.Pass, "_dmarc"})
}

func TestNoSignature(t *testing.T) {
	a := analyze(t, world(), delivered(base(), "alice@example.com", "192.0.2.10"))
	checkFindings(t, a, expect{"msg.dkim-none", finding.Warn, ""}, expect{"msg.ok", finding.Pass, "SPF"}, expect{"msg.ok", finding.Pass, "_dmarc"})
}
