package gate

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

// ChangeRules compares the baseline and proposed facts of one domain and
// reports changes that hurt mail in flight even when both states are fine
// on their own:
//
//   - change.dkim-selector-removed: a selector with a key in the baseline
//     has none in the proposed state, so mail signed with it and still
//     queued fails DKIM. change.dkim-key-replaced: a selector's key was
//     replaced in place, with the same effect. Every selector gathered is
//     compared: named (flag, policy file), published in either state's zone
//     files, and the common guesses.
//   - change.mtasts-id-unchanged: the MTA-STS policy changed but the id of
//     the _mta-sts TXT record did not, so senders keep the old policy. Only
//     a proposed policy read from a file (--mta-sts-policy) can differ from
//     the published one.
//   - change.mx-not-in-mtasts: a new MX host that the published MTA-STS
//     policy (mode enforce or testing) does not cover.
//   - change.ttl-cached: a changed record whose baseline TTL is over an hour:
//     resolvers keep serving the old value that long.
//
// It asks no DNS question: both states were gathered already. A failed
// lookup yields dns.lookup-failed (inconclusive) and never a "removed"
// finding. Findings point at the proposed record when it was read from a
// zone file, else at the proposed zone file.
func ChangeRules(base, proposed *facts.Domain) []finding.Finding {
	file := zoneFile(proposed)
	var out []finding.Finding
	out = append(out, dkimChanges(base, proposed, file)...)
	out = append(out, mtastsChanges(base, proposed)...)
	out = append(out, ttlChanges(base, proposed, file)...)
	// Every finding here is about the change itself, so new by definition.
	for i := range out {
		out[i].Baseline = New
	}
	return out
}

func dkimChanges(base, proposed *facts.Domain, file *finding.Location) []finding.Finding {
	var out []finding.Finding
	for _, bs := range base.DKIM.Selectors {
		ps := proposed.DKIM.Get(bs.Selector)
		if ps == nil {
			continue // both states are gathered with the same selectors
		}
		out = append(out, dkimChange(bs, ps, file)...)
	}
	return out
}

// dkimChange compares one selector's key between the states.
func dkimChange(bs, ps *facts.DKIMSelector, file *finding.Location) []finding.Finding {
	sel := bs.Selector
	if bs.Lookup.Err != nil {
		// A guessed selector that the baseline cannot answer for is noise;
		// one the user named is a check that did not happen.
		if (bs.Source | ps.Source).Named() {
			return []finding.Finding{lookupFinding(finding.T("The baseline DKIM key of selector %s", sel), bs.Name(), dns.TypeTXT, bs.Lookup.Err)}
		}
		return nil
	}
	bk := dkimKeyOf(bs)
	if !bk.Found || bk.Key == "" {
		return nil // nothing published, or already revoked: nothing to lose
	}
	if ps.Lookup.Err != nil {
		return []finding.Finding{lookupFinding(finding.T("Whether DKIM selector %s is still published", sel), ps.Name(), dns.TypeTXT, ps.Lookup.Err)}
	}
	pk := dkimKeyOf(ps)
	ttl := answerTTL(bs.Lookup.Answer)
	switch {
	case !pk.Found:
		state := "no DKIM key record (NODATA)"
		if ps.Lookup.Status() == facts.NXDomain {
			state = "the name does not exist (NXDOMAIN)"
		}
		f := finding.New("change.dkim-selector-removed", subject(pk.Name, dns.TypeTXT),
			finding.T("DKIM selector %s is removed while mail signed with it may still be in flight", sel),
			"baseline: "+abbreviate(bk.Text), "proposed: "+state)
		f.Location = file
		f.SetFix(finding.T("Keep publishing the old key at %s until mail signed with it has been delivered: at least its TTL (%s) plus a few days for queued and retried mail (RFC 5321 §4.5.4.1 suggests retrying for 4–5 days). Sign new mail with a new selector first, then remove %s in a later change (or publish it with an empty p= to revoke it, RFC 6376 §3.6.1)", trimDot(pk.Name), humanTTL(ttl), sel))
		return []finding.Finding{f}
	case pk.Key != "" && pk.Key != bk.Key:
		f := finding.New("change.dkim-key-replaced", subject(pk.Name, dns.TypeTXT),
			finding.T("The key of DKIM selector %s is replaced in place: mail signed with the old key fails verification", sel),
			"baseline: "+abbreviate(bk.Text), "proposed: "+abbreviate(pk.Text))
		f.Location = pk.Loc
		if f.Location == nil {
			f.Location = file
		}
		f.SetFix(finding.T("Publish the new key under a new selector (e.g. %s-new or a dated one), switch signing to it, and keep %s's old key until mail signed with it has been delivered (its TTL, %s, plus a few days)", sel, sel, humanTTL(ttl)))
		return []finding.Finding{f}
	}
	return nil
}

