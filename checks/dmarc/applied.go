package dmarc

// Applied is the policy a receiver applies to mail from one domain, and the
// tag it comes from.
type Applied struct {
	Policy Policy
	// Tag is "p", "sp" or "np": where Policy was read. It falls back as
	// the RFC says when the tag it would use is absent.
	Tag string
}

// PolicyFor returns the policy that applies to a domain under this record.
//
//   - The record is the domain's own (inherited false): p, whatever else
//     the record says; sp and np speak of subdomains.
//   - The record is inherited from an ancestor found by the tree walk
//     (RFC 9989 §4.10) and the domain exists: sp, else p.
//   - Inherited and the domain does not exist: np, else sp, else p. RFC
//     9989 (np, from RFC 9091 §4.1) defines a non-existent domain as one
//     for which A, AAAA and MX queries all return NXDOMAIN or NODATA; see
//     NonExistent.
func (r *Record) PolicyFor(inherited, exists bool) Applied {
	switch {
	case !inherited:
		return Applied{Policy: r.Policy, Tag: "p"}
	case !exists && r.NonexistentPolicy != "":
		return Applied{Policy: r.NonexistentPolicy, Tag: "np"}
	case r.SubdomainPolicy != "":
		return Applied{Policy: r.SubdomainPolicy, Tag: "sp"}
	}
	return Applied{Policy: r.Policy, Tag: "p"}
}

// NonExistent applies RFC 9989's definition (after RFC 9091 §2.7): a
// domain does not exist for DMARC when its A, AAAA and MX queries each
// returned NXDOMAIN or NODATA. Pass whether each query found records; a
// query that failed makes the answer unknown, and the caller must not call
// this. It is broader than NXDOMAIN alone (RFC 8020): a name that exists
// only to hold other records (TXT, _dmarc below it) is non-existent too.
func NonExistent(hasA, hasAAAA, hasMX bool) bool { return !hasA && !hasAAAA && !hasMX }
