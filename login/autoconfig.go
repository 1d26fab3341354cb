package login

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/mailcheck-cli/mailcheck/finding"
)

// maxAutoconfigBytes bounds the configuration file: real ones are a few
// KiB; a server sending more is not serving a configuration file.
const maxAutoconfigBytes = 64 << 10

// autoconfigResult is what the autoconfig fetch found.
type autoconfigResult struct {
	url       string // the URL that answered
	endpoints []finding.ClientEndpoint
	detail    []string
}

// autoconfigURLs are the places Thunderbird looks for a domain's own
// configuration file, in its order: the autoconfig host (with the address,
// so that the server may tailor the answer) and the domain's well-known
// path. Both are HTTPS: a configuration fetched over plain HTTP could be
// rewritten by anyone on the path to send the password elsewhere.
func autoconfigURLs(domain, address string) []string {
	return []string{
		"https://autoconfig." + domain + "/mail/config-v1.1.xml?emailaddress=" + url.QueryEscape(address),
		"https://" + domain + "/.well-known/autoconfig/mail/config-v1.1.xml",
	}
}

// fetchAutoconfig fetches both URLs at once and uses the first, in
// Thunderbird's order, that returns a valid file. Failures are only
// details: most domains publish no autoconfig file.
func fetchAutoconfig(ctx context.Context, env *Env, domain, address string) *autoconfigResult {
	urls := autoconfigURLs(domain, address)
	type got struct {
		eps []finding.ClientEndpoint
		err error
	}
	res := make([]got, len(urls))
	client := env.Dialer.HTTPClient()
	var wg sync.WaitGroup
	for i, u := range urls {
		wg.Go(func() {
			body, err := get(ctx, client, u)
			if err != nil {
				res[i].err = err
				return
			}
			res[i].eps, res[i].err = parseAutoconfig(body, address)
		})
	}
	wg.Wait()
	out := &autoconfigResult{}
	for i, u := range urls {
		if res[i].err != nil {
			out.detail = append(out.detail, "autoconfig "+u+": "+res[i].err.Error())
			continue
		}
		if out.url == "" {
			out.url = u
			out.endpoints = res[i].eps
			for _, ep := range res[i].eps {
				out.detail = append(out.detail, "autoconfig "+u+": "+Describe(ep))
			}
		}
	}
	return out
}

func get(ctx context.Context, client *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAutoconfigBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxAutoconfigBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxAutoconfigBytes)
	}
	return body, nil
}

// The autoconfig format (Thunderbird's clientConfig version 1.1).
type clientConfig struct {
	XMLName   xml.Name `xml:"clientConfig"`
	Providers []struct {
		Incoming []serverConfig `xml:"incomingServer"`
		Outgoing []serverConfig `xml:"outgoingServer"`
	} `xml:"emailProvider"`
}

type serverConfig struct {
	Type           string   `xml:"type,attr"`
	Hostname       string   `xml:"hostname"`
	Port           string   `xml:"port"`
	SocketType     string   `xml:"socketType"`
	Username       string   `xml:"username"`
	Authentication []string `xml:"authentication"`
}

var errNoServers = errors.New("no IMAP, POP3 or SMTP server in the file")

// parseAutoconfig reads a clientConfig file. Servers of other types
// (Exchange, JMAP...) and entries that cannot be used (no host, a bad
// port, an unknown socketType) are skipped, like Thunderbird does.
func parseAutoconfig(data []byte, address string) ([]finding.ClientEndpoint, error) {
	var cc clientConfig
	dec := xml.NewDecoder(strings.NewReader(string(data)))
	// Autoconfig files are UTF-8 by definition; refuse other charsets
	// rather than guess.
	dec.CharsetReader = func(charset string, r io.Reader) (io.Reader, error) {
		if strings.EqualFold(charset, "utf-8") || strings.EqualFold(charset, "us-ascii") {
			return r, nil
		}
		return nil, fmt.Errorf("unsupported charset %q", charset)
	}
	if err := dec.Decode(&cc); err != nil {
		return nil, fmt.Errorf("not a clientConfig file: %v", err)
	}
	local, domain := splitAddress(address)
	var out []finding.ClientEndpoint
	for _, p := range cc.Providers {
		for _, group := range [][]serverConfig{p.Incoming, p.Outgoing} {
			for _, s := range group {
				if ep, ok := autoconfigEndpoint(s, address, local, domain); ok {
					out = append(out, ep)
				}
			}
		}
	}
	if len(out) == 0 {
		return nil, errNoServers
	}
	return out, nil
}

func autoconfigEndpoint(s serverConfig, address, local, domain string) (finding.ClientEndpoint, bool) {
	var ep finding.ClientEndpoint
	switch strings.ToLower(strings.TrimSpace(s.Type)) {
	case "imap":
		ep.Role, ep.Protocol = "incoming", "imap"
	case "pop3":
		ep.Role, ep.Protocol = "incoming", "pop3"
	case "smtp":
		ep.Role, ep.Protocol = "outgoing", "submission"
	default:
		return ep, false
	}
	switch strings.ToUpper(strings.TrimSpace(s.SocketType)) {
	case "SSL":
		ep.TLS = TLSImplicit
	case "STARTTLS":
		ep.TLS = TLSStartTLS
	case "PLAIN":
		ep.TLS = TLSNone
	default:
		return ep, false
	}
	host := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(expandUser(s.Hostname, address, local, domain)), "."))
	if host == "" || strings.ContainsAny(host, " /@:%") && !isIPv6(host) {
		return ep, false
	}
	port, err := strconv.Atoi(strings.TrimSpace(s.Port))
	if err != nil || port < 1 || port > 65535 {
		return ep, false
	}
	ep.Host, ep.Port = host, port
	ep.Username = expandUser(strings.TrimSpace(s.Username), address, local, domain)
	for _, a := range s.Authentication {
		if a = strings.TrimSpace(a); a != "" {
			ep.Auth = append(ep.Auth, a)
		}
	}
	return ep, true
}

func isIPv6(h string) bool { return strings.Count(h, ":") >= 2 && !strings.ContainsAny(h, " /@%") }
