package checks

import (
	"errors"
	"fmt"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/checks/bimi"
	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// judgeBIMI judges the BIMI assertion record at default._bimi.<domain>
// (or the Organizational Domain's, which receivers fall back to), the logo
// it points to and the evidence document
// (draft-brand-indicators-for-message-identification):
//   - no record: bimi.missing (info), BIMI is optional;
//   - an explicit refusal (l= and a= empty): bimi.declined (info);
//   - several records, or one that does not parse: bimi.multiple,
//     bimi.syntax (fail): receivers show no logo;
//   - a DMARC policy that does not enforce (none, sp=none, quarantine
//     below 100%): bimi.dmarc-insufficient (fail);
//   - the logo: fetched over HTTPS and checked against the SVG Tiny PS
//     profile: bimi.logo-unreachable, bimi.logo-invalid (fail);
//   - the evidence document: absent is bimi.evidence-missing (warn, the
//     largest providers want one); unreachable or not a mark certificate
//     for the domain is bimi.evidence-unreachable, bimi.evidence-invalid
//     (fail);
//   - bimi.ok otherwise.
func judgeBIMI(d *facts.Domain) Result {
	b := &d.BIMI
	l := b.Decided()
	name := bimi.RecordName(bimi.DefaultSelector, d.Name)
	subject := Subject(name, dns.TypeTXT)
	switch {
	case b.Lookup.Err != nil:
		return Result{Findings: []finding.Finding{lookupProblem(finding.T("The BIMI record"), &b.Lookup)}}
	case b.Org != nil && b.Org.Err != nil:
		return Result{Findings: []finding.Finding{lookupProblem(finding.T("The BIMI record"), b.Org)}}
	case len(b.Records) == 0:
		f := finding.New("bimi.missing", subject, finding.T("No BIMI record at %s", name))
		return Result{Findings: []finding.Finding{f}}
	case len(b.Records) > 1:
		f := finding.New("bimi.multiple", Subject(l.Name, dns.TypeTXT), finding.T("%d BIMI records at %s: receivers show no logo", len(b.Records), trimDot(l.Name)), texts(b.Records)...)
		f.SetFix(finding.T("Keep one TXT record starting with v=BIMI1 at %s and delete the others", trimDot(l.Name)))
		locate(&f, l, b.Records[0].Index)
		return Result{Findings: []finding.Finding{f}}
	}
	rec := b.Records[0]
	add := func(out []finding.Finding, f finding.Finding) []finding.Finding {
		if b.Org != nil {
			f.Note(finding.T("%s has no BIMI record: receivers use the one of its Organizational Domain at %s", d.Name, trimDot(l.Name)))
		}
		locate(&f, l, rec.Index)
		return append(out, f)
	}
	var out []finding.Finding
	if b.ParseErr != nil {
		f := finding.New("bimi.syntax", subject, finding.T("The BIMI record does not parse: %s", b.ParseErr), rec.Text)
		f.SetFix(bimiSyntaxFix(b.ParseErr))
		return Result{Findings: add(out, f)}
	}
	if b.Record.Declined() {
		f := finding.New("bimi.declined", subject, finding.T("%s declines BIMI: no logo is shown", d.Name), rec.Text)
		return Result{Findings: add(out, f)}
	}
	if block := bimi.DMARCBlocks(d.DMARC.Record(), d.DMARC.Applied()); block != "" {
		f := finding.New("bimi.dmarc-insufficient", subject, finding.T("Receivers show no BIMI logo for %s: its DMARC policy is not enforced (%s)", d.Name, bimiBlockText(block)), rec.Text)
		f.SetFix(finding.T("Move the DMARC policy of %s to p=quarantine or p=reject (without pct below 100 and without sp=none) once the aggregate reports show your own mail passing", d.Name))
		out = add(out, f)
	}
	if lg := b.Logo; lg != nil {
		var re *resolver.Error
		switch problems := bimi.CheckSVG(lg.Body); {
		case errors.As(lg.Err, &re):
			out = append(out, LookupProblem(finding.T("The BIMI logo"), re.Name, re.Qtype, lg.Err))
		case lg.Err != nil:
			f := finding.New("bimi.logo-unreachable", subject, finding.T("The BIMI logo cannot be fetched: %s", fetchReason(lg.Err)), lg.URL)
			f.SetFix(finding.T("Serve the SVG at %s over HTTPS with a certificate from a public CA, status 200, under 32 KiB", lg.URL))
			out = add(out, f)
		case len(problems) > 0:
			ev := []string{lg.URL}
			for _, p := range problems {
				ev = append(ev, fmt.Sprintf("%s: %s", p.Code, p.Detail))
			}
			f := finding.New("bimi.logo-invalid", subject, finding.T("The BIMI logo is not an SVG Tiny PS document (%d problem(s))", len(problems)), ev...)
			out = add(out, f)
		}
	}
	var re *resolver.Error
	switch ev := b.Evidence; {
	case ev != nil && errors.As(ev.Err, &re):
		out = append(out, LookupProblem(finding.T("The BIMI evidence document"), re.Name, re.Qtype, ev.Err))
	case ev == nil:
		f := finding.New("bimi.evidence-missing", subject, finding.T("The BIMI record of %s names no mark certificate (a=): Gmail, Apple Mail and Yahoo show no logo without one", d.Name), rec.Text)
		out = add(out, f)
	case ev.Err != nil:
		f := finding.New("bimi.evidence-unreachable", subject, finding.T("The BIMI evidence document cannot be fetched: %s", fetchReason(ev.Err)), ev.URL)
		f.SetFix(finding.T("Serve the PEM file at %s over HTTPS with a certificate from a public CA, status 200", ev.URL))
		out = add(out, f)
	default:
		if _, problems := bimi.ParseEvidence(ev.Body, d.Name, d.Gathered); len(problems) > 0 {
			evl := []string{ev.URL}
			for _, p := range problems {
				evl = append(evl, string(p))
			}
			f := finding.New("bimi.evidence-invalid", subject, finding.T("The BIMI evidence document is not a valid mark certificate chain for %s (%d problem(s))", d.Name, len(problems)), evl...)
			out = add(out, f)
		}
	}
	if highestSeverity(out) < finding.Warn {
		f := finding.New("bimi.ok", subject, finding.T("The BIMI record, its logo and its mark certificate are valid"), rec.Text)
		out = add(out, f)
	}
	sortFindings(out)
	return Result{Findings: out}
}

// bimiBlockText says what in a DMARC policy stops BIMI.
func bimiBlockText(b bimi.DMARCBlock) finding.Text {
	switch b {
	case bimi.BlockNoPolicy:
		return finding.T("no DMARC policy")
	case bimi.BlockPartial:
		return finding.T("p=quarantine with pct below 100")
	}
	return finding.Verbatim(string(b))
}

// fetchReason says why a document could not be fetched.
func fetchReason(err error) finding.Text {
	var fe *facts.MTASTSFetchError
	if errors.As(err, &fe) {
		return fe.Reason
	}
	return errText(err)
}

func bimiSyntaxFix(err error) finding.Text {
	var se *bimi.SyntaxError
	if errors.As(err, &se) && se.Tag != "" {
		return finding.T("Correct the %s= tag: receivers must not fix a BIMI record and ignore it until then; the form is v=BIMI1; l=https://<host>/logo.svg; a=https://<host>/vmc.pem", se.Tag)
	}
	return finding.T("Rewrite the record as v=BIMI1; l=https://<host>/logo.svg; a=https://<host>/vmc.pem (leave a= empty without a mark certificate)")
}
