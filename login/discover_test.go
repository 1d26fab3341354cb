package login

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailcheck-cli/mailcheck/dialer"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

// fakeEnv answers DNS from records only; every other name is NXDOMAIN, so
// nothing leaves the machine.
func fakeEnv(records ...string) *Env {
	r := resolvertest.New(records...)
	return &Env{Resolver: r, Dialer: &dialer.Dialer{Resolver: r, StepTimeout: time.Second}}
}

func discoverTest(t *testing.T, env *Env, address string) *discovery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return discover(ctx, env, address)
}

func described(eps []finding.ClientEndpoint) []string {
	var out []string
	for _, ep := range eps {
		out = append(out, Describe(ep))
	}
	return out
}

// The provider table, by the address domain and by a custom domain's MX.
func TestProviderTable(t *testing.T) {
	tests := []struct {
		name, address string
		records       []string
		provider      string
		first         string // the first endpoint
		username      string
	}{
		{"gmail by domain", "jean@gmail.com", nil, "Gmail", "IMAP imap.gmail.com:993 SSL/TLS", "jean@gmail.com"},
		{"workspace by MX", "jean@corp.test", []string{"corp.test. 300 IN MX 1 aspmx.l.google.com.", "corp.test. 300 IN MX 5 alt1.aspmx.l.google.com."},
			"Google Workspace", "IMAP imap.gmail.com:993 SSL/TLS", "jean@corp.test"},
		{"workspace by smtp.google.com", "jean@corp.test", []string{"corp.test. 300 IN MX 1 smtp.google.com."}, "Google Workspace", "IMAP imap.gmail.com:993 SSL/TLS", "jean@corp.test"},
		{"microsoft 365 by MX", "jean@corp.test", []string{"corp.test. 300 IN MX 0 corp-test.mail.protection.outlook.com."},
			"Microsoft 365", "IMAP outlook.office365.com:993 SSL/TLS", "jean@corp.test"},
		{"outlook.com", "jean@hotmail.fr", nil, "Outlook.com", "IMAP outlook.office365.com:993 SSL/TLS", "jean@hotmail.fr"},
		{"yahoo", "jean@yahoo.fr", nil, "Yahoo Mail", "IMAP imap.mail.yahoo.com:993 SSL/TLS", "jean@yahoo.fr"},
		{"icloud: IMAP user name is the local part", "jean@icloud.com", nil, "iCloud Mail", "IMAP imap.mail.me.com:993 SSL/TLS", "jean"},
		{"gmx germany", "jean@gmx.de", nil, "GMX", "IMAP imap.gmx.net:993 SSL/TLS", "jean@gmx.de"},
		{"zoho custom domain", "jean@corp.test", []string{"corp.test. 300 IN MX 10 mx.zoho.eu."}, "Zoho Mail", "IMAP imappro.zoho.eu:993 SSL/TLS", "jean@corp.test"},
		{"fastmail custom domain", "jean@corp.test", []string{"corp.test. 300 IN MX 10 in1-smtp.messagingengine.com."}, "Fastmail", "IMAP imap.fastmail.com:993 SSL/TLS", "jean@corp.test"},
		{"aol by domain, not yahoo by MX", "jean@aol.com", []string{"aol.com. 300 IN MX 1 mx-aol.mail.gm0.yahoodns.net."}, "AOL Mail", "IMAP imap.aol.com:993 SSL/TLS", "jean@aol.com"},
		{"verizon moved to aol", "jean@verizon.net", []string{"verizon.net. 300 IN MX 1 mx-aol.mail.gm0.yahoodns.net."}, "AOL Mail", "IMAP imap.aol.com:993 SSL/TLS", "jean@verizon.net"},
		{"at&t", "jean@att.net", nil, "AT&T Mail", "IMAP imap.mail.att.net:993 SSL/TLS", "jean@att.net"},
		{"zoho india data centre", "jean@corp.test", []string{"corp.test. 300 IN MX 10 mx.zoho.in."}, "Zoho Mail", "IMAP imappro.zoho.in:993 SSL/TLS", "jean@corp.test"},
		{"zoho canada data centre", "jean@corp.test", []string{"corp.test. 300 IN MX 10 mx.zohocloud.ca."}, "Zoho Mail", "IMAP imappro.zohocloud.ca:993 SSL/TLS", "jean@corp.test"},
		{"zoho australia data centre", "jean@corp.test", []string{"corp.test. 300 IN MX 10 mx.zoho.com.au."}, "Zoho Mail", "IMAP imappro.zoho.com.au:993 SSL/TLS", "jean@corp.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := discoverTest(t, fakeEnv(tt.records...), tt.address)
			if d.provider == nil || d.provider.Name != tt.provider {
				t.Fatalf("provider %+v, want %s", d.provider, tt.provider)
			}
			if len(d.endpoints) == 0 || Describe(d.endpoints[0]) != tt.first || d.endpoints[0].Username != tt.username {
				t.Fatalf("endpoints %q (user %q), want first %q user %q", described(d.endpoints), d.endpoints[0].Username, tt.first, tt.username)
			}
			for _, ep := range d.endpoints {
				if !slices.Equal(ep.Sources, []string{SourceProvider}) || ep.Verdict != VerdictUntested {
					t.Errorf("%s: sources %v verdict %q", Describe(ep), ep.Sources, ep.Verdict)
				}
			}
			f := byID(d.findings, "login.provider")
			if f == nil || !strings.Contains(f.Title, tt.provider) || len(f.Evidence) == 0 {
				t.Errorf("login.provider finding: %+v", f)
			}
		})
	}
	// Fastmail documents SMTP on 465 only; a Proton custom domain can
	// send through Proton's SMTP submission (with a token), beside Bridge.
	fm := discoverTest(t, fakeEnv(), "jean@fastmail.com")
	if got := described(fm.endpoints); !slices.Contains(got, "SMTP smtp.fastmail.com:465 SSL/TLS") || slices.Contains(got, "SMTP smtp.fastmail.com:587 STARTTLS") {
		t.Errorf("fastmail endpoints %q", got)
	}
	pr := discoverTest(t, fakeEnv("corp.test. 300 IN MX 10 mail.protonmail.ch."), "jean@corp.test")
	if got := described(pr.endpoints); !slices.Contains(got, "SMTP smtp.protonmail.ch:587 STARTTLS") {
		t.Errorf("proton custom domain endpoints %q", got)
	}
	// A domain whose MX merely contains a provider's name is not hosted there.
	d := discoverTest(t, fakeEnv("corp.test. 300 IN MX 10 google.com.evil.test."), "jean@corp.test")
	if d.provider != nil {
		t.Errorf("provider %s recognised from MX google.com.evil.test", d.provider.Name)
	}
}

