// Package dkim parses DKIM public key records: the TXT records published at
// <selector>._domainkey.<domain> (RFC 6376 §3.6.1), with the Ed25519 key type
// of RFC 8463 and the algorithm rules of RFC 8301.
package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"slices"
	"strings"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// KeyType is the k= tag of a key record.
type KeyType string

const (
	KeyRSA     KeyType = "rsa"     // RFC 6376 §3.6.1: the default when k= is absent
	KeyEd25519 KeyType = "ed25519" // RFC 8463 §4.2
)

// Flags of the t= tag (RFC 6376 §3.6.1).
const (
	FlagTesting = "y" // "This domain is testing DKIM": verifiers must not treat failures differently
	FlagStrict  = "s" // the i= domain of a signature must equal d=, no subdomains
)

// Hash algorithms of the h= tag (RFC 6376 §3.3, RFC 8301 §3.1).
const (
	HashSHA1   = "sha1"
	HashSHA256 = "sha256"
)

// Record is a parsed key record. Tags the record does not set hold their
// RFC 6376 defaults, except Hashes and Services, which stay nil when the tag
// is absent (all algorithms, all services).
type Record struct {
	Version  string   // v=: "DKIM1", or "" when absent
	KeyType  KeyType  // k=
	Hashes   []string // h=: as listed, unknown names included
	Services []string // s=
	Flags    []string // t=
	Notes    string   // n=
	// PublicKey is *rsa.PublicKey or ed25519.PublicKey; nil when the key is
	// revoked (an empty p=).
	PublicKey crypto.PublicKey
}

// Revoked reports an empty p=: RFC 6376 §3.6.1 "An empty value means that
// this public key has been revoked".
func (r *Record) Revoked() bool { return r.PublicKey == nil }

// Testing reports the t=y flag.
func (r *Record) Testing() bool { return slices.Contains(r.Flags, FlagTesting) }

// RSABits is the modulus size of an RSA key, 0 for other keys.
func (r *Record) RSABits() int {
	if k, ok := r.PublicKey.(*rsa.PublicKey); ok {
		return k.N.BitLen()
	}
	return 0
}

// SHA1Only reports an h= that allows SHA-1 and no SHA-256. RFC 8301 §3.1:
// verifiers must not accept rsa-sha1 signatures, so such a key verifies
// nothing.
func (r *Record) SHA1Only() bool {
	return r.Hashes != nil && slices.Contains(r.Hashes, HashSHA1) && !slices.Contains(r.Hashes, HashSHA256)
}

// ParseError says why a key record cannot be used.
type ParseError struct {
	Tag    string // the tag at fault; "" for the record as a whole
	Reason finding.Text
}

func (e *ParseError) Error() string { return e.text().String() }

// In writes the error in language l: a judge's sentence that holds it is
// translated whole.
func (e *ParseError) In(l finding.Lang) string { return e.text().In(l) }

func (e *ParseError) text() finding.Text {
	if e.Tag == "" {
		return e.Reason
	}
	return finding.T("%s=: %s", e.Tag, e.Reason)
}

func parseError(tag string, why finding.Text) error {
	return &ParseError{Tag: tag, Reason: why}
}

// Tag is one tag=value pair of a tag-list, value without surrounding
// whitespace.
type Tag struct {
	Name, Value string
}

// ParseTagList splits a tag-list (RFC 6376 §3.2): tag-spec *(";" tag-spec)
// [";"]. Tag names are case-sensitive; a name that occurs twice makes the
// whole list invalid. Empty specs between semicolons are skipped, as common
// verifiers do.
func ParseTagList(s string) ([]Tag, error) {
	var tags []Tag
	seen := map[string]bool{}
	for spec := range strings.SplitSeq(s, ";") {
		if strings.TrimSpace(spec) == "" {
			continue
		}
		name, value, ok := strings.Cut(spec, "=")
		if !ok {
			return nil, parseError("", finding.T("%q is not a tag=value pair", strings.TrimSpace(spec)))
		}
		name = strings.TrimSpace(name)
		if !validTagName(name) {
			return nil, parseError("", finding.T("%q is not a valid tag name", name))
		}
		if seen[name] {
			// RFC 6376 §3.2: "if a tag name does occur more than once, the
			// entire tag-list is invalid."
			return nil, parseError(name, finding.T("the tag occurs more than once"))
		}
		seen[name] = true
		value = strings.Trim(value, " \t\r\n")
		for _, c := range []byte(value) {
			// VALCHAR is %x21-3A / %x3C-7E; whitespace may separate tvals.
			if (c < 0x21 || c > 0x7e) && c != ' ' && c != '\t' && c != '\r' && c != '\n' {
				return nil, parseError(name, finding.T("the value holds byte 0x%02x, which a tag value may not", c))
			}
		}
		tags = append(tags, Tag{Name: name, Value: value})
	}
	return tags, nil
}

