package probe

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// Host resolves host (A and AAAA) and probes every address on every port
// concurrently; each address is reported separately. ports defaults to
// DefaultPorts; protocol, when set, applies to every port (for
// non-standard ports). When ports defaults, a closed port is only info
// (few hosts offer all seven services; POP3 is often left out on purpose)
// unless every port is closed; a port asked for by name must answer. When
// port 25 is probed, each address's reverse DNS
// is checked too (ptr.*): receiving MTAs judge a sender by it, and an MX
// usually sends as well.
func Host(ctx context.Context, o Options, host string, ports []int, protocol string) ([]finding.Probe, []finding.Finding) {
	sweep := len(ports) == 0
	if sweep {
		ports = DefaultPorts
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	var addrs []netip.Addr
	var lookupErr error
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		addrs, lookupErr = lookupAddrs(ctx, o, host)
	}
	var pre []finding.Finding
	if lookupErr != nil || len(addrs) == 0 {
		pre = append(pre, addrFinding(host, host, lookupErr))
	}
	withPTR := slices.Contains(ports, 25)
	var targets []Target
	for _, a := range addrs {
		for _, p := range ports {
			targets = append(targets, Target{Host: host, Addr: a, Port: p, Protocol: protocol})
		}
	}
	probes, fs := runAll(ctx, o, targets, len(addrs) > 1, withPTR, true)
	if sweep {
		softenClosedPorts(fs)
	}
	return probes, append(pre, fs...)
}

// softenClosedPorts turns conn.refused into info on a sweep of the default
// ports, unless nothing at all answered: then the host offers no mail
// service and that stays a failure.
func softenClosedPorts(fs []finding.Finding) {
	answered := slices.ContainsFunc(fs, func(f finding.Finding) bool { return f.ID != "conn.refused" && strings.HasPrefix(f.ID, "conn.") })
	if !answered {
		return
	}
	for i := range fs {
		if fs[i].ID == "conn.refused" {
			fs[i].Severity = finding.Info
			fs[i].SetFix(finding.T("Nothing to do if this service is not offered on purpose; otherwise start it, or open the port in the firewall"))
		}
	}
}

// MX probes port 25 of every address of every host that receives the
// domain's mail, as the domain audit gathered them (facts.MX.Targets: the
// MX hosts most preferred first, the domain itself without MX, nothing for
// a null MX), concurrently, checking each certificate against the MX host
// name (as MTA-STS, RFC 8461 §4.2, and DANE do). Probe.PTR is filled for
// every address; the ptr.* findings for MX addresses are the domain
// audit's (checks), not repeated here.
func MX(ctx context.Context, o Options, mx *facts.MX) ([]finding.Probe, []finding.Finding) {
	subject := mx.Domain + " MX"
	if err := mx.Lookup.Err; err != nil {
		if resolver.IsOutOfZone(err) {
			return nil, []finding.Finding{finding.New("dns.not-checked", subject,
				finding.T("MX servers not probed: %s is outside the given zones and no --resolver was given", mx.Domain))}
		}
		return nil, []finding.Finding{finding.New("dns.lookup-failed", subject, finding.T("MX servers not probed: %s", lookupError{err}))}
	}
	var pre []finding.Finding
	var targets []Target
	multi := false
	for _, t := range mx.Targets() {
		var addrs []netip.Addr
		var err error
		if t.Addrs != nil {
			addrs, err = t.Addrs.All(), t.Addrs.Err()
		}
		if err != nil || len(addrs) == 0 {
			pre = append(pre, addrFinding(t.Host, t.Host+":25", err))
		}
		multi = multi || len(addrs) > 1
		for _, a := range addrs {
			targets = append(targets, Target{Host: t.Host, Addr: a, Port: 25, Protocol: "smtp"})
		}
	}
	probes, fs := runAll(ctx, o, targets, multi, true, false)
	return probes, append(pre, fs...)
}

