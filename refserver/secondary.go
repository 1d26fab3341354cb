package refserver

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"path"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/fixtures"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// A scenario where a zone's name servers disagree (a secondary that missed
// a change) needs a second server serving other data at another address.
// A scenario file named "<host>.zone.stale" is what name server <host>
// serves: the reference server looks up <host>'s address in the scenario's
// zones (it must be a loopback address other than the server's own, such
// as 127.0.0.2) and serves that file there, on the DNS port of the main
// server, so that asking every name server of the zone on one port
// (--port-map 53=Q) reaches both. It is not a *.zone file, so --zone and
// the checks' scenario test never read it as a zone of the scenario.
const staleSuffix = ".zone.stale"

// startSecondaries starts a DNS server for each "<host>.zone.stale" file.
func (s *Server) startSecondaries() error {
	files, err := s.sc.Files()
	if err != nil {
		return err
	}
	for _, f := range files {
		host, ok := strings.CutSuffix(f, staleSuffix)
		if !ok {
			continue
		}
		if err := s.startSecondary(dns.Fqdn(strings.ToLower(host)), f); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) startSecondary(host, file string) error {
	data, err := s.sc.File(file)
	if err != nil {
		return err
	}
	zone, err := resolver.NewZone(resolver.ZoneSource{File: path.Join("fixtures", s.sc.Name, file), Origin: fixtures.Origin(s.domain + ".zone"), Data: data})
	if err != nil {
		return err
	}
	addrs, err := resolver.Addrs(context.Background(), s.zone, host)
	if err != nil || len(addrs) == 0 {
		return fmt.Errorf("refserver: %s: name server %s has no address in the scenario's zones (%v)", file, strings.TrimSuffix(host, "."), err)
	}
	ip := addrs[0].Unmap()
	if !ip.IsLoopback() || ip == netip.MustParseAddr(s.host) {
		return fmt.Errorf("refserver: %s: name server %s is at %s; a second server needs a loopback address of its own", file, strings.TrimSuffix(host, "."), ip)
	}
	port := s.portMap[PortDNS]
	addr := net.JoinHostPort(ip.String(), strconv.Itoa(port))
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return fmt.Errorf("refserver: second DNS server for %s on %s: %w (on macOS: sudo ifconfig lo0 alias %s up)", strings.TrimSuffix(host, "."), addr, err, ip)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		pc.Close()
		return fmt.Errorf("refserver: second DNS server for %s on %s: %w", strings.TrimSuffix(host, "."), addr, err)
	}
	if err := s.serveDNS(zone, pc, ln); err != nil {
		return fmt.Errorf("refserver: second DNS server on %s: %w", addr, err)
	}
	s.endpoints = append(s.endpoints, Endpoint{Service: "dns", StdPort: PortDNS, Addr: addr})
	s.logf("dns: %s serves %s on %s", strings.TrimSuffix(host, "."), file, addr)
	return nil
}
