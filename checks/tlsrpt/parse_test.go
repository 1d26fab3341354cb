package tlsrpt

import (
	"errors"
	"testing"
)

func TestParseRecord(t *testing.T) {
	tests := []struct {
		txt     string
		rua     []string
		wantErr bool
	}{
		{txt: "v=TLSRPTv1; rua=mailto:tlsrpt@example.com", rua: []string{"mailto:tlsrpt@example.com"}},
		{txt: "v=TLSRPTv1;rua=https://reports.example.com/tlsrpt;", rua: []string{"https://reports.example.com/tlsrpt"}},
		{txt: "v=TLSRPTv1 ; rua=mailto:a@example.com , https://r.example.net/x ; ext=1",
			rua: []string{"mailto:a@example.com", "https://r.example.net/x"}},
		{txt: "v=TLSRPTv1; rua=mailto:tls%2Brpt@example.com", rua: []string{"mailto:tls%2Brpt@example.com"}},

		{txt: "v=TLSRPTv1; rua=tlsrpt@example.com", wantErr: true},
		{txt: "v=TLSRPTv1; rua=http://reports.example.com/", wantErr: true},
		{txt: "v=TLSRPTv1; rua=mailto:", wantErr: true},
		{txt: "v=TLSRPTv1; rua=mailto:not-an-address", wantErr: true},
		{txt: "v=TLSRPTv1; rua=https:///path", wantErr: true},
		{txt: "v=TLSRPTv1; rua=mailto:a@example.com,", wantErr: true},
		{txt: "v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com", wantErr: true},
		{txt: "v=TLSRPTv1", wantErr: true},
		{txt: "v=TLSRPTv1;", wantErr: true},
		{txt: "v=TLSRPTv1 rua=mailto:a@example.com", wantErr: true},
		{txt: "v=tlsrptv1; rua=mailto:a@example.com", wantErr: true},
		{txt: "rua=mailto:a@example.com; v=TLSRPTv1", wantErr: true},
		{txt: "v=TLSRPTv1;; rua=mailto:a@example.com", wantErr: true},
		{txt: "v=TLSRPTv1; rua=mailto:a@example.com; bad name=1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.txt, func(t *testing.T) {
			r, err := ParseRecord(tt.txt)
			if tt.wantErr {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("ParseRecord = %+v, %v; want a *ParseError", r, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRecord: %v", err)
			}
			if len(r.RUA) != len(tt.rua) {
				t.Fatalf("RUA = %v, want %v", r.RUA, tt.rua)
			}
			for i, u := range r.RUA {
				if u.String() != tt.rua[i] {
					t.Errorf("RUA[%d] = %s, want %s", i, u, tt.rua[i])
				}
			}
		})
	}
}

func TestIsRecord(t *testing.T) {
	for txt, want := range map[string]bool{
		"v=TLSRPTv1; rua=mailto:a@example.com": true,
		"V=tlsrptv1;":                          true,
		"v=spf1 -all":                          false,
		"v=TLSRPTv2; rua=mailto:a@example.com": false,
		"":                                     false,
	} {
		if got := IsRecord(txt); got != want {
			t.Errorf("IsRecord(%q) = %v, want %v", txt, got, want)
		}
	}
}

func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{
		"v=TLSRPTv1; rua=mailto:tlsrpt@example.com",
		"v=TLSRPTv1;rua=https://reports.example.com/tlsrpt;",
		"v=TLSRPTv1; rua=mailto:a@example.com , https://r.example.net/x ; ext=1",
		"v=TLSRPTv1; rua=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, txt string) {
		r, err := ParseRecord(txt)
		if err != nil {
			return
		}
		if len(r.RUA) == 0 {
			t.Fatalf("ParseRecord(%q) accepted a record without destinations", txt)
		}
		for _, u := range r.RUA {
			// url.Parse lowers the scheme.
			if u.Scheme != "mailto" && u.Scheme != "https" {
				t.Fatalf("ParseRecord(%q) accepted scheme %q", txt, u.Scheme)
			}
		}
	})
}
