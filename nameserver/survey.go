// Package nameserver gathers what each authoritative name server of a
// zone serves: the delegation the parent zone publishes, the NS RRset the
// zone itself publishes, and, asked of every server address directly and
// without recursion, whether it answers authoritatively, its SOA serial
// and the mail records (MX, SPF, DMARC, MTA-STS, TLS-RPT). It returns
// typed facts, not findings: judging them (lame, unreachable, stale,
// inconsistent, a single server) is the checks' business.
//
// A resolver hides all of this on purpose, picking one server and caching
// its answer; "are all my name servers serving the change?" needs every
// server asked on its own.
package nameserver

import (
	"cmp"
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/resolver"
)

// Status is what one server address did when asked for the zone's SOA.
type Status int

const (
	// Authoritative: NOERROR with AA and the zone's SOA (RFC 1034 §4.3.1).
	Authoritative Status = iota + 1
	// Lame: it answered, but not as an authoritative server of the zone:
	// REFUSED, SERVFAIL, NOTAUTH, a referral, or an answer without AA
	// (RFC 1912 §2.8; RFC 8499 "lame delegation").
	Lame
	// Unreachable: no reply (timeout, port closed, no route).
	Unreachable
)

func (s Status) String() string {
	switch s {
	case Authoritative:
		return "authoritative"
	case Lame:
		return "lame"
	case Unreachable:
		return "unreachable"
	}
	return "unknown"
}

// Question is one record set compared across servers.
type Question struct {
	Name  string // fully qualified, lower case
	Qtype uint16
	// Prefix, when set, keeps only TXT records that start with it (case
	// insensitively), so that the apex TXT RRset is compared for its SPF
	// record and not for unrelated verification tokens.
	Prefix string
}

func (q Question) String() string {
	s := strings.TrimSuffix(q.Name, ".") + " " + dns.TypeToString[q.Qtype]
	if q.Prefix != "" {
		s += " (" + q.Prefix + ")"
	}
	return s
}

// MailQuestions are the record sets a mail domain's servers must agree on:
// MX and SPF at the domain, DMARC (RFC 9989 §4.7), MTA-STS (RFC 8461
// §3.1) and TLS-RPT (RFC 8460 §3).
func MailQuestions(domain string) []Question {
	d := dns.Fqdn(strings.ToLower(domain))
	return []Question{
		{Name: d, Qtype: dns.TypeMX},
		{Name: d, Qtype: dns.TypeTXT, Prefix: "v=spf1"},
		{Name: "_dmarc." + d, Qtype: dns.TypeTXT},
		{Name: "_mta-sts." + d, Qtype: dns.TypeTXT},
		{Name: "_smtp._tls." + d, Qtype: dns.TypeTXT},
	}
}

// Options tune Gather. The zero value asks on port 53.
type Options struct {
	// Port is the port every server is asked on: 53, or Q of a --port-map
	// 53=Q (test rigs: several servers on loopback addresses, one port).
	Port int
	// Questions are compared across servers; default MailQuestions of the
	// domain.
	Questions []Question
	// QueryTimeout bounds one question to one server; default 2s, and
	// never past the context's deadline.
	QueryTimeout time.Duration
	// SkipIPv6 leaves IPv6 server addresses out (a machine without IPv6
	// connectivity would report them all unreachable).
	SkipIPv6 bool
}

// maxParentAttempts bounds the parent servers asked one after the other
// for the delegation: one answer suffices, and a TLD has a dozen servers
// that an unreachable network would otherwise time out on in turn.
const maxParentAttempts = 4

// maxInFlight bounds the direct questions in flight: a zone with many
// servers and addresses must not flood the network from one audit. Four
// servers with an IPv4 and an IPv6 address each, asked the SOA and five
// questions, fit in two waves.
const maxInFlight = 32

// Survey is what Gather found.
type Survey struct {
	Domain string // the domain audited, fully qualified
	Zone   string // the zone apex that holds it, fully qualified
	// ZoneErr is set when the apex could not be found: nothing else is.
	ZoneErr error

	// Parent is the delegation as the parent zone's servers publish it.
	Parent Delegation
	// Child is the NS RRset at the apex, as the resolver gives it (the
	// zone's own servers' view).
	Child Delegation

	// Servers is every name server named by the parent or the child,
	// sorted by name.
	Servers   []*Server
	Questions []Question
}

