package message

import (
	"github.com/mailcheck-cli/mailcheck/dsn"
	"github.com/mailcheck-cli/mailcheck/finding"
)

// statusMeanings are the enhanced status codes of RFC 3463 §3 and the IANA
// registry "SMTP Enhanced Status Codes", by subject.detail; the class (2,
// 4, 5) says success, temporary or permanent. Source:
// https://www.iana.org/assignments/smtp-enhanced-status-codes
//
// X.1.10 is left out on purpose: the registry gives it to null MX (RFC
// 7505), but Exchange Online uses 5.1.10 for "recipient not found"; the
// subject-level meaning is shown instead, beside the server's own text.
var statusMeanings = map[[2]int]finding.Text{
	{0, 0}:  finding.T("other or undefined status"),
	{1, 0}:  finding.T("other address status"),
	{1, 1}:  finding.T("bad destination mailbox address: the mailbox does not exist"),
	{1, 2}:  finding.T("bad destination system address: the domain does not exist or does not accept mail"),
	{1, 3}:  finding.T("bad destination mailbox address syntax"),
	{1, 4}:  finding.T("destination mailbox address ambiguous"),
	{1, 5}:  finding.T("destination address valid"),
	{1, 6}:  finding.T("destination mailbox has moved, no forwarding address"),
	{1, 7}:  finding.T("bad sender's mailbox address syntax"),
	{1, 8}:  finding.T("bad sender's system address"),
	{1, 9}:  finding.T("message relayed to a non-compliant mailer"),
	{2, 0}:  finding.T("other or undefined mailbox status"),
	{2, 1}:  finding.T("mailbox disabled, not accepting messages"),
	{2, 2}:  finding.T("mailbox full"),
	{2, 3}:  finding.T("message length exceeds an administrative limit"),
	{2, 4}:  finding.T("mailing list expansion problem"),
	{3, 0}:  finding.T("other or undefined mail system status"),
	{3, 1}:  finding.T("mail system full"),
	{3, 2}:  finding.T("system not accepting network messages"),
	{3, 3}:  finding.T("system not capable of selected features"),
	{3, 4}:  finding.T("message too big for system"),
	{3, 5}:  finding.T("system incorrectly configured"),
	{4, 0}:  finding.T("other or undefined network or routing status"),
	{4, 1}:  finding.T("no answer from host"),
	{4, 2}:  finding.T("bad connection"),
	{4, 3}:  finding.T("directory server failure (DNS)"),
	{4, 4}:  finding.T("unable to route"),
	{4, 5}:  finding.T("mail system congestion"),
	{4, 6}:  finding.T("routing loop detected"),
	{4, 7}:  finding.T("delivery time expired"),
	{5, 0}:  finding.T("other or undefined protocol status"),
	{5, 1}:  finding.T("invalid command"),
	{5, 2}:  finding.T("command syntax error"),
	{5, 3}:  finding.T("too many recipients"),
	{5, 4}:  finding.T("invalid command arguments"),
	{5, 5}:  finding.T("wrong protocol version"),
	{6, 0}:  finding.T("other or undefined media error"),
	{6, 1}:  finding.T("media not supported"),
	{6, 2}:  finding.T("conversion required and prohibited"),
	{6, 3}:  finding.T("conversion required but not supported"),
	{6, 4}:  finding.T("conversion with loss performed"),
	{6, 5}:  finding.T("conversion failed"),
	{7, 0}:  finding.T("other or undefined security status"),
	{7, 1}:  finding.T("delivery not authorised, message refused"),
	{7, 2}:  finding.T("mailing list expansion prohibited"),
	{7, 3}:  finding.T("security conversion required but not possible"),
	{7, 4}:  finding.T("security features not supported"),
	{7, 5}:  finding.T("cryptographic failure"),
	{7, 6}:  finding.T("cryptographic algorithm not supported"),
	{7, 7}:  finding.T("message integrity failure"),
	{7, 8}:  finding.T("authentication credentials invalid"),
	{7, 9}:  finding.T("authentication mechanism is too weak"),
	{7, 10}: finding.T("encryption needed"),
	{7, 11}: finding.T("encryption required for requested authentication mechanism"),
	{7, 12}: finding.T("a password transition is needed"),
	{7, 13}: finding.T("user account disabled"),
	{7, 14}: finding.T("trust relationship required"),
	{7, 17}: finding.T("mailbox owner has changed"),
	{7, 18}: finding.T("domain owner has changed"),
	{7, 20}: finding.T("no passing DKIM signature found"),
	{7, 21}: finding.T("no acceptable DKIM signature found"),
	{7, 22}: finding.T("no valid author-matched DKIM signature found"),
	{7, 23}: finding.T("SPF validation failed"),
	{7, 24}: finding.T("SPF validation error"),
	{7, 25}: finding.T("reverse DNS validation failed"),
	{7, 26}: finding.T("multiple authentication checks failed"),
	{7, 27}: finding.T("sender address has null MX"),
	{7, 29}: finding.T("ARC validation failure"),
	{7, 30}: finding.T("REQUIRETLS support required"),
}

// subjectMeanings are RFC 3463 §3's subject classes, for details the
// registry does not list.
var subjectMeanings = map[int]finding.Text{
	0: finding.T("other or undefined status"),
	1: finding.T("addressing status"),
	2: finding.T("mailbox status"),
	3: finding.T("mail system status"),
	4: finding.T("network and routing status"),
	5: finding.T("mail delivery protocol status"),
	6: finding.T("message content or media status"),
	7: finding.T("security or policy status"),
}

// statusMeaning says what an enhanced status code means; zero when the
// subject is unknown too.
func statusMeaning(s dsn.Status) finding.Text {
	if t, ok := statusMeanings[[2]int{s.Subject, s.Detail}]; ok {
		return t
	}
	return subjectMeanings[s.Subject]
}
