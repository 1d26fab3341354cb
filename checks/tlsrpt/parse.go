// Package tlsrpt parses SMTP TLS Reporting records, the TXT record at
// _smtp._tls.<domain> (RFC 8460 §3).
package tlsrpt

import (
	"net/mail"
	"net/url"
	"strings"

	"github.com/mailcheck-cli/mailcheck/checks/internal/fields"
	"github.com/mailcheck-cli/mailcheck/checks/internal/reason"
	"github.com/mailcheck-cli/mailcheck/finding"
)

// Version is the only version of the record.
const Version = "TLSRPTv1"

// ParseError says what in a record does not follow RFC 8460 §3.
type ParseError struct {
	Reason finding.Text
}

func (e *ParseError) Error() string { return e.Reason.String() }

// In writes the error in language l: a judge's sentence that holds it is
// translated whole.
func (e *ParseError) In(l finding.Lang) string { return e.Reason.In(l) }

func parseError(why finding.Text) error {
	return &ParseError{Reason: why}
}

// Extension is a field RFC 8460 does not define.
type Extension struct {
	Name, Value string
}

// Record is a parsed TLS-RPT record.
type Record struct {
	Version string
	// RUA holds the report destinations: mailto: or https: URIs.
	RUA        []*url.URL
	Extensions []Extension
}

// IsRecord reports whether a TXT record is meant as a TLS-RPT record.
// RFC 8460 §3 has senders discard records that do not begin with
// "v=TLSRPTv1;"; this is looser (case, leading blanks) so that a record
// which almost says so is reported as malformed rather than as absent.
func IsRecord(txt string) bool {
	s := strings.TrimLeft(txt, " \t")
	return len(s) >= 10 && strings.EqualFold(s[:10], "v="+Version)
}

// ParseRecord parses a record (RFC 8460 §3):
//
//	tlsrpt-record  = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]
//	field-delim    = *WSP ";" *WSP
//	tlsrpt-version = %s"v=TLSRPTv1"
//	tlsrpt-rua     = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
func ParseRecord(txt string) (*Record, error) {
	r := &Record{Version: Version}
	seenRUA := false
	for f, err := range fields.All(txt, Version) {
		if err != nil {
			return nil, parseError(reason.Of(err))
		}
		name, value := f.Name, f.Value
		switch {
		case name == "rua":
			if seenRUA {
				return nil, parseError(finding.T("rua= appears more than once; list every destination in one rua=, separated by commas"))
			}
			seenRUA = true
			for u := range strings.SplitSeq(value, ",") {
				dest, err := parseDestination(strings.Trim(u, " \t"))
				if err != nil {
					return nil, err
				}
				r.RUA = append(r.RUA, dest)
			}
		case fields.ValidExtensionName(name):
			if !fields.ValidExtensionValue(value) {
				return nil, parseError(finding.T("the value of %s= is empty or holds a character the record may not contain", name))
			}
			r.Extensions = append(r.Extensions, Extension{name, value})
		default:
			return nil, parseError(finding.T("%q is not a valid field name", name))
		}
	}
	if !seenRUA {
		return nil, parseError(finding.T("the record has no rua= field, so no report can be sent"))
	}
	return r, nil
}

// parseDestination checks one report URI: RFC 8460 §3 allows mailto:
// (RFC 6068) and https: only.
func parseDestination(s string) (*url.URL, error) {
	if s == "" {
		return nil, parseError(finding.T("an empty report URI in rua="))
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, parseError(finding.T("rua URI %q does not parse: %v", s, err))
	}
	switch strings.ToLower(u.Scheme) {
	case "mailto":
		addr := u.Opaque
		if addr == "" {
			addr = u.Path
		}
		if addr, err = url.PathUnescape(addr); err != nil || addr == "" {
			return nil, parseError(finding.T("rua URI %q holds no address", s))
		}
		if _, err := mail.ParseAddress(addr); err != nil || !strings.Contains(addr, "@") {
			return nil, parseError(finding.T("rua URI %q: %q is not a mail address", s, addr))
		}
	case "https":
		if u.Host == "" {
			return nil, parseError(finding.T("rua URI %q names no host", s))
		}
	case "":
		return nil, parseError(finding.T("rua %q is not a URI: write mailto:%s or an https:// URL", s, s))
	default:
		return nil, parseError(finding.T("rua URI %q: the scheme must be mailto or https", s))
	}
	return u, nil
}
