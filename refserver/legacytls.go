package refserver

import (
	"bufio"
	"crypto"
	"crypto/ecdh"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"io"
	"math/big"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/mailcheck-cli/mailcheck/probe/tlswire"
)

// Some TLS configurations a scenario needs cannot be served by crypto/tls:
// it has no DHE, NULL, EXPORT, DES or anonymous suites at all. For those,
// a port gets a small responder in front of crypto/tls that reads each
// ClientHello and either passes it on (crypto/tls would accept it) or
// answers it itself with the server's first flight — ServerHello,
// Certificate, a properly signed ServerKeyExchange, ServerHelloDone — and
// then ends the connection with a handshake_failure alert when the client
// sends its key exchange. It negotiates and never completes: enough for
// mailcheck's scan, testssl.sh (whose protocol and cipher checks read the
// ServerHello) and openssl s_client to see what the server accepts. The
// handshake itself is what integration tests against Postfix exercise.

// legacyTLS is one port's responder configuration.
type legacyTLS struct {
	minVersion, maxVersion uint16
	suites                 []uint16 // the server's preference order
	// exclusive: the port speaks no other TLS; hellos the responder cannot
	// serve get a handshake_failure alert instead of crypto/tls.
	exclusive bool
	cert      *tls.Certificate // RSA: DHE_RSA and RSA key exchange need one
	// goCfg is the port's crypto/tls configuration and goCertECDSA its
	// certificate's key type, to tell which hellos crypto/tls takes.
	goCfg       *tls.Config
	goCertECDSA bool
}

// legacyTLSFor returns the responder of port, or nil when no fault needs one.
func (s *Server) legacyTLSFor(port int) *legacyTLS {
	var lt legacyTLS
	switch {
	case s.fault(FaultTLSLegacyDHE, port):
		// TLS 1.0 and 1.1 accepted with DHE only, as an OpenSSL server
		// configured with DHE CBC suites next to ECDHE GCM ones serves
		// them: TLS 1.2 and 1.3 stay crypto/tls's.
		lt = legacyTLS{minVersion: tls.VersionTLS10, maxVersion: tls.VersionTLS11,
			suites: []uint16{0x0039, 0x0033}} // TLS_DHE_RSA_WITH_AES_{256,128}_CBC_SHA
	case s.fault(FaultTLSDHEOnly, port):
		lt = legacyTLS{minVersion: tls.VersionTLS12, maxVersion: tls.VersionTLS12, exclusive: true,
			suites: []uint16{0x009F, 0x009E, 0xCCAA, 0x006B, 0x0067, 0x0039, 0x0033}}
	case s.fault(FaultTLSWeakCipher, port):
		lt = legacyTLS{minVersion: tls.VersionTLS12, maxVersion: tls.VersionTLS12,
			suites: []uint16{
				0x0005, // TLS_RSA_WITH_RC4_128_SHA
				0x000A, // TLS_RSA_WITH_3DES_EDE_CBC_SHA
				0x0009, // TLS_RSA_WITH_DES_CBC_SHA
				0x0003, // TLS_RSA_EXPORT_WITH_RC4_40_MD5
				0x0002, // TLS_RSA_WITH_NULL_SHA
				0x0034, // TLS_DH_anon_WITH_AES_128_CBC_SHA
			}}
	case s.fault(FaultTLSAnon, port):
		lt = legacyTLS{minVersion: tls.VersionTLS12, maxVersion: tls.VersionTLS12,
			suites: []uint16{0x00A6, 0x0034, 0xC018}} // DH_anon AES-GCM and AES-CBC, ECDH_anon AES-CBC
	default:
		return nil
	}
	cert, err := s.certs.leaf(s.certDefect(port), true)
	if err != nil {
		s.logf("%s: certificate: %v", serviceName(port), err)
		return nil
	}
	lt.cert = cert
	lt.goCfg = s.tlsConfig(port)
	if len(lt.goCfg.Certificates) > 0 && lt.goCfg.Certificates[0].Leaf != nil {
		_, isRSA := lt.goCfg.Certificates[0].Leaf.PublicKey.(*rsa.PublicKey)
		lt.goCertECDSA = !isRSA
	}
	return &lt
}

