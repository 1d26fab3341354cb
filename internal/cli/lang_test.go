package cli

import (
	"strings"
	"testing"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/fixtures"
)

func TestLangOfCommandLine(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	fr := env(map[string]string{"LANG": "fr_FR.UTF-8"})
	none := env(nil)
	tests := []struct {
		name   string
		args   []string
		getenv func(string) string
		want   finding.Lang
	}{
		{"nothing said", []string{"domain", "--help"}, none, finding.English},
		{"--lang fr after the command", []string{"domain", "--help", "--lang", "fr"}, none, finding.French},
		{"--lang=fr before the command", []string{"--lang=fr", "domain", "--help"}, none, finding.French},
		{"locale name", []string{"--lang", "fr_CA.UTF-8", "probe"}, none, finding.French},
		{"LANG", []string{"domain", "--help"}, fr, finding.French},
		{"--lang en beats LANG", []string{"domain", "--lang", "en", "--help"}, fr, finding.English},
		{"the last --lang wins", []string{"--lang", "en", "domain", "--lang=fr"}, none, finding.French},
		{"an unknown --lang leaves the locale", []string{"--lang", "de", "domain"}, fr, finding.French},
		{"after -- it is an argument", []string{"explain", "--", "--lang", "fr"}, none, finding.English},
		{"--lang without a value", []string{"domain", "--lang"}, fr, finding.French},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := langOfCommandLine(tt.args, tt.getenv); got != tt.want {
				t.Errorf("langOfCommandLine(%q) = %s, want %s", tt.args, got, tt.want)
			}
		})
	}
}

// TestHelpInFrench: --help is printed before any PreRun, yet --lang fr
// (either form, anywhere) and the locale variables give French help; with
// neither, the help is cobra's English.
func TestHelpInFrench(t *testing.T) {
	french := []string{
		"Auditer des domaines : MX, SPF, DMARC, DKIM",
		"Utilisation :\n  mailcheck domain DOMAIN... [options]\n",
		"\nExemples :\n  mailcheck domain example.com\n",
		"\nOptions :\n",
		"sélecteur DKIM à vérifier (répétable)",                                            // the command's own flag
		"serveur DNS à interroger, HÔTE:PORT",                                              // a flag every network command shares
		"format de sortie : text|json|ndjson|sarif|junit|markdown (par défaut : \"text\")", // pflag's default note
		"afficher l'aide de domain",                                                        // cobra's -h
		"\nOptions globales :\n      --lang string   langue des titres",
	}
	english := []string{"Usage:", "Flags:", "Examples:", "help for domain", "DNS server to ask", "(default \"text\")"}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"--lang fr", nil, []string{"domain", "--help", "--lang", "fr"}},
		{"--lang=fr first", nil, []string{"--lang=fr", "domain", "-h"}},
		{"LANG", map[string]string{"LANG": "fr_FR.UTF-8"}, []string{"domain", "--help"}},
		{"LC_MESSAGES", map[string]string{"LC_MESSAGES": "fr_BE.UTF-8", "LANG": "en_US.UTF-8"}, []string{"help", "domain"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.env, tc.args...)
			if r.code != ExitOK {
				t.Fatalf("exit %d; stderr %q", r.code, r.errOut)
			}
			for _, want := range french {
				if !strings.Contains(r.out, want) {
					t.Errorf("French help lacks %q:\n%s", want, r.out)
				}
			}
			for _, w := range english {
				if strings.Contains(r.out, w) {
					t.Errorf("French help still says %q:\n%s", w, r.out)
				}
			}
		})
	}

	r := run(t, map[string]string{"LANG": "fr_FR.UTF-8"}, "--help")
	for _, want := range []string{
		"Commandes disponibles :",
		"  completion  Générer le script d'autocomplétion pour le shell indiqué",
		"  help        Afficher l'aide d'une commande",
		"  probe       Sonder les ports des services de messagerie",
		"      --version       afficher la version de mailcheck, son commit et sa date de construction",
		"Utilisez « mailcheck [commande] --help » pour en savoir plus sur une commande.",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("French root help lacks %q:\n%s", want, r.out)
		}
	}
	for _, args := range [][]string{{"probe", "-h"}, {"serve", "-h"}, {"demo", "-h"}, {"selftest", "-h"}, {"version", "-h"}, {"completion", "bash", "-h"}} {
		r := run(t, nil, append(args, "--lang", "fr")...)
		if !strings.Contains(r.out, "Utilisation :") || strings.Contains(r.out, "Usage:") || strings.Contains(r.out, "help for") {
			t.Errorf("%v --lang fr is not French:\n%s", args, r.out)
		}
	}
}

