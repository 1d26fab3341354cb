package facts

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/checks/spf"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// RFC 7208 §4.6.4 limits.
const (
	SPFMaxLookups = 10 // DNS-querying terms per check_host() evaluation
	SPFMaxVoids   = 2  // lookups that return NXDOMAIN or no answer
	SPFMaxMXNames = 10 // MX names one "mx" term may look up
)

// Bounds on the walk itself, so that a hostile or broken include graph
// cannot make the audit explode: past 10 lookups the verdict is known.
const (
	SPFMaxDepth = SPFMaxLookups + 2
	spfMaxNodes = 64
)

// SPFTree is a domain's SPF policy with every include and redirect target
// it reaches, as check_host() would walk them, with what each costs in DNS
// lookups. Build it with GatherSPF.
type SPFTree struct {
	Root *SPFNode
	// MXChecks are check_host() evaluated for each address of the
	// domain's MX hosts (see SPFCheck).
	MXChecks []SPFCheck
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
	MXOver []MXOver
}

// MXOver is an mx term whose MX RRset names more hosts than one evaluation
// may look up.
type MXOver struct {
	Term  string
	Hosts int
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
	t.Walk(func(n *SPFNode) { total += len(n.Voids) })
	return total
}

// Walk calls f on every node, parents before children.
func (t *SPFTree) Walk(f func(*SPFNode)) {
	var rec func(*SPFNode)
	rec = func(n *SPFNode) {
		f(n)
		for _, c := range n.Children {
			rec(c)
		}
	}
	rec(t.Root)
}

// GatherSPF fetches domain's SPF record and walks its include and redirect
// targets; siblings are fetched concurrently, so the walk costs one round
// trip per level of the tree. Lookup failures are kept in the nodes.
func GatherSPF(ctx context.Context, r resolver.Resolver, domain string) *SPFTree {
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
		if t, ok := rr.(*dns.TXT); ok && spf.IsSPF(resolver.JoinCharacterStrings(t.Txt)) {
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
	// Only what check_host() can reach is walked and counted: mechanisms
	// after all are never evaluated (RFC 7208 §5.1), and a redirect beside
	// an all is never followed (§6.1).
	terms := rec.LookupTerms()
	slots := make([]*SPFNode, len(terms))
	for i, term := range terms {
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
			case child.Depth > SPFMaxDepth || w.nodes.Add(1) > spfMaxNodes:
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
				if names > SPFMaxMXNames {
					n.MXOver = append(n.MXOver, MXOver{Term: term.Text, Hosts: names})
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
