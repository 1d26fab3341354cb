package finding

import "time"

// MessageReport is what `mailcheck message` read in one message: the
// "message" section of a report (schema mailcheck/v1, additive). It holds
// data only; the sentences are in the findings.
type MessageReport struct {
	// Source is the file read, "-" for standard input.
	Source string `json:"source"`
	Size   int    `json:"size"`
	// HeadersOnly is true when the input had no body: DKIM body hashes
	// could not be checked.
	HeadersOnly bool   `json:"headers_only"`
	From        string `json:"from,omitempty"`
	FromDomain  string `json:"from_domain,omitempty"`
	To          string `json:"to,omitempty"`
	Subject     string `json:"subject,omitempty"`
	Date        string `json:"date,omitempty"`
	MessageID   string `json:"message_id,omitempty"`
	// ReturnPath is the envelope sender (MAIL FROM) as the final receiver
	// recorded it; "<>" for a bounce.
	ReturnPath string `json:"return_path,omitempty"`

	DKIM        []DKIMSignature `json:"dkim"`
	SPF         *SPFCheck       `json:"spf,omitempty"`
	DMARC       *DMARCCheck     `json:"dmarc,omitempty"`
	AuthResults []AuthResults   `json:"authentication_results,omitempty"`
	// Route lists the Received hops, the oldest (the sender's side) first.
	Route  []Hop   `json:"route,omitempty"`
	ARC    *ARC    `json:"arc,omitempty"`
	Bounce *Bounce `json:"bounce,omitempty"`
}

// DKIMSignature is one DKIM-Signature header field and mailcheck's own
// verification of it.
type DKIMSignature struct {
	Domain           string   `json:"domain"`   // d=
	Selector         string   `json:"selector"` // s=
	Algorithm        string   `json:"algorithm,omitempty"`
	Canonicalization string   `json:"canonicalization,omitempty"` // c=, defaults filled in: "relaxed/simple"
	Identity         string   `json:"identity,omitempty"`         // i=
	Headers          []string `json:"headers,omitempty"`          // h=
	// BodyLength is l=, when the signature covers only part of the body.
	BodyLength *int64    `json:"body_length,omitempty"`
	Signed     time.Time `json:"signed,omitzero"`  // t=
	Expires    time.Time `json:"expires,omitzero"` // x=
	KeyType    string    `json:"key_type,omitempty"`
	KeyBits    int       `json:"key_bits,omitempty"`
	// Result is an RFC 8601 dkim result: pass, fail, neutral (not
	// verifiable here), policy (not accepted: l=, rsa-sha1), temperror or
	// permerror.
	Result string `json:"result"`
	// Reason is why it did not pass: body-hash, signature, key-missing,
	// key-invalid, key-revoked, weak-hash, weak-key, body-length, expired,
	// headers-only, malformed, key-lookup-failed, not-checked.
	Reason string `json:"reason,omitempty"`
	// Error is the verifier's own wording, for the record.
	Error string `json:"error,omitempty"`
}

// SPFCheck is mailcheck's own check_host() for the connecting IP.
type SPFCheck struct {
	IP string `json:"ip,omitempty"`
	// Hop is the index in Route of the Received header the IP was taken
	// from; TrustedHop names the receiver that wrote it.
	Hop        int    `json:"hop,omitempty"`
	TrustedHop string `json:"trusted_hop,omitempty"`
	// Identity is "mailfrom", or "helo" for a null sender.
	Identity  string `json:"identity,omitempty"`
	Domain    string `json:"domain,omitempty"`
	Sender    string `json:"sender,omitempty"`
	HELO      string `json:"helo,omitempty"`
	Result    string `json:"result"`
	Mechanism string `json:"mechanism,omitempty"`
	Inner     string `json:"inner,omitempty"`
	MatchedIn string `json:"matched_in,omitempty"`
	// Path is the include and redirect terms followed to MatchedIn.
	Path        []string `json:"path,omitempty"`
	Record      string   `json:"record,omitempty"`
	Lookups     int      `json:"lookups"`
	VoidLookups int      `json:"void_lookups"`
}

