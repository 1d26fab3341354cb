package cli

import (
	"strings"

	"github.com/mailcheck-cli/mailcheck/dsn"
)

// A pasted bounce is explained recipient by recipient: the dsn package
// reads a whole notification (MIME parts, encoded text, Postfix, Exchange
// and Gmail shapes), or, in text that lost its structure, the per-recipient
// blocks (Final-Recipient, Action, Status, Diagnostic-Code) wherever they
// appear, quoted or not.

// bounceRecipient is one recipient a bounce reports as not delivered.
type bounceRecipient struct {
	recipient, action, status, diagnostic string
	// human is the notification's text for the user, which some servers
	// use instead of a Diagnostic-Code; "" for a paste without its MIME
	// structure, where it cannot be told from the returned message.
	human string
}

// maxBounceRecipients bounds the recipients explained from one paste.
const maxBounceRecipients = 50

// bounceRecipients returns the failed and delayed recipients of the
// delivery-status blocks in text (RFC 3464 §2.3), nil when it has none.
func bounceRecipients(text string) []bounceRecipient {
	rep, err := dsn.Parse(strings.NewReader(text))
	human := ""
	if err != nil {
		rep = dsn.Scan(text)
	} else {
		human = rep.HumanText
	}
	if rep == nil {
		return nil
	}
	var out []bounceRecipient
	for _, r := range rep.Recipients {
		if r.Action != dsn.Failed && r.Action != dsn.Delayed {
			continue
		}
		who := r.FinalRecipient
		if who == "" {
			who = r.OriginalRecipient
		}
		status, _, _ := strings.Cut(strings.TrimSpace(r.StatusText), " ")
		out = append(out, bounceRecipient{recipient: who, action: string(r.Action), status: status, diagnostic: r.DiagnosticCode, human: human})
		if len(out) == maxBounceRecipients {
			break
		}
	}
	return out
}
