package dmarc

import (
	"errors"
	"slices"
	"testing"
)

func TestIsDMARC(t *testing.T) {
	for txt, want := range map[string]bool{
		"v=DMARC1; p=none":     true,
		"v=DMARC1":             true,
		"V = DMARC1 ; p=none":  true,
		" v=DMARC1;p=reject":   true,
		"v=dmarc1; p=none":     false, // RFC 7489 §6.3: the value must match precisely
		"v=DMARC10; p=none":    false,
		"p=none; v=DMARC1":     false,
		"v=spf1 -all":          false,
		"some verification=42": false,
	} {
		if got := IsDMARC(txt); got != want {
			t.Errorf("IsDMARC(%q) = %v, want %v", txt, got, want)
		}
	}
}

func TestParse(t *testing.T) {
	r, err := Parse("v=DMARC1; p=Quarantine; sp=none; np=reject; adkim=s; aspf=r; pct=50; fo=0:d; " +
		"rua=mailto:agg@example.com,mailto:dmarc%2Breports@reports.example.net!10m; ruf=mailto:f@example.com; " +
		"t=y; psd=n; ri=86400; rf=afrf; future=whatever;")
	if err != nil {
		t.Fatal(err)
	}
	if r.Policy != Quarantine || r.SubdomainPolicy != None || r.NonexistentPolicy != Reject {
		t.Errorf("policies = %q %q %q", r.Policy, r.SubdomainPolicy, r.NonexistentPolicy)
	}
	if r.ADKIM != "s" || r.ASPF != "r" || r.Percent != 50 || !r.HasPercent || !r.Testing || r.PSD != "n" {
		t.Errorf("record = %+v", r)
	}
	if !slices.Equal(r.FailureOptions, []string{"0", "d"}) {
		t.Errorf("fo = %v", r.FailureOptions)
	}
	if len(r.RUA) != 2 || r.RUA[1].Address != "dmarc+reports@reports.example.net" || r.RUA[1].Domain != "reports.example.net" || r.RUA[1].Size != "10m" {
		t.Errorf("rua = %+v", r.RUA)
	}
	if len(r.RUF) != 1 || r.RUF[0].Domain != "example.com" {
		t.Errorf("ruf = %+v", r.RUF)
	}
	if !slices.Equal(r.Unknown, []string{"future"}) {
		t.Errorf("unknown = %v (RFC 9989: unknown tags are ignored, not errors)", r.Unknown)
	}
}

func TestDefaults(t *testing.T) {
	r, err := Parse("v=DMARC1; p=reject")
	if err != nil {
		t.Fatal(err)
	}
	if r.Percent != 100 || r.HasPercent || r.PSD != "u" || r.Testing {
		t.Errorf("defaults = %+v", r)
	}
	if r.EffectiveSubdomainPolicy() != Reject || r.EffectiveNonexistentPolicy() != Reject {
		t.Error("sp and np default to p")
	}
	r, _ = Parse("v=DMARC1; p=reject; sp=quarantine")
	if r.EffectiveNonexistentPolicy() != Quarantine {
		t.Error("np defaults to sp")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		txt string
		tag string // the tag the error must name; "" for the record
	}{
		{"v=DMARC1; p=maybe", "p=maybe"},
		{"v=DMARC1; p=none; sp=all", "sp=all"},
		{"v=DMARC1; p=none; np=x", "np=x"},
		{"v=DMARC1; p=none; adkim=x", "adkim=x"},
		{"v=DMARC1; p=none; aspf=relaxed", "aspf=relaxed"},
		{"v=DMARC1; p=none; pct=101", "pct=101"},
		{"v=DMARC1; p=none; pct=-1", "pct=-1"},
		{"v=DMARC1; p=none; pct=half", "pct=half"},
		{"v=DMARC1; p=none; fo=2", "fo=2"},
		{"v=DMARC1; p=none; rua=dmarc@example.com", "rua=dmarc@example.com"},
		{"v=DMARC1; p=none; rua=https://example.com/r", "rua=https://example.com/r"},
		{"v=DMARC1; p=none; rua=mailto:nobody", "rua=mailto:nobody"},
		{"v=DMARC1; p=none; rua=mailto:a@example.com!big", "rua=mailto:a@example.com!big"},
		{"v=DMARC1; p=none; rua=", "rua="},
		{"v=DMARC1; p=none; t=maybe", "t=maybe"},
		{"v=DMARC1; p=none; psd=x", "psd=x"},
		{"v=DMARC1; p=none; ri=soon", "ri=soon"},
		{"v=DMARC1; p=none; p=reject", "p=reject"},
		{"v=DMARC1; p=none; v=DMARC1", "v=DMARC1"},
		{"v=DMARC1; p=none; justtext", "justtext"},
		{"v=DMARC1; rua=mailto:a@example.com", ""},
		{"v=spf1 -all", ""},
	}
	for _, tt := range tests {
		_, err := Parse(tt.txt)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) = %v, want a *SyntaxError", tt.txt, err)
			continue
		}
		if se.Tag != tt.tag {
			t.Errorf("Parse(%q) blamed %q, want %q", tt.txt, se.Tag, tt.tag)
		}
	}
}

