package login

import (
	"cmp"
	"context"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/probe"
)

// triage is one Check in progress.
type triage struct {
	env *Env
	req Request
	d   *discovery

	cands    []*candidate
	userCand *candidate

	findings []finding.Finding
	probes   []finding.Probe
	mu       sync.Mutex // guards detail while logins run
	detail   []string
}

func (t *triage) run(ctx context.Context) {
	t.d = discover(ctx, t.env, t.req.Address)
	t.findings = append(t.findings, t.d.findings...)
	t.detail = append(t.detail, t.d.detail...)
	for _, ep := range t.d.endpoints {
		local := t.d.provider != nil && t.d.provider.Local && slices.Contains(ep.Sources, SourceProvider) && isLoopback(ep.Host)
		t.cands = append(t.cands, &candidate{ep: ep, local: local})
	}
	if t.req.Settings != nil {
		t.addUserSettings()
	}
	if u := t.userCand; u != nil {
		// The user asked about one protocol (--protocol or --port): the
		// settings of the others are not the question, and a broken
		// certificate on them is no failure of this login.
		t.cands = slices.DeleteFunc(t.cands, func(c *candidate) bool { return c.ep.Protocol != u.ep.Protocol })
	}
	t.probeAll(ctx)
	for _, c := range t.cands {
		judge(c)
	}
	// Alternatives are tried only when the typed settings fail: a
	// plaintext attempt on an implicit-TLS port costs a step timeout.
	if u := t.userCand; u != nil && (u.ep.Verdict == VerdictFails || u.ep.TLS == TLSNone) {
		t.addAlternatives()
		t.probeAll(ctx)
		for _, c := range t.cands {
			if c.alt {
				judge(c)
			}
		}
	}
	t.recommend()
	t.userFindings()
	t.summary()
	if t.req.Password != "" {
		t.loginAttempts(ctx)
	}
	t.probeFindings()
}

// isLoopback: a host on the user's own computer (Proton Mail Bridge).
func isLoopback(host string) bool {
	if a, err := netip.ParseAddr(host); err == nil {
		return a.IsLoopback()
	}
	return host == "localhost"
}

// add returns the candidate for ep, merging it into an existing one.
func (t *triage) add(ep finding.ClientEndpoint, source string) *candidate {
	ep.Host = strings.ToLower(strings.TrimSuffix(ep.Host, "."))
	for _, c := range t.cands {
		if key(c.ep) == key(ep) {
			if !slices.Contains(c.ep.Sources, source) {
				c.ep.Sources = append(c.ep.Sources, source)
			}
			return c
		}
	}
	ep.Sources = []string{source}
	ep.Verdict = VerdictUntested
	c := &candidate{ep: ep}
	t.cands = append(t.cands, c)
	return c
}

// addUserSettings completes the user's settings and adds them. When only
// a host was given, every standard client port of it is a user candidate.
func (t *triage) addUserSettings() {
	s := *t.req.Settings
	if s.Host == "" {
		s.Host = t.defaultHost(s.Protocol)
	}
	if s.Protocol == "" && s.Port == 0 {
		for _, proto := range []string{"imap", "pop3", "submission"} {
			for _, pm := range standardPorts(proto) {
				c := t.add(finding.ClientEndpoint{Role: roleOf(proto), Protocol: proto, Host: s.Host, Port: pm.port, TLS: pm.tls}, SourceUser)
				c.user = true
			}
		}
		return
	}
	s = CompleteSettings(s)
	ep := finding.ClientEndpoint{Role: roleOf(s.Protocol), Protocol: s.Protocol, Host: s.Host, Port: s.Port, TLS: s.TLS}
	t.userCand = t.add(ep, SourceUser)
	t.userCand.user = true
}

