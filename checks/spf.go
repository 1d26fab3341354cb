package checks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/checks/spf"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// RFC 7208 §4.6.4 limits.
const (
	spfMaxLookups = 10 // DNS-querying terms per check_host() evaluation
	spfMaxVoids   = 2  // lookups that return NXDOMAIN or no answer
	spfMaxMXNames = 10 // MX names one "mx" term may look up
)

// Bounds on the walk itself, so that a hostile or broken include graph
// cannot make the audit explode: past 10 lookups the verdict is known.
const (
	spfMaxDepth = spfMaxLookups + 2
	spfMaxNodes = 64
)

// SPFTree is a domain's SPF policy with every include and redirect target
// it reaches, as check_host() would walk them, with what each costs in DNS
// lookups. Build it with ResolveSPF.
type SPFTree struct {
	Root *SPFNode
}

// SPFNode is one SPF record of the tree: the root domain's, or the target
// of an include or redirect.
type SPFNode struct {
	Domain string // without the trailing dot
	Via    string // the term that led here ("include:_spf.example.com"); "" at the root
	Depth  int

	// Err is set when the TXT lookup failed: the node is inconclusive.
	Err error
	// NXDomain is set when the name does not exist.
	NXDomain bool
	// Records are the v=spf1 records at Domain: none is "no SPF record",
	// more than one is a permerror (RFC 7208 §4.5).
	Records []string
	// Record is the parsed record when there is exactly one and it parses;
	// SyntaxErr is set when it does not.
	Record    *spf.Record
	SyntaxErr error
	Answer    *resolver.Answer // the TXT answer, for zone file locations
	Index     int              // index of the first v=spf1 record in Answer.RRs

	// Loop is set when Domain is already being evaluated above this node
	// (RFC 7208 §5.2 and §6.1 recursion): the node is not walked again.
	Loop bool
	// Truncated is set when the walk stopped before this node (too deep or
	// too many nodes); Via still counts.
	Truncated bool

	// Own counts this record's DNS-querying terms (§4.6.4).
	Own      int
	Children []*SPFNode
	// Voids lists this record's terms whose lookup returned NXDOMAIN or no
	// answer; VoidErrs the terms whose void check could not be made.
	Voids    []string
	VoidErrs []error
	// Macros lists terms whose target holds a macro: counted, not resolved,
	// since expanding them needs a message (RFC 7208 §7).
	Macros []string
	// MXOver lists mx terms naming more than 10 MX hosts (§4.6.4).
	MXOver []string
}

// Lookups is the number of DNS-querying terms evaluating this record can
// cost, its includes and redirect included.
func (n *SPFNode) Lookups() int {
	total := n.Own
	for _, c := range n.Children {
		total += c.Lookups()
	}
	return total
}

// Complete reports whether every record below n was fetched and parsed, so
// that Lookups is exact rather than a lower bound.
func (n *SPFNode) Complete() bool {
	if n.Err != nil || n.Truncated || len(n.Macros) > 0 {
		return false
	}
	for _, c := range n.Children {
		if !c.Complete() {
			return false
		}
	}
	return true
}

// LookupCount returns the DNS-querying terms of the whole tree (RFC 7208
// §4.6.4) and whether the count is exact; when a lookup failed or a macro
// hid a target it is a lower bound. The CI gate's policy.spf-lookups uses
// it.
func (t *SPFTree) LookupCount() (n int, exact bool) {
	return t.Root.Lookups(), t.Root.Complete()
}

// Voids counts void lookups across the tree.
func (t *SPFTree) Voids() int {
	total := 0
	t.walk(func(n *SPFNode) { total += len(n.Voids) })
	return total
}

func (t *SPFTree) walk(f func(*SPFNode)) {
	var rec func(*SPFNode)
	rec = func(n *SPFNode) {
		f(n)
		for _, c := range n.Children {
			rec(c)
		}
	}
	rec(t.Root)
}

