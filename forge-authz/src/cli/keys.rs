//! The policy's configuration in the store (issue 19 item 3): `keys add|retire|sign-with|
//! list|history` and `options show|set`. Every change is checked with the policy before
//! it is written — an authorizer is created with the resulting configuration by this
//! command's module and by the fleet's live module, and gives the known answers — so a
//! configuration the policy refuses never lands in the store. Each change is a new
//! configuration version that every `serve` over the store applies at its next poll.
//! No command prints a key's secret.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Subcommand;

use super::table::{print_table, utc};
use super::{DbArgs, JsonArgs, PolicyArgs, parse_lifetime};
use crate::policy::PolicyModule;
use crate::store::config::{self, Change, OPTION_NAMES, OptionSetting};
use crate::store::{Store, modules};
use crate::wit;

/// `--actor`: who makes a configuration change.
#[derive(Debug, Clone, clap::Args)]
pub struct ActorArgs {
    /// Who makes the change (recorded in the configuration's history; default: `$USER`,
    /// else `operator`). `--by` too, as `publish` spells it.
    #[arg(
        long,
        alias = "by",
        env = "USER",
        default_value = "operator",
        global = true
    )]
    pub actor: String,
}

/// A command on the store's configuration: the store, who acts, the output format, and
/// the operation `A` (`keys ...`, `options ...`).
#[derive(Debug, clap::Args)]
pub struct ConfigArgs<A: Subcommand> {
    /// The store.
    #[command(flatten)]
    pub db: DbArgs,
    /// Who acts.
    #[command(flatten)]
    pub actor: ActorArgs,
    /// Output format.
    #[command(flatten)]
    pub out: JsonArgs,
    /// The operation.
    #[command(subcommand)]
    pub action: A,
}

/// `forge-authz keys ...`
pub type KeysArgs = ConfigArgs<KeysAction>;

/// `forge-authz options ...`
pub type OptionsArgs = ConfigArgs<OptionsAction>;