// addAlternatives adds, for typed settings that fail, the other TLS mode
// on the same port and the protocol's standard ports on the same host.
func (t *triage) addAlternatives() {
	ep := t.userCand.ep
	var alts []finding.ClientEndpoint
	for _, mode := range []string{TLSImplicit, TLSStartTLS} {
		if mode != ep.TLS {
			alts = append(alts, finding.ClientEndpoint{Role: ep.Role, Protocol: ep.Protocol, Host: ep.Host, Port: ep.Port, TLS: mode})
		}
	}
	for _, pm := range standardPorts(ep.Protocol) {
		alts = append(alts, finding.ClientEndpoint{Role: ep.Role, Protocol: ep.Protocol, Host: ep.Host, Port: pm.port, TLS: pm.tls})
	}
	for _, a := range alts {
		if key(a) == key(ep) {
			continue
		}
		c := t.add(a, SourceAlternative)
		if c.probe == nil {
			c.alt = true
		}
	}
}

// defaultHost is the host a user most likely typed when they gave only a
// port: the discovered host for the protocol, else the MX host, else
// mail.<domain>.
func (t *triage) defaultHost(protocol string) string {
	for _, c := range t.cands {
		if protocol == "" || c.ep.Protocol == protocol {
			if !c.local {
				return c.ep.Host
			}
		}
	}
	if len(t.d.mxHosts) > 0 {
		return t.d.mxHosts[0]
	}
	return "mail." + t.d.domain
}

// CompleteSettings fills the zero fields of typed settings: the protocol
// from a standard port, the TLS mode from the port (implicit TLS on 993,
// 995 and 465, RFC 8314 §3; STARTTLS elsewhere), the port from the
// protocol and TLS mode.
func CompleteSettings(s Settings) Settings {
	if s.Protocol == "" {
		switch s.Port {
		case 143, 993:
			s.Protocol = "imap"
		case 110, 995:
			s.Protocol = "pop3"
		default:
			s.Protocol = "submission"
		}
	}
	if s.TLS == "" {
		switch s.Port {
		case 993, 995, 465:
			s.TLS = TLSImplicit
		case 0:
			s.TLS = TLSImplicit
		default:
			s.TLS = TLSStartTLS
		}
	}
	if s.Port == 0 {
		ports := standardPorts(s.Protocol)
		s.Port = ports[0].port
		if s.TLS != TLSImplicit {
			s.Port = ports[1].port
		}
	}
	return s
}

// probeProtocol names the probe dialogue for an endpoint.
func probeProtocol(ep finding.ClientEndpoint) string {
	implicit := ep.TLS == TLSImplicit
	switch ep.Protocol {
	case "imap":
		if implicit {
			return "imaps"
		}
		return "imap"
	case "pop3":
		if implicit {
			return "pop3s"
		}
		return "pop3"
	}
	if implicit {
		return "smtps"
	}
	return "submission"
}

// probeAll probes every candidate at once, except those on the user's own
// computer. Candidates that differ only in STARTTLS versus no encryption
// share one probe: the dialogue is the same, only the judgement differs.
func (t *triage) probeAll(ctx context.Context) {
	o := t.env.probeOptions()
	type result struct {
		p  *finding.Probe
		fs []finding.Finding
	}
	results := map[string]*result{}
	for _, c := range t.cands {
		if c.probe != nil {
			results[probeKey(c.ep)] = &result{p: c.probe, fs: c.findings}
		}
	}
	var wg sync.WaitGroup
	for _, c := range t.cands {
		if c.local || c.probe != nil {
			continue
		}
		k := probeKey(c.ep)
		if results[k] != nil {
			continue
		}
		r := &result{p: &finding.Probe{}}
		results[k] = r
		wg.Go(func() {
			*r.p, r.fs = probe.Run(ctx, o, probe.Target{Host: c.ep.Host, Port: c.ep.Port, Protocol: probeProtocol(c.ep)})
		})
	}
	wg.Wait()
	for _, c := range t.cands {
		if r := results[probeKey(c.ep)]; r != nil && !c.local && c.probe == nil {
			c.probe, c.findings = r.p, slices.Clone(r.fs)
		}
	}
}

