package gate

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/pki"
	"github.com/mailcheck-cli/mailcheck/resolver"
	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

const rsaKey = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAvMtTV7XX5tdNc9PyDvtQO3Q3Q6/aMMolX0Ule88UnnzuwitiCvezN0R03Ty5om7wSI/DpXguJdHY9LVg4JxEHMkuy0myP/qN+PICMXHoAG4oBRYha2SUZQnNuiL8wAm5DPAcF/roYw1tP2zIMTRZH1rtNJNgIAtnLHOzMitTXKboDPCkFt7YAOTbzZZ2p6Dt0wmosIZELX2OLAAZM8ZmqOegxukyODrAB+QaQdHx6IJtHu36xIJEZHNzwdL6TIdT8ImGuHmw//8zq6Cv8ZjREo1JKbqsrWXhS6O4eZAUp2lt2R4cgP4eF2rB7bTMtdQZmeBDNHgd5ZENxyMIR5y8UQIDAQAB"

// evalOnly parses policy text and evaluates it against r, returning only
// the policy.* findings.
func evalOnly(t *testing.T, policy string, st State, domain string) []finding.Finding {
	t.Helper()
	p, err := ParsePolicy("mailcheck.yaml", []byte(policy))
	if err != nil {
		t.Fatal(err)
	}
	var out []finding.Finding
	for _, f := range p.evaluate(context.Background(), st, domain, testNow, nil) {
		if f.Area() == "policy" {
			out = append(out, f)
		}
	}
	return out
}

func idsAndSeverities(fs []finding.Finding) string {
	var parts []string
	for _, f := range fs {
		parts = append(parts, f.ID+" "+f.Severity.String())
	}
	return strings.Join(parts, ", ")
}

func TestEvaluateRequirements(t *testing.T) {
	for _, tt := range []struct {
		name    string
		policy  string
		domain  string
		records []string
		fail    func(*resolvertest.Fake)
		stsFile string // --mta-sts-policy
		want    string
		mention string // evidence must mention it
	}{
		{
			name:    "mx compared without case or trailing dot",
			policy:  "require:\n  mx: [MX1.Example.com., mx2.example.com]\n",
			records: []string{"example.com. 300 IN MX 10 mx1.EXAMPLE.com.", "example.com. 300 IN MX 20 mx2.example.com."},
			want:    "policy.ok pass",
		},
		{
			name:    "mx extra and missing",
			policy:  "require:\n  mx: [mx1.example.com, mx2.example.com]\n",
			records: []string{"example.com. 300 IN MX 10 mx1.example.com.", "example.com. 300 IN MX 20 backup.example.net."},
			want:    "policy.mx fail",
			mention: "extra: backup.example.net",
		},
		{
			name:    "null mx required and published",
			policy:  "require:\n  mx: [\".\"]\n",
			records: []string{"example.com. 300 IN MX 0 ."},
			want:    "policy.ok pass",
		},
		{
			name:   "mx lookup fails: inconclusive, not a violation",
			policy: "require:\n  mx: [mx1.example.com]\n",
			fail:   func(f *resolvertest.Fake) { f.Fail("example.com.", dns.TypeMX, resolver.ServFail) },
			want:   "policy.mx error",
		},
		{
			name:   "name outside the zones: not checked",
			policy: "require:\n  spf_max_lookups: 5\n",
			fail:   func(f *resolvertest.Fake) { f.Fail("example.com.", dns.TypeTXT, resolver.OutOfZone) },
			want:   "policy.spf-lookups info",
		},
		{
			name:    "dmarc inherited through sp= of the organizational domain",
			policy:  "require:\n  dmarc_policy: quarantine\n",
			domain:  "shop.example.com",
			records: []string{`_dmarc.example.com. 300 IN TXT "v=DMARC1; p=reject; sp=none"`},
			want:    "policy.dmarc-policy fail",
			mention: "p=none (inherited",
		},
		{
			name:    "dmarc inherited p= when there is no sp=",
			policy:  "require:\n  dmarc_policy: quarantine\n",
			domain:  "shop.example.com",
			records: []string{`_dmarc.example.com. 300 IN TXT "v=DMARC1; p=reject"`},
			want:    "policy.ok pass",
		},
		{
			name:    "dmarc invalid p= with reports counts as none",
			policy:  "require:\n  dmarc_policy: none\n",
			records: []string{`_dmarc.example.com. 300 IN TXT "v=DMARC1; p=strict; rua=mailto:d@example.com"`},
			want:    "policy.ok pass",
		},
		{
			name:    "two dmarc records: no policy",
			policy:  "require:\n  dmarc_policy: none\n",
			records: []string{`_dmarc.example.com. 300 IN TXT "v=DMARC1; p=reject"`, `_dmarc.example.com. 300 IN TXT "v=DMARC1; p=none"`},
			want:    "policy.dmarc-policy fail",
			mention: "2 DMARC records",
		},
		{
			name:    "dkim key through a CNAME to the provider",
			policy:  "require:\n  dkim_selectors: [s1]\n",
			records: []string{"s1._domainkey.example.com. 300 IN CNAME s1.dkim.provider.example.", `s1.dkim.provider.example. 300 IN TXT "k=rsa; p=` + rsaKey + `"`},
			want:    "policy.ok pass",
		},
		{
			name:    "dkim key that is not base64",
			policy:  "require:\n  dkim_selectors: [s1]\n",
			records: []string{`s1._domainkey.example.com. 300 IN TXT "v=DKIM1; p=not*base64"`},
			want:    "policy.dkim-selector fail",
			mention: "base64",
		},
		{
			name:    "spf at the limit of the policy",
			policy:  "require:\n  spf_max_lookups: 2\n",
			records: []string{`example.com. 300 IN TXT "v=spf1 mx include:_spf.example.com -all"`, `_spf.example.com. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"`},
			want:    "policy.ok pass",
		},
		{
			name:   "spf over the policy even though a branch failed",
			policy: "require:\n  spf_max_lookups: 2\n",
			records: []string{`example.com. 300 IN TXT "v=spf1 a mx ptr include:_spf.example.com -all"`,
				`_spf.example.com. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"`},
			fail:    func(f *resolvertest.Fake) { f.Fail("_spf.example.com.", dns.TypeTXT, resolver.Timeout) },
			want:    "policy.spf-lookups fail",
			mention: "at least 4",
		},
		{
			name:    "mta-sts without a TXT record is mode none",
			policy:  "require:\n  mta_sts_mode: testing\n",
			records: []string{"example.com. 300 IN MX 10 mx1.example.com."},
			want:    "policy.mta-sts-mode fail",
			mention: "mode none",
		},
		{
			name:    "mta-sts policy file in the repository, TXT record dropped",
			policy:  "require:\n  mta_sts_mode: testing\n",
			records: []string{"example.com. 300 IN MX 10 mx1.example.com."},
			stsFile: "testdata/clean/baseline/mta-sts.txt",
			want:    "policy.mta-sts-mode fail",
			mention: "no valid _mta-sts.example.com TXT record",
		},
		{
			name:    "mta-sts policy file in the repository, TXT record kept",
			policy:  "require:\n  mta_sts_mode: enforce\n",
			records: []string{`_mta-sts.example.com. 300 IN TXT "v=STSv1; id=2"`},
			stsFile: "testdata/clean/baseline/mta-sts.txt",
			want:    "policy.ok pass",
		},
		{
			name:    "mta-sts policy file that does not parse is no policy",
			policy:  "require:\n  mta_sts_mode: testing\n",
			records: []string{`_mta-sts.example.com. 300 IN TXT "v=STSv1; id=2"`},
			stsFile: "testdata/policy-allow-expired/policy.yaml",
			want:    "policy.mta-sts-mode fail",
			mention: "invalid",
		},
		{
			name:    "mta-sts TXT present but no way to read the policy",
			policy:  "require:\n  mta_sts_mode: testing\n",
			records: []string{`_mta-sts.example.com. 300 IN TXT "v=STSv1; id=1"`},
			want:    "policy.mta-sts-mode error",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := resolvertest.New(tt.records...)
			if tt.fail != nil {
				tt.fail(r)
			}
			domain := tt.domain
			if domain == "" {
				domain = "example.com"
			}
			got := evalOnly(t, tt.policy, State{Resolver: r, PolicyFile: tt.stsFile}, domain)
			if s := idsAndSeverities(got); s != tt.want {
				t.Fatalf("got %q, want %q", s, tt.want)
			}
			f := got[0]
			if f.Location == nil || f.Location.File != "mailcheck.yaml" {
				t.Errorf("Location = %+v, want the policy file", f.Location)
			}
			if f.ID != "policy.ok" && f.Location.Line != 2 {
				t.Errorf("Location line %d, want 2 (the requirement)", f.Location.Line)
			}
			if tt.mention != "" && !strings.Contains(strings.Join(f.Evidence, "\n")+f.Title, tt.mention) {
				t.Errorf("evidence %q does not mention %q", f.Evidence, tt.mention)
			}
		})
	}
}

