package resolver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// maxZoneFileSize bounds what a zone file may weigh: a mail domain's zone
// is kilobytes; a bigger file is a mistake on the command line.
const maxZoneFileSize = 16 << 20

// ZoneError is a zone file that cannot be used. Its Error is "FILE:LINE:
// reason", the form editors and CI annotations understand, or "FILE:
// reason" when no line is at fault (Line 0: the file cannot be read).
type ZoneError struct {
	File   string
	Line   int
	Reason string
}

func (e *ZoneError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Reason)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
}

// Zone answers from RFC 1035 zone files as their authoritative server
// would. It holds one or more zones; the zone whose origin is the longest
// suffix of a name answers for it. A Zone is read-only once loaded and safe
// for concurrent queries; load every file before the first query.
type Zone struct {
	zones []*zoneData // longest origin first
}

// zoneData is one zone file.
type zoneData struct {
	origin string // lower case, fully qualified
	file   string
	soa    *dns.SOA
	nodes  map[string]*node // by lower-case owner name
	// exists holds every owner name and every name between an owner and
	// the origin: empty non-terminals exist too (RFC 4592 §2.2.2).
	exists map[string]bool
	// cuts are the owner names below the apex that hold NS records: the
	// delegation points, below which this zone is not authoritative
	// (RFC 1034 §4.2.1).
	cuts map[string]bool
}

// node is the records at one owner name, in file order.
type node struct {
	rrs     []dns.RR
	origins []Origin
}

// ZoneSource is the content of one zone file, for zones not read from disk
// (the embedded fixtures).
type ZoneSource struct {
	File   string // named in Origin and ZoneError
	Origin string // default origin; "" derives it from File (see ParseZone)
	Data   []byte
}

// NewZone loads zone files held in memory.
func NewZone(srcs ...ZoneSource) (*Zone, error) {
	z := &Zone{}
	for _, s := range srcs {
		if err := ParseZone(z, s.File, s.Origin, bytes.NewReader(s.Data)); err != nil {
			return nil, err
		}
	}
	return z, nil
}

// LoadZoneFiles reads zone files from disk (--zone). Each file's default
// origin is its base name without ".zone".
func LoadZoneFiles(paths []string) (*Zone, error) {
	z := &Zone{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, &ZoneError{File: p, Reason: unwrapPathError(err)}
		}
		err = ParseZone(z, p, "", f)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return z, nil
}

func unwrapPathError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// ParseZone adds one zone file to z. Relative names start from origin (the
// file's base name without ".zone" when empty). The zone's apex is the
// owner of its SOA record, else an $ORIGIN before the first record, else
// that default origin. Every record must lie at or below the origin; a file
// without records is refused, since answering NXDOMAIN for a whole domain
// from an empty file would turn a mistake into false findings.
func ParseZone(z *Zone, file, origin string, r io.Reader) error {
	data, err := io.ReadAll(io.LimitReader(r, maxZoneFileSize+1))
	if err != nil {
		return &ZoneError{File: file, Reason: err.Error()}
	}
	if len(data) > maxZoneFileSize {
		return &ZoneError{File: file, Line: 1, Reason: fmt.Sprintf("larger than %d bytes", maxZoneFileSize)}
	}
	if origin == "" {
		origin = strings.TrimSuffix(filepath.Base(file), ".zone")
	}
	origin = strings.ToLower(dns.Fqdn(origin))
	if _, ok := dns.IsDomainName(origin); !ok {
		return &ZoneError{File: file, Line: 1, Reason: "cannot derive an origin from the file name; start the file with $ORIGIN"}
	}

	ents := scanEntries(data)
	rrs, lines, err := parseRecords(data, file, origin, ents)
	if err != nil {
		return err
	}
	if len(rrs) == 0 {
		return &ZoneError{File: file, Line: 1, Reason: "no records"}
	}

	// The SOA owner names the zone whatever $ORIGIN said (a file may set
	// $ORIGIN to the parent and name its apex relatively); then an $ORIGIN
	// before the first record; then the default.
	apex, apexFrom := origin, "the file name"
	if origin != strings.ToLower(dns.Fqdn(strings.TrimSuffix(filepath.Base(file), ".zone"))) {
		apexFrom = "the default origin"
	}
	if name, line, ok := leadingOrigin(ents, origin); ok {
		apex, apexFrom = name, fmt.Sprintf("$ORIGIN on line %d", line)
	}
	for i, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeSOA {
			apex, apexFrom = strings.ToLower(rr.Header().Name), fmt.Sprintf("the SOA on line %d", lines[i])
			break
		}
	}
	zd, err := buildZone(file, apex, apexFrom, rrs, lines)
	if err != nil {
		return err
	}
	for _, other := range z.zones {
		if other.origin == zd.origin {
			return &ZoneError{File: file, Line: 1,
				Reason: fmt.Sprintf("zone %s is already loaded from %s", zd.origin, other.file)}
		}
	}
	z.zones = append(z.zones, zd)
	slices.SortStableFunc(z.zones, func(a, b *zoneData) int {
		return dns.CountLabel(b.origin) - dns.CountLabel(a.origin)
	})
	return nil
}

