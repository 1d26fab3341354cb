package login

import (
	"slices"
	"strings"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// Provider is what mailcheck knows about a large mail provider: its
// domains, how to recognise a custom domain hosted there by its MX, the
// client settings it documents, and how it lets mail clients log in.
// The table stands in for Thunderbird's ISPDB, which lives on the
// internet: a provider's own published settings are the best source, and
// providers rarely publish SRV records or autoconfig files for the
// custom domains they host. Each entry names the page it follows and the
// day that page was last checked, so that a stale entry can be found.
type Provider struct {
	Name string
	// Key is the provider's key in finding/patterns/providers.yaml: the
	// catalogue's provider-specific fixes apply to its addresses.
	Key string
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
	Note finding.Text
	// AppPasswordHelp says where the provider's users create an
	// application password; used in the fix of login.app-password-required
	// when the catalogue has no fix of the provider's own. Its French
	// names the menus as the provider's French interface does.
	AppPasswordHelp finding.Text
	// Local marks settings that point at the user's own computer (Proton
	// Mail Bridge): mailcheck cannot test them from here.
	Local bool
	// Source is the provider's documentation the entry follows; Checked
	// the date (YYYY-MM-DD) it was last compared with it.
	Source  string
	Checked string
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
		Key:        "google",
		Domains:    []string{"gmail.com", "googlemail.com"},
		MXSuffixes: []string{".google.com", ".googlemail.com"},
		Endpoints: []providerEndpoint{
			in("imap.gmail.com", 993, "implicit"),
			in("pop.gmail.com", 995, "implicit"),
			out("smtp.gmail.com", 465, "implicit"),
			out("smtp.gmail.com", 587, "starttls"),
		},
		Login:           LoginAppPassword,
		Note:            finding.T("Google refuses the account password from mail apps: sign in with Google (OAuth2) in the app, or turn on 2-Step Verification and use an app password. Custom domains on Google Workspace use the same servers; their admin can switch POP and IMAP off for the organisation."),
		AppPasswordHelp: finding.T("Google Account → Security → 2-Step Verification → App passwords (https://myaccount.google.com/apppasswords)"),
		Source:          "https://support.google.com/mail/answer/7126229",
		Checked:         "2026-11-29",
	},
	{
		Name: "Outlook.com",
		Key:  "microsoft",
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
		Login:  LoginOAuth,
		Note:   finding.T("POP and IMAP are off until the user turns them on in Outlook.com (Settings → Mail → Forwarding and IMAP → \"Let devices and apps use POP/IMAP\"), and mail apps must sign in with Microsoft (OAuth2): the password alone is refused. Older guides name imap-mail.outlook.com, an alias of the same service."),
		Source: "https://support.microsoft.com/en-us/office/pop-imap-and-smtp-settings-for-outlook-com-d088b986-291d-42b8-9564-9c414e2aa040",
		// Also https://support.microsoft.com/en-us/office/modern-authentication-methods-now-needed-to-continue-syncing-outlook-email-in-non-microsoft-email-apps-c5d65390-9676-4763-b41f-d7986499a90d
		Checked: "2026-11-29",
	},
	{
		Name:       "Microsoft 365",
		Key:        "microsoft",
		MXSuffixes: []string{".mail.protection.outlook.com"},
		Endpoints: []providerEndpoint{
			in("outlook.office365.com", 993, "implicit"),
			in("outlook.office365.com", 995, "implicit"),
			out("smtp.office365.com", 587, "starttls"),
		},
		Login:  LoginOAuth,
		Note:   finding.T("Exchange Online accepts only OAuth2 for IMAP and POP. SMTP AUTH with a password works only where the tenant admin allows it for the mailbox; Microsoft keeps it unchanged through December 2026, turns it off by default for existing tenants at the end of December 2026 (admins can turn it back on), and will announce the final removal date in the second half of 2027 (message center MC786329, updated 27 January 2026)."),
		Source: "https://learn.microsoft.com/en-us/exchange/clients-and-mobile-in-exchange-online/authenticated-client-smtp-submission",
		// Timeline: MC786329 (https://mc.merill.net/message/MC786329), 2026-01-27 update.
		Checked: "2026-11-29",
	},
	{
		Name:       "Yahoo Mail",
		Key:        "yahoo",
		Domains:    []string{"yahoo.com", "ymail.com", "rocketmail.com", "yahoo.fr", "yahoo.co.uk", "yahoo.de", "yahoo.es", "yahoo.it", "yahoo.ca", "yahoo.com.au", "yahoo.co.jp"},
		MXSuffixes: []string{".yahoodns.net"},
		Endpoints: []providerEndpoint{
			in("imap.mail.yahoo.com", 993, "implicit"),
			in("pop.mail.yahoo.com", 995, "implicit"),
			out("smtp.mail.yahoo.com", 465, "implicit"),
			out("smtp.mail.yahoo.com", 587, "starttls"),
		},
		Login:           LoginAppPassword,
		Note:            finding.T("Yahoo requires an app password for mail apps that do not sign in with Yahoo (OAuth2); after too many bad logins it answers #AUTH005 until the app uses one."),
		AppPasswordHelp: finding.T("Yahoo Account Security → Generate app password (https://login.yahoo.com/account/security)"),
		Source:          "https://help.yahoo.com/kb/SLN4075.html",
		Checked:         "2026-11-29",
	},
	{
		// AOL and Verizon addresses receive on Yahoo's MX hosts but log
		// in on AOL's own client hosts: recognised by domain only.
		Name:    "AOL Mail",
		Key:     "aol",
		Domains: []string{"aol.com", "aim.com", "verizon.net"},
		Endpoints: []providerEndpoint{
			in("imap.aol.com", 993, "implicit"),
			in("pop.aol.com", 995, "implicit"),
			out("smtp.aol.com", 465, "implicit"),
			out("smtp.aol.com", 587, "starttls"),
		},
		Login:           LoginAppPassword,
		Note:            finding.T("AOL and Verizon (verizon.net moved to AOL) addresses use AOL's servers with the full address as user name, and need an app password in mail apps that do not sign in with AOL; their MX hosts are Yahoo's."),
		AppPasswordHelp: finding.T("AOL Account Security → Generate app password (https://login.aol.com/account/security)"),
		Source:          "https://help.aol.com/articles/how-do-i-use-other-email-applications-to-send-and-receive-my-aol-mail",
		Checked:         "2026-11-29",
	},
	{
		Name: "AT&T Mail",
		Domains: []string{"att.net", "sbcglobal.net", "bellsouth.net", "pacbell.net", "flash.net", "swbell.net",
			"prodigy.net", "ameritech.net", "nvbell.net", "snet.net", "wans.net"},
		Endpoints: []providerEndpoint{
			in("imap.mail.att.net", 993, "implicit"),
			in("inbound.att.net", 995, "implicit"),
			out("smtp.mail.att.net", 465, "implicit"),
		},
		Login:           LoginAppPassword,
		Note:            finding.T("AT&T addresses use AT&T's own client hosts (their MX hosts are Yahoo's); mail apps need a secure mail key, AT&T's app password, instead of the account password."),
		AppPasswordHelp: finding.T("AT&T Profile → Sign-in info → Secure mail key (https://www.att.com/support/article/email-support/KM1240308/)"),
		Source:          "https://www.att.com/support/article/email-support/KM1240308/",
		Checked:         "2026-11-29",
	},
	{
		Name:       "iCloud Mail",
		Key:        "apple",
		Domains:    []string{"icloud.com", "me.com", "mac.com"},
		MXSuffixes: []string{".mail.icloud.com"},
		Endpoints: []providerEndpoint{
			// Apple documents the IMAP user name as the part of the
			// iCloud address before @, SMTP's as the full address.
			{Role: "incoming", Protocol: "imap", Host: "imap.mail.me.com", Port: 993, TLS: "implicit", Username: phLocalPart},
			out("smtp.mail.me.com", 587, "starttls"),
		},
		Login:           LoginAppPassword,
		Note:            finding.T("iCloud Mail needs an app-specific password (two-factor authentication is always on for Apple Accounts); iCloud offers no POP3. Addresses on a custom domain (iCloud+) log in with the primary iCloud Mail address, not the custom one."),
		AppPasswordHelp: finding.T("Apple Account → Sign-In and Security → App-Specific Passwords (https://account.apple.com)"),
		Source:          "https://support.apple.com/en-us/102525",
		// Custom domains: https://support.apple.com/en-us/102540
		Checked: "2026-11-29",
	},
	{
		Name:       "Fastmail",
		Key:        "fastmail",
		Domains:    []string{"fastmail.com", "fastmail.fm"},
		MXSuffixes: []string{".messagingengine.com"},
		Endpoints: []providerEndpoint{
			in("imap.fastmail.com", 993, "implicit"),
			in("pop.fastmail.com", 995, "implicit"),
			// Fastmail documents SMTP on 465 with SSL/TLS only.
			out("smtp.fastmail.com", 465, "implicit"),
		},
		Login:           LoginAppPassword,
		Note:            finding.T("Fastmail requires an app password for IMAP, POP and SMTP; the account password is refused. Addresses on a custom domain log in with the Fastmail account's own address."),
		AppPasswordHelp: finding.T("Fastmail Settings → Privacy & Security → App passwords"),
		Source:          "https://www.fastmail.help/hc/en-us/articles/1500000278342-Server-names-and-ports",
		Checked:         "2026-11-29",
	},
	{
		Name:       "Zoho Mail",
		Key:        "zoho",
		Domains:    []string{"zoho.com", "zohomail.com"},
		MXSuffixes: zohoMXSuffixes(),
		Endpoints: []providerEndpoint{
			in("imap.zoho.com", 993, "implicit"),
			in("pop.zoho.com", 995, "implicit"),
			out("smtp.zoho.com", 465, "implicit"),
			out("smtp.zoho.com", 587, "starttls"),
		},
		Login:           LoginPassword,
		Note:            finding.T("IMAP/POP access must be enabled in Zoho Mail settings, and not every plan includes it; with two-factor authentication on, use an application-specific password. Accounts on a custom domain use imappro/smtppro hosts in their data centre (zoho.com, .eu, .in, .com.au, .jp, .com.cn, .sa, zohocloud.ca)."),
		AppPasswordHelp: finding.T("Zoho Accounts → Security → App Passwords"),
		Source:          "https://www.zoho.com/mail/help/imap-access.html",
		Checked:         "2026-11-29",
	},
	{
		Name:       "GMX",
		Key:        "gmx",
		Domains:    []string{"gmx.com", "gmx.net", "gmx.de", "gmx.at", "gmx.ch", "gmx.fr"},
		MXSuffixes: []string{".gmx.net", ".gmx.com"},
		Endpoints: []providerEndpoint{
			in("imap.gmx.com", 993, "implicit"),
			in("pop.gmx.com", 995, "implicit"),
			out("mail.gmx.com", 465, "implicit"),
			out("mail.gmx.com", 587, "starttls"),
		},
		Login:           LoginPassword,
		Note:            finding.T("GMX turns IMAP/POP access off until the user enables it in the web mail settings (POP3 & IMAP); with two-factor authentication on, mail apps need an application-specific password. German accounts (gmx.net, gmx.de) use imap.gmx.net and mail.gmx.net."),
		AppPasswordHelp: finding.T("GMX My Account → Security → Application-specific passwords"),
		Source:          "https://support.gmx.com/security/2fa/application-specific-passwords.html",
		// German help: https://hilfe.gmx.net/sicherheit/2fa/anwendungsspezifisches-passwort.html
		Checked: "2026-11-29",
	},
	{
		Name:       "Proton Mail",
		Key:        "proton",
		Domains:    []string{"proton.me", "protonmail.com", "protonmail.ch", "pm.me"},
		MXSuffixes: []string{".protonmail.ch"},
		Endpoints: []providerEndpoint{
			// Proton Mail Bridge, on the user's own computer: its
			// default ports, STARTTLS with a self-signed certificate.
			{Role: "incoming", Protocol: "imap", Host: "127.0.0.1", Port: 1143, TLS: "starttls", Username: phAddress},
			{Role: "outgoing", Protocol: "submission", Host: "127.0.0.1", Port: 1025, TLS: "starttls", Username: phAddress},
		},
		Login:  LoginBridge,
		Local:  true,
		Note:   finding.T("Proton Mail has no public IMAP server: mail apps connect to Proton Mail Bridge on the user's own computer (paid plans), with the user name and password that Bridge shows, not the Proton password. Custom-domain addresses on some paid plans (Proton for Business, Visionary, Family) can also send through smtp.protonmail.ch:587 with an SMTP token created in the Proton settings."),
		Source: "https://proton.me/support/smtp-submission",
		// Bridge: https://proton.me/support/protonmail-bridge-clients
		Checked: "2026-11-29",
	},
}

