package resolver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// ednsBufferSize is the UDP payload size advertised to resolvers: 1232
// bytes fits any path without IP fragmentation (DNS Flag Day 2020); larger
// answers come back truncated and are asked again over TCP.
const ednsBufferSize = 1232

// LiveOptions tunes a Live resolver. The zero value is the default.
type LiveOptions struct {
	// ResolvConf is the file that names the system's resolvers, read when
	// no server is given. Default /etc/resolv.conf.
	ResolvConf string
	// AttemptTimeout caps one attempt at one server. Default 2s. Within
	// it, a UDP query is sent again whenever the server's retransmission
	// timeout passes without a reply (see udpMux.exchange).
	AttemptTimeout time.Duration
	// Rounds is how many times servers that timed out or failed in
	// transport are tried. Default 2 (one retry round).
	Rounds int
}

// Live asks recursive resolvers over the network.
type Live struct {
	servers []string // host:port
	opts    LiveOptions
	udp     map[string]*udpMux // by server
	tcp     *dns.Client
}

// minAttemptTimeout keeps an attempt long enough for a distant resolver
// to answer when many attempts share a short deadline.
const minAttemptTimeout = 250 * time.Millisecond

// NewLive returns a resolver that asks servers ("HOST:PORT", or "HOST" for
// port 53), or the resolvers named in /etc/resolv.conf when servers is
// empty.
func NewLive(servers []string, opts LiveOptions) (*Live, error) {
	if opts.ResolvConf == "" {
		opts.ResolvConf = "/etc/resolv.conf"
	}
	if opts.AttemptTimeout <= 0 {
		opts.AttemptTimeout = 2 * time.Second
	}
	if opts.Rounds <= 0 {
		opts.Rounds = 2
	}
	l := &Live{
		opts: opts,
		udp:  map[string]*udpMux{},
		tcp:  &dns.Client{Net: "tcp"},
	}
	for _, s := range servers {
		addr, err := serverAddr(s, "53")
		if err != nil {
			return nil, err
		}
		l.servers = append(l.servers, addr)
	}
	if len(l.servers) > 0 {
		return l.withMuxes(), nil
	}
	cfg, err := dns.ClientConfigFromFile(opts.ResolvConf)
	if err != nil {
		return nil, fmt.Errorf("no --resolver given and the system's resolvers are unknown: %w", err)
	}
	for _, s := range cfg.Servers {
		addr, err := serverAddr(s, cfg.Port)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", opts.ResolvConf, err)
		}
		l.servers = append(l.servers, addr)
	}
	if len(l.servers) == 0 {
		return nil, fmt.Errorf("no --resolver given and %s names no nameserver", opts.ResolvConf)
	}
	return l.withMuxes(), nil
}

// withMuxes makes the UDP transport of each server.
func (l *Live) withMuxes() *Live {
	for _, s := range l.servers {
		l.udp[s] = newUDPMux(s)
	}
	return l
}

// serverAddr turns "192.0.2.53", "192.0.2.53:5353", "2001:db8::53",
// "[2001:db8::53]:5353" or "dns.example[:port]" into HOST:PORT.
func serverAddr(s, defaultPort string) (string, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return "", fmt.Errorf("resolver %q: bad port 0", s)
		}
		return ap.String(), nil
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return net.JoinHostPort(a.String(), defaultPort), nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = s, defaultPort
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("resolver %q: bad port %q", s, port)
	}
	if !isHostName(host) {
		return "", fmt.Errorf("resolver %q: not an address or host name", s)
	}
	return net.JoinHostPort(host, port), nil
}

// isHostName accepts letters, digits, hyphens and dots (RFC 1123 §2.1).
func isHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// Servers returns the servers asked, in order.
func (l *Live) Servers() []string { return append([]string(nil), l.servers...) }

