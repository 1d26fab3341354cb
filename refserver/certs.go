package refserver

import (
	"crypto/tls"
	"sync"
	"time"

	"github.com/mailcheck-cli/mailcheck/pki"
)

// certSet holds the PKI of one server: the root given out (`serve
// --ca-out`), the intermediate that issues the leaves, and a leaf per
// certificate defect, made on first use.
type certSet struct {
	root, inter *pki.Authority
	names       []string
	// aiaBase is where the CA certificates are published over HTTP
	// (aia.go), as the leaves' AIA extension says (RFC 5280 §4.2.2.1).
	aiaBase string

	mu      sync.Mutex
	leaves  map[string]*tls.Certificate
	unknown *pki.Authority // the root of cert-unknown-ca, made on first use
}

func newCertSet(domain string) (*certSet, error) {
	root, err := pki.NewRoot("mailcheck reference CA")
	if err != nil {
		return nil, err
	}
	inter, err := root.NewIntermediate("mailcheck reference intermediate CA")
	if err != nil {
		return nil, err
	}
	return &certSet{
		root:  root,
		inter: inter,
		// The names clients use: the MX/client host, the MTA-STS policy
		// host (RFC 8461 §3.3), the autoconfig host, and the bare domain
		// for the well-known autoconfig URL; the BIMI documents' host.
		names:   []string{"mail." + domain, "mta-sts." + domain, "autoconfig." + domain, BIMIHost(domain), domain},
		aiaBase: "http://mail." + domain + "/ca/",
		leaves:  map[string]*tls.Certificate{},
	}, nil
}

// Paths of the CA certificates published for AIA.
const (
	aiaIntermediate = "intermediate.crt"
	aiaUnknownCA    = "unknown-ca.crt"
)

// certFaults are the certificate defects, in the order a port's faults are
// looked at: one leaf carries one defect.
var certFaults = []string{
	FaultCertExpired, FaultCertExpiring, FaultCertSelfSigned, FaultCertUnknownCA,
	FaultCertWrongName, FaultCertMissingIntermediate, FaultCertWeakKey, FaultCertBadSignature, FaultCertRevoked,
}

// leaf returns the certificate with the given defect ("" for a good one):
// ECDSA P-256, or RSA 2048 when rsaKey is set (the DHE and RSA key
// exchange suites need an RSA key). Leaves from the reference CA name the
// intermediate's URL in AIA, as public CAs' leaves do, and staple an OCSP
// response when healthy (good) or revoked.
func (cs *certSet) leaf(defect string, rsaKey bool) (*tls.Certificate, error) {
	key := defect
	if rsaKey {
		key += "/rsa"
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c, ok := cs.leaves[key]; ok {
		return c, nil
	}
	now := time.Now()
	o := pki.LeafOptions{Names: cs.names, IssuerURL: cs.aiaBase + aiaIntermediate}
	if rsaKey {
		o.RSABits = 2048
	}
	issuer := cs.inter
	switch defect {
	case FaultCertExpired:
		o.NotBefore, o.NotAfter = now.AddDate(0, 0, -90), now.AddDate(0, 0, -2)
	case FaultCertExpiring:
		o.NotBefore, o.NotAfter = now.AddDate(0, 0, -80), now.AddDate(0, 0, 10)
	case FaultCertSelfSigned:
		o.SelfSigned = true
	case FaultCertUnknownCA:
		if cs.unknown == nil {
			other, err := pki.NewRoot("mailcheck unknown CA")
			if err != nil {
				return nil, err
			}
			cs.unknown = other
		}
		issuer = cs.unknown
		o.IssuerURL = cs.aiaBase + aiaUnknownCA
	case FaultCertWrongName:
		o.Names = []string{"wrong-host.invalid"}
	case FaultCertMissingIntermediate:
		o.OmitChain = true
	case FaultCertWeakKey:
		o.RSABits = 1024
	case FaultCertBadSignature:
		o.CorruptSignature = true
	}
	c, err := issuer.Issue(o)
	if err != nil {
		return nil, err
	}
	if defect == "" || defect == FaultCertRevoked {
		// RFC 6066 §8: stapled for clients that ask (status_request).
		if c.OCSPStaple, err = cs.inter.OCSPResponse(c.Leaf, defect == FaultCertRevoked); err != nil {
			return nil, err
		}
	}
	cs.leaves[key] = &c
	return &c, nil
}

// caCert returns the DER of a published CA certificate.
func (cs *certSet) caCert(name string) ([]byte, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	switch {
	case name == aiaIntermediate:
		return cs.inter.Cert.Raw, true
	case name == aiaUnknownCA && cs.unknown != nil:
		return cs.unknown.Cert.Raw, true
	}
	return nil, false
}

// tlsConfig is the TLS configuration of one standard port: the leaf with
// the port's certificate defect, TLS 1.2 and up unless tls-legacy.
func (s *Server) tlsConfig(port int) *tls.Config {
	s.mu.Lock()
	cfg := s.tlsConfigs[port]
	s.mu.Unlock()
	if cfg != nil {
		return cfg
	}
	cert, err := s.certs.leaf(s.certDefect(port), s.fault(FaultTLSNoFS, port))
	if err != nil {
		// Key generation only fails without randomness; no TLS then.
		s.logf("%s: certificate: %v", serviceName(port), err)
		cert = &tls.Certificate{}
	}
	cfg = &tls.Config{
		Certificates: []tls.Certificate{*cert},
		// RFC 8996 deprecates TLS 1.0 and 1.1; RFC 8314 §4.1 asks for 1.2+.
		MinVersion: tls.VersionTLS12,
	}
	if s.fault(FaultTLSLegacy, port) {
		// An explicit MinVersion is honoured by crypto/tls without any
		// GODEBUG setting (tls10server only changes the default), and the
		// ECDHE-ECDSA CBC suites TLS 1.0/1.1 need are still in the default
		// suite list.
		cfg.MinVersion = tls.VersionTLS10
	}
	if s.fault(FaultTLSNoFS, port) {
		// RSA key exchange only, up to TLS 1.2 (TLS 1.3 always has
		// forward secrecy). Explicit suites are honoured although
		// crypto/tls left them out of its defaults (GODEBUG tlsrsakex).
		cfg.MaxVersion = tls.VersionTLS12
		cfg.CipherSuites = []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_RSA_WITH_AES_128_CBC_SHA}
	}
	s.mu.Lock()
	s.tlsConfigs[port] = cfg
	s.mu.Unlock()
	return cfg
}

// certDefect is the certificate fault on for port, "" for none.
func (s *Server) certDefect(port int) string {
	for _, f := range certFaults {
		if s.fault(f, port) {
			return f
		}
	}
	return ""
}
