package probe

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/dialer"
	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/fixtures"
	"github.com/mailcheck-cli/mailcheck/pki"
	"github.com/mailcheck-cli/mailcheck/probe/tlswire"
	"github.com/mailcheck-cli/mailcheck/resolver"
	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

// English that probe used to build in plain strings and pass to findings,
// where a French report could not reach it.
var (
	// In titles and fixes: protocol names, step names, the timeout's
	// "what", certificate subjects and their possessives, lists, errors
	// mailcheck words itself, resolver errors, the protocol errors.
	englishInTitles = []string{
		"SMTP submission", "over implicit TLS", // protocol names
		"waiting for the", "in the middle of the greeting", "greeting", "TLS handshake", // steps
		"The certificate", "The chain certificate", "certificate's", "no names", // certificates
		" more",                                          // "A, B, C, and 2 more"
		"not an SMTP reply line",                         // ProtocolError reasons
		"SERVFAIL from", "timeout from", "query refused", // resolver errors
		"no protocol given", "unknown protocol", // the port's protocol
	}
	// The labels that start evidence lines: the data after a label (a
	// banner, a Go error, a suite name) stays as it is and may well say
	// "remote error: ...".
	englishLabels = []string{
		"banner: ", "error: ", "capabilities: ", "capabilities before TLS: ", "capabilities after TLS: ",
		"first bytes: ", "received after the go-ahead: ", "subject ", "certificate names: ", "verification: ",
		"chain[", "signature check: ", "OCSP response produced", "not told: ",
	}
	// Anywhere in evidence: sentences, and the steps and replies inside
	// the error line ("greeting: server replied 421 ...").
	englishInEvidence = []string{
		"no greeting within the step timeout", ", valid ", "revocation reason", ": the server chose ",
		"greeting: ", "TLS handshake: ", "server replied", "none announced",
	}
)

// frenchScenarios are the reference-server scenarios whose findings are
// read in French: between them they reach every place above.
var frenchScenarios = []string{
	"tarpit", "slow", "tls-on-plain-port", "plain-on-tls-port", "cert-expired", "cert-wrong-name",
	"tls-dhe-only", "garbage-after-starttls", "http-on-mail-port", "long-lines", "busy-421",
	"cert-bad-signature", "cert-revoked", "cert-missing-intermediate", "tls-legacy", "no-starttls",
	"no-auth", "port-closed", "cert-weak-key", "auth-before-tls",
}

