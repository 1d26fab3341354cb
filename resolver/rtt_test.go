package resolver

import (
	"testing"
	"time"
)

// The retransmission timeout follows the server's measured round trips
// (RFC 6298 §2): the initial value before any, the floor for a steady fast
// server, more for a server whose answers vary.
func TestRTOFollowsTheRoundTrips(t *testing.T) {
	var e rttEstimator
	if got := e.rto(); got != initialRTO {
		t.Errorf("no sample: %s, want %s", got, initialRTO)
	}
	for range 20 {
		e.sample(30 * time.Millisecond)
	}
	if got := e.rto(); got != minRTO {
		t.Errorf("steady 30 ms: %s, want the floor %s", got, minRTO)
	}
	for i := range 40 {
		e.sample(time.Duration(1+i%2*400) * time.Millisecond)
	}
	if got := e.rto(); got <= 400*time.Millisecond || got > maxRTO {
		t.Errorf("answers between 1 and 401 ms: %s, want above 400 ms and at most %s", got, maxRTO)
	}
	for range 40 {
		e.sample(10 * time.Second)
	}
	if got := e.rto(); got != maxRTO {
		t.Errorf("10 s answers: %s, want the cap %s", got, maxRTO)
	}
}
