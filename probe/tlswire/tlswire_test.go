package tlswire

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/mailcheck-cli/mailcheck/pki"
)

// Every suite Go also knows has Go's name for the same code point: the
// table's IDs are checked against an independent source.
func TestSuiteTableMatchesCryptoTLS(t *testing.T) {
	known := 0
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		s, ok := SuiteByID(cs.ID)
		if !ok {
			continue
		}
		known++
		if s.Name != cs.Name {
			t.Errorf("0x%04X: table says %s, crypto/tls says %s", cs.ID, s.Name, cs.Name)
		}
	}
	if known < 20 {
		t.Errorf("only %d of the table's suites are known to crypto/tls", known)
	}
	seen := map[uint16]bool{}
	for _, s := range Suites() {
		if seen[s.ID] {
			t.Errorf("0x%04X listed twice", s.ID)
		}
		seen[s.ID] = true
	}
}

func TestSuiteProperties(t *testing.T) {
	tests := []struct {
		id                       uint16
		kx                       KeyExchange
		cipher                   Cipher
		export, tls12, fs, anonX bool
	}{
		{0x0003, KxRSA, CipherRC4, true, false, false, false},
		{0x0033, KxDHE, CipherAESCBC, false, false, true, false},
		{0x009E, KxDHE, CipherAEAD, false, true, true, false},
		{0xC02F, KxECDHE, CipherAEAD, false, true, true, false},
		{0x001B, KxAnonDH, Cipher3DES, false, false, false, true},
		{0xC015, KxAnonECDH, CipherNULL, false, false, false, true},
		{0x003B, KxRSA, CipherNULL, false, true, false, false},
		{0xCCAA, KxDHE, CipherAEAD, false, true, true, false},
		{0xC00E, KxECDH, CipherAESCBC, false, false, false, false},
	}
	for _, tt := range tests {
		s, ok := SuiteByID(tt.id)
		if !ok {
			t.Fatalf("0x%04X missing", tt.id)
		}
		if s.Kx != tt.kx || s.Cipher != tt.cipher || s.Export != tt.export || s.TLS12 != tt.tls12 ||
			s.ForwardSecret() != tt.fs || s.Anonymous() != tt.anonX {
			t.Errorf("%s: %+v", s.Name, s)
		}
	}
}

func TestClientHelloRoundTrip(t *testing.T) {
	h := &ClientHello{Version: VersionTLS12, Suites: []uint16{0xC02F, 0x0033, 0x000A}, ServerName: "mail.example.test",
		Groups: []uint16{GroupX25519, GroupP256}, StatusRequest: true, SessionID: []byte{1, 2, 3}}
	h.Random[0] = 7
	msg := h.Marshal()
	if msg[0] != TypeClientHello {
		t.Fatalf("type %d", msg[0])
	}
	if len(msg) >= 256 && len(msg) < 512 {
		t.Errorf("hello of %d bytes: RFC 7685 padding missing", len(msg))
	}
	got, err := ParseClientHello(msg[4:])
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != h.Version || got.Random != h.Random || !slices.Equal(got.Suites, h.Suites) || got.ServerName != h.ServerName ||
		!slices.Equal(got.Groups, h.Groups) || !got.StatusRequest || !bytes.Equal(got.SessionID, h.SessionID) {
		t.Errorf("round trip: %+v", got)
	}
	ssl3 := (&ClientHello{Version: VersionSSL30, Suites: []uint16{0x0005}, NoExtensions: true}).Marshal()
	got, err = ParseClientHello(ssl3[4:])
	if err != nil || !got.NoExtensions || got.Version != VersionSSL30 {
		t.Errorf("SSL 3.0 hello: %+v %v", got, err)
	}
}