// abbreviate shortens a long record (a DKIM key) for evidence lines.
func abbreviate(s string) string {
	const max = 100
	if len(s) <= max {
		return s
	}
	return s[:max-20] + "…" + s[len(s)-19:]
}

func mtastsChanges(base, proposed *facts.Domain) []finding.Finding {
	domain := fqdn(proposed.Name)
	if err := base.MTASTS.Lookup.Err; err != nil {
		return []finding.Finding{lookupFinding(finding.T("The published MTA-STS record"), "_mta-sts."+domain, dns.TypeTXT, err)}
	}
	if err := proposed.MTASTS.Lookup.Err; err != nil {
		return []finding.Finding{lookupFinding(finding.T("The proposed MTA-STS record"), "_mta-sts."+domain, dns.TypeTXT, err)}
	}
	brec, prec := stsRecordOf(&base.MTASTS), stsRecordOf(&proposed.MTASTS)
	if !brec.Present {
		return nil // nothing published that senders could have cached
	}
	bpol, bErr := policyOf(&base.MTASTS)
	var out []finding.Finding

	// RFC 8461 §3.1: senders refetch the policy only when the TXT id
	// differs from the one of their cached policy. Only a policy file
	// (--mta-sts-policy) can differ from the published policy: fetched over
	// HTTPS, both states would read the same document.
	if p := proposed.MTASTS.Policy; prec.Present && prec.ID == brec.ID && p != nil && p.FromFile {
		f := finding.New("change.mtasts-id-unchanged", subject("_mta-sts."+domain, dns.TypeTXT), finding.Text{}, "id: "+prec.ID+" (unchanged)")
		f.Location = prec.Loc
		ppol, pErr := policyOf(&proposed.MTASTS)
		bInvalid, pInvalid := isParseError(bErr), isParseError(pErr)
		switch {
		case bErr != nil && !bInvalid || pErr != nil && !pInvalid:
			f.Severity = finding.Error
			f.SetTitle(finding.T("Whether the MTA-STS policy changed could not be checked: a policy could not be read"))
			for _, e := range []error{bErr, pErr} {
				if e != nil {
					f.Evidence = append(f.Evidence, e.Error())
				}
			}
			if bErr != nil && !bInvalid {
				f.Note(finding.T("give the published policy with --baseline-mta-sts-policy FILE when it cannot be fetched from here"))
			}
			out = append(out, f)
		case bInvalid && pInvalid:
			// Two invalid policies: senders use neither, nothing to refetch.
		case bInvalid != pInvalid || !bpol.sameAs(ppol):
			f.SetTitle(finding.T("The MTA-STS policy changes but the id in _mta-sts.%s stays %s", trimDot(domain), prec.ID))
			f.Evidence = append(f.Evidence, "published: "+policyText(bpol, bErr), "proposed: "+policyText(ppol, pErr))
			f.Evidence = append(f.Evidence, recordEvidence(prec.Loc)...)
			maxAge := finding.T("its max_age")
			if bpol != nil {
				maxAge = finding.T("max_age, %s", humanTTL(uint32(bpol.MaxAge)))
			}
			f.SetFix(finding.T("Give the _mta-sts.%s TXT record a new id (1–32 letters and digits, e.g. the date and a serial) in the same change as the policy: senders that cached the old policy fetch the new one only when the id changes (RFC 8461 §3.1), otherwise they keep it for up to %s", trimDot(domain), maxAge))
			out = append(out, f)
		}
	}

	// RFC 8461 §4.1: in enforce mode a sender refuses to deliver to an MX
	// the cached policy does not list; in testing mode it only reports.
	if proposed.MX.Lookup.Err != nil {
		return out // the MX check reports the failed lookup
	}
	bhosts := mxHosts(&base.MX)
	phosts := mxHosts(&proposed.MX)
	for _, rec := range proposed.MX.Records {
		if rec.Target == "" {
			continue
		}
		host := fqdn(rec.Target)
		if base.MX.Lookup.Err == nil && slices.Contains(bhosts, host) {
			continue // not new: the MTA-STS check reports an old mismatch
		}
		f := finding.New("change.mx-not-in-mtasts", subject(domain, dns.TypeMX), finding.Text{})
		f.Location = proposed.MX.Lookup.Location(rec.Index)
		if isParseError(bErr) {
			continue // an invalid published policy is no policy (RFC 8461 §3.3)
		}
		if bErr != nil {
			f.Severity = finding.Error
			f.SetTitle(finding.T("Whether the published MTA-STS policy covers the new MX %s could not be checked", trimDot(host)))
			f.Evidence = []string{bErr.Error()}
			out = append(out, f)
			continue
		}
		if bpol.Mode == mtasts.ModeNone || bpol.Matches(host) {
			continue
		}
		f.SetTitle(finding.T("The new MX %s is not covered by the published MTA-STS policy (mode %s)", trimDot(host), bpol.Mode))
		if bpol.Mode == mtasts.ModeTesting {
			f.Severity = finding.Warn
			f.SetTitle(finding.T("The new MX %s is not covered by the published MTA-STS policy (mode %s): senders will report TLS failures for it", trimDot(host), bpol.Mode))
		}
		f.Evidence = []string{"new MX: " + trimDot(host), "published policy (" + bpol.Where + "): " + bpol.summary(),
			"proposed MX: " + hostList(phosts)}
		f.SetFix(finding.T("First add \"mx: %s\" (or a *. pattern covering it) to the MTA-STS policy and publish it with a new id in _mta-sts.%s; merge the MX change only after senders have refetched it (the TXT record's TTL, and up to max_age %s for senders that do not recheck)", trimDot(host), trimDot(domain), humanTTL(uint32(bpol.MaxAge))))
		out = append(out, f)
	}
	return out
}

