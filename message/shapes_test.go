package message

import (
	"testing"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// Whole messages as Gmail and Microsoft 365 deliver them to a mailbox,
// written for this project after the shape of real ones: the receiver's
// internal hops on top, its border hop, its Authentication-Results (and,
// at Gmail, ARC) and the sender's signed message below.

func TestGmailInboundShape(t *testing.T) {
	key := rsaKey(t, 2048)
	z := world(keyRecord(t, "s1._domainkey.example.com", key))
	signed := sign(t, base(), signOpts{domain: "example.com", selector: "s1", key: key})
	b := sigValue(t, signed, "b")[:8]
	ar := "mx.google.example;\r\n       dkim=pass header.i=@example.com header.s=s1 header.b=" + b + ";\r\n" +
		"       spf=pass (google.example: domain of alice@example.com designates 192.0.2.10 as permitted sender) smtp.mailfrom=alice@example.com;\r\n" +
		"       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.com"
	m := prepend(signed,
		"Delivered-To: bob@gmail.example",
		"Received: by 2002:a05:7000:1f8c:b0:5e1:2a3b:4c5d with SMTP id hx12csp1234567mab;\r\n        Tue, 3 Mar 2026 02:00:05 -0800 (PST)",
		"X-Received: by 2002:a17:906:1234:b0:abc:def0:1234 with SMTP id a1mr123456ejb.12.1772532005123;\r\n        Tue, 03 Mar 2026 02:00:05 -0800 (PST)",
		"ARC-Seal: i=1; a=rsa-sha256; t=1772532005; cv=none;\r\n        d=google.example; s=arc-20240605;\r\n        b=AAAA",
		"ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=google.example; s=arc-20240605;\r\n        h=message-id:date:subject:to:from; bh=AAAA; b=AAAA",
		"ARC-Authentication-Results: i=1; "+ar,
		"Return-Path: <alice@example.com>",
		"Received: from out.example.com (out.example.com. [192.0.2.10])\r\n        by mx.google.example with ESMTPS id 5b1f17b1804b1-4a1b2c3d4e5si1234567f9.8.2026.03.03.02.00.04\r\n"+
			"        for <bob@gmail.example>\r\n        (version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256);\r\n        Tue, 03 Mar 2026 02:00:04 -0800 (PST)",
		"Received-SPF: pass (google.example: domain of alice@example.com designates 192.0.2.10 as permitted sender) client-ip=192.0.2.10;",
		"Authentication-Results: "+ar,
	)
	a := analyze(t, z, m)
	checkFindings(t, a,
		expect{"msg.ok", finding.Pass, "d=example.com s=s1"},
		expect{"msg.ok", finding.Pass, "example.com (SPF, 192.0.2.10)"},
		expect{"msg.ok", finding.Pass, "_dmarc.example.com"},
	)
	msg := a.Message
	if msg.SPF.TrustedHop != "mx.google.example" || msg.SPF.Hop != 1 {
		t.Errorf("trusted hop %q (hop %d), want mx.google.example (hop 1)", msg.SPF.TrustedHop, msg.SPF.Hop)
	}
	if len(msg.Route) != 2 || msg.Route[0].TLS != "TLS1.3" || msg.Route[0].Cipher != "TLS_AES_256_GCM_SHA384" || !msg.Route[0].Trusted {
		t.Errorf("route: %+v", msg.Route)
	}
	if msg.ARC == nil || msg.ARC.Instances != 1 || msg.ARC.Sealers[0] != "google.example" {
		t.Errorf("ARC: %+v", msg.ARC)
	}
	if len(msg.AuthResults) != 2 || msg.AuthResults[0].Instance != 1 || msg.AuthResults[1].AuthServID != "mx.google.example" {
		t.Errorf("Authentication-Results: %+v", msg.AuthResults)
	}
}

func TestMicrosoft365InboundShape(t *testing.T) {
	key := edKey(t)
	z := world(keyRecord(t, "selector1._domainkey.example.com", key))
	signed := sign(t, base(), signOpts{domain: "example.com", selector: "selector1", key: key})
	m := prepend(signed,
		"Received: from AM0PR04MB1234.eurprd04.prod.outlook.example (2603:10a6:208:1::12) by\r\n DB9PR04MB5678.eurprd04.prod.outlook.example with HTTPS; Tue, 3 Mar 2026\r\n 10:00:06 +0000",
		"Received: from AM6P195CA0011.EURP195.PROD.OUTLOOK.EXAMPLE (2603:10a6:209:81::24)\r\n by AM0PR04MB1234.eurprd04.prod.outlook.example (2603:10a6:208:1::12) with\r\n"+
			" Microsoft SMTP Server (version=TLS1_2,\r\n cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.8000.1; Tue, 3 Mar\r\n 2026 10:00:06 +0000",
		"Received: from AMS0EPF000001A0.eurprd05.prod.outlook.example\r\n (2603:10a6:209:81:cafe::2f) by AM6P195CA0011.outlook.office365.example\r\n (2603:10a6:209:81::24) with Microsoft SMTP Server (version=TLS1_3,\r\n"+
			" cipher=TLS_AES_256_GCM_SHA384) id 15.20.8000.1 via Frontend Transport; Tue, 3 Mar\r\n 2026 10:00:05 +0000",
		"Authentication-Results: spf=pass (sender IP is 192.0.2.10)\r\n smtp.mailfrom=example.com; dkim=pass (signature was verified)\r\n"+
			" header.d=example.com;dmarc=pass action=none\r\n header.from=example.com;compauth=pass reason=100",
		"Received-SPF: Pass (protection.outlook.example: domain of example.com designates\r\n 192.0.2.10 as permitted sender) receiver=protection.outlook.example;\r\n client-ip=192.0.2.10; helo=out.example.com; pr=C",
		"Received: from out.example.com (192.0.2.10) by\r\n AMS0EPF000001A0.mail.protection.outlook.example (10.167.16.0) with Microsoft\r\n"+
			" SMTP Server (version=TLS1_3, cipher=TLS_AES_256_GCM_SHA384) id\r\n 15.20.8000.1 via Frontend Transport; Tue, 3 Mar 2026 10:00:04 +0000",
		"Return-Path: alice@example.com",
	)
	a := analyze(t, z, m)
	checkFindings(t, a,
		expect{"msg.ok", finding.Pass, "d=example.com s=selector1"},
		expect{"msg.ok", finding.Pass, "example.com (SPF, 192.0.2.10)"},
		expect{"msg.ok", finding.Pass, "_dmarc.example.com"},
	)
	msg := a.Message
	if msg.SPF.TrustedHop != "ams0epf000001a0.mail.protection.outlook.example" || msg.ReturnPath != "<alice@example.com>" {
		t.Errorf("trusted hop %q, return path %q", msg.SPF.TrustedHop, msg.ReturnPath)
	}
	if len(msg.Route) != 4 || msg.Route[0].TLS != "TLS1.3" || msg.Route[2].TLS != "TLS1.2" || msg.Route[3].With != "HTTPS" {
		t.Errorf("route: %+v", msg.Route)
	}
	if ar := msg.AuthResults; len(ar) != 1 || ar[0].AuthServID != "" || len(ar[0].Results) != 4 {
		t.Errorf("Authentication-Results: %+v", ar)
	}

	// The same delivery with the key gone since: Microsoft's verdict and
	// mailcheck's disagree, matched by header.d alone.
	a = analyze(t, world(), m)
	checkFindings(t, a,
		expect{"msg.dkim-key-missing", finding.Fail, "s=selector1"},
		expect{"msg.authres-mismatch", finding.Warn, "Authentication-Results"},
		expect{"msg.ok", finding.Pass, "SPF"},
		expect{"msg.ok", finding.Pass, "_dmarc"},
	)
}