func probeKey(ep finding.ClientEndpoint) string {
	return ep.Host + "|" + strconv.Itoa(ep.Port) + "|" + probeProtocol(ep)
}

// oauthMechanisms carry a bearer token, not a password (RFC 7628).
var oauthMechanisms = map[string]bool{"XOAUTH2": true, "OAUTHBEARER": true}

func oauthOnly(mechs []string) bool {
	if len(mechs) == 0 {
		return false
	}
	for _, m := range mechs {
		if !oauthMechanisms[m] {
			return false
		}
	}
	return true
}

// judge sets a candidate's verdict and reason from its probe.
func judge(c *candidate) {
	if c.local {
		c.judged(VerdictUntested, finding.T("on the user's own computer (Proton Mail Bridge): not reachable from here"))
		return
	}
	p := c.probe
	if p == nil {
		c.judged(VerdictUntested, finding.T("not probed"))
		return
	}
	if p.Status != "ok" {
		verdict := VerdictFails
		if notChecked(c.findings) {
			verdict = VerdictUntested
		}
		c.judged(verdict, firstProblem(c.findings, p))
		return
	}
	mechs := p.AuthAfterTLS
	switch c.ep.TLS {
	case TLSStartTLS:
		if !p.StartTLS || p.TLS == nil {
			c.judged(VerdictFails, finding.T("no STARTTLS offered: the password would cross the network in clear"))
			return
		}
	case TLSNone:
		mechs = p.AuthBeforeTLS
		c.ep.Auth = mechs
		switch {
		case len(mechs) == 0 && p.StartTLS:
			c.judged(VerdictFails, finding.T("the server allows no login before TLS: set STARTTLS"))
		case len(mechs) == 0:
			c.judged(VerdictFails, finding.T("no login mechanism offered"))
		case p.StartTLS:
			c.judged(VerdictWorks, finding.T("without encryption the password crosses the network in clear: set STARTTLS, which the server offers"))
		default:
			c.judged(VerdictWorks, finding.T("without encryption the password crosses the network in clear"))
		}
		return
	}
	if p.TLS != nil && !p.TLS.Verified {
		c.judged(VerdictFails, finding.T("certificate error: %s", certProblem(c.findings, p)))
		return
	}
	c.ep.Auth = mechs
	switch {
	case len(mechs) == 0:
		c.judged(VerdictFails, finding.T("no login mechanism offered after TLS"))
	case oauthOnly(mechs):
		c.judged(VerdictWorks, finding.T("OAuth2 sign-in only (%s): passwords are refused", strings.Join(mechs, ", ")))
	default:
		c.judged(VerdictWorks, finding.Text{})
	}
}

func notChecked(fs []finding.Finding) bool {
	for _, f := range fs {
		if f.ID == "dns.not-checked" {
			return true
		}
	}
	return false
}

// firstProblem is the title of the first finding that says why a probe
// stopped.
func firstProblem(fs []finding.Finding, p *finding.Probe) finding.Text {
	for _, f := range fs {
		if f.Severity >= finding.Warn || f.ID == "dns.not-checked" {
			return f.TitleText()
		}
	}
	if p.Error != "" {
		return finding.T("%s: %s", statusWord(p.Status), p.Error)
	}
	return statusWord(p.Status)
}

// statusWord names a probe status for people (the report's probe table
// uses the same words).
func statusWord(status string) finding.Text {
	switch status {
	case "refused":
		return finding.T("refused")
	case "timeout":
		return finding.T("timeout")
	case "rate-limited":
		return finding.T("rate-limited")
	case "protocol-error":
		return finding.T("protocol-error")
	case "tls-failed":
		return finding.T("tls-failed")
	case "closed":
		return finding.T("closed")
	}
	return finding.Verbatim(status)
}

