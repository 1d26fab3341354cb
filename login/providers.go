package login

import (
	"slices"
	"strings"
)

// Provider is what mailcheck knows about a large mail provider: its
// domains, how to recognise a custom domain hosted there by its MX, the
// client settings it documents, and how it lets mail clients log in.
// The table stands in for Thunderbird's ISPDB, which lives on the
// internet: a provider's own published settings are the best source, and
// providers rarely publish SRV records or autoconfig files for the
// custom domains they host.
type Provider struct {
	Name string
	// Domains are the provider's own address domains (gmail.com).
	Domains []string
	// MXSuffixes recognise a custom domain hosted by the provider: an MX
	// host equal to or ending in one of them (".google.com").
	MXSuffixes []string
	Endpoints  []providerEndpoint
	// Login says how clients authenticate: LoginPassword (the account
	// password), LoginAppPassword (an application-specific password once
	// 2-step verification is on, or OAuth2), LoginOAuth (OAuth2 only) or
	// LoginBridge (a local bridge's own password).
	Login string
	// Note is shown to support staff: the one thing users get wrong.
	Note string
	// AppPasswordHelp says where the provider's users create an
	// application password; used in the fix of login.app-password-required.
	AppPasswordHelp string
	// Local marks settings that point at the user's own computer (Proton
	// Mail Bridge): mailcheck cannot test them from here.
	Local bool
}

type providerEndpoint struct {
	Role, Protocol, Host string
	Port                 int
	TLS                  string
	// Username is an autoconfig placeholder (%EMAILADDRESS%,
	// %EMAILLOCALPART%).
	Username string
}

// How a provider's users log in from a mail client.
const (
	LoginPassword    = "password"
	LoginAppPassword = "app-password"
	LoginOAuth       = "oauth2"
	LoginBridge      = "bridge"
)

const (
	phAddress   = "%EMAILADDRESS%"
	phLocalPart = "%EMAILLOCALPART%"
)

func in(host string, port int, tls string) providerEndpoint {
	proto := "imap"
	if port == 995 || port == 110 {
		proto = "pop3"
	}
	return providerEndpoint{Role: "incoming", Protocol: proto, Host: host, Port: port, TLS: tls, Username: phAddress}
}

func out(host string, port int, tls string) providerEndpoint {
	return providerEndpoint{Role: "outgoing", Protocol: "submission", Host: host, Port: port, TLS: tls, Username: phAddress}
}

