//! The policy's configuration — signing keys, the signing key, options — versioned like
//! the fleet's module (issue 19 item 3).
//!
//! Every change (a key added or retired, the signing key switched, an option set, a world
//! imported) is one write transaction that changes the rows and appends one row to
//! `config_history` per step (a change to the store's records goes to `record_history`:
//! see [`record`]): who, when, what — never a secret. The last row's number is
//! the configuration's **version**: every `serve` polls it beside the module publication
//! log (and, over PostgreSQL, wakes on the same `NOTIFY`), checks a new version against the
//! module it runs and applies it, or keeps the old one and reports the refusal.
//!
//! A retired key keeps its row (who retired it, when) and its id is never used again; only
//! keys not retired verify tokens. The store does not judge a configuration: what the
//! policy accepts is the policy's (`config-error`); the caller passes that check in.

use anyhow::{Context as _, bail};
use serde::Serialize;

use super::{Conn, Settings, Store, json, parse};
use crate::exit::{EXIT_NOT_FOUND, EXIT_REFUSED, fail};
use crate::store::sql::Value;
use crate::vals;
use crate::wit;
use crate::wit::core as convert;
use crate::world::OptionsDef;

mod options;
mod site;
pub use options::{OPTION_NAMES, OptionSetting, check_options};
pub use site::{MAX_SITE_BYTES, SITE_ACTIONS, check_site, site_history, site_sha256};

/// One signing key as listed (never its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyRow {
    /// Key id (written into every token it signs).
    pub id: String,
    /// Whether it signs new tokens.
    pub signing: bool,
    /// When it was added (Unix seconds; None: before version tracking).
    pub added_at: Option<i64>,
    /// Who added it.
    pub added_by: Option<String>,
    /// When it was retired (None: it verifies tokens).
    pub retired_at: Option<i64>,
    /// Who retired it.
    pub retired_by: Option<String>,
}

/// One configuration change as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfigEvent {
    /// The configuration version this change made.
    pub version: i64,
    /// `import`, `migrate`, `key-add`, `key-retire`, `sign-with`, `option-set`,
    /// `ip-allow-set`, `site-set`, `site-clear`, ...
    pub action: String,
    /// Who made it.
    pub actor: String,
    /// When (Unix seconds).
    pub at: i64,
    /// The key it concerns.
    pub key: Option<String>,
    /// What changed (key ids, option values; never a secret).
    pub detail: serde_json::Value,
}

/// The configuration's version: the last change's number (0: none recorded). What hosts
/// poll, one indexed read.
pub fn head(conn: &mut Conn) -> anyhow::Result<i64> {
    Ok(conn
        .query_opt("SELECT max(version) FROM config_history", &[])?
        .map(|r| r.opt_int(0))
        .transpose()?
        .flatten()
        .unwrap_or(0))
}

/// The configuration as stored, read from one snapshot and not yet interpreted.
pub struct Stored {
    /// Its version.
    pub version: i64,
    keys: Vec<(String, String)>,
    signing_key: Option<String>,
    options: Option<String>,
    now: Option<String>,
    site: Option<String>,
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("Stored")
            .field("version", &self.version)
            .field("keys", &ids)
            .field("signing_key", &self.signing_key)
            .finish_non_exhaustive()
    }
}

fn meta(conn: &mut Conn, key: &str) -> anyhow::Result<Option<String>> {
    conn.query_opt("SELECT value FROM meta WHERE key = $1", &vals![key])?
        .map(|r| r.text(0))
        .transpose()
}

/// Read the configuration and its version in one consistent snapshot.
pub fn read(conn: &mut Conn) -> anyhow::Result<Stored> {
    let mut tx = conn.snapshot()?;
    read_in(&mut tx)
}

