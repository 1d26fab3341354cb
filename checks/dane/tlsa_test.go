package dane

import (
	"crypto/x509"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/pki"
)

// testChain issues mail.example.com from an intermediate under a root and
// returns the served chain (leaf, intermediate) and the root.
func testChain(t *testing.T, o pki.LeafOptions) (chain []*x509.Certificate, root *x509.Certificate) {
	t.Helper()
	r, err := pki.NewRoot("test root")
	if err != nil {
		t.Fatal(err)
	}
	inter, err := r.NewIntermediate("test intermediate")
	if err != nil {
		t.Fatal(err)
	}
	if o.Names == nil {
		o.Names = []string{"mail.example.com"}
	}
	tc, err := inter.Issue(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, der := range tc.Certificate {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, c)
	}
	return chain, r.Cert
}

func rec(t *testing.T, u Usage, s Selector, m Matching, cert *x509.Certificate) Record {
	t.Helper()
	r, err := Parse(uint8(u), uint8(s), uint8(m), hex.EncodeToString(Association(cert, s, m)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestMatch(t *testing.T) {
	chain, root := testChain(t, pki.LeafOptions{})
	other, _ := testChain(t, pki.LeafOptions{})
	expired, _ := testChain(t, pki.LeafOptions{NotBefore: time.Now().AddDate(0, -3, 0), NotAfter: time.Now().AddDate(0, 0, -1)})
	leaf, inter := chain[0], chain[1]
	names := []string{"mail.example.com."}
	now := time.Now()
	rootKey, err := Parse(2, 1, 0, hex.EncodeToString(root.RawSubjectPublicKeyInfo))
	if err != nil {
		t.Fatal(err)
	}
	short := rec(t, DANEEE, SPKI, SHA256, leaf)
	short.Data = short.Data[:31]

	tests := []struct {
		name     string
		records  []Record
		chain    []*x509.Certificate
		names    []string
		matched  bool
		depth    int
		usable   int
		unusable Fault
		reason   string
	}{
		{name: "3 1 1: the server's key", records: []Record{rec(t, DANEEE, SPKI, SHA256, leaf)}, chain: chain, matched: true, usable: 1},
		{name: "3 0 1: the server's certificate", records: []Record{rec(t, DANEEE, Cert, SHA256, leaf)}, chain: chain, matched: true, usable: 1},
		{name: "3 1 2: SHA-512", records: []Record{rec(t, DANEEE, SPKI, SHA512, leaf)}, chain: chain, matched: true, usable: 1},
		{name: "3 0 0: the whole certificate", records: []Record{rec(t, DANEEE, Cert, Full, leaf)}, chain: chain, matched: true, usable: 1},
		{name: "3 1 1: another key", records: []Record{rec(t, DANEEE, SPKI, SHA256, other[0])}, chain: chain, usable: 1},
		{name: "rollover: the old key beside the new one", records: []Record{rec(t, DANEEE, SPKI, SHA256, other[0]), rec(t, DANEEE, SPKI, SHA256, leaf)}, chain: chain, matched: true, usable: 2},
		{name: "3 1 1 ignores dates (RFC 7672 §3.1.1)", records: []Record{rec(t, DANEEE, SPKI, SHA256, expired[0])}, chain: expired, matched: true, usable: 1},
		{name: "2 0 1: the intermediate", records: []Record{rec(t, DANETA, Cert, SHA256, inter)}, chain: chain, names: names, matched: true, depth: 1, usable: 1},
		{name: "2 0 1: the leaf does not name the MX host", records: []Record{rec(t, DANETA, Cert, SHA256, inter)}, chain: chain,
			names: []string{"mx.example.net"}, usable: 1, reason: "does not name mx.example.net"},
		{name: "2 0 1: dates apply", records: []Record{rec(t, DANETA, Cert, SHA256, expired[1])}, chain: expired, names: names,
			usable: 1, reason: "validity dates"},
		{name: "2 1 1: root not sent by the server", records: []Record{rec(t, DANETA, SPKI, SHA256, root)}, chain: chain, names: names, usable: 1},
		{name: "2 1 1: root sent by the server", records: []Record{rec(t, DANETA, SPKI, SHA256, root)}, chain: append(chain[:2:2], root), names: names, matched: true, depth: 2, usable: 1},
		{name: "2 1 0: the root's key signs the intermediate", records: []Record{rootKey}, chain: chain, names: names, matched: true, depth: 1, usable: 1},
		{name: "2 0 1 naming the leaf is not a trust anchor", records: []Record{rec(t, DANETA, Cert, SHA256, leaf)}, chain: chain, names: names, usable: 1},
		{name: "1 1 1: PKIX-EE is not for SMTP", records: []Record{rec(t, PKIXEE, SPKI, SHA256, leaf)}, chain: chain, unusable: FaultPKIX},
		{name: "3 1 1 with 31 bytes", records: []Record{short}, chain: chain, unusable: FaultLength},
		{name: "unknown matching type", records: []Record{{Usage: DANEEE, Selector: SPKI, Matching: 3, Data: []byte{1}, Text: "3 1 3 01"}}, chain: chain, unusable: FaultMatching},
		{name: "3 0 0 that is not a certificate", records: []Record{{Usage: DANEEE, Selector: Cert, Matching: Full, Data: []byte{1, 2}, Text: "3 0 0 0102"}}, chain: chain, unusable: FaultDER},
		{name: "no chain", records: []Record{rec(t, DANEEE, SPKI, SHA256, leaf)}, usable: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := Match(tt.records, tt.chain, tt.names, now)
			if (out.Matched != nil) != tt.matched || out.Depth != tt.depth || out.Usable != tt.usable {
				t.Errorf("matched %v depth %d usable %d, want %v %d %d (reasons %v, unusable %v)",
					out.Matched, out.Depth, out.Usable, tt.matched, tt.depth, tt.usable, out.Reasons, out.Unusable)
			}
			if tt.unusable != "" {
				var re *RecordError
				if len(out.Unusable) != 1 || !errors.As(out.Unusable[0], &re) || re.Fault != tt.unusable {
					t.Errorf("unusable %v, want %q", out.Unusable, tt.unusable)
				}
			}
			if tt.reason != "" && (len(out.Reasons) != 1 || !strings.Contains(out.Reasons[0], tt.reason)) {
				t.Errorf("reasons %v, want one with %q", out.Reasons, tt.reason)
			}
		})
	}
}

func TestFromRRAndName(t *testing.T) {
	rr, err := dns.NewRR("_25._tcp.mail.example.com. 300 IN TLSA 3 1 1 " + strings.Repeat("AB", 32))
	if err != nil {
		t.Fatal(err)
	}
	r, err := FromRR(rr.(*dns.TLSA))
	if err != nil || r.Usage != DANEEE || r.Selector != SPKI || r.Matching != SHA256 || len(r.Data) != 32 || r.Check() != nil {
		t.Errorf("%+v, %v, check %v", r, err, r.Check())
	}
	if !strings.HasPrefix(r.Text, "3 1 1 abab") {
		t.Errorf("text %q", r.Text)
	}
	if _, err := Parse(3, 1, 1, "zz"); err == nil {
		t.Error("non-hex data accepted")
	}
	if got := TLSAName(25, "Mail.Example.com"); got != "_25._tcp.mail.example.com." {
		t.Error(got)
	}
	if DANEEE.String() != "DANE-EE(3)" || SPKI.String() != "SPKI(1)" || SHA256.String() != "SHA2-256(1)" {
		t.Error("names of the fields (RFC 7218)")
	}
}
