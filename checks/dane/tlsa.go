// Package dane reads TLSA records (RFC 6698, with the updates of RFC 7671)
// and matches them against a certificate chain as an SMTP client does
// (RFC 7672): which records are usable, and whether the chain a server
// presents matches one. It does no I/O: the caller gathers the records
// (and whether DNSSEC validated them) and the served chain.
package dane

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Usage is the certificate usage field (RFC 6698 §2.1.1, names from RFC
// 7218).
type Usage uint8

const (
	PKIXTA Usage = 0 // CA constraint, with PKIX validation
	PKIXEE Usage = 1 // service certificate constraint, with PKIX validation
	DANETA Usage = 2 // trust anchor assertion
	DANEEE Usage = 3 // domain-issued certificate
)

func (u Usage) String() string {
	switch u {
	case PKIXTA:
		return "PKIX-TA(0)"
	case PKIXEE:
		return "PKIX-EE(1)"
	case DANETA:
		return "DANE-TA(2)"
	case DANEEE:
		return "DANE-EE(3)"
	}
	return "usage(" + strconv.Itoa(int(u)) + ")"
}

// Selector says which part of a certificate is matched (RFC 6698 §2.1.2).
type Selector uint8

const (
	Cert Selector = 0 // the whole certificate (DER)
	SPKI Selector = 1 // its SubjectPublicKeyInfo (DER)
)

func (s Selector) String() string {
	switch s {
	case Cert:
		return "Cert(0)"
	case SPKI:
		return "SPKI(1)"
	}
	return "selector(" + strconv.Itoa(int(s)) + ")"
}

// Matching is how the selected data is compared (RFC 6698 §2.1.3).
type Matching uint8

const (
	Full   Matching = 0 // exact match
	SHA256 Matching = 1 // SHA2-256 digest
	SHA512 Matching = 2 // SHA2-512 digest
)

func (m Matching) String() string {
	switch m {
	case Full:
		return "Full(0)"
	case SHA256:
		return "SHA2-256(1)"
	case SHA512:
		return "SHA2-512(2)"
	}
	return "matching(" + strconv.Itoa(int(m)) + ")"
}

// Record is one TLSA record.
type Record struct {
	Usage    Usage
	Selector Selector
	Matching Matching
	Data     []byte // the certificate association data
	// Text is the record as published: "3 1 1 ab12...".
	Text string
}

// Fault says why a record cannot be used.
type Fault string

const (
	FaultUsage    Fault = "unknown certificate usage"
	FaultSelector Fault = "unknown selector"
	FaultMatching Fault = "unknown matching type"
	FaultLength   Fault = "the data does not have the length the matching type gives"
	FaultDER      Fault = "the full data does not parse as what the selector names"
	FaultHex      Fault = "the data is not hexadecimal"
	// FaultPKIX: RFC 7672 §3.1.3: SMTP servers should not publish, and
	// SMTP clients should not support, PKIX-TA(0) and PKIX-EE(1): with
	// no PKIX trust store agreed for MX hosts, they are unusable.
	FaultPKIX Fault = "PKIX-TA(0) and PKIX-EE(1) are not used for SMTP"
)

// FromRR reads a TLSA record from miekg's form.
func FromRR(rr *dns.TLSA) (Record, error) {
	return Parse(rr.Usage, rr.Selector, rr.MatchingType, rr.Certificate)
}

// Parse reads a record's fields; the data is hexadecimal.
func Parse(usage, selector, matching uint8, data string) (Record, error) {
	r := Record{Usage: Usage(usage), Selector: Selector(selector), Matching: Matching(matching),
		Text: fmt.Sprintf("%d %d %d %s", usage, selector, matching, strings.ToLower(data))}
	b, err := hex.DecodeString(data)
	if err != nil {
		return r, &RecordError{Record: r.Text, Fault: FaultHex}
	}
	r.Data = b
	return r, nil
}

// RecordError is a record that cannot be used, and why.
type RecordError struct {
	Record string
	Fault  Fault
}

func (e *RecordError) Error() string { return e.Record + ": " + string(e.Fault) }

// Check says why an SMTP client cannot use the record; nil when it can
// (RFC 7672 §3.1: a record with unknown parameters or malformed data is
// "unusable"; §3.1.3 for the PKIX usages).
func (r Record) Check() error {
	fault := Fault("")
	switch {
	case r.Usage > DANEEE:
		fault = FaultUsage
	case r.Selector > SPKI:
		fault = FaultSelector
	case r.Matching > SHA512:
		fault = FaultMatching
	case r.Matching == SHA256 && len(r.Data) != sha256.Size,
		r.Matching == SHA512 && len(r.Data) != sha512.Size:
		fault = FaultLength
	case r.Matching == Full && !fullParses(r):
		fault = FaultDER
	case r.Usage == PKIXTA || r.Usage == PKIXEE:
		fault = FaultPKIX
	}
	if fault != "" {
		return &RecordError{Record: r.Text, Fault: fault}
	}
	return nil
}

func fullParses(r Record) bool {
	if r.Selector == Cert {
		_, err := x509.ParseCertificate(r.Data)
		return err == nil
	}
	_, err := x509.ParsePKIXPublicKey(r.Data)
	return err == nil
}

// Association computes the data a record with this selector and matching
// type holds for cert: what a zone must publish to match it.
func Association(cert *x509.Certificate, s Selector, m Matching) []byte {
	data := cert.Raw
	if s == SPKI {
		data = cert.RawSubjectPublicKeyInfo
	}
	switch m {
	case SHA256:
		sum := sha256.Sum256(data)
		return sum[:]
	case SHA512:
		sum := sha512.Sum512(data)
		return sum[:]
	}
	return bytes.Clone(data)
}

// matches reports whether cert is the certificate (or key) r names.
func (r Record) matches(cert *x509.Certificate) bool {
	return bytes.Equal(Association(cert, r.Selector, r.Matching), r.Data)
}

// TLSAName is the name of the TLSA records of a service: _PORT._tcp.HOST
// (RFC 6698 §3; RFC 7672 §2.2.3 for SMTP, where HOST is the MX host name,
// or the name its CNAMEs lead to when they are all DNSSEC-validated).
func TLSAName(port int, host string) string {
	return "_" + strconv.Itoa(port) + "._tcp." + dns.Fqdn(strings.ToLower(host))
}

// Outcome is what matching a served chain against a TLSA RRset found.
type Outcome struct {
	// Matched is the record the chain satisfies; nil when none does.
	Matched *Record
	// Depth is the position in the chain of the certificate Matched
	// names (0: the server's own certificate).
	Depth int
	// Usable counts the usable records; with none, an SMTP client falls
	// back to unauthenticated TLS (RFC 7672 §3.1), and Matched is nil.
	Usable int
	// Unusable lists the records that cannot be used, with why.
	Unusable []error
	// Reasons say, for DANE-TA(2) records whose trust anchor is in the
	// chain, why the chain still does not match (names, signatures,
	// dates).
	Reasons []string
}

// Match matches the chain a server presented (leaf first) against the
// TLSA records of its name, as RFC 7672 §3.1 has an SMTP client do:
//
//   - DANE-EE(3): the server's own certificate (or key) matches; names and
//     dates are not checked (§3.1.1).
//   - DANE-TA(2): a certificate of the chain above the leaf matches (or,
//     for "2 1 0", the published key signed one), the chain verifies from
//     the leaf up to it, the leaf names one of names (the MX host, and the
//     name its CNAMEs lead to), and every certificate up to the trust
//     anchor is within its validity dates at now (§3.1.2, RFC 7671 §5.2).
//
// PKIX usages and malformed records are unusable and listed in Unusable.
func Match(records []Record, chain []*x509.Certificate, names []string, now time.Time) Outcome {
	var out Outcome
	var usable []Record
	for _, r := range records {
		if err := r.Check(); err != nil {
			out.Unusable = append(out.Unusable, err)
			continue
		}
		usable = append(usable, r)
	}
	out.Usable = len(usable)
	if len(chain) == 0 {
		return out
	}
	for i := range usable {
		r := &usable[i]
		if r.Usage == DANEEE && r.matches(chain[0]) {
			out.Matched, out.Depth = r, 0
			return out
		}
	}
	for i := range usable {
		r := &usable[i]
		if r.Usage != DANETA {
			continue
		}
		depth := anchorDepth(*r, chain)
		if depth < 0 {
			continue
		}
		if reason := verifyUpTo(chain, depth, names, now); reason != "" {
			out.Reasons = append(out.Reasons, r.Text+": "+reason)
			continue
		}
		out.Matched, out.Depth = r, depth
		return out
	}
	return out
}

// anchorDepth finds where a DANE-TA record's trust anchor sits: the index
// of the chain certificate it matches (above the leaf), or, for a full
// public key ("2 1 0") the server need not send, the index of the first
// certificate that key signed (the anchor itself is then not in the
// chain). -1 when neither.
func anchorDepth(r Record, chain []*x509.Certificate) int {
	for i := 1; i < len(chain); i++ {
		if r.matches(chain[i]) {
			return i
		}
	}
	if r.Selector == SPKI && r.Matching == Full {
		pub, err := x509.ParsePKIXPublicKey(r.Data)
		if err != nil {
			return -1
		}
		anchor := &x509.Certificate{PublicKey: pub, PublicKeyAlgorithm: algorithmOf(pub)}
		for i, c := range chain {
			if c.CheckSignatureFrom(anchor) == nil {
				return i
			}
		}
	}
	return -1
}

// algorithmOf is the x509 algorithm of a parsed public key, which
// CheckSignatureFrom needs of a parent.
func algorithmOf(pub any) x509.PublicKeyAlgorithm {
	switch pub.(type) {
	case *rsa.PublicKey:
		return x509.RSA
	case *ecdsa.PublicKey:
		return x509.ECDSA
	case ed25519.PublicKey:
		return x509.Ed25519
	}
	return x509.UnknownPublicKeyAlgorithm
}

// verifyUpTo checks the chain from the leaf to depth: each certificate
// signed by the next, all within their dates, the leaf naming one of
// names. chain[depth] is the anchor, or the certificate the anchor's key
// signed; an anchor's own signature is never checked: it is trusted as
// published.
func verifyUpTo(chain []*x509.Certificate, depth int, names []string, now time.Time) string {
	for k := 0; k < depth; k++ {
		if err := chain[k].CheckSignatureFrom(chain[k+1]); err != nil {
			return fmt.Sprintf("certificate %d is not signed by certificate %d of the chain", k, k+1)
		}
	}
	for k := 0; k <= depth; k++ {
		c := chain[k]
		if now.Before(c.NotBefore) || now.After(c.NotAfter) {
			return fmt.Sprintf("certificate %d (%s) is outside its validity dates", k, c.Subject.CommonName)
		}
	}
	for _, n := range names {
		if chain[0].VerifyHostname(strings.TrimSuffix(n, ".")) == nil {
			return ""
		}
	}
	return fmt.Sprintf("the server's certificate does not name %s", strings.Join(names, " or "))
}
