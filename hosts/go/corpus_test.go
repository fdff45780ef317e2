package forgeauthz

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// The expanded scenario corpus (hosts/README.md, "The expanded corpus"), written by
// `cargo run -p forge-authz-tests --bin expand-corpus -- target/corpus-expanded`: every
// scenario's request, replayed here through the C ABI, must give exactly the output the
// Rust harness recorded.
//
// FORGE_AUTHZ_CORPUS names the directory and FORGE_AUTHZ_WASM the module file every
// scenario runs on (relative paths: from the repository root). Either unset or empty, the
// test fails; FORGE_AUTHZ_SKIP_HOSTS=1 skips it (reported as SKIPPED, never as passed).

type corpusFile struct {
	Format    int             `json:"format"`
	Family    string          `json:"family"`
	World     json.RawMessage `json:"world"`
	Scenarios []struct {
		Name    string          `json:"name"`
		Source  string          `json:"source"`
		Request json.RawMessage `json:"request"`
		Output  json.RawMessage `json:"output"`
	} `json:"scenarios"`
}

// skipHosts skips a test that needs the corpus or the module file when
// FORGE_AUTHZ_SKIP_HOSTS=1.
func skipHosts(t *testing.T) {
	t.Helper()
	if os.Getenv("FORGE_AUTHZ_SKIP_HOSTS") == "1" {
		fmt.Printf("SKIPPED: %s (FORGE_AUTHZ_SKIP_HOSTS=1)\n", t.Name())
		t.Skip("SKIPPED: FORGE_AUTHZ_SKIP_HOSTS=1")
	}
}

// fromRoot resolves a path relative to the repository root.
func fromRoot(path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(repoRoot, path)
}

func corpusFiles(t *testing.T) []string {
	t.Helper()
	skipHosts(t)
	dir := os.Getenv("FORGE_AUTHZ_CORPUS")
	if dir == "" {
		t.Fatal("FORGE_AUTHZ_CORPUS is not set: point it at the expanded corpus " +
			"(cargo run -p forge-authz-tests --bin expand-corpus -- target/corpus-expanded), " +
			"or set FORGE_AUTHZ_SKIP_HOSTS=1 to skip")
	}
	dir = fromRoot(dir)
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

// typedReplay decides a corpus request through the typed API (Request decoded strictly,
// re-encoded; the decision decoded and re-encoded) and returns the output and whether it
// was allowed.
func typedReplay(p *Policy, w *World, request []byte) ([]byte, bool, error) {
	var req Request
	dec := json.NewDecoder(bytes.NewReader(request))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, false, fmt.Errorf("the request does not fit Request: %w", err)
	}
	ctx := context.Background()
	switch req.Kind {
	case KindBatch:
		list, err := p.DecideBatch(ctx, w, req)
		any := false
		for _, d := range list {
			any = any || d.Allowed()
		}
		return typedOutput(list, any, err)
	case KindRefPermissions:
		perms, err := p.RefPermissions(ctx, w, req)
		any := false
		for _, rp := range perms {
			any = any || rp != (RefPermissions{})
		}
		return typedOutput(perms, any, err)
	default:
		d, err := p.Decide(ctx, w, req)
		return typedOutput(d, d.Allowed(), err)
	}
}

// typedOutput is a typed answer re-encoded, with whether it allows; an error from the
// call that answered is returned as it is.
func typedOutput(answer interface{}, allowed bool, err error) ([]byte, bool, error) {
	if err != nil {
		return nil, false, err
	}
	out, err := json.Marshal(answer)
	return out, allowed, err
}

// allowedOutput is what the output says: an allow, some repository of a batch allowed,
// some ref permission.
func allowedOutput(t *testing.T, out []byte) bool {
	var v interface{}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	switch x := v.(type) {
	case []interface{}:
		for _, d := range x {
			if m, ok := d.(map[string]interface{}); ok && m["decision"] == "allow" {
				return true
			}
		}
	case map[string]interface{}:
		if d, ok := x["decision"]; ok {
			return d == "allow"
		}
		for _, perms := range x {
			if l, ok := perms.([]interface{}); ok && len(l) > 0 {
				return true
			}
		}
	}
	return false
}

