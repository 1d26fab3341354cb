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

	mu     sync.Mutex
	leaves map[string]*tls.Certificate
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
		names:  []string{"mail." + domain, "mta-sts." + domain, "autoconfig." + domain, BIMIHost(domain), domain},
		leaves: map[string]*tls.Certificate{},
	}, nil
}

// certFaults are the certificate defects, in the order a port's faults are
// looked at: one leaf carries one defect.
var certFaults = []string{
	FaultCertExpired, FaultCertExpiring, FaultCertSelfSigned, FaultCertUnknownCA,
	FaultCertWrongName, FaultCertMissingIntermediate, FaultCertWeakKey,
}

// leaf returns the certificate with the given defect ("" for a good one).
func (cs *certSet) leaf(defect string) (*tls.Certificate, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c, ok := cs.leaves[defect]; ok {
		return c, nil
	}
	now := time.Now()
	o := pki.LeafOptions{Names: cs.names}
	issuer := cs.inter
	switch defect {
	case FaultCertExpired:
		o.NotBefore, o.NotAfter = now.AddDate(0, 0, -90), now.AddDate(0, 0, -2)
	case FaultCertExpiring:
		o.NotBefore, o.NotAfter = now.AddDate(0, 0, -80), now.AddDate(0, 0, 10)
	case FaultCertSelfSigned:
		o.SelfSigned = true
	case FaultCertUnknownCA:
		other, err := pki.NewRoot("mailcheck unknown CA")
		if err != nil {
			return nil, err
		}
		issuer = other
	case FaultCertWrongName:
		o.Names = []string{"wrong-host.invalid"}
	case FaultCertMissingIntermediate:
		o.OmitChain = true
	case FaultCertWeakKey:
		o.RSABits = 1024
	}
	c, err := issuer.Issue(o)
	if err != nil {
		return nil, err
	}
	cs.leaves[defect] = &c
	return &c, nil
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
	defect := ""
	for _, f := range certFaults {
		if s.fault(f, port) {
			defect = f
			break
		}
	}
	cert, err := s.certs.leaf(defect)
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
	s.mu.Lock()
	s.tlsConfigs[port] = cfg
	s.mu.Unlock()
	return cfg
}