// Providers are the settings each provider documents for mail clients.
// Implicit TLS is listed before STARTTLS where a provider offers both
// (RFC 8314 §3.3 prefers it).
var Providers = []Provider{
	{
		Name:       "Gmail",
		Domains:    []string{"gmail.com", "googlemail.com"},
		MXSuffixes: []string{".google.com", ".googlemail.com"},
		Endpoints: []providerEndpoint{
			in("imap.gmail.com", 993, "implicit"),
			in("pop.gmail.com", 995, "implicit"),
			out("smtp.gmail.com", 465, "implicit"),
			out("smtp.gmail.com", 587, "starttls"),
		},
		Login:           LoginAppPassword,
		Note:            "Google refuses the account password from mail apps: sign in with Google (OAuth2) in the app, or turn on 2-Step Verification and use an app password. Custom domains on Google Workspace use the same servers.",
		AppPasswordHelp: "Google Account → Security → 2-Step Verification → App passwords (https://myaccount.google.com/apppasswords)",
	},
	{
		Name: "Outlook.com",
		Domains: []string{"outlook.com", "hotmail.com", "live.com", "msn.com", "passport.com",
			"outlook.fr", "hotmail.fr", "live.fr", "outlook.de", "hotmail.de", "live.de",
			"hotmail.co.uk", "live.co.uk", "outlook.es", "hotmail.es", "outlook.it", "hotmail.it", "live.it",
			"outlook.be", "hotmail.be", "live.be"},
		MXSuffixes: []string{".olc.protection.outlook.com"},
		Endpoints: []providerEndpoint{
			in("outlook.office365.com", 993, "implicit"),
			in("outlook.office365.com", 995, "implicit"),
			out("smtp-mail.outlook.com", 587, "starttls"),
		},
		Login: LoginOAuth,
		Note:  "Microsoft requires modern authentication (OAuth2) for Outlook.com, Hotmail and Live accounts in mail apps: the app must offer \"Sign in with Microsoft\"; the password alone is refused. Older guides name imap-mail.outlook.com, an alias of the same service.",
	},
	{
		Name:       "Microsoft 365",
		MXSuffixes: []string{".mail.protection.outlook.com"},
		Endpoints: []providerEndpoint{
			in("outlook.office365.com", 993, "implicit"),
			in("outlook.office365.com", 995, "implicit"),
			out("smtp.office365.com", 587, "starttls"),
		},
		Login: LoginOAuth,
		Note:  "Exchange Online has turned off password (basic) authentication for IMAP and POP: mail apps must sign in with OAuth2. SMTP AUTH with a password works only for mailboxes where the tenant admin still allows it, and Microsoft is retiring it.",
	},
	{
		Name:       "Yahoo Mail",
		Domains:    []string{"yahoo.com", "ymail.com", "rocketmail.com", "yahoo.fr", "yahoo.co.uk", "yahoo.de", "yahoo.es", "yahoo.it", "yahoo.ca", "yahoo.com.au", "yahoo.co.jp"},
		MXSuffixes: []string{".yahoodns.net"},
		Endpoints: []providerEndpoint{
			in("imap.mail.yahoo.com", 993, "implicit"),
			in("pop.mail.yahoo.com", 995, "implicit"),
			out("smtp.mail.yahoo.com", 465, "implicit"),
			out("smtp.mail.yahoo.com", 587, "starttls"),
		},
		Login:           LoginAppPassword,
		Note:            "Yahoo requires an app password for mail apps that do not sign in with Yahoo (OAuth2).",
		AppPasswordHelp: "Yahoo Account Security → Generate app password (https://login.yahoo.com/account/security)",
	},
	{
		Name:       "iCloud Mail",
		Domains:    []string{"icloud.com", "me.com", "mac.com"},
		MXSuffixes: []string{".mail.icloud.com"},
		Endpoints: []providerEndpoint{
			// Apple documents the IMAP user name as the part of the
			// address before @, SMTP's as the full address.
			{Role: "incoming", Protocol: "imap", Host: "imap.mail.me.com", Port: 993, TLS: "implicit", Username: phLocalPart},
			out("smtp.mail.me.com", 587, "starttls"),
		},
		Login:           LoginAppPassword,
		Note:            "iCloud Mail needs an app-specific password (two-factor authentication is always on for Apple Accounts); iCloud offers no POP3.",
		AppPasswordHelp: "Apple Account → Sign-In and Security → App-Specific Passwords (https://account.apple.com)",
	},
	{
		Name:       "Fastmail",
		Domains:    []string{"fastmail.com", "fastmail.fm"},
		MXSuffixes: []string{".messagingengine.com"},
		Endpoints: []providerEndpoint{
			in("imap.fastmail.com", 993, "implicit"),
			in("pop.fastmail.com", 995, "implicit"),
			out("smtp.fastmail.com", 465, "implicit"),
			out("smtp.fastmail.com", 587, "starttls"),
		},
		Login:           LoginAppPassword,
		Note:            "Fastmail requires an app password for IMAP, POP and SMTP; the account password is refused.",
		AppPasswordHelp: "Fastmail Settings → Privacy & Security → App passwords",
	},
	{
		Name:       "Zoho Mail",
		Domains:    []string{"zoho.com", "zohomail.com"},
		MXSuffixes: []string{".zoho.com", ".zoho.eu"},
		Endpoints: []providerEndpoint{
			in("imap.zoho.com", 993, "implicit"),
			in("pop.zoho.com", 995, "implicit"),
			out("smtp.zoho.com", 465, "implicit"),
			out("smtp.zoho.com", 587, "starttls"),
		},
		Login:           LoginPassword,
		Note:            "IMAP/POP access must be enabled in Zoho Mail settings; with two-factor authentication on, use an application-specific password. Accounts on a custom domain use imappro.zoho.com and smtppro.zoho.com, and the EU data centre .zoho.eu.",
		AppPasswordHelp: "Zoho Accounts → Security → App Passwords",
	},
	{
		Name:       "GMX",
		Domains:    []string{"gmx.com", "gmx.net", "gmx.de", "gmx.at", "gmx.ch", "gmx.fr"},
		MXSuffixes: []string{".gmx.net", ".gmx.com"},
		Endpoints: []providerEndpoint{
			in("imap.gmx.com", 993, "implicit"),
			in("pop.gmx.com", 995, "implicit"),
			out("mail.gmx.com", 465, "implicit"),
			out("mail.gmx.com", 587, "starttls"),
		},
		Login: LoginPassword,
		Note:  "GMX turns IMAP/POP access off until the user enables it in the web mail settings (POP3 & IMAP). German accounts (gmx.net, gmx.de) use imap.gmx.net and mail.gmx.net.",
	},
	{
		Name:       "Proton Mail",
		Domains:    []string{"proton.me", "protonmail.com", "protonmail.ch", "pm.me"},
		MXSuffixes: []string{".protonmail.ch"},
		Endpoints: []providerEndpoint{
			// Proton Mail Bridge, on the user's own computer: its
			// default ports, STARTTLS with a self-signed certificate.
			{Role: "incoming", Protocol: "imap", Host: "127.0.0.1", Port: 1143, TLS: "starttls", Username: phAddress},
			{Role: "outgoing", Protocol: "submission", Host: "127.0.0.1", Port: 1025, TLS: "starttls", Username: phAddress},
		},
		Login: LoginBridge,
		Local: true,
		Note:  "Proton Mail has no public IMAP or SMTP server: mail apps connect to Proton Mail Bridge on the user's own computer (paid plans), with the user name and password that Bridge shows, not the Proton password.",
	},
}

