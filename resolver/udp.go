package resolver

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// udpMux sends the queries for one server over a few long-lived connected
// UDP sockets, each read by one goroutine that hands every reply to the
// query waiting for its ID and question. miekg/dns's client opens a socket
// per query (a socket, a connect, a close, a goroutine whose stack grows
// to unpack each reply): a bulk run asks thousands of questions a second,
// and that cost was most of its CPU. This is hand-written because no
// client library multiplexes UDP queries, and because the resolver needs
// the control it gives: a query is sent again on the same socket with the
// same ID when no reply came within the retransmission timeout, so a late
// reply to the first copy still counts.
//
// RFC 5452 §9.2 asks for unpredictable source ports: each socket is bound
// to a fresh ephemeral port, serves a bounded number of queries (then a new
// one takes its place) and closes when idle; IDs are random and unique
// among the socket's pending queries, a reply must come from the server
// (the socket is connected), and the caller checks that it repeats the
// question (§9.1).
type udpMux struct {
	server string
	rtt    rttEstimator

	mu    sync.Mutex
	conns [udpMuxConns]*muxConn
	next  int
}

const (
	// udpMuxConns sockets per server spread the queries over as many
	// source ports.
	udpMuxConns = 4
	// udpMuxConnUses is how many queries one socket sends before a new one
	// takes its place.
	udpMuxConnUses = 4096
	// udpMuxIdle closes a socket with no query for this long.
	udpMuxIdle = 5 * time.Second
	// udpMaxPending bounds the queries waiting on one socket (of 65536 IDs).
	udpMaxPending = 32768
)

type muxConn struct {
	c       *net.UDPConn
	mux     *udpMux
	mu      sync.Mutex
	pending map[uint16]*muxQuery
	uses    int
	retired bool // no new queries; closed when the last pending one goes
	closed  bool
}

// muxQuery is one query waiting for its reply.
type muxQuery struct {
	reply chan muxReply // buffered: the reader never blocks
}

type muxReply struct {
	msg *dns.Msg
	err error
}

func newUDPMux(server string) *udpMux { return &udpMux{server: server} }

// errMuxTimeout is what a query that got no reply in time returns: a
// net.Error whose Timeout() is true, as a socket deadline's.
var errMuxTimeout = &net.OpError{Op: "read", Net: "udp", Err: os.ErrDeadlineExceeded}

// exchange sends q and waits for its reply for at most budget (or until
// done is closed), sending it again after each retransmission timeout:
// the server's RTO, doubled at each try, with random jitter so that the
// queries of a burst that a server dropped together do not come back
// together (exponential backoff, RFC 6298 §5.5).
func (m *udpMux) exchange(done <-chan struct{}, q *dns.Msg, budget time.Duration) (*dns.Msg, error) {
	mc, id, pq, err := m.register()
	if err != nil {
		return nil, err
	}
	defer mc.unregister(id)
	q.Id = id
	pkt, err := q.Pack()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	deadline := start.Add(budget)
	rto := m.rtt.rto()
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for sends := 0; ; sends++ {
		if _, err := mc.c.Write(pkt); err != nil {
			return nil, err
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return nil, errMuxTimeout
		}
		backoff := rto << min(sends, 6)
		wait = min(wait, backoff+rand.N(backoff/4+1))
		timer.Reset(wait)
		select {
		case r := <-pq.reply:
			if r.err == nil && sends == 0 {
				// Karn's algorithm: only a reply to a query sent once
				// measures the round trip.
				m.rtt.sample(time.Since(start))
			}
			return r.msg, r.err
		case <-timer.C:
			if !time.Now().Before(deadline) {
				return nil, errMuxTimeout
			}
		case <-done:
			return nil, errMuxTimeout
		}
	}
}

// register picks a socket and an ID unused on it.
func (m *udpMux) register() (*muxConn, uint16, *muxQuery, error) {
	pq := &muxQuery{reply: make(chan muxReply, 1)}
	for range udpMuxConns + 1 {
		mc, err := m.conn()
		if err != nil {
			return nil, 0, nil, err
		}
		mc.mu.Lock()
		if mc.retired || len(mc.pending) >= udpMaxPending {
			mc.mu.Unlock()
			continue
		}
		id := uint16(rand.Uint32())
		for mc.pending[id] != nil {
			id = uint16(rand.Uint32())
		}
		mc.pending[id] = pq
		mc.uses++
		if mc.uses >= udpMuxConnUses {
			mc.retired = true
			m.drop(mc)
		}
		mc.mu.Unlock()
		return mc, id, pq, nil
	}
	return nil, 0, nil, errors.New("too many queries in flight to " + m.server)
}

