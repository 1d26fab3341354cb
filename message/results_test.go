package message

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// TestSPFResults: every check_host() result becomes its own finding, and a
// message whose client cannot be found says so.
func TestSPFResults(t *testing.T) {
	fromDomain := func(d string) []byte {
		return bytes.ReplaceAll(base(), []byte("alice@example.com"), []byte("alice@"+d))
	}
	z := world(
		`soft.example. 300 IN TXT "v=spf1 ip4:192.0.2.1 ~all"`,
		`neutral.example. 300 IN TXT "v=spf1 ip4:192.0.2.1 ?all"`,
		`broken.example. 300 IN TXT "v=spf1 include:nothing.example -all"`,
		`slow.example. 300 IN TXT "v=spf1 include:timeout.example -all"`,
	)
	z.Fail("timeout.example.", dns.TypeTXT, resolver.Timeout)
	for _, tt := range []struct {
		domain string
		want   expect
	}{
		{"soft.example", expect{"msg.spf-softfail", finding.Warn, "soft.example (SPF, 203.0.113.9)"}},
		{"neutral.example", expect{"msg.spf-neutral", finding.Warn, "neutral.example"}},
		{"none.example", expect{"msg.spf-none", finding.Warn, "none.example"}},
		{"broken.example", expect{"msg.spf-permerror", finding.Fail, "broken.example"}},
		{"slow.example", expect{"msg.spf-temperror", finding.Error, "slow.example"}},
	} {
		t.Run(tt.domain, func(t *testing.T) {
			a := analyze(t, z, delivered(fromDomain(tt.domain), "alice@"+tt.domain, "203.0.113.9"))
			// No DMARC record for these domains, no signature.
			checkFindings(t, a, tt.want, expect{"msg.dkim-none", finding.Warn, ""}, expect{"msg.dmarc-none", finding.Warn, ""})
		})
	}

	t.Run("no Received header", func(t *testing.T) {
		a := analyze(t, z, prepend(base(), "Return-Path: <alice@example.com>"))
		checkFindings(t, a, expect{"msg.spf-unknown-ip", finding.Info, "SPF"}, expect{"msg.dkim-none", finding.Warn, ""},
			expect{"msg.dmarc-fail", finding.Fail, ""})
	})
	t.Run("a copy from the Sent folder", func(t *testing.T) {
		sent := prepend(base(), "Received: from [10.0.0.5] (unknown [203.0.113.7]) by out.example.com (Postfix) with ESMTPSA id 4A; Tue, 03 Mar 2026 10:00:01 +0000")
		a := analyze(t, z, sent)
		checkFindings(t, a, expect{"msg.spf-unknown-ip", finding.Info, "SPF"}, expect{"msg.dkim-none", finding.Warn, ""},
			expect{"msg.dmarc-fail", finding.Fail, ""})
		if a.Message.SPF != nil {
			t.Errorf("SPF evaluated for a submission hop: %+v", a.Message.SPF)
		}
	})
	t.Run("--trusted-hop names a host that wrote nothing", func(t *testing.T) {
		a := analyze(t, z, delivered(base(), "alice@example.com", "192.0.2.10"), Options{TrustedHops: []string{"gw.example.net"}})
		checkFindings(t, a, expect{"msg.spf-unknown-ip", finding.Info, "SPF"}, expect{"msg.dkim-none", finding.Warn, ""},
			expect{"msg.dmarc-fail", finding.Fail, ""})
	})
	t.Run("a bounce's null sender is checked by HELO", func(t *testing.T) {
		z := world(`out.example.com. 300 IN TXT "v=spf1 ip4:192.0.2.10 -all"`)
		m := prepend(base(), "Return-Path: <>",
			"Received: from out.example.com (out.example.com [192.0.2.10]) by mx.example.net (Postfix) with ESMTPS id 1; Tue, 03 Mar 2026 10:00:04 +0000")
		a := analyze(t, z, m)
		if s := a.Message.SPF; s == nil || s.Identity != "helo" || s.Domain != "out.example.com" || s.Result != "pass" {
			t.Errorf("SPF: %+v", s)
		}
		// A HELO pass is not a DMARC identity (RFC 7489 §4.1: DMARC uses
		// the MAIL FROM identity): SPF passed, but for nothing DMARC aligns.
		checkFindings(t, a, expect{"msg.ok", finding.Pass, "out.example.com (SPF"}, expect{"msg.dkim-none", finding.Warn, ""},
			expect{"msg.dmarc-unaligned", finding.Fail, ""})
	})
}

