package gate

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
)

// Evaluate checks the policy's requirements against st (the proposed
// state) and returns findings followed by the policy.* findings, with the
// policy's allow entries applied to all of them: a finding whose ID an
// unexpired entry names gets Allowed set and an evidence line saying until
// when and why, so that it shows but no longer counts (finding.Report.Worst
// skips it). An expired entry allows nothing and yields policy.allow-expired.
// When every requirement holds, a policy.ok finding lists what was checked.
// findings itself is not modified.
func (p *Policy) Evaluate(d *facts.Domain, now time.Time, findings []finding.Finding) []finding.Finding {
	domain := d.Name
	var pol []finding.Finding
	var met []string
	add := func(fs []finding.Finding, ok string) {
		pol = append(pol, fs...)
		if len(fs) == 0 && ok != "" {
			met = append(met, ok)
		}
	}
	req := p.Require
	if req.MX != nil {
		add(p.evalMX(d))
	}
	if req.DMARCPolicy != "" {
		add(p.evalDMARC(d))
	}
	if req.DKIMSelectors != nil {
		add(p.evalDKIM(d))
	}
	if req.SPFMaxLookups != nil {
		add(p.evalSPF(d))
	}
	if req.MTASTSMode != "" {
		add(p.evalMTASTS(d))
	}
	if len(pol) == 0 && len(met) > 0 {
		ok := finding.New("policy.ok", trimDot(fqdn(domain)), finding.Text{}, met...)
		ok.Location = &finding.Location{File: p.File}
		pol = append(pol, ok)
	}

	out := make([]finding.Finding, 0, len(findings)+len(pol)+len(p.Allow))
	out = append(out, findings...)
	out = append(out, pol...)
	return append(out, p.applyAllowances(out, now)...)
}

// applyAllowances marks the findings in fs that an unexpired allow entry
// accepts, and returns a policy.allow-expired finding per expired entry.
func (p *Policy) applyAllowances(fs []finding.Finding, now time.Time) []finding.Finding {
	var expired []finding.Finding
	for _, a := range p.Allow {
		if a.Expired(now) {
			f := finding.New("policy.allow-expired", p.File+" allow "+a.ID,
				finding.T("The allowance for %s expired on %s", a.ID, a.UntilText()),
				"id: "+a.ID, "reason: "+a.Reason, "until: "+a.UntilText(),
				"today: "+now.UTC().Format(time.DateOnly))
			f.SetFix(finding.T("Fix what %s reports, or, if the reason %q still holds, set a new until date for this entry in %s", a.ID, a.Reason, p.File))
			f.Location = &finding.Location{File: p.File, Line: a.Line}
			expired = append(expired, f)
		}
	}
	for i := range fs {
		f := &fs[i]
		if f.Severity == finding.Pass || f.Allowed != "" || f.Baseline == "fixed" {
			continue
		}
		for _, a := range p.Allow {
			if a.ID != f.ID || a.Expired(now) {
				continue
			}
			f.SetAllowed(finding.T("until %s: %s", a.UntilText(), a.Reason))
			// A fresh slice: the caller's findings share Evidence arrays.
			f.Evidence = append(slices.Clip(f.Evidence), fmt.Sprintf("allowed until %s by %s:%d: %s", a.UntilText(), p.File, a.Line, a.Reason))
			break
		}
	}
	return expired
}

func (p *Policy) at(line int) *finding.Location {
	return &finding.Location{File: p.File, Line: line}
}

// recordEvidence names where a proposed record was read, for a finding
// whose Location points at the requirement.
func recordEvidence(loc *finding.Location) []string {
	if loc == nil {
		return nil
	}
	if loc.Line > 0 {
		return []string{fmt.Sprintf("at: %s:%d", loc.File, loc.Line)}
	}
	return []string{"zone file: " + loc.File}
}