// ResolveSPF fetches domain's SPF record and walks its include and redirect
// targets; siblings are fetched concurrently, so the walk costs one round
// trip per level of the tree. Lookup failures are kept in the nodes.
func ResolveSPF(ctx context.Context, r resolver.Resolver, domain string) *SPFTree {
	w := &spfWalker{r: r}
	root := &SPFNode{Domain: trimDot(strings.ToLower(domain))}
	w.nodes.Add(1)
	w.visit(ctx, root, nil)
	return &SPFTree{Root: root}
}

type spfWalker struct {
	r     resolver.Resolver
	nodes atomic.Int32
}

// visit fetches n's record and walks its terms. path holds the domains
// being evaluated above n, for loop detection.
func (w *spfWalker) visit(ctx context.Context, n *SPFNode, path []string) {
	txts, ans, err := resolver.TXT(ctx, w.r, n.Domain)
	if err != nil {
		n.Err = err
		return
	}
	n.Answer = ans
	n.NXDomain = ans.NXDomain()
	n.Index = -1
	for i, rr := range ans.RRs {
		if t, ok := rr.(*dns.TXT); ok && spf.IsSPF(strings.Join(t.Txt, "")) {
			if n.Index < 0 {
				n.Index = i
			}
		}
	}
	for _, t := range txts {
		if spf.IsSPF(t) {
			n.Records = append(n.Records, t)
		}
	}
	if len(n.Records) != 1 {
		return
	}
	rec, err := spf.Parse(n.Records[0])
	if err != nil {
		n.SyntaxErr = err
		return
	}
	n.Record = rec
	path = append(slices.Clip(path), n.Domain)

	var wg sync.WaitGroup
	var mu sync.Mutex // guards n's Voids, VoidErrs, MXOver
	slots := make([]*SPFNode, len(rec.Terms))
	for i, term := range rec.Terms {
		if !term.CountsLookup() {
			continue
		}
		if term.Modifier == spf.Redirect && rec.RedirectIgnored() {
			// RFC 7208 §6.1: never followed, so it costs nothing.
			continue
		}
		n.Own++
		if term.HasMacro() {
			n.Macros = append(n.Macros, term.Text)
			continue
		}
		target := n.Domain
		if term.Domain != "" {
			target = trimDot(strings.ToLower(term.Domain))
		}
		switch {
		case term.Mechanism == spf.Include || term.Modifier == spf.Redirect:
			child := &SPFNode{Domain: target, Via: term.Text, Depth: n.Depth + 1}
			slots[i] = child
			switch {
			case slices.Contains(path, target):
				child.Loop = true
			case child.Depth > spfMaxDepth || w.nodes.Add(1) > spfMaxNodes:
				child.Truncated = true
			default:
				wg.Go(func() { w.visit(ctx, child, path) })
			}
		case term.Mechanism == spf.A || term.Mechanism == spf.MX || term.Mechanism == spf.Exists:
			wg.Go(func() {
				void, names, err := spfProbeVoid(ctx, w.r, term.Mechanism, target)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					n.VoidErrs = append(n.VoidErrs, err)
				case void:
					n.Voids = append(n.Voids, term.Text)
				}
				if names > spfMaxMXNames {
					n.MXOver = append(n.MXOver, fmt.Sprintf("%s names %d MX hosts", term.Text, names))
				}
			})
		}
	}
	wg.Wait()
	for _, c := range slots {
		if c != nil {
			n.Children = append(n.Children, c)
		}
	}
	// An include or redirect whose target does not exist or has no answer
	// at all is a void lookup too (§4.6.4).
	for _, c := range n.Children {
		if c.Answer != nil && (c.NXDomain || len(c.Answer.RRs) == 0) {
			n.Voids = append(n.Voids, c.Via)
		}
	}
	sortTermOrder(n.Voids, rec)
}

// sortTermOrder puts term texts in the order they appear in rec, so that
// evidence does not depend on which lookup returned first.
func sortTermOrder(terms []string, rec *spf.Record) {
	pos := func(s string) int {
		return slices.IndexFunc(rec.Terms, func(t spf.Term) bool { return t.Text == s })
	}
	slices.SortStableFunc(terms, func(a, b string) int { return cmp.Compare(pos(a), pos(b)) })
}

