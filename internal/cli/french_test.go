package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/fixtures"
	"github.com/mailcheck-cli/mailcheck/refserver"
)

// loginRows are the rows of the client-settings table whose first column
// is one of roles.
func loginRows(out string, roles ...string) []string {
	var rows []string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			for _, r := range roles {
				if f[0] == r {
					rows = append(rows, l)
				}
			}
		}
	}
	return rows
}

// TestLoginReportInFrench: `mailcheck login --lang fr` against the
// reference server, as a French support agent reads it: the titles, fixes,
// evidence and the REASON column are French, and none of the sentences
// login builds is left in English.
func TestLoginReportInFrench(t *testing.T) {
	englishSentences := []string{"In the mail app", "what happened:", "settings that work:", "first bytes:", "Login to ", "refused:",
		"server replied:", "mechanism:", "Working settings", "No working settings", "certificate error", "the server allows no login",
		"no encryption", "cannot log in", "capabilities before TLS:", "does not speak SSL/TLS"}
	tests := []struct {
		name     string
		scenario string
		stdin    string
		args     []string
		want     []string // in the French report
		reason   string   // the REASON of the typed settings' row, which names port
		port     string
	}{
		{
			name: "SSL/TLS on the STARTTLS port", scenario: fixtures.Default, stdin: loginPassword + "\n",
			args: []string{"--port", "143", "--tls", "implicit", "--password-stdin"},
			want: []string{
				"Les paramètres IMAP mail.example.test:143 SSL/TLS ne fonctionnent pas : le port 143 ne parle pas SSL/TLS dès le premier octet",
				"correction : Dans l'application de messagerie, réglez le serveur entrant : mail.example.test, port 993, sécurité de la connexion SSL/TLS (nom d'utilisateur alice@example.test). Fonctionnent aussi : IMAP mail.example.test:143 STARTTLS.",
				"paramètres qui fonctionnent : IMAP mail.example.test:993 SSL/TLS ; IMAP mail.example.test:143 STARTTLS",
				"premiers octets reçus : * OK",
				"Connecté à IMAP mail.example.test:993 SSL/TLS en tant que alice@example.test (SASL PLAIN)",
			},
		},
		{
			name: "wrong password", scenario: fixtures.Default, stdin: "wrong " + loginPassword + "\n",
			args: []string{"--protocol", "imaps", "--password-stdin"},
			want: []string{
				"Connexion à IMAP mail.example.test:993 SSL/TLS en tant que alice@example.test refusée : le serveur a refusé le nom d'utilisateur ou le mot de passe ([AUTHENTICATIONFAILED])",
				"réponse du serveur : a1 NO [AUTHENTICATIONFAILED]",
				"mécanisme : SASL PLAIN",
				"Paramètres fonctionnels : IMAP mail.example.test:993 SSL/TLS",
			},
		},
		{
			name: "no encryption where TLS is required", scenario: "login-tls-required",
			args: []string{"--port", "587", "--tls", "none"},
			want: []string{
				"Avec SMTP mail.example.test:587 sans chiffrement, impossible de se connecter : le serveur ne propose aucune identification avant TLS",
				"capacités annoncées avant TLS : ",
			},
			reason: "le serveur n'autorise aucune identification avant TLS : choisissez STARTTLS", port: "587",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flags := loginFlags(t, tt.scenario)
			args := append(append([]string{"login", "alice@example.test", "--lang", "fr"}, tt.args...), flags...)
			r := runLogin(t, tt.stdin, nil, args...)
			if r.code == ExitUsage || !strings.Contains(r.out, "Paramètres du client de messagerie pour alice@example.test") {
				t.Fatalf("exit %d\n%s%s", r.code, r.out, r.errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.out, w) {
					t.Errorf("the French report lacks %q:\n%s", w, r.out)
				}
			}
			for _, e := range englishSentences {
				if strings.Contains(r.out, e) {
					t.Errorf("the French report still says %q:\n%s", e, r.out)
				}
			}
			if tt.reason != "" {
				found := false
				for _, row := range loginRows(r.out, "entrant", "sortant") {
					if strings.Contains(row, " "+tt.port+" ") {
						found = found || strings.HasSuffix(row, tt.reason)
					}
				}
				if !found {
					t.Errorf("no row for port %s with the reason %q:\n%s", tt.port, tt.reason, r.out)
				}
			}
		})
	}
	// The same call in English reads as before.
	flags := loginFlags(t, "login-tls-required")
	r := runLogin(t, "", nil, append([]string{"login", "alice@example.test", "--port", "587", "--tls", "none"}, flags...)...)
	if !strings.Contains(r.out, "SMTP mail.example.test:587 no encryption cannot log in: the server offers no login before TLS") ||
		!strings.Contains(r.out, "the server allows no login before TLS: set STARTTLS") {
		t.Errorf("English report:\n%s", r.out)
	}
}

