package spf

import (
	"errors"
	"strings"
	"testing"
)

func TestIsSPF(t *testing.T) {
	tests := []struct {
		txt  string
		want bool
	}{
		{"v=spf1", true},
		{"v=spf1 -all", true},
		{"V=SPF1 -all", true}, // RFC 7208 §4.6.1: case-insensitive
		{"v=spf10 -all", false},
		{"v=spf1\t-all", false}, // only SP separates (§12)
		{" v=spf1 -all", false},
		{"spf1 -all", false},
		{"v=DMARC1; p=none", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsSPF(tt.txt); got != tt.want {
			t.Errorf("IsSPF(%q) = %v, want %v", tt.txt, got, tt.want)
		}
	}
}

func TestParseValid(t *testing.T) {
	valid := []string{
		"v=spf1",
		"v=spf1 -all",
		"v=spf1 mx a ~all",
		"v=spf1  ip4:192.0.2.0/24   ip6:2001:db8::/32 -all ",
		"v=spf1 ip4:192.0.2.1 ip6:2001:db8::1 ip6:::ffff:192.0.2.1/128 ?all",
		"v=spf1 a/24 a//64 a/24//64 mx:example.com/28 mx:example.com//96 -all",
		"v=spf1 include:_spf.example.com include:spf.example.net. -all",
		"v=spf1 ptr ptr:example.com -all",
		"v=spf1 exists:%{i}._spf.%{d} -all",
		"v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d2} -all",
		"v=spf1 exists:%{s}.%{o}.%{h}.%{v}.%{p}.example.com -all",
		"v=spf1 a:%{l/}.example.com/24 -all", // "/" as a delimiter inside a macro
		"v=spf1 include:%%lit%_er%-al.example.com -all",
		"v=spf1 redirect=_spf.example.com",
		"v=spf1 mx redirect=_spf.example.com exp=explain.%{d}",
		"v=spf1 -all foo=bar moo.cow-far_out=man:dog/cat ra=%{d}",
		"v=spf1 MX -ALL Include:Example.COM",
		"v=spf1 a:xn--bcher-kva.example -all",
		"v=spf1 mx:example.com-2 -all", // toplabel with a hyphen may hold digits
	}
	for _, txt := range valid {
		if _, err := Parse(txt); err != nil {
			t.Errorf("Parse(%q): %v", txt, err)
		}
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		txt  string
		term string // the term the error must name
	}{
		{"v=spf1 -all -foo", "-foo"},
		{"v=spf1 include -all", "include"},
		{"v=spf1 include: -all", "include:"},
		{"v=spf1 all:example.com", "all:example.com"},
		{"v=spf1 ip4:192.0.2.0/33 -all", "ip4:192.0.2.0/33"},
		{"v=spf1 ip4:192.0.2.0/024 -all", "ip4:192.0.2.0/024"},
		{"v=spf1 ip4:192.0.2 -all", "ip4:192.0.2"},
		{"v=spf1 ip4:2001:db8::1 -all", "ip4:2001:db8::1"},
		{"v=spf1 ip6:192.0.2.1 -all", "ip6:192.0.2.1"},
		{"v=spf1 ip6:2001:db8::/129 -all", "ip6:2001:db8::/129"},
		{"v=spf1 a/33 -all", "a/33"},
		{"v=spf1 a//129 -all", "a//129"},
		{"v=spf1 a/ -all", "a/"},
		{"v=spf1 a: -all", "a:"},
		{"v=spf1 mx:localhost -all", "mx:localhost"},
		{"v=spf1 include:192.0.2.1 -all", "include:192.0.2.1"}, // an all-digit top label
		{"v=spf1 include:example..com -all", "include:example..com"},
		{"v=spf1 exists:%{x}.example.com -all", "exists:%{x}.example.com"},
		{"v=spf1 exists:%{c}.example.com -all", "exists:%{c}.example.com"}, // c only in exp text
		{"v=spf1 exists:%{d0}.example.com -all", "exists:%{d0}.example.com"},
		{"v=spf1 exists:%{d2*}.example.com -all", "exists:%{d2*}.example.com"},
		{"v=spf1 exists:%{d.example.com -all", "exists:%{d.example.com"},
		{"v=spf1 exists:%d.example.com -all", "exists:%d.example.com"},
		{"v=spf1 exists:example.com% -all", "exists:example.com%"},
		{"v=spf1 redirect=a.example.com redirect=b.example.com", "redirect=b.example.com"},
		{"v=spf1 exp=a.example.com exp=b.example.com -all", "exp=b.example.com"},
		{"v=spf1 redirect= ", "redirect="},
		{"v=spf1 +redirect=a.example.com", "+redirect=a.example.com"},
		{"v=spf1 1foo=bar -all", "1foo=bar"},
		{"v=spf1 foo=%{q} -all", "foo=%{q}"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.txt)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) = %v, want a *SyntaxError", tt.txt, err)
			continue
		}
		if se.Term != tt.term {
			t.Errorf("Parse(%q) blamed %q, want %q (%v)", tt.txt, se.Term, tt.term, err)
		}
	}
}

