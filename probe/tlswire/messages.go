package tlswire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Protocol versions as they appear on the wire.
const (
	VersionSSL30 uint16 = 0x0300
	VersionTLS10 uint16 = 0x0301
	VersionTLS11 uint16 = 0x0302
	VersionTLS12 uint16 = 0x0303
	VersionTLS13 uint16 = 0x0304
)

// VersionName names a version as mailcheck's reports do: "TLS1.2".
func VersionName(v uint16) string {
	switch v {
	case VersionSSL30:
		return "SSL3.0"
	case VersionTLS10:
		return "TLS1.0"
	case VersionTLS11:
		return "TLS1.1"
	case VersionTLS12:
		return "TLS1.2"
	case VersionTLS13:
		return "TLS1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}

// Record content types, RFC 5246 §6.2.1.
const (
	RecordChangeCipherSpec uint8 = 20
	RecordAlert            uint8 = 21
	RecordHandshake        uint8 = 22
	RecordApplicationData  uint8 = 23
)

// Handshake message types, RFC 5246 §7.4 and RFC 6066 §8.
const (
	TypeClientHello       uint8 = 1
	TypeServerHello       uint8 = 2
	TypeCertificate       uint8 = 11
	TypeServerKeyExchange uint8 = 12
	TypeCertificateReq    uint8 = 13
	TypeServerHelloDone   uint8 = 14
	TypeCertificateStatus uint8 = 22
)

// Extension types (IANA "TLS ExtensionType Values").
const (
	extServerName        uint16 = 0
	extStatusRequest     uint16 = 5
	extSupportedGroups   uint16 = 10
	extECPointFormats    uint16 = 11
	extSignatureAlgs     uint16 = 13
	extPadding           uint16 = 21
	extSupportedVersions uint16 = 43
	extRenegotiationInfo uint16 = 0xff01
)

// Named groups (RFC 8422 §5.1.1, RFC 7748).
const (
	GroupP256   uint16 = 23
	GroupP384   uint16 = 24
	GroupP521   uint16 = 25
	GroupX25519 uint16 = 29
)

// GroupName names a named group.
func GroupName(g uint16) string {
	switch g {
	case GroupP256:
		return "P-256"
	case GroupP384:
		return "P-384"
	case GroupP521:
		return "P-521"
	case GroupX25519:
		return "X25519"
	}
	return fmt.Sprintf("group %d", g)
}

// maxRecord is the largest record payload allowed: 2^14 plus the 2048
// bytes of expansion RFC 5246 §6.2.3 permits.
const maxRecord = 1<<14 + 2048

// Record frames payload as records of type typ, split at 2^14 bytes
// (RFC 5246 §6.2.1).
func Record(typ uint8, version uint16, payload []byte) []byte {
	var out []byte
	for {
		n := min(len(payload), 1<<14)
		out = append(out, typ, byte(version>>8), byte(version), byte(n>>8), byte(n))
		out = append(out, payload[:n]...)
		payload = payload[n:]
		if len(payload) == 0 {
			return out
		}
	}
}

// Handshake frames body as a handshake message of type typ.
func Handshake(typ uint8, body []byte) []byte {
	n := len(body)
	return append([]byte{typ, byte(n >> 16), byte(n >> 8), byte(n)}, body...)
}

// ClientHello is a client's first message, RFC 5246 §7.4.1.2.
type ClientHello struct {
	Version   uint16 // client_version: the highest version offered
	Random    [32]byte
	SessionID []byte
	Suites    []uint16
	// ServerName is sent as SNI (RFC 6066 §3) when set.
	ServerName string
	// Groups are the elliptic curves offered (RFC 8422 §5.1.1).
	Groups []uint16
	// StatusRequest asks for a stapled OCSP response (RFC 6066 §8).
	StatusRequest bool
	// SupportedVersions is read from a received hello (RFC 8446 §4.2.1);
	// Marshal never writes it, so a TLS 1.3 server answers as 1.2 at most.
	SupportedVersions []uint16
	// NoExtensions leaves every extension out, as SSL 3.0 clients do.
	NoExtensions bool
}

// Marshal returns the handshake message (type, length and body).
func (h *ClientHello) Marshal() []byte {
	var b []byte
	b = binary.BigEndian.AppendUint16(b, h.Version)
	b = append(b, h.Random[:]...)
	b = append(b, byte(len(h.SessionID)))
	b = append(b, h.SessionID...)
	b = binary.BigEndian.AppendUint16(b, uint16(2*len(h.Suites)))
	for _, s := range h.Suites {
		b = binary.BigEndian.AppendUint16(b, s)
	}
	b = append(b, 1, 0) // compression: null only
	if h.NoExtensions {
		return Handshake(TypeClientHello, b)
	}
	var ext []byte
	if h.ServerName != "" {
		name := []byte(h.ServerName)
		var list []byte
		list = append(list, 0) // host_name
		list = binary.BigEndian.AppendUint16(list, uint16(len(name)))
		list = append(list, name...)
		ext = appendExt(ext, extServerName, binary.BigEndian.AppendUint16(nil, uint16(len(list))), list)
	}
	if len(h.Groups) > 0 {
		var g []byte
		g = binary.BigEndian.AppendUint16(g, uint16(2*len(h.Groups)))
		for _, x := range h.Groups {
			g = binary.BigEndian.AppendUint16(g, x)
		}
		ext = appendExt(ext, extSupportedGroups, g)
		ext = appendExt(ext, extECPointFormats, []byte{1, 0}) // uncompressed
	}
	if h.StatusRequest {
		ext = appendExt(ext, extStatusRequest, []byte{1, 0, 0, 0, 0}) // ocsp, no responder IDs, no extensions
	}
	if h.Version >= VersionTLS12 {
		// RFC 5246 §7.4.1.4.1: rsa, ecdsa and RSA-PSS with SHA-256/384/512,
		// and SHA-1 for old servers.
		algs := []uint16{0x0401, 0x0501, 0x0601, 0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0201, 0x0203, 0x0402}
		var a []byte
		a = binary.BigEndian.AppendUint16(a, uint16(2*len(algs)))
		for _, x := range algs {
			a = binary.BigEndian.AppendUint16(a, x)
		}
		ext = appendExt(ext, extSignatureAlgs, a)
	}
	// RFC 5746 §3.4: an empty renegotiation_info in the initial hello;
	// many servers refuse clients without it.
	ext = appendExt(ext, extRenegotiationInfo, []byte{0})
	// RFC 7685: some servers hang on hellos of 256 to 511 bytes; pad past them.
	if n := len(b) + 2 + len(ext) + 4; n >= 256 && n < 512 {
		ext = appendExt(ext, extPadding, make([]byte, 512-n))
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(ext)))
	b = append(b, ext...)
	return Handshake(TypeClientHello, b)
}

func appendExt(b []byte, typ uint16, data ...[]byte) []byte {
	n := 0
	for _, d := range data {
		n += len(d)
	}
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	for _, d := range data {
		b = append(b, d...)
	}
	return b
}

// ErrMalformed is returned for a message that does not parse.
var ErrMalformed = errors.New("malformed TLS handshake message")

// parser reads big-endian fields from a message body.
type parser struct {
	b   []byte
	bad bool
}

func (p *parser) bytes(n int) []byte {
	if p.bad || n < 0 || len(p.b) < n {
		p.bad = true
		return nil
	}
	out := p.b[:n]
	p.b = p.b[n:]
	return out
}

func (p *parser) u8() uint8 {
	b := p.bytes(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (p *parser) u16() uint16 {
	b := p.bytes(2)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

func (p *parser) u24() int {
	b := p.bytes(3)
	if b == nil {
		return 0
	}
	return int(b[0])<<16 | int(b[1])<<8 | int(b[2])
}

func (p *parser) vec8() []byte  { return p.bytes(int(p.u8())) }
func (p *parser) vec16() []byte { return p.bytes(int(p.u16())) }
func (p *parser) vec24() []byte { return p.bytes(p.u24()) }

// extensions parses an extension block into type → data.
func extensions(b []byte) (map[uint16][]byte, bool) {
	out := map[uint16][]byte{}
	p := parser{b: b}
	for len(p.b) > 0 && !p.bad {
		typ := p.u16()
		data := p.vec16()
		out[typ] = data
	}
	return out, !p.bad
}

// ParseClientHello parses the body of a ClientHello (after the 4-byte
// handshake header).
func ParseClientHello(body []byte) (*ClientHello, error) {
	p := parser{b: body}
	h := &ClientHello{Version: p.u16()}
	copy(h.Random[:], p.bytes(32))
	h.SessionID = slices.Clone(p.vec8())
	suites := parser{b: p.vec16()}
	for len(suites.b) >= 2 {
		h.Suites = append(h.Suites, suites.u16())
	}
	p.vec8() // compression methods
	if p.bad {
		return nil, ErrMalformed
	}
	if len(p.b) == 0 {
		h.NoExtensions = true
		return h, nil
	}
	exts, ok := extensions(p.vec16())
	if !ok || p.bad {
		return nil, ErrMalformed
	}
	if sni, ok := exts[extServerName]; ok {
		list := parser{b: sni}
		names := parser{b: list.vec16()}
		for len(names.b) > 0 && !names.bad {
			typ := names.u8()
			name := names.vec16()
			if typ == 0 {
				h.ServerName = string(name)
			}
		}
	}
	if g, ok := exts[extSupportedGroups]; ok {
		gp := parser{b: g}
		list := parser{b: gp.vec16()}
		for len(list.b) >= 2 {
			h.Groups = append(h.Groups, list.u16())
		}
	}
	if v, ok := exts[extSupportedVersions]; ok {
		vp := parser{b: v}
		list := parser{b: vp.vec8()}
		for len(list.b) >= 2 {
			h.SupportedVersions = append(h.SupportedVersions, list.u16())
		}
	}
	_, h.StatusRequest = exts[extStatusRequest]
	return h, nil
}

// ServerHello is the server's choice, RFC 5246 §7.4.1.3.
type ServerHello struct {
	Version     uint16
	Random      [32]byte
	SessionID   []byte
	Suite       uint16
	Compression uint8
	// StatusRequest: the server will staple an OCSP response (RFC 6066 §8).
	StatusRequest bool
	// SecureRenegotiation answers an initial renegotiation_info (RFC 5746).
	SecureRenegotiation bool
	// SupportedVersions holds the selected version of a TLS 1.3 server.
	SupportedVersion uint16
}

// Marshal returns the handshake message.
func (h *ServerHello) Marshal() []byte {
	var b []byte
	b = binary.BigEndian.AppendUint16(b, h.Version)
	b = append(b, h.Random[:]...)
	b = append(b, byte(len(h.SessionID)))
	b = append(b, h.SessionID...)
	b = binary.BigEndian.AppendUint16(b, h.Suite)
	b = append(b, h.Compression)
	var ext []byte
	if h.SecureRenegotiation {
		ext = appendExt(ext, extRenegotiationInfo, []byte{0})
	}
	if h.StatusRequest {
		ext = appendExt(ext, extStatusRequest, nil)
	}
	if len(ext) > 0 {
		b = binary.BigEndian.AppendUint16(b, uint16(len(ext)))
		b = append(b, ext...)
	}
	return Handshake(TypeServerHello, b)
}

// ParseServerHello parses the body of a ServerHello.
func ParseServerHello(body []byte) (*ServerHello, error) {
	p := parser{b: body}
	h := &ServerHello{Version: p.u16()}
	copy(h.Random[:], p.bytes(32))
	h.SessionID = slices.Clone(p.vec8())
	h.Suite = p.u16()
	h.Compression = p.u8()
	if p.bad {
		return nil, ErrMalformed
	}
	if len(p.b) > 0 {
		exts, ok := extensions(p.vec16())
		if !ok || p.bad {
			return nil, ErrMalformed
		}
		_, h.StatusRequest = exts[extStatusRequest]
		_, h.SecureRenegotiation = exts[extRenegotiationInfo]
		if v, ok := exts[extSupportedVersions]; ok && len(v) == 2 {
			h.SupportedVersion = binary.BigEndian.Uint16(v)
		}
	}
	return h, nil
}

// MarshalCertificate returns a Certificate message carrying certs (DER,
// leaf first), RFC 5246 §7.4.2.
func MarshalCertificate(certs [][]byte) []byte {
	var list []byte
	for _, c := range certs {
		n := len(c)
		list = append(list, byte(n>>16), byte(n>>8), byte(n))
		list = append(list, c...)
	}
	n := len(list)
	return Handshake(TypeCertificate, append([]byte{byte(n >> 16), byte(n >> 8), byte(n)}, list...))
}

// ParseCertificate returns the DER certificates of a Certificate body.
func ParseCertificate(body []byte) ([][]byte, error) {
	p := parser{b: body}
	list := parser{b: p.vec24()}
	var out [][]byte
	for len(list.b) > 0 && !list.bad {
		out = append(out, slices.Clone(list.vec24()))
	}
	if p.bad || list.bad || len(p.b) != 0 {
		return nil, ErrMalformed
	}
	return out, nil
}

// ParseCertificateStatus returns the OCSP response of a CertificateStatus
// body (RFC 6066 §8).
func ParseCertificateStatus(body []byte) ([]byte, error) {
	p := parser{b: body}
	if p.u8() != 1 { // ocsp
		return nil, ErrMalformed
	}
	resp := p.vec24()
	if p.bad {
		return nil, ErrMalformed
	}
	return slices.Clone(resp), nil
}

// MarshalCertificateStatus returns a CertificateStatus message.
func MarshalCertificateStatus(ocsp []byte) []byte {
	n := len(ocsp)
	return Handshake(TypeCertificateStatus, append([]byte{1, byte(n >> 16), byte(n >> 8), byte(n)}, ocsp...))
}

// KeyExchangeParams is what a ServerKeyExchange says about the ephemeral
// key: the size of a DHE group's prime, or an ECDHE curve.
type KeyExchangeParams struct {
	DHBits int    // bits of the DH prime p
	Group  uint16 // ECDHE named curve
}

// ParseServerKeyExchange reads the parameters of a DHE or ECDHE
// ServerKeyExchange (RFC 5246 §7.4.3, RFC 8422 §5.4); the signature is
// not checked: a scan only describes what the server offers.
func ParseServerKeyExchange(body []byte, kx KeyExchange) (KeyExchangeParams, error) {
	p := parser{b: body}
	var out KeyExchangeParams
	switch kx {
	case KxDHE, KxAnonDH:
		prime := p.vec16()
		for len(prime) > 0 && prime[0] == 0 {
			prime = prime[1:]
		}
		if len(prime) > 0 {
			out.DHBits = 8*(len(prime)-1) + bitLen(prime[0])
		}
	case KxECDHE, KxAnonECDH:
		if p.u8() != 3 { // named_curve
			return out, ErrMalformed
		}
		out.Group = p.u16()
	default:
		return out, ErrMalformed
	}
	if p.bad {
		return out, ErrMalformed
	}
	return out, nil
}

func bitLen(b byte) int {
	n := 0
	for ; b != 0; b >>= 1 {
		n++
	}
	return n
}

// Alert is a TLS alert, RFC 5246 §7.2.
type Alert struct {
	Level       uint8 // 1 warning, 2 fatal
	Description uint8
}

// Alert descriptions a scan meets.
const (
	AlertCloseNotify          uint8 = 0
	AlertUnexpectedMessage    uint8 = 10
	AlertHandshakeFailure     uint8 = 40
	AlertIllegalParameter     uint8 = 47
	AlertDecodeError          uint8 = 50
	AlertProtocolVersion      uint8 = 70
	AlertInsufficientSecurity uint8 = 71
	AlertInternalError        uint8 = 80
	AlertUnrecognizedName     uint8 = 112
)

var alertNames = map[uint8]string{
	0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 21: "decryption_failed",
	22: "record_overflow", 30: "decompression_failure", 40: "handshake_failure", 41: "no_certificate",
	42: "bad_certificate", 43: "unsupported_certificate", 44: "certificate_revoked",
	45: "certificate_expired", 46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca",
	49: "access_denied", 50: "decode_error", 51: "decrypt_error", 60: "export_restriction",
	70: "protocol_version", 71: "insufficient_security", 80: "internal_error",
	86: "inappropriate_fallback", 90: "user_canceled", 100: "no_renegotiation",
	109: "missing_extension", 110: "unsupported_extension", 112: "unrecognized_name",
	116: "certificate_required", 120: "no_application_protocol",
}

func (a Alert) Error() string {
	name, ok := alertNames[a.Description]
	if !ok {
		name = fmt.Sprintf("alert %d", a.Description)
	}
	if a.Level == 1 {
		return "warning alert " + name
	}
	return "alert " + name
}

// Fatal reports whether the alert ends the connection (RFC 5246 §7.2.2).
// An unknown level counts as fatal.
func (a Alert) Fatal() bool { return a.Level != 1 }

// MarshalAlert returns a fatal alert record.
func MarshalAlert(version uint16, description uint8) []byte {
	return Record(RecordAlert, version, []byte{2, description})
}

// NotTLSError is returned when the peer answers with something that is not
// a TLS record: a plaintext reply, an HTTP response. First holds what came
// (at most a few hundred bytes).
type NotTLSError struct {
	First []byte
}

func (e *NotTLSError) Error() string { return fmt.Sprintf("not a TLS record: %q", e.First) }

// Message is one handshake message or alert read from the peer.
type Message struct {
	Type  uint8 // handshake type; 0 for an alert
	Body  []byte
	Alert *Alert
	// RecordVersion is the version field of the record it came in.
	RecordVersion uint16
}

// Reader reads handshake messages and alerts from records, reassembling
// messages that span records and splitting records that carry several.
// At most Limit bytes are read in all (default 256 KiB): a hostile peer
// cannot make it buffer without bound.
type Reader struct {
	R     io.Reader
	Limit int

	read    int
	pending []byte
	version uint16
}

// ErrTooLarge is returned when the peer sends more than the Reader's limit.
var ErrTooLarge = errors.New("TLS handshake larger than the reader's bound")

// Next returns the next handshake message or alert. A record that is not
// TLS yields *NotTLSError; a change_cipher_spec or application data
// record before the handshake ends is ErrMalformed.
func (r *Reader) Next() (Message, error) {
	limit := r.Limit
	if limit <= 0 {
		limit = 256 << 10
	}
	for {
		if len(r.pending) >= 4 {
			n := int(r.pending[1])<<16 | int(r.pending[2])<<8 | int(r.pending[3])
			if len(r.pending) >= 4+n {
				m := Message{Type: r.pending[0], Body: slices.Clone(r.pending[4 : 4+n]), RecordVersion: r.version}
				r.pending = r.pending[4+n:]
				return m, nil
			}
			if 4+n > limit {
				return Message{}, ErrTooLarge
			}
		}
		var hdr [5]byte
		if n, err := io.ReadFull(r.R, hdr[:]); err != nil {
			if n > 0 && !validHeader(hdr[:n]) {
				return Message{}, &NotTLSError{First: slices.Clone(hdr[:n])}
			}
			return Message{}, err
		}
		if !validHeader(hdr[:]) {
			// Show what came: the header and what follows it at once.
			first := slices.Clone(hdr[:])
			more := make([]byte, 200)
			if n, _ := r.R.Read(more); n > 0 {
				first = append(first, more[:n]...)
			}
			return Message{}, &NotTLSError{First: first}
		}
		typ, length := hdr[0], int(hdr[3])<<8|int(hdr[4])
		r.version = uint16(hdr[1])<<8 | uint16(hdr[2])
		if length > maxRecord {
			return Message{}, ErrMalformed
		}
		r.read += 5 + length
		if r.read > limit {
			return Message{}, ErrTooLarge
		}
		payload := make([]byte, length)
		if _, err := io.ReadFull(r.R, payload); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return Message{}, err
		}
		switch typ {
		case RecordHandshake:
			r.pending = append(r.pending, payload...)
		case RecordAlert:
			if len(r.pending) > 0 || len(payload) < 2 {
				return Message{}, ErrMalformed
			}
			a := Alert{Level: payload[0], Description: payload[1]}
			return Message{Alert: &a, RecordVersion: r.version}, nil
		default:
			return Message{}, ErrMalformed
		}
	}
}

// validHeader: a known content type and major version 3 (SSL 3.0 to TLS
// 1.3 all use 3.x in the record layer).
func validHeader(h []byte) bool {
	if len(h) >= 1 && (h[0] < RecordChangeCipherSpec || h[0] > RecordApplicationData) {
		return false
	}
	if len(h) >= 2 && h[1] != 3 {
		return false
	}
	return true
}
