package probe

import (
	"bufio"
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

func wireFrom(data string) *wire {
	return &wire{r: bufio.NewReaderSize(strings.NewReader(data), maxLineBytes)}
}

func TestParseEHLO(t *testing.T) {
	tests := []struct {
		name     string
		lines    []string
		has      []string
		hasNot   []string
		auth     []string
		keywords int
	}{
		{
			name:  "typical postfix",
			lines: []string{"mail.example.test", "PIPELINING", "SIZE 10240000", "STARTTLS", "AUTH PLAIN login", "8BITMIME"},
			has:   []string{"starttls", "PIPELINING", "SIZE", "AUTH"}, auth: []string{"PLAIN", "LOGIN"}, keywords: 5,
		},
		{
			name:  "greeting text is not a keyword",
			lines: []string{"mail.example.test greets STARTTLS AUTH", "SIZE"},
			has:   []string{"SIZE"}, hasNot: []string{"STARTTLS", "AUTH"}, keywords: 1,
		},
		{
			name:  "obsolete AUTH= form folds into AUTH",
			lines: []string{"mx", "AUTH=LOGIN PLAIN", "AUTH PLAIN CRAM-MD5"},
			has:   []string{"AUTH"}, auth: []string{"LOGIN", "PLAIN", "CRAM-MD5"}, keywords: 1,
		},
		{
			name:  "keyword lookalikes are not STARTTLS",
			lines: []string{"mx", "XSTARTTLS", "STARTTLSX", "-STARTTLS", ""},
			has:   []string{"XSTARTTLS"}, hasNot: []string{"STARTTLS"}, keywords: 2,
		},
		{name: "greeting only", lines: []string{"mx"}, hasNot: []string{"AUTH"}, keywords: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ParseEHLO(tt.lines)
			for _, k := range tt.has {
				if !c.Has(k) {
					t.Errorf("Has(%q) = false; keywords %v", k, c.Keywords())
				}
			}
			for _, k := range tt.hasNot {
				if c.Has(k) {
					t.Errorf("Has(%q) = true; keywords %v", k, c.Keywords())
				}
			}
			if got := c.Params("AUTH"); !slices.Equal(got, tt.auth) {
				t.Errorf("AUTH params = %v, want %v", got, tt.auth)
			}
			if c.Len() != tt.keywords {
				t.Errorf("%d keywords %v, want %d", c.Len(), c.Keywords(), tt.keywords)
			}
		})
	}
}

func TestParseIMAPCapability(t *testing.T) {
	tests := []struct {
		name  string
		line  string
		ok    bool
		mechs []string // AUTH= plus LOGIN unless LOGINDISABLED
		tls   bool
	}{
		{name: "untagged", line: "* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED AUTH=SCRAM-SHA-256", ok: true, tls: true, mechs: []string{"SCRAM-SHA-256"}},
		{name: "greeting response code", line: "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN auth=login] Dovecot ready.", ok: true, mechs: []string{"PLAIN", "LOGIN"}},
		{name: "tagged response code", line: "a1 OK [CAPABILITY IMAP4rev2 STARTTLS] done", ok: true, tls: true, mechs: []string{"LOGIN"}},
		{name: "no capability", line: "* OK IMAP ready STARTTLS", ok: false},
		{name: "unterminated code", line: "* OK [CAPABILITY IMAP4rev1 STARTTLS", ok: false},
		{name: "other response code", line: "* OK [ALERT] STARTTLS soon", ok: false},
		{name: "lowercase untagged", line: "* capability imap4rev1 logindisabled", ok: true, mechs: nil},
	}
	var d imapDialogue
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := ParseIMAPCapability(tt.line)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if c.Has("STARTTLS") != tt.tls {
				t.Errorf("STARTTLS = %v, want %v (keywords %v)", c.Has("STARTTLS"), tt.tls, c.Keywords())
			}
			if got := d.mechanisms(c); !slices.Equal(got, tt.mechs) {
				t.Errorf("mechanisms = %v, want %v", got, tt.mechs)
			}
		})
	}
}

func TestParsePOP3Capa(t *testing.T) {
	c := ParsePOP3Capa([]string{"TOP", "USER", "SASL plain LOGIN", "STLS", "RESP-CODES", "IMPLEMENTATION Example server 1.0", ""})
	var d pop3Dialogue
	if !d.offersTLS(c) {
		t.Errorf("STLS not found in %v", c.Keywords())
	}
	if got := d.mechanisms(c); !slices.Equal(got, []string{"PLAIN", "LOGIN", "USER"}) {
		t.Errorf("mechanisms = %v", got)
	}
	if got := c.Params("IMPLEMENTATION"); !slices.Equal(got, []string{"Example", "server", "1.0"}) {
		t.Errorf("IMPLEMENTATION = %v", got)
	}
	none := ParsePOP3Capa([]string{"TOP", "UIDL"})
	if d.offersTLS(none) || len(d.mechanisms(none)) != 0 {
		t.Errorf("TOP UIDL: offersTLS %v mechanisms %v", d.offersTLS(none), d.mechanisms(none))
	}
}

func TestReadPOP3Multiline(t *testing.T) {
	got, err := readPOP3Multiline(wireFrom("TOP\r\n..dotted\r\nUSER\r\n.\r\nnext\r\n"))
	if err != nil || !slices.Equal(got, []string{"TOP", ".dotted", "USER"}) {
		t.Errorf("got %q, %v", got, err)
	}
	_, err = readPOP3Multiline(wireFrom(strings.Repeat("X\r\n", 200) + ".\r\n"))
	if !errors.Is(err, ErrTooManyLines) {
		t.Errorf("200 lines: err = %v, want ErrTooManyLines", err)
	}
}