// conn returns the next socket in turn, opening it when its slot is empty.
func (m *udpMux) conn() (*muxConn, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := m.next
	m.next = (m.next + 1) % udpMuxConns
	if mc := m.conns[i]; mc != nil {
		return mc, nil
	}
	raddr, err := net.ResolveUDPAddr("udp", m.server)
	if err != nil {
		return nil, err
	}
	c, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		return nil, err
	}
	mc := &muxConn{c: c, mux: m, pending: map[uint16]*muxQuery{}}
	m.conns[i] = mc
	go mc.read()
	return mc, nil
}

// drop takes mc out of the pool, so that a new socket takes its slot.
func (m *udpMux) drop(mc *muxConn) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, c := range m.conns {
		if c == mc {
			m.conns[i] = nil
		}
	}
}

func (mc *muxConn) unregister(id uint16) {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	delete(mc.pending, id)
	if mc.retired && len(mc.pending) == 0 && !mc.closed {
		mc.closed = true
		mc.c.Close()
	}
}

// read hands each reply to the query waiting for it, until the socket is
// closed or has been idle for udpMuxIdle.
func (mc *muxConn) read() {
	buf := make([]byte, dns.MaxMsgSize)
	for {
		mc.c.SetReadDeadline(time.Now().Add(udpMuxIdle))
		n, err := mc.c.Read(buf)
		if err != nil {
			if mc.failed(err) {
				return
			}
			continue
		}
		if n < 12 {
			continue // not even a header
		}
		id := binary.BigEndian.Uint16(buf)
		mc.mu.Lock()
		pq := mc.pending[id]
		mc.mu.Unlock()
		if pq == nil {
			continue // late, duplicate or forged
		}
		msg := new(dns.Msg)
		if err := msg.Unpack(buf[:n]); err != nil && !msg.Truncated {
			continue // garbled: wait for another copy
		}
		// A reply to another question is handed over too: the caller
		// rejects it (RFC 5452 §9.1) as the server's fault.
		select {
		case pq.reply <- muxReply{msg: msg}:
		default:
		}
	}
}

// failed handles a read error and reports whether the reader is done: an
// idle timeout with nothing pending closes the socket; a refusal (ICMP port
// unreachable on a connected socket) fails the queries waiting on it.
func (mc *muxConn) failed(err error) bool {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if mc.closed {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		if len(mc.pending) > 0 {
			return false
		}
	} else if !errors.Is(err, net.ErrClosed) {
		for _, pq := range mc.pending {
			select {
			case pq.reply <- muxReply{err: err}:
			default:
			}
		}
		if len(mc.pending) > 0 {
			return false
		}
	}
	mc.closed, mc.retired = true, true
	mc.c.Close()
	mc.mux.drop(mc)
	return true
}

// rttEstimator keeps the smoothed round trip to a server and its
// variation (RFC 6298 §2) to set the retransmission timeout.
type rttEstimator struct {
	mu           sync.Mutex
	srtt, rttvar time.Duration
}

const (
	// initialRTO is the timeout before any reply was measured, about what
	// recursive resolvers use for a server they do not know (Unbound: 376 ms).
	initialRTO = 400 * time.Millisecond
	// minRTO keeps a fast server's timeout above its slow answers: a
	// recursive resolver answers from its cache in a millisecond and
	// after recursion in a hundred.
	minRTO = 150 * time.Millisecond
	// maxRTO caps the first wait; the attempt's budget caps every wait.
	maxRTO = 2 * time.Second
)

func (e *rttEstimator) sample(r time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.srtt == 0 {
		e.srtt, e.rttvar = r, r/2
		return
	}
	d := e.srtt - r
	if d < 0 {
		d = -d
	}
	e.rttvar = (3*e.rttvar + d) / 4
	e.srtt = (7*e.srtt + r) / 8
}

func (e *rttEstimator) rto() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.srtt == 0 {
		return initialRTO
	}
	return min(max(e.srtt+4*e.rttvar, minRTO), maxRTO)
}
