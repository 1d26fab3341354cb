package refserver

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// mailStore holds each account's mail: an IMAP INBOX (imapmemserver) and
// a POP3 maildrop. They start with the same welcome message and both
// receive the mail SMTP accepts for the account; they are separate stores
// (a message deleted over POP3 stays in IMAP), which a demo server can
// afford.
type mailStore struct {
	domain string
	imap   *imapmemserver.Server

	mu        sync.Mutex
	imapUsers map[string]*imapmemserver.User
	delivered map[string]int
	drops     map[string][]popMessage
	locked    map[string]bool // RFC 1939 §8: one POP3 session per maildrop
	nextUID   int
}

// popMessage is one message of a POP3 maildrop.
type popMessage struct {
	uid  string // RFC 1939 §7 UIDL: stable, 1-70 printable characters
	data []byte // CRLF line endings
}

// maxDeliveries bounds how many SMTP messages an account's mailboxes take.
const maxDeliveries = maxMessages

func newMailStore(domain string, accounts *accountBook) *mailStore {
	m := &mailStore{
		domain:    domain,
		imap:      imapmemserver.New(),
		imapUsers: map[string]*imapmemserver.User{},
		delivered: map[string]int{},
		drops:     map[string][]popMessage{},
		locked:    map[string]bool{},
	}
	for _, u := range accounts.users() {
		// The mem server checks passwords itself; the account book has
		// already done so, so it gets none it could leak.
		iu := imapmemserver.NewUser(u, "")
		iu.Create("INBOX", nil)
		m.imap.AddUser(iu)
		m.imapUsers[u] = iu
		m.add(u, welcome(domain, u))
	}
	return m
}

func welcome(domain, user string) []byte {
	now := time.Now()
	return []byte(strings.ReplaceAll(fmt.Sprintf(`From: mailcheck reference server <postmaster@%[1]s>
To: <%[2]s>
Subject: Welcome to the mailcheck reference server
Date: %[3]s
Message-ID: <welcome.%[4]d@%[1]s>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

This mailbox belongs to the mailcheck reference server for %[1]s.
Mail sent to %[2]s over SMTP appears here too.
`, domain, user, now.Format(time.RFC1123Z), now.UnixNano()), "\n", "\r\n"))
}

// add appends a message to both of an account's mailboxes.
func (m *mailStore) add(user string, data []byte) {
	data = crlf(data)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextUID++
	m.drops[user] = append(m.drops[user], popMessage{uid: fmt.Sprintf("mc%06d", m.nextUID), data: data})
	if iu := m.imapUsers[user]; iu != nil {
		iu.Append("INBOX", literal{bytes.NewReader(data)}, &imap.AppendOptions{Time: time.Now()})
	}
}

// deliver files an accepted SMTP message in the mailboxes of the local
// accounts among its recipients.
func (m *mailStore) deliver(msg Message) {
	for _, rcpt := range msg.To {
		_, dom, _ := strings.Cut(rcpt, "@")
		if !strings.EqualFold(dom, m.domain) {
			continue
		}
		user := strings.Split(rcpt, "@")[0] + "@" + m.domain
		m.mu.Lock()
		_, known := m.imapUsers[user]
		ok := known && m.delivered[user] < maxDeliveries
		if ok {
			m.delivered[user]++
		}
		m.mu.Unlock()
		if ok {
			m.add(user, msg.Data)
		}
	}
}

// lockDrop takes the account's maildrop for a POP3 session: a copy of its
// messages, or false when another session holds it.
func (m *mailStore) lockDrop(user string) ([]popMessage, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locked[user] {
		return nil, false
	}
	m.locked[user] = true
	return slices.Clone(m.drops[user]), true
}

// unlockDrop releases the maildrop, removing the messages the session
// deleted (RFC 1939 §6, the UPDATE state; nil when it ended otherwise).
func (m *mailStore) unlockDrop(user string, deleted map[string]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.locked, user)
	if len(deleted) > 0 {
		m.drops[user] = slices.DeleteFunc(m.drops[user], func(p popMessage) bool { return deleted[p.uid] })
	}
}

// crlf gives every line a CRLF ending, as RFC 5322 §2.1 and the mailbox
// protocols' octet counts expect.
func crlf(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

// literal adapts a bytes.Reader to imap.LiteralReader.
type literal struct{ *bytes.Reader }
