package forgedb

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"forgeauthz"
	"forgeauthz/internal/corpus"
)

// clocked is the store with a corpus world's fixed clock, recording the queries asked.
type clocked struct {
	*Store
	now   int64
	asked *corpus.Recorder
}

func (c clocked) Now() int64 { return c.now }

func (c clocked) ObserveQuery(q string) { c.asked.Add(q) }

// TestCorpusThroughSchema replays the expanded corpus (design §7, way 3): each family's
// world loaded into the forge schema, every scenario decided through the Store's
// callbacks, on SQLite and (FORGE_AUTHZ_PG_URL) PostgreSQL; the output must be the one the
// Rust harness recorded, and the queries asked its "queries" (when the corpus has them).
func TestCorpusThroughSchema(t *testing.T) {
	files := corpus.Files(t)
	module, digest := corpus.Module(t)
	policies := map[string]*forgeauthz.Policy{}
	defer func() {
		for _, p := range policies {
			p.Close()
		}
	}()
	for _, be := range backends(t) {
		total, matched, skipped := 0, 0, 0
		for _, file := range files {
			cf := corpus.Read(t, file)
			key := corpus.ConfigKey(t, cf.World)
			p := policies[key]
			if p == nil {
				var err error
				if p, err = forgeauthz.LoadPolicyJSON(module, corpus.UnsignedConfig(t, cf.World)); err != nil {
					t.Fatalf("%s: %v", cf.Family, err)
				}
				policies[key] = p
			}
			var facts forgeauthz.Facts
			if err := json.Unmarshal(cf.World, &facts); err != nil {
				t.Fatal(err)
			}
			db := be.open(t)
			createAndLoad(t, db, be.dialect, &facts)
			store, err := New(context.Background(), db, be.dialect)
			if err != nil {
				t.Fatal(err)
			}
			src := clocked{store, facts.Now, &corpus.Recorder{}}
			unrepresentable := ownerlessTokens(&facts)
			for _, sc := range cf.Scenarios {
				total++
				name := be.name + ": family " + cf.Family + ", scenario " + sc.Name
				if id := mentions(sc.Request, unrepresentable); id != "" {
					// access_token.uid must name a user row: a token whose owner is gone
					// cannot be stored (Gitea deletes a user's tokens with the user).
					fmt.Printf("skipped: %s (token %s has no owner row in the schema)\n", name, id)
					skipped++
					continue
				}
				raw, err := p.DecideJSONWith(context.Background(), src, sc.Request)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				if same, err := corpus.SameJSON(raw.JSON, sc.Output); err != nil || !same {
					t.Errorf("%s:\n expected %s\n got      %s (%v)", name, sc.Output, raw.JSON, err)
					continue
				}
				if asked := src.asked.Take(); sc.HasQueries && !sameQueries(asked, sc.Queries) {
					t.Errorf("%s: asked %q, the Rust host asked %s", name, asked, sc.Queries)
					continue
				}
				matched++
			}
			store.Close()
		}
		fmt.Printf("corpus: %s: %d/%d scenarios matched the Rust harness through the forge schema (outputs, and the queries asked where the corpus has them; %d not representable in it, listed above; module sha256 %s)\n",
			be.name, matched, total-skipped, skipped, digest)
		if matched != total-skipped {
			t.Errorf("%s: %d of %d scenarios did not match", be.name, total-skipped-matched, total-skipped)
		}
	}
}

// sameQueries: the queries asked are the Rust host's, in order.
func sameQueries(asked []string, want []json.RawMessage) bool {
	if len(asked) != len(want) {
		return false
	}
	for i := range asked {
		if same, err := corpus.SameJSON([]byte(asked[i]), want[i]); err != nil || !same {
			return false
		}
	}
	return true
}

// ownerlessTokens are the world's tokens whose owner is not a user.
func ownerlessTokens(f *forgeauthz.Facts) []string {
	users := map[string]bool{}
	for _, u := range f.Users {
		users[AsciiLower(u.Name)] = true
	}
	var ids []string
	for _, t := range f.Tokens {
		if !users[AsciiLower(t.Owner)] {
			ids = append(ids, t.ID)
		}
	}
	return ids
}

// mentions is the first of ids the request's text contains ("" none): a token's id is
// part of its secret.
func mentions(request []byte, ids []string) string {
	for _, id := range ids {
		if id != "" && strings.Contains(string(request), id) {
			return id
		}
	}
	return ""
}
