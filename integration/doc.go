// Package integration holds mailcheck's two integration tiers. It has no
// code of its own: everything is in its tests.
//
// Tier 1 (serve_test.go) runs real clients — dig, curl, swaks and openssl
// s_client — and the mailcheck binary itself against `mailcheck serve`, the
// embedded reference server, started as a subprocess.
//
// Tier 2 (nsd_test.go, postfix_test.go, dovecot_test.go) runs mailcheck's
// resolver and probes against real servers — NSD, Postfix and Dovecot as
// Debian packages them — started on loopback high ports from the
// configuration templates in testdata/.
//
// A test whose programs are missing is skipped on a developer's machine and
// fails under CI=true (see prerequisite in tools_test.go); .ci/run installs
// them all.
package integration