/// `forge-authz keys ...`
#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Add a key with a fresh 32-byte random secret (never printed), or the secret in
    /// `--secret-file`.
    Add {
        /// Its id (1 to 16 of `a`-`z`, `0`-`9`; default: the first free `k<N>`).
        #[arg(long)]
        id: Option<String>,
        /// Sign new tokens with it from now on.
        #[arg(long)]
        sign_with: bool,
        /// Take the secret from this file (hex, at least 32 bytes; the file must not be
        /// readable by every user).
        #[arg(long)]
        secret_file: Option<PathBuf>,
    },
    /// Retire a key: tokens it signed stop verifying on every host. Never the signing
    /// key, never the last key.
    Retire {
        /// The key's id.
        id: String,
    },
    /// Sign new tokens with this key.
    SignWith {
        /// The key's id.
        id: String,
    },
    /// Every key, retired ones too: which signs, added and retired when and by whom.
    List,
    /// The configuration's changes (keys and options), newest first.
    History {
        /// At most this many changes.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

/// `forge-authz options ...`
#[derive(Debug, Subcommand)]
pub enum OptionsAction {
    /// The policy options in force.
    Show,
    /// Set an option: `binding-fallback-to-anonymous` and `require-expiry` take `true` or
    /// `false`; `max-lifetime` and `min-lifetime` a lifetime (`30d`, `12h`, `45m`, `90s`).
    Set {
        /// The option.
        name: String,
        /// Its new value.
        value: String,
    },
}

/// `forge-authz keys ...`
pub fn keys(p: &PolicyArgs, a: KeysArgs) -> anyhow::Result<u8> {
    let mut store = super::open::open_store(&a.db.db)?;
    let (actor, json) = (a.actor.actor.as_str(), a.out.json);
    match a.action {
        KeysAction::Add {
            id,
            sign_with,
            secret_file,
        } => {
            let secret = match &secret_file {
                Some(path) => read_secret_file(path)?,
                None => fresh_secret()?,
            };
            let change = Change::AddKey {
                id,
                secret,
                sign_with,
            };
            apply(p, &mut store, &change, actor, json)
        }
        KeysAction::Retire { id } => apply(p, &mut store, &Change::Retire(id), actor, json),
        KeysAction::SignWith { id } => apply(p, &mut store, &Change::SignWith(id), actor, json),
        KeysAction::List => list(&mut store, json),
        KeysAction::History { limit } => history(&mut store, limit, json),
    }
}

/// `forge-authz options ...`
pub fn options(p: &PolicyArgs, a: OptionsArgs) -> anyhow::Result<u8> {
    let mut store = super::open::open_store(&a.db.db)?;
    match a.action {
        OptionsAction::Show => show_options(&mut store, a.out.json),
        OptionsAction::Set { name, value } => {
            let change = Change::SetOption(option_setting(&name, &value)?);
            apply(p, &mut store, &change, &a.actor.actor, a.out.json)
        }
    }
}

/// The modules a configuration must satisfy: this command's (`--policy`, default the
/// embedded one) and the fleet's live version, if one is published.
pub(super) fn policy_modules(
    p: &PolicyArgs,
    store: &mut Store,
) -> anyhow::Result<Vec<(String, PolicyModule)>> {
    let mut out = vec![local_module(p)?];
    if let Some(m) = modules::state(store.conn())?.live {
        let bytes = modules::bytes(store.conn(), &m)?;
        let name = format!("fleet:v{}", m.version);
        let module = PolicyModule::from_bytes(&bytes, p.limits(), name.clone().into())
            .map_err(|e| anyhow::anyhow!("loading the fleet's module {name}: {e:#}"))?;
        out.push((name, module));
    }
    Ok(out)
}

/// This command's module (`--policy`, default the embedded one), named.
pub(super) fn local_module(p: &PolicyArgs) -> anyhow::Result<(String, PolicyModule)> {
    let module = PolicyModule::load(&p.path(), p.limits())
        .map_err(|e| anyhow::anyhow!("loading the policy module: {e:#}"))?;
    Ok((p.path().display().to_string(), module))
}

/// `Ok` when every module accepts `config` (see [`crate::live::check_module`]).
pub(super) fn check_config(
    modules: &[(String, PolicyModule)],
    config: &wit::Config,
) -> Result<(), String> {
    for (name, module) in modules {
        crate::live::check_module(module, config).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}

/// The store's clock (a fixed one in tests), else the system's.
fn clock(store: &mut Store) -> i64 {
    store
        .settings()
        .map_or_else(|_| crate::world::system_now(), |s| s.now())
}

/// Apply `change` as `actor`, checked with [`policy_modules`]; report what it did.
pub(super) fn apply(
    p: &PolicyArgs,
    store: &mut Store,
    change: &Change,
    actor: &str,
    json: bool,
) -> anyhow::Result<u8> {
    if actor.trim().is_empty() {
        bail!("`--actor` must name someone");
    }
    let modules = policy_modules(p, store)?;
    let now = clock(store);
    let done = config::apply(store, change, actor, now, &|c| check_config(&modules, c))?;
    if json {
        outln!(
            "{}",
            serde_json::json!({"version": done.version, "key": done.key, "changed": done.changed})
        );
    } else if done.changed {
        let what = match change {
            Change::AddKey { sign_with, .. } => format!(
                "added key `{}`{}",
                done.key.as_deref().unwrap_or_default(),
                if *sign_with {
                    ", which signs new tokens"
                } else {
                    ""
                }
            ),
            Change::Retire(id) => format!("retired key `{id}`"),
            Change::SignWith(id) => format!("key `{id}` signs new tokens"),
            Change::SetOption(s) => format!("option `{}` set", s.name()),
            Change::SetSite(Some(_)) => "site data set".into(),
            Change::SetSite(None) => "site data cleared".into(),
        };
        eprintln!(
            "{what}: configuration version {}; hosts apply it at their next poll (`forge-authz fleet`)",
            done.version
        );
    } else {
        eprintln!(
            "nothing to change: configuration version {} already says so",
            done.version
        );
    }
    Ok(0)
}

fn fresh_secret() -> anyhow::Result<Vec<u8>> {
    let mut secret = vec![0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(secret)
}

/// A secret from a file: hex (surrounding whitespace ignored), in a regular file that not
/// every user may read. Errors never quote the file.
fn read_secret_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    use std::os::unix::fs::MetadataExt as _;
    let shown = path.display();
    let meta = std::fs::metadata(path).with_context(|| format!("secret file {shown}"))?;
    if !meta.is_file() {
        bail!("secret file {shown} is not a regular file");
    }
    if meta.mode() & 0o004 != 0 {
        bail!(
            "secret file {shown} is readable by every user (mode {:o}): `chmod 600` it first",
            meta.mode() & 0o777
        );
    }
    if meta.len() > 4096 {
        bail!("secret file {shown} is too large for a key (hex, at most 4096 bytes)");
    }
    let text = std::fs::read(path).with_context(|| format!("reading secret file {shown}"))?;
    let secret = std::str::from_utf8(&text)
        .ok()
        .and_then(|t| hex::decode(t.trim()).ok())
        .filter(|s| !s.is_empty())
        .with_context(|| {
            format!("secret file {shown} must hold the secret as hex (`openssl rand -hex 32`)")
        })?;
    Ok(secret)
}

fn option_setting(name: &str, value: &str) -> anyhow::Result<OptionSetting> {
    let flag = || match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(anyhow::anyhow!(
            "option `{name}` takes `true` or `false`, not `{value}`"
        )),
    };
    let lifetime = || match parse_lifetime(value)? {
        Some(s) => Ok(s),
        None => bail!("option `{name}` takes a finite lifetime (`30d`, `12h`, `45m`, `90s`)"),
    };
    Ok(match name {
        "binding-fallback-to-anonymous" => OptionSetting::BindingFallbackToAnonymous(flag()?),
        "require-expiry" => OptionSetting::RequireExpiry(flag()?),
        "max-lifetime" => OptionSetting::MaxLifetime(lifetime()?),
        "min-lifetime" => OptionSetting::MinLifetime(lifetime()?),
        _ => bail!(
            "unknown option `{name}` (one of: {})",
            OPTION_NAMES.join(", ")
        ),
    })
}

fn list(store: &mut Store, json: bool) -> anyhow::Result<u8> {
    let version = config::head(store.conn())?;
    let keys = config::keys(store.conn())?;
    if json {
        super::json::print(serde_json::json!({"version": version, "keys": keys}));
        return Ok(0);
    }
    let when = |t: Option<i64>| t.map_or_else(|| "-".to_string(), utc);
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            vec![
                k.id.clone(),
                if k.signing { "yes" } else { "" }.into(),
                when(k.added_at),
                k.added_by.clone().unwrap_or_else(|| "-".into()),
                when(k.retired_at),
                k.retired_by.clone().unwrap_or_default(),
            ]
        })
        .collect();
    outln!("configuration version {version}");
    print_table(&["KEY", "SIGNS", "ADDED", "BY", "RETIRED", "BY"], &rows);
    Ok(0)
}

