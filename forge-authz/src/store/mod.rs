//! The token and fact store: SQLite (bundled, one host) or PostgreSQL (many hosts), with
//! one relational schema (`schema`), one set of statements (`sql`), and the same
//! transactional guarantees on both: every mutation runs in one write transaction, writers
//! serialise, and a crash never leaves a half-written change.
//!
//! Decisions read exactly the facts they need (`facts::StoreFacts`): the token record by
//! id, the acting user, the repository with the actor's role, the namespace, the key —
//! each one indexed lookup, so a decision costs the same with ten repositories or ten
//! million. Secrets are never stored: token records hold the SHA-256 of the secret.
//!
//! The store only stores: what may be minted, derived, rotated, revoked or edited is
//! decided by the policy module (`crate::lifecycle`). Where a store lives: `location`;
//! token rows and history: `tokens`; the forge's facts as rows: `records`.

pub mod bulk;
pub mod config;
mod export;
pub mod facts;
mod history;
mod ip_allow;
mod location;
mod lookup;
pub mod modules;
pub mod people;
pub mod record_history;
mod records;
pub mod repos;
pub mod schema;
pub mod sql;
mod tokens;
mod unavailable;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::vals;
use crate::wit;
use crate::world::{AccessDef, KeyKind, OptionsDef, RepoDef, Role, SshKeyDef, UserDef, World};
pub use history::{HistoryFilter, HistoryRow};
pub use ip_allow::*;
pub use location::Location;
pub use lookup::statement as lookup_statement;
use records::ssh_key_from_row;
pub use records::*;
pub use sql::{Conn, Dialect, Row, Tx, Value};
pub use tokens::*;
use unavailable::{missing, newer, uninitialised};

/// How names compare: ASCII case-insensitively, through `*_key` columns.
pub fn name_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

fn json<T: serde::Serialize>(v: &T) -> anyhow::Result<String> {
    Ok(serde_json::to_string(v)?)
}

fn parse<T: serde::de::DeserializeOwned>(s: &str) -> anyhow::Result<T> {
    serde_json::from_str(s).context("corrupt JSON in the store")
}

/// How long a SQLite read connection waits for a lock before its read fails (the serve
/// path waits only off the async workers: `serve/enforce.rs`).
pub const READ_BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// How long a SQLite write connection waits for the write lock.
pub const WRITE_BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// An open store.
#[derive(Debug)]
pub struct Store {
    conn: Conn,
    location: Location,
}

/// The policy's configuration and the store's clock.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Signing keys, the signing key id, options.
    pub config: wit::Config,
    /// A fixed clock (tests, demos); None: the system clock.
    pub now: Option<i64>,
    /// The configuration's version (`config::head`; 0: none recorded).
    pub version: i64,
}

impl Settings {
    /// The current time.
    pub fn now(&self) -> i64 {
        self.now.unwrap_or_else(crate::world::system_now)
    }
}

impl Store {
    /// Open an existing store and migrate it to this build's schema. Never creates one:
    /// a missing SQLite file, or a database without a store (schema version 0), is a
    /// [`crate::exit::EXIT_UNAVAILABLE`] failure naming `init-db`, and leaves nothing
    /// behind (issue 25: a reading command or a mistyped `--db` creates no file).
    pub fn open(location: impl Into<Location>) -> anyhow::Result<Store> {
        let location = location.into();
        if let Location::Sqlite(path) = &location
            && !path.exists()
        {
            return Err(missing(&location));
        }
        let mut store = Store::connect(location, false)?;
        if store.schema_version()? == 0 {
            return Err(missing(&store.location));
        }
        let mut store = store.migrated()?;
        if store.meta("signing_key")?.is_none() {
            return Err(uninitialised(&store.location));
        }
        Ok(store)
    }

