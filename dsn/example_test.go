package dsn_test

import (
	"fmt"
	"os"

	"github.com/mailcheck-cli/mailcheck/dsn"
)

func ExampleParse() {
	f, err := os.Open("testdata/postfix.eml")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	rep, err := dsn.Parse(f)
	if err != nil {
		panic(err)
	}
	for _, r := range rep.Failed() {
		fmt.Println(r.FinalRecipient, r.Status, r.Status.Permanent(), r.RemoteMTA)
	}
	// Output:
	// bob@example.org 5.1.1 true mx1.example.org
	// carol@gmail.example 5.7.26 true gmail-smtp-in.l.google.example
}

func ExampleScan() {
	pasted := `Final-Recipient: rfc822; bob@example.org
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <bob@example.org>: Recipient address
    rejected: User unknown in virtual mailbox table`
	rep := dsn.Scan(pasted)
	fmt.Println(rep.Recipients[0].Action, rep.Recipients[0].DiagnosticCode)
	// Output:
	// failed 550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown in virtual mailbox table
}
