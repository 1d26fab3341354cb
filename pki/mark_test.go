package pki

import (
	"testing"
	"time"

	"github.com/mailcheck-cli/mailcheck/checks/bimi"
)

// A mark certificate made for tests reads as BIMI evidence should: one
// mark certificate for the domain, with its logo, then its issuers.
func TestIssueMark(t *testing.T) {
	root, err := NewRoot("test root")
	if err != nil {
		t.Fatal(err)
	}
	inter, err := root.NewIntermediate("test intermediate")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := inter.IssueMark("example.test", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`))
	if err != nil {
		t.Fatal(err)
	}
	ev, problems := bimi.ParseEvidence(doc, "example.test", time.Now())
	if len(problems) != 0 || len(ev.Certs) != 2 {
		t.Errorf("%d certificates, problems %v", len(ev.Certs), problems)
	}
	if _, problems := bimi.ParseEvidence(doc, "other.test", time.Now()); len(problems) != 1 || problems[0] != bimi.EvidenceOtherDomain {
		t.Errorf("for another domain: %v", problems)
	}
}
