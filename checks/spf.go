package checks

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/checks/spf"
	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// judgeSPF audits the domain's SPF policy (RFC 7208).
func judgeSPF(d *facts.Domain) Result {
	domain := d.Name
	tree := d.SPF
	root := tree.Root
	subject := Subject(domain, dns.TypeTXT)
	res := Result{Detail: spfDetail(tree)}

	switch {
	case root.Err != nil:
		res.Findings = []finding.Finding{LookupProblem(finding.T("SPF"), domain, dns.TypeTXT, root.Err)}
		return res
	case len(root.Records) == 0:
		res.Findings = []finding.Finding{spfMissing(d, root)}
		return res
	case len(root.Records) > 1:
		f := finding.New("spf.multiple", subject, finding.T("%d v=spf1 records at %s: receivers return permerror", len(root.Records), domain), root.Records...)
		f.SetFix(finding.T("Merge them into one TXT record beginning with v=spf1 and delete the others (RFC 7208 §4.5)"))
		locateSPF(&f, root)
		res.Findings = []finding.Finding{f}
		return res
	case root.SyntaxErr != nil:
		f := finding.New("spf.syntax", subject, finding.T("SPF record does not parse: %s", root.SyntaxErr), root.Records[0])
		f.SetFix(spfSyntaxFix(root.SyntaxErr))
		locateSPF(&f, root)
		res.Findings = []finding.Finding{f}
		return res
	}

	var out []finding.Finding
	tree.Walk(func(n *facts.SPFNode) { out = append(out, spfNodeFindings(n)...) })
	out = append(out, spfLimitFindings(tree, subject)...)
	out = append(out, spfAllFindings(root, subject)...)
	out = append(out, spfMXFindings(d, subject)...)

	if highestSeverity(out) < finding.Warn {
		n, exact := tree.LookupCount()
		title := finding.T("SPF record is valid (%d of %d DNS lookups)", n, facts.SPFMaxLookups)
		if !exact {
			title = finding.T("SPF record is valid (at least %d of %d DNS lookups; some targets were not resolved)", n, facts.SPFMaxLookups)
		}
		ok := finding.New("spf.ok", subject, title, root.Records[0])
		locateSPF(&ok, root)
		out = append(out, ok)
	}
	sortFindings(out)
	res.Findings = out
	return res
}

// spfMissing reports a domain without SPF, with a record to publish: the
// MX hosts as senders when the domain receives mail, nothing otherwise.
func spfMissing(d *facts.Domain, root *facts.SPFNode) finding.Finding {
	domain := d.Name
	f := finding.New("spf.missing", Subject(domain, dns.TypeTXT), finding.Text{})
	if root.NXDomain {
		f.SetTitle(finding.T("No SPF record: %s does not exist", domain))
	}
	suggest := "v=spf1 -all"
	why := finding.T("the domain sends no mail")
	if len(d.MX.Records) > d.MX.Nulls {
		suggest = "v=spf1 mx -all"
		why = finding.T("the MX hosts send the domain's mail; add ip4:/ip6:/include: terms for every other sender before -all")
	}
	f.SetFix(finding.T("Publish one TXT record at %s: %q (%s)", domain, suggest, why))
	return f
}

func spfSyntaxFix(err error) finding.Text {
	var se *spf.SyntaxError
	if errors.As(err, &se) && se.Term != "" {
		return finding.T("Correct or remove the term %q (RFC 7208 §12 gives the syntax); receivers return permerror for the whole record until then", se.Term)
	}
	return finding.T("Rewrite the record so that it starts with v=spf1 followed by space-separated terms (RFC 7208 §12)")
}

