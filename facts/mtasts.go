package facts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/checks/mtasts"
	"github.com/mailcheck-cli/mailcheck/dialer"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// MTASTS is a domain's MTA-STS record (RFC 8461 §3.1) and the policy it
// announces (§3.2), fetched over HTTPS as a sender would, or read from the
// file given with --mta-sts-policy.
type MTASTS struct {
	Lookup Lookup // TXT at _mta-sts.<domain>
	// Records are the TXT records starting v=STSv1; Others the rest.
	Records, Others []TXT
	// Policy is set when the policy was read or fetched (there is at least
	// one record); Source names where: the URL or the file.
	Policy *MTASTSPolicy
}

// MTASTSPolicy is one reading of a policy document.
type MTASTSPolicy struct {
	Source string
	// FromFile is set when Source is a local file (--mta-sts-policy).
	FromFile bool
	Parsed   *mtasts.Policy
	Body     []byte
	// Err is a *resolver.Error (the policy host's lookup failed), a
	// *MTASTSFetchError or a *mtasts.ParseError (Body holds what was read).
	Err error
}

// gatherMTASTS looks up the record and, when there is one, reads the policy
// from policyFile or fetches it over HTTPS through d.
func gatherMTASTS(ctx context.Context, r resolver.Resolver, d *dialer.Dialer, domain, policyFile string) MTASTS {
	var m MTASTS
	m.Lookup = ask(ctx, r, "_mta-sts."+domain, dns.TypeTXT)
	for _, t := range m.Lookup.TXTs() {
		if mtasts.IsRecord(t.Text) {
			m.Records = append(m.Records, t)
		} else {
			m.Others = append(m.Others, t)
		}
	}
	if len(m.Records) == 0 {
		return m
	}
	m.Policy = ReadMTASTSPolicy(ctx, d, domain, policyFile)
	return m
}

// ReadMTASTSPolicy reads domain's policy from file when one is given (CI:
// the proposed policy lives in the repository beside the zone), otherwise
// fetches it over HTTPS through d.
func ReadMTASTSPolicy(ctx context.Context, d *dialer.Dialer, domain, file string) *MTASTSPolicy {
	if file != "" {
		p := &MTASTSPolicy{Source: file, FromFile: true}
		p.Parsed, p.Body, p.Err = ReadMTASTSPolicyFile(file)
		return p
	}
	p := &MTASTSPolicy{Source: MTASTSPolicyURL(domain)}
	p.Parsed, p.Body, p.Err = FetchMTASTSPolicy(ctx, d, domain)
	return p
}

// MTASTSPolicyURL is where senders fetch the policy of domain (RFC 8461
// §3.3).
func MTASTSPolicyURL(domain string) string {
	return "https://mta-sts." + trimDot(domain) + "/.well-known/mta-sts.txt"
}

// MTASTSFetchStage says where fetching a policy failed.
type MTASTSFetchStage string

const (
	FetchNoAddress   MTASTSFetchStage = "dns"          // mta-sts.<domain> has no A/AAAA record
	FetchConnect     MTASTSFetchStage = "connect"      // TCP connection to port 443 failed
	FetchTimeout     MTASTSFetchStage = "timeout"      // no answer within the step timeout
	FetchTLS         MTASTSFetchStage = "tls"          // handshake or certificate failure
	FetchRedirect    MTASTSFetchStage = "redirect"     // a 3xx answer: RFC 8461 §3.3 forbids following it
	FetchStatus      MTASTSFetchStage = "status"       // an HTTP status other than 200
	FetchContentType MTASTSFetchStage = "content-type" // not text/plain (RFC 8461 §3.2)
	FetchSize        MTASTSFetchStage = "size"         // larger than mtasts.MaxPolicySize
	FetchHTTP        MTASTSFetchStage = "http"         // another HTTP or read failure
)

// MTASTSFetchError is a policy that could not be fetched. A failed DNS
// lookup is not one: FetchMTASTSPolicy returns the *resolver.Error, since
// the policy may well be reachable.
type MTASTSFetchError struct {
	Stage  MTASTSFetchStage
	Reason finding.Text // for people: "HTTP 404 Not Found"
	Err    error        // the underlying error, if any
}

func (e *MTASTSFetchError) Error() string { return e.Reason.String() }
func (e *MTASTSFetchError) Unwrap() error { return e.Err }

