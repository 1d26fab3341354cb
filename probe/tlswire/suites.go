package tlswire

import (
	"fmt"
	"strings"
)

// KeyExchange is how a suite agrees on keys (RFC 5246 §7.4.3, RFC 8422 §2).
type KeyExchange int

const (
	KxRSA      KeyExchange = iota // the client encrypts the secret to the certificate's key: no forward secrecy
	KxDHE                         // ephemeral finite-field Diffie-Hellman, signed by the certificate's key
	KxECDHE                       // ephemeral elliptic-curve Diffie-Hellman, signed
	KxECDH                        // static ECDH with the certificate's key: no forward secrecy
	KxAnonDH                      // unauthenticated DH (DH_anon): anyone in the path can impersonate the server
	KxAnonECDH                    // unauthenticated ECDH (ECDH_anon)
)

// Cipher is the bulk encryption of a suite.
type Cipher int

const (
	CipherNULL     Cipher = iota // no encryption at all
	CipherRC4                    // RFC 7465 prohibits it
	CipherRC2                    // 64-bit block, export era
	CipherDES40                  // 40-bit export DES
	CipherDES                    // single 56-bit DES
	Cipher3DES                   // 64-bit block: Sweet32 (CVE-2016-2183)
	CipherIDEA                   // 64-bit block
	CipherSEED                   // 128-bit block, CBC
	CipherAESCBC                 // CBC mode with HMAC
	CipherCamellia               // CBC mode with HMAC
	CipherAEAD                   // AES-GCM, AES-CCM, ARIA-GCM, ChaCha20-Poly1305
)

// Suite is one TLS 1.0–1.2 cipher suite, described from its IANA name.
type Suite struct {
	ID   uint16
	Name string // IANA name, e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
	Kx   KeyExchange
	// Auth is the certificate key the suite needs: "RSA", "DSS", "ECDSA",
	// or "" for anonymous suites.
	Auth   string
	Cipher Cipher
	// Export: a 1990s US export suite (40- or 56-bit keys, 512-bit RSA/DH).
	Export bool
	// TLS12: AEAD and SHA-256/384 suites exist only from TLS 1.2 on
	// (RFC 5246 §1.2, RFC 5288 §4).
	TLS12 bool
}

// ForwardSecret reports whether the session keys survive a later theft of
// the server's private key: only ephemeral key exchanges do.
func (s Suite) ForwardSecret() bool { return s.Kx == KxDHE || s.Kx == KxECDHE }

// Anonymous reports whether the suite authenticates no one (RFC 5246
// §A.5: "completely anonymous sessions ... are vulnerable to
// man-in-the-middle attacks").
func (s Suite) Anonymous() bool { return s.Kx == KxAnonDH || s.Kx == KxAnonECDH }