// Delegation is one side's list of name servers.
type Delegation struct {
	NameServers []string // fully qualified, lower case, sorted
	// From names who said so: the parent server that answered, or the
	// resolver.
	From string
	// Glue holds the addresses the parent gave for its name servers.
	Glue map[string][]netip.Addr
	// Err is set when the list could not be had; NameServers is then
	// empty and says nothing.
	Err error
}

// Server is one name server host.
type Server struct {
	Host              string // fully qualified, lower case
	InParent, InChild bool
	// Addrs are its addresses: the parent's glue, else the resolver's
	// A/AAAA answer.
	Addrs   []netip.Addr
	AddrErr error // the address lookup failed (Addrs may be partial)
	Replies []*AddrReply
}

// AddrReply is what one address of a server answered.
type AddrReply struct {
	Addr   netip.Addr
	Status Status
	// Rcode, Referral and NotAA say why a Lame server is lame.
	Rcode    int
	Referral *resolver.Delegation
	NotAA    bool
	// Serial is the zone's SOA serial, for an Authoritative server.
	Serial uint32
	// Records holds, for an Authoritative server, what it serves for each
	// Question (same order as Survey.Questions).
	Records []RecordSet
	RTT     time.Duration
	Err     error // why it is Unreachable
}

// RecordSet is one server's answer to one Question.
type RecordSet struct {
	Question Question
	// Rcode is NOERROR or NXDOMAIN for an authoritative answer.
	Rcode int
	// Data are the records' data in presentation form, TXT decoded to
	// its bytes, sorted: two servers agree when their Data are equal.
	Data []string
	// Referral is set when the server refers the name to a child zone
	// (_dmarc delegated elsewhere): the set is not this zone's to serve.
	Referral *resolver.Delegation
	// Err is set when the server gave no usable answer for this name:
	// timeout, or a rcode other than NOERROR and NXDOMAIN.
	Err error
}

// Key is a comparable summary of the set: equal keys, same data.
func (r RecordSet) Key() string {
	switch {
	case r.Err != nil:
		return "error"
	case r.Referral != nil:
		return "referral:" + r.Referral.Zone
	case r.Rcode == dns.RcodeNameError:
		return "NXDOMAIN"
	}
	return strings.Join(r.Data, "\n")
}

// Gather surveys the zone that holds domain. r is the resolver used to
// find the zone, its parent's servers and the servers' addresses; the
// servers themselves are asked directly on opts.Port. Failures are kept in
// the facts; Gather returns when every question has an answer or the
// context ends.
//
// The survey is one more chain of round trips beside everything else an
// audit asks, so it is kept as short as the data allows: three round trips
// in the common case where the domain is its zone's apex. The questions
// the next steps are likely to need (the SOA and NS at the domain and at
// its parent) are sent at once; with a caching resolver (resolver.Cache,
// as the audit uses) the steps that follow join them instead of waiting
// one after the other. Each server is asked as soon as its addresses are
// known, and for the SOA and every question at once.
func Gather(ctx context.Context, r resolver.Resolver, domain string, opts Options) *Survey {
	if opts.Port == 0 {
		opts.Port = 53
	}
	if opts.QueryTimeout <= 0 {
		opts.QueryTimeout = 2 * time.Second
	}
	g := &gatherer{r: r, opts: opts, sem: make(chan struct{}, maxInFlight), started: map[string]*Server{}}
	s := &Survey{Domain: dns.Fqdn(strings.ToLower(domain))}
	s.Questions = opts.Questions
	if s.Questions == nil {
		s.Questions = MailQuestions(domain)
	}

	var warm sync.WaitGroup
	for _, name := range []string{s.Domain, parent(s.Domain)} {
		for _, qtype := range []uint16{dns.TypeSOA, dns.TypeNS} {
			warm.Go(func() { _, _ = r.Query(ctx, name, qtype) })
		}
	}
	defer warm.Wait()

	s.Zone, s.ZoneErr = g.zoneOf(ctx, s.Domain)
	if s.ZoneErr != nil {
		return s
	}

	// The zone's own servers are asked as soon as the NS RRset is known;
	// the parent's delegation arrives later, and the servers only it names
	// are asked then.
	var wg sync.WaitGroup
	wg.Go(func() {
		s.Child = g.childNS(ctx, s.Zone)
		for _, h := range s.Child.NameServers {
			g.survey(ctx, &wg, s, h, nil)
		}
	})
	wg.Go(func() {
		s.Parent = g.parentNS(ctx, s.Zone)
		for _, h := range s.Parent.NameServers {
			g.survey(ctx, &wg, s, h, s.Parent.Glue[h])
		}
	})
	wg.Wait()

	for _, h := range s.Parent.NameServers {
		g.started[h].InParent = true
	}
	for _, h := range s.Child.NameServers {
		g.started[h].InChild = true
	}
	for _, srv := range g.started {
		s.Servers = append(s.Servers, srv)
	}
	slices.SortFunc(s.Servers, func(a, b *Server) int { return cmp.Compare(a.Host, b.Host) })
	return s
}

