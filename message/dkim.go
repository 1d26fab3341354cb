package message

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/miekg/dns"

	dkimrec "github.com/mailcheck-cli/mailcheck/checks/dkim"
	"github.com/mailcheck-cli/mailcheck/finding"
	"github.com/mailcheck-cli/mailcheck/resolver"
)

// maxSignatures bounds how many DKIM-Signature fields are verified: a
// message that went through several lists carries a few; more is abuse.
const maxSignatures = 10

// DKIM reasons (finding.DKIMSignature.Reason).
const (
	reasonBodyHash     = "body-hash"
	reasonSignature    = "signature"
	reasonKeyMissing   = "key-missing"
	reasonKeyInvalid   = "key-invalid"
	reasonKeyRevoked   = "key-revoked"
	reasonWeakHash     = "weak-hash"
	reasonWeakKey      = "weak-key"
	reasonBodyLength   = "body-length"
	reasonExpired      = "expired"
	reasonHeadersOnly  = "headers-only"
	reasonMalformed    = "malformed"
	reasonLookupFailed = "key-lookup-failed"
	reasonNotChecked   = "not-checked"
)

// sigTags is what mailcheck reads of a DKIM-Signature itself: the verifier
// says whether it verifies, not what it says.
type sigTags struct {
	tags  map[string]string
	err   error
	index int // among the message's DKIM-Signature fields
}

func parseSigTags(value string, index int) sigTags {
	st := sigTags{tags: map[string]string{}, index: index}
	tags, err := dkimrec.ParseTagList(value)
	if err != nil {
		st.err = err
		return st
	}
	for _, t := range tags {
		st.tags[t.Name] = strings.Join(strings.Fields(t.Value), "")
	}
	return st
}

// keyLookup is what the key query of one selector found, as mailcheck's
// resolver saw it.
type keyLookup struct {
	records []string
	err     error
}

// keyFetcher answers go-msgauth's key queries through mailcheck's resolver
// (so --zone, --resolver and the run's cache apply) and remembers each
// answer, so that a failure can be told apart: no key, a broken key, or a
// lookup that did not complete. go-msgauth verifies several signatures
// concurrently: the memory is locked.
type keyFetcher struct {
	ctx context.Context
	r   resolver.Resolver

	mu     sync.Mutex
	lookup map[string]keyLookup
}

// tempError makes go-msgauth report a failed lookup as a temporary failure
// rather than "no key": it checks for a net.Error that is Temporary.
type tempError struct{ err error }

func (e tempError) Error() string   { return e.err.Error() }
func (e tempError) Unwrap() error   { return e.err }
func (e tempError) Timeout() bool   { return true }
func (e tempError) Temporary() bool { return true }

var _ net.Error = tempError{}

func (k *keyFetcher) lookupTXT(name string) ([]string, error) {
	txts, _, err := resolver.TXT(k.ctx, k.r, name)
	k.mu.Lock()
	k.lookup[strings.ToLower(dns.Fqdn(name))] = keyLookup{records: txts, err: err}
	k.mu.Unlock()
	if err != nil {
		return nil, tempError{err}
	}
	return txts, nil
}

func (k *keyFetcher) get(domain, selector string) (keyLookup, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	l, ok := k.lookup[strings.ToLower(dns.Fqdn(selector+"._domainkey."+domain))]
	return l, ok
}

