//! The relational schema, versioned. One text serves both backends: `{INT}`, `{BLOB}` and
//! `{SERIAL}` are spelled per dialect.
//!
//! Every fact a decision looks up is a column with an index behind the lookup:
//! users by `name_key`, organisation members by (organisation, member), repositories by
//! (owner, name), collaborators by (repository, user), protected refs by repository, SSH
//! keys by id and by public-key fingerprint, tokens by id (and by owner and parent for
//! the lifecycle), history by token, owner, actor and time. Names compare
//! case-insensitively through `*_key` columns holding the ASCII-lowercased name (the same
//! in SQLite and PostgreSQL, with no collation or extension to configure). A token's
//! scope and binding lists are stored with the record as JSON arrays: they are read with
//! the record and never searched.
//!
//! Version 1 (JSON documents per user and repository) is migrated in Rust
//! (`migrate_v1`); PostgreSQL stores start at version 2. Version 3 (contract 0.4) says how
//! each token record is bound to its secret (`secret_kind`: the HMAC tag for tokens minted
//! since, SHA-256 of the secret for the records before, which keep working). Version 4
//! (issue 19 item 3) versions the policy's configuration: keys are retired rather than
//! deleted (who added and retired each, when), every change of keys, signing key or
//! options is a row of `config_history` whose sequence number is the configuration's
//! version (what every host polls), and each host reports the version it runs. Version 5
//! (issue 23) keeps each published module's signature and the fleet's module signers, and
//! the IP allow lists of organisations and tokens. Version 6 (issue 25) gives the changes
//! to the store's records (users, organisations, members, repositories, collaborators, SSH
//! keys, protected refs, IP allow lists) their own history, `record_history`: they are read
//! per request, so they are not configuration and never move the version hosts poll.

use super::sql::Dialect;

/// The current schema version.
pub const VERSION: i64 = 6;

/// Version 6 (issue 25): `record_history`, one row per change to the store's records (who,
/// when, which action, before and after; never a secret), numbered by `seq` (the
/// `history --records` cursor). `config_version`: for a row migration 6 copied from
/// `config_history` (where record changes were kept before), that row's version; NULL for
/// a change made since. Migration 6 copies and never deletes: `config_history` is
/// append-only and its last number is the configuration version every host runs, which
/// must never go back; the configuration's own listing leaves the copied rows out.
const V6: &str = "
CREATE TABLE record_history (
    seq {SERIAL},
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    at {INT} NOT NULL,
    detail TEXT NOT NULL,
    config_version {INT});
CREATE INDEX record_history_action ON record_history (action);
CREATE INDEX record_history_actor ON record_history (actor);
CREATE INDEX record_history_config ON record_history (config_version);
";

/// The version 6 migration's text for a dialect: the table, then a copy of the record
/// changes `config_history` holds (actions with one of `prefixes`), oldest first.
pub fn v6(dialect: Dialect, prefixes: &[&str]) -> String {
    let mut matches: Vec<String> = prefixes
        .iter()
        .map(|p| format!("action LIKE '{}%'", p.replace('\'', "''")))
        .collect();
    if matches.is_empty() {
        matches.push("0 = 1".into());
    }
    format!(
        "{}\nINSERT INTO record_history (action, actor, at, detail, config_version) \
         SELECT action, actor, at, detail, version FROM config_history WHERE {} \
         ORDER BY version;",
        dialect_text(V6, dialect),
        matches.join(" OR ")
    )
}

/// Version 5 (issue 23): the module supply chain and IP allow lists.
/// - `policy_modules` keeps each module's minisign signature (`signature`, NULL for a
///   module published with `--allow-unsigned`), the version its signed statement carries
///   (`signed_version`) and the sha256 of the gate report its publisher accepted
///   (`accepted_report_sha256`); `policy_publications.accepted_report_sha256` records it
///   per publication too.
/// - `module_signers`: the fleet's module-signing public keys (minisign), each added with
///   an endorsement (the key's text signed by an already trusted key) and retired rather
///   than deleted, like `keys`.
/// - `users.ip_allow` (an organisation's allowed address blocks, JSON array of CIDR text)
///   and `tokens.ip_allow` (a token's own), both `'[]'` by default (no restriction).
const V5: &str = "
ALTER TABLE policy_modules ADD COLUMN signature TEXT;
ALTER TABLE policy_modules ADD COLUMN signed_version {INT};
ALTER TABLE policy_modules ADD COLUMN accepted_report_sha256 TEXT;
ALTER TABLE policy_publications ADD COLUMN accepted_report_sha256 TEXT;
CREATE TABLE module_signers (
    id TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    endorsement TEXT,
    endorsed_by TEXT,
    added_at {INT} NOT NULL,
    added_by TEXT NOT NULL,
    retired_at {INT},
    retired_by TEXT);