func buildZone(file, apex, apexFrom string, rrs []dns.RR, lines []int) (*zoneData, error) {
	zd := &zoneData{origin: apex, file: file, nodes: map[string]*node{},
		exists: map[string]bool{}, cuts: map[string]bool{}}
	for i, rr := range rrs {
		h := rr.Header()
		name := strings.ToLower(h.Name)
		if !dns.IsSubDomain(apex, name) {
			return nil, &ZoneError{File: file, Line: lines[i],
				Reason: fmt.Sprintf("%s is outside the zone's origin %s (from %s)", h.Name, apex, apexFrom)}
		}
		switch h.Rrtype {
		case dns.TypeSOA:
			if name != apex {
				return nil, &ZoneError{File: file, Line: lines[i],
					Reason: fmt.Sprintf("SOA owner %s is not the zone's origin %s", h.Name, apex)}
			}
			if zd.soa != nil {
				return nil, &ZoneError{File: file, Line: lines[i], Reason: "a second SOA record"}
			}
			zd.soa = rr.(*dns.SOA)
		case dns.TypeNS:
			if name != apex {
				zd.cuts[name] = true
			}
		}
		n := zd.nodes[name]
		if n == nil {
			n = &node{}
			zd.nodes[name] = n
		}
		if slices.ContainsFunc(n.rrs, func(o dns.RR) bool { return dns.IsDuplicate(o, rr) }) {
			// RFC 2181 §5: an RRset holds no duplicates; a repeated line
			// is one record.
			continue
		}
		n.rrs = append(n.rrs, rr)
		n.origins = append(n.origins, Origin{File: file, Line: lines[i]})
		for cur := name; ; cur = parent(cur) {
			zd.exists[cur] = true
			if cur == apex || cur == "." {
				break
			}
		}
	}
	for name, n := range zd.nodes {
		if err := checkCNAME(file, name, n); err != nil {
			return nil, err
		}
	}
	return zd, nil
}

// checkCNAME enforces RFC 1034 §3.6.2 and RFC 2181 §10.1: a CNAME is the
// only data at its name (beside DNSSEC records, RFC 4035 §2.5), and there is
// one.
func checkCNAME(file, name string, n *node) error {
	cnames, others := 0, -1
	for i, rr := range n.rrs {
		switch rr.Header().Rrtype {
		case dns.TypeCNAME:
			cnames++
			if cnames > 1 {
				return &ZoneError{File: file, Line: n.origins[i].Line,
					Reason: fmt.Sprintf("a second CNAME at %s (RFC 2181 §10.1)", name)}
			}
		case dns.TypeRRSIG, dns.TypeNSEC:
		default:
			if others < 0 {
				others = i
			}
		}
	}
	if cnames > 0 && others >= 0 {
		line := 0
		for i, rr := range n.rrs {
			if rr.Header().Rrtype == dns.TypeCNAME || i == others {
				line = max(line, n.origins[i].Line)
			}
		}
		return &ZoneError{File: file, Line: line,
			Reason: fmt.Sprintf("CNAME and other data at %s (RFC 1034 §3.6.2)", name)}
	}
	return nil
}

// parent returns the name one label up; the root's parent is the root.
func parent(name string) string {
	idx := dns.Split(name) // label offsets, escaped dots respected
	if len(idx) < 2 {
		return "."
	}
	return name[idx[1]:]
}