// FetchMTASTSPolicy fetches and parses the policy of domain as a sender
// would (RFC 8461 §3.3): HTTPS with a certificate valid for
// mta-sts.<domain>, no redirects, status 200, media type text/plain, at
// most mtasts.MaxPolicySize bytes. d supplies the resolver, the port map
// and the trusted roots. The error is a *resolver.Error (the lookup of
// mta-sts.<domain> failed: inconclusive), a *MTASTSFetchError, or a
// *mtasts.ParseError beside the body that does not parse.
func FetchMTASTSPolicy(ctx context.Context, d *dialer.Dialer, domain string) (*mtasts.Policy, []byte, error) {
	host := "mta-sts." + trimDot(domain)
	// Resolve first, so that a lookup failure is told from a name without
	// addresses; the dialer asks again and the per-run cache answers.
	addrs, err := resolver.Addrs(ctx, d.Resolver, host)
	if len(addrs) == 0 {
		if err != nil {
			return nil, nil, err
		}
		return nil, nil, &MTASTSFetchError{Stage: FetchNoAddress, Reason: finding.T("%s has no A or AAAA record", host)}
	}
	ctx, cancel := d.Step(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, MTASTSPolicyURL(domain), nil)
	if err != nil {
		return nil, nil, &MTASTSFetchError{Stage: FetchHTTP, Reason: finding.Verbatim(err.Error()), Err: err}
	}
	resp, err := d.HTTPClient().Do(req)
	if err != nil {
		return nil, nil, classifyFetchError(host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		loc := resp.Header.Get("Location")
		return nil, nil, &MTASTSFetchError{Stage: FetchRedirect,
			Reason: finding.T("HTTP %s redirecting to %q; senders do not follow redirects (RFC 8461 §3.3)", resp.Status, loc)}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, &MTASTSFetchError{Stage: FetchStatus, Reason: finding.Verbatim("HTTP " + resp.Status)}
	}
	ct := resp.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "text/plain" {
		// RFC 8461 §3.2: the media type MUST be text/plain, and senders
		// SHOULD check it, so that a web page is never taken for a policy.
		return nil, nil, &MTASTSFetchError{Stage: FetchContentType,
			Reason: finding.T("Content-Type %q; the policy must be served as text/plain (RFC 8461 §3.2)", ct)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, mtasts.MaxPolicySize+1))
	if err != nil {
		return nil, nil, classifyFetchError(host, err)
	}
	if len(body) > mtasts.MaxPolicySize {
		return nil, nil, &MTASTSFetchError{Stage: FetchSize,
			Reason: finding.T("the body is larger than %d bytes; senders stop reading there", mtasts.MaxPolicySize)}
	}
	p, err := mtasts.ParsePolicy(body)
	if err != nil {
		return nil, body, err
	}
	return p, body, nil
}

// classifyFetchError names the stage an HTTP client error comes from, by
// the types of the errors it wraps.
func classifyFetchError(host string, err error) error {
	var re *resolver.Error
	if errors.As(err, &re) {
		return re
	}
	var (
		verr *tls.CertificateVerificationError
		herr x509.HostnameError
		uerr x509.UnknownAuthorityError
		cerr x509.CertificateInvalidError
		rerr tls.RecordHeaderError
		aerr tls.AlertError
		nerr net.Error
		oerr *net.OpError
	)
	switch {
	case errors.As(err, &herr) && herr.Certificate != nil:
		return &MTASTSFetchError{Stage: FetchTLS, Err: err,
			Reason: finding.T("the certificate is not valid for %s (it names %s)", host, strings.Join(herr.Certificate.DNSNames, ", "))}
	case errors.As(err, &uerr):
		return &MTASTSFetchError{Stage: FetchTLS, Err: err,
			Reason: finding.T("the certificate is not signed by a trusted authority (%s)", uerr.Error())}
	case errors.As(err, &cerr):
		return &MTASTSFetchError{Stage: FetchTLS, Err: err, Reason: finding.T("the certificate is not valid: %s", cerr.Error())}
	case errors.As(err, &verr):
		return &MTASTSFetchError{Stage: FetchTLS, Err: err, Reason: finding.T("the certificate does not verify: %s", verr.Err.Error())}
	case errors.As(err, &rerr), errors.As(err, &aerr):
		return &MTASTSFetchError{Stage: FetchTLS, Err: err, Reason: finding.T("the TLS handshake failed: %s", err.Error())}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &nerr) && nerr.Timeout():
		return &MTASTSFetchError{Stage: FetchTimeout, Err: err, Reason: finding.T("no answer from %s in time", host)}
	case errors.As(err, &oerr) && oerr.Op == "dial":
		return &MTASTSFetchError{Stage: FetchConnect, Err: err,
			Reason: finding.T("cannot connect to %s port 443: %s", host, oerr.Err.Error())}
	}
	return &MTASTSFetchError{Stage: FetchHTTP, Err: err, Reason: finding.Verbatim(err.Error())}
}

// ReadMTASTSPolicyFile reads and parses a policy kept in a local file
// (--mta-sts-policy), bounded as a fetched one is.
func ReadMTASTSPolicyFile(path string) (*mtasts.Policy, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, &MTASTSFetchError{Stage: FetchHTTP, Reason: finding.Verbatim(err.Error()), Err: err}
	}
	defer f.Close()
	body, err := io.ReadAll(io.LimitReader(f, mtasts.MaxPolicySize+1))
	if err != nil {
		return nil, nil, &MTASTSFetchError{Stage: FetchHTTP, Reason: finding.Verbatim(err.Error()), Err: err}
	}
	if len(body) > mtasts.MaxPolicySize {
		return nil, nil, &MTASTSFetchError{Stage: FetchHTTP, Reason: finding.T("%s is larger than %d bytes", path, mtasts.MaxPolicySize)}
	}
	policy, err := mtasts.ParsePolicy(body)
	if err != nil {
		return nil, body, err
	}
	return policy, body, nil
}
