package mtasts

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRecord(t *testing.T) {
	tests := []struct {
		txt     string
		id      string
		wantErr bool
	}{
		{txt: "v=STSv1; id=2026112101", id: "2026112101"},
		{txt: "v=STSv1; id=20160831085700Z;", id: "20160831085700Z"},
		{txt: "v=STSv1 ;\tid=abc ; ", id: "abc"},
		{txt: "v=STSv1; id=a; ext_1=value", id: "a"},
		{txt: "v=STSv1; id=" + strings.Repeat("a", 32), id: strings.Repeat("a", 32)},

		{txt: "v=STSv1; id=" + strings.Repeat("a", 33), wantErr: true},
		{txt: "v=STSv1; id=2026-11-21", wantErr: true},
		{txt: "v=STSv1; id=", wantErr: true},
		{txt: "v=STSv1", wantErr: true},
		{txt: "v=STSv1;", wantErr: true},
		{txt: "v=STSv1 id=1", wantErr: true},
		{txt: "v=STSv1; id=1; id=2", wantErr: true},
		{txt: "v=STSv1;; id=1", wantErr: true},
		{txt: "v=stsv1; id=1", wantErr: true},
		{txt: " v=STSv1; id=1", wantErr: true},
		{txt: "v=STSv1; id=1; bad name=x", wantErr: true},
		{txt: "v=STSv1; id=1; ext=", wantErr: true},
		{txt: "v=STSv1; mode=enforce", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.txt, func(t *testing.T) {
			r, err := ParseRecord(tt.txt)
			if tt.wantErr {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("ParseRecord = %+v, %v; want a *ParseError", r, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRecord: %v", err)
			}
			if r.ID != tt.id {
				t.Errorf("ID = %q, want %q", r.ID, tt.id)
			}
		})
	}
}

func TestIsRecord(t *testing.T) {
	for txt, want := range map[string]bool{
		"v=STSv1; id=1":     true,
		"v=stsv1; id=1":     true, // malformed, but meant as one
		"  v=STSv1":         true,
		"v=spf1 -all":       false,
		"v=STSv2; id=1":     false,
		"":                  false,
		"google-site-verif": false,
	} {
		if got := IsRecord(txt); got != want {
			t.Errorf("IsRecord(%q) = %v, want %v", txt, got, want)
		}
	}
}

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		mode    Mode
		mx      []string
		maxAge  int
		errLine int // with wantErr: the line the error names (0: none)
		wantErr bool
	}{
		{name: "lf", body: "version: STSv1\nmode: enforce\nmx: mail.example.com\nmax_age: 604800\n",
			mode: ModeEnforce, mx: []string{"mail.example.com"}, maxAge: 604800},
		{name: "crlf, no final newline", body: "version: STSv1\r\nmode: testing\r\nmx: *.example.net\r\nmx: MX2.example.com\r\nmax_age: 86400",
			mode: ModeTesting, mx: []string{"*.example.net", "mx2.example.com"}, maxAge: 86400},
		{name: "any order, extension, blank line", body: "mx: a.example\nmax_age: 0\n\nfoo_bar: baz qux\nmode: enforce\nversion: STSv1\n",
			mode: ModeEnforce, mx: []string{"a.example"}, maxAge: 0},
		{name: "none needs no mx", body: "version: STSv1\nmode: none\nmax_age: 86400\n", mode: ModeNone, maxAge: 86400},
		{name: "no space after colon, trailing blanks", body: "version:STSv1 \nmode:enforce\t\nmx:mail.example.com\nmax_age:31557600\n",
			mode: ModeEnforce, mx: []string{"mail.example.com"}, maxAge: MaxAgeLimit},

		{name: "bad mode", body: "version: STSv1\nmode: enforcing\nmx: a.example\nmax_age: 1\n", wantErr: true, errLine: 2},
		{name: "mode case", body: "version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1\n", wantErr: true, errLine: 2},
		{name: "bad version", body: "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n", wantErr: true, errLine: 1},
		{name: "max_age too big", body: "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n", wantErr: true, errLine: 4},
		{name: "max_age not a number", body: "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1w\n", wantErr: true, errLine: 4},
		{name: "max_age negative", body: "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n", wantErr: true, errLine: 4},
		{name: "no mx in enforce", body: "version: STSv1\nmode: enforce\nmax_age: 1\n", wantErr: true},
		{name: "no version", body: "mode: enforce\nmx: a.example\nmax_age: 1\n", wantErr: true},
		{name: "no max_age", body: "version: STSv1\nmode: enforce\nmx: a.example\n", wantErr: true},
		{name: "wildcard not leftmost", body: "version: STSv1\nmode: enforce\nmx: mail.*.example\nmax_age: 1\n", wantErr: true, errLine: 3},
		{name: "partial wildcard", body: "version: STSv1\nmode: enforce\nmx: mx*.example\nmax_age: 1\n", wantErr: true, errLine: 3},
		{name: "trailing dot", body: "version: STSv1\nmode: enforce\nmx: mail.example.\nmax_age: 1\n", wantErr: true, errLine: 3},
		{name: "duplicate mode", body: "version: STSv1\nmode: enforce\nmode: testing\nmx: a.example\nmax_age: 1\n", wantErr: true, errLine: 3},
		{name: "space before colon", body: "version: STSv1\nmode : enforce\nmx: a.example\nmax_age: 1\n", wantErr: true, errLine: 2},
		{name: "leading space", body: "version: STSv1\n mode: enforce\nmx: a.example\nmax_age: 1\n", wantErr: true, errLine: 2},
		{name: "html", body: "<html><body>Not found</body></html>\n", wantErr: true, errLine: 1},
		{name: "json", body: `{"version": "STSv1", "mode": "enforce"}`, wantErr: true, errLine: 1},
		{name: "oversized", body: "version: STSv1\nmode: none\nmax_age: 1\n" + strings.Repeat("x: y\n", MaxPolicySize/5+1), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePolicy([]byte(tt.body))
			if tt.wantErr {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("ParsePolicy = %+v, %v; want a *ParseError", p, err)
				}
				if pe.Line != tt.errLine {
					t.Errorf("error %q on line %d, want line %d", err, pe.Line, tt.errLine)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePolicy: %v", err)
			}
			if p.Mode != tt.mode || p.MaxAge != tt.maxAge || strings.Join(p.MX, ",") != strings.Join(tt.mx, ",") {
				t.Errorf("got mode=%s mx=%v max_age=%d, want mode=%s mx=%v max_age=%d", p.Mode, p.MX, p.MaxAge, tt.mode, tt.mx, tt.maxAge)
			}
			// The canonical text parses back to the same policy.
			again, err := ParsePolicy([]byte(p.Text()))
			if err != nil || again.Text() != p.Text() {
				t.Errorf("Text() = %q does not round-trip: %v", p.Text(), err)
			}
		})
	}
}