// goAccepts reports whether crypto/tls, as the port configures it, would
// accept this hello: a TLS 1.3 offer, or a version in range and a suite
// in common. It follows crypto/tls's own selection (its default suites
// for a certificate of this key type) closely enough for the scenarios.
func (lt *legacyTLS) goAccepts(ch *tlswire.ClientHello) bool {
	maxV := lt.goCfg.MaxVersion
	if maxV == 0 {
		maxV = tls.VersionTLS13
	}
	if maxV >= tls.VersionTLS13 && slices.Contains(ch.SupportedVersions, tls.VersionTLS13) {
		return true
	}
	v := min(ch.Version, tls.VersionTLS12)
	if v < lt.goCfg.MinVersion || v > maxV {
		return false
	}
	suites := lt.goCfg.CipherSuites
	if len(suites) == 0 {
		for _, cs := range tls.CipherSuites() {
			suites = append(suites, cs.ID)
		}
	}
	for _, id := range suites {
		s, ok := tlswire.SuiteByID(id)
		if !ok || !slices.Contains(ch.Suites, id) || (s.TLS12 && v < tls.VersionTLS12) {
			continue
		}
		if (s.Auth == "ECDSA") == lt.goCertECDSA {
			return true
		}
	}
	return false
}

// choose picks the version and suite the responder answers ch with; ok is
// false when it has nothing in common with the client.
func (lt *legacyTLS) choose(ch *tlswire.ClientHello) (v, suite uint16, ok bool) {
	v = min(ch.Version, lt.maxVersion)
	if v < lt.minVersion {
		return 0, 0, false
	}
	for _, id := range lt.suites {
		s, _ := tlswire.SuiteByID(id)
		if slices.Contains(ch.Suites, id) && (!s.TLS12 || v >= tls.VersionTLS12) {
			return v, id, true
		}
	}
	return 0, 0, false
}

// helloRouter sits under crypto/tls on a port with a responder: it looks
// at the first TLS record the client sends (after STARTTLS, or at once on
// an implicit-TLS port) and either lets crypto/tls read it or answers it.
type helloRouter struct {
	net.Conn
	lt   *legacyTLS
	s    *Server
	port int
	br   *bufio.Reader

	mu      sync.Mutex
	decided bool
}

func (s *Server) routeHellos(c net.Conn, port int, lt *legacyTLS) net.Conn {
	return &helloRouter{Conn: c, lt: lt, s: s, port: port, br: bufio.NewReaderSize(c, 5+1<<14)}
}

func (c *helloRouter) Read(b []byte) (int, error) {
	c.mu.Lock()
	decided := c.decided
	c.mu.Unlock()
	if !decided {
		first, err := c.br.Peek(1)
		if err != nil {
			return 0, err
		}
		if first[0] == tlswire.RecordHandshake {
			c.mu.Lock()
			c.decided = true
			c.mu.Unlock()
			if c.answer() {
				return 0, io.EOF
			}
		}
	}
	return c.br.Read(b)
}

// answer reads the ClientHello (left in the buffer for crypto/tls) and
// serves it when crypto/tls would not; it reports whether it did.
func (c *helloRouter) answer() bool {
	hdr, err := c.br.Peek(5)
	if err != nil {
		return false
	}
	n := int(hdr[3])<<8 | int(hdr[4])
	rec, err := c.br.Peek(5 + n)
	if err != nil || len(rec) < 9 || rec[5] != tlswire.TypeClientHello {
		return false
	}
	body := rec[9:]
	if want := int(rec[6])<<16 | int(rec[7])<<8 | int(rec[8]); want != len(body) {
		return false // a hello spread over records: leave it to crypto/tls
	}
	ch, err := tlswire.ParseClientHello(body)
	if err != nil {
		return false
	}
	if !c.lt.exclusive && c.lt.goAccepts(ch) {
		return false
	}
	v, suite, ok := c.lt.choose(ch)
	if !ok && !c.lt.exclusive {
		return false // crypto/tls refuses it as it always does
	}
	_ = c.Conn.SetDeadline(time.Now().Add(10 * time.Second))
	if !ok {
		alert := tlswire.AlertHandshakeFailure
		if min(ch.Version, tls.VersionTLS12) < c.lt.minVersion {
			alert = tlswire.AlertProtocolVersion
		}
		c.Conn.Write(tlswire.MarshalAlert(max(min(ch.Version, tls.VersionTLS12), tls.VersionTLS10), alert))
		return true
	}
	flight, err := c.lt.firstFlight(ch, v, suite)
	if err != nil {
		c.s.logf("%s: legacy TLS responder: %v", serviceName(c.port), err)
		return true
	}
	c.s.logf("%s: legacy TLS responder: %s %s", serviceName(c.port), tlswire.VersionName(v), tlswire.SuiteName(suite))
	if _, err := c.Conn.Write(tlswire.Record(tlswire.RecordHandshake, v, flight)); err != nil {
		return true
	}
	// The client's key exchange (or its own alert): the responder cannot
	// go on, and says so.
	_, _ = c.br.Discard(5 + n)
	buf := make([]byte, 4096)
	_ = c.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.br.Read(buf); err == nil {
		c.Conn.Write(tlswire.MarshalAlert(v, tlswire.AlertHandshakeFailure))
	}
	return true
}

