package facts

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/checks/bimi"
	"github.com/mailcheck-cli/mailcheck/checks/dkim"
	"github.com/mailcheck-cli/mailcheck/checks/spf"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/nameserver"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// Records lists what was gathered about d, by area, for the report's
// "records": every record judged with its parsed tags and its source, and
// the negative answer or failure where there was none.
func Records(d *Domain) map[string][]finding.Record {
	out := map[string][]finding.Record{}
	add := func(area string, rs ...finding.Record) {
		if len(rs) > 0 {
			out[area] = append(out[area], rs...)
		}
	}

	add("mx", lookupRecords(&d.MX.Lookup, "", nil)...)
	for _, h := range d.MX.Hosts {
		add("mx", lookupRecords(&h.Addrs.A, "address of MX host "+h.Name, nil)...)
		add("mx", lookupRecords(&h.Addrs.AAAA, "address of MX host "+h.Name, nil)...)
	}
	if d.SPF != nil {
		d.SPF.Walk(func(n *SPFNode) {
			l := Lookup{Name: dns.Fqdn(n.Domain), Qtype: dns.TypeTXT, Answer: n.Answer, Err: n.Err}
			note := ""
			if n.Via != "" {
				note = n.Via
			}
			add("spf", lookupRecords(&l, note, func(t string) ([]finding.Tag, bool) {
				if !spf.IsSPF(t) {
					return nil, false
				}
				return spfTags(t), true
			})...)
		})
	}
	if d.DMARC != nil {
		for i, l := range d.DMARC.Walk {
			if i > 0 && len(l.Records) == 0 && l.Lookup.Err == nil {
				continue // the tree walk's empty ancestors say nothing
			}
			note := ""
			if i > 0 {
				note = "ancestor of " + d.Name + " (RFC 9989 tree walk)"
			}
			add("dmarc", lookupRecords(&l.Lookup, note, isTagList("v=dmarc1"))...)
		}
	}
	for _, s := range d.DKIM.Selectors {
		if !s.Source.Named() && (s.Lookup.Status() != Answered || s.FromWildcard) {
			continue // a guess that found nothing is no record
		}
		add("dkim", lookupRecords(&s.Lookup, "selector "+s.Selector+" ("+sourceText(s.Source)+")", func(t string) ([]finding.Tag, bool) {
			tags, err := dkim.ParseTagList(t)
			if err != nil {
				return nil, true
			}
			out := make([]finding.Tag, len(tags))
			for i, tg := range tags {
				out[i] = finding.Tag{Name: tg.Name, Value: tg.Value}
			}
			return out, true
		})...)
	}
	add("mtasts", lookupRecords(&d.MTASTS.Lookup, "", isTagList("v=stsv1"))...)
	if p := d.MTASTS.Policy; p != nil {
		r := finding.Record{Name: p.Source, Type: "policy", Source: p.Source, Status: Answered.String()}
		if p.FromFile {
			r.Location = &finding.Location{File: p.Source}
		}
		if p.Err != nil {
			r.Status, r.Error = Failed.String(), p.Err.Error()
		}
		if p.Body != nil {
			r.Value = string(p.Body)
		}
		if p.Parsed != nil {
			r.Tags = append(r.Tags, finding.Tag{Name: "version", Value: p.Parsed.Version},
				finding.Tag{Name: "mode", Value: string(p.Parsed.Mode)})
			for _, mx := range p.Parsed.MX {
				r.Tags = append(r.Tags, finding.Tag{Name: "mx", Value: mx})
			}
			r.Tags = append(r.Tags, finding.Tag{Name: "max_age", Value: strconv.Itoa(p.Parsed.MaxAge)})
		}
		add("mtasts", r)
	}
	add("tlsrpt", lookupRecords(&d.TLSRPT.Lookup, "", isTagList("v=tlsrptv1"))...)
	if d.DNSSEC.Apex != "" || d.DNSSEC.ApexErr != nil {
		l := d.DNSSEC.DNSKEY
		if d.DNSSEC.ApexErr != nil {
			l = Lookup{Name: dns.Fqdn(d.Name), Qtype: dns.TypeSOA, Err: d.DNSSEC.ApexErr}
		}
		r := summaryRecord(&l)
		if l.Err == nil {
			r.Value = fmt.Sprintf("%d DNSKEY, %d RRSIG over them", len(d.DNSSEC.Keys), len(d.DNSSEC.Sigs))
			if d.DNSSEC.Authentic() {
				r.Note = "validated by the resolver (AD bit)"
			}
		}
		add("dnssec", r)
	}
	add("ns", nsRecords(&d.NS)...)
	for _, h := range d.DANE.Hosts {
		add("dane", lookupRecords(&h.Lookup, "TLSA of MX host "+h.Host+tlsaSecurity(h), func(t string) ([]finding.Tag, bool) {
			f := strings.Fields(t)
			if len(f) != 4 {
				return nil, true
			}
			return []finding.Tag{{Name: "usage", Value: f[0]}, {Name: "selector", Value: f[1]}, {Name: "matching", Value: f[2]}, {Name: "data", Value: f[3]}}, true
		})...)
	}
	add("bimi", bimiRecords(&d.BIMI)...)
	add("dnsbl", dnsblRecords(&d.DNSBL)...)
	for _, rl := range d.PTR.Addrs {
		note := rl.Addr.String() + ", address of " + strings.Join(rl.Hosts, ", ")
		if rl.ReverseErr != nil {
			continue
		}
		add("ptr", lookupRecords(&rl.Reverse, note, nil)...)
	}
	return out
}

