// Package finding is the one model that checks, probes and renderers share:
// a finding (what was found, how bad, how to fix it), the per-target report,
// and the record of a live probe. It imports nothing of mailcheck's own.
package finding

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Schema is the value of Report.Schema; scripts key on it.
const Schema = "mailcheck/v1"

// Severity orders how much a finding matters. Error sits apart: it means a
// check could not complete (inconclusive), not that something is wrong.
type Severity int

const (
	Pass  Severity = iota // the check ran and found nothing wrong
	Info                  // worth knowing; nothing to fix
	Warn                  // works today, but weaker than it should be
	Fail                  // broken or unsafe: fix it
	Error                 // inconclusive: timeout, SERVFAIL, 421, rate limit
)

var severityNames = [...]string{"pass", "info", "warn", "fail", "error"}

func (s Severity) String() string {
	if s < Pass || s > Error {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity accepts the names used in JSON, YAML and --fail-on.
func ParseSeverity(name string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(name, n) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want pass, info, warn, fail or error)", name)
}

func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Location points at the source of a record: a zone file and line, for SARIF
// results and CI annotations. Empty when the record came from live DNS.
type Location struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
}

// Finding is one result of one check. ID is stable (see catalogue.yaml);
// Title is specific to this occurrence ("SPF needs 12 DNS lookups; the limit
// is 10"), Fix is the concrete remedy, computed where possible (the corrected
// record itself), otherwise the catalogue's.
type Finding struct {
	ID       string    `json:"id"`
	Severity Severity  `json:"severity"`
	Subject  string    `json:"subject"`
	Title    string    `json:"title"`
	Evidence []string  `json:"evidence,omitempty"`
	Fix      string    `json:"fix,omitempty"`
	Ref      string    `json:"ref,omitempty"`
	Location *Location `json:"location,omitempty"`
	// Baseline is set by the CI gate: "new", "unchanged" or "fixed".
	Baseline string `json:"baseline,omitempty"`
	// Allowed is set by the CI gate when an allow entry of the policy file
	// accepts this finding: "until 2027-06-30: reason". An allowed finding
	// is reported but does not count towards the exit code.
	Allowed string `json:"allowed,omitempty"`

	// title, fix, allowed and notes keep Title, Fix, Allowed and sentences
	// of Evidence as Texts, so that In can write them in another language.
	// The exported fields always hold the English text.
	title, fix, allowed Text
	notes               []note
}

// note is an evidence line that is a sentence rather than data.
type note struct {
	index int
	text  Text
}

// SetTitle replaces the title with one specific to this occurrence.
func (f *Finding) SetTitle(t Text) { f.title, f.Title = t, t.String() }

// SetFix replaces the fix with one specific to this occurrence.
func (f *Finding) SetFix(t Text) { f.fix, f.Fix = t, t.String() }

// TitleText is the title as a Text (the catalogue's, when no occurrence
// title was set), for building a longer one.
func (f *Finding) TitleText() Text {
	if !f.title.IsZero() {
		return f.title
	}
	return Text{format: "%s", args: []any{catalogueText{f.ID, "title", f.Title}}, en: f.Title}
}

// FixText is the fix as a Text, like TitleText.
func (f *Finding) FixText() Text {
	if !f.fix.IsZero() {
		return f.fix
	}
	return Text{format: "%s", args: []any{catalogueText{f.ID, "fix", f.Fix}}, en: f.Fix}
}

// SetAllowed marks the finding as accepted by an allow entry of the policy
// file, saying until when and why.
func (f *Finding) SetAllowed(t Text) { f.allowed, f.Allowed = t, t.String() }

// Note appends a sentence to the evidence (data lines are appended to
// Evidence directly).
func (f *Finding) Note(t Text) {
	f.notes = append(f.notes, note{len(f.Evidence), t})
	f.Evidence = append(f.Evidence, t.String())
}

