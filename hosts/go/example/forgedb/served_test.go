package forgedb

import (
	"bytes"
	"context"
	"database/sql"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"forgeauthz"
	"forgeauthz/example/githttp"
	"forgeauthz/internal/corpus"
)

// The served example (design §7 "Served examples"): real `git clone` and `git push` over
// HTTP on 127.0.0.1, through githttp in front of `git http-backend` (net/http/cgi), with
// the forge schema as the policy's FactSource, on SQLite and on PostgreSQL. What a user
// sees: clone and push work; a push to a protected branch is refused; a token revoked or
// deleted in access_token is refused by the very next clone (no restart, nothing to
// flush: hosts/README.md "Facts" asks the store per decision); the database gone is a 503.

// gitEnv is a git environment that reads no user or system configuration and never
// prompts.
func gitEnv(home string) []string {
	return append(os.Environ(), "HOME="+home, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=alice", "GIT_AUTHOR_EMAIL=alice@example.org",
		"GIT_COMMITTER_NAME=alice", "GIT_COMMITTER_EMAIL=alice@example.org")
}

type gitRunner struct {
	t    *testing.T
	home string
}

// run runs git in dir; it reports whether git succeeded, with its output.
func (g gitRunner) run(dir string, args ...string) (bool, string) {
	g.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv(g.home)
	out, err := cmd.CombinedOutput()
	return err == nil, string(out)
}

func (g gitRunner) must(dir string, args ...string) {
	g.t.Helper()
	if ok, out := g.run(dir, args...); !ok {
		g.t.Fatalf("git %s: %s", strings.Join(args, " "), out)
	}
}

// responses records what the server answered each request: "<status> <reason>" (the
// X-Forge-Authz-Reason header), in order.
type responses struct{ corpus.Recorder }

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// around serves with h and records the response.
func (l *responses) around(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		l.Add(strconv.Itoa(sw.status) + " " + w.Header().Get("X-Forge-Authz-Reason"))
	})
}

func TestServedGitOverSchema(t *testing.T) {
	backendPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("git is needed (apt-get install git): %v", err)
	}
	httpBackend := filepath.Join(strings.TrimSpace(string(backendPath)), "git-http-backend")
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) { servedGit(t, be, httpBackend) })
	}
}

