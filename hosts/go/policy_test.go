package forgeauthz

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// policyModulePath is the module `cargo policy` builds (FORGE_AUTHZ_WASM overrides it).
func policyModulePath() string {
	if p := os.Getenv("FORGE_AUTHZ_WASM"); p != "" {
		return fromRoot(p)
	}
	return filepath.Join(repoRoot, "target", "wasm32-wasip2", "policy", "forge_authz_guest.wasm")
}

// policyModule reads that module: a missing file fails the test (it is skipped only with
// FORGE_AUTHZ_SKIP_HOSTS=1).
func policyModule(t *testing.T) []byte {
	t.Helper()
	if _, err := os.Stat(policyModulePath()); err != nil {
		skipHosts(t)
	}
	return readFile(t, policyModulePath())
}

func pull(cred Credential, repo string) Request {
	return Request{Credential: cred, Repository: repo, Action: Pull}
}

func decide(t *testing.T, p *Policy, w *World, req Request) Decision {
	t.Helper()
	d, err := p.Decide(context.Background(), w, req)
	if err != nil {
		t.Fatalf("Decide(%v %s %s): %v", req.Credential, req.Action, req.Repository, err)
	}
	return d
}

func TestDecisionsAndCodes(t *testing.T) {
	p, w := newPolicy(t), newWorld(t)
	read := mint(t, p, w, "read", "read:repository")
	cases := []struct {
		req     Request
		allowed bool
		status  int
		reason  string
	}{
		{pull(Bearer(read.Secret), "alice/secret"), true, 200, "granted"},
		{pull(Basic("x-access-token", read.Secret), "alice/secret.git"), true, 200, "granted"},
		{pull(Anonymous(), "alice/app"), true, 200, "public-read"},
		{pull(Anonymous(), "alice/secret"), false, 401, "authentication-required"},
		{pull(Bearer("fzpat_k1.nope"), "alice/app"), false, 401, "token-invalid"},
		{Request{Credential: Bearer(read.Secret), Repository: "alice/app", Action: Push}, false, 403, "scope-missing"},
		{pull(Bearer(read.Secret), "alice/missing"), false, 404, "repository-not-found"},
		{pull(Bearer(read.Secret), "nope"), false, 400, "request-invalid"},
		{pull(Bearer(read.Secret), ""), false, 400, "request-invalid"},
		{pull(Session("alice"), "alice/secret"), true, 200, "granted"},
		{pull(Session("bob"), "acme/internal"), true, 200, "granted"},
		{pull(Session("carol"), "acme/internal"), false, 401, "account-inactive"},
	}
	for _, c := range cases {
		d := decide(t, p, w, c.req)
		if d.Allowed() != c.allowed || d.Status != c.status || d.Reason != c.reason {
			t.Errorf("%v %s: got %v %d %s (%s), want %v %d %s", c.req.Credential, c.req.Repository,
				d.Allowed(), d.Status, d.Reason, d.Message, c.allowed, c.status, c.reason)
		}
	}
	// A decision made elsewhere (decoded from JSON) is never an allow.
	var forged Decision
	if err := json.Unmarshal([]byte(`{"decision":"allow","status":200,"reason":"granted"}`), &forged); err != nil {
		t.Fatal(err)
	}
	if forged.Allowed() || (Decision{}).Allowed() || (RawDecision{}).Allowed() {
		t.Error("a decision the library did not return must not be allowed")
	}
}