// corpusModule reads the module file FORGE_AUTHZ_WASM names: the bytes the corpus runs on.
func corpusModule(t *testing.T) ([]byte, string) {
	t.Helper()
	path := os.Getenv("FORGE_AUTHZ_WASM")
	if path == "" {
		t.Fatal("FORGE_AUTHZ_WASM is not set: point it at the policy module " +
			"(target/wasm32-wasip2/policy/forge_authz_guest.wasm, built by `cargo policy`), " +
			"or set FORGE_AUTHZ_SKIP_HOSTS=1 to skip")
	}
	module := readFile(t, fromRoot(path))
	sum := sha256.Sum256(module)
	return module, hex.EncodeToString(sum[:])
}

func TestExpandedCorpus(t *testing.T) {
	files := corpusFiles(t)
	module, digest := corpusModule(t)
	policies := map[string]*Policy{} // one per configuration
	defer func() {
		for _, p := range policies {
			p.Close()
		}
	}()
	total, matched, allowed, families := 0, 0, 0, 0
	for _, file := range files {
		var cf corpusFile
		if err := json.Unmarshal(readFile(t, file), &cf); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if cf.Format != 1 {
			t.Fatalf("%s: format %d, this test reads format 1", file, cf.Format)
		}
		var cfg struct {
			Keys       json.RawMessage `json:"keys"`
			SigningKey json.RawMessage `json:"signing_key"`
			Options    json.RawMessage `json:"options,omitempty"`
		}
		if err := json.Unmarshal(cf.World, &cfg); err != nil {
			t.Fatal(err)
		}
		cfgJSON, _ := json.Marshal(cfg)
		p := policies[string(cfgJSON)]
		if p == nil {
			var err error
			// The world itself is the configuration (its other fields are ignored); the
			// module is the file's bytes, never the embedded copy.
			if p, err = LoadPolicyJSON(module, cf.World); err != nil {
				t.Fatalf("%s: LoadPolicyJSON: %v", cf.Family, err)
			}
			policies[string(cfgJSON)] = p
			if got := p.SHA256(); got != digest {
				t.Fatalf("%s: the policy reports it runs %s, FORGE_AUTHZ_WASM's bytes are %s", cf.Family, got, digest)
			}
		}
		w, err := NewWorld(cf.World)
		if err != nil {
			t.Fatalf("%s: NewWorld: %v", cf.Family, err)
		}
		families++
		for _, sc := range cf.Scenarios {
			total++
			name := "family " + cf.Family + ", scenario " + sc.Name
			raw, err := p.DecideJSON(context.Background(), w, sc.Request)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if same, err := sameJSON(raw.JSON, sc.Output); err != nil || !same {
				t.Errorf("%s:\n expected %s\n got      %s (%v)", name, sc.Output, raw.JSON, err)
				continue
			}
			want := allowedOutput(t, sc.Output)
			if raw.Allowed() != want {
				t.Errorf("%s: Allowed() = %v, the output says %v", name, raw.Allowed(), want)
				continue
			}
			if want {
				allowed++
			}
			out, typedAllowed, err := typedReplay(p, w, sc.Request)
			if err != nil {
				t.Errorf("%s (typed): %v", name, err)
				continue
			}
			if same, err := sameJSON(out, sc.Output); err != nil || !same {
				t.Errorf("%s (typed API):\n expected %s\n got      %s (%v)", name, sc.Output, out, err)
				continue
			}
			if typedAllowed != want {
				t.Errorf("%s (typed API): allowed = %v, the output says %v", name, typedAllowed, want)
				continue
			}
			matched++
		}
		w.Close()
	}
	if total == 0 {
		t.Fatal("the corpus holds no scenario")
	}
	fmt.Printf("corpus: module sha256 %s (FORGE_AUTHZ_WASM)\n", digest)
	fmt.Printf("corpus: %d/%d scenarios of %d families matched the Rust harness (raw JSON and typed API; %d allowed, %d denied; %d policy configurations)\n",
		matched, total, families, allowed, total-allowed, len(policies))
	if matched != total {
		t.Errorf("%d of %d scenarios did not match", total-matched, total)
	}
}
