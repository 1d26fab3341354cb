package resolver_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/resolver"
	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

// gated is an upstream that holds every query until release is closed (or
// the query's context ends), counting what reaches it.
type gated struct {
	next    resolver.Resolver
	release chan struct{}
	arrived chan string // one send per query that reached upstream
	calls   atomic.Int64
}

func newGated(next resolver.Resolver) *gated {
	return &gated{next: next, release: make(chan struct{}), arrived: make(chan string, 100)}
}

func (g *gated) Query(ctx context.Context, name string, qtype uint16) (*resolver.Answer, error) {
	g.calls.Add(1)
	g.arrived <- name
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, &resolver.Error{Kind: resolver.Timeout, Name: name, Qtype: qtype, Err: ctx.Err()}
	}
	return g.next.Query(ctx, name, qtype)
}

func TestCacheJoinsConcurrentIdenticalQueries(t *testing.T) {
	up := newGated(resolvertest.New(`example.com. 300 IN TXT "v=spf1 -all"`))
	c := resolver.NewCache(up)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	const n = 50
	var wg sync.WaitGroup
	answers := make([]*resolver.Answer, n)
	errs := make([]error, n)
	for i := range n {
		name := "example.com."
		if i%2 == 1 {
			name = "EXAMPLE.com" // the same question spelled differently
		}
		wg.Go(func() { answers[i], errs[i] = c.Query(ctx, name, dns.TypeTXT) })
	}
	<-up.arrived
	// Let every caller reach the cache before the answer comes back.
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if q, _ := c.Stats(); q == n {
			break
		}
	}
	close(up.release)
	wg.Wait()

	if got := up.calls.Load(); got != 1 {
		t.Errorf("%d upstream queries for %d identical questions, want 1", got, n)
	}
	for i := range n {
		if errs[i] != nil || len(answers[i].RRs) != 1 {
			t.Fatalf("caller %d: %v %v", i, answers[i], errs[i])
		}
	}
	if q, h := c.Stats(); q != n || h != n-1 {
		t.Errorf("Stats() = %d, %d; want %d, %d", q, h, n, n-1)
	}
	// Once answered, the question is not asked again.
	if _, err := c.Query(ctx, "example.com", dns.TypeTXT); err != nil || up.calls.Load() != 1 {
		t.Errorf("a cached question went upstream again (err %v, %d calls)", err, up.calls.Load())
	}
}

func TestCacheDoesNotSerializeIndependentQueries(t *testing.T) {
	up := newGated(resolvertest.New("a.example. 300 IN A 192.0.2.1", "b.example. 300 IN A 192.0.2.2"))
	c := resolver.NewCache(up)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, name := range []string{"a.example", "b.example"} {
		wg.Go(func() {
			if _, err := c.Query(ctx, name, dns.TypeA); err != nil {
				t.Error(err)
			}
		})
	}
	// Both must be upstream at once: a cache holding a lock across the
	// upstream query would let only one through.
	for range 2 {
		select {
		case <-up.arrived:
		case <-time.After(2 * time.Second):
			t.Fatal("the second query did not reach upstream while the first was in flight")
		}
	}
	close(up.release)
	wg.Wait()
}

func TestCacheKeepsErrors(t *testing.T) {
	fake := resolvertest.New()
	fake.Fail("broken.example", dns.TypeMX, resolver.ServFail)
	c := resolver.NewCache(fake)
	for range 3 {
		_, err := c.Query(context.Background(), "broken.example", dns.TypeMX)
		var re *resolver.Error
		if !errors.As(err, &re) || re.Kind != resolver.ServFail {
			t.Fatalf("got %v, want SERVFAIL", err)
		}
	}
	if got := fake.Queries(); got != 1 {
		t.Errorf("a failing question was asked %d times upstream, want 1", got)
	}
}

func TestCacheCancelledCallerDoesNotPoison(t *testing.T) {
	t.Run("another caller still waiting gets the answer", func(t *testing.T) {
		up := newGated(resolvertest.New("mx.example. 300 IN A 192.0.2.25"))
		c := resolver.NewCache(up)
		quitter, quit := context.WithCancel(context.Background())
		patient, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()

		first := make(chan error, 1)
		go func() { _, err := c.Query(quitter, "mx.example", dns.TypeA); first <- err }()
		<-up.arrived
		second := make(chan *resolver.Answer, 1)
		go func() {
			ans, err := c.Query(patient, "mx.example", dns.TypeA)
			if err != nil {
				t.Error(err)
			}
			second <- ans
		}()
		waitQueries(t, c, 2)
		quit()
		if err := <-first; !errors.Is(err, context.Canceled) {
			t.Errorf("the cancelled caller got %v, want context.Canceled", err)
		}
		close(up.release)
		if ans := <-second; ans == nil || len(ans.RRs) != 1 {
			t.Errorf("the patient caller got %v", ans)
		}
		if up.calls.Load() != 1 {
			t.Errorf("%d upstream queries, want 1", up.calls.Load())
		}
	})
	t.Run("an abandoned query is asked again", func(t *testing.T) {
		up := newGated(resolvertest.New("mx.example. 300 IN A 192.0.2.25"))
		c := resolver.NewCache(up)
		quitter, quit := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { _, err := c.Query(quitter, "mx.example", dns.TypeA); done <- err }()
		<-up.arrived
		quit()
		<-done
		close(up.release)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ans, err := c.Query(ctx, "mx.example", dns.TypeA)
		if err != nil || len(ans.RRs) != 1 {
			t.Fatalf("after an abandoned query: %v %v, want the record", ans, err)
		}
		if up.calls.Load() != 2 {
			t.Errorf("%d upstream queries, want 2 (the abandoned one and a fresh one)", up.calls.Load())
		}
	})
}