// TestInconclusive: lookups that fail are errors (inconclusive), names
// outside --zone are "not checked" — never a missing record.
func TestInconclusive(t *testing.T) {
	key := edKey(t)
	signed := delivered(sign(t, base(), signOpts{domain: "example.com", selector: "s1", key: key}), "alice@example.com", "192.0.2.10")

	t.Run("timeouts", func(t *testing.T) {
		z := world()
		z.Fail("s1._domainkey.example.com.", dns.TypeTXT, resolver.Timeout)
		z.Fail("_dmarc.example.com.", dns.TypeTXT, resolver.ServFail)
		a := analyze(t, z, signed)
		checkFindings(t, a, expect{"msg.dkim-temperror", finding.Error, "s=s1"}, expect{"msg.ok", finding.Pass, "SPF"},
			expect{"msg.dmarc-temperror", finding.Error, "_dmarc.example.com"})
	})
	t.Run("outside the given zones", func(t *testing.T) {
		// Only example.net's zone is given: example.com is not checked.
		zone, err := resolver.NewZone(resolver.ZoneSource{File: "example.net.zone", Origin: "example.net.",
			Data: []byte("$TTL 300\n@ SOA ns. h. 1 2 3 4 5\n@ TXT \"v=spf1 -all\"\n")})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a, err := Analyze(ctx, &Env{Resolver: resolver.NewCache(resolver.Chain{Zone: zone})}, signed, Options{})
		if err != nil {
			t.Fatal(err)
		}
		checkFindings(t, a, expect{"msg.dkim-not-checked", finding.Info, "s=s1"}, expect{"msg.spf-not-checked", finding.Info, "example.com"},
			expect{"msg.dmarc-not-checked", finding.Info, "_dmarc.example.com"})
	})
}

func TestRouteFindings(t *testing.T) {
	m := prepend(base(),
		"Return-Path: <alice@example.com>",
		"Received: from relay.example.org (relay.example.org [203.0.113.20]) by mx.example.net (Postfix) with ESMTP id 2; Tue, 03 Mar 2026 10:40:00 +0000",
		"Received: from out.example.com (out.example.com [192.0.2.10]) by relay.example.org (Postfix) with ESMTPS id 1; Tue, 03 Mar 2026 10:00:02 +0000")
	a := analyze(t, world(), m)
	checkFindings(t, a,
		expect{"msg.hop-delay", finding.Warn, "Received 2 (by mx.example.net)"},
		expect{"msg.hop-plaintext", finding.Info, "Received 2 (by mx.example.net)"},
		expect{"msg.dkim-none", finding.Warn, ""},
		// The relay is the client mx.example.net saw: not in example.com's
		// SPF record.
		expect{"msg.spf-fail", finding.Fail, "203.0.113.20"},
		expect{"msg.dmarc-fail", finding.Fail, ""},
	)
}

func TestBounceDelivered(t *testing.T) {
	dsnMsg := "From: MAILER-DAEMON@mx.example.net\r\nTo: alice@example.com\r\nSubject: Successful Mail Delivery Report\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nYour message was successfully delivered.\r\n" +
		"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n" +
		"Final-Recipient: rfc822; bob@example.net\r\nAction: delivered\r\nStatus: 2.0.0\r\n" +
		"--b--\r\n"
	a := analyze(t, world(), []byte(dsnMsg))
	checkFindings(t, a, expect{"msg.bounce-delivered", finding.Info, "bob@example.net"})
	if b := a.Message.Bounce; b == nil || b.Recipients[0].Status != "2.0.0" || len(b.Recipients[0].Findings) != 0 {
		t.Errorf("bounce: %+v", b)
	}
}
