package githttp_test

import (
	"bytes"
	"context"
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

// server is a forge: one policy, facts from an in-memory "database", the middleware in
// front of a git handler that answers "git".
type server struct {
	mu      sync.Mutex
	policy  *forgeauthz.Policy
	facts   forgeauthz.Facts
	tokens  map[string]forgeauthz.TokenRecord // by id
	failing bool                              // the database is down
	queries []githttp.Query
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
	s := &server{policy: policy, tokens: map[string]forgeauthz.TokenRecord{}, facts: forgeauthz.Facts{
		Now:   now,
		Users: []forgeauthz.User{{Name: "alice"}},
		Repositories: []forgeauthz.Repository{
			{Owner: "alice", Name: "app"},
			{Owner: "alice", Name: "secret", Private: true},
		},
	}}
	authz := &githttp.Authorizer{Policy: policy, Facts: s.worldFor}
	git := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, ok := githttp.DecisionFrom(r.Context())
		if !ok || !d.Allowed() {
			t.Error("the handler ran without an allow")
		}
		fmt.Fprint(w, "git")
	})
	ts := httptest.NewServer(authz.Middleware(git))
	t.Cleanup(ts.Close)
	return s, ts
}

// worldFor builds the world of one request from the "database": the facts and the
// record of the presented token.
func (s *server) worldFor(ctx context.Context, q githttp.Query) (*forgeauthz.World, func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries = append(s.queries, q)
	if s.failing {
		return nil, nil, errors.New("database unavailable")
	}
	facts := s.facts
	if rec, ok := s.tokens[q.TokenID]; ok {
		facts.Tokens = []forgeauthz.TokenRecord{rec}
	}
	w, err := forgeauthz.NewWorldFrom(&facts)
	if err != nil {
		return nil, nil, err
	}
	return w, w.Close, nil
}

// mint issues a token (as the forge's token page would) and stores its record.
func (s *server) mint(t *testing.T, scopes ...string) string {
	t.Helper()
	w, err := forgeauthz.NewWorldFrom(&s.facts)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	is, err := s.policy.Issue(context.Background(), w, forgeauthz.Mint{Owner: "alice", Name: scopes[0], Scopes: scopes, ExpiresIn: 3600})
	if err != nil {
		t.Fatal(err)
	}
	s.tokens[is.Record.ID] = is.Record
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
	for _, q := range s.queries {
		if strings.Contains(q.TokenID, read) || strings.Contains(q.Repository, read) {
			t.Error("a secret in a fact query")
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
	// A shared world (a real forge builds one per request from its database).
	world, err := forgeauthz.NewWorldFrom(&forgeauthz.Facts{
		Now:          now,
		Users:        []forgeauthz.User{{Name: "alice"}},
		Repositories: []forgeauthz.Repository{{Owner: "alice", Name: "secret", Private: true}},
	})
	if err != nil {
		panic(err)
	}
	defer world.Close()
	token, err := policy.Issue(context.Background(), world, forgeauthz.Mint{Owner: "alice", Name: "laptop", Scopes: []string{"read:repository"}, ExpiresIn: 3600})
	if err != nil {
		panic(err)
	}
	authz := &githttp.Authorizer{
		Policy: policy,
		Facts: func(ctx context.Context, q githttp.Query) (*forgeauthz.World, func(), error) {
			return world, nil, nil
		},
	}
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