fn history(store: &mut Store, limit: i64, json: bool) -> anyhow::Result<u8> {
    print_history(store, limit, json, config::history)
}

/// Print the configuration changes `read` returns (at most `limit`), newest first.
pub(super) fn print_history(
    store: &mut Store,
    limit: i64,
    json: bool,
    read: fn(&mut crate::store::Conn, i64) -> anyhow::Result<Vec<config::ConfigEvent>>,
) -> anyhow::Result<u8> {
    if limit < 1 {
        bail!("`--limit` must be at least 1");
    }
    let events = read(store.conn(), limit)?;
    if json {
        super::json::print(serde_json::json!({"events": events}));
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                e.version.to_string(),
                utc(e.at),
                e.action.clone(),
                e.actor.clone(),
                e.key.clone().unwrap_or_default(),
                e.detail.to_string(),
            ]
        })
        .collect();
    print_table(
        &["VERSION", "AT", "ACTION", "ACTOR", "KEY", "DETAIL"],
        &rows,
    );
    Ok(0)
}

/// Seconds as the largest unit that divides them (`30d`, `90s`).
fn lifetime_text(secs: i64) -> String {
    for (unit, n) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if secs % n == 0 {
            return format!("{}{unit}", secs / n);
        }
    }
    format!("{secs}s")
}

fn show_options(store: &mut Store, json: bool) -> anyhow::Result<u8> {
    let stored = config::read(store.conn())?;
    let options = stored.options().map_err(anyhow::Error::msg)?;
    if json {
        outln!(
            "{}",
            serde_json::json!({"version": stored.version, "options": options})
        );
        return Ok(0);
    }
    outln!("configuration version {}", stored.version);
    print_table(
        &["OPTION", "VALUE"],
        &[
            vec![
                "binding-fallback-to-anonymous".into(),
                options.binding_fallback_to_anonymous.to_string(),
            ],
            vec!["require-expiry".into(), options.require_expiry.to_string()],
            vec!["max-lifetime".into(), lifetime_text(options.max_lifetime)],
            vec!["min-lifetime".into(), lifetime_text(options.min_lifetime)],
        ],
    );
    Ok(0)
}
