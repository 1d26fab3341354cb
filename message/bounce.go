package message

import (
	"bytes"
	"errors"
	"slices"

	"github.com/mailcheck-cli/mailcheck/dsn"
	"github.com/mailcheck-cli/mailcheck/finding"
)

// readBounce recognises a delivery status notification: a multipart/report
// with a delivery-status part (structured), or, in pasted text without its
// MIME structure, the Final-Recipient/Action/Status lines. nil when the
// message is not one.
func readBounce(p *parsed) (rep *dsn.Report, structured bool) {
	rep, err := dsn.Parse(bytes.NewReader(p.raw))
	if err == nil {
		return rep, true
	}
	if !errors.Is(err, dsn.ErrNotDSN) {
		return nil, false
	}
	return dsn.Scan(string(p.body)), false
}

// judgeBounce reports each recipient of a bounce: what happened, what the
// status code means, and the cause the diagnostic points at.
func judgeBounce(rep *dsn.Report, structured bool) (*finding.Bounce, []finding.Finding) {
	b := &finding.Bounce{ReportingMTA: rep.ReportingMTA, ArrivalDate: rep.ArrivalDate, Structured: structured,
		Recipients: []finding.BounceRecipient{}}
	if o := rep.Original; o != nil {
		b.Original = &finding.BouncedMessage{From: o.From, To: o.To, Subject: o.Subject, MessageID: o.MessageID, Date: o.Date}
	}
	var fs []finding.Finding
	for _, rc := range rep.Recipients {
		who := rc.FinalRecipient
		if who == "" {
			who = rc.OriginalRecipient
		}
		br := finding.BounceRecipient{Recipient: who, Action: string(rc.Action), Status: rc.Status.String(),
			Diagnostic: rc.DiagnosticCode, RemoteMTA: rc.RemoteMTA}
		meaning := statusMeaning(rc.Status)
		var f finding.Finding
		switch rc.Action {
		case dsn.Failed:
			f = finding.New("msg.bounce-failed", who, finding.T("Delivery to %s failed: %s (%s)", who, rc.Status.String(), meaning))
		case dsn.Delayed:
			f = finding.New("msg.bounce-delayed", who, finding.T("Delivery to %s is delayed and will be retried: %s (%s)", who, rc.Status.String(), meaning))
		default:
			f = finding.New("msg.bounce-delivered", who, finding.T("Delivery to %s: %s", who, string(rc.Action)))
		}
		if rc.Status.IsZero() {
			f.SetTitle(finding.T("Delivery to %s: %s, with no status code", who, string(rc.Action)))
		}
		if rc.DiagnosticCode != "" {
			f.Evidence = append(f.Evidence, rc.DiagnosticCode)
		}
		if rc.RemoteMTA != "" {
			f.Note(finding.T("Reported by %s, from the answer of %s.", orUnknown(rep.ReportingMTA), rc.RemoteMTA))
		}
		fs = append(fs, f)
		if rc.Action == dsn.Failed || rc.Action == dsn.Delayed {
			// The best cause only: the others are in `mailcheck explain`.
			// The same engine as `mailcheck explain -` on a bounce.
			if c, ok := finding.DiagnoseBounce(finding.BounceReport{Diagnostic: rc.DiagnosticCode,
				Status: rc.Status.String(), Recipient: who, Notice: rep.HumanText}).Best(); ok {
				cause := finding.New(c.Entry.ID, who, finding.Text{})
				if rc.Action == dsn.Delayed {
					cause.Severity = deferredSeverity(c.Entry)
				}
				if c.Matched != "" {
					cause.Evidence = append(cause.Evidence, c.Matched)
				}
				fs = append(fs, cause)
				br.Findings = append(br.Findings, c.Entry.ID)
			}
		}
		b.Recipients = append(b.Recipients, br)
	}
	return b, fs
}

// deferredSeverity is the severity of a cause whose message is still being
// retried: the catalogue's warn case where it has one (a full mailbox that
// defers with 4.2.2 bounces nothing yet), otherwise its default.
func deferredSeverity(e finding.Entry) finding.Severity {
	if slices.Contains(e.PossibleSeverities(), finding.Warn) {
		return finding.Warn
	}
	return e.Severity
}

func orUnknown(s string) string {
	if s == "" {
		return "?"
	}
	return s
}
