package integration

// Tier 1: real clients against `mailcheck serve`.

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// servedAccount is the account given to serve with --account. The SPEC
// sanctions a password in argv for the test server only; the clients get
// it through files and the environment, never their argv.
const servedUser = "alice@example.test"

// servedServer is one `mailcheck serve` subprocess.
type servedServer struct {
	BasePort int
	Ports    map[string]int // service name (smtp, imaps, dns ...) -> port
	CAFile   string
	Password string
	Audit    []string // the printed `mailcheck domain ...` command line, split
	Output   *lockedBuffer
	cmd      *exec.Cmd
	exited   chan struct{}
}

// startServe starts `mailcheck serve` on a random base port in
// 20000-40000, retrying with another when a port is taken, and waits for
// it to print its endpoints.
func startServe(t *testing.T, scenario string, extra ...string) *servedServer {
	t.Helper()
	dir := t.TempDir()
	password := randomSecret(t)
	var lastErr error
	for attempt := 0; attempt < 6; attempt++ {
		n, err := rand.Int(rand.Reader, big.NewInt(20000))
		if err != nil {
			t.Fatal(err)
		}
		base := 20000 + int(n.Int64())
		s, err := tryServe(t, dir, scenario, base, password, extra...)
		if err == nil {
			return s
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
		t.Logf("base port %d: %v; trying another", base, err)
	}
	t.Fatalf("mailcheck serve did not start: %v", lastErr)
	return nil
}

var endpointLine = regexp.MustCompile(`^\s+(\w+)\s+(\d+)\s+->\s+127\.0\.0\.1:(\d+)$`)

func tryServe(t *testing.T, dir, scenario string, base int, password string, extra ...string) (*servedServer, error) {
	s := &servedServer{
		BasePort: base,
		Ports:    map[string]int{},
		CAFile:   filepath.Join(dir, "ca.pem"),
		Password: password,
		Output:   &lockedBuffer{},
		exited:   make(chan struct{}),
	}
	s.cmd = exec.Command(mailcheckBin, append([]string{"serve", "--scenario", scenario, "--base-port", strconv.Itoa(base),
		"--ca-out", s.CAFile, "--account", servedUser + ":" + password}, extra...)...)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// Through an io.Pipe, not StdoutPipe: Wait may then run while the
	// output is still being read, and waits for the copy to finish.
	pr, pw := io.Pipe()
	s.cmd.Stdout = pw
	s.cmd.Stderr = s.Output
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		s.cmd.Wait()
		pw.Close()
		close(s.exited)
	}()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.Output.Write([]byte(sc.Text() + "\n"))
			lines <- sc.Text()
		}
		io.Copy(io.Discard, pr)
	}()
	return s, s.awaitReady(t, lines)
}

// awaitReady parses serve's banner: endpoints, the audit command, and the
// closing "Press Ctrl-C" line.
func (s *servedServer) awaitReady(t *testing.T, lines <-chan string) error {
	timeout := time.After(commandTimeout)
	wantAudit := false
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				<-s.exited
				return fmt.Errorf("serve exited (code %d) before it was ready:\n%s", s.cmd.ProcessState.ExitCode(), s.Output)
			}
			if m := endpointLine.FindStringSubmatch(line); m != nil {
				p, _ := strconv.Atoi(m[3])
				s.Ports[m[1]] = p
			}
			if wantAudit && strings.TrimSpace(line) != "" {
				s.Audit = strings.Fields(line)
				wantAudit = false
			}
			if strings.HasPrefix(line, "Audit it with") {
				wantAudit = true
			}
			if strings.HasPrefix(line, "Press Ctrl-C") {
				// Keep reading, so that serve never blocks on a full pipe.
				go func() {
					for range lines {
					}
				}()
				t.Cleanup(func() { s.kill() })
				if len(s.Audit) < 2 || s.Audit[0] != "mailcheck" || s.Audit[1] != "domain" {
					return fmt.Errorf("serve printed no `mailcheck domain` command line:\n%s", s.Output)
				}
				return nil
			}
		case <-timeout:
			// Drain first: Wait returns only once the output is consumed.
			go func() {
				for range lines {
				}
			}()
			s.cmd.Process.Kill()
			<-s.exited
			return fmt.Errorf("serve not ready within %v:\n%s", commandTimeout, s.Output)
		}
	}
}

// port returns the port serve printed for a service.
func (s *servedServer) port(t *testing.T, service string) string {
	t.Helper()
	p, ok := s.Ports[service]
	if !ok {
		t.Fatalf("serve printed no %s endpoint:\n%s", service, s.Output)
	}
	return strconv.Itoa(p)
}