// TestProbeTextsInFrench probes reference-server scenarios (and a few
// scripted servers, resolver failures and certificates the reference
// server does not serve) and reads every finding in English and in French:
// each English fragment is in the English report (so the check is not
// vacuous) and in none of the French titles, fixes and evidence lines.
func TestProbeTextsInFrench(t *testing.T) {
	var all []finding.Finding
	for _, name := range frenchScenarios {
		t.Run(name, func(t *testing.T) {
			sc, err := fixtures.Load(name)
			if err != nil {
				t.Fatal(err)
			}
			srv, o := startRef(t, sc, 1500*time.Millisecond, 5*time.Second)
			_, fs := Host(context.Background(), o, srv.MailHost(), nil, "")
			all = append(all, fs...)
		})
	}
	t.Run("scripted servers", func(t *testing.T) { all = append(all, scriptedFindings(t)...) })
	t.Run("resolver failures", func(t *testing.T) { all = append(all, lookupFindings(t)...) })
	t.Run("certificates", func(t *testing.T) { all = append(all, certificateFindings(t)...) })
	t.Run("scan results", func(t *testing.T) { all = append(all, scanFindings()...) })

	var enTitles, enEvidence, frText strings.Builder
	for _, f := range all {
		enTitles.WriteString(f.Title + "\n" + f.Fix + "\n")
		enEvidence.WriteString("\n" + strings.Join(f.Evidence, "\n") + "\n")
		fr := f.In(finding.French)
		frText.WriteString(fr.Title + "\n" + fr.Fix + "\n" + strings.Join(fr.Evidence, "\n") + "\n")
		for _, s := range englishInTitles {
			for _, line := range []string{fr.Title, fr.Fix} {
				if strings.Contains(line, s) {
					t.Errorf("%s %s: the French says %q: %s", f.ID, f.Subject, s, line)
				}
			}
		}
		for _, line := range fr.Evidence {
			for _, s := range englishLabels {
				if strings.HasPrefix(line, s) {
					t.Errorf("%s %s: French evidence starts with %q: %s", f.ID, f.Subject, s, line)
				}
			}
			for _, s := range englishInEvidence {
				if strings.Contains(line, s) {
					t.Errorf("%s %s: French evidence says %q: %s", f.ID, f.Subject, s, line)
				}
			}
		}
	}
	for _, s := range englishInTitles {
		if !strings.Contains(enTitles.String(), s) {
			t.Errorf("no English title or fix says %q: the check of its French proves nothing", s)
		}
	}
	for _, s := range englishLabels {
		if !strings.Contains(enEvidence.String(), "\n"+s) {
			t.Errorf("no English evidence line starts with %q: the check of its French proves nothing", s)
		}
	}
	for _, s := range englishInEvidence {
		if !strings.Contains(enEvidence.String(), s) {
			t.Errorf("no English evidence says %q: the check of its French proves nothing", s)
		}
	}
	// Sentences as a French reader gets them.
	for _, want := range []string{
		"Délai dépassé à l'étape de la bannière d'accueil sur le port 25 (non concluant)",
		"Délai dépassé au milieu de la bannière d'accueil sur le port 25 (non concluant)",
		"Le serveur a fermé la connexion pendant la négociation TLS sur le port 465",
		"Le port 587 parle en TLS implicite, mais le service SMTP de soumission attend une bannière en clair puis STARTTLS",
		"mais le service SMTP de soumission en TLS implicite attend du TLS implicite (RFC 8314)",
		"Le port 995 refuse les connexions : aucun service POP3 en TLS implicite n'écoute",
		"Le port 25 ne parle pas SMTP (à l'étape de la bannière d'accueil) : pas une ligne de réponse SMTP : * OK IMAP4rev1 ready",
		"Le serveur a fermé la connexion pendant la commande EHLO sur le port 25",
		"Le serveur a refusé la commande HELO sur le port 25 : 502 not that either",
		"capacités annoncées : aucune",
		"Le certificat a expiré le ",
		"Le certificat \"probe test intermediate\" de la chaîne a expiré le ",
		"Le certificat \"probe test intermediate\" de la chaîne n'est pas valide avant le ",
		"Le certificat ne couvre pas mail.example.test ; il ne désigne aucun nom",
		"La clé RSA du certificat fait 1024 bits ; il en faut au moins 2048",
		"le serveur n'accepte que des suites DHE (TLS_DHE_DSS_WITH_AES_128_CBC_SHA, ",
		"et 2 autre(s)), que les clients actuels",
		"Impossible de vérifier si le port 25 accepte des suites de chiffrement faibles : aucune réponse à l'étape de la commande EHLO dans le délai imparti (non concluant)",
		"non déterminé : TLS1.2 RC4",
		"Non sondé : la recherche de bad.example.test a échoué : SERVFAIL lors de la recherche de bad.example.test A",
		"Serveurs MX non sondés : requête refusée lors de la recherche de example.test MX",
		"Le DNS inverse de 127.0.0.1 n'a pas pu être vérifié : délai dépassé lors de la recherche de 1.0.0.127.in-addr.arpa PTR",
		"erreur : bannière d'accueil : le serveur a répondu 421 4.3.2 Service not available, try again later",
		"bannière : 220 mail.example.test ESMTP Service Ready",
		"noms du certificat : wrong-host.invalid",
		"TLS1.0 : le serveur a choisi ",
	} {
		if !strings.Contains(frText.String(), want) {
			t.Errorf("the French findings lack %q", want)
		}
	}
	if t.Failed() {
		t.Logf("French findings:\n%s", frText.String())
	}
}

// scriptedFindings: what the reference server does not do — another
// protocol's greeting, a greeting cut off, a close after EHLO, an old
// server that announces nothing, one that refuses EHLO and HELO, a close
// after the ClientHello, ports without a protocol.
func scriptedFindings(t *testing.T) []finding.Finding {
	p := newTestPKI(t, pki.LeafOptions{})
	oldServer := func(helo string) scripted {
		return scripted{greeting: "220 old\r\n", respond: func(cmd string, _ bool) (string, action) {
			switch {
			case strings.HasPrefix(cmd, "HELO "):
				return helo, carryOn
			case cmd == "QUIT":
				return "221 bye\r\n", hangUp
			}
			return "500 what\r\n", carryOn
		}}
	}
	var out []finding.Finding
	for _, srv := range []scripted{
		oldServer("250 old\r\n"),
		oldServer("502 not that either\r\n"),
		{greeting: "* OK IMAP4rev1 ready\r\n", respond: func(string, bool) (string, action) { return "", hangUp }},
		{greeting: "220-mail.example.test slow to finish\r\n", respond: func(string, bool) (string, action) { return "", hangUp }},
		{greeting: "220 mail.example.test\r\n", respond: func(string, bool) (string, action) { return "", hangUp }},
	} {
		port := srv.start(t, p)
		_, fs := Run(context.Background(), testOptions(p.roots, 400*time.Millisecond, map[int]int{25: port}), target(25))
		out = append(out, fs...)
	}
	// A close in answer to the ClientHello on the implicit-TLS port.
	port := scripted{}.start(t, p)
	_, fs := Run(context.Background(), testOptions(p.roots, 400*time.Millisecond, map[int]int{465: port}), target(465))
	out = append(out, fs...)
	for _, tg := range []Target{
		{Host: "mail.example.test", Addr: netip.MustParseAddr("127.0.0.1"), Port: 2525},
		{Host: "mail.example.test", Addr: netip.MustParseAddr("127.0.0.1"), Port: 25, Protocol: "gopher"},
	} {
		_, fs := Run(context.Background(), testOptions(nil, time.Second, nil), tg)
		out = append(out, fs...)
	}
	return out
}

