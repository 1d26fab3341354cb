package checks

import (
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/nameserver"
)

// judgeNS judges the name servers of the zone that holds the domain.
//
// Live DNS: every server the parent or the zone names was asked directly
// (facts.NS.Asked):
//   - ns.lame (fail): a server answers, but not authoritatively for the
//     zone (RFC 1912 §2.8);
//   - ns.unreachable (warn): a server gives no reply at all. When no server
//     replies, the fault is more likely this host's network (outbound DNS
//     blocked) than the zone: the survey is inconclusive instead;
//   - ns.inconsistent (fail): authoritative servers serve different SOA
//     serials (RFC 1982 arithmetic) or different mail records;
//   - ns.delegation-mismatch (warn): the parent's delegation and the
//     zone's NS RRset list different servers (RFC 1034 §4.2.2);
//   - ns.single (warn): one name server (RFC 1034 §4.1, RFC 2182 §5).
//
// Zone files: nothing was asked, since the files are the proposed state
// and the servers serve the published one. What the files show is judged:
// the number of servers, and the delegation against the zone's NS RRset
// when the parent's zone file is given too. ns.ok then says what was not
// checked.
func judgeNS(d *facts.Domain) Result {
	s := d.NS.Survey
	if s == nil {
		return Result{}
	}
	if s.ZoneErr != nil {
		name, qtype := failedName(s.ZoneErr, s.Domain, dns.TypeSOA)
		return Result{Findings: []finding.Finding{LookupProblem(finding.T("The name servers"), name, qtype, s.ZoneErr)}}
	}
	zone := trimDot(s.Zone)
	subject := Subject(s.Zone, dns.TypeNS)
	var res Result
	if s.Child.Err != nil {
		res.Findings = append(res.Findings, LookupProblem(finding.T("The zone's NS records"), s.Zone, dns.TypeNS, s.Child.Err))
	}
	if s.Parent.Err != nil {
		res.Detail = append(res.Detail, fmt.Sprintf("name servers: the parent's delegation of %s was not read (%v)", zone, s.Parent.Err))
	}
	// Asked, but no address could be asked (IPv6 only, from a host
	// without an IPv6 route): as good as not asked.
	asked := d.NS.Asked && slices.ContainsFunc(s.Servers, func(srv *nameserver.Server) bool { return len(srv.Replies) > 0 })
	var out []finding.Finding
	if d.NS.Asked {
		out = append(out, nsServerFindings(s, subject)...)
		if d.NS.SkippedIPv6 {
			res.Detail = append(res.Detail, "name servers: IPv6 addresses not asked (no IPv6 route from this host)")
		}
	}
	if parent, child := s.OnlyInParent(), s.OnlyInChild(); len(parent)+len(child) > 0 {
		var ev []string
		if len(parent) > 0 {
			ev = append(ev, "only in the parent's delegation: "+strings.Join(mapTrimDot(parent), ", "))
		}
		if len(child) > 0 {
			ev = append(ev, "only in the zone's NS records: "+strings.Join(mapTrimDot(child), ", "))
		}
		f := finding.New("ns.delegation-mismatch", subject, finding.T("The parent zone and %s list different name servers", zone), ev...)
		f.SetFix(finding.T("List the same servers at the registrar (the parent's delegation) and in the NS records of %s", zone))
		locate(&f, &d.NS.Child, 0)
		out = append(out, f)
	}
	switch n := s.NameServerCount(); {
	case s.Child.Err != nil && s.Parent.Err != nil:
	case n == 0:
		f := finding.New("ns.single", subject, finding.T("%s lists no name server", zone))
		f.SetFix(finding.T("Publish NS records for at least two name servers of %s, on different networks", zone))
		out = append(out, f)
	case n == 1:
		only := s.Child.NameServers
		if s.Parent.Err == nil && len(s.Parent.NameServers) > 0 {
			only = s.Parent.NameServers
		}
		f := finding.New("ns.single", subject, finding.T("%s has one name server: %s", zone, trimDot(only[0])))
		f.SetFix(finding.T("Add a second name server on another network and list both at the registrar and in the NS records of %s", zone))
		locate(&f, &d.NS.Child, 0)
		out = append(out, f)
	}
	notChecked := slices.ContainsFunc(out, func(f finding.Finding) bool { return f.ID == "dns.not-checked" })
	if len(res.Findings) == 0 && highestSeverity(out) < finding.Warn && !notChecked {
		out = append(out, nsOK(d, s, subject, asked))
	}
	sortFindings(out)
	res.Findings = append(res.Findings, out...)
	return res
}

