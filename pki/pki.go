// Package pki makes the certificates the reference server presents and the
// tests trust: a CA, optionally an intermediate, and leaves with whatever
// defect a scenario needs (expired, expiring, self-signed, wrong name,
// short RSA key). Everything is generated at run time; no key is stored.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"

	"golang.org/x/crypto/ocsp"
)

// Authority is a certificate authority that can issue leaves.
type Authority struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// Chain holds the certificates between a leaf this authority issues and
	// the root (empty for a root; the root itself is never sent).
	Chain []*x509.Certificate
	// Root is the self-signed certificate clients must trust.
	Root *x509.Certificate
}

// NewRoot creates a self-signed root CA valid from an hour ago for ten years.
func NewRoot(commonName string) (*Authority, error) {
	cert, key, err := newCA(commonName, 10, nil)
	if err != nil {
		return nil, err
	}
	return &Authority{Cert: cert, Key: key, Root: cert}, nil
}

// NewIntermediate creates a CA signed by a.
func (a *Authority) NewIntermediate(commonName string) (*Authority, error) {
	cert, key, err := newCA(commonName, 5, a)
	if err != nil {
		return nil, err
	}
	chain := append([]*x509.Certificate{cert}, a.Chain...)
	return &Authority{Cert: cert, Key: key, Chain: chain, Root: a.Root}, nil
}

// newCA creates a CA key and certificate valid from an hour ago for years
// years, signed by parent, or by itself when parent is nil. A CA with a
// parent may issue only leaves (path length zero), as the test PKI's
// intermediates do.
func newCA(commonName string, years int, parent *Authority) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"mailcheck test PKI"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(years, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        parent != nil,
	}
	issuer, signer := tmpl, crypto.Signer(key)
	if parent != nil {
		issuer, signer = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// LeafOptions describe a server certificate.
type LeafOptions struct {
	Names     []string // DNS names and IP addresses (SANs); the first is the CN
	NotBefore time.Time
	NotAfter  time.Time // zero: 90 days from now
	RSABits   int       // 0: ECDSA P-256; otherwise an RSA key of this size
	// SelfSigned makes the leaf sign itself instead of using the authority.
	SelfSigned bool
	// OmitChain leaves the intermediates out of the served chain (the
	// "missing intermediate" misconfiguration).
	OmitChain bool
	// IssuerURL is put in the Authority Information Access extension as
	// the "CA Issuers" URL (RFC 5280 §4.2.2.1): where clients may fetch
	// the issuing CA's certificate.
	IssuerURL string
	// CorruptSignature damages the signature after issuance: the
	// certificate parses, but its signature does not verify.
	CorruptSignature bool
}

// Issue creates a leaf and returns it ready to serve: the certificate
// followed by the authority's intermediates (unless OmitChain).
func (a *Authority) Issue(o LeafOptions) (tls.Certificate, error) {
	var key crypto.Signer
	var err error
	if o.RSABits > 0 {
		key, err = rsa.GenerateKey(rand.Reader, o.RSABits)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return tls.Certificate{}, err
	}
	if len(o.Names) == 0 {
		return tls.Certificate{}, fmt.Errorf("pki: a leaf needs at least one name")
	}
	now := time.Now()
	if o.NotBefore.IsZero() {
		o.NotBefore = now.Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = now.AddDate(0, 0, 90)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: o.Names[0]},
		NotBefore:    o.NotBefore,
		NotAfter:     o.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if o.IssuerURL != "" {
		tmpl.IssuingCertificateURL = []string{o.IssuerURL}
	}
	for _, n := range o.Names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	parent, signer := a.Cert, a.Key
	if o.SelfSigned {
		parent, signer = tmpl, key
		tmpl.Issuer = tmpl.Subject
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		return tls.Certificate{}, err
	}
	if o.CorruptSignature {
		der = corruptSignature(der)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	out := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	if !o.SelfSigned && !o.OmitChain {
		for _, c := range a.Chain {
			out.Certificate = append(out.Certificate, c.Raw)
		}
	}
	return out, nil
}

// corruptSignature flips a bit near the end of the DER: inside the
// signature value, which ends the certificate. For ECDSA the value is
// itself DER (r and s); the last byte of s can change without breaking
// that encoding, so the certificate still parses.
func corruptSignature(der []byte) []byte {
	out := append([]byte(nil), der...)
	out[len(out)-1] ^= 0x01
	return out
}

// OCSPResponse returns a signed OCSP response (RFC 6960) about leaf, as a
// server staples it: good, or revoked an hour ago. The authority must be
// the leaf's issuer; it signs the response itself (RFC 6960 §4.2.2.2).
func (a *Authority) OCSPResponse(leaf *x509.Certificate, revoked bool) ([]byte, error) {
	now := time.Now()
	tmpl := ocsp.Response{
		Status:       ocsp.Good,
		SerialNumber: leaf.SerialNumber,
		ThisUpdate:   now.Add(-time.Hour),
		NextUpdate:   now.AddDate(0, 0, 7),
	}
	if revoked {
		tmpl.Status = ocsp.Revoked
		tmpl.RevokedAt = now.Add(-time.Hour)
		tmpl.RevocationReason = ocsp.KeyCompromise
	}
	return ocsp.CreateResponse(a.Cert, a.Cert, tmpl, a.Key)
}

// Pool returns a pool holding only this authority's root.
func (a *Authority) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(a.Root)
	return p
}

// PEM returns the root certificate in PEM, as `serve --ca-out` writes it.
func (a *Authority) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.Root.Raw})
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic("pki: no randomness: " + err.Error())
	}
	return n
}
