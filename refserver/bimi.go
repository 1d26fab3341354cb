package refserver

import (
	"bytes"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/mailcheck-cli/mailcheck/fixtures"
	"github.com/mailcheck-cli/mailcheck/pki"
)

// BIMI scenarios publish a logo and an evidence document at
// https://bimi.<domain>/<file>: the scenario's own file of that name, for
// a name ending in .svg, .svgz or .pem. An evidence document is a mark
// certificate no fixture can hold (it must name the scenario's domain and
// chain to the CA the server makes at start-up), so a .pem file holding
// only the placeholder below stands for one made then (pki.IssueMark),
// with the scenario's logo.svg embedded.
const markPlaceholder = "mailcheck:served:mark"

// BIMIHost is the host the BIMI documents are served from.
func BIMIHost(domain string) string {
	return "bimi." + strings.ToLower(strings.TrimSuffix(domain, "."))
}

// BIMIDocument returns the BIMI document at urlPath of the scenario, and
// its media type; ok is false when the scenario has none there. A mark
// placeholder is replaced with a mark certificate that ca issues.
func BIMIDocument(sc *fixtures.Scenario, ca *pki.Authority, urlPath string) (body []byte, mediaType string, ok bool, err error) {
	name := strings.TrimPrefix(path.Clean("/"+urlPath), "/")
	if name == "" || strings.Contains(name, "/") {
		return nil, "", false, nil
	}
	switch path.Ext(name) {
	case ".svg":
		mediaType = "image/svg+xml"
	case ".svgz":
		mediaType = "image/svg+xml"
	case ".pem":
		mediaType = "application/pem-certificate-chain"
	default:
		return nil, "", false, nil
	}
	data, ferr := sc.File(name)
	if ferr != nil {
		return nil, "", false, nil
	}
	if bytes.Equal(bytes.TrimSpace(data), []byte(markPlaceholder)) {
		logo, _ := sc.File("logo.svg")
		data, err = ca.IssueMark(sc.Domain, logo)
		if err != nil {
			return nil, "", false, err
		}
	}
	return data, mediaType, true, nil
}

// bimiDocs keeps the documents served, so that the mark certificate made
// at the first request is the one served for the server's life.
type bimiDocs struct {
	mu   sync.Mutex
	docs map[string]bimiDoc
}

type bimiDoc struct {
	body      []byte
	mediaType string
}

// serveBIMI serves a BIMI document, 404 when the scenario has none.
func (s *Server) serveBIMI(w http.ResponseWriter, r *http.Request) {
	s.bimi.mu.Lock()
	doc, ok := s.bimi.docs[r.URL.Path]
	if !ok {
		body, mediaType, found, err := BIMIDocument(s.sc, s.certs.inter, r.URL.Path)
		if err != nil {
			s.bimi.mu.Unlock()
			http.Error(w, "cannot make the mark certificate", http.StatusInternalServerError)
			return
		}
		if found {
			if s.bimi.docs == nil {
				s.bimi.docs = map[string]bimiDoc{}
			}
			doc, ok = bimiDoc{body, mediaType}, true
			s.bimi.docs[r.URL.Path] = doc
		}
	}
	s.bimi.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", doc.mediaType)
	w.Write(doc.body)
}