// gmxGermany: gmx.net and gmx.de accounts are served by the German hosts.
var gmxGermany = []string{"gmx.net", "gmx.de", "gmx.at", "gmx.ch"}

// providerFor finds the provider of domain, by the address domain itself or
// by the MX hosts of a custom domain. how says which ("domain", "MX ...").
func providerFor(domain string, mxHosts []string) (p *Provider, how string) {
	for i := range Providers {
		if slices.Contains(Providers[i].Domains, domain) {
			return localised(&Providers[i], domain, ""), "the address domain " + domain
		}
	}
	for _, mx := range mxHosts {
		mx = strings.TrimSuffix(strings.ToLower(mx), ".")
		for i := range Providers {
			for _, suf := range Providers[i].MXSuffixes {
				if strings.HasSuffix(mx, suf) || mx == strings.TrimPrefix(suf, ".") {
					return localised(&Providers[i], domain, mx), "the MX host " + mx
				}
			}
		}
	}
	return nil, ""
}

// localised adjusts settings that depend on the address domain or on how
// the provider was recognised: German GMX accounts, Google Workspace and
// Zoho's hosts for custom domains (imappro/smtppro, .zoho.eu in the EU).
func localised(p *Provider, domain, mx string) *Provider {
	q := *p
	switch {
	case p.Name == "GMX" && slices.Contains(gmxGermany, domain):
		q.Endpoints = []providerEndpoint{
			in("imap.gmx.net", 993, "implicit"),
			in("pop.gmx.net", 995, "implicit"),
			out("mail.gmx.net", 465, "implicit"),
			out("mail.gmx.net", 587, "starttls"),
		}
	case p.Name == "Gmail" && mx != "":
		q.Name = "Google Workspace"
	case p.Name == "Zoho Mail" && mx != "":
		tld := "com"
		if strings.HasSuffix(mx, ".zoho.eu") {
			tld = "eu"
		}
		q.Endpoints = []providerEndpoint{
			in("imappro.zoho."+tld, 993, "implicit"),
			in("poppro.zoho."+tld, 995, "implicit"),
			out("smtppro.zoho."+tld, 465, "implicit"),
			out("smtppro.zoho."+tld, 587, "starttls"),
		}
	default:
		return p
	}
	return &q
}
