package refserver

import (
	"bytes"
	"context"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/checks/dane"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// A fixture zone with placeholders, as a DANE scenario writes it.
func placeholderZone() string {
	return "$ORIGIN example.test.\n" +
		"@ 300 IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n" +
		"@ 300 IN NS ns1\n" +
		"; 3 1 1 for the served leaf, 2 0 1 for its issuer, 2 1 2 for the root\n" +
		"_25._tcp.mail 300 IN TLSA 3 1 1 " + TLSAPlaceholder("leaf", dane.SHA256) + "\n" +
		"_25._tcp.mail 300 IN TLSA 2 0 1 " + strings.ToUpper(TLSAPlaceholder("issuer", dane.SHA256)) + "\n" +
		"_25._tcp.mx2 300 IN TLSA 2 1 2 ( " + TLSAPlaceholder("root", dane.SHA512) + " )\n" +
		"_25._tcp.bad 300 IN TLSA 3 1 1 " + strings.Repeat("ab", 32) + "\n"
}

func TestFillTLSAMatchesTheServedChain(t *testing.T) {
	s := startScenario(t, "default")
	served, err := s.servedCerts()
	if err != nil {
		t.Fatal(err)
	}
	raw := []byte(placeholderZone())
	filled, err := fillTLSA(raw, served)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(filled, []byte("\n")) != bytes.Count(raw, []byte("\n")) {
		t.Error("filling changed the line count: findings would point at wrong lines")
	}
	if !bytes.Contains(filled, []byte(strings.Repeat("ab", 32))) {
		t.Error("ordinary TLSA data was rewritten")
	}
	// The placeholder zone parses on its own too (--zone), with records
	// of the right length.
	for _, data := range [][]byte{raw, filled} {
		if _, err := resolver.NewZone(resolver.ZoneSource{File: "example.test.zone", Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	zone, _ := resolver.NewZone(resolver.ZoneSource{File: "example.test.zone", Data: filled})
	records := func(name string) []dane.Record {
		ans, err := zone.Query(context.Background(), name, dns.TypeTLSA)
		if err != nil {
			t.Fatal(err)
		}
		var out []dane.Record
		for _, rr := range ans.RRs {
			r, err := dane.FromRR(rr.(*dns.TLSA))
			if err != nil || r.Check() != nil {
				t.Fatalf("%s: %v %v", rr, err, r.Check())
			}
			out = append(out, r)
		}
		return out
	}

	// The chain an SMTP client gets after STARTTLS on port 25.
	d := newDialogue(t, dial(t, s, PortSMTP))
	d.smtpReply()
	d.send("EHLO client.example.test")
	d.smtpReply()
	if r := d.cmd("STARTTLS"); !strings.HasPrefix(r, "220") {
		t.Fatalf("STARTTLS: %s", r)
	}
	st := d.startTLS(s)
	chain := st.PeerCertificates

	names := []string{"mail.example.test"}
	mail := records("_25._tcp.mail.example.test")
	for _, r := range mail {
		out := dane.Match([]dane.Record{r}, chain, names, time.Now())
		if out.Matched == nil {
			t.Errorf("%s does not match the served chain: %v", r.Text, out.Reasons)
		}
	}
	// The root is not in the served chain: 2 1 2 names it, and a server
	// must send the anchor for a digest record to match (RFC 7672 §3.1.2).
	root := records("_25._tcp.mx2.example.test")
	if out := dane.Match(root, chain, names, time.Now()); out.Matched != nil {
		t.Error("a digest of the root matched a chain that does not hold the root")
	}
	if out := dane.Match(root, append(chain[:len(chain):len(chain)], s.certs.root.Cert), names, time.Now()); out.Matched == nil {
		t.Errorf("with the root sent, 2 1 2 matches: %v", out.Reasons)
	}
	if out := dane.Match(records("_25._tcp.bad.example.test"), chain, names, time.Now()); out.Matched != nil {
		t.Error("a digest of nothing matched")
	}
}

func TestFillTLSAUnknownPlaceholder(t *testing.T) {
	zone := []byte("x 300 IN TLSA 3 1 1 " + TLSAPlaceholder("client", dane.SHA256) + "\n")
	if _, err := fillTLSA(zone, map[string]*x509.Certificate{}); err == nil || !strings.Contains(err.Error(), `"client"`) {
		t.Errorf("an unknown placeholder: %v", err)
	}
}