// suiteList is every suite the scanner offers: the IANA registry's suites
// that mail servers built on OpenSSL, GnuTLS, Schannel and Java have
// shipped, weak ones included so that they can be found. PSK, SRP,
// Kerberos and GOST suites are left out: no mail server offers them to an
// anonymous client. IDs and names from the IANA "TLS Cipher Suites"
// registry (https://www.iana.org/assignments/tls-parameters/).
var suiteList = []struct {
	id   uint16
	name string
}{
	// NULL encryption.
	{0x0001, "TLS_RSA_WITH_NULL_MD5"},
	{0x0002, "TLS_RSA_WITH_NULL_SHA"},
	{0x003B, "TLS_RSA_WITH_NULL_SHA256"},
	{0xC001, "TLS_ECDH_ECDSA_WITH_NULL_SHA"},
	{0xC006, "TLS_ECDHE_ECDSA_WITH_NULL_SHA"},
	{0xC00B, "TLS_ECDH_RSA_WITH_NULL_SHA"},
	{0xC010, "TLS_ECDHE_RSA_WITH_NULL_SHA"},
	{0xC015, "TLS_ECDH_anon_WITH_NULL_SHA"},
	// Export.
	{0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5"},
	{0x0006, "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5"},
	{0x0008, "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA"},
	{0x0011, "TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA"},
	{0x0014, "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA"},
	{0x0017, "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5"},
	{0x0019, "TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA"},
	// Single DES and IDEA.
	{0x0007, "TLS_RSA_WITH_IDEA_CBC_SHA"},
	{0x0009, "TLS_RSA_WITH_DES_CBC_SHA"},
	{0x0012, "TLS_DHE_DSS_WITH_DES_CBC_SHA"},
	{0x0015, "TLS_DHE_RSA_WITH_DES_CBC_SHA"},
	{0x001A, "TLS_DH_anon_WITH_DES_CBC_SHA"},
	// RC4.
	{0x0004, "TLS_RSA_WITH_RC4_128_MD5"},
	{0x0005, "TLS_RSA_WITH_RC4_128_SHA"},
	{0x0018, "TLS_DH_anon_WITH_RC4_128_MD5"},
	{0xC002, "TLS_ECDH_ECDSA_WITH_RC4_128_SHA"},
	{0xC007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"},
	{0xC00C, "TLS_ECDH_RSA_WITH_RC4_128_SHA"},
	{0xC011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA"},
	{0xC016, "TLS_ECDH_anon_WITH_RC4_128_SHA"},
	// Triple DES.
	{0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"},
	{0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA"},
	{0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"},
	{0x001B, "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA"},
	{0xC003, "TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA"},
	{0xC008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA"},
	{0xC00D, "TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA"},
	{0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"},
	{0xC017, "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA"},
	// Anonymous with strong ciphers.
	{0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA"},
	{0x003A, "TLS_DH_anon_WITH_AES_256_CBC_SHA"},
	{0x0046, "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA"},
	{0x006C, "TLS_DH_anon_WITH_AES_128_CBC_SHA256"},
	{0x006D, "TLS_DH_anon_WITH_AES_256_CBC_SHA256"},
	{0x0089, "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA"},
	{0x009B, "TLS_DH_anon_WITH_SEED_CBC_SHA"},
	{0x00A6, "TLS_DH_anon_WITH_AES_128_GCM_SHA256"},
	{0x00A7, "TLS_DH_anon_WITH_AES_256_GCM_SHA384"},
	{0xC018, "TLS_ECDH_anon_WITH_AES_128_CBC_SHA"},
	{0xC019, "TLS_ECDH_anon_WITH_AES_256_CBC_SHA"},
	// RSA key exchange (no forward secrecy).
	{0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA"},
	{0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA"},
	{0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256"},
	{0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256"},
	{0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"},
	{0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA"},
	{0x0096, "TLS_RSA_WITH_SEED_CBC_SHA"},
	{0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256"},
	{0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384"},
	{0x00BA, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256"},
	{0x00C0, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256"},
	{0xC050, "TLS_RSA_WITH_ARIA_128_GCM_SHA256"},
	{0xC051, "TLS_RSA_WITH_ARIA_256_GCM_SHA384"},
	{0xC09C, "TLS_RSA_WITH_AES_128_CCM"},
	{0xC09D, "TLS_RSA_WITH_AES_256_CCM"},
	// Static ECDH (no forward secrecy).
	{0xC004, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA"},
	{0xC005, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA"},
	{0xC00E, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA"},
	{0xC00F, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA"},
	// DHE.
	{0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA"},
	{0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"},
	{0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA"},
	{0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"},
	{0x0040, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256"},
	{0x0045, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA"},
	{0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"},
	{0x006A, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256"},
	{0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"},
	{0x0088, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA"},
	{0x009A, "TLS_DHE_RSA_WITH_SEED_CBC_SHA"},
	{0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"},
	{0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"},
	{0x00A2, "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256"},
	{0x00A3, "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384"},
	{0x00BE, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"},
	{0x00C4, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256"},
	{0xC052, "TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256"},
	{0xC053, "TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384"},
	{0xC09E, "TLS_DHE_RSA_WITH_AES_128_CCM"},
	{0xC09F, "TLS_DHE_RSA_WITH_AES_256_CCM"},
	{0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
	// ECDHE.
	{0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"},
	{0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"},
	{0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"},
	{0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"},
	{0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"},
	{0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"},
	{0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"},
	{0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"},
	{0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
	{0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"},
	{0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
	{0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
	{0xC05C, "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256"},
	{0xC05D, "TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384"},
	{0xC060, "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256"},
	{0xC061, "TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384"},
	{0xC072, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256"},
	{0xC073, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384"},
	{0xC076, "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"},
	{0xC077, "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384"},
	{0xC0AC, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM"},
	{0xC0AD, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM"},
	{0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
	{0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
}

var (
	suites    []Suite
	suiteByID = map[uint16]Suite{}
)

func init() {
	for _, e := range suiteList {
		s, err := describe(e.id, e.name)
		if err != nil {
			panic("tlswire: " + err.Error()) // a typo in the table; TestSuiteTable names it
		}
		suites = append(suites, s)
		suiteByID[e.id] = s
	}
}

// Suites returns every suite the scanner knows, in table order.
func Suites() []Suite { return append([]Suite(nil), suites...) }

// SuiteByID returns the suite with that ID, if the table has it.
func SuiteByID(id uint16) (Suite, bool) {
	s, ok := suiteByID[id]
	return s, ok
}

// SuiteName names a suite by its IANA name, or by its code point when the
// table does not know it.
func SuiteName(id uint16) string {
	if s, ok := suiteByID[id]; ok {
		return s.Name
	}
	return fmt.Sprintf("0x%04X", id)
}

// describe reads a suite's properties from its IANA name:
// TLS_<key exchange>_WITH_<cipher>_<MAC>.
func describe(id uint16, name string) (Suite, error) {
	s := Suite{ID: id, Name: name}
	kx, rest, ok := strings.Cut(strings.TrimPrefix(name, "TLS_"), "_WITH_")
	if !ok {
		return s, fmt.Errorf("%s: no _WITH_", name)
	}
	if k, ok := strings.CutSuffix(kx, "_EXPORT"); ok {
		kx, s.Export = k, true
	}
	switch kx {
	case "RSA":
		s.Kx, s.Auth = KxRSA, "RSA"
	case "DHE_RSA", "DHE_DSS":
		s.Kx, s.Auth = KxDHE, strings.TrimPrefix(kx, "DHE_")
	case "ECDHE_RSA", "ECDHE_ECDSA":
		s.Kx, s.Auth = KxECDHE, strings.TrimPrefix(kx, "ECDHE_")
	case "ECDH_RSA", "ECDH_ECDSA":
		s.Kx, s.Auth = KxECDH, strings.TrimPrefix(kx, "ECDH_")
	case "DH_anon":
		s.Kx = KxAnonDH
	case "ECDH_anon":
		s.Kx = KxAnonECDH
	default:
		return s, fmt.Errorf("%s: unknown key exchange %q", name, kx)
	}
	mac := ""
	for _, m := range []string{"_MD5", "_SHA", "_SHA256", "_SHA384"} {
		if strings.HasSuffix(rest, m) {
			mac = m
		}
	}
	cipher := strings.TrimSuffix(rest, mac)
	switch {
	case cipher == "NULL":
		s.Cipher = CipherNULL
	case strings.HasPrefix(cipher, "RC4_"):
		s.Cipher = CipherRC4
	case strings.HasPrefix(cipher, "RC2_"):
		s.Cipher = CipherRC2
	case cipher == "DES40_CBC":
		s.Cipher = CipherDES40
	case cipher == "DES_CBC":
		s.Cipher = CipherDES
	case cipher == "3DES_EDE_CBC":
		s.Cipher = Cipher3DES
	case cipher == "IDEA_CBC":
		s.Cipher = CipherIDEA
	case cipher == "SEED_CBC":
		s.Cipher = CipherSEED
	case strings.HasSuffix(cipher, "_GCM"), strings.HasSuffix(cipher, "_CCM"), cipher == "CHACHA20_POLY1305":
		s.Cipher = CipherAEAD
	case strings.HasPrefix(cipher, "AES_") && strings.HasSuffix(cipher, "_CBC"):
		s.Cipher = CipherAESCBC
	case strings.HasPrefix(cipher, "CAMELLIA_") && strings.HasSuffix(cipher, "_CBC"):
		s.Cipher = CipherCamellia
	default:
		return s, fmt.Errorf("%s: unknown cipher %q", name, cipher)
	}
	if mac == "" && s.Cipher != CipherAEAD {
		return s, fmt.Errorf("%s: no MAC", name)
	}
	s.TLS12 = s.Cipher == CipherAEAD || mac == "_SHA256" || mac == "_SHA384"
	return s, nil
}
