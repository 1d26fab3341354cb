package probe

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"

	"github.com/mailcheck-cli/mailcheck/dialer"
	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/fixtures"
	"github.com/mailcheck-cli/mailcheck/refserver"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

const alicePassword = "correct horse battery staple"

// startRef starts the reference server for sc and returns probe options
// that reach it: its zones as resolver, its port map and its CA.
func startRef(t testing.TB, sc *fixtures.Scenario, step, tarpit time.Duration) (*refserver.Server, Options) {
	t.Helper()
	srv, err := refserver.Start(context.Background(), refserver.Options{Scenario: sc, TarpitDelay: tarpit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	zone, err := resolver.ScenarioZone(sc)
	if err != nil {
		t.Fatal(err)
	}
	d := &dialer.Dialer{Resolver: zone, PortMap: srv.PortMap(), Roots: srv.CA().Pool(), StepTimeout: step}
	return srv, Options{Dialer: d, Resolver: zone}
}

func loadScenario(t *testing.T, name string, faults ...fixtures.Fault) *fixtures.Scenario {
	t.Helper()
	sc, err := fixtures.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	sc.Faults = append(sc.Faults, faults...)
	return sc
}

// probeArea: the findings this package produces.
func probeArea(id string) bool {
	return strings.HasPrefix(id, "conn.") || strings.HasPrefix(id, "tls.") || strings.HasPrefix(id, "auth.")
}

func TestRefserverDefaultAllPorts(t *testing.T) {
	srv, o := startRef(t, loadScenario(t, fixtures.Default), 5*time.Second, time.Minute)
	o.Verbose = true
	probes, fs := Host(context.Background(), o, srv.MailHost(), nil, "")
	if len(probes) != len(DefaultPorts) {
		t.Fatalf("%d probes, want %d", len(probes), len(DefaultPorts))
	}
	for _, f := range fs {
		if f.Severity != finding.Pass {
			t.Errorf("%s %s (%s): %s", f.Subject, f.ID, f.Severity, f.Title)
		}
	}
	for _, p := range DefaultPorts {
		subject := fmt.Sprintf("mail.example.test:%d", p)
		for _, id := range []string{"conn.ok", "tls.ok", "auth.ok"} {
			if !slices.ContainsFunc(fs, func(f finding.Finding) bool { return f.ID == id && f.Subject == subject }) {
				t.Errorf("%s: no %s", subject, id)
			}
		}
	}
	if got := ids(fs)["ptr.ok"]; got != finding.Pass || !slices.ContainsFunc(fs, func(f finding.Finding) bool { return f.ID == "ptr.ok" }) {
		t.Errorf("ptr.ok missing: %v", fs)
	}
	for _, pr := range probes {
		if pr.Status != "ok" || pr.TLS == nil || !pr.TLS.Verified || len(pr.LegacyTLS) != 0 {
			t.Errorf("%s %s: status %s tls %+v legacy %v (%s)", pr.Protocol, pr.Addr, pr.Status, pr.TLS, pr.LegacyTLS, pr.Error)
		}
		if pr.Protocol != "smtp" && len(pr.AuthAfterTLS) == 0 {
			t.Errorf("%s: no AUTH after TLS", pr.Protocol)
		}
		if !slices.Equal(pr.PTR, []string{"mail.example.test"}) {
			t.Errorf("%s: PTR %v", pr.Protocol, pr.PTR)
		}
		if len(pr.Transcript) == 0 {
			t.Errorf("%s: no transcript with Verbose", pr.Protocol)
		}
		if strings.Contains(strings.Join(pr.Transcript, "\n"), alicePassword) {
			t.Errorf("%s: the transcript holds the password", pr.Protocol)
		}
	}
}

func TestRefserverMX(t *testing.T) {
	srv, o := startRef(t, loadScenario(t, fixtures.Default), 5*time.Second, time.Minute)
	mx := facts.GatherMX(context.Background(), o.Dialer.Resolver, srv.Domain())
	probes, fs := MX(context.Background(), o, &mx)
	if len(probes) != 1 || probes[0].Host != "mail.example.test" || probes[0].Protocol != "smtp" || probes[0].Status != "ok" {
		t.Fatalf("probes %+v", probes)
	}
	wantFindings(t, fs, map[string]finding.Severity{"conn.ok": finding.Pass, "tls.ok": finding.Pass, "auth.ok": finding.Pass})
	if !slices.Equal(probes[0].PTR, []string{"mail.example.test"}) {
		t.Errorf("PTR %v", probes[0].PTR)
	}
}

// faultCases pin what each reference-server fault must produce on the port
// it is switched on for; TestFixtureScenarios checks the scenario files.
var faultCases = []struct {
	fault  string
	port   int
	status string
	want   map[string]finding.Severity
}{
	{"cert-expired", 993, "ok", map[string]finding.Severity{"tls.cert-expired": finding.Fail}},
	{"cert-expiring", 465, "ok", map[string]finding.Severity{"tls.cert-expiring": finding.Warn}},
	{"cert-self-signed", 587, "ok", map[string]finding.Severity{"tls.cert-self-signed": finding.Fail}},
	{"cert-unknown-ca", 995, "ok", map[string]finding.Severity{"tls.cert-untrusted": finding.Fail}},
	{"cert-wrong-name", 25, "ok", map[string]finding.Severity{"tls.cert-hostname": finding.Fail}},
	{"cert-missing-intermediate", 143, "ok", map[string]finding.Severity{"tls.chain-incomplete": finding.Fail}},
	{"cert-weak-key", 110, "ok", map[string]finding.Severity{"tls.weak-key": finding.Fail}},
	{"tls-legacy", 993, "ok", map[string]finding.Severity{"tls.version-legacy": finding.Warn}},
	{"tls-legacy", 587, "ok", map[string]finding.Severity{"tls.version-legacy": finding.Warn}},
	{"no-starttls", 587, "ok", map[string]finding.Severity{"tls.starttls-missing": finding.Fail}},
	{"no-starttls", 143, "ok", map[string]finding.Severity{"tls.starttls-missing": finding.Fail}},
	{"no-starttls", 110, "ok", map[string]finding.Severity{"tls.starttls-missing": finding.Fail}},
	{"no-starttls", 25, "ok", map[string]finding.Severity{"tls.starttls-missing": finding.Fail}},
	{"auth-before-tls", 587, "ok", map[string]finding.Severity{"auth.plaintext-exposed": finding.Fail}},
	{"auth-before-tls", 143, "ok", map[string]finding.Severity{"auth.plaintext-exposed": finding.Fail}},
	{"auth-before-tls", 110, "ok", map[string]finding.Severity{"auth.plaintext-exposed": finding.Fail}},
	{"no-auth", 587, "ok", map[string]finding.Severity{"auth.none-offered": finding.Warn}},
	{"no-auth", 993, "ok", map[string]finding.Severity{"auth.none-offered": finding.Warn}},
	{"no-auth", 995, "ok", map[string]finding.Severity{"auth.none-offered": finding.Warn}},
	{"oauth-only", 465, "ok", map[string]finding.Severity{"auth.oauth-only": finding.Info}},
	{"oauth-only", 993, "ok", map[string]finding.Severity{"auth.oauth-only": finding.Info}},
	{"oauth-only", 995, "ok", map[string]finding.Severity{"auth.oauth-only": finding.Info}},
	{"busy-421", 25, "rate-limited", map[string]finding.Severity{"conn.rate-limited": finding.Error}},
	{"busy-421", 143, "rate-limited", map[string]finding.Severity{"conn.rate-limited": finding.Error}},
	{"busy-421", 110, "rate-limited", map[string]finding.Severity{"conn.rate-limited": finding.Error}},
	{"tarpit", 25, "timeout", map[string]finding.Severity{"conn.timeout": finding.Error}},
	{"tls-on-plain-port", 587, "protocol-error", map[string]finding.Severity{"conn.protocol": finding.Fail}},
	{"tls-on-plain-port", 110, "protocol-error", map[string]finding.Severity{"conn.protocol": finding.Fail}},
	{"plain-on-tls-port", 465, "protocol-error", map[string]finding.Severity{"conn.protocol": finding.Fail}},
	{"plain-on-tls-port", 993, "protocol-error", map[string]finding.Severity{"conn.protocol": finding.Fail}},
	{"close-mid-starttls", 587, "closed", map[string]finding.Severity{"conn.protocol": finding.Fail}},
	{"close-mid-starttls", 143, "closed", map[string]finding.Severity{"conn.protocol": finding.Fail}},
}

func TestRefserverFaults(t *testing.T) {
	for _, tc := range faultCases {
		t.Run(fmt.Sprintf("%s/%d", tc.fault, tc.port), func(t *testing.T) {
			sc := loadScenario(t, fixtures.Default, fixtures.Fault{Name: tc.fault, Ports: []int{tc.port}})
			step := 2 * time.Second
			if tc.fault == "tarpit" || tc.fault == "tls-on-plain-port" {
				step = 400 * time.Millisecond
			}
			srv, o := startRef(t, sc, step, time.Minute)
			o.Verbose = true
			start := time.Now()
			pr, fs := Run(context.Background(), o, Target{Host: srv.MailHost(), Port: tc.port})
			if d := time.Since(start); d > 2*step+time.Second {
				t.Errorf("took %v with a %v step", d, step)
			}
			want := map[string]finding.Severity{}
			for id, sev := range tc.want {
				want[id] = sev
			}
			wantFindings(t, fs, want)
			if pr.Status != tc.status {
				t.Errorf("status %q (%s), want %q", pr.Status, pr.Error, tc.status)
			}
			if tc.status != "ok" && pr.Error == "" {
				t.Error("a failed probe without Error")
			}
			if t.Failed() {
				t.Logf("transcript:\n%s", strings.Join(pr.Transcript, "\n"))
			}
		})
	}
}

// A tarpit keeps the probe no longer than its steps allow, reports an
// inconclusive timeout and leaves the other ports unharmed.
func TestRefserverTarpitHost(t *testing.T) {
	sc := loadScenario(t, fixtures.Default, fixtures.Fault{Name: "tarpit", Ports: []int{25}})
	step := time.Second
	srv, o := startRef(t, sc, step, time.Minute)
	start := time.Now()
	probes, fs := Host(context.Background(), o, srv.MailHost(), nil, "")
	if d := time.Since(start); d > step*3/2+time.Second {
		t.Errorf("took %v with a %v step", d, step)
	}
	for i, pr := range probes {
		f := slices.IndexFunc(fs, func(f finding.Finding) bool {
			return f.Subject == fmt.Sprintf("mail.example.test:%d", DefaultPorts[i]) && f.Severity != finding.Pass
		})
		switch {
		case pr.Protocol == "smtp":
			if pr.Status != "timeout" || !slices.ContainsFunc(fs, func(f finding.Finding) bool {
				return f.ID == "conn.timeout" && f.Subject == "mail.example.test:25"
			}) {
				t.Errorf("port 25: status %s, findings %v", pr.Status, fs)
			}
		case pr.Status != "ok" || f >= 0:
			t.Errorf("%s: status %s (%s), findings %v", pr.Protocol, pr.Status, pr.Error, fs)
		}
	}
}

// Every scenario that probes: the conn/tls/auth findings it expects come
// out of a Host probe with the right severity, and nothing else of those
// areas at warn or above.
func TestFixtureScenarios(t *testing.T) {
	for _, name := range fixtures.Names() {
		sc, err := fixtures.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		if !sc.Probe {
			continue
		}
		t.Run(name, func(t *testing.T) {
			// Steps long enough for a loaded machine under -race, short
			// enough for the tarpit (5 s) to time out.
			srv, o := startRef(t, sc, 1500*time.Millisecond, 5*time.Second)
			_, fs := Host(context.Background(), o, srv.MailHost(), nil, "")
			for _, e := range sc.Expect {
				if !probeArea(e.ID) {
					continue
				}
				if !slices.ContainsFunc(fs, func(f finding.Finding) bool {
					return f.ID == e.ID && f.Severity == e.Severity && strings.Contains(f.Subject, e.Subject)
				}) {
					t.Errorf("expected %s (%s) %q not produced", e.ID, e.Severity, e.Subject)
				}
			}
			for _, f := range fs {
				if !probeArea(f.ID) || f.Severity < finding.Warn {
					continue
				}
				if !slices.ContainsFunc(sc.Expect, func(e fixtures.Expectation) bool {
					return e.ID == f.ID && e.Severity == f.Severity && strings.Contains(f.Subject, e.Subject)
				}) {
					t.Errorf("unexpected %s (%s) %s: %s", f.ID, f.Severity, f.Subject, f.Title)
				}
			}
		})
	}
}

// Session is reusable for a login: each protocol authenticates with
// go-sasl mechanisms after TLS, a wrong password is a ReplyError, and the
// transcript never holds the password, plainly or in base64.
func TestRefserverAuthenticate(t *testing.T) {
	srv, o := startRef(t, loadScenario(t, fixtures.Default), 2*time.Second, time.Minute)
	o.Verbose = true
	user := "alice@example.test"
	secrets := []string{alicePassword,
		base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + alicePassword)),
		base64.StdEncoding.EncodeToString([]byte(alicePassword))}
	for _, port := range []int{587, 465, 143, 993, 110, 995} {
		for _, mech := range []string{"PLAIN", "LOGIN"} {
			for _, good := range []bool{true, false} {
				t.Run(fmt.Sprintf("%d/%s/%v", port, mech, good), func(t *testing.T) {
					ctx := context.Background()
					tgt := Target{Host: srv.MailHost(), Addr: netip.MustParseAddr("127.0.0.1"), Port: port}
					cfg := probeTLSConfig(tgt.Host, tls.VersionTLS12, tls.VersionTLS13)
					s, err := Open(ctx, o, tgt, cfg)
					if err != nil {
						t.Fatal(err)
					}
					defer s.Close(ctx)
					if s.TLS == nil {
						if err := s.Authenticate(ctx, sasl.NewPlainClient("", user, alicePassword), false); !errors.Is(err, ErrNotSecure) {
							t.Fatalf("authenticated in clear: %v", err)
						}
						if err := s.StartTLS(ctx, cfg); err != nil {
							t.Fatal(err)
						}
					}
					pass := alicePassword
					if !good {
						pass = "wrong " + pass
					}
					c := sasl.NewPlainClient("", user, pass)
					if mech == "LOGIN" {
						c = sasl.NewLoginClient(user, pass)
					}
					if slices.Contains(s.SASLMechanisms(), mech) {
						err = s.Authenticate(ctx, c, false)
					} else {
						// IMAP's LOGIN and POP3's USER/PASS commands.
						err = s.Login(ctx, user, pass, false)
					}
					var re *ReplyError
					switch {
					case good && err != nil:
						t.Errorf("login failed: %v", err)
					case !good && !errors.As(err, &re):
						t.Errorf("wrong password: err = %v, want a ReplyError", err)
					}
					tr := strings.Join(s.Transcript(), "\n")
					for _, secret := range secrets {
						if strings.Contains(tr, secret) {
							t.Errorf("transcript holds a credential:\n%s", tr)
						}
					}
					if !strings.Contains(tr, redacted) {
						t.Errorf("no redacted AUTH line in the transcript:\n%s", tr)
					}
				})
			}
		}
	}
}