// spfNodeFindings reports what is wrong with one record of the tree.
func spfNodeFindings(n *facts.SPFNode) []finding.Finding {
	subject := Subject(n.Domain, dns.TypeTXT)
	var out []finding.Finding
	if n.Depth > 0 {
		switch {
		case n.Loop:
			f := finding.New("spf.loop", subject, finding.T("%s leads back to %s, which is already being evaluated", n.Via, n.Domain), n.Via)
			f.SetFix(finding.T("Remove %s: the record includes itself, and receivers return permerror", n.Via))
			return append(out, f)
		case n.Truncated:
			return out
		case n.Err != nil:
			return append(out, LookupProblem(finding.T("SPF target of %s", n.Via), n.Domain, dns.TypeTXT, n.Err))
		case len(n.Records) == 0:
			// RFC 7208 §5.2: include of a domain without SPF is a
			// permerror; §6.1: so is a redirect to one.
			title := finding.T("%s: %s has no v=spf1 record", n.Via, n.Domain)
			if n.NXDomain {
				title = finding.T("%s: %s does not exist", n.Via, n.Domain)
			}
			f := finding.New("spf.include-missing", subject, title, n.Via)
			f.SetFix(finding.T("Remove %s or correct the name (the provider's documentation gives it); receivers return permerror until then", n.Via))
			return append(out, f)
		case len(n.Records) > 1:
			f := finding.New("spf.multiple", subject, finding.T("%s: %s has %d v=spf1 records", n.Via, n.Domain, len(n.Records)), n.Records...)
			f.SetFix(finding.T("%s must publish exactly one v=spf1 record; until then %s is a permerror", n.Domain, n.Via))
			locateSPF(&f, n)
			return append(out, f)
		case n.SyntaxErr != nil:
			f := finding.New("spf.syntax", subject, finding.T("%s: the record at %s does not parse: %v", n.Via, n.Domain, n.SyntaxErr), n.Records[0])
			f.SetFix(spfSyntaxFix(n.SyntaxErr))
			locateSPF(&f, n)
			return append(out, f)
		}
	}
	if n.Record == nil {
		return out
	}
	var ptrs []string
	for _, t := range n.Record.Terms {
		if t.Mechanism == spf.PTR {
			ptrs = append(ptrs, t.Text)
		}
	}
	if len(ptrs) > 0 {
		// RFC 7208 §5.5: "This mechanism SHOULD NOT be published."
		f := finding.New("spf.ptr", subject, finding.T("SPF record of %s uses %s", n.Domain, strings.Join(ptrs, " ")), n.Records[0])
		f.SetFix(finding.T("Replace %s with ip4:/ip6: ranges or a: names of the sending hosts: ptr is slow, unreliable and many receivers skip it", strings.Join(ptrs, " ")))
		locateSPF(&f, n)
		out = append(out, f)
	}
	if n.Record.RedirectIgnored() {
		f := finding.New("spf.syntax", subject, finding.T("%s is never used: the record has an all mechanism", n.Record.Redirect.Text), n.Records[0])
		f.Severity = finding.Warn
		f.Ref = "RFC 7208 §6.1"
		f.SetFix(finding.T("Remove %s, or remove %s if the redirect target should decide", n.Record.Redirect.Text, n.Record.All().Text))
		locateSPF(&f, n)
		out = append(out, f)
	}
	if after := n.Record.AfterAll(); len(after) > 0 {
		// RFC 7208 §5.1: "Mechanisms after "all" will never be tested".
		var texts []string
		for _, t := range after {
			texts = append(texts, t.Text)
		}
		f := finding.New("spf.after-all", subject, finding.T("SPF record of %s has terms after %s that are never evaluated: %s", n.Domain, n.Record.All().Text, strings.Join(texts, " ")), n.Records[0])
		f.SetFix(finding.T("Move %s before %s if those senders are still used, or delete them: %q", strings.Join(texts, " "), n.Record.All().Text, spfAllLast(n.Record)))
		locateSPF(&f, n)
		out = append(out, f)
	}
	for _, over := range n.MXOver {
		// §4.6.4: each mx evaluation may look up at most 10 address
		// names; more is a permerror when the term is reached. A sender
		// matched earlier never gets there, hence warn.
		f := finding.New("spf.lookup-limit", subject, finding.T("%s names %d MX hosts; receivers return permerror when they evaluate it (limit 10)", over.Term, over.Hosts), n.Records[0])
		f.Severity = finding.Warn
		f.SetFix(finding.T("Replace the mx term with ip4:/ip6: ranges of the hosts that send, or trim the MX RRset to 10 hosts"))
		locateSPF(&f, n)
		out = append(out, f)
	}
	for _, err := range n.VoidErrs {
		var re *resolver.Error
		name, qtype := n.Domain, dns.TypeA
		if errors.As(err, &re) {
			name, qtype = re.Name, re.Qtype
		}
		out = append(out, LookupProblem(finding.T("SPF void-lookup count"), name, qtype, err))
	}
	return out
}

