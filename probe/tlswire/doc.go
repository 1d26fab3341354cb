// Package tlswire reads and writes the first TLS handshake messages —
// ClientHello, ServerHello, Certificate, ServerKeyExchange,
// CertificateStatus, ServerHelloDone and alerts — at the record layer,
// without any key exchange. mailcheck's probes use it to ask a server which
// protocol versions and cipher suites it accepts; the reference server uses
// it to answer such questions for suites crypto/tls cannot serve.
//
// Why not crypto/tls: it cannot offer DHE, NULL, EXPORT, anonymous or
// (from a client) SSL 3.0 suites, so a server that accepts only those looks
// to it like one that accepts nothing. Why not a TLS-scanning library:
// zmap/zcrypto/tls, the maintained one on the module proxy, can send such
// hellos (Config.ForceSuites), but it runs a whole handshake with key
// exchange where a scan needs only the server's first flight, reports the
// server's refusals as formatted errors a caller would have to tell apart
// by their text, and brings its own forks of x509 and rsa and the public
// suffix list (about 2.4 MB more in the mailcheck binary). Telling
// "refused" (an alert, a lower version) from "could not tell" (a timeout,
// a reset before any answer) is the point of the scan, and the record
// layer says it exactly; so these few messages are written here (RFC 5246
// §6.2 and §7.4, RFC 6101 for SSL 3.0, RFC 8422 for elliptic curves).
package tlswire