// isParseError tells a policy that was read but is invalid (senders treat
// it as no policy) from one that could not be read at all.
func isParseError(err error) bool {
	var pe *mtasts.ParseError
	return errors.As(err, &pe)
}

func policyText(p *stsPolicy, err error) string {
	if err != nil {
		return "invalid: " + err.Error()
	}
	return p.summary() + " (" + p.Where + ")"
}

// cachedSet is one record set the checks rely on, and how to name it.
type cachedSet struct {
	name  string
	qtype uint16
	what  finding.Text
	// keep, when set, selects the records of the set that matter (the SPF
	// record among the apex TXT records).
	keep func(dns.RR) bool
	// staleRemovalHarmless: a cached old value of a removed record does no
	// harm (an old DKIM key keeps verifying mail signed with it).
	staleRemovalHarmless bool
}

func isSPF(rr dns.RR) bool {
	t, ok := rr.(*dns.TXT)
	if !ok {
		return false
	}
	s := strings.ToLower(resolver.JoinCharacterStrings(t.Txt))
	return s == "v=spf1" || strings.HasPrefix(s, "v=spf1 ")
}

// Thresholds of change.ttl-cached: an hour of stale answers is ordinary;
// more than a day deserves a warning.
const (
	ttlNotable = 3600
	ttlLong    = 86400
)

// ttlChanges reports record sets that differ between the states while the
// baseline TTL lets resolvers keep the old value for more than an hour
// (RFC 1035 §3.2.1, RFC 2181 §8: a cached RRset is served until its TTL
// runs out, whatever the zone says meanwhile).
func ttlChanges(base, proposed *facts.Domain, file *finding.Location) []finding.Finding {
	type pair struct {
		set        cachedSet
		base, prop *facts.Lookup
	}
	domain := fqdn(proposed.Name)
	pairs := []pair{
		{cachedSet{domain, dns.TypeMX, finding.T("MX records"), nil, false}, &base.MX.Lookup, &proposed.MX.Lookup},
		{cachedSet{domain, dns.TypeTXT, finding.T("SPF record"), isSPF, false}, spfLookup(base), spfLookup(proposed)},
		{cachedSet{"_dmarc." + domain, dns.TypeTXT, finding.T("DMARC record"), nil, false}, &base.DMARC.Walk[0].Lookup, &proposed.DMARC.Walk[0].Lookup},
		{cachedSet{"_mta-sts." + domain, dns.TypeTXT, finding.T("MTA-STS record"), nil, false}, &base.MTASTS.Lookup, &proposed.MTASTS.Lookup},
		{cachedSet{"_smtp._tls." + domain, dns.TypeTXT, finding.T("TLS-RPT record"), nil, false}, &base.TLSRPT.Lookup, &proposed.TLSRPT.Lookup},
	}
	for _, bs := range base.DKIM.Selectors {
		if ps := proposed.DKIM.Get(bs.Selector); ps != nil {
			pairs = append(pairs, pair{cachedSet{bs.Name(), dns.TypeTXT, finding.T("DKIM key %s", bs.Selector), nil, true}, &bs.Lookup, &ps.Lookup})
		}
	}
	var out []finding.Finding
	for _, p := range pairs {
		if f, ok := p.set.ttlChange(p.base, p.prop, file); ok {
			out = append(out, f)
		}
	}
	return out
}

// spfLookup is the TXT lookup at the domain that the SPF walk made.
func spfLookup(d *facts.Domain) *facts.Lookup {
	n := d.SPF.Root
	return &facts.Lookup{Name: fqdn(d.Name), Qtype: dns.TypeTXT, Answer: n.Answer, Err: n.Err}
}