// Bad input to login is told in French with --lang fr, still on one line
// and with exit 2.
func TestLoginUsageErrorsInFrench(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"login"}, "donnez une seule adresse"},
		{[]string{"login", "example.com"}, `adresse "example.com" invalide : attendu utilisateur@domaine`},
		{[]string{"login", "alice@example.com", "--port", "70000"}, "--port 70000 incorrect"},
		{[]string{"login", "alice@example.com", "--tls", "maybe"}, `--tls "maybe" inconnu`},
		{[]string{"login", "alice@example.com", "--password", "hunter2hunter2"}, "un mot de passe sur la ligne de commande est visible"},
		{[]string{"login", "alice@example.com", "--password-env", "NOPE"}, "la variable n'est pas définie ou est vide"},
		{[]string{"login", "alice@example.com", "--password-stdin"}, "l'entrée standard est vide"},
	} {
		r := runLogin(t, "", nil, append(tt.args, "--lang", "fr")...)
		if r.code != ExitUsage || strings.Count(strings.TrimSpace(r.errOut), "\n") != 0 || !strings.Contains(r.errOut, tt.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tt.args, r.code, r.errOut, tt.want)
		}
	}
}

// explain's own messages — the unknown text, bad input, the severity and
// the bounce's action — are French with --lang fr, English without.
func TestExplainMessagesInFrench(t *testing.T) {
	r := run(t, nil, "explain", "--lang", "fr", "the printer is on fire")
	if !strings.Contains(r.out, "mailcheck ne reconnaît pas ce message.") || strings.Contains(r.out, "does not recognise") {
		t.Errorf("unknown text in French:\n%s", r.out)
	}
	r = run(t, nil, "explain", "--lang", "fr", "spf.lookup-limit")
	if !strings.HasPrefix(r.out, "spf.lookup-limit (échec ou avertissement) : ") {
		t.Errorf("entry heading in French:\n%s", r.out)
	}
	if r := run(t, nil, "explain", "spf.lookup-limit"); !strings.HasPrefix(r.out, "spf.lookup-limit (fail or warn): ") {
		t.Errorf("entry heading in English:\n%s", r.out)
	}
	list := run(t, nil, "explain", "--list", "--lang", "fr").out
	if !strings.Contains(list, "avertissement") || strings.Contains(list, " warn ") {
		t.Errorf("--list in French names severities in English:\n%s", list)
	}
	bounce := "Final-Recipient: rfc822; bob@example.org\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\n"
	r = runStdin(t, bounce, nil, "explain", "-", "--lang", "fr")
	if !strings.Contains(r.out, "bob@example.org : échec définitif, statut 5.1.1") {
		t.Errorf("bounce in French:\n%s", r.out)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"explain"}, "rien à expliquer"},
		{[]string{"explain", "spf.nonsense"}, `identifiant de constat "spf.nonsense" inconnu`},
		{[]string{"explain", "--format", "xml", "x"}, `--format "xml" inconnu pour explain`},
		{[]string{"explain", "-", "and", "text"}, "pas les deux"},
	} {
		r := runStdin(t, "x", nil, append(tt.args, "--lang", "fr")...)
		if r.code != ExitUsage || !strings.Contains(r.errOut, tt.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tt.args, r.code, r.errOut, tt.want)
		}
	}
}

