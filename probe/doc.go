// Package probe connects to live mail servers (SMTP on 25/587/465, IMAP on
// 143/993, POP3 on 110/995) and reports what each port really does: its
// greeting, its capabilities before and after TLS, STARTTLS or implicit
// TLS, the certificate chain and every problem with it, the TLS versions it
// still accepts, and which authentication mechanisms it exposes where.
//
// The dialogues are written here rather than borrowed from go-smtp's or
// go-imap's clients on purpose: a diagnostic needs what a client library
// hides or refuses — the raw greeting bytes, the capability lists before and
// after STARTTLS, a size bound on every line and a line bound on every
// reply, a deadline on every step, a transcript, and the exact point where a
// dialogue broke. A probe keeps what it learned when a later step fails
// (the banner and TLS state survive an error), and its Status says where it
// stopped.
//
// Session is the reusable part: it opens a connection to one port, reads
// the greeting and capabilities, upgrades with STARTTLS/STLS (or starts
// with implicit TLS, RFC 8314) and can be extended with a login step.
// Run, Host and MX build on it and turn what a session learned into
// findings (conn.*, tls.*, auth.*).
//
// crypto/tls makes the probe's own handshake. Which versions and cipher
// suites a port accepts is asked separately, one raw ClientHello per
// connection (tlsscan.go, package tlswire), because crypto/tls cannot
// offer DHE, NULL, EXPORT or anonymous suites. Every attempt ends
// accepted, refused or inconclusive, and an inconclusive one is reported
// as such (severity error), never as "not accepted". Certificate chains
// are judged once per run (chain.go): a missing intermediate is fetched
// over AIA to tell it from an unknown CA, and a signature that does not
// verify is named as such.
package probe