// spfProbeVoid makes the lookup an a, mx or exists term makes and reports
// whether it is void (RFC 7208 §4.6.4). An a term is void only when the
// target has neither A nor AAAA: which one a receiver asks depends on the
// client's address family, and the check must hold for both. For mx it
// also returns the number of MX names.
func spfProbeVoid(ctx context.Context, r resolver.Resolver, mech, target string) (void bool, mxNames int, err error) {
	switch mech {
	case spf.MX:
		ans, _, err := resolver.Follow(ctx, r, target, dns.TypeMX)
		if err != nil {
			return false, 0, err
		}
		for _, rr := range ans.RRs {
			if _, ok := rr.(*dns.MX); ok {
				mxNames++
			}
		}
		return mxNames == 0, mxNames, nil
	case spf.Exists:
		// RFC 7208 §5.7: exists always asks for an A record.
		ans, _, err := resolver.Follow(ctx, r, target, dns.TypeA)
		if err != nil {
			return false, 0, err
		}
		return len(ans.RRs) == 0, 0, nil
	}
	addrs, err := resolver.Addrs(ctx, r, target)
	if len(addrs) > 0 {
		return false, 0, nil
	}
	return err == nil, 0, err
}

// checkSPF audits domain's SPF policy (RFC 7208).
func checkSPF(ctx context.Context, env *Env, domain string) Result {
	tree := ResolveSPF(ctx, env.Resolver, domain)
	root := tree.Root
	subject := Subject(domain, dns.TypeTXT)
	res := Result{Detail: spfDetail(tree)}

	switch {
	case root.Err != nil:
		res.Findings = []finding.Finding{LookupProblem(finding.T("SPF"), domain, dns.TypeTXT, root.Err)}
		return res
	case len(root.Records) == 0:
		res.Findings = []finding.Finding{spfMissing(ctx, env, domain, root)}
		return res
	case len(root.Records) > 1:
		f := finding.New("spf.multiple", subject, finding.T("%d v=spf1 records at %s: receivers return permerror", len(root.Records), domain), root.Records...)
		f.SetFix(finding.T("Merge them into one TXT record beginning with v=spf1 and delete the others (RFC 7208 §4.5)"))
		locate(&f, root.Answer, root.Index)
		res.Findings = []finding.Finding{f}
		return res
	case root.SyntaxErr != nil:
		f := finding.New("spf.syntax", subject, finding.T("SPF record does not parse: %s", root.SyntaxErr.Error()), root.Records[0])
		f.SetFix(spfSyntaxFix(root.SyntaxErr))
		locate(&f, root.Answer, root.Index)
		res.Findings = []finding.Finding{f}
		return res
	}

	var out []finding.Finding
	tree.walk(func(n *SPFNode) { out = append(out, spfNodeFindings(n)...) })
	out = append(out, spfLimitFindings(tree, subject)...)
	out = append(out, spfAllFindings(root, subject)...)

	if highestSeverity(out) < finding.Warn {
		n, exact := tree.LookupCount()
		title := finding.T("SPF record is valid (%d of %d DNS lookups)", n, spfMaxLookups)
		if !exact {
			title = finding.T("SPF record is valid (at least %d of %d DNS lookups; some targets were not resolved)", n, spfMaxLookups)
		}
		ok := finding.New("spf.ok", subject, title, root.Records[0])
		locate(&ok, root.Answer, root.Index)
		out = append(out, ok)
	}
	sortFindings(out)
	res.Findings = out
	return res
}

