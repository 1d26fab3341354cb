package login

import (
	"cmp"
	"context"
	"fmt"
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

// Sources of client settings, as ClientEndpoint.Sources names them, in the
// order they are trusted: what the provider documents, what the domain
// publishes in DNS (RFC 6186), what it serves over HTTPS (autoconfig),
// what the user typed, and last what the MX suggests.
const (
	SourceProvider    = "provider"
	SourceSRV         = "srv"
	SourceAutoconfig  = "autoconfig"
	SourceUser        = "user"
	SourceAlternative = "alternative" // tried because the user's settings failed
	SourceMXGuess     = "mx-guess"
)

var sourceRank = map[string]int{SourceProvider: 0, SourceSRV: 1, SourceAutoconfig: 2, SourceUser: 3, SourceAlternative: 4, SourceMXGuess: 5}

// discovery is everything Discover learned.
type discovery struct {
	domain    string
	endpoints []finding.ClientEndpoint
	findings  []finding.Finding
	provider  *Provider
	mxHosts   []string
	detail    []string
	// notOffered lists SRV services whose target is "." (RFC 2782: the
	// service is decidedly not available).
	notOffered []srvService
}

// Discover finds the client settings for address from, in order of trust:
// the built-in provider table (by the address domain or by its MX hosts),
// RFC 6186 / RFC 8314 SRV records, the Thunderbird autoconfig file, and,
// only when none of those gave anything, guesses from the MX host and the
// usual host names. Identical endpoints are merged, keeping every source;
// sources that prefer different settings for the same protocol are
// reported (login.sources-disagree). Every endpoint is returned untested.
func Discover(ctx context.Context, env *Env, address string) ([]finding.ClientEndpoint, []finding.Finding) {
	d := discover(ctx, env, address)
	return d.endpoints, d.findings
}

func discover(ctx context.Context, env *Env, address string) *discovery {
	local, domain := splitAddress(address)
	d := &discovery{domain: domain}

	// DNS and HTTPS sources are independent: ask them all at once.
	var (
		wg        sync.WaitGroup
		mx        []string
		mxErr     error
		srv       []srvEndpoint
		srvFind   []finding.Finding
		notOff    []srvService
		ac        *autoconfigResult
		srvDetail []string
	)
	wg.Go(func() { mx, mxErr = lookupMX(ctx, env.Resolver, domain) })
	wg.Go(func() { srv, notOff, srvFind, srvDetail = lookupSRV(ctx, env.Resolver, domain) })
	wg.Go(func() { ac = fetchAutoconfig(ctx, env, domain, address) })
	wg.Wait()
	d.mxHosts = mx
	d.notOffered = notOff
	d.findings = append(d.findings, srvFind...)
	d.detail = append(d.detail, srvDetail...)
	if mxErr != nil {
		d.findings = append(d.findings, dnsFinding(domain+" MX", finding.T("MX hosts not looked up, so a hosted provider or an MX-based guess could not be found"), mxErr))
	} else if len(mx) > 0 {
		d.detail = append(d.detail, "MX: "+strings.Join(mx, ", "))
	}

	var lists []sourced
	if p, how := providerFor(domain, mx); p != nil {
		d.provider = p
		var eps []finding.ClientEndpoint
		for _, pe := range p.Endpoints {
			eps = append(eps, finding.ClientEndpoint{Role: pe.Role, Protocol: pe.Protocol, Host: pe.Host,
				Port: pe.Port, TLS: pe.TLS, Username: expandUser(pe.Username, address, local, domain)})
		}
		lists = append(lists, sourced{SourceProvider, eps})
		f := finding.New("login.provider", domain, finding.T("%s mail is hosted by %s (recognised by %s)", domain, p.Name, how))
		f.Note(p.Note)
		d.findings = append(d.findings, f)
	}
	if len(srv) > 0 {
		var eps []finding.ClientEndpoint
		for _, s := range srv {
			eps = append(eps, s.ep)
		}
		lists = append(lists, sourced{SourceSRV, eps})
	}
	d.detail = append(d.detail, ac.detail...)
	if len(ac.endpoints) > 0 {
		lists = append(lists, sourced{SourceAutoconfig, ac.endpoints})
	}
	if len(lists) == 0 {
		guesses, detail := mxGuesses(ctx, env, domain, mx)
		d.detail = append(d.detail, detail...)
		if len(guesses) > 0 {
			lists = append(lists, sourced{SourceMXGuess, guesses})
		}
	}
	d.endpoints = merge(lists)
	if f, ok := disagreement(domain, lists, notOff); ok {
		d.findings = append(d.findings, f)
	}
	return d
}

// sourced is one source's endpoints, in its order of preference.
type sourced struct {
	source    string
	endpoints []finding.ClientEndpoint
}

// key identifies an endpoint for merging: the same service reached the
// same way, whoever named it.
func key(ep finding.ClientEndpoint) string {
	return ep.Protocol + "|" + strings.ToLower(strings.TrimSuffix(ep.Host, ".")) + "|" + strconv.Itoa(ep.Port) + "|" + ep.TLS
}

// merge joins the sources' lists, keeping the first position of each
// endpoint and every source that named it.
func merge(lists []sourced) []finding.ClientEndpoint {
	var out []finding.ClientEndpoint
	at := map[string]int{}
	for _, l := range lists {
		for _, ep := range l.endpoints {
			k := key(ep)
			if i, ok := at[k]; ok {
				if !slices.Contains(out[i].Sources, l.source) {
					out[i].Sources = append(out[i].Sources, l.source)
				}
				if out[i].Username == "" {
					out[i].Username = ep.Username
				}
				for _, a := range ep.Auth {
					if !slices.Contains(out[i].Auth, a) {
						out[i].Auth = append(out[i].Auth, a)
					}
				}
				continue
			}
			ep.Host = strings.ToLower(strings.TrimSuffix(ep.Host, "."))
			ep.Sources = []string{l.source}
			ep.Verdict = VerdictUntested
			at[k] = len(out)
			out = append(out, ep)
		}
	}
	return out
}

// disagreement reports sources that prefer different settings for the
// same protocol ("SRV says 993, autoconfig says 143"), and SRV records
// that say a service is not offered while another source lists it. A
// client that follows one source then behaves differently from one that
// follows the other, which is exactly the "works on my phone, not on my
// laptop" call support staff get.
func disagreement(domain string, lists []sourced, notOffered []srvService) (finding.Finding, bool) {
	var ev []finding.Text
	for _, proto := range []string{"imap", "pop3", "submission"} {
		type pref struct {
			source string
			ep     finding.ClientEndpoint
		}
		var prefs []pref
		for _, l := range lists {
			for _, ep := range l.endpoints {
				if ep.Protocol == proto {
					prefs = append(prefs, pref{l.source, ep})
					break
				}
			}
		}
		differ := false
		for _, p := range prefs[min(1, len(prefs)):] {
			differ = differ || key(p.ep) != key(prefs[0].ep)
		}
		if differ {
			for _, p := range prefs {
				ev = append(ev, prefers(p.source, describe(p.ep)))
			}
		}
	}
	for _, s := range notOffered {
		for _, l := range lists {
			if l.source == SourceSRV {
				continue
			}
			for _, ep := range l.endpoints {
				if ep.Protocol == s.protocol && ep.TLS == s.tls {
					ev = append(ev, listsNotOffered(s.name+"."+domain, l.source, describe(ep)))
				}
			}
		}
	}
	if len(ev) == 0 {
		return finding.Finding{}, false
	}
	f := finding.New("login.sources-disagree", domain, finding.T("The published client settings for %s disagree", domain))
	for _, e := range ev {
		f.Note(e)
	}
	return f, true
}

// prefers says which settings a source prefers for a protocol; one
// sentence per source, so that each reads naturally in every language.
func prefers(source string, settings finding.Text) finding.Text {
	switch source {
	case SourceProvider:
		return finding.T("provider prefers %s", settings)
	case SourceSRV:
		return finding.T("srv prefers %s", settings)
	case SourceAutoconfig:
		return finding.T("autoconfig prefers %s", settings)
	}
	return finding.T("mx-guess prefers %s", settings)
}

// listsNotOffered says that a source lists settings an SRV record (name)
// declares not offered.
func listsNotOffered(name, source string, settings finding.Text) finding.Text {
	switch source {
	case SourceProvider:
		return finding.T("SRV %s has target \".\" (not offered), but provider lists %s", name, settings)
	case SourceAutoconfig:
		return finding.T("SRV %s has target \".\" (not offered), but autoconfig lists %s", name, settings)
	}
	return finding.T("SRV %s has target \".\" (not offered), but mx-guess lists %s", name, settings)
}

// Describe renders an endpoint as support staff read settings to a user:
// "IMAP mail.example.com:993 SSL/TLS".
func Describe(ep finding.ClientEndpoint) string { return describe(ep).String() }

// describe is Describe as a Text: settings without encryption are named
// in the reader's language; the others are protocol, host, port and the
// label mail apps show in every language.
func describe(ep finding.ClientEndpoint) finding.Text {
	if ep.TLS == TLSNone {
		return finding.T("%s %s:%d no encryption", protocolLabel(ep.Protocol), ep.Host, ep.Port)
	}
	return finding.Verbatim(fmt.Sprintf("%s %s:%d %s", protocolLabel(ep.Protocol), ep.Host, ep.Port, TLSLabel(ep.TLS)))
}

func protocolLabel(p string) string {
	switch p {
	case "imap":
		return "IMAP"
	case "pop3":
		return "POP3"
	case "submission":
		return "SMTP"
	}
	return p
}

// tlsLabel is TLSLabel as a Text: "no encryption" is a word to translate,
// SSL/TLS and STARTTLS are the labels mail apps show in every language.
func tlsLabel(mode string) finding.Text {
	if mode == TLSNone {
		return finding.T("no encryption")
	}
	return finding.Verbatim(TLSLabel(mode))
}

// TLSLabel names a TLS mode the way mail apps label the setting.
func TLSLabel(mode string) string {
	switch mode {
	case TLSImplicit:
		return "SSL/TLS"
	case TLSStartTLS:
		return "STARTTLS"
	case TLSNone:
		return "no encryption"
	}
	return mode
}

// TLS modes of a ClientEndpoint.
const (
	TLSImplicit = "implicit"
	TLSStartTLS = "starttls"
	TLSNone     = "none"
)

// srvService is one RFC 6186 / RFC 8314 service label.
type srvService struct {
	name, role, protocol, tls string
}

// srvServices: RFC 6186 §3.1-3.3 and RFC 8314 §5.1 (the implicit-TLS
// labels _submissions, _imaps, _pop3s).
var srvServices = []srvService{
	{"_submissions._tcp", "outgoing", "submission", TLSImplicit},
	{"_submission._tcp", "outgoing", "submission", TLSStartTLS},
	{"_imaps._tcp", "incoming", "imap", TLSImplicit},
	{"_imap._tcp", "incoming", "imap", TLSStartTLS},
	{"_pop3s._tcp", "incoming", "pop3", TLSImplicit},
	{"_pop3._tcp", "incoming", "pop3", TLSStartTLS},
}

type srvEndpoint struct {
	ep               finding.ClientEndpoint
	priority, weight uint16
}

// lookupSRV asks every service label at once. Within a role the records
// are ordered by priority, then by weight, highest first: RFC 6186 §3.4
// makes IMAP and POP3 priorities comparable (the domain's preference
// between them) and RFC 8314 §5.1 does the same for implicit TLS and
// STARTTLS. RFC 2782's weighted random choice is replaced by a stable
// order, so that two runs report the same list.
func lookupSRV(ctx context.Context, r resolver.Resolver, domain string) ([]srvEndpoint, []srvService, []finding.Finding, []string) {
	results := make([][]srvEndpoint, len(srvServices))
	dots := make([]bool, len(srvServices))
	errs := make([]error, len(srvServices))
	var wg sync.WaitGroup
	for i, s := range srvServices {
		wg.Go(func() {
			ans, _, err := resolver.Follow(ctx, r, s.name+"."+domain, dns.TypeSRV)
			if err != nil {
				errs[i] = err
				return
			}
			for _, rr := range ans.RRs {
				v, ok := rr.(*dns.SRV)
				if !ok {
					continue
				}
				target := strings.ToLower(strings.TrimSuffix(v.Target, "."))
				if target == "" {
					// RFC 2782: a Target of "." means the service is
					// decidedly not available at this domain.
					dots[i] = true
					continue
				}
				if v.Port == 0 {
					continue // no service can listen on port 0
				}
				results[i] = append(results[i], srvEndpoint{
					ep:       finding.ClientEndpoint{Role: s.role, Protocol: s.protocol, Host: target, Port: int(v.Port), TLS: s.tls},
					priority: v.Priority, weight: v.Weight,
				})
			}
		})
	}
	wg.Wait()
	var all []srvEndpoint
	var notOffered []srvService
	var detail []string
	var fs []finding.Finding
	reported := false
	for i, s := range srvServices {
		all = append(all, results[i]...)
		for _, e := range results[i] {
			detail = append(detail, fmt.Sprintf("SRV %s.%s: priority %d weight %d → %s", s.name, domain, e.priority, e.weight, Describe(e.ep)))
		}
		if dots[i] && len(results[i]) == 0 {
			notOffered = append(notOffered, s)
			detail = append(detail, fmt.Sprintf("SRV %s.%s: target \".\": not offered", s.name, domain))
		}
		if errs[i] != nil && !reported {
			// One finding for the SRV names: they fail together when
			// the resolver does.
			fs = append(fs, dnsFinding(s.name+"."+domain+" SRV", finding.T("SRV records (RFC 6186) not read"), errs[i]))
			reported = true
		}
	}
	roleRank := map[string]int{"incoming": 0, "outgoing": 1}
	slices.SortStableFunc(all, func(a, b srvEndpoint) int {
		return cmp.Or(cmp.Compare(roleRank[a.ep.Role], roleRank[b.ep.Role]),
			cmp.Compare(a.priority, b.priority), cmp.Compare(b.weight, a.weight))
	})
	return all, notOffered, fs, detail
}

// lookupMX returns the MX hosts of domain, most preferred first, by the
// audit's one MX rule (facts.MX): a null MX (RFC 7505) and IP-literal
// targets yield none.
func lookupMX(ctx context.Context, r resolver.Resolver, domain string) ([]string, error) {
	mx := facts.LookupMX(ctx, r, domain)
	if mx.Lookup.Err != nil {
		return nil, mx.Lookup.Err
	}
	return mx.HostNames(), nil
}

// dnsFinding turns a failed lookup into "not checked" (outside the given
// zones) or "inconclusive" — never into "missing".
func dnsFinding(subject string, what finding.Text, err error) finding.Finding {
	if resolver.IsOutOfZone(err) {
		return finding.New("dns.not-checked", subject, finding.T("%s: outside the given zones and no --resolver was given", what))
	}
	return finding.New("dns.lookup-failed", subject, finding.T("%s: %s", what, err.Error()))
}

// mxGuesses are the settings a mail app would try when nothing is
// published: the MX host and the usual names, on the standard ports.
// Hosts without an address are dropped before anything is probed.
func mxGuesses(ctx context.Context, env *Env, domain string, mx []string) ([]finding.ClientEndpoint, []string) {
	type guess struct {
		host      string
		protocols []string
	}
	all := []string{"imap", "pop3", "submission"}
	var guesses []guess
	if len(mx) > 0 {
		guesses = append(guesses, guess{mx[0], all})
	}
	guesses = append(guesses, guess{"mail." + domain, all}, guess{"imap." + domain, []string{"imap"}},
		guess{"smtp." + domain, []string{"submission"}})
	// Resolve every host at once; keep those with an address.
	have := make([]bool, len(guesses))
	var wg sync.WaitGroup
	for i, g := range guesses {
		wg.Go(func() {
			if _, err := netip.ParseAddr(g.host); err == nil {
				have[i] = true
				return
			}
			addrs, _ := resolver.Addrs(ctx, env.Resolver, g.host)
			have[i] = len(addrs) > 0
		})
	}
	wg.Wait()
	var out []finding.ClientEndpoint
	var detail []string
	seen := map[string]bool{}
	for i, g := range guesses {
		if !have[i] {
			detail = append(detail, "guess: "+g.host+" has no address")
			continue
		}
		for _, proto := range g.protocols {
			for _, sp := range standardPorts(proto) {
				ep := finding.ClientEndpoint{Role: roleOf(proto), Protocol: proto, Host: g.host, Port: sp.port, TLS: sp.tls}
				if !seen[key(ep)] {
					seen[key(ep)] = true
					out = append(out, ep)
				}
			}
		}
	}
	return out, detail
}

type portMode struct {
	port int
	tls  string
}

// standardPorts are a protocol's ports, implicit TLS first: RFC 8314 §3.3
// (465), §3.2 (993, 995), RFC 6409 (587), RFC 9051 (143), RFC 1939 (110).
func standardPorts(protocol string) []portMode {
	switch protocol {
	case "imap":
		return []portMode{{993, TLSImplicit}, {143, TLSStartTLS}}
	case "pop3":
		return []portMode{{995, TLSImplicit}, {110, TLSStartTLS}}
	case "submission":
		return []portMode{{465, TLSImplicit}, {587, TLSStartTLS}}
	}
	return nil
}

func roleOf(protocol string) string {
	if protocol == "submission" {
		return "outgoing"
	}
	return "incoming"
}

// splitAddress splits a validated address at its last "@".
func splitAddress(address string) (local, domain string) {
	i := strings.LastIndexByte(address, '@')
	if i < 0 {
		return "", strings.ToLower(address)
	}
	return address[:i], strings.ToLower(strings.TrimSuffix(address[i+1:], "."))
}

// expandUser fills an autoconfig username template.
func expandUser(tmpl, address, local, domain string) string {
	r := strings.NewReplacer(phAddress, address, phLocalPart, local, "%EMAILDOMAIN%", domain)
	return r.Replace(tmpl)
}
