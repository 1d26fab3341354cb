package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// The message section of `mailcheck message`: what the message says of
// itself, the verdicts (mailcheck's and the receivers'), the route and a
// bounce's recipients. The findings follow it as in every report.

// writeMessageText writes the section in the text format; nothing when the
// report has none.
func writeMessageText(l layout, m *finding.MessageReport, opts Options, p palette) {
	if m == nil {
		return
	}
	tr := func(t finding.Text) string { return t.In(opts.Lang) }
	l.line("")
	l.line(p.heading.Sprint(tr(finding.T("Message"))))
	l.table(messageFacts(m, tr))

	if m.Bounce != nil {
		l.line("")
		l.line(p.heading.Sprint(tr(bounceHeading(m.Bounce))))
		l.table(bounceRows(m.Bounce, tr))
		if o := m.Bounce.Original; o != nil {
			l.para("  ", "    ", printable(oneLine(tr(finding.T("Returned message: %s %s", o.Subject, o.MessageID)))))
		}
	} else {
		l.line("")
		l.line(p.heading.Sprint(tr(finding.T("Authentication, as verified by mailcheck"))))
		l.table(authRows(m, tr))
	}
	if len(m.AuthResults) > 0 {
		l.line("")
		l.line(p.heading.Sprint(tr(finding.T("Receivers' verdicts (Authentication-Results)"))))
		l.table(authResultsRows(m.AuthResults, tr))
	}
	if len(m.Route) > 0 {
		l.line("")
		l.line(p.heading.Sprint(tr(finding.T("Route, oldest hop first"))))
		l.table(routeRows(m.Route, tr))
		for _, h := range m.Route {
			if h.Trusted {
				l.para("  ", "    ", p.faint.Sprint(tr(finding.T("* the hop SPF took the client address from"))))
				break
			}
		}
	}
}

func messageFacts(m *finding.MessageReport, tr func(finding.Text) string) [][]string {
	var rows [][]string
	add := func(label finding.Text, value string) {
		if value != "" {
			rows = append(rows, []string{tr(label), value})
		}
	}
	add(finding.T("From:"), m.From)
	add(finding.T("To:"), m.To)
	add(finding.T("Subject:"), m.Subject)
	add(finding.T("Date:"), m.Date)
	add(finding.T("Message-ID:"), m.MessageID)
	add(finding.T("Envelope sender:"), m.ReturnPath)
	size := byteSize(m.Size)
	if m.HeadersOnly {
		size = tr(finding.T("%s, headers only", size))
	}
	add(finding.T("Size:"), size)
	return rows
}

// byteSize writes a size the way people read it.
func byteSize(n int) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " kB"
	}
	return strconv.Itoa(n) + " B"
}

func authRows(m *finding.MessageReport, tr func(finding.Text) string) [][]string {
	var rows [][]string
	for _, s := range m.DKIM {
		what := "d=" + s.Domain + " s=" + s.Selector + " " + s.Algorithm
		if s.KeyBits > 0 && s.KeyType == "rsa" {
			what += " " + tr(finding.T("(%d bits)", s.KeyBits))
		}
		what += " " + s.Canonicalization
		if s.BodyLength != nil {
			what += " l=" + strconv.FormatInt(*s.BodyLength, 10)
		}
		rows = append(rows, []string{"DKIM", what, verdict(s.Result, s.Reason)})
	}
	if len(m.DKIM) == 0 {
		rows = append(rows, []string{"DKIM", tr(finding.T("no signature")), "none"})
	}
	if s := m.SPF; s != nil {
		what := s.IP
		if s.TrustedHop != "" {
			what = tr(finding.T("%s (hop %d, by %s)", s.IP, s.Hop, s.TrustedHop))
		}
		if s.Domain != "" {
			what += " " + tr(finding.T("for %s", s.Domain))
		}
		detail := s.Mechanism
		if s.Inner != "" {
			detail += " → " + s.Inner + " (" + s.MatchedIn + ")"
		}
		if detail != "" {
			detail += ", "
		}
		detail += tr(finding.T("DNS lookups: %d", s.Lookups))
		rows = append(rows, []string{"SPF", what, s.Result, detail})
	} else {
		rows = append(rows, []string{"SPF", tr(finding.T("not evaluated: no client address")), "none"})
	}
	if d := m.DMARC; d != nil {
		what := d.FromDomain
		if d.Policy != "" {
			what += " p=" + d.Policy + " adkim=" + d.ADKIM + " aspf=" + d.ASPF
		}
		var aligned []string
		for _, dom := range d.DKIMAligned {
			aligned = append(aligned, "DKIM "+dom)
		}
		if d.SPFAligned {
			aligned = append(aligned, "SPF")
		}
		var detail string
		switch a := strings.Join(aligned, ", "); {
		case a != "" && d.Disposition != "":
			detail = tr(finding.T("aligned: %s; disposition: %s", a, d.Disposition))
		case a != "":
			detail = tr(finding.T("aligned: %s", a))
		case d.Disposition != "":
			detail = tr(finding.T("disposition: %s", d.Disposition))
		}
		rows = append(rows, []string{"DMARC", what, d.Result, detail})
	}
	if a := m.ARC; a != nil {
		rows = append(rows, []string{"ARC", tr(finding.T("%d instance(s) sealed by %s, not verified", a.Instances, strings.Join(a.Sealers, ", "))), "cv=" + a.ChainValidation})
	}
	return rows
}