// ttlChange compares one record set between the states.
func (s cachedSet) ttlChange(base, proposed *facts.Lookup, file *finding.Location) (finding.Finding, bool) {
	if base.Err != nil || proposed.Err != nil || base.Answer == nil || proposed.Answer == nil {
		return finding.Finding{}, false // the checks report failed lookups
	}
	brrs, _ := s.records(base.Answer)
	if len(brrs) == 0 {
		return finding.Finding{}, false // nothing cached but a negative answer
	}
	prrs, pidx := s.records(proposed.Answer)
	if slices.Equal(rdataSet(brrs), rdataSet(prrs)) || len(prrs) == 0 && s.staleRemovalHarmless {
		return finding.Finding{}, false
	}
	ttl := brrs[0].Header().Ttl
	for _, rr := range brrs[1:] {
		ttl = min(ttl, rr.Header().Ttl)
	}
	if ttl <= ttlNotable {
		return finding.Finding{}, false
	}
	f := finding.New("change.ttl-cached", subject(s.name, s.qtype),
		finding.T("The old %s stays cached for up to %s (TTL %d)", s.what, humanTTL(ttl), ttl),
		"baseline: "+rdataSummary(brrs)+fmt.Sprintf(" (TTL %d)", ttl), "proposed: "+rdataSummary(prrs))
	f.Severity = finding.Info
	if ttl > ttlLong {
		f.Severity = finding.Warn
	}
	f.Location = file
	if len(pidx) > 0 {
		if loc := proposed.Location(pidx[0]); loc != nil {
			f.Location = loc
		}
	}
	f.SetFix(finding.T("Resolvers may serve the old %s for up to %s after this change is published. Where both values must not overlap, lower the TTL first (e.g. to 300) in a separate change, wait one old TTL (%s), then make this change, and raise the TTL again afterwards", s.what, humanTTL(ttl), humanTTL(ttl)))
	return f, true
}

// records returns the records of the set in ans (a CNAME at the name
// counts: it is what resolvers cache) and their indexes in ans.RRs.
func (s cachedSet) records(ans *resolver.Answer) ([]dns.RR, []int) {
	var rrs []dns.RR
	var idx []int
	for i, rr := range ans.RRs {
		t := rr.Header().Rrtype
		if t != s.qtype && t != dns.TypeCNAME {
			continue
		}
		if s.keep != nil && t == s.qtype && !s.keep(rr) {
			continue
		}
		rrs = append(rrs, rr)
		idx = append(idx, i)
	}
	return rrs, idx
}

// rdataSet is the records' data without owner case, TTL or order.
func rdataSet(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		c := dns.Copy(rr)
		c.Header().Ttl = 0
		c.Header().Name = strings.ToLower(c.Header().Name)
		if mx, ok := c.(*dns.MX); ok {
			mx.Mx = strings.ToLower(mx.Mx)
		}
		out = append(out, c.String())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func rdataSummary(rrs []dns.RR) string {
	if len(rrs) == 0 {
		return "(none)"
	}
	parts := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		h := rr.Header().String()
		parts = append(parts, abbreviate(strings.TrimSpace(strings.TrimPrefix(rr.String(), h))))
	}
	return strings.Join(parts, " | ")
}

// answerTTL is the smallest TTL in ans, 0 when there is none.
func answerTTL(ans *resolver.Answer) uint32 {
	var ttl uint32
	if ans == nil {
		return 0
	}
	for i, rr := range ans.RRs {
		if i == 0 || rr.Header().Ttl < ttl {
			ttl = rr.Header().Ttl
		}
	}
	return ttl
}

// humanTTL writes a TTL as people say it, in the two largest units:
// "1 day", "2 hours 30 minutes".
func humanTTL(sec uint32) finding.Text {
	var parts []finding.Text
	for _, n := range []uint32{86400, 3600, 60, 1} {
		if sec >= n && len(parts) < 2 {
			k := sec / n
			sec -= k * n
			parts = append(parts, unitText(k, n))
		} else if len(parts) > 0 {
			break
		}
	}
	switch len(parts) {
	case 0:
		return finding.T("%d seconds", 0)
	case 1:
		return parts[0]
	}
	return finding.T("%s %s", parts[0], parts[1])
}

// unitText writes k of a unit of n seconds, singular or plural.
func unitText(k, n uint32) finding.Text {
	switch {
	case n == 86400 && k == 1:
		return finding.T("%d day", k)
	case n == 86400:
		return finding.T("%d days", k)
	case n == 3600 && k == 1:
		return finding.T("%d hour", k)
	case n == 3600:
		return finding.T("%d hours", k)
	case n == 60 && k == 1:
		return finding.T("%d minute", k)
	case n == 60:
		return finding.T("%d minutes", k)
	case k == 1:
		return finding.T("%d second", k)
	}
	return finding.T("%d seconds", k)
}
