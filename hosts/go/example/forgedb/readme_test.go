package forgedb

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"forgeauthz"
	"forgeauthz/internal/corpus"
)

// The README's fact source (hosts/go/README.md, "What a forge writes") is what a forge
// copies: its Token method is built here as a program of its own, run against the forge
// schema on SQLite, and must answer exactly as the Store does, for a bound token and for
// an unknown id.
func TestReadmeFactSource(t *testing.T) {
	readme, err := os.ReadFile(corpus.FromRoot(filepath.Join("hosts", "go", "README.md")))
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "```go\ntype forge struct")
	if !ok {
		t.Fatal("README.md has no fact source (```go type forge struct …)")
	}
	block, _, _ = strings.Cut("type forge struct"+block, "\n// User, Repository")

	// The forge: alice, a token bound to one repository.
	ctx := context.Background()
	facts := forgeauthz.Facts{Users: []forgeauthz.User{{Name: "alice"}},
		Repositories: []forgeauthz.Repository{{Owner: "alice", Name: "app"}}}
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "forge.db")
	db, err := sql.Open("sqlite3", "file:"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	policy, err := forgeauthz.LoadPolicy(nil, forgeauthz.Config{Keys: []forgeauthz.Key{{ID: "k1", Secret: bytes.Repeat([]byte{1}, 32)}}, SigningKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	defer policy.Close()
	w, err := forgeauthz.NewWorldFrom(&facts)
	if err != nil {
		t.Fatal(err)
	}
	is, err := policy.Issue(ctx, w, forgeauthz.Mint{Owner: "alice", Name: "ci", Scopes: []string{"read:repository"},
		Repositories: []string{"alice/app"}, ExpiresIn: 3600})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	facts.Tokens = []forgeauthz.TokenRecord{is.Record}
	createAndLoad(t, db, SQLite, &facts)
	store, err := New(ctx, db, SQLite)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	// The README's code as a program: prints Token's answer for each id given.
	hostsGo := corpus.FromRoot(filepath.Join("hosts", "go"))
	prog := filepath.Join(dir, "prog")
	if err := os.Mkdir(prog, 0o755); err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	mod := strings.Replace(string(gomod), "module forgeauthz/example/forgedb", "module readme", 1)
	mod = strings.Replace(mod, "forgeauthz => ../..", "forgeauthz => "+hostsGo, 1)
	main := `package main

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"

	"forgeauthz"
	_ "github.com/mattn/go-sqlite3"
)

` + block + `
func main() {
	db, err := sql.Open("sqlite3", "file:"+os.Args[1])
	if err != nil {
		panic(err)
	}
	for _, id := range os.Args[2:] {
		t, found, err := forge{db}.Token(context.Background(), id)
		if err != nil {
			panic(err)
		}
		json.NewEncoder(os.Stdout).Encode(map[string]interface{}{"found": found, "token": t})
	}
}
`
	for name, text := range map[string]string{"go.mod": mod, "main.go": main} {
		if err := os.WriteFile(filepath.Join(prog, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "run", ".", dbPath, is.Record.ID, "nosuchtoken")
	cmd.Dir = prog
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the README's fact source does not build or run: %v\n%s\n%s", err, stderr.String(), main)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for _, id := range []string{is.Record.ID, "nosuchtoken"} {
		var got struct {
			Found bool
			Token forgeauthz.TokenRecord
		}
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("%s: %v (%s)", id, err, out)
		}
		want, found, err := store.Token(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		gotJSON, _ := json.Marshal(got.Token)
		wantJSON, _ := json.Marshal(want)
		if got.Found != found || (found && !bytes.Equal(gotJSON, wantJSON)) {
			t.Errorf("%s: the README's Token answers %v %s, the Store %v %s", id, got.Found, gotJSON, found, wantJSON)
		}
	}
}