// spfLimitFindings applies the lookup and void limits of §4.6.4 to the
// whole tree.
func spfLimitFindings(tree *facts.SPFTree, subject string) []finding.Finding {
	root := tree.Root
	var out []finding.Finding
	total, exact := tree.LookupCount()
	if total > facts.SPFMaxLookups {
		title := finding.T("SPF needs %d DNS lookups; the limit is %d", total, facts.SPFMaxLookups)
		if !exact {
			title = finding.T("SPF needs at least %d DNS lookups; the limit is %d", total, facts.SPFMaxLookups)
		}
		ev := []string{root.Records[0], fmt.Sprintf("%s's own a/mx/ptr/exists terms: %d", root.Domain, root.Own-len(root.Children))}
		heavy := slices.Clone(root.Children)
		slices.SortStableFunc(heavy, func(a, b *facts.SPFNode) int { return b.Lookups() - a.Lookups() })
		for _, c := range root.Children {
			ev = append(ev, fmt.Sprintf("%s: %d (1 + %d inside)", c.Via, c.Lookups()+1, c.Lookups()))
		}
		f := finding.New("spf.lookup-limit", subject, title, ev...)
		var names []string
		for _, c := range heavy {
			if c.Lookups() > 0 {
				names = append(names, fmt.Sprintf("%s (%d)", c.Via, c.Lookups()+1))
			}
		}
		f.SetFix(finding.T("Remove %d lookup(s): drop senders you no longer use, or flatten the heaviest includes into ip4:/ip6: ranges", total-facts.SPFMaxLookups))
		if len(names) > 0 {
			f.SetFix(finding.T("Remove %d lookup(s): drop senders you no longer use, or flatten the heaviest includes into ip4:/ip6: ranges (lookups each costs: %s)", total-facts.SPFMaxLookups, strings.Join(names, ", ")))
		}
		locateSPF(&f, root)
		out = append(out, f)
	}
	if voids := tree.Voids(); voids > 0 && voids <= facts.SPFMaxVoids {
		// Under the limit each void term is still a sender that no longer
		// exists: name it. Includes and redirects to nothing are reported
		// as spf.include-missing already.
		tree.Walk(func(n *facts.SPFNode) {
			for _, v := range n.Voids {
				if slices.ContainsFunc(n.Children, func(c *facts.SPFNode) bool { return c.Via == v }) {
					continue
				}
				f := finding.New("spf.void-lookup", Subject(n.Domain, dns.TypeTXT), finding.T("%s in the SPF record of %s looks up a name with no record: it authorises no one", v, n.Domain), n.Records[0])
				f.Note(finding.T("%d of the %d void lookups receivers allow are used (RFC 7208 §4.6.4)", voids, facts.SPFMaxVoids))
				f.SetFix(finding.T("Remove %s from the record of %s, or correct the name it looks up", v, n.Domain))
				locateSPF(&f, n)
				out = append(out, f)
			}
		})
	}
	if voids := tree.Voids(); voids > facts.SPFMaxVoids {
		var ev []string
		tree.Walk(func(n *facts.SPFNode) {
			for _, v := range n.Voids {
				ev = append(ev, n.Domain+": "+v)
			}
		})
		f := finding.New("spf.void-limit", subject, finding.T("SPF has %d void lookups; the limit is %d", voids, facts.SPFMaxVoids), ev...)
		f.SetFix(finding.T("Remove the terms whose names do not exist or have no records: %s", strings.Join(ev, ", ")))
		locateSPF(&f, root)
		out = append(out, f)
	}
	return out
}

