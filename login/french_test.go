package login

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/fixtures"
)

// loginText is what a reader sees of a triage written in language l: the
// titles, fixes and evidence of the login findings and the reason of every
// candidate setting (the REASON column).
func loginText(rep finding.Report, l finding.Lang) string {
	var b strings.Builder
	for _, f := range rep.Findings {
		if f.Area() != "login" && f.ID != "auth.none-offered" {
			continue // probe findings are the probe's own texts
		}
		f = f.In(l)
		b.WriteString(f.Title + "\n" + f.Fix + "\n" + strings.Join(f.Evidence, "\n") + "\n")
	}
	for _, c := range rep.Login.Candidates {
		b.WriteString(c.In(l).Reason + "\n")
	}
	return b.String()
}

// TestTriageInFrench runs support calls against the reference server and
// the provider table, and reads each report in English and in French:
// every sentence login builds — the attempt in titles, the reasons of the
// client-settings table, evidence sentences, the fixes naming settings,
// the provider notes — is in the English report (so the check is not
// vacuous) and in none of the French ones.
func TestTriageInFrench(t *testing.T) {
	type call struct {
		name string
		env  func(t *testing.T) *Env
		req  Request
	}
	ref := func(name string, faults ...fixtures.Fault) func(t *testing.T) *Env {
		return func(t *testing.T) *Env {
			_, env := startRef(t, name, 2*time.Second, faults...)
			return env
		}
	}
	dns := func(records ...string) func(t *testing.T) *Env {
		return func(*testing.T) *Env { return fakeEnv(records...) }
	}
	calls := []call{
		{"SSL/TLS on 143", ref(fixtures.Default), Request{Settings: &Settings{Port: 143, TLS: TLSImplicit}, Password: alicePassword}},
		{"STARTTLS on 993", ref(fixtures.Default), Request{Settings: &Settings{Port: 993, TLS: TLSStartTLS}}},
		{"wrong password", ref(fixtures.Default), Request{Settings: &Settings{Protocol: "imap"}, Password: "wrong " + alicePassword}},
		{"no encryption, login offered", ref("login-tls-required"), Request{Settings: &Settings{Port: 143, TLS: TLSNone}, Password: alicePassword}},
		{"no encryption, TLS required", ref("login-tls-required"), Request{Settings: &Settings{Port: 587, TLS: TLSNone}}},
		{"sources disagree", ref("login-srv-autoconfig-disagree"), Request{}},
		{"expired certificate", ref(fixtures.Default, fixtures.Fault{Name: "cert-expired"}), Request{Settings: &Settings{Protocol: "imap"}}},
		{"OAuth2 only", ref("oauth-only"), Request{}},
		{"Gmail address", dns(), Request{Address: "jean@gmail.com"}},
		{"Google Workspace by MX", dns("corp.test. 300 IN MX 1 aspmx.l.google.com."), Request{Address: "jean@corp.test"}},
		{"Proton Mail Bridge", dns(), Request{Address: "jean@proton.me"}},
	}
	// English sentences (or their telling parts) login used to pass to
	// reports as plain strings.
	english := []string{
		"Login to ", " refused: ", "server replied: ", "mechanism: ", "Working settings: ",
		"The settings ", " do not work: ", "does not speak SSL/TLS from the first byte", "expects SSL/TLS from the first byte",
		"what happened: ", "first bytes: ", "settings that work: ", "In the mail app, set the incoming server", "Also working: ",
		"no encryption", "cannot log in", "capabilities before TLS: ", "sends the password without encryption", "login offered before TLS: ",
		"In the mail app, set connection security to", "the server allows no login before TLS", "without encryption the password crosses",
		"srv prefers ", "autoconfig prefers ", "certificate error: ", "No working settings for incoming mail", "OAuth2 sign-in only",
		"recognised by the address domain", "Google refuses the account password", "the MX host ", "on the user's own computer",
	}
	var en, fr strings.Builder
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			req := c.req
			if req.Address == "" {
				req.Address = alice
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rep := Check(ctx, c.env(t), req)
			e, f := loginText(rep, finding.English), loginText(rep, finding.French)
			for _, s := range english {
				if strings.Contains(f, s) {
					t.Errorf("the French report still says %q:\n%s", s, f)
				}
			}
			en.WriteString(e)
			fr.WriteString(f)
		})
	}
	for _, s := range english {
		if !strings.Contains(en.String(), s) {
			t.Errorf("no call produced %q in English: the check of its French proves nothing", s)
		}
	}
	// A few French sentences as support staff read them.
	for _, want := range []string{
		"Les paramètres IMAP mail.example.test:143 SSL/TLS ne fonctionnent pas : le port 143 ne parle pas SSL/TLS dès le premier octet",
		"Dans l'application de messagerie, réglez le serveur entrant : mail.example.test, port 993, sécurité de la connexion SSL/TLS",
		"Connexion à IMAP mail.example.test:993 SSL/TLS en tant que alice@example.test refusée",
		"le serveur n'autorise aucune identification avant TLS : choisissez STARTTLS",
		"Avec SMTP mail.example.test:587 sans chiffrement, impossible de se connecter",
		"les enregistrements SRV privilégient IMAP mail.example.test:993 SSL/TLS",
		"(reconnu par le domaine de l'adresse gmail.com)",
	} {
		if !strings.Contains(fr.String(), want) {
			t.Errorf("the French reports lack %q:\n%s", want, fr.String())
		}
	}
}
