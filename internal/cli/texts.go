package cli

import (
	"github.com/mailcheck-cli/mailcheck/finding"
)

// usageError is bad input, said in the language of the run: t is a
// finding.Text, so that its French lives in finding/i18n/fr/ with every
// other text people read.
func usageError(l finding.Lang, t finding.Text) error {
	return &UsageError{Msg: t.In(l)}
}

// severityWord names a severity for people, as the text report does;
// JSON, SARIF and --fail-on keep the English names.
func severityWord(s finding.Severity) finding.Text {
	switch s {
	case finding.Pass:
		return finding.T("pass")
	case finding.Info:
		return finding.T("info")
	case finding.Warn:
		return finding.T("warn")
	case finding.Fail:
		return finding.T("fail")
	case finding.Error:
		return finding.T("error")
	}
	return finding.Verbatim(s.String())
}

// severityWidth is the width of the longest severity word in l, to align
// a column of them.
func severityWidth(l finding.Lang) int {
	w := 0
	for s := finding.Pass; s <= finding.Error; s++ {
		w = max(w, len([]rune(severityWord(s).In(l))))
	}
	return w
}