/// Read the configuration on a connection already in a transaction.
fn read_in(conn: &mut Conn) -> anyhow::Result<Stored> {
    let version = head(conn)?;
    let keys = conn
        .query(
            "SELECT id, secret FROM keys WHERE retired_at IS NULL ORDER BY ordinal",
            &[],
        )?
        .iter()
        .map(|r| Ok((r.text(0)?, r.text(1)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Stored {
        version,
        keys,
        signing_key: meta(conn, "signing_key")?,
        options: meta(conn, "options")?,
        now: meta(conn, "now")?,
        site: meta(conn, "site")?,
    })
}

impl Stored {
    /// The site data, verbatim (None: none set).
    pub fn site(&self) -> Option<&str> {
        self.site.as_deref()
    }

    /// The options (defaults when none are stored), checked by [`check_options`].
    pub fn options(&self) -> Result<OptionsDef, String> {
        let options: OptionsDef = match &self.options {
            Some(s) => parse(s).map_err(|e| format!("options: {e:#}"))?,
            None => OptionsDef::default(),
        };
        check_options(&options).map_err(|e| format!("options: {e}"))?;
        Ok(options)
    }

    /// The configuration as the policy takes it. `Err`: the store holds something no
    /// policy could be given (not initialised, a secret that is not hex, options that do
    /// not parse or make no sense) — the caller keeps what it has, or fails.
    pub fn settings(&self) -> Result<Settings, String> {
        let signing_key = self
            .signing_key
            .clone()
            .ok_or("the store is not initialised: run `forge-authz init-db`")?;
        let options = self.options()?;
        let mut keys = Vec::with_capacity(self.keys.len());
        for (id, secret) in &self.keys {
            let secret =
                hex::decode(secret).map_err(|_| format!("key `{id}`: secret is not hex"))?;
            keys.push(wit::SigningKey {
                id: id.clone(),
                secret,
            });
        }
        let now = match &self.now {
            Some(s) => Some(s.parse().map_err(|_| "the store's clock is not a number")?),
            None => None,
        };
        Ok(Settings {
            config: wit::Config {
                keys,
                signing_key_id: signing_key,
                options: convert::options_out(options.to_core()),
                site: self.site.clone().unwrap_or_default(),
            },
            now,
            version: self.version,
        })
    }
}

/// Every key, retired ones too, oldest first (never a secret).
pub fn keys(conn: &mut Conn) -> anyhow::Result<Vec<KeyRow>> {
    let signing = meta(conn, "signing_key")?;
    conn.query(
        "SELECT id, added_at, added_by, retired_at, retired_by FROM keys ORDER BY ordinal",
        &[],
    )?
    .iter()
    .map(|r| {
        let id = r.text(0)?;
        let retired_at = r.opt_int(3)?;
        Ok(KeyRow {
            signing: retired_at.is_none() && signing.as_deref() == Some(id.as_str()),
            id,
            added_at: r.opt_int(1)?,
            added_by: r.opt_text(2)?,
            retired_at,
            retired_by: r.opt_text(4)?,
        })
    })
    .collect()
}

/// The configuration's history, newest first (at most `limit` changes). Leaves out the
/// record changes a store kept here before schema 6 (copied to `record_history`): their
/// versions are gaps in this listing.
pub fn history(conn: &mut Conn, limit: i64) -> anyhow::Result<Vec<ConfigEvent>> {
    events(
        conn,
        "SELECT version, action, actor, at, key_id, detail FROM config_history c \
         WHERE NOT EXISTS (SELECT 1 FROM record_history r WHERE r.config_version = c.version) \
         ORDER BY version DESC LIMIT $1",
        &vals![limit],
    )
}

/// The history rows `sql` selects (version, action, actor, at, key_id, detail).
fn events(conn: &mut Conn, sql: &'static str, args: &[Value]) -> anyhow::Result<Vec<ConfigEvent>> {
    conn.query(sql, args)?
        .iter()
        .map(|r| {
            Ok(ConfigEvent {
                version: r.int(0)?,
                action: r.text(1)?,
                actor: r.text(2)?,
                at: r.int(3)?,
                key: r.opt_text(4)?,
                detail: parse(&r.text(5)?)?,
            })
        })
        .collect()
}

/// Append a change to the history (a new configuration version) and wake the hosts that
/// listen (PostgreSQL: delivered when the transaction commits). `detail` never holds a
/// secret. A change to the store's records (an action [`is_record_action`] knows:
/// `user-add`, `repo-change`, `ip-allow-set`, ...) is not configuration — hosts read
/// records per request — so it goes to `record_history` instead: no new version, no host
/// woken (`forge-authz history --records` lists it).
///
/// [`is_record_action`]: super::record_history::is_record_action
pub(super) fn record(
    conn: &mut Conn,
    action: &str,
    actor: &str,
    now: i64,
    key: Option<&str>,
    detail: &serde_json::Value,
) -> anyhow::Result<()> {
    if super::record_history::is_record_action(action) {
        return super::record_history::record_change(conn, action, actor, now, detail);
    }
    conn.execute(
        "INSERT INTO config_history (action, actor, at, key_id, detail) \
         VALUES ($1, $2, $3, $4, $5)",
        &vals![action, actor, now, key, json(detail)?],
    )?;
    super::modules::notify(conn)
}

/// Schema migration 4: the configuration a store already had becomes version 1.
pub(super) fn record_migration(conn: &mut Conn) -> anyhow::Result<()> {
    let ids = conn
        .query("SELECT id FROM keys ORDER BY ordinal", &[])?
        .iter()
        .map(|r| r.text(0))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if ids.is_empty() {
        return Ok(());
    }
    let signing = meta(conn, "signing_key")?;
    let detail = serde_json::json!({"keys": ids, "signing_key": signing});
    record(
        conn,
        "migrate",
        "schema-4",
        crate::world::system_now(),
        None,
        &detail,
    )
}

/// A change of the configuration.
#[derive(Clone, PartialEq, Eq)]
pub enum Change {
    /// Add a key (`id` None: the first free `k<N>`); `sign_with`: it also signs from now.
    AddKey {
        /// Its id.
        id: Option<String>,
        /// Its secret.
        secret: Vec<u8>,
        /// Whether it signs new tokens from now on.
        sign_with: bool,
    },
    /// Retire a key: tokens it signed stop verifying.
    Retire(String),
    /// Sign new tokens with this key.
    SignWith(String),
    /// Set an option.
    SetOption(OptionSetting),
    /// Set the site data (JSON text), or remove it (None).
    SetSite(Option<String>),
}

impl std::fmt::Debug for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::AddKey { id, sign_with, .. } => f
                .debug_struct("AddKey")
                .field("id", id)
                .field("sign_with", sign_with)
                .finish_non_exhaustive(),
            Change::Retire(id) => f.debug_tuple("Retire").field(id).finish(),
            Change::SignWith(id) => f.debug_tuple("SignWith").field(id).finish(),
            Change::SetOption(o) => f.debug_tuple("SetOption").field(o).finish(),
            Change::SetSite(s) => f.debug_tuple("SetSite").field(s).finish(),
        }
    }
}

