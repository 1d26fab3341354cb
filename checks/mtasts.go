package checks

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/checks/mtasts"
	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// MTASTSPolicyURL is where senders fetch the policy of domain (RFC 8461
// §3.3).
var MTASTSPolicyURL = facts.MTASTSPolicyURL

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
func judgeMTASTS(d *facts.Domain) Result {
	m := &d.MTASTS
	domain := d.Name
	name := dns.Fqdn("_mta-sts." + domain)
	subject := Subject(name, dns.TypeTXT)
	if !m.Lookup.OK() {
		return Result{Findings: []finding.Finding{lookupProblem(finding.T("MTA-STS"), &m.Lookup)}}
	}
	if len(m.Records) == 0 {
		f := finding.New("mtasts.missing", subject, finding.T("No MTA-STS record: senders may deliver over unauthenticated or plaintext SMTP"), texts(m.Others)...)
		f.SetFix(finding.T("Publish a policy at %s (start with mode: testing), then %s IN TXT \"v=STSv1; id=%s\"", MTASTSPolicyURL(domain), name, mtastsNewID(d)))
		return Result{Findings: []finding.Finding{f}}
	}

	var out []finding.Finding
	if len(m.Records) > 1 {
		// RFC 8461 §3.1: with more than one record, senders assume no policy.
		f := finding.New("mtasts.syntax", subject,
			finding.T("%d MTA-STS records: senders ignore them all and assume no policy", len(m.Records)), texts(m.Records)...)
		f.SetFix(finding.T("Keep one record: %s IN TXT \"v=STSv1; id=%s\"", name, mtastsNewID(d)))
		locate(&f, &m.Lookup, m.Records[1].Index)
		out = append(out, f)
	} else if _, err := mtasts.ParseRecord(m.Records[0].Text); err != nil {
		f := finding.New("mtasts.syntax", subject, finding.T("MTA-STS record is invalid: %s; senders ignore it", err), m.Records[0].Text)
		f.SetFix(finding.T("Publish %s IN TXT \"v=STSv1; id=%s\" (id: 1 to 32 letters and digits, changed whenever the policy changes)", name, mtastsNewID(d)))
		locate(&f, &m.Lookup, m.Records[0].Index)
		out = append(out, f)
	}

	mxs := d.MX.Hosts
	p := m.Policy
	url := p.Source
	var fe *facts.MTASTSFetchError
	var pe *mtasts.ParseError
	var re *resolver.Error
	switch err := p.Err; {
	case errors.As(err, &re):
		out = append(out, LookupProblem(finding.T("The MTA-STS policy host"), re.Name, re.Qtype, err))
	case errors.As(err, &fe):
		out = append(out, mtastsUnreachable(domain, url, fe, mxs))
	case errors.As(err, &pe):
		f := finding.New("mtasts.syntax", url, finding.T("MTA-STS policy is invalid: %s; senders ignore it", err), mtastsExcerpt(p.Body, pe.Line))
		f.SetFix(finding.T("Serve a policy of this form (LF or CRLF line ends):\n%s", mtastsSuggestedPolicy(mxs, mtasts.ModeTesting)))
		out = append(out, f)
	case err != nil:
		out = append(out, finding.New("mtasts.policy-unreachable", url, finding.T("MTA-STS policy cannot be fetched: %s", fetchReason(err))))
	}
	policy := p.Parsed
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
		case d.MX.Lookup.Err != nil:
			out = append(out, lookupProblem(finding.T("MTA-STS MX coverage"), &d.MX.Lookup))
		default:
			if f, ok := mtastsCoverage(d, url, policy); ok {
				out = append(out, f)
			}
			for _, pat := range policy.MX {
				used := false
				for _, h := range mxs {
					used = used || mtasts.MatchMX(pat, h.Name)
				}
				if !used && len(mxs) > 0 {
					detail = append(detail, "MTA-STS: the pattern mx: "+pat+" matches no MX host")
				}
			}
		}
	}

	if !slices.ContainsFunc(out, func(f finding.Finding) bool { return f.Severity >= finding.Warn }) {
		ev := []string{m.Records[0].Text}
		ev = append(ev, strings.Split(strings.TrimSpace(policy.Text()), "\n")...)
		title := finding.T("MTA-STS policy is valid: mode %s, max_age %d", policy.Mode, policy.MaxAge)
		if policy.Mode != mtasts.ModeNone && len(mxs) > 0 {
			title = finding.T("MTA-STS policy is valid: mode %s, max_age %d, covering every MX host", policy.Mode, policy.MaxAge)
		}
		f := finding.New("mtasts.ok", url, title, ev...)
		locate(&f, &m.Lookup, m.Records[0].Index)
		out = append(out, f)
	}
	sortFindings(out)
	return Result{Findings: out, Detail: detail}
}

