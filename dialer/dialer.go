// Package dialer connects to the hosts that DNS checks and probes name,
// resolving them through mailcheck's own resolver (so --zone and --resolver
// apply to connections too) and applying --port-map and --ca.
package dialer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/mailcheck-cli/mailcheck/resolver"
)

// Dialer is safe for concurrent use once built.
type Dialer struct {
	Resolver resolver.Resolver
	// PortMap redirects standard port P to Q wherever a check would use P.
	PortMap map[int]int
	// Roots verifies certificates: the system roots plus --ca. Nil means the
	// system roots alone.
	Roots *x509.CertPool
	// StepTimeout bounds one dial, one handshake or one reply.
	StepTimeout time.Duration
}

// Port returns the port actually dialled for standard port p.
func (d *Dialer) Port(p int) int {
	if q, ok := d.PortMap[p]; ok {
		return q
	}
	return p
}

// Step returns a context bounded by the step timeout (and by ctx).
func (d *Dialer) Step(ctx context.Context) (context.Context, context.CancelFunc) {
	t := d.StepTimeout
	if t <= 0 {
		t = 10 * time.Second
	}
	return context.WithTimeout(ctx, t)
}

// DialAddr connects to addr, after mapping its port.
func (d *Dialer) DialAddr(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	ctx, cancel := d.Step(ctx)
	defer cancel()
	target := netip.AddrPortFrom(addr.Addr(), uint16(d.Port(int(addr.Port()))))
	var nd net.Dialer
	return nd.DialContext(ctx, "tcp", target.String())
}

// DialContext has net.Dialer's signature: the host in address is resolved
// through the Resolver (A and AAAA), the port is mapped, and each address is
// tried in turn until one connects.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("bad port in %q", address)
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		addrs, err = resolver.Addrs(ctx, d.Resolver, host)
		if len(addrs) == 0 {
			if err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("%s has no A or AAAA record", host)
		}
	}
	var errs []error
	for _, a := range addrs {
		conn, err := d.DialAddr(ctx, netip.AddrPortFrom(a, uint16(port)))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// TLSConfig returns a client configuration that verifies serverName against
// Roots.
func (d *Dialer) TLSConfig(serverName string) *tls.Config {
	return &tls.Config{ServerName: serverName, RootCAs: d.Roots, MinVersion: tls.VersionTLS12}
}

// HTTPClient returns a client that dials through d, verifies against Roots,
// follows no redirects (MTA-STS forbids them: RFC 8461 §3.3) and is bounded
// by the step timeout.
func (d *Dialer) HTTPClient() *http.Client {
	tr := &http.Transport{
		DialContext:           d.DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: d.Roots, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:     false,
		TLSHandshakeTimeout:   d.stepTimeout(),
		ResponseHeaderTimeout: d.stepTimeout(),
		DisableKeepAlives:     true,
		Proxy:                 nil,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   2 * d.stepTimeout(),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

func (d *Dialer) stepTimeout() time.Duration {
	if d.StepTimeout <= 0 {
		return 10 * time.Second
	}
	return d.StepTimeout
}