func certProblem(fs []finding.Finding, p *finding.Probe) finding.Text {
	for _, f := range fs {
		if strings.HasPrefix(f.ID, "tls.cert-") && f.Severity >= finding.Fail {
			return f.TitleText()
		}
	}
	return finding.Verbatim(p.TLS.VerifyError)
}

// rank orders working candidates: implicit TLS before STARTTLS before
// none (RFC 8314 §3.3, §4.1), password logins before OAuth2-only, IMAP
// before POP3 (the mail stays on the server for every device), then the
// discovery order (most trusted source first, SRV priority within it).
func rank(c *candidate) []int {
	tls := map[string]int{TLSImplicit: 0, TLSStartTLS: 1, TLSNone: 2}[c.ep.TLS]
	oauth := 0
	if oauthOnly(c.ep.Auth) {
		oauth = 1
	}
	proto := 0
	if c.ep.Protocol == "pop3" {
		proto = 1
	}
	src := 9
	for _, s := range c.ep.Sources {
		src = min(src, sourceRank[s])
	}
	return []int{oauth, tls, proto, src}
}

// recommend marks the best working candidate of each role.
func (t *triage) recommend() {
	for _, role := range []string{"incoming", "outgoing"} {
		var best *candidate
		for _, c := range t.cands {
			if c.ep.Role != role || c.ep.Verdict != VerdictWorks || c.ep.TLS == TLSNone {
				continue
			}
			if best == nil || slices.Compare(rank(c), rank(best)) < 0 {
				best = c
			}
		}
		if best != nil {
			best.ep.Verdict, best.ep.Recommended = VerdictRecommended, true
		}
	}
}

func (t *triage) recommended(role string) *candidate {
	for _, c := range t.cands {
		if c.ep.Role == role && c.ep.Recommended {
			return c
		}
	}
	return nil
}

// working lists the working candidates of a protocol on a host, best
// first.
func (t *triage) working(protocol, host string) []*candidate {
	var out []*candidate
	for _, c := range t.cands {
		if c.ep.Protocol == protocol && c.ep.Host == host && (c.ep.Verdict == VerdictWorks || c.ep.Verdict == VerdictRecommended) && c.ep.TLS != TLSNone {
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b *candidate) int { return slices.Compare(rank(a), rank(b)) })
	return out
}

// table is the report's candidate list: recommended first, then working,
// failing and untested ones, each group in discovery order. Alternatives
// tried for the user's settings are listed only when they work.
func (t *triage) table() []finding.ClientEndpoint {
	order := map[string]int{VerdictRecommended: 0, VerdictWorks: 1, VerdictFails: 2, VerdictUntested: 3}
	var cs []*candidate
	for _, c := range t.cands {
		if c.only(SourceAlternative) && c.ep.Verdict != VerdictWorks && c.ep.Verdict != VerdictRecommended {
			continue
		}
		cs = append(cs, c)
	}
	slices.SortStableFunc(cs, func(a, b *candidate) int {
		return cmp.Or(cmp.Compare(order[a.ep.Verdict], order[b.ep.Verdict]), cmp.Compare(roleOrder(a.ep.Role), roleOrder(b.ep.Role)))
	})
	out := make([]finding.ClientEndpoint, 0, len(cs))
	for _, c := range cs {
		ep := c.ep
		if ep.Username == "" {
			ep.Username = t.username(c)
		}
		out = append(out, ep)
	}
	return out
}

func roleOrder(role string) int {
	if role == "incoming" {
		return 0
	}
	return 1
}

// username is the login name for a candidate: --user, else what the
// settings' source names, else the address.
func (t *triage) username(c *candidate) string {
	if t.req.Username != "" {
		return t.req.Username
	}
	if c.ep.Username != "" {
		return c.ep.Username
	}
	return t.req.Address
}

