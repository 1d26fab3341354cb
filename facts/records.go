package facts

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/checks/dkim"
	"github.com/mailcheck-cli/mailcheck/checks/spf"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// Records lists what was gathered about d, by area, for the report's
// "records": every record judged with its parsed tags and its source, and
// the negative answer or failure where there was none.
func Records(d *Domain) map[string][]finding.Record {
	out := map[string][]finding.Record{}
	add := func(area string, rs ...finding.Record) { out[area] = append(out[area], rs...) }

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
