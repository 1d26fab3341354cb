package checks

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/checks/mtasts"
	"github.com/mailcheck-cli/mailcheck/dialer"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

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
	Reason string // for people: "HTTP 404 Not Found"
	Err    error  // the underlying error, if any
}

func (e *MTASTSFetchError) Error() string { return e.Reason }
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
		return nil, nil, &MTASTSFetchError{Stage: FetchNoAddress, Reason: host + " has no A or AAAA record"}
	}
	ctx, cancel := d.Step(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, MTASTSPolicyURL(domain), nil)
	if err != nil {
		return nil, nil, &MTASTSFetchError{Stage: FetchHTTP, Reason: err.Error(), Err: err}
	}
	resp, err := d.HTTPClient().Do(req)
	if err != nil {
		return nil, nil, classifyFetchError(host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		loc := resp.Header.Get("Location")
		return nil, nil, &MTASTSFetchError{Stage: FetchRedirect,
			Reason: fmt.Sprintf("HTTP %s redirecting to %q; senders do not follow redirects (RFC 8461 §3.3)", resp.Status, loc)}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, &MTASTSFetchError{Stage: FetchStatus, Reason: "HTTP " + resp.Status}
	}
	ct := resp.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "text/plain" {
		// RFC 8461 §3.2: the media type MUST be text/plain, and senders
		// SHOULD check it, so that a web page is never taken for a policy.
		return nil, nil, &MTASTSFetchError{Stage: FetchContentType,
			Reason: fmt.Sprintf("Content-Type %q; the policy must be served as text/plain (RFC 8461 §3.2)", ct)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, mtasts.MaxPolicySize+1))
	if err != nil {
		return nil, nil, classifyFetchError(host, err)
	}
	if len(body) > mtasts.MaxPolicySize {
		return nil, nil, &MTASTSFetchError{Stage: FetchSize,
			Reason: fmt.Sprintf("the body is larger than %d bytes; senders stop reading there", mtasts.MaxPolicySize)}
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
			Reason: fmt.Sprintf("the certificate is not valid for %s (it names %s)", host, strings.Join(herr.Certificate.DNSNames, ", "))}
	case errors.As(err, &uerr):
		return &MTASTSFetchError{Stage: FetchTLS, Err: err,
			Reason: "the certificate is not signed by a trusted authority (" + uerr.Error() + ")"}
	case errors.As(err, &cerr):
		return &MTASTSFetchError{Stage: FetchTLS, Err: err, Reason: "the certificate is not valid: " + cerr.Error()}
	case errors.As(err, &verr):
		return &MTASTSFetchError{Stage: FetchTLS, Err: err, Reason: "the certificate does not verify: " + verr.Err.Error()}
	case errors.As(err, &rerr), errors.As(err, &aerr):
		return &MTASTSFetchError{Stage: FetchTLS, Err: err, Reason: "the TLS handshake failed: " + err.Error()}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &nerr) && nerr.Timeout():
		return &MTASTSFetchError{Stage: FetchTimeout, Err: err, Reason: "no answer from " + host + " in time"}
	case errors.As(err, &oerr) && oerr.Op == "dial":
		return &MTASTSFetchError{Stage: FetchConnect, Err: err,
			Reason: "cannot connect to " + host + " port 443: " + oerr.Err.Error()}
	}
	return &MTASTSFetchError{Stage: FetchHTTP, Err: err, Reason: err.Error()}
}

