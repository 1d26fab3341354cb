package refserver

import (
	"fmt"
	"slices"

	"github.com/mailcheck-cli/mailcheck/fixtures"
)

// Fault names, as a scenario's `faults:` lists them. Each is on for the
// standard ports the scenario gives (every port it applies to when none).
const (
	// Certificates (every TLS port).
	FaultCertExpired             = "cert-expired"              // NotAfter in the past
	FaultCertExpiring            = "cert-expiring"             // NotAfter in ~10 days
	FaultCertSelfSigned          = "cert-self-signed"          // the leaf signs itself
	FaultCertUnknownCA           = "cert-unknown-ca"           // issued by a root nobody is given
	FaultCertWrongName           = "cert-wrong-name"           // names another host
	FaultCertMissingIntermediate = "cert-missing-intermediate" // leaf served without its intermediate
	FaultCertWeakKey             = "cert-weak-key"             // 1024-bit RSA
	FaultCertBadSignature        = "cert-bad-signature"        // the leaf's signature does not verify
	FaultCertRevoked             = "cert-revoked"              // the stapled OCSP response says revoked
	// TLS and the plaintext/TLS split.
	FaultTLSLegacy        = "tls-legacy"         // TLS 1.0 and 1.1 accepted
	FaultNoSTARTTLS       = "no-starttls"        // STARTTLS/STLS not offered
	FaultTLSOnPlainPort   = "tls-on-plain-port"  // TLS at connect on 25/587/143/110
	FaultPlainOnTLSPort   = "plain-on-tls-port"  // plaintext on 465/993/995
	FaultCloseMidSTARTTLS = "close-mid-starttls" // positive STARTTLS reply, then close
	// Garbage after STARTTLS: the positive reply, then plaintext instead
	// of a TLS handshake, then close (STARTTLS ports only).
	FaultGarbageAfterSTARTTLS = "garbage-after-starttls"
	// TLS that crypto/tls cannot serve, answered by a small responder
	// (see legacytls.go) that negotiates and never completes.
	FaultTLSLegacyDHE  = "tls-legacy-dhe"   // TLS 1.0 and 1.1 accepted, with DHE suites only
	FaultTLSDHEOnly    = "tls-dhe-only"     // TLS 1.2 only, DHE suites only: no handshake with crypto/tls
	FaultTLSWeakCipher = "tls-weak-ciphers" // NULL, EXPORT, DES, RC4, 3DES and anonymous suites accepted
	FaultTLSAnon       = "tls-anon"         // anonymous (aNULL) suites accepted
	FaultTLSNoFS       = "tls-no-fs"        // RSA key exchange only: no forward secrecy (TLS 1.2 and below)
	// Authentication offer.
	FaultAuthBeforeTLS = "auth-before-tls" // AUTH/LOGIN offered in plaintext
	FaultNoAuth        = "no-auth"         // no mechanism even after TLS
	FaultOAuthOnly     = "oauth-only"      // only XOAUTH2/OAUTHBEARER
	// Availability.
	FaultPortClosed = "port-closed"    // nothing listens: connections are refused
	FaultBusy       = "busy-421"       // temporary-failure greeting, then close
	FaultTarpit     = "tarpit"         // greeting delayed by Options.TarpitDelay
	FaultSlow       = "slow"           // every write delayed by Options.SlowDelay
	FaultOneConn    = "one-connection" // a second connection at the same time gets the busy reply
	// Replies past a client's bounds: the first line of the greeting is
	// padded past 4 KiB (plaintext ports only).
	FaultLongLines = "long-lines"
	// An HTTP server where the mail service should be.
	FaultHTTPOnMailPort = "http-on-mail-port"
	// Login failures (every credential is refused with the provider's words).
	FaultAppPasswordRequired = "app-password-required"
	FaultBasicAuthDisabled   = "basic-auth-disabled"
	FaultTLSRequired         = "tls-required" // login accepted as a command before TLS, then refused
	FaultAccountLocked       = "account-locked"
)

// Faults lists every fault the server knows.
var Faults = []string{
	FaultCertExpired, FaultCertExpiring, FaultCertSelfSigned, FaultCertUnknownCA,
	FaultCertWrongName, FaultCertMissingIntermediate, FaultCertWeakKey, FaultCertBadSignature, FaultCertRevoked,
	FaultTLSLegacy, FaultNoSTARTTLS, FaultTLSOnPlainPort, FaultPlainOnTLSPort, FaultCloseMidSTARTTLS,
	FaultGarbageAfterSTARTTLS, FaultTLSLegacyDHE, FaultTLSDHEOnly, FaultTLSWeakCipher, FaultTLSAnon, FaultTLSNoFS,
	FaultAuthBeforeTLS, FaultNoAuth, FaultOAuthOnly,
	FaultBusy, FaultTarpit, FaultPortClosed, FaultSlow, FaultOneConn, FaultLongLines, FaultHTTPOnMailPort,
	FaultAppPasswordRequired, FaultBasicAuthDisabled, FaultTLSRequired, FaultAccountLocked,
}

// checkFaults refuses a scenario naming a fault the server does not know,
// so that a typo in scenario.yaml fails loudly instead of serving a
// healthy server the scenario's expectations do not match.
func checkFaults(sc *fixtures.Scenario) error {
	for _, f := range sc.Faults {
		if slices.Contains(messageFaults, f.Name) && len(f.Ports) == 0 {
			continue
		}
		if !slices.Contains(Faults, f.Name) {
			return fmt.Errorf("refserver: scenario %s: unknown fault %q", sc.Name, f.Name)
		}
		for _, p := range f.Ports {
			if !slices.Contains(MailPorts, p) {
				return fmt.Errorf("refserver: scenario %s: fault %s: port %d is not one of %v", sc.Name, f.Name, p, MailPorts)
			}
		}
	}
	return nil
}

// fault reports whether fault name is on for standard port p. The HTTPS
// and HTTP ports take a fault only when the scenario lists them
// explicitly: the mail faults are about mail servers, and the MTA-STS
// policy fetch and the AIA downloads have findings of their own.
func (s *Server) fault(name string, p int) bool {
	for _, f := range s.sc.Faults {
		if f.Name != name {
			continue
		}
		if p == PortHTTPS || p == PortHTTP {
			if slices.Contains(f.Ports, p) {
				return true
			}
			continue
		}
		if f.Applies(p) {
			return true
		}
	}
	return false
}
