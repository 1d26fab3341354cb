package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/refserver"
)

// maxReceivedFiles bounds the files `serve --receive` keeps: the oldest
// goes when a new one arrives, as the server's memory does.
const maxReceivedFiles = 100

// receiver writes the messages `serve --receive` accepts to files and says
// how to analyse each: a self-hosted "send a test message here" check.
type receiver struct {
	io        *IOStreams
	dir       string
	removeDir bool // the directory was made for this run
	domain    string
	dnsAddr   string

	mu    sync.Mutex
	n     int
	files []string
}

// newReceiver makes the directory messages are written to: dir, or a
// private temporary one removed at the end of the run.
func newReceiver(io *IOStreams, dir string) (*receiver, error) {
	r := &receiver{io: io, dir: dir}
	if dir == "" {
		d, err := os.MkdirTemp("", "mailcheck-received-")
		if err != nil {
			return nil, fmt.Errorf("--receive: %v", err)
		}
		r.dir, r.removeDir = d, true
		return r, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, usageErrorf("--receive-dir: %v", unwrapPath(err))
	}
	return r, nil
}

// started records the server's domain and DNS, for the printed commands.
func (r *receiver) started(srv *refserver.Server) {
	r.domain, r.dnsAddr = srv.Domain(), srv.DNSAddr()
}

func (r *receiver) close() {
	if r.removeDir {
		os.RemoveAll(r.dir)
	}
}

// onMessage is the server's OnMessage: it runs on the SMTP session's
// goroutine, so writing and printing are serialised.
func (r *receiver) onMessage(m refserver.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	file := filepath.Join(r.dir, fmt.Sprintf("%03d.eml", r.n))
	if err := os.WriteFile(file, m.Data, 0o600); err != nil {
		fmt.Fprintln(r.io.ErrOut, "mailcheck serve: "+finding.T("keeping message %d: %v", r.n, err).In(r.io.Lang))
		return
	}
	r.files = append(r.files, file)
	if len(r.files) > maxReceivedFiles {
		os.Remove(r.files[0])
		r.files = r.files[1:]
	}
	fmt.Fprintf(r.io.Out, "\n%s\n  %s %s\n",
		finding.T("received message %d from <%s> for %s (%d bytes, port %d)", r.n, m.From, strings.Join(m.To, ", "), len(m.Data), m.StdPort).In(r.io.Lang),
		finding.T("analyse it:").In(r.io.Lang), r.command(file, m.From, m.Data))
}

// writeSample writes the scenario's own signed message, when it has one,
// and prints how to analyse it.
func (r *receiver) writeSample(srv *refserver.Server) error {
	data, ok, err := srv.SampleMessage()
	if err != nil || !ok {
		return err
	}
	file := filepath.Join(r.dir, "sample.eml")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		return fmt.Errorf("writing the scenario's message: %v", err)
	}
	fmt.Fprintf(r.io.Out, "\n%s\n  %s\n", finding.T("The scenario's message, as its MX delivered it:").In(r.io.Lang), r.command(file, "postmaster@"+r.domain, data))
	return nil
}

// command is the `mailcheck message` command line for a file. The server's
// DNS is named when the message is the served domain's, whose records only
// it has; other senders' records are on the Internet.
func (r *receiver) command(file, mailFrom string, data []byte) string {
	cmd := "mailcheck message " + file
	head, _, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	if strings.HasSuffix(strings.ToLower(mailFrom), "@"+r.domain) ||
		bytes.Contains(bytes.ToLower(head), []byte("\nfrom:")) && bytes.Contains(bytes.ToLower(head), []byte("@"+r.domain)) {
		cmd += " --resolver " + r.dnsAddr
	}
	return cmd
}
