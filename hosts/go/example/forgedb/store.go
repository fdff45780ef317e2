// Package forgedb is a forgeauthz.FactSource over a forge's own database: the Gitea-shaped
// schema of examples/forge-schema/schema.sql, through database/sql, on SQLite
// (github.com/mattn/go-sqlite3) or PostgreSQL (github.com/lib/pq). It is the example of
// docs/design/fact-sources.md §6: every statement is prepared once (per connection, by
// database/sql) and starts from a unique index, so a decision's cost does not grow with the
// number of rows; rows map to answers as §6 says, the same in every host.
//
// Nothing is cached: a token revoked or deleted in access_token is refused by the very
// next decision.
package forgedb

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"forgeauthz"
)

// Dialect is the database the store speaks to.
type Dialect int

// Dialects.
const (
	SQLite Dialect = iota
	PostgreSQL
)

// Schema is the forge schema's DDL (examples/forge-schema/schema.sql) for d: {ID} and
// {BLOB} replaced.
func Schema(ddl string, d Dialect) string {
	id, blob := "INTEGER PRIMARY KEY", "BLOB"
	if d == PostgreSQL {
		id, blob = "BIGINT PRIMARY KEY", "BYTEA"
	}
	return strings.NewReplacer("{ID}", id, "{BLOB}", blob).Replace(ddl)
}

var placeholder = regexp.MustCompile(`\$([0-9]+)`)

// Rebind writes a statement's $n placeholders as SQLite's ?n (a $n of SQLite is named,
// numbered by first appearance, not by n).
func Rebind(query string, d Dialect) string {
	if d == SQLite {
		return placeholder.ReplaceAllString(query, "?$1")
	}
	return query
}

// AsciiLower is the key of a name in lower_name: ASCII letters lowered, every other byte
// kept (never SQL lower(), locale-dependent; never strings.ToLower, Unicode-aware).
func AsciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// The statements of design §6, $n placeholders.
const (
	tokenSQL = `SELECT t.public_id, u.name, t.name, t.scope, t.bound_repositories, t.bound_owners,
 t.parent_public_id, t.predecessor_public_id, t.successor_public_id, t.last_used_unix,
 t.created_unix, t.expires_unix, t.revoked_unix, t.secret_digest, t.digest_kind, t.ip_allow
 FROM access_token t JOIN "user" u ON u.id = t.uid WHERE t.public_id = $1`
	userSQL       = `SELECT type, is_active, prohibit_login, is_admin, visibility FROM "user" WHERE lower_name = $1`
	repositorySQL = `SELECT o.name, r.name, o.visibility, o.ip_allow, r.is_private, r.is_mirror, r.is_import, r.is_archived, reg.name,
 (SELECT c.mode FROM collaboration c WHERE c.repo_id = r.id AND c.user_id = v.id),
 (SELECT max(t.authorize) FROM team_user tu JOIN team t ON t.id = tu.team_id
  WHERE o.type = 1 AND tu.org_id = o.id AND tu.uid = v.id
  AND (t.includes_all_repositories = 1 OR EXISTS (SELECT 1 FROM team_repo tr WHERE tr.team_id = t.id AND tr.repo_id = r.id))),
 (SELECT count(*) FROM protected_branch p WHERE p.repo_id = r.id), r.id
 FROM "user" o JOIN repository r ON r.owner_id = o.id AND r.lower_name = $2
 LEFT JOIN "user" v ON v.lower_name = $3 LEFT JOIN "user" reg ON reg.id = r.registrant_id
 WHERE o.lower_name = $1`
	protectedSQL      = `SELECT id, rule_name, push_access, force_push_access FROM protected_branch WHERE repo_id = $1 ORDER BY priority`
	protectedUsersSQL = `SELECT pu.protected_branch_id, pu.rule, u.name FROM protected_branch_user pu
 JOIN protected_branch p ON p.id = pu.protected_branch_id JOIN "user" u ON u.id = pu.user_id
 WHERE p.repo_id = $1 ORDER BY pu.protected_branch_id, pu.rule, pu.position`
	namespaceSQL = `SELECT u.name, u.type, u.visibility, u.ip_allow,
 (SELECT max(t.authorize) FROM team_user tu JOIN team t ON t.id = tu.team_id WHERE u.type = 1 AND tu.org_id = u.id AND tu.uid = v.id)
 FROM "user" u LEFT JOIN "user" v ON v.lower_name = $2 WHERE u.lower_name = $1`
	sshKeySQL = `SELECT k.key_id, k.type, u.name, ro.name || '/' || r.name, d.mode FROM public_key k
 LEFT JOIN "user" u ON u.id = k.owner_id LEFT JOIN deploy_key d ON d.key_id = k.id
 LEFT JOIN repository r ON r.id = d.repo_id LEFT JOIN "user" ro ON ro.id = r.owner_id
 WHERE k.key_id = $1`
)