// interrupt sends SIGINT, as Ctrl-C would, and returns how long serve took
// to exit, or an error if it had not after 10 s.
func (s *servedServer) interrupt() (time.Duration, error) {
	start := time.Now()
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil {
		return 0, err
	}
	select {
	case <-s.exited:
		return time.Since(start), nil
	case <-time.After(10 * time.Second):
		return 0, fmt.Errorf("serve still running 10s after SIGINT")
	}
}

func (s *servedServer) kill() {
	select {
	case <-s.exited:
	default:
		s.cmd.Process.Kill()
		<-s.exited
	}
}

func randomSecret(t *testing.T) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "pw-" + hex.EncodeToString(b)
}

// writeSecretFile writes a file only its owner can read.
func writeSecretFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReferenceServerWithRealClients(t *testing.T) {
	s := startServe(t, "default")

	t.Run("dig", func(t *testing.T) { testDig(t, s) })
	t.Run("curl", func(t *testing.T) { testCurl(t, s) })
	t.Run("swaks", func(t *testing.T) { testSwaks(t, s) })
	t.Run("openssl", func(t *testing.T) { testOpenSSL(t, s) })
	t.Run("mailcheck-domain", func(t *testing.T) { testMailcheckDomain(t, s) })
	t.Run("mailcheck-probe", func(t *testing.T) { testMailcheckProbe(t, s) })

	// Ctrl-C stops serve promptly and cleanly.
	took, err := s.interrupt()
	if err != nil {
		t.Fatalf("%v\n%s", err, s.Output)
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("serve exited with code %d after SIGINT, want 0\n%s", code, s.Output)
	}
	if took > 3*time.Second {
		t.Errorf("serve took %v to exit after SIGINT, want under 3s", took)
	}
	t.Logf("serve exited %v after SIGINT", took.Round(time.Millisecond))
}

func testDig(t *testing.T, s *servedServer) {
	dig := needTools(t, "dig")["dig"]
	port := s.port(t, "dns")
	for _, transport := range []string{"+notcp", "+tcp"} {
		r := run(t, runOpts{}, dig, "@127.0.0.1", "-p", port, transport, "+short", "+time=3", "+tries=1", "example.test", "MX")
		if r.Code != 0 || strings.TrimSpace(r.Stdout) != "10 mail.example.test." {
			t.Errorf("dig %s example.test MX: want exactly %q\n%s", transport, "10 mail.example.test.", r)
		}
	}
	r := run(t, runOpts{}, dig, "@127.0.0.1", "-p", port, "+short", "+time=3", "+tries=1", "_dmarc.example.test", "TXT")
	if r.Code != 0 || !strings.HasPrefix(strings.TrimSpace(r.Stdout), `"v=DMARC1; p=reject;`) {
		t.Errorf("dig _dmarc.example.test TXT: want a v=DMARC1 p=reject record\n%s", r)
	}
	// A name the zone does not hold is NXDOMAIN, authoritatively.
	r = run(t, runOpts{}, dig, "@127.0.0.1", "-p", port, "+time=3", "+tries=1", "nosuch.example.test", "A")
	if !strings.Contains(r.Stdout, "status: NXDOMAIN") || !regexp.MustCompile(`flags: [a-z ]*\baa\b`).MatchString(r.Stdout) {
		t.Errorf("dig nosuch.example.test A: want an authoritative NXDOMAIN\n%s", r)
	}
}

// curlBase returns curl's arguments common to every request to the mail
// host on port: the test CA, the name pinned to loopback, the credentials
// from a config file, and bounded times.
func curlBase(t *testing.T, s *servedServer, host, port string) []string {
	cfg := writeSecretFile(t, "curlrc", fmt.Sprintf("user = \"%s:%s\"\n", servedUser, s.Password))
	return []string{"--silent", "--show-error", "--max-time", "15",
		"--cacert", s.CAFile, "--resolve", host + ":" + port + ":127.0.0.1", "--config", cfg}
}