// verifyDKIM verifies every DKIM-Signature of the message with go-msgauth
// and explains each failure: the body changed, the signature does not
// match the key, the key is missing, revoked or malformed, the algorithm
// is too weak, l= limits what is signed, the signature expired.
func verifyDKIM(ctx context.Context, r resolver.Resolver, p *parsed, now time.Time) ([]finding.DKIMSignature, []finding.Finding) {
	values := p.all("DKIM-Signature")
	if len(values) == 0 {
		f := finding.New("msg.dkim-none", "DKIM", finding.Text{})
		return nil, []finding.Finding{f}
	}
	kf := &keyFetcher{ctx: ctx, r: r, lookup: map[string]keyLookup{}}
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(p.raw), &dkim.VerifyOptions{
		LookupTXT:        kf.lookupTXT,
		MaxVerifications: maxSignatures,
	})
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) && verifs == nil {
		// Only a header block go-msgauth cannot read gets here; parse has
		// read it, so say so plainly.
		f := finding.New("msg.dkim-invalid", "DKIM", finding.T("The DKIM signatures could not be read: %v", err))
		return nil, []finding.Finding{f}
	}
	var sigs []finding.DKIMSignature
	var fs []finding.Finding
	var bodyHashes map[string]string
	for i, v := range values {
		st := parseSigTags(v, i)
		sig := describeSignature(st)
		if i >= len(verifs) {
			sig.Result, sig.Reason = "neutral", reasonNotChecked
			sigs = append(sigs, sig)
			fs = append(fs, finding.New("msg.dkim-not-checked", subjectOf(sig),
				finding.T("Signature %d of %d not verified: mailcheck verifies at most %d", i+1, len(values), maxSignatures)))
			continue
		}
		ver := verifs[i]
		lookup, looked := kf.get(sig.Domain, sig.Selector)
		key := describeKey(&sig, lookup)
		if ver.Err != nil && !dkim.IsTempFail(ver.Err) && !dkim.IsPermFail(ver.Err) && st.tags["l"] == "" && !p.headersOnly {
			// A plain failure: the body hash or the signature itself.
			// go-msgauth's errors do not say which, so the body hash is
			// computed again with its own canonicaliser and compared.
			if bodyHashes == nil {
				bodyHashes = map[string]string{}
			}
			sig.Reason = classifyFailure(p, st, bodyHashes)
		}
		f := judgeSignature(&sig, st, ver.Err, lookup, looked, key, p.headersOnly, now)
		sigs = append(sigs, sig)
		fs = append(fs, f...)
	}
	return sigs, fs
}

// describeSignature fills what the signature states.
func describeSignature(st sigTags) finding.DKIMSignature {
	t := st.tags
	sig := finding.DKIMSignature{
		Domain:    strings.ToLower(t["d"]),
		Selector:  strings.ToLower(t["s"]),
		Algorithm: strings.ToLower(t["a"]),
		Identity:  t["i"],
	}
	head, body, _ := strings.Cut(strings.ToLower(t["c"]), "/")
	if head == "" {
		head = "simple" // RFC 6376 §3.5: the default is simple/simple
	}
	if body == "" {
		body = "simple"
	}
	sig.Canonicalization = head + "/" + body
	if h := t["h"]; h != "" {
		for _, name := range strings.Split(h, ":") {
			sig.Headers = append(sig.Headers, strings.ToLower(strings.TrimSpace(name)))
		}
	}
	if l, err := strconv.ParseInt(t["l"], 10, 64); err == nil {
		sig.BodyLength = &l
	}
	if ts, err := strconv.ParseInt(t["t"], 10, 64); err == nil {
		sig.Signed = time.Unix(ts, 0).UTC()
	}
	if ts, err := strconv.ParseInt(t["x"], 10, 64); err == nil {
		sig.Expires = time.Unix(ts, 0).UTC()
	}
	return sig
}

// describeKey reads the key record found at the selector, for its type and
// size; nil when there is no single usable record.
func describeKey(sig *finding.DKIMSignature, l keyLookup) *dkimrec.Record {
	if l.err != nil || len(l.records) != 1 {
		return nil
	}
	rec, err := dkimrec.ParseRecord(l.records[0])
	if err != nil {
		return nil
	}
	sig.KeyType = string(rec.KeyType)
	sig.KeyBits = rec.RSABits()
	if rec.KeyType == dkimrec.KeyEd25519 {
		sig.KeyBits = 256
	}
	return rec
}

// classifyFailure tells a changed body from a signature that does not
// verify: the body hash is recomputed with go-msgauth's own signer (its
// canonicalisers are not exported) and compared with bh=.
func classifyFailure(p *parsed, st sigTags, cache map[string]string) string {
	_, bodyCan, _ := strings.Cut(strings.ToLower(st.tags["c"]), "/")
	if bodyCan == "" {
		bodyCan = "simple"
	}
	got, ok := cache[bodyCan]
	if !ok {
		got = bodyHash(p, dkim.Canonicalization(bodyCan))
		cache[bodyCan] = got
	}
	if got != "" && got != st.tags["bh"] {
		return reasonBodyHash
	}
	return reasonSignature
}