/// What a change did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The configuration version after it.
    pub version: i64,
    /// The key it concerned (the id given to a new key).
    pub key: Option<String>,
    /// False: the configuration already was so; nothing was written.
    pub changed: bool,
}

/// A change resolved against the current configuration: what to write, and the
/// configuration that results.
struct Plan {
    config: wit::Config,
    options: OptionsDef,
    key: Option<String>,
    changed: bool,
}

/// Apply `change` as `actor` at `now`: one write transaction. The resulting
/// configuration is first given to `check` (the policy: an authorizer is created with it
/// and gives its known answers); a configuration it refuses is never written.
pub fn apply(
    store: &mut Store,
    change: &Change,
    actor: &str,
    now: i64,
    check: &dyn Fn(&wit::Config) -> Result<(), String>,
) -> anyhow::Result<Applied> {
    let mut tx = store.write()?;
    let current = read_in(&mut tx)?;
    let settings = current
        .settings()
        .map_err(|e| anyhow::anyhow!("the stored configuration is unusable: {e}"))?;
    let all = keys(&mut tx)?;
    let options = current.options().map_err(anyhow::Error::msg)?;
    let plan = plan(change, settings.config, options.clone(), &all)?;
    if !plan.changed {
        return Ok(Applied {
            version: current.version,
            key: plan.key,
            changed: false,
        });
    }
    check(&plan.config).map_err(|e| fail(EXIT_REFUSED, format!("refused by the policy: {e}")))?;
    write(&mut tx, change, &plan, &options, actor, now)?;
    let version = head(&mut tx)?;
    tx.commit()?;
    Ok(Applied {
        version,
        key: plan.key,
        changed: true,
    })
}

/// The configuration after `change`, or why the change makes no sense here.
fn plan(
    change: &Change,
    mut config: wit::Config,
    mut options: OptionsDef,
    all: &[KeyRow],
) -> anyhow::Result<Plan> {
    let key = match change {
        Change::AddKey {
            id,
            secret,
            sign_with,
        } => {
            let id = new_key_id(id.as_deref(), all)?;
            config.keys.push(wit::SigningKey {
                id: id.clone(),
                secret: secret.clone(),
            });
            if *sign_with {
                config.signing_key_id = id.clone();
            }
            Some(id)
        }
        Change::Retire(id) => {
            live_key(id, all)?;
            if config.signing_key_id == *id {
                return Err(fail(
                    EXIT_REFUSED,
                    format!(
                        "key `{id}` signs new tokens: switch signing to another key first \
                         (`forge-authz keys sign-with ID`)"
                    ),
                ));
            }
            config.keys.retain(|k| k.id != *id);
            if config.keys.is_empty() {
                return Err(fail(
                    EXIT_REFUSED,
                    format!(
                        "key `{id}` is the last key: add another first (`forge-authz keys add`)"
                    ),
                ));
            }
            Some(id.clone())
        }
        Change::SignWith(id) => {
            live_key(id, all)?;
            if config.signing_key_id == *id {
                return Ok(unchanged(config, options, Some(id.clone())));
            }
            config.signing_key_id = id.clone();
            Some(id.clone())
        }
        Change::SetOption(setting) => {
            let before = options.clone();
            setting.apply(&mut options);
            check_options(&options).map_err(anyhow::Error::msg)?;
            if options == before {
                return Ok(unchanged(config, options, None));
            }
            config.options = convert::options_out(options.to_core());
            None
        }
        Change::SetSite(new) => {
            if !site::plan(&mut config, new.as_deref())? {
                return Ok(unchanged(config, options, None));
            }
            None
        }
    };
    Ok(Plan {
        config,
        options,
        key,
        changed: true,
    })
}

