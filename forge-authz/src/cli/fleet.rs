//! One module version across the fleet: `publish` stores a module in the database and
//! makes it live (or shadow) on every `serve` over that database; `fleet` shows what is
//! published and what each host runs.
//!
//! `publish` refuses a module without a valid signature from a trusted key (issue 23):
//! the anchors in `--trusted-signers` plus the store's endorsed signers, at least the
//! fleet's floor (the highest signed version ever published live), exactly as every host
//! will check it; `--rollback` is the one way back below the floor, recorded in the log.

use std::path::PathBuf;

use anyhow::{Context as _, bail};

use super::module::TrustArgs;
use super::table::{print_table, utc};
use super::{DbArgs, JsonArgs, PolicyArgs};
use crate::store::Store;
use crate::store::modules::{self, Publication, Role, signers};
use crate::trust::{Accepted, Trust};

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
    /// The module's minisign signature (default: MODULE.minisig).
    #[arg(long, requires = "module")]
    pub signature: Option<PathBuf>,
    /// The reviewed gate report (`forge-authz check MODULE --db DB --report R`), needed
    /// when the module changes decisions: it must be the report `publish` recomputes (its
    /// SHA-256 is recorded in the publication log). An invariant failure always refuses.
    #[arg(long, requires = "module")]
    pub accept_differences: Option<PathBuf>,
    /// Whose signatures are trusted (with the store's endorsed signers).
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Who publishes (recorded).
    #[arg(long, env = "USER", default_value = "operator")]
    pub by: String,
    /// Machine-readable output.
    #[command(flatten)]
    pub out: JsonArgs,
}

/// The trust a host over `store` with these anchors has: anchors + the store's endorsed
/// signers - retired, floor = the fleet's.
fn fleet_trust(store: &mut Store, a: &TrustArgs) -> anyhow::Result<Trust> {
    let floor = modules::state(store.conn())?.floor;
    let (trust, _) = signers::trust(store.conn(), a.anchors()?)?;
    Ok(Trust {
        allow_unsigned: a.allow_unsigned,
        floor,
        ..trust
    })
}

/// Check a stored version's signature as a host will (`allow_older`: a rollback).
fn check_stored(
    store: &mut Store,
    a: &TrustArgs,
    m: &modules::ModuleRef,
    allow_older: bool,
) -> anyhow::Result<()> {
    let trust = fleet_trust(store, a)?;
    let bytes = modules::bytes(store.conn(), m)?;
    let sig = modules::signature(store.conn(), m)?;
    trust
        .verify(&bytes, sig.as_deref(), allow_older)
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("version {}: {e}", m.version))
}

/// `forge-authz publish`
pub fn publish(p: &PolicyArgs, a: PublishArgs) -> anyhow::Result<u8> {
    let mut store = super::open::open_store(&a.db.db)?;
    let now = crate::world::system_now();
    let done = if a.rollback {
        let back = modules::state(store.conn())?.history.last().copied();
        if let Some(version) = back {
            let m = modules::module_ref(store.conn(), version)?;
            check_stored(&mut store, &a.trust, &m, true)
                .map_err(|e| anyhow::anyhow!("not rolled back: {e}"))?;
        }
        match modules::rollback(&mut store, &a.by, now)? {
            Some(m) => format!("rolled back: live is version {} ({})", m.version, m.sha256),
            None => "rolled back: no fleet version is live; hosts keep their own modules".into(),
        }
    } else if a.promote {
        if let Some(m) = modules::state(store.conn())?.shadow {
            check_stored(&mut store, &a.trust, &m, false)
                .map_err(|e| anyhow::anyhow!("not promoted: {e}"))?;
        }
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
        let sig_file = super::module::signature_file(path, a.signature.as_deref());
        let signature = crate::trust::read_signature(&sig_file).map_err(anyhow::Error::msg)?;
        // The same checks a host applies before it swaps, trust first (untrusted bytes are
        // never compiled): a module that fails here would be refused by every host.
        let accepted = fleet_trust(&mut store, &a.trust)?
            .verify(&bytes, signature.as_deref(), false)
            .map_err(|e| anyhow::anyhow!("not published: {e}"))?;
        let config = store.settings()?.config;
        crate::live::check_bytes(&bytes, path.clone(), &config, p.limits())
            .map_err(|e| anyhow::anyhow!("not published: {e}"))?;
        // The publication gate (`forge-authz check`) against the fleet's live module.
        let accepted_report = super::check::publication_gate(
            &mut store,
            &bytes,
            path,
            p.limits(),
            a.accept_differences.as_deref(),
        )?;
        let role = if a.shadow { Role::Shadow } else { Role::Live };
        let signed = match (&accepted, signature.as_deref()) {
            (Accepted::Signed { statement, .. }, Some(sig)) => Some((sig, statement.version)),
            _ => {
                crate::log::event(
                    "module-unsigned",
                    &[("module", &path.display().to_string())],
                );
                None
            }
        };
        let publication = Publication {
            module: &bytes,
            signed,
            accepted_report_sha256: accepted_report.as_deref(),
            role,
        };
        let m = modules::publish(&mut store, &publication, &a.by, now)?;
        format!(
            "published version {} ({}) as {}",
            m.version,
            m.sha256,
            if a.shadow { "shadow" } else { "live" }
        )
    };
    let state = modules::state(store.conn())?;
    if a.out.json {
        super::json::print(serde_json::to_value(&state)?);
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
    // The version hosts run is the history's last number (`head`); the last change listed
    // may be older (a record change kept there before schema 6 is not listed).
    let version = crate::store::config::head(store.conn())?;
    let config = crate::store::config::history(store.conn(), 1)?;
    let last = config.first();
    if a.out.json {
        super::json::print(serde_json::json!({
            "published": state,
            "config": {"version": version, "last_change": last},
            "hosts": hosts,
        }));
        return Ok(0);
    }
    let show = |m: &Option<modules::ModuleRef>| match m {
        Some(m) => format!("version {} ({})", m.version, m.sha256),
        None => "none".into(),
    };
    outln!("live:   {}", show(&state.live));
    outln!("shadow: {}", show(&state.shadow));
    // Module trust (issue 23): no host takes a live module signed below the floor, unless
    // the log went back by `publish --rollback`.
    outln!(
        "floor:  signed version {}{}",
        state.floor,
        if state.rollback {
            " (live reached by rollback)"
        } else {
            ""
        }
    );
    match last {
        Some(e) => outln!(
            "config: version {} ({} by {} at {})",
            version,
            e.action,
            e.actor,
            utc(e.at)
        ),
        None => outln!("config: version {version}"),
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