// nsServerFindings judges what each server answered when asked directly.
func nsServerFindings(s *nameserver.Survey, subject string) []finding.Finding {
	zone := trimDot(s.Zone)
	var out []finding.Finding
	lame := s.ByStatus(nameserver.Lame)
	unreachable := s.ByStatus(nameserver.Unreachable)
	replied := len(s.ByStatus(nameserver.Authoritative)) + len(lame)
	if len(unreachable) > 0 && replied == 0 {
		// Not one server replied: this host's network (outbound DNS
		// blocked, no route) is the likelier cause, and many networks let
		// DNS through to their own resolver only. Not checked, as a name
		// outside the zones is: no verdict, and no failed run for an
		// admin whose firewall is doing its job.
		var ev []string
		for _, w := range unreachable {
			ev = append(ev, w.String())
		}
		f := finding.New("dns.not-checked", subject, finding.T("The name servers of %s were not checked: none of them replied to a direct question from here", zone), ev...)
		f.Note(finding.T("a firewall that lets DNS through only to the local resolver gives the same result; check from another network"))
		f.SetFix(finding.T("Run mailcheck from a network that may send DNS queries to any server (UDP and TCP port 53), or with --ns-check never to leave the name servers out"))
		return []finding.Finding{f}
	}
	for _, srv := range s.Servers {
		for _, r := range srv.Replies {
			where := nameserver.Where{Host: srv.Host, Addr: r.Addr.String()}
			switch r.Status {
			case nameserver.Lame:
				f := finding.New("ns.lame", subject, finding.T("Name server %s does not answer authoritatively for %s", where.String(), zone), where.String())
				f.Note(nsLameWhy(r, s.Zone))
				f.SetFix(finding.T("Load %s on %s (as a primary or a secondary), or remove %s from the NS records at the registrar and in the zone", zone, trimDot(srv.Host), trimDot(srv.Host)))
				out = append(out, f)
			case nameserver.Unreachable:
				f := finding.New("ns.unreachable", subject, finding.T("Name server %s does not reply", where.String()), where.String())
				f.Note(errText(r.Err))
				f.SetFix(finding.T("Bring %s back, open UDP and TCP port 53 to it, or remove it from the NS records at the registrar and in the zone", trimDot(srv.Host)))
				out = append(out, f)
			}
		}
		if len(srv.Addrs) == 0 && srv.AddrErr == nil {
			f := finding.New("ns.unreachable", subject, finding.T("Name server %s has no address", trimDot(srv.Host)), trimDot(srv.Host)+": no A or AAAA record")
			f.SetFix(finding.T("Publish the address of %s, or remove it from the NS records at the registrar and in the zone", trimDot(srv.Host)))
			out = append(out, f)
		}
		if srv.AddrErr != nil && len(srv.Addrs) == 0 {
			out = append(out, LookupProblem(finding.T("The address of name server %s", trimDot(srv.Host)), srv.Host, dns.TypeA, srv.AddrErr))
		}
	}
	stale := s.Stale()
	disagree := s.Disagreements()
	if len(stale)+len(disagree) > 0 {
		var ev []string
		for _, st := range stale {
			ev = append(ev, fmt.Sprintf("%s serves serial %d; the newest is %d", st.Where.String(), st.Serial, st.Newest))
		}
		for _, dis := range disagree {
			for _, v := range dis.Variants {
				var who []string
				for _, w := range v.Servers {
					who = append(who, w.String())
				}
				ev = append(ev, fmt.Sprintf("%s from %s: %s", dis.Question, strings.Join(who, ", "), nsSetText(v.Set)))
			}
		}
		title := finding.T("The name servers of %s serve different data", zone)
		if len(stale) > 0 {
			title = finding.T("%d name server address(es) of %s serve an older version of the zone", len(stale), zone)
		}
		f := finding.New("ns.inconsistent", subject, title, ev...)
		f.SetFix(finding.T("Check the zone transfers to the servers named (NOTIFY, the addresses allowed to transfer, the secondaries' logs) until every server serves the newest serial; if a serial was lowered, raise it above the highest one served"))
		out = append(out, f)
	}
	return out
}

// nsLameWhy says in what way a server is lame.
func nsLameWhy(r *nameserver.AddrReply, zone string) finding.Text {
	switch {
	case r.Referral != nil:
		return finding.T("it refers the question to %s instead of answering", strings.Join(mapTrimDot(r.Referral.NameServers), ", "))
	case r.Rcode != dns.RcodeSuccess:
		return finding.T("it answers %s", dns.RcodeToString[r.Rcode])
	case r.NotAA:
		return finding.T("its answer lacks the AA bit: it does not serve %s", trimDot(zone))
	}
	return finding.T("its answer holds no SOA record of %s", trimDot(zone))
}

// nsSetText writes one server's answer to one question for evidence.
func nsSetText(set nameserver.RecordSet) string {
	switch {
	case set.Referral != nil:
		return "a referral to " + trimDot(set.Referral.Zone)
	case set.Rcode == dns.RcodeNameError:
		return "NXDOMAIN"
	case len(set.Data) == 0:
		return "no record"
	}
	return strings.Join(set.Data, " | ")
}

func nsOK(d *facts.Domain, s *nameserver.Survey, subject string, asked bool) finding.Finding {
	zone := trimDot(s.Zone)
	names := s.Child.NameServers
	if len(names) == 0 {
		names = s.Parent.NameServers
	}
	ev := []string{strings.Join(mapTrimDot(names), ", ")}
	if !asked {
		f := finding.New("ns.ok", subject, finding.T("%s lists %d name servers; the servers themselves were not asked", zone, len(names)), ev...)
		locate(&f, &d.NS.Child, 0)
		return f
	}
	serial, _ := s.Newest()
	n := len(s.ByStatus(nameserver.Authoritative))
	return finding.New("ns.ok", subject, finding.T("%d name server address(es) of %s answer authoritatively with serial %d and the same mail records", n, zone, serial), ev...)
}
