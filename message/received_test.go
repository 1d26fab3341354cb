package message

import (
	"testing"
	"time"
)

// Received fields as the common MTAs write them (shapes studied from
// public mailing-list archives and bounce collections; names and
// addresses here are examples).
func TestParseReceived(t *testing.T) {
	for _, tt := range []struct {
		name, value                   string
		from, ip, host, by, with, tls string
		cipher                        string
		plaintext, auth               bool
		when                          string
	}{
		{"postfix with TLS",
			"from mail-out.example.com (mail-out.example.com [192.0.2.10]) (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256) (No client certificate requested) by mx.example.net (Postfix) with ESMTPS id 4ZKq1S6yQzz9tHb for <bob@example.net>; Tue,  3 Mar 2026 10:15:40 +0100 (CET)",
			"mail-out.example.com", "192.0.2.10", "mail-out.example.com", "mx.example.net", "ESMTPS", "TLS1.3", "TLS_AES_256_GCM_SHA384", false, false, "2026-03-03T09:15:40Z"},
		{"postfix submission from a home router",
			"from [192.168.1.20] (unknown [203.0.113.7]) (Authenticated sender: alice) by mail.example.com (Postfix) with ESMTPSA id 4ZKq1S6yQzz9tHb; Tue, 3 Mar 2026 10:15:38 +0100",
			"[192.168.1.20]", "203.0.113.7", "", "mail.example.com", "ESMTPSA", "TLS", "", false, true, "2026-03-03T09:15:38Z"},
		{"gmail inbound",
			"from mail-sor-f41.google.example (mail-sor-f41.google.example. [209.85.220.41]) by mx.google.example with SMTPS id 127sor59029516jaz.12.2019.04.08.08.18.46 for <someone@gmail.example> (Google Transport Security); Mon, 08 Apr 2019 08:18:46 -0700 (PDT)",
			"mail-sor-f41.google.example", "209.85.220.41", "mail-sor-f41.google.example", "mx.google.example", "SMTPS", "TLS", "", false, false, "2019-04-08T15:18:46Z"},
		{"gmail inbound with a cipher",
			"from mx0a.example.org (mx0a.example.org. [148.51.100.1]) by mx.google.example with ESMTPS id u10si2667315pgi.515.2019.02.14.07.59.55 for <list@example.net> (version=TLS1_2 cipher=ECDHE-RSA-AES128-GCM-SHA256 bits=128/128); Thu, 14 Feb 2019 07:59:55 -0800 (PST)",
			"mx0a.example.org", "148.51.100.1", "mx0a.example.org", "mx.google.example", "ESMTPS", "TLS1.2", "ECDHE-RSA-AES128-GCM-SHA256", false, false, "2019-02-14T15:59:55Z"},
		{"gmail internal hop",
			"by 2002:a05:7000:1f8c:b0:5e1:2a3b:4c5d with SMTP id hx12csp1234567mab; Thu, 5 Mar 2026 01:23:47 -0800 (PST)",
			"", "", "", "2002:a05:7000:1f8c:b0:5e1:2a3b:4c5d", "SMTP", "", "", false, false, "2026-03-05T09:23:47Z"},
		{"microsoft 365 frontend",
			"from APC01-PU1-obe.outbound.protection.outlook.example (104.47.126.239) by VE1EUR03FT055.mail.protection.outlook.example (10.152.19.158) with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256_P256) id 15.20.1038.3 via Frontend Transport; Sat, 4 Aug 2018 05:32:31 +0000",
			"APC01-PU1-obe.outbound.protection.outlook.example", "104.47.126.239", "", "ve1eur03ft055.mail.protection.outlook.example", "Microsoft SMTP Server", "TLS1.2", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256_P256", false, false, "2018-08-04T05:32:31Z"},
		{"microsoft 365 mapi with a zone index",
			"from SLXP216MB0381.KORP216.PROD.OUTLOOK.EXAMPLE ([fe80::cc9f:1992:a33d:f2cf]) by SLXP216MB0381.KORP216.PROD.OUTLOOK.EXAMPLE ([fe80::cc9f:1992:a33d:f2cf%5]) with mapi id 15.20.1017.018; Sat, 4 Aug 2018 05:32:25 +0000",
			"SLXP216MB0381.KORP216.PROD.OUTLOOK.EXAMPLE", "fe80::cc9f:1992:a33d:f2cf", "", "slxp216mb0381.korp216.prod.outlook.example", "mapi", "", "", false, false, "2018-08-04T05:32:25Z"},
		{"exim",
			"from [198.51.100.23] (helo=mail.example.org) by mx.example.net with esmtps (TLS1.3) tls TLS_AES_256_GCM_SHA384 (Exim 4.96) (envelope-from <alice@example.org>) id 1tXyZa-000AbC-2d for bob@example.net; Wed, 04 Mar 2026 12:00:01 +0000",
			"[198.51.100.23]", "198.51.100.23", "", "mx.example.net", "esmtps", "TLS1.3", "TLS_AES_256_GCM_SHA384", false, false, "2026-03-04T12:00:01Z"},
		{"plain ESMTP between networks",
			"from old.example.org (old.example.org [198.51.100.99]) by mx.example.net (Postfix) with ESMTP id 7F3A2C0042 for <bob@example.net>; Wed, 4 Mar 2026 12:00:00 +0000",
			"old.example.org", "198.51.100.99", "old.example.org", "mx.example.net", "ESMTP", "", "", true, false, "2026-03-04T12:00:00Z"},
		{"mimecast with STARTTLS wording",
			"from mimecast-mx02.example.com (mx-ext.example.com [66.187.233.73]) by relay.mimecast.example with ESMTP with STARTTLS (version=TLSv1.3, cipher=TLS_AES_256_GCM_SHA384) id us-mta-685-U-ihpu9EN7aML3eD073kuA-1; Mon, 20 Nov 2023 19:48:17 -0500",
			"mimecast-mx02.example.com", "66.187.233.73", "mx-ext.example.com", "relay.mimecast.example", "ESMTP", "TLS1.3", "TLS_AES_256_GCM_SHA384", false, false, "2023-11-21T00:48:17Z"},
		{"IPv6 address literal",
			"from mail.example.org (mail.example.org [IPv6:2001:db8::25]) by mx.example.net (Postfix) with ESMTPS id 4A; Wed, 4 Mar 2026 12:00:00 +0000",
			"mail.example.org", "2001:db8::25", "mail.example.org", "mx.example.net", "ESMTPS", "TLS", "", false, false, "2026-03-04T12:00:00Z"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := parseReceived(tt.value)
			h := r.hop
			if h.From != tt.from || h.FromIP != tt.ip || h.FromHost != tt.host || h.By != tt.by || h.With != tt.with {
				t.Errorf("from %q ip %q host %q by %q with %q; want %q %q %q %q %q", h.From, h.FromIP, h.FromHost, h.By, h.With,
					tt.from, tt.ip, tt.host, tt.by, tt.with)
			}
			if h.TLS != tt.tls || h.Cipher != tt.cipher || h.Plaintext != tt.plaintext || h.Authenticated != tt.auth {
				t.Errorf("tls %q cipher %q plaintext %v auth %v; want %q %q %v %v", h.TLS, h.Cipher, h.Plaintext, h.Authenticated,
					tt.tls, tt.cipher, tt.plaintext, tt.auth)
			}
			if got := h.Time.UTC().Format(time.RFC3339); got != tt.when {
				t.Errorf("time %s, want %s", got, tt.when)
			}
		})
	}
}