// SRV records: priority order within a role (RFC 6186 §3.4), implicit TLS
// and STARTTLS compared by priority too (RFC 8314 §5.1), a target of "."
// means not offered (RFC 2782).
func TestSRV(t *testing.T) {
	env := fakeEnv(
		"corp.test. 300 IN MX 10 mx.corp.test.",
		"_imap._tcp.corp.test. 300 IN SRV 0 1 143 imap.corp.test.",
		"_imaps._tcp.corp.test. 300 IN SRV 10 1 993 imap.corp.test.",
		"_pop3s._tcp.corp.test. 300 IN SRV 20 1 995 pop.corp.test.",
		"_pop3._tcp.corp.test. 300 IN SRV 0 0 0 .",
		"_submissions._tcp.corp.test. 300 IN SRV 5 10 465 smtp-b.corp.test.",
		"_submissions._tcp.corp.test. 300 IN SRV 5 90 465 smtp-a.corp.test.",
		"_submission._tcp.corp.test. 300 IN SRV 0 0 0 .",
	)
	d := discoverTest(t, env, "jean@corp.test")
	want := []string{
		"IMAP imap.corp.test:143 STARTTLS",
		"IMAP imap.corp.test:993 SSL/TLS",
		"POP3 pop.corp.test:995 SSL/TLS",
		"SMTP smtp-a.corp.test:465 SSL/TLS",
		"SMTP smtp-b.corp.test:465 SSL/TLS",
	}
	if got := described(d.endpoints); !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	var not []string
	for _, s := range d.notOffered {
		not = append(not, s.name)
	}
	if !slices.Equal(not, []string{"_submission._tcp", "_pop3._tcp"}) {
		t.Errorf("not offered %v", not)
	}
	if len(d.findings) != 0 {
		t.Errorf("findings %v", d.findings)
	}
}

