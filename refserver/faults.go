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
	// TLS and the plaintext/TLS split.
	FaultTLSLegacy        = "tls-legacy"         // TLS 1.0 and 1.1 accepted
	FaultNoSTARTTLS       = "no-starttls"        // STARTTLS/STLS not offered
	FaultTLSOnPlainPort   = "tls-on-plain-port"  // TLS at connect on 25/587/143/110
	FaultPlainOnTLSPort   = "plain-on-tls-port"  // plaintext on 465/993/995
	FaultCloseMidSTARTTLS = "close-mid-starttls" // positive STARTTLS reply, then close
	// Authentication offer.
	FaultAuthBeforeTLS = "auth-before-tls" // AUTH/LOGIN offered in plaintext
	FaultNoAuth        = "no-auth"         // no mechanism even after TLS
	FaultOAuthOnly     = "oauth-only"      // only XOAUTH2/OAUTHBEARER
	// Availability.
	FaultPortClosed = "port-closed" // nothing listens: connections are refused
	FaultBusy       = "busy-421"    // temporary-failure greeting, then close
	FaultTarpit     = "tarpit"      // greeting delayed by Options.TarpitDelay
	// Login failures (every credential is refused with the provider's words).
	FaultAppPasswordRequired = "app-password-required"
	FaultBasicAuthDisabled   = "basic-auth-disabled"
	FaultTLSRequired         = "tls-required" // login accepted as a command before TLS, then refused
	FaultAccountLocked       = "account-locked"
)

// Faults lists every fault the server knows.
var Faults = []string{
	FaultCertExpired, FaultCertExpiring, FaultCertSelfSigned, FaultCertUnknownCA,
	FaultCertWrongName, FaultCertMissingIntermediate, FaultCertWeakKey,
	FaultTLSLegacy, FaultNoSTARTTLS, FaultTLSOnPlainPort, FaultPlainOnTLSPort, FaultCloseMidSTARTTLS,
	FaultAuthBeforeTLS, FaultNoAuth, FaultOAuthOnly,
	FaultBusy, FaultTarpit, FaultPortClosed,
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
// port takes a fault only when the scenario lists 443 explicitly: the mail
// faults are about mail servers, and the MTA-STS policy fetch has findings
// of its own.
func (s *Server) fault(name string, p int) bool {
	for _, f := range s.sc.Faults {
		if f.Name != name {
			continue
		}
		if p == PortHTTPS {
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
