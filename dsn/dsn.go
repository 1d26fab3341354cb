// Package dsn reads delivery status notifications: the bounces of RFC 3464
// (multipart/report; report-type=delivery-status) and their internationalised
// form of RFC 6533 (message/global-delivery-status). It recognises a bounce,
// and gives each recipient's Action, Status, Diagnostic-Code and Remote-MTA,
// plus the headers of the returned message.
//
// Parse reads a whole message. Scan reads text pasted from a mail client,
// where the MIME structure is gone but the "Final-Recipient: ..." lines
// remain. Neither judges anything: mapping a diagnostic to a cause is the
// caller's business.
package dsn

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"strconv"
	"strings"
)

// ErrNotDSN is returned by Parse for a message that is not a delivery
// status notification.
var ErrNotDSN = errors.New("dsn: not a delivery status notification (no message/delivery-status part)")

// Action is the Action field of a recipient (RFC 3464 §2.3.3).
type Action string

const (
	Failed    Action = "failed"    // could not be delivered; no further attempts
	Delayed   Action = "delayed"   // not delivered yet; attempts continue
	Delivered Action = "delivered" // delivered to the recipient
	Relayed   Action = "relayed"   // handed to a system that sends no DSN
	Expanded  Action = "expanded"  // delivered, then forwarded to several addresses
)

// Status is an enhanced status code (RFC 3463 §2): class.subject.detail,
// e.g. 5.1.1. The zero value means the field was absent or unreadable.
type Status struct {
	Class, Subject, Detail int
}

// ParseStatus reads "5.1.1"; a trailing comment ("4.4.7 (delivery time
// expired)") is ignored. Class is 2, 4 or 5; subject and detail have one to
// three digits (RFC 3463 §2).
func ParseStatus(s string) (Status, error) {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, " \t("); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return Status{}, fmt.Errorf("dsn: status %q is not class.subject.detail", s)
	}
	var n [3]int
	for i, p := range parts {
		if p == "" || len(p) > 3 {
			return Status{}, fmt.Errorf("dsn: status %q is not class.subject.detail", s)
		}
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return Status{}, fmt.Errorf("dsn: status %q is not class.subject.detail", s)
		}
		n[i] = v
	}
	if n[0] != 2 && n[0] != 4 && n[0] != 5 {
		return Status{}, fmt.Errorf("dsn: status %q: class must be 2, 4 or 5", s)
	}
	return Status{n[0], n[1], n[2]}, nil
}

// IsZero reports an absent status.
func (s Status) IsZero() bool { return s.Class == 0 }

// Permanent reports a 5.x.x status: the failure will not go away by itself.
func (s Status) Permanent() bool { return s.Class == 5 }

// Transient reports a 4.x.x status: the sender will retry.
func (s Status) Transient() bool { return s.Class == 4 }

func (s Status) String() string {
	if s.IsZero() {
		return ""
	}
	return fmt.Sprintf("%d.%d.%d", s.Class, s.Subject, s.Detail)
}

// Field is one header-style field of a delivery-status block, unfolded.
type Field struct {
	Name, Value string
}

// Recipient is one per-recipient block (RFC 3464 §2.3).
type Recipient struct {
	// FinalRecipient is the address the reporting MTA tried, with its
	// address type ("rfc822;") removed; OriginalRecipient is the address
	// the sender gave (RFC 3461 ORCPT), when reported.
	FinalRecipient    string
	OriginalRecipient string
	Action            Action
	Status            Status
	StatusText        string // the Status field as written
	// DiagnosticType is "smtp" for a reply of the remote server; the code
	// is the reply itself, unfolded ("550 5.1.1 <x@example.com>: ...").
	DiagnosticType string
	DiagnosticCode string
	RemoteMTA      string // the server that gave the diagnostic, type removed
	LastAttempt    string
	WillRetryUntil string
	// Fields holds every field of the block as written, extensions
	// (X-Display-Name, X-Postfix-...) included.
	Fields []Field
}

// Original is what the notification returned of the message that could not
// be delivered: its headers (text/rfc822-headers), or the whole message
// (message/rfc822), bounded.
type Original struct {
	From, To, Subject, MessageID, Date string
	// Raw is the returned part as received, at most MaxOriginal bytes;
	// Truncated says whether it was longer.
	Raw       []byte
	Truncated bool
	// HeadersOnly is true for text/rfc822-headers: the body was not
	// returned.
	HeadersOnly bool
}

// Report is a delivery status notification.
type Report struct {
	ReportingMTA       string // type removed: "mail.example.com"
	ReceivedFromMTA    string
	ArrivalDate        string
	OriginalEnvelopeID string
	// MessageFields holds every per-message field as written.
	MessageFields []Field
	Recipients    []Recipient
	// HumanText is the notification's first text part: what the user was
	// told. At most MaxHumanText bytes.
	HumanText string
	Original  *Original
}

// Failed returns the recipients whose Action is failed.
func (r *Report) Failed() []Recipient {
	var out []Recipient
	for _, rc := range r.Recipients {
		if rc.Action == Failed {
			out = append(out, rc)
		}
	}
	return out
}