// checkMTASTS audits MTA-STS (RFC 8461): the _mta-sts TXT record, the
// policy it announces, and whether the policy covers every MX host.
//
// Where RFC 8461 leaves the severity open:
//   - a policy served with another media type than text/plain is
//     mtasts.policy-unreachable at fail: senders SHOULD discard it (§3.2);
//   - a fetch that times out is mtasts.policy-unreachable at error
//     (inconclusive): the server may only be slow;
//   - an MX host outside the policy is mtasts.mx-mismatch at fail in mode
//     enforce (senders refuse to deliver to it, §5.1) and at warn in mode
//     testing (they only report it); mode none is not compared.
func checkMTASTS(ctx context.Context, env *Env, domain string) Result {
	name := dns.Fqdn("_mta-sts." + domain)
	subject := Subject(name, dns.TypeTXT)
	ans, _, err := resolver.Follow(ctx, env.Resolver, name, dns.TypeTXT)
	if err != nil {
		return Result{Findings: []finding.Finding{LookupProblem(finding.T("MTA-STS"), name, dns.TypeTXT, err)}}
	}
	var records, others []string
	var recordIdx []int
	for i, rr := range ans.RRs {
		t, ok := rr.(*dns.TXT)
		if !ok {
			continue
		}
		txt := strings.Join(t.Txt, "")
		if mtasts.IsRecord(txt) {
			records = append(records, txt)
			recordIdx = append(recordIdx, i)
		} else {
			others = append(others, txt)
		}
	}
	if len(records) == 0 {
		f := finding.New("mtasts.missing", subject, finding.T("No MTA-STS record: senders may deliver over unauthenticated or plaintext SMTP"), others...)
		f.SetFix(finding.T("Publish a policy at %s (start with mode: testing), then %s IN TXT \"v=STSv1; id=%s\"", MTASTSPolicyURL(domain), name, mtastsNewID(env)))
		return Result{Findings: []finding.Finding{f}}
	}

	var out []finding.Finding
	if len(records) > 1 {
		// RFC 8461 §3.1: with more than one record, senders assume no policy.
		f := finding.New("mtasts.syntax", subject,
			finding.T("%d MTA-STS records: senders ignore them all and assume no policy", len(records)), records...)
		f.SetFix(finding.T("Keep one record: %s IN TXT \"v=STSv1; id=%s\"", name, mtastsNewID(env)))
		locate(&f, ans, recordIdx[1])
		out = append(out, f)
	} else if _, err := mtasts.ParseRecord(records[0]); err != nil {
		f := finding.New("mtasts.syntax", subject, finding.T("MTA-STS record is invalid: %s; senders ignore it", err.Error()), records[0])
		f.SetFix(finding.T("Publish %s IN TXT \"v=STSv1; id=%s\" (id: 1 to 32 letters and digits, changed whenever the policy changes)", name, mtastsNewID(env)))
		locate(&f, ans, recordIdx[0])
		out = append(out, f)
	}

	// The MX hosts the policy must cover, asked while the policy is
	// fetched; the MX check asks the same question and the per-run cache
	// answers it once.
	var mxs []mtastsMXHost
	var mxAns *resolver.Answer
	var mxErr error
	mxDone := make(chan struct{})
	go func() {
		defer close(mxDone)
		mxs, mxAns, mxErr = mtastsMXHosts(ctx, env.Resolver, domain)
	}()

	url := MTASTSPolicyURL(domain)
	var policy *mtasts.Policy
	var body []byte
	if env.MTASTSPolicyFile != "" {
		// CI: the proposed policy lives in the repository beside the zone.
		url = env.MTASTSPolicyFile
		policy, body, err = ReadMTASTSPolicyFile(env.MTASTSPolicyFile)
	} else {
		d := env.Dialer
		if d == nil {
			d = &dialer.Dialer{Resolver: env.Resolver}
		}
		policy, body, err = FetchMTASTSPolicy(ctx, d, domain)
	}
	<-mxDone
	var fe *MTASTSFetchError
	var pe *mtasts.ParseError
	var re *resolver.Error
	switch {
	case errors.As(err, &re):
		out = append(out, LookupProblem(finding.T("The MTA-STS policy host"), re.Name, re.Qtype, err))
	case errors.As(err, &fe):
		out = append(out, mtastsUnreachable(domain, url, fe, mxs))
	case errors.As(err, &pe):
		f := finding.New("mtasts.syntax", url, finding.T("MTA-STS policy is invalid: %s; senders ignore it", err.Error()), mtastsExcerpt(body, pe.Line))
		f.SetFix(finding.T("Serve a policy of this form (LF or CRLF line ends):\n%s", mtastsSuggestedPolicy(mxs, mtasts.ModeTesting)))
		out = append(out, f)
	case err != nil:
		out = append(out, finding.New("mtasts.policy-unreachable", url, finding.T("MTA-STS policy cannot be fetched: %s", err.Error())))
	}
	if policy == nil {
		sortFindings(out)
		return Result{Findings: out}
	}

	var detail []string
	switch policy.Mode {
	case mtasts.ModeTesting:
		f := finding.New("mtasts.testing", url, finding.T("MTA-STS policy is in testing mode: senders report TLS failures but still deliver without TLS"),
			"mode: testing")
		f.SetFix(finding.T("Once TLS-RPT reports show no failures, set mode: enforce and change the id= of the _mta-sts record"))
		out = append(out, f)
	case mtasts.ModeNone:
		f := finding.New("mtasts.mode-none", url, finding.T("MTA-STS policy is in mode none: senders treat the domain as having no policy"), "mode: none")
		out = append(out, f)
	}
	if policy.MaxAge < 86400 {
		detail = append(detail, fmt.Sprintf("MTA-STS: max_age %d is under a day; RFC 8461 §3.2 suggests weeks or more, so a policy outlives a DNS attack", policy.MaxAge))
	}

	if policy.Mode != mtasts.ModeNone {
		switch {
		case mxErr != nil:
			out = append(out, LookupProblem(finding.T("MTA-STS MX coverage"), dns.Fqdn(domain), dns.TypeMX, mxErr))
		default:
			if f, ok := mtastsCoverage(env, domain, url, policy, mxs, mxAns); ok {
				out = append(out, f)
			}
			for _, pat := range policy.MX {
				used := false
				for _, h := range mxs {
					used = used || mtasts.MatchMX(pat, h.host)
				}
				if !used && len(mxs) > 0 {
					detail = append(detail, "MTA-STS: the pattern mx: "+pat+" matches no MX host")
				}
			}
		}
	}

	if !slices.ContainsFunc(out, func(f finding.Finding) bool { return f.Severity >= finding.Warn }) {
		ev := []string{records[0]}
		ev = append(ev, strings.Split(strings.TrimSpace(policy.Text()), "\n")...)
		title := finding.T("MTA-STS policy is valid: mode %s, max_age %d", policy.Mode, policy.MaxAge)
		if policy.Mode != mtasts.ModeNone && len(mxs) > 0 {
			title = finding.T("MTA-STS policy is valid: mode %s, max_age %d, covering every MX host", policy.Mode, policy.MaxAge)
		}
		f := finding.New("mtasts.ok", url, title, ev...)
		locate(&f, ans, recordIdx[0])
		out = append(out, f)
	}
	sortFindings(out)
	return Result{Findings: out, Detail: detail}
}