func TestMissingPolicyKeepsRecord(t *testing.T) {
	r, err := Parse("v=DMARC1; rua=mailto:a@example.com")
	if err == nil || r == nil || len(r.RUA) != 1 {
		t.Fatalf("Parse = %+v, %v; want the record beside the error", r, err)
	}
}

func TestWith(t *testing.T) {
	r, err := Parse("v=DMARC1; p=none; pct=20; rua=mailto:a@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Format(r.With("p", "quarantine")), "v=DMARC1; p=quarantine; pct=20; rua=mailto:a@example.com"; got != want {
		t.Errorf("With p = %q, want %q", got, want)
	}
	if got, want := Format(r.With("pct", "")), "v=DMARC1; p=none; rua=mailto:a@example.com"; got != want {
		t.Errorf("With pct removed = %q, want %q", got, want)
	}
	if got, want := Format(r.With("sp", "reject")), "v=DMARC1; p=none; pct=20; rua=mailto:a@example.com; sp=reject"; got != want {
		t.Errorf("With sp added = %q, want %q", got, want)
	}
	if r.String() != "v=DMARC1; p=none; pct=20; rua=mailto:a@example.com" {
		t.Errorf("With changed the record: %q", r.String())
	}
}

func TestStrength(t *testing.T) {
	if !(None.Strength() < Quarantine.Strength() && Quarantine.Strength() < Reject.Strength()) {
		t.Error("none < quarantine < reject")
	}
	if Policy("").Strength() >= None.Strength() {
		t.Error("an absent policy is weaker than none")
	}
}

// FuzzParse checks that Parse never panics and that an accepted record,
// written back, parses to the same policy.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"v=DMARC1; p=none", "v=DMARC1; p=reject; sp=none; rua=mailto:a@example.com!10m,mailto:b%40x@example.net",
		"v=DMARC1;p=quarantine;pct=5;fo=0:1:d:s;t=y;psd=n", "v=DMARC1; p=none; rua=mailto:%", "v=DMARC1",
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
		if again.Policy != r.Policy || again.SubdomainPolicy != r.SubdomainPolicy || len(again.RUA) != len(r.RUA) {
			t.Fatalf("round trip of %q changed the record: %+v, then %+v", s, r, again)
		}
	})
}

func TestPolicyFor(t *testing.T) {
	tests := []struct {
		record            string
		inherited, exists bool
		policy            Policy
		tag               string
	}{
		{"v=DMARC1; p=reject; sp=none; np=quarantine", false, true, Reject, "p"},
		{"v=DMARC1; p=reject; sp=none; np=quarantine", false, false, Reject, "p"},
		{"v=DMARC1; p=reject; sp=none; np=quarantine", true, true, None, "sp"},
		{"v=DMARC1; p=reject; sp=none; np=quarantine", true, false, Quarantine, "np"},
		{"v=DMARC1; p=none; np=reject", true, false, Reject, "np"},
		{"v=DMARC1; p=none; np=reject", true, true, None, "p"},
		{"v=DMARC1; p=quarantine; sp=reject", true, false, Reject, "sp"},
		{"v=DMARC1; p=quarantine", true, false, Quarantine, "p"},
		// Tags separated by TABs parse as spaces do: the grammar allows WSP.
		{"v=DMARC1;\tp=reject;\tnp=none", true, false, None, "np"},
	}
	for _, tt := range tests {
		r, err := Parse(tt.record)
		if err != nil {
			t.Fatal(err)
		}
		got := r.PolicyFor(tt.inherited, tt.exists)
		if got.Policy != tt.policy || got.Tag != tt.tag {
			t.Errorf("%s (inherited %v, exists %v): %s from %s, want %s from %s", tt.record, tt.inherited, tt.exists,
				got.Policy, got.Tag, tt.policy, tt.tag)
		}
	}
	if !NonExistent(false, false, false) || NonExistent(false, false, true) || NonExistent(true, false, false) {
		t.Error("NonExistent: a name with any of A, AAAA, MX exists")
	}
}