func testCurl(t *testing.T, s *servedServer) {
	curl := needTools(t, "curl")["curl"]
	const host = "mail.example.test"

	t.Run("imaps-list", func(t *testing.T) {
		p := s.port(t, "imaps")
		r := run(t, runOpts{}, curl, append(curlBase(t, s, host, p), "imaps://"+host+":"+p+"/")...)
		if r.Code != 0 || !strings.Contains(r.Stdout, "INBOX") {
			t.Errorf("curl imaps LIST: want INBOX listed\n%s", r)
		}
	})
	t.Run("imap-starttls-list", func(t *testing.T) {
		p := s.port(t, "imap")
		r := run(t, runOpts{}, curl, append(curlBase(t, s, host, p), "--ssl-reqd", "imap://"+host+":"+p+"/")...)
		if r.Code != 0 || !strings.Contains(r.Stdout, "INBOX") {
			t.Errorf("curl imap --ssl-reqd LIST: want INBOX listed\n%s", r)
		}
	})
	t.Run("pop3s-list", func(t *testing.T) {
		p := s.port(t, "pop3s")
		r := run(t, runOpts{}, curl, append(curlBase(t, s, host, p), "pop3s://"+host+":"+p+"/")...)
		// The maildrop starts with the welcome message: "1 SIZE".
		if r.Code != 0 || !regexp.MustCompile(`(?m)^1 \d+\r?$`).MatchString(r.Stdout) {
			t.Errorf("curl pop3s LIST: want message 1 listed\n%s", r)
		}
	})
	t.Run("wrong-password-refused", func(t *testing.T) {
		p := s.port(t, "imaps")
		cfg := writeSecretFile(t, "curlrc-wrong", fmt.Sprintf("user = \"%s:%s\"\n", servedUser, "not-"+s.Password))
		args := []string{"--silent", "--max-time", "15", "--cacert", s.CAFile, "--resolve", host + ":" + p + ":127.0.0.1", "--config", cfg, "imaps://" + host + ":" + p + "/"}
		r := run(t, runOpts{}, curl, args...)
		// curl exit 67: the remote server denied login.
		if r.Code != 67 {
			t.Errorf("curl imaps with a wrong password: want exit 67 (login denied)\n%s", r)
		}
	})
	t.Run("submission-send-and-fetch", func(t *testing.T) {
		subject := "mailcheck integration " + randomSecret(t)[3:]
		msg := writeSecretFile(t, "message.eml", strings.ReplaceAll(fmt.Sprintf(
			"From: <%[1]s>\nTo: <%[1]s>\nSubject: %[2]s\nMessage-ID: <%[3]s@example.test>\n\nSent by curl over submission with STARTTLS.\n",
			servedUser, subject, strings.ReplaceAll(subject, " ", ".")), "\n", "\r\n"))
		p := s.port(t, "submission")
		args := append(curlBase(t, s, host, p), "--ssl-reqd", "--mail-from", servedUser, "--mail-rcpt", servedUser,
			"--upload-file", msg, "smtp://"+host+":"+p+"/")
		if r := run(t, runOpts{}, curl, args...); r.Code != 0 {
			t.Fatalf("curl smtp --ssl-reqd (submission with AUTH): want exit 0\n%s", r)
		}
		// The message arrived: IMAP finds it by subject and returns it.
		ip := s.port(t, "imaps")
		search := run(t, runOpts{}, curl, append(curlBase(t, s, host, ip), "-X", "UID SEARCH SUBJECT \""+subject+"\"", "imaps://"+host+":"+ip+"/INBOX")...)
		m := regexp.MustCompile(`\* SEARCH (\d+)`).FindStringSubmatch(search.Stdout)
		if search.Code != 0 || m == nil {
			t.Fatalf("curl imaps UID SEARCH SUBJECT: want the sent message found\n%s", search)
		}
		fetch := run(t, runOpts{}, curl, append(curlBase(t, s, host, ip), "imaps://"+host+":"+ip+"/INBOX;UID="+m[1])...)
		if fetch.Code != 0 || !strings.Contains(fetch.Stdout, "Subject: "+subject) || !strings.Contains(fetch.Stdout, "Sent by curl over submission") {
			t.Errorf("curl imaps FETCH UID %s: want the sent message back\n%s", m[1], fetch)
		}
	})
}