// parseErrorLine matches the position miekg/dns appends to a ParseError's
// message; the type does not export it.
var parseErrorLine = regexp.MustCompile(`^(?:dns: )?(.*) at line: (\d+):\d+$`)

// parseRecords runs miekg's zone parser over the whole file (so $ORIGIN,
// $TTL, owner and class inheritance behave exactly as the parser defines)
// and pairs each record with the line its entry starts on, from ents.
func parseRecords(data []byte, file, origin string, ents []entry) ([]dns.RR, []int, error) {
	var want []int // the start line of each record the parser will return
	for _, e := range ents {
		switch e.directive {
		case "":
			want = append(want, e.line)
		case "$GENERATE":
			for range countGenerated(data[e.start:e.end]) {
				want = append(want, e.line)
			}
		}
	}
	lineOf := func(k int) int {
		if k < len(want) {
			return want[k]
		}
		if len(want) > 0 {
			return want[len(want)-1]
		}
		return 1
	}
	zp := dns.NewZoneParser(bytes.NewReader(data), origin, "")
	zp.SetDefaultTTL(3600)
	var rrs []dns.RR
	var lines []int
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
		lines = append(lines, lineOf(len(rrs)-1))
	}
	if err := zp.Err(); err != nil {
		ze := &ZoneError{File: file, Line: lineOf(len(rrs)), Reason: err.Error()}
		if m := parseErrorLine.FindStringSubmatch(err.Error()); m != nil {
			ze.Reason = m[1]
			ze.Line, _ = strconv.Atoi(m[2])
		}
		return nil, nil, ze
	}
	if len(rrs) != len(want) {
		// The scanner and the parser disagree on where entries end: better
		// to refuse the file than to point SARIF results at wrong lines.
		return nil, nil, &ZoneError{File: file, Line: lineOf(min(len(rrs), len(want))),
			Reason: "cannot tell which line each record comes from"}
	}
	return rrs, lines, nil
}

// countGenerated says how many records a $GENERATE entry expands to; its
// names do not matter for the count, so it is parsed on its own.
func countGenerated(entry []byte) int {
	zp := dns.NewZoneParser(bytes.NewReader(entry), ".", "")
	zp.SetDefaultTTL(3600)
	n := 0
	for _, ok := zp.Next(); ok; _, ok = zp.Next() {
		n++
	}
	return n
}

// leadingOrigin returns the name of an $ORIGIN directive that comes before
// the file's first record, made absolute against the initial origin, and
// its line.
func leadingOrigin(ents []entry, origin string) (name string, line int, ok bool) {
	for _, e := range ents {
		switch {
		case e.directive == "":
			return "", 0, false
		case e.directive == "$ORIGIN" && e.arg != "":
			name = e.arg
			if !dns.IsFqdn(name) {
				name += "." + strings.TrimPrefix(origin, ".")
			}
			return strings.ToLower(name), e.line, true
		}
	}
	return "", 0, false
}

// entry is one logical line of a zone file: a record or a directive, which
// parentheses and quoted strings may spread over several physical lines
// (RFC 1035 §5.1).
type entry struct {
	line       int    // where it starts, 1-based
	start, end int    // byte offsets in the file
	directive  string // "$ORIGIN", "$TTL", "$INCLUDE", "$GENERATE" or "" for a record
	arg        string // the directive's first argument
}

