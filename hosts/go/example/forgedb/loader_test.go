package forgedb

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	_ "github.com/lib/pq"
	_ "github.com/mattn/go-sqlite3"

	"forgeauthz"
	"forgeauthz/internal/corpus"
)

// The loader (design §6, test-only): a world fixture's facts as the forge schema's rows,
// so that the corpus and the served example run against the schema.

// ddl reads examples/forge-schema/schema.sql.
func ddl(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(corpus.FromRoot(filepath.Join("examples", "forge-schema", "schema.sql")))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// backend is a database the tests create schemas in.
type backend struct {
	name    string
	dialect Dialect
	// open gives a fresh, empty database (its schema not yet created).
	open func(t testing.TB) *sql.DB
}

var pgSchemas int64

// backends are SQLite (a file per database) and, when FORGE_AUTHZ_PG_URL is set,
// PostgreSQL (a schema per database, chosen through search_path). Without it the
// PostgreSQL runs print SKIPPED.
func backends(t testing.TB) []backend {
	l := []backend{{name: "sqlite", dialect: SQLite, open: func(t testing.TB) *sql.DB {
		db, err := sql.Open("sqlite3", "file:"+filepath.Join(t.TempDir(), "forge.db")+"?_busy_timeout=200")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}}}
	base := os.Getenv("FORGE_AUTHZ_PG_URL")
	if base == "" {
		fmt.Printf("SKIPPED: %s on PostgreSQL (FORGE_AUTHZ_PG_URL is not set; hosts/go/ci.sh starts a server)\n", t.Name())
		return l
	}
	return append(l, backend{name: "postgresql", dialect: PostgreSQL, open: func(t testing.TB) *sql.DB {
		return openPG(t, base)
	}})
}

// openPG makes a fresh schema on the server of base and opens a pool whose connections
// use it (lib/pq passes search_path as a run-time parameter).
func openPG(t testing.TB, base string) *sql.DB {
	t.Helper()
	admin, err := sql.Open("postgres", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	schema := fmt.Sprintf("go_%d_%d", os.Getpid(), atomic.AddInt64(&pgSchemas, 1))
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("PostgreSQL at FORGE_AUTHZ_PG_URL: %v", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := sql.Open("postgres", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// createAndLoad creates the schema in db and loads the facts.
func createAndLoad(t testing.TB, db *sql.DB, d Dialect, f *forgeauthz.Facts) {
	t.Helper()
	if _, err := db.Exec(Schema(ddl(t), d)); err != nil {
		t.Fatalf("creating the schema: %v", err)
	}
	if err := load(context.Background(), db, d, f); err != nil {
		t.Fatalf("loading the world: %v", err)
	}
}

func visibilityCode(v forgeauthz.Visibility) int {
	switch v {
	case forgeauthz.Limited:
		return 1
	case forgeauthz.Private:
		return 2
	}
	return 0
}

var modes = map[forgeauthz.Role]int{forgeauthz.RoleRead: 1, forgeauthz.RoleWrite: 2, forgeauthz.RoleAdmin: 3}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// accessColumn is a protected_branch access column and its users; zero takes the
// world's default (def).
func accessColumn(a forgeauthz.Access, def string) (string, []string) {
	switch {
	case a.Who != "":
		return a.Who, nil
	case a.Users != nil:
		return "users", a.Users
	}
	return def, nil
}

// load writes the world's facts as rows (design §6 "Loader"): users; per organisation one
// team per role its members hold, including all its repositories; collaborators;
// protected refs (priority = list index); tokens; SSH keys (+ deploy keys). A token whose
// owner is not a user cannot be a row (access_token.uid): it is left out, and the forge
// answers it as unknown.
func load(ctx context.Context, db *sql.DB, d Dialect, f *forgeauthz.Facts) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit: a no-op
	exec := func(q string, args ...interface{}) error {
		_, err := tx.ExecContext(ctx, Rebind(q, d), args...)
		if err != nil {
			return fmt.Errorf("%s: %w", firstLine(q), err)
		}
		return nil
	}
	users := map[string]int64{}
	for i, u := range f.Users {
		id := int64(i + 1)
		users[AsciiLower(u.Name)] = id
		if err := exec(`INSERT INTO "user" (id, lower_name, name, type, is_active, prohibit_login, is_admin, visibility, ip_allow) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			id, AsciiLower(u.Name), u.Name, b2i(u.Organization), b2i(u.Status != forgeauthz.Inactive),
			b2i(u.Status == forgeauthz.Suspended), b2i(u.SiteAdmin), visibilityCode(u.Visibility), jsonList(u.IPAllow)); err != nil {
			return err
		}
	}
	var teams, members int64
	for _, u := range f.Users {
		if !u.Organization {
			continue
		}
		org := users[AsciiLower(u.Name)]
		team := map[forgeauthz.Role]int64{}
		for name, r := range u.Members {
			uid, ok := users[AsciiLower(name)]
			if !ok || modes[r] == 0 {
				continue // not a user (no row to join), or no role
			}
			if team[r] == 0 {
				teams++
				team[r] = teams
				if err := exec(`INSERT INTO team (id, org_id, lower_name, name, authorize, includes_all_repositories) VALUES ($1, $2, $3, $3, $4, 1)`,
					teams, org, string(r), modes[r]); err != nil {
					return err
				}
			}
			members++
			if err := exec(`INSERT INTO team_user (id, org_id, team_id, uid) VALUES ($1, $2, $3, $4)`, members, org, team[r], uid); err != nil {
				return err
			}
			if err := exec(`INSERT INTO org_user (id, uid, org_id, is_public) VALUES ($1, $2, $3, 0)`, members, uid, org); err != nil {
				return err
			}
		}
	}
	repos := map[string]int64{}
	var collaborations, rules int64
	for i, r := range f.Repositories {
		id := int64(i + 1)
		owner, ok := users[AsciiLower(r.Owner)]
		if !ok {
			return fmt.Errorf("repository %s/%s: its owner is not a user", r.Owner, r.Name)
		}
		repos[AsciiLower(r.Owner+"/"+r.Name)] = id
		var registrant interface{}
		if r.Registrant != "" {
			if reg, ok := users[AsciiLower(r.Registrant)]; ok {
				registrant = reg
			}
		}
		if err := exec(`INSERT INTO repository (id, owner_id, owner_name, lower_name, name, is_private, is_mirror, is_archived, is_import, registrant_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			id, owner, r.Owner, AsciiLower(r.Name), r.Name, b2i(r.Private), b2i(r.Kind == forgeauthz.Mirror),
			b2i(r.Archived), b2i(r.Kind == forgeauthz.Import), registrant); err != nil {
			return err
		}
		for name, role := range r.Collaborators {
			uid, ok := users[AsciiLower(name)]
			if !ok || modes[role] == 0 {
				continue
			}
			collaborations++
			if err := exec(`INSERT INTO collaboration (id, repo_id, user_id, mode) VALUES ($1, $2, $3, $4)`, collaborations, id, uid, modes[role]); err != nil {
				return err
			}
		}
		for priority, p := range r.ProtectedRefs {
			rules++
			push, pushUsers := accessColumn(p.Push, "writers")
			force, forceUsers := accessColumn(p.ForcePush, "nobody")
			if err := exec(`INSERT INTO protected_branch (id, repo_id, rule_name, priority, push_access, force_push_access) VALUES ($1, $2, $3, $4, $5, $6)`,
				rules, id, p.Pattern, priority, push, force); err != nil {
				return err
			}
			for rule, names := range map[string][]string{"push": pushUsers, "force_push": forceUsers} {
				for pos, name := range names {
					uid, ok := users[AsciiLower(name)]
					if !ok {
						return fmt.Errorf("protected ref %s of %s/%s: %s is not a user", p.Pattern, r.Owner, r.Name, name)
					}
					if err := exec(`INSERT INTO protected_branch_user (protected_branch_id, rule, position, user_id) VALUES ($1, $2, $3, $4)`, rules, rule, pos, uid); err != nil {
						return err
					}
				}
			}
		}
	}
	for i, t := range f.Tokens {
		uid, ok := users[AsciiLower(t.Owner)]
		if !ok {
			continue
		}
		digest, err := hex.DecodeString(t.SecretHash)
		kind := t.Digest
		if kind == "" {
			kind = "sha256"
		}
		if err != nil || len(digest) != 32 || (kind != "sha256" && kind != "hmac-tag") {
			// The world reads a malformed digest as the all-zero SHA-256 (no secret matches).
			digest, kind = make([]byte, 32), "sha256"
		}
		if err := exec(`INSERT INTO access_token (id, uid, name, public_id, scope, secret_digest, digest_kind, bound_repositories, bound_owners, parent_public_id, predecessor_public_id, successor_public_id, created_unix, last_used_unix, expires_unix, revoked_unix, ip_allow) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
			i+1, uid, t.Name, t.ID, strings.Join(t.Scopes, ","), digest, kind, jsonList(t.Repositories), jsonList(t.Owners),
			nullString(t.Parent), nullString(t.Predecessor), nullString(t.Successor), t.Created,
			nullInt(t.LastUsed), nullInt(t.Expires), nullInt(t.Revoked), jsonList(t.IPAllow)); err != nil {
			return err
		}
	}
	for i, k := range f.SSHKeys {
		id := int64(i + 1)
		var owner interface{}
		if uid, ok := users[AsciiLower(k.Owner)]; ok && k.Owner != "" {
			owner = uid
		}
		kind := 1
		if k.Kind == "deploy" {
			kind = 2
		}
		if err := exec(`INSERT INTO public_key (id, key_id, owner_id, name, type) VALUES ($1, $2, $3, $2, $4)`, id, k.ID, owner, kind); err != nil {
			return err
		}
		if kind == 2 {
			repo, ok := repos[AsciiLower(k.Repository)]
			if !ok {
				return fmt.Errorf("deploy key %s: no repository %s", k.ID, k.Repository)
			}
			if err := exec(`INSERT INTO deploy_key (id, key_id, repo_id, name, mode) VALUES ($1, $2, $3, $4, $5)`, id, id, repo, k.ID, 1+b2i(!k.ReadOnly)); err != nil {
				return err
			}
		}
	}
	return tx.Commit()
}

func jsonList(l []string) string {
	if l == nil {
		l = []string{}
	}
	b, _ := json.Marshal(l)
	return string(b)
}

func nullString(s string) interface{} {
	if s == "" {
		return nil
	}
	return s
}

func nullInt(v *int64) interface{} {
	if v == nil {
		return nil
	}
	return *v
}
