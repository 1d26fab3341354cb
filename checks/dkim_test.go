package checks

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

// Public halves of RSA keys made with openssl for these tests (Go refuses
// to generate keys under 1024 bits); the private halves were discarded.
const (
	testRSA768  = "MHwwDQYJKoZIhvcNAQEBBQADawAwaAJhAMtjHFBh4k9X+90u0H8n0v8fWOS5cyQx8EhsrBU31Enif3u1wKF1psb9Nt/7Mlh42dDCbBh/Tk2Pgp49TssP8Ol17peqHbjfkpreS7M3cwcMMhPJeP+xn7K5XrXo/E4GQwIDAQAB"
	testRSA1024 = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDjP32j5Kin2uq5OMkaU4qnmReIPd4GnITN8nSiRwifO9qPDkB9J6BFKAupU5XFjbaFzcpSrJMYik6/zVC/aof29OiEnasSARot5RgztV3O+HgehMgQhsRstCFySXN89FVtxsnc2MxN4Z81BI/gMja2n2M8KQHMWwEP4+f7L2FKGQIDAQAB"
	testRSA2048 = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAo2qPFeVT1Mm4/cFGviECs8ANuQtfpOCKfu+uRl0QTZ70JRLrCTif/wbP2u7U13TCXLCDJ/SmBgfs7G7zNAdRVZ3RsCQb90wiHiijIYCVseuzBKnbM9gxs221ZWL3TSWu4CWxGnps6Xw9V/2KFabzBdACYdbJ5Dr3NaUc0UPiKek20QE+DCKUm9yEG4kky2XX86oBUE2nStngx+5IJbhW6+XpacNij2eid9equstZb/pBS1Yk8xrLjop1E/FHakGMqX6P8Ij0btURqF94KQk/S5Iff5+CvghMtQWFSs++FGdmZbaLW/fDlVcjNbG1XVnJ/H8iLZax1VylhF7GezmJ5QIDAQAB"
)

// dkimKeyRR is a TXT record in presentation form, its text split into
// strings of at most 200 characters as a 2048-bit key must be (RFC 1035
// §3.3.14 limits one string to 255).
func dkimKeyRR(name, record string) string {
	var parts []string
	for len(record) > 200 {
		parts = append(parts, record[:200])
		record = record[200:]
	}
	parts = append(parts, record)
	return name + " 300 IN TXT \"" + strings.Join(parts, "\" \"") + "\""
}

func runDKIM(r resolver.Resolver, selectors ...string) Result {
	return checkDKIM(context.Background(), &Env{Resolver: r, DKIMSelectors: selectors}, "example.com")
}