// In returns f with its title, fix and evidence sentences written in
// language l. A text without a translation stays English.
func (f Finding) In(l Lang) Finding {
	if l == English || l == "" {
		return f
	}
	e, known := Lookup(f.ID)
	le := e.In(l)
	switch {
	case !f.title.IsZero():
		f.Title = f.title.In(l)
	case known && f.Title == e.Title:
		f.Title = le.Title
	}
	switch {
	case !f.fix.IsZero():
		f.Fix = f.fix.In(l)
	case known && f.Fix == e.Fix:
		f.Fix = le.Fix
	}
	if !f.allowed.IsZero() && f.Allowed == f.allowed.String() {
		f.Allowed = f.allowed.In(l)
	}
	if len(f.notes) > 0 {
		ev := append([]string(nil), f.Evidence...)
		for _, n := range f.notes {
			if n.index < len(ev) && ev[n.index] == n.text.String() {
				ev[n.index] = n.text.In(l)
			}
		}
		f.Evidence = ev
	}
	return f
}

// catalogueText is a catalogue field of one ID, written in the language
// asked for; en is what it said in English when it was taken.
type catalogueText struct {
	id, field, en string
}

func (c catalogueText) String() string { return c.en }

func (c catalogueText) In(l Lang) string {
	e, ok := Lookup(c.id)
	if !ok {
		return c.en
	}
	switch le := e.In(l); {
	case c.field == "title" && c.en == e.Title:
		return le.Title
	case c.field == "fix" && c.en == e.Fix:
		return le.Fix
	}
	return c.en
}

// Area is the part of the ID before the first dot: "spf" for "spf.lookup-limit".
func (f Finding) Area() string {
	area, _, _ := strings.Cut(f.ID, ".")
	return area
}

// Report is everything mailcheck found about one target.
type Report struct {
	Schema     string    `json:"schema"`
	Target     string    `json:"target"`
	Started    time.Time `json:"started"`
	DurationMS int64     `json:"duration_ms"`
	Findings   []Finding `json:"findings"`
	// Probes is always an array in JSON, empty when nothing was probed
	// (--no-probe), so that scripts need no existence check.
	Probes []Probe `json:"probes"`
	// Interrupted is set when the run was stopped (Ctrl-C) before this
	// target was complete: the findings are the part that completed.
	Interrupted bool `json:"interrupted,omitempty"`
	// Login holds client settings discovered by `mailcheck login`.
	Login *LoginSettings `json:"login,omitempty"`
	// Message holds what `mailcheck message` read in a message.
	Message *MessageReport `json:"message,omitempty"`
	// Detail holds human-oriented extra lines shown with --verbose (the SPF
	// include tree, transcripts). Not part of the stable schema.
	Detail []string `json:"detail,omitempty"`
	// Records are the DNS records and policy documents the audit judged,
	// by area ("mx", "spf", "dmarc", "dkim", "mtasts", "tlsrpt", "dnssec",
	// "ptr"), as gathered: what was looked at, and where it came from.
	Records map[string][]Record `json:"records,omitempty"`
}

// Record is one record (or policy document) the audit judged, or the
// negative answer or failure in its place.
type Record struct {
	Name  string `json:"name"`
	Type  string `json:"type"` // "MX", "TXT", "A", "PTR", "DNSKEY", "policy"
	Value string `json:"value,omitempty"`
	TTL   uint32 `json:"ttl,omitempty"`
	// Tags are the record's parsed tags or terms, in order.
	Tags []Tag `json:"tags,omitempty"`
	// Status is how the lookup ended: answered, nodata, nxdomain, failed,
	// not-checked.
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	// Source is who answered: "zone:FILE", a server "192.0.2.53:53", or
	// the URL or file a policy was read from.
	Source   string    `json:"source,omitempty"`
	Location *Location `json:"location,omitempty"`
	// Note says why the record was looked at ("include:_spf.example.com",
	// "selector s2026, given with --dkim-selector").
	Note string `json:"note,omitempty"`
}