// verdict is a result with its reason: "fail (body-hash)".
func verdict(result, reason string) string {
	if reason == "" || result == "pass" {
		return result
	}
	return result + " (" + reason + ")"
}

func authResultsRows(ars []finding.AuthResults, tr func(finding.Text) string) [][]string {
	var rows [][]string
	for _, ar := range ars {
		who := ar.AuthServID
		if who == "" {
			who = "?"
		}
		if ar.Instance > 0 {
			who += " " + tr(finding.T("(ARC %d)", ar.Instance))
		}
		var vs []string
		for _, r := range ar.Results {
			vs = append(vs, r.Method+"="+r.Result)
		}
		rows = append(rows, []string{who, strings.Join(vs, " ")})
	}
	return rows
}

func routeRows(route []finding.Hop, tr func(finding.Text) string) [][]string {
	rows := [][]string{{"#", tr(finding.T("CLIENT")), tr(finding.T("RECEIVED BY")), tr(finding.T("WITH")), "TLS", tr(finding.T("DELAY"))}}
	for i, h := range route {
		n := strconv.Itoa(i + 1)
		if h.Trusted {
			n += "*"
		}
		from := h.From
		if h.FromIP != "" && !strings.Contains(from, h.FromIP) {
			from += " [" + h.FromIP + "]"
		}
		tls := h.TLS
		if h.Plaintext {
			tls = tr(finding.T("plaintext"))
		}
		rows = append(rows, []string{n, dashIfEmpty(strings.TrimSpace(from)), dashIfEmpty(h.By), dashIfEmpty(h.With), dashIfEmpty(tls), delayText(h.DelayMS, tr)})
	}
	return rows
}

// delayText writes a hop's delay: "4s", "2m5s", "-3s (clocks differ)".
func delayText(ms *int64, tr func(finding.Text) string) string {
	if ms == nil {
		return "-"
	}
	d := (time.Duration(*ms) * time.Millisecond).Round(time.Second)
	if d < 0 {
		return tr(finding.T("%s (clocks differ)", d.String()))
	}
	return d.String()
}

func bounceHeading(b *finding.Bounce) finding.Text {
	if b.ReportingMTA != "" {
		return finding.T("Delivery status notification from %s", b.ReportingMTA)
	}
	return finding.T("Delivery status notification")
}

func bounceRows(b *finding.Bounce, tr func(finding.Text) string) [][]string {
	rows := [][]string{{tr(finding.T("RECIPIENT")), tr(finding.T("ACTION")), tr(finding.T("CODE")), tr(finding.T("CAUSE")), tr(finding.T("REPLY"))}}
	for _, r := range b.Recipients {
		reply := r.Diagnostic
		if len([]rune(reply)) > 100 {
			reply = string([]rune(reply)[:99]) + "…"
		}
		rows = append(rows, []string{r.Recipient, r.Action, dashIfEmpty(r.Status), listOrDash(r.Findings), dashIfEmpty(reply)})
	}
	return rows
}

// writeMessageMarkdown writes the section as markdown tables.
func writeMessageMarkdown(w io.Writer, m *finding.MessageReport, opts Options) {
	if m == nil {
		return
	}
	tr := func(t finding.Text) string { return t.In(opts.Lang) }
	esc := func(rows [][]string) [][]string {
		for _, row := range rows {
			for i := range row {
				row[i] = mdEscape(row[i], true)
			}
		}
		return rows
	}
	fmt.Fprintf(w, "### %s\n\n", tr(finding.T("Message")))
	writeMarkdownTable(w, []string{"", ""}, esc(messageFacts(m, tr)), false)
	if m.Bounce != nil {
		fmt.Fprintf(w, "\n### %s\n\n", tr(bounceHeading(m.Bounce)))
		rows := bounceRows(m.Bounce, tr)
		writeMarkdownTable(w, rows[0], esc(rows[1:]), false)
	} else {
		fmt.Fprintf(w, "\n### %s\n\n", tr(finding.T("Authentication, as verified by mailcheck")))
		rows := authRows(m, tr)
		for i := range rows {
			for len(rows[i]) < 4 {
				rows[i] = append(rows[i], "")
			}
		}
		writeMarkdownTable(w, []string{"", "", "", ""}, esc(rows), false)
	}
	if len(m.Route) > 0 {
		fmt.Fprintf(w, "\n### %s\n\n", tr(finding.T("Route, oldest hop first")))
		rows := routeRows(m.Route, tr)
		writeMarkdownTable(w, rows[0], esc(rows[1:]), false)
	}
	fmt.Fprintln(w)
}
