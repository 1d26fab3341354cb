package resolver

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/miekg/dns"
)

// Cache remembers every answer and error for the life of one run, so that
// checks sharing a name (SPF includes, MX hosts, PTR targets) ask once, and
// joins identical queries already in flight. It holds no lock while a query
// is upstream: independent queries proceed in parallel.
type Cache struct {
	next Resolver

	mu       sync.Mutex
	done     map[cacheKey]cacheResult
	inflight map[cacheKey]*flight
	queries  int
	hits     int
}

type cacheKey struct {
	name  string
	qtype uint16
}

type cacheResult struct {
	ans *Answer
	err error
}

// flight is one upstream query that callers wait on. It runs under its own
// context so that one caller giving up does not fail the others; it is
// cancelled only when every caller waiting on it has gone.
type flight struct {
	done      chan struct{}
	res       cacheResult
	waiters   int
	abandoned bool
	cancel    context.CancelFunc
}

// NewCache returns a cache in front of next.
func NewCache(next Resolver) *Cache {
	return &Cache{next: next, done: map[cacheKey]cacheResult{}, inflight: map[cacheKey]*flight{}}
}

// Stats returns how many queries the cache was asked and how many of them
// it answered without a new upstream query (from the cache, or by joining
// one in flight).
func (c *Cache) Stats() (queries, hits int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queries, c.hits
}

// Query implements Resolver.
func (c *Cache) Query(ctx context.Context, name string, qtype uint16) (*Answer, error) {
	key := cacheKey{canonical(name), qtype}
	c.mu.Lock()
	c.queries++
	if r, ok := c.done[key]; ok {
		c.hits++
		c.mu.Unlock()
		return r.copy()
	}
	f := c.inflight[key]
	if f != nil && !f.abandoned {
		c.hits++
	} else {
		f = c.start(ctx, key)
	}
	f.waiters++
	c.mu.Unlock()

	select {
	case <-f.done:
		return f.res.copy()
	case <-ctx.Done():
		c.mu.Lock()
		f.waiters--
		if f.waiters == 0 {
			f.abandoned = true
			f.cancel()
		}
		c.mu.Unlock()
		return nil, &Error{Kind: Timeout, Name: key.name, Qtype: qtype, Err: ctx.Err()}
	}
}

// start launches the upstream query for key; c.mu is held. The flight
// keeps the first caller's deadline but not its cancellation.
func (c *Cache) start(ctx context.Context, key cacheKey) *flight {
	var fctx context.Context
	var cancel context.CancelFunc
	if d, ok := ctx.Deadline(); ok {
		fctx, cancel = context.WithDeadline(context.WithoutCancel(ctx), d)
	} else {
		fctx, cancel = context.WithCancel(context.WithoutCancel(ctx))
	}
	f := &flight{done: make(chan struct{}), cancel: cancel}
	c.inflight[key] = f
	go func() {
		ans, err := c.next.Query(fctx, key.name, key.qtype)
		c.mu.Lock()
		if c.inflight[key] == f {
			delete(c.inflight, key)
		}
		// An abandoned flight's failure says nothing about the name; the
		// next caller must ask again.
		if !f.abandoned && !errors.Is(err, context.Canceled) {
			c.done[key] = cacheResult{ans, err}
		}
		c.mu.Unlock()
		f.res = cacheResult{ans, err}
		close(f.done)
		cancel()
	}()
	return f
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
