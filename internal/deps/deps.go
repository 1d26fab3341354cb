// Package deps pins the modules the packages under construction will use,
// so that parallel work does not edit go.mod concurrently. It is removed once
// every module here is imported by real code.
package deps

import (
	_ "github.com/emersion/go-imap/v2"
	_ "github.com/emersion/go-imap/v2/imapclient"
	_ "github.com/emersion/go-imap/v2/imapserver"
	_ "github.com/emersion/go-msgauth/dkim"
	_ "github.com/emersion/go-sasl"
	_ "github.com/emersion/go-smtp"
	_ "github.com/fatih/color"
	_ "github.com/santhosh-tekuri/jsonschema/v6"
	_ "github.com/spf13/cobra"
	_ "golang.org/x/net/idna"
	_ "golang.org/x/net/publicsuffix"
	_ "golang.org/x/sync/singleflight"
	_ "golang.org/x/term"
)
