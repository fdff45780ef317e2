-- A forge's own schema, Gitea-shaped (issue 22; docs/design/fact-sources.md §6).
-- Column names follow Gitea's models (models/user, models/organization, models/repo,
-- models/perm, models/auth/access_token.go, models/asymkey, models/git/protected_branch.go)
-- where Gitea has the fact; `-- fa:` marks the columns forge-authz needs that Gitea lacks.
-- One text serves SQLite and PostgreSQL: a host replaces {ID} with `INTEGER PRIMARY KEY`
-- (SQLite) or `BIGINT PRIMARY KEY` (PostgreSQL) and {BLOB} with `BLOB` / `BYTEA`.
-- Rules every host follows: "user" is always quoted (reserved in PostgreSQL); lower_name
-- holds the ASCII-lowercased name, computed by the host (never SQL lower(), never a
-- Unicode-aware lowercase); booleans are INTEGER 0/1.
CREATE TABLE "user" (id {ID}, lower_name TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
  type INTEGER NOT NULL,            -- 0 individual, 1 organization (Gitea UserType)
  is_active INTEGER NOT NULL,       -- 0: inactive
  prohibit_login INTEGER NOT NULL,  -- 1: suspended (wins over is_active)
  is_admin INTEGER NOT NULL,
  visibility INTEGER NOT NULL,      -- 0 public, 1 limited, 2 private (Gitea VisibleType)
  ip_allow TEXT NOT NULL DEFAULT '[]');  -- fa: JSON array of CIDR blocks (GitHub's organisation IP allow list); [] none
CREATE TABLE org_user (id {ID}, uid BIGINT NOT NULL, org_id BIGINT NOT NULL, is_public INTEGER NOT NULL,
  UNIQUE (org_id, uid));
CREATE TABLE team (id {ID}, org_id BIGINT NOT NULL, lower_name TEXT NOT NULL, name TEXT NOT NULL,
  authorize INTEGER NOT NULL,       -- 1 read, 2 write, 3 admin, 4 owner (Gitea AccessMode)
  includes_all_repositories INTEGER NOT NULL, UNIQUE (org_id, lower_name));
CREATE TABLE team_user (id {ID}, org_id BIGINT NOT NULL, team_id BIGINT NOT NULL, uid BIGINT NOT NULL,
  UNIQUE (team_id, uid));
CREATE INDEX team_user_org_uid ON team_user (org_id, uid);
CREATE TABLE team_repo (id {ID}, org_id BIGINT NOT NULL, team_id BIGINT NOT NULL, repo_id BIGINT NOT NULL,
  UNIQUE (team_id, repo_id));
CREATE TABLE repository (id {ID}, owner_id BIGINT NOT NULL, owner_name TEXT NOT NULL,
  lower_name TEXT NOT NULL, name TEXT NOT NULL, is_private INTEGER NOT NULL,
  is_mirror INTEGER NOT NULL, is_archived INTEGER NOT NULL,
  is_import INTEGER NOT NULL DEFAULT 0,  -- fa: Launchpad code import
  registrant_id BIGINT,                  -- fa: Launchpad registrant
  UNIQUE (owner_id, lower_name));
CREATE TABLE collaboration (id {ID}, repo_id BIGINT NOT NULL, user_id BIGINT NOT NULL,
  mode INTEGER NOT NULL,                 -- 1 read, 2 write, 3 admin
  UNIQUE (repo_id, user_id));
CREATE TABLE protected_branch (id {ID}, repo_id BIGINT NOT NULL, rule_name TEXT NOT NULL,
  priority BIGINT NOT NULL,              -- first match wins, ascending
  push_access TEXT NOT NULL CHECK (push_access IN ('writers','admins','users','nobody')),             -- fa
  force_push_access TEXT NOT NULL CHECK (force_push_access IN ('writers','admins','users','nobody')), -- fa
  UNIQUE (repo_id, rule_name));
CREATE INDEX protected_branch_repo ON protected_branch (repo_id, priority);
CREATE TABLE protected_branch_user (protected_branch_id BIGINT NOT NULL,
  rule TEXT NOT NULL CHECK (rule IN ('push','force_push')), position INTEGER NOT NULL,
  user_id BIGINT NOT NULL, PRIMARY KEY (protected_branch_id, rule, position));
CREATE TABLE access_token (id {ID}, uid BIGINT NOT NULL, name TEXT NOT NULL,
  public_id TEXT NOT NULL UNIQUE,        -- fa: the id inside the fzpat_ token
  scope TEXT NOT NULL,                   -- comma-separated, as Gitea stores it
  secret_digest {BLOB} NOT NULL CHECK (length(secret_digest) = 32),  -- fa: HMAC tag or SHA-256, never the secret
  digest_kind TEXT NOT NULL CHECK (digest_kind IN ('hmac-tag','sha256')),  -- fa
  bound_repositories TEXT NOT NULL DEFAULT '[]', bound_owners TEXT NOT NULL DEFAULT '[]',  -- fa: JSON arrays, never searched
  parent_public_id TEXT, predecessor_public_id TEXT, successor_public_id TEXT,             -- fa
  created_unix BIGINT NOT NULL, last_used_unix BIGINT, expires_unix BIGINT, revoked_unix BIGINT,
  ip_allow TEXT NOT NULL DEFAULT '[]');  -- fa: the token's own CIDR blocks, JSON array; [] none
CREATE INDEX access_token_uid ON access_token (uid);
CREATE TABLE public_key (id {ID}, key_id TEXT NOT NULL UNIQUE,   -- fa: the id the SSH front end reports
  owner_id BIGINT, name TEXT NOT NULL, fingerprint TEXT UNIQUE, content TEXT,
  type INTEGER NOT NULL);                -- 1 user, 2 deploy (Gitea KeyType)
CREATE TABLE deploy_key (id {ID}, key_id BIGINT NOT NULL UNIQUE, -- one repository per key (credential.wit); Gitea allows several
  repo_id BIGINT NOT NULL, name TEXT NOT NULL, mode INTEGER NOT NULL);  -- 1 read, 2 write
