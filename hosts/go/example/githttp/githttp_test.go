package githttp_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"forgeauthz"
	"forgeauthz/example/githttp"
)

const now = 1767225600

// store is a forge's database, in memory: the FactSource the middleware hands the policy.
type store struct {
	mu      sync.Mutex
	repos   map[string]bool                   // path → private
	tokens  map[string]forgeauthz.TokenRecord // by id
	failing bool                              // the database is down
	asked   []string                          // every name asked (never a secret)
}

var errDown = errors.New("database unavailable")

// Now fixes the decisions' clock to the tokens' (forgeauthz.Clock).
func (s *store) Now() int64 { return now }

// look records a query and reports whether the database answers.
func (s *store) look(names ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, names...)
	if s.failing {
		return errDown
	}
	return nil
}

func (s *store) Token(_ context.Context, id string) (forgeauthz.TokenRecord, bool, error) {
	if err := s.look(id); err != nil {
		return forgeauthz.TokenRecord{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[id]
	return t, ok, nil
}

func (s *store) User(_ context.Context, name string) (forgeauthz.UserFacts, bool, error) {
	if err := s.look(name); err != nil || name != "alice" {
		return forgeauthz.UserFacts{}, false, err
	}
	return forgeauthz.UserFacts{Status: forgeauthz.Active, Visibility: forgeauthz.Public}, true, nil
}

func (s *store) Repository(_ context.Context, path, viewer string) (forgeauthz.RepositoryFacts, bool, error) {
	if err := s.look(path, viewer); err != nil {
		return forgeauthz.RepositoryFacts{}, false, err
	}
	private, ok := s.repos[path]
	if !ok {
		return forgeauthz.RepositoryFacts{}, false, nil
	}
	role := forgeauthz.RoleNone
	if viewer == "alice" {
		role = forgeauthz.RoleAdmin // the owner
	}
	// Nobody pushes to main (a protected branch: the push's commands decide).
	protected := []forgeauthz.ProtectedRef{{Pattern: "main", Push: forgeauthz.Nobody}}
	return forgeauthz.RepositoryFacts{OwnerVisibility: forgeauthz.Public, Private: private, Kind: forgeauthz.Hosted, Role: role, ProtectedRefs: protected}, true, nil
}

func (s *store) Namespace(_ context.Context, name, viewer string) (forgeauthz.NamespaceFacts, bool, error) {
	return forgeauthz.NamespaceFacts{}, false, s.look(name, viewer)
}

// server is a forge: one policy, its store, the middleware in front of a git handler
// that answers "git".
type server struct {
	*store
	policy *forgeauthz.Policy
}

func newServer(t *testing.T) (*server, *httptest.Server) {
	t.Helper()
	policy, err := forgeauthz.LoadPolicy(nil, forgeauthz.Config{
		Keys:       []forgeauthz.Key{{ID: "k1", Secret: bytes.Repeat([]byte{7}, 32)}},
		SigningKey: "k1",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(policy.Close)
	s := &server{policy: policy, store: &store{
		repos:  map[string]bool{"alice/app": false, "alice/secret": true},
		tokens: map[string]forgeauthz.TokenRecord{},
	}}
	authz := &githttp.Authorizer{Policy: policy, Facts: s.store}
	git := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, ok := githttp.DecisionFrom(r.Context())
		if !ok || !d.Allowed() {
			t.Error("the handler ran without an allow")
		}
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "git %x", sha256.Sum256(body)) // what the backend received
	})
	ts := httptest.NewServer(authz.Middleware(git))
	t.Cleanup(ts.Close)
	return s, ts
}

// mint issues a token (as the forge's token page would) and stores its record.
func (s *server) mint(t *testing.T, scopes ...string) string {
	t.Helper()
	w, err := forgeauthz.NewWorldFrom(&forgeauthz.Facts{Now: now, Users: []forgeauthz.User{{Name: "alice"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	is, err := s.policy.Issue(context.Background(), w, forgeauthz.Mint{Owner: "alice", Name: scopes[0], Scopes: scopes, ExpiresIn: 3600})
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.tokens[is.Record.ID] = is.Record
	s.mu.Unlock()
	return is.Secret
}

func get(t *testing.T, method, url string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestMiddlewareStatuses(t *testing.T) {
	s, ts := newServer(t)
	read := s.mint(t, "read:repository")
	basic := func(user, pass string) string {
		req, _ := http.NewRequest("GET", "/", nil)
		req.SetBasicAuth(user, pass)
		return req.Header.Get("Authorization")
	}
	refs := func(repo, service string) string { return ts.URL + "/" + repo + "/info/refs?service=" + service }
	cases := []struct {
		name, method, url string
		header            []string
		status            int
		reason            string
	}{
		{"anonymous clone of a public repository", "GET", refs("alice/app.git", "git-upload-pack"), nil, 200, "public-read"},
		{"anonymous clone of a private one: git prompts", "GET", refs("alice/secret.git", "git-upload-pack"), nil, 401, "authentication-required"},
		{"token as Basic password", "GET", refs("alice/secret.git", "git-upload-pack"), []string{"Authorization", basic("x-access-token", read)}, 200, "granted"},
		{"token as Bearer, upload-pack", "POST", ts.URL + "/alice/secret.git/git-upload-pack", []string{"Authorization", "Bearer " + read}, 200, "granted"},
		{"read token pushing", "GET", refs("alice/app.git", "git-receive-pack"), []string{"Authorization", "Bearer " + read}, 403, "scope-missing"},
		{"read token, receive-pack", "POST", ts.URL + "/alice/app.git/git-receive-pack", []string{"Authorization", basic("alice", read)}, 403, "scope-missing"},
		{"missing repository", "GET", refs("alice/missing.git", "git-upload-pack"), []string{"Authorization", "Bearer " + read}, 404, "repository-not-found"},
		{"damaged token", "GET", refs("alice/app.git", "git-upload-pack"), []string{"Authorization", "Bearer " + read[:len(read)-2] + "xx"}, 401, "token-invalid"},
		{"wrong username", "GET", refs("alice/app.git", "git-upload-pack"), []string{"Authorization", basic("mallory", read)}, 401, "username-mismatch"},
		{"not owner/name", "GET", refs("alice", "git-upload-pack"), nil, 400, "request-invalid"},
		{"malformed Basic", "GET", refs("alice/app.git", "git-upload-pack"), []string{"Authorization", "Basic !!!"}, 400, "request-invalid"},
		{"unknown scheme", "GET", refs("alice/app.git", "git-upload-pack"), []string{"Authorization", "Negotiate abc"}, 400, "request-invalid"},
		{"two Authorization headers", "GET", refs("alice/app.git", "git-upload-pack"), []string{"Authorization", "Bearer " + read, "Authorization", "Bearer x"}, 400, "request-invalid"},
		{"wrong method", "POST", refs("alice/app.git", "git-upload-pack"), nil, 405, ""},
		{"not a git route", "GET", ts.URL + "/alice/app", nil, 404, ""},
	}
	for _, c := range cases {
		resp := get(t, c.method, c.url, c.header...)
		if resp.StatusCode != c.status || resp.Header.Get("X-Forge-Authz-Reason") != c.reason {
			t.Errorf("%s: %d %q, want %d %q", c.name, resp.StatusCode, resp.Header.Get("X-Forge-Authz-Reason"), c.status, c.reason)
		}
		auth := strings.Join(resp.Header.Values("WWW-Authenticate"), ", ")
		if (c.status == 401) != strings.HasPrefix(auth, `Basic realm="forge"`) {
			t.Errorf("%s: WWW-Authenticate %q", c.name, auth)
		}
	}
	// The facts were asked with the token's id, never its secret.
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range s.asked {
		if strings.Contains(q, read) {
			t.Errorf("a secret in a fact query: %q", q)
		}
	}
	// The database down: 503, nothing let through.
	s.failing = true
	s.mu.Unlock()
	defer s.mu.Lock()
	resp := get(t, "GET", refs("alice/app.git", "git-upload-pack"), "Authorization", "Bearer "+read)
	if resp.StatusCode != 503 || resp.Header.Get("X-Forge-Authz-Reason") != "policy-failure" {
		t.Errorf("facts unavailable: %d %s", resp.StatusCode, resp.Header.Get("X-Forge-Authz-Reason"))
	}
}

// Example: a forge's git endpoint behind the policy.
func Example() {
	policy, err := forgeauthz.LoadPolicy(nil, forgeauthz.Config{
		Keys:       []forgeauthz.Key{{ID: "k1", Secret: bytes.Repeat([]byte{7}, 32)}},
		SigningKey: "k1",
	})
	if err != nil {
		panic(err)
	}
	defer policy.Close()
	// The forge's store (example/forgedb is one over a database).
	src := &store{repos: map[string]bool{"alice/secret": true}, tokens: map[string]forgeauthz.TokenRecord{}}
	world, err := forgeauthz.NewWorldFrom(&forgeauthz.Facts{Now: now, Users: []forgeauthz.User{{Name: "alice"}}})
	if err != nil {
		panic(err)
	}
	defer world.Close()
	token, err := policy.Issue(context.Background(), world, forgeauthz.Mint{Owner: "alice", Name: "laptop", Scopes: []string{"read:repository"}, ExpiresIn: 3600})
	if err != nil {
		panic(err)
	}
	src.tokens[token.Record.ID] = token.Record // what the forge's token page stores
	authz := &githttp.Authorizer{Policy: policy, Facts: src}
	git := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "refs…") })
	handler := authz.Middleware(git)

	for _, auth := range []string{"", "Bearer " + token.Secret} {
		req := httptest.NewRequest("GET", "/alice/secret.git/info/refs?service=git-upload-pack", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("X-Forge-Authz-Reason"), rec.Header().Values("WWW-Authenticate"))
	}
	// Output:
	// 401 authentication-required [Basic realm="forge", charset="UTF-8" Bearer realm="forge"]
	// 200 granted []
}

// pkt is one pkt-line.
func pkt(s string) string { return fmt.Sprintf("%04x%s", len(s)+4, s) }

// A push's commands (the head of the receive-pack body) are decided per ref; the backend
// receives the body byte for byte (gzip included); a body whose commands cannot be read
// is refused (hosts/README.md: protected refs are checked per ref).
func TestPushCommands(t *testing.T) {
	s, ts := newServer(t)
	write := s.mint(t, "write:repository")
	old, new := strings.Repeat("1", 40), strings.Repeat("2", 40)
	push := func(body []byte, gz bool) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest("POST", ts.URL+"/alice/app.git/git-receive-pack", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+write)
		if gz {
			req.Header.Set("Content-Encoding", "gzip")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		return resp, string(got)
	}
	gzipped := func(b []byte) []byte {
		var buf bytes.Buffer
		z := gzip.NewWriter(&buf)
		z.Write(b)
		z.Close()
		return buf.Bytes()
	}
	pack := "PACK\x00\x00\x00\x02" + strings.Repeat("x", 70000) // beyond any read-ahead
	cases := []struct {
		name   string
		body   []byte
		gz     bool
		status int
		reason string
	}{
		{"a feature branch", []byte(pkt(old+" "+new+" refs/heads/feature\x00report-status\n") + "0000" + pack), false, 200, "granted"},
		{"the protected main", []byte(pkt(old+" "+new+" refs/heads/main\x00report-status\n") + "0000" + pack), false, 403, "ref-protected"},
		{"main behind a feature branch", []byte(pkt(old+" "+new+" refs/heads/feature\x00report-status\n") + pkt(old+" "+new+" refs/heads/main\n") + "0000" + pack), false, 403, "ref-protected"},
		{"main after shallow lines", []byte(pkt("shallow "+old+"\n") + pkt(old+" "+new+" refs/heads/main\n") + "0000" + pack), false, 403, "ref-protected"},
		{"main, gzip", gzipped([]byte(pkt(old+" "+new+" refs/heads/main\n") + "0000" + pack)), true, 403, "ref-protected"},
		{"a feature branch, gzip", gzipped([]byte(pkt(old+" "+new+" refs/heads/feature\n") + "0000" + pack)), true, 200, "granted"},
		{"not pkt-lines", []byte("zzzz"), false, 400, "request-invalid"},
		{"a command cut short", []byte(pkt(old + " refs/heads/main\n")), false, 400, "request-invalid"},
		{"no flush", []byte(pkt(old + " " + new + " refs/heads/main\n")), false, 400, "request-invalid"},
	}
	for _, c := range cases {
		resp, body := push(c.body, c.gz)
		if resp.StatusCode != c.status || resp.Header.Get("X-Forge-Authz-Reason") != c.reason {
			t.Errorf("%s: %d %q, want %d %q", c.name, resp.StatusCode, resp.Header.Get("X-Forge-Authz-Reason"), c.status, c.reason)
		}
		if c.status == 200 && body != fmt.Sprintf("git %x", sha256.Sum256(c.body)) {
			t.Errorf("%s: the backend did not receive the body as sent", c.name)
		}
	}
}