// userFindings judges the settings the user typed: login.wrong-port when
// they fail and other settings on the same host work.
func (t *triage) userFindings() {
	u := t.userCand
	if u == nil || u.ep.Verdict == VerdictRecommended || u.ep.Verdict == VerdictUntested {
		return
	}
	var works []*candidate
	for _, c := range t.working(u.ep.Protocol, u.ep.Host) {
		if c != u {
			works = append(works, c)
		}
	}
	p := u.probe
	if p != nil && p.Status == "ok" && u.ep.TLS == TLSNone {
		t.plaintextSettings(u, works)
		return
	}
	if len(works) == 0 || u.ep.Verdict == VerdictWorks {
		return
	}
	if p == nil || p.Status == "ok" {
		// It connected in the mode typed; what failed is TLS, the
		// certificate or AUTH, which its own findings explain.
		return
	}
	title := finding.T("The settings %s do not work: %s", u.describe(), wrongPortWhy(u))
	f := finding.New("login.wrong-port", u.subject(), title)
	f.Note(finding.T("what happened: %s", u.reason))
	if p.Banner != "" {
		f.Note(finding.T("first bytes: %s", p.Banner))
	}
	f.Note(finding.T("settings that work: %s", joinDescribe(works)))
	best := works[0]
	f.SetFix(setServerFix(best, t.username(best)))
	if len(works) > 1 {
		f.SetFix(f.FixText().Append(finding.T(" Also working: %s.", joinDescribe(works[1:]))))
	}
	t.findings = append(t.findings, f)
	// The wrong-port finding says it all; the probe's conn.* finding
	// about the typed settings would only repeat it.
	u.findings = slices.DeleteFunc(u.findings, func(f finding.Finding) bool { return strings.HasPrefix(f.ID, "conn.") })
}

// plaintextSettings judges settings without encryption: a server that
// offers no login before TLS refuses them (login.tls-required, RFC 8314
// §4.1, RFC 3207 §4); one that does would get the password in clear
// (login.insecure-auth).
func (t *triage) plaintextSettings(u *candidate, works []*candidate) {
	p := u.probe
	var f finding.Finding
	if len(p.AuthBeforeTLS) == 0 {
		f = finding.New(IDTLSRequired, u.subject(),
			finding.T("%s cannot log in: the server offers no login before TLS", u.describe()))
		f.Note(finding.T("capabilities before TLS: %s", strings.Join(p.CapsBeforeTLS, ", ")))
	} else {
		title := finding.T("%s sends the password without encryption", u.describe())
		switch {
		case t.req.Password != "" && !t.req.AllowInsecureAuth:
			title = finding.T("%s sends the password without encryption; mailcheck did not send it (--allow-insecure-auth overrides)", u.describe())
		case t.req.Password != "":
			title = finding.T("%s sends the password without encryption; it was sent anyway (--allow-insecure-auth)", u.describe())
		}
		f = finding.New("login.insecure-auth", u.subject(), title)
		f.Note(finding.T("login offered before TLS: %s", strings.Join(p.AuthBeforeTLS, ", ")))
	}
	if len(works) > 0 {
		best := works[0]
		f.Note(finding.T("settings that work: %s", joinDescribe(works)))
		f.SetFix(setSecurityFix(best))
	}
	t.findings = append(t.findings, f)
}

// wrongPortWhy says why typed settings fail where others on the same
// host work.
func wrongPortWhy(u *candidate) finding.Text {
	port := u.ep.Port
	switch u.ep.TLS {
	case TLSImplicit:
		return finding.T("port %d does not speak SSL/TLS from the first byte", port)
	default:
		if u.probe != nil && (strings.Contains(u.probe.Error, "implicit TLS") || u.probe.Status == "timeout") {
			return finding.T("port %d expects SSL/TLS from the first byte (implicit TLS); set to %s, the app waits for a greeting that never comes", port, tlsLabel(u.ep.TLS))
		}
		return finding.T("port %d does not answer %s with %s", port, protocolLabel(u.ep.Protocol), tlsLabel(u.ep.TLS))
	}
}