func TestMatchMX(t *testing.T) {
	tests := []struct {
		pattern, host string
		want          bool
	}{
		{"mail.example.com", "mail.example.com", true},
		{"mail.example.com", "mail.example.com.", true},
		{"mail.example.com", "MAIL.Example.COM.", true},
		{"mail.example.com", "mail2.example.com", false},
		{"*.example.com", "mx1.example.com", true},
		{"*.example.com", "mx1.example.com.", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "a.b.example.com", false},
		{"*.example.com", ".example.com", false},
		{"*.example.com", "mx1.example.net", false},
		{"*.example.com", "mx1example.com", false},
	}
	for _, tt := range tests {
		if got := MatchMX(tt.pattern, tt.host); got != tt.want {
			t.Errorf("MatchMX(%q, %q) = %v, want %v", tt.pattern, tt.host, got, tt.want)
		}
	}
	p := &Policy{MX: []string{"mx1.example.com", "*.backup.example.net"}}
	if !p.Matches("x.backup.example.net.") || !p.Matches("mx1.example.com") || p.Matches("mx2.example.com") {
		t.Errorf("Policy.Matches does not apply every pattern")
	}
}

func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{
		"version: STSv1\nmode: enforce\nmx: mail.example.com\nmax_age: 604800\n",
		"version: STSv1\r\nmode: testing\r\nmx: *.example.net\r\nmax_age: 86400",
		"version: STSv1\nmode: none\nmax_age: 0\n",
		"mx: *.\n",
		"\r\n\r\n:",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParsePolicy(body)
		if err != nil {
			return
		}
		if p.MaxAge < 0 || p.MaxAge > MaxAgeLimit {
			t.Fatalf("max_age %d accepted", p.MaxAge)
		}
		if p.Mode != ModeNone && len(p.MX) == 0 {
			t.Fatalf("mode %s accepted without mx", p.Mode)
		}
		again, err := ParsePolicy([]byte(p.Text()))
		if err != nil || again.Text() != p.Text() {
			t.Fatalf("Text() of %q does not round-trip: %v", body, err)
		}
	})
}

func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{"v=STSv1; id=2026112101", "v=STSv1; id=a;", "v=STSv1;id=1;x=y;", "v=STSv1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, txt string) {
		r, err := ParseRecord(txt)
		if err != nil {
			return
		}
		if checkID(r.ID) != nil {
			t.Fatalf("ParseRecord(%q) accepted id %q", txt, r.ID)
		}
		if !IsRecord(txt) {
			t.Fatalf("ParseRecord accepted %q, which IsRecord rejects", txt)
		}
	})
}
