package gate

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// specPolicy is the example of SPEC.md's CI gate section.
const specPolicy = `require:
  mx: [mx1.example.com, mx2.example.com]   # exactly these MX hosts
  dmarc_policy: quarantine                 # minimum p= (none < quarantine < reject)
  dkim_selectors: [s2026]                  # must publish a valid key
  spf_max_lookups: 8                       # headroom under the limit of 10
  mta_sts_mode: enforce
allow:                                     # accepted findings, each with a reason and an expiry
  - id: dmarc.rua-missing
    reason: reports are handled by our provider
    until: 2027-06-30
`

func writePolicy(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mailcheck.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadPolicySpecExample(t *testing.T) {
	path := writePolicy(t, specPolicy)
	p, err := LoadPolicy(path)
	if err != nil {
		t.Fatal(err)
	}
	r := p.Require
	if strings.Join(r.MX, " ") != "mx1.example.com. mx2.example.com." || r.MXLine != 2 {
		t.Errorf("mx = %q line %d", r.MX, r.MXLine)
	}
	if r.DMARCPolicy != "quarantine" || r.DMARCPolicyLine != 3 {
		t.Errorf("dmarc_policy = %q line %d", r.DMARCPolicy, r.DMARCPolicyLine)
	}
	if strings.Join(r.DKIMSelectors, " ") != "s2026" || r.DKIMSelectorsLine != 4 {
		t.Errorf("dkim_selectors = %q line %d", r.DKIMSelectors, r.DKIMSelectorsLine)
	}
	if r.SPFMaxLookups == nil || *r.SPFMaxLookups != 8 || r.SPFMaxLookupsLine != 5 {
		t.Errorf("spf_max_lookups = %v line %d", r.SPFMaxLookups, r.SPFMaxLookupsLine)
	}
	if r.MTASTSMode != "enforce" || r.MTASTSModeLine != 6 {
		t.Errorf("mta_sts_mode = %q line %d", r.MTASTSMode, r.MTASTSModeLine)
	}
	if len(p.Allow) != 1 {
		t.Fatalf("allow = %+v", p.Allow)
	}
	a := p.Allow[0]
	if a.ID != "dmarc.rua-missing" || a.Reason != "reports are handled by our provider" || a.UntilText() != "2027-06-30" || a.Line != 8 {
		t.Errorf("allow[0] = %+v", a)
	}
	if p.File != path {
		t.Errorf("File = %q, want %q", p.File, path)
	}
}

func TestAllowanceExpiry(t *testing.T) {
	a := Allowance{Until: time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)}
	for _, tt := range []struct {
		now     time.Time
		expired bool
	}{
		{time.Date(2027, 6, 29, 23, 0, 0, 0, time.UTC), false},
		{time.Date(2027, 6, 30, 23, 59, 0, 0, time.UTC), false}, // the last day still counts
		{time.Date(2027, 7, 1, 0, 0, 0, 0, time.UTC), true},
	} {
		if got := a.Expired(tt.now); got != tt.expired {
			t.Errorf("Expired(%v) = %v, want %v", tt.now, got, tt.expired)
		}
	}
}

func TestLoadPolicyErrors(t *testing.T) {
	for _, tt := range []struct {
		name, text string
		line       int    // the line the error must name
		mention    string // a word the reason must contain
	}{
		{"unknown top-level key", "requires:\n  mx: [a.example]\n", 1, "requires"},
		{"unknown require key", "require:\n  dmarc: reject\n", 2, "dmarc"},
		{"dmarc word", "require:\n  dmarc_policy: strict\n", 2, "strict"},
		{"mta-sts word", "require:\n  mx: [mx.example.com]\n  mta_sts_mode: enforcing\n", 3, "enforcing"},
		{"spf over the RFC limit", "require:\n  spf_max_lookups: 12\n", 2, "12"},
		{"spf not a number", "require:\n  spf_max_lookups: eight\n", 2, "eight"},
		{"mx empty", "require:\n  mx:\n", 2, "mx"},
		{"mx not a name", "require:\n  mx: [\"mx 1.example.com\"]\n", 2, "mx 1.example.com"},
		{"selectors a mapping", "require:\n  dkim_selectors: {s1: yes}\n", 2, "dkim_selectors"},
		{"key twice", "require:\n  dmarc_policy: reject\n  dmarc_policy: none\n", 3, "twice"},
		{"allow not a list", "allow:\n  id: dmarc.rua-missing\n", 2, "list"},
		{"allow without until", "allow:\n  - id: dmarc.rua-missing\n    reason: provider\n", 2, "until"},
		{"allow without reason", "allow:\n  - id: dmarc.rua-missing\n    until: 2027-06-30\n", 2, "reason"},
		{"allow unknown key", "allow:\n  - id: dmarc.rua-missing\n    reason: r\n    until: 2027-06-30\n    subject: x\n", 5, "subject"},
		{"allow bad date", "allow:\n  - id: dmarc.rua-missing\n    reason: r\n    until: next year\n", 4, "next year"},
		{"allow impossible date", "allow:\n  - id: dmarc.rua-missing\n    reason: r\n    until: 2027-02-30\n", 4, "2027-02-30"},
		{"allow unknown ID", "allow:\n  - id: dmarc.rua-mising\n    reason: r\n    until: 2027-06-30\n", 2, "dmarc.rua-mising"},
		{"allow the expiry itself", "allow:\n  - id: policy.allow-expired\n    reason: r\n    until: 2027-06-30\n", 2, "policy.allow-expired"},
		{"yaml indentation", "require:\n  mx: mx1.example.com\n   dmarc_policy: none\n", 3, ""},
		{"tab indentation", "require:\n\tmx: [a.example]\n", 2, ""},
		{"not a mapping", "- mx\n", 1, "mapping"},
		{"empty", "# nothing yet\n", 0, "empty"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := writePolicy(t, tt.text)
			_, err := LoadPolicy(path)
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *PolicyError", err)
			}
			if pe.File != path || pe.Line != tt.line {
				t.Errorf("error at %s:%d, want %s:%d (%v)", pe.File, pe.Line, path, tt.line, err)
			}
			if !strings.Contains(pe.Reason, tt.mention) {
				t.Errorf("reason %q does not mention %q", pe.Reason, tt.mention)
			}
			prefix := path + ": "
			if tt.line > 0 {
				prefix = path + ":" + strconv.Itoa(tt.line) + ": "
			}
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("Error() = %q, want the FILE:LINE: reason form", err.Error())
			}
		})
	}
}

func TestLoadPolicyMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.yaml")
	_, err := LoadPolicy(path)
	var pe *PolicyError
	if !errors.As(err, &pe) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want a *PolicyError wrapping fs.ErrNotExist", err)
	}
	if !strings.HasPrefix(err.Error(), path+": ") {
		t.Errorf("Error() = %q", err.Error())
	}
}

func TestLoadPolicyAcceptsVariants(t *testing.T) {
	// A single host instead of a list, upper case and trailing dots, a
	// null MX, and an allow-only file are all valid.
	for _, text := range []string{
		"require:\n  mx: MX1.Example.COM.\n",
		"require:\n  mx: [\".\"]\n",
		"allow:\n  - id: tlsrpt.missing\n    reason: handled elsewhere\n    until: 2027-01-01\n",
		"require:\n  dmarc_policy: Reject\n  spf_max_lookups: 0\n",
	} {
		if _, err := LoadPolicy(writePolicy(t, text)); err != nil {
			t.Errorf("%q: %v", text, err)
		}
	}
}
