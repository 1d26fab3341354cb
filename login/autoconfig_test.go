package login

import (
	"strings"
	"testing"
)

func TestParseAutoconfig(t *testing.T) {
	const doc = `<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="example.org">
    <domain>example.org</domain>
    <incomingServer type="imap">
      <hostname>imap.%EMAILDOMAIN%</hostname><port>993</port><socketType>SSL</socketType>
      <username>%EMAILLOCALPART%</username>
      <authentication>password-cleartext</authentication><authentication>OAuth2</authentication>
    </incomingServer>
    <incomingServer type="pop3">
      <hostname>pop.example.org</hostname><port>110</port><socketType>plain</socketType>
      <username>%EMAILADDRESS%</username>
    </incomingServer>
    <incomingServer type="exchange"><hostname>ews.example.org</hostname><port>443</port><socketType>SSL</socketType></incomingServer>
    <incomingServer type="imap"><hostname>bad port</hostname><port>99999</port><socketType>SSL</socketType></incomingServer>
    <incomingServer type="imap"><hostname>imap2.example.org</hostname><port>143</port><socketType>TLS-maybe</socketType></incomingServer>
    <outgoingServer type="smtp">
      <hostname>SMTP.Example.Org.</hostname><port>587</port><socketType>STARTTLS</socketType>
      <username>%EMAILADDRESS%</username>
    </outgoingServer>
  </emailProvider>
</clientConfig>`
	eps, err := parseAutoconfig([]byte(doc), "Bob.Smith@example.org")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ep := range eps {
		got = append(got, ep.Role+" "+Describe(ep)+" "+ep.Username+" "+strings.Join(ep.Auth, ","))
	}
	want := []string{
		"incoming IMAP imap.example.org:993 SSL/TLS Bob.Smith password-cleartext,OAuth2",
		"incoming POP3 pop.example.org:110 no encryption Bob.Smith@example.org ",
		"outgoing SMTP smtp.example.org:587 STARTTLS Bob.Smith@example.org ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseAutoconfigRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"html page":  "<html><body>Not found</body></html>",
		"no servers": `<clientConfig version="1.1"><emailProvider id="x"/></clientConfig>`,
		"latin1":     `<?xml version="1.0" encoding="ISO-8859-1"?><clientConfig/>`,
		"truncated":  `<clientConfig version="1.1"><emailProvider>`,
	} {
		if eps, err := parseAutoconfig([]byte(doc), "a@example.org"); err == nil {
			t.Errorf("%s: accepted, %v", name, eps)
		}
	}
}
