package checks

import (
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/checks/bimi"
	"github.com/mailcheck-cli/mailcheck/checks/dmarc"
	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/pki"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

const validLogo = `<svg version="1.2" baseProfile="tiny-ps" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><title>Brand</title><rect width="10" height="10"/></svg>`

// bimiDomain is example.com under p=reject with the given BIMI records and
// documents, as gathering would leave them.
func bimiDomain(t *testing.T, records []string, logo, evidence *facts.Fetched) *facts.Domain {
	t.Helper()
	rec, err := dmarc.Parse("v=DMARC1; p=reject")
	if err != nil {
		t.Fatal(err)
	}
	d := &facts.Domain{Name: "example.com", Gathered: time.Now(),
		DMARC: &facts.DMARC{Domain: "example.com", Applying: &facts.DMARCLookup{Domain: "example.com", Record: rec}}}
	b := &d.BIMI
	b.Lookup = facts.Lookup{Name: "default._bimi.example.com.", Qtype: dns.TypeTXT, Answer: &resolver.Answer{Name: "default._bimi.example.com."}}
	for i, r := range records {
		b.Records = append(b.Records, facts.TXT{Text: r, Index: i})
	}
	if len(records) == 1 {
		b.Record, b.ParseErr = bimi.ParseRecord(records[0])
	}
	b.Logo, b.Evidence = logo, evidence
	return d
}

// The BIMI judge on gathered facts built by hand: the outcomes no fixture
// scenario shows (the scenarios bimi-* show the others end to end).
func TestJudgeBIMI(t *testing.T) {
	root, err := pki.NewRoot("test mark CA")
	if err != nil {
		t.Fatal(err)
	}
	mark, err := root.IssueMark("example.com", []byte(validLogo))
	if err != nil {
		t.Fatal(err)
	}
	otherMark, err := root.IssueMark("example.org", []byte(validLogo))
	if err != nil {
		t.Fatal(err)
	}
	const rec = "v=BIMI1; l=https://bimi.example.com/logo.svg; a=https://bimi.example.com/vmc.pem"
	logo := &facts.Fetched{URL: "https://bimi.example.com/logo.svg", Body: []byte(validLogo)}
	ev := func(body []byte) *facts.Fetched {
		return &facts.Fetched{URL: "https://bimi.example.com/vmc.pem", Body: body}
	}
	notFound := &facts.MTASTSFetchError{Stage: facts.FetchStatus, Reason: finding.Verbatim("HTTP 404 Not Found")}
	lookupFailed := &resolver.Error{Kind: resolver.Timeout, Name: "bimi.example.com.", Qtype: dns.TypeA}
	subject := "default._bimi.example.com TXT"
	tests := []struct {
		name    string
		d       *facts.Domain
		want    []want
		notWant []string
	}{
		{"no record", bimiDomain(t, nil, nil, nil), []want{{"bimi.missing", finding.Info, subject}}, nil},
		{"valid", bimiDomain(t, []string{rec}, logo, ev(mark)), []want{{"bimi.ok", finding.Pass, subject}}, nil},
		{"two records", bimiDomain(t, []string{rec, "v=BIMI1; l="}, nil, nil), []want{{"bimi.multiple", finding.Fail, subject}}, nil},
		{"logo not served", bimiDomain(t, []string{rec}, &facts.Fetched{URL: logo.URL, Err: notFound}, ev(mark)),
			[]want{{"bimi.logo-unreachable", finding.Fail, subject}}, []string{"bimi.ok"}},
		{"evidence not served", bimiDomain(t, []string{rec}, logo, &facts.Fetched{URL: "https://bimi.example.com/vmc.pem", Err: notFound}),
			[]want{{"bimi.evidence-unreachable", finding.Fail, subject}}, []string{"bimi.ok"}},
		{"evidence for another domain", bimiDomain(t, []string{rec}, logo, ev(otherMark)),
			[]want{{"bimi.evidence-invalid", finding.Fail, subject}}, []string{"bimi.ok"}},
		{"evidence that is no certificate", bimiDomain(t, []string{rec}, logo, ev([]byte("<html>not found</html>"))),
			[]want{{"bimi.evidence-invalid", finding.Fail, subject}}, nil},
		// The logo's host does not resolve now: inconclusive, not "unreachable".
		{"logo host lookup fails", bimiDomain(t, []string{rec}, &facts.Fetched{URL: logo.URL, Err: lookupFailed}, ev(mark)),
			[]want{{"dns.lookup-failed", finding.Error, "bimi.example.com A"}}, []string{"bimi.logo-unreachable", "bimi.ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := judgeBIMI(tt.d)
			assertFindings(t, res.Findings, tt.want...)
			assertNoFindings(t, res.Findings, tt.notWant...)
		})
	}
}
