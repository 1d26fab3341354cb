package finding

import (
	"slices"
	"strings"
	"testing"
)

// The seeds' symptom → cause → fix table (shared/seeds, French) must be
// reachable from its French symptoms, as a support agent would type them.
func TestSeedsTableReachableInFrench(t *testing.T) {
	rows := []struct {
		symptoms []string // as written in the seed, and as apps write it
		want     string   // the finding whose cause is the seed's cause
		fixWords []string // the seed's fix, as the catalogue words it
	}{
		// Échec de connexion | Port inadapté (110 vs 995, 143 vs 993) | Ajuster le port et activer SSL/TLS
		{[]string{"Échec de connexion", "échec de la connexion au serveur IMAP", "Erreur SMTP : impossible de se connecter au serveur SMTP."},
			"login.wrong-port", []string{"993", "995", "SSL/TLS"}},
		// Erreur de certificat | Certificat auto-signé non reconnu | Importer le certificat racine valide
		{[]string{"Erreur de certificat", "Erreur de certificat : certificat auto-signé"},
			"tls.cert-self-signed", []string{"import its root"}},
		// Authentification refusée | Mot de passe expiré ou 2FA non géré | Configurer un mot de passe d'application
		{[]string{"Authentification refusée", "authentification refusée par le serveur"},
			"login.auth-failed", []string{"application password"}},
	}
	for _, r := range rows {
		e, _ := Lookup(r.want)
		for _, w := range r.fixWords {
			if !strings.Contains(e.Fix, w) {
				t.Errorf("%s: the fix %q does not say %q, as the seed's fix does", r.want, e.Fix, w)
			}
		}
		for _, s := range r.symptoms {
			ids := Diagnose(s).IDs()
			if len(ids) == 0 || ids[0] != r.want {
				t.Errorf("%q → %v, want %s first", s, ids, r.want)
			}
		}
	}
	// The third row's cause is also the 2FA case: its finding is among
	// the candidates.
	if ids := Diagnose("Authentification refusée").IDs(); !slices.Contains(ids, "login.app-password-required") {
		t.Errorf("Authentification refusée → %v, want login.app-password-required among them", ids)
	}
}