// ReadMTASTSPolicyFile reads and parses a policy kept in a local file
// (--mta-sts-policy), bounded as a fetched one is.
func ReadMTASTSPolicyFile(path string) (*mtasts.Policy, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, &MTASTSFetchError{Stage: FetchHTTP, Reason: err.Error(), Err: err}
	}
	defer f.Close()
	body, err := io.ReadAll(io.LimitReader(f, mtasts.MaxPolicySize+1))
	if err != nil {
		return nil, nil, &MTASTSFetchError{Stage: FetchHTTP, Reason: err.Error(), Err: err}
	}
	if len(body) > mtasts.MaxPolicySize {
		return nil, nil, &MTASTSFetchError{Stage: FetchHTTP, Reason: fmt.Sprintf("%s is larger than %d bytes", path, mtasts.MaxPolicySize)}
	}
	policy, err := mtasts.ParsePolicy(body)
	if err != nil {
		return nil, body, err
	}
	return policy, body, nil
}

// mtastsMXHost is one MX target and where its record is.
type mtastsMXHost struct {
	host  string // without the trailing dot
	index int    // in the MX answer
}

// mtastsMXHosts returns the domain's MX hosts, null MX left out.
func mtastsMXHosts(ctx context.Context, r resolver.Resolver, domain string) ([]mtastsMXHost, *resolver.Answer, error) {
	ans, _, err := resolver.Follow(ctx, r, dns.Fqdn(domain), dns.TypeMX)
	if err != nil {
		return nil, nil, err
	}
	var out []mtastsMXHost
	for i, rr := range ans.RRs {
		if mx, ok := rr.(*dns.MX); ok && mx.Mx != "." {
			out = append(out, mtastsMXHost{host: strings.ToLower(trimDot(mx.Mx)), index: i})
		}
	}
	return out, ans, nil
}

