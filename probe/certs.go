package probe

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// expiringWithin is how close to NotAfter a certificate earns
// tls.cert-expiring: three weeks leaves time to notice a failed renewal
// (ACME clients renew at 30 days left).
const expiringWithin = 21 * 24 * time.Hour

// minRSABits: NIST SP 800-131A and the CA/Browser Forum Baseline
// Requirements §6.1.5 require at least 2048-bit RSA.
const minRSABits = 2048

// tlsState describes a handshake for the probes schema, including whether
// a client with roots would accept the chain for host.
func tlsState(st *tls.ConnectionState, host string, roots *x509.CertPool, now time.Time) *finding.TLSState {
	out := &finding.TLSState{
		Version: versionName(st.Version),
		Cipher:  tls.CipherSuiteName(st.CipherSuite),
		Chain:   []finding.CertInfo{},
	}
	for _, c := range st.PeerCertificates {
		kt, bits := keyInfo(c)
		out.Chain = append(out.Chain, finding.CertInfo{
			Subject: c.Subject.String(), Issuer: c.Issuer.String(), NotAfter: c.NotAfter.UTC(),
			DNSNames: c.DNSNames, KeyType: kt, KeyBits: bits, DER: c.Raw,
		})
	}
	if len(st.PeerCertificates) == 0 {
		out.VerifyError = "the server presented no certificate"
		return out
	}
	// What a mail client does: the whole chain, the name, the clock.
	_, err := st.PeerCertificates[0].Verify(x509.VerifyOptions{
		DNSName: host, Roots: roots, Intermediates: pool(st.PeerCertificates[1:]),
		CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	out.Verified = err == nil
	if err != nil {
		out.VerifyError = err.Error()
	}
	return out
}

func pool(certs []*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

func keyInfo(c *x509.Certificate) (string, int) {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		return "ECDSA", k.Curve.Params().BitSize
	case ed25519.PublicKey:
		return "Ed25519", 256
	}
	return c.PublicKeyAlgorithm.String(), 0
}

// certFindings judges the presented chain and reports every problem, not
// only the first one x509 verification stops at: an expired certificate
// with the wrong name from an unknown CA yields three findings. A chain
// with no problem at fail level yields tls.ok.
func certFindings(subject, host string, st *tls.ConnectionState, roots *x509.CertPool, now time.Time) []finding.Finding {
	certs := st.PeerCertificates
	if len(certs) == 0 {
		return []finding.Finding{finding.New("tls.cert-untrusted", subject, finding.T("The server presented no certificate"))}
	}
	var out []finding.Finding
	leaf := certs[0]
	day := func(t time.Time) string { return t.UTC().Format("2006-01-02") }

	// Validity periods, RFC 5280 §4.1.2.5.
	for i, c := range certs {
		what := "The certificate"
		if i > 0 {
			what = fmt.Sprintf("The chain certificate %q", c.Subject.CommonName)
		}
		ev := []string{fmt.Sprintf("subject %s, valid %s to %s", c.Subject, day(c.NotBefore), day(c.NotAfter))}
		switch {
		case now.After(c.NotAfter):
			ago := int(now.Sub(c.NotAfter).Hours() / 24)
			out = append(out, finding.New("tls.cert-expired", subject,
				finding.T("%s expired on %s (%d days ago)", what, day(c.NotAfter), ago), ev...))
		case now.Before(c.NotBefore):
			f := finding.New("tls.cert-expired", subject,
				finding.T("%s is not valid before %s (check the server's clock or the issuance)", what, day(c.NotBefore)), ev...)
			out = append(out, f)
		case i == 0 && c.NotAfter.Sub(now) < expiringWithin:
			left := int(math.Ceil(c.NotAfter.Sub(now).Hours() / 24))
			out = append(out, finding.New("tls.cert-expiring", subject,
				finding.T("The certificate expires in %d days, on %s", left, day(c.NotAfter)), ev...))
		}
	}

	if verr := trustError(certs, roots, now); verr != nil {
		out = append(out, trustFinding(subject, certs, verr))
	}

	// Name, RFC 6125 §6 (subjectAltName; CN is not consulted).
	if err := leaf.VerifyHostname(host); err != nil {
		names := leaf.DNSNames
		for _, ip := range leaf.IPAddresses {
			names = append(names, ip.String())
		}
		out = append(out, finding.New("tls.cert-hostname", subject,
			finding.T("The certificate does not cover %s; it names %s", host, orNone(names)),
			"certificate names: "+orNone(names)))
	}

	for i, c := range certs {
		if k, ok := c.PublicKey.(*rsa.PublicKey); ok && k.N.BitLen() < minRSABits {
			what := "The certificate's"
			if i > 0 {
				what = fmt.Sprintf("The chain certificate %q's", c.Subject.CommonName)
			}
			out = append(out, finding.New("tls.weak-key", subject,
				finding.T("%s RSA key has %d bits; at least %d are needed", what, k.N.BitLen(), minRSABits)))
		}
	}

	for _, f := range out {
		if f.Severity >= finding.Fail {
			return out
		}
	}
	return append(out, finding.New("tls.ok", subject,
		finding.T("%s, certificate valid for %s until %s, issued by %s", versionName(st.Version), host, day(leaf.NotAfter), issuerName(leaf))))
}

// trustError verifies the chain up to a trusted root regardless of the
// clock, so that an expired certificate from a trusted CA is reported as
// expired only: it tries now, then moments when the leaf and then every
// certificate presented is valid. Errors that only say "expired" are the
// validity checks' business and are dropped here.
func trustError(certs []*x509.Certificate, roots *x509.CertPool, now time.Time) error {
	leaf := certs[0]
	latestStart, earliestEnd := leaf.NotBefore, leaf.NotAfter
	for _, c := range certs[1:] {
		if c.NotBefore.After(latestStart) {
			latestStart = c.NotBefore
		}
		if c.NotAfter.Before(earliestEnd) {
			earliestEnd = c.NotAfter
		}
	}
	var first error
	for _, at := range []time.Time{now, leaf.NotAfter.Add(-time.Minute), latestStart.Add(time.Minute), earliestEnd.Add(-time.Minute)} {
		_, err := leaf.Verify(x509.VerifyOptions{
			Roots: roots, Intermediates: pool(certs[1:]), CurrentTime: at,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		})
		if err == nil {
			return nil
		}
		var ci x509.CertificateInvalidError
		if errors.As(err, &ci) && ci.Reason == x509.Expired {
			continue
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// trustFinding explains why the chain does not lead to a trusted root.
func trustFinding(subject string, certs []*x509.Certificate, verr error) finding.Finding {
	leaf, top := certs[0], certs[len(certs)-1]
	ev := []string{"verification: " + verr.Error()}
	for i, c := range certs {
		ev = append(ev, fmt.Sprintf("chain[%d]: subject %s; issuer %s", i, c.Subject, c.Issuer))
	}
	if len(certs) == 1 && selfSigned(leaf) {
		return finding.New("tls.cert-self-signed", subject,
			finding.T("The certificate is self-signed (%s) and no trusted CA vouches for it", leaf.Subject), ev...)
	}
	var ua x509.UnknownAuthorityError
	if !errors.As(verr, &ua) {
		return finding.New("tls.cert-untrusted", subject, finding.T("The certificate chain is not valid: %s", verr.Error()), ev...)
	}
	if selfSigned(top) {
		return finding.New("tls.cert-untrusted", subject,
			finding.T("The chain ends at the root %q, which is not a trusted CA", top.Subject.CommonName), ev...)
	}
	// The last certificate sent names an issuer that was neither sent nor
	// is a trusted root: either the server leaves out an intermediate
	// certificate (a chain that works only in clients that cache or fetch
	// intermediates) or the issuing CA is unknown. Only the issuer's
	// certificate could tell which; name both, and its URL when the
	// certificate gives one (RFC 5280 §4.2.2.1, CA Issuers).
	title := finding.T("Incomplete chain or unknown CA: the issuer %q of %q is neither sent by the server nor a trusted root",
		top.Issuer.CommonName, top.Subject.CommonName)
	if len(top.IssuingCertificateURL) > 0 {
		title = finding.T("Missing intermediate certificate: the server does not send %q (published at %s), or that CA is not trusted",
			top.Issuer.CommonName, top.IssuingCertificateURL[0])
	}
	f := finding.New("tls.cert-untrusted", subject, title, ev...)
	f.SetFix(finding.T("Serve the full chain: the certificate followed by every intermediate up to (not including) the root — for most servers, the CA's fullchain.pem. If the CA is private, clients must be given its root (mailcheck: --ca)."))
	return f
}

// selfSigned: issued by itself (RFC 5280 §6.1: issuer == subject) and
// signed with its own key.
func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) &&
		c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

func issuerName(c *x509.Certificate) string {
	if c.Issuer.CommonName != "" {
		return c.Issuer.CommonName
	}
	return c.Issuer.String()
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "no names"
	}
	return strings.Join(names, ", ")
}
