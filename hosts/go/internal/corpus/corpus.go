// Package corpus reads the expanded scenario corpus (hosts/README.md, "The expanded
// corpus") for the Go host's tests: the core package's replays (world, callbacks) and the
// forge-schema example's (example/forgedb). Test support only; it imports no forgeauthz
// package, so the core's own tests may use it.
package corpus

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"testing"
)

// File is one family's file of the expanded corpus (format 1).
type File struct {
	Format    int             `json:"format"`
	Family    string          `json:"family"`
	World     json.RawMessage `json:"world"`
	Scenarios []Scenario      `json:"scenarios"`
}

// Scenario is one request and the output the Rust harness recorded. Queries, when the
// corpus carries them (design §7), are the fact queries the Rust host's policy asked.
type Scenario struct {
	Name    string            `json:"name"`
	Source  string            `json:"source"`
	Request json.RawMessage   `json:"request"`
	Output  json.RawMessage   `json:"output"`
	Queries []json.RawMessage `json:"queries"`
	// HasQueries is set when the "queries" key is present (even empty).
	HasQueries bool `json:"-"`
}

// UnmarshalJSON notes whether "queries" is present.
func (s *Scenario) UnmarshalJSON(b []byte) error {
	type plain Scenario
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return err
	}
	_, p.HasQueries = keys["queries"]
	*s = Scenario(p)
	return nil
}

// Root is the repository root.
func Root() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return filepath.Join("..", "..", "..", "..")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..")
}

// FromRoot resolves a path relative to the repository root.
func FromRoot(path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(Root(), path)
}

// SkipHosts skips a test that needs the corpus or the module file when
// FORGE_AUTHZ_SKIP_HOSTS=1 (reported as SKIPPED, never as passed).
func SkipHosts(t testing.TB) {
	t.Helper()
	if os.Getenv("FORGE_AUTHZ_SKIP_HOSTS") == "1" {
		fmt.Printf("SKIPPED: %s (FORGE_AUTHZ_SKIP_HOSTS=1)\n", t.Name())
		t.Skip("SKIPPED: FORGE_AUTHZ_SKIP_HOSTS=1")
	}
}

// Files lists the corpus files FORGE_AUTHZ_CORPUS names (unset: the test fails).
func Files(t testing.TB) []string {
	t.Helper()
	SkipHosts(t)
	dir := os.Getenv("FORGE_AUTHZ_CORPUS")
	if dir == "" {
		t.Fatal("FORGE_AUTHZ_CORPUS is not set: point it at the expanded corpus " +
			"(cargo run -p forge-authz-tests --bin expand-corpus -- target/corpus-expanded), " +
			"or set FORGE_AUTHZ_SKIP_HOSTS=1 to skip")
	}
	dir = FromRoot(dir)
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("FORGE_AUTHZ_CORPUS=%s holds no *.json: expand the corpus first", dir)
	}
	sort.Strings(files)
	return files
}

// Read reads one corpus file (format 1 only).
func Read(t testing.TB, path string) File {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if f.Format != 1 {
		t.Fatalf("%s: format %d, this test reads format 1", path, f.Format)
	}
	return f
}

// ConfigKey is the policy configuration of a corpus world (its keys, signing key and
// options): scenarios with equal keys share one loaded policy.
func ConfigKey(t testing.TB, world json.RawMessage) string {
	t.Helper()
	var cfg struct {
		Keys       json.RawMessage `json:"keys"`
		SigningKey json.RawMessage `json:"signing_key"`
		Options    json.RawMessage `json:"options,omitempty"`
	}
	if err := json.Unmarshal(world, &cfg); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(cfg)
	return string(b)
}

// UnsignedConfig is a corpus world's policy configuration (ConfigKey) accepting unsigned
// modules (issue 23: "allow_unsigned", development): the corpus replays check the module's
// decisions, its trust has its own tests (trust_test.go).
func UnsignedConfig(t testing.TB, world json.RawMessage) []byte {
	t.Helper()
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal([]byte(ConfigKey(t, world)), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["trust"] = json.RawMessage(`{"allow_unsigned":true}`)
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Module reads the module file FORGE_AUTHZ_WASM names (the bytes the corpus runs on) and
// its hex SHA-256 (unset: the test fails).
func Module(t testing.TB) ([]byte, string) {
	t.Helper()
	path := os.Getenv("FORGE_AUTHZ_WASM")
	if path == "" {
		t.Fatal("FORGE_AUTHZ_WASM is not set: point it at the policy module " +
			"(target/wasm32-wasip2/policy/forge_authz_guest.wasm, built by `cargo policy`), " +
			"or set FORGE_AUTHZ_SKIP_HOSTS=1 to skip")
	}
	module, err := os.ReadFile(FromRoot(path))
	if err != nil {
		t.Fatal(err)
	}
	return module, sha256Hex(module)
}

// SameJSON compares two JSON texts as values (key order does not matter).
func SameJSON(a, b []byte) (bool, error) {
	var x, y interface{}
	if err := json.Unmarshal(a, &x); err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, &y); err != nil {
		return false, err
	}
	xa, _ := json.Marshal(x) // encoding/json sorts map keys
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya), nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Recorder collects lines from many goroutines: the queries a decision asked, the
// decisions a server made.
type Recorder struct {
	mu sync.Mutex
	l  []string
}

// Add records one line.
func (r *Recorder) Add(s string) {
	r.mu.Lock()
	r.l = append(r.l, s)
	r.mu.Unlock()
}

// Take returns the lines recorded since the last Take.
func (r *Recorder) Take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.l
	r.l = nil
	return l
}
