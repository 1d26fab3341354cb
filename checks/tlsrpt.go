package checks

import (
	"fmt"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/checks/tlsrpt"
	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
)

// judgeTLSRPT audits the TLS-RPT record at _smtp._tls.<domain> (RFC 8460
// §3). A missing record is info: reporting is optional, but without it
// MTA-STS and DANE failures go unseen.
func judgeTLSRPT(d *facts.Domain) Result {
	t := &d.TLSRPT
	domain := d.Name
	name := dns.Fqdn("_smtp._tls." + domain)
	subject := Subject(name, dns.TypeTXT)
	if !t.Lookup.OK() {
		return Result{Findings: []finding.Finding{lookupProblem(finding.T("TLS-RPT"), &t.Lookup)}}
	}
	records, others := texts(t.Records), texts(t.Others)
	suggested := fmt.Sprintf("%s IN TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@%s\"", name, domain)
	if len(records) == 0 {
		f := finding.New("tlsrpt.missing", subject, finding.T("No TLS-RPT record: sending servers cannot report TLS failures to you"), others...)
		f.SetFix(finding.T("Publish %s (any mailbox or an https:// endpoint that receives the reports)", suggested))
		return Result{Findings: []finding.Finding{f}}
	}
	if len(records) > 1 {
		// RFC 8460 §3: when the records beginning with v=TLSRPTv1 are not
		// exactly one, senders assume no TLS-RPT.
		f := finding.New("tlsrpt.syntax", subject,
			finding.T("%d TLS-RPT records: senders ignore them all", len(records)), records...)
		f.SetFix(finding.T("Keep one record and list every destination in its rua=, separated by commas: %s", suggested))
		locate(&f, &t.Lookup, t.Records[1].Index)
		return Result{Findings: []finding.Finding{f}}
	}
	rec, err := tlsrpt.ParseRecord(records[0])
	if err != nil {
		f := finding.New("tlsrpt.syntax", subject, finding.T("TLS-RPT record is invalid: %s; senders ignore it", err), records[0])
		f.SetFix(finding.T("Publish %s (report URIs are mailto: or https:, separated by commas)", suggested))
		locate(&f, &t.Lookup, t.Records[0].Index)
		return Result{Findings: []finding.Finding{f}}
	}
	var dests []string
	for _, u := range rec.RUA {
		dests = append(dests, u.String())
	}
	f := finding.New("tlsrpt.ok", subject, finding.T("TLS-RPT reports go to %s", strings.Join(dests, ", ")), records[0])
	locate(&f, &t.Lookup, t.Records[0].Index)
	return Result{Findings: []finding.Finding{f}}
}
