package refserver

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"github.com/mailcheck-cli/mailcheck/checks/dane"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// DANE scenarios need TLSA records that match the certificates the server
// makes at start-up, which no zone file can know. A fixture zone therefore
// publishes a placeholder, and the server replaces it with the real
// association data before it serves the zone:
//
//	_25._tcp.mail IN TLSA 3 1 1 <TLSAPlaceholder("leaf", dane.SHA256)>
//
// The placeholder is the hexadecimal of "mailcheck:served:WHICH", padded
// with '.' to the length the matching type gives (32 bytes for SHA2-256,
// 64 for SHA2-512; unpadded for Full), so that the zone file parses and its
// records have the right length when read with --zone. WHICH is:
//
//	leaf    the certificate the SMTP port (25) serves
//	issuer  the intermediate CA that issued it
//	root    the root CA (`serve --ca-out`)
//
// A placeholder must be written as one run of hex digits (either case).
// A mismatch scenario publishes ordinary data instead: a digest of nothing
// the server has.
const tlsaPlaceholderPrefix = "mailcheck:served:"

// TLSAPlaceholder returns the hex a fixture zone writes as the TLSA data
// standing for a served certificate.
func TLSAPlaceholder(which string, m dane.Matching) string {
	token := []byte(tlsaPlaceholderPrefix + which)
	size := 0
	switch m {
	case dane.SHA256:
		size = 32
	case dane.SHA512:
		size = 64
	}
	for len(token) < size {
		token = append(token, '.')
	}
	return hex.EncodeToString(token)
}

// tlsaRecord finds "TLSA usage selector matching hexdata" in zone text.
var tlsaRecord = regexp.MustCompile(`(?i)\bTLSA\s+(\d+)\s+(\d+)\s+(\d+)\s+\(?\s*([0-9a-f]+)`)

// fillTLSA replaces the placeholders of zone text with the association data
// of the certificates in served (leaf, issuer, root). Line numbers stay as
// they are, so findings still point at the fixture's lines.
func fillTLSA(zone []byte, served map[string]*x509.Certificate) ([]byte, error) {
	var firstErr error
	out := tlsaRecord.ReplaceAllFunc(zone, func(m []byte) []byte {
		sub := tlsaRecord.FindSubmatchIndex(m)
		data, err := hex.DecodeString(string(m[sub[8]:sub[9]]))
		if err != nil || !bytes.HasPrefix(data, []byte(tlsaPlaceholderPrefix)) {
			return m
		}
		which := strings.TrimRight(string(data[len(tlsaPlaceholderPrefix):]), ".")
		cert := served[which]
		if cert == nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("refserver: TLSA placeholder for %q: the server serves no such certificate (leaf, issuer, root)", which)
			}
			return m
		}
		var sel, match int
		fmt.Sscan(string(m[sub[4]:sub[5]]), &sel)
		fmt.Sscan(string(m[sub[6]:sub[7]]), &match)
		real := hex.EncodeToString(dane.Association(cert, dane.Selector(sel), dane.Matching(match)))
		return append(bytes.Clone(m[:sub[8]]), real...)
	})
	return out, firstErr
}

// servedCerts are the certificates a TLSA placeholder can stand for: the
// leaf the SMTP port serves (with that port's certificate faults), its
// issuer and the root.
func (s *Server) servedCerts() (map[string]*x509.Certificate, error) {
	cfg := s.tlsConfig(PortSMTP)
	if len(cfg.Certificates) == 0 || len(cfg.Certificates[0].Certificate) == 0 {
		return nil, fmt.Errorf("refserver: no certificate on port %d for TLSA records", PortSMTP)
	}
	leaf, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	if err != nil {
		return nil, err
	}
	return map[string]*x509.Certificate{"leaf": leaf, "issuer": s.certs.inter.Cert, "root": s.certs.root.Cert}, nil
}

// scenarioZone loads the scenario's zones with TLSA placeholders filled in.
func (s *Server) scenarioZone() (*resolver.Zone, error) {
	var served map[string]*x509.Certificate
	var fillErr error
	zone, err := resolver.ScenarioZoneRewritten(s.sc, func(data []byte) []byte {
		if fillErr != nil || !bytes.Contains(bytes.ToUpper(data), []byte("TLSA")) {
			return data
		}
		if served == nil {
			if served, fillErr = s.servedCerts(); fillErr != nil {
				return data
			}
		}
		var out []byte
		out, fillErr = fillTLSA(data, served)
		return out
	})
	if fillErr != nil {
		return nil, fillErr
	}
	return zone, err
}