// evalMX: require.mx lists exactly the MX hosts the domain must have.
func (p *Policy) evalMX(d *facts.Domain) ([]finding.Finding, string) {
	req := p.Require
	f := finding.New("policy.mx", subject(fqdn(d.Name), dns.TypeMX), finding.Text{})
	f.Location = p.at(req.MXLine)
	if err := d.MX.Lookup.Err; err != nil {
		return []finding.Finding{inconclusive(f, finding.T("The MX requirement"), err)}, ""
	}
	hosts := mxHosts(&d.MX)
	have := map[string]bool{}
	for _, h := range hosts {
		have[h] = true
	}
	want := map[string]bool{}
	for _, h := range req.MX {
		want[h] = true
	}
	var extra, missing []string
	for _, h := range sortedKeys(have) {
		if !want[h] {
			extra = append(extra, trimDot(h))
		}
	}
	for _, h := range sortedKeys(want) {
		if !have[h] {
			missing = append(missing, trimDot(h))
		}
	}
	actual := "actual MX: " + hostList(hosts)
	if len(extra) == 0 && len(missing) == 0 {
		return nil, actual
	}
	switch {
	case len(missing) > 0 && len(extra) > 0:
		f.SetTitle(finding.T("MX hosts differ from the policy: lacks %s; has unexpected %s", strings.Join(missing, ", "), strings.Join(extra, ", ")))
	case len(missing) > 0:
		f.SetTitle(finding.T("MX hosts differ from the policy: lacks %s", strings.Join(missing, ", ")))
	default:
		f.SetTitle(finding.T("MX hosts differ from the policy: has unexpected %s", strings.Join(extra, ", ")))
	}
	f.Evidence = append([]string{actual, "required MX: " + hostList(req.MX)}, recordEvidence(d.MX.Lookup.Location(0))...)
	if len(missing) > 0 {
		f.Evidence = append(f.Evidence, "missing: "+strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		f.Evidence = append(f.Evidence, "extra: "+strings.Join(extra, ", "))
	}
	f.SetFix(finding.T("Publish exactly the MX hosts %s lists (%s), or update require.mx there if the change is intended", p.File, hostList(req.MX)))
	return []finding.Finding{f}, ""
}

func hostList(hosts []string) string {
	if len(hosts) == 0 {
		return "(none)"
	}
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = trimDot(h)
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// evalDMARC: require.dmarc_policy is the weakest acceptable p=.
func (p *Policy) evalDMARC(d *facts.Domain) ([]finding.Finding, string) {
	domain := d.Name
	want := p.Require.DMARCPolicy
	f := finding.New("policy.dmarc-policy", subject("_dmarc."+fqdn(domain), dns.TypeTXT), finding.Text{})
	f.Location = p.at(p.Require.DMARCPolicyLine)
	if err := d.DMARC.Err(); err != nil {
		return []finding.Finding{inconclusive(f, finding.T("The DMARC requirement"), err)}, ""
	}
	st := dmarcOf(d.DMARC)
	actual := "actual: p=" + st.Policy
	if st.Policy == "" {
		actual = "actual: no DMARC policy"
	}
	if st.Note != "" {
		actual += " (" + st.Note + ")"
	}
	// A missing policy ranks below p=none.
	if strength(dmarcStrength, st.Policy) >= strength(dmarcStrength, want) {
		return nil, "DMARC " + strings.TrimPrefix(actual, "actual: ")
	}
	if st.Policy == "" {
		f.SetTitle(finding.T("No DMARC policy applies; the policy requires at least p=%s", want))
	} else {
		f.SetTitle(finding.T("DMARC p=%s is weaker than the p=%s the policy requires", st.Policy, want))
	}
	f.Evidence = []string{actual, "required: p=" + want + " or stronger"}
	if st.Text != "" {
		f.Evidence = append(f.Evidence, "record: "+st.Text)
	}
	f.Evidence = append(f.Evidence, recordEvidence(st.Loc)...)
	f.SetFix(finding.T("Publish one TXT record at _dmarc.%s with p=%s (or stronger), e.g. \"v=DMARC1; p=%s; rua=mailto:dmarc-reports@%s\"", trimDot(fqdn(domain)), want, want, trimDot(fqdn(domain))))
	return []finding.Finding{f}, ""
}

// evalDKIM: each require.dkim_selectors selector must publish a valid key.
func (p *Policy) evalDKIM(d *facts.Domain) ([]finding.Finding, string) {
	var out []finding.Finding
	var ok []string
	for _, sel := range p.Require.DKIMSelectors {
		s := d.DKIM.Get(sel)
		if s == nil {
			// The audit gathers every selector the policy names; a missing
			// one is a defect, reported as inconclusive rather than passed.
			f := finding.New("policy.dkim-selector", subject(sel+"._domainkey."+fqdn(d.Name), dns.TypeTXT), finding.T("The DKIM selector %s was not looked up", sel))
			f.Severity = finding.Error
			f.Location = p.at(p.Require.DKIMSelectorsLine)
			out = append(out, f)
			continue
		}
		k := dkimKeyOf(s)
		f := finding.New("policy.dkim-selector", subject(k.Name, dns.TypeTXT), finding.Text{})
		f.Location = p.at(p.Require.DKIMSelectorsLine)
		if err := s.Lookup.Err; err != nil {
			out = append(out, inconclusive(f, finding.T("The DKIM selector %s", sel), err))
			continue
		}
		if k.Valid {
			ok = append(ok, sel)
			continue
		}
		f.SetTitle(finding.T("The required DKIM selector %s has no valid key", sel))
		f.Evidence = []string{"actual: " + k.Reason}
		if k.Text != "" {
			f.Evidence = append(f.Evidence, "record: "+k.Text)
		}
		f.Evidence = append(f.Evidence, recordEvidence(k.Loc)...)
		f.SetFix(finding.T("Publish the public key of selector %s as a TXT record at %s: \"v=DKIM1; k=rsa; p=<base64 SubjectPublicKeyInfo>\" (your mail system shows it), or remove %s from require.dkim_selectors in %s", sel, trimDot(k.Name), sel, p.File))
		out = append(out, f)
	}
	if len(out) > 0 {
		return out, ""
	}
	return nil, "DKIM keys valid at selectors " + strings.Join(ok, ", ")
}

// evalSPF: require.spf_max_lookups caps the DNS-querying terms of SPF
// across the include and redirect tree (RFC 7208 §4.6.4), counted by the
// SPF check's own walk so that both always agree.
func (p *Policy) evalSPF(d *facts.Domain) ([]finding.Finding, string) {
	domain := d.Name
	max := *p.Require.SPFMaxLookups
	f := finding.New("policy.spf-lookups", subject(fqdn(domain), dns.TypeTXT), finding.Text{})
	f.Location = p.at(p.Require.SPFMaxLookupsLine)
	tree := d.SPF
	n, exact := tree.LookupCount()
	var failed error
	var terms []string
	tree.Walk(func(node *facts.SPFNode) {
		if node.Err != nil && failed == nil {
			failed = node.Err
		}
		if node.Own > 0 {
			line := fmt.Sprintf("%s: %d", node.Domain, node.Own)
			if node.Via != "" {
				line += " (via " + node.Via + ")"
			}
			terms = append(terms, line)
		}
	})
	atLeast := ""
	if !exact {
		atLeast = "at least "
	}
	if n <= max {
		if failed != nil {
			f.Evidence = []string{"counted before the failure: " + strconv.Itoa(n)}
			return []finding.Finding{inconclusive(f, finding.T("The SPF lookup count"), failed)}, ""
		}
		return nil, fmt.Sprintf("SPF needs %s%s (at most %d allowed)", atLeast, lookups(n), max)
	}
	f.SetTitle(finding.T("SPF needs %d DNS lookups; the policy allows %d", n, max))
	if !exact {
		f.SetTitle(finding.T("SPF needs at least %d DNS lookups; the policy allows %d", n, max))
	}
	f.Evidence = []string{"actual: " + atLeast + lookups(n), "required: at most " + strconv.Itoa(max)}
	if root := tree.Root; len(root.Records) == 1 {
		f.Evidence = append(f.Evidence, "record: "+root.Records[0])
		f.Evidence = append(f.Evidence, recordEvidence(locationOf(root.Answer, root.Index))...)
	}
	f.Evidence = append(f.Evidence, terms...)
	f.SetFix(finding.T("Bring the SPF record of %s down to %d lookups: replace a, mx and small includes with ip4:/ip6: ranges, drop includes of services no longer used, or raise spf_max_lookups in %s (never above 10, RFC 7208 §4.6.4)", trimDot(fqdn(domain)), max, p.File))
	return []finding.Finding{f}, ""
}

func lookups(n int) string {
	if n == 1 {
		return "1 DNS lookup"
	}
	return strconv.Itoa(n) + " DNS lookups"
}

// evalMTASTS: require.mta_sts_mode is the weakest acceptable MTA-STS mode
// (none < testing < enforce). Senders look for the _mta-sts TXT record
// first: without exactly one valid record there is no policy, i.e. mode
// none (RFC 8461 §3.1). With the record, the mode is that of the policy file
// given with --mta-sts-policy, else of the policy served over HTTPS. A
// policy that does not parse is no policy either (§3.3); one that cannot be
// fetched leaves the requirement undecided.
func (p *Policy) evalMTASTS(d *facts.Domain) ([]finding.Finding, string) {
	domain := d.Name
	want := p.Require.MTASTSMode
	f := finding.New("policy.mta-sts-mode", facts.MTASTSPolicyURL(domain), finding.Text{})
	f.Location = p.at(p.Require.MTASTSModeLine)
	mode, where := "none", ""
	var modeLoc *finding.Location
	if err := d.MTASTS.Lookup.Err; err != nil {
		return []finding.Finding{inconclusive(f, finding.T("The MTA-STS requirement"), err)}, ""
	}
	if rec := stsRecordOf(&d.MTASTS); rec.Present {
		pol, err := policyOf(&d.MTASTS)
		switch {
		case isParseError(err):
			where = "the policy is invalid: " + err.Error()
		case err != nil:
			f.Severity = finding.Error
			f.SetTitle(finding.T("The MTA-STS requirement could not be checked: the policy could not be read"))
			f.Evidence = []string{err.Error()}
			return []finding.Finding{f}, ""
		default:
			mode, where, modeLoc = pol.mode(), pol.Where, pol.ModeLocation
		}
	} else {
		where = "no valid _mta-sts." + trimDot(fqdn(domain)) + " TXT record, so no policy applies"
	}
	actual := "actual: mode " + mode + " (" + where + ")"
	if strength(mtastsStrength, mode) >= strength(mtastsStrength, want) {
		return nil, "MTA-STS mode " + mode
	}
	f.SetTitle(finding.T("MTA-STS mode is %s; the policy requires %s", mode, want))
	f.Evidence = append([]string{actual, "required: mode " + want + " or stronger"}, recordEvidence(modeLoc)...)
	f.SetFix(finding.T("Publish an MTA-STS policy with \"mode: %s\" at %s and a new id= in the _mta-sts.%s TXT record (RFC 8461 §3); move to enforce only after TLS-RPT reports show no failures in testing", want, facts.MTASTSPolicyURL(domain), trimDot(fqdn(domain))))
	return []finding.Finding{f}, ""
}
