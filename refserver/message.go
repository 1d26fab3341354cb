package refserver

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"path"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/mailcheck-cli/mailcheck/fixtures"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// Message faults: what goes wrong with the message the server sends in a
// scenario with a message case (see SampleMessage). They apply to no port.
const (
	FaultMsgBodyAltered   = "msg-body-altered"   // the body is changed after signing (a gateway's disclaimer)
	FaultMsgKeyMissing    = "msg-key-missing"    // the signing keys are not published
	FaultMsgKeyMismatch   = "msg-key-mismatch"   // other keys than the signing ones are published
	FaultMsgFromUnaligned = "msg-from-unaligned" // From is in a subdomain; the zone's strict alignment refuses it
	FaultMsgSPFFail       = "msg-spf-fail"       // the client address is not in the domain's SPF record
	FaultMsgUnsigned      = "msg-unsigned"       // no DKIM signature at all
)

// messageFaults are the message faults, which take no ports.
var messageFaults = []string{
	FaultMsgBodyAltered, FaultMsgKeyMissing, FaultMsgKeyMismatch,
	FaultMsgFromUnaligned, FaultMsgSPFFail, FaultMsgUnsigned,
}

// The selectors the server signs with, published in its DNS.
const (
	SelectorRSA     = "mailcheck-rsa"
	SelectorEd25519 = "mailcheck-ed25519"
)

// spfFailClient is the client address of the msg-spf-fail fault: TEST-NET-1
// (RFC 5737), in no scenario's SPF record.
const spfFailClient = "192.0.2.66"

// HasMessageCase reports whether a scenario has a message case: it expects
// msg.* findings or switches a message fault on. The server then signs and
// publishes keys, and SampleMessage returns its message.
func HasMessageCase(sc *fixtures.Scenario) bool {
	for _, e := range sc.Expect {
		if strings.HasPrefix(e.ID, "msg.") {
			return true
		}
	}
	for _, f := range sc.Faults {
		if strings.HasPrefix(f.Name, "msg-") {
			return true
		}
	}
	return false
}

// dkimKeys are the server's DKIM signing keys, made at start: no key is
// stored anywhere.
type dkimKeys struct {
	rsa *rsa.PrivateKey
	ed  ed25519.PrivateKey
	// published are the keys in DNS: the signing keys, or others for the
	// msg-key-mismatch fault, or none for msg-key-missing.
	published []crypto.Signer
}

func newDKIMKeys(sc *fixtures.Scenario) (*dkimKeys, error) {
	k := &dkimKeys{}
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		return nil, err
	}
	switch {
	case sc.HasFault(FaultMsgKeyMissing, 0):
	case sc.HasFault(FaultMsgKeyMismatch, 0):
		// Keys of the same types, so that the verifier finds a usable key
		// that does not match: a rotated or mistyped key.
		other, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		_, otherEd, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		k.published = []crypto.Signer{other, otherEd}
	default:
		k.published = []crypto.Signer{k.rsa, k.ed}
	}
	return k, nil
}

// keyRecords are the zone lines publishing the keys at the selectors.
func (k *dkimKeys) keyRecords(domain string) (string, error) {
	var b strings.Builder
	for _, key := range k.published {
		sel, txt := SelectorEd25519, ""
		switch pub := key.Public().(type) {
		case *rsa.PublicKey:
			der, err := x509.MarshalPKIXPublicKey(pub)
			if err != nil {
				return "", err
			}
			sel, txt = SelectorRSA, "v=DKIM1; k=rsa; p="+base64.StdEncoding.EncodeToString(der)
		case ed25519.PublicKey:
			txt = "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
		}
		// TXT character-strings hold at most 255 octets (RFC 1035 §3.3).
		var parts []string
		for len(txt) > 250 {
			parts = append(parts, `"`+txt[:250]+`"`)
			txt = txt[250:]
		}
		parts = append(parts, `"`+txt+`"`)
		fmt.Fprintf(&b, "%s._domainkey.%s. 3600 IN TXT %s\n", sel, domain, strings.Join(parts, " "))
	}
	return b.String(), nil
}

