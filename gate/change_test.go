package gate

import (
	"context"
	"github.com/mailcheck-cli/mailcheck/checks/mtasts"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/checks/dkim"
	"github.com/mailcheck-cli/mailcheck/pki"
	"github.com/mailcheck-cli/mailcheck/resolver"
	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

func TestChangeRulesLookupFailureIsNotRemoval(t *testing.T) {
	key := `s1._domainkey.example.com. 3600 IN TXT "v=DKIM1; p=` + rsaKey + `"`
	base := resolvertest.New(key)
	for _, tt := range []struct {
		kind resolver.Kind
		want string
	}{
		{resolver.ServFail, "dns.lookup-failed error"},
		{resolver.Timeout, "dns.lookup-failed error"},
		{resolver.OutOfZone, "dns.not-checked info"},
	} {
		t.Run(tt.kind.String(), func(t *testing.T) {
			prop := resolvertest.New()
			prop.Fail("s1._domainkey.example.com.", dns.TypeTXT, tt.kind)
			got := changeRules(context.Background(), State{Resolver: base}, State{Resolver: prop}, "example.com",
				ChangeOptions{DKIMSelectors: []string{"s1"}})
			if s := idsAndSeverities(got); s != tt.want {
				t.Errorf("got %q, want %q", s, tt.want)
			}
		})
	}
}

func TestChangeRulesRevokedKeyIsDeliberate(t *testing.T) {
	base := resolvertest.New(`s1._domainkey.example.com. 300 IN TXT "v=DKIM1; p=` + rsaKey + `"`)
	prop := resolvertest.New(`s1._domainkey.example.com. 300 IN TXT "v=DKIM1; p="`)
	got := changeRules(context.Background(), State{Resolver: base}, State{Resolver: prop}, "example.com",
		ChangeOptions{DKIMSelectors: []string{"s1"}})
	if len(got) != 0 {
		t.Errorf("an explicit revocation (empty p=) was reported: %s", idsAndSeverities(got))
	}
}

func TestChangeRulesDKIMRemovalWithLongTTL(t *testing.T) {
	// The old key staying cached is harmless; the removal itself is not.
	base := resolvertest.New(`s1._domainkey.example.com. 172800 IN TXT "v=DKIM1; p=`+rsaKey+`"`,
		"example.com. 300 IN MX 10 mx1.example.com.")
	prop := resolvertest.New("example.com. 300 IN MX 10 mx1.example.com.")
	got := changeRules(context.Background(), State{Resolver: base}, State{Resolver: prop}, "example.com",
		ChangeOptions{DKIMSelectors: []string{"s1"}})
	if s := idsAndSeverities(got); s != "change.dkim-selector-removed fail" {
		t.Fatalf("got %q", s)
	}
	if got[0].Baseline != New {
		t.Errorf("Baseline = %q, want %q", got[0].Baseline, New)
	}
	if !strings.Contains(got[0].Fix, "2 days") {
		t.Errorf("the fix does not name the old TTL: %q", got[0].Fix)
	}
}

func TestChangeRulesTTLOnlyChangeIsQuiet(t *testing.T) {
	// Lowering the TTL ahead of a change is the remedy, not a problem.
	base := resolvertest.New("example.com. 86400 IN MX 10 mx1.example.com.")
	prop := resolvertest.New("example.com. 300 IN MX 10 MX1.example.com.")
	got := changeRules(context.Background(), State{Resolver: base}, State{Resolver: prop}, "example.com", ChangeOptions{})
	if len(got) != 0 {
		t.Errorf("got %s", idsAndSeverities(got))
	}
}

func TestChangeRulesTTLOfSPFIgnoresOtherTXT(t *testing.T) {
	base := resolvertest.New(`example.com. 86400 IN TXT "v=spf1 mx -all"`, `example.com. 86400 IN TXT "google-site-verification=abc"`)
	prop := resolvertest.New(`example.com. 86400 IN TXT "v=spf1 mx -all"`, `example.com. 86400 IN TXT "google-site-verification=xyz"`)
	if got := changeRules(context.Background(), State{Resolver: base}, State{Resolver: prop}, "example.com", ChangeOptions{}); len(got) != 0 {
		t.Errorf("a non-SPF TXT change was reported: %s", idsAndSeverities(got))
	}
	prop = resolvertest.New(`example.com. 86400 IN TXT "v=spf1 mx include:_spf.example.net -all"`)
	got := changeRules(context.Background(), State{Resolver: base}, State{Resolver: prop}, "example.com", ChangeOptions{})
	if s := idsAndSeverities(got); s != "change.ttl-cached info" || !strings.Contains(got[0].Title, "up to 1 day (TTL 86400)") {
		t.Errorf("got %q %+v", s, got)
	}
}

func TestParseSTSPolicy(t *testing.T) {
	a, err := parseSTSPolicy("version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: *.example.net\nmax_age: 86400\n", "a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseSTSPolicy("max_age: 86400\r\nmx: *.EXAMPLE.net\r\nversion: STSv1\r\nmx: mx1.example.com\r\nmode: enforce\r\nextension: ignored\r\n", "b")
	if err != nil {
		t.Fatal(err)
	}
	if !a.sameAs(b) {
		t.Errorf("same policy, other layout: %s vs %s", a.summary(), b.summary())
	}
	c, err := parseSTSPolicy("version: STSv1\nmode: testing\nmx: mx1.example.com\nmx: *.example.net\nmax_age: 86400\n", "c")
	if err != nil {
		t.Fatal(err)
	}
	if a.sameAs(c) {
		t.Error("a mode change went unnoticed")
	}
	for _, bad := range []string{
		"version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n",
		"version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n",
		"version: STSv1\nmode: enforce\nmax_age: 1\n",
		"version: STSv1\nmode: enforce\nmx: a.example\n",
		"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 99999999999\n",
		"<html>not found</html>",
	} {
		if _, err := parseSTSPolicy(bad, "x"); err == nil {
			t.Errorf("parseSTSPolicy(%q) accepted it", bad)
		}
	}
	if _, err := parseSTSPolicy("version: STSv1\nmode: none\nmax_age: 86400\n", "none"); err != nil {
		t.Errorf("mode none needs no mx: %v", err)
	}
}

func TestCheckDKIMKey(t *testing.T) {
	for _, tt := range []struct {
		record string
		valid  bool
	}{
		{"v=DKIM1; k=rsa; p=" + rsaKey, true},
		{"p=" + rsaKey, true}, // v= and k= are optional
		{"v=DKIM1; p=" + rsaKey[:40] + " " + rsaKey[40:], true},
		{"k=rsa; v=DKIM1; p=" + rsaKey, false}, // v= must come first
		{"v=DKIM1; p=", false},
		{"v=DKIM1; p=AAAA", false},
		{"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", true},
		{"v=DKIM1; k=ed25519; p=" + rsaKey, false},
		{"v=DKIM1; k=dsa; p=" + rsaKey, false},
	} {
		tags, err := dkim.ParseTagList(tt.record)
		if err != nil {
			t.Fatalf("%q: %v", tt.record, err)
		}
		_, valid, reason := checkDKIMKey(tt.record, tags)
		if valid != tt.valid {
			t.Errorf("%.50q: valid %v (%s), want %v", tt.record, valid, reason, tt.valid)
		}
	}
}

func TestHumanTTL(t *testing.T) {
	for _, tt := range []struct {
		sec  uint32
		want string
	}{
		{300, "5 minutes"},
		{3600, "1 hour"},
		{5400, "1 hour 30 minutes"},
		{86400, "1 day"},
		{172800, "2 days"},
		{90061, "1 day 1 hour"},
		{0, "0 seconds"},
	} {
		if got := humanTTL(tt.sec); got.String() != tt.want {
			t.Errorf("humanTTL(%d) = %q, want %q", tt.sec, got, tt.want)
		}
	}
}

func TestMTASTSChangesWithUnreadablePolicies(t *testing.T) {
	ca, err := pki.NewRoot("gate test CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(pki.LeafOptions{Names: []string{"mta-sts.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	valid := write("valid.txt", "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmax_age: 86400\n")
	invalid := write("invalid.txt", "<html>Welcome to nginx</html>\n")
	common := []string{`_mta-sts.example.com. 300 IN TXT "v=STSv1; id=7"`, "mta-sts.example.com. 300 IN A 127.0.0.1",
		"example.com. 300 IN MX 10 mx1.example.com."}

	for _, tt := range []struct {
		name      string
		published string // served over HTTPS; absent: 404
		proposed  string // --mta-sts-policy; "": fetched like the baseline
		newMX     bool
		want      string
	}{
		{"invalid published policy restricts no MX", invalid, "", true, ""},
		{"published policy unreachable", filepath.Join(dir, "absent.txt"), "", true, "change.mx-not-in-mtasts error"},
		{"policy becomes invalid under the same id", valid, invalid, false, "change.mtasts-id-unchanged fail"},
		{"policy becomes valid under the same id", invalid, valid, false, "change.mtasts-id-unchanged fail"},
		{"policy unchanged", valid, valid, false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base := resolvertest.New(common...)
			prop := resolvertest.New(common...)
			if tt.newMX {
				prop.Add("example.com. 300 IN MX 20 mx9.example.net.")
			}
			port := servePolicy(t, tt.published, leaf)
			bs := LiveState(base, testDialer(base, port, ca.Pool()))
			ps := LiveState(prop, testDialer(prop, port, ca.Pool()))
			if tt.proposed != "" {
				ps.PolicyFile = tt.proposed
			}
			got := changeRules(context.Background(), bs, ps, "example.com", ChangeOptions{})
			if s := idsAndSeverities(got); s != tt.want {
				t.Errorf("got %q, want %q", s, tt.want)
			}
		})
	}
}

// parseSTSPolicy parses a policy text as load does once it has the bytes.
func parseSTSPolicy(text, where string) (*stsPolicy, error) {
	pol, err := mtasts.ParsePolicy([]byte(text))
	if err != nil {
		return nil, err
	}
	return newSTSPolicy(pol, where), nil
}
