package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"time"
)

// OIDs of a mark certificate (the AuthIndicators Working Group's VMC
// guidelines; RFC 3709 for the logotype extension).
var (
	oidBIMIKeyUsage = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 31}
	oidLogotype     = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 12}
	oidSHA256       = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
)

// IssueMark makes a mark certificate for domain, as a BIMI evidence
// document holds one: the BIMI extended key usage, the logo embedded in
// the logotype extension (as a data: URI with its SHA-256), valid from an
// hour ago for a year, issued by a. It returns the evidence document: the
// mark certificate and a's intermediates, in PEM, issuer after subject. It
// is a test certificate: no mark certificate authority issued it.
func (a *Authority) IssueMark(domain string, logo []byte) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	ext, err := logotypeExtension(logo)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:       serial(),
		Subject:            pkix.Name{CommonName: domain, Organization: []string{"mailcheck test mark"}},
		DNSNames:           []string{domain},
		NotBefore:          now.Add(-time.Hour),
		NotAfter:           now.AddDate(1, 0, 0),
		KeyUsage:           x509.KeyUsageDigitalSignature,
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{oidBIMIKeyUsage},
		ExtraExtensions:    []pkix.Extension{{Id: oidLogotype, Value: ext}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.Cert, key.Public(), a.Key)
	if err != nil {
		return nil, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	for _, c := range a.Chain {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out, nil
}

// The logotype extension of RFC 3709 §4.1, with a subject logo given
// directly: LogotypeExtn ::= SEQUENCE { subjectLogo [2] EXPLICIT
// LogotypeInfo }, LogotypeInfo ::= CHOICE { direct [0] LogotypeData } (the
// module's tags are implicit).
type hashAlgAndValue struct {
	Alg   pkix.AlgorithmIdentifier
	Value []byte
}

type logotypeDetails struct {
	MediaType string `asn1:"ia5"`
	Hash      []hashAlgAndValue
	URI       []asn1.RawValue // IA5Strings
}

type logotypeImage struct {
	Details logotypeDetails
}

type logotypeData struct {
	Image []logotypeImage
}

func logotypeExtension(logo []byte) ([]byte, error) {
	sum := sha256.Sum256(logo)
	data, err := asn1.Marshal(logotypeData{Image: []logotypeImage{{Details: logotypeDetails{
		MediaType: "image/svg+xml",
		Hash:      []hashAlgAndValue{{Alg: pkix.AlgorithmIdentifier{Algorithm: oidSHA256}, Value: sum[:]}},
		URI: []asn1.RawValue{{Tag: asn1.TagIA5String,
			Bytes: []byte("data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(logo))}},
	}}}})
	if err != nil {
		return nil, err
	}
	var seq asn1.RawValue
	if _, err := asn1.Unmarshal(data, &seq); err != nil {
		return nil, err
	}
	direct, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: seq.Bytes})
	if err != nil {
		return nil, err
	}
	subject, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, IsCompound: true, Bytes: direct})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: subject})
}
