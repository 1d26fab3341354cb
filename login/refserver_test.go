package login

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailcheck-cli/mailcheck/dialer"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/fixtures"
	"github.com/mailcheck-cli/mailcheck/refserver"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

const (
	alice         = "alice@example.test"
	alicePassword = "correct horse battery staple"
)

// startRef serves a scenario and returns an Env that reaches it the way
// `mailcheck login --zone ... --port-map ... --ca ...` would: the
// scenario's zones as DNS, the server's ports, its CA.
func startRef(t *testing.T, name string, step time.Duration, faults ...fixtures.Fault) (*refserver.Server, *Env) {
	t.Helper()
	sc, err := fixtures.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	sc.Faults = append(sc.Faults, faults...)
	srv, err := refserver.Start(context.Background(), refserver.Options{Scenario: sc, TarpitDelay: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	zone, err := resolver.ScenarioZone(sc)
	if err != nil {
		t.Fatal(err)
	}
	r := resolver.NewCache(zone)
	d := &dialer.Dialer{Resolver: r, PortMap: srv.PortMap(), Roots: srv.CA().Pool(), StepTimeout: step}
	return srv, &Env{Resolver: r, Dialer: d, Now: time.Now, Verbose: true}
}

func check(t *testing.T, env *Env, req Request) finding.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if req.Address == "" {
		req.Address = alice
	}
	rep := Check(ctx, env, req)
	for _, f := range rep.Findings {
		if _, ok := finding.Lookup(f.ID); !ok {
			t.Errorf("finding %s is not in the catalogue", f.ID)
		}
	}
	assertNoSecret(t, rep, string(req.Password))
	seen := map[string]bool{}
	for _, p := range rep.Probes {
		k := p.Host + " " + p.Addr + " " + p.Protocol
		if seen[k] {
			t.Errorf("probed twice: %s", k)
		}
		seen[k] = true
	}
	return rep
}

// assertNoSecret: the password appears nowhere in the report, as is or in
// the base64 of a SASL PLAIN response or a LOGIN step.
func assertNoSecret(t *testing.T, rep finding.Report, password string) {
	t.Helper()
	if password == "" {
		return
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range secretForms(password) {
		if strings.Contains(string(b), secret) {
			t.Fatalf("the report holds the password (%q form):\n%s", secret, b)
		}
	}
}

func secretForms(password string) []string {
	return []string{password,
		base64.StdEncoding.EncodeToString([]byte("\x00" + alice + "\x00" + password)),
		base64.StdEncoding.EncodeToString([]byte(password))}
}

func has(fs []finding.Finding, id string, sev finding.Severity) bool {
	return slices.ContainsFunc(fs, func(f finding.Finding) bool { return f.ID == id && f.Severity == sev })
}

func byID(fs []finding.Finding, id string) *finding.Finding {
	for i := range fs {
		if fs[i].ID == id {
			return &fs[i]
		}
	}
	return nil
}

func list(fs []finding.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("  " + f.Severity.String() + " " + f.ID + " " + f.Subject + ": " + f.Title + "\n")
	}
	return b.String()
}

func recommended(rep finding.Report, role string) *finding.ClientEndpoint {
	for i, c := range rep.Login.Candidates {
		if c.Role == role && c.Recommended {
			return &rep.Login.Candidates[i]
		}
	}
	return nil
}

// The healthy domain: SRV and autoconfig agree, every candidate works, and
// the recommendation is implicit TLS (RFC 8314 §3.3) for both roles.
func TestDefaultScenarioSettings(t *testing.T) {
	_, env := startRef(t, fixtures.Default, 2*time.Second)
	rep := check(t, env, Request{})
	if rep.Login == nil || len(rep.Login.Candidates) != 6 {
		t.Fatalf("want the 6 SRV endpoints, got %+v", rep.Login)
	}
	in, out := recommended(rep, "incoming"), recommended(rep, "outgoing")
	if in == nil || in.Protocol != "imap" || in.Port != 993 || in.TLS != TLSImplicit || in.Host != "mail.example.test" {
		t.Errorf("recommended incoming = %+v, want IMAP mail.example.test:993 implicit", in)
	}
	if out == nil || out.Protocol != "submission" || out.Port != 465 || out.TLS != TLSImplicit {
		t.Errorf("recommended outgoing = %+v, want submission :465 implicit", out)
	}
	if c := rep.Login.Candidates; c[0].Verdict != VerdictRecommended || c[1].Verdict != VerdictRecommended {
		t.Errorf("recommended settings are not listed first: %+v", c)
	}
	for _, c := range rep.Login.Candidates {
		if c.Verdict == VerdictFails || c.Verdict == VerdictUntested {
			t.Errorf("%s: %s (%s)", Describe(c), c.Verdict, c.Reason)
		}
		// The server's own autoconfig lists four of the six: merged.
		if c.Port == 993 && !(slices.Contains(c.Sources, SourceSRV) && slices.Contains(c.Sources, SourceAutoconfig)) {
			t.Errorf("993 sources = %v, want srv and autoconfig merged", c.Sources)
		}
		if c.Username != alice {
			t.Errorf("%s: username %q, want the address (autoconfig %%EMAILADDRESS%%)", Describe(c), c.Username)
		}
	}
	for _, f := range rep.Findings {
		if f.Severity >= finding.Warn {
			t.Errorf("unexpected %s (%s) %s: %s", f.ID, f.Severity, f.Subject, f.Title)
		}
	}
	if !has(rep.Findings, "login.settings-found", finding.Info) || has(rep.Findings, "login.sources-disagree", finding.Info) {
		t.Errorf("findings:\n%s", list(rep.Findings))
	}
	if len(rep.Probes) != 6 {
		t.Errorf("%d probes, want one per candidate", len(rep.Probes))
	}
}

// The login outcome on each protocol, against the reference server's
// accounts and login faults.
func TestLoginOutcomes(t *testing.T) {
	type tc struct {
		scenario string
		protocol string
		password string
		id       string
		sev      finding.Severity
	}
	var tests []tc
	for _, proto := range []string{"imap", "pop3", "submission"} {
		tests = append(tests,
			tc{fixtures.Default, proto, alicePassword, IDOK, finding.Pass},
			tc{fixtures.Default, proto, "wrong " + alicePassword, IDAuthFailed, finding.Fail},
			tc{"login-app-password", proto, alicePassword, IDAppPasswordRequired, finding.Fail},
			tc{"login-basic-auth-disabled", proto, alicePassword, IDBasicAuthDisabled, finding.Fail},
			tc{"login-locked", proto, alicePassword, IDAccountLocked, finding.Fail},
		)
	}
	servers := map[string]*Env{}
	for _, tt := range tests {
		if servers[tt.scenario] == nil {
			_, servers[tt.scenario] = startRef(t, tt.scenario, 2*time.Second)
		}
	}
	for _, tt := range tests {
		t.Run(tt.scenario+"/"+tt.protocol+"/"+tt.id, func(t *testing.T) {
			t.Parallel()
			rep := check(t, servers[tt.scenario], Request{Settings: &Settings{Protocol: tt.protocol}, Password: Password(tt.password)})
			f := byID(rep.Findings, tt.id)
			if f == nil || f.Severity != tt.sev {
				t.Fatalf("want %s (%s), got:\n%s", tt.id, tt.sev, list(rep.Findings))
			}
			if f.Fix == "" || !strings.Contains(f.Subject, "mail.example.test:") {
				t.Errorf("%s has subject %q and fix %q", f.ID, f.Subject, f.Fix)
			}
			// One login, on the user's protocol, over implicit TLS.
			n := 0
			for _, g := range rep.Findings {
				if g.ID == tt.id {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d %s findings, want one login attempt", n, tt.id)
			}
			if tt.id == IDAppPasswordRequired && !strings.Contains(f.Fix, "application password") {
				t.Errorf("fix does not say to use an application password: %q", f.Fix)
			}
		})
	}
}

// The server refuses logins before TLS: a plaintext setting is reported
// as login.tls-required. Without --allow-insecure-auth the password is not
// sent; with it, the server's own refusal is classified.
func TestTLSRequired(t *testing.T) {
	_, env := startRef(t, "login-tls-required", 2*time.Second)
	t.Run("smtp 587 none: no AUTH before TLS, password not sent", func(t *testing.T) {
		rep := check(t, env, Request{Settings: &Settings{Port: 587, TLS: TLSNone}, Password: alicePassword})
		if !has(rep.Findings, IDTLSRequired, finding.Fail) || has(rep.Findings, "login.insecure-auth", finding.Warn) {
			t.Fatalf("findings:\n%s", list(rep.Findings))
		}
	})
	t.Run("imap 143 none: LOGIN offered, not sent without the flag", func(t *testing.T) {
		rep := check(t, env, Request{Settings: &Settings{Port: 143, TLS: TLSNone}, Password: alicePassword})
		if !has(rep.Findings, "login.insecure-auth", finding.Warn) || has(rep.Findings, IDTLSRequired, finding.Fail) || has(rep.Findings, IDOK, finding.Pass) {
			t.Fatalf("findings:\n%s", list(rep.Findings))
		}
	})
	t.Run("imap 143 none, allow insecure: NO [PRIVACYREQUIRED]", func(t *testing.T) {
		rep := check(t, env, Request{Settings: &Settings{Port: 143, TLS: TLSNone}, Password: alicePassword, AllowInsecureAuth: true})
		f := byID(rep.Findings, IDTLSRequired)
		if f == nil || !strings.Contains(strings.Join(f.Evidence, " "), "[PRIVACYREQUIRED]") || !has(rep.Findings, "login.insecure-auth", finding.Warn) {
			t.Fatalf("findings:\n%s", list(rep.Findings))
		}
	})
	t.Run("pop3 110 none, allow insecure: no USER before STLS, not sent", func(t *testing.T) {
		rep := check(t, env, Request{Settings: &Settings{Port: 110, TLS: TLSNone}, Password: alicePassword, AllowInsecureAuth: true})
		if !has(rep.Findings, IDTLSRequired, finding.Fail) || has(rep.Findings, "login.insecure-auth", finding.Warn) {
			t.Fatalf("findings:\n%s", list(rep.Findings))
		}
	})
}

// The seeds' most common failure: SSL/TLS on a STARTTLS port or the
// reverse. Each is detected by trying it, and the finding names the
// settings that work; the login then runs on those.
func TestWrongPort(t *testing.T) {
	_, env := startRef(t, fixtures.Default, time.Second)
	tests := []struct {
		port     int
		tls      string
		wantPort int
	}{
		{143, TLSImplicit, 993},
		{993, TLSStartTLS, 993},
		{110, TLSImplicit, 995},
		{995, TLSNone, 995},
		{587, TLSImplicit, 465},
		{465, TLSStartTLS, 465},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.port)+"/"+tt.tls, func(t *testing.T) {
			t.Parallel()
			rep := check(t, env, Request{Settings: &Settings{Port: tt.port, TLS: tt.tls}, Password: alicePassword})
			f := byID(rep.Findings, "login.wrong-port")
			if f == nil || f.Severity != finding.Fail {
				t.Fatalf("no login.wrong-port:\n%s", list(rep.Findings))
			}
			want := "port " + strconv.Itoa(tt.wantPort) + ", connection security SSL/TLS"
			if !strings.Contains(f.Fix, want) || f.Subject != "mail.example.test:"+strconv.Itoa(tt.port) {
				t.Errorf("subject %q fix %q, want it to name %q", f.Subject, f.Fix, want)
			}
			if !has(rep.Findings, IDOK, finding.Pass) {
				t.Errorf("no login on the working settings:\n%s", list(rep.Findings))
			}
			for _, g := range rep.Findings {
				if g.Severity >= finding.Warn && g.ID != "login.wrong-port" {
					t.Errorf("also %s (%s) %s: %s", g.ID, g.Severity, g.Subject, g.Title)
				}
			}
		})
	}
	t.Run("right settings: no wrong-port", func(t *testing.T) {
		rep := check(t, env, Request{Settings: &Settings{Port: 143, TLS: TLSStartTLS}, Password: alicePassword})
		if byID(rep.Findings, "login.wrong-port") != nil || !has(rep.Findings, IDOK, finding.Pass) {
			t.Fatalf("findings:\n%s", list(rep.Findings))
		}
		ok := byID(rep.Findings, IDOK)
		if !strings.Contains(ok.Subject, ":143") {
			t.Errorf("logged in on %s, not on the user's settings", ok.Subject)
		}
	})
}

