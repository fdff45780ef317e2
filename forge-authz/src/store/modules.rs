//! One policy module version across the fleet: modules are stored in the database
//! (bytes, SHA-256, who, when), and an append-only log of publications says which
//! version is live and which runs in shadow. Every `serve` polls the log's head (one
//! indexed read), and when it moves, fetches the module, checks it exactly as `reload`
//! does, swaps it in, and reports what it runs in `policy_hosts`.
//!
//! The log replays as a stack: `publish` pushes a live version, `rollback` pops back to
//! the one before, `promote` pushes the shadow version and clears the shadow. So
//! `rollback` twice goes back two versions, never flips between two.

use anyhow::{Context as _, bail};
use sha2::Digest as _;

use super::{Conn, Store};
use crate::vals;

/// A stored module version.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ModuleRef {
    /// Version number (1 for the first module stored).
    pub version: i64,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
}

/// What the fleet should run.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FleetState {
    /// The log's head (0: nothing published).
    pub seq: i64,
    /// The live version (None: hosts run their local module).
    pub live: Option<ModuleRef>,
    /// The shadow version.
    pub shadow: Option<ModuleRef>,
    /// The live versions a `rollback` returns to, oldest first.
    pub history: Vec<i64>,
}

/// One host's report.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct HostRow {
    /// Host id (`--host-id`, default `hostname/listen address`).
    pub host: String,
    /// Live version it runs (None: its local module).
    pub live_version: Option<i64>,
    /// SHA-256 of the module it runs.
    pub live_sha256: Option<String>,
    /// Shadow version it runs.
    pub shadow_version: Option<i64>,
    /// `running` or `refused`.
    pub state: String,
    /// Why it refused the fleet's version.
    pub detail: Option<String>,
    /// Last report (Unix seconds).
    pub seen_at: i64,
    /// The configuration version it runs (None: a host from before versioned
    /// configuration).
    pub config_version: Option<i64>,
}

/// The log's head: what hosts poll.
pub fn head(conn: &mut Conn) -> anyhow::Result<i64> {
    Ok(conn
        .query_opt("SELECT max(seq) FROM policy_publications", &[])?
        .map(|r| r.opt_int(0))
        .transpose()?
        .flatten()
        .unwrap_or(0))
}

fn module_ref(conn: &mut Conn, version: i64) -> anyhow::Result<ModuleRef> {
    let r = conn
        .query_opt(
            "SELECT sha256 FROM policy_modules WHERE version = $1",
            &vals![version],
        )?
        .with_context(|| format!("module version {version} is missing"))?;
    Ok(ModuleRef {
        version,
        sha256: r.text(0)?,
    })
}

/// Replay the publication log.
pub fn state(conn: &mut Conn) -> anyhow::Result<FleetState> {
    let mut live: Vec<i64> = Vec::new();
    let mut shadow: Option<i64> = None;
    let mut seq = 0;
    for r in conn.query(
        "SELECT seq, role, version, action FROM policy_publications ORDER BY seq",
        &[],
    )? {
        seq = r.int(0)?;
        match (r.text(1)?.as_str(), r.text(3)?.as_str(), r.opt_int(2)?) {
            ("live", "publish" | "promote", Some(v)) => {
                live.push(v);
                if r.text(3)? == "promote" {
                    shadow = None;
                }
            }
            ("live", "rollback", _) => {
                live.pop();
            }
            ("shadow", "publish", v) => shadow = v,
            ("shadow", "clear", _) => shadow = None,
            (role, action, _) => bail!("publication {seq}: unknown {role} action `{action}`"),
        }
    }
    let current = live.pop();
    Ok(FleetState {
        seq,
        live: current.map(|v| module_ref(conn, v)).transpose()?,
        shadow: shadow.map(|v| module_ref(conn, v)).transpose()?,
        history: live,
    })
}

/// A module's bytes, checked against its recorded SHA-256.
pub fn bytes(conn: &mut Conn, m: &ModuleRef) -> anyhow::Result<Vec<u8>> {
    let r = conn
        .query_opt(
            "SELECT bytes FROM policy_modules WHERE version = $1",
            &vals![m.version],
        )?
        .with_context(|| format!("module version {} is missing", m.version))?;
    let bytes = r.blob(0)?;
    if hex::encode(sha2::Sha256::digest(&bytes)) != m.sha256 {
        bail!(
            "module version {}: the stored bytes do not match their SHA-256",
            m.version
        );
    }
    Ok(bytes)
}

/// Which slot a publication changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// What every host enforces.
    Live,
    /// What every host runs beside it, compared and never enforced.
    Shadow,
}

fn record(
    conn: &mut Conn,
    role: &str,
    version: Option<i64>,
    action: &str,
    by: &str,
    now: i64,
) -> anyhow::Result<()> {
    conn.execute(
        "INSERT INTO policy_publications (role, version, action, published_by, published_at) \
         VALUES ($1, $2, $3, $4, $5)",
        &vals![role, version, action, by, now],
    )?;
    notify(conn)
}

/// Wake the hosts that listen (PostgreSQL: delivered when the transaction commits; SQLite
/// hosts poll). Module publications and configuration changes share the channel.
pub fn notify(conn: &mut Conn) -> anyhow::Result<()> {
    if conn.dialect() == super::Dialect::Postgres {
        conn.batch(&format!("NOTIFY {CHANNEL}"))?;
    }
    Ok(())
}

/// The PostgreSQL notification channel of new publications and configuration versions.
pub const CHANNEL: &str = "forge_authz_publications";

