package probe

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// runState is shared by the probes of one run (Host, MX): issuer
// certificates fetched over AIA, once per URL, and the verdict on each
// certificate chain, once per chain and host name. Seven ports serving the
// same certificate then cost one fetch and report each problem once.
type runState struct {
	mu       sync.Mutex
	fetches  map[string]*issuerFetch
	verdicts map[string]*chainVerdict
}

func newRunState() *runState {
	return &runState{fetches: map[string]*issuerFetch{}, verdicts: map[string]*chainVerdict{}}
}

// issuerFetch is one AIA download, shared by whoever asks for its URL.
type issuerFetch struct {
	done  chan struct{}
	certs []*x509.Certificate
	err   error
}

// chainKey identifies a chain as judged for host: the same certificates,
// the same stapled response, the same name.
func chainKey(host string, v handshakeView) string {
	h := sha256.New()
	h.Write([]byte(host))
	for _, c := range v.Certs {
		h.Write([]byte{0})
		h.Write(c.Raw)
	}
	h.Write([]byte{1})
	h.Write(v.OCSP)
	return hex.EncodeToString(h.Sum(nil))
}

// verdict judges the chain of v for host, once per run: concurrent
// callers with the same chain wait for the first one's judgement.
func (st *runState) verdict(ctx context.Context, o Options, host string, v handshakeView) *chainVerdict {
	key := chainKey(host, v)
	st.mu.Lock()
	cv, ok := st.verdicts[key]
	if !ok {
		cv = &chainVerdict{key: key, done: make(chan struct{})}
		st.verdicts[key] = cv
	}
	st.mu.Unlock()
	if ok {
		<-cv.done
		return cv
	}
	judgeChain(ctx, o, st, host, v, cv)
	close(cv.done)
	return cv
}

// fetchIssuer downloads the certificate at an AIA "CA Issuers" URL
// (RFC 5280 §4.2.2.1): DER, PEM or a degenerate PKCS#7 bundle, at most
// 64 KiB, within one step. Each URL is fetched once per run.
func (st *runState) fetchIssuer(ctx context.Context, o Options, rawURL string) ([]*x509.Certificate, error) {
	st.mu.Lock()
	f, ok := st.fetches[rawURL]
	if !ok {
		f = &issuerFetch{done: make(chan struct{})}
		st.fetches[rawURL] = f
	}
	st.mu.Unlock()
	if ok {
		select {
		case <-f.done:
			return f.certs, f.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.certs, f.err = downloadIssuer(ctx, o, rawURL)
	close(f.done)
	return f.certs, f.err
}

// maxIssuerBytes bounds an AIA download: a CA certificate or a small
// bundle is a few kilobytes.
const maxIssuerBytes = 64 << 10

func downloadIssuer(ctx context.Context, o Options, rawURL string) ([]*x509.Certificate, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, &textError{finding.T("not an http URL: %q", rawURL)}
	}
	ctx, cancel := o.dialer().Step(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := o.dialer().HTTPClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxIssuerBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxIssuerBytes {
		return nil, &textError{finding.T("more than %d bytes", maxIssuerBytes)}
	}
	return parseIssuerCerts(body)
}

// parseIssuerCerts reads what CAs publish at their AIA URLs: a DER
// certificate (RFC 5280 §4.2.2.1 asks for it), PEM, or a certs-only
// PKCS#7 SignedData (the .p7c form the same section allows).
func parseIssuerCerts(b []byte) ([]*x509.Certificate, error) {
	if c, err := x509.ParseCertificate(b); err == nil {
		return []*x509.Certificate{c}, nil
	}
	var out []*x509.Certificate
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type == "CERTIFICATE" {
			if c, err := x509.ParseCertificate(blk.Bytes); err == nil {
				out = append(out, c)
			}
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	if certs, err := parsePKCS7Certs(b); err == nil && len(certs) > 0 {
		return certs, nil
	}
	return nil, &textError{finding.T("the file is not a certificate (DER, PEM or PKCS#7)")}
}

// parsePKCS7Certs extracts the certificates of a degenerate SignedData
// (RFC 2315 §9.1; RFC 5652 §5.1): ContentInfo{signedData, [0] SignedData{
// version, digestAlgorithms, contentInfo, [0] IMPLICIT certificates, ...}}.
func parsePKCS7Certs(b []byte) ([]*x509.Certificate, error) {
	var ci struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue `asn1:"explicit,tag:0"`
	}
	if _, err := asn1.Unmarshal(b, &ci); err != nil {
		return nil, err
	}
	if !ci.ContentType.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}) {
		return nil, errors.New("not a PKCS#7 SignedData")
	}
	var sd struct {
		Version          int
		DigestAlgorithms asn1.RawValue
		ContentInfo      asn1.RawValue
		Certificates     asn1.RawValue `asn1:"optional,tag:0"`
		CRLs             asn1.RawValue `asn1:"optional,tag:1"`
		SignerInfos      asn1.RawValue
	}
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		return nil, err
	}
	return x509.ParseCertificates(sd.Certificates.Bytes)
}

// badSignature finds a certificate of the chain whose signature does not
// verify with the key of the certificate that names itself its issuer —
// the next one presented, or one fetched over AIA. A certificate that
// merely names an issuer nobody has is not one (that is an unknown CA).
func badSignature(certs, fetched []*x509.Certificate) (child, parent *x509.Certificate, err error) {
	candidates := append(append([]*x509.Certificate(nil), certs...), fetched...)
	for _, c := range candidates {
		if bytes.Equal(c.RawIssuer, c.RawSubject) {
			if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil && isSignatureFailure(err) {
				return c, c, err
			}
			continue
		}
		var first error
		found := false
		for _, p := range candidates {
			if p == c || !bytes.Equal(c.RawIssuer, p.RawSubject) {
				continue
			}
			err := c.CheckSignatureFrom(p)
			if err == nil {
				found = false
				first = nil
				break
			}
			if isSignatureFailure(err) && !found {
				found, first, parent = true, err, p
			}
		}
		if found {
			return c, parent, first
		}
	}
	return nil, nil, nil
}

// isSignatureFailure tells a signature that does not verify from the
// other reasons CheckSignatureFrom gives: a parent that is not a CA, an
// algorithm Go does not support or considers insecure (SHA-1, MD5).
func isSignatureFailure(err error) bool {
	var ce x509.ConstraintViolationError
	var ie x509.InsecureAlgorithmError
	return !errors.As(err, &ce) && !errors.As(err, &ie) && !errors.Is(err, x509.ErrUnsupportedAlgorithm)
}
