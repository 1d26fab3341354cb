package probe

import (
	"bytes"
	"context"
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

	"golang.org/x/crypto/ocsp"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/probe/tlswire"
)

// expiringWithin is how close to NotAfter a certificate earns
// tls.cert-expiring: three weeks leaves time to notice a failed renewal
// (ACME clients renew at 30 days left).
const expiringWithin = 21 * 24 * time.Hour

// minRSABits: NIST SP 800-131A and the CA/Browser Forum Baseline
// Requirements §6.1.5 require at least 2048-bit RSA.
const minRSABits = 2048

// handshakeView is what a probe saw of a server's TLS: from a completed
// crypto/tls handshake, or from the first flight the scan's ClientHello
// got when crypto/tls could not complete one.
type handshakeView struct {
	Version uint16
	Suite   uint16
	Certs   []*x509.Certificate
	OCSP    []byte // the stapled OCSP response, if any
	// Complete: a handshake completed; false when seen through the scan.
	Complete bool
}

func viewOfConn(st *tls.ConnectionState) handshakeView {
	return handshakeView{Version: st.Version, Suite: st.CipherSuite, Certs: st.PeerCertificates, OCSP: st.OCSPResponse,
		Complete: st.HandshakeComplete}
}

// viewOfHello reads the certificates of the scan's answer; one that does
// not parse ends the chain there.
func viewOfHello(a helloAnswer) handshakeView {
	v := handshakeView{Version: a.version, Suite: a.suite, OCSP: a.ocsp}
	for _, der := range a.certs {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			break
		}
		v.Certs = append(v.Certs, c)
	}
	return v
}