// TestHelpInEnglishIsCobras: without French, the help is cobra's own,
// word for word.
func TestHelpInEnglishIsCobras(t *testing.T) {
	for _, env := range []map[string]string{nil, {"LC_ALL": "C", "LANG": "fr_FR.UTF-8"}} {
		r := run(t, env, "domain", "--help")
		for _, want := range []string{
			"Audit domains: MX, SPF, DMARC, DKIM, MTA-STS, TLS-RPT, DNSSEC, PTR and the MX servers\n\nUsage:\n  mailcheck domain DOMAIN... [flags]\n\nExamples:\n",
			"\nFlags:\n      --baseline stringArray ",
			" the current state to compare with",
			"      --format string ",
			" output format: text|json|ndjson|sarif|junit|markdown (default \"text\")\n",
			"  -h, --help ",
			" help for domain\n",
			"\nGlobal Flags:\n      --lang string   language of titles, fixes and help: en|fr (default: from LC_ALL, LC_MESSAGES, LANG)\n",
		} {
			if !strings.Contains(r.out, want) {
				t.Errorf("English help (env %v) lacks %q:\n%s", env, want, r.out)
			}
		}
		if strings.Contains(r.out, "Utilisation") || strings.Contains(r.out, "Options") {
			t.Errorf("English help (env %v) has French in it:\n%s", env, r.out)
		}
	}
}

// TestScenarioReportInFrench audits real scenarios of the reference server
// twice, in English and in French, and checks that every title and fix of
// the French report is written in French: none is left as its English
// text, and no English catalogue title or fix appears anywhere in it.
func TestScenarioReportInFrench(t *testing.T) {
	entries, err := finding.Entries()
	if err != nil {
		t.Fatal(err)
	}
	scenarios := []string{fixtures.Default, "cert-expired", "cert-wrong-name", "cert-missing-intermediate", "auth-before-tls",
		"no-starttls", "tls-legacy", "dmarc-policy-none", "dmarc-rua-unauthorized", "dkim-key-weak", "mtasts-mx-mismatch",
		"spf-lookup-limit", "spf-include-missing", "mx-cname", "ptr-mismatch", "dnssec-unsigned"}
	for _, name := range scenarios {
		t.Run(name, func(t *testing.T) {
			_, flags := startRef(t, name)
			args := append([]string{"domain", "example.test", "--format", "json"}, flags...)
			en := decodeReport(t, run(t, nil, args...).out)
			fr := decodeReport(t, run(t, nil, append(args, "--lang", "fr")...).out)
			if len(en.Findings) == 0 || len(en.Findings) != len(fr.Findings) {
				t.Fatalf("%d findings in English, %d in French", len(en.Findings), len(fr.Findings))
			}
			english := map[string][]finding.Finding{}
			for _, f := range en.Findings {
				english[f.ID+" "+f.Subject] = append(english[f.ID+" "+f.Subject], f)
			}
			for _, f := range fr.Findings {
				for _, e := range english[f.ID+" "+f.Subject] {
					if f.Title == e.Title {
						t.Errorf("%s %s: the title is still English: %q", f.ID, f.Subject, f.Title)
					}
					if f.Fix != "" && f.Fix == e.Fix {
						t.Errorf("%s %s: the fix is still English: %q", f.ID, f.Subject, f.Fix)
					}
				}
				if len(english[f.ID+" "+f.Subject]) == 0 {
					t.Errorf("%s %s is in the French report only", f.ID, f.Subject)
				}
				for _, e := range entries {
					if strings.Contains(f.Title, e.Title) || strings.Contains(f.Fix, e.Fix) {
						t.Errorf("%s %s: the English catalogue text of %s survives:\n%s\n%s", f.ID, f.Subject, e.ID, f.Title, f.Fix)
					}
				}
			}
			// The same run as text, as a French admin reads it.
			text := run(t, nil, append([]string{"domain", "example.test", "--lang", "fr"}, flags...)...).out
			for _, want := range []string{"succès : ", "Sondes", "HÔTE"} {
				if !strings.Contains(text, want) {
					t.Errorf("French text report lacks %q:\n%s", want, text)
				}
			}
		})
	}
}
