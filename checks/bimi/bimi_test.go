package bimi

import (
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailcheck-cli/mailcheck/checks/dmarc"
)

func TestParseRecord(t *testing.T) {
	tests := []struct {
		name, txt     string
		tag           string // the tag a SyntaxError must name; "-" for no error
		loc, evidence string
		declined      bool
	}{
		{"logo and evidence", "v=BIMI1; l=https://example.com/bimi/logo.svg; a=https://example.com/bimi/vmc.pem", "-",
			"https://example.com/bimi/logo.svg", "https://example.com/bimi/vmc.pem", false},
		{"logo only", "v=BIMI1; l=https://example.com/logo.svg;", "-", "https://example.com/logo.svg", "", false},
		{"TAB separated", "v=BIMI1;\tl=https://example.com/logo.svg;\ta=", "-", "https://example.com/logo.svg", "", false},
		{"declination", "v=BIMI1; l=; a=;", "-", "", "", true},
		{"declination without a=", "v=BIMI1; l=", "-", "", "", true},
		{"unknown tag ignored", "v=BIMI1; l=https://example.com/l.svg; avp=brand", "-", "https://example.com/l.svg", "", false},
		{"version case matters", "v=bimi1; l=https://example.com/l.svg", "v", "", "", false},
		{"version not first", "l=https://example.com/l.svg; v=BIMI1", "v", "", "", false},
		{"http logo", "v=BIMI1; l=http://example.com/l.svg", "l", "", "", false},
		{"two logos", "v=BIMI1; l=https://a.example.com/l.svg,https://b.example.com/l.svg", "l", "", "", false},
		{"no l", "v=BIMI1; a=https://example.com/vmc.pem", "l", "", "", false},
		{"host not qualified", "v=BIMI1; l=https://logo/l.svg", "l", "", "", false},
		{"repeated tag", "v=BIMI1; l=; l=https://example.com/l.svg", "l", "", "", false},
		{"http evidence", "v=BIMI1; l=https://example.com/l.svg; a=http://example.com/vmc.pem", "a", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRecord(tt.txt)
			if tt.tag != "-" {
				se, ok := err.(*SyntaxError)
				if !ok || se.Tag != tt.tag {
					t.Fatalf("got %+v, %v; want a syntax error at %s=", r, err, tt.tag)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Location != tt.loc || r.Evidence != tt.evidence || r.Declined() != tt.declined {
				t.Errorf("got %+v declined %v", r, r.Declined())
			}
		})
	}
	// A wildcard's SPF record at default._bimi is not a BIMI record.
	if !IsBIMI("v=BIMI1; l=") || !IsBIMI("v=bimi1; l=") || IsBIMI("l=x") || IsBIMI("") || IsBIMI("v=spf1 -all") {
		t.Error("IsBIMI")
	}
	if RecordName(DefaultSelector, "example.com.") != "default._bimi.example.com" {
		t.Error(RecordName(DefaultSelector, "example.com."))
	}
}

func TestDMARCBlocks(t *testing.T) {
	tests := []struct {
		record    string
		inherited bool
		want      DMARCBlock
	}{
		{"v=DMARC1; p=reject", false, ""},
		{"v=DMARC1; p=quarantine", false, ""},
		{"v=DMARC1; p=quarantine; pct=100", false, ""},
		{"v=DMARC1; p=quarantine; pct=50", false, BlockPartial},
		{"v=DMARC1; p=none", false, BlockPolicyNone},
		{"v=DMARC1; p=reject; sp=none", false, BlockSubdomainNone},
		{"v=DMARC1; p=reject; sp=none", true, BlockPolicyNone},
	}
	for _, tt := range tests {
		rec, err := dmarc.Parse(tt.record)
		if err != nil {
			t.Fatal(err)
		}
		if got := DMARCBlocks(rec, rec.PolicyFor(tt.inherited, true).Policy); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.record, got, tt.want)
		}
	}
	if DMARCBlocks(nil, "") != BlockNoPolicy {
		t.Error("no DMARC record blocks BIMI")
	}
}

const goodSVG = `<?xml version="1.0" encoding="UTF-8"?>
<svg version="1.2" baseProfile="tiny-ps" xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 100 100">
  <title>Example Brand</title>
  <defs><linearGradient id="g"><stop offset="0" stop-color="#fff"/></linearGradient></defs>
  <rect width="100" height="100" fill="url(#g)"/>
  <use xlink:href="#g"/>
  <path d="M10 10 L90 90" stroke="#000"/>
</svg>`