// spfAllFindings judges what happens to a sender no mechanism matched: the
// root's all, or the redirect target's when there is no all (§6.1); and
// whether a +all anywhere in an include lets everyone pass (§5.2: include
// matches when the included record passes).
func spfAllFindings(root *facts.SPFNode, subject string) []finding.Finding {
	var out []finding.Finding
	allNode, all := spfEffectiveAll(root)
	switch {
	case allNode == nil:
		// A redirect we could not follow: its verdict is reported there.
	case all == nil:
		f := finding.New("spf.all-neutral", subject, finding.T("SPF record of %s has no all mechanism and no redirect: unlisted senders get neutral", allNode.Domain), allNode.Records[0])
		f.SetFix(finding.T("End the record of %s with -all (or ~all while testing): %q", allNode.Domain, allNode.Record.String()+" -all"))
		locateSPF(&f, allNode)
		out = append(out, f)
	case all.Qualifier == spf.QualifierPass:
		f := finding.New("spf.all-pass", subject, finding.T("SPF record of %s ends in %s: every sender passes", allNode.Domain, all.Text), allNode.Records[0])
		f.SetFix(spfReplaceAllFix(allNode, "-all"))
		locateSPF(&f, allNode)
		out = append(out, f)
	case all.Qualifier == spf.QualifierNeutral:
		f := finding.New("spf.all-neutral", subject, finding.T("SPF record of %s ends in ?all: unlisted senders get neutral", allNode.Domain), allNode.Records[0])
		f.SetFix(spfReplaceAllFix(allNode, "-all"))
		locateSPF(&f, allNode)
		out = append(out, f)
	}
	if all == nil || all.Qualifier != spf.QualifierPass {
		if via := spfIncludedPassAll(root); via != nil {
			f := finding.New("spf.all-pass", subject, finding.T("%s passes every sender: %s ends in +all", via.Via, via.Domain), via.Records[0])
			f.SetFix(finding.T("Remove %s, or have its owner replace +all with -all", via.Via))
			locateSPF(&f, via)
			out = append(out, f)
		}
	}
	return out
}

// spfEffectiveAll returns the record whose all decides the fate of an
// unmatched sender and that all (nil: no all, neutral by §4.7). node is nil
// when a redirect could not be followed.
func spfEffectiveAll(n *facts.SPFNode) (*facts.SPFNode, *spf.Term) {
	for range facts.SPFMaxDepth {
		if n.Record == nil {
			return nil, nil
		}
		if all := n.Record.All(); all != nil {
			return n, all
		}
		if n.Record.Redirect == nil {
			return n, nil
		}
		next := slices.IndexFunc(n.Children, func(c *facts.SPFNode) bool { return c.Via == n.Record.Redirect.Text })
		if next < 0 {
			return nil, nil // a macro in the redirect
		}
		n = n.Children[next]
	}
	return nil, nil
}

// spfIncludedPassAll finds an include (with a pass qualifier, so that its
// match passes the sender) whose target passes everyone.
func spfIncludedPassAll(n *facts.SPFNode) *facts.SPFNode {
	if n.Record == nil {
		return nil
	}
	for _, c := range n.Children {
		if !strings.HasPrefix(strings.TrimPrefix(strings.ToLower(c.Via), "+"), spf.Include+":") {
			continue
		}
		if c.Record == nil || c.Loop {
			continue
		}
		if node, all := spfEffectiveAll(c); node != nil && all != nil && all.Qualifier == spf.QualifierPass {
			return c
		}
		if deeper := spfIncludedPassAll(c); deeper != nil {
			return deeper
		}
	}
	return nil
}

// spfAllLast writes rec with every mechanism before all and all last,
// modifiers kept where they were.
func spfAllLast(rec *spf.Record) string {
	terms := []string{"v=spf1"}
	var all string
	for _, t := range rec.Terms {
		if t.Mechanism == spf.All && all == "" {
			all = t.Text
			continue
		}
		if t.Mechanism == spf.All {
			continue // a second all is dead too
		}
		terms = append(terms, t.Text)
	}
	return strings.Join(append(terms, all), " ")
}