// selftest's table, in French and in English, for a passing run and for
// a failing row.
func TestSelftestInFrench(t *testing.T) {
	r := run(t, nil, "selftest", "default", "--lang", "fr")
	for _, want := range []string{"SCÉNARIO", "RÉSULTAT", "DURÉE", "DÉTAILS", "réussis : 1, en échec : 0"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("French selftest lacks %q:\n%s", want, r.out)
		}
	}
	if strings.Contains(r.out, "passed") || strings.Contains(r.out, "SCENARIO") {
		t.Errorf("French selftest has English:\n%s", r.out)
	}
	if r := run(t, nil, "selftest", "nope", "--lang", "fr"); r.code != ExitUsage || !strings.Contains(r.errOut, `scénario "nope" inconnu`) {
		t.Errorf("unknown scenario: exit %d, %q", r.code, r.errOut)
	}

	failing := []ScenarioResult{{
		Scenario:   "mx-cname",
		missing:    []fixtures.Expectation{{ID: "mx.cname", Severity: finding.Fail, Subject: "example.test"}, {ID: "spf.ok", Severity: finding.Pass}},
		unexpected: []finding.Finding{{ID: "mx.missing", Severity: finding.Warn, Subject: "example.test MX"}},
		Error:      "dial tcp: refused",
		Findings:   []finding.Finding{{ID: "mx.missing", Severity: finding.Warn, Subject: "example.test MX"}},
	}}
	for _, tt := range []struct {
		lang finding.Lang
		want []string
	}{
		{finding.English, []string{"SCENARIO  RESULT", "mx-cname  FAIL", "error: dial tcp: refused; missing: mx.cname (fail) on example.test, spf.ok (pass); unexpected: mx.missing (warn) on example.test MX",
			"\nmx-cname produced:\n  warn  mx.missing                   example.test MX\n", "\n0 passed, 1 failed\n"}},
		{finding.French, []string{"SCÉNARIO  RÉSULTAT", "mx-cname  ÉCHEC", "erreur : dial tcp: refused; manquants : mx.cname (échec) sur example.test, spf.ok (succès); inattendus : mx.missing (avertissement) sur example.test MX",
			"\nmx-cname a produit :\n  avertissement mx.missing                   example.test MX\n", "\nréussis : 0, en échec : 1\n"}},
	} {
		var out bytes.Buffer
		printSelftest(&SelftestOptions{IO: &IOStreams{Out: &out, Lang: tt.lang}, Verbose: true}, failing, 1)
		for _, w := range tt.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s: the table lacks %q:\n%s", tt.lang, w, out.String())
			}
		}
	}
}

// serve prints its endpoints and instructions in French with --lang fr,
// and the command line it prints audits in French too.
func TestServeInFrench(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out bytes.Buffer
	ready := make(chan *refserver.Server, 1)
	done := make(chan error, 1)
	go func() {
		done <- serveRun(ctx, &ServeOptions{
			IO: &IOStreams{Out: &out, ErrOut: &out, Getenv: os.Getenv, Lang: finding.French}, Scenario: fixtures.Default,
			CAOut: filepath.Join(t.TempDir(), "ca.pem"), Accounts: []string{"alice:pw"}, Ready: func(s *refserver.Server) { ready <- s },
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("serve stopped: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not start")
	}
	printed := out.String()
	for _, want := range []string{"Serveur de référence mailcheck : scénario \"default\"", "  certificat de l'autorité de certification : ",
		"  comptes : alice\n", "\nPour l'auditer :\n  mailcheck domain example.test ", "\nAppuyez sur Ctrl-C pour l'arrêter.\n"} {
		if !strings.Contains(printed, want) {
			t.Errorf("serve's French output lacks %q:\n%s", want, printed)
		}
	}
	var line string
	for _, l := range strings.Split(printed, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "mailcheck domain ") {
			line = strings.TrimSpace(l)
		}
	}
	if !strings.HasSuffix(line, " --lang fr") {
		t.Fatalf("the printed command does not keep the language: %q", line)
	}
	r := run(t, nil, strings.Fields(line)[1:]...)
	if r.code != ExitOK || !strings.Contains(r.out, "Sondes") {
		t.Errorf("the printed command %q: exit %d\n%s%s", line, r.code, r.out, r.errOut)
	}
	cancel()
	<-done

	if r := run(t, nil, "serve", "--list", "--lang", "fr"); !strings.Contains(r.out, " serveur ") {
		t.Errorf("serve --list in French:\n%s", r.out)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--scenario", "nope"}, `scénario "nope" inconnu (mailcheck serve --list les liste tous)`},
		{[]string{"serve", "--base-port", "70000"}, "doivent rester sous 65536"},
		{[]string{"serve", "--account", "alice"}, "--account incorrect"},
	} {
		if r := run(t, nil, append(tt.args, "--lang", "fr")...); r.code != ExitUsage || !strings.Contains(r.errOut, tt.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tt.args, r.code, r.errOut, tt.want)
		}
	}
}

// demo says what it serves in French with --lang fr.
func TestDemoInFrench(t *testing.T) {
	r := run(t, nil, "demo", "--scenario", "spf-missing", "--format", "json", "--lang", "fr")
	if !strings.Contains(r.errOut, "mailcheck demo : serveur de référence pour example.test (scénario spf-missing) sur ") ||
		!strings.Contains(r.errOut, " ; audit en cours") {
		t.Errorf("demo's French line: exit %d, stderr %q", r.code, r.errOut)
	}
	if r := run(t, nil, "demo", "--scenario", "nope", "--lang", "fr"); r.code != ExitUsage || !strings.Contains(r.errOut, "inconnu") {
		t.Errorf("demo unknown scenario: exit %d, %q", r.code, r.errOut)
	}
}
