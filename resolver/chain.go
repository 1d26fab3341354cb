package resolver

import "context"

// Chain answers names inside Zone from the zone files and every other name
// from Next (--zone beside --resolver). Without Next, a name outside the
// zones is an OutOfZone error, which checks report as "not checked" rather
// than as a missing record (SPEC, --zone), and a name the zones delegate
// is the Referral error their server would give. With Next, a delegated
// name is asked of Next, which follows the delegation as a recursive
// resolver does.
type Chain struct {
	Zone *Zone
	Next Resolver
}

// Query implements Resolver.
func (c Chain) Query(ctx context.Context, name string, qtype uint16) (*Answer, error) {
	name = canonical(name)
	if c.Zone != nil && c.Zone.find(name, qtype) != nil {
		return c.Zone.Query(ctx, name, qtype)
	}
	if c.Next != nil {
		return c.Next.Query(ctx, name, qtype)
	}
	if c.Zone != nil {
		return c.Zone.Query(ctx, name, qtype)
	}
	return nil, &Error{Kind: OutOfZone, Name: name, Qtype: qtype}
}
