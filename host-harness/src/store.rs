//! The embedded token store: SQLite (bundled, no system library), holding keys, options,
//! users, repositories, SSH keys, token records (hash only, never the secret) and the
//! change history. Schema migrations are versioned in code (`PRAGMA user_version`); every
//! mutation runs in one `BEGIN IMMEDIATE` transaction, so concurrent writers serialise and
//! a crash never leaves a half-written change.
//!
//! The store only stores: what may be minted, derived, rotated, revoked or edited is
//! decided by the policy module (`crate::lifecycle`).

use std::path::Path;

use anyhow::{Context as _, bail};
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};

use crate::wit;
use crate::world::{KeyDef, OptionsDef, RepoDef, SshKeyDef, TokenDef, UserDef, World};

/// Schema migrations, in order; `PRAGMA user_version` is the number applied.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE keys (id TEXT PRIMARY KEY, secret TEXT NOT NULL);
     CREATE TABLE users (name TEXT PRIMARY KEY COLLATE NOCASE, json TEXT NOT NULL);
     CREATE TABLE repositories (
         owner TEXT NOT NULL COLLATE NOCASE, name TEXT NOT NULL COLLATE NOCASE,
         json TEXT NOT NULL, PRIMARY KEY (owner, name));
     CREATE TABLE ssh_keys (id TEXT PRIMARY KEY, json TEXT NOT NULL);
     CREATE TABLE tokens (
         id TEXT PRIMARY KEY,
         owner TEXT NOT NULL COLLATE NOCASE,
         name TEXT NOT NULL,
         scopes TEXT NOT NULL,
         repositories TEXT NOT NULL,
         owners TEXT NOT NULL,
         parent TEXT,
         predecessor TEXT,
         successor TEXT,
         created INTEGER NOT NULL,
         expires INTEGER,
         revoked INTEGER,
         last_used INTEGER,
         secret_hash BLOB NOT NULL CHECK (length(secret_hash) = 32),
         expiry_recorded INTEGER NOT NULL DEFAULT 0);
     CREATE INDEX tokens_owner ON tokens (owner);
     CREATE INDEX tokens_parent ON tokens (parent);
     CREATE TABLE history (
         seq INTEGER PRIMARY KEY AUTOINCREMENT,
         token_id TEXT NOT NULL,
         owner TEXT NOT NULL COLLATE NOCASE,
         action TEXT NOT NULL,
         actor TEXT NOT NULL COLLATE NOCASE,
         ip TEXT,
         at INTEGER NOT NULL,
         name TEXT NOT NULL,
         scopes TEXT NOT NULL,
         expires INTEGER,
         parent TEXT,
         old_name TEXT,
         old_scopes TEXT,
         old_expires TEXT,
         related TEXT);
     CREATE INDEX history_token ON history (token_id);
     CREATE INDEX history_at ON history (at);",
];

/// An open store.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
}

fn json<T: serde::Serialize>(v: &T) -> anyhow::Result<String> {
    Ok(serde_json::to_string(v)?)
}

fn parse<T: serde::de::DeserializeOwned>(s: &str) -> anyhow::Result<T> {
    serde_json::from_str(s).context("corrupt JSON in the store")
}

/// A token row: the record and the store's own bookkeeping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredToken {
    /// The record.
    pub record: wit::TokenRecord,
    /// Whether the expiry was recorded (by `expire`).
    pub expiry_recorded: bool,
}

const TOKEN_COLUMNS: &str = "id, owner, name, scopes, repositories, owners, parent, predecessor, \
     successor, created, expires, revoked, last_used, secret_hash, expiry_recorded";

fn token_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(StoredToken, [String; 3])> {
    Ok((
        StoredToken {
            record: wit::TokenRecord {
                id: row.get(0)?,
                owner: row.get(1)?,
                name: row.get(2)?,
                scopes: vec![],
                repositories: vec![],
                owners: vec![],
                parent: row.get(6)?,
                predecessor: row.get(7)?,
                successor: row.get(8)?,
                created: row.get(9)?,
                expires: row.get(10)?,
                revoked: row.get(11)?,
                last_used: row.get(12)?,
                secret_hash: row.get(13)?,
            },
            expiry_recorded: row.get::<_, i64>(14)? != 0,
        },
        [row.get(3)?, row.get(4)?, row.get(5)?],
    ))
}