func TestParseTerms(t *testing.T) {
	r, err := Parse("v=spf1 ~mx:example.com/24//64 ?include:_spf.example.net ip4:192.0.2.0/24 redirect=other.example exp=why.%{d} ext=x")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Terms) != 6 {
		t.Fatalf("got %d terms, want 6", len(r.Terms))
	}
	mx := r.Terms[0]
	if mx.Mechanism != MX || mx.Qualifier != QualifierSoftfail || mx.Domain != "example.com" || mx.CIDR4 != 24 || mx.CIDR6 != 64 {
		t.Errorf("mx term = %+v", mx)
	}
	if inc := r.Terms[1]; inc.Mechanism != Include || inc.Qualifier != QualifierNeutral || inc.Domain != "_spf.example.net" {
		t.Errorf("include term = %+v", inc)
	}
	if ip := r.Terms[2]; ip.Prefix.String() != "192.0.2.0/24" || ip.CountsLookup() {
		t.Errorf("ip4 term = %+v", ip)
	}
	if r.Redirect == nil || r.Redirect.Domain != "other.example" || !r.Redirect.CountsLookup() {
		t.Errorf("redirect = %+v", r.Redirect)
	}
	if r.Exp == nil || !r.Exp.HasMacro() || r.Exp.CountsLookup() {
		t.Errorf("exp = %+v", r.Exp)
	}
	if ext := r.Terms[5]; ext.Modifier != "ext" || ext.CountsLookup() {
		t.Errorf("unknown modifier = %+v", ext)
	}
	if r.All() != nil || r.RedirectIgnored() {
		t.Error("no all mechanism, so the redirect applies")
	}
}

func TestRedirectIgnored(t *testing.T) {
	r, err := Parse("v=spf1 redirect=other.example -all")
	if err != nil {
		t.Fatal(err)
	}
	if !r.RedirectIgnored() {
		t.Error("RFC 7208 §6.1: redirect is ignored when the record has all")
	}
}

func TestHasMacro(t *testing.T) {
	for s, want := range map[string]bool{
		"example.com":            false,
		"%%.example.com":         false,
		"%_%-.example.com":       false,
		"%{d}":                   true,
		"_spf.%{d2}":             true,
		"%%{d}.example.com":      false, // "%%" then a literal "{d}"
		"%%%{i}.example.com":     true,
		"%{ir}.%{v}._spf.%{d2}.": true,
	} {
		if got := HasMacro(s); got != want {
			t.Errorf("HasMacro(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestStringRoundTrip(t *testing.T) {
	r, err := Parse("v=spf1   mx  include:_spf.example.com   -all")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.String(), "v=spf1 mx include:_spf.example.com -all"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// FuzzParse checks that Parse never panics and that what it accepts it
// writes back in a form it accepts again with the same terms.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"v=spf1 -all", "v=spf1 mx a/24//64 include:_spf.example.com ~all",
		"v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d2} redirect=x.example", "v=spf1 ip6:2001:db8::/32 ip4:192.0.2.1",
		"v=spf1 foo=%{d} exp=%{d}", "v=spf1 %{", "v=spf1 a:%{l/}.example.com/24",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(r.String())
		if err != nil {
			t.Fatalf("Parse(%q) ok, but its String %q does not parse: %v", s, r.String(), err)
		}
		if len(again.Terms) != len(r.Terms) {
			t.Fatalf("round trip of %q changed the terms: %d, then %d", s, len(r.Terms), len(again.Terms))
		}
		for _, term := range r.Terms {
			if strings.Contains(term.Text, " ") || term.Text == "" {
				t.Fatalf("term %q of %q", term.Text, s)
			}
		}
	})
}