func waitQueries(t *testing.T, c *resolver.Cache, n int) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if q, _ := c.Stats(); q >= n {
			return
		}
	}
	t.Fatalf("fewer than %d queries reached the cache", n)
}

func TestCacheAnswersAreCallersOwn(t *testing.T) {
	c := resolver.NewCache(loadTestZone(t))
	ctx := context.Background()
	ans, err := c.Query(ctx, "example.com", dns.TypeMX)
	if err != nil {
		t.Fatal(err)
	}
	ans.RRs[0].(*dns.MX).Mx = "evil.example."
	ans.Origins[0].Line = 999
	ans.RRs = append(ans.RRs, &dns.A{})
	again, err := c.Query(ctx, "example.com", dns.TypeMX)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.RRs) != 1 || again.RRs[0].(*dns.MX).Mx != "mail.example.com." || again.Origins[0].Line != 5 {
		t.Errorf("a caller's changes reached the cache: %v %v", again.RRs, again.Origins)
	}
}

// clock is a settable clock for the run cache's TTLs.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{now: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)} }

// The run's cache stays within its bound however many names a run asks,
// and a name many domains share survives a stream of names asked once.
func TestCacheIsBoundedAndKeepsSharedNames(t *testing.T) {
	fake := resolvertest.New("mx.provider.test. 300 IN A 192.0.2.25")
	for i := range 1000 {
		fake.Add(fmt.Sprintf("d%d.example. 300 IN MX 10 mx.provider.test.", i))
	}
	c := resolver.NewCacheWith(fake, resolver.CacheOptions{MaxEntries: 64})
	ctx := context.Background()
	for i := range 1000 {
		if _, err := c.Query(ctx, fmt.Sprintf("d%d.example", i), dns.TypeMX); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Query(ctx, "mx.provider.test", dns.TypeA); err != nil {
			t.Fatal(err)
		}
	}
	// 1000 MX questions, and the shared host once.
	if got := fake.Queries(); got != 1001 {
		t.Errorf("%d upstream queries, want 1001: the shared name was pushed out by names asked once", got)
	}
	if got := c.Len(); got > 64 {
		t.Errorf("the cache holds %d answers, bound 64", got)
	}
}

func TestCacheKeepsAnswersForTheirTTL(t *testing.T) {
	clk := newClock()
	fake := resolvertest.New("short.example. 60 IN A 192.0.2.1", "long.example. 3600 IN A 192.0.2.2")
	fake.Fail("broken.example", dns.TypeA, resolver.ServFail)
	c := resolver.NewCacheWith(fake, resolver.CacheOptions{Now: clk.Now})
	ctx := context.Background()
	ask := func(names ...string) {
		for _, n := range names {
			c.Query(ctx, n, dns.TypeA)
		}
	}
	ask("short.example", "long.example", "broken.example", "none.example")
	ask("short.example", "long.example", "broken.example", "none.example")
	if got := fake.Queries(); got != 4 {
		t.Fatalf("%d upstream queries, want 4 (each name once)", got)
	}
	clk.Advance(6 * time.Second) // past the failure's 5 s
	ask("short.example", "long.example", "broken.example", "none.example")
	if got := fake.Queries(); got != 5 {
		t.Errorf("%d upstream queries after 6 s, want 5 (the failure asked again)", got)
	}
	clk.Advance(55 * time.Second) // past 60 s: the TTL, and the negative TTL
	ask("short.example", "long.example", "none.example")
	if got := fake.Queries(); got != 7 {
		t.Errorf("%d upstream queries after 61 s, want 7 (short and none asked again)", got)
	}
}