// tlsState describes a handshake for the probes schema, including whether
// a client with roots would accept the chain for host.
func tlsState(v handshakeView, host string, roots *x509.CertPool, now time.Time) *finding.TLSState {
	out := &finding.TLSState{
		Version: versionName(v.Version),
		Cipher:  tlswire.SuiteName(v.Suite),
		Chain:   []finding.CertInfo{},
	}
	if name := tls.CipherSuiteName(v.Suite); !strings.HasPrefix(name, "0x") {
		out.Cipher = name // TLS 1.3 suites are not in the scan's table
	}
	for _, c := range v.Certs {
		kt, bits := keyInfo(c)
		out.Chain = append(out.Chain, finding.CertInfo{
			Subject: c.Subject.String(), Issuer: c.Issuer.String(), NotAfter: c.NotAfter.UTC(),
			DNSNames: c.DNSNames, KeyType: kt, KeyBits: bits, DER: c.Raw,
		})
	}
	if len(v.Certs) == 0 {
		out.VerifyError = "the server presented no certificate"
		return out
	}
	// What a mail client does: the chain as presented (no AIA fetching),
	// the name, the clock.
	_, err := v.Certs[0].Verify(x509.VerifyOptions{
		DNSName: host, Roots: roots, Intermediates: pool(v.Certs[1:]),
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

// chainVerdict is the judgement of one chain for one host name.
type chainVerdict struct {
	key  string
	done chan struct{}
	// problems are the findings about the certificate (without subject:
	// each use gives them the ports that serve it).
	problems []finding.Finding
	// clean: no problem at warn or above, so tls.ok may be said.
	clean bool
	ocsp  *finding.OCSPStaple
	// okNote is said with tls.ok (the stapled OCSP response).
	okNote finding.Text
}

// findingsFor returns the verdict's problems about subject.
func (cv *chainVerdict) findingsFor(subject string) []finding.Finding {
	out := make([]finding.Finding, len(cv.problems))
	for i, f := range cv.problems {
		f.Subject = subject
		f.Evidence = append([]string(nil), f.Evidence...)
		out[i] = f
	}
	return out
}

// judgeChain reports every problem of the presented chain, not only the
// first one x509 verification stops at: an expired certificate with the
// wrong name from an unknown CA yields three findings. When the chain does
// not lead to a trusted root, it tells a missing intermediate (fetched
// over AIA, and then the chain verifies), an unknown CA and a signature
// that does not verify apart.
func judgeChain(ctx context.Context, o Options, st *runState, host string, v handshakeView, cv *chainVerdict) {
	roots, now := o.dialer().Roots, o.now()
	certs := v.Certs
	if len(certs) == 0 {
		cv.problems = []finding.Finding{finding.New("tls.cert-untrusted", "", finding.T("The server presented no certificate"))}
		return
	}
	var out []finding.Finding
	leaf := certs[0]
	day := func(t time.Time) string { return t.UTC().Format("2006-01-02") }

	// Validity periods, RFC 5280 §4.1.2.5.
	for i, c := range certs {
		ev := finding.T("subject %s, valid %s to %s", c.Subject, day(c.NotBefore), day(c.NotAfter))
		switch {
		case now.After(c.NotAfter):
			ago := int(now.Sub(c.NotAfter).Hours() / 24)
			title := finding.T("The certificate expired on %s (%d days ago)", day(c.NotAfter), ago)
			if i > 0 {
				title = finding.T("The chain certificate %q expired on %s (%d days ago)", c.Subject.CommonName, day(c.NotAfter), ago)
			}
			out = append(out, newFinding("tls.cert-expired", "", title, ev))
		case now.Before(c.NotBefore):
			title := finding.T("The certificate is not valid before %s (check the server's clock or the issuance)", day(c.NotBefore))
			if i > 0 {
				title = finding.T("The chain certificate %q is not valid before %s (check the server's clock or the issuance)", c.Subject.CommonName, day(c.NotBefore))
			}
			out = append(out, newFinding("tls.cert-expired", "", title, ev))
		case i == 0 && c.NotAfter.Sub(now) < expiringWithin:
			left := int(math.Ceil(c.NotAfter.Sub(now).Hours() / 24))
			out = append(out, newFinding("tls.cert-expiring", "",
				finding.T("The certificate expires in %d days, on %s", left, day(c.NotAfter)), ev))
		}
	}

	var fetched []*x509.Certificate
	if verr := trustError(certs, roots, now); verr != nil {
		var f finding.Finding
		f, fetched = trustFinding(ctx, o, st, certs, roots, now, verr)
		out = append(out, f)
	}

	// Name, RFC 6125 §6 (subjectAltName; CN is not consulted).
	if err := leaf.VerifyHostname(host); err != nil {
		names := leaf.DNSNames
		for _, ip := range leaf.IPAddresses {
			names = append(names, ip.String())
		}
		title := finding.T("The certificate does not cover %s; it names %s", host, strings.Join(names, ", "))
		if len(names) == 0 {
			title = finding.T("The certificate does not cover %s; it names no names", host)
		}
		out = append(out, newFinding("tls.cert-hostname", "", title, finding.T("certificate names: %s", orNone(names))))
	}

	for i, c := range certs {
		if k, ok := c.PublicKey.(*rsa.PublicKey); ok && k.N.BitLen() < minRSABits {
			title := finding.T("The certificate's RSA key has %d bits; at least %d are needed", k.N.BitLen(), minRSABits)
			if i > 0 {
				title = finding.T("The chain certificate %q's RSA key has %d bits; at least %d are needed", c.Subject.CommonName, k.N.BitLen(), minRSABits)
			}
			out = append(out, finding.New("tls.weak-key", "", title))
		}
	}

	if len(v.OCSP) > 0 {
		if f, ok := judgeStaple(cv, v.OCSP, certs, fetched, now); ok {
			out = append(out, f)
		}
	}

	cv.problems = out
	cv.clean = true
	for _, f := range out {
		if f.Severity >= finding.Warn {
			cv.clean = false
		}
	}
}

// judgeStaple reads the stapled OCSP response (RFC 6960), checked against
// the leaf's issuer when the chain or AIA gave it. A revocation is a
// finding; anything else is said beside tls.ok and in the schema.
func judgeStaple(cv *chainVerdict, staple []byte, certs, fetched []*x509.Certificate, now time.Time) (finding.Finding, bool) {
	leaf := certs[0]
	var issuer *x509.Certificate
	for _, c := range append(append([]*x509.Certificate(nil), certs[1:]...), fetched...) {
		if bytes.Equal(leaf.RawIssuer, c.RawSubject) {
			issuer = c
			break
		}
	}
	var resp *ocsp.Response
	var err error
	if issuer != nil {
		resp, err = ocsp.ParseResponseForCert(staple, leaf, issuer)
	} else {
		resp, err = ocsp.ParseResponse(staple, nil)
	}
	if err != nil {
		cv.ocsp = &finding.OCSPStaple{Status: "invalid", Error: err.Error()}
		cv.okNote = finding.T("The stapled OCSP response is not usable: %v", err)
		return finding.Finding{}, false
	}
	day := func(t time.Time) string { return t.UTC().Format("2006-01-02") }
	cv.ocsp = &finding.OCSPStaple{ProducedAt: resp.ProducedAt.UTC(), NextUpdate: resp.NextUpdate.UTC()}
	switch resp.Status {
	case ocsp.Good:
		cv.ocsp.Status = "good"
		cv.okNote = finding.T("OCSP stapling: the server staples a response saying good, valid until %s", day(resp.NextUpdate))
		if !resp.NextUpdate.IsZero() && now.After(resp.NextUpdate) {
			cv.okNote = finding.T("OCSP stapling: the stapled response expired on %s; clients ignore it", day(resp.NextUpdate))
		}
	case ocsp.Revoked:
		cv.ocsp.Status = "revoked"
		cv.ocsp.RevokedAt = resp.RevokedAt.UTC()
		return newFinding("tls.cert-revoked", "",
			finding.T("The certificate was revoked on %s, says the OCSP response the server staples", day(resp.RevokedAt)),
			finding.T("OCSP response produced %s, revocation reason: %s", day(resp.ProducedAt), revocationReason(resp.RevocationReason))), true
	default:
		cv.ocsp.Status = "unknown"
		cv.okNote = finding.T("OCSP stapling: the stapled response says the responder does not know the certificate")
	}
	return finding.Finding{}, false
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

// maxAIADepth bounds how many missing intermediates are fetched one after
// the other.
const maxAIADepth = 3

// trustFinding explains why the chain does not lead to a trusted root: a
// signature that does not verify, a self-signed certificate, an unknown
// root, or a missing intermediate, which it fetches over AIA to tell from
// an unknown CA. It returns the certificates it fetched.
func trustFinding(ctx context.Context, o Options, st *runState, certs []*x509.Certificate, roots *x509.CertPool, now time.Time, verr error) (finding.Finding, []*x509.Certificate) {
	leaf := certs[0]
	ev := []finding.Text{finding.T("verification: %s", verr.Error())}
	for i, c := range certs {
		ev = append(ev, finding.T("chain[%d]: subject %s; issuer %s", i, c.Subject, c.Issuer))
	}
	if child, parent, err := badSignature(certs, nil); child != nil {
		return badSignatureFinding(child, parent, err, ev), nil
	}
	if len(certs) == 1 && selfSigned(leaf) {
		return newFinding("tls.cert-self-signed", "",
			finding.T("The certificate is self-signed (%s) and no trusted CA vouches for it", leaf.Subject), ev...), nil
	}
	var ua x509.UnknownAuthorityError
	if !errors.As(verr, &ua) {
		return newFinding("tls.cert-untrusted", "", finding.T("The certificate chain is not valid: %s", verr.Error()), ev...), nil
	}
	top := certs[len(certs)-1]
	if selfSigned(top) {
		return newFinding("tls.cert-untrusted", "",
			finding.T("The chain ends at the root %q, which is not a trusted CA", top.Subject.CommonName), ev...), nil
	}
	if len(top.IssuingCertificateURL) == 0 {
		// Only the issuer's certificate could tell a missing intermediate
		// from an unknown CA, and the certificate says nowhere where it is.
		f := newFinding("tls.cert-untrusted", "",
			finding.T("Incomplete chain or unknown CA: the issuer %q of %q is neither sent by the server nor a trusted root, and the certificate gives no URL (AIA) to fetch it from",
				top.Issuer.CommonName, top.Subject.CommonName), ev...)
		f.SetFix(finding.T("Serve the full chain: the certificate followed by every intermediate up to (not including) the root — for most servers, the CA's fullchain.pem. If the CA is private, clients must be given its root (mailcheck: --ca)."))
		return f, nil
	}

	// RFC 5280 §4.2.2.1: the certificate names where its issuer's
	// certificate is published. Fetch it (and its own issuer, if need be)
	// and verify again: the chain then verifies if only an intermediate
	// was missing.
	var fetched []*x509.Certificate
	var missing []*x509.Certificate
	from := ""
	cur := top
	for range maxAIADepth {
		if len(cur.IssuingCertificateURL) == 0 {
			break
		}
		u := cur.IssuingCertificateURL[0]
		got, err := st.fetchIssuer(ctx, o, u)
		if err != nil {
			ev = append(ev, finding.T("AIA %s: %s", u, err))
			f := newFinding("tls.cert-untrusted", "",
				finding.T("Incomplete chain or unknown CA: the issuer %q of %q is neither sent by the server nor a trusted root, and its certificate could not be fetched from %s: %v",
					cur.Issuer.CommonName, cur.Subject.CommonName, u, err), ev...)
			f.SetFix(finding.T("Serve the full chain: the certificate followed by every intermediate up to (not including) the root — for most servers, the CA's fullchain.pem. If the CA is private, clients must be given its root (mailcheck: --ca)."))
			return f, fetched
		}
		if from == "" {
			from = u
		}
		ev = append(ev, finding.T("AIA %s: %s", u, subjects(got)))
		fetched = append(fetched, got...)
		missing = append(missing, got[0])
		if child, parent, err := badSignature(certs, fetched); child != nil {
			return badSignatureFinding(child, parent, err, ev), fetched
		}
		if trustError(append(append([]*x509.Certificate(nil), certs...), fetched...), roots, now) == nil {
			names := make([]string, len(missing))
			for i, c := range missing {
				names[i] = fmt.Sprintf("%q", c.Subject.CommonName)
			}
			return newFinding("tls.chain-incomplete", "",
				finding.T("The server does not send the intermediate certificate %s: clients that do not fetch it themselves (most mail clients and servers) reject the chain; mailcheck fetched it from %s and then the chain verifies",
					strings.Join(names, ", "), from), ev...), fetched
		}
		cur = got[0]
		if selfSigned(cur) {
			return newFinding("tls.cert-untrusted", "",
				finding.T("The chain leads to the root %q (published at %s), which is not a trusted CA", cur.Subject.CommonName, u), ev...), fetched
		}
	}
	return newFinding("tls.cert-untrusted", "",
		finding.T("The chain does not lead to a trusted CA: the certificate of %q fetched from %s does not help, its issuer %q is not trusted",
			cur.Subject.CommonName, from, cur.Issuer.CommonName), ev...), fetched
}

// revocationReason names a CRLReason (RFC 5280 §5.3.1).
func revocationReason(code int) string {
	names := map[int]string{0: "unspecified", 1: "keyCompromise", 2: "cACompromise", 3: "affiliationChanged",
		4: "superseded", 5: "cessationOfOperation", 6: "certificateHold", 8: "removeFromCRL",
		9: "privilegeWithdrawn", 10: "aACompromise"}
	if n, ok := names[code]; ok {
		return n
	}
	return fmt.Sprintf("code %d", code)
}

func badSignatureFinding(child, parent *x509.Certificate, err error, ev []finding.Text) finding.Finding {
	ev = append(ev, finding.T("signature check: %s", err.Error()))
	if child == parent {
		return newFinding("tls.cert-bad-signature", "",
			finding.T("The signature of the self-signed certificate %q does not verify: the certificate is corrupt or forged", child.Subject.CommonName), ev...)
	}
	return newFinding("tls.cert-bad-signature", "",
		finding.T("The signature of %q does not verify with the key of its issuer %q: the certificate is corrupt, or was not issued by that CA", child.Subject.CommonName, parent.Subject.CommonName), ev...)
}

func subjects(cs []*x509.Certificate) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Subject.String())
	}
	return strings.Join(out, "; ")
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

func orNone(names []string) finding.Text {
	if len(names) == 0 {
		return finding.T("no names")
	}
	return finding.Verbatim(strings.Join(names, ", "))
}
