package integration

// Tier 2: mailcheck's IMAP and POP3 probes against Dovecot.

import (
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// dovecotAddr is where Dovecot listens: a loopback address other than the
// client's 127.0.0.1 (see testdata/dovecot.conf.tmpl for why).
const dovecotAddr = "127.0.0.2"

// dovecotInstance is a running Dovecot with one account. Tests of logins
// use User and Password against the ports; mailcheck reaches it as
// mail.example.test through ZoneFile, trusting CAFile.
type dovecotInstance struct {
	Addr                     string // listen address
	IMAP, IMAPS, POP3, POP3S int
	User, Password           string
	CAFile                   string // PEM root that signed the server's chain
	ZoneFile                 string // example.test zone: mail.example.test A Addr
	AuthSocket               string // Dovecot's SASL socket, when dovecotOptions asked for it
	Dir                      string
	d                        *daemon
}

// dovecotOptions vary the configuration.
type dovecotOptions struct {
	// AuthSocketUser, when set, opens a SASL socket for Postfix owned by
	// this user.
	AuthSocketUser string
	// AllowPlaintextAuth offers login before TLS: the misconfiguration
	// mailcheck reports as auth.plaintext-exposed.
	AllowPlaintextAuth bool
}

// PortMap is the --port-map value that sends mailcheck's standard IMAP and
// POP3 ports to this Dovecot.
func (dv *dovecotInstance) PortMap() string {
	return fmt.Sprintf("143=%d,993=%d,110=%d,995=%d", dv.IMAP, dv.IMAPS, dv.POP3, dv.POP3S)
}

// LogTail returns the end of Dovecot's logs, for failure messages.
func (dv *dovecotInstance) LogTail() string { return dv.d.logTail() }

// startDovecot starts Dovecot as root from testdata/dovecot.conf.tmpl,
// with a certificate for mail.example.test from a fresh test CA and an
// account whose password is generated now, and waits until it greets.
func startDovecot(t *testing.T, opts dovecotOptions) *dovecotInstance {
	t.Helper()
	tools := needTools(t, "dovecot", "openssl")
	needRoot(t, "Dovecot")
	for _, u := range []string{"dovecot", "dovenull"} {
		if _, err := user.Lookup(u); err != nil {
			prerequisite(t, "user %s (created by Debian's dovecot-core) is missing", u)
		}
	}
	if ln, err := net.Listen("tcp", dovecotAddr+":0"); err != nil {
		prerequisite(t, "loopback address %s is not usable: %v", dovecotAddr, err)
	} else {
		ln.Close()
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		prerequisite(t, "user nobody is missing")
	}

	dir := t.TempDir()
	openDir(t, dir)
	tp := newTestPKI(t, dir, "mail.example.test")
	dv := &dovecotInstance{
		Addr:     dovecotAddr,
		User:     "alice@example.test",
		Password: randomSecret(t),
		CAFile:   tp.CAFile,
		ZoneFile: filepath.Join(dir, "example.test.zone"),
		Dir:      dir,
	}
	writeTemplate(t, "mail.example.test.zone.tmpl", dv.ZoneFile, map[string]string{"Addr": dovecotAddr})

	// The password's hash, made by openssl from stdin: the password is in
	// no process's argv.
	hash := run(t, runOpts{Stdin: dv.Password + "\n"}, tools["openssl"], "passwd", "-6", "-stdin")
	if hash.Code != 0 || !strings.HasPrefix(hash.Stdout, "$6$") {
		t.Fatalf("openssl passwd -6: %s", hash)
	}
	home := filepath.Join(dir, "home", "alice")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	if err := os.Chown(home, uid, gid); err != nil {
		t.Fatal(err)
	}
	openDir(t, filepath.Dir(home))
	users := filepath.Join(dir, "users")
	line := fmt.Sprintf("%s:{SHA512-CRYPT}%s:%d:%d::%s::\n", dv.User, strings.TrimSpace(hash.Stdout), uid, gid, home)
	if err := os.WriteFile(users, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	// Dovecot's auth process reads it as the dovecot user.
	if dvu, err := user.Lookup("dovecot"); err == nil {
		u, _ := strconv.Atoi(dvu.Uid)
		if err := os.Chown(users, u, -1); err != nil {
			t.Fatal(err)
		}
	}

	startWithRetries(t, "Dovecot", func(attempt int) (*daemon, error) {
		ports := freePorts(t, dovecotAddr, 4)
		dv.IMAP, dv.IMAPS, dv.POP3, dv.POP3S = ports[0], ports[1], ports[2], ports[3]
		conf := filepath.Join(dir, "dovecot.conf")
		data := map[string]any{
			"Addr": dovecotAddr, "Dir": dir, "CertFile": tp.CertFile, "KeyFile": tp.KeyFile,
			"IMAP": dv.IMAP, "IMAPS": dv.IMAPS, "POP3": dv.POP3, "POP3S": dv.POP3S,
			"AuthSocketUser": opts.AuthSocketUser, "AllowPlaintextAuth": opts.AllowPlaintextAuth,
		}
		writeTemplate(t, "dovecot.conf.tmpl", conf, data)
		if opts.AuthSocketUser != "" {
			dv.AuthSocket = filepath.Join(dir, "run", "auth-postfix")
		}
		dv.d = startDaemon(t, dir, fmt.Sprintf("dovecot-%d", attempt), []string{filepath.Join(dir, "dovecot.log")},
			tools["dovecot"], "-F", "-c", conf)
		imap := net.JoinHostPort(dovecotAddr, strconv.Itoa(dv.IMAP))
		pop3 := net.JoinHostPort(dovecotAddr, strconv.Itoa(dv.POP3))
		return dv.d, dv.d.waitFor(15*time.Second, func() error {
			// Until its auth process is up Dovecot greets with "Waiting for
			// authentication process to respond" and no capabilities.
			g, err := greeting(imap)
			if err != nil {
				return err
			}
			if !strings.HasPrefix(g, "* OK [CAPABILITY ") {
				return fmt.Errorf("IMAP greeting %q", g)
			}
			if g, err := greeting(pop3); err != nil || !strings.HasPrefix(g, "+OK") {
				return fmt.Errorf("POP3 greeting %q: %v", g, err)
			}
			if dv.AuthSocket != "" {
				if _, err := os.Stat(dv.AuthSocket); err != nil {
					return err
				}
			}
			return nil
		})
	})
	return dv
}

// dovecotProbe runs mailcheck probe against Dovecot's four ports as
// mail.example.test.
func dovecotProbe(t *testing.T, dv *dovecotInstance, wantCodes []int, extra ...string) report {
	t.Helper()
	args := []string{"probe", "mail.example.test", "--ports", "143,993,110,995",
		"--zone", dv.ZoneFile, "--port-map", dv.PortMap(), "--timeout", "15s"}
	return mailcheckJSON(t, wantCodes, append(args, extra...)...)
}

func TestDovecotProbe(t *testing.T) {
	dv := startDovecot(t, dovecotOptions{})
	rep := dovecotProbe(t, dv, []int{0}, "--ca", dv.CAFile)
	if bad := rep.atOrAbove(); len(bad) > 0 {
		t.Errorf("Dovecot with TLS required: findings at warn or above: %+v\n%s", bad, dv.LogTail())
	}
	addr := func(port int) string { return net.JoinHostPort(dv.Addr, strconv.Itoa(port)) }

	// RFC 3501 §6.2.3, §7.2.1: LOGINDISABLED before STARTTLS, AUTH= after.
	imap := rep.probeAt(t, addr(dv.IMAP))
	if !imap.STARTTLS || !slices.Contains(imap.CapsBeforeTLS, "LOGINDISABLED") || !slices.Contains(imap.CapsBeforeTLS, "STARTTLS") {
		t.Errorf("IMAP %s before TLS: starttls %v caps %v; want STARTTLS and LOGINDISABLED", imap.Addr, imap.STARTTLS, imap.CapsBeforeTLS)
	}
	if len(imap.AuthBeforeTLS) != 0 || !slices.Contains(imap.AuthAfterTLS, "PLAIN") {
		t.Errorf("IMAP %s: auth before TLS %v, after %v; want none before and PLAIN after", imap.Addr, imap.AuthBeforeTLS, imap.AuthAfterTLS)
	}
	// RFC 2595 §4: STLS on POP3.
	pop3 := rep.probeAt(t, addr(dv.POP3))
	if !pop3.STARTTLS || len(pop3.AuthBeforeTLS) != 0 || !slices.Contains(pop3.AuthAfterTLS, "PLAIN") {
		t.Errorf("POP3 %s: stls %v, auth before %v, after %v; want STLS, none before, PLAIN after", pop3.Addr, pop3.STARTTLS, pop3.AuthBeforeTLS, pop3.AuthAfterTLS)
	}
	// Implicit TLS on the imaps and pop3s ports.
	for _, port := range []int{dv.IMAPS, dv.POP3S} {
		p := rep.probeAt(t, addr(port))
		if p.STARTTLS || p.TLS == nil || !slices.Contains(p.AuthAfterTLS, "PLAIN") {
			t.Errorf("%s (%s): starttls %v tls %+v auth %v; want implicit TLS with PLAIN", p.Addr, p.Protocol, p.STARTTLS, p.TLS, p.AuthAfterTLS)
		}
	}
	for _, std := range []int{143, 993, 110, 995} {
		subject := "mail.example.test:" + strconv.Itoa(std)
		if !rep.has("tls.ok", "pass", subject) || !rep.has("conn.ok", "pass", subject) {
			t.Errorf("%s: want conn.ok and tls.ok; findings: %v", subject, rep.ids())
		}
		if rep.has("auth.plaintext-exposed", "", subject) {
			t.Errorf("%s: auth.plaintext-exposed although Dovecot refuses login before TLS", subject)
		}
	}
	for _, p := range rep.Probes {
		if p.Status != "ok" || p.TLS == nil || !p.TLS.Verified || !strings.HasPrefix(p.TLS.Version, "TLS1.") {
			t.Errorf("%s (%s): status %q tls %+v; want ok with a verified chain", p.Addr, p.Protocol, p.Status, p.TLS)
		}
	}

	// The same server without the test CA: the chain is untrusted, and that
	// is a failure (exit 1) — said once for the certificate the four ports
	// share, naming them all.
	untrusted := dovecotProbe(t, dv, []int{1})
	var subjects []string
	for _, f := range untrusted.Findings {
		if f.ID == "tls.cert-untrusted" && f.Severity == "fail" {
			subjects = append(subjects, f.Subject)
		}
	}
	if len(subjects) != 1 {
		t.Fatalf("without --ca: want one tls.cert-untrusted fail, got %v; findings: %v", subjects, untrusted.ids())
	}
	host, ports, _ := strings.Cut(subjects[0], ":")
	for _, std := range []string{"143", "993", "110", "995"} {
		if host != "mail.example.test" || !slices.Contains(strings.Split(ports, ","), std) {
			t.Errorf("without --ca: tls.cert-untrusted on %q does not name port %s", subjects[0], std)
		}
	}
}

// A Dovecot that offers login before TLS is caught.
func TestDovecotPlaintextLoginReported(t *testing.T) {
	dv := startDovecot(t, dovecotOptions{AllowPlaintextAuth: true})
	rep := dovecotProbe(t, dv, []int{1}, "--ca", dv.CAFile)
	for _, std := range []int{143, 110} {
		subject := "mail.example.test:" + strconv.Itoa(std)
		if !rep.has("auth.plaintext-exposed", "", subject) {
			t.Errorf("%s offers login before TLS: want auth.plaintext-exposed; findings: %v", subject, rep.ids())
		}
	}
	imap := rep.probeAt(t, net.JoinHostPort(dv.Addr, strconv.Itoa(dv.IMAP)))
	if !slices.Contains(imap.AuthBeforeTLS, "PLAIN") {
		t.Errorf("IMAP auth before TLS = %v, want PLAIN", imap.AuthBeforeTLS)
	}
	// Implicit TLS ports are not plaintext: nothing to report there.
	for _, std := range []int{993, 995} {
		if rep.has("auth.plaintext-exposed", "", "mail.example.test:"+strconv.Itoa(std)) {
			t.Errorf("auth.plaintext-exposed on implicit-TLS port %d", std)
		}
	}
}