// Bounds on what Parse keeps: a bounce can return a large original.
const (
	MaxHumanText = 64 << 10
	MaxOriginal  = 256 << 10
	// maxStatusPart bounds a delivery-status part: even a report on a
	// thousand recipients fits in well under a megabyte.
	maxStatusPart = 1 << 20
	// maxParts bounds how many MIME parts are looked at, nested ones
	// included.
	maxParts = 64
)

// Parse reads a whole message and returns its delivery status
// notification. A message that is not one returns ErrNotDSN; a
// notification whose status part cannot be read returns another error.
//
// Besides multipart/report with report-type=delivery-status, a
// message/delivery-status part anywhere in a multipart message is accepted:
// some gateways re-wrap bounces in multipart/mixed.
func Parse(r io.Reader) (*Report, error) {
	msg, err := mail.ReadMessage(bufio.NewReader(r))
	if err != nil {
		return nil, fmt.Errorf("dsn: %w", err)
	}
	ct := msg.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || !strings.HasPrefix(mt, "multipart/") || params["boundary"] == "" {
		return nil, ErrNotDSN
	}
	rep := &Report{}
	found := false
	parts := 0
	var walk func(body io.Reader, boundary string, depth int) error
	walk = func(body io.Reader, boundary string, depth int) error {
		mr := multipart.NewReader(body, boundary)
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				// A truncated notification (a paste cut short) still
				// yields what was read before the damage.
				if found {
					return nil
				}
				return fmt.Errorf("dsn: %w", err)
			}
			parts++
			if parts > maxParts {
				return nil
			}
			pmt, pparams, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
			if pmt == "" {
				pmt = "text/plain" // RFC 2045 §5.2 default
			}
			switch {
			case strings.HasPrefix(pmt, "multipart/") && pparams["boundary"] != "" && depth < 4:
				if err := walk(p, pparams["boundary"], depth+1); err != nil {
					return err
				}
			case pmt == "message/delivery-status" || pmt == "message/global-delivery-status":
				if found {
					continue // RFC 3462: exactly one; keep the first
				}
				data, err := io.ReadAll(io.LimitReader(decodePart(p), maxStatusPart))
				if err != nil {
					return fmt.Errorf("dsn: reading the delivery-status part: %w", err)
				}
				st := ParseStatusFields(string(data))
				rep.ReportingMTA, rep.ReceivedFromMTA = st.ReportingMTA, st.ReceivedFromMTA
				rep.ArrivalDate, rep.OriginalEnvelopeID = st.ArrivalDate, st.OriginalEnvelopeID
				rep.MessageFields, rep.Recipients = st.MessageFields, st.Recipients
				found = true
			case (pmt == "text/plain" || pmt == "text/html") && rep.HumanText == "" && !found:
				data, _ := io.ReadAll(io.LimitReader(decodePart(p), MaxHumanText))
				if pmt == "text/plain" {
					rep.HumanText = strings.TrimSpace(string(data))
				}
			case pmt == "message/rfc822" || pmt == "text/rfc822-headers" ||
				pmt == "message/global" || pmt == "message/global-headers":
				if rep.Original == nil {
					rep.Original = readOriginal(decodePart(p), strings.HasSuffix(pmt, "headers"))
				}
			}
		}
	}
	if err := walk(msg.Body, params["boundary"], 0); err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrNotDSN
	}
	return rep, nil
}

// decodePart undoes a base64 transfer encoding; multipart.Reader already
// undoes quoted-printable.
func decodePart(p *multipart.Part) io.Reader {
	if strings.EqualFold(strings.TrimSpace(p.Header.Get("Content-Transfer-Encoding")), "base64") {
		return newBase64Reader(p)
	}
	return p
}

func readOriginal(r io.Reader, headersOnly bool) *Original {
	data, _ := io.ReadAll(io.LimitReader(r, MaxOriginal+1))
	o := &Original{HeadersOnly: headersOnly}
	if len(data) > MaxOriginal {
		data, o.Truncated = data[:MaxOriginal], true
	}
	o.Raw = data
	// The headers end at the first empty line, or at the end of a
	// text/rfc822-headers part.
	head := data
	if i := bytes.Index(data, []byte("\n\n")); i >= 0 {
		head = data[:i+1]
	} else if i := bytes.Index(data, []byte("\r\n\r\n")); i >= 0 {
		head = data[:i+2]
	}
	tp := textproto.NewReader(bufio.NewReader(io.MultiReader(bytes.NewReader(head), strings.NewReader("\r\n"))))
	h, _ := tp.ReadMIMEHeader()
	dec := new(mime.WordDecoder)
	get := func(name string) string {
		v := strings.TrimSpace(h.Get(name))
		if d, err := dec.DecodeHeader(v); err == nil {
			return d
		}
		return v
	}
	o.From, o.To, o.Subject = get("From"), get("To"), get("Subject")
	o.MessageID, o.Date = get("Message-Id"), get("Date")
	return o
}

// StatusFields is the content of a delivery-status part.
type StatusFields struct {
	ReportingMTA, ReceivedFromMTA, ArrivalDate, OriginalEnvelopeID string
	MessageFields                                                  []Field
	Recipients                                                     []Recipient
}