// Tag is one parsed tag, term or field of a record.
type Tag struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Worst returns the highest severity among findings that count (those not
// marked "unchanged" or "fixed" by a baseline comparison, nor accepted by an
// allow entry of the policy file), ignoring Error, and whether any counting
// finding was Error.
func (r *Report) Worst() (worst Severity, inconclusive bool) {
	for _, f := range r.Findings {
		if f.Baseline == "unchanged" || f.Baseline == "fixed" || f.Allowed != "" {
			continue
		}
		if f.Severity == Error {
			inconclusive = true
			continue
		}
		if f.Severity > worst {
			worst = f.Severity
		}
	}
	return worst, inconclusive
}

// MarkInterrupted records that the run stopped before r was complete. The
// inconclusive findings (severity error) and the probes that ended in a
// timeout are dropped: a check or a dialogue cut short by the interruption
// ends exactly so, and would read as a fault of the target; the ones that
// were genuine cannot be told apart from them any more.
func (r *Report) MarkInterrupted() {
	r.Interrupted = true
	kept := r.Findings[:0:0]
	for _, f := range r.Findings {
		if f.Severity != Error {
			kept = append(kept, f)
		}
	}
	r.Findings = kept
	probes := r.Probes[:0:0]
	for _, p := range r.Probes {
		if p.Status != "timeout" {
			probes = append(probes, p)
		}
	}
	r.Probes = probes
}

// Probe is what one connection to one host:port learned. A probe keeps what
// it got even when a later step fails: the banner and TLS state survive.
type Probe struct {
	Host     string `json:"host"`
	Addr     string `json:"addr"`
	Protocol string `json:"protocol"` // smtp submission smtps imap imaps pop3 pop3s
	// Status is "ok", or where it stopped: "refused", "timeout", "rate-limited",
	// "protocol-error", "tls-failed", "closed", "limit" (mailcheck's own
	// bound on a reply stopped reading).
	Status        string    `json:"status"`
	Error         string    `json:"error,omitempty"`
	Banner        string    `json:"banner,omitempty"`
	CapsBeforeTLS []string  `json:"caps_before_tls,omitempty"`
	CapsAfterTLS  []string  `json:"caps_after_tls,omitempty"`
	StartTLS      bool      `json:"starttls"`
	ImplicitTLS   bool      `json:"implicit_tls,omitempty"`
	TLS           *TLSState `json:"tls,omitempty"`
	LegacyTLS     []string  `json:"legacy_tls,omitempty"` // "TLS1.0", "TLS1.1" if accepted
	// TLSScan is what separate ClientHellos learned: the protocol versions
	// and the kinds of cipher suites the port accepts.
	TLSScan       *TLSScan `json:"tls_scan,omitempty"`
	AuthBeforeTLS []string `json:"auth_before_tls"`
	AuthAfterTLS  []string `json:"auth_after_tls"`
	PTR           []string `json:"ptr,omitempty"`
	DurationMS    int64    `json:"duration_ms"`
	Transcript    []string `json:"transcript,omitempty"` // with -v; credentials redacted
}

// TLSState describes a completed handshake.
type TLSState struct {
	Version     string     `json:"version"` // "TLS1.3"
	Cipher      string     `json:"cipher"`
	Chain       []CertInfo `json:"chain"`
	Verified    bool       `json:"verified"`
	VerifyError string     `json:"verify_error,omitempty"`
	// OCSP is the OCSP response the server stapled (RFC 6066 §8), if any.
	OCSP *OCSPStaple `json:"ocsp,omitempty"`
}

// OCSPStaple describes a stapled OCSP response.
type OCSPStaple struct {
	Status     string    `json:"status"` // "good", "revoked", "unknown", or "invalid" when it does not parse or verify
	ProducedAt time.Time `json:"produced_at,omitempty"`
	NextUpdate time.Time `json:"next_update,omitempty"`
	RevokedAt  time.Time `json:"revoked_at,omitempty"`
	Error      string    `json:"error,omitempty"`
}

// TLSScan is what a probe's separate ClientHellos learned about a port.
type TLSScan struct {
	// Versions: SSL 3.0 to TLS 1.2, each "accepted", "refused" or
	// "inconclusive" (the attempt could not complete: see Detail).
	Versions []TLSVersionResult `json:"versions"`
	// Suites are the suites the server chose, one per version and kind of
	// suite offered (and every weak one): not an exhaustive list.
	Suites []TLSSuite `json:"suites"`
	// ForwardSecrecy: some accepted suite (or TLS 1.3) has ephemeral keys.
	ForwardSecrecy bool `json:"forward_secrecy"`
	// Inconclusive lists what could not be told, and why.
	Inconclusive []string `json:"inconclusive,omitempty"`
}

// TLSVersionResult is whether one protocol version is accepted.
type TLSVersionResult struct {
	Version string `json:"version"` // "TLS1.0"
	Result  string `json:"result"`  // "accepted", "refused", "inconclusive"
	Detail  string `json:"detail,omitempty"`
}

// TLSSuite is one cipher suite the server accepted.
type TLSSuite struct {
	Version        string   `json:"version"`
	Name           string   `json:"name"` // IANA name
	ForwardSecrecy bool     `json:"forward_secrecy"`
	Weak           []string `json:"weak,omitempty"` // "NULL", "EXPORT", "DES", "RC4", "3DES", "aNULL", "DH-1024" ...
	DHBits         int      `json:"dh_bits,omitempty"`
	Curve          string   `json:"curve,omitempty"`
}

// CertInfo is one certificate of a presented chain, leaf first.
type CertInfo struct {
	Subject  string    `json:"subject"`
	Issuer   string    `json:"issuer"`
	NotAfter time.Time `json:"not_after"`
	DNSNames []string  `json:"dns_names,omitempty"`
	KeyType  string    `json:"key_type,omitempty"` // "RSA", "ECDSA", "Ed25519"
	KeyBits  int       `json:"key_bits,omitempty"`
	// DER is the certificate as served, for checks that need the whole
	// certificate (DANE matches it against TLSA records). Not in the JSON
	// report.
	DER []byte `json:"-"`
}

// LoginSettings are the client settings `mailcheck login` recommends, and
// every candidate it considered.
type LoginSettings struct {
	Address    string           `json:"address"`
	Candidates []ClientEndpoint `json:"candidates"`
}

// ClientEndpoint is one way for a mail client to reach a service.
type ClientEndpoint struct {
	Role        string   `json:"role"`     // "incoming" or "outgoing"
	Protocol    string   `json:"protocol"` // imap pop3 submission
	Host        string   `json:"host"`
	Port        int      `json:"port"`
	TLS         string   `json:"tls"` // "implicit", "starttls", "none"
	Username    string   `json:"username,omitempty"`
	Auth        []string `json:"auth,omitempty"`
	Sources     []string `json:"sources"` // "provider", "srv", "autoconfig", "mx-guess", "user"
	Verdict     string   `json:"verdict"` // "recommended", "works", "fails", "untested"
	Reason      string   `json:"reason,omitempty"`
	Recommended bool     `json:"recommended,omitempty"`

	// reason keeps Reason as a Text, for In.
	reason Text
}

// SetReason sets why the endpoint got its verdict, as a Text that In can
// write in another language; Reason holds the English.
func (c *ClientEndpoint) SetReason(t Text) { c.reason, c.Reason = t, t.String() }

// In returns c with its reason written in language l.
func (c ClientEndpoint) In(l Lang) ClientEndpoint {
	if !c.reason.IsZero() && c.Reason == c.reason.String() {
		c.Reason = c.reason.In(l)
	}
	return c
}

// MarshalJSON keeps Findings a JSON array even when empty.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	p := plain(r)
	if p.Findings == nil {
		p.Findings = []Finding{}
	}
	if p.Probes == nil {
		p.Probes = []Probe{}
	}
	return json.Marshal(p)
}

// MarshalJSON writes AuthBeforeTLS and AuthAfterTLS as [] when empty: the
// schema promises arrays, and scripts iterate them without a null check.
func (p Probe) MarshalJSON() ([]byte, error) {
	type plain Probe
	q := plain(p)
	if q.AuthBeforeTLS == nil {
		q.AuthBeforeTLS = []string{}
	}
	if q.AuthAfterTLS == nil {
		q.AuthAfterTLS = []string{}
	}
	return json.Marshal(q)
}
