package refserver

import (
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"time"
)

// startAIA serves the CA certificates over plain HTTP, where the leaves'
// Authority Information Access extension says they are (RFC 5280
// §4.2.2.1: "CA Issuers", DER, over HTTP so that a client can fetch it
// before it trusts anything). A probe that meets a chain without its
// intermediate fetches it here to tell a missing intermediate from an
// unknown CA.
func (s *Server) startAIA(ln net.Listener) error {
	return s.serveHTTPOn(ln, "http", http.HandlerFunc(s.serveCA))
}

func (s *Server) serveCA(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
	s.logf("http: %s %s", r.Method, r.URL.Path)
	name, ok := strings.CutPrefix(r.URL.Path, "/ca/")
	if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(w, r)
		return
	}
	der, ok := s.certs.caCert(name)
	if !ok {
		http.NotFound(w, r)
		return
	}
	// RFC 5280 §4.2.2.1 and RFC 2585 §4.1: a single DER certificate.
	w.Header().Set("Content-Type", "application/pkix-cert")
	w.Write(der)
}

// startPlainHTTP is the http-on-mail-port fault: a web server listens
// where the mail service should. Like any HTTP server it answers a
// request line it cannot parse — a mail client's command, a TLS
// ClientHello — with "400 Bad Request".
func (s *Server) startPlainHTTP(ln net.Listener) error {
	port := ln.(*faultListener).port
	return s.serveHTTPOn(ln, serviceName(port)+" (http)", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.logf("%s: HTTP %s %s", serviceName(port), r.Method, r.URL.Path)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "mailcheck reference server: a web server, where mail was expected\n")
	}))
}

// serveHTTPOn serves h on ln with the bounds every reference HTTP server has.
func (s *Server) serveHTTPOn(ln net.Listener, name string, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	s.onClose(srv.Close)
	s.goServe(name, func() error {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	})
	return nil
}