func TestCheckSVG(t *testing.T) {
	mutate := func(old, new string) []byte { return []byte(strings.Replace(goodSVG, old, new, 1)) }
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(goodSVG))
	zw.Close()
	tests := []struct {
		name string
		data []byte
		want []ProblemCode
	}{
		{"valid Tiny PS", []byte(goodSVG), nil},
		{"valid SVGZ", gz.Bytes(), nil},
		{"plain SVG 1.1", mutate(`version="1.2" baseProfile="tiny-ps"`, `version="1.1"`), []ProblemCode{ProblemProfile, ProblemProfile}},
		{"script", mutate("<title>", `<script>alert(1)</script><title>`), []ProblemCode{ProblemDisallowed}},
		{"raster image", mutate("<title>Example Brand</title>", `<title>Example Brand</title><image xlink:href="data:image/png;base64,AA=="/>`),
			[]ProblemCode{ProblemDisallowed, ProblemExternalRef}},
		{"animation", mutate(`<path`, `<animate attributeName="x"/><path`), []ProblemCode{ProblemDisallowed}},
		{"external reference", mutate(`xlink:href="#g"`, `xlink:href="https://cdn.example/logo.svg#g"`), []ProblemCode{ProblemExternalRef}},
		{"external paint server", mutate(`fill="url(#g)"`, `fill="url(https://cdn.example/p.svg#g)"`), []ProblemCode{ProblemExternalRef}},
		{"event handler", mutate(`<rect `, `<rect onclick="x()" `), []ProblemCode{ProblemEventHandler}},
		{"not square", mutate(`viewBox="0 0 100 100"`, `viewBox="0 0 200 100"`), []ProblemCode{ProblemNotSquare}},
		{"square by width and height", mutate(`viewBox="0 0 100 100"`, `width="64px" height="64"`), nil},
		{"no dimensions", mutate(`viewBox="0 0 100 100"`, ``), []ProblemCode{ProblemNoDimensions}},
		{"no title", mutate("<title>Example Brand</title>", ""), []ProblemCode{ProblemNoTitle}},
		{"x and y on the root", mutate(`viewBox=`, `x="0" y="0" viewBox=`), []ProblemCode{ProblemRootXY, ProblemRootXY}},
		{"doctype with an entity", mutate(`<svg `, `<!DOCTYPE svg [<!ENTITY e "x">]><svg `), []ProblemCode{ProblemEntity}},
		{"style import", mutate(`<path`, `<style>@import url(https://x.example/a.css);</style><path`), []ProblemCode{ProblemExternalRef}},
		{"not SVG", []byte(`<html><body/></html>`), []ProblemCode{ProblemNotSVG}},
		{"not XML", []byte("\x89PNG\r\n"), []ProblemCode{ProblemNotSVG}},
		{"too large", mutate(`<path`, "<desc>"+strings.Repeat("x", MaxSVGSize)+"</desc><path"), []ProblemCode{ProblemTooLarge}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []ProblemCode
			for _, p := range CheckSVG(tt.data) {
				got = append(got, p.Code)
				if p.Detail == "" {
					t.Errorf("%s without detail", p.Code)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems %v, want %v (%+v)", got, tt.want, CheckSVG(tt.data))
			}
		})
	}
}

func FuzzCheckSVG(f *testing.F) {
	f.Add([]byte(goodSVG))
	f.Add([]byte(`<svg xmlns="http://www.w3.org/2000/svg"><title/></svg>`))
	f.Fuzz(func(t *testing.T, data []byte) { CheckSVG(data) })
}

// markChain makes a CA and a certificate issued by it; mark says whether
// the leaf has the BIMI key usage and a logotype extension.
func markChain(t *testing.T, names []string, mark bool, notAfter time.Time) (leaf, ca *x509.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test mark CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ = x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Example Brand"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter, DNSNames: names}
	if mark {
		tmpl.UnknownExtKeyUsage = []asn1.ObjectIdentifier{OIDBrandIndicator}
		tmpl.ExtraExtensions = []pkix.Extension{{Id: OIDLogotype, Value: []byte{0x30, 0x00}}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ = x509.ParseCertificate(der)
	return leaf, ca
}

func pemOf(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

func TestParseEvidence(t *testing.T) {
	year := time.Now().AddDate(1, 0, 0)
	mark, ca := markChain(t, []string{"example.com"}, true, year)
	plain, plainCA := markChain(t, []string{"example.com"}, false, year)
	expired, expiredCA := markChain(t, []string{"example.com"}, true, time.Now().Add(-time.Minute))
	tests := []struct {
		name   string
		data   []byte
		domain string
		want   []EvidenceProblem
	}{
		{"mark then its issuer", pemOf(mark, ca), "example.com", nil},
		{"a subdomain's record", pemOf(mark, ca), "news.example.com", nil},
		{"issuer first", pemOf(ca, mark), "example.com", []EvidenceProblem{EvidenceNotMark, EvidenceOrder}},
		{"not a mark certificate", pemOf(plain, plainCA), "example.com", []EvidenceProblem{EvidenceNotMark}},
		{"expired", pemOf(expired, expiredCA), "example.com", []EvidenceProblem{EvidenceExpired}},
		{"another domain", pemOf(mark, ca), "example.net", []EvidenceProblem{EvidenceOtherDomain}},
		{"empty", nil, "example.com", []EvidenceProblem{EvidenceEmpty}},
		{"HTML error page", []byte("<html>404</html>"), "example.com", []EvidenceProblem{EvidenceNotPEM, EvidenceEmpty}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := ParseEvidence(tt.data, tt.domain, time.Now())
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems %v, want %v", got, tt.want)
			}
		})
	}
}