// validTagName checks tag-name = ALPHA *ALNUMPUNC (RFC 6376 §3.2).
func validTagName(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for _, c := range []byte(s[1:]) {
		if !isAlpha(c) && !(c >= '0' && c <= '9') && c != '_' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// colonList splits a colon-separated tag value (h=, s=, t=), ignoring the
// folding whitespace the grammar allows around each element. Names are
// compared case-insensitively by verifiers; they are kept in lower case.
func colonList(tag, v string) ([]string, error) {
	var out []string
	for e := range strings.SplitSeq(v, ":") {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == "" {
			return nil, parseError(tag, finding.T("an empty element in the list %q", v))
		}
		out = append(out, e)
	}
	return out, nil
}

// ParseRecord parses a key record, the TXT record's strings already
// concatenated (RFC 6376 §3.6.2.2). It fails for anything a verifier could
// not use to check a signature, except a revoked key, which parses.
func ParseRecord(txt string) (*Record, error) {
	tags, err := ParseTagList(txt)
	if err != nil {
		return nil, err
	}
	r := &Record{KeyType: KeyRSA}
	var p string
	havePublic := false
	for i, t := range tags {
		switch t.Name {
		case "v":
			// RFC 6376 §3.6.1: "If specified, this tag MUST be set to
			// "DKIM1" ... and MUST be the first tag in the record."
			if i != 0 {
				return nil, parseError("v", finding.T("v= must be the first tag of the record"))
			}
			if t.Value != "DKIM1" {
				return nil, parseError("v", finding.T("version %q; only DKIM1 exists", t.Value))
			}
			r.Version = t.Value
		case "h":
			if r.Hashes, err = colonList("h", t.Value); err != nil {
				return nil, err
			}
		case "k":
			r.KeyType = KeyType(strings.ToLower(t.Value))
		case "n":
			r.Notes = t.Value
		case "p":
			p, havePublic = t.Value, true
		case "s":
			if r.Services, err = colonList("s", t.Value); err != nil {
				return nil, err
			}
		case "t":
			if r.Flags, err = colonList("t", t.Value); err != nil {
				return nil, err
			}
		}
		// Other tags are ignored (RFC 6376 §3.2: "Unrecognized tags MUST
		// be ignored").
	}
	if !havePublic {
		return nil, parseError("p", finding.T("the record has no p= tag, so it holds no key"))
	}
	if r.KeyType != KeyRSA && r.KeyType != KeyEd25519 {
		return nil, parseError("k", finding.T("unknown key type %q (rsa or ed25519)", r.KeyType))
	}
	if r.Hashes != nil && !slices.Contains(r.Hashes, HashSHA1) && !slices.Contains(r.Hashes, HashSHA256) {
		// Unknown algorithms are ignored, which leaves none.
		return nil, parseError("h", finding.T("%q names no known hash algorithm (sha256)", strings.Join(r.Hashes, ":")))
	}
	if r.Services != nil && !slices.Contains(r.Services, "*") && !slices.Contains(r.Services, "email") {
		return nil, parseError("s", finding.T("service types %q exclude email (use s=email or omit s=)", strings.Join(r.Services, ":")))
	}
	// base64string allows folding whitespace between characters (RFC 6376
	// §2.4).
	p = strings.Join(strings.Fields(p), "")
	if p == "" {
		return r, nil
	}
	der, err := base64.StdEncoding.DecodeString(p)
	var bad base64.CorruptInputError
	if errors.As(err, &bad) {
		return nil, parseError("p", finding.T("not valid base64 (at character %d of the key)", int64(bad)+1))
	}
	if err != nil {
		return nil, parseError("p", finding.T("not valid base64: %v", err))
	}
	switch r.KeyType {
	case KeyRSA:
		r.PublicKey, err = parseRSA(der)
		if err != nil {
			return nil, err
		}
	case KeyEd25519:
		// RFC 8463 §4.2: the raw 32-byte public key, not wrapped in a
		// SubjectPublicKeyInfo.
		if len(der) != ed25519.PublicKeySize {
			return nil, parseError("p", finding.T("an Ed25519 key is %d bytes, this one is %d", ed25519.PublicKeySize, len(der)))
		}
		r.PublicKey = ed25519.PublicKey(der)
	}
	return r, nil
}

// parseRSA accepts a SubjectPublicKeyInfo, which RFC 6376 §3.6.1 specifies,
// and a bare PKCS#1 RSAPublicKey, which the RFC's own example and many
// publishers use (erratum 3017) and verifiers accept.
func parseRSA(der []byte) (*rsa.PublicKey, error) {
	if pub, err := x509.ParsePKIXPublicKey(der); err == nil {
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, parseError("p", finding.T("k=rsa but p= holds a %T key", pub))
		}
		return k, nil
	}
	k, err := x509.ParsePKCS1PublicKey(der)
	if err != nil {
		return nil, parseError("p", finding.T("not an RSA public key (neither SubjectPublicKeyInfo nor RSAPublicKey)"))
	}
	return k, nil
}