// survey starts surveying host once, whichever side names it first.
func (g *gatherer) survey(ctx context.Context, wg *sync.WaitGroup, s *Survey, host string, glue []netip.Addr) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.started[host] != nil {
		return
	}
	srv := &Server{Host: host}
	g.started[host] = srv
	wg.Go(func() { g.surveyServer(ctx, s, srv, glue) })
}

type gatherer struct {
	r    resolver.Resolver
	opts Options
	sem  chan struct{}

	mu      sync.Mutex
	started map[string]*Server // by host: each server is surveyed once
	asked   map[netip.Addr]*addrOnce
}

// addrOnce is the survey of one address, shared by every server name at
// that address: a server with two names is asked once.
type addrOnce struct {
	once  sync.Once
	reply *AddrReply
}

// replyOf surveys address a once, whichever server asks first.
func (g *gatherer) replyOf(ctx context.Context, s *Survey, a netip.Addr) *AddrReply {
	g.mu.Lock()
	if g.asked == nil {
		g.asked = map[netip.Addr]*addrOnce{}
	}
	o := g.asked[a]
	if o == nil {
		o = &addrOnce{}
		g.asked[a] = o
	}
	g.mu.Unlock()
	o.once.Do(func() { o.reply = g.surveyAddr(ctx, s, a) })
	return o.reply
}

// zoneOf finds the apex of the zone holding name: the closest enclosing
// name that has an SOA record (RFC 1034 §4.2: a zone starts at the node
// holding its SOA). A referral on the way names the child zone directly.
func (g *gatherer) zoneOf(ctx context.Context, name string) (string, error) {
	for cur := name; ; {
		ans, err := g.r.Query(ctx, cur, dns.TypeSOA)
		if d, ok := resolver.IsReferral(err); ok && d.Zone != "" && dns.IsSubDomain(d.Zone, name) {
			// A server that does not recurse: the delegated zone is the
			// one we look for, or holds it.
			return d.Zone, nil
		}
		if err != nil {
			return "", err
		}
		for _, rr := range ans.RRs {
			if rr.Header().Rrtype == dns.TypeSOA && strings.EqualFold(rr.Header().Name, cur) {
				return cur, nil
			}
		}
		if cur == "." {
			return "", &resolver.Error{Kind: resolver.ServFail, Name: name, Qtype: dns.TypeSOA,
				Err: errors.New("no zone apex above the name")}
		}
		cur = parent(cur)
	}
}

// childNS is the zone's NS RRset as the resolver gives it.
func (g *gatherer) childNS(ctx context.Context, zone string) Delegation {
	d := Delegation{From: "resolver"}
	ans, err := g.r.Query(ctx, zone, dns.TypeNS)
	if err != nil {
		d.Err = err
		return d
	}
	if ans.Server != "" {
		d.From = ans.Server
	}
	for _, rr := range ans.RRs {
		if ns, ok := rr.(*dns.NS); ok && strings.EqualFold(ns.Hdr.Name, zone) {
			d.NameServers = append(d.NameServers, canonical(ns.Ns))
		}
	}
	slices.Sort(d.NameServers)
	d.NameServers = slices.Compact(d.NameServers)
	return d
}

