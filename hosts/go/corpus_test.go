package forgeauthz

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"forgeauthz/internal/corpus"
)

// The expanded scenario corpus (hosts/README.md, "The expanded corpus"), written by
// `cargo run -p forge-authz-tests --bin expand-corpus -- target/corpus-expanded`: every
// scenario's request, replayed here through the C ABI, must give exactly the output the
// Rust harness recorded.
//
// FORGE_AUTHZ_CORPUS names the directory and FORGE_AUTHZ_WASM the module file every
// scenario runs on (relative paths: from the repository root). Either unset or empty, the
// test fails; FORGE_AUTHZ_SKIP_HOSTS=1 skips it (reported as SKIPPED, never as passed).

type corpusFile = corpus.File

// skipHosts skips a test that needs the corpus or the module file when
// FORGE_AUTHZ_SKIP_HOSTS=1.
func skipHosts(t *testing.T) { t.Helper(); corpus.SkipHosts(t) }

// fromRoot resolves a path relative to the repository root.
func fromRoot(path string) string { return corpus.FromRoot(path) }

// typedReplay decides a corpus request through the typed API (Request decoded strictly,
// re-encoded; the decision decoded and re-encoded) and returns the output and whether it
// was allowed.
func typedReplay(p *Policy, f via, request []byte) ([]byte, bool, error) {
	var req Request
	dec := json.NewDecoder(bytes.NewReader(request))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, false, fmt.Errorf("the request does not fit Request: %w", err)
	}
	ctx := context.Background()
	switch req.Kind {
	case KindBatch:
		list, err := p.decideBatch(ctx, f, req, "DecideBatch")
		any := false
		for _, d := range list {
			any = any || d.Allowed()
		}
		return typedOutput(list, any, err)
	case KindRefPermissions:
		perms, err := p.refPermissions(ctx, f, req, "RefPermissions")
		any := false
		for _, rp := range perms {
			any = any || rp != (RefPermissions{})
		}
		return typedOutput(perms, any, err)
	default:
		d, err := p.decideOne(ctx, f, req)
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

// replayScenario decides one corpus request from f (a World or a FactSource) as raw JSON
// and through the typed API, and reports whether both gave the recorded output (want:
// whether it allows).
func replayScenario(t *testing.T, p *Policy, f via, name string, request, output []byte, want bool) bool {
	t.Helper()
	raw, err := p.decideJSON(context.Background(), f, request)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return false
	}
	if same, err := sameJSON(raw.JSON, output); err != nil || !same {
		t.Errorf("%s:\n expected %s\n got      %s (%v)", name, output, raw.JSON, err)
		return false
	}
	if raw.Allowed() != want {
		t.Errorf("%s: Allowed() = %v, the output says %v", name, raw.Allowed(), want)
		return false
	}
	out, typedAllowed, err := typedReplay(p, f, request)
	if err != nil {
		t.Errorf("%s (typed): %v", name, err)
		return false
	}
	if same, err := sameJSON(out, output); err != nil || !same {
		t.Errorf("%s (typed API):\n expected %s\n got      %s (%v)", name, output, out, err)
		return false
	}
	if typedAllowed != want {
		t.Errorf("%s (typed API): allowed = %v, the output says %v", name, typedAllowed, want)
		return false
	}
	return true
}

func TestExpandedCorpus(t *testing.T) {
	files := corpus.Files(t)
	module, digest := corpus.Module(t)
	policies := map[string]*Policy{} // one per configuration
	defer func() {
		for _, p := range policies {
			p.Close()
		}
	}()
	total, matched, allowed, families, withQueries := 0, 0, 0, 0, 0
	for _, file := range files {
		cf := corpus.Read(t, file)
		cfgJSON := corpus.ConfigKey(t, cf.World)
		p := policies[cfgJSON]
		if p == nil {
			var err error
			// The world itself is the configuration (its other fields are ignored); the
			// module is the file's bytes, never the embedded copy.
			if p, err = LoadPolicyJSON(module, corpus.UnsignedConfig(t, cf.World)); err != nil {
				t.Fatalf("%s: LoadPolicyJSON: %v", cf.Family, err)
			}
			policies[cfgJSON] = p
			if got := p.SHA256(); got != digest {
				t.Fatalf("%s: the policy reports it runs %s, FORGE_AUTHZ_WASM's bytes are %s", cf.Family, got, digest)
			}
		}
		w, err := NewWorld(cf.World)
		if err != nil {
			t.Fatalf("%s: NewWorld: %v", cf.Family, err)
		}
		// The callback path: the same world as a FactSource, asked query by query
		// (docs/design/fact-sources.md §7, way 2).
		var facts Facts
		if err := json.Unmarshal(cf.World, &facts); err != nil {
			t.Fatalf("%s: the world does not fit Facts: %v", cf.Family, err)
		}
		src := &worldSource{f: &facts}
		families++
		for _, sc := range cf.Scenarios {
			total++
			name := "family " + cf.Family + ", scenario " + sc.Name
			want := allowedOutput(t, sc.Output)
			if !replayScenario(t, p, via{w: w}, name, sc.Request, sc.Output, want) {
				continue
			}
			src.asked.Take()
			if !replayScenario(t, p, via{src: src}, name+" (callbacks)", sc.Request, sc.Output, want) {
				continue
			}
			if sc.HasQueries {
				withQueries++
				// Asked twice: raw JSON, then typed; each time exactly the Rust host's.
				asked := src.asked.Take()
				if len(asked) != 2*len(sc.Queries) {
					t.Errorf("%s (callbacks): asked %d queries in two replays, the Rust host asked %d per decision: %q", name, len(asked), len(sc.Queries), asked)
					continue
				}
				ok := true
				for i, q := range asked {
					if same, err := sameJSON([]byte(q), sc.Queries[i%len(sc.Queries)]); err != nil || !same {
						t.Errorf("%s (callbacks): query %d\n expected %s\n got      %s (%v)", name, i, sc.Queries[i%len(sc.Queries)], q, err)
						ok = false
						break
					}
				}
				if !ok {
					continue
				}
			}
			if want {
				allowed++
			}
			matched++
		}
		w.Close()
	}
	if total == 0 {
		t.Fatal("the corpus holds no scenario")
	}
	fmt.Printf("corpus: module sha256 %s (FORGE_AUTHZ_WASM)\n", digest)
	fmt.Printf("corpus: %d/%d scenarios of %d families matched the Rust harness (world and callbacks, raw JSON and typed API; %d allowed, %d denied; %d policy configurations)\n",
		matched, total, families, allowed, total-allowed, len(policies))
	if withQueries == 0 {
		fmt.Println("corpus: the corpus carries no \"queries\" (expand-corpus predates design §7): the callbacks' queries were NOT compared")
	} else {
		fmt.Printf("corpus: %d/%d scenarios' callback queries equal the Rust host's \"queries\"\n", withQueries, total)
	}
	if matched != total {
		t.Errorf("%d of %d scenarios did not match", total-matched, total)
	}
}