// runAll probes every target concurrently and looks up each distinct
// address's reverse DNS alongside; results keep the targets' order. A
// certificate's problems are reported once for all the ports of an
// address that serve it, with those ports in the subject
// ("mail.example.test:25,465,587"), not once per port.
func runAll(ctx context.Context, o Options, targets []Target, withAddr, withPTR, ptrFindings bool) ([]finding.Probe, []finding.Finding) {
	probes := make([]finding.Probe, len(targets))
	outcomes := make([]portOutcome, len(targets))
	var addrs []netip.Addr
	for _, t := range targets {
		if !slices.Contains(addrs, t.Addr) {
			addrs = append(addrs, t.Addr)
		}
	}
	ptrs := make([]reverse, len(addrs))
	st := newRunState()
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() { outcomes[i] = runPort(ctx, o, st, t, subjectFor(t, withAddr)) })
	}
	if withPTR {
		for i, a := range addrs {
			wg.Go(func() { ptrs[i] = lookupReverse(ctx, o.resolver(), a) })
		}
	}
	wg.Wait()
	certKey := func(i int) string { return outcomes[i].cert.key + "|" + targets[i].Addr.String() }
	servedBy := map[string][]int{}
	for i, oc := range outcomes {
		if oc.cert != nil {
			servedBy[certKey(i)] = append(servedBy[certKey(i)], targets[i].Port)
		}
	}
	var out []finding.Finding
	said := map[string]bool{}
	for i, oc := range outcomes {
		probes[i] = oc.probe
		out = append(out, oc.head...)
		if oc.cert != nil && !said[certKey(i)] {
			said[certKey(i)] = true
			out = append(out, oc.cert.findingsFor(subjectForPorts(targets[i], servedBy[certKey(i)], withAddr))...)
		}
		out = append(out, oc.tail...)
	}
	if withPTR {
		for i := range probes {
			rv := ptrs[slices.Index(addrs, targets[i].Addr)]
			probes[i].PTR = rv.names
		}
		if ptrFindings {
			for _, rv := range ptrs {
				out = append(out, rv.finding())
			}
		}
	}
	return probes, out
}

// subjectForPorts names several ports of one address: "mail.example.test:25,465,587".
func subjectForPorts(t Target, ports []int, withAddr bool) string {
	list := make([]string, len(ports))
	for i, p := range ports {
		list[i] = strconv.Itoa(p)
	}
	t.Port = 0
	s := t.name() + ":" + strings.Join(list, ",")
	if strings.Contains(t.name(), ":") {
		s = "[" + t.name() + "]:" + strings.Join(list, ",")
	}
	if withAddr && t.Host != "" && t.Host != t.Addr.String() {
		s += " (" + t.Addr.String() + ")"
	}
	return s
}

func lookupAddrs(ctx context.Context, o Options, host string) ([]netip.Addr, error) {
	return resolver.Addrs(ctx, o.resolver(), host)
}

// addrFinding explains why a host could not be probed: no address, or a
// lookup that failed (inconclusive, never "missing").
func addrFinding(host, subject string, err error) finding.Finding {
	switch {
	case err == nil:
		return finding.New("conn.unreachable", subject, finding.T("%s has no A or AAAA record: nothing to probe", host))
	case resolver.IsOutOfZone(err):
		return finding.New("dns.not-checked", subject, finding.T("Not probed: %s is outside the given zones and no --resolver was given", host))
	}
	return finding.New("dns.lookup-failed", subject, finding.T("Not probed: looking up %s failed: %v", host, lookupError{err}))
}

// lookupError is a failed DNS lookup as findings show it: the resolver's
// own words in English ("mail.example.com. A: SERVFAIL from
// 192.0.2.53:53"), and in another language what went wrong (the Kind) and
// on which name and type.
type lookupError struct{ err error }

func (e lookupError) Error() string { return e.err.Error() }

// In writes the error in language l.
func (e lookupError) In(l finding.Lang) string {
	var re *resolver.Error
	if l == finding.English || l == "" || !errors.As(e.err, &re) {
		return e.err.Error()
	}
	return finding.T("%s looking up %s %s", re.Kind, strings.TrimSuffix(re.Name, "."), dns.TypeToString[re.Qtype]).In(l)
}
