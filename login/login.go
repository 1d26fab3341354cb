// Package login answers the support call "my mail app says login failed":
// which host, port and TLS mode a mail client should use for an address,
// whether each candidate setting works, what is wrong with the settings a
// user typed, and — given the password — why the server refuses the login.
//
// Discovery (Discover) reads, in order of trust, a built-in provider
// table, RFC 6186/8314 SRV records, the Thunderbird autoconfig file, and
// guesses from the MX host. Check then probes every candidate at once
// through the probe package (connection, TLS mode, certificate, AUTH
// mechanisms), recommends one incoming and one outgoing setting (implicit
// TLS first, RFC 8314 §3.3), tests the user's own settings and names the
// ones that work when they do not (login.wrong-port), and finally logs in
// with SASL PLAIN/LOGIN, IMAP LOGIN or POP3 USER/PASS and classifies the
// server's answer by its protocol codes.
//
// A password is never sent over a connection without TLS, nor over TLS
// whose certificate does not verify, unless Request.AllowInsecureAuth is
// set; it never appears in findings, details or transcripts.
package login

import (
	"context"
	"fmt"
	"time"

	"github.com/mailcheck-cli/mailcheck/dialer"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/probe"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// Env is what discovery and triage need from the run.
type Env struct {
	Resolver resolver.Resolver
	// Dialer connects (--port-map, --ca) and fetches autoconfig files.
	Dialer *dialer.Dialer
	// Now is the clock certificates are judged by; time.Now when nil.
	Now func() time.Time
	// Verbose keeps protocol transcripts (credentials redacted) and the
	// discovery log in the report.
	Verbose bool
}

func (e *Env) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Env) probeOptions() probe.Options {
	// TLS 1.0/1.1 acceptance is an admin's concern (mailcheck probe);
	// login triage saves those extra connections.
	return probe.Options{Dialer: e.Dialer, Resolver: e.Resolver, Verbose: e.Verbose, Now: e.Now, SkipLegacyTLS: true}
}

// Settings are what a user typed into the mail app. Zero fields are
// filled in: the port from the protocol and TLS mode, the TLS mode from the
// port (implicit on 993, 995 and 465, STARTTLS elsewhere), the host from
// the discovered settings.
type Settings struct {
	Host     string
	Port     int
	Protocol string // imap, pop3 or submission
	TLS      string // implicit, starttls or none
}

// Password is a secret: printing it with fmt or encoding it as JSON or
// text yields "<redacted>"; string(p) is the only way to the value.
type Password string

const redacted = "<redacted>"

func (Password) String() string                  { return redacted }
func (Password) GoString() string                { return redacted }
func (Password) MarshalText() ([]byte, error)    { return []byte(redacted), nil }
func (p Password) Format(f fmt.State, verb rune) { fmt.Fprint(f, redacted) }

// Request is one triage.
type Request struct {
	Address string // a validated address, domain in ASCII
	// Settings the user typed; nil when none were given.
	Settings *Settings
	// Username for the login; empty means the one the settings name
	// (provider or autoconfig), else the address.
	Username string
	// Password, when set, makes Check log in.
	Password Password
	// AllowInsecureAuth lets the password go over a connection without
	// TLS or with a certificate that does not verify (still reported).
	AllowInsecureAuth bool
}

// Verdicts of a ClientEndpoint.
const (
	VerdictRecommended = "recommended"
	VerdictWorks       = "works"
	VerdictFails       = "fails"
	VerdictUntested    = "untested"
)

// Check discovers, probes and judges the settings for req.Address, checks
// the user's settings and, given a password, logs in. The report's Login
// lists every candidate, recommended first.
func Check(ctx context.Context, env *Env, req Request) finding.Report {
	started := env.now()
	t := &triage{env: env, req: req}
	t.run(ctx)
	rep := finding.Report{
		Schema: finding.Schema, Target: req.Address, Started: started.UTC(),
		DurationMS: time.Since(started).Milliseconds(),
		Findings:   t.findings, Probes: t.probes,
		Login: &finding.LoginSettings{Address: req.Address, Candidates: t.table()},
	}
	if env.Verbose {
		rep.Detail = t.detail
	}
	return rep
}

// candidate is one endpoint under test.
type candidate struct {
	ep       finding.ClientEndpoint
	probe    *finding.Probe
	findings []finding.Finding
	// user marks the endpoint exactly as the user typed it; alt the
	// alternatives tried because of it.
	user, alt bool
	local     bool // on the user's computer (Proton Bridge): not probed
	// reason is why the candidate got its verdict (ep.Reason), for the
	// findings that quote it.
	reason finding.Text
}

// judged sets the candidate's verdict and the reason for it.
func (c *candidate) judged(verdict string, reason finding.Text) {
	c.ep.Verdict = verdict
	c.ep.SetReason(reason)
	c.reason = reason
}

func (c *candidate) only(sources ...string) bool {
	for _, s := range c.ep.Sources {
		found := false
		for _, x := range sources {
			found = found || s == x
		}
		if !found {
			return false
		}
	}
	return true
}

func (c *candidate) describe() finding.Text { return describe(c.ep) }

// subject names a candidate as probe findings do: "host:port".
func (c *candidate) subject() string { return fmt.Sprintf("%s:%d", c.ep.Host, c.ep.Port) }

// joinDescribe lists candidates' settings, separated by semicolons.
func joinDescribe(cs []*candidate) finding.Text {
	parts := make([]finding.Text, 0, len(cs))
	for _, c := range cs {
		parts = append(parts, c.describe())
	}
	return joinTexts(parts)
}

// joinTexts joins texts with "; " (" ; " in French), each written in the
// reader's language.
func joinTexts(ts []finding.Text) finding.Text {
	var out finding.Text
	for i, t := range ts {
		if i == 0 {
			out = t
			continue
		}
		out = finding.T("%s; %s", out, t)
	}
	return out
}
