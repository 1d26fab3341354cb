package resolver

import (
	"strings"

	"github.com/miekg/dns"
)

// TXTData returns the data of a TXT record as the bytes a receiver reads:
// its character-strings decoded and concatenated without separators (RFC
// 7208 §3.3, RFC 6376 §3.6.2.2, RFC 7489 §6.1). ok is false for a record
// of another type.
//
// miekg/dns keeps character-strings in presentation form, and not the same
// one on every path: a record unpacked from the wire has a TAB as \009 and a
// quote as \", while a record read from a zone file keeps a TAB typed inside
// quotes as a raw TAB and a \; as written. Decoding both gives the same
// bytes, so a record says the same whether mailcheck read it with --zone or
// from a server.
func TXTData(rr dns.RR) (string, bool) {
	t, ok := rr.(*dns.TXT)
	if !ok {
		return "", false
	}
	return JoinCharacterStrings(t.Txt), true
}

// JoinCharacterStrings decodes each character-string and concatenates
// them.
func JoinCharacterStrings(ss []string) string {
	var b strings.Builder
	for _, s := range ss {
		b.WriteString(DecodeCharacterString(s))
	}
	return b.String()
}

// DecodeCharacterString turns one character-string in miekg's presentation
// form into its bytes (RFC 1035 §5.1): \DDD is the octet with that decimal
// value, \X is X, any other byte is itself. It is the exact inverse of what
// miekg writes on the wire for the string, so a value too large for an
// octet (\999) wraps as it does there, and a lone backslash at the end is
// dropped.
func DecodeCharacterString(s string) string {
	i := strings.IndexByte(s, '\\')
	if i < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b = append(b, c)
			continue
		}
		i++
		switch {
		case i == len(s):
			// A trailing backslash escapes nothing.
		case i+2 < len(s) && isDigit(s[i]) && isDigit(s[i+1]) && isDigit(s[i+2]):
			b = append(b, (s[i]-'0')*100+(s[i+1]-'0')*10+(s[i+2]-'0'))
			i += 2
		default:
			b = append(b, s[i])
		}
	}
	return string(b)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