func testSwaks(t *testing.T, s *servedServer) {
	swaks := needTools(t, "swaks")["swaks"]
	if r := run(t, runOpts{}, swaks, "--support"); !strings.Contains(r.Stdout+r.Stderr, "=== TLS supported") {
		prerequisite(t, "swaks without TLS support (Debian package libnet-ssleay-perl)")
	}
	common := []string{"--timeout", "15", "--helo", "client.example.net"}

	t.Run("submission-tls-auth", func(t *testing.T) {
		args := append(common, "--server", "127.0.0.1:"+s.port(t, "submission"),
			"--tls", "--tls-verify", "--tls-ca-path", s.CAFile, "--tls-sni", "mail.example.test",
			"--auth", "PLAIN", "--auth-user", servedUser,
			"--from", servedUser, "--to", servedUser, "--header", "Subject: swaks submission")
		// swaks reads options from SWAKS_OPT_* variables: the password
		// stays out of argv.
		r := run(t, runOpts{Env: []string{"SWAKS_OPT_auth_password=" + s.Password}}, swaks, args...)
		if r.Code != 0 || !strings.Contains(r.Stdout, "235 ") || !strings.Contains(r.Stdout, "=== TLS started") {
			t.Errorf("swaks --tls --auth PLAIN to submission: want TLS, 235 and the message queued (exit 0)\n%s", r)
		}
		if strings.Contains(r.Stdout, s.Password) {
			t.Errorf("the password leaked into swaks' transcript in clear")
		}
	})
	t.Run("mx-local-recipient", func(t *testing.T) {
		args := append(common, "--server", "127.0.0.1:"+s.port(t, "smtp"), "--from", "sender@example.net", "--to", servedUser)
		r := run(t, runOpts{}, swaks, args...)
		if r.Code != 0 || !regexp.MustCompile(`(?m)^<-\s+250 .*\n -> QUIT`).MatchString(r.Stdout) {
			t.Errorf("swaks to port 25 for %s: want the message accepted (250 after DATA, exit 0)\n%s", servedUser, r)
		}
	})
	t.Run("mx-relay-refused", func(t *testing.T) {
		args := append(common, "--server", "127.0.0.1:"+s.port(t, "smtp"), "--from", "sender@example.net", "--to", "someone@elsewhere.example")
		r := run(t, runOpts{}, swaks, args...)
		// swaks exit 24: the recipient was refused.
		if r.Code != 24 || !regexp.MustCompile(`(?m)^<\*\* +550 `).MatchString(r.Stdout) {
			t.Errorf("swaks to port 25 for a remote recipient: want RCPT refused with 550 (swaks exit 24)\n%s", r)
		}
	})
}

func testOpenSSL(t *testing.T, s *servedServer) {
	openssl := needTools(t, "openssl")["openssl"]
	cases := []struct {
		service  string
		starttls string // "" for implicit TLS
	}{
		{"smtp", "smtp"}, {"submission", "smtp"}, {"imap", "imap"}, {"pop3", "pop3"},
		{"smtps", ""}, {"imaps", ""}, {"pop3s", ""},
	}
	for _, tc := range cases {
		t.Run(tc.service, func(t *testing.T) {
			args := []string{"s_client", "-connect", "127.0.0.1:" + s.port(t, tc.service),
				"-servername", "mail.example.test", "-verify_hostname", "mail.example.test",
				"-CAfile", s.CAFile, "-verify_return_error", "-brief"}
			if tc.starttls != "" {
				args = append(args, "-starttls", tc.starttls)
			}
			r := run(t, runOpts{Stdin: "QUIT\r\n"}, openssl, args...)
			if r.Code != 0 || !strings.Contains(r.Stderr, "Verification: OK") || !strings.Contains(r.Stderr, "Verified peername: mail.example.test") {
				t.Errorf("openssl s_client %s: want verification OK for mail.example.test\n%s", strings.Join(args, " "), r)
			}
			// Without the test CA the same chain does not verify.
			noCA := slices.DeleteFunc(slices.Clone(args), func(a string) bool { return a == "-CAfile" || a == s.CAFile })
			noCA = append(noCA, "-CApath", t.TempDir())
			if r := run(t, runOpts{Stdin: "QUIT\r\n"}, openssl, noCA...); r.Code == 0 {
				t.Errorf("openssl s_client without the test CA: want a verification failure\n%s", r)
			}
		})
	}
}

// servedAudit runs the audit command serve printed, with the binary
// TestMain built.
func servedAudit(t *testing.T, s *servedServer, wantCodes []int, extra ...string) report {
	t.Helper()
	args := append(slices.Clone(s.Audit[1:]), extra...)
	return mailcheckJSON(t, wantCodes, append(args, "--timeout", "15s")...)
}