fn finish_token((mut t, lists): (StoredToken, [String; 3])) -> anyhow::Result<StoredToken> {
    let [scopes, repos, owners] = lists;
    t.record.scopes = parse(&scopes)?;
    t.record.repositories = parse(&repos)?;
    t.record.owners = parse(&owners)?;
    Ok(t)
}

/// Tokens matching a clause (`WHERE ...`, `ORDER BY ...`), on a connection or inside a
/// transaction.
pub fn tokens_in(
    conn: &Connection,
    where_clause: &str,
    args: &[&dyn rusqlite::ToSql],
) -> anyhow::Result<Vec<StoredToken>> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens {where_clause}");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(args, token_from_row)?;
    let mut out = Vec::new();
    for r in rows {
        out.push(finish_token(r?)?);
    }
    Ok(out)
}

/// Insert or replace a token row.
pub fn put_token(
    conn: &Connection,
    r: &wit::TokenRecord,
    expiry_recorded: bool,
) -> anyhow::Result<()> {
    if r.secret_hash.len() != 32 {
        bail!("token `{}`: a record must hold a 32-byte hash", r.id);
    }
    conn.execute(
        &format!(
            "INSERT OR REPLACE INTO tokens ({TOKEN_COLUMNS}) VALUES \
             (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
        ),
        params![
            r.id,
            r.owner,
            r.name,
            json(&r.scopes)?,
            json(&r.repositories)?,
            json(&r.owners)?,
            r.parent,
            r.predecessor,
            r.successor,
            r.created,
            r.expires,
            r.revoked,
            r.last_used,
            r.secret_hash,
            i64::from(expiry_recorded),
        ],
    )?;
    Ok(())
}

/// Append a history event.
pub fn put_event(conn: &Connection, e: &wit::HistoryEvent) -> anyhow::Result<()> {
    conn.execute(
        "INSERT INTO history (token_id, owner, action, actor, ip, at, name, scopes, expires, \
         parent, old_name, old_scopes, old_expires, related) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            e.token_id,
            e.owner,
            e.action.name(),
            e.actor,
            e.ip,
            e.at,
            e.name,
            json(&e.scopes)?,
            e.expires,
            e.parent,
            e.old_name,
            e.old_scopes.as_ref().map(json).transpose()?,
            e.old_expires.map(|x| json(&x)).transpose()?,
            e.related,
        ],
    )?;
    Ok(())
}

/// A history row as listed.
#[derive(Clone, Debug, serde::Serialize, PartialEq, Eq)]
pub struct HistoryRow {
    /// Position (the pagination cursor).
    pub seq: i64,
    /// Token.
    pub token_id: String,
    /// Owner.
    pub owner: String,
    /// Action.
    pub action: String,
    /// Actor.
    pub actor: String,
    /// IP.
    pub ip: Option<String>,
    /// When.
    pub at: i64,
    /// Name after.
    pub name: String,
    /// Scopes after.
    pub scopes: Vec<String>,
    /// Expiry after.
    pub expires: Option<i64>,
    /// Parent.
    pub parent: Option<String>,
    /// Name before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_name: Option<String>,
    /// Scopes before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_scopes: Option<Vec<String>>,
    /// Expiry before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_expires: Option<Option<i64>>,
    /// The other token of a rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub related: Option<String>,
}

/// History filters (all optional; combined with AND).
#[derive(Clone, Debug, Default)]
pub struct HistoryFilter {
    /// Token owner.
    pub user: Option<String>,
    /// Actor.
    pub actor: Option<String>,
    /// Token id.
    pub token: Option<String>,
    /// Action.
    pub action: Option<String>,
    /// At or after.
    pub since: Option<i64>,
    /// Before.
    pub until: Option<i64>,
    /// IP address or CIDR block.
    pub ip: Option<crate::cidr::Cidr>,
    /// Rows before this cursor (newest first).
    pub cursor: Option<i64>,
    /// Page size.
    pub limit: usize,
}

impl Store {
    /// Open (creating if needed) and migrate a store. A new database file is created
    /// `0600` (it holds the signing keys); SQLite gives its `-wal` and `-shm` files the
    /// same mode.
    pub fn open(path: &Path) -> anyhow::Result<Store> {
        let created = !path.exists();
        if created {
            use std::os::unix::fs::OpenOptionsExt as _;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .with_context(|| format!("creating {}", path.display()))?;
        }
        let mut store = Store::open_existing(path)?;
        store.conn.pragma_update(None, "journal_mode", "WAL")?;
        store.migrate()?;
        Ok(store)
    }