// scanEntries splits a zone file into entries following the lexical rules
// of miekg's lexer (comments, quotes, escapes, parentheses), so that the
// n-th record entry is the n-th record the parser returns. Entries with
// only blanks and comments are dropped.
func scanEntries(data []byte) []entry {
	var ents []entry
	var (
		line                   = 1
		quote, comment, escape bool
		brace                  int
		cur                    = entry{line: 0}
		content                bool
		startOfLine            = true // at the start of an entry's first line
		leadingBlank           bool
	)
	flush := func(end int) {
		if content {
			cur.end = end
			if !leadingBlank {
				classifyDirective(&cur, data[cur.start:end])
			}
			ents = append(ents, cur)
		}
		cur, content, startOfLine, leadingBlank = entry{}, false, true, false
	}
	mark := func(i int) {
		if !content {
			content = true
			cur.line, cur.start = line, i
		}
	}
	for i, c := range data {
		if startOfLine && !content && brace == 0 {
			if c == ' ' || c == '\t' {
				leadingBlank = true
			}
			startOfLine = false
		}
		switch c {
		case ' ', '\t':
			if (escape || quote) && !comment {
				escape = false
				mark(i)
			}
		case ';':
			if escape || quote {
				escape = false
				mark(i)
			} else {
				comment = true
			}
		case '\r':
			escape = false
		case '\n':
			escape = false
			line++
			if quote {
				break
			}
			comment = false
			if brace == 0 {
				flush(i)
			}
		case '\\':
			if comment {
				break
			}
			mark(i)
			escape = !escape
		case '"':
			if comment {
				break
			}
			mark(i)
			if escape {
				escape = false
			} else {
				quote = !quote
			}
		case '(', ')':
			if comment {
				break
			}
			if escape || quote {
				escape = false
				mark(i)
				break
			}
			if c == '(' {
				brace++
			} else if brace > 0 {
				brace--
			}
		default:
			escape = false
			if !comment {
				mark(i)
			}
		}
	}
	flush(len(data))
	return ents
}

// classifyDirective fills in e.directive and e.arg when the entry, which
// starts in the first column, is a $ directive.
func classifyDirective(e *entry, text []byte) {
	f := strings.Fields(string(text))
	if len(f) == 0 || !strings.HasPrefix(f[0], "$") {
		return
	}
	switch d := strings.ToUpper(f[0]); d {
	case "$ORIGIN", "$TTL", "$INCLUDE", "$GENERATE":
		e.directive = d
		if len(f) > 1 {
			e.arg = f[1]
		}
	}
}

// Files lists the zone files loaded, with their origins, longest origin
// first.
func (z *Zone) Files() []ZoneFile {
	out := make([]ZoneFile, len(z.zones))
	for i, zd := range z.zones {
		out[i] = ZoneFile{File: zd.file, Origin: zd.origin}
	}
	return out
}

// ZoneFile is one loaded zone file and its origin.
type ZoneFile struct {
	File   string
	Origin string // lower case, fully qualified
}

// Origins lists the origins of the loaded zones, longest first.
func (z *Zone) Origins() []string {
	out := make([]string, len(z.zones))
	for i, zd := range z.zones {
		out[i] = zd.origin
	}
	return out
}

// Contains reports whether a loaded zone is authoritative for name: it
// lies at or below the zone's origin and not at or below a delegation.
func (z *Zone) Contains(name string) bool {
	return z.find(canonical(name), 0) != nil
}

