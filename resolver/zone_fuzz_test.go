package resolver_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/miekg/dns"

	"github.com/mailcheck-cli/mailcheck/resolver"
)

// FuzzParseZone checks that any input either loads, with every record
// placed on a line that exists and holds text, or fails with a ZoneError;
// never a panic or a line outside the file.
func FuzzParseZone(f *testing.F) {
	f.Add([]byte(testZone))
	f.Add([]byte("@ IN TXT ( \"a\" ; c\n \"b\" )\n"))
	f.Add([]byte("a IN TXT \"multi\nline\"\n\tIN A 192.0.2.1\n"))
	f.Add([]byte("$GENERATE 1-3 h$ A 192.0.2.$\n"))
	f.Add([]byte("a IN TXT \\(x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		z, err := resolver.NewZone(resolver.ZoneSource{File: "f.zone", Origin: "example.com", Data: data})
		if err != nil {
			var ze *resolver.ZoneError
			if !errors.As(err, &ze) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		lines := bytes.Split(data, []byte("\n"))
		for _, origin := range z.Origins() {
			ans, err := z.Query(context.Background(), origin, dns.TypeANY)
			if err != nil {
				continue
			}
			for _, o := range ans.Origins {
				if o.Line < 1 || o.Line > len(lines) || len(bytes.TrimSpace(lines[o.Line-1])) == 0 {
					t.Fatalf("record placed on line %d of %d: %q", o.Line, len(lines), data)
				}
			}
		}
	})
}