// ParseStatusFields reads the body of a message/delivery-status part: a
// per-message block, then one block per recipient, separated by empty lines
// (RFC 3464 §2.1). It is lenient the way bounces require: a block that
// names a recipient is a recipient block even when the per-message block
// was not closed by an empty line, and unknown fields are kept.
func ParseStatusFields(text string) StatusFields {
	var st StatusFields
	blocks := 0
	for _, block := range splitBlocks(text) {
		fields := parseFields(block)
		if len(fields) == 0 {
			continue
		}
		blocks++
		// The per-message block comes first; some MTAs run it into the
		// first recipient block.
		msgFields, rcptFields := fields, []Field(nil)
		if j := indexRecipientStart(fields); j >= 0 {
			msgFields, rcptFields = fields[:j], fields[j:]
		} else if blocks > 1 {
			// A later block without a recipient field: a recipient
			// block with only an Action or Status.
			msgFields, rcptFields = nil, fields
		}
		if len(msgFields) > 0 && len(st.Recipients) == 0 {
			st.MessageFields = append(st.MessageFields, msgFields...)
			for _, f := range msgFields {
				switch strings.ToLower(f.Name) {
				case "reporting-mta":
					st.ReportingMTA = stripType(f.Value)
				case "received-from-mta":
					st.ReceivedFromMTA = stripType(f.Value)
				case "arrival-date":
					st.ArrivalDate = f.Value
				case "original-envelope-id":
					st.OriginalEnvelopeID = f.Value
				}
			}
		}
		if len(rcptFields) > 0 {
			st.Recipients = append(st.Recipients, recipientOf(rcptFields))
		}
	}
	return st
}

// recipientStarts are the fields that begin a per-recipient block.
var recipientStarts = map[string]bool{"final-recipient": true, "original-recipient": true}

// indexRecipientStart returns the index of the first field that starts a
// recipient block, or -1.
func indexRecipientStart(fields []Field) int {
	for i, f := range fields {
		if recipientStarts[strings.ToLower(f.Name)] {
			return i
		}
	}
	return -1
}

func recipientOf(fields []Field) Recipient {
	r := Recipient{Fields: fields}
	for _, f := range fields {
		switch strings.ToLower(f.Name) {
		case "final-recipient":
			r.FinalRecipient = stripAddress(f.Value)
		case "original-recipient":
			r.OriginalRecipient = stripAddress(f.Value)
		case "action":
			a := strings.ToLower(strings.TrimSpace(f.Value))
			if i := strings.IndexAny(a, " \t("); i >= 0 {
				a = a[:i]
			}
			r.Action = Action(a)
		case "status":
			r.StatusText = f.Value
			r.Status, _ = ParseStatus(f.Value)
		case "diagnostic-code":
			r.DiagnosticType, r.DiagnosticCode = splitType(f.Value)
		case "remote-mta":
			r.RemoteMTA = stripType(f.Value)
		case "last-attempt-date":
			r.LastAttempt = f.Value
		case "will-retry-until":
			r.WillRetryUntil = f.Value
		}
	}
	return r
}

// splitType splits "type; value" (RFC 3464 §2.1.2: address-type,
// diagnostic-type, mta-name-type). A value without a type keeps it whole.
func splitType(v string) (typ, value string) {
	typ, rest, ok := strings.Cut(v, ";")
	if !ok || strings.ContainsAny(strings.TrimSpace(typ), " \t<@") {
		return "", strings.TrimSpace(v)
	}
	return strings.ToLower(strings.TrimSpace(typ)), strings.TrimSpace(rest)
}

func stripType(v string) string {
	_, value := splitType(v)
	return value
}

// stripAddress removes the address type and angle brackets:
// "rfc822; <a@example.com>" → "a@example.com".
func stripAddress(v string) string {
	a := strings.TrimSpace(stripType(v))
	a = strings.TrimPrefix(a, "<")
	a = strings.TrimSuffix(a, ">")
	return strings.TrimSpace(a)
}

// splitBlocks splits on empty lines, with CRLF or LF line ends.
func splitBlocks(text string) [][]string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	var blocks [][]string
	var cur []string
	for _, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "" {
			if len(cur) > 0 {
				blocks = append(blocks, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, strings.TrimRight(line, "\r"))
	}
	if len(cur) > 0 {
		blocks = append(blocks, cur)
	}
	return blocks
}

// parseFields unfolds a block into fields (RFC 5322 §2.2.3). A line that is
// neither a field nor a continuation is skipped.
func parseFields(lines []string) []Field {
	var out []Field
	for _, line := range lines {
		if (line[0] == ' ' || line[0] == '\t') && len(out) > 0 {
			out[len(out)-1].Value += " " + strings.TrimSpace(line)
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !isFieldName(name) {
			continue
		}
		out = append(out, Field{Name: name, Value: strings.TrimSpace(value)})
	}
	return out
}

// isFieldName checks ftext = %d33-57 / %d59-126 (RFC 5322 §3.6.8).
func isFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if c := s[i]; c < 33 || c > 126 || c == ':' {
			return false
		}
	}
	return true
}