// Query implements Resolver. It asks each server in turn until one
// answers; servers that time out or fail in transport are asked once more
// in a retry round. A server's SERVFAIL or REFUSED is its answer for this
// question and is not asked again. Every attempt is bounded by ctx.
func (l *Live) Query(ctx context.Context, name string, qtype uint16) (*Answer, error) {
	name = canonical(name)
	var failures []*Error
	retry := l.servers
	for round := range l.opts.Rounds {
		servers := retry
		retry = nil
		for i, server := range servers {
			if err := ctx.Err(); err != nil {
				return nil, &Error{Kind: Timeout, Name: name, Qtype: qtype, Err: err}
			}
			left := len(servers) - i + (l.opts.Rounds-round-1)*len(servers)
			ans, fail := l.attempt(ctx, server, name, qtype, left)
			if fail == nil {
				return ans, nil
			}
			if err := ctx.Err(); err != nil {
				// The run's deadline passed or the caller gave up: no
				// server is to blame.
				return nil, &Error{Kind: Timeout, Name: name, Qtype: qtype, Server: server, Err: err}
			}
			failures = append(failures, fail)
			if fail.Kind == Timeout || fail.Kind == Transport {
				retry = append(retry, server)
			}
		}
		if len(retry) == 0 {
			break
		}
	}
	return nil, worstFailure(failures)
}

// worstFailure picks the error that says most: a server's SERVFAIL or
// REFUSED is an answer about the name, silence is not.
func worstFailure(failures []*Error) *Error {
	var pick *Error
	// A referral names where the data is: the most useful of all.
	rank := map[Kind]int{Referral: 5, ServFail: 4, Refused: 3, Timeout: 2, Transport: 1}
	for _, f := range failures {
		if pick == nil || rank[f.Kind] >= rank[pick.Kind] {
			pick = f
		}
	}
	return pick
}

// attempt asks one server once, over UDP and then over TCP when the UDP
// answer is truncated (RFC 7766 §5). left counts the attempts that may
// still follow, this one included, to share out the remaining time.
func (l *Live) attempt(ctx context.Context, server, name string, qtype uint16, left int) (*Answer, *Error) {
	fail := func(kind Kind, err error) (*Answer, *Error) {
		return nil, &Error{Kind: kind, Name: name, Qtype: qtype, Server: server, Err: err}
	}
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.RecursionDesired = true
	// RFC 6840 §5.7: AD in a query asks for the AD bit in the answer; DO
	// (RFC 3225) asks a validating resolver to validate and say so.
	q.AuthenticatedData = true
	q.SetEdns0(ednsBufferSize, true)

	resp, err := l.exchange(ctx, nil, q, server, left)
	if resp != nil && resp.Truncated {
		q.Id = dns.Id()
		resp, err = l.exchange(ctx, l.tcp, q, server, left)
	}
	if err != nil {
		return fail(errorKind(ctx, err), err)
	}
	switch resp.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
	case dns.RcodeServerFailure:
		return fail(ServFail, nil)
	default:
		return fail(Refused, fmt.Errorf("rcode %s", rcodeName(resp.Rcode)))
	}
	if len(resp.Question) != 1 || !strings.EqualFold(resp.Question[0].Name, name) ||
		resp.Question[0].Qtype != qtype || resp.Question[0].Qclass != dns.ClassINET {
		// RFC 5452 §9.1: an answer to another question is not an answer.
		return fail(Transport, errors.New("the reply does not match the question"))
	}
	if d := referralIn(resp); d != nil {
		return fail(Referral, d)
	}
	ans := &Answer{
		Name: name, Qtype: qtype, Rcode: resp.Rcode, RRs: resp.Answer,
		Authentic: resp.AuthenticatedData, Server: server,
	}
	if ownsCNAME(resp.Answer, name) {
		ans.Chased, ans.ChainRcode = chased(resp, name, qtype)
		if ans.Rcode == dns.RcodeNameError {
			// RFC 6604 §3: with a CNAME in the answer, the rcode speaks of
			// the last name of the chain. The name asked exists: it is the
			// alias.
			ans.Rcode = dns.RcodeSuccess
		}
	}
	return ans, nil
}