// RFC 8767: an answer whose refresh fails (a server that refuses or
// drops a burst) is served stale, and the refresh is not tried again for
// a while.
func TestCacheServesStaleWhenRefreshFails(t *testing.T) {
	clk := newClock()
	fake := resolvertest.New("mx.example. 60 IN A 192.0.2.25")
	c := resolver.NewCacheWith(fake, resolver.CacheOptions{Now: clk.Now})
	ctx := context.Background()
	if _, err := c.Query(ctx, "mx.example", dns.TypeA); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute)
	fake.Fail("mx.example", dns.TypeA, resolver.Refused)
	for range 3 {
		ans, err := c.Query(ctx, "mx.example", dns.TypeA)
		if err != nil || len(ans.RRs) != 1 || !ans.Stale {
			t.Fatalf("got %v %v, want the stale answer", ans, err)
		}
	}
	if got := fake.Queries(); got != 2 {
		t.Errorf("%d upstream queries, want 2: the failed refresh is not retried at once", got)
	}
	clk.Advance(31 * time.Second)
	c.Query(ctx, "mx.example", dns.TypeA)
	if got := fake.Queries(); got != 3 {
		t.Errorf("%d upstream queries, want 3: the refresh is retried after 30 s", got)
	}
	clk.Advance(2 * time.Hour) // beyond the stale window
	if _, err := c.Query(ctx, "mx.example", dns.TypeA); err == nil {
		t.Error("an answer expired for hours is served")
	}
}

// A query joined by callers with different deadlines: when the first
// caller's time runs out, one with time left asks again instead of
// inheriting a timeout, and no timeout is remembered for the name.
func TestCacheCallerWithTimeLeftIsNotFailedByAnother(t *testing.T) {
	up := newGated(resolvertest.New("mx.example. 300 IN A 192.0.2.25"))
	c := resolver.NewCache(up)
	// A domain whose --timeout is about to pass.
	shortCtx, cancelShort := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancelShort()
	patient, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	first := make(chan error, 1)
	go func() { _, err := c.Query(shortCtx, "mx.example", dns.TypeA); first <- err }()
	<-up.arrived
	second := make(chan error, 1)
	go func() {
		ans, err := c.Query(patient, "mx.example", dns.TypeA)
		if err == nil && len(ans.RRs) != 1 {
			err = fmt.Errorf("answer %v", ans)
		}
		second <- err
	}()
	waitQueries(t, c, 2)
	if err := <-first; err == nil {
		t.Fatal("the first caller got an answer after its deadline")
	}
	// The patient caller asks again.
	select {
	case <-up.arrived:
	case <-time.After(time.Minute):
		t.Fatal("the caller with time left did not ask again")
	}
	close(up.release)
	if err := <-second; err != nil {
		t.Fatalf("the caller with time left failed: %v", err)
	}
}

// A view keeps each answer for the life of one domain's audit, whatever
// its TTL, and views share the run's cache.
func TestViewsShareTheRunCache(t *testing.T) {
	clk := newClock()
	fake := resolvertest.New("mx.provider.test. 1 IN A 192.0.2.25")
	run := resolver.NewCacheWith(fake, resolver.CacheOptions{Now: clk.Now})
	ctx := context.Background()
	v1, v2 := resolver.NewView(run), resolver.NewView(run)
	first, _ := v1.Query(ctx, "mx.provider.test", dns.TypeA)
	v2.Query(ctx, "mx.provider.test", dns.TypeA)
	if got := fake.Queries(); got != 1 {
		t.Errorf("two domains' views asked %d times upstream, want 1", got)
	}
	clk.Advance(time.Minute)
	fake.Add("mx.provider.test. 1 IN A 192.0.2.26")
	again, _ := v1.Query(ctx, "mx.provider.test", dns.TypeA)
	if len(again.RRs) != len(first.RRs) {
		t.Errorf("a domain's view changed under it: %v then %v", first.RRs, again.RRs)
	}
	v3 := resolver.NewView(run)
	if fresh, _ := v3.Query(ctx, "mx.provider.test", dns.TypeA); len(fresh.RRs) != 2 {
		t.Errorf("a new domain got %v, want the answer asked again after its TTL", fresh.RRs)
	}
}

// A view joins the identical questions of one domain's checks, asked in
// the first caller's goroutine, and a caller left waiting on one that gave
// up asks again.
func TestViewJoinsQueries(t *testing.T) {
	up := newGated(resolvertest.New("mx.example. 300 IN A 192.0.2.25"))
	v := resolver.NewView(resolver.NewCache(up))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if ans, err := v.Query(ctx, "mx.example", dns.TypeA); err != nil || len(ans.RRs) != 1 {
				t.Errorf("got %v %v", ans, err)
			}
		})
	}
	<-up.arrived
	waitQueries(t, v, 10)
	close(up.release)
	wg.Wait()
	if got := up.calls.Load(); got != 1 {
		t.Errorf("%d upstream queries for one question, want 1", got)
	}

	up2 := newGated(resolvertest.New("mx.example. 300 IN A 192.0.2.25"))
	v2 := resolver.NewView(resolver.NewCache(up2))
	quitter, quit := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { _, err := v2.Query(quitter, "mx.example", dns.TypeA); first <- err }()
	<-up2.arrived
	second := make(chan error, 1)
	go func() { _, err := v2.Query(ctx, "mx.example", dns.TypeA); second <- err }()
	waitQueries(t, v2, 2)
	quit()
	if err := <-first; err == nil {
		t.Error("the caller that gave up got an answer")
	}
	close(up2.release)
	if err := <-second; err != nil {
		t.Errorf("the caller left waiting failed: %v", err)
	}
}
