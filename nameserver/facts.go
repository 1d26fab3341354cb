package nameserver

import (
	"cmp"
	"slices"
	"strings"
)

// SerialLess reports whether SOA serial a is older than b in serial number
// arithmetic (RFC 1982 §3.2): serials wrap around 2^32, so 1 is newer than
// 4294967295. Two serials exactly 2^31 apart are undefined; neither is
// less.
func SerialLess(a, b uint32) bool {
	const half = 1 << 31
	return a != b && ((a < b && b-a < half) || (a > b && a-b > half))
}

// Newest returns the newest serial any authoritative server serves.
func (s *Survey) Newest() (uint32, bool) {
	var newest uint32
	found := false
	for _, srv := range s.Servers {
		for _, r := range srv.Replies {
			if r.Status == Authoritative && (!found || SerialLess(newest, r.Serial)) {
				newest, found = r.Serial, true
			}
		}
	}
	return newest, found
}

// Where names one address of one server: "ns1.example.com (192.0.2.53)".
type Where struct {
	Host string
	Addr string
}

func (w Where) String() string { return strings.TrimSuffix(w.Host, ".") + " (" + w.Addr + ")" }

// Stale is an authoritative server address serving an older serial than
// the newest one seen: it has not loaded the latest version of the zone.
type Stale struct {
	Where
	Serial, Newest uint32
}

// Stale lists the server addresses behind the newest serial, by server.
func (s *Survey) Stale() []Stale {
	newest, ok := s.Newest()
	if !ok {
		return nil
	}
	var out []Stale
	for _, srv := range s.Servers {
		for _, r := range srv.Replies {
			if r.Status == Authoritative && SerialLess(r.Serial, newest) {
				out = append(out, Stale{Where: Where{srv.Host, r.Addr.String()}, Serial: r.Serial, Newest: newest})
			}
		}
	}
	return out
}

// ByStatus lists the server addresses whose reply has the given status.
func (s *Survey) ByStatus(st Status) []Where {
	var out []Where
	for _, srv := range s.Servers {
		for _, r := range srv.Replies {
			if r.Status == st {
				out = append(out, Where{srv.Host, r.Addr.String()})
			}
		}
	}
	return out
}

// NoAddress lists the servers that have no address at all (and whose
// address lookup did not fail): nobody can ask them anything.
func (s *Survey) NoAddress() []string {
	var out []string
	for _, srv := range s.Servers {
		if len(srv.Addrs) == 0 && srv.AddrErr == nil {
			out = append(out, srv.Host)
		}
	}
	return out
}

// Variant is one version of a record set and the servers serving it.
type Variant struct {
	Set     RecordSet
	Servers []Where
}

// Disagreement is a question whose authoritative servers serve different
// data. Servers whose answer failed are not counted: they say nothing.
type Disagreement struct {
	Question Question
	Variants []Variant // most served first
}

// Disagreements lists the questions the authoritative servers answer
// differently.
func (s *Survey) Disagreements() []Disagreement {
	var out []Disagreement
	for qi, q := range s.Questions {
		var variants []Variant
		for _, srv := range s.Servers {
			for _, r := range srv.Replies {
				if r.Status != Authoritative || qi >= len(r.Records) || r.Records[qi].Err != nil {
					continue
				}
				set := r.Records[qi]
				i := slices.IndexFunc(variants, func(v Variant) bool { return v.Set.Key() == set.Key() })
				if i < 0 {
					variants = append(variants, Variant{Set: set})
					i = len(variants) - 1
				}
				variants[i].Servers = append(variants[i].Servers, Where{srv.Host, r.Addr.String()})
			}
		}
		if len(variants) > 1 {
			slices.SortStableFunc(variants, func(a, b Variant) int { return cmp.Compare(len(b.Servers), len(a.Servers)) })
			out = append(out, Disagreement{Question: q, Variants: variants})
		}
	}
	return out
}

// OnlyInParent lists the name servers the parent delegates to that the
// zone's own NS RRset does not list, and OnlyInChild the reverse (RFC 1034
// §4.2.2: the two should be the same). Both are empty when either side is
// unknown.
func (s *Survey) OnlyInParent() []string { return s.onlyIn(true) }

// OnlyInChild: see OnlyInParent.
func (s *Survey) OnlyInChild() []string { return s.onlyIn(false) }

func (s *Survey) onlyIn(parentSide bool) []string {
	if s.Parent.Err != nil || s.Child.Err != nil {
		return nil
	}
	var out []string
	for _, srv := range s.Servers {
		if parentSide && srv.InParent && !srv.InChild || !parentSide && srv.InChild && !srv.InParent {
			out = append(out, srv.Host)
		}
	}
	return out
}

// NameServerCount is the number of distinct name servers the delegation
// names (the parent's view, else the child's): RFC 1034 §4.1 and RFC 2182
// §5 ask for at least two.
func (s *Survey) NameServerCount() int {
	if s.Parent.Err == nil && len(s.Parent.NameServers) > 0 {
		return len(s.Parent.NameServers)
	}
	return len(s.Child.NameServers)
}
