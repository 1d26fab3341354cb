package login

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/emersion/go-sasl"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/probe"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// loginAttempts logs in where a user would: with the user's settings when
// they work (else the best working settings on the same host), otherwise
// with the recommended incoming and outgoing settings. Each attempt is one
// login: a server that locks accounts after a few failures is not pushed
// towards it.
func (t *triage) loginAttempts(ctx context.Context) {
	targets := t.loginTargets()
	if len(targets) == 0 {
		t.detail = append(t.detail, "login: not attempted, no working settings to log in with")
		return
	}
	results := make([][]finding.Finding, len(targets))
	var wg sync.WaitGroup
	for i, c := range targets {
		wg.Go(func() { results[i] = t.attempt(ctx, c) })
	}
	wg.Wait()
	for _, fs := range results {
		t.findings = append(t.findings, fs...)
	}
}

func (t *triage) loginTargets() []*candidate {
	usable := func(c *candidate) bool {
		if c.ep.Verdict == VerdictWorks || c.ep.Verdict == VerdictRecommended {
			return true
		}
		// A certificate the client does not trust: the user may have
		// accepted it in the app; with --allow-insecure-auth, try.
		return t.req.AllowInsecureAuth && c.probe != nil && c.probe.Status == "ok"
	}
	if u := t.userCand; u != nil {
		if usable(u) {
			return []*candidate{u}
		}
		if w := t.working(u.ep.Protocol, u.ep.Host); len(w) > 0 {
			return w[:1]
		}
		return nil
	}
	var out []*candidate
	for _, role := range []string{"incoming", "outgoing"} {
		var best *candidate
		for _, c := range t.cands {
			if c.ep.Role != role || !usable(c) {
				continue
			}
			if t.req.Settings != nil && !c.user {
				continue // a bare --host: log in on that host
			}
			if best == nil || c.ep.Recommended || (!best.ep.Recommended && slices.Compare(rank(c), rank(best)) < 0) {
				best = c
			}
		}
		if best != nil {
			out = append(out, best)
		}
	}
	return out
}

