// Package resolvertest provides a map-backed resolver for unit tests.
package resolvertest

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/resolver"
)

// Fake answers from records added with Add. A name with no record of any
// type is NXDOMAIN unless some added name lies below it (an empty
// non-terminal, which is NODATA). Fail makes a name/type return an error.
type Fake struct {
	mu      sync.Mutex
	records map[string][]dns.RR // by lower-case FQDN
	fails   map[string]resolver.Kind
	queries atomic.Int64
}

func key(name string, qtype uint16) string {
	return strings.ToLower(dns.Fqdn(name)) + "/" + dns.TypeToString[qtype]
}

// New returns a Fake holding the records, in zone-file presentation form
// ("example.com. 300 IN TXT \"v=spf1 -all\""). It panics on a bad record:
// fixtures in tests are programmer input.
func New(records ...string) *Fake {
	f := &Fake{records: map[string][]dns.RR{}, fails: map[string]resolver.Kind{}}
	f.Add(records...)
	return f
}

// Add adds records in presentation form.
func (f *Fake) Add(records ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range records {
		rr, err := dns.NewRR(s)
		if err != nil {
			panic("resolvertest: " + err.Error())
		}
		if rr == nil {
			continue
		}
		name := strings.ToLower(rr.Header().Name)
		f.records[name] = append(f.records[name], rr)
	}
}

// Fail makes every query for name/qtype fail with kind.
func (f *Fake) Fail(name string, qtype uint16, kind resolver.Kind) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fails[key(name, qtype)] = kind
}

// Queries counts the queries answered so far (for cache tests).
func (f *Fake) Queries() int64 { return f.queries.Load() }

// Query implements resolver.Resolver.
func (f *Fake) Query(ctx context.Context, name string, qtype uint16) (*resolver.Answer, error) {
	f.queries.Add(1)
	if err := ctx.Err(); err != nil {
		return nil, &resolver.Error{Kind: resolver.Timeout, Name: name, Qtype: qtype, Err: err}
	}
	name = strings.ToLower(dns.Fqdn(name))
	f.mu.Lock()
	defer f.mu.Unlock()
	if kind, ok := f.fails[key(name, qtype)]; ok {
		return nil, &resolver.Error{Kind: kind, Name: name, Qtype: qtype, Server: "fake"}
	}
	ans := &resolver.Answer{Name: name, Qtype: qtype, Server: "fake"}
	rrs, exists := f.records[name]
	for _, rr := range rrs {
		t := rr.Header().Rrtype
		if t == qtype || (t == dns.TypeCNAME && qtype != dns.TypeCNAME) {
			ans.RRs = append(ans.RRs, dns.Copy(rr))
		}
	}
	if !exists {
		exists = f.hasDescendant(name)
	}
	if !exists {
		ans.Rcode = dns.RcodeNameError
	}
	return ans, nil
}

func (f *Fake) hasDescendant(name string) bool {
	for n := range f.records {
		if strings.HasSuffix(n, "."+name) {
			return true
		}
	}
	return false
}
