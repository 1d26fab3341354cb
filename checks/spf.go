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
		f := finding.New("spf.syntax", subject, finding.T("SPF record does not parse: %s", root.SyntaxErr.Error()), root.Records[0])
		f.SetFix(spfSyntaxFix(root.SyntaxErr))
		locateSPF(&f, root)
		res.Findings = []finding.Finding{f}
		return res
	}

	var out []finding.Finding
	tree.Walk(func(n *facts.SPFNode) { out = append(out, spfNodeFindings(n)...) })
	out = append(out, spfLimitFindings(tree, subject)...)
	out = append(out, spfAllFindings(root, subject)...)

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