    /// Create a store (or open an existing one) and migrate it: what `init-db` and tests
    /// building a store use; reading commands use [`Store::open`]. A new SQLite file is
    /// created `0600` (it holds the signing keys); SQLite gives its `-wal` and `-shm` files
    /// the same mode.
    pub fn create(location: impl Into<Location>) -> anyhow::Result<Store> {
        let location = location.into();
        if let Location::Sqlite(path) = &location
            && !path.exists()
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .with_context(|| format!("creating {}", path.display()))?;
        }
        Store::connect(location, false)?.migrated()
    }

    fn migrated(mut self) -> anyhow::Result<Store> {
        if let Conn::Sqlite(c) = &self.conn {
            c.pragma_update(None, "journal_mode", "WAL")?;
        }
        self.migrate()?;
        Ok(self)
    }

    /// Open a store for writing without migrating it (a server migrates once, at
    /// start-up). Refuses a store whose schema is not this build's.
    pub fn open_existing(location: impl Into<Location>) -> anyhow::Result<Store> {
        let mut store = Store::connect(location.into(), false)?;
        store.check_version()?;
        Ok(store)
    }

    /// Open a store read-only (no migration, no write lock ever taken; PostgreSQL
    /// sessions are `default_transaction_read_only`): what request handlers and `ssh-keys`
    /// use. Refuses a store that is not at this build's schema.
    pub fn open_read_only(location: impl Into<Location>) -> anyhow::Result<Store> {
        let mut store = Store::connect(location.into(), true)?;
        store.check_version()?;
        Ok(store)
    }

    fn connect(location: Location, read_only: bool) -> anyhow::Result<Store> {
        let conn = match &location {
            // No file, no store (SQLite would say "unable to open database file").
            Location::Sqlite(path) if !path.exists() => return Err(missing(&location)),
            Location::Sqlite(path) => {
                use rusqlite::OpenFlags;
                let flags = if read_only {
                    OpenFlags::SQLITE_OPEN_READ_ONLY
                } else {
                    OpenFlags::SQLITE_OPEN_READ_WRITE
                } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let c = rusqlite::Connection::open_with_flags(path, flags)
                    .with_context(|| format!("opening {location}"))?;
                c.busy_timeout(if read_only {
                    READ_BUSY_TIMEOUT
                } else {
                    WRITE_BUSY_TIMEOUT
                })?;
                if !read_only {
                    c.pragma_update(None, "synchronous", "FULL")?;
                }
                // No `mmap_size` or larger `cache_size` on read connections (issue 24,
                // docs/design/serve-cost.md §2.2): measured under `wrk` (forward-auth token
                // pulls, the fleet heartbeat writing every 2 s) a decision `pread`s 0.00
                // pages per request — its pages stay in the default cache — so neither has
                // anything to save, and `mmap` would turn an external truncation into
                // SIGBUS. What a decision costs here is its read transaction: one per
                // decision (`lookup`), 2 `fcntl` instead of 6.
                c.set_prepared_statement_cache_capacity(64);
                Conn::Sqlite(sql::Sqlite::new(c))
            }
            Location::Postgres(url) => {
                let mut config: postgres::Config = url
                    .parse()
                    .with_context(|| format!("parsing the PostgreSQL address {location}"))?;
                config
                    .connect_timeout(std::time::Duration::from_secs(10))
                    .application_name("forge-authz");
                let mut client = config.connect(postgres::NoTls).map_err(|e| {
                    crate::exit::fail(
                        crate::exit::EXIT_UNAVAILABLE,
                        format!(
                            "cannot connect to the store at {location}: {e}: check that \
                             PostgreSQL runs there and that the URL is right"
                        ),
                    )
                })?;
                // Bounded waits: no statement or lock wait may hold a request forever.
                // Read connections plan each prepared statement once (PostgreSQL 12+):
                // with `auto`, the decision's one statement (store/lookup.rs) was planned
                // again on every execution (its NULL parameters make custom plans look
                // cheaper): 0.55 ms of planning against 0.04 ms, and 873 -> 2,150
                // anonymous pulls/s on one connection (BENCHMARKS.md, issue 24). Its
                // generic plan stays on the key indexes (tests/facts.rs checks it).
                client.batch_execute(if read_only {
                    "SET default_transaction_read_only = on; SET statement_timeout = '10s'; \
                     SET plan_cache_mode = force_generic_plan"
                } else {
                    "SET statement_timeout = '60s'; SET lock_timeout = '30s'"
                })?;
                Conn::Postgres(Box::new(client), Default::default())
            }
        };
        Ok(Store { conn, location })
    }

    /// Where this store lives (printable: no password).
    pub fn location(&self) -> &Location {
        &self.location
    }

    fn check_version(&mut self) -> anyhow::Result<()> {
        let version = self.schema_version()?;
        if version == 0 {
            return Err(missing(&self.location));
        }
        if version > schema::VERSION {
            return Err(newer(version));
        }
        if version != schema::VERSION {
            return Err(crate::exit::fail(
                crate::exit::EXIT_UNAVAILABLE,
                format!(
                    "the store has schema version {version}, this build needs {}: run any \
                     `forge-authz` command that writes to it once (it migrates), e.g. \
                     `forge-authz expire --db ...`",
                    schema::VERSION
                ),
            ));
        }
        Ok(())
    }

    /// The schema version (0: an empty database).
    pub fn schema_version(&mut self) -> anyhow::Result<i64> {
        match &mut self.conn {
            Conn::Sqlite(c) => Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?),
            Conn::Postgres(..) => {
                let exists = self.conn.query_opt(
                    "SELECT 1::BIGINT FROM pg_catalog.pg_tables \
                     WHERE schemaname = current_schema() AND tablename = 'forge_authz_schema'",
                    &[],
                )?;
                if exists.is_none() {
                    return Ok(0);
                }
                match self
                    .conn
                    .query_opt("SELECT version FROM forge_authz_schema", &[])?
                {
                    Some(r) => r.int(0),
                    None => Ok(0),
                }
            }
        }
    }

    fn migrate(&mut self) -> anyhow::Result<()> {
        let dialect = self.conn.dialect();
        if dialect == Dialect::Postgres {
            // Serialise concurrent first starts of several hosts.
            self.conn.batch(
                "BEGIN; SELECT pg_advisory_xact_lock(7306654510706263667); \
                 CREATE TABLE IF NOT EXISTS forge_authz_schema (version BIGINT NOT NULL)",
            )?;
            let result = (|| -> anyhow::Result<()> {
                let version = match self
                    .conn
                    .query_opt("SELECT version FROM forge_authz_schema", &[])?
                {
                    Some(r) => r.int(0)?,
                    None => 0,
                };
                if version > schema::VERSION {
                    return Err(newer(version));
                }
                if version < schema::VERSION {
                    if version < 2 {
                        self.conn.batch(&schema::v2(dialect))?;
                    }
                    migrate_since_v2(&mut self.conn, version)?;
                    self.conn.execute("DELETE FROM forge_authz_schema", &[])?;
                    self.conn.execute(
                        "INSERT INTO forge_authz_schema (version) VALUES ($1)",
                        &vals![schema::VERSION],
                    )?;
                }
                Ok(())
            })();
            return match result {
                Ok(()) => self.conn.batch("COMMIT"),
                Err(e) => {
                    let _ = self.conn.batch("ROLLBACK");
                    Err(e)
                }
            };
        }
        let mut tx = self.conn.write()?;
        let version = match &*tx {
            Conn::Sqlite(c) => {
                c.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))?
            }
            Conn::Postgres(..) => bail!("unreachable"),
        };
        if version > schema::VERSION {
            return Err(newer(version));
        }
        if version == 1 {
            migrate_v1(&mut tx).context("schema migration 2 (relational facts)")?;
        } else if version == 0 {
            tx.batch(&schema::v2(dialect)).context("schema version 2")?;
        }
        migrate_since_v2(&mut tx, version)?;
        tx.batch(&format!("PRAGMA user_version = {}", schema::VERSION))?;
        tx.commit()
    }

    /// Begin a write transaction (writers serialise here).
    pub fn write(&mut self) -> anyhow::Result<Tx<'_>> {
        self.conn.write()
    }

    /// The connection.
    pub fn conn(&mut self) -> &mut Conn {
        &mut self.conn
    }

    /// Run one statement written by hand (tests, operators' repairs); the rows changed.
    pub fn execute_sql(&mut self, sql: &str) -> anyhow::Result<u64> {
        match &mut self.conn {
            Conn::Sqlite(c) => Ok(u64::try_from(c.execute(sql, [])?)?),
            Conn::Postgres(c, _) => Ok(c.execute(sql, &[])?),
        }
    }

    /// Replace everything with a fixture's content (one transaction), recorded as a
    /// configuration change by `import`.
    pub fn import_world(&mut self, w: &World) -> anyhow::Result<()> {
        self.import_world_as(w, "import")
    }

    /// [`Store::import_world`], recording `actor` as who replaced the configuration.
    pub fn import_world_as(&mut self, w: &World, actor: &str) -> anyhow::Result<()> {
        w.validate()?;
        let at = w.now.unwrap_or_else(crate::world::system_now);
        let mut tx = self.write()?;
        for t in [
            "DELETE FROM meta",
            "DELETE FROM keys",
            "DELETE FROM users",
            "DELETE FROM org_members",
            "DELETE FROM repositories",
            "DELETE FROM collaborators",
            "DELETE FROM protected_refs",
            "DELETE FROM protected_ref_users",
            "DELETE FROM ssh_keys",
            "DELETE FROM tokens",
        ] {
            tx.execute(t, &[])?;
        }
        let meta = "INSERT INTO meta (key, value) VALUES ($1, $2)";
        tx.execute(meta, &vals!["signing_key", &w.signing_key])?;
        tx.execute(meta, &vals!["options", json(&w.options)?])?;
        if let Some(now) = w.now {
            tx.execute(meta, &vals!["now", now.to_string()])?;
        }
        for (i, k) in w.keys.iter().enumerate() {
            tx.execute(
                "INSERT INTO keys (ordinal, id, secret, added_at, added_by) \
                 VALUES ($1, $2, $3, $4, $5)",
                &vals![i64::try_from(i)?, &k.id, &k.secret, at, actor],
            )?;
        }
        let detail = serde_json::json!({
            "keys": w.keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
            "signing_key": &w.signing_key,
            "options": &w.options,
        });
        config::record(&mut tx, "import", actor, at, None, &detail)?;
        for u in &w.users {
            put_user(&mut tx, u)?;
        }
        for r in &w.repositories {
            put_repository(&mut tx, r)?;
        }
        for k in &w.ssh_keys {
            put_ssh_key(&mut tx, k)?;
        }
        for t in &w.tokens {
            let record = w
                .token_record(&t.id)
                .with_context(|| format!("token `{}` vanished from the world", t.id))?;
            put_token(&mut tx, &crate::wit::core::record_out(record), false)?;
            if !t.ip_allow.is_empty() {
                set_token_ip_allow(&mut tx, &t.id, &t.ip_allow)?;
            }
        }
        tx.commit()
    }

    fn meta(&mut self, key: &str) -> anyhow::Result<Option<String>> {
        self.conn
            .query_opt("SELECT value FROM meta WHERE key = $1", &vals![key])?
            .map(|r| r.text(0))
            .transpose()
    }

    /// The signing key id, the options and the fixed clock.
    fn meta_fields(&mut self) -> anyhow::Result<(String, OptionsDef, Option<i64>)> {
        let signing_key = self
            .meta("signing_key")?
            .context("the store is not initialised: run `forge-authz init-db`")?;
        let options: OptionsDef = match self.meta("options")? {
            Some(s) => parse(&s)?,
            None => OptionsDef::default(),
        };
        let now = self.meta("now")?.map(|s| s.parse()).transpose()?;
        Ok((signing_key, options, now))
    }

    /// The policy's current configuration (keys not retired, signing key, options), its
    /// version and the clock, read from one snapshot: what a command reads once per run
    /// and a server at start-up (then it follows `config::head`, see `serve::fleet`).
    pub fn settings(&mut self) -> anyhow::Result<Settings> {
        config::read(&mut self.conn)?
            .settings()
            .map_err(anyhow::Error::msg)
    }

    /// Everything as a fixture (tokens included, history not). An operator's export:
    /// its cost grows with the store, unlike a decision's.
    pub fn export_world(&mut self) -> anyhow::Result<World> {
        let (signing_key, options, now) = self.meta_fields()?;
        export::world(&mut self.conn, signing_key, options, now)
    }

    /// One token.
    pub fn token(&mut self, id: &str) -> anyhow::Result<Option<StoredToken>> {
        token_by_id(&mut self.conn, id)
    }

    /// Every token (of an owner, if given), oldest first.
    pub fn tokens(&mut self, owner: Option<&str>) -> anyhow::Result<Vec<StoredToken>> {
        match owner {
            Some(o) => tokens_of_owner(&mut self.conn, o),
            None => all_tokens(&mut self.conn),
        }
    }

    /// An SSH key by its OpenSSH public key (`type`, base64 blob): one indexed lookup by
    /// fingerprint, then an exact comparison of type and blob.
    pub fn ssh_key_by_public(
        &mut self,
        key_type: &str,
        key_blob: &str,
    ) -> anyhow::Result<Option<SshKeyDef>> {
        let Some(fingerprint) = ssh_fingerprint(&format!("{key_type} {key_blob}")) else {
            return Ok(None);
        };
        let Some(row) = self.conn.query_opt(
            "SELECT id, kind, owner, repository, read_only, public_key FROM ssh_keys \
             WHERE fingerprint = $1",
            &vals![fingerprint],
        )?
        else {
            return Ok(None);
        };
        let k = ssh_key_from_row(&row)?;
        let exact = k.public_key.as_deref().is_some_and(|line| {
            let mut parts = line.split_whitespace();
            parts.next() == Some(key_type) && parts.next() == Some(key_blob)
        });
        Ok(exact.then_some(k))
    }
}

