package refserver

import (
	"errors"
	"fmt"
	"html"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"time"
)

// startHTTPS serves the policy and configuration files mail clients and
// MTAs fetch over HTTPS: the MTA-STS policy (RFC 8461 §3.3) and
// Thunderbird's autoconfig file.
func (s *Server) startHTTPS(ln net.Listener) error {
	srv := &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	s.onClose(srv.Close)
	s.goServe("https", func() error {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	})
	return nil
}

// maxRequestBody bounds what a client may send: every resource is a GET.
const maxRequestBody = 4 << 10

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(host, ".")
	s.logf("https: %s %s%s", r.Method, host, r.URL.Path)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch {
	case host == "mta-sts."+s.domain && r.URL.Path == "/.well-known/mta-sts.txt":
		// RFC 8461 §3.3: the policy is served as text/plain from
		// https://mta-sts.<domain>/.well-known/mta-sts.txt; 404 when the
		// scenario publishes none.
		policy, err := s.sc.File("mta-sts.txt")
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(policy)
	case (host == "autoconfig."+s.domain && r.URL.Path == "/mail/config-v1.1.xml") ||
		(host == s.domain && r.URL.Path == "/.well-known/autoconfig/mail/config-v1.1.xml"):
		cfg, err := s.sc.File("autoconfig.xml")
		if err != nil {
			cfg = []byte(s.autoconfig())
		}
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		w.Write(cfg)
	case host == BIMIHost(s.domain):
		s.serveBIMI(w, r) // bimi.go
	default:
		http.NotFound(w, r)
	}
}

// autoconfig is Thunderbird's client configuration for the default
// settings: implicit TLS first (RFC 8314 §3.3 prefers it), STARTTLS
// submission as an alternative.
func (s *Server) autoconfig() string {
	d := html.EscapeString(s.domain)
	host := html.EscapeString(s.MailHost())
	server := func(kind, typ string, port int, socket string) string {
		return fmt.Sprintf(`    <%[1]s type="%[2]s">
      <hostname>%[3]s</hostname>
      <port>%[4]d</port>
      <socketType>%[5]s</socketType>
      <authentication>password-cleartext</authentication>
      <username>%%EMAILADDRESS%%</username>
    </%[1]s>
`, kind, typ, host, port, socket)
	}
	return `<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="` + d + `">
    <domain>` + d + `</domain>
    <displayName>mailcheck reference server (` + d + `)</displayName>
    <displayShortName>` + d + `</displayShortName>
` + server("incomingServer", "imap", PortIMAPS, "SSL") +
		server("incomingServer", "pop3", PortPOP3S, "SSL") +
		server("outgoingServer", "smtp", PortSMTPS, "SSL") +
		server("outgoingServer", "smtp", PortSubmission, "STARTTLS") +
		`  </emailProvider>
</clientConfig>
`
}