// The hello this package writes is one a real TLS stack accepts: a
// crypto/tls server answers it with a ServerHello for a suite offered,
// and the Reader takes its whole first flight apart.
func TestHelloAgainstCryptoTLS(t *testing.T) {
	root, err := pki.NewRoot("tlswire test CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := root.Issue(pki.LeafOptions{Names: []string{"mail.example.test"}, RSABits: 2048})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		version uint16
		suites  []uint16
		want    uint16
		refused bool
	}{
		{VersionTLS12, allIDs(), 0xC02F, false},
		{VersionTLS10, allIDs(), 0xC013, false},
		{VersionTLS12, []uint16{0x0033, 0x0039}, 0, true}, // DHE only: crypto/tls has none
	} {
		client, server := net.Pipe()
		go func() {
			defer server.Close()
			_ = server.SetDeadline(time.Now().Add(5 * time.Second))
			_ = tls.Server(server, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS10,
				CipherSuites: []uint16{0xC02F, 0xC013}}).Handshake()
		}()
		_ = client.SetDeadline(time.Now().Add(5 * time.Second))
		h := &ClientHello{Version: tt.version, Suites: tt.suites, ServerName: "mail.example.test",
			Groups: []uint16{GroupX25519, GroupP256}, StatusRequest: true}
		go func() { _, _ = client.Write(Record(RecordHandshake, VersionTLS10, h.Marshal())) }()
		r := &Reader{R: client}
		m, err := r.Next()
		if err != nil {
			t.Fatalf("%s: %v", VersionName(tt.version), err)
		}
		if tt.refused {
			if m.Alert == nil || m.Alert.Description != AlertHandshakeFailure {
				t.Errorf("DHE-only hello: %+v, want a handshake_failure alert", m)
			}
			client.Close()
			continue
		}
		sh, err := ParseServerHello(m.Body)
		if m.Type != TypeServerHello || err != nil {
			t.Fatalf("first message type %d: %v", m.Type, err)
		}
		if sh.Version != tt.version || sh.Suite != tt.want || !sh.SecureRenegotiation {
			t.Errorf("%s: server chose %s %s (renegotiation_info %v)", VersionName(tt.version), VersionName(sh.Version), SuiteName(sh.Suite), sh.SecureRenegotiation)
		}
		m, err = r.Next()
		if err != nil || m.Type != TypeCertificate {
			t.Fatalf("second message %d: %v", m.Type, err)
		}
		certs, err := ParseCertificate(m.Body)
		if err != nil || len(certs) != 1 || !bytes.Equal(certs[0], cert.Certificate[0]) {
			t.Errorf("certificate: %d certs, %v", len(certs), err)
		}
		m, err = r.Next()
		if err != nil || m.Type != TypeServerKeyExchange {
			t.Fatalf("third message %d: %v", m.Type, err)
		}
		kx, err := ParseServerKeyExchange(m.Body, KxECDHE)
		if err != nil || kx.Group != GroupX25519 {
			t.Errorf("key exchange %+v %v", kx, err)
		}
		client.Close()
	}
}

func allIDs() []uint16 {
	var out []uint16
	for _, s := range Suites() {
		out = append(out, s.ID)
	}
	return out
}

func TestReaderReassemblesAndBounds(t *testing.T) {
	sh := (&ServerHello{Version: VersionTLS12, Suite: 0x0033, SecureRenegotiation: true}).Marshal()
	certs := MarshalCertificate([][]byte{bytes.Repeat([]byte{0x30}, 20000)})
	stream := append(Record(RecordHandshake, VersionTLS12, append(sh, certs[:10]...)), Record(RecordHandshake, VersionTLS12, certs[10:])...)
	r := &Reader{R: bytes.NewReader(stream)}
	m, err := r.Next()
	if err != nil || m.Type != TypeServerHello {
		t.Fatalf("%d %v", m.Type, err)
	}
	m, err = r.Next()
	if err != nil || m.Type != TypeCertificate {
		t.Fatalf("%d %v", m.Type, err)
	}
	if c, err := ParseCertificate(m.Body); err != nil || len(c[0]) != 20000 {
		t.Errorf("certificate across records: %v", err)
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("end: %v", err)
	}
	r = &Reader{R: bytes.NewReader(stream), Limit: 4096}
	_, _ = r.Next()
	if _, err := r.Next(); !errors.Is(err, ErrTooLarge) {
		t.Errorf("bound: %v", err)
	}

	var nt *NotTLSError
	_, err = (&Reader{R: bytes.NewReader([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))}).Next()
	if !errors.As(err, &nt) || !bytes.HasPrefix(nt.First, []byte("HTTP/1.1 400")) {
		t.Errorf("HTTP reply: %v", err)
	}
	m, err = (&Reader{R: bytes.NewReader(MarshalAlert(VersionTLS10, AlertProtocolVersion))}).Next()
	if err != nil || m.Alert == nil || m.Alert.Description != AlertProtocolVersion || !m.Alert.Fatal() {
		t.Errorf("alert: %+v %v", m, err)
	}
}

func TestServerKeyExchangeDHBits(t *testing.T) {
	p := append([]byte{0x00}, bytes.Repeat([]byte{0xff}, 128)...) // a leading zero, then 1024 bits
	body := append([]byte{byte(len(p) >> 8), byte(len(p))}, p...)
	body = append(body, 0, 1, 2) // g
	kx, err := ParseServerKeyExchange(body, KxDHE)
	if err != nil || kx.DHBits != 1024 {
		t.Errorf("%+v %v", kx, err)
	}
}

func FuzzReader(f *testing.F) {
	f.Add(Record(RecordHandshake, VersionTLS12, (&ServerHello{Version: VersionTLS12, Suite: 0xC02F}).Marshal()))
	f.Add(MarshalAlert(VersionTLS10, AlertHandshakeFailure))
	f.Add([]byte("220 mail.example.test ESMTP\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &Reader{R: bytes.NewReader(data), Limit: 1 << 16}
		for range 10 {
			m, err := r.Next()
			if err != nil {
				return
			}
			switch m.Type {
			case TypeServerHello:
				_, _ = ParseServerHello(m.Body)
			case TypeClientHello:
				_, _ = ParseClientHello(m.Body)
			case TypeCertificate:
				_, _ = ParseCertificate(m.Body)
			case TypeServerKeyExchange:
				_, _ = ParseServerKeyExchange(m.Body, KxDHE)
				_, _ = ParseServerKeyExchange(m.Body, KxECDHE)
			case TypeCertificateStatus:
				_, _ = ParseCertificateStatus(m.Body)
			}
		}
	})
}