    /// Open a store for writing without migrating it (a server migrates once, at
    /// start-up). Refuses a store whose schema is not this build's.
    pub fn open_existing(path: &Path) -> anyhow::Result<Store> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("opening {}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        Ok(Store { conn })
    }

    /// Open a store read-only (no migration, no write lock ever taken): what request
    /// handlers and `ssh-keys` use. Refuses a store that is not at this build's schema.
    pub fn open_read_only(path: &Path) -> anyhow::Result<Store> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("opening {} read-only", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let store = Store { conn };
        let version = store.schema_version()?;
        let known = i64::try_from(MIGRATIONS.len())?;
        if version != known {
            bail!(
                "the store has schema version {version}, this build needs {known}: run `forge-authz init-db` or any write command once"
            );
        }
        Ok(store)
    }

    fn migrate(&mut self) -> anyhow::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = i64::try_from(MIGRATIONS.len())?;
        if version > known {
            bail!("the store has schema version {version}; this build knows up to {known}");
        }
        for (i, sql) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(version)?)
        {
            tx.execute_batch(sql)
                .with_context(|| format!("schema migration {}", i + 1))?;
        }
        tx.pragma_update(None, "user_version", known)?;
        tx.commit()?;
        Ok(())
    }

    /// The schema version.
    pub fn schema_version(&self) -> anyhow::Result<i64> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// Begin a write transaction (`BEGIN IMMEDIATE`: writers serialise here).
    pub fn write(&mut self) -> anyhow::Result<Transaction<'_>> {
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }

    /// The connection (reads).
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Replace everything with a fixture's content (one transaction).
    pub fn import_world(&mut self, w: &World) -> anyhow::Result<()> {
        w.validate()?;
        let tx = self.write()?;
        for t in [
            "meta",
            "keys",
            "users",
            "repositories",
            "ssh_keys",
            "tokens",
        ] {
            tx.execute(&format!("DELETE FROM {t}"), [])?;
        }
        tx.execute(
            "INSERT INTO meta VALUES ('signing_key', ?1)",
            [&w.signing_key],
        )?;
        tx.execute(
            "INSERT INTO meta VALUES ('options', ?1)",
            [json(&w.options)?],
        )?;
        if let Some(now) = w.now {
            tx.execute("INSERT INTO meta VALUES ('now', ?1)", [now.to_string()])?;
        }
        for k in &w.keys {
            tx.execute("INSERT INTO keys VALUES (?1, ?2)", params![k.id, k.secret])?;
        }
        for u in &w.users {
            tx.execute(
                "INSERT INTO users VALUES (?1, ?2)",
                params![u.name, json(u)?],
            )?;
        }
        for r in &w.repositories {
            tx.execute(
                "INSERT INTO repositories VALUES (?1, ?2, ?3)",
                params![r.owner, r.name, json(r)?],
            )?;
        }
        for k in &w.ssh_keys {
            tx.execute(
                "INSERT INTO ssh_keys VALUES (?1, ?2)",
                params![k.id, json(k)?],
            )?;
        }
        for t in &w.tokens {
            let record = world_token(w, &t.id)?;
            put_token(&tx, &record, false)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Everything as a fixture (tokens included, history not).
    pub fn export_world(&self) -> anyhow::Result<World> {
        let meta = |k: &str| -> anyhow::Result<Option<String>> {
            Ok(self
                .conn
                .query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0))
                .optional()?)
        };
        let signing_key = meta("signing_key")?
            .context("the store is not initialised: run `forge-authz db init`")?;
        let options: OptionsDef = match meta("options")? {
            Some(s) => parse(&s)?,
            None => OptionsDef::default(),
        };
        let now = meta("now")?.map(|s| s.parse()).transpose()?;
        let all = |sql: &str| -> anyhow::Result<Vec<String>> {
            let mut stmt = self.conn.prepare(sql)?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        };
        let keys: Vec<KeyDef> = {
            let mut stmt = self
                .conn
                .prepare("SELECT id, secret FROM keys ORDER BY rowid")?;
            let rows = stmt.query_map([], |r| {
                Ok(KeyDef {
                    id: r.get(0)?,
                    secret: r.get(1)?,
                })
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let users: Vec<UserDef> = all("SELECT json FROM users ORDER BY rowid")?
            .iter()
            .map(|s| parse(s))
            .collect::<anyhow::Result<_>>()?;
        let repositories: Vec<RepoDef> = all("SELECT json FROM repositories ORDER BY rowid")?
            .iter()
            .map(|s| parse(s))
            .collect::<anyhow::Result<_>>()?;
        let ssh_keys: Vec<SshKeyDef> = all("SELECT json FROM ssh_keys ORDER BY rowid")?
            .iter()
            .map(|s| parse(s))
            .collect::<anyhow::Result<_>>()?;
        let tokens = tokens_in(&self.conn, "ORDER BY created, id", &[])?
            .iter()
            .map(|t| TokenDef::from_wit(&t.record))
            .collect();
        let world = World {
            now,
            keys,
            signing_key,
            users,
            repositories,
            tokens,
            ssh_keys,
            options,
        };
        world.validate()?;
        Ok(world)
    }

    /// One token.
    pub fn token(&self, id: &str) -> anyhow::Result<Option<StoredToken>> {
        Ok(tokens_in(&self.conn, "WHERE id = ?1", &[&id])?
            .into_iter()
            .next())
    }

    /// Every token (of an owner, if given), oldest first.
    pub fn tokens(&self, owner: Option<&str>) -> anyhow::Result<Vec<StoredToken>> {
        match owner {
            Some(o) => tokens_in(&self.conn, "WHERE owner = ?1 ORDER BY created, id", &[&o]),
            None => tokens_in(&self.conn, "ORDER BY created, id", &[]),
        }
    }

    /// History, newest first, filtered and paginated. Returns the rows and the cursor for
    /// the next page (None: no more).
    pub fn history(&self, f: &HistoryFilter) -> anyhow::Result<(Vec<HistoryRow>, Option<i64>)> {
        let mut sql = String::from(
            "SELECT seq, token_id, owner, action, actor, ip, at, name, scopes, expires, parent, \
             old_name, old_scopes, old_expires, related FROM history WHERE 1 = 1",
        );
        let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
        let mut add = |clause: &str, v: Box<dyn rusqlite::ToSql>| {
            args.push(v);
            sql.push_str(&format!(" AND {clause} ?{}", args.len()));
        };
        if let Some(u) = &f.user {
            add("owner =", Box::new(u.clone()));
        }
        if let Some(a) = &f.actor {
            add("actor =", Box::new(a.clone()));
        }
        if let Some(t) = &f.token {
            add("token_id =", Box::new(t.clone()));
        }
        if let Some(a) = &f.action {
            add("action =", Box::new(a.clone()));
        }
        if let Some(s) = f.since {
            add("at >=", Box::new(s));
        }
        if let Some(u) = f.until {
            add("at <", Box::new(u));
        }
        if let Some(c) = f.cursor {
            add("seq <", Box::new(c));
        }
        sql.push_str(" ORDER BY seq DESC");
        let mut stmt = self.conn.prepare(&sql)?;
        let refs: Vec<&dyn rusqlite::ToSql> = args.iter().map(|b| b.as_ref()).collect();
        let mut rows = stmt.query(refs.as_slice())?;
        let mut out = Vec::new();
        let limit = f.limit.max(1);
        let mut more = false;
        while let Some(r) = rows.next()? {
            let ip: Option<String> = r.get(5)?;
            // CIDR filtering happens here: SQLite has no address type.
            if let Some(cidr) = &f.ip
                && !ip.as_deref().is_some_and(|a| cidr.contains(a))
            {
                continue;
            }
            if out.len() == limit {
                more = true;
                break;
            }
            let scopes: String = r.get(8)?;
            let old_scopes: Option<String> = r.get(12)?;
            let old_expires: Option<String> = r.get(13)?;
            out.push(HistoryRow {
                seq: r.get(0)?,
                token_id: r.get(1)?,
                owner: r.get(2)?,
                action: r.get(3)?,
                actor: r.get(4)?,
                ip,
                at: r.get(6)?,
                name: r.get(7)?,
                scopes: parse(&scopes)?,
                expires: r.get(9)?,
                parent: r.get(10)?,
                old_name: r.get(11)?,
                old_scopes: old_scopes.map(|s| parse(&s)).transpose()?,
                old_expires: old_expires.map(|s| parse(&s)).transpose()?,
                related: r.get(14)?,
            });
        }
        let next = if more {
            out.last().map(|r| r.seq)
        } else {
            None
        };
        Ok((out, next))
    }
}

/// A fixture token as a WIT record.
fn world_token(w: &World, id: &str) -> anyhow::Result<wit::TokenRecord> {
    w.token(id)
        .with_context(|| format!("token `{id}` vanished from the world"))
}
