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

// newAuthorities creates a root and an intermediate under it.
func newAuthorities(t *testing.T) (root, inter *Authority) {
	t.Helper()
	root, err := NewRoot("Test Root")
	if err != nil {
		t.Fatal(err)
	}
	inter, err = root.NewIntermediate("Test Intermediate")
	if err != nil {
		t.Fatal(err)
	}
	return root, inter
}

func TestIssue(t *testing.T) {
	root, inter := newAuthorities(t)
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

// The root is self-signed for ten years without a path limit; an
// intermediate is signed by its parent for five and may issue only leaves.
func TestAuthorities(t *testing.T) {
	root, inter := newAuthorities(t)
	for _, tt := range []struct {
		name       string
		a          *Authority
		signer     *x509.Certificate
		years      int
		maxPathLen int // as parsed: -1 for none
		chain      int
	}{
		{"root", root, root.Cert, 10, -1, 0},
		{"intermediate", inter, root.Cert, 5, 0, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.a.Cert
			if !c.IsCA || !c.BasicConstraintsValid || c.MaxPathLen != tt.maxPathLen {
				t.Errorf("IsCA %v, MaxPathLen %d; want a CA with MaxPathLen %d", c.IsCA, c.MaxPathLen, tt.maxPathLen)
			}
			if err := c.CheckSignatureFrom(tt.signer); err != nil {
				t.Errorf("not signed by %s: %v", tt.signer.Subject, err)
			}
			if got := c.NotAfter.Year() - time.Now().Year(); got != tt.years {
				t.Errorf("NotAfter %v: %d years from now, want %d", c.NotAfter, got, tt.years)
			}
			if len(tt.a.Chain) != tt.chain || tt.a.Root != root.Cert {
				t.Errorf("Chain %d certificates, Root %s", len(tt.a.Chain), tt.a.Root.Subject)
			}
		})
	}
}
