package message

import (
	"bytes"
	"errors"
	"mime"
	"net/mail"
	"strings"
)

// MaxSize bounds the input: far above what mail systems accept (25 to 50
// MB), so that a real message always fits, and a runaway pipe does not eat
// the machine.
const MaxSize = 64 << 20

// maxHeaderFields bounds the header fields looked at; real messages carry
// a few hundred at most (Microsoft 365 adds many).
const maxHeaderFields = 2000

// ErrNotMessage is returned for input that does not start with header
// fields.
var ErrNotMessage = errors.New("the input does not start with mail header fields (Name: value)")

// field is one header field, unfolded (Value) and as written (Raw).
type field struct {
	Name  string
	Value string
}

// parsed is a message ready for analysis: CRLF line ends throughout, as
// on the wire, the header fields in order, and whether there was a body.
type parsed struct {
	raw         []byte // the whole message with CRLF line ends; headers-only input gets a closing empty line
	fields      []field
	body        []byte
	headersOnly bool
}

// parse reads a message as a user gives it: a .eml file, an mbox extract
// (a leading "From " line), or headers pasted from a mail client, with LF
// or CRLF line ends. DKIM signatures were computed on CRLF (RFC 5322 §2.1),
// so lone LFs are restored to CRLF before anything else.
func parse(data []byte) (*parsed, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	// Leading empty lines of a paste.
	for len(data) > 0 && (data[0] == '\n' || data[0] == '\r') {
		data = data[1:]
	}
	// An mbox "From " separator line is not a header field.
	if bytes.HasPrefix(data, []byte("From ")) {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	raw := toCRLF(data)
	p := &parsed{}
	head := raw
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		head, p.body = raw[:i+2], raw[i+4:]
	} else {
		// Headers only: close the header block so that parsers that
		// expect one find it.
		p.headersOnly = true
		if !bytes.HasSuffix(raw, []byte("\r\n")) {
			raw = append(raw, '\r', '\n')
		}
		head = raw
		raw = append(raw, '\r', '\n')
	}
	p.raw = raw
	fields, ok := splitFields(head)
	if !ok || len(fields) == 0 {
		return nil, ErrNotMessage
	}
	p.fields = fields
	return p, nil
}

// toCRLF turns every lone LF (and lone CR) into CRLF.
func toCRLF(b []byte) []byte {
	if isCRLF(b) {
		return b
	}
	out := make([]byte, 0, len(b)+len(b)/40)
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '\r':
			out = append(out, '\r', '\n')
			if i+1 < len(b) && b[i+1] == '\n' {
				i++
			}
		case '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, c)
		}
	}
	return out
}

// isCRLF reports whether every line end is already CRLF.
func isCRLF(b []byte) bool {
	for i, c := range b {
		switch {
		case c == '\n' && (i == 0 || b[i-1] != '\r'):
			return false
		case c == '\r' && (i+1 == len(b) || b[i+1] != '\n'):
			return false
		}
	}
	return true
}

// splitFields unfolds the header block (RFC 5322 §2.2.3). ok is false when
// the first line is not a field: the input is not a message.
func splitFields(head []byte) ([]field, bool) {
	var out []field
	for _, line := range strings.Split(strings.TrimSuffix(string(head), "\r\n"), "\r\n") {
		if line == "" {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(out) == 0 {
				return nil, false
			}
			out[len(out)-1].Value += " " + strings.TrimSpace(line)
			continue
		}
		name, value, found := strings.Cut(line, ":")
		if !found || !validFieldName(name) {
			if len(out) == 0 {
				return nil, false
			}
			// A broken line inside a pasted header block: skip it rather
			// than give up on the rest.
			continue
		}
		if len(out) >= maxHeaderFields {
			break
		}
		out = append(out, field{Name: name, Value: strings.TrimSpace(value)})
	}
	return out, true
}

// validFieldName: ftext = %d33-57 / %d59-126 (RFC 5322 §3.6.8).
func validFieldName(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// all returns the values of the fields named name, in order (top first).
func (p *parsed) all(name string) []string {
	var out []string
	for _, f := range p.fields {
		if strings.EqualFold(f.Name, name) {
			out = append(out, f.Value)
		}
	}
	return out
}

// first returns the first value of name, "" when absent.
func (p *parsed) first(name string) string {
	for _, f := range p.fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

var wordDecoder = new(mime.WordDecoder)

// decoded undoes RFC 2047 encoded words for display.
func decoded(s string) string {
	if d, err := wordDecoder.DecodeHeader(s); err == nil {
		return d
	}
	return s
}

// fromAddresses parses the From field (RFC 5322 §3.6.2). DMARC needs
// exactly one address (RFC 9989 §4.4).
func fromAddresses(value string) ([]*mail.Address, error) {
	return (&mail.AddressParser{WordDecoder: wordDecoder}).ParseList(value)
}

// domainOf returns the lower-case domain of an address, "" when none.
func domainOf(addr string) string {
	addr = strings.TrimSpace(strings.Trim(strings.TrimSpace(addr), "<>"))
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(strings.TrimSuffix(addr[i+1:], "."))
}
