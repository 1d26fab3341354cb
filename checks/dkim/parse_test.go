package dkim

import (
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// Public halves of RSA keys made with openssl for these tests; Go refuses
// to generate keys under 1024 bits, and the private halves were discarded.
const (
	rsa768  = "MHwwDQYJKoZIhvcNAQEBBQADawAwaAJhAMtjHFBh4k9X+90u0H8n0v8fWOS5cyQx8EhsrBU31Enif3u1wKF1psb9Nt/7Mlh42dDCbBh/Tk2Pgp49TssP8Ol17peqHbjfkpreS7M3cwcMMhPJeP+xn7K5XrXo/E4GQwIDAQAB"
	rsa1024 = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDjP32j5Kin2uq5OMkaU4qnmReIPd4GnITN8nSiRwifO9qPDkB9J6BFKAupU5XFjbaFzcpSrJMYik6/zVC/aof29OiEnasSARot5RgztV3O+HgehMgQhsRstCFySXN89FVtxsnc2MxN4Z81BI/gMja2n2M8KQHMWwEP4+f7L2FKGQIDAQAB"
	rsa2048 = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAo2qPFeVT1Mm4/cFGviECs8ANuQtfpOCKfu+uRl0QTZ70JRLrCTif/wbP2u7U13TCXLCDJ/SmBgfs7G7zNAdRVZ3RsCQb90wiHiijIYCVseuzBKnbM9gxs221ZWL3TSWu4CWxGnps6Xw9V/2KFabzBdACYdbJ5Dr3NaUc0UPiKek20QE+DCKUm9yEG4kky2XX86oBUE2nStngx+5IJbhW6+XpacNij2eid9equstZb/pBS1Yk8xrLjop1E/FHakGMqX6P8Ij0btURqF94KQk/S5Iff5+CvghMtQWFSs++FGdmZbaLW/fDlVcjNbG1XVnJ/H8iLZax1VylhF7GezmJ5QIDAQAB"
)

// ed25519Key is RFC 8463 §A.2's example public key.
const ed25519Key = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="

func TestParseRecord(t *testing.T) {
	pkcs1 := func() string {
		der, _ := base64.StdEncoding.DecodeString(rsa2048)
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PublicKey(pub.(*rsa.PublicKey)))
	}()
	tests := []struct {
		name     string
		txt      string
		bits     int
		keyType  KeyType
		revoked  bool
		testing  bool
		sha1Only bool
		errTag   string // "" and wantErr false: parses
		wantErr  bool
	}{
		{name: "rsa spki", txt: "v=DKIM1; k=rsa; p=" + rsa2048, bits: 2048, keyType: KeyRSA},
		{name: "rsa default k", txt: "p=" + rsa2048, bits: 2048, keyType: KeyRSA},
		{name: "rsa pkcs1", txt: "v=DKIM1; p=" + pkcs1, bits: 2048, keyType: KeyRSA},
		{name: "rsa 1024", txt: "v=DKIM1; p=" + rsa1024, bits: 1024, keyType: KeyRSA},
		{name: "rsa 768 parses", txt: "v=DKIM1; p=" + rsa768, bits: 768, keyType: KeyRSA},
		{name: "folded base64", txt: "v=DKIM1; p=" + rsa2048[:50] + " \t" + rsa2048[50:], bits: 2048, keyType: KeyRSA},
		{name: "ed25519", txt: "v=DKIM1; k=ed25519; p=" + ed25519Key, keyType: KeyEd25519},
		{name: "revoked", txt: "v=DKIM1; p=", keyType: KeyRSA, revoked: true},
		{name: "revoked trailing semicolon", txt: "v=DKIM1; k=rsa; p= ;", keyType: KeyRSA, revoked: true},
		{name: "testing", txt: "v=DKIM1; t=y; p=" + rsa2048, bits: 2048, keyType: KeyRSA, testing: true},
		{name: "testing and strict", txt: "v=DKIM1; t = y : s; p=" + rsa2048, bits: 2048, keyType: KeyRSA, testing: true},
		{name: "sha1 only", txt: "v=DKIM1; h=sha1; p=" + rsa2048, bits: 2048, keyType: KeyRSA, sha1Only: true},
		{name: "sha1 and sha256", txt: "v=DKIM1; h=sha1:sha256; p=" + rsa2048, bits: 2048, keyType: KeyRSA},
		{name: "unknown tag ignored", txt: "v=DKIM1; x=whatever; p=" + rsa2048, bits: 2048, keyType: KeyRSA},
		{name: "service email", txt: "v=DKIM1; s=email; p=" + rsa2048, bits: 2048, keyType: KeyRSA},

		{name: "v not first", txt: "k=rsa; v=DKIM1; p=" + rsa2048, wantErr: true, errTag: "v"},
		{name: "wrong version", txt: "v=DKIM2; p=" + rsa2048, wantErr: true, errTag: "v"},
		{name: "no p", txt: "v=DKIM1; k=rsa", wantErr: true, errTag: "p"},
		{name: "bad base64", txt: "v=DKIM1; p=MIIB!!!", wantErr: true, errTag: "p"},
		{name: "truncated key", txt: "v=DKIM1; p=" + rsa2048[:200], wantErr: true, errTag: "p"},
		{name: "ed25519 in spki", txt: "v=DKIM1; k=ed25519; p=MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", wantErr: true, errTag: "p"},
		{name: "rsa key under k=ed25519", txt: "v=DKIM1; k=ed25519; p=" + rsa2048, wantErr: true, errTag: "p"},
		{name: "unknown key type", txt: "v=DKIM1; k=dsa; p=" + rsa2048, wantErr: true, errTag: "k"},
		{name: "duplicate tag", txt: "v=DKIM1; p=" + rsa2048 + "; p=" + rsa1024, wantErr: true, errTag: "p"},
		{name: "unknown hashes only", txt: "v=DKIM1; h=md5; p=" + rsa2048, wantErr: true, errTag: "h"},
		{name: "service not email", txt: "v=DKIM1; s=tlsrpt; p=" + rsa2048, wantErr: true, errTag: "s"},
		{name: "not a tag list", txt: "hello world", wantErr: true},
		{name: "spf record", txt: "v=spf1 -all", wantErr: true, errTag: "v"},
		{name: "bad tag name", txt: "v=DKIM1; 1x=2; p=" + rsa2048, wantErr: true},
		{name: "non-ascii value", txt: "v=DKIM1; n=caf\u00e9; p=" + rsa2048, wantErr: true, errTag: "n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRecord(tt.txt)
			if tt.wantErr {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("ParseRecord = %+v, %v; want a *ParseError", r, err)
				}
				if pe.Tag != tt.errTag {
					t.Errorf("error %q names tag %q, want %q", err, pe.Tag, tt.errTag)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRecord: %v", err)
			}
			if r.KeyType != tt.keyType || r.RSABits() != tt.bits || r.Revoked() != tt.revoked ||
				r.Testing() != tt.testing || r.SHA1Only() != tt.sha1Only {
				t.Errorf("got k=%s bits=%d revoked=%v testing=%v sha1only=%v; want k=%s bits=%d revoked=%v testing=%v sha1only=%v",
					r.KeyType, r.RSABits(), r.Revoked(), r.Testing(), r.SHA1Only(),
					tt.keyType, tt.bits, tt.revoked, tt.testing, tt.sha1Only)
			}
			if tt.keyType == KeyEd25519 {
				if k, ok := r.PublicKey.(ed25519.PublicKey); !ok || len(k) != ed25519.PublicKeySize {
					t.Errorf("PublicKey = %T, want a 32-byte ed25519.PublicKey", r.PublicKey)
				}
			}
		})
	}
}