// lookupFindings: a host whose address lookup fails, an MX lookup that
// fails, an address whose reverse lookup fails.
func lookupFindings(t *testing.T) []finding.Finding {
	p := newTestPKI(t, pki.LeafOptions{})
	port := smtpServer("250-STARTTLS\r\n", "", upgrade).start(t, p)
	fake := resolvertest.New("mail.example.test. 300 IN A 127.0.0.1")
	fake.Fail("bad.example.test", dns.TypeA, resolver.ServFail)
	fake.Fail("example.test", dns.TypeMX, resolver.Refused)
	fake.Fail("1.0.0.127.in-addr.arpa", dns.TypePTR, resolver.Timeout)
	o := Options{Dialer: &dialer.Dialer{Resolver: fake, PortMap: map[int]int{25: port}, Roots: p.roots, StepTimeout: 2 * time.Second}}
	ctx := context.Background()
	_, out := Host(ctx, o, "bad.example.test", []int{25}, "")
	_, fs := Host(ctx, o, "mail.example.test", []int{25}, "")
	out = append(out, fs...)
	mx := facts.GatherMX(ctx, fake, "example.test")
	_, fs = MX(ctx, o, &mx)
	return append(out, fs...)
}

// certificateFindings: an intermediate expired and not yet valid, and a
// certificate that names nothing at all.
func certificateFindings(t *testing.T) []finding.Finding {
	now := time.Now()
	p := newTestPKI(t, pki.LeafOptions{NotBefore: now.Add(-2 * time.Hour), NotAfter: now.AddDate(30, 0, 0)})
	chain := make([]*x509.Certificate, len(p.cert.Certificate))
	for i, der := range p.cert.Certificate {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		chain[i] = c
	}
	if len(chain) < 2 {
		t.Fatal("the test PKI serves no intermediate")
	}
	inter := chain[1]
	var out []finding.Finding
	for _, at := range []time.Time{inter.NotAfter.AddDate(0, 0, 1), inter.NotBefore.Add(-30 * time.Minute)} {
		o := Options{Dialer: &dialer.Dialer{Roots: p.roots, StepTimeout: 2 * time.Second}, Now: func() time.Time { return at }}
		v := handshakeView{Version: tls.VersionTLS13, Certs: chain, Complete: true}
		out = append(out, newRunState().verdict(context.Background(), o, "mail.example.test", v).findingsFor("mail.example.test:993")...)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "nameless"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(0, 1, 0), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	bare, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Dialer: &dialer.Dialer{Roots: p.roots, StepTimeout: 2 * time.Second}}
	v := handshakeView{Version: tls.VersionTLS13, Certs: []*x509.Certificate{bare}, Complete: true}
	return append(out, newRunState().verdict(context.Background(), o, "mail.example.test", v).findingsFor("mail.example.test:993")...)
}

// scanFindings judges scan results the reference server does not give: a
// handshake refused by a server whose scan found five DHE suites (the
// title names three "and 2 more"), and a weak kind of suite the scan
// could not tell about.
func scanFindings() []finding.Finding {
	r := &result{t: Target{Host: "mail.example.test", Port: 465, Protocol: "smtps"}, subject: "mail.example.test:465",
		s: &Session{}, err: &StepError{Step: stepHandshake, Err: tls.AlertError(40)}, scan: &scanResult{}}
	for _, s := range tlswire.Suites() {
		if s.Kx == tlswire.KxDHE && !weakCipher(s) && len(r.scan.accepted) < 5 {
			r.scan.accepted = append(r.scan.accepted, acceptedSuite{version: tlswire.VersionTLS12, suite: s})
		}
	}
	head, _ := r.findings()

	silent := helloAnswer{result: helloInconclusive, why: attemptFailure(context.Background(), nil,
		&StepError{Step: "EHLO", Err: os.ErrDeadlineExceeded})}
	sr := &scanResult{versions: map[uint16]helloAnswer{tlswire.VersionTLS12: {result: helloAccepted}},
		kinds: map[uint16]map[string]helloAnswer{tlswire.VersionTLS12: {"RC4": silent}}}
	return append(head[:1], sr.cipherFindings("mail.example.test:25", "smtp", 25, true)...)
}