// spfMXFindings reports the domain's own MX hosts that its SPF policy does
// not authorise, evaluated as receivers do (check_host() with the domain as
// sender; after a redirect, a and mx speak of the target, RFC 7208 §6.1).
// Info: the MX hosts may only receive mail. Evaluations that end in an
// error are left to the findings that name the error.
func spfMXFindings(d *facts.Domain, subject string) []finding.Finding {
	root := d.SPF.Root
	var ev []string
	redirected := ""
	for _, c := range d.SPF.MXChecks {
		switch c.Outcome.Result {
		case spf.Pass, spf.TempError, spf.PermError:
			continue
		}
		line := fmt.Sprintf("%s (%s): %s", c.Host, c.Addr, c.Outcome.Result)
		if m := c.Outcome.Matched; m != nil {
			line += fmt.Sprintf(" by %s", m.Text)
		}
		if c.Outcome.Domain != d.Name {
			line += fmt.Sprintf(" in the record of %s", c.Outcome.Domain)
		}
		for _, p := range c.Outcome.Path {
			if strings.HasPrefix(strings.ToLower(p), spf.Redirect+"=") {
				redirected = p
			}
		}
		ev = append(ev, line)
	}
	if len(ev) == 0 {
		return nil
	}
	f := finding.New("spf.mx-not-authorized", subject, finding.T("The SPF policy of %s does not authorise its own MX hosts to send its mail", d.Name), append([]string{root.Records[0]}, ev...)...)
	if redirected != "" {
		f.Note(finding.T("after %s, a and mx in the target's record name the target's own hosts, not those of %s (RFC 7208 §6.1)", redirected, d.Name))
	}
	f.SetFix(finding.T("Nothing to do if the MX hosts only receive mail; if they send the domain's mail too, add mx (or their ip4:/ip6: addresses) before the all of the record of %s", d.Name))
	locateSPF(&f, root)
	return []finding.Finding{f}
}

func spfReplaceAllFix(n *facts.SPFNode, with string) finding.Text {
	var terms []string
	for _, t := range n.Record.Terms {
		if t.Mechanism == spf.All {
			terms = append(terms, with)
		} else {
			terms = append(terms, t.Text)
		}
	}
	rec := "v=spf1 " + strings.Join(terms, " ")
	return finding.T("Publish at %s: %q (or ~all while you confirm every sender is listed)", n.Domain, rec)
}

// spfDetail renders the tree for --verbose, one line per record, children
// indented.
func spfDetail(tree *facts.SPFTree) []string {
	var lines []string
	var rec func(n *facts.SPFNode, indent string)
	rec = func(n *facts.SPFNode, indent string) {
		head := indent + n.Domain + ": "
		if n.Via != "" {
			head = indent + n.Via + " → " + n.Domain + ": "
		}
		switch {
		case n.Loop:
			lines = append(lines, head+"loop: already being evaluated")
			return
		case n.Truncated:
			lines = append(lines, head+"not followed (the tree is too large)")
			return
		case n.Err != nil:
			lines = append(lines, head+"lookup failed: "+errText(n.Err).String())
			return
		case len(n.Records) == 0:
			lines = append(lines, head+"no SPF record")
			return
		case len(n.Records) > 1:
			lines = append(lines, head+fmt.Sprintf("%d SPF records", len(n.Records)))
			return
		case n.SyntaxErr != nil:
			lines = append(lines, head+n.Records[0]+" (syntax error)")
			return
		}
		lookups := spfPlural(n.Lookups(), "lookup")
		if !n.Complete() {
			lookups = "at least " + lookups
		}
		lines = append(lines, head+n.Records[0]+" ("+lookups+")")
		for _, m := range n.Macros {
			lines = append(lines, indent+"  "+m+": holds a macro; counted, not resolved (its target depends on the message)")
		}
		for _, v := range n.Voids {
			lines = append(lines, indent+"  "+v+": void lookup")
		}
		for _, c := range n.Children {
			rec(c, indent+"  ")
		}
	}
	rec(tree.Root, "")
	return lines
}

// spfPlural writes "1 lookup", "2 lookups".
func spfPlural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// locateSPF points f at the SPF record of node n, when it came from a zone
// file.
func locateSPF(f *finding.Finding, n *facts.SPFNode) {
	if n.Answer == nil || n.Index < 0 || n.Index >= len(n.Answer.Origins) {
		return
	}
	o := n.Answer.Origins[n.Index]
	f.Location = &finding.Location{File: o.File, Line: o.Line}
}