// TestTrustedHop: the hop whose client address SPF is judged on.
func TestTrustedHop(t *testing.T) {
	gmail := []string{
		// Newest first, as in the message.
		"by 2002:a05:7000:1f8c:b0:5e1:2a3b:4c5d with SMTP id hx12csp1234567mab; Thu, 5 Mar 2026 01:23:47 -0800 (PST)",
		"from mail-out.example.com (mail-out.example.com. [192.0.2.10]) by mx.google.example with ESMTPS id x; Thu, 05 Mar 2026 01:23:46 -0800 (PST)",
		"from [10.0.0.5] (unknown [203.0.113.7]) by mail-out.example.com (Postfix) with ESMTPSA id 4A; Thu, 5 Mar 2026 10:23:45 +0100",
	}
	microsoft := []string{
		"from VE1EUR03HT060.eop-EUR03.prod.protection.outlook.example (2603:1096:100:4::30) by SLXP216MB0381.KORP216.PROD.OUTLOOK.EXAMPLE with HTTPS; Sat, 4 Aug 2018 05:32:32 +0000",
		"from AMS0EPF000001A0.eurprd05.prod.outlook.example (2603:10a6:209:81:cafe::2f) by VE1EUR03HT060.outlook.office365.example (2603:1096:100:4::30) with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.8000.1; Sat, 4 Aug 2018 05:32:32 +0000",
		"from VE1EUR03FT055.eop-EUR03.prod.protection.outlook.example (10.152.18.51) by VE1EUR03HT060.eop-EUR03.prod.protection.outlook.example (10.152.19.26) with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384_P384) id 15.20.995.12; Sat, 4 Aug 2018 05:32:31 +0000",
		"from mail-out.example.com (192.0.2.10) by VE1EUR03FT055.mail.protection.outlook.example (10.152.19.158) with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256_P256) id 15.20.1038.3 via Frontend Transport; Sat, 4 Aug 2018 05:32:31 +0000",
	}
	gateway := []string{
		"from relay.gateway.example (relay.gateway.example [198.51.100.50]) by mx.example.net (Postfix) with ESMTPS id 1; Wed, 4 Mar 2026 12:00:05 +0000",
		"from mail-out.example.com (mail-out.example.com [192.0.2.10]) by relay.gateway.example with ESMTPS id 2; Wed, 4 Mar 2026 12:00:03 +0000",
	}
	sent := []string{
		"from [10.0.0.5] (unknown [203.0.113.7]) by mail-out.example.com (Postfix) with ESMTPSA id 4A; Thu, 5 Mar 2026 10:23:45 +0100",
	}
	loopback := []string{
		"from mail.example.test (localhost [127.0.0.1]) by mail.example.test with ESMTP id 9; Wed, 4 Mar 2026 12:00:05 +0000",
		"from client (localhost [127.0.0.1]) by mail.example.test (Postfix) with ESMTPS id 8; Wed, 4 Mar 2026 12:00:04 +0000",
	}
	parse := func(vs []string) []received {
		var out []received
		for _, v := range vs {
			out = append(out, parseReceived(v))
		}
		return out
	}
	for _, tt := range []struct {
		name    string
		hops    []string
		trusted []string
		want    int
		ip      string
	}{
		{"gmail: past the internal hop to the border", gmail, nil, 1, "192.0.2.10"},
		{"microsoft: past the internal hops to the frontend", microsoft, nil, 3, "192.0.2.10"},
		{"a gateway in front of the receiver", gateway, nil, 0, "198.51.100.50"},
		{"--trusted-hop names the gateway", gateway, []string{"relay.gateway.example"}, 1, "192.0.2.10"},
		{"--trusted-hop names a domain", gateway, []string{"gateway.example"}, 1, "192.0.2.10"},
		{"--trusted-hop names nobody", gateway, []string{"nowhere.example"}, -1, ""},
		{"a copy from the Sent folder", sent, nil, -1, ""},
		{"loopback test rig: the topmost address", loopback, nil, 0, "127.0.0.1"},
		{"no Received header", nil, nil, -1, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hops := parse(tt.hops)
			got := trustedHop(hops, tt.trusted)
			if got != tt.want {
				t.Fatalf("trusted hop %d, want %d", got, tt.want)
			}
			if got >= 0 && hops[got].hop.FromIP != tt.ip {
				t.Errorf("IP %s, want %s", hops[got].hop.FromIP, tt.ip)
			}
		})
	}
}

func TestRouteDelays(t *testing.T) {
	hops := []received{
		parseReceived("from b (b [192.0.2.2]) by c with ESMTPS id 3; Wed, 4 Mar 2026 12:40:00 +0000"),
		parseReceived("from a (a [192.0.2.1]) by b with ESMTPS id 2; Wed, 4 Mar 2026 12:00:05 +0000"),
		parseReceived("from client by a with ESMTPSA id 1; Wed, 4 Mar 2026 13:00:02 +0100"),
	}
	date := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	r := route(hops, date)
	want := []int64{2000, 3000, 2395000}
	for i, h := range r {
		if h.DelayMS == nil || *h.DelayMS != want[i] {
			t.Errorf("hop %d (by %s): delay %v, want %d ms", i+1, h.By, h.DelayMS, want[i])
		}
	}
	if r[0].By != "a" || r[2].By != "c" {
		t.Errorf("route not oldest first: %s ... %s", r[0].By, r[2].By)
	}
	fs := routeFindings(r)
	if len(fs) != 1 || fs[0].ID != "msg.hop-delay" || fs[0].Subject != "Received 3 (by c)" {
		t.Errorf("route findings: %v", listFindings(fs))
	}
}