/// Version 1 → 2 (SQLite): the JSON documents become rows.
/// The migrations after version 2, the same on both backends, from a store at `version`
/// (inside the caller's transaction).
fn migrate_since_v2(conn: &mut Conn, version: i64) -> anyhow::Result<()> {
    let dialect = conn.dialect();
    if version < 3 {
        conn.batch(schema::V3)
            .context("schema migration 3 (token secret kinds)")?;
    }
    if version < 4 {
        conn.batch(&schema::v4(dialect))
            .context("schema migration 4 (versioned configuration)")?;
        config::record_migration(conn)?;
    }
    if version < 5 {
        conn.batch(&schema::v5(dialect))
            .context("schema migration 5 (signed modules, IP allow lists)")?;
    }
    if version < 6 {
        conn.batch(&schema::v6(dialect, record_history::RECORD_ACTION_PREFIXES))
            .context("schema migration 6 (the records' own history)")?;
    }
    Ok(())
}

fn migrate_v1(tx: &mut Tx<'_>) -> anyhow::Result<()> {
    let docs = |tx: &mut Tx<'_>, sql: &'static str| -> anyhow::Result<Vec<String>> {
        tx.query(sql, &[])?.iter().map(|r| r.text(0)).collect()
    };
    let users = docs(tx, "SELECT json FROM users ORDER BY rowid")?;
    let repositories = docs(tx, "SELECT json FROM repositories ORDER BY rowid")?;
    let ssh_keys = docs(tx, "SELECT json FROM ssh_keys ORDER BY rowid")?;
    tx.batch(schema::V1_RENAME)?;
    tx.batch(&schema::v2(Dialect::Sqlite))?;
    tx.batch(schema::V1_COPY)?;
    for u in &users {
        put_user(tx, &parse(u)?)?;
    }
    for r in &repositories {
        put_repository(tx, &parse(r)?)?;
    }
    for k in &ssh_keys {
        put_ssh_key(tx, &parse(k)?)?;
    }
    tx.batch("DROP TABLE v1_users; DROP TABLE v1_repositories; DROP TABLE v1_ssh_keys;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_select_the_backend() {
        assert_eq!(
            Location::parse("forge.db"),
            Location::Sqlite("forge.db".into())
        );
        assert_eq!(
            Location::parse("sqlite:forge.db"),
            Location::Sqlite("forge.db".into())
        );
        assert_eq!(
            Location::parse("sqlite:///var/lib/f.db"),
            Location::Sqlite("/var/lib/f.db".into())
        );
        assert!(matches!(
            Location::parse("postgres://u@h/db"),
            Location::Postgres(_)
        ));
        assert!(matches!(
            Location::parse("postgresql://u@h/db"),
            Location::Postgres(_)
        ));
    }

    #[test]
    fn a_location_never_prints_its_password() {
        let shown = Location::parse("postgres://forge:s3cret@db.internal:5432/authz").to_string();
        assert_eq!(shown, "postgres://forge:***@db.internal:5432/authz");
        let kv =
            Location::parse("postgres:host=db user=forge password=s3cret dbname=a").to_string();
        assert!(!kv.contains("s3cret"), "{kv}");
        assert!(!format!("{:?}", Location::parse("postgres://a:s3cret@h/d")).contains("s3cret"));
    }

    #[test]
    fn fingerprints_match_ssh_keygen() {
        // `ssh-keygen -lf` on this key printed the fingerprint below.
        let line =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIL9O5vOtuu47Pb075KLYcqWyQ5nrZVSvOsbISI8wSzYK test";
        assert_eq!(
            ssh_fingerprint(line).as_deref(),
            Some("SHA256:uDMuB3EXiEN90TDsjPZx2WQ9PV4YuCJz1k6lWoMk2H8")
        );
        assert_eq!(ssh_fingerprint("ssh-ed25519 not-base64!"), None);
        assert_eq!(ssh_fingerprint("ssh-ed25519"), None);
    }
}
