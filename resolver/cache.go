package resolver

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Cache remembers answers and joins identical queries already in flight.
// It holds no lock while a query is upstream: independent queries proceed
// in parallel. It comes in two kinds:
//
//   - NewCache: the run's cache, shared by every target of a run. It is
//     bounded (CacheOptions.MaxEntries) and scan-resistant (2Q): the names
//     many domains share — a hosting provider's MX hosts, a mail provider's
//     SPF includes and their reverse DNS — stay, while the names of one
//     domain pass through without pushing them out. Answers are kept for
//     their TTL, failures briefly (RFC 9520), and an expired answer whose
//     refresh fails is served stale (RFC 8767).
//   - NewView: one target's view, in front of the run's cache: every answer
//     is kept as first seen for the life of the view, so that one audit
//     judges one consistent picture of DNS (the MX check and the PTR check
//     see the same addresses); it is dropped with the target.
type Cache struct {
	next  Resolver
	store store
	opts  CacheOptions

	// inline: queries run in the caller's goroutine (a view).
	inline bool

	mu       sync.Mutex
	inflight map[cacheKey]*flight
	queries  int
	hits     int
}

// CacheOptions tune the run's cache; the zero value is the default.
type CacheOptions struct {
	// MaxEntries bounds the answers kept (default 16384: about 16 MiB of
	// answers, a few seconds of a bulk run's distinct questions plus the
	// names its domains share).
	MaxEntries int
	// MaxTTL caps how long an answer is kept, whatever its TTL (default
	// one hour); NegativeTTL is how long NXDOMAIN and NODATA are kept
	// (default one minute: the answer carries no SOA to read it from).
	MaxTTL, NegativeTTL time.Duration
	// FailureTTL is how long a failed lookup (timeout, SERVFAIL, REFUSED)
	// is remembered, so that the domains asking at once see one failure
	// instead of each asking a failing server again (RFC 9520 has
	// resolvers cache resolution failures briefly), while later domains
	// ask again (default 5 s).
	FailureTTL time.Duration
	// StaleTTL is how long after its expiry an answer may still be served
	// when refreshing it fails (default one hour; RFC 8767 §5 suggests one
	// to three days for a resolver, a run is shorter); StaleRecheck is
	// how long a stale answer is served before a refresh is tried again
	// (default 30 s, RFC 8767 §5's failure recheck timer).
	StaleTTL, StaleRecheck time.Duration
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

func (o *CacheOptions) defaults() {
	if o.MaxEntries <= 0 {
		o.MaxEntries = 16384
	}
	if o.MaxTTL <= 0 {
		o.MaxTTL = time.Hour
	}
	if o.NegativeTTL <= 0 {
		o.NegativeTTL = time.Minute
	}
	if o.FailureTTL <= 0 {
		o.FailureTTL = 5 * time.Second
	}
	if o.StaleTTL <= 0 {
		o.StaleTTL = time.Hour
	}
	if o.StaleRecheck <= 0 {
		o.StaleRecheck = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

type cacheKey struct {
	name  string
	qtype uint16
}

type cacheResult struct {
	ans *Answer
	err error
}

// cacheEntry is a result and how long it holds; zero times never expire (a
// view's entries).
type cacheEntry struct {
	res        cacheResult
	expires    time.Time
	staleUntil time.Time
}

func (e *cacheEntry) fresh(now time.Time) bool { return e.expires.IsZero() || now.Before(e.expires) }

// store keeps entries: a map for a view, a bounded 2Q for the run.
type store interface {
	get(cacheKey) (*cacheEntry, bool)
	add(cacheKey, *cacheEntry)
	len() int
}

type mapStore map[cacheKey]*cacheEntry

func (m mapStore) get(k cacheKey) (*cacheEntry, bool) { e, ok := m[k]; return e, ok }
func (m mapStore) add(k cacheKey, e *cacheEntry)      { m[k] = e }
func (m mapStore) len() int                           { return len(m) }

type lruStore struct {
	c *lru.TwoQueueCache[cacheKey, *cacheEntry]
}

func (s lruStore) get(k cacheKey) (*cacheEntry, bool) { return s.c.Get(k) }
func (s lruStore) add(k cacheKey, e *cacheEntry)      { s.c.Add(k, e) }
func (s lruStore) len() int                           { return s.c.Len() }

// flight is one upstream query that callers wait on. It runs under its own
// context so that one caller giving up does not fail the others; it is
// cancelled only when every caller waiting on it has gone.
type flight struct {
	done      chan struct{}
	res       cacheResult
	waiters   int
	abandoned bool
	// expired is set when the flight ended because its own deadline (the
	// first caller's) passed: a caller with time left asks again.
	expired bool
	cancel  context.CancelFunc
}

// NewCache returns the run's cache in front of next, with the default
// options.
func NewCache(next Resolver) *Cache { return NewCacheWith(next, CacheOptions{}) }

// NewCacheWith returns the run's cache in front of next.
func NewCacheWith(next Resolver, opts CacheOptions) *Cache {
	opts.defaults()
	c, err := lru.New2Q[cacheKey, *cacheEntry](opts.MaxEntries)
	if err != nil {
		panic(err) // only for a size below 1, which defaults() rules out
	}
	return &Cache{next: next, store: lruStore{c}, opts: opts, inflight: map[cacheKey]*flight{}}
}

// NewView returns one target's view in front of next (the run's cache):
// each question is asked of next once for the life of the view and its
// answer kept as is, however long.
func NewView(next Resolver) *Cache {
	return &Cache{next: next, store: mapStore{}, inline: true, inflight: map[cacheKey]*flight{}}
}

// Stats returns how many queries the cache was asked and how many of them
// it answered without a new upstream query (from the cache, or by joining
// one in flight).
func (c *Cache) Stats() (queries, hits int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queries, c.hits
}

// Len returns how many answers the cache holds.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.store.len()
}

// Query implements Resolver.
func (c *Cache) Query(ctx context.Context, name string, qtype uint16) (*Answer, error) {
	r, err := c.query(ctx, cacheKey{canonical(name), qtype})
	if err != nil {
		return nil, err
	}
	return r.copy()
}

// query returns the cache's own result, not a copy: a view keeps what the
// run's cache returns as its own entry and hands out copies of that.
func (c *Cache) query(ctx context.Context, key cacheKey) (cacheResult, error) {
	c.mu.Lock()
	c.queries++
	for {
		var stale *cacheEntry
		if e, ok := c.store.get(key); ok {
			now := c.now()
			if e.fresh(now) {
				c.hits++
				c.mu.Unlock()
				return e.res, nil
			}
			if e.res.err == nil && now.Before(e.staleUntil) {
				stale = e
			}
		}
		f := c.inflight[key]
		switch {
		case f != nil && !f.abandoned:
			c.hits++
		case c.inline:
			// A view asks in the caller's goroutine and under its context:
			// the callers of one domain share its deadline, and one more
			// goroutine per lookup of every domain in flight is memory.
			f = &flight{done: make(chan struct{}), cancel: func() {}}
			c.inflight[key] = f
			c.mu.Unlock()
			c.fly(ctx, key, f, stale)
			return f.res, nil
		default:
			f = c.start(ctx, key, stale)
		}
		f.waiters++
		c.mu.Unlock()

		select {
		case <-f.done:
			if f.expired && ctx.Err() == nil {
				// The flight ran out of another caller's time; this one has
				// its own left.
				c.mu.Lock()
				continue
			}
			return f.res, nil
		case <-ctx.Done():
			c.mu.Lock()
			f.waiters--
			if f.waiters == 0 {
				f.abandoned = true
				f.cancel()
			}
			c.mu.Unlock()
			return cacheResult{}, &Error{Kind: Timeout, Name: key.name, Qtype: key.qtype, Err: ctx.Err()}
		}
	}
}

func (c *Cache) now() time.Time {
	if c.opts.Now == nil {
		return time.Time{}
	}
	return c.opts.Now()
}

// start launches the upstream query for key; c.mu is held. The flight
// keeps the first caller's deadline but not its cancellation. stale is an
// expired answer to fall back on.
func (c *Cache) start(ctx context.Context, key cacheKey, stale *cacheEntry) *flight {
	var fctx context.Context
	var cancel context.CancelFunc
	if d, ok := ctx.Deadline(); ok {
		fctx, cancel = context.WithDeadline(context.WithoutCancel(ctx), d)
	} else {
		fctx, cancel = context.WithCancel(context.WithoutCancel(ctx))
	}
	f := &flight{done: make(chan struct{}), cancel: cancel}
	c.inflight[key] = f
	go c.fly(fctx, key, f, stale)
	return f
}

// fly asks next for key under fctx, keeps the result, and hands it to the
// flight's waiters.
func (c *Cache) fly(fctx context.Context, key cacheKey, f *flight, stale *cacheEntry) {
	var res cacheResult
	if next, ok := c.next.(*Cache); ok {
		r, err := next.query(fctx, key)
		if err != nil {
			r = cacheResult{err: err}
		}
		res = r
	} else {
		res.ans, res.err = c.next.Query(fctx, key.name, key.qtype)
	}
	expired := res.err != nil && fctx.Err() != nil
	c.mu.Lock()
	if c.inflight[key] == f {
		delete(c.inflight, key)
	}
	switch {
	case f.abandoned || expired || errors.Is(res.err, context.Canceled):
		// A failure for want of time says nothing about the name;
		// the next caller must ask again.
	case res.err != nil && stale != nil && serverFailure(res.err):
		// RFC 8767 §4: the servers failed or refused (a rate limit):
		// serve the expired answer rather than no answer, and let it
		// stand a while before asking again.
		ans := *stale.res.ans
		ans.Stale = true
		res = cacheResult{ans: &ans}
		c.store.add(key, &cacheEntry{res: res, expires: c.now().Add(c.opts.StaleRecheck), staleUntil: stale.staleUntil})
	default:
		c.store.add(key, c.entryFor(res))
		if res.err == nil {
			c.seedChain(key, res.ans)
		}
	}
	c.mu.Unlock()
	f.res = res
	f.expired = expired
	close(f.done)
	f.cancel()
}

// entryFor sets how long a result holds in the run's cache; a view's
// entries hold for the life of the view.
func (c *Cache) entryFor(res cacheResult) *cacheEntry {
	e := &cacheEntry{res: res}
	if c.opts.Now == nil {
		return e
	}
	now := c.now()
	var ttl time.Duration
	switch {
	case res.err != nil && IsOutOfZone(res.err):
		ttl = c.opts.MaxTTL // a property of the run's flags, not of DNS
	case res.err != nil:
		ttl = c.opts.FailureTTL
	case len(res.ans.RRs) == 0:
		ttl = c.opts.NegativeTTL
	default:
		ttl = c.opts.MaxTTL
		for _, rr := range res.ans.RRs {
			ttl = min(ttl, time.Duration(rr.Header().Ttl)*time.Second)
		}
	}
	e.expires = now.Add(ttl)
	if res.err == nil {
		e.staleUntil = e.expires.Add(c.opts.StaleTTL)
	}
	return e
}

// seedChain keeps, from an answer that holds a CNAME chain and the
// records at its end, the answer each target of the chain would get, so
// that following the chain (Follow) or asking a target for its own sake
// (the PTR check confirming an MX host's address) asks nothing again.
// Without the records, a target's answer is known only when the server
// answered for the chain's end (Answer.Chased). c.mu is held; an answer
// already kept or in flight is left alone.
func (c *Cache) seedChain(key cacheKey, ans *Answer) {
	if ans.Origins != nil || key.qtype == dns.TypeCNAME {
		return
	}
	last, chain := ChainEnd(ans.RRs, key.name)
	if len(chain) == 0 {
		return
	}
	var final []dns.RR
	for _, rr := range ans.RRs {
		if rr.Header().Rrtype == key.qtype && strings.EqualFold(rr.Header().Name, last) {
			final = append(final, rr)
		}
	}
	if len(final) == 0 && !ans.Chased {
		return
	}
	rcode := dns.RcodeSuccess
	if len(final) == 0 {
		rcode = ans.ChainRcode
	}
	for i, target := range chain {
		k := cacheKey{target, key.qtype}
		if _, ok := c.store.get(k); ok || c.inflight[k] != nil {
			continue
		}
		// What target holds: the rest of the chain, then the records.
		var rrs []dns.RR
		for _, rr := range ans.RRs {
			if cn, ok := rr.(*dns.CNAME); ok && slices.Contains(chain[i:len(chain)-1], strings.ToLower(cn.Hdr.Name)) {
				rrs = append(rrs, rr)
			}
		}
		rrs = append(rrs, final...)
		seeded := &Answer{Name: target, Qtype: key.qtype, Rcode: rcode, RRs: rrs,
			Authentic: ans.Authentic, Server: ans.Server, Chased: ans.Chased, ChainRcode: ans.ChainRcode}
		if rcode == dns.RcodeNameError && i < len(chain)-1 {
			seeded.Rcode = dns.RcodeSuccess // an alias on the way exists
		}
		c.store.add(k, c.entryFor(cacheResult{ans: seeded}))
	}
}

// serverFailure reports whether err says the servers did not answer
// (timeout, SERVFAIL, REFUSED, transport), as opposed to a name outside
// the zones.
func serverFailure(err error) bool {
	var re *Error
	return errors.As(err, &re) && re.Kind != OutOfZone
}

// copy hands a caller its own Answer: the cache's records stay untouched
// whatever the caller does with what it gets.
func (r cacheResult) copy() (*Answer, error) {
	if r.ans == nil {
		return nil, r.err
	}
	out := *r.ans
	if r.ans.RRs != nil {
		out.RRs = make([]dns.RR, len(r.ans.RRs))
		for i, rr := range r.ans.RRs {
			out.RRs[i] = dns.Copy(rr)
		}
	}
	if r.ans.Origins != nil {
		out.Origins = slices.Clone(r.ans.Origins)
	}
	return &out, r.err
}