// referralIn returns the delegation when resp is a referral rather than an
// answer. RFC 2308 §2.2: a NODATA response has an SOA in the authority
// section, or no NS records there; NOERROR without AA, with an empty
// answer section, NS records and no SOA in the authority section is a
// referral to the servers those NS records name. A recursive resolver
// never sends one; a server that does not recurse (an authoritative server
// given as --resolver) does, and so does a lame server that refers upward.
func referralIn(resp *dns.Msg) *Delegation {
	if resp.Rcode != dns.RcodeSuccess || resp.Authoritative || len(resp.Answer) > 0 {
		return nil
	}
	var d *Delegation
	for _, rr := range resp.Ns {
		switch v := rr.(type) {
		case *dns.SOA:
			return nil
		case *dns.NS:
			if d == nil {
				d = &Delegation{Zone: canonical(v.Hdr.Name)}
			}
			if canonical(v.Hdr.Name) == d.Zone {
				d.NameServers = append(d.NameServers, canonical(v.Ns))
			}
		}
	}
	return d
}

// chased reports whether a response holding a CNAME chain from name also
// answers for the chain's last name (see Answer.Chased), and the response
// code for that name.
func chased(resp *dns.Msg, name string, qtype uint16) (bool, int) {
	last, _ := ChainEnd(resp.Answer, name)
	for _, rr := range resp.Answer {
		if rr.Header().Rrtype == qtype && strings.EqualFold(rr.Header().Name, last) {
			return true, resp.Rcode
		}
	}
	if resp.RecursionAvailable {
		return true, resp.Rcode
	}
	for _, rr := range resp.Ns {
		if soa, ok := rr.(*dns.SOA); ok && dns.IsSubDomain(strings.ToLower(soa.Hdr.Name), last) {
			return true, resp.Rcode
		}
	}
	return false, 0
}

// ChainEnd follows the CNAME chain from name within rrs and returns its
// last name (name itself when it owns no CNAME) and the targets on the way,
// lower case.
func ChainEnd(rrs []dns.RR, name string) (string, []string) {
	cur := strings.ToLower(dns.Fqdn(name))
	var chain []string
	for range maxCNAMEChain {
		next := ""
		for _, rr := range rrs {
			if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, cur) {
				next = strings.ToLower(c.Target)
				break
			}
		}
		if next == "" || next == cur || slices.Contains(chain, next) {
			break
		}
		chain = append(chain, next)
		cur = next
	}
	return cur, chain
}

func ownsCNAME(rrs []dns.RR, name string) bool {
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeCNAME && strings.EqualFold(rr.Header().Name, name) {
			return true
		}
	}
	return false
}

// exchange asks q with its share of the time left: the remaining time
// divided among the attempts left, capped at AttemptTimeout; over UDP (c
// nil) through the server's socket pool, which sends q again within that
// time when no reply comes, over TCP with c. A reply with TC set is
// returned even when it did not fully unpack, so that the caller retries
// over TCP.
func (l *Live) exchange(ctx context.Context, c *dns.Client, q *dns.Msg, server string, left int) (*dns.Msg, error) {
	timeout := l.opts.AttemptTimeout
	if d, ok := ctx.Deadline(); ok {
		remaining := time.Until(d)
		timeout = min(timeout, max(remaining/time.Duration(max(left, 1)), min(remaining, minAttemptTimeout)))
	}
	if c == nil {
		resp, err := l.udp[server].exchange(ctx.Done(), q, timeout)
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return resp, err
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		resp *dns.Msg
		err  error
	}
	// miekg bounds its reads by the deadline only; waiting here as well
	// lets a cancelled caller go at once.
	done := make(chan result, 1)
	go func() {
		resp, _, err := c.ExchangeContext(actx, q, server)
		done <- result{resp, err}
	}()
	select {
	case r := <-done:
		if r.err != nil && !(r.resp != nil && r.resp.Truncated) {
			return nil, r.err
		}
		return r.resp, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func errorKind(ctx context.Context, err error) Kind {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return Timeout
	case ctx.Err() != nil:
		return Timeout
	}
	return Transport
}

func rcodeName(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return strconv.Itoa(rc)
}