// attempt opens a fresh session to c, upgrades it as the settings say, and
// logs in once.
func (t *triage) attempt(ctx context.Context, c *candidate) []finding.Finding {
	env, req := t.env, t.req
	subject := c.subject()
	user := t.username(c)
	what := finding.T("Login to %s as %s", c.describe(), user)

	var addr netip.Addr
	if a, err := netip.ParseAddr(c.ep.Host); err == nil {
		addr = a
	} else {
		addrs, err := resolver.Addrs(ctx, env.Resolver, c.ep.Host)
		if len(addrs) == 0 {
			f := finding.New(IDTemporaryFailure, subject, finding.T("%s not attempted: %s has no address", what, c.ep.Host))
			if err != nil {
				f.Evidence = append(f.Evidence, err.Error())
			} else {
				f.Note(finding.T("the name has no A or AAAA record"))
			}
			return []finding.Finding{f}
		}
		addr = addrs[0]
	}
	// Verified as a mail app would; Go checks an IP address ServerName
	// against the certificate's IP SANs and sends no SNI for it.
	cfg := env.Dialer.TLSConfig(c.ep.Host)
	insecureTLS := c.probe != nil && c.probe.TLS != nil && !c.probe.TLS.Verified
	if req.AllowInsecureAuth {
		// The user asked for it; the insecure-auth finding says what it
		// cost.
		cfg.InsecureSkipVerify = true
	}
	o := env.probeOptions()
	s, err := probe.Open(ctx, o, probe.Target{Host: c.ep.Host, Addr: addr, Port: c.ep.Port, Protocol: probeProtocol(c.ep)}, cfg)
	if s != nil {
		defer func() {
			s.Close(ctx)
			t.transcript(c, s)
		}()
	}
	if err == nil && c.ep.TLS == TLSStartTLS {
		if !s.OffersTLS() {
			return []finding.Finding{finding.New(IDTLSRequired, subject, finding.T("%s not attempted: the server offers no STARTTLS, and the password is not sent in clear", what))}
		}
		err = s.StartTLS(ctx, cfg)
	}
	if err != nil {
		return []finding.Finding{t.sessionFailure(subject, what, err)}
	}
	secure := s.TLS != nil
	var out []finding.Finding
	if !secure || insecureTLS {
		mechs := s.Mechanisms()
		if !secure && len(mechs) == 0 {
			if c == t.userCand {
				return nil // plaintextSettings has said so
			}
			f := finding.New(IDTLSRequired, subject,
				finding.T("%s: the server offers no login before TLS (RFC 8314 §4.1), so this setting cannot work", what))
			f.Note(finding.T("capabilities before TLS: %s", capsList(s)))
			return []finding.Finding{f}
		}
		why := finding.T("the connection is not encrypted")
		if secure {
			why = finding.T("the server's certificate does not verify")
		}
		if !req.AllowInsecureAuth {
			if c == t.userCand && !secure {
				return nil // plaintextSettings has said so
			}
			return []finding.Finding{finding.New("login.insecure-auth", subject,
				finding.T("%s not attempted: %s, and mailcheck does not send a password that an eavesdropper could read (--allow-insecure-auth overrides)", what, why))}
		}
		if c != t.userCand || secure {
			out = append(out, finding.New("login.insecure-auth", subject, finding.T("The password was sent although %s (--allow-insecure-auth)", why)))
		}
	}

	mech, err := t.login(ctx, s, c, user)
	switch {
	case errors.Is(err, errOAuthOnly):
		f := finding.New(IDBasicAuthDisabled, subject,
			finding.T("%s not attempted: the server offers only %s: OAuth2 sign-in is required, a password cannot work", what, strings.Join(s.SASLMechanisms(), ", ")))
		return append(out, t.withProviderFix(f))
	case errors.Is(err, errNoMechanism):
		f := finding.New("auth.none-offered", subject, finding.T("%s not attempted: the server offers no login mechanism", what))
		f.Note(finding.T("capabilities: %s", capsList(s)))
		return append(out, f)
	case err == nil:
		f := finding.New(IDOK, subject, finding.T("Logged in to %s as %s (%s)", c.describe(), user, mech))
		return append(out, f)
	}
	if r, ok := refusalOf(probeProtocol(c.ep), err); ok {
		id, why := ClassifyFor(r, secure, t.providerKey())
		f := finding.New(id, subject, finding.T("%s refused: %s", what, why))
		f.Note(finding.T("server replied: %s", r.Reply))
		f.Note(finding.T("mechanism: %s", mech))
		return append(out, t.withProviderFix(f))
	}
	return append(out, t.sessionFailure(subject, what, err))
}

var (
	errOAuthOnly   = errors.New("only OAuth2 mechanisms offered")
	errNoMechanism = errors.New("no login mechanism offered")
)

// login picks the mechanism a mail client would use with a password:
// SASL PLAIN (RFC 4616) first, which carries any character; then the
// protocol's own command (IMAP LOGIN, RFC 9051 §6.2.3; POP3 USER/PASS,
// RFC 1939 §7), then SASL LOGIN.
func (t *triage) login(ctx context.Context, s *probe.Session, c *candidate, user string) (string, error) {
	pass := string(t.req.Password)
	allow := t.req.AllowInsecureAuth
	saslMechs := s.SASLMechanisms()
	all := s.Mechanisms()
	family := family(probeProtocol(c.ep))
	switch {
	case slices.Contains(saslMechs, "PLAIN"):
		return "SASL PLAIN", s.Authenticate(ctx, sasl.NewPlainClient("", user, pass), allow)
	case family == "imap" && slices.Contains(all, "LOGIN"):
		return "IMAP LOGIN", s.Login(ctx, user, pass, allow)
	case family == "pop3" && (slices.Contains(all, "USER") || s.Caps().Len() == 0):
		// A server without CAPA (RFC 2449) announces nothing; USER/PASS
		// is what every RFC 1939 server understands.
		return "POP3 USER/PASS", s.Login(ctx, user, pass, allow)
	case slices.Contains(saslMechs, "LOGIN"):
		return "SASL LOGIN", s.Authenticate(ctx, sasl.NewLoginClient(user, pass), allow)
	case oauthOnly(saslMechs):
		return "", errOAuthOnly
	}
	return "", errNoMechanism
}

