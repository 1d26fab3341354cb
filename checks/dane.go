package checks

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/checks/dane"
	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
)

// judgeDANE judges, for each MX host, the TLSA records DANE-aware senders
// look up at _25._tcp.<host> (RFC 7672):
//   - none: dane.missing (info), DANE is optional;
//   - records without a DNSSEC signature: dane.unsigned (warn), since
//     senders use TLSA records only when DNSSEC validates them (§2.2);
//     signatures that do not verify: dnssec.bogus (fail), since validating
//     senders then cannot look the records up and defer the mail;
//   - records a sender cannot use (PKIX usages, unknown parameters, bad
//     data): dane.unusable (warn), §3.1 and §3.1.3;
//   - when the host was probed, the chain it served matched against the
//     usable records (§3.1.1 DANE-EE, §3.1.2 DANE-TA): dane.mismatch
//     (fail) when none matches, since senders then refuse to deliver;
//   - dane.ok otherwise; without a probe (--no-probe) it says the
//     certificate was not checked.
func judgeDANE(d *facts.Domain) Result {
	var res Result
	for _, h := range d.DANE.Hosts {
		res.Findings = append(res.Findings, daneHost(d, h)...)
	}
	sortFindings(res.Findings)
	return res
}

func daneHost(d *facts.Domain, h *facts.TLSAHost) []finding.Finding {
	name := dane.TLSAName(25, h.Host)
	subject := Subject(name, dns.TypeTLSA)
	l := &h.Lookup
	switch {
	case l.Err != nil:
		n, qtype := failedName(l.Err, name, dns.TypeTLSA)
		return []finding.Finding{LookupProblem(finding.T("The TLSA records of MX host %s", h.Host), n, qtype, l.Err)}
	case len(h.Records)+len(h.Bad) == 0:
		return []finding.Finding{finding.New("dane.missing", subject, finding.T("MX host %s has no TLSA record: DANE-aware senders do not authenticate it", h.Host))}
	}
	recs := make([]string, 0, len(h.Records))
	for _, r := range h.Records {
		recs = append(recs, "TLSA "+r.Text)
	}
	for _, err := range h.Bad {
		recs = append(recs, err.Error())
	}
	locateTLSA := func(f *finding.Finding) {
		for i, rr := range l.RRs() {
			if rr.Header().Rrtype == dns.TypeTLSA {
				locate(f, l, i)
				return
			}
		}
	}

	// RFC 7672 §2.2: only a secure (validated) TLSA RRset is used.
	var secNote finding.Text
	switch {
	case h.Validated():
	case len(h.Sigs) == 0:
		f := finding.New("dane.unsigned", subject, finding.T("The TLSA records of MX host %s are not signed with DNSSEC: senders ignore them", h.Host), recs...)
		f.SetFix(finding.T("Sign the zone that holds %s with DNSSEC (and publish its DS at the parent), or remove the TLSA records", trimDot(name)))
		locateTLSA(&f)
		return []finding.Finding{f}
	default:
		keys := dnskeysOf(&h.Keys)
		if ok, problems := verifyRRset(h.RRset(), h.Sigs, keys, d.Gathered); !ok {
			f := finding.New("dnssec.bogus", subject, finding.T("The signature over the TLSA records of MX host %s does not verify: validating senders cannot read them and defer the mail", h.Host), append(recs, problems...)...)
			f.SetFix(finding.T("Re-sign the zone that holds %s (check the signer's keys and the signatures' validity dates)", trimDot(name)))
			locateTLSA(&f)
			return []finding.Finding{f}
		}
		secNote = finding.T("the signature over the records verifies with the zone's key; the resolver did not validate the chain of trust")
		if h.FromZone() {
			secNote = finding.T("the signature over the records verifies with the zone file's key; the parent's DS was not checked")
		}
	}

	var out []finding.Finding
	check := dane.Match(h.Records, nil, nil, d.Gathered)
	if len(check.Unusable)+len(h.Bad) > 0 {
		var ev []string
		for _, err := range check.Unusable {
			ev = append(ev, err.Error())
		}
		for _, err := range h.Bad {
			ev = append(ev, err.Error())
		}
		title := finding.T("%d TLSA record(s) of MX host %s cannot be used by senders", len(ev), h.Host)
		if check.Usable == 0 {
			title = finding.T("No TLSA record of MX host %s can be used by senders: they fall back to unauthenticated TLS", h.Host)
		}
		f := finding.New("dane.unusable", subject, title, ev...)
		f.SetFix(finding.T("Publish a DANE-EE record (3 1 1, the SHA-256 of the server's public key) or a DANE-TA record (2 1 1, of the issuing CA's key) at %s, and remove the records named", trimDot(name)))
		locateTLSA(&f)
		out = append(out, f)
		if check.Usable == 0 {
			return out
		}
	}

	chains := d.DANE.ChainsOf(h.Host)
	if len(chains) == 0 {
		if len(out) > 0 {
			return out
		}
		f := finding.New("dane.ok", subject, finding.T("MX host %s publishes %d usable, signed TLSA record(s); the certificate was not checked (not probed)", h.Host, check.Usable), recs...)
		if !secNote.IsZero() {
			f.Note(secNote)
		}
		locateTLSA(&f)
		return append(out, f)
	}
	names := []string{h.Host}
	for _, mh := range d.MX.Hosts {
		if mh.Name == h.Host && mh.CNAMETarget != "" {
			names = append(names, mh.CNAMETarget)
		}
	}
	var matched []string
	for _, c := range chains {
		if c.NoTLS {
			// RFC 7672 §2.2: with usable TLSA records, TLS is mandatory.
			f := finding.New("dane.mismatch", subject, finding.T("MX host %s offers no STARTTLS at %s: with usable TLSA records DANE-aware senders refuse to deliver", h.Host, c.Addr), recs...)
			f.SetFix(finding.T("Enable STARTTLS on %s with the certificate the TLSA records name, or remove the TLSA records", h.Host))
			locateTLSA(&f)
			out = append(out, f)
			continue
		}
		m := dane.Match(h.Records, c.Chain, names, d.Gathered)
		if m.Matched == nil {
			out = append(out, daneMismatch(h, c, m, subject, recs, locateTLSA))
			continue
		}
		matched = append(matched, fmt.Sprintf("%s: TLSA %s matches certificate %d of the chain (%s)", c.Addr, m.Matched.Text, m.Depth, c.Chain[m.Depth].Subject.CommonName))
	}
	if highestSeverity(out) < finding.Warn {
		f := finding.New("dane.ok", subject, finding.T("The certificate MX host %s serves matches its TLSA records", h.Host), matched...)
		if !secNote.IsZero() {
			f.Note(secNote)
		}
		locateTLSA(&f)
		out = append(out, f)
	}
	return out
}