// NamesUnder lists the owner names the loaded zones hold strictly below
// name (lower case, fully qualified, sorted), wildcards included: in zone
// mode the DKIM check asks every selector the zone publishes under
// _domainkey.<domain>.
func (z *Zone) NamesUnder(name string) []string {
	name = canonical(name)
	var out []string
	for _, zd := range z.zones {
		for owner := range zd.nodes {
			if owner != name && dns.IsSubDomain(name, owner) && z.find(owner, dns.TypeTXT) == zd {
				out = append(out, owner)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func canonical(name string) string { return strings.ToLower(dns.Fqdn(name)) }

// find returns the zone authoritative for name and qtype, or nil.
func (z *Zone) find(name string, qtype uint16) *zoneData {
	for _, zd := range z.zones {
		if !dns.IsSubDomain(zd.origin, name) {
			continue
		}
		if zd.delegated(name, qtype) {
			// The child holds the data; a longer origin was already tried,
			// and a shorter one is an ancestor of this cut too.
			return nil
		}
		return zd
	}
	return nil
}

// delegated reports whether name lies at or below a cut of zd. The DS RRset
// at a cut belongs to the parent side (RFC 4035 §3.1.4.1).
func (zd *zoneData) delegated(name string, qtype uint16) bool {
	if len(zd.cuts) == 0 {
		return false
	}
	for cur := name; cur != zd.origin; cur = parent(cur) {
		if zd.cuts[cur] && !(cur == name && qtype == dns.TypeDS) {
			return true
		}
		if cur == "." {
			break
		}
	}
	return false
}

// Query implements Resolver with the answers the zone's authoritative
// server would give (RFC 1034 §4.3.2, RFC 4592 for wildcards). A CNAME at
// the name is returned, not followed. A name at or below a delegation of a
// loaded zone (and in no loaded child zone) is a Referral error, as the
// zone's server refers it; a name outside every zone is OutOfZone.
func (z *Zone) Query(ctx context.Context, name string, qtype uint16) (*Answer, error) {
	name = canonical(name)
	zd := z.find(name, qtype)
	if zd == nil {
		if ref := z.referral(name, qtype); ref != nil {
			return nil, &Error{Kind: Referral, Name: name, Qtype: qtype, Server: "zone:" + ref.file, Err: ref.delegation()}
		}
		return nil, &Error{Kind: OutOfZone, Name: name, Qtype: qtype}
	}
	ans := &Answer{Name: name, Qtype: qtype, Server: "zone:" + zd.file}
	rrs, origins, rcode := zd.lookup(name, qtype)
	ans.Rcode = rcode
	for i, rr := range rrs {
		ans.RRs = append(ans.RRs, dns.Copy(rr))
		ans.Origins = append(ans.Origins, origins[i])
	}
	return ans, nil
}

// lookup returns the zone's records for an in-zone name, shared with the
// zone (callers copy them), and the rcode. Wildcard answers carry name as
// their owner.
func (zd *zoneData) lookup(name string, qtype uint16) ([]dns.RR, []Origin, int) {
	if n := zd.nodes[name]; n != nil {
		rrs, origins := n.match(qtype)
		return rrs, origins, dns.RcodeSuccess
	}
	if zd.exists[name] {
		return nil, nil, dns.RcodeSuccess // empty non-terminal: NODATA
	}
	// RFC 4592 §3.3.1: the closest encloser is the longest existing
	// ancestor; a wildcard directly below it is the source of synthesis.
	// Names that exist, empty non-terminals included, never match one.
	encloser := parent(name)
	for !zd.exists[encloser] && encloser != zd.origin && encloser != "." {
		encloser = parent(encloser)
	}
	wild := zd.nodes["*."+encloser]
	if encloser == "." {
		wild = zd.nodes["*."]
	}
	if wild == nil {
		return nil, nil, dns.RcodeNameError
	}
	rrs, origins := wild.match(qtype)
	out := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		out[i] = dns.Copy(rr)
		out[i].Header().Name = name
	}
	return out, origins, dns.RcodeSuccess
}

// match picks the records a query for qtype gets at this node: the RRset
// of that type, else the CNAME (RFC 1034 §4.3.2 step 3a), else none.
func (n *node) match(qtype uint16) ([]dns.RR, []Origin) {
	var rrs []dns.RR
	var origins []Origin
	for i, rr := range n.rrs {
		if t := rr.Header().Rrtype; t == qtype || qtype == dns.TypeANY {
			rrs = append(rrs, rr)
			origins = append(origins, n.origins[i])
		}
	}
	if len(rrs) > 0 || qtype == dns.TypeCNAME {
		return rrs, origins
	}
	for i, rr := range n.rrs {
		if rr.Header().Rrtype == dns.TypeCNAME {
			return []dns.RR{rr}, []Origin{n.origins[i]}
		}
	}
	return nil, nil
}

// DelegationAt returns the delegation a loaded zone publishes at name (its
// NS records at that cut), or nil when no loaded zone delegates name. It
// answers even when the child zone is loaded too, which Query then answers
// for: a name-server check compares the parent's delegation with the NS
// RRset at the child's apex (RFC 1034 §4.2.2), and in zone mode both sides
// are in the files.
func (z *Zone) DelegationAt(name string) *Delegation {
	name = canonical(name)
	for _, zd := range z.zones {
		if name == zd.origin || !dns.IsSubDomain(zd.origin, name) || !zd.cuts[name] {
			continue
		}
		d := &Delegation{Zone: name}
		for _, rr := range zd.nodes[name].rrs {
			if ns, ok := rr.(*dns.NS); ok {
				d.NameServers = append(d.NameServers, canonical(ns.Ns))
			}
		}
		return d
	}
	return nil
}