// zohoDataCentres are the domains of Zoho's data centres; an account's
// hosts are in its own (https://www.zoho.com/mail/help/imap-access.html).
var zohoDataCentres = []string{"zoho.com", "zoho.eu", "zoho.in", "zoho.com.au", "zoho.jp", "zoho.com.cn", "zoho.sa", "zohocloud.ca"}

func zohoMXSuffixes() []string {
	var out []string
	for _, dc := range zohoDataCentres {
		out = append(out, "."+dc)
	}
	return out
}

// gmxGermany: gmx.net and gmx.de accounts are served by the German hosts.
var gmxGermany = []string{"gmx.net", "gmx.de", "gmx.at", "gmx.ch"}

// providerFor finds the provider of domain, by the address domain itself or
// by the MX hosts of a custom domain. how says which ("the address domain
// ...", "the MX host ...").
func providerFor(domain string, mxHosts []string) (p *Provider, how finding.Text) {
	for i := range Providers {
		if slices.Contains(Providers[i].Domains, domain) {
			return localised(&Providers[i], domain, ""), finding.T("the address domain %s", domain)
		}
	}
	for _, mx := range mxHosts {
		mx = strings.TrimSuffix(strings.ToLower(mx), ".")
		for i := range Providers {
			for _, suf := range Providers[i].MXSuffixes {
				if strings.HasSuffix(mx, suf) || mx == strings.TrimPrefix(suf, ".") {
					return localised(&Providers[i], domain, mx), finding.T("the MX host %s", mx)
				}
			}
		}
	}
	return nil, finding.Text{}
}

// localised adjusts settings that depend on the address domain or on how
// the provider was recognised: German GMX accounts, Google Workspace,
// Zoho's hosts for custom domains (imappro/smtppro in the account's data
// centre), Proton's SMTP submission for custom domains.
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
		dc := "zoho.com"
		for _, d := range zohoDataCentres {
			if strings.HasSuffix(mx, "."+d) {
				dc = d
			}
		}
		q.Endpoints = []providerEndpoint{
			in("imappro."+dc, 993, "implicit"),
			in("poppro."+dc, 995, "implicit"),
			out("smtppro."+dc, 465, "implicit"),
			out("smtppro."+dc, 587, "starttls"),
		}
	case p.Name == "Proton Mail" && mx != "":
		// A custom domain: Bridge as for every address, and Proton's
		// SMTP submission with a token (paid plans).
		q.Endpoints = append(slices.Clone(p.Endpoints), out("smtp.protonmail.ch", 587, "starttls"))
	default:
		return p
	}
	return &q
}
