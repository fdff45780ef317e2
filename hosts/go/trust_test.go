package forgeauthz

// Module trust (issue 23, "Signed modules" and its "Done when": unsigned, tampered (one
// byte), wrong-key, replayed-older and retired-key modules refused on every path that makes
// a module live — LoadPolicySigned/LoadPolicy with bytes, SwapSigned/Swap — with the old
// module still serving; allow-unsigned works and is visible in Policy.Trust). Keys and
// signatures come from the real `minisign` binary, made per run in a temporary directory.

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

type signer struct {
	t   *testing.T
	dir string
}

type msKey struct{ pub, sec, id string }

func newSigner(t *testing.T) *signer {
	t.Helper()
	if _, err := exec.LookPath("minisign"); err != nil {
		fmt.Printf("SKIPPED: %s: no `minisign` binary (Debian package minisign)\n", t.Name())
		t.Skip("no minisign binary")
	}
	return &signer{t: t, dir: t.TempDir()}
}

func (s *signer) run(args ...string) {
	s.t.Helper()
	cmd := exec.Command("minisign", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("minisign %v: %v\n%s", args, err, out)
	}
}

// key makes an unencrypted key pair (test only; it stays in the test's temp dir).
func (s *signer) key(name string) msKey {
	pub, sec := filepath.Join(s.dir, name+".pub"), filepath.Join(s.dir, name+".key")
	s.run("-G", "-W", "-p", pub, "-s", sec)
	text, err := os.ReadFile(pub)
	if err != nil {
		s.t.Fatal(err)
	}
	id := regexp.MustCompile(`minisign public key ([0-9A-F]{1,16})`).FindStringSubmatch(string(text))
	if id == nil {
		s.t.Fatalf("no key id in %s", text)
	}
	// minisign's comment drops leading zeros: the id is 16 digits.
	return msKey{pub: string(text), sec: sec, id: fmt.Sprintf("%016s", id[1])}
}

// sign signs module with k, the trusted comment the statement for version (or comment).
func (s *signer) sign(k msKey, module []byte, version int, comment ...string) []byte {
	s.t.Helper()
	f, err := os.CreateTemp(s.dir, "m*.wasm")
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := f.Write(module); err != nil {
		s.t.Fatal(err)
	}
	f.Close()
	c := statement(ContractVersion(), version, module)
	if len(comment) > 0 {
		c = comment[0]
	}
	s.run("-S", "-s", k.sec, "-m", f.Name(), "-x", f.Name()+".minisig", "-t", c)
	sig, err := os.ReadFile(f.Name() + ".minisig")
	if err != nil {
		s.t.Fatal(err)
	}
	return sig
}

func statement(contract string, version int, module []byte) string {
	return fmt.Sprintf("forge-authz-module contract=%s version=%d sha256=%s", contract, version, sha(module))
}

func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// version is the module with a custom section appended: another module version (another
// SHA-256) that decides the same.
func version(t *testing.T, n int) []byte {
	body := append([]byte{16}, "forge-authz-test"...)
	body = append(body, fmt.Sprintf("v%d", n)...)
	m := append([]byte(nil), policyModule(t)...)
	return append(append(m, 0, byte(len(body))), body...)
}

type trustFixture struct {
	s                         *signer
	trusted, stranger, retire msKey
}

func newTrustFixture(t *testing.T) trustFixture {
	s := newSigner(t)
	return trustFixture{s: s, trusted: s.key("a"), stranger: s.key("b"), retire: s.key("old")}
}

func (f trustFixture) config(allowUnsigned bool) Config {
	return Config{Keys: testConfig.Keys, SigningKey: "k1", Trust: &Trust{
		PublicKeys:    []string{f.trusted.pub, f.retire.pub},
		RetiredKeys:   []string{f.retire.id},
		AllowUnsigned: allowUnsigned,
	}}
}

// stillServing: the policy runs the module with digest want, and a token pull is allowed.
func stillServing(t *testing.T, p *Policy, w *World, secret, want string) {
	t.Helper()
	if got := p.SHA256(); got != want {
		t.Fatalf("serving %s, want %s", got, want)
	}
	if d := decide(t, p, w, pull(Bearer(secret), "alice/secret")); !d.Allowed() {
		t.Fatalf("token pull after a refusal: %+v", d)
	}
}

func refusedWith(t *testing.T, what, code string, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || !strings.HasPrefix(e.Message, "policy module refused: untrusted module: "+code+": ") {
		t.Errorf("%s: got %v, want a refusal %q", what, err, code)
	}
}