// Nothing published and no address for any guessed name: no candidate,
// and Check says so at fail.
func TestNoSettings(t *testing.T) {
	env := fakeEnv("corp.test. 300 IN MX 10 mx.corp.test.")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rep := Check(ctx, env, Request{Address: "jean@corp.test"})
	if len(rep.Login.Candidates) != 0 || !has(rep.Findings, "login.no-settings", finding.Fail) {
		t.Fatalf("candidates %v findings:\n%s", rep.Login.Candidates, list(rep.Findings))
	}
}

// Proton Mail Bridge runs on the user's computer: its settings are listed
// untested, never probed, and nothing is reported as failing.
func TestProtonBridgeIsNotProbed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rep := Check(ctx, fakeEnv(), Request{Address: "jean@proton.me", Password: "secret"})
	if len(rep.Probes) != 0 {
		t.Errorf("probed %v", rep.Probes)
	}
	for _, c := range rep.Login.Candidates {
		if c.Verdict != VerdictUntested || c.Host != "127.0.0.1" {
			t.Errorf("%s: %s", Describe(c), c.Verdict)
		}
	}
	for _, f := range rep.Findings {
		if f.Severity >= finding.Warn {
			t.Errorf("%s (%s): %s", f.ID, f.Severity, f.Title)
		}
	}
}

// A DNS failure is inconclusive, never "no settings published".
func TestOutOfZoneIsNotChecked(t *testing.T) {
	d := discoverTest(t, fakeEnv(), "jean@corp.test")
	for _, f := range d.findings {
		if f.Severity == finding.Fail {
			t.Errorf("%s at fail: %s", f.ID, f.Title)
		}
	}
}

func TestPasswordNeverPrints(t *testing.T) {
	p := Password("hunter2")
	for _, s := range []string{p.String(), p.GoString(), fmtAll(p)} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("password printed: %q", s)
		}
	}
	b, _ := p.MarshalText()
	if string(b) != redacted {
		t.Errorf("MarshalText = %q", b)
	}
}

func fmtAll(p Password) string {
	return strings.Join([]string{fmt.Sprintf("%s", p), fmt.Sprintf("%v", p), fmt.Sprintf("%+v", p), fmt.Sprintf("%#v", p), fmt.Sprintf("%q", p), fmt.Sprintf("%x", p)}, " ")
}

// Every provider entry names the documentation it follows and the day it
// was last checked against it, and a key for the catalogue's fixes where
// the pattern table knows the provider.
func TestProviderTableIsSourced(t *testing.T) {
	date := regexp.MustCompile(`^20\d\d-[01]\d-[0-3]\d$`)
	for _, p := range Providers {
		if !strings.HasPrefix(p.Source, "https://") {
			t.Errorf("%s: source %q", p.Name, p.Source)
		}
		if !date.MatchString(p.Checked) {
			t.Errorf("%s: checked %q is not a date", p.Name, p.Checked)
		}
		if p.Key != "" && finding.ProviderName(p.Key) == "" {
			t.Errorf("%s: key %q is not in finding/patterns/providers.yaml", p.Name, p.Key)
		}
		if len(p.Endpoints) == 0 || p.Note.IsZero() {
			t.Errorf("%s: no endpoints or no note", p.Name)
		}
	}
}