// mtastsCoverage reports the MX hosts no mx pattern matches (RFC 8461
// §4.1). ok is false when every host is covered.
func mtastsCoverage(env *Env, domain, url string, p *mtasts.Policy, mxs []mtastsMXHost, mxAns *resolver.Answer) (finding.Finding, bool) {
	var uncovered []mtastsMXHost
	for _, h := range mxs {
		if !p.Matches(h.host) {
			uncovered = append(uncovered, h)
		}
	}
	if len(uncovered) == 0 {
		return finding.Finding{}, false
	}
	var names []string
	for _, h := range uncovered {
		names = append(names, h.host)
	}
	ev := []string{"not covered: " + strings.Join(names, ", ")}
	for _, pat := range p.MX {
		ev = append(ev, "mx: "+pat)
	}
	f := finding.New("mtasts.mx-mismatch", url,
		finding.T("MX host %s is not covered by the MTA-STS policy", strings.Join(names, ", ")), ev...)
	if p.Mode == mtasts.ModeEnforce {
		f.Severity = finding.Fail
		f.SetTitle(f.TitleText().Append(finding.T(": senders enforcing the policy will not deliver to it")))
	} else {
		f.Severity = finding.Warn
		f.SetTitle(f.TitleText().Append(finding.T(": in mode enforce, senders would not deliver to it")))
	}
	fixed := *p
	fixed.MX = append([]string(nil), p.MX...)
	for _, h := range uncovered {
		fixed.MX = append(fixed.MX, h.host)
	}
	f.SetFix(finding.T("Serve this policy at %s:\n%sthen change the id of the _mta-sts.%s record (e.g. \"v=STSv1; id=%s\") so that senders fetch it again", url, fixed.Text(), domain, mtastsNewID(env)))
	locate(&f, mxAns, uncovered[0].index)
	return f, true
}

// mtastsUnreachable turns a failed fetch into its finding.
func mtastsUnreachable(domain, url string, fe *MTASTSFetchError, mxs []mtastsMXHost) finding.Finding {
	f := finding.New("mtasts.policy-unreachable", url, finding.T("MTA-STS policy cannot be fetched: %s", fe.Reason), fe.Reason)
	host := "mta-sts." + domain
	switch fe.Stage {
	case FetchNoAddress:
		f.SetFix(finding.T("Publish an A or AAAA record for %s pointing at the HTTPS server that serves the policy", host))
	case FetchConnect:
		f.SetFix(finding.T("Serve HTTPS on port 443 of %s, or point %s at a server that does", host, host))
	case FetchTimeout:
		// A slow or filtered server: the policy may exist.
		f.Severity = finding.Error
		f.SetFix(finding.T("Check that port 443 of %s answers from the Internet; a firewall dropping connections causes this", host))
	case FetchTLS:
		f.SetFix(finding.T("Install a certificate for %s issued by a public CA, served with its intermediate certificates (RFC 8461 §3.3)", host))
	case FetchRedirect:
		f.SetFix(finding.T("Serve the policy at %s itself, with status 200, instead of redirecting", url))
	case FetchStatus:
		f.SetFix(finding.T("Publish the policy at %s, answering 200:\n%s", url, mtastsSuggestedPolicy(mxs, mtasts.ModeTesting)))
	case FetchContentType:
		f.SetFix(finding.T("Serve %s with Content-Type: text/plain", url))
	case FetchSize:
		f.SetFix(finding.T("Serve only the policy at %s: a few lines of version, mode, mx and max_age", url))
	}
	return f
}

// mtastsSuggestedPolicy is a policy for the given MX hosts.
func mtastsSuggestedPolicy(mxs []mtastsMXHost, mode mtasts.Mode) string {
	p := &mtasts.Policy{Version: mtasts.Version, Mode: mode, MaxAge: 604800}
	for _, h := range mxs {
		p.MX = append(p.MX, h.host)
	}
	if len(p.MX) == 0 {
		p.MX = []string{"mail.example.com"}
	}
	return p.Text()
}

// mtastsNewID proposes a policy id: the current time, which changes with
// every edit as RFC 8461 §3.1 requires.
func mtastsNewID(env *Env) string {
	return env.now().UTC().Format("20060102150405")
}

// mtastsExcerpt quotes the policy line an error names, or the start of the
// body.
func mtastsExcerpt(body []byte, line int) string {
	lines := strings.Split(string(body), "\n")
	if line >= 1 && line <= len(lines) {
		return fmt.Sprintf("line %d: %s", line, strings.TrimSuffix(lines[line-1], "\r"))
	}
	s := string(body)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
