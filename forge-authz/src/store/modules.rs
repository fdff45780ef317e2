//! One policy module version across the fleet: modules are stored in the database
//! (bytes, SHA-256, who, when), and an append-only log of publications says which
//! version is live and which runs in shadow. Every `serve` polls the log's head (one
//! indexed read), and when it moves, fetches the module, checks it exactly as `reload`
//! does, swaps it in, and reports what it runs in `policy_hosts`.
//!
//! The log replays as a stack: `publish` pushes a live version, `rollback` pops back to
//! the one before, `promote` pushes the shadow version and clears the shadow. So
//! `rollback` twice goes back two versions, never flips between two.
//!
//! Each module keeps its minisign signature and signed version (issue 23; NULL: published
//! with `--allow-unsigned`). The fleet's replay floor is the highest signed version any
//! live publication (`publish`, `promote`) ever made live; a host accepts a live module
//! below it only when the log reached it by `rollback` ([`FleetState::rollback`]).

use anyhow::{Context as _, bail};
use sha2::Digest as _;

use super::{Conn, Store};
use crate::vals;

pub mod signers;

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
    /// The replay floor: the highest signed version ever published live (0: none).
    pub floor: u64,
    /// The live version was reached by a `rollback` (it may be below the floor).
    pub rollback: bool,
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

/// A stored version's reference (its SHA-256).
pub fn module_ref(conn: &mut Conn, version: i64) -> anyhow::Result<ModuleRef> {
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
    let (mut floor, mut rollback) = (0u64, false);
    for r in conn.query(
        "SELECT p.seq, p.role, p.version, p.action, m.signed_version \
         FROM policy_publications p LEFT JOIN policy_modules m ON m.version = p.version \
         ORDER BY p.seq",
        &[],
    )? {
        seq = r.int(0)?;
        match (r.text(1)?.as_str(), r.text(3)?.as_str(), r.opt_int(2)?) {
            ("live", "publish" | "promote", Some(v)) => {
                live.push(v);
                if r.text(3)? == "promote" {
                    shadow = None;
                }
                let signed = r.opt_int(4)?.and_then(|v| u64::try_from(v).ok());
                floor = floor.max(signed.unwrap_or(0));
                rollback = false;
            }
            ("live", "rollback", _) => {
                live.pop();
                rollback = true;
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
        floor,
        rollback,
    })
}

/// A module's stored signature (None: published with `--allow-unsigned`).
pub fn signature(conn: &mut Conn, m: &ModuleRef) -> anyhow::Result<Option<String>> {
    conn.query_opt(
        "SELECT signature FROM policy_modules WHERE version = $1",
        &vals![m.version],
    )?
    .with_context(|| format!("module version {} is missing", m.version))?
    .opt_text(0)
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
    record_accepting(conn, role, version, action, (by, now), None)
}

/// [`record`] with the SHA-256 of the gate report the publisher accepted.
fn record_accepting(
    conn: &mut Conn,
    role: &str,
    version: Option<i64>,
    action: &str,
    (by, now): (&str, i64),
    report: Option<&str>,
) -> anyhow::Result<()> {
    conn.execute(
        "INSERT INTO policy_publications (role, version, action, published_by, published_at, \
         accepted_report_sha256) VALUES ($1, $2, $3, $4, $5, $6)",
        &vals![role, version, action, by, now, report],
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

/// A module to publish, as the caller checked it.
#[derive(Clone, Copy, Debug)]
pub struct Publication<'a> {
    /// The module's bytes.
    pub module: &'a [u8],
    /// Its minisign signature and the version its statement carries (None: accepted
    /// unsigned, `--allow-unsigned`).
    pub signed: Option<(&'a str, u64)>,
    /// The SHA-256 of the gate report the publisher accepted (`--accept-differences`).
    pub accepted_report_sha256: Option<&'a str>,
    /// Live or shadow.
    pub role: Role,
}

/// Store a module (once per SHA-256; a new signature replaces the stored one) and
/// publish it. The caller has checked it (the gate, the signature).
pub fn publish(
    store: &mut Store,
    p: &Publication<'_>,
    by: &str,
    now: i64,
) -> anyhow::Result<ModuleRef> {
    let sha256 = hex::encode(sha2::Sha256::digest(p.module));
    let (signature, signed_version) = match p.signed {
        Some((sig, v)) => (
            Some(sig),
            Some(i64::try_from(v).context("version too large")?),
        ),
        None => (None, None),
    };
    let report = p.accepted_report_sha256;
    let mut tx = store.write()?;
    let find = |tx: &mut Conn| -> anyhow::Result<Option<i64>> {
        tx.query_opt(
            "SELECT version FROM policy_modules WHERE sha256 = $1",
            &vals![sha256.as_str()],
        )?
        .map(|r| r.int(0))
        .transpose()
    };
    let version = match find(&mut tx)? {
        Some(v) => {
            if signature.is_some() {
                tx.execute(
                    "UPDATE policy_modules SET signature = $1, signed_version = $2 \
                     WHERE version = $3",
                    &vals![signature, signed_version, v],
                )?;
            }
            if report.is_some() {
                tx.execute(
                    "UPDATE policy_modules SET accepted_report_sha256 = $1 WHERE version = $2",
                    &vals![report, v],
                )?;
            }
            v
        }
        None => {
            tx.execute(
                "INSERT INTO policy_modules (sha256, bytes, published_by, published_at, \
                 signature, signed_version, accepted_report_sha256) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &vals![
                    sha256.as_str(),
                    p.module,
                    by,
                    now,
                    signature,
                    signed_version,
                    report
                ],
            )?;
            find(&mut tx)?.context("the module vanished")?
        }
    };
    let role = match p.role {
        Role::Live => "live",
        Role::Shadow => "shadow",
    };
    record_accepting(&mut tx, role, Some(version), "publish", (by, now), report)?;
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