func servedGit(t *testing.T, be backend, httpBackend string) {
	ctx := context.Background()
	policy, err := forgeauthz.LoadPolicy(nil, forgeauthz.Config{
		Keys: []forgeauthz.Key{{ID: "k1", Secret: bytes.Repeat([]byte{0x5a}, 32)}}, SigningKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	defer policy.Close()

	// The forge: alice owns the private alice/app, whose branch "locked" nobody may push.
	facts := forgeauthz.Facts{
		Users: []forgeauthz.User{{Name: "alice", Status: forgeauthz.Active}},
		Repositories: []forgeauthz.Repository{{Owner: "alice", Name: "app", Private: true,
			ProtectedRefs: []forgeauthz.ProtectedRef{{Pattern: "locked", Push: forgeauthz.Nobody}}}},
	}
	// A token minted as alice's token page would (the system clock: Now 0).
	mintWorld, err := forgeauthz.NewWorldFrom(&facts)
	if err != nil {
		t.Fatal(err)
	}
	token, err := policy.Issue(ctx, mintWorld, forgeauthz.Mint{Owner: "alice", Name: "laptop",
		Scopes: []string{"read:repository", "write:repository"}, ExpiresIn: 3600})
	mintWorld.Close()
	if err != nil {
		t.Fatal(err)
	}
	facts.Tokens = []forgeauthz.TokenRecord{token.Record}
	db := be.open(t)
	createAndLoad(t, db, be.dialect, &facts)
	store, err := New(ctx, db, be.dialect)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	// The repositories on disk, served by git http-backend.
	root, home := t.TempDir(), t.TempDir()
	g := gitRunner{t: t, home: home}
	bare := filepath.Join(root, "alice", "app.git")
	g.must(root, "init", "-q", "--bare", "-b", "main", bare)
	g.must(bare, "config", "http.receivepack", "true")
	seed := filepath.Join(home, "seed")
	g.must(home, "init", "-q", "-b", "main", seed)
	g.must(seed, "commit", "-q", "--allow-empty", "-m", "first")
	g.must(seed, "push", "-q", bare, "main", "main:locked")

	log := &responses{}
	authz := &githttp.Authorizer{Policy: policy, Facts: store}
	backend := &cgi.Handler{Path: httpBackend, Root: "/", Env: []string{
		"GIT_PROJECT_ROOT=" + root + "/", "GIT_HTTP_EXPORT_ALL=1"}}
	server := httptest.NewServer(log.around(authz.Middleware(backend)))
	defer server.Close()
	url := server.URL + "/alice/app.git"
	auth := "http.extraHeader=Authorization: Bearer " + token.Secret

	expect := func(step string, wantOK bool, ok bool, out string, want string) {
		t.Helper()
		got := log.Take()
		if ok != wantOK {
			t.Errorf("%s: git succeeded = %v, want %v: %s", step, ok, wantOK, out)
		}
		if len(got) == 0 || got[len(got)-1] != want {
			t.Errorf("%s: the server's answers %q, the last should be %q", step, got, want)
		}
		if strings.Contains(out, token.Secret) {
			t.Errorf("%s: git printed the token", step)
		}
	}

	// 1. Clone and push a new branch with the token: both pass.
	work := filepath.Join(home, "work")
	ok, out := g.run(home, "-c", auth, "clone", "-q", url, work)
	expect("clone", true, ok, out, "200 granted")
	g.must(work, "commit", "-q", "--allow-empty", "-m", "second")
	ok, out = g.run(work, "-c", auth, "push", "-q", "origin", "HEAD:refs/heads/feature")
	expect("push to feature", true, ok, out, "200 granted")
	// 2. A push to the protected branch: refused per ref, nothing written.
	ok, out = g.run(work, "-c", auth, "push", "-q", "origin", "HEAD:refs/heads/locked")
	expect("push to locked", false, ok, out, "403 ref-protected")
	if ok, out := g.run(bare, "rev-parse", "locked"); !ok || strings.TrimSpace(out) == "" {
		t.Errorf("locked: %s", out)
	} else if ok2, main := g.run(bare, "rev-parse", "main"); !ok2 || main != out {
		t.Errorf("the refused push moved locked (%s, main %s)", out, main)
	}
	// Both at once: nothing of the push is applied (not even the allowed branch).
	ok, out = g.run(work, "-c", auth, "push", "-q", "origin", "HEAD:refs/heads/feature2", "HEAD:refs/heads/locked")
	expect("push to feature2 and locked", false, ok, out, "403 ref-protected")
	if ok, _ := g.run(bare, "rev-parse", "--verify", "-q", "refs/heads/feature2"); ok {
		t.Error("a push with a refused ref update created feature2")
	}
	// An anonymous clone of the private repository: git is asked for credentials.
	ok, out = g.run(home, "clone", "-q", url, filepath.Join(home, "anon"))
	expect("anonymous clone", false, ok, out, "401 authentication-required")

	// 3. The forge revokes the token in its own table: the next clone is refused.
	update := func(q string, args ...interface{}) {
		t.Helper()
		if _, err := db.Exec(Rebind(q, be.dialect), args...); err != nil {
			t.Fatal(err)
		}
	}
	update(`UPDATE access_token SET revoked_unix = $1 WHERE public_id = $2`, time.Now().Unix()-1, token.Record.ID)
	ok, out = g.run(home, "-c", auth, "clone", "-q", url, filepath.Join(home, "revoked"))
	expect("clone after revocation", false, ok, out, "401 token-revoked")
	// 4. The row deleted: unknown.
	update(`DELETE FROM access_token WHERE public_id = $1`, token.Record.ID)
	ok, out = g.run(home, "-c", auth, "clone", "-q", url, filepath.Join(home, "deleted"))
	expect("clone after deletion", false, ok, out, "401 token-unknown")
	// 5. The database unavailable: 503 policy-failure (the store's error in the detail).
	closeDB(t, db)
	ok, out = g.run(home, "-c", auth, "clone", "-q", url, filepath.Join(home, "down"))
	expect("clone with the database down", false, ok, out, "503 policy-failure")
}

// closeDB makes the database unavailable to the store: every statement fails from now on
// (chmod 000 on the SQLite file would not stop root, who runs CI; the shared PostgreSQL
// server is not ours to stop).
func closeDB(t *testing.T, db *sql.DB) {
	t.Helper()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}