// setServerFix tells the user to type the settings of c into the mail
// app; one sentence per role, so that each reads naturally in every
// language.
func setServerFix(c *candidate, user string) finding.Text {
	if c.ep.Role == "incoming" {
		return finding.T("In the mail app, set the incoming server %s, port %d, connection security %s (user name %s).", c.ep.Host, c.ep.Port, tlsLabel(c.ep.TLS), user)
	}
	return finding.T("In the mail app, set the outgoing (SMTP) server %s, port %d, connection security %s (user name %s).", c.ep.Host, c.ep.Port, tlsLabel(c.ep.TLS), user)
}

// setSecurityFix tells the user to change the connection security to
// that of c.
func setSecurityFix(c *candidate) finding.Text {
	if c.ep.Role == "incoming" {
		return finding.T("In the mail app, set connection security to %s on port %d (the incoming server %s).", tlsLabel(c.ep.TLS), c.ep.Port, c.ep.Host)
	}
	return finding.T("In the mail app, set connection security to %s on port %d (the outgoing (SMTP) server %s).", tlsLabel(c.ep.TLS), c.ep.Port, c.ep.Host)
}

// summary says whether working settings were found for each role.
func (t *triage) summary() {
	domain := t.d.domain
	if len(t.cands) == 0 {
		t.findings = append(t.findings, finding.New("login.no-settings", domain,
			finding.T("No client settings found for %s: no known provider, no SRV records, no autoconfig file, and no mail host answers", domain)))
		return
	}
	var have []finding.Text
	var missing []string
	roles := []string{"incoming", "outgoing"}
	if t.userCand != nil {
		// The user asked about one setting: the other role is not the
		// question, and its absence is no failure of theirs.
		roles = []string{t.userCand.ep.Role}
	}
	for _, role := range roles {
		if c := t.recommended(role); c != nil {
			have = append(have, c.describe())
			continue
		}
		if t.roleUntested(role) {
			continue
		}
		missing = append(missing, role)
	}
	if len(missing) > 0 {
		var title finding.Text
		switch {
		case len(missing) == 2:
			title = finding.T("No working settings for incoming mail (IMAP/POP3) or sending (SMTP) of %s", t.req.Address)
		case missing[0] == "incoming":
			title = finding.T("No working settings for incoming mail (IMAP/POP3) of %s", t.req.Address)
		default:
			title = finding.T("No working settings for sending (SMTP) of %s", t.req.Address)
		}
		t.findings = append(t.findings, finding.New("login.no-settings", domain, title))
	}
	if len(have) > 0 {
		t.findings = append(t.findings, finding.New("login.settings-found", domain,
			finding.T("Working settings: %s", joinTexts(have))))
	}
}

// roleUntested: every candidate of the role is untested (Proton Bridge,
// hosts outside the given zones) — nothing is known to fail.
func (t *triage) roleUntested(role string) bool {
	any := false
	for _, c := range t.cands {
		if c.ep.Role != role {
			continue
		}
		any = true
		if c.ep.Verdict != VerdictUntested {
			return false
		}
	}
	return any
}

// probeFindings adds what the probes found. Failed guesses, failed
// alternatives and the ports tried for a bare --host only ever were
// possibilities: their refused connections are in the candidate table and
// the probes, not findings.
func (t *triage) probeFindings() {
	seenProbe := map[*finding.Probe]bool{}
	seen := map[string]bool{}
	for _, c := range t.cands {
		if c.probe != nil && !seenProbe[c.probe] {
			seenProbe[c.probe] = true
			t.probes = append(t.probes, *c.probe)
		}
		hostOnly := c.user && t.userCand == nil && c.only(SourceUser)
		if (hostOnly || c.only(SourceMXGuess, SourceAlternative)) && c.ep.Verdict == VerdictFails && c.probe != nil && c.probe.Status != "ok" {
			continue
		}
		for _, f := range c.findings {
			k := f.ID + "|" + f.Subject + "|" + f.Title
			if !seen[k] {
				seen[k] = true
				t.findings = append(t.findings, f)
			}
		}
	}
}
