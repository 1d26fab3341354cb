package cli

import (
	"bufio"
	"strings"
)

// A pasted bounce is explained recipient by recipient. This is the smallest
// reading of an RFC 3464 delivery-status part that explain needs: the
// per-recipient blocks (Final-Recipient, Action, Status, Diagnostic-Code)
// wherever they appear in the text, fields unfolded. The dsn package of
// issue 12 reads whole MIME messages (encoded parts, Exchange and Gmail
// shapes); bounceRecipients is meant to be replaced by it.

// bounceRecipient is one recipient a bounce reports as not delivered.
type bounceRecipient struct {
	recipient, action, status, diagnostic string
}

// maxBounceRecipients bounds the recipients explained from one paste.
const maxBounceRecipients = 50

// bounceRecipients returns the failed and delayed recipients of the
// delivery-status blocks in text (RFC 3464 §2.3), nil when it has none.
func bounceRecipients(text string) []bounceRecipient {
	var out []bounceRecipient
	var cur *bounceRecipient
	var last string // the field a continuation line extends
	flush := func() {
		if cur != nil && cur.recipient != "" && (cur.action == "failed" || cur.action == "delayed") && len(out) < maxBounceRecipients {
			out = append(out, *cur)
		}
		cur, last = nil, ""
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if cur != nil && (line[0] == ' ' || line[0] == '\t') {
			// RFC 5322 §2.2.3 folding, used by long Diagnostic-Codes.
			if last == "diagnostic-code" {
				cur.diagnostic += " " + strings.TrimSpace(line)
			}
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		name, value = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)
		switch name {
		case "final-recipient":
			flush()
			cur = &bounceRecipient{recipient: afterType(value)}
		case "original-recipient":
			if cur == nil {
				cur = &bounceRecipient{recipient: afterType(value)}
			}
		case "action":
			if cur != nil {
				cur.action = strings.ToLower(value)
			}
		case "status":
			if cur != nil {
				cur.status, _, _ = strings.Cut(value, " ")
			}
		case "diagnostic-code":
			if cur != nil {
				cur.diagnostic = afterType(value)
			}
		}
		last = name
	}
	flush()
	return out
}

// afterType drops the address or diagnostic type ("rfc822;", "smtp;").
func afterType(v string) string {
	if _, rest, ok := strings.Cut(v, ";"); ok {
		return strings.TrimSpace(rest)
	}
	return v
}