// parentNS asks the parent zone's servers, directly, for the zone's NS
// records: they answer with a referral holding the delegation and its
// glue (RFC 1034 §4.3.2 step 3b), or authoritatively when they serve the
// child zone as well. The first server that answers is believed.
func (g *gatherer) parentNS(ctx context.Context, zone string) Delegation {
	d := Delegation{}
	if zone == "." {
		d.Err = errors.New("the root zone has no parent")
		return d
	}
	parentZone, err := g.zoneOf(ctx, parent(zone))
	if err != nil {
		d.Err = err
		return d
	}
	pd := g.childNS(ctx, parentZone)
	if pd.Err != nil {
		d.Err = pd.Err
		return d
	}
	var lastErr error = errors.New("the parent zone lists no name server")
	attempts := 0
	for _, host := range pd.NameServers {
		addrs, _ := resolver.Addrs(ctx, g.r, host)
		for _, a := range g.usable(addrs) {
			if attempts == maxParentAttempts {
				d.Err = lastErr
				return d
			}
			attempts++
			reply, err := g.ask(ctx, a, zone, dns.TypeNS)
			if err != nil {
				lastErr = err
				continue
			}
			var nsSection []dns.RR
			switch {
			case reply.Rcode == dns.RcodeSuccess && reply.Referral() != nil:
				nsSection = reply.Authority
			case reply.Rcode == dns.RcodeSuccess && reply.Authoritative:
				nsSection = reply.Answer
			default:
				lastErr = &resolver.Error{Kind: resolver.Refused, Name: zone, Qtype: dns.TypeNS, Server: reply.Server,
					Err: errors.New("the parent's server gave no delegation (rcode " + dns.RcodeToString[reply.Rcode] + ")")}
				continue
			}
			d.From = reply.Server
			d.Glue = map[string][]netip.Addr{}
			for _, rr := range nsSection {
				if ns, ok := rr.(*dns.NS); ok && strings.EqualFold(ns.Hdr.Name, zone) {
					d.NameServers = append(d.NameServers, canonical(ns.Ns))
				}
			}
			for _, rr := range reply.Additional {
				if a, ok := addrOf(rr); ok {
					h := canonical(rr.Header().Name)
					d.Glue[h] = append(d.Glue[h], a)
				}
			}
			slices.Sort(d.NameServers)
			d.NameServers = slices.Compact(d.NameServers)
			return d
		}
	}
	d.Err = lastErr
	return d
}

// surveyServer finds srv's addresses (the parent's glue when it gave
// some) and asks each of them everything.
func (g *gatherer) surveyServer(ctx context.Context, s *Survey, srv *Server, glue []netip.Addr) {
	if len(glue) > 0 {
		srv.Addrs = slices.Clone(glue)
	} else {
		srv.Addrs, srv.AddrErr = resolver.Addrs(ctx, g.r, srv.Host)
	}
	addrs := g.usable(srv.Addrs)
	srv.Replies = make([]*AddrReply, len(addrs))
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Go(func() { srv.Replies[i] = g.replyOf(ctx, s, a) })
	}
	wg.Wait()
}

// surveyAddr asks one address for the zone's SOA and, at the same time,
// each question; the answers to the questions are kept only when the SOA
// shows the server authoritative for the zone.
func (g *gatherer) surveyAddr(ctx context.Context, s *Survey, a netip.Addr) *AddrReply {
	out := &AddrReply{Addr: a}
	records := make([]RecordSet, len(s.Questions))
	var wg sync.WaitGroup
	for i, q := range s.Questions {
		wg.Go(func() { records[i] = g.recordSet(ctx, a, q) })
	}
	defer wg.Wait()
	reply, err := g.ask(ctx, a, s.Zone, dns.TypeSOA)
	if err != nil {
		out.Status, out.Err = Unreachable, err
		return out
	}
	out.RTT, out.Rcode = reply.RTT, reply.Rcode
	soa := soaAt(reply.Records(), s.Zone)
	switch {
	case reply.Rcode != dns.RcodeSuccess:
		out.Status = Lame
		return out
	case !reply.Authoritative:
		out.Status = Lame
		out.Referral = reply.Referral()
		out.NotAA = out.Referral == nil
		return out
	case soa == nil:
		// AA but no SOA at the apex: it serves another zone (a parent
		// or a child) and not this one.
		out.Status = Lame
		return out
	}
	out.Status, out.Serial = Authoritative, soa.Serial
	wg.Wait()
	out.Records = records
	return out
}

