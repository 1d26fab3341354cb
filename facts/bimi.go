package facts

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/checks/bimi"
	"github.com/mailcheck-cli/mailcheck/dialer"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// Bounds on the BIMI documents fetched: the logo is judged against the
// BIMI Group's 32 KiB (reading a little past it says "too large" rather
// than "cut short"); an evidence document is a few certificates.
const (
	bimiMaxLogo     = bimi.MaxSVGSize + 1
	bimiMaxEvidence = 64 << 10
	bimiMaxRedirect = 3
)

// BIMI is the domain's BIMI assertion record at the default selector
// (draft-brand-indicators-for-message-identification) and, when it has
// one, the logo and the evidence document it points to, fetched over
// HTTPS as a receiver would.
type BIMI struct {
	// Lookup is the TXT lookup at default._bimi.<domain>; Org the lookup
	// at the Organizational Domain's name when the domain has no record
	// (the draft's discovery falls back to it), nil otherwise.
	Lookup Lookup
	Org    *Lookup
	// Records are the v=BIMI1 records at the name that decided (the
	// domain's, or the Organizational Domain's).
	Records []TXT
	// Record is the parsed record when there is exactly one; ParseErr is
	// set when it does not parse.
	Record   *bimi.Record
	ParseErr error
	// Logo and Evidence are the fetched documents of l= and a=; nil when
	// the record names none.
	Logo, Evidence *Fetched
}

// Decided is the lookup whose records apply: Org when the domain had none.
func (b *BIMI) Decided() *Lookup {
	if b.Org != nil {
		return b.Org
	}
	return &b.Lookup
}

// Fetched is a document fetched over HTTPS.
type Fetched struct {
	URL  string
	Body []byte
	// Err is a *resolver.Error (the host's lookup failed) or a
	// *MTASTSFetchError, the fetch error of every HTTPS document.
	Err error
}

// gatherBIMI looks up the assertion record, falls back to the
// Organizational Domain (known when org returns; it waits on DMARC
// discovery only when the domain has no record), and fetches the
// documents.
func gatherBIMI(ctx context.Context, r resolver.Resolver, d *dialer.Dialer, domain string, org func() string) BIMI {
	var b BIMI
	b.Lookup = ask(ctx, r, bimi.RecordName(bimi.DefaultSelector, domain), dns.TypeTXT)
	b.Records = bimiTXTs(&b.Lookup)
	if b.Lookup.OK() && len(b.Records) == 0 {
		if o := org(); o != "" && o != domain {
			l := ask(ctx, r, bimi.RecordName(bimi.DefaultSelector, o), dns.TypeTXT)
			b.Org = &l
			b.Records = bimiTXTs(&l)
		}
	}
	if len(b.Records) != 1 {
		return b
	}
	b.Record, b.ParseErr = bimi.ParseRecord(b.Records[0].Text)
	if b.ParseErr != nil || b.Record.Declined() {
		return b
	}
	fetch := func(u string, limit int64) *Fetched {
		if u == "" {
			return nil
		}
		f := &Fetched{URL: u}
		f.Body, f.Err = FetchHTTPS(ctx, d, u, limit)
		return f
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Evidence = fetch(b.Record.Evidence, bimiMaxEvidence)
	}()
	b.Logo = fetch(b.Record.Location, bimiMaxLogo)
	<-done
	return b
}

func bimiTXTs(l *Lookup) []TXT {
	var out []TXT
	for _, t := range l.TXTs() {
		if bimi.IsBIMI(t.Text) {
			out = append(out, t)
		}
	}
	return out
}

// FetchHTTPS fetches an HTTPS document as a receiver fetching a BIMI logo
// would: the certificate verified against d's roots, at most a few
// redirects (to HTTPS only), status 200, at most limit bytes read. The
// error is a *resolver.Error when the host's lookup failed (inconclusive),
// otherwise a *MTASTSFetchError naming the stage.
func FetchHTTPS(ctx context.Context, d *dialer.Dialer, rawURL string, limit int64) ([]byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return nil, &MTASTSFetchError{Stage: FetchHTTP, Reason: finding.T("%q is not an HTTPS URL", rawURL)}
	}
	host := u.Hostname()
	addrs, err := resolver.Addrs(ctx, d.Resolver, host)
	if len(addrs) == 0 {
		if err != nil {
			return nil, err
		}
		return nil, &MTASTSFetchError{Stage: FetchNoAddress, Reason: finding.T("%s has no A or AAAA record", host)}
	}
	ctx, cancel := d.Step(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, &MTASTSFetchError{Stage: FetchHTTP, Reason: finding.Verbatim(err.Error()), Err: err}
	}
	client := d.HTTPClient()
	client.CheckRedirect = func(next *http.Request, via []*http.Request) error {
		if len(via) > bimiMaxRedirect {
			return errTooManyRedirects
		}
		if next.URL.Scheme != "https" {
			return errRedirectNotHTTPS
		}
		return nil
	}
	resp, err := client.Do(req)
	switch {
	case errors.Is(err, errTooManyRedirects):
		return nil, &MTASTSFetchError{Stage: FetchRedirect, Err: err, Reason: finding.T("more than %d redirects", bimiMaxRedirect)}
	case errors.Is(err, errRedirectNotHTTPS):
		return nil, &MTASTSFetchError{Stage: FetchRedirect, Err: err, Reason: finding.T("a redirect to a URL that is not HTTPS")}
	case err != nil:
		return nil, classifyFetchError(host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &MTASTSFetchError{Stage: FetchStatus, Reason: finding.Verbatim("HTTP " + resp.Status)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, classifyFetchError(host, err)
	}
	return body, nil
}

var (
	errTooManyRedirects = errors.New("too many redirects")
	errRedirectNotHTTPS = errors.New("redirect to a URL that is not HTTPS")
)