// mtastsCoverage reports the MX hosts no mx pattern matches (RFC 8461
// §4.1). ok is false when every host is covered.
func mtastsCoverage(d *facts.Domain, url string, p *mtasts.Policy) (finding.Finding, bool) {
	domain := d.Name
	var uncovered []*facts.MXHost
	for _, h := range d.MX.Hosts {
		if !p.Matches(h.Name) {
			uncovered = append(uncovered, h)
		}
	}
	if len(uncovered) == 0 {
		return finding.Finding{}, false
	}
	var names []string
	for _, h := range uncovered {
		names = append(names, h.Name)
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
		fixed.MX = append(fixed.MX, h.Name)
	}
	f.SetFix(finding.T("Serve this policy at %s:\n%sthen change the id of the _mta-sts.%s record (e.g. \"v=STSv1; id=%s\") so that senders fetch it again", url, fixed.Text(), domain, mtastsNewID(d)))
	locate(&f, &d.MX.Lookup, uncovered[0].Record.Index)
	return f, true
}

// mtastsUnreachable turns a failed fetch into its finding.
func mtastsUnreachable(domain, url string, fe *facts.MTASTSFetchError, mxs []*facts.MXHost) finding.Finding {
	f := finding.New("mtasts.policy-unreachable", url, finding.T("MTA-STS policy cannot be fetched: %s", fe.Reason), fe.Reason.String())
	host := "mta-sts." + domain
	switch fe.Stage {
	case facts.FetchNoAddress:
		f.SetFix(finding.T("Publish an A or AAAA record for %s pointing at the HTTPS server that serves the policy", host))
	case facts.FetchConnect:
		f.SetFix(finding.T("Serve HTTPS on port 443 of %s, or point %s at a server that does", host, host))
	case facts.FetchTimeout:
		// A slow or filtered server: the policy may exist.
		f.Severity = finding.Error
		f.SetFix(finding.T("Check that port 443 of %s answers from the Internet; a firewall dropping connections causes this", host))
	case facts.FetchTLS:
		f.SetFix(finding.T("Install a certificate for %s issued by a public CA, served with its intermediate certificates (RFC 8461 §3.3)", host))
	case facts.FetchRedirect:
		f.SetFix(finding.T("Serve the policy at %s itself, with status 200, instead of redirecting", url))
	case facts.FetchStatus:
		f.SetFix(finding.T("Publish the policy at %s, answering 200:\n%s", url, mtastsSuggestedPolicy(mxs, mtasts.ModeTesting)))
	case facts.FetchContentType:
		f.SetFix(finding.T("Serve %s with Content-Type: text/plain", url))
	case facts.FetchSize:
		f.SetFix(finding.T("Serve only the policy at %s: a few lines of version, mode, mx and max_age", url))
	}
	return f
}

// mtastsSuggestedPolicy is a policy for the given MX hosts.
func mtastsSuggestedPolicy(mxs []*facts.MXHost, mode mtasts.Mode) string {
	p := &mtasts.Policy{Version: mtasts.Version, Mode: mode, MaxAge: 604800}
	for _, h := range mxs {
		p.MX = append(p.MX, h.Name)
	}
	if len(p.MX) == 0 {
		p.MX = []string{"mail.example.com"}
	}
	return p.Text()
}

// mtastsNewID proposes a policy id: the current time, which changes with
// every edit as RFC 8461 §3.1 requires.
func mtastsNewID(d *facts.Domain) string {
	return d.Gathered.UTC().Format("20060102150405")
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