func TestReadSMTPReply(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		code   int
		lines  int
		errIs  error
		errAs  bool // a *ProtocolError
		wantOK bool
	}{
		{name: "single", in: "220 mail.example.test ESMTP\r\n", code: 220, lines: 1, wantOK: true},
		{name: "multi-line", in: "250-mx\r\n250-SIZE 1000\r\n250 STARTTLS\r\n", code: 250, lines: 3, wantOK: true},
		{name: "bare code", in: "250\r\n", code: 250, lines: 1, wantOK: true},
		{name: "LF only", in: "221 bye\n", code: 221, lines: 1, wantOK: true},
		{name: "code changes", in: "250-mx\r\n251 x\r\n", errAs: true},
		{name: "not SMTP", in: "* OK IMAP4rev1\r\n", errAs: true},
		{name: "first digit out of range", in: "650 x\r\n", errAs: true},
		{name: "TLS record", in: "\x16\x03\x01\x00\x05hello\r\n", errAs: true},
		{name: "too many lines", in: strings.Repeat("250-x\r\n", 150) + "250 end\r\n", errIs: ErrTooManyLines},
		{name: "line too long", in: "250 " + strings.Repeat("x", 5000) + "\r\n", errIs: ErrLineTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := readSMTPReply(wireFrom(tt.in))
			if tt.wantOK {
				if err != nil || r.Code != tt.code || len(r.Lines) != tt.lines {
					t.Fatalf("got %+v, %v; want code %d with %d lines", r, err, tt.code, tt.lines)
				}
				return
			}
			var pe *ProtocolError
			if tt.errAs && !errors.As(err, &pe) {
				t.Errorf("err = %v, want a ProtocolError", err)
			}
			if tt.errIs != nil && !errors.Is(err, tt.errIs) {
				t.Errorf("err = %v, want %v", err, tt.errIs)
			}
		})
	}
}

func TestReadIMAPLineSkipsLiterals(t *testing.T) {
	w := wireFrom("* LIST () \"/\" {5}\r\nA1 OK\r\n* CAPABILITY IMAP4rev1\r\n")
	line, err := readIMAPLine(w)
	if err != nil || !strings.HasPrefix(line, "* LIST") {
		t.Fatalf("first line %q, %v", line, err)
	}
	line, err = readIMAPLine(w)
	if err != nil || line != "* CAPABILITY IMAP4rev1" {
		t.Fatalf("the literal's content leaked: next line %q, %v", line, err)
	}
	if _, err := readIMAPLine(wireFrom("* X {999999999}\r\n")); err == nil {
		t.Error("a huge literal was accepted")
	}
}

func TestPrintable(t *testing.T) {
	if got := printable("220 \x1b[31mred\x00\xff"); got != `220 \x1b[31mred\x00\xff` {
		t.Errorf("printable = %q", got)
	}
}

// FuzzSMTPReply: any byte stream yields a bounded reply or an error, never
// a panic or an unbounded one.
func FuzzSMTPReply(f *testing.F) {
	for _, s := range []string{"220 ok\r\n", "250-a\r\n250 b\r\n", "250-", "\x16\x03\x01", "421 busy\n", "2", "599-\r\n599\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := readSMTPReply(&wire{r: bufio.NewReaderSize(bytes.NewReader(data), maxLineBytes)})
		if len(r.Lines) > maxReplyLines {
			t.Fatalf("%d lines", len(r.Lines))
		}
		if err == nil && (r.Code < 200 || r.Code > 559) {
			t.Fatalf("accepted code %d", r.Code)
		}
		if err == nil {
			ParseEHLO(r.Lines)
		}
	})
}

// FuzzIMAPLine: capability parsing of arbitrary lines, and reading
// arbitrary IMAP streams with literals, stay bounded and never panic.
func FuzzIMAPLine(f *testing.F) {
	for _, s := range []string{"* OK [CAPABILITY IMAP4rev1 STARTTLS] hi", "* CAPABILITY AUTH=PLAIN", "* X {3}\r\nabc\r\n", "a1 OK [CAPABILITY", "* {", "* x {1+}\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, _ := ParseIMAPCapability(s)
		for _, k := range c.Keywords() {
			if !validAtom(k) {
				t.Fatalf("invalid atom %q kept", k)
			}
		}
		w := &wire{r: bufio.NewReaderSize(strings.NewReader(s), maxLineBytes)}
		for range 200 {
			if _, err := readIMAPLine(w); err != nil {
				return
			}
		}
	})
}

func FuzzPOP3Capa(f *testing.F) {
	for _, s := range []string{"TOP\r\nSASL PLAIN\r\n.\r\n", "..\r\n.\r\n", "STLS"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lines, _ := readPOP3Multiline(&wire{r: bufio.NewReaderSize(strings.NewReader(s), maxLineBytes)})
		if len(lines) > maxReplyLines {
			t.Fatalf("%d lines", len(lines))
		}
		c := ParsePOP3Capa(lines)
		for _, k := range c.Keywords() {
			if !validKeyword(k) {
				t.Fatalf("invalid keyword %q kept", k)
			}
		}
	})
}
