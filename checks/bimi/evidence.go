package bimi

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"slices"
	"strings"
	"time"
)

// OIDs a Verified Mark Certificate carries (VMC Guidelines of the
// AuthIndicators Working Group; RFC 3709 for the logotype extension).
var (
	// OIDBrandIndicator is id-kp-BrandIndicatorforMessageIdentification,
	// the extended key usage of a mark certificate.
	OIDBrandIndicator = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 31}
	// OIDLogotype is id-pe-logotype, the extension that embeds the SVG.
	OIDLogotype = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 12}
)

// maxEvidenceCerts bounds what an evidence document may hold: one mark
// certificate and its issuers.
const maxEvidenceCerts = 8

// Evidence is a parsed evidence document: the PEM certificates at the a=
// URI, the mark certificate first.
type Evidence struct {
	Certs []*x509.Certificate
}

// EvidenceProblem names one way an evidence document is unusable.
type EvidenceProblem string

const (
	EvidenceEmpty       EvidenceProblem = "no certificate"
	EvidenceNotPEM      EvidenceProblem = "a block that is not a PEM certificate"
	EvidenceBadCert     EvidenceProblem = "a certificate that does not parse"
	EvidenceTooMany     EvidenceProblem = "more certificates than a chain holds"
	EvidenceNotMark     EvidenceProblem = "the first certificate is not a mark certificate (no BIMI extended key usage)"
	EvidenceNoLogo      EvidenceProblem = "the mark certificate embeds no logo (no logotype extension)"
	EvidenceTwoMarks    EvidenceProblem = "more than one mark certificate"
	EvidenceOrder       EvidenceProblem = "the certificates are not in issuing order"
	EvidenceExpired     EvidenceProblem = "the mark certificate has expired"
	EvidenceNotYetValid EvidenceProblem = "the mark certificate is not valid yet"
	EvidenceOtherDomain EvidenceProblem = "the mark certificate does not name the domain"
)

// ParseEvidence reads an evidence document and checks what can be checked
// without the mark certificate authorities' roots: one mark certificate,
// first, with the BIMI key usage and an embedded logo, valid at now, naming
// domain, followed by its issuers in order (draft-brand-indicators-for-
// message-identification, a= tag). Whether the chain ends at a trusted
// mark root is for a caller that has those roots.
func ParseEvidence(data []byte, domain string, now time.Time) (*Evidence, []EvidenceProblem) {
	ev := &Evidence{}
	var problems []EvidenceProblem
	add := func(p EvidenceProblem) {
		if !slices.Contains(problems, p) {
			problems = append(problems, p)
		}
	}
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			if strings.TrimSpace(string(rest)) != "" {
				add(EvidenceNotPEM)
			}
			break
		}
		if block.Type != "CERTIFICATE" {
			add(EvidenceNotPEM)
			continue
		}
		if len(ev.Certs) == maxEvidenceCerts {
			add(EvidenceTooMany)
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			add(EvidenceBadCert)
			continue
		}
		ev.Certs = append(ev.Certs, c)
	}
	if len(ev.Certs) == 0 {
		return ev, append(problems, EvidenceEmpty)
	}
	var mark *x509.Certificate
	marks := 0
	for _, c := range ev.Certs {
		if IsMark(c) {
			marks++
			if mark == nil {
				mark = c
			}
		}
	}
	if !IsMark(ev.Certs[0]) {
		add(EvidenceNotMark)
	}
	if marks > 1 {
		add(EvidenceTwoMarks)
	}
	for i := 0; i+1 < len(ev.Certs); i++ {
		if ev.Certs[i].CheckSignatureFrom(ev.Certs[i+1]) != nil {
			add(EvidenceOrder)
			break
		}
	}
	if mark == nil {
		// Nothing below speaks of a certificate that is not a mark.
		return ev, problems
	}
	if !hasExtension(mark, OIDLogotype) {
		add(EvidenceNoLogo)
	}
	switch {
	case now.After(mark.NotAfter):
		add(EvidenceExpired)
	case now.Before(mark.NotBefore):
		add(EvidenceNotYetValid)
	}
	if domain != "" && !names(mark, domain) {
		add(EvidenceOtherDomain)
	}
	return ev, problems
}

// IsMark reports a certificate with the BIMI extended key usage.
func IsMark(c *x509.Certificate) bool {
	for _, u := range c.UnknownExtKeyUsage {
		if u.Equal(OIDBrandIndicator) {
			return true
		}
	}
	return false
}

func hasExtension(c *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return true
		}
	}
	return false
}

// names reports whether the certificate's DNS names hold domain or one of
// its ancestors: a mark certificate for example.com serves its subdomains'
// records too.
func names(c *x509.Certificate, domain string) bool {
	d := strings.ToLower(strings.TrimSuffix(domain, "."))
	for _, n := range c.DNSNames {
		n = strings.ToLower(strings.TrimSuffix(n, "."))
		if d == n || strings.HasSuffix(d, "."+n) {
			return true
		}
	}
	return false
}