func TestPushRefsBatchAndRefPermissions(t *testing.T) {
	p, w := newPolicy(t), newWorld(t)
	ctx := context.Background()
	// bob administers acme: main is admins-only, release/* carol's.
	d := decide(t, p, w, Request{Credential: Session("bob"), Repository: "acme/internal", Action: Push, Refs: []RefUpdate{
		{Name: "refs/heads/main"},
		{Name: "refs/heads/release/1", Old: ZeroID},
		{Name: "refs/heads/feature", New: ZeroID},
	}})
	if !d.Allowed() || len(d.Refs) != 3 || !d.Refs[0].Allowed() || d.Refs[1].Allowed() || !d.Refs[2].Allowed() {
		t.Errorf("push: %+v", d)
	}
	if d.Refs[1].Reason != "ref-protected" || d.Refs[1].Name != "refs/heads/release/1" {
		t.Errorf("release ref: %+v", d.Refs[1])
	}
	read := mint(t, p, w, "read", "read:repository")
	list, err := p.DecideBatch(ctx, w, Request{Credential: Bearer(read.Secret), Action: Pull,
		Repositories: []string{"alice/app", "alice/secret.git", "acme/internal", "alice/missing"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range list {
		got = append(got, fmt.Sprintf("%s:%v:%d", d.Repository, d.Allowed(), d.Status))
	}
	if want := "alice/app:true:200 alice/secret.git:true:200 acme/internal:false:404 alice/missing:false:404"; strings.Join(got, " ") != want {
		t.Errorf("batch: %s, want %s", strings.Join(got, " "), want)
	}
	perms, err := p.RefPermissions(ctx, w, Request{Credential: Session("bob"), Repository: "acme/internal", Action: Push,
		RefNames: []string{"refs/heads/main", "refs/heads/release/2", "refs/heads/topic"}})
	if err != nil {
		t.Fatal(err)
	}
	if perms["refs/heads/main"] != (RefPermissions{Create: true, Push: true}) ||
		perms["refs/heads/release/2"] != (RefPermissions{}) ||
		perms["refs/heads/topic"] != (RefPermissions{Create: true, Push: true, ForcePush: true}) {
		t.Errorf("ref permissions: %+v", perms)
	}
	// The kinds go to their own methods.
	if _, err := p.Decide(ctx, w, Request{Kind: KindBatch, Action: Pull}); err == nil {
		t.Error("Decide of a batch: no error")
	}
	// Explain: the trace of the rules.
	d = decide(t, p, w, Request{Credential: Bearer(read.Secret), Repository: "alice/app", Action: Push, Explain: true})
	if d.Reason != "scope-missing" || len(d.Trace) == 0 || d.Trace[0].Rule != "request" {
		t.Errorf("explain: %+v", d)
	}
}

func TestHotSwap(t *testing.T) {
	p, w := newUnsignedPolicy(t), newWorld(t)
	read := mint(t, p, w, "read", "read:repository")
	embedded := p.SHA256()
	if len(embedded) != 64 {
		t.Fatalf("SHA256() = %q", embedded)
	}
	if d := decide(t, p, w, pull(Bearer(read.Secret), "alice/secret")); !d.Allowed() {
		t.Fatalf("before the swap: %+v", d)
	}
	// The module `cargo policy` builds, read from disk.
	module := policyModule(t)
	sum := sha256.Sum256(module)
	if err := p.Swap(module); err != nil {
		t.Fatalf("Swap(%s): %v", policyModulePath(), err)
	}
	if got := p.SHA256(); got != hex.EncodeToString(sum[:]) {
		t.Errorf("after the swap SHA256() = %s, the file's is %x", got, sum)
	}
	if d := decide(t, p, w, pull(Bearer(read.Secret), "alice/secret")); !d.Allowed() {
		t.Errorf("tokens keep working across a swap: %+v", d)
	}
	// A refused module keeps the old one serving.
	before := p.SHA256()
	for _, junk := range [][]byte{[]byte("\x00asm\x0d\x00\x01\x00"), []byte("not wasm at all"), module[:len(module)/2], {}} {
		err := p.Swap(junk)
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("Swap(junk) = %v, want an *Error", err)
		}
		if p.SHA256() != before {
			t.Error("a refused module replaced the running one")
		}
	}
	if d := decide(t, p, w, pull(Bearer(read.Secret), "alice/secret")); !d.Allowed() {
		t.Errorf("after refused swaps: %+v", d)
	}
	// The copy the library embedded (forge-authz/build.rs builds it into target/guest):
	// the same bytes, the same digest.
	if guest, err := os.ReadFile(filepath.Join(repoRoot, "target", "guest", "wasm32-wasip2", "policy", "forge_authz_guest.wasm")); err == nil {
		if err := p.Swap(guest); err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(guest); hex.EncodeToString(sum[:]) != embedded {
			t.Logf("target/guest's module (%x) is not the embedded one (%s): rebuilt since the library was", sum, embedded)
		}
	}
	// Back to the embedded module.
	if err := p.Swap(nil); err != nil || p.SHA256() != embedded {
		t.Errorf("Swap(nil): %v, %s", err, p.SHA256())
	}
	// A module can also be loaded from its bytes.
	q, err := LoadPolicy(module, unsignedConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if q.SHA256() != hex.EncodeToString(sum[:]) {
		t.Error("LoadPolicy(bytes): wrong module")
	}
}

func TestErrorsAreErrors(t *testing.T) {
	ctx := context.Background()
	isError := func(what string, err error) {
		t.Helper()
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%s: got %v, want an *Error", what, err)
		} else if e.Error() == "" {
			t.Errorf("%s: empty message", what)
		}
	}
	for _, cfg := range []string{"{}", `{"keys":[{"id":"k1","secret":"00"}],"signing_key":"k1"}`, "not json", "",
		`{"keys":[{"id":"k1","secret":"` + strings.Repeat("77", 32) + `"}],"signing_key":"k2"}`,
		`{"keys":[{"id":"k1","secret":"` + strings.Repeat("77", 32) + `"}],"signing_key":"k1","options":{"nope":1}}`,
		"{\"keys\":[]}\x00garbage"} {
		p, err := LoadPolicyJSON(nil, []byte(cfg))
		isError("config "+cfg, err)
		if p != nil {
			t.Errorf("config %q: a policy", cfg)
		}
	}
	_, err := LoadPolicy(nil, Config{Keys: []Key{{ID: "k1", Secret: []byte("short")}}, SigningKey: "k1"})
	isError("short key", err)
	_, err = LoadPolicy([]byte("junk"), testConfig)
	isError("junk module", err)
	_, err = LoadPolicy([]byte{}, testConfig)
	isError("empty module", err)

	for _, world := range []string{"", "{", "null", `{"users":[]}`, `{"keys":[],"signing_key":"","users":[{"name":"a","status":"gone"}]}`} {
		_, err := NewWorld([]byte(world))
		isError("world "+world, err)
	}

	p, w := newPolicy(t), newWorld(t)
	for _, req := range []string{"", "{", "null", `{"kind":"teleport"}`, `{"repository":"a/b"}`, `{"repository":"a/b","action":"pull","extra":1}`,
		// A NUL would make the library read a prefix: refused before the call.
		"{\"credential\":\"anonymous\",\"repository\":\"alice/app\",\"action\":\"pull\"}\x00garbage"} {
		raw, err := p.DecideJSON(ctx, w, []byte(req))
		isError("request "+req, err)
		if raw.Allowed() {
			t.Errorf("request %q: allowed", req)
		}
	}
	_, err = p.Decide(ctx, w, Request{Repository: "alice/app"}) // no action
	isError("no action", err)
	_, err = p.Decide(ctx, w, pull(SSHKey("unknown"), "alice/app"))
	isError("unknown ssh key", err)
	_, err = p.Decide(ctx, nil, pull(Anonymous(), "alice/app"))
	isError("nil world", err)
	err = w.PutTokenJSON([]byte(`{"id":"x"}`))
	isError("bad record", err)

	// Cancelled: not called.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = p.Decide(cancelled, w, pull(Anonymous(), "alice/app"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	isError("cancelled", err)

	// Closed handles.
	w2, _ := NewWorldFrom(testFacts())
	w2.Close()
	w2.Close()
	_, err = p.Decide(ctx, w2, pull(Anonymous(), "alice/app"))
	if !errors.Is(err, ErrClosed) {
		t.Errorf("closed world: %v", err)
	}
	p2, _ := LoadPolicy(nil, testConfig)
	p2.Close()
	p2.Close()
	if _, err = p2.Decide(ctx, w, pull(Anonymous(), "alice/app")); !errors.Is(err, ErrClosed) {
		t.Errorf("closed policy: %v", err)
	}
	if err := p2.Swap(nil); !errors.Is(err, ErrClosed) {
		t.Errorf("swap on a closed policy: %v", err)
	}
	if p2.SHA256() != "" {
		t.Error("SHA256 of a closed policy")
	}
}

func TestIssueAndVerify(t *testing.T) {
	ctx := context.Background()
	p, w := newPolicy(t), newWorld(t)
	is := mint(t, p, w, "ci", "read:repository", "write:repository")
	if !strings.HasPrefix(is.Secret, "fzpat_k1.") || is.Record.Digest != "hmac-tag" || is.Record.Owner != "alice" ||
		is.Record.Expires == nil || *is.Record.Expires != testNow+3600 || is.Record.Created != testNow {
		t.Errorf("issued: %s %+v", is.Secret, is.Record)
	}
	if strings.Contains(fmt.Sprint(is), is.Secret) || strings.Contains(fmt.Sprintf("%#v", Bearer(is.Secret)), is.Secret) {
		t.Error("a secret in a formatted value")
	}
	// The typed record encodes to what the library wrote.
	if b, err := json.Marshal(is.Record); err != nil {
		t.Fatal(err)
	} else if same, err := sameJSON(b, is.RecordJSON); err != nil || !same {
		t.Errorf("record round trip:\n %s\n %s", b, is.RecordJSON)
	}
	for _, cred := range []Credential{Bearer(is.Secret), Basic("alice", is.Secret), Basic("x-access-token", is.Secret)} {
		v, err := p.Verify(ctx, cred)
		if err != nil || !v.Genuine() || v.TokenID != is.Record.ID || v.KeyID != "k1" {
			t.Errorf("Verify(%v) = %+v, %v", cred, v, err)
		}
	}
	if v, err := p.Verify(ctx, Anonymous()); err != nil || v.HasToken() {
		t.Errorf("Verify(anonymous) = %+v, %v", v, err)
	}
	forged := []byte(is.Secret)
	if forged[20] == 'A' {
		forged[20] = 'B'
	} else {
		forged[20] = 'A'
	}
	if v, err := p.Verify(ctx, Bearer(string(forged))); err != nil || v.Genuine() || v.TokenError != "bad-checksum" {
		t.Errorf("Verify(forged) = %+v, %v", v, err)
	}
	// The minted token decides (its record is in the world).
	if d := decide(t, p, w, Request{Credential: Bearer(is.Secret), Repository: "alice/app", Action: Push}); !d.Allowed() {
		t.Errorf("push with the minted token: %+v", d)
	}
	// A second world learns the token by PutToken.
	w2 := newWorld(t)
	if d := decide(t, p, w2, pull(Bearer(is.Secret), "alice/secret")); d.Reason != "token-unknown" {
		t.Errorf("before PutToken: %+v", d)
	}
	if err := w2.PutToken(is.Record); err != nil {
		t.Fatal(err)
	}
	if d := decide(t, p, w2, pull(Bearer(is.Secret), "alice/secret")); !d.Allowed() {
		t.Errorf("after PutToken: %+v", d)
	}
	// Revoked: put the record back revoked.
	revoked := is.Record
	at := int64(testNow)
	revoked.Revoked = &at
	if err := w2.PutToken(revoked); err != nil {
		t.Fatal(err)
	}
	if d := decide(t, p, w2, pull(Bearer(is.Secret), "alice/secret")); d.Reason != "token-revoked" {
		t.Errorf("revoked: %+v", d)
	}
	// Minting rules refuse: ErrRefused, never a token.
	for _, m := range []Mint{
		{Owner: "alice", Name: "forever", Scopes: []string{"read:repository"}},             // no expiry
		{Owner: "alice", Name: "ci", Scopes: []string{"read:repository"}, ExpiresIn: 3600}, // name taken
		{Owner: "alice", Name: "odd", Scopes: []string{"read:nothing"}, ExpiresIn: 3600},
		{Owner: "alice", Name: "none", ExpiresIn: 3600},
	} {
		is, err := p.Issue(ctx, w, m)
		if !errors.Is(err, ErrRefused) || is.Secret != "" {
			t.Errorf("Issue(%+v) = %v, %v: want ErrRefused", m, is, err)
		}
	}
	if _, err := p.Issue(ctx, w, Mint{Owner: "nobody", Name: "x", Scopes: []string{"read:repository"}, ExpiresIn: 3600}); err == nil || errors.Is(err, ErrRefused) {
		t.Errorf("Issue for a user not in the world: %v", err)
	}
}

func TestTypedFactsMatchTheFixture(t *testing.T) {
	// The typed facts encode to a fixture the library reads with the same meaning.
	b, err := json.Marshal(testFacts())
	if err != nil {
		t.Fatal(err)
	}
	var back Facts
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(&back)
	if same, _ := sameJSON(b, b2); !same {
		t.Errorf("facts round trip:\n %s\n %s", b, b2)
	}
	if !strings.Contains(string(b), `"push":{"users":["carol"]}`) || !strings.Contains(string(b), `"push":"admins"`) ||
		strings.Contains(string(b), `"force_push":""`) {
		t.Errorf("protected refs: %s", b)
	}
	w, err := NewWorld(b)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
}

func TestConcurrentDecisions(t *testing.T) {
	p, w := newUnsignedPolicy(t), newWorld(t)
	read := mint(t, p, w, "read", "read:repository")
	module := policyModule(t)
	ctx := context.Background()
	const goroutines, rounds = 16, 100
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*rounds)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				var req Request
				var want string
				switch (g + i) % 3 {
				case 0:
					req, want = pull(Bearer(read.Secret), "alice/secret"), "allow granted"
				case 1:
					req, want = pull(Anonymous(), "alice/secret"), "deny authentication-required"
				default:
					req, want = Request{Credential: Bearer(read.Secret), Repository: "alice/app", Action: Push}, "deny scope-missing"
				}
				d, err := p.Decide(ctx, w, req)
				if err != nil {
					errs <- err
					return
				}
				verdict := "deny"
				if d.Allowed() {
					verdict = "allow"
				}
				if got := verdict + " " + d.Reason; got != want {
					errs <- fmt.Errorf("goroutine %d round %d: %s, want %s", g, i, got, want)
					return
				}
			}
		}(g)
	}
	// Meanwhile: swaps, mints (world writes) and verifications.
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < 5; i++ {
			m := module
			if i%2 == 1 {
				m = nil
			}
			if err := p.Swap(m); err != nil {
				errs <- err
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 10; i++ {
			is, err := p.Issue(ctx, w, Mint{Owner: "alice", Name: fmt.Sprintf("c%d", i), Scopes: []string{"read:repository"}, ExpiresIn: 3600})
			if err != nil {
				errs <- err
				continue
			}
			if v, err := p.Verify(ctx, Bearer(is.Secret)); err != nil || v.TokenID != is.Record.ID {
				errs <- fmt.Errorf("verify: %+v %v", v, err)
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
