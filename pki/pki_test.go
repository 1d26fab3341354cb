package pki

import (
	"crypto/x509"
	"testing"
	"time"
)

func verify(t *testing.T, a *Authority, o LeafOptions, name string) error {
	t.Helper()
	leaf, err := a.Issue(o)
	if err != nil {
		t.Fatal(err)
	}
	inter := x509.NewCertPool()
	for _, der := range leaf.Certificate[1:] {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		inter.AddCert(c)
	}
	_, err = leaf.Leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: a.Pool(), Intermediates: inter})
	return err
}

func TestIssue(t *testing.T) {
	root, err := NewRoot("Test Root")
	if err != nil {
		t.Fatal(err)
	}
	inter, err := root.NewIntermediate("Test Intermediate")
	if err != nil {
		t.Fatal(err)
	}
	name := "mail.example.test"
	tests := []struct {
		name    string
		ca      *Authority
		opts    LeafOptions
		dial    string
		wantErr bool
	}{
		{"root-signed", root, LeafOptions{Names: []string{name}}, name, false},
		{"via intermediate", inter, LeafOptions{Names: []string{name}}, name, false},
		{"missing intermediate", inter, LeafOptions{Names: []string{name}, OmitChain: true}, name, true},
		{"expired", root, LeafOptions{Names: []string{name}, NotBefore: time.Now().AddDate(0, -2, 0), NotAfter: time.Now().AddDate(0, 0, -1)}, name, true},
		{"self-signed", root, LeafOptions{Names: []string{name}, SelfSigned: true}, name, true},
		{"wrong name", root, LeafOptions{Names: []string{"other.example.test"}}, name, true},
		{"rsa 1024", root, LeafOptions{Names: []string{name}, RSABits: 1024}, name, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := verify(t, tt.ca, tt.opts, tt.dial)
			if (err != nil) != tt.wantErr {
				t.Fatalf("verify error = %v, want error %v", err, tt.wantErr)
			}
		})
	}
	if inter.Root != root.Cert || len(root.PEM()) == 0 {
		t.Fatal("intermediate must chain to the root, and the root must export as PEM")
	}
}