/// The id of a new key: `wanted`, or the first free `k<N>`; never one used before.
fn new_key_id(wanted: Option<&str>, all: &[KeyRow]) -> anyhow::Result<String> {
    let find = |id: &str| all.iter().find(|k| k.id == id);
    let id = match wanted {
        Some(id) => id.to_owned(),
        None => (1..)
            .map(|n| format!("k{n}"))
            .find(|c| find(c).is_none())
            .context("no free key id")?,
    };
    if let Some(k) = find(&id) {
        let state = if k.retired_at.is_some() {
            "retired"
        } else {
            "in use"
        };
        bail!("key id `{id}` is taken ({state}): key ids are never reused");
    }
    Ok(id)
}

/// `Ok` when `id` names a key that is not retired.
fn live_key(id: &str, all: &[KeyRow]) -> anyhow::Result<()> {
    match all.iter().find(|k| k.id == id) {
        None => Err(fail(
            EXIT_NOT_FOUND,
            format!("no key `{id}`: `forge-authz keys list` shows the keys"),
        )),
        Some(k) if k.retired_at.is_some() => Err(fail(
            EXIT_REFUSED,
            format!("key `{id}` is retired: add a new key (`forge-authz keys add`)"),
        )),
        Some(_) => Ok(()),
    }
}

fn unchanged(config: wit::Config, options: OptionsDef, key: Option<String>) -> Plan {
    Plan {
        config,
        options,
        key,
        changed: false,
    }
}

/// Write a planned change and its history rows.
fn write(
    conn: &mut Conn,
    change: &Change,
    plan: &Plan,
    before: &OptionsDef,
    actor: &str,
    now: i64,
) -> anyhow::Result<()> {
    let key = plan.key.as_deref();
    match change {
        Change::AddKey {
            secret, sign_with, ..
        } => {
            conn.execute(
                "INSERT INTO keys (ordinal, id, secret, added_at, added_by) VALUES \
                 ((SELECT coalesce(max(ordinal), 0) + 1 FROM keys), $1, $2, $3, $4)",
                &vals![key, hex::encode(secret), now, actor],
            )?;
            let detail = serde_json::json!({"key": key, "signing": sign_with});
            record(conn, "key-add", actor, now, key, &detail)?;
            if *sign_with {
                sign_with_key(conn, key, actor, now)?;
            }
        }
        Change::Retire(_) => {
            conn.execute(
                "UPDATE keys SET retired_at = $1, retired_by = $2 WHERE id = $3",
                &vals![now, actor, key],
            )?;
            record(
                conn,
                "key-retire",
                actor,
                now,
                key,
                &serde_json::json!({"key": key}),
            )?;
        }
        Change::SignWith(_) => sign_with_key(conn, key, actor, now)?,
        Change::SetOption(setting) => {
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('options', $1) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &vals![json(&plan.options)?],
            )?;
            let detail = serde_json::json!({
                "option": setting.name(),
                "old": setting.value_in(before),
                "new": setting.value_in(&plan.options),
            });
            record(conn, "option-set", actor, now, None, &detail)?;
        }
        Change::SetSite(new) => site::write(conn, new.as_deref(), actor, now)?,
    }
    Ok(())
}

fn sign_with_key(conn: &mut Conn, key: Option<&str>, actor: &str, now: i64) -> anyhow::Result<()> {
    let previous = meta(conn, "signing_key")?;
    conn.execute(
        "UPDATE meta SET value = $1 WHERE key = 'signing_key'",
        &vals![key],
    )?;
    let detail = serde_json::json!({"key": key, "previous": previous});
    record(conn, "sign-with", actor, now, key, &detail)
}