func testMailcheckDomain(t *testing.T, s *servedServer) {
	rep := servedAudit(t, s, []int{0})
	if rep.Target != "example.test" {
		t.Errorf("target = %q, want example.test", rep.Target)
	}
	if bad := rep.atOrAbove(); len(bad) > 0 {
		t.Errorf("the healthy scenario has findings at warn or above: %+v", bad)
	}
	for _, id := range []string{"mx.ok", "spf.ok", "dmarc.ok", "dkim.ok", "mtasts.ok", "tlsrpt.ok", "ptr.ok", "conn.ok", "tls.ok"} {
		if !rep.has(id, "pass", "") {
			t.Errorf("no %s pass finding; findings: %v", id, rep.ids())
		}
	}
	if len(rep.Probes) == 0 {
		t.Fatalf("no probes in the report")
	}
	for _, p := range rep.Probes {
		if p.Status != "ok" || p.TLS == nil || !p.TLS.Verified {
			t.Errorf("probe %s (%s): status %q, tls %+v; want ok and verified", p.Addr, p.Protocol, p.Status, p.TLS)
		}
	}
	if p := rep.probeAt(t, "127.0.0.1:"+s.port(t, "smtp")); !p.STARTTLS || p.Host != "mail.example.test" {
		t.Errorf("MX probe: starttls %v host %q, want STARTTLS on mail.example.test", p.STARTTLS, p.Host)
	}
}

// portMapArg rebuilds --port-map from the endpoints serve printed.
func portMapArg(t *testing.T, s *servedServer) string {
	var pm []string
	for _, svc := range []struct {
		name string
		std  int
	}{{"smtp", 25}, {"smtps", 465}, {"submission", 587}, {"pop3", 110}, {"pop3s", 995}, {"imap", 143}, {"imaps", 993}, {"https", 443}} {
		pm = append(pm, fmt.Sprintf("%d=%s", svc.std, s.port(t, svc.name)))
	}
	return strings.Join(pm, ",")
}

func testMailcheckProbe(t *testing.T, s *servedServer) {
	rep := mailcheckJSON(t, []int{0}, "probe", "mail.example.test",
		"--resolver", "127.0.0.1:"+s.port(t, "dns"), "--port-map", portMapArg(t, s), "--ca", s.CAFile, "--timeout", "15s")
	if bad := rep.atOrAbove(); len(bad) > 0 {
		t.Errorf("probe of the healthy server has findings at warn or above: %+v", bad)
	}
	want := map[string]string{ // service -> protocol mailcheck should report
		"smtp": "smtp", "smtps": "smtps", "submission": "submission",
		"pop3": "pop3", "pop3s": "pop3s", "imap": "imap", "imaps": "imaps",
	}
	for svc, proto := range want {
		p := rep.probeAt(t, "127.0.0.1:"+s.port(t, svc))
		if p.Protocol != proto || p.Status != "ok" || p.TLS == nil || !p.TLS.Verified {
			t.Errorf("probe of %s: protocol %q status %q tls %+v; want %s, ok, verified", svc, p.Protocol, p.Status, p.TLS, proto)
		}
		if len(p.AuthBeforeTLS) != 0 {
			t.Errorf("probe of %s: AUTH offered before TLS: %v", svc, p.AuthBeforeTLS)
		}
		if svc != "smtp" && !slices.Contains(p.AuthAfterTLS, "PLAIN") {
			t.Errorf("probe of %s: AUTH after TLS %v, want PLAIN among them", svc, p.AuthAfterTLS)
		}
		if !rep.has("tls.ok", "pass", "mail.example.test:"+strconv.Itoa(stdPort[svc])) {
			t.Errorf("no tls.ok for mail.example.test:%d; findings: %v", stdPort[svc], rep.ids())
		}
	}
	if len(rep.Probes) != 7 {
		t.Errorf("%d probes, want the 7 mail ports", len(rep.Probes))
	}
}

var stdPort = map[string]int{"smtp": 25, "smtps": 465, "submission": 587, "pop3": 110, "pop3s": 995, "imap": 143, "imaps": 993}

// A fault scenario is reported as such, with the exit code that fails a
// pipeline.
func TestServeFaultCertExpired(t *testing.T) {
	s := startServe(t, "cert-expired")
	rep := servedAudit(t, s, []int{1})
	if !rep.has("tls.cert-expired", "fail", "") {
		t.Errorf("no tls.cert-expired fail finding; findings: %v", rep.ids())
	}
	p := rep.probeAt(t, "127.0.0.1:"+s.port(t, "smtp"))
	if p.TLS == nil || p.TLS.Verified {
		t.Errorf("MX probe tls = %+v, want an unverified chain", p.TLS)
	}
	if _, err := s.interrupt(); err != nil {
		t.Error(err)
	}
}