// Every login-* scenario, run as the support call it describes: the
// findings of the login areas it expects come out, and no other login
// finding at warn or above.
func TestLoginScenarios(t *testing.T) {
	for _, name := range fixtures.Names() {
		if !strings.HasPrefix(name, "login-") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			sc, err := fixtures.Load(name)
			if err != nil {
				t.Fatal(err)
			}
			req, ok := ScenarioRequest(sc)
			if !ok || req.Address == "" {
				t.Fatal("a login scenario needs a support case and an account")
			}
			_, env := startRef(t, name, 2*time.Second)
			rep := check(t, env, req)
			m := sc.Compare(rep.Findings, func(area string) bool { return area == "login" })
			for _, e := range m.Missing {
				t.Errorf("expected %s (%s) not produced", e.ID, e.Severity)
			}
			for _, f := range m.Unexpected {
				t.Errorf("unexpected %s (%s) %s: %s", f.ID, f.Severity, f.Subject, f.Title)
			}
			if t.Failed() {
				t.Logf("findings:\n%s", list(rep.Findings))
			}
		})
	}
}

// SRV says 993 and 465 with implicit TLS; the autoconfig file says 143
// and 587 with STARTTLS: both are kept, the disagreement is reported with
// what each source prefers.
func TestSourcesDisagree(t *testing.T) {
	_, env := startRef(t, "login-srv-autoconfig-disagree", 2*time.Second)
	rep := check(t, env, Request{})
	f := byID(rep.Findings, "login.sources-disagree")
	if f == nil {
		t.Fatalf("findings:\n%s", list(rep.Findings))
	}
	ev := strings.Join(f.Evidence, "\n")
	for _, want := range []string{"srv prefers IMAP mail.example.test:993 SSL/TLS", "autoconfig prefers IMAP mail.example.test:143 STARTTLS",
		"srv prefers SMTP mail.example.test:465 SSL/TLS", "autoconfig prefers SMTP mail.example.test:587 STARTTLS"} {
		if !strings.Contains(ev, want) {
			t.Errorf("evidence lacks %q:\n%s", want, ev)
		}
	}
	for _, c := range rep.Login.Candidates {
		if c.Port == 143 && !slices.Equal(c.Sources, []string{SourceSRV, SourceAutoconfig}) {
			t.Errorf("143 sources %v", c.Sources)
		}
	}
}