func soaAt(rrs []dns.RR, zone string) *dns.SOA {
	for _, rr := range rrs {
		if soa, ok := rr.(*dns.SOA); ok && strings.EqualFold(soa.Hdr.Name, zone) {
			return soa
		}
	}
	return nil
}

// recordSet asks one address one question and keeps what it serves.
func (g *gatherer) recordSet(ctx context.Context, a netip.Addr, q Question) RecordSet {
	rs := RecordSet{Question: q}
	reply, err := g.ask(ctx, a, q.Name, q.Qtype)
	if err != nil {
		rs.Err = err
		return rs
	}
	rs.Rcode = reply.Rcode
	switch {
	case reply.Rcode == dns.RcodeSuccess && reply.Referral() != nil:
		rs.Referral = reply.Referral()
		return rs
	case reply.Rcode != dns.RcodeSuccess && reply.Rcode != dns.RcodeNameError:
		rs.Err = &resolver.Error{Kind: resolver.Refused, Name: q.Name, Qtype: q.Qtype, Server: reply.Server,
			Err: errors.New("rcode " + dns.RcodeToString[reply.Rcode])}
		return rs
	}
	for _, rr := range reply.Answer {
		h := rr.Header()
		if !strings.EqualFold(h.Name, q.Name) {
			continue
		}
		switch {
		case h.Rrtype == dns.TypeCNAME && q.Qtype != dns.TypeCNAME:
			rs.Data = append(rs.Data, "CNAME "+canonical(rr.(*dns.CNAME).Target))
		case h.Rrtype == q.Qtype:
			data := rdata(rr)
			if q.Prefix != "" && !hasPrefixFold(data, q.Prefix) {
				continue
			}
			rs.Data = append(rs.Data, data)
		}
	}
	slices.Sort(rs.Data)
	return rs
}

// rdata is a record's data in presentation form, TXT decoded to its bytes
// (so that two servers' answers compare as receivers read them).
func rdata(rr dns.RR) string {
	if s, ok := resolver.TXTData(rr); ok {
		return s
	}
	h := *rr.Header()
	c := dns.Copy(rr)
	*c.Header() = dns.RR_Header{Name: h.Name, Rrtype: h.Rrtype, Class: h.Class}
	full := c.String()
	// The header is "NAME\t0\tCLASS\tTYPE\t": drop it, keep the data.
	if i := strings.LastIndex(full, "\t"+dns.TypeToString[h.Rrtype]+"\t"); i >= 0 {
		return strings.ToLower(full[i+len(dns.TypeToString[h.Rrtype])+2:])
	}
	return full
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// ask puts one question to one address, within the query timeout and the
// bound on questions in flight.
func (g *gatherer) ask(ctx context.Context, a netip.Addr, name string, qtype uint16) (*resolver.Reply, error) {
	select {
	case g.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, &resolver.Error{Kind: resolver.Timeout, Name: name, Qtype: qtype, Err: ctx.Err()}
	}
	defer func() { <-g.sem }()
	qctx, cancel := context.WithTimeout(ctx, g.opts.QueryTimeout)
	defer cancel()
	server := net.JoinHostPort(a.String(), strconv.Itoa(g.opts.Port))
	return resolver.AskServer(qctx, server, name, qtype)
}

func (g *gatherer) usable(addrs []netip.Addr) []netip.Addr {
	if !g.opts.SkipIPv6 {
		return addrs
	}
	var out []netip.Addr
	for _, a := range addrs {
		if a.Unmap().Is4() {
			out = append(out, a)
		}
	}
	return out
}

func addrOf(rr dns.RR) (netip.Addr, bool) {
	switch v := rr.(type) {
	case *dns.A:
		return netip.AddrFromSlice(v.A.To4())
	case *dns.AAAA:
		return netip.AddrFromSlice(v.AAAA.To16())
	}
	return netip.Addr{}, false
}

func canonical(name string) string { return strings.ToLower(dns.Fqdn(name)) }

// parent returns the name one label up; the root's parent is the root.
func parent(name string) string {
	idx := dns.Split(name)
	if len(idx) < 2 {
		return "."
	}
	return name[idx[1]:]
}
