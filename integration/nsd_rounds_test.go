package integration

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// questionLog is a UDP relay in front of a DNS server that records every
// question it passes on.
type questionLog struct {
	mu   sync.Mutex
	seen map[string]int
}

func (q *questionLog) count(name string, qtype uint16) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.seen[strings.ToLower(name)+" "+dns.TypeToString[qtype]]
}

// relay listens on a loopback UDP port and passes each datagram to server,
// and its reply back, until the test ends.
func relay(t *testing.T, server string) (string, *questionLog) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	log := &questionLog{seen: map[string]int{}}
	go func() {
		buf := make([]byte, 65535)
		for {
			n, client, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			m := new(dns.Msg)
			if m.Unpack(buf[:n]) == nil && len(m.Question) == 1 {
				log.mu.Lock()
				log.seen[strings.ToLower(m.Question[0].Name)+" "+dns.TypeToString[m.Question[0].Qtype]]++
				log.mu.Unlock()
			}
			pkt := append([]byte(nil), buf[:n]...)
			go func() {
				up, err := net.Dial("udp", server)
				if err != nil {
					return
				}
				defer up.Close()
				up.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := up.Write(pkt); err != nil {
					return
				}
				reply := make([]byte, 65535)
				k, err := up.Read(reply)
				if err == nil {
					pc.WriteTo(reply[:k], client)
				}
			}()
		}
	}()
	return pc.LocalAddr().String(), log
}

// NSD answers a query at an alias with the CNAME, the target's records
// when it holds them, and its zone's SOA when the target has none of the
// type: mailcheck asks nothing of the target again (issue 14: mx-cname
// took a round trip more than it needs).
func TestNSDAliasAnswersAreNotAskedAgain(t *testing.T) {
	ns := startNSD(t, "mx-cname")
	addr, log := relay(t, ns.Addr)
	rep := mailcheckJSON(t, []int{0, 1, 3}, "domain", "example.test", "--no-probe", "--resolver", addr,
		"--dkim-selector", "s2026", "--timeout", "15s")
	if !rep.has("mx.cname", "", "") || !rep.has("ptr.ok", "pass", "") {
		t.Fatalf("the alias MX host was not judged as before: %v", rep.ids())
	}
	if rep.has("dns.lookup-failed", "", "") {
		t.Fatalf("a lookup failed: %v", rep.ids())
	}
	if log.count("mx.example.test.", dns.TypeAAAA) != 1 {
		t.Fatalf("the relay saw no AAAA query for the alias: %v", log.seen)
	}
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		if n := log.count("mail.example.test.", qt); n != 0 {
			t.Errorf("mail.example.test %s asked %d times: NSD's answer at the alias held it", dns.TypeToString[qt], n)
		}
	}
}
