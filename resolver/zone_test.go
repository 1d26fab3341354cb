package resolver_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/fixtures"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// testZone exercises every branch of the lookup algorithm. Line numbers
// matter: the tests below assert them.
const testZone = `$ORIGIN example.com.
$TTL 300
@        IN SOA ns1 hostmaster 1 7200 3600 1209600 300
@        IN NS  ns1
@        IN MX  10 mail
ns1      IN A   192.0.2.53
mail     IN A   192.0.2.25
         IN AAAA 2001:db8::25
alias    IN CNAME mail
; a comment line, then a record spread over three lines
s1._domainkey IN TXT ( "v=DKIM1; k=rsa; "
                       "p=MIIB" ; the key, shortened
                     )
*.wild   IN TXT "wildcard"
*.wild   IN MX  0 .
exists.wild IN A 192.0.2.1
a.b.c    IN A   192.0.2.2
sub      IN NS  ns.sub
ns.sub   IN A   192.0.2.54
sub      IN DS  12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
`

func loadTestZone(t *testing.T) *resolver.Zone {
	t.Helper()
	z, err := resolver.NewZone(resolver.ZoneSource{File: "example.com.zone", Data: []byte(testZone)})
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func TestZoneQuery(t *testing.T) {
	z := loadTestZone(t)
	tests := []struct {
		name   string
		qname  string
		qtype  uint16
		rcode  int
		rrs    []string // expected records, presentation form without TTL/class
		lines  []int
		outOfZ bool
		// referral is the zone a Referral error must name: the zone's
		// server refers the name to the child's servers.
		referral string
	}{
		{name: "apex MX", qname: "example.com", qtype: dns.TypeMX,
			rrs: []string{"example.com. MX 10 mail.example.com."}, lines: []int{5}},
		{name: "case-insensitive", qname: "MAIL.Example.COM.", qtype: dns.TypeA,
			rrs: []string{"mail.example.com. A 192.0.2.25"}, lines: []int{7}},
		{name: "inherited owner", qname: "mail.example.com", qtype: dns.TypeAAAA,
			rrs: []string{"mail.example.com. AAAA 2001:db8::25"}, lines: []int{8}},
		{name: "NODATA at existing name", qname: "mail.example.com", qtype: dns.TypeTXT},
		{name: "NXDOMAIN", qname: "nope.example.com", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{name: "empty non-terminal is NODATA", qname: "b.c.example.com", qtype: dns.TypeA},
		{name: "below an empty non-terminal is NXDOMAIN", qname: "x.b.c.example.com", qtype: dns.TypeA,
			rcode: dns.RcodeNameError},
		{name: "CNAME returned, not chased", qname: "alias.example.com", qtype: dns.TypeA,
			rrs: []string{"alias.example.com. CNAME mail.example.com."}, lines: []int{9}},
		{name: "CNAME asked for itself", qname: "alias.example.com", qtype: dns.TypeCNAME,
			rrs: []string{"alias.example.com. CNAME mail.example.com."}, lines: []int{9}},
		{name: "multi-line TXT starts on its first line", qname: "s1._domainkey.example.com", qtype: dns.TypeTXT,
			rrs: []string{`s1._domainkey.example.com. TXT "v=DKIM1; k=rsa; " "p=MIIB"`}, lines: []int{11}},
		{name: "wildcard synthesises at the query name", qname: "anything.wild.example.com", qtype: dns.TypeTXT,
			rrs: []string{`anything.wild.example.com. TXT "wildcard"`}, lines: []int{14}},
		{name: "wildcard deeper below", qname: "x.y.wild.example.com", qtype: dns.TypeMX,
			rrs: []string{"x.y.wild.example.com. MX 0 ."}, lines: []int{15}},
		{name: "wildcard NODATA for a type it lacks", qname: "anything.wild.example.com", qtype: dns.TypeA},
		{name: "existing name blocks the wildcard", qname: "exists.wild.example.com", qtype: dns.TypeTXT},
		{name: "wildcard owner asked literally", qname: "*.wild.example.com", qtype: dns.TypeTXT,
			rrs: []string{`*.wild.example.com. TXT "wildcard"`}, lines: []int{14}},
		{name: "no wildcard beside the closest encloser", qname: "x.a.b.c.example.com", qtype: dns.TypeTXT,
			rcode: dns.RcodeNameError},
		{name: "delegation point is referred", qname: "sub.example.com", qtype: dns.TypeNS, referral: "sub.example.com."},
		{name: "below a delegation is referred", qname: "ns.sub.example.com", qtype: dns.TypeA, referral: "sub.example.com."},
		{name: "deep below a delegation is referred", qname: "_dmarc.x.sub.example.com", qtype: dns.TypeTXT, referral: "sub.example.com."},
		{name: "DS at the cut belongs to the parent", qname: "sub.example.com", qtype: dns.TypeDS,
			rrs:   []string{"sub.example.com. DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"},
			lines: []int{20}},
		{name: "outside every origin", qname: "example.org", qtype: dns.TypeA, outOfZ: true},
		{name: "parent of the origin", qname: "com", qtype: dns.TypeNS, outOfZ: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ans, err := z.Query(context.Background(), tt.qname, tt.qtype)
			if tt.referral != "" {
				d, ok := resolver.IsReferral(err)
				if !ok || resolver.IsOutOfZone(err) {
					t.Fatalf("got %v, %v; want a referral", ans, err)
				}
				if d.Zone != tt.referral || strings.Join(d.NameServers, " ") != "ns.sub.example.com." {
					t.Errorf("delegation %+v, want %s to ns.sub.example.com.", d, tt.referral)
				}
				if z.Contains(tt.qname) {
					t.Errorf("Contains(%s) = true for a name the zone delegates", tt.qname)
				}
				return
			}
			if tt.outOfZ {
				if !resolver.IsOutOfZone(err) {
					t.Fatalf("got %v, %v; want an out-of-zone error", ans, err)
				}
				if z.Contains(tt.qname) && tt.qtype != dns.TypeDS {
					t.Errorf("Contains(%s) = true for a name the zone does not answer", tt.qname)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ans.Rcode != tt.rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[ans.Rcode], dns.RcodeToString[tt.rcode])
			}
			if got := presentation(ans.RRs); strings.Join(got, "\n") != strings.Join(tt.rrs, "\n") {
				t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.rrs, "\n"))
			}
			if len(ans.Origins) != len(ans.RRs) {
				t.Fatalf("%d origins for %d records", len(ans.Origins), len(ans.RRs))
			}
			for i, o := range ans.Origins {
				if o.File != "example.com.zone" || o.Line != tt.lines[i] {
					t.Errorf("record %d from %s:%d, want example.com.zone:%d", i, o.File, o.Line, tt.lines[i])
				}
			}
			if ans.Server != "zone:example.com.zone" {
				t.Errorf("server %q", ans.Server)
			}
			if ans.Name != strings.ToLower(dns.Fqdn(tt.qname)) {
				t.Errorf("answer name %q", ans.Name)
			}
		})
	}
}