ALTER TABLE users ADD COLUMN ip_allow TEXT NOT NULL DEFAULT '[]';
ALTER TABLE tokens ADD COLUMN ip_allow TEXT NOT NULL DEFAULT '[]';
";

/// The version 5 migration's text for a dialect.
pub fn v5(dialect: Dialect) -> String {
    dialect_text(V5, dialect)
}

/// Version 4: versioned configuration. A key's row stays when it is retired (its id is
/// never reused); `config_history` is append-only, one row per change, never a secret.
const V4: &str = "
ALTER TABLE keys ADD COLUMN added_at {INT};
ALTER TABLE keys ADD COLUMN added_by TEXT;
ALTER TABLE keys ADD COLUMN retired_at {INT};
ALTER TABLE keys ADD COLUMN retired_by TEXT;
CREATE TABLE config_history (
    version {SERIAL},
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    at {INT} NOT NULL,
    key_id TEXT,
    detail TEXT NOT NULL);
ALTER TABLE policy_hosts ADD COLUMN config_version {INT};
";

/// The version 4 migration's text for a dialect.
pub fn v4(dialect: Dialect) -> String {
    dialect_text(V4, dialect)
}

/// Version 3: the kind of digest in `tokens.secret_hash` (existing rows: SHA-256).
pub const V3: &str = "
ALTER TABLE tokens ADD COLUMN secret_kind TEXT NOT NULL DEFAULT 'sha256'
    CHECK (secret_kind IN ('sha256', 'hmac-tag'));
";

/// Version 2: the relational schema (also the whole schema of a new PostgreSQL store).
const V2: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE keys (ordinal {INT} NOT NULL, id TEXT PRIMARY KEY, secret TEXT NOT NULL);
CREATE TABLE users (
    seq {SERIAL},
    name_key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'inactive', 'suspended')),
    site_admin {INT} NOT NULL,
    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'limited', 'private')),
    organization {INT} NOT NULL);
CREATE TABLE org_members (
    org_key TEXT NOT NULL,
    member_key TEXT NOT NULL,
    member TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('none', 'read', 'write', 'admin')),
    PRIMARY KEY (org_key, member_key));
CREATE TABLE repositories (
    seq {SERIAL},
    owner_key TEXT NOT NULL,
    name_key TEXT NOT NULL,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    private {INT} NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('hosted', 'mirror', 'import')),
    archived {INT} NOT NULL,
    registrant TEXT,
    UNIQUE (owner_key, name_key));
CREATE TABLE collaborators (
    owner_key TEXT NOT NULL,
    name_key TEXT NOT NULL,
    login_key TEXT NOT NULL,
    login TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('none', 'read', 'write', 'admin')),
    PRIMARY KEY (owner_key, name_key, login_key));
CREATE TABLE protected_refs (
    owner_key TEXT NOT NULL,
    name_key TEXT NOT NULL,
    ordinal {INT} NOT NULL,
    pattern TEXT NOT NULL,
    push TEXT NOT NULL CHECK (push IN ('writers', 'admins', 'nobody', 'users')),
    force_push TEXT NOT NULL CHECK (force_push IN ('writers', 'admins', 'nobody', 'users')),
    PRIMARY KEY (owner_key, name_key, ordinal));
CREATE TABLE protected_ref_users (
    owner_key TEXT NOT NULL,
    name_key TEXT NOT NULL,
    ordinal {INT} NOT NULL,
    rule TEXT NOT NULL CHECK (rule IN ('push', 'force_push')),
    idx {INT} NOT NULL,
    login TEXT NOT NULL,
    PRIMARY KEY (owner_key, name_key, ordinal, rule, idx));
CREATE TABLE ssh_keys (
    seq {SERIAL},
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('user', 'deploy')),
    owner TEXT NOT NULL,
    owner_key TEXT NOT NULL,
    repository TEXT,
    read_only {INT} NOT NULL,
    public_key TEXT,
    fingerprint TEXT UNIQUE);
