package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/mailcheck-cli/mailcheck/checks/dnsbl"
	"github.com/mailcheck-cli/mailcheck/facts"
	"github.com/mailcheck-cli/mailcheck/finding"
)

// DNSBLFlags are `mailcheck domain`'s blocklist flags: which DNS
// blocklists the mail addresses are looked up on.
type DNSBLFlags struct {
	Zones []string // --dnsbl ZONE (repeatable)
	None  bool     // --no-dnsbl
	// NSCheck is --ns-check: auto, always or never.
	NSCheck string
}

func (f *DNSBLFlags) register(cmd *cobra.Command, l finding.Lang) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.Zones, "dnsbl", nil,
		finding.T("DNS blocklist zone to look the mail addresses up on (repeatable; default for the domains named on the command line: %s; none for --file lists)", strings.Join(defaultDNSBLZones(), ", ")).In(l))
	fl.BoolVar(&f.None, "no-dnsbl", false, finding.T("look up no DNS blocklist").In(l))
	fl.StringVar(&f.NSCheck, "ns-check", "auto",
		finding.T("ask every name server of the zone directly: auto (for the domains named on the command line, not for --file lists), always, never").In(l))
}

func defaultDNSBLZones() []string {
	var out []string
	for _, l := range dnsbl.Default() {
		out = append(out, l.Zone)
	}
	return out
}

// lists resolves the flags to the blocklists to ask: the zones given, the
// default lists without --dnsbl, none with --no-dnsbl. A --file list gets
// no default lists: the public lists refuse a volume of queries from one
// resolver (and their terms forbid it), so every report would be
// inconclusive; give the zones of a feed you may use with --dnsbl.
func (f *DNSBLFlags) lists(bulk bool) ([]dnsbl.List, error) {
	if f.None && len(f.Zones) > 0 {
		return nil, usageErrorf("--dnsbl and --no-dnsbl contradict each other: give one")
	}
	if f.None {
		return nil, nil
	}
	if len(f.Zones) == 0 {
		if bulk {
			return nil, nil
		}
		return dnsbl.Default(), nil
	}
	var out []dnsbl.List
	for _, z := range f.Zones {
		zone := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(z), "."))
		labels := strings.Split(zone, ".")
		if zone == "" || len(labels) < 2 {
			return nil, usageErrorf("invalid --dnsbl %q: give a blocklist zone such as zen.spamhaus.org", z)
		}
		for _, l := range labels {
			if err := checkLabel(l); err != nil {
				return nil, usageErrorf("invalid --dnsbl %q: %v", z, err)
			}
		}
		out = append(out, dnsbl.Custom(zone))
	}
	return out, nil
}

// nameServerOptions asks the zone's name servers directly, on port 53 or
// the port --port-map gives for 53, leaving out IPv6 addresses when this
// host has no IPv6 route. Domains whose data comes from --zone files are
// not surveyed (facts.NSOptions). With --ns-check auto, a --file list is
// not surveyed: asking every server of every zone costs some 60 queries a
// domain, where a list audit costs about 15; the NS records are still
// judged.
func nameServerOptions(n *Net, check string, bulk bool) (facts.NSOptions, error) {
	ask := true
	switch check {
	case "auto", "":
		ask = !bulk
	case "always":
	case "never":
		ask = false
	default:
		return facts.NSOptions{}, usageErrorf("unknown --ns-check %q (want auto, always or never)", check)
	}
	return facts.NSOptions{Ask: ask, Port: n.Dialer.Port(53), SkipIPv6: ask && !facts.HasIPv6Route()}, nil
}
