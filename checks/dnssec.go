package checks

import (
	"errors"
	"fmt"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// judgeDNSSEC says whether the zone holding domain is signed, and how far
// that could be verified. The zone apex is found through SOA (the domain
// itself, or the nearest ancestor below the TLD that owns an SOA); the
// DNSKEY RRset there tells signed from unsigned.
//
// Three ways to know more than "DNSKEY present", from best to least:
//   - the resolver validated: the AD bit on the DNSKEY answer (RFC 4035
//     §3.2.3) means the chain of trust from the root held: dnssec.ok;
//   - the answer came from a zone file: the RRSIG over the DNSKEY set is
//     verified here, with its validity period (RFC 4035 §5.3). The parent's
//     DS record is not in the file, so the chain of trust is not checked;
//     dnssec.ok says so;
//   - a live resolver that does not validate: the RRSIGs it returns (the
//     query sets DO) are verified here, and the result is
//     dnssec.not-validated (info), since the chain of trust is unknown.
//
// Signatures that are present but do not verify, or have expired, are
// dnssec.bogus (fail): validating resolvers answer SERVFAIL for the whole
// zone. A validating resolver's SERVFAIL itself is a failed lookup
// (inconclusive), with that possibility in its evidence.
func judgeDNSSEC(d *facts.Domain) Result {
	z := &d.DNSSEC
	if z.ApexErr != nil {
		name, qtype := failedName(z.ApexErr, dns.Fqdn(d.Name), dns.TypeSOA)
		return Result{Findings: []finding.Finding{LookupProblem(finding.T("DNSSEC"), name, qtype, z.ApexErr)}}
	}
	apex := z.Apex
	if apex == "" {
		return Result{Detail: []string{"DNSSEC: no zone apex (SOA) found for " + d.Name + "; not checked"}}
	}
	subject := Subject(apex, dns.TypeDNSKEY)
	ans := &z.DNSKEY
	if ans.Err != nil {
		f := lookupProblem(finding.T("DNSSEC"), ans)
		var re *resolver.Error
		if errors.As(ans.Err, &re) && re.Kind == resolver.ServFail {
			f.Note(finding.T("a validating resolver answers SERVFAIL when the zone's signatures do not validate (RFC 4035 §5.5): check it with a DNSSEC debugger"))
		}
		return Result{Findings: []finding.Finding{f}}
	}
	keys, sigs := z.Keys, z.Sigs
	if len(keys) == 0 {
		f := finding.New("dnssec.unsigned", subject, finding.T("The zone %s is not signed (no DNSKEY record)", trimDot(apex)))
		return Result{Findings: []finding.Finding{f}}
	}
	zoneFile := z.FromZone
	if z.Authentic() {
		f := finding.New("dnssec.ok", subject, finding.T("The zone %s is signed and the resolver validated it (AD bit)", trimDot(apex)),
			fmt.Sprintf("%d DNSKEY record(s)", len(keys)))
		locate(&f, ans, 0)
		return Result{Findings: []finding.Finding{f}}
	}
	if len(sigs) == 0 {
		why := finding.T("the resolver did not validate (no AD bit) and returned no signatures")
		if zoneFile {
			why = finding.T("the zone file holds DNSKEY records but no RRSIG over them (is it signed when published?)")
		}
		f := finding.New("dnssec.not-validated", subject, finding.T("The zone %s publishes DNSKEY records, but %s", trimDot(apex), why))
		locate(&f, ans, 0)
		return Result{Findings: []finding.Finding{f}}
	}
	valid, problems := dnssecVerifyKeys(keys, sigs, d.Gathered)
	if !valid {
		f := finding.New("dnssec.bogus", subject, finding.T("The DNSKEY set of %s has no valid signature: validating resolvers will answer SERVFAIL", trimDot(apex)), problems...)
		locate(&f, ans, 0)
		return Result{Findings: []finding.Finding{f}}
	}
	if zoneFile {
		f := finding.New("dnssec.ok", subject,
			finding.T("The zone %s is signed: the DNSKEY set's signature verifies", trimDot(apex)),
			fmt.Sprintf("%d DNSKEY record(s), %d RRSIG over them", len(keys), len(sigs)))
		f.Note(finding.T("the parent's DS record is outside the zone file and was not checked"))
		locate(&f, ans, 0)
		return Result{Findings: []finding.Finding{f}}
	}
	f := finding.New("dnssec.not-validated", subject,
		finding.T("The zone %s is signed and its DNSKEY signature verifies, but the resolver did not validate (no AD bit): the chain of trust was not checked", trimDot(apex)))
	return Result{Findings: []finding.Finding{f}}
}

// dnssecVerifyKeys reports whether one RRSIG over the DNSKEY set verifies
// with a key of the set and is within its validity period (RFC 4035
// §5.3.1), and otherwise what is wrong with each.
func dnssecVerifyKeys(keys []*dns.DNSKEY, sigs []*dns.RRSIG, now time.Time) (bool, []string) {
	rrset := make([]dns.RR, len(keys))
	for i, k := range keys {
		rrset[i] = k
	}
	return verifyRRset(rrset, sigs, keys, now)
}
