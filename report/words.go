package report

import "github.com/mailcheck-cli/mailcheck/finding"

// The reports' own words — headings, table headers, labels, the names of
// severities and states — are finding.Texts like titles and fixes, so that
// Options.Lang writes them too (French in finding/i18n/fr/report.yaml). In
// English every one of them reads exactly as the literal it replaces.
//
// The values JSON, SARIF levels and --fail-on use (severity names, probe
// statuses, verdicts, baseline states) are not touched: these functions
// name them for people, in the text, markdown and JUnit renderers.

// severityWord names a severity in a heading or a note.
func severityWord(s finding.Severity, l finding.Lang) string {
	switch s {
	case finding.Pass:
		return finding.T("pass").In(l)
	case finding.Info:
		return finding.T("info").In(l)
	case finding.Warn:
		return finding.T("warn").In(l)
	case finding.Fail:
		return finding.T("fail").In(l)
	case finding.Error:
		return finding.T("error").In(l)
	}
	return s.String()
}

// severityCount is one part of the summary line: "3 warn".
func severityCount(s finding.Severity, n int, l finding.Lang) string {
	switch s {
	case finding.Pass:
		return finding.T("%d pass", n).In(l)
	case finding.Info:
		return finding.T("%d info", n).In(l)
	case finding.Warn:
		return finding.T("%d warn", n).In(l)
	case finding.Fail:
		return finding.T("%d fail", n).In(l)
	case finding.Error:
		return finding.T("%d error", n).In(l)
	}
	return finding.T("%d %s", n, s.String()).In(l)
}

// baselineWord names a baseline state of the CI gate.
func baselineWord(state string, l finding.Lang) string {
	switch state {
	case "new":
		return finding.T("new").In(l)
	case "unchanged":
		return finding.T("unchanged").In(l)
	case "fixed":
		return finding.T("fixed").In(l)
	}
	return state
}

// baselineCount is one part of the summary's baseline counts: "2 new".
func baselineCount(state string, n int, l finding.Lang) string {
	switch state {
	case "new":
		return finding.T("%d new", n).In(l)
	case "unchanged":
		return finding.T("%d unchanged", n).In(l)
	case "fixed":
		return finding.T("%d fixed", n).In(l)
	}
	return finding.T("%d %s", n, state).In(l)
}

// statusWord names a probe status in the probe table.
func statusWord(status string, l finding.Lang) string {
	switch status {
	case "ok":
		return finding.T("ok").In(l)
	case "refused":
		return finding.T("refused").In(l)
	case "timeout":
		return finding.T("timeout").In(l)
	case "rate-limited":
		return finding.T("rate-limited").In(l)
	case "protocol-error":
		return finding.T("protocol-error").In(l)
	case "tls-failed":
		return finding.T("tls-failed").In(l)
	case "closed":
		return finding.T("closed").In(l)
	}
	return status
}

// yesNo is the VERIFIED column of the probe table.
func yesNo(b bool, l finding.Lang) string {
	if b {
		return finding.T("yes").In(l)
	}
	return finding.T("no").In(l)
}

// roleWord names a client endpoint's role as mail apps do.
func roleWord(role string, l finding.Lang) string {
	switch role {
	case "incoming":
		return finding.T("incoming").In(l)
	case "outgoing":
		return finding.T("outgoing").In(l)
	}
	return role
}

// verdictWord names a client endpoint's verdict.
func verdictWord(verdict string, l finding.Lang) string {
	switch verdict {
	case "recommended":
		return finding.T("recommended").In(l)
	case "works":
		return finding.T("works").In(l)
	case "fails":
		return finding.T("fails").In(l)
	case "untested":
		return finding.T("untested").In(l)
	}
	return verdict
}

// sourceWord names where a client setting came from.
func sourceWord(source string, l finding.Lang) string {
	switch source {
	case "provider":
		return finding.T("provider").In(l)
	case "user":
		return finding.T("user").In(l)
	case "alternative":
		return finding.T("alternative").In(l)
	case "mx-guess":
		return finding.T("mx-guess").In(l)
	}
	return source // srv, autoconfig: names of mechanisms
}