func TestDKIM(t *testing.T) {
	good := "v=DKIM1; k=rsa; p=" + testRSA2048
	tests := []struct {
		name      string
		records   []string
		selectors []string
		fail      []string // names whose TXT lookup fails with SERVFAIL
		want      []want
		absent    []string // IDs that must not appear at all
	}{
		{name: "given selector with a good key",
			records: []string{dkimKeyRR("s2026._domainkey.example.com.", good)}, selectors: []string{"s2026"},
			want: []want{{"dkim.ok", finding.Pass, "s2026._domainkey.example.com TXT"}}, absent: []string{"dkim.none-found"}},
		{name: "guessed selector with a good key",
			records: []string{dkimKeyRR("google._domainkey.example.com.", good)},
			want:    []want{{"dkim.ok", finding.Pass, "google._domainkey"}}, absent: []string{"dkim.none-found"}},
		{name: "ed25519 key",
			records: []string{"selector1._domainkey.example.com. IN TXT \"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\""},
			want:    []want{{"dkim.ok", finding.Pass, "selector1._domainkey"}}},
		{name: "nothing anywhere, nothing given: inconclusive",
			records: []string{"example.com. IN MX 10 mail.example.com."},
			want:    []want{{"dkim.none-found", finding.Error, "_domainkey.example.com"}}},
		{name: "given selector has no key",
			records: []string{dkimKeyRR("google._domainkey.example.com.", good)}, selectors: []string{"s2026"},
			want: []want{{"dkim.none-found", finding.Fail, "s2026._domainkey"}, {"dkim.ok", finding.Pass, "google._domainkey"}}},
		{name: "syntax",
			records: []string{"s2026._domainkey.example.com. IN TXT \"v=DKIM1; k=rsa; p=MIIB!!not-base64\""}, selectors: []string{"s2026"},
			want: []want{{"dkim.syntax", finding.Fail, "s2026._domainkey"}}, absent: []string{"dkim.ok", "dkim.none-found"}},
		{name: "768-bit key",
			records: []string{dkimKeyRR("s2026._domainkey.example.com.", "v=DKIM1; p="+testRSA768)}, selectors: []string{"s2026"},
			want: []want{{"dkim.key-weak", finding.Fail, "s2026"}}, absent: []string{"dkim.ok"}},
		{name: "1024-bit key",
			records: []string{dkimKeyRR("s2026._domainkey.example.com.", "v=DKIM1; p="+testRSA1024)}, selectors: []string{"s2026"},
			want: []want{{"dkim.key-weak", finding.Warn, "s2026"}}, absent: []string{"dkim.ok"}},
		{name: "revoked",
			records:   []string{dkimKeyRR("s2026._domainkey.example.com.", good), "s2025._domainkey.example.com. IN TXT \"v=DKIM1; p=\""},
			selectors: []string{"s2026", "s2025"},
			want:      []want{{"dkim.ok", finding.Pass, "s2026"}, {"dkim.revoked", finding.Info, "s2025"}}},
		{name: "testing",
			records: []string{dkimKeyRR("s2026._domainkey.example.com.", "v=DKIM1; t=y; p="+testRSA2048)}, selectors: []string{"s2026"},
			want: []want{{"dkim.testing", finding.Warn, "s2026"}}},
		{name: "sha1 only",
			records: []string{dkimKeyRR("s2026._domainkey.example.com.", "v=DKIM1; h=sha1; p="+testRSA2048)}, selectors: []string{"s2026"},
			want: []want{{"dkim.sha1", finding.Fail, "s2026"}}},
		{name: "several problems on one key",
			records: []string{dkimKeyRR("s2026._domainkey.example.com.", "v=DKIM1; h=sha1; t=y; p="+testRSA1024)}, selectors: []string{"s2026"},
			want: []want{{"dkim.sha1", finding.Fail, "s2026"}, {"dkim.testing", finding.Warn, "s2026"}, {"dkim.key-weak", finding.Warn, "s2026"}}},
		{name: "selector is a CNAME to the provider",
			records: []string{
				"selector1._domainkey.example.com. IN CNAME selector1-example-com._domainkey.tenant.provider.test.",
				dkimKeyRR("selector1-example-com._domainkey.tenant.provider.test.", good)},
			want: []want{{"dkim.ok", finding.Pass, "selector1._domainkey.example.com"}}},
		{name: "given selector lookup fails: inconclusive, never missing",
			records: []string{"example.com. IN MX 10 mail.example.com."}, selectors: []string{"s2026"},
			fail: []string{"s2026._domainkey.example.com."},
			want: []want{{"dns.lookup-failed", finding.Error, "s2026._domainkey.example.com TXT"}}, absent: []string{"dkim.none-found"}},
		{name: "one guess fails, key found elsewhere: the failure is not a finding",
			records: []string{dkimKeyRR("google._domainkey.example.com.", good)},
			fail:    []string{"k1._domainkey.example.com."},
			want:    []want{{"dkim.ok", finding.Pass, "google"}}, absent: []string{"dns.lookup-failed"}},
		{name: "every guess fails: one finding",
			records: []string{"example.com. IN MX 10 mail.example.com."},
			fail:    dkimAllGuessNames("example.com"),
			want:    []want{{"dns.lookup-failed", finding.Error, ""}}, absent: []string{"dkim.none-found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := resolvertest.New(tt.records...)
			for _, n := range tt.fail {
				r.Fail(n, dns.TypeTXT, resolver.ServFail)
			}
			res := runDKIM(r, tt.selectors...)
			assertFindings(t, res.Findings, tt.want...)
			for _, id := range tt.absent {
				if f := findingByID(res.Findings, id); f != nil {
					t.Errorf("unexpected %s/%s: %s", f.ID, f.Severity, f.Title)
				}
			}
			if n := strings.Count(listFindings(res.Findings), "dns.lookup-failed"); n > 1 {
				t.Errorf("%d lookup-failed findings; failed guesses must be summed up:\n%s", n, listFindings(res.Findings))
			}
		})
	}
}

func dkimAllGuessNames(domain string) []string {
	var out []string
	for _, s := range CommonDKIMSelectors {
		out = append(out, s+"._domainkey."+domain+".")
	}
	return out
}