// servedZone is the scenario's zones as served: its zone files, with the
// TLSA placeholders filled in (tlsa.go), or, in a message case, with the
// DKIM keys added to the domain's own zone.
func (s *Server) servedZone() (*resolver.Zone, error) {
	if s.keys == nil {
		return s.scenarioZone()
	}
	var srcs []resolver.ZoneSource
	for _, f := range s.sc.Zones {
		file := path.Join("fixtures", s.sc.Name, f)
		data, err := s.sc.File(f)
		if err != nil {
			return nil, &resolver.ZoneError{File: file, Reason: err.Error()}
		}
		if bytes.Contains(bytes.ToUpper(data), []byte("TLSA")) {
			// One generated thing per scenario keeps each fixture simple.
			return nil, &resolver.ZoneError{File: file, Reason: "a scenario with a message case cannot hold TLSA placeholders"}
		}
		origin := fixtures.Origin(f)
		if strings.EqualFold(strings.TrimSuffix(origin, "."), s.domain) {
			recs, err := s.keys.keyRecords(s.domain)
			if err != nil {
				return nil, err
			}
			data = append(append(bytes.Clone(data), '\n'), recs...)
		}
		srcs = append(srcs, resolver.ZoneSource{File: file, Origin: origin, Data: data})
	}
	return resolver.NewZone(srcs...)
}

// Zone is what the server's DNS answers from: the scenario's zone files
// and, in a message case, the DKIM keys it published. Tests and selftest
// resolve through it to see what a client of the server sees.
func (s *Server) Zone() *resolver.Zone { return s.zone }

// SignedMessage is the scenario's message as the server sends it: written
// by postmaster@<domain> (news@news.<domain> under msg-from-unaligned),
// DKIM-signed twice, RSA and Ed25519 (RFC 8463 §1 recommends both while
// receivers learn Ed25519). ok is false when the scenario has no message
// case.
func (s *Server) SignedMessage() (data []byte, ok bool, err error) {
	if s.keys == nil {
		return nil, false, nil
	}
	from := "postmaster@" + s.domain
	if s.sc.HasFault(FaultMsgFromUnaligned, 0) {
		from = "news@news." + s.domain
	}
	to := "postmaster@" + s.domain
	if user, _, ok := s.sc.Account(); ok {
		to = user
	}
	now := time.Now().UTC()
	m := []byte(strings.ReplaceAll(fmt.Sprintf(`From: mailcheck reference server <%s>
To: <%s>
Subject: mailcheck reference message (scenario %s)
Date: %s
Message-ID: <ref.%d@%s>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

This message was written and DKIM-signed by the mailcheck reference server
for the scenario %s.

Analyse it with: mailcheck message FILE
`, from, to, s.sc.Name, now.Format(time.RFC1123Z), now.UnixNano(), s.domain, s.sc.Name), "\n", "\r\n"))
	if s.sc.HasFault(FaultMsgUnsigned, 0) {
		return m, true, nil
	}
	signed, err := s.sign(m, SelectorEd25519, s.keys.ed, dkim.CanonicalizationRelaxed, dkim.CanonicalizationSimple)
	if err != nil {
		return nil, false, err
	}
	signed, err = s.sign(signed, SelectorRSA, s.keys.rsa, dkim.CanonicalizationRelaxed, dkim.CanonicalizationRelaxed)
	if err != nil {
		return nil, false, err
	}
	return signed, true, nil
}

// sign prepends a DKIM-Signature made with go-msgauth's signer.
func (s *Server) sign(m []byte, selector string, key crypto.Signer, header, body dkim.Canonicalization) ([]byte, error) {
	var out bytes.Buffer
	err := dkim.Sign(&out, bytes.NewReader(m), &dkim.SignOptions{
		Domain: s.domain, Selector: selector, Signer: key,
		HeaderCanonicalization: header, BodyCanonicalization: body,
		HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"},
	})
	return out.Bytes(), err
}

