package dkim

import (
	"slices"
	"testing"
)

func TestReadSelector(t *testing.T) {
	tests := []struct {
		name   string
		txts   []string
		state  SelectorState
		keys   int
		others int
	}{
		{"nothing", nil, NoKey, 0, 0},
		{"one key", []string{"v=DKIM1; k=rsa; p=" + rsa2048}, Key, 1, 0},
		// Tags separated by a TAB, as some DNS consoles publish them.
		{"tags separated by TABs", []string{"v=DKIM1;\tk=ed25519;\tp=" + ed25519Key}, Key, 1, 0},
		// A key folded over several strings, joined with a space inside
		// the base64: FWS is allowed there (RFC 6376 §3.6.1).
		{"folded key", []string{"v=DKIM1; k=rsa; p=" + rsa2048[:100] + " " + rsa2048[100:]}, Key, 1, 0},
		{"no v= tag", []string{"k=rsa; p=" + rsa2048}, Key, 1, 0},
		{"revoked", []string{"v=DKIM1; p="}, Revoked, 1, 0},
		{"two keys at one selector", []string{"v=DKIM1; k=rsa; p=" + rsa2048, "v=DKIM1; k=ed25519; p=" + ed25519Key}, Multiple, 2, 0},
		{"a key and a revoked one", []string{"v=DKIM1; p=", "v=DKIM1; k=rsa; p=" + rsa1024}, Multiple, 2, 0},
		{"a key beside an unrelated record", []string{"v=spf1 -all", "v=DKIM1; k=rsa; p=" + rsa2048}, Key, 1, 1},
		{"only an unrelated record", []string{"google-site-verification=abc"}, NoKey, 0, 1},
		{"broken key", []string{"v=DKIM1; k=rsa; p=notbase64!"}, Invalid, 1, 0},
		{"wrong version case is a key record that does not parse", []string{"v=dkim1; p=" + rsa2048}, Invalid, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ReadSelector(tt.txts)
			if s.State != tt.state || len(s.Keys) != tt.keys || len(s.Others) != tt.others {
				t.Errorf("state %v keys %d others %d, want %v %d %d", s.State, len(s.Keys), len(s.Others), tt.state, tt.keys, tt.others)
			}
		})
	}
}

func TestReadWildcard(t *testing.T) {
	tests := []struct {
		txts []string
		want WildcardKind
	}{
		{nil, NoWildcard},
		{[]string{"v=DKIM1; p="}, RevokedWildcard},
		{[]string{"v=DKIM1;\tp="}, RevokedWildcard},
		{[]string{"v=DKIM1; k=rsa; p=" + rsa2048}, KeyWildcard},
		{[]string{"v=spf1 -all"}, OtherWildcard},
		{[]string{"v=DKIM1; p=", "v=DKIM1; k=rsa; p=" + rsa2048}, OtherWildcard},
	}
	for _, tt := range tests {
		if got := ReadWildcard(tt.txts); got != tt.want {
			t.Errorf("ReadWildcard(%q) = %v, want %v", tt.txts, got, tt.want)
		}
	}
	if !slices.Contains([]WildcardKind{RevokedWildcard}, ReadWildcard([]string{"p="})) {
		t.Error("a bare p= is a revoked key record too")
	}
}