// Store answers the policy's questions from the forge schema. It is safe for concurrent
// use (as *sql.DB is). Close closes its statements, not the database.
type Store struct {
	token, user, repository, protected, protectedUsers, namespace, sshKey *sql.Stmt
}

// Compile-time checks: a FactSource that knows SSH keys.
var (
	_ forgeauthz.FactSource   = (*Store)(nil)
	_ forgeauthz.SSHKeySource = (*Store)(nil)
)

// New prepares the store's statements on db.
func New(ctx context.Context, db *sql.DB, d Dialect) (*Store, error) {
	s := &Store{}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.token, tokenSQL}, {&s.user, userSQL}, {&s.repository, repositorySQL},
		{&s.protected, protectedSQL}, {&s.protectedUsers, protectedUsersSQL},
		{&s.namespace, namespaceSQL}, {&s.sshKey, sshKeySQL},
	} {
		stmt, err := db.PrepareContext(ctx, Rebind(p.sql, d))
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("forgedb: preparing %q: %w", firstLine(p.sql), err)
		}
		*p.stmt = stmt
	}
	return s, nil
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

// Close closes the statements.
func (s *Store) Close() {
	for _, st := range []*sql.Stmt{s.token, s.user, s.repository, s.protected, s.protectedUsers, s.namespace, s.sshKey} {
		if st != nil {
			st.Close()
		}
	}
}