func TestSignedModulesLoadSwapAndShowTheirTrust(t *testing.T) {
	f := newTrustFixture(t)
	v5 := version(t, 5)
	p, err := LoadPolicySigned(v5, f.s.sign(f.trusted, v5, 5), f.config(false))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	tr, err := p.Trust()
	if err != nil || tr.Module != "signed" || tr.Version == nil || *tr.Version != 5 || tr.Signer != f.trusted.id || tr.AllowUnsigned || tr.Floor != 5 {
		t.Fatalf("Trust() = %+v, %v", tr, err)
	}
	v6 := version(t, 6)
	if err := p.SwapSigned(v6, f.s.sign(f.trusted, v6, 6)); err != nil {
		t.Fatal(err)
	}
	w := newWorld(t)
	read := mint(t, p, w, "read", "read:repository")
	stillServing(t, p, w, read.Secret, sha(v6))
	// The embedded module is trusted as built.
	if err := p.Swap(nil); err != nil {
		t.Fatal(err)
	}
	if tr, _ := p.Trust(); tr.Module != "built-in" {
		t.Errorf("after Swap(nil): %+v", tr)
	}
}

func TestRefusedModulesLeaveTheOldOneServing(t *testing.T) {
	f := newTrustFixture(t)
	v5, v7, v4 := version(t, 5), version(t, 7), version(t, 4)
	p, err := LoadPolicySigned(v5, f.s.sign(f.trusted, v5, 5), f.config(false))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	w := newWorld(t)
	read := mint(t, p, w, "read", "read:repository")
	tampered := append([]byte(nil), v7...)
	tampered[len(tampered)-1] ^= 1 // one byte
	cases := []struct {
		code      string
		module    []byte
		signature []byte
	}{
		{"unsigned", v7, nil},
		{"bad-signature", tampered, f.s.sign(f.trusted, v7, 7)},
		{"untrusted-key", v7, f.s.sign(f.stranger, v7, 7)},
		{"retired-key", v7, f.s.sign(f.retire, v7, 7)},
		{"replayed-older", v4, f.s.sign(f.trusted, v4, 4)},
		{"wrong-contract", v7, f.s.sign(f.trusted, v7, 7, statement("0.4.0", 7, v7))},
		{"statement-mismatch", v7, f.s.sign(f.trusted, v7, 7, statement(ContractVersion(), 7, v5))},
	}
	for _, c := range cases {
		refusedWith(t, "SwapSigned", c.code, p.SwapSigned(c.module, c.signature))
		stillServing(t, p, w, read.Secret, sha(v5))
	}
	refusedWith(t, "Swap(bytes)", "unsigned", p.Swap(v7))
	stillServing(t, p, w, read.Secret, sha(v5))
}

func TestRefusedAtLoad(t *testing.T) {
	f := newTrustFixture(t)
	v3 := version(t, 3)
	_, err := LoadPolicy(v3, testConfig)
	refusedWith(t, "LoadPolicy(bytes)", "unsigned", err)
	_, err = LoadPolicySigned(v3, f.s.sign(f.stranger, v3, 3), f.config(false))
	refusedWith(t, "a stranger's key", "untrusted-key", err)
	_, err = LoadPolicySigned(v3, f.s.sign(f.retire, v3, 3), f.config(false))
	refusedWith(t, "a retired key", "retired-key", err)
	bad := f.config(false)
	bad.Trust.PublicKeys = []string{"not a key"}
	if _, err := LoadPolicy(nil, bad); err == nil || !strings.Contains(err.Error(), "trust.public_keys[0]") {
		t.Errorf("an unreadable key: %v", err)
	}
}

func TestAllowUnsignedWorksAndIsVisible(t *testing.T) {
	f := newTrustFixture(t)
	v8, v9 := version(t, 8), version(t, 9)
	p, err := LoadPolicy(v8, f.config(true))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if tr, _ := p.Trust(); tr.Module != "unsigned" || !tr.AllowUnsigned {
		t.Errorf("Trust() = %+v", tr)
	}
	// a signature given is still checked
	refusedWith(t, "a stranger's signature", "untrusted-key", p.SwapSigned(v9, f.s.sign(f.stranger, v9, 9)))
	if err := p.Swap(v9); err != nil || p.SHA256() != sha(v9) {
		t.Errorf("Swap(unsigned): %v", err)
	}
}
