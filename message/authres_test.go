package message

import (
	"bytes"
	"crypto"
	"strings"
	"testing"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

func TestParseAuthResultsShapes(t *testing.T) {
	p, err := parse(msg([]string{
		// Gmail: header.i/header.s/header.b, the IP in the SPF comment.
		"Authentication-Results: mx.google.example;\r\n" +
			"       dkim=pass header.i=@example.com header.s=s2026 header.b=Klr4Aced;\r\n" +
			"       spf=pass (google.example: domain of alice@example.com designates 192.0.2.10 as permitted sender) smtp.mailfrom=alice@example.com;\r\n" +
			"       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.com",
		// Microsoft 365: no authserv-id at the start, one in the middle,
		// no space after some semicolons, a method of its own.
		"Authentication-Results: spf=pass (sender IP is 192.0.2.10)\r\n" +
			" smtp.mailfrom=example.com; outlook.example; dkim=pass (signature was verified)\r\n" +
			" header.d=example.com;dmarc=pass action=none header.from=example.com;compauth=pass reason=100",
		// ARC copy with an instance number.
		"ARC-Authentication-Results: i=1; mx.google.example; arc=none",
		"From: alice@example.com",
	}, "body\n"))
	if err != nil {
		t.Fatal(err)
	}
	ars := parseAuthResults(p)
	if len(ars) != 3 {
		t.Fatalf("%d Authentication-Results, want 3: %+v", len(ars), ars)
	}
	g := ars[0]
	if g.AuthServID != "mx.google.example" || len(g.Results) != 3 {
		t.Fatalf("gmail: %+v", g)
	}
	if r := g.Results[0]; r.Method != "dkim" || r.Result != "pass" || r.Properties["header.b"] != "Klr4Aced" || r.Properties["header.s"] != "s2026" {
		t.Errorf("gmail dkim: %+v", r)
	}
	if r := g.Results[1]; r.Method != "spf" || r.Properties["smtp.mailfrom"] != "alice@example.com" || !strings.Contains(r.Comment, "designates 192.0.2.10") {
		t.Errorf("gmail spf: %+v", r)
	}
	ms := ars[1]
	if ms.AuthServID != "outlook.example" || len(ms.Results) != 4 {
		t.Fatalf("microsoft: %+v", ms)
	}
	methods := []string{}
	for _, r := range ms.Results {
		methods = append(methods, r.Method+"="+r.Result)
	}
	if strings.Join(methods, " ") != "spf=pass dkim=pass dmarc=pass compauth=pass" {
		t.Errorf("microsoft results: %v", methods)
	}
	if ms.Results[1].Properties["header.d"] != "example.com" || ms.Results[1].Comment != "signature was verified" {
		t.Errorf("microsoft dkim: %+v", ms.Results[1])
	}
	if a := ars[2]; a.Instance != 1 || a.AuthServID != "mx.google.example" || a.Results[0].Method != "arc" {
		t.Errorf("arc: %+v", a)
	}
}

// TestAuthResultsMismatch: a receiver's recorded verdict against
// mailcheck's own.
func TestAuthResultsMismatch(t *testing.T) {
	key := rsaKey(t, 2048)
	signed := sign(t, base(), signOpts{domain: "example.com", selector: "s1", key: key})
	bval := sigValue(t, signed, "b")[:8]

	gmailAR := func(dkim string) string {
		return "Authentication-Results: mx.google.example;\r\n" +
			"       dkim=" + dkim + " header.i=@example.com header.s=s1 header.b=" + bval + ";\r\n" +
			"       spf=pass (google.example: domain of alice@example.com designates 192.0.2.10 as permitted sender) smtp.mailfrom=alice@example.com;\r\n" +
			"       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.com"
	}
	t.Run("agreement", func(t *testing.T) {
		z := world(keyRecord(t, "s1._domainkey.example.com", key))
		a := analyze(t, z, prepend(delivered(signed, "alice@example.com", "192.0.2.10"), gmailAR("pass")))
		checkFindings(t, a, expect{"msg.ok", finding.Pass, "DKIM-Signature"}, expect{"msg.ok", finding.Pass, "SPF"},
			expect{"msg.ok", finding.Pass, "_dmarc"})
	})
	t.Run("key removed since delivery", func(t *testing.T) {
		a := analyze(t, world(), prepend(delivered(signed, "alice@example.com", "192.0.2.10"), gmailAR("pass")))
		checkFindings(t, a, expect{"msg.dkim-key-missing", finding.Fail, "s=s1"},
			expect{"msg.authres-mismatch", finding.Warn, "mx.google.example"},
			expect{"msg.ok", finding.Pass, "SPF"}, expect{"msg.ok", finding.Pass, "_dmarc"})
	})
	t.Run("receiver failed what verifies now", func(t *testing.T) {
		z := world(keyRecord(t, "s1._domainkey.example.com", key))
		ms := "Authentication-Results: spf=pass (sender IP is 192.0.2.10) smtp.mailfrom=example.com;\r\n" +
			" dkim=fail (body hash did not verify) header.d=example.com;dmarc=pass action=none\r\n" +
			" header.from=example.com;compauth=pass reason=100"
		a := analyze(t, z, prepend(delivered(signed, "alice@example.com", "192.0.2.10"), ms))
		checkFindings(t, a, expect{"msg.ok", finding.Pass, "DKIM-Signature"}, expect{"msg.authres-mismatch", finding.Warn, "Authentication-Results"},
			expect{"msg.ok", finding.Pass, "SPF"}, expect{"msg.ok", finding.Pass, "_dmarc"})
	})
	t.Run("SPF record changed since", func(t *testing.T) {
		z := world(keyRecord(t, "s1._domainkey.example.com", key))
		// The receiver saw 198.51.100.9 pass for example.com; today the
		// record does not list it.
		m := prepend(signed, "Return-Path: <alice@example.com>",
			"Received: from out.example.com (out.example.com [203.0.113.99]) by mx.google.example with ESMTPS id 1; Tue, 03 Mar 2026 10:00:04 +0000")
		m = prepend(m, "Authentication-Results: mx.google.example; spf=pass smtp.mailfrom=alice@example.com")
		a := analyze(t, z, m)
		checkFindings(t, a, expect{"msg.ok", finding.Pass, "DKIM-Signature"}, expect{"msg.spf-fail", finding.Fail, ""},
			expect{"msg.authres-mismatch", finding.Warn, "mx.google.example"}, expect{"msg.ok", finding.Pass, "_dmarc"})
	})
}

// sigValue returns a tag of the first DKIM-Signature of m.
func sigValue(t *testing.T, m []byte, tag string) string {
	t.Helper()
	p, err := parse(m)
	if err != nil {
		t.Fatal(err)
	}
	return parseSigTags(p.first("DKIM-Signature"), 0).tags[tag]
}

// TestForwardedThroughList: a list adds a footer and a subject tag, keeps
// From, signs with its own domain and seals an ARC set. The author's
// signature breaks on the body; the list's verifies but is not aligned
// with From; the list's receiver had recorded the author's signature as a
// pass.
func TestForwardedThroughList(t *testing.T) {
	author, list := rsaKey(t, 2048), edKey(t)
	z := world(keyRecord(t, "s1._domainkey.example.com", author), keyRecord(t, "l1._domainkey.lists.example", list))
	original := sign(t, base(), signOpts{domain: "example.com", selector: "s1", key: author})
	bval := sigValue(t, original, "b")[:8]
	// At the list's MX.
	atList := prepend(original,
		"Authentication-Results: lists.example; dkim=pass header.d=example.com header.s=s1 header.b="+bval+"; spf=pass smtp.mailfrom=alice@example.com",
		"Received: from out.example.com (out.example.com [192.0.2.10]) by mx.lists.example (Postfix) with ESMTPS id AA1; Tue, 03 Mar 2026 10:00:04 +0000")
	// The list rewrites and re-signs.
	rewritten := bytes.Replace(atList, []byte("Subject: Quarterly figures"), []byte("Subject: [team] Quarterly figures"), 1)
	rewritten = append(rewritten, []byte("-- \r\nteam mailing list\r\nhttps://lists.example/team\r\n")...)
	rewritten = prepend(rewritten,
		"ARC-Seal: i=1; a=rsa-sha256; t=1772532005; cv=none; d=lists.example; s=arc1; b=AAAA",
		"ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=lists.example; s=arc1; h=from:to:subject; bh=AAAA; b=AAAA",
		"ARC-Authentication-Results: i=1; lists.example; dkim=pass header.d=example.com header.s=s1 header.b="+bval)
	rewritten = sign(t, rewritten, signOpts{domain: "lists.example", selector: "l1", key: list})
	m := prepend(rewritten, "Return-Path: <team-bounces@lists.example>",
		"Received: from mx.lists.example (mx.lists.example [203.0.113.5]) by mx.example.net (Postfix) with ESMTPS id BB2; Tue, 03 Mar 2026 10:00:09 +0000")
	a := analyze(t, z, m)
	checkFindings(t, a,
		expect{"msg.dkim-body-hash", finding.Fail, "d=example.com s=s1"},
		expect{"msg.ok", finding.Pass, "d=lists.example s=l1"},
		expect{"msg.ok", finding.Pass, "lists.example (SPF"},
		expect{"msg.dmarc-unaligned", finding.Fail, "_dmarc.example.com"},
		expect{"msg.authres-mismatch", finding.Warn, "lists.example"},
	)
	if arc := a.Message.ARC; arc == nil || arc.Instances != 1 || arc.Sealers[0] != "lists.example" || arc.ChainValidation != "none" {
		t.Errorf("ARC: %+v", arc)
	}
	if d := a.Message.DMARC; d.Disposition != "reject" || d.SPFAligned || len(d.DKIMAligned) != 0 {
		t.Errorf("DMARC: %+v", d)
	}
	if len(a.Message.Route) != 2 || a.Message.Route[0].By != "mx.lists.example" || !a.Message.Route[1].Trusted {
		t.Errorf("route: %+v", a.Message.Route)
	}

	// The same list rewriting From to its own address (the usual DMARC
	// mitigation): DMARC now passes for lists.example.
	mitigated := bytes.Replace(rewritten, []byte("From: Alice <alice@example.com>"), []byte("From: Alice via team <team@lists.example>"), 1)
	// Rewriting From breaks the list's own signature too, so it signs
	// after rewriting: sign again on top of the rewritten message.
	mitigated = sign(t, mitigated, signOpts{domain: "lists.example", selector: "l1", key: list})
	m = prepend(mitigated, "Return-Path: <team-bounces@lists.example>",
		"Received: from mx.lists.example (mx.lists.example [203.0.113.5]) by mx.example.net (Postfix) with ESMTPS id BB3; Tue, 03 Mar 2026 10:00:09 +0000")
	a = analyze(t, z, m)
	checkFindings(t, a,
		expect{"msg.dkim-body-hash", finding.Fail, "d=example.com"},
		expect{"msg.dkim-fail", finding.Fail, "d=lists.example"}, // the first list signature, made before From changed
		expect{"msg.ok", finding.Pass, "d=lists.example"},
		expect{"msg.ok", finding.Pass, "SPF"},
		expect{"msg.ok", finding.Pass, "_dmarc.lists.example"},
		expect{"msg.authres-mismatch", finding.Warn, "lists.example"},
	)
}

// TestDMARCAlignment: strict and relaxed alignment, a third party's
// domain, no policy, two From headers.
func TestDMARCAlignment(t *testing.T) {
	key := edKey(t)
	sub := func(m []byte) []byte {
		return bytes.Replace(m, []byte("From: Alice <alice@example.com>"), []byte("From: News <news@news.example.com>"), 1)
	}
	for _, tt := range []struct {
		name    string
		dmarc   string // the record at _dmarc.example.com
		alter   func([]byte) []byte
		signAs  string
		from    string // MAIL FROM
		ip      string
		want    []expect
		aligned bool
	}{
		{"relaxed: a subdomain From aligns with d=example.com", "v=DMARC1; p=reject", sub, "example.com", "alice@example.com", "192.0.2.10",
			[]expect{{"msg.ok", finding.Pass, "DKIM-Signature"}, {"msg.ok", finding.Pass, "SPF"}, {"msg.ok", finding.Pass, "_dmarc"}}, true},
		{"strict: the same subdomain does not", "v=DMARC1; p=reject; adkim=s; aspf=s", sub, "example.com", "alice@example.com", "192.0.2.10",
			[]expect{{"msg.ok", finding.Pass, "DKIM-Signature"}, {"msg.ok", finding.Pass, "SPF"}, {"msg.dmarc-unaligned", finding.Fail, "news.example.com"}}, false},
		{"an ESP signs and bounces as itself", "v=DMARC1; p=quarantine", nil, "esp.example", "bounce-123@esp.example", "198.51.100.7",
			[]expect{{"msg.ok", finding.Pass, "esp.example"}, {"msg.ok", finding.Pass, "esp.example (SPF"}, {"msg.dmarc-unaligned", finding.Fail, ""}}, false},
		{"nothing passes", "v=DMARC1; p=reject", nil, "", "alice@example.com", "203.0.113.66",
			[]expect{{"msg.dkim-none", finding.Warn, ""}, {"msg.spf-fail", finding.Fail, ""}, {"msg.dmarc-fail", finding.Fail, ""}}, false},
		{"t=y softens reject", "v=DMARC1; p=reject; t=y", nil, "", "alice@example.com", "203.0.113.66",
			[]expect{{"msg.dkim-none", finding.Warn, ""}, {"msg.spf-fail", finding.Fail, ""}, {"msg.dmarc-fail", finding.Fail, ""}}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			z := resolvertestWorld(t, tt.dmarc, key)
			m := base()
			if tt.alter != nil {
				m = tt.alter(m)
			}
			if tt.signAs != "" {
				m = sign(t, m, signOpts{domain: tt.signAs, selector: "k", key: key})
			}
			a := analyze(t, z, delivered(m, tt.from, tt.ip))
			checkFindings(t, a, tt.want...)
			if a.Message.DMARC.Result == "pass" != tt.aligned {
				t.Errorf("DMARC: %+v", a.Message.DMARC)
			}
		})
	}

	t.Run("disposition under t=y", func(t *testing.T) {
		a := analyze(t, resolvertestWorld(t, "v=DMARC1; p=reject; t=y", key), delivered(base(), "alice@example.com", "203.0.113.66"))
		if d := a.Message.DMARC; d.Policy != "reject" || d.Disposition != "quarantine" || !d.Testing {
			t.Errorf("DMARC: %+v", d)
		}
	})
	t.Run("no policy", func(t *testing.T) {
		z := world()
		m := bytes.Replace(base(), []byte("alice@example.com"), []byte("alice@nopolicy.example"), 1)
		z.Add(`nopolicy.example. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"`)
		a := analyze(t, z, delivered(m, "alice@nopolicy.example", "192.0.2.10"))
		checkFindings(t, a, expect{"msg.dkim-none", finding.Warn, ""}, expect{"msg.ok", finding.Pass, "SPF"},
			expect{"msg.dmarc-none", finding.Warn, "nopolicy.example"})
	})
	t.Run("two From headers", func(t *testing.T) {
		m := prepend(base(), "From: Mallory <mallory@evil.example>")
		a := analyze(t, world(), delivered(m, "alice@example.com", "192.0.2.10"))
		checkFindings(t, a, expect{"msg.dkim-none", finding.Warn, ""}, expect{"msg.ok", finding.Pass, "SPF"},
			expect{"msg.from-invalid", finding.Fail, "From"})
	})
}

// resolvertestWorld is the test world with the given DMARC record for
// example.com, and key k published at selector k for example.com and
// esp.example.
func resolvertestWorld(t *testing.T, dmarc string, k crypto.Signer) *resolvertest.Fake {
	t.Helper()
	return worldWith(dmarc, keyRecord(t, "k._domainkey.example.com", k), keyRecord(t, "k._domainkey.esp.example", k))
}