// Nothing published: the MX host on the standard ports is guessed and
// probed; names without an address are not.
func TestMXGuess(t *testing.T) {
	_, env := startRef(t, "login-mx-guess", 2*time.Second)
	rep := check(t, env, Request{})
	if len(rep.Login.Candidates) != 6 {
		t.Fatalf("candidates %+v", rep.Login.Candidates)
	}
	for _, c := range rep.Login.Candidates {
		if !slices.Equal(c.Sources, []string{SourceMXGuess}) || c.Host != "mail.example.test" {
			t.Errorf("%s from %v", Describe(c), c.Sources)
		}
	}
	if in := recommended(rep, "incoming"); in == nil || in.Port != 993 {
		t.Errorf("recommended incoming %+v", in)
	}
}

// Autoconfig over HTTPS from the reference server, through the dialer
// (so --port-map and --ca apply), when no SRV record exists.
func TestAutoconfigFromRefserver(t *testing.T) {
	_, env := startRef(t, fixtures.Default, 2*time.Second)
	ac := fetchAutoconfig(context.Background(), env, "example.test", alice)
	if ac.url == "" || !strings.HasPrefix(ac.url, "https://autoconfig.example.test/mail/config-v1.1.xml?emailaddress=alice%40example.test") {
		t.Fatalf("url %q, detail %v", ac.url, ac.detail)
	}
	var got []string
	for _, ep := range ac.endpoints {
		got = append(got, Describe(ep)+" "+ep.Username)
	}
	want := []string{
		"IMAP mail.example.test:993 SSL/TLS " + alice,
		"POP3 mail.example.test:995 SSL/TLS " + alice,
		"SMTP mail.example.test:465 SSL/TLS " + alice,
		"SMTP mail.example.test:587 STARTTLS " + alice,
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// The seeds' "certificate error" row: every setting fails on the
// certificate, nothing is recommended, and the password is not sent to a
// server that may not be the real one — unless the user insists.
func TestCertificateError(t *testing.T) {
	_, env := startRef(t, fixtures.Default, 2*time.Second, fixtures.Fault{Name: "cert-self-signed"})
	rep := check(t, env, Request{Settings: &Settings{Protocol: "imap"}, Password: alicePassword})
	for _, c := range rep.Login.Candidates {
		if c.Verdict != VerdictFails || !strings.HasPrefix(c.Reason, "certificate error") {
			t.Errorf("%s: %s %q", Describe(c), c.Verdict, c.Reason)
		}
	}
	if !has(rep.Findings, "tls.cert-self-signed", finding.Fail) || !has(rep.Findings, "login.no-settings", finding.Fail) ||
		has(rep.Findings, IDOK, finding.Pass) || has(rep.Findings, IDAuthFailed, finding.Fail) {
		t.Fatalf("findings:\n%s", list(rep.Findings))
	}
	rep = check(t, env, Request{Settings: &Settings{Protocol: "imap"}, Password: alicePassword, AllowInsecureAuth: true})
	if !has(rep.Findings, IDOK, finding.Pass) || !has(rep.Findings, "login.insecure-auth", finding.Warn) {
		t.Fatalf("with --allow-insecure-auth, findings:\n%s", list(rep.Findings))
	}
}

// login ADDRESS --protocol P without --host judges only the settings of
// that protocol: a broken certificate on the submission ports is not this
// IMAP login's failure, and nothing of them is probed or reported.
func TestProtocolOnlyJudgesThatProtocol(t *testing.T) {
	_, env := startRef(t, fixtures.Default, 2*time.Second, fixtures.Fault{Name: "cert-expired", Ports: []int{465, 587}})
	rep := check(t, env, Request{Settings: &Settings{Protocol: "imap", TLS: TLSImplicit}, Password: alicePassword})
	if !has(rep.Findings, IDOK, finding.Pass) {
		t.Fatalf("no login.ok:\n%s", list(rep.Findings))
	}
	worst, _ := rep.Worst()
	if worst >= finding.Warn {
		t.Errorf("worst severity %s, want below warn:\n%s", worst, list(rep.Findings))
	}
	for _, c := range rep.Login.Candidates {
		if c.Protocol != "imap" {
			t.Errorf("candidate of another protocol: %+v", c)
		}
	}
	for _, p := range rep.Probes {
		if p.Protocol != "imap" && p.Protocol != "imaps" {
			t.Errorf("probed %s %s", p.Protocol, p.Addr)
		}
	}
	// Without --protocol, the same server's expired submission
	// certificate is reported.
	all := check(t, env, Request{})
	if !has(all.Findings, "tls.cert-expired", finding.Fail) {
		t.Errorf("without --protocol the expired certificate is not reported:\n%s", list(all.Findings))
	}
}