// lookupRecords turns a lookup into records: one per record of the type
// asked (filtered and parsed by parse when given: a TXT set holds other
// records too), or one saying how the lookup ended when there is none.
func lookupRecords(l *Lookup, note string, parse func(string) ([]finding.Tag, bool)) []finding.Record {
	var out []finding.Record
	if l.Answer != nil {
		for i, rr := range l.Answer.RRs {
			if rr.Header().Rrtype != l.Qtype {
				continue
			}
			r := finding.Record{Name: trimDot(rr.Header().Name), Type: dns.TypeToString[l.Qtype],
				TTL: rr.Header().Ttl, Status: Answered.String(), Source: sourceOf(l.Answer), Location: l.Location(i), Note: note}
			r.Value = rdata(rr)
			if t, ok := rr.(*dns.TXT); ok {
				r.Value = resolver.JoinCharacterStrings(t.Txt)
			}
			if parse != nil {
				tags, ok := parse(r.Value)
				if !ok {
					continue
				}
				r.Tags = tags
			}
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		r := summaryRecord(l)
		r.Note = note
		out = append(out, r)
	}
	return out
}

// summaryRecord is a record saying how a lookup ended, without a value.
func summaryRecord(l *Lookup) finding.Record {
	st := l.Status()
	if st == Answered {
		st = NoData // records of other types only (TXT other than the kind asked)
	}
	r := finding.Record{Name: trimDot(l.Name), Type: dns.TypeToString[l.Qtype], Status: st.String()}
	if l.Err != nil {
		r.Error = l.Err.Error()
	}
	if l.Answer != nil {
		r.Source = sourceOf(l.Answer)
	}
	return r
}

// sourceOf names who answered: the zone file or the server.
func sourceOf(a *resolver.Answer) string { return a.Server }

// rdata is a record's data without its owner, TTL, class and type.
func rdata(rr dns.RR) string {
	return strings.TrimSpace(strings.TrimPrefix(rr.String(), rr.Header().String()))
}

// isTagList accepts TXT records that start with the given version tag (in
// lower case) and splits them into tag=value pairs.
func isTagList(version string) func(string) ([]finding.Tag, bool) {
	return func(t string) ([]finding.Tag, bool) {
		if !strings.HasPrefix(strings.ToLower(strings.ReplaceAll(t, " ", "")), version) {
			return nil, false
		}
		var tags []finding.Tag
		for _, part := range strings.Split(t, ";") {
			name, value, _ := strings.Cut(part, "=")
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			tags = append(tags, finding.Tag{Name: name, Value: strings.TrimSpace(value)})
		}
		return tags, true
	}
}

// spfTags lists an SPF record's terms: the mechanism (with its qualifier)
// or modifier name, and its argument.
func spfTags(t string) []finding.Tag {
	var tags []finding.Tag
	for i, term := range strings.Fields(t) {
		if i == 0 {
			tags = append(tags, finding.Tag{Name: "v", Value: strings.TrimPrefix(strings.ToLower(term), "v=")})
			continue
		}
		name, value := term, ""
		if k, v, ok := strings.Cut(term, "="); ok && !strings.ContainsAny(k, ":/") {
			name, value = k, v
		} else if k, v, ok := strings.Cut(term, ":"); ok {
			name, value = k, v
		} else if k, v, ok := strings.Cut(term, "/"); ok {
			name, value = k, "/"+v
		}
		tags = append(tags, finding.Tag{Name: name, Value: value})
	}
	return tags
}

func sourceText(s SelectorSource) string {
	var parts []string
	if s&FromFlag != 0 {
		parts = append(parts, "given with --dkim-selector")
	}
	if s&FromPolicy != 0 {
		parts = append(parts, "required by the policy file")
	}
	if s&FromZone != 0 {
		parts = append(parts, "published in the zone file")
	}
	if s&Guessed != 0 && len(parts) == 0 {
		parts = append(parts, "a common selector")
	}
	return strings.Join(parts, ", ")
}

// nsRecords lists the zone's name servers: each address's answer when the
// servers were asked (its status, the SOA serial it serves), the NS RRset
// otherwise.
func nsRecords(n *NS) []finding.Record {
	s := n.Survey
	if s == nil {
		return nil
	}
	if s.ZoneErr != nil {
		return []finding.Record{{Name: trimDot(s.Domain), Type: "SOA", Status: Failed.String(), Error: s.ZoneErr.Error()}}
	}
	if !n.Asked {
		return lookupRecords(&n.Child, "name servers of "+trimDot(s.Zone)+" (not asked)", nil)
	}
	var out []finding.Record
	for _, srv := range s.Servers {
		var sides []string
		if srv.InParent {
			sides = append(sides, "parent's delegation")
		}
		if srv.InChild {
			sides = append(sides, "zone's NS records")
		}
		note := "listed in the " + strings.Join(sides, " and the ")
		if len(srv.Replies) == 0 {
			r := finding.Record{Name: trimDot(srv.Host), Type: "NS", Status: NoData.String(), Note: note + "; no address"}
			if srv.AddrErr != nil {
				r.Status, r.Error = Failed.String(), srv.AddrErr.Error()
			}
			out = append(out, r)
		}
		for _, rep := range srv.Replies {
			r := finding.Record{Name: trimDot(srv.Host), Type: "NS", Source: rep.Addr.String(), Note: note,
				Value: rep.Status.String(), Status: Answered.String()}
			switch rep.Status {
			case nameserver.Authoritative:
				r.Tags = []finding.Tag{{Name: "serial", Value: strconv.FormatUint(uint64(rep.Serial), 10)}}
			case nameserver.Unreachable:
				r.Status = Failed.String()
				if rep.Err != nil {
					r.Error = rep.Err.Error()
				}
			}
			out = append(out, r)
		}
	}
	return out
}

// tlsaSecurity says how the TLSA answer is protected, for the note.
func tlsaSecurity(h *TLSAHost) string {
	switch {
	case len(h.Records)+len(h.Bad) == 0:
		return ""
	case h.Validated():
		return "; validated by the resolver (AD bit)"
	case len(h.Sigs) > 0:
		return fmt.Sprintf("; %d RRSIG over them", len(h.Sigs))
	}
	return "; unsigned"
}

// bimiRecords lists the BIMI record and the documents fetched.
func bimiRecords(b *BIMI) []finding.Record {
	l := b.Decided()
	note := ""
	if b.Org != nil {
		note = "the Organizational Domain's record (the domain has none)"
	}
	out := lookupRecords(l, note, func(t string) ([]finding.Tag, bool) {
		if !bimi.IsBIMI(t) {
			return nil, false
		}
		return tagList(t), true
	})
	for _, doc := range []*Fetched{b.Logo, b.Evidence} {
		if doc == nil {
			continue
		}
		r := finding.Record{Name: doc.URL, Type: "document", Source: doc.URL, Status: Answered.String(),
			Value: fmt.Sprintf("%d bytes", len(doc.Body))}
		if doc.Err != nil {
			r.Status, r.Error, r.Value = Failed.String(), doc.Err.Error(), ""
		}
		out = append(out, r)
	}
	return out
}

// dnsblRecords lists each blocklist's answer for each address.
func dnsblRecords(b *DNSBL) []finding.Record {
	var out []finding.Record
	for _, a := range b.Answers {
		note := b.ListName(a.List) + ": " + a.Addr.String()
		if i := slices.IndexFunc(b.Addrs, func(x BlockAddr) bool { return x.Addr == a.Addr }); i >= 0 {
			note += " (" + strings.Join(b.Addrs[i].SourceStrings(), ", ") + ")"
		}
		recs := lookupRecords(&a.Lookup, note, nil)
		for i := range recs {
			if a.Lookup.Err == nil {
				recs[i].Tags = []finding.Tag{{Name: "verdict", Value: a.Result.Verdict.String()}}
			}
		}
		out = append(out, recs...)
	}
	return out
}

// tagList splits a tag=value; record into its tags.
func tagList(t string) []finding.Tag {
	var tags []finding.Tag
	for _, part := range strings.Split(t, ";") {
		name, value, _ := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		tags = append(tags, finding.Tag{Name: name, Value: strings.TrimSpace(value)})
	}
	return tags
}