// SampleMessage is the scenario's message as the server's MX delivered it:
// SignedMessage with the trace a receiver adds (Return-Path, Received from
// the client, and the Authentication-Results it recorded on arrival), and
// the scenario's message faults applied.
func (s *Server) SampleMessage() (data []byte, ok bool, err error) {
	m, ok, err := s.SignedMessage()
	if !ok || err != nil {
		return nil, ok, err
	}
	client := "127.0.0.1"
	spf := "pass"
	if s.sc.HasFault(FaultMsgSPFFail, 0) {
		client, spf = spfFailClient, "fail"
	}
	dkimRes := "pass"
	switch {
	case s.sc.HasFault(FaultMsgUnsigned, 0):
		dkimRes = "none"
	case s.sc.HasFault(FaultMsgKeyMissing, 0):
		dkimRes = "permerror"
	case s.sc.HasFault(FaultMsgKeyMismatch, 0):
		dkimRes = "fail"
	}
	dmarcRes := "pass"
	if s.sc.HasFault(FaultMsgFromUnaligned, 0) || (dkimRes != "pass" && spf != "pass") {
		dmarcRes = "fail"
	}
	from := "postmaster@" + s.domain
	// One dkim result per signature, told apart by header.s as receivers
	// do (RFC 8601 §2.7.1).
	dkimResults := "dkim=none"
	if dkimRes != "none" {
		dkimResults = fmt.Sprintf("dkim=%[1]s header.d=%[2]s header.s=%[3]s;\r\n\tdkim=%[1]s header.d=%[2]s header.s=%[4]s",
			dkimRes, s.domain, SelectorRSA, SelectorEd25519)
	}
	ar := fmt.Sprintf("Authentication-Results: %s;\r\n\t%s;\r\n\tspf=%s smtp.mailfrom=%s;\r\n\tdmarc=%s header.from=%s",
		s.MailHost(), dkimResults, spf, from, dmarcRes, domainOfAddress(headerFrom(m)))
	trace := s.trace(from, "client.example.net", client, "ESMTPS", "TLSv1.3", "TLS_AES_128_GCM_SHA256", time.Now())
	out := append([]byte(trace+ar+"\r\n"), m...)
	if s.sc.HasFault(FaultMsgBodyAltered, 0) {
		// A security gateway after the MX appends its disclaimer: the
		// receiver verified the signatures before (its
		// Authentication-Results say pass), the body no longer matches.
		out = append(out, []byte("\r\n-- \r\nThis message was scanned by the gateway of "+s.domain+".\r\n")...)
	}
	return out, true, nil
}

// trace is what the server prepends to an accepted message as its final
// receiver: Return-Path (RFC 5321 §4.4, added at delivery) and a Received
// field naming the client, the protocol (RFC 3848) and TLS, in Postfix's
// wording.
func (s *Server) trace(mailFrom, helo, clientIP, protocol, tlsVersion, cipher string, when time.Time) string {
	using := ""
	if tlsVersion != "" {
		using = "\r\n\t(using " + tlsVersion + " with cipher " + cipher + ")"
	}
	return fmt.Sprintf("Return-Path: <%s>\r\nReceived: from %s (%s [%s])%s\r\n\tby %s (mailcheck reference server) with %s id %x;\r\n\t%s\r\n",
		mailFrom, helo, helo, clientIP, using, s.MailHost(), protocol, when.UnixNano(), when.Format(time.RFC1123Z))
}

// traceOf is the trace for a message accepted over SMTP.
func (s *Server) traceOf(mailFrom, helo string, remote net.Addr, state *tls.ConnectionState, authenticated bool, when time.Time) string {
	ip := "127.0.0.1"
	if a, ok := remote.(*net.TCPAddr); ok {
		ip = a.IP.String()
	}
	if helo == "" {
		helo = "unknown"
	}
	protocol, version, cipher := "ESMTP", "", ""
	if state != nil {
		protocol, version, cipher = "ESMTPS", tlsVersionName(state.Version), tls.CipherSuiteName(state.CipherSuite)
	}
	if authenticated {
		protocol += "A"
	}
	return s.trace(mailFrom, helo, ip, protocol, version, cipher, when)
}

func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1.0"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return "TLS"
}

// headerFrom returns the From field's value of m.
func headerFrom(m []byte) string {
	head, _, _ := bytes.Cut(m, []byte("\r\n\r\n"))
	for _, line := range strings.Split(string(head), "\r\n") {
		if name, value, ok := strings.Cut(line, ":"); ok && strings.EqualFold(name, "From") {
			return strings.TrimSpace(value)
		}
	}
	return ""
}

func domainOfAddress(a string) string {
	a = strings.TrimRight(a, "> ")
	if i := strings.LastIndexByte(a, '@'); i >= 0 {
		return strings.ToLower(a[i+1:])
	}
	return ""
}
