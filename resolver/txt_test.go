package resolver_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/resolver"
	"github.com/mailcheck-cli/mailcheck/resolver/resolvertest"
)

func TestDecodeCharacterString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"v=spf1 -all", "v=spf1 -all"},
		{`v=DKIM1;\009k=rsa`, "v=DKIM1;\tk=rsa"},
		{`say \"hi\"`, `say "hi"`},
		{`back\\slash`, `back\slash`},
		{`a\;b`, "a;b"},
		{`\065\066C`, "ABC"},
		{`\000`, "\x00"},
		{`\255`, "\xff"},
		// miekg packs \999 as the byte 999 mod 256; the decoder agrees.
		{`\999`, string([]byte{byte(999 % 256)})},
		// Fewer than three digits: the escape is the first digit alone.
		{`\12x`, "12x"},
		{`end\`, "end"},
		{"raw\ttab", "raw\ttab"},
	}
	for _, tt := range tests {
		if got := resolver.DecodeCharacterString(tt.in); got != tt.want {
			t.Errorf("DecodeCharacterString(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// txtShapesZone holds TXT records in shapes real zones publish: tags
// separated by TABs (typed raw inside quotes, and as \009), quotes and
// backslashes escaped, semicolons escaped, keys folded over several
// character-strings, and a string split mid-tag.
const txtShapesZone = "$ORIGIN example.com.\n" +
	"$TTL 300\n" +
	"@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n" +
	"@ IN NS ns1\n" +
	"ns1 IN A 192.0.2.53\n" +
	"_dmarc IN TXT \"v=DMARC1;\tp=reject;\trua=mailto:d@example.com\"\n" +
	"_smtp._tls IN TXT \"v=TLSRPTv1;\\009rua=mailto:tls@example.com\"\n" +
	"quoted IN TXT \"say \\\"hi\\\" \\\\o/\"\n" +
	"semi IN TXT \"v=DMARC1\\; p=none\"\n" +
	"dec IN TXT \"v=spf1\\032-all\"\n" +
	"s1._domainkey IN TXT ( \"v=DKIM1; k=rsa; \"\n" +
	"                       \"p=MIIBIjAN\" \"BgkqhkiG\" )\n" +
	"split IN TXT \"v=spf1 ip4:192.0.2.0/2\" \"4 -all\"\n"

func TestTXTDecodedSameFromZoneAndWire(t *testing.T) {
	zone, err := resolver.NewZone(resolver.ZoneSource{File: "example.com.zone", Data: []byte(txtShapesZone)})
	if err != nil {
		t.Fatal(err)
	}
	live := newLive(t, resolvertest.StartServer(t, zone, 0))
	tests := []struct{ name, want string }{
		{"_dmarc.example.com", "v=DMARC1;\tp=reject;\trua=mailto:d@example.com"},
		{"_smtp._tls.example.com", "v=TLSRPTv1;\trua=mailto:tls@example.com"},
		{"quoted.example.com", `say "hi" \o/`},
		{"semi.example.com", "v=DMARC1; p=none"},
		{"dec.example.com", "v=spf1 -all"},
		{"s1._domainkey.example.com", "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG"},
		{"split.example.com", "v=spf1 ip4:192.0.2.0/24 -all"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			fromZone, _, err := resolver.TXT(ctx, zone, tt.name)
			if err != nil {
				t.Fatal(err)
			}
			fromWire, ans, err := resolver.TXT(ctx, live, tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(fromZone, []string{tt.want}) {
				t.Errorf("from the zone file: %q, want %q", fromZone, tt.want)
			}
			if !slices.Equal(fromWire, []string{tt.want}) {
				t.Errorf("from the server: %q, want %q (presentation form %q)", fromWire, tt.want, ans.RRs[0].(*dns.TXT).Txt)
			}
			if data, ok := resolver.TXTData(ans.RRs[0]); !ok || data != tt.want {
				t.Errorf("TXTData = %q, %v", data, ok)
			}
		})
	}
	if _, ok := resolver.TXTData(&dns.A{}); ok {
		t.Error("TXTData accepted an A record")
	}
}

func FuzzDecodeCharacterString(f *testing.F) {
	for _, s := range []string{`v=DKIM1;\009k=rsa`, `\"`, `\\`, `\999`, `end\`, "raw\ttab"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// What miekg sends for a string is what the decoder returns: pack
		// the string into a record, unpack it, and decode both forms.
		if len(s) > 255 {
			return
		}
		rr := &dns.TXT{Hdr: dns.RR_Header{Name: "x.", Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: []string{s}}
		buf := make([]byte, 4096)
		off, err := dns.PackRR(rr, buf, 0, nil, false)
		if err != nil {
			return // longer than 255 octets once decoded, or similar
		}
		back, _, err := dns.UnpackRR(buf[:off], 0)
		if err != nil {
			t.Fatalf("unpack: %v", err)
		}
		a := resolver.DecodeCharacterString(s)
		b, _ := resolver.TXTData(back)
		if a != b {
			t.Errorf("decoded %q as %q, but the wire carries %q", s, a, b)
		}
	})
}