/// A connection that waits for publication notifications (PostgreSQL only): hosts
/// wake on a publication instead of waiting out their poll interval. Polling stays the
/// fallback (a notification can be missed while the connection is down).
pub struct Listener {
    client: Box<postgres::Client>,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Listener")
    }
}

impl Listener {
    /// Listen on `location` (None: not PostgreSQL).
    pub fn open(location: &super::Location) -> anyhow::Result<Option<Listener>> {
        if !matches!(location, super::Location::Postgres(_)) {
            return Ok(None);
        }
        let store = Store::open_read_only(location)?;
        let Conn::Postgres(mut client, _) = store.conn else {
            return Ok(None);
        };
        client.batch_execute(&format!("LISTEN {CHANNEL}"))?;
        Ok(Some(Listener { client }))
    }

    /// Wait up to `timeout` for a publication; `Ok(true)` if one was announced.
    pub fn wait(&mut self, timeout: std::time::Duration) -> anyhow::Result<bool> {
        use postgres::fallible_iterator::FallibleIterator as _;
        let got = self
            .client
            .notifications()
            .timeout_iter(timeout)
            .next()?
            .is_some();
        // Several publications at once need one sync: drain what is already queued
        // (without waiting).
        if got {
            let mut notifications = self.client.notifications();
            let mut queued = notifications.iter();
            while queued.next()?.is_some() {}
        }
        Ok(got)
    }
}

/// Store a module (once per SHA-256) and publish it. The caller has checked it.
pub fn publish(
    store: &mut Store,
    module: &[u8],
    role: Role,
    by: &str,
    now: i64,
) -> anyhow::Result<ModuleRef> {
    let sha256 = hex::encode(sha2::Sha256::digest(module));
    let mut tx = store.write()?;
    let existing = tx.query_opt(
        "SELECT version FROM policy_modules WHERE sha256 = $1",
        &vals![sha256.as_str()],
    )?;
    let version = match existing {
        Some(r) => r.int(0)?,
        None => {
            tx.execute(
                "INSERT INTO policy_modules (sha256, bytes, published_by, published_at) \
                 VALUES ($1, $2, $3, $4)",
                &vals![sha256.as_str(), module, by, now],
            )?;
            tx.query_opt(
                "SELECT version FROM policy_modules WHERE sha256 = $1",
                &vals![sha256.as_str()],
            )?
            .context("the module vanished")?
            .int(0)?
        }
    };
    let role = match role {
        Role::Live => "live",
        Role::Shadow => "shadow",
    };
    record(&mut tx, role, Some(version), "publish", by, now)?;
    tx.commit()?;
    Ok(ModuleRef { version, sha256 })
}

/// Return to the live version before the current one.
pub fn rollback(store: &mut Store, by: &str, now: i64) -> anyhow::Result<Option<ModuleRef>> {
    // Never past the first publication: hosts would keep the rolled-back module loaded
    // while the log said "none".
    let mut tx = store.write()?;
    let s = state(&mut tx)?;
    match (&s.live, s.history.last()) {
        (None, _) => bail!("nothing is published"),
        (Some(m), None) => bail!(
            "nothing to roll back to: version {} is the first live publication",
            m.version
        ),
        _ => {}
    }
    record(&mut tx, "live", None, "rollback", by, now)?;
    let after = state(&mut tx)?;
    tx.commit()?;
    Ok(after.live)
}

/// Stop the fleet's shadow module.
pub fn clear_shadow(store: &mut Store, by: &str, now: i64) -> anyhow::Result<()> {
    let mut tx = store.write()?;
    record(&mut tx, "shadow", None, "clear", by, now)?;
    tx.commit()
}

/// Make the shadow version live (and clear the shadow).
pub fn promote(store: &mut Store, by: &str, now: i64) -> anyhow::Result<ModuleRef> {
    let mut tx = store.write()?;
    let shadow = state(&mut tx)?
        .shadow
        .context("no shadow module is published")?;
    record(&mut tx, "live", Some(shadow.version), "promote", by, now)?;
    tx.commit()?;
    Ok(shadow)
}

/// A host says what it runs (insert or update its row).
pub fn report(conn: &mut Conn, h: &HostRow) -> anyhow::Result<()> {
    conn.execute(
        "INSERT INTO policy_hosts (host, live_version, live_sha256, shadow_version, state, \
         detail, seen_at, config_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (host) DO UPDATE SET live_version = excluded.live_version, \
         live_sha256 = excluded.live_sha256, shadow_version = excluded.shadow_version, \
         state = excluded.state, detail = excluded.detail, seen_at = excluded.seen_at, \
         config_version = excluded.config_version",
        &vals![
            &h.host,
            &h.live_version,
            &h.live_sha256,
            &h.shadow_version,
            &h.state,
            &h.detail,
            h.seen_at,
            &h.config_version
        ],
    )?;
    Ok(())
}

/// Every host's last report.
pub fn hosts(conn: &mut Conn) -> anyhow::Result<Vec<HostRow>> {
    conn.query(
        "SELECT host, live_version, live_sha256, shadow_version, state, detail, seen_at, \
         config_version FROM policy_hosts ORDER BY host",
        &[],
    )?
    .iter()
    .map(|r| {
        Ok(HostRow {
            host: r.text(0)?,
            live_version: r.opt_int(1)?,
            live_sha256: r.opt_text(2)?,
            shadow_version: r.opt_int(3)?,
            state: r.text(4)?,
            detail: r.opt_text(5)?,
            seen_at: r.int(6)?,
            config_version: r.opt_int(7)?,
        })
    })
    .collect()
}