func TestDKIMLocatesRecord(t *testing.T) {
	z, err := resolver.NewZone(resolver.ZoneSource{File: "example.com.zone", Data: []byte(
		"$ORIGIN example.com.\n@ IN SOA ns. h. 1 2 3 4 5\n@ IN NS ns.\n" +
			"s2026._domainkey IN TXT \"v=DKIM1; t=y; p=" + testRSA1024 + "\"\n")})
	if err != nil {
		t.Fatal(err)
	}
	res := runDKIM(z, "s2026")
	f := findingByID(res.Findings, "dkim.testing")
	if f == nil || f.Location == nil || f.Location.File != "example.com.zone" || f.Location.Line != 4 {
		t.Fatalf("dkim.testing located at %+v, want example.com.zone:4\n%s", f, listFindings(res.Findings))
	}
}

func TestDKIMWildcard(t *testing.T) {
	// A wildcard under _domainkey answers every selector: guesses that
	// return its record are not keys. A given selector is judged on what a
	// verifier would get, wildcard or not.
	z, err := resolver.NewZone(resolver.ZoneSource{File: "example.com.zone", Data: []byte(
		"$ORIGIN example.com.\n@ IN SOA ns. h. 1 2 3 4 5\n@ IN NS ns.\n" +
			"*._domainkey IN TXT \"v=DKIM1; p=" + testRSA1024 + "\"\n" +
			dkimKeyRR("s2026._domainkey", "v=DKIM1; p="+testRSA2048) + "\n")})
	if err != nil {
		t.Fatal(err)
	}
	res := runDKIM(z, "s2026")
	assertFindings(t, res.Findings, want{"dkim.ok", finding.Pass, "s2026._domainkey"})
	if strings.Count(listFindings(res.Findings), "dkim.") != 1 {
		t.Errorf("wildcard answers were reported as keys:\n%s", listFindings(res.Findings))
	}
	if !strings.Contains(strings.Join(res.Detail, "\n"), "wildcard") {
		t.Errorf("Detail does not mention the wildcard: %q", res.Detail)
	}

	// Nothing given: s2026 is no common selector and the wildcard is no
	// key, so nothing was found.
	res = runDKIM(z)
	assertFindings(t, res.Findings, want{"dkim.none-found", finding.Error, ""})

	// A given common selector answered by the wildcard: judged, with the
	// wildcard named in the evidence.
	res = runDKIM(z, "s1")
	assertFindings(t, res.Findings, want{"dkim.key-weak", finding.Warn, "s1._domainkey.example.com"})
	if f := findingByID(res.Findings, "dkim.key-weak"); f != nil && !strings.Contains(strings.Join(f.Evidence, " "), "wildcard") {
		t.Errorf("evidence does not mention the wildcard: %q", f.Evidence)
	}
}

func TestDKIMSelectorCNAMEOutsideZones(t *testing.T) {
	// Microsoft 365 style: the selector is an alias into the provider's
	// zone, which was not given. That is "not checked", never "no key".
	z, err := resolver.NewZone(resolver.ZoneSource{File: "example.com.zone", Data: []byte(
		"$ORIGIN example.com.\n@ IN SOA ns. h. 1 2 3 4 5\n@ IN NS ns.\n" +
			"selector1._domainkey IN CNAME selector1-example-com._domainkey.tenant.onmicrosoft.test.\n")})
	if err != nil {
		t.Fatal(err)
	}
	res := runDKIM(z)
	assertFindings(t, res.Findings, want{"dns.not-checked", finding.Info, "selector1._domainkey.example.com"})
	if f := findingByID(res.Findings, "dkim.none-found"); f != nil {
		t.Errorf("unexpected %s/%s", f.ID, f.Severity)
	}
}

func TestDKIMSelectorsQueriedConcurrently(t *testing.T) {
	// Every common selector must be in flight at once: the check costs one
	// round trip, not one per wave.
	g := newBarrier(resolvertest.New(dkimKeyRR("s1._domainkey.example.com.", "v=DKIM1; p="+testRSA2048)), dns.TypeTXT, len(CommonDKIMSelectors))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res := checkDKIM(ctx, &Env{Resolver: g}, "example.com")
	assertFindings(t, res.Findings, want{"dkim.ok", finding.Pass, "s1._domainkey"})
}

func TestCommonDKIMSelectorsAreDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range CommonDKIMSelectors {
		if seen[s] || s != strings.ToLower(s) {
			t.Errorf("selector %q repeated or not lower case", s)
		}
		seen[s] = true
	}
	if len(CommonDKIMSelectors) < 25 {
		t.Errorf("only %d common selectors", len(CommonDKIMSelectors))
	}
}
