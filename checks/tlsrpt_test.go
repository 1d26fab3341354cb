package checks

import (
	"testing"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

func TestTLSRPT(t *testing.T) {
	rr := func(txt string) string { return "_smtp._tls.example.com. IN TXT \"" + txt + "\"" }
	tests := []struct {
		name    string
		records []string
		fail    resolver.Kind
		want    []want
		absent  []string
	}{
		{name: "valid", records: []string{rr("v=TLSRPTv1; rua=mailto:tlsrpt@example.com")},
			want: []want{{"tlsrpt.ok", finding.Pass, "_smtp._tls.example.com TXT"}}},
		{name: "two destinations", records: []string{rr("v=TLSRPTv1; rua=mailto:a@example.com,https://r.example.net/v1")},
			want: []want{{"tlsrpt.ok", finding.Pass, ""}}},
		{name: "via CNAME", records: []string{
			"_smtp._tls.example.com. IN CNAME _smtp._tls.reports.example.net.",
			"_smtp._tls.reports.example.net. IN TXT \"v=TLSRPTv1; rua=mailto:a@example.net\""},
			want: []want{{"tlsrpt.ok", finding.Pass, ""}}},
		{name: "missing", records: []string{"example.com. IN MX 10 mail.example.com."},
			want: []want{{"tlsrpt.missing", finding.Info, "_smtp._tls.example.com TXT"}}, absent: []string{"tlsrpt.ok"}},
		{name: "unrelated TXT only", records: []string{rr("hello")},
			want: []want{{"tlsrpt.missing", finding.Info, ""}}},
		{name: "address without mailto", records: []string{rr("v=TLSRPTv1; rua=tlsrpt@example.com")},
			want: []want{{"tlsrpt.syntax", finding.Fail, "_smtp._tls.example.com TXT"}}, absent: []string{"tlsrpt.ok"}},
		{name: "no rua", records: []string{rr("v=TLSRPTv1;")},
			want: []want{{"tlsrpt.syntax", finding.Fail, ""}}},
		{name: "http scheme", records: []string{rr("v=TLSRPTv1; rua=http://r.example.com/")},
			want: []want{{"tlsrpt.syntax", finding.Fail, ""}}},
		{name: "two records", records: []string{rr("v=TLSRPTv1; rua=mailto:a@example.com"), rr("v=TLSRPTv1; rua=mailto:b@example.com")},
			want: []want{{"tlsrpt.syntax", finding.Fail, ""}}, absent: []string{"tlsrpt.ok"}},
		{name: "SERVFAIL: inconclusive, never missing", fail: resolver.ServFail,
			want: []want{{"dns.lookup-failed", finding.Error, "_smtp._tls.example.com TXT"}}, absent: []string{"tlsrpt.missing"}},
		{name: "timeout", fail: resolver.Timeout,
			want: []want{{"dns.lookup-failed", finding.Error, ""}}, absent: []string{"tlsrpt.missing"}},
		{name: "outside the zones: not checked", fail: resolver.OutOfZone,
			want: []want{{"dns.not-checked", finding.Info, ""}}, absent: []string{"tlsrpt.missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := resolvertest.New(tt.records...)
			if tt.fail != 0 {
				r.Fail("_smtp._tls.example.com.", dns.TypeTXT, tt.fail)
			}
			res := runOn(checkTLSRPT, r, "example.com")
			assertFindings(t, res.Findings, tt.want...)
			for _, id := range tt.absent {
				if f := findingByID(res.Findings, id); f != nil {
					t.Errorf("unexpected %s/%s: %s", f.ID, f.Severity, f.Title)
				}
			}
		})
	}
}

func TestTLSRPTLocatesRecord(t *testing.T) {
	z, err := resolver.NewZone(resolver.ZoneSource{File: "example.com.zone", Data: []byte(
		"$ORIGIN example.com.\n@ IN SOA ns. h. 1 2 3 4 5\n@ IN NS ns.\n_smtp._tls IN TXT \"v=TLSRPTv1; rua=tlsrpt@example.com\"\n")})
	if err != nil {
		t.Fatal(err)
	}
	res := runOn(checkTLSRPT, z, "example.com")
	f := findingByID(res.Findings, "tlsrpt.syntax")
	if f == nil || f.Location == nil || f.Location.Line != 4 {
		t.Fatalf("tlsrpt.syntax located at %+v, want line 4", f)
	}
}