// bodyHash returns the base64 SHA-256 of the canonicalised body, "" when it
// cannot be computed. The throwaway key signs nothing anyone sees.
func bodyHash(p *parsed, can dkim.Canonicalization) string {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		return ""
	}
	s, err := dkim.NewSigner(&dkim.SignOptions{
		Domain: "mailcheck.invalid", Selector: "x", Signer: key,
		BodyCanonicalization: can, HeaderKeys: []string{"From"},
	})
	if err != nil {
		return ""
	}
	if _, err := s.Write(p.raw); err != nil {
		s.Close()
		return ""
	}
	if err := s.Close(); err != nil {
		return ""
	}
	_, value, _ := strings.Cut(s.Signature(), ":")
	tags, err := dkimrec.ParseTagList(value)
	if err != nil {
		return ""
	}
	for _, t := range tags {
		if t.Name == "bh" {
			return strings.Join(strings.Fields(t.Value), "")
		}
	}
	return ""
}

func subjectOf(sig finding.DKIMSignature) string {
	if sig.Domain == "" {
		return "DKIM-Signature"
	}
	return "DKIM-Signature d=" + sig.Domain + " s=" + sig.Selector
}

// judgeSignature turns one verification into the signature's result and
// its findings.
func judgeSignature(sig *finding.DKIMSignature, st sigTags, verr error, l keyLookup, looked bool,
	key *dkimrec.Record, headersOnly bool, now time.Time) []finding.Finding {
	subject := subjectOf(*sig)
	keyName := sig.Selector + "._domainkey." + sig.Domain
	if verr != nil {
		sig.Error = verr.Error()
	}
	var out []finding.Finding
	fail := func(result, reason string, f finding.Finding) []finding.Finding {
		sig.Result, sig.Reason = result, reason
		return append(out, f)
	}

	if st.err != nil {
		return fail("permerror", reasonMalformed, finding.New("msg.dkim-invalid", subject,
			finding.T("The DKIM-Signature cannot be read: %v", st.err)))
	}
	for _, tag := range []string{"v", "a", "b", "bh", "d", "h", "s"} {
		if _, ok := st.tags[tag]; !ok {
			// RFC 6376 §6.1.1: a signature without a required tag is
			// ignored.
			return fail("permerror", reasonMalformed, finding.New("msg.dkim-invalid", subject,
				finding.T("The DKIM-Signature has no %s= tag, which RFC 6376 requires", tag)))
		}
	}
	if strings.HasSuffix(sig.Algorithm, "-sha1") {
		// RFC 8301 §3.1: verifiers must not accept rsa-sha1.
		f := finding.New("msg.dkim-weak", subject, finding.T("%s signs with %s, which receivers no longer accept (RFC 8301)", sig.Domain, sig.Algorithm))
		f.Severity = finding.Fail
		return fail("policy", reasonWeakHash, f)
	}
	if !sig.Expires.IsZero() && sig.Expires.Before(now) {
		f := finding.New("msg.dkim-expired", subject, finding.T("The signature of %s expired on %s (x=); it cannot be verified any more",
			sig.Domain, sig.Expires.Format(time.RFC3339)))
		return fail("neutral", reasonExpired, f)
	}
	if sig.BodyLength != nil {
		f := finding.New("msg.dkim-body-length", subject, finding.T("The signature of %s covers only the first %d bytes of the body (l=): anything after them is unsigned",
			sig.Domain, *sig.BodyLength))
		return fail("policy", reasonBodyLength, f)
	}
	if looked && l.err != nil {
		if resolver.IsOutOfZone(l.err) {
			f := finding.New("msg.dkim-not-checked", subject, finding.T("The key at %s was not checked: the name is outside the given zones", keyName))
			return fail("neutral", reasonNotChecked, f)
		}
		f := finding.New("msg.dkim-temperror", subject, finding.T("The key at %s could not be fetched: %v", keyName, l.err))
		return fail("temperror", reasonLookupFailed, f)
	}
	if looked && len(dkimRecords(l.records)) == 0 {
		f := finding.New("msg.dkim-key-missing", subject, finding.T("No DKIM key at %s: the signature of %s cannot verify", keyName, sig.Domain))
		return fail("permerror", reasonKeyMissing, f)
	}
	if looked && key == nil {
		return fail("permerror", reasonKeyInvalid, keyProblem(subject, keyName, l))
	}
	if key != nil && key.Revoked() {
		f := finding.New("msg.dkim-invalid", subject, finding.T("The key at %s is revoked (empty p=): signatures by %s s=%s no longer verify", keyName, sig.Domain, sig.Selector))
		return fail("permerror", reasonKeyRevoked, f)
	}
	if key != nil && key.RSABits() > 0 && key.RSABits() < 1024 {
		// RFC 8301 §3.2: verifiers must not accept keys under 1024 bits.
		f := finding.New("msg.dkim-weak", subject, finding.T("The key at %s has %d bits; receivers reject RSA keys under 1024 bits", keyName, key.RSABits()))
		f.Severity = finding.Fail
		return fail("permerror", reasonWeakKey, f)
	}

	switch {
	case verr == nil:
		sig.Result = "pass"
		out = append(out, finding.New("msg.ok", subject, finding.T("Signature by %s (s=%s, %s, %s) verifies", sig.Domain, sig.Selector, sig.Algorithm, sig.Canonicalization)))
		if bits := sig.KeyBits; sig.KeyType == "rsa" && bits < 2048 {
			f := finding.New("msg.dkim-weak", subject, finding.T("The key at %s has only %d bits; use 2048", keyName, bits))
			out = append(out, f)
		}
		return out
	case dkim.IsTempFail(verr):
		f := finding.New("msg.dkim-temperror", subject, finding.T("The signature of %s could not be verified: %v", sig.Domain, verr))
		return fail("temperror", reasonLookupFailed, f)
	case dkim.IsPermFail(verr):
		f := finding.New("msg.dkim-invalid", subject, finding.T("The signature of %s is not usable", sig.Domain))
		f.Evidence = append(f.Evidence, verr.Error())
		return fail("permerror", reasonMalformed, f)
	case headersOnly:
		f := finding.New("msg.dkim-unverifiable", subject, finding.T("The signature of %s cannot be verified without the body; the key at %s was found", sig.Domain, keyName))
		return fail("neutral", reasonHeadersOnly, f)
	case sig.Reason == reasonBodyHash:
		f := finding.New("msg.dkim-body-hash", subject, finding.T("The body changed after %s signed it: its hash no longer matches bh=", sig.Domain))
		return fail("fail", reasonBodyHash, f)
	}
	f := finding.New("msg.dkim-fail", subject, finding.T("The signature of %s does not verify with the key at %s", sig.Domain, keyName))
	f.Note(finding.T("The body is unchanged, so either the key published at %s is not the one that signed (a key rotated or mismatched), or a signed header (%s) was changed after signing.", keyName, strings.Join(sig.Headers, ", ")))
	return fail("fail", reasonSignature, f)
}

// dkimRecords keeps the TXT records that can be DKIM keys: a selector
// name may hold unrelated TXT records (RFC 6376 §3.6.2.2 leaves that to
// the verifier; a record with a p= tag is a key).
func dkimRecords(txts []string) []string {
	var out []string
	for _, t := range txts {
		if strings.Contains(t, "p=") {
			out = append(out, t)
		}
	}
	return out
}

// keyProblem explains a selector whose records do not make one usable key.
func keyProblem(subject, keyName string, l keyLookup) finding.Finding {
	if len(l.records) > 1 {
		// RFC 6376 §3.6.2.2: several TXT records give undefined results;
		// go-msgauth, like many verifiers, refuses them.
		f := finding.New("msg.dkim-invalid", subject, finding.T("%s holds %d TXT records; verifiers need exactly one", keyName, len(l.records)))
		f.Evidence = append(f.Evidence, l.records...)
		return f
	}
	_, err := dkimrec.ParseRecord(l.records[0])
	f := finding.New("msg.dkim-invalid", subject, finding.T("The key record at %s is not usable: %v", keyName, err))
	f.Evidence = append(f.Evidence, l.records[0])
	return f
}