// spfMissing reports a domain without SPF, with a record to publish: the
// MX hosts as senders when the domain receives mail, nothing otherwise.
func spfMissing(ctx context.Context, env *Env, domain string, root *SPFNode) finding.Finding {
	f := finding.New("spf.missing", Subject(domain, dns.TypeTXT), finding.Text{})
	if root.NXDomain {
		f.SetTitle(finding.T("No SPF record: %s does not exist", domain))
	}
	suggest := "v=spf1 -all"
	why := finding.T("the domain sends no mail")
	if ans, _, err := resolver.Follow(ctx, env.Resolver, domain, dns.TypeMX); err == nil {
		for _, rr := range ans.RRs {
			if mx, ok := rr.(*dns.MX); ok && mx.Mx != "." {
				suggest = "v=spf1 mx -all"
				why = finding.T("the MX hosts send the domain's mail; add ip4:/ip6:/include: terms for every other sender before -all")
				break
			}
		}
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
func spfNodeFindings(n *SPFNode) []finding.Finding {
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
			why := "has no v=spf1 record"
			if n.NXDomain {
				why = "does not exist"
			}
			f := finding.New("spf.include-missing", subject, finding.T("%s: %s %s", n.Via, n.Domain, why), n.Via)
			f.SetFix(finding.T("Remove %s or correct the name (the provider's documentation gives it); receivers return permerror until then", n.Via))
			return append(out, f)
		case len(n.Records) > 1:
			f := finding.New("spf.multiple", subject, finding.T("%s: %s has %d v=spf1 records", n.Via, n.Domain, len(n.Records)), n.Records...)
			f.SetFix(finding.T("%s must publish exactly one v=spf1 record; until then %s is a permerror", n.Domain, n.Via))
			locate(&f, n.Answer, n.Index)
			return append(out, f)
		case n.SyntaxErr != nil:
			f := finding.New("spf.syntax", subject, finding.T("%s: the record at %s does not parse: %v", n.Via, n.Domain, n.SyntaxErr), n.Records[0])
			f.SetFix(spfSyntaxFix(n.SyntaxErr))
			locate(&f, n.Answer, n.Index)
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
		locate(&f, n.Answer, n.Index)
		out = append(out, f)
	}
	if n.Record.RedirectIgnored() {
		f := finding.New("spf.syntax", subject, finding.T("%s is never used: the record has an all mechanism", n.Record.Redirect.Text), n.Records[0])
		f.Severity = finding.Warn
		f.Ref = "RFC 7208 §6.1"
		f.SetFix(finding.T("Remove %s, or remove %s if the redirect target should decide", n.Record.Redirect.Text, n.Record.All().Text))
		locate(&f, n.Answer, n.Index)
		out = append(out, f)
	}
	for _, over := range n.MXOver {
		// §4.6.4: each mx evaluation may look up at most 10 address
		// names; more is a permerror when the term is reached. A sender
		// matched earlier never gets there, hence warn.
		f := finding.New("spf.lookup-limit", subject, finding.T("%s; receivers return permerror when they evaluate it (limit 10)", over), n.Records[0])
		f.Severity = finding.Warn
		f.SetFix(finding.T("Replace the mx term with ip4:/ip6: ranges of the hosts that send, or trim the MX RRset to 10 hosts"))
		locate(&f, n.Answer, n.Index)
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
func spfLimitFindings(tree *SPFTree, subject string) []finding.Finding {
	root := tree.Root
	var out []finding.Finding
	total, exact := tree.LookupCount()
	if total > spfMaxLookups {
		title := finding.T("SPF needs %d DNS lookups; the limit is %d", total, spfMaxLookups)
		if !exact {
			title = finding.T("SPF needs at least %d DNS lookups; the limit is %d", total, spfMaxLookups)
		}
		ev := []string{root.Records[0], fmt.Sprintf("%s's own a/mx/ptr/exists terms: %d", root.Domain, root.Own-len(root.Children))}
		heavy := slices.Clone(root.Children)
		slices.SortStableFunc(heavy, func(a, b *SPFNode) int { return b.Lookups() - a.Lookups() })
		for _, c := range root.Children {
			ev = append(ev, fmt.Sprintf("%s: %d (1 + %d inside)", c.Via, c.Lookups()+1, c.Lookups()))
		}
		f := finding.New("spf.lookup-limit", subject, title, ev...)
		var names []string
		for _, c := range heavy {
			if c.Lookups() > 0 {
				names = append(names, fmt.Sprintf("%s (%s)", c.Via, spfPlural(c.Lookups()+1, "lookup")))
			}
		}
		f.SetFix(finding.T("Remove %s: drop senders you no longer use, or flatten the heaviest includes into ip4:/ip6: ranges", spfPlural(total-spfMaxLookups, "lookup")))
		if len(names) > 0 {
			f.SetFix(f.FixText().Append(finding.T(": %s", strings.Join(names, ", "))))
		}
		locate(&f, root.Answer, root.Index)
		out = append(out, f)
	}
	if voids := tree.Voids(); voids > spfMaxVoids {
		var ev []string
		tree.walk(func(n *SPFNode) {
			for _, v := range n.Voids {
				ev = append(ev, n.Domain+": "+v)
			}
		})
		f := finding.New("spf.void-limit", subject, finding.T("SPF has %d void lookups; the limit is %d", voids, spfMaxVoids), ev...)
		f.SetFix(finding.T("Remove the terms whose names do not exist or have no records: %s", strings.Join(ev, ", ")))
		locate(&f, root.Answer, root.Index)
		out = append(out, f)
	}
	return out
}

// spfAllFindings judges what happens to a sender no mechanism matched: the
// root's all, or the redirect target's when there is no all (§6.1); and
// whether a +all anywhere in an include lets everyone pass (§5.2: include
// matches when the included record passes).
func spfAllFindings(root *SPFNode, subject string) []finding.Finding {
	var out []finding.Finding
	allNode, all := spfEffectiveAll(root)
	switch {
	case allNode == nil:
		// A redirect we could not follow: its verdict is reported there.
	case all == nil:
		f := finding.New("spf.all-neutral", subject, finding.T("SPF record of %s has no all mechanism and no redirect: unlisted senders get neutral", allNode.Domain), allNode.Records[0])
		f.SetFix(finding.T("End the record of %s with -all (or ~all while testing): %q", allNode.Domain, allNode.Record.String()+" -all"))
		locate(&f, allNode.Answer, allNode.Index)
		out = append(out, f)
	case all.Qualifier == spf.QualifierPass:
		f := finding.New("spf.all-pass", subject, finding.T("SPF record of %s ends in %s: every sender passes", allNode.Domain, all.Text), allNode.Records[0])
		f.SetFix(spfReplaceAllFix(allNode, "-all"))
		locate(&f, allNode.Answer, allNode.Index)
		out = append(out, f)
	case all.Qualifier == spf.QualifierNeutral:
		f := finding.New("spf.all-neutral", subject, finding.T("SPF record of %s ends in ?all: unlisted senders get neutral", allNode.Domain), allNode.Records[0])
		f.SetFix(spfReplaceAllFix(allNode, "-all"))
		locate(&f, allNode.Answer, allNode.Index)
		out = append(out, f)
	}
	if all == nil || all.Qualifier != spf.QualifierPass {
		if via := spfIncludedPassAll(root); via != nil {
			f := finding.New("spf.all-pass", subject, finding.T("%s passes every sender: %s ends in +all", via.Via, via.Domain), via.Records[0])
			f.SetFix(finding.T("Remove %s, or have its owner replace +all with -all", via.Via))
			locate(&f, via.Answer, via.Index)
			out = append(out, f)
		}
	}
	return out
}

// spfEffectiveAll returns the record whose all decides the fate of an
// unmatched sender and that all (nil: no all, neutral by §4.7). node is nil
// when a redirect could not be followed.
func spfEffectiveAll(n *SPFNode) (*SPFNode, *spf.Term) {
	for range spfMaxDepth {
		if n.Record == nil {
			return nil, nil
		}
		if all := n.Record.All(); all != nil {
			return n, all
		}
		if n.Record.Redirect == nil {
			return n, nil
		}
		next := slices.IndexFunc(n.Children, func(c *SPFNode) bool { return c.Via == n.Record.Redirect.Text })
		if next < 0 {
			return nil, nil // a macro in the redirect
		}
		n = n.Children[next]
	}
	return nil, nil
}

// spfIncludedPassAll finds an include (with a pass qualifier, so that its
// match passes the sender) whose target passes everyone.
func spfIncludedPassAll(n *SPFNode) *SPFNode {
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

func spfReplaceAllFix(n *SPFNode, with string) finding.Text {
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
func spfDetail(tree *SPFTree) []string {
	var lines []string
	var rec func(n *SPFNode, indent string)
	rec = func(n *SPFNode, indent string) {
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
