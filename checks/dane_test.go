package checks

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailcheck-cli/mailcheck/checks/dane"
	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/pki"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// daneChain is a served chain (leaf for mail.example.com, then its
// issuer) and another leaf, for a record that names a retired key.
func daneChain(t *testing.T) (chain []*x509.Certificate, other *x509.Certificate) {
	t.Helper()
	root, err := pki.NewRoot("test root")
	if err != nil {
		t.Fatal(err)
	}
	inter, err := root.NewIntermediate("test issuer")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := inter.Issue(pki.LeafOptions{Names: []string{"mail.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	old, err := inter.Issue(pki.LeafOptions{Names: []string{"mail.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	return []*x509.Certificate{leaf.Leaf, inter.Cert}, old.Leaf
}

func tlsa(c *x509.Certificate, usage dane.Usage, s dane.Selector, m dane.Matching) string {
	return "_25._tcp.mail IN TLSA " + fmt.Sprintf("%d %d %d", usage, s, m) + " " +
		hex.EncodeToString(dane.Association(c, s, m)) + "\n"
}

// daneDomain gathers example.com from a zone holding tlsaLines, signed
// when sign is set (tamper then alters the TLSA data after signing), and
// hands the DANE judge the chains the probes saw.
func daneDomain(t *testing.T, tlsaLines string, sign, tamper bool, served ...[]*x509.Certificate) *facts.Domain {
	t.Helper()
	text := "$ORIGIN example.com.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ IN NS ns1\n@ IN NS ns2\n" +
		"ns1 IN A 192.0.2.53\nns2 IN A 192.0.2.54\n@ IN MX 10 mail\nmail IN A 192.0.2.25\n" + tlsaLines
	data := []byte(text)
	if sign {
		now := time.Now()
		var err error
		if data, err = resolver.SignZone(data, "example.com.", resolver.SignOptions{Inception: now.Add(-time.Hour), Expiration: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if tamper {
			// The signature stays; the record it covered changes.
			i := strings.Index(string(data), "TLSA 3 1 1 ") + len("TLSA 3 1 1 ")
			if data[i] == '0' {
				data[i] = '1'
			} else {
				data[i] = '0'
			}
		}
	}
	z, err := resolver.NewZone(resolver.ZoneSource{File: "example.com.zone", Origin: "example.com.", Data: data})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := gather(ctx, &Env{Resolver: resolver.NewCache(z), Zone: z}, "example.com")
	for _, c := range served {
		// A nil chain: the server answered without offering STARTTLS.
		d.DANE.Served = append(d.DANE.Served, facts.ServedChain{Host: "mail.example.com", Addr: "192.0.2.25:25", Chain: c, NoTLS: c == nil})
	}
	return d
}

// The DANE judge (RFC 7672) on zones signed at test time and chains made
// at test time: what senders do with each kind of TLSA RRset.
func TestJudgeDANE(t *testing.T) {
	chain, old := daneChain(t)
	ee := tlsa(chain[0], dane.DANEEE, dane.SPKI, dane.SHA256)
	ta := tlsa(chain[1], dane.DANETA, dane.Cert, dane.SHA256)
	tests := []struct {
		name    string
		d       *facts.Domain
		want    []want
		notWant []string
	}{
		{"no TLSA record", daneDomain(t, "", true, false), []want{{"dane.missing", finding.Info, "_25._tcp.mail.example.com TLSA"}}, nil},
		{"unsigned", daneDomain(t, ee, false, false, chain), []want{{"dane.unsigned", finding.Warn, "_25._tcp.mail.example.com TLSA"}}, []string{"dane.ok"}},
		{"signed, not probed", daneDomain(t, ee, true, false), []want{{"dane.ok", finding.Pass, "_25._tcp.mail.example.com TLSA"}}, nil},
		{"DANE-EE matches the served key", daneDomain(t, ee, true, false, chain), []want{{"dane.ok", finding.Pass, "_25._tcp.mail.example.com TLSA"}}, nil},
		{"DANE-TA matches the served issuer", daneDomain(t, ta, true, false, chain), []want{{"dane.ok", finding.Pass, "_25._tcp.mail.example.com TLSA"}}, nil},
		{"a retired key", daneDomain(t, tlsa(old, dane.DANEEE, dane.SPKI, dane.SHA256), true, false, chain),
			[]want{{"dane.mismatch", finding.Fail, "_25._tcp.mail.example.com TLSA"}}, []string{"dane.ok"}},
		{"PKIX usage only", daneDomain(t, tlsa(chain[0], dane.PKIXEE, dane.SPKI, dane.SHA256), true, false, chain),
			[]want{{"dane.unusable", finding.Warn, "_25._tcp.mail.example.com TLSA"}}, []string{"dane.ok", "dane.mismatch"}},
		{"no STARTTLS", daneDomain(t, ee, true, false, nil),
			[]want{{"dane.mismatch", finding.Fail, "_25._tcp.mail.example.com TLSA"}}, []string{"dane.ok"}},
		{"a signature that does not verify", daneDomain(t, ee, true, true, chain),
			[]want{{"dnssec.bogus", finding.Fail, "_25._tcp.mail.example.com TLSA"}}, []string{"dane.ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := judgeDANE(tt.d)
			assertFindings(t, res.Findings, tt.want...)
			assertNoFindings(t, res.Findings, tt.notWant...)
		})
	}
}
