package report

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// catalogueTitled lists the sample findings that carry the catalogue's own
// title (made with finding.Text{}), whose French a French report must show.
func catalogueTitled(reports []finding.Report) []finding.Entry {
	var out []finding.Entry
	for _, r := range reports {
		for _, f := range r.Findings {
			if e, ok := finding.Lookup(f.ID); ok && f.Title == e.Title {
				out = append(out, e)
			}
		}
	}
	return out
}

// TestTextWordsInFrench: with Lang French the text report's own words —
// area titles, table headers, labels, the summary — are French, and no
// catalogue title is left in English.
func TestTextWordsInFrench(t *testing.T) {
	reports := sampleReports()
	out := render(t, reports, Options{Format: "text", Verbose: true, Lang: finding.French})
	for _, want := range []string{
		"\nConnexions\n", "\nSondes\n", "\nDétail\n",
		"HÔTE", "ADRESSE", "PROTOCOLE", "ÉTAT", "VÉRIFIÉ", "AUTH AVANT TLS", "AUTH APRÈS TLS",
		"délai dépassé", "oui",
		"emplacement : zones/example.com.zone:12", "correction : Aplatissez ou supprimez des include",
		"[spf.lookup-limit, nouveau]", "[spf.all-neutral, corrigé]", "[dmarc.policy-none, inchangé]", "accepté until 2027-06-30",
		"erreur : dial tcp 192.0.2.2:25: i/o timeout",
		"succès : 2, info : 2, avertissements : 3, échecs : 2, non concluants : 1 (par rapport à la référence — nouveaux : 1, inchangés : 1, corrigés : 1)",
		"total : succès : 3,",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("French text lacks %q:\n%s", want, out)
		}
	}
	for _, english := range []string{"Probes", "Detail", "Connections", "fix:", "      at ", "total:", "HOST", "VERIFIED",
		"pass,", "(baseline:", ", new]", ", fixed]", "allowed until"} {
		if strings.Contains(out, english) {
			t.Errorf("French text still says %q:\n%s", english, out)
		}
	}
	for _, e := range catalogueTitled(reports) {
		fr := e.In(finding.French)
		if strings.Contains(out, e.Title) || !strings.Contains(out, fr.Title) {
			t.Errorf("%s: the catalogue title should be French (%q):\n%s", e.ID, fr.Title, out)
		}
	}
	if got := areaTitle("ptr", finding.French); got != "DNS inverse (PTR)" {
		t.Errorf("areaTitle(ptr) in French = %q", got)
	}
}

func TestLoginSettingsInFrench(t *testing.T) {
	r := finding.Report{Target: "user@example.com", Findings: []finding.Finding{finding.New("login.ok", "mail.example.com:993", finding.Text{})},
		Login: &finding.LoginSettings{Address: "user@example.com", Candidates: []finding.ClientEndpoint{
			{Role: "incoming", Protocol: "imap", Host: "mail.example.com", Port: 993, TLS: "implicit", Verdict: "works", Recommended: true,
				Username: "user@example.com", Sources: []string{"srv", "provider"}},
			{Role: "outgoing", Protocol: "submission", Host: "mail.example.com", Port: 587, TLS: "none", Verdict: "fails",
				Sources: []string{"mx-guess"}},
		}}}
	out := render(t, []finding.Report{r}, Options{Format: "text", Lang: finding.French})
	for _, want := range []string{
		"Paramètres du client de messagerie pour user@example.com",
		"RÔLE     PROTOCOLE   HÔTE              PORT  SÉCURITÉ  NOM D'UTILISATEUR  VERDICT",
		"entrant  imap        mail.example.com  993   SSL/TLS   user@example.com   fonctionne (recommandé)  srv fournisseur",
		"sortant  submission  mail.example.com  587   aucune    -                  échoue                   déduit du MX",
		"Connexion réussie",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("French login table lacks %q:\n%s", want, out)
		}
	}
}

func TestMarkdownAndJUnitInFrench(t *testing.T) {
	reports := sampleReports()
	md := render(t, reports, Options{Format: "markdown", Lang: finding.French})
	for _, want := range []string{
		"## mailcheck : example.com", "Vérifié le 2026-11-21 10:00:00 UTC en 412 ms.",
		"| ✓ succès | i info | ! avertissement | ✗ échec | ? non concluant |", "| nouveau | inchangé | corrigé |",
		"### Constats", "| Gravité | ID | Objet | Titre | Emplacement | Par rapport à la référence |", "| ✗ échec | `mx.cname` |",
		"accepté : until 2027-06-30", "### Corrections", "- **`mx.cname`** example.com MX : Faites pointer le MX",
		"<summary>Vérifications réussies : 2</summary>",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("French markdown lacks %q:\n%s", want, md)
		}
	}
	for _, english := range []string{"### Findings", "### Fixes", "passed</summary>", "| Severity", "Checked "} {
		if strings.Contains(md, english) {
			t.Errorf("French markdown still says %q", english)
		}
	}

	ju := render(t, reports, Options{Format: "junit", Lang: finding.French})
	for _, want := range []string{
		"emplacement : zones/example.com.zone:12", "correction : Aplatissez", "réf. : RFC 7208",
		"(inchangé par rapport à la référence)", "(corrigé par cette modification)", "(accepté until 2027-06-30",
		"succès : Les enregistrements MX sont valides", "non concluant : conn.timeout : Délai dépassé",
	} {
		if !strings.Contains(ju, want) {
			t.Errorf("French JUnit lacks %q:\n%s", want, ju)
		}
	}
	// Machine values stay as the schema says.
	if !strings.Contains(ju, `type="fail"`) {
		t.Errorf("the JUnit failure type must stay the severity name:\n%s", ju)
	}
}