// presentation renders records without TTL and class, for comparison.
func presentation(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		h := rr.Header()
		s := strings.TrimPrefix(rr.String(), h.String())
		out = append(out, h.Name+" "+dns.TypeToString[h.Rrtype]+" "+s)
	}
	return out
}

func TestZoneAnswersAreCopies(t *testing.T) {
	z := loadTestZone(t)
	ctx := context.Background()
	ans, err := z.Query(ctx, "mail.example.com", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	ans.RRs[0].Header().Name = "changed.example.com."
	again, err := z.Query(ctx, "mail.example.com", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if again.RRs[0].Header().Name != "mail.example.com." {
		t.Errorf("a caller's change leaked into the zone: %s", again.RRs[0])
	}
}

func TestZoneLongestOriginWins(t *testing.T) {
	z, err := resolver.NewZone(
		resolver.ZoneSource{File: "parent.zone", Origin: "example.com", Data: []byte(
			"@ IN SOA ns hm 1 2 3 4 5\nsub IN NS ns.sub\nsub IN TXT \"parent side\"\n")},
		resolver.ZoneSource{File: "child.zone", Origin: "sub.example.com", Data: []byte(
			"@ IN SOA ns hm 1 2 3 4 5\n@ IN TXT \"child side\"\n")},
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := z.Origins(); strings.Join(got, " ") != "sub.example.com. example.com." {
		t.Errorf("origins %v", got)
	}
	ans, err := z.Query(context.Background(), "sub.example.com", dns.TypeTXT)
	if err != nil {
		t.Fatal(err)
	}
	if len(ans.RRs) != 1 || ans.RRs[0].(*dns.TXT).Txt[0] != "child side" || ans.Server != "zone:child.zone" {
		t.Errorf("got %v from %s, want the child zone's TXT", ans.RRs, ans.Server)
	}
}

func TestZoneOrigin(t *testing.T) {
	tests := []struct {
		name, file, data, want string
	}{
		{"file name", "example.net.zone", "@ IN A 192.0.2.1\n", "example.net."},
		{"$ORIGIN wins over the file name", "db.txt", "$ORIGIN example.org.\n@ IN A 192.0.2.1\n", "example.org."},
		{"SOA owner wins over a parent $ORIGIN", "db.txt",
			"$ORIGIN org.\nexample IN SOA ns hm 1 2 3 4 5\nwww.example IN A 192.0.2.1\n", "example.org."},
		{"absolute SOA owner", "db.txt", "example.info. IN SOA ns hm 1 2 3 4 5\n", "example.info."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z, err := resolver.NewZone(resolver.ZoneSource{File: tt.file, Data: []byte(tt.data)})
			if err != nil {
				t.Fatal(err)
			}
			if got := z.Origins(); len(got) != 1 || got[0] != tt.want {
				t.Errorf("origins %v, want [%s]", got, tt.want)
			}
		})
	}
}

func TestZoneErrors(t *testing.T) {
	tests := []struct {
		name, data string
		want       string // the whole Error() text, or a prefix ending in ": "
	}{
		{"bad address", "$ORIGIN example.com.\n@ IN SOA ns hm 1 2 3 4 5\n\nmail IN A 192.0.2.300\n",
			"broken.zone:4: "},
		{"unbalanced parenthesis", "$ORIGIN example.com.\n@ IN TXT ( \"a\"\n", "broken.zone:"},
		{"no records", "; nothing here\n$TTL 300\n", "broken.zone:1: no records"},
		{"name outside the origin", "$ORIGIN example.com.\n@ IN A 192.0.2.1\nwww.example.org. IN A 192.0.2.2\n",
			"broken.zone:3: www.example.org. is outside the zone's origin example.com. (from $ORIGIN on line 1)"},
		{"SOA not at the origin", "$ORIGIN example.com.\n@ IN A 192.0.2.1\nsub IN SOA ns hm 1 2 3 4 5\n",
			"broken.zone:2: example.com. is outside the zone's origin sub.example.com. (from the SOA on line 3)"},
		{"CNAME beside other data", "$ORIGIN example.com.\nwww IN A 192.0.2.1\nwww IN CNAME example.com.\n",
			"broken.zone:3: CNAME and other data at www.example.com. (RFC 1034 §3.6.2)"},
		{"$INCLUDE refused", "$ORIGIN example.com.\n@ IN A 192.0.2.1\n$INCLUDE /etc/passwd\n", "broken.zone:3: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := resolver.NewZone(resolver.ZoneSource{File: "broken.zone", Origin: "example.com", Data: []byte(tt.data)})
			var ze *resolver.ZoneError
			if !errors.As(err, &ze) {
				t.Fatalf("got %v, want a *ZoneError", err)
			}
			if ze.Error() != ze.File+":"+strconv.Itoa(ze.Line)+": "+ze.Reason {
				t.Errorf("Error() = %q is not FILE:LINE: reason", ze.Error())
			}
			if strings.HasSuffix(tt.want, ": ") || strings.HasSuffix(tt.want, ":") {
				if !strings.HasPrefix(ze.Error(), tt.want) || ze.Reason == "" {
					t.Errorf("got %q, want %q then a reason", ze.Error(), tt.want)
				}
				if strings.Contains(ze.Reason, "at line") {
					t.Errorf("reason %q repeats the position", ze.Reason)
				}
				return
			}
			if ze.Error() != tt.want {
				t.Errorf("got  %q\nwant %q", ze.Error(), tt.want)
			}
		})
	}
}

func TestLoadZoneFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "example.net.zone")
	if err := os.WriteFile(path, []byte("$TTL 60\n@ IN TXT \"v=spf1 -all\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	z, err := resolver.LoadZoneFiles([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	ans, err := z.Query(context.Background(), "example.net", dns.TypeTXT)
	if err != nil {
		t.Fatal(err)
	}
	if len(ans.RRs) != 1 || ans.Origins[0] != (resolver.Origin{File: path, Line: 2}) {
		t.Errorf("got %v %v", ans.RRs, ans.Origins)
	}

	_, err = resolver.LoadZoneFiles([]string{filepath.Join(dir, "missing.zone")})
	var ze *resolver.ZoneError
	if !errors.As(err, &ze) || ze.Line != 0 || err.Error() != filepath.Join(dir, "missing.zone")+": no such file or directory" {
		t.Errorf("missing file: got %v, want a ZoneError naming the file", err)
	}
}

func TestScenarioZone(t *testing.T) {
	for _, name := range fixtures.Names() {
		t.Run(name, func(t *testing.T) {
			sc, err := fixtures.Load(name)
			if err != nil {
				t.Fatal(err)
			}
			z, err := resolver.ScenarioZone(sc)
			if err != nil {
				t.Fatal(err)
			}
			if !z.Contains(sc.Domain) {
				t.Errorf("the scenario's zones %v do not answer for its domain %s", z.Origins(), sc.Domain)
			}
		})
	}
	sc, err := fixtures.Load(fixtures.Default)
	if err != nil {
		t.Fatal(err)
	}
	z, err := resolver.ScenarioZone(sc)
	if err != nil {
		t.Fatal(err)
	}
	ans, err := z.Query(context.Background(), "1.0.0.127.in-addr.arpa", dns.TypePTR)
	if err != nil {
		t.Fatal(err)
	}
	if len(ans.RRs) != 1 || ans.RRs[0].(*dns.PTR).Ptr != "mail.example.test." {
		t.Errorf("PTR: got %v", ans.RRs)
	}
	if ans.Origins[0] != (resolver.Origin{File: "fixtures/default/127.in-addr.arpa.zone", Line: 5}) {
		t.Errorf("PTR origin %+v", ans.Origins[0])
	}
}

// TestZoneLines checks that each record is attributed to the line its
// entry starts on, through the lexical corners of the zone file format.
func TestZoneLines(t *testing.T) {
	const zone = "$ORIGIN example.com.\r\n" + // 1
		"$TTL 60 ; default\r\n" + // 2
		"a1 IN TXT \"semi;colon (paren\"\r\n" + // 3
		"\r\n" + // 4
		"a2 IN TXT \"escaped \\\" quote\" ; ( not a paren\n" + // 5
		"a3 IN TXT (\n" + // 6
		"  ; a comment with a \" quote\n" + // 7
		"  \"x\" )\n" + // 8
		"   ; indented comment\n" + // 9
		"a4 IN TXT \"two\n" + // 10
		"lines\"\n" + // 11
		"a5 IN TXT escaped\\(paren\n" + // 12
		"\tIN TXT \"inherited owner\"\n" + // 13
		"$TTL 30\n" + // 14
		"a6 IN MX (\n10\n  mail )\n" // 15
	z, err := resolver.NewZone(resolver.ZoneSource{File: "lines.zone", Data: []byte(zone)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		qtype uint16
		line  int
		n     int
	}{
		{"a1", dns.TypeTXT, 3, 1},
		{"a2", dns.TypeTXT, 5, 1},
		{"a3", dns.TypeTXT, 6, 1},
		{"a4", dns.TypeTXT, 10, 1},
		{"a5", dns.TypeTXT, 12, 2},
		{"a6", dns.TypeMX, 15, 1},
	}
	for _, tt := range tests {
		ans, err := z.Query(context.Background(), tt.name+".example.com", tt.qtype)
		if err != nil {
			t.Fatal(err)
		}
		if len(ans.RRs) != tt.n {
			t.Fatalf("%s: %d records, want %d: %v", tt.name, len(ans.RRs), tt.n, ans.RRs)
		}
		if ans.Origins[0].Line != tt.line {
			t.Errorf("%s: line %d, want %d", tt.name, ans.Origins[0].Line, tt.line)
		}
		if tt.n == 2 && ans.Origins[1].Line != 13 {
			t.Errorf("%s second record: line %d, want 13", tt.name, ans.Origins[1].Line)
		}
	}
}
