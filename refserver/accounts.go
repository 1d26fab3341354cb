package refserver

import (
	"crypto/subtle"
	"fmt"
	"sort"
	"strings"
)

// accountBook holds the accounts SMTP AUTH, IMAP and POP3 accept. Users
// are stored as full addresses; a bare local part names an address in the
// scenario's domain, so "alice" and "alice@example.test" are one account.
type accountBook struct {
	domain    string
	passwords map[string]string
}

func newAccountBook(domain string, pairs []string, extra map[string]string) (*accountBook, error) {
	b := &accountBook{domain: strings.ToLower(strings.TrimSuffix(domain, ".")), passwords: map[string]string{}}
	for _, p := range pairs {
		user, pass, ok := strings.Cut(p, ":")
		if !ok || user == "" {
			// The pair is not echoed: it holds a password.
			return nil, fmt.Errorf("refserver: an account is not USER:PASSWORD")
		}
		b.passwords[b.canonical(user)] = pass
	}
	for user, pass := range extra {
		if user == "" {
			return nil, fmt.Errorf("refserver: an account has an empty user name")
		}
		b.passwords[b.canonical(user)] = pass
	}
	return b, nil
}

// canonical turns a login name into the account's address: the domain is
// case-insensitive (RFC 5321 §2.4), the local part is kept as given.
func (b *accountBook) canonical(user string) string {
	local, dom, ok := strings.Cut(user, "@")
	if !ok {
		return local + "@" + b.domain
	}
	return local + "@" + strings.ToLower(dom)
}

// check returns the canonical user when the password is right.
func (b *accountBook) check(user, pass string) (string, bool) {
	u := b.canonical(user)
	want, ok := b.passwords[u]
	if !ok {
		// Compare anyway so that unknown users cost the same time.
		subtle.ConstantTimeCompare([]byte(pass), []byte(pass))
		return "", false
	}
	return u, subtle.ConstantTimeCompare([]byte(pass), []byte(want)) == 1
}

// users lists the accounts, sorted.
func (b *accountBook) users() []string {
	var out []string
	for u := range b.passwords {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}

// has reports whether an address is a local account.
func (b *accountBook) has(addr string) (string, bool) {
	u := b.canonical(addr)
	_, ok := b.passwords[u]
	return u, ok
}

// authOutcome is what a login attempt gets, before each protocol words it.
type authOutcome int

const (
	authOK             authOutcome = iota
	authBadCredentials             // wrong user or password
	authTLSRequired                // refused because the connection is plaintext
	authAppPassword                // the provider wants an application-specific password
	authBasicDisabled              // the provider accepts OAuth2 only
	authLocked                     // temporary: the account is locked
	authOAuthRejected              // an OAuth token the server cannot validate
)

// login decides a login attempt on standard port p, faults included. It
// never logs the password.
func (s *Server) login(p int, secure bool, user, pass string) (string, authOutcome) {
	switch {
	case !secure && !s.fault(FaultAuthBeforeTLS, p):
		return "", authTLSRequired
	case s.fault(FaultAccountLocked, p):
		return "", authLocked
	case s.fault(FaultAppPasswordRequired, p):
		return "", authAppPassword
	case s.fault(FaultBasicAuthDisabled, p):
		return "", authBasicDisabled
	}
	u, ok := s.accounts.check(user, pass)
	if !ok {
		s.logf("%s: login failed for %q", serviceName(p), user)
		return "", authBadCredentials
	}
	s.logf("%s: %s logged in", serviceName(p), u)
	return u, authOK
}
