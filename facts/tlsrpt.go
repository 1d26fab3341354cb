package facts

import (
	"context"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/checks/tlsrpt"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// TLSRPT is the TLS-RPT record set at _smtp._tls.<domain> (RFC 8460 §3).
type TLSRPT struct {
	Lookup Lookup
	// Records are the TXT records starting v=TLSRPTv1; Others the rest.
	Records, Others []TXT
}

func gatherTLSRPT(ctx context.Context, r resolver.Resolver, domain string) TLSRPT {
	t := TLSRPT{Lookup: ask(ctx, r, "_smtp._tls."+domain, dns.TypeTXT)}
	for _, txt := range t.Lookup.TXTs() {
		if tlsrpt.IsRecord(txt.Text) {
			t.Records = append(t.Records, txt)
		} else {
			t.Others = append(t.Others, txt)
		}
	}
	return t
}