// sessionFailure explains an attempt that broke before the server judged
// the credentials: inconclusive about them.
func (t *triage) sessionFailure(subject string, what finding.Text, err error) finding.Finding {
	// err is the Go error of a failed session: data, kept as it is.
	msg := err.Error()
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return finding.New("conn.timeout", subject, finding.T("%s: timed out (inconclusive)", what), msg)
	}
	var re *probe.ReplyError
	if errors.As(err, &re) && re.Busy {
		return finding.New("conn.rate-limited", subject, finding.T("%s: the server is busy: %s", what, re.Reply))
	}
	if strings.Contains(msg, "certificate") {
		f := finding.New(IDTemporaryFailure, subject, finding.T("%s not attempted: the certificate does not verify, and the password is not sent to a server that may not be the real one", what), msg)
		f.Note(finding.T("fix the certificate (see the tls.* findings), or, if the user has accepted it in the app, run again with --allow-insecure-auth"))
		return f
	}
	return finding.New(IDTemporaryFailure, subject, finding.T("%s could not be completed", what), msg)
}

// providerKey is the address's provider's key in the pattern table, "" when
// the provider is not known.
func (t *triage) providerKey() string {
	if t.d.provider == nil {
		return ""
	}
	return t.d.provider.Key
}

// withProviderFix makes the fix the provider's own: the catalogue's fix
// for the provider when it has one, else the provider's page for
// application passwords, or OAuth2 for providers that require it.
func (t *triage) withProviderFix(f finding.Finding) finding.Finding {
	p := t.d.provider
	if p == nil {
		return f
	}
	// The catalogue's own fix for this provider, the one explain shows
	// for the same reply.
	if fix, ok := finding.ProviderFix(f.ID, p.Key); ok && p.Key != "" {
		f.SetFix(fix)
		return f
	}
	switch {
	case (f.ID == IDAppPasswordRequired || f.ID == IDAuthFailed) && !p.AppPasswordHelp.IsZero():
		f.SetFix(finding.T("Create an application password for this app (%s: %s) and use it instead of the account password.", p.Name, p.AppPasswordHelp))
		if f.ID == IDAuthFailed {
			f.SetFix(finding.T("Check the user name (the full address) and password; if the account has 2-step verification, create an application password for this app (%s: %s) and use it instead of the account password.", p.Name, p.AppPasswordHelp))
		}
	case p.Login == LoginOAuth && (f.ID == IDAuthFailed || f.ID == IDBasicAuthDisabled):
		f.SetFix(finding.T("%s accepts only OAuth2 sign-in from mail apps: use an app that offers \"Sign in with Microsoft\" (Outlook, Thunderbird, Apple Mail, Gmail app) and remove the password-based account.", p.Name))
	}
	return f
}

// transcript keeps the login dialogue for -v; the probe already redacts
// every line that carries a credential.
func (t *triage) transcript(c *candidate, s *probe.Session) {
	tr := s.Transcript()
	if len(tr) == 0 {
		return
	}
	lines := make([]string, 0, len(tr)+1)
	lines = append(lines, "login transcript, "+c.describe().String()+":")
	for _, l := range tr {
		lines = append(lines, "  "+l)
	}
	t.mu.Lock()
	t.detail = append(t.detail, lines...)
	t.mu.Unlock()
}

// capsList is the capabilities a server announced, as data, or says that
// it announced none.
func capsList(s *probe.Session) finding.Text {
	l := s.Caps().List()
	if len(l) == 0 {
		return finding.T("none announced")
	}
	return finding.Verbatim(strings.Join(l, ", "))
}