CREATE INDEX ssh_keys_owner ON ssh_keys (owner_key);
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    owner_key TEXT NOT NULL,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    repositories TEXT NOT NULL,
    owners TEXT NOT NULL,
    parent TEXT,
    predecessor TEXT,
    successor TEXT,
    created {INT} NOT NULL,
    expires {INT},
    revoked {INT},
    last_used {INT},
    secret_hash {BLOB} NOT NULL CHECK (length(secret_hash) = 32),
    expiry_recorded {INT} NOT NULL DEFAULT 0);
CREATE INDEX tokens_owner ON tokens (owner_key);
CREATE INDEX tokens_parent ON tokens (parent);
CREATE TABLE history (
    seq {SERIAL},
    token_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    owner_key TEXT NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    actor_key TEXT NOT NULL,
    ip TEXT,
    at {INT} NOT NULL,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    expires {INT},
    parent TEXT,
    old_name TEXT,
    old_scopes TEXT,
    old_expires TEXT,
    related TEXT);
CREATE INDEX history_token ON history (token_id);
CREATE INDEX history_owner ON history (owner_key);
CREATE INDEX history_actor ON history (actor_key);
CREATE INDEX history_at ON history (at);
CREATE TABLE policy_modules (
    version {SERIAL},
    sha256 TEXT NOT NULL UNIQUE,
    bytes {BLOB} NOT NULL,
    published_by TEXT NOT NULL,
    published_at {INT} NOT NULL);
CREATE TABLE policy_publications (
    seq {SERIAL},
    role TEXT NOT NULL CHECK (role IN ('live', 'shadow')),
    version {INT},
    action TEXT NOT NULL,
    published_by TEXT NOT NULL,
    published_at {INT} NOT NULL);
CREATE TABLE policy_hosts (
    host TEXT PRIMARY KEY,
    live_version {INT},
    live_sha256 TEXT,
    shadow_version {INT},
    state TEXT NOT NULL,
    detail TEXT,
    seen_at {INT} NOT NULL);
";

/// The schema text for a dialect.
pub fn v2(dialect: Dialect) -> String {
    dialect_text(V2, dialect)
}

fn dialect_text(text: &str, dialect: Dialect) -> String {
    let (int, blob, serial) = match dialect {
        Dialect::Sqlite => ("INTEGER", "BLOB", "INTEGER PRIMARY KEY AUTOINCREMENT"),
        Dialect::Postgres => ("BIGINT", "BYTEA", "BIGSERIAL PRIMARY KEY"),
    };
    text.replace("{INT}", int)
        .replace("{BLOB}", blob)
        .replace("{SERIAL}", serial)
}

/// Version 1 tables that version 2 replaces (SQLite only), renamed away before the new
/// schema is created and dropped once their rows are copied.
pub const V1_RENAME: &str = "
ALTER TABLE keys RENAME TO v1_keys;
ALTER TABLE users RENAME TO v1_users;
ALTER TABLE repositories RENAME TO v1_repositories;
ALTER TABLE ssh_keys RENAME TO v1_ssh_keys;
ALTER TABLE tokens RENAME TO v1_tokens;
ALTER TABLE history RENAME TO v1_history;
DROP INDEX IF EXISTS tokens_owner;
DROP INDEX IF EXISTS tokens_parent;
DROP INDEX IF EXISTS history_token;
DROP INDEX IF EXISTS history_at;
";

/// Copy the version 1 rows that are not JSON documents (tokens, history, keys).
pub const V1_COPY: &str = "
INSERT INTO keys (ordinal, id, secret) SELECT rowid, id, secret FROM v1_keys;
INSERT INTO tokens SELECT id, owner, lower(owner), name, scopes, repositories, owners, parent,
    predecessor, successor, created, expires, revoked, last_used, secret_hash, expiry_recorded
    FROM v1_tokens;
INSERT INTO history (seq, token_id, owner, owner_key, action, actor, actor_key, ip, at, name,
    scopes, expires, parent, old_name, old_scopes, old_expires, related)
    SELECT seq, token_id, owner, lower(owner), action, actor, lower(actor), ip, at, name,
    scopes, expires, parent, old_name, old_scopes, old_expires, related FROM v1_history;
DROP TABLE v1_keys;
DROP TABLE v1_tokens;
DROP TABLE v1_history;
";
