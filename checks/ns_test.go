package checks

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/nameserver"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// nsServer is a name server of a test survey: where it is listed, and
// each address's reply.
func nsServer(host string, parent, child bool, replies ...*nameserver.AddrReply) *nameserver.Server {
	srv := &nameserver.Server{Host: host + ".", InParent: parent, InChild: child, Replies: replies}
	for _, r := range replies {
		srv.Addrs = append(srv.Addrs, r.Addr)
	}
	return srv
}

func authoritative(addr string, serial uint32, mx string) *nameserver.AddrReply {
	q := nameserver.Question{Name: "example.com.", Qtype: dns.TypeMX}
	return &nameserver.AddrReply{Addr: netip.MustParseAddr(addr), Status: nameserver.Authoritative, Serial: serial,
		Records: []nameserver.RecordSet{{Question: q, Data: []string{mx}}}}
}

// survey builds the facts of a survey of example.com from its servers.
func survey(asked bool, servers ...*nameserver.Server) *facts.Domain {
	s := &nameserver.Survey{Domain: "example.com.", Zone: "example.com.",
		Questions: []nameserver.Question{{Name: "example.com.", Qtype: dns.TypeMX}}, Servers: servers}
	for _, srv := range servers {
		if srv.InParent {
			s.Parent.NameServers = append(s.Parent.NameServers, srv.Host)
		}
		if srv.InChild {
			s.Child.NameServers = append(s.Child.NameServers, srv.Host)
		}
	}
	return &facts.Domain{Name: "example.com", NS: facts.NS{Survey: s, Asked: asked}}
}

// The name-server judge, on surveys built by hand: each way a server can
// fail, and what the zone files alone can show.
func TestJudgeNS(t *testing.T) {
	timeout := &resolver.Error{Kind: resolver.Timeout, Name: "example.com.", Qtype: dns.TypeSOA}
	tests := []struct {
		name    string
		domain  *facts.Domain
		want    []want
		notWant []string
	}{
		{
			name: "two servers agree",
			domain: survey(true,
				nsServer("ns1.example.com", true, true, authoritative("192.0.2.1", 7, "10 mx.example.com.")),
				nsServer("ns2.example.net", true, true, authoritative("198.51.100.1", 7, "10 mx.example.com."))),
			want: []want{{"ns.ok", finding.Pass, "example.com NS"}},
		},
		{
			// RFC 1982: the older serial has not loaded the change.
			name: "a secondary serves an older serial and older records",
			domain: survey(true,
				nsServer("ns1.example.com", true, true, authoritative("192.0.2.1", 2026120102, "10 mx.example.com.")),
				nsServer("ns2.example.net", true, true, authoritative("198.51.100.1", 2026120101, "10 oldmx.example.com."))),
			want:    []want{{"ns.inconsistent", finding.Fail, "example.com NS"}},
			notWant: []string{"ns.ok"},
		},
		{
			name: "lame and unreachable servers beside a working one",
			domain: survey(true,
				nsServer("ns1.example.com", true, true, authoritative("192.0.2.1", 7, "10 mx.example.com.")),
				nsServer("ns2.example.com", true, true, &nameserver.AddrReply{Addr: netip.MustParseAddr("192.0.2.2"), Status: nameserver.Lame,
					Referral: &resolver.Delegation{Zone: "example.com.", NameServers: []string{"ns1.example.com."}}}),
				nsServer("ns3.example.com", true, true, &nameserver.AddrReply{Addr: netip.MustParseAddr("192.0.2.3"), Status: nameserver.Lame, Rcode: dns.RcodeRefused}),
				nsServer("ns4.example.com", true, true, &nameserver.AddrReply{Addr: netip.MustParseAddr("192.0.2.4"), Status: nameserver.Unreachable, Err: timeout})),
			want:    []want{{"ns.lame", finding.Fail, "example.com NS"}, {"ns.unreachable", finding.Warn, "example.com NS"}},
			notWant: []string{"ns.ok", "dns.lookup-failed"},
		},
		{
			// No server replied at all: this host's network is the likelier
			// cause, so nothing is said of the servers: not checked.
			name: "no server replies",
			domain: survey(true,
				nsServer("ns1.example.com", true, true, &nameserver.AddrReply{Addr: netip.MustParseAddr("192.0.2.1"), Status: nameserver.Unreachable, Err: timeout}),
				nsServer("ns2.example.com", true, true, &nameserver.AddrReply{Addr: netip.MustParseAddr("192.0.2.2"), Status: nameserver.Unreachable, Err: timeout})),
			want:    []want{{"dns.not-checked", finding.Info, "example.com NS"}},
			notWant: []string{"ns.unreachable", "ns.ok", "dns.lookup-failed"},
		},
		{
			name: "the parent and the zone list different servers",
			domain: survey(true,
				nsServer("ns1.example.com", true, true, authoritative("192.0.2.1", 7, "10 mx.example.com.")),
				nsServer("ns2.example.com", true, false, authoritative("192.0.2.2", 7, "10 mx.example.com.")),
				nsServer("ns3.example.com", false, true, authoritative("192.0.2.3", 7, "10 mx.example.com."))),
			want:    []want{{"ns.delegation-mismatch", finding.Warn, "example.com NS"}},
			notWant: []string{"ns.ok"},
		},
		{
			name:    "one name server",
			domain:  survey(true, nsServer("ns1.example.com", true, true, authoritative("192.0.2.1", 7, "10 mx.example.com."))),
			want:    []want{{"ns.single", finding.Warn, "example.com NS"}},
			notWant: []string{"ns.ok"},
		},
		{
			name:   "zone files: two servers listed",
			domain: survey(false, nsServer("ns1.example.com", false, true), nsServer("ns2.example.com", false, true)),
			want:   []want{{"ns.ok", finding.Pass, "example.com NS"}},
		},
		{
			name:    "zone files: one server listed",
			domain:  survey(false, nsServer("ns1.example.com", false, true)),
			want:    []want{{"ns.single", finding.Warn, "example.com NS"}},
			notWant: []string{"ns.ok"},
		},
		{
			name: "the zone cannot be found",
			domain: &facts.Domain{Name: "example.com", NS: facts.NS{Survey: &nameserver.Survey{Domain: "example.com.",
				ZoneErr: &resolver.Error{Kind: resolver.ServFail, Name: "example.com.", Qtype: dns.TypeSOA, Err: errors.New("x")}}}},
			want: []want{{"dns.lookup-failed", finding.Error, "example.com SOA"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.domain.NS.Asked && tt.domain.NS.Survey.ZoneErr == nil {
				tt.domain.NS.Survey.Parent.Err = errors.New("the parent zone is not among the zone files")
				tt.domain.NS.Survey.Parent.NameServers = nil
			}
			res := judgeNS(tt.domain)
			assertFindings(t, res.Findings, tt.want...)
			assertNoFindings(t, res.Findings, tt.notWant...)
		})
	}
}
