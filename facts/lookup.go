package facts

import (
	"context"
	"net/netip"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// Status says how one lookup ended.
type Status int

const (
	Answered   Status = iota // records of the type asked
	NoData                   // the name exists, with no record of that type
	NXDomain                 // the name does not exist
	Failed                   // no answer: timeout, SERVFAIL, referral ... inconclusive
	NotChecked               // outside every --zone and no --resolver: not asked
)

var statusNames = [...]string{"answered", "nodata", "nxdomain", "failed", "not-checked"}

func (s Status) String() string {
	if s < Answered || s > NotChecked {
		return "unknown"
	}
	return statusNames[s]
}

// Lookup is one DNS question, CNAMEs followed as a receiving MTA's
// resolver would, and how it ended. Checks read records from it and never
// ask again.
type Lookup struct {
	Name  string // the name asked: fully qualified, lower case
	Qtype uint16
	// Answer is the final answer (after CNAMEs); nil when Err is set.
	Answer *resolver.Answer
	// Chain lists the CNAME targets followed, in order.
	Chain []string
	// Err is set when the lookup produced no answer (a *resolver.Error).
	Err error
}

// ask makes one lookup, CNAMEs followed.
func ask(ctx context.Context, r resolver.Resolver, name string, qtype uint16) Lookup {
	name = dns.Fqdn(strings.ToLower(name))
	ans, chain, err := resolver.Follow(ctx, r, name, qtype)
	return Lookup{Name: name, Qtype: qtype, Answer: ans, Chain: chain, Err: err}
}

// askExact makes one lookup without following a CNAME: the answer is what
// the name itself holds.
func askExact(ctx context.Context, r resolver.Resolver, name string, qtype uint16) Lookup {
	name = dns.Fqdn(strings.ToLower(name))
	ans, err := r.Query(ctx, name, qtype)
	return Lookup{Name: name, Qtype: qtype, Answer: ans, Err: err}
}

// Status classifies the lookup.
func (l *Lookup) Status() Status {
	switch {
	case l.Err != nil && resolver.IsOutOfZone(l.Err):
		return NotChecked
	case l.Err != nil || l.Answer == nil:
		return Failed
	case l.Answer.NXDomain():
		return NXDomain
	case len(l.Answer.RRs) == 0:
		return NoData
	}
	return Answered
}

// OK reports whether the lookup produced an answer (records, NODATA or
// NXDOMAIN).
func (l *Lookup) OK() bool { return l.Err == nil && l.Answer != nil }

// RRs returns the answer's records (none when the lookup failed).
func (l *Lookup) RRs() []dns.RR {
	if l.Answer == nil {
		return nil
	}
	return l.Answer.RRs
}

// Location is where record i of the answer was read (a zone file and
// line), or nil for live DNS.
func (l *Lookup) Location(i int) *finding.Location {
	if l.Answer == nil || i < 0 || i >= len(l.Answer.Origins) || l.Answer.Origins[i].File == "" {
		return nil
	}
	o := l.Answer.Origins[i]
	return &finding.Location{File: o.File, Line: o.Line}
}

// TXT is the text of one TXT record and its index in the answer.
type TXT struct {
	Text  string
	Index int
}

// TXTs returns every TXT record of the answer, in answer order.
func (l *Lookup) TXTs() []TXT {
	var out []TXT
	for i, rr := range l.RRs() {
		if t, ok := rr.(*dns.TXT); ok {
			out = append(out, TXT{Text: resolver.JoinCharacterStrings(t.Txt), Index: i})
		}
	}
	return out
}

// Addrs are the addresses of one host name, CNAMEs followed, each family
// asked on its own: a failure of one family says nothing of the other.
type Addrs struct {
	A, AAAA Lookup
}

// askAddrs looks up the A and AAAA records of host at once.
func askAddrs(ctx context.Context, r resolver.Resolver, host string) Addrs {
	var a Addrs
	var wg sync.WaitGroup
	wg.Go(func() { a.A = ask(ctx, r, host, dns.TypeA) })
	wg.Go(func() { a.AAAA = ask(ctx, r, host, dns.TypeAAAA) })
	wg.Wait()
	return a
}

// V4 and V6 return the addresses found.
func (a *Addrs) V4() []netip.Addr { return addrsOf(&a.A) }
func (a *Addrs) V6() []netip.Addr { return addrsOf(&a.AAAA) }

// All returns every address, IPv4 first.
func (a *Addrs) All() []netip.Addr { return append(a.V4(), a.V6()...) }

// Err returns the first failed lookup's error, nil when both answered.
func (a *Addrs) Err() error {
	if a.A.Err != nil {
		return a.A.Err
	}
	return a.AAAA.Err
}

func addrsOf(l *Lookup) []netip.Addr { return resolver.AddrsIn(l.RRs()) }

// trimDot drops the trailing dot of a fully qualified name.
func trimDot(name string) string {
	if len(name) > 1 && name[len(name)-1] == '.' {
		return name[:len(name)-1]
	}
	return name
}