// DMARCCheck is the DMARC evaluation of the From domain.
type DMARCCheck struct {
	FromDomain   string `json:"from_domain"`
	PolicyDomain string `json:"policy_domain,omitempty"` // where the record was found
	OrgDomain    string `json:"org_domain,omitempty"`
	Record       string `json:"record,omitempty"`
	Policy       string `json:"policy,omitempty"` // the p, sp or np that applies
	ADKIM        string `json:"adkim,omitempty"`  // "relaxed" or "strict"
	ASPF         string `json:"aspf,omitempty"`
	// DKIMAligned lists the d= of passing signatures aligned with From;
	// SPFAligned says whether a passing SPF domain aligns.
	DKIMAligned []string `json:"dkim_aligned,omitempty"`
	SPFAligned  bool     `json:"spf_aligned"`
	Result      string   `json:"result"`                // pass, fail, none, temperror
	Disposition string   `json:"disposition,omitempty"` // none, quarantine, reject
	Percent     int      `json:"pct,omitempty"`
	Testing     bool     `json:"testing,omitempty"`
}

// AuthResults is one Authentication-Results (or ARC-Authentication-Results)
// header field: a receiver's verdicts.
type AuthResults struct {
	Header     string       `json:"header"`
	Instance   int          `json:"instance,omitempty"` // ARC i=
	AuthServID string       `json:"authserv_id"`
	Results    []AuthResult `json:"results"`
}

// AuthResult is one method's verdict in an Authentication-Results field.
type AuthResult struct {
	Method     string            `json:"method"`
	Result     string            `json:"result"`
	Reason     string            `json:"reason,omitempty"`
	Properties map[string]string `json:"properties,omitempty"`
	Comment    string            `json:"comment,omitempty"`
}

// Hop is one Received header field.
type Hop struct {
	From     string    `json:"from,omitempty"` // the name the client gave (HELO)
	FromHost string    `json:"from_host,omitempty"`
	FromIP   string    `json:"from_ip,omitempty"`
	By       string    `json:"by,omitempty"`
	With     string    `json:"with,omitempty"`
	ID       string    `json:"id,omitempty"`
	Time     time.Time `json:"time,omitzero"`
	// DelayMS is the time since the previous hop (or the Date header for
	// the first), negative when the clocks disagree.
	DelayMS *int64 `json:"delay_ms,omitempty"`
	// TLS is the TLS version the header states ("TLS1.3"), "TLS" when it
	// says TLS without a version, "" when it says nothing; Cipher when given.
	TLS    string `json:"tls,omitempty"`
	Cipher string `json:"cipher,omitempty"`
	// Plaintext is true when the header says the hop used no TLS (SMTP
	// or ESMTP rather than ESMTPS, RFC 3848).
	Plaintext bool `json:"plaintext,omitempty"`
	// Authenticated is true for a submission hop (ESMTPA, ESMTPSA).
	Authenticated bool `json:"authenticated,omitempty"`
	// Trusted marks the hop the SPF check took its IP from.
	Trusted bool `json:"trusted,omitempty"`
}

// ARC is the presence of an Authenticated Received Chain (RFC 8617). It is
// not verified; the seals' own verdicts (cv=) are shown.
type ARC struct {
	Instances int      `json:"instances"`
	Sealers   []string `json:"sealers,omitempty"` // d= of each ARC-Seal, i=1 first
	// ChainValidation is the cv= of the highest instance.
	ChainValidation string `json:"chain_validation,omitempty"`
}

// Bounce is a delivery status notification read from the message.
type Bounce struct {
	ReportingMTA string            `json:"reporting_mta,omitempty"`
	ArrivalDate  string            `json:"arrival_date,omitempty"`
	Recipients   []BounceRecipient `json:"recipients"`
	Original     *BouncedMessage   `json:"original,omitempty"`
	Structured   bool              `json:"structured"` // a message/delivery-status part, not pasted text
}

// BounceRecipient is one recipient of a bounce.
type BounceRecipient struct {
	Recipient  string `json:"recipient"`
	Action     string `json:"action"`
	Status     string `json:"status,omitempty"`
	Diagnostic string `json:"diagnostic,omitempty"`
	RemoteMTA  string `json:"remote_mta,omitempty"`
	// Findings are the IDs the diagnostic maps to (as `mailcheck explain`
	// maps it).
	Findings []string `json:"findings,omitempty"`
}

// BouncedMessage identifies the message a bounce returned.
type BouncedMessage struct {
	From      string `json:"from,omitempty"`
	To        string `json:"to,omitempty"`
	Subject   string `json:"subject,omitempty"`
	MessageID string `json:"message_id,omitempty"`
	Date      string `json:"date,omitempty"`
}
