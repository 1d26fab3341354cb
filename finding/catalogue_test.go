package finding

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// specIDs are the finding IDs SPEC.md promises (its "Finding IDs" and CI gate
// sections, plus the <area>.ok pass finding of each check). Scripts and
// allowances key on them, so each must stay in the catalogue.
var specIDs = []string{
	"mx.ok", "mx.missing", "mx.null", "mx.null-mixed", "mx.cname", "mx.ip-literal", "mx.unresolvable", "mx.no-ipv6",
	"spf.ok", "spf.missing", "spf.multiple", "spf.syntax", "spf.lookup-limit", "spf.void-limit", "spf.all-pass",
	"spf.all-neutral", "spf.ptr", "spf.include-missing", "spf.loop",
	"dmarc.ok", "dmarc.missing", "dmarc.multiple", "dmarc.syntax", "dmarc.policy-none", "dmarc.pct-partial",
	"dmarc.sp-weaker", "dmarc.rua-missing", "dmarc.rua-unauthorized", "dmarc.inherited",
	"dkim.ok", "dkim.none-found", "dkim.syntax", "dkim.key-weak", "dkim.revoked", "dkim.testing", "dkim.sha1",
	"mtasts.ok", "mtasts.missing", "mtasts.syntax", "mtasts.policy-unreachable", "mtasts.mx-mismatch", "mtasts.testing",
	"tlsrpt.ok", "tlsrpt.missing", "tlsrpt.syntax",
	"dnssec.ok", "dnssec.unsigned", "ptr.ok", "ptr.missing", "ptr.mismatch",
	"conn.ok", "conn.refused", "conn.timeout", "conn.rate-limited", "conn.protocol",
	"tls.ok", "tls.starttls-missing", "tls.cert-expired", "tls.cert-expiring", "tls.cert-self-signed",
	"tls.cert-untrusted", "tls.cert-hostname", "tls.version-legacy", "tls.weak-key",
	"auth.ok", "auth.plaintext-exposed", "auth.none-offered", "auth.oauth-only",
	"login.ok", "login.auth-failed", "login.app-password-required", "login.basic-auth-disabled",
	"login.tls-required", "login.wrong-port",
	"policy.mx", "policy.dmarc-policy", "policy.dkim-selector", "policy.spf-lookups", "policy.mta-sts-mode",
	"policy.allow-expired",
	"change.dkim-selector-removed", "change.mtasts-id-unchanged", "change.mx-not-in-mtasts",
	"msg.ok", "msg.dkim-fail", "msg.dkim-none", "msg.spf-fail", "msg.dmarc-fail", "msg.dmarc-unaligned", "msg.authres-mismatch",
}

// strictEntries decodes the embedded YAML rejecting unknown fields, so a
// misspelt key ("refs:", "matches:") fails here instead of vanishing.
func strictEntries(t *testing.T) []Entry {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(catalogueYAML))
	dec.KnownFields(true)
	var entries []Entry
	if err := dec.Decode(&entries); err != nil {
		t.Fatalf("catalogue.yaml: %v", err)
	}
	if len(entries) == 0 {
		t.Fatal("catalogue.yaml has no entries")
	}
	return entries
}

func TestCatalogueParsesWithKnownFieldsOnly(t *testing.T) {
	entries := strictEntries(t)
	loaded, err := Entries()
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != len(entries) {
		t.Errorf("Entries() returned %d entries, the YAML holds %d", len(loaded), len(entries))
	}
}

func TestCatalogueIDsAreUniqueAndWellFormed(t *testing.T) {
	idForm := regexp.MustCompile(`^[a-z][a-z0-9]*\.[a-z0-9]+(-[a-z0-9]+)*$`)
	seen := map[string]bool{}
	for _, e := range strictEntries(t) {
		if !idForm.MatchString(e.ID) {
			t.Errorf("ID %q is not of the form area.name", e.ID)
		}
		if seen[e.ID] {
			t.Errorf("ID %q is listed twice", e.ID)
		}
		seen[e.ID] = true
	}
}

func TestCatalogueEntriesAreComplete(t *testing.T) {
	for _, e := range strictEntries(t) {
		for field, value := range map[string]string{"title": e.Title, "why": e.Why, "fix": e.Fix, "ref": e.Ref} {
			if strings.TrimSpace(value) == "" {
				t.Errorf("%s: %s is empty", e.ID, field)
			}
		}
		if e.Severity < Pass || e.Severity > Error {
			t.Errorf("%s: severity %v is not one of pass, info, warn, fail, error", e.ID, e.Severity)
		}
	}
}

func TestCatalogueSeverityOfPassFindings(t *testing.T) {
	for _, e := range strictEntries(t) {
		isOK := strings.HasSuffix(e.ID, ".ok")
		if isOK && e.Severity != Pass {
			t.Errorf("%s: a check's pass finding must have severity pass, has %v", e.ID, e.Severity)
		}
		if !isOK && e.Severity == Pass {
			t.Errorf("%s: severity pass is reserved for <area>.ok", e.ID)
		}
	}
}

// SPEC fixes some severities outright; the checks rely on the defaults.
func TestCatalogueSeveritiesSpecFixes(t *testing.T) {
	want := map[string]Severity{
		"conn.timeout":      Error,
		"conn.rate-limited": Error,
		"dns.lookup-failed": Error,
		"dns.not-checked":   Info,
		"policy.mx":         Fail, "policy.dmarc-policy": Fail, "policy.dkim-selector": Fail,
		"policy.spf-lookups": Fail, "policy.mta-sts-mode": Fail, "policy.allow-expired": Fail,
	}
	for id, sev := range want {
		e, ok := Lookup(id)
		if !ok {
			t.Errorf("%s missing from the catalogue", id)
			continue
		}
		if e.Severity != sev {
			t.Errorf("%s: severity %v, SPEC says %v", id, e.Severity, sev)
		}
	}
	// dkim.key-weak is fail under 1024 bits and warn at 1024: the check
	// chooses, the default must be one of the two.
	if e, _ := Lookup("dkim.key-weak"); e.Severity != Warn && e.Severity != Fail {
		t.Errorf("dkim.key-weak: default severity %v, want warn or fail", e.Severity)
	}
}

func TestCatalogueHasEverySpecID(t *testing.T) {
	for _, id := range specIDs {
		if _, ok := Lookup(id); !ok {
			t.Errorf("SPEC finding %s is missing from the catalogue", id)
		}
	}
}

func TestNewUsesCatalogueDefaults(t *testing.T) {
	f := New("spf.lookup-limit", "example.com TXT", T("SPF needs 12 DNS lookups; the limit is 10"), "v=spf1 include:a include:b")
	e, _ := Lookup("spf.lookup-limit")
	if f.Severity != e.Severity || f.Fix != e.Fix || f.Ref != e.Ref {
		t.Errorf("New did not take severity, fix and ref from the catalogue: %+v", f)
	}
	if f.Title != "SPF needs 12 DNS lookups; the limit is 10" {
		t.Errorf("New replaced the specific title: %q", f.Title)
	}
	if g := New("spf.lookup-limit", "example.com TXT", Text{}); g.Title != e.Title {
		t.Errorf("New with an empty title = %q, want the catalogue title %q", g.Title, e.Title)
	}
	if u := New("nosuch.id", "x", T("t")); u.Severity != Error {
		t.Errorf("New with an unknown ID has severity %v, want error", u.Severity)
	}
}