// daneMismatch reports a served chain no usable record matches, with the
// record that would match the certificate served now.
func daneMismatch(h *facts.TLSAHost, c facts.ServedChain, m dane.Outcome, subject string, recs []string, locate func(*finding.Finding)) finding.Finding {
	ev := append([]string{}, recs...)
	if len(c.Chain) > 0 {
		leaf := c.Chain[0]
		ev = append(ev, fmt.Sprintf("%s serves %s; its key is TLSA 3 1 1 %s", c.Addr, leaf.Subject.CommonName,
			hex.EncodeToString(dane.Association(leaf, dane.SPKI, dane.SHA256))))
	}
	ev = append(ev, m.Reasons...)
	f := finding.New("dane.mismatch", subject, finding.T("The certificate MX host %s serves at %s matches none of its TLSA records: DANE-aware senders refuse to deliver", h.Host, c.Addr), ev...)
	fix := "3 1 1 ..."
	if len(c.Chain) > 0 {
		fix = "3 1 1 " + hex.EncodeToString(dane.Association(c.Chain[0], dane.SPKI, dane.SHA256))
	}
	f.SetFix(finding.T("Publish TLSA %q at %s for the key the server uses now (keep the old record until the new one has been published for a TTL), or put back the key the records name", fix, trimDot(dane.TLSAName(25, h.Host))))
	locate(&f)
	return f
}

// dnskeysOf returns the DNSKEY records of a lookup.
func dnskeysOf(l *facts.Lookup) []*dns.DNSKEY {
	var out []*dns.DNSKEY
	for _, rr := range l.RRs() {
		if k, ok := rr.(*dns.DNSKEY); ok {
			out = append(out, k)
		}
	}
	return out
}

// verifyRRset reports whether one of sigs over rrset verifies with a key
// of keys and is within its validity period at now (RFC 4035 §5.3.1), and
// otherwise what is wrong with each.
func verifyRRset(rrset []dns.RR, sigs []*dns.RRSIG, keys []*dns.DNSKEY, now time.Time) (bool, []string) {
	var problems []string
	for _, s := range sigs {
		desc := fmt.Sprintf("RRSIG %s %s key tag %d", dns.TypeToString[s.TypeCovered], dns.AlgorithmToString[s.Algorithm], s.KeyTag)
		var key *dns.DNSKEY
		for _, k := range keys {
			if k.KeyTag() == s.KeyTag && k.Algorithm == s.Algorithm {
				key = k
				break
			}
		}
		if key == nil {
			problems = append(problems, desc+": no DNSKEY with that tag and algorithm at "+trimDot(s.SignerName))
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
	if len(sigs) == 0 {
		problems = append(problems, "no signature")
	}
	return false, problems
}
