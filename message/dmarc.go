package message

import (
	"context"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/checks/dmarc"
	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// policyOf runs DMARC policy discovery (RFC 9989 §4.10) exactly as the
// domain audit does. It is the one place this package asks for it.
func policyOf(ctx context.Context, r resolver.Resolver, domain string) (*facts.DMARC, error) {
	d := facts.DiscoverDMARC(ctx, r, domain)
	return d, d.Err()
}

// orgDomains remembers Organizational Domains found during one analysis.
type orgDomains struct {
	ctx  context.Context
	r    resolver.Resolver
	seen map[string]string
}

// of returns the Organizational Domain of domain by the tree walk of RFC
// 9989 §4.10; the domain itself when the walk cannot say.
func (o *orgDomains) of(domain string) string {
	if org, ok := o.seen[domain]; ok {
		return org
	}
	org := domain
	if pol, err := policyOf(o.ctx, o.r, domain); err == nil && pol.OrgDomain != "" {
		org = pol.OrgDomain
	}
	o.seen[domain] = org
	return org
}

// aligned applies identifier alignment (RFC 9989 §4.4): strict needs the
// same domain; relaxed the same Organizational Domain.
func (o *orgDomains) aligned(id, from string, strict bool) bool {
	id, from = strings.ToLower(id), strings.ToLower(from)
	if id == from {
		return true
	}
	if strict || id == "" {
		return false
	}
	return o.of(id) == o.of(from)
}

// dmarcInput is what DMARC evaluation needs from the other checks.
type dmarcInput struct {
	fromDomain string
	fromErr    finding.Text // why the From field cannot be used, zero when fine
	dkim       []finding.DKIMSignature
	spf        *finding.SPFCheck
	policy     *facts.DMARC
	policyErr  error
}

// checkDMARC evaluates DMARC for the From domain: the policy, the
// alignment of the passing SPF and DKIM identities, the result and what a
// receiver following the policy would do with the message.
func checkDMARC(ctx context.Context, r resolver.Resolver, in dmarcInput) (*finding.DMARCCheck, []finding.Finding) {
	if !in.fromErr.IsZero() {
		return nil, []finding.Finding{finding.New("msg.from-invalid", "From", in.fromErr)}
	}
	c := &finding.DMARCCheck{FromDomain: in.fromDomain}
	subject := "_dmarc." + in.fromDomain
	if in.policyErr != nil {
		c.Result = "temperror"
		if resolver.IsOutOfZone(in.policyErr) {
			return c, []finding.Finding{finding.New("msg.dmarc-not-checked", subject,
				finding.T("DMARC not checked: the policy of %s lies outside the given zones", in.fromDomain))}
		}
		return c, []finding.Finding{finding.New("msg.dmarc-temperror", subject,
			finding.T("DMARC temperror: the policy of %s could not be fetched: %v", in.fromDomain, in.policyErr))}
	}
	pol := in.policy
	o := &orgDomains{ctx: ctx, r: r, seen: map[string]string{}}
	if pol.OrgDomain != "" {
		o.seen[in.fromDomain] = pol.OrgDomain
	}
	c.OrgDomain = o.of(in.fromDomain)
	rec := pol.Record()
	strictDKIM, strictSPF := false, false
	if rec != nil {
		c.PolicyDomain, c.Record = pol.PolicyDomain(), rec.String()
		strictDKIM, strictSPF = rec.ADKIM == "s", rec.ASPF == "s"
	}
	c.ADKIM, c.ASPF = modeName(strictDKIM), modeName(strictSPF)

	// Alignment of what passed (RFC 9989 §4.4.1, §4.4.2).
	var passedDKIM, unalignedDKIM []string
	for _, s := range in.dkim {
		if s.Result != "pass" {
			continue
		}
		if o.aligned(s.Domain, in.fromDomain, strictDKIM) {
			c.DKIMAligned = append(c.DKIMAligned, s.Domain)
		} else {
			unalignedDKIM = append(unalignedDKIM, s.Domain)
		}
		passedDKIM = append(passedDKIM, s.Domain)
	}
	spfPassed := in.spf != nil && in.spf.Result == "pass"
	// RFC 7489 §4.1: DMARC uses the SPF result of the MAIL FROM identity.
	// A null sender's HELO check (RFC 7208 §2.4) is not one: a bounce
	// aligns through DKIM or not at all.
	if spfPassed && in.spf.Identity == "mailfrom" {
		c.SPFAligned = o.aligned(in.spf.Domain, in.fromDomain, strictSPF)
	}
	pass := len(c.DKIMAligned) > 0 || c.SPFAligned
	alignment := alignmentNote(o, in, c, strictDKIM, strictSPF, unalignedDKIM, spfPassed)

	if rec == nil || rec.Policy == "" {
		c.Result = "none"
		f := finding.New("msg.dmarc-none", subject, finding.T("%s publishes no DMARC policy: receivers decide alone what to do with unauthenticated mail from it", in.fromDomain))
		if pol.Applying != nil {
			f.SetTitle(finding.T("The DMARC record of %s cannot be used: receivers apply no policy", in.fromDomain))
			f.Evidence = append(f.Evidence, "_dmarc."+pol.PolicyDomain())
		}
		f.Note(alignment)
		return c, []finding.Finding{f}
	}

	c.Policy = string(appliedPolicy(ctx, r, pol, rec, in.fromDomain))
	c.Percent, c.Testing = rec.Percent, rec.Testing
	if pass {
		c.Result, c.Disposition = "pass", "none"
		f := finding.New("msg.ok", subject, finding.T("DMARC pass for %s (p=%s): %s", in.fromDomain, c.Policy, alignedText(c)))
		f.Evidence = append(f.Evidence, "_dmarc."+c.PolicyDomain+": "+c.Record)
		return c, []finding.Finding{f}
	}
	c.Result = "fail"
	c.Disposition = disposition(dmarc.Policy(c.Policy), rec)
	id, reason := "msg.dmarc-fail", finding.T("neither SPF nor DKIM passed for it")
	if len(passedDKIM) > 0 || spfPassed {
		// Something authenticated, for the wrong domain: the fix is to
		// align it, not to set SPF or DKIM up.
		id, reason = "msg.dmarc-unaligned", finding.T("SPF or DKIM passed, but for a domain not aligned with From")
	}
	f := finding.New(id, subject, dmarcFailTitle(in.fromDomain, reason, c.Policy, c.Disposition))
	f.Evidence = append(f.Evidence, "_dmarc."+c.PolicyDomain+": "+c.Record)
	f.Note(alignment)
	if c.Disposition != c.Policy {
		f.Note(finding.T("pct=%d or t=y softens the policy: receivers apply %s.", rec.Percent, c.Disposition))
	}
	return c, []finding.Finding{f}
}

func modeName(strict bool) string {
	if strict {
		return "strict"
	}
	return "relaxed"
}

// appliedPolicy is p for the policy domain itself, sp for an existing
// subdomain, np for one that does not exist (RFC 9989 §4.7).
func appliedPolicy(ctx context.Context, r resolver.Resolver, pol *facts.DMARC, rec *dmarc.Record, from string) dmarc.Policy {
	if !pol.Inherited() {
		return pol.Applied()
	}
	if rec.NonexistentPolicy != "" {
		if ans, _, err := resolver.Follow(ctx, r, from, dns.TypeSOA); err == nil && ans.NXDomain() {
			return rec.EffectiveNonexistentPolicy()
		}
	}
	return rec.EffectiveSubdomainPolicy()
}

// disposition is what a receiver does with failing mail: the policy,
// softened one step by t=y (RFC 9989 §4.7) or, for receivers following RFC
// 7489, by a pct below 100 for the part of the mail it spares.
func disposition(p dmarc.Policy, rec *dmarc.Record) string {
	if rec.Testing || (rec.HasPercent && rec.Percent < 100) {
		switch p {
		case dmarc.Reject:
			return string(dmarc.Quarantine)
		case dmarc.Quarantine:
			return string(dmarc.None)
		}
	}
	return string(p)
}

// dmarcFailTitle says what failed and what a receiver following the
// policy does: one sentence per disposition, so that each language can
// word it whole.
func dmarcFailTitle(from string, reason finding.Text, policy, disposition string) finding.Text {
	switch disposition {
	case "reject":
		return finding.T("DMARC fail for %s: %s; a receiver following p=%s rejects the message", from, reason, policy)
	case "quarantine":
		return finding.T("DMARC fail for %s: %s; a receiver following p=%s delivers the message to spam (quarantine)", from, reason, policy)
	}
	return finding.T("DMARC fail for %s: %s; with p=%s receivers still deliver the message", from, reason, policy)
}

func alignedText(c *finding.DMARCCheck) finding.Text {
	switch {
	case len(c.DKIMAligned) > 0 && c.SPFAligned:
		return finding.T("DKIM (d=%s) and SPF are aligned", strings.Join(c.DKIMAligned, ", "))
	case len(c.DKIMAligned) > 0:
		return finding.T("DKIM is aligned (d=%s)", strings.Join(c.DKIMAligned, ", "))
	}
	return finding.T("SPF is aligned")
}

// alignmentNote explains why each identity aligns or not.
func alignmentNote(o *orgDomains, in dmarcInput, c *finding.DMARCCheck, strictDKIM, strictSPF bool, unalignedDKIM []string, spfPassed bool) finding.Text {
	var parts []finding.Text
	for _, d := range unalignedDKIM {
		parts = append(parts, o.misaligned(finding.T("DKIM d=%s", d), d, in.fromDomain, strictDKIM))
	}
	switch {
	case spfPassed && in.spf.Identity == "helo":
		parts = append(parts, finding.T("SPF passed for the HELO name %s, which DMARC does not use.", in.spf.Domain))
	case spfPassed && !c.SPFAligned:
		parts = append(parts, o.misaligned(finding.T("SPF (MAIL FROM %s)", in.spf.Domain), in.spf.Domain, in.fromDomain, strictSPF))
	}
	if len(parts) == 0 {
		if len(c.DKIMAligned) == 0 && !c.SPFAligned {
			return finding.T("Neither SPF nor any DKIM signature passed.")
		}
		return alignedText(c)
	}
	t := parts[0]
	for _, p := range parts[1:] {
		t = t.Append(finding.Verbatim(" ")).Append(p)
	}
	return t
}

// misaligned explains why a passing identity does not align with From.
func (o *orgDomains) misaligned(what finding.Text, id, from string, strict bool) finding.Text {
	if strict && o.aligned(id, from, false) {
		return finding.T("%s passed but is not aligned with From %s under strict alignment (relaxed alignment would accept it).", what, from)
	}
	return finding.T("%s passed but belongs to another organisation than From %s (Organizational Domains %s and %s).", what, from, o.of(id), o.of(from))
}
