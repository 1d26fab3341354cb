package report

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fatih/color"
	"github.com/mailcheck-cli/mailcheck/finding"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var (
	started = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	clock   = func() time.Time { return started.Add(2 * time.Second) }
)

// sampleReports is a domain audit with the CI gate's baseline and policy
// marks, live probes and awkward text (|, <, %, a newline, and a zone file
// name with ',' and ':'), plus a second, smaller target.
func sampleReports() []finding.Report {
	zone := "zones/example.com.zone"
	withFix := func(f finding.Finding, loc *finding.Location, baseline string) finding.Finding {
		f.Location = loc
		f.Baseline = baseline
		return f
	}
	allowed := finding.New("dmarc.rua-missing", "_dmarc.example.com TXT", finding.Text{})
	allowed.Allowed = "until 2027-06-30: reports are handled by our provider"
	expiring := finding.New("tls.cert-expiring", "mx1.example.com:25", finding.T("The certificate expires in 9 days (2026-11-30)"),
		"CN=mx1.example.com, issued by R11")
	a := finding.Report{
		Schema: finding.Schema, Target: "example.com", Started: started, DurationMS: 412,
		Findings: []finding.Finding{
			finding.New("mx.ok", "example.com MX", finding.Text{}),
			withFix(finding.New("mx.cname", "example.com MX", finding.T("MX target mail.example.com is a CNAME\nto web.example.net | 100%% <alias>"),
				"example.com. 3600 IN MX 10 mail.example.com."), &finding.Location{File: "zones/ex,ample:v2.zone", Line: 7}, ""),
			withFix(finding.New("spf.lookup-limit", "example.com TXT", finding.T("SPF needs 12 DNS lookups; the limit is 10"),
				"v=spf1 include:_spf.a.example include:_spf.b.example -all"), &finding.Location{File: zone, Line: 12}, "new"),
			withFix(finding.New("spf.all-neutral", "example.com TXT", finding.Text{}), &finding.Location{File: zone, Line: 12}, "fixed"),
			withFix(finding.New("dmarc.policy-none", "_dmarc.example.com TXT", finding.Text{}, "v=DMARC1; p=none"),
				&finding.Location{File: zone, Line: 14}, "unchanged"),
			allowed,
			finding.New("dkim.ok", "s2026._domainkey.example.com TXT", finding.Text{}),
			finding.New("tlsrpt.missing", "_smtp._tls.example.com TXT", finding.Text{}),
			finding.New("conn.timeout", "mx2.example.com:25", finding.Text{}, "dial tcp 192.0.2.2:25: i/o timeout"),
			expiring,
		},
		Probes: []finding.Probe{
			{Host: "mx1.example.com", Addr: "192.0.2.1:25", Protocol: "smtp", Status: "ok",
				Banner: "220 mx1.example.com ESMTP", StartTLS: true,
				TLS: &finding.TLSState{Version: "TLS1.3", Cipher: "TLS_AES_128_GCM_SHA256", Verified: true,
					Chain: []finding.CertInfo{{Subject: "CN=mx1.example.com", Issuer: "CN=R11,O=Let's Encrypt",
						NotAfter: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), DNSNames: []string{"mx1.example.com"}}}},
				AuthAfterTLS: []string{"PLAIN", "LOGIN"}, DurationMS: 85,
				Transcript: []string{"S: 220 mx1.example.com ESMTP", "C: EHLO mailcheck.invalid", "S: 250-STARTTLS"}},
			{Host: "mx2.example.com", Addr: "192.0.2.2:25", Protocol: "smtp", Status: "timeout",
				Error: "dial tcp 192.0.2.2:25: i/o timeout", DurationMS: 10000},
		},
		Detail: []string{"SPF include tree:", "  example.com (2 lookups)", "    include:_spf.a.example (5 lookups)"},
	}
	b := finding.Report{
		Schema: finding.Schema, Target: "example.org", Started: started.Add(time.Second), DurationMS: 88,
		Findings: []finding.Finding{
			finding.New("spf.ok", "example.org TXT", finding.Text{}),
			finding.New("dmarc.missing", "_dmarc.example.org TXT", finding.Text{}),
			finding.New("mtasts.missing", "_mta-sts.example.org TXT", finding.Text{}),
		},
	}
	return []finding.Report{a, b}
}

func render(t *testing.T, reports []finding.Report, opts Options) string {
	t.Helper()
	if opts.Now == nil {
		opts.Now = clock
	}
	opts.ToolVersion = "1.2.3"
	var buf bytes.Buffer
	if err := Render(&buf, reports, opts); err != nil {
		t.Fatalf("Render(%s): %v", opts.Format, err)
	}
	return buf.String()
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		one  bool // render only the first report
	}{
		{"text", Options{Format: "text"}, false},
		{"text-color", Options{Format: "text", Color: true}, false},
		{"text-verbose-github", Options{Format: "text", Verbose: true, GitHubActions: true}, false},
		{"json-one", Options{Format: "json"}, true},
		{"json-many", Options{Format: "json"}, false},
		{"ndjson", Options{Format: "ndjson"}, false},
		{"markdown", Options{Format: "markdown"}, false},
		{"sarif", Options{Format: "sarif"}, false},
		{"junit", Options{Format: "junit"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reports := sampleReports()
			if tt.one {
				reports = reports[:1]
			}
			got := render(t, reports, tt.opts)
			path := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./report -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s; run go test ./report -update and review the diff\n--- got:\n%s", tt.name, path, got)
			}
		})
	}
}