func TestParseTagList(t *testing.T) {
	tags, err := ParseTagList(" v = DKIM1 ;; k=rsa;\r\n\tp=abc def ;")
	if err != nil {
		t.Fatal(err)
	}
	want := []Tag{{"v", "DKIM1"}, {"k", "rsa"}, {"p", "abc def"}}
	if len(tags) != len(want) {
		t.Fatalf("got %v, want %v", tags, want)
	}
	for i := range want {
		if tags[i] != want[i] {
			t.Errorf("tag %d = %v, want %v", i, tags[i], want[i])
		}
	}
}

func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{
		"v=DKIM1; k=rsa; p=" + rsa2048,
		"v=DKIM1; k=ed25519; p=" + ed25519Key,
		"v=DKIM1; p=",
		"v=DKIM1; h=sha1:sha256; t=y:s; s=email; n=note; p=" + rsa1024,
		"p=" + rsa768,
		"v=DKIM1; p=" + rsa2048 + "; p=x",
		";;;=",
		"v=DKIM1; k=ed25519; p=" + strings.Repeat("A", 44),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRecord(s)
		if err != nil {
			if r != nil {
				t.Fatalf("ParseRecord(%q) returned a record and an error", s)
			}
			return
		}
		// A record that parses holds a usable key or none at all.
		switch k := r.PublicKey.(type) {
		case nil:
		case *rsa.PublicKey:
			if r.KeyType != KeyRSA || k.N == nil {
				t.Fatalf("ParseRecord(%q): RSA key under k=%s", s, r.KeyType)
			}
		case ed25519.PublicKey:
			if r.KeyType != KeyEd25519 || len(k) != ed25519.PublicKeySize {
				t.Fatalf("ParseRecord(%q): bad Ed25519 key", s)
			}
		default:
			t.Fatalf("ParseRecord(%q): key of type %T", s, k)
		}
	})
}