// ffdhe2048 is the 2048-bit group of RFC 7919 Appendix A.1, generator 2.
var ffdhe2048, _ = new(big.Int).SetString(
	"FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1D8B9C583CE2D3695A9E13641146433FBCC939DCE249B3EF97D2FE363630C75D8F6"+
		"81B202AEC4617AD3DF1ED5D5FD65612433F51F5F066ED0856365553DED1AF3B557135E7F57C935984F0C70E0E68B77E2A689DAF3EFE8721DF1"+
		"58A136ADE73530ACCA4F483A797ABC0AB182B324FB61D108A94BB2C8E3FBB96ADAB760D7F4681D4F42A3DE394DF4AE56EDE76372BB190B07A7"+
		"C8EE0A6D709E02FCE1CDF7E2ECC03404CD28342F619172FE9CE98583FF8E4F1232EEF28183C3FE3B1B4C6FAD733BB5FCBC2EC22005C58EF1837"+
		"D1683B2C6F34A26C1B2EFFA886B423861285C97FFFFFFFFFFFFFFFF", 16)

// firstFlight builds ServerHello, Certificate, ServerKeyExchange and
// ServerHelloDone for the version and suite chosen (RFC 5246 §7.3).
func (lt *legacyTLS) firstFlight(ch *tlswire.ClientHello, v, suiteID uint16) ([]byte, error) {
	suite, _ := tlswire.SuiteByID(suiteID)
	sh := &tlswire.ServerHello{Version: v, Suite: suiteID, SecureRenegotiation: true, SessionID: make([]byte, 32)}
	if _, err := rand.Read(sh.Random[:]); err != nil {
		return nil, err
	}
	_, _ = rand.Read(sh.SessionID)
	flight := sh.Marshal()
	if !suite.Anonymous() {
		flight = append(flight, tlswire.MarshalCertificate(lt.cert.Certificate)...)
	}
	var params []byte
	switch suite.Kx {
	case tlswire.KxDHE, tlswire.KxAnonDH:
		x, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 256))
		if err != nil {
			return nil, err
		}
		y := new(big.Int).Exp(big.NewInt(2), x, ffdhe2048)
		params = appendVec16(params, ffdhe2048.Bytes())
		params = appendVec16(params, []byte{2})
		params = appendVec16(params, y.Bytes())
	case tlswire.KxECDHE, tlswire.KxAnonECDH:
		key, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		pub := key.PublicKey().Bytes()
		params = append(params, 3) // named_curve, RFC 8422 §5.4
		params = binary.BigEndian.AppendUint16(params, tlswire.GroupX25519)
		params = append(params, byte(len(pub)))
		params = append(params, pub...)
	}
	if params != nil {
		ske := params
		if !suite.Anonymous() {
			sig, err := lt.sign(ch.Random[:], sh.Random[:], params, v)
			if err != nil {
				return nil, err
			}
			ske = append(ske, sig...)
		}
		flight = append(flight, tlswire.Handshake(tlswire.TypeServerKeyExchange, ske)...)
	}
	return append(flight, tlswire.Handshake(tlswire.TypeServerHelloDone, nil)...), nil
}

// sign signs the key exchange parameters with the RSA key: RSA over
// MD5+SHA-1 up to TLS 1.1 (RFC 4346 §7.4.3), rsa_pkcs1_sha256 in TLS 1.2
// (RFC 5246 §7.4.1.4.1).
func (lt *legacyTLS) sign(clientRandom, serverRandom, params []byte, v uint16) ([]byte, error) {
	key, ok := lt.cert.PrivateKey.(*rsa.PrivateKey)
	if !ok {
		return nil, errUnsupportedKey
	}
	msg := append(append(append([]byte(nil), clientRandom...), serverRandom...), params...)
	var out []byte
	var sig []byte
	var err error
	if v >= tls.VersionTLS12 {
		sum := sha256.Sum256(msg)
		sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
		out = binary.BigEndian.AppendUint16(out, 0x0401)
	} else {
		m, s := md5.Sum(msg), sha1.Sum(msg)
		sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.MD5SHA1, append(m[:], s[:]...))
	}
	if err != nil {
		return nil, err
	}
	return appendVec16(out, sig), nil
}

type legacyError string

func (e legacyError) Error() string { return string(e) }

const errUnsupportedKey = legacyError("the responder needs an RSA certificate")

func appendVec16(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}