func TestUnknownFormatIsTypedError(t *testing.T) {
	err := Render(&bytes.Buffer{}, sampleReports(), Options{Format: "yaml"})
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Format != "yaml" {
		t.Fatalf("Render with format yaml returned %v, want a *FormatError", err)
	}
	if !strings.Contains(err.Error(), "markdown") {
		t.Errorf("the error should list the valid formats: %v", err)
	}
}

func TestEveryListedFormatRenders(t *testing.T) {
	want := []string{"text", "json", "ndjson", "sarif", "junit", "markdown"}
	if got := Formats(); !slices.Equal(got, want) {
		t.Errorf("Formats() = %v, want %v", got, want)
	}
	for _, name := range Formats() {
		if out := render(t, sampleReports(), Options{Format: name}); out == "" {
			t.Errorf("format %s wrote nothing", name)
		}
	}
	if out := render(t, sampleReports(), Options{}); !strings.Contains(out, "SPF needs 12 DNS lookups") {
		t.Errorf("the empty format should be text, got:\n%s", out)
	}
}

// The caller alone decides about colour: fatih/color's global switch (set
// from the terminal and NO_COLOR) must not leak escapes in, or keep them out.
func TestColorOnlyWhenAsked(t *testing.T) {
	saved := color.NoColor
	t.Cleanup(func() { color.NoColor = saved })

	for _, global := range []bool{false, true} {
		color.NoColor = global
		plain := render(t, sampleReports(), Options{Format: "text", Verbose: true, GitHubActions: true})
		if strings.Contains(plain, "\x1b[") {
			t.Errorf("Color=false output has escape codes (color.NoColor=%v)", global)
		}
		colored := render(t, sampleReports(), Options{Format: "text", Color: true})
		if !strings.Contains(colored, "\x1b[31m✗\x1b[0m") || !strings.Contains(colored, "\x1b[32m✓\x1b[0m") {
			t.Errorf("Color=true output lacks the red ✗ and green ✓ (color.NoColor=%v)", global)
		}
	}
	for _, format := range []string{"markdown", "json", "sarif", "junit"} {
		if out := render(t, sampleReports(), Options{Format: format, Color: true}); strings.Contains(out, "\x1b[") {
			t.Errorf("%s output has escape codes", format)
		}
	}
}

func TestTextShowsWhatAnAdminNeeds(t *testing.T) {
	out := render(t, sampleReports(), Options{Format: "text"})
	for _, want := range []string{
		"SPF\n", "DMARC\n", "Connections\n", "Probes\n",
		"✗ SPF needs 12 DNS lookups; the limit is 10 — example.com TXT [spf.lookup-limit, new]",
		"      v=spf1 include:_spf.a.example include:_spf.b.example -all",
		"      at zones/example.com.zone:12",
		"? Connection or reply timed out — mx2.example.com:25",
		"[dmarc.policy-none, unchanged]",
		"mx1.example.com  192.0.2.1:25  smtp      ok       TLS1.3  yes       -                PLAIN LOGIN",
		"total: 3 pass, 3 info, 3 warn, 3 fail, 1 error",
		"2 pass, 2 info, 3 warn, 2 fail, 1 error (baseline: 1 new, 1 unchanged, 1 fixed)",
		"1 pass, 1 info, 0 warn, 1 fail, 0 error",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q", want)
		}
	}
	// Pass findings carry no fix line; fail findings do.
	if !strings.Contains(out, "fix: "+fixOf(sampleReports()[0].Findings[2])) {
		t.Error("the failing SPF finding has no fix line")
	}
	for _, hidden := range []string{"SPF include tree", "S: 220 mx1.example.com ESMTP", "::error"} {
		if strings.Contains(out, hidden) {
			t.Errorf("text output without -v or GitHub Actions shows %q", hidden)
		}
	}
	verbose := render(t, sampleReports(), Options{Format: "text", Verbose: true})
	for _, want := range []string{"SPF include tree:", "    S: 220 mx1.example.com ESMTP", "    error: dial tcp 192.0.2.2:25: i/o timeout"} {
		if !strings.Contains(verbose, want) {
			t.Errorf("verbose text lacks %q", want)
		}
	}
	// Areas keep the order in which the checks reported them.
	if strings.Index(out, "\nMX\n") > strings.Index(out, "\nSPF\n") || strings.Index(out, "\nSPF\n") > strings.Index(out, "\nDMARC\n") {
		t.Error("areas are not in the order the findings came")
	}
}

func TestGitHubAnnotations(t *testing.T) {
	out := render(t, sampleReports(), Options{Format: "text", GitHubActions: true})
	var got []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "::") {
			got = append(got, line)
		}
	}
	want := []string{
		"::error file=zones/ex%2Cample%3Av2.zone,line=7::mx.cname: MX target mail.example.com is a CNAME%0Ato web.example.net | 100%25 <alias>",
		"::error file=zones/example.com.zone,line=12::spf.lookup-limit: SPF needs 12 DNS lookups; the limit is 10",
		"::warning::tls.cert-expiring: The certificate expires in 9 days (2026-11-30)",
		"::error::dmarc.missing: No DMARC record",
	}
	if !slices.Equal(got, want) {
		t.Errorf("annotations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestGitHubEscaping(t *testing.T) {
	if got := escapeData("50% done\r\nnext: a,b"); got != "50%25 done%0D%0Anext: a,b" {
		t.Errorf("escapeData = %q", got)
	}
	if got := escapeProperty("C:\\zones\\a,b.zone\n"); got != "C%3A\\zones\\a%2Cb.zone%0A" {
		t.Errorf("escapeProperty = %q", got)
	}
}