func TestSARIFInFrench(t *testing.T) {
	var log sarifLog
	if err := json.Unmarshal([]byte(render(t, sampleReports(), Options{Format: "sarif", Lang: finding.French})), &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	for _, rule := range run.Tool.Driver.Rules {
		e, _ := finding.Lookup(rule.ID)
		fr := e.In(finding.French)
		if rule.ShortDescription.Text != fr.Title || rule.FullDescription.Text != fr.Why || !strings.HasPrefix(rule.Help.Text, fr.Fix) {
			t.Errorf("rule %s does not carry the French catalogue text: %+v", rule.ID, rule)
		}
		if e.Ref != "" && !strings.Contains(rule.Help.Markdown, "Référence : "+e.Ref) {
			t.Errorf("rule %s: help markdown %q", rule.ID, rule.Help.Markdown)
		}
	}
	for _, r := range run.Results {
		if r.RuleID == "dmarc.missing" && r.Message.Text != "Aucun enregistrement DMARC. Correction : "+mustFR(t, "dmarc.missing").Fix {
			t.Errorf("message %q", r.Message.Text)
		}
		if r.Level == "" || strings.ContainsAny(r.Level, "éè") {
			t.Errorf("%s: the SARIF level must stay a SARIF keyword: %q", r.RuleID, r.Level)
		}
	}
}

func mustFR(t *testing.T, id string) finding.Entry {
	t.Helper()
	e, ok := finding.Lookup(id)
	if !ok {
		t.Fatalf("%s not in the catalogue", id)
	}
	return e.In(finding.French)
}

// TestEnglishWordsUnchanged: in English every word function gives back the
// literal it replaced, so the golden files stay byte for byte.
func TestEnglishWordsUnchanged(t *testing.T) {
	for s := finding.Pass; s <= finding.Error; s++ {
		if got := severityWord(s, finding.English); got != s.String() {
			t.Errorf("severityWord(%s) = %q", s, got)
		}
	}
	for _, v := range []string{"ok", "refused", "timeout", "rate-limited", "protocol-error", "tls-failed", "closed"} {
		if got := statusWord(v, finding.English); got != v {
			t.Errorf("statusWord(%s) = %q", v, got)
		}
	}
	for _, v := range []string{"recommended", "works", "fails", "untested"} {
		if got := verdictWord(v, ""); got != v {
			t.Errorf("verdictWord(%s) = %q", v, got)
		}
	}
}

// TestLocalizeCoversReasonsAndAllowances: the reasons of client settings
// and policy allowances set as Texts reach the French report; the caller's
// report stays English.
func TestLocalizeCoversReasonsAndAllowances(t *testing.T) {
	f := finding.New("dmarc.rua-missing", "_dmarc.example.com TXT", finding.Text{})
	f.SetAllowed(finding.T("%s: %s", "until 2027-06-30", "reports go to our provider"))
	c := finding.ClientEndpoint{Role: "incoming", Protocol: "imap", Host: "mail.example.com", Port: 143, TLS: "none", Verdict: "fails"}
	c.SetReason(finding.T("No authentication is offered before TLS"))
	reports := []finding.Report{{Target: "user@example.com", Findings: []finding.Finding{f},
		Login: &finding.LoginSettings{Address: "user@example.com", Candidates: []finding.ClientEndpoint{c}}}}
	out := render(t, reports, Options{Format: "text", Lang: finding.French})
	for _, want := range []string{"accepté until 2027-06-30 : reports go to our provider", "Aucune authentification n'est proposée avant TLS"} {
		if !strings.Contains(out, want) {
			t.Errorf("French text lacks %q:\n%s", want, out)
		}
	}
	if reports[0].Login.Candidates[0].Reason != "No authentication is offered before TLS" || reports[0].Findings[0].Allowed != "until 2027-06-30: reports go to our provider" {
		t.Errorf("rendering changed the caller's report: %+v", reports[0])
	}
}
