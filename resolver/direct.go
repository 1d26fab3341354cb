package resolver

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// directTimeout bounds one question to one server when the caller's
// context has no deadline of its own.
const directTimeout = 2 * time.Second

// Reply is one server's whole reply to one question asked without
// recursion: what a name-server audit needs and a Resolver hides (the AA
// bit, the rcode as sent, the authority and additional sections).
type Reply struct {
	Server string // HOST:PORT asked
	Name   string // the question, fully qualified, lower case
	Qtype  uint16

	Rcode              int
	Authoritative      bool // AA
	RecursionAvailable bool // RA
	Answer             []dns.RR
	Authority          []dns.RR
	Additional         []dns.RR // OPT removed
	RTT                time.Duration
}

// Referral returns the delegation when the reply refers the question to
// other servers instead of answering it (see Referral).
func (r *Reply) Referral() *Delegation {
	return referralIn(&dns.Msg{MsgHdr: dns.MsgHdr{Rcode: r.Rcode, Authoritative: r.Authoritative},
		Answer: r.Answer, Ns: r.Authority})
}

// SOA returns the SOA record of the reply: the one in the answer section
// (a question for the SOA), else the one in the authority section (a
// negative answer, RFC 2308 §3).
func (r *Reply) SOA() (*dns.SOA, bool) {
	for _, sec := range [][]dns.RR{r.Answer, r.Authority} {
		for _, rr := range sec {
			if soa, ok := rr.(*dns.SOA); ok {
				return soa, true
			}
		}
	}
	return nil, false
}

// Records returns the answer's records of the question's type owned by
// the question name (or by the name a CNAME there leads to within the
// same answer), in answer order.
func (r *Reply) Records() []dns.RR {
	var out []dns.RR
	owner := r.Name
	for range maxCNAMEChain {
		next := ""
		for _, rr := range r.Answer {
			h := rr.Header()
			if !strings.EqualFold(h.Name, owner) {
				continue
			}
			switch {
			case h.Rrtype == r.Qtype:
				out = append(out, rr)
			case h.Rrtype == dns.TypeCNAME && r.Qtype != dns.TypeCNAME:
				next = canonical(rr.(*dns.CNAME).Target)
			}
		}
		if len(out) > 0 || next == "" {
			break
		}
		owner = next
	}
	return out
}

// AskServer asks server ("HOST:PORT") one question with recursion not
// desired (RD clear), as a resolver asks an authoritative server, over UDP
// and again over TCP when the reply is truncated (RFC 7766 §5). Every
// rcode is a reply; the error is only for no usable reply: a Timeout or
// Transport *Error.
func AskServer(ctx context.Context, server, name string, qtype uint16) (*Reply, error) {
	name = canonical(name)
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, directTimeout)
		defer cancel()
	}
	fail := func(err error) (*Reply, error) {
		return nil, &Error{Kind: errorKind(ctx, err), Name: name, Qtype: qtype, Server: server, Err: err}
	}
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.RecursionDesired = false
	q.SetEdns0(ednsBufferSize, false)

	udp := &dns.Client{Net: "udp", UDPSize: ednsBufferSize}
	resp, rtt, err := udp.ExchangeContext(ctx, q, server)
	if resp != nil && resp.Truncated {
		q.Id = dns.Id()
		tcp := &dns.Client{Net: "tcp"}
		resp, rtt, err = tcp.ExchangeContext(ctx, q, server)
	}
	if err != nil {
		return fail(err)
	}
	if len(resp.Question) != 1 || !strings.EqualFold(resp.Question[0].Name, name) || resp.Question[0].Qtype != qtype {
		// RFC 5452 §9.1: an answer to another question is not an answer.
		return fail(errors.New("the reply does not match the question"))
	}
	r := &Reply{
		Server: server, Name: name, Qtype: qtype,
		Rcode: resp.Rcode, Authoritative: resp.Authoritative, RecursionAvailable: resp.RecursionAvailable,
		Answer: resp.Answer, Authority: resp.Ns, RTT: rtt,
	}
	for _, rr := range resp.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			r.Additional = append(r.Additional, rr)
		}
	}
	return r, nil
}
