package forgeauthz

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"forgeauthz/internal/corpus"
)

// The repository root, from this package's directory (hosts/go).
var repoRoot = filepath.Join("..", "..")

var testKey = bytes.Repeat([]byte{0x77}, 32)

var testConfig = Config{Keys: []Key{{ID: "k1", Secret: testKey}}, SigningKey: "k1"}

// unsignedConfig is testConfig accepting unsigned module bytes (development): for the
// tests of the module check, not of its trust (trust_test.go).
var unsignedConfig = Config{Keys: testConfig.Keys, SigningKey: "k1", Trust: &Trust{AllowUnsigned: true}}

// testNow is the clock of the test worlds (2026-01-01).
const testNow = 1767225600

func testFacts() *Facts {
	return &Facts{
		Now: testNow,
		Users: []User{
			{Name: "alice", Status: Active, Visibility: Public},
			{Name: "bob"},
			{Name: "acme", Organization: true, Visibility: Private, Members: map[string]Role{"bob": RoleAdmin}},
		},
		Repositories: []Repository{
			{Owner: "alice", Name: "app", Collaborators: map[string]Role{"bob": RoleRead}},
			{Owner: "alice", Name: "secret", Private: true},
			{Owner: "alice", Name: "mirror", Kind: Mirror},
			{Owner: "acme", Name: "internal", ProtectedRefs: []ProtectedRef{
				{Pattern: "main", Push: Admins},
				{Pattern: "release/*", Push: Users("carol"), ForcePush: Nobody},
			}},
		},
	}
}

func newPolicy(t testing.TB) *Policy { return newPolicyWith(t, testConfig) }

// newUnsignedPolicy is newPolicy accepting unsigned module bytes (unsignedConfig).
func newUnsignedPolicy(t testing.TB) *Policy { return newPolicyWith(t, unsignedConfig) }

func newPolicyWith(t testing.TB, config Config) *Policy {
	t.Helper()
	p, err := LoadPolicy(nil, config)
	if err != nil {
		t.Fatalf("LoadPolicy: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

func newWorld(t testing.TB) *World {
	t.Helper()
	w, err := NewWorldFrom(testFacts())
	if err != nil {
		t.Fatalf("NewWorldFrom: %v", err)
	}
	t.Cleanup(w.Close)
	return w
}

func mint(t testing.TB, p *Policy, w *World, name string, scopes ...string) Issued {
	t.Helper()
	is, err := p.Issue(context.Background(), w, Mint{Owner: "alice", Name: name, Scopes: scopes, ExpiresIn: 3600})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return is
}

// sameJSON compares two JSON texts as values (key order does not matter).
func sameJSON(a, b []byte) (bool, error) { return corpus.SameJSON(a, b) }

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