func TestEvaluateMTASTSOverHTTPS(t *testing.T) {
	ca, err := pki.NewRoot("gate test CA")
	if err != nil {
		t.Fatal(err)
	}
	records := []string{`_mta-sts.example.com. 300 IN TXT "v=STSv1; id=2026112101"`, "mta-sts.example.com. 300 IN A 127.0.0.1"}
	for _, tt := range []struct {
		name     string
		certName string
		file     string
		want     string
	}{
		{"testing policy fetched", "mta-sts.example.com", "testdata/mx-not-in-mtasts-testing/baseline/mta-sts.txt", "policy.mta-sts-mode fail"},
		{"enforce policy fetched", "mta-sts.example.com", "testdata/clean/baseline/mta-sts.txt", "policy.ok pass"},
		{"certificate for another name", "www.example.com", "testdata/clean/baseline/mta-sts.txt", "policy.mta-sts-mode error"},
		{"no policy served (404)", "mta-sts.example.com", "testdata/absent.txt", "policy.mta-sts-mode error"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			leaf, err := ca.Issue(pki.LeafOptions{Names: []string{tt.certName}})
			if err != nil {
				t.Fatal(err)
			}
			r := resolvertest.New(records...)
			port := servePolicy(t, tt.file, leaf)
			st := LiveState(r, testDialer(r, port, ca.Pool()))
			got := evalOnly(t, "require:\n  mta_sts_mode: enforce\n", st, "example.com")
			if s := idsAndSeverities(got); s != tt.want {
				t.Errorf("got %q, want %q (%+v)", s, tt.want, got)
			}
		})
	}
}

func TestEvaluateDoesNotAllowPass(t *testing.T) {
	p, err := ParsePolicy("p.yaml", []byte("allow:\n  - id: mx.ok\n    reason: r\n    until: 2099-01-01\n"))
	if err != nil {
		t.Fatal(err)
	}
	out := p.evaluate(context.Background(), State{Resolver: resolvertest.New()}, "example.com", time.Now(),
		[]finding.Finding{{ID: "mx.ok", Severity: finding.Pass, Subject: "example.com MX"}})
	if len(out) != 1 || out[0].Allowed != "" {
		t.Errorf("a pass finding was marked allowed: %+v", out)
	}
}