// found turns a single-row scan's error into (found, err): no row is "not found".
func found(err error) (bool, error) {
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

func visibility(v int64) (forgeauthz.Visibility, error) {
	switch v {
	case 0:
		return forgeauthz.Public, nil
	case 1:
		return forgeauthz.Limited, nil
	case 2:
		return forgeauthz.Private, nil
	}
	return "", fmt.Errorf("forgedb: visibility %d", v)
}

// role is an access mode (collaboration.mode, team.authorize): 1 read, 2 write, 3 and 4
// admin; NULL or 0 none.
func role(modes ...sql.NullInt64) forgeauthz.Role {
	best := int64(0)
	for _, m := range modes {
		if m.Valid && m.Int64 > best {
			best = m.Int64
		}
	}
	switch {
	case best >= 3:
		return forgeauthz.RoleAdmin
	case best == 2:
		return forgeauthz.RoleWrite
	case best == 1:
		return forgeauthz.RoleRead
	}
	return forgeauthz.RoleNone
}

func optional(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	v := n.Int64
	return &v
}

// Token answers the token record by its public id.
func (s *Store) Token(ctx context.Context, id string) (forgeauthz.TokenRecord, bool, error) {
	var t forgeauthz.TokenRecord
	var scope, repos, owners, ipAllow string
	var parent, predecessor, successor sql.NullString
	var lastUsed, expires, revoked sql.NullInt64
	var digest []byte
	err := s.token.QueryRowContext(ctx, id).Scan(&t.ID, &t.Owner, &t.Name, &scope, &repos, &owners,
		&parent, &predecessor, &successor, &lastUsed, &t.Created, &expires, &revoked, &digest, &t.Digest, &ipAllow)
	if ok, err := found(err); !ok {
		return t, false, err
	}
	if scope != "" { // "" and [""] mean the same to the policy: no scope
		t.Scopes = strings.Split(scope, ",")
	}
	if err := json.Unmarshal([]byte(repos), &t.Repositories); err != nil {
		return t, false, fmt.Errorf("forgedb: token %s: bound_repositories: %w", id, err)
	}
	if err := json.Unmarshal([]byte(owners), &t.Owners); err != nil {
		return t, false, fmt.Errorf("forgedb: token %s: bound_owners: %w", id, err)
	}
	if err := json.Unmarshal([]byte(ipAllow), &t.IPAllow); err != nil {
		return t, false, fmt.Errorf("forgedb: token %s: ip_allow: %w", id, err)
	}
	t.Parent, t.Predecessor, t.Successor = parent.String, predecessor.String, successor.String
	t.LastUsed, t.Expires, t.Revoked = optional(lastUsed), optional(expires), optional(revoked)
	t.SecretHash = hex.EncodeToString(digest)
	return t, true, nil
}

// User answers an account's facts.
func (s *Store) User(ctx context.Context, name string) (forgeauthz.UserFacts, bool, error) {
	var kind, active, prohibit, admin, vis int64
	err := s.user.QueryRowContext(ctx, AsciiLower(name)).Scan(&kind, &active, &prohibit, &admin, &vis)
	if ok, err := found(err); !ok {
		return forgeauthz.UserFacts{}, false, err
	}
	u := forgeauthz.UserFacts{Status: forgeauthz.Active, SiteAdmin: admin != 0, Organization: kind == 1}
	switch {
	case prohibit != 0:
		u.Status = forgeauthz.Suspended
	case active == 0:
		u.Status = forgeauthz.Inactive
	}
	var err2 error
	u.Visibility, err2 = visibility(vis)
	return u, err2 == nil, err2
}

// viewerKey is the $n of a viewer: NULL for anonymous.
func viewerKey(viewer string) interface{} {
	if viewer == "" {
		return nil
	}
	return AsciiLower(viewer)
}

// Repository answers a repository as viewer sees it.
func (s *Store) Repository(ctx context.Context, path, viewer string) (forgeauthz.RepositoryFacts, bool, error) {
	var r forgeauthz.RepositoryFacts
	owner, name, ok := strings.Cut(path, "/")
	if !ok {
		return r, false, nil
	}
	var ownerName, repoName, ipAllow string
	var vis, private, mirror, imported, archived, protected, id int64
	var registrant sql.NullString
	var mode, authorize sql.NullInt64
	err := s.repository.QueryRowContext(ctx, AsciiLower(owner), AsciiLower(name), viewerKey(viewer)).Scan(
		&ownerName, &repoName, &vis, &ipAllow, &private, &mirror, &imported, &archived, &registrant,
		&mode, &authorize, &protected, &id)
	if ok, err := found(err); !ok {
		return r, false, err
	}
	r.Path = ownerName + "/" + repoName
	if r.OwnerVisibility, err = visibility(vis); err != nil {
		return r, false, err
	}
	if err := json.Unmarshal([]byte(ipAllow), &r.OwnerIPAllow); err != nil {
		return r, false, fmt.Errorf("forgedb: %s: owner's ip_allow: %w", path, err)
	}
	r.Private, r.Archived = private != 0, archived != 0
	switch {
	case imported != 0:
		r.Kind = forgeauthz.Import
	case mirror != 0:
		r.Kind = forgeauthz.Mirror
	default:
		r.Kind = forgeauthz.Hosted
	}
	r.Role = forgeauthz.RoleNone
	if viewer != "" {
		r.Role = role(mode, authorize)
	}
	r.Registrant = registrant.String
	if protected > 0 {
		if r.ProtectedRefs, err = s.protectedRefs(ctx, id); err != nil {
			return r, false, err
		}
	}
	return r, true, nil
}

// protectedRefs reads a repository's branch protection, first match first.
func (s *Store) protectedRefs(ctx context.Context, repo int64) ([]forgeauthz.ProtectedRef, error) {
	rows, err := s.protected.QueryContext(ctx, repo)
	if err != nil {
		return nil, err
	}
	var refs []forgeauthz.ProtectedRef
	index := map[int64]int{}
	for rows.Next() {
		var id int64
		var pattern, push, force string
		if err := rows.Scan(&id, &pattern, &push, &force); err != nil {
			rows.Close()
			return nil, err
		}
		index[id] = len(refs)
		refs = append(refs, forgeauthz.ProtectedRef{Pattern: pattern, Push: access(push), ForcePush: access(force)})
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	users, err := s.protectedUsers.QueryContext(ctx, repo)
	if err != nil {
		return nil, err
	}
	defer users.Close()
	for users.Next() {
		var id int64
		var rule, name string
		if err := users.Scan(&id, &rule, &name); err != nil {
			return nil, err
		}
		i, ok := index[id]
		if !ok {
			continue
		}
		a := &refs[i].Push
		if rule == "force_push" {
			a = &refs[i].ForcePush
		}
		if a.Who == "" { // push_access 'users'
			a.Users = append(a.Users, name)
		}
	}
	return refs, users.Err()
}

// access is a protected_branch access column: 'users' is the (possibly empty) list the
// protected_branch_user rows fill.
func access(a string) forgeauthz.Access {
	if a == "users" {
		return forgeauthz.Users()
	}
	return forgeauthz.Access{Who: a}
}

// Namespace answers a user or organisation with viewer's role in it.
func (s *Store) Namespace(ctx context.Context, name, viewer string) (forgeauthz.NamespaceFacts, bool, error) {
	var n forgeauthz.NamespaceFacts
	var stored, ipAllow string
	var kind, vis int64
	var authorize sql.NullInt64
	err := s.namespace.QueryRowContext(ctx, AsciiLower(name), viewerKey(viewer)).Scan(&stored, &kind, &vis, &ipAllow, &authorize)
	if ok, err := found(err); !ok {
		return n, false, err
	}
	n.Organization = kind == 1
	if n.Visibility, err = visibility(vis); err != nil {
		return n, false, err
	}
	if err := json.Unmarshal([]byte(ipAllow), &n.IPAllow); err != nil {
		return n, false, fmt.Errorf("forgedb: %s: ip_allow: %w", name, err)
	}
	switch {
	case viewer == "":
		n.MemberRole = forgeauthz.RoleNone
	case !n.Organization && AsciiLower(stored) == AsciiLower(viewer):
		n.MemberRole = forgeauthz.RoleAdmin
	default:
		n.MemberRole = role(authorize)
	}
	return n, true, nil
}

// SSHKey answers an SSH key by the id the SSH front end reports.
func (s *Store) SSHKey(ctx context.Context, id string) (forgeauthz.SSHKeyFact, bool, error) {
	var k forgeauthz.SSHKeyFact
	var kind int64
	var owner, repo sql.NullString
	var mode sql.NullInt64
	err := s.sshKey.QueryRowContext(ctx, id).Scan(&k.ID, &kind, &owner, &repo, &mode)
	if ok, err := found(err); !ok {
		return k, false, err
	}
	switch kind {
	case 1:
		k.Kind, k.Owner = "user", owner.String
	case 2:
		if !repo.Valid {
			return k, false, fmt.Errorf("forgedb: deploy key %s has no repository", id)
		}
		k.Kind, k.Owner, k.Repository, k.ReadOnly = "deploy", owner.String, repo.String, mode.Int64 == 1
	default:
		return k, false, fmt.Errorf("forgedb: key %s: type %d", id, kind)
	}
	return k, true, nil
}
