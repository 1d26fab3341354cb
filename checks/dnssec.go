package checks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// checkDNSSEC says whether the zone holding domain is signed, and how far
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
func checkDNSSEC(ctx context.Context, env *Env, domain string) Result {
	apex, err := dnssecApex(ctx, env.Resolver, domain)
	if err != nil {
		var re *resolver.Error
		name, qtype := dns.Fqdn(domain), dns.TypeSOA
		if errors.As(err, &re) {
			name, qtype = re.Name, re.Qtype
		}
		return Result{Findings: []finding.Finding{LookupProblem(finding.T("DNSSEC"), name, qtype, err)}}
	}
	if apex == "" {
		return Result{Detail: []string{"DNSSEC: no zone apex (SOA) found for " + domain + "; not checked"}}
	}
	subject := Subject(apex, dns.TypeDNSKEY)
	ans, err := env.Resolver.Query(ctx, apex, dns.TypeDNSKEY)
	if err != nil {
		f := LookupProblem(finding.T("DNSSEC"), apex, dns.TypeDNSKEY, err)
		var re *resolver.Error
		if errors.As(err, &re) && re.Kind == resolver.ServFail {
			f.Evidence = append(f.Evidence, "a validating resolver answers SERVFAIL when the zone's signatures do not validate (RFC 4035 §5.5): check it with a DNSSEC debugger")
		}
		return Result{Findings: []finding.Finding{f}}
	}
	var keys []*dns.DNSKEY
	var sigs []*dns.RRSIG
	for _, rr := range ans.RRs {
		switch v := rr.(type) {
		case *dns.DNSKEY:
			keys = append(keys, v)
		case *dns.RRSIG:
			if v.TypeCovered == dns.TypeDNSKEY {
				sigs = append(sigs, v)
			}
		}
	}
	if len(keys) == 0 {
		f := finding.New("dnssec.unsigned", subject, finding.T("The zone %s is not signed (no DNSKEY record)", trimDot(apex)))
		return Result{Findings: []finding.Finding{f}}
	}
	zoneFile := ans.Origins != nil
	if ans.Authentic {
		f := finding.New("dnssec.ok", subject, finding.T("The zone %s is signed and the resolver validated it (AD bit)", trimDot(apex)),
			fmt.Sprintf("%d DNSKEY record(s)", len(keys)))
		locate(&f, ans, 0)
		return Result{Findings: []finding.Finding{f}}
	}
	if len(sigs) == 0 && zoneFile {
		// A zone resolver answers each type apart: ask for the signatures.
		if sigAns, err := env.Resolver.Query(ctx, apex, dns.TypeRRSIG); err == nil {
			for _, rr := range sigAns.RRs {
				if s, ok := rr.(*dns.RRSIG); ok && s.TypeCovered == dns.TypeDNSKEY {
					sigs = append(sigs, s)
				}
			}
		}
	}
	if len(sigs) == 0 {
		why := "the resolver did not validate (no AD bit) and returned no signatures"
		if zoneFile {
			why = "the zone file holds DNSKEY records but no RRSIG over them (is it signed when published?)"
		}
		f := finding.New("dnssec.not-validated", subject, finding.T("The zone %s publishes DNSKEY records, but %s", trimDot(apex), why))
		locate(&f, ans, 0)
		return Result{Findings: []finding.Finding{f}}
	}
	valid, problems := dnssecVerifyKeys(keys, sigs, env.now())
	if !valid {
		f := finding.New("dnssec.bogus", subject, finding.T("The DNSKEY set of %s has no valid signature: validating resolvers will answer SERVFAIL", trimDot(apex)), problems...)
		locate(&f, ans, 0)
		return Result{Findings: []finding.Finding{f}}
	}
	if zoneFile {
		f := finding.New("dnssec.ok", subject,
			finding.T("The zone %s is signed: the DNSKEY set's signature verifies", trimDot(apex)),
			fmt.Sprintf("%d DNSKEY record(s), %d RRSIG over them", len(keys), len(sigs)),
			"the parent's DS record is outside the zone file and was not checked")
		locate(&f, ans, 0)
		return Result{Findings: []finding.Finding{f}}
	}
	f := finding.New("dnssec.not-validated", subject,
		finding.T("The zone %s is signed and its DNSKEY signature verifies, but the resolver did not validate (no AD bit): the chain of trust was not checked", trimDot(apex)))
	return Result{Findings: []finding.Finding{f}}
}

// dnssecApex finds the apex of the zone holding domain: the nearest name,
// from domain up to the label below the TLD, that owns an SOA record. A
// domain that does not exist has no apex ("").
func dnssecApex(ctx context.Context, r resolver.Resolver, domain string) (string, error) {
	name := strings.ToLower(dns.Fqdn(domain))
	for dns.CountLabel(name) >= 2 {
		ans, err := r.Query(ctx, name, dns.TypeSOA)
		if err != nil {
			return "", err
		}
		if ans.NXDomain() && name == strings.ToLower(dns.Fqdn(domain)) {
			return "", nil
		}
		for _, rr := range ans.RRs {
			if soa, ok := rr.(*dns.SOA); ok && strings.EqualFold(soa.Hdr.Name, name) {
				return name, nil
			}
		}
		i, _ := dns.NextLabel(name, 0)
		name = name[i:]
	}
	return "", nil
}

// dnssecVerifyKeys reports whether one RRSIG over the DNSKEY set verifies
// with a key of the set and is within its validity period (RFC 4035
// §5.3.1), and otherwise what is wrong with each.
func dnssecVerifyKeys(keys []*dns.DNSKEY, sigs []*dns.RRSIG, now time.Time) (bool, []string) {
	rrset := make([]dns.RR, len(keys))
	for i, k := range keys {
		rrset[i] = k
	}
	var problems []string
	for _, s := range sigs {
		desc := fmt.Sprintf("RRSIG DNSKEY %s key tag %d", dns.AlgorithmToString[s.Algorithm], s.KeyTag)
		var key *dns.DNSKEY
		for _, k := range keys {
			if k.KeyTag() == s.KeyTag && k.Algorithm == s.Algorithm {
				key = k
				break
			}
		}
		if key == nil {
			problems = append(problems, desc+": no DNSKEY with that tag and algorithm")
			continue
		}
		if err := s.Verify(key, rrset); err != nil {
			problems = append(problems, desc+": the signature does not verify ("+err.Error()+")")
			continue
		}
		if !s.ValidityPeriod(now) {
			problems = append(problems, fmt.Sprintf("%s: valid only from %s to %s",
				desc, dns.TimeToString(s.Inception), dns.TimeToString(s.Expiration)))
			continue
		}
		return true, nil
	}
	return false, problems
}
