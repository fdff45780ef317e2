//! One module version across the fleet: `publish` stores a module in the database and
//! makes it live (or shadow) on every `serve` over that database; `fleet` shows what is
//! published and what each host runs.

use std::path::PathBuf;

use anyhow::{Context as _, bail};

use super::table::{print_table, utc};
use super::{DbArgs, JsonArgs, PolicyArgs};
use crate::store::modules::{self, Role};

/// `forge-authz publish`
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["module", "rollback", "promote", "clear_shadow"])))]
pub struct PublishArgs {
    /// The store every host serves from.
    #[command(flatten)]
    pub db: DbArgs,
    /// The module to publish (checked here first, exactly as every host will).
    pub module: Option<PathBuf>,
    /// Publish it as the fleet's shadow module (compared, never enforced).
    #[arg(long, requires = "module")]
    pub shadow: bool,
    /// Return to the live version published before the current one.
    #[arg(long)]
    pub rollback: bool,
    /// Make the shadow version live.
    #[arg(long)]
    pub promote: bool,
    /// Stop the fleet's shadow module.
    #[arg(long)]
    pub clear_shadow: bool,
    /// Who publishes (recorded).
    #[arg(long, env = "USER", default_value = "operator")]
    pub by: String,
    /// Machine-readable output.
    #[command(flatten)]
    pub out: JsonArgs,
}

/// `forge-authz publish`
pub fn publish(p: &PolicyArgs, a: PublishArgs) -> anyhow::Result<u8> {
    let mut store = super::open::open_store(&a.db.db)?;
    let now = crate::world::system_now();
    let done = if a.rollback {
        match modules::rollback(&mut store, &a.by, now)? {
            Some(m) => format!("rolled back: live is version {} ({})", m.version, m.sha256),
            None => "rolled back: no fleet version is live; hosts keep their own modules".into(),
        }
    } else if a.promote {
        let m = modules::promote(&mut store, &a.by, now)?;
        format!("promoted version {} ({}) to live", m.version, m.sha256)
    } else if a.clear_shadow {
        modules::clear_shadow(&mut store, &a.by, now)?;
        "the fleet's shadow module is stopped".into()
    } else {
        let Some(path) = &a.module else {
            bail!("name a module, or --rollback, --promote or --clear-shadow");
        };
        let bytes = crate::policy::module_bytes(path)?;
        let config = store.settings()?.config;
        // The same checks a host applies before it swaps: a module that fails here would
        // be refused by every host.
        crate::live::check_bytes(&bytes, path.clone(), &config, p.limits())
            .map_err(|e| anyhow::anyhow!("not published: {e}"))?;
        let role = if a.shadow { Role::Shadow } else { Role::Live };
        let m = modules::publish(&mut store, &bytes, role, &a.by, now)?;
        format!(
            "published version {} ({}) as {}",
            m.version,
            m.sha256,
            if a.shadow { "shadow" } else { "live" }
        )
    };
    let state = modules::state(store.conn())?;
    if a.out.json {
        outln!("{}", serde_json::to_string(&state)?);
    } else {
        eprintln!("{done}; hosts pick it up at their next poll");
    }
    Ok(0)
}

/// `forge-authz fleet`
#[derive(Debug, clap::Args)]
pub struct FleetArgs {
    /// The store the hosts serve from.
    #[command(flatten)]
    pub db: DbArgs,
    /// Machine-readable output.
    #[command(flatten)]
    pub out: JsonArgs,
}

/// `forge-authz fleet`: what is published, and what each host reports it runs.
pub fn fleet(a: FleetArgs) -> anyhow::Result<u8> {
    let mut store = super::open::open_store(&a.db.db)?;
    let state = modules::state(store.conn())?;
    let hosts = modules::hosts(store.conn()).context("reading host reports")?;
    let config = crate::store::config::history(store.conn(), 1)?;
    let last = config.first();
    if a.out.json {
        outln!(
            "{}",
            serde_json::json!({
                "published": state,
                "config": {"version": last.map_or(0, |e| e.version), "last_change": last},
                "hosts": hosts,
            })
        );
        return Ok(0);
    }
    let show = |m: &Option<modules::ModuleRef>| match m {
        Some(m) => format!("version {} ({})", m.version, m.sha256),
        None => "none".into(),
    };
    outln!("live:   {}", show(&state.live));
    outln!("shadow: {}", show(&state.shadow));
    match last {
        Some(e) => outln!(
            "config: version {} ({} by {} at {})",
            e.version,
            e.action,
            e.actor,
            utc(e.at)
        ),
        None => outln!("config: version 0"),
    }
    let rows: Vec<Vec<String>> = hosts
        .iter()
        .map(|h| {
            vec![
                h.host.clone(),
                h.live_version.map_or("local".into(), |v| v.to_string()),
                h.live_sha256.clone().unwrap_or_default(),
                h.shadow_version.map_or("-".into(), |v| v.to_string()),
                h.config_version.map_or("-".into(), |v| v.to_string()),
                h.state.clone(),
                utc(h.seen_at),
                h.detail.clone().unwrap_or_default(),
            ]
        })
        .collect();
    print_table(
        &[
            "HOST", "LIVE", "SHA256", "SHADOW", "CONFIG", "STATE", "SEEN", "DETAIL",
        ],
        &rows,
    );
    Ok(0)
}
