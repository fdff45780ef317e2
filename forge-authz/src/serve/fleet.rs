//! One module version and one configuration across the fleet (`store::modules`,
//! `store::config`): a thread polls the publication log's head and the configuration's
//! version every `interval` (over PostgreSQL it also wakes on their `NOTIFY`). When the
//! log moves, it fetches the live and shadow modules that changed, checks each exactly as
//! `reload` does (off the request path) and swaps; when the configuration's version moves,
//! it reads the new keys and options, checks them with the running module (an authorizer
//! must be created with them and give the known answers) and publishes the module with
//! them — a new generation, so every worker rebuilds its instance. It writes this host's
//! row in `policy_hosts` (also as a heartbeat every poll).
//!
//! A module must first be trusted (issue 23): its stored minisign signature verified with
//! this host's anchors (`--trusted-signers`) plus the store's signers whose endorsements
//! verify here, minus retired ids (re-read whenever the log or the configuration version
//! moves), held to the fleet's floor (the highest signed version ever published live)
//! unless the log went back by a recorded rollback.
//!
//! A module or a configuration this host refuses keeps the old one serving, counts as a
//! refused swap, and is reported with its reason, here, in `status` and in the database.
//! A store that cannot be read changes nothing: the host keeps what it runs.

use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use super::enforce::{FleetView, Shared};
use crate::live::{Candidate, Refused, Replay};
use crate::log;
use crate::store::Store;
use crate::store::config;
use crate::store::modules::{self, FleetState, HostRow};

/// The poller: [`sync`] once (before serving), then `run` in a thread.
pub struct Watcher {
    shared: Arc<Shared>,
    interval: Duration,
}

impl Watcher {
    /// A watcher for `shared`'s policy over its store; the host started with
    /// configuration version `config_version`.
    pub fn new(
        shared: Arc<Shared>,
        host: String,
        interval: Duration,
        config_version: i64,
    ) -> Watcher {
        let mut view = view(&shared);
        view.host = host;
        view.config_version = config_version;
        view.config_tried = config_version;
        set_view(&shared, view);
        Watcher { shared, interval }
    }

    /// Poll forever.
    pub fn run(self) {
        let mut listener: Option<modules::Listener> = None;
        loop {
            // PostgreSQL: wake on a publication's notification, at the latest after the
            // poll interval; SQLite (or a listener that cannot connect): poll.
            if listener.is_none() {
                listener = modules::Listener::open(&self.shared.db).ok().flatten();
            }
            match listener.as_mut().map(|l| l.wait(self.interval)) {
                Some(Ok(_)) => {}
                Some(Err(_)) => {
                    listener = None;
                    std::thread::sleep(self.interval);
                }
                None => std::thread::sleep(self.interval),
            }
            self.sync();
        }
    }

    /// One poll (see [`sync`]).
    pub fn sync(&self) {
        sync(&self.shared);
    }
}

fn view(shared: &Shared) -> FleetView {
    match shared.fleet.lock() {
        Ok(v) => v.clone(),
        Err(p) => p.into_inner().clone(),
    }
}

fn set_view(shared: &Shared, view: FleetView) {
    match shared.fleet.lock() {
        Ok(mut v) => *v = view,
        Err(p) => *p.into_inner() = view,
    }
}

fn store_slot(shared: &Shared) -> MutexGuard<'_, Option<Store>> {
    shared
        .fleet_store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One poll: apply what changed (module versions, then the configuration), report.
/// Errors are kept for `status` and the log; what serves keeps serving.
pub fn sync(shared: &Shared) {
    poll(shared, true);
}

/// Catch up with the store's configuration only (no module, no report): what an admin
/// `reload` does first, so a module is checked and published with the current keys and
/// options even between two polls.
pub fn sync_config(shared: &Shared) {
    poll(shared, false);
}

fn poll(shared: &Shared, everything: bool) {
    // One poll at a time: the watcher thread and an admin reload share the connection.
    let mut slot = store_slot(shared);
    let mut view = view(shared);
    match try_sync(shared, &mut slot, &mut view, everything) {
        Ok(()) => view.error = None,
        Err(e) => {
            let text = format!("{e:#}");
            if view.error.as_deref() != Some(text.as_str()) {
                log::event("fleet-error", &[("cause", &text)]);
            }
            view.error = Some(text);
            *slot = None;
        }
    }
    set_view(shared, view);
}

fn try_sync(
    shared: &Shared,
    slot: &mut Option<Store>,
    view: &mut FleetView,
    everything: bool,
) -> anyhow::Result<()> {
    if slot.is_none() {
        *slot = Some(Store::open_existing(&shared.db)?);
    }
    let Some(store) = slot.as_mut() else {
        anyhow::bail!("no store connection");
    };
    let mut module_swapped = false;
    let config_head = config::head(store.conn())?;
    // A new signer (or a retired one) is a new configuration version: the trust is read
    // again, and a module refused before is tried again with it.
    let config_moved = config_head != view.config_tried;
    let head = if everything {
        modules::head(store.conn())?
    } else {
        view.seq
    };
    if head != view.seq || config_moved {
        refresh_trust(shared, store)?;
    }
    if everything && (head != view.seq || (config_moved && view.refused.is_some())) {
        let wanted = modules::state(store.conn())?;
        module_swapped = apply(shared, store, &wanted, view)?;
        view.seq = wanted.seq;
    }
    // A new configuration version, or a refused one again once the module changed (the
    // new module may accept it).
    let head = config_head;
    let retry = module_swapped && view.config_refused.is_some();
    if head != view.config_version && (head != view.config_tried || retry) {
        apply_config(shared, store, view)?;
    }
    if everything {
        report(shared, store, view)?;
    }
    Ok(())
}

fn report(shared: &Shared, store: &mut Store, view: &FleetView) -> anyhow::Result<()> {
    let running = shared.live.current();
    let refusals: Vec<&str> = [&view.refused, &view.config_refused]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    modules::report(
        store.conn(),
        &HostRow {
            host: view.host.clone(),
            live_version: view.live.as_ref().map(|m| m.version),
            live_sha256: Some(running.module.sha256().to_owned()),
            shadow_version: view.shadow.as_ref().map(|m| m.version),
            state: if refusals.is_empty() {
                "running".into()
            } else {
                "refused".into()
            },
            detail: (!refusals.is_empty()).then(|| refusals.join("; ")),
            seen_at: crate::world::system_now(),
            config_version: Some(view.config_version),
        },
    )
}

/// Read the store's signers and trust those whose endorsement verifies with this host's
/// anchors (or a signer trusted before them), minus retired ids.
fn refresh_trust(shared: &Shared, store: &mut Store) -> anyhow::Result<()> {
    let anchors = shared.live.trust().anchors;
    let rows = modules::signers::list(store.conn())?;
    let (fleet, left_out) = modules::signers::trust_of(anchors, &rows);
    if !left_out.is_empty() {
        // Keys in the store whose endorsement does not verify here: never trusted.
        log::event("signers-not-trusted", &[("ids", &left_out.join(","))]);
    }
    shared.live.update_trust(|t| {
        t.fleet_added = fleet.fleet_added;
        t.retired = fleet.retired;
    });
    Ok(())
}

/// Give `swap` a stored module (its bytes and stored signature), the replay floor it is
/// held to, and its source name (`fleet:vN`). `Err`: the store could not be read.
fn with_candidate(
    store: &mut Store,
    m: &modules::ModuleRef,
    replay: Replay,
    swap: impl FnOnce(Candidate<'_>, Replay, std::path::PathBuf) -> Result<u64, Refused>,
) -> anyhow::Result<Result<u64, Refused>> {
    let bytes = modules::bytes(store.conn(), m)?;
    let signature = modules::signature(store.conn(), m)?;
    let c = Candidate {
        bytes: &bytes,
        signature: signature.as_deref(),
    };
    Ok(swap(c, replay, format!("fleet:v{}", m.version).into()))
}

fn refused_swap(shared: &Shared) {
    shared
        .counters
        .refused_reloads
        .fetch_add(1, Ordering::Relaxed);
}

/// Apply the module versions the fleet wants; true when the live module was swapped.
fn apply(
    shared: &Shared,
    store: &mut Store,
    wanted: &FleetState,
    view: &mut FleetView,
) -> anyhow::Result<bool> {
    let live = &shared.live;
    let mut swapped = false;
    // What this host refuses is derived afresh from what the fleet wants now: a version
    // no longer wanted (rolled back, shadow cleared) is no longer refused.
    let mut refused: Vec<String> = Vec::new();
    if let Some(m) = &wanted.live
        && view.live.as_ref() != Some(m)
    {
        let replay = Replay::Fleet {
            floor: wanted.floor,
            rollback: wanted.rollback,
        };
        match with_candidate(store, m, replay, |c, r, source| {
            live.reload_bytes(c, r, source)
        })? {
            Ok(g) => {
                shared.counters.reloads.fetch_add(1, Ordering::Relaxed);
                log::event(
                    "fleet-publish",
                    &[
                        ("version", &m.version.to_string()),
                        ("sha256", &m.sha256),
                        ("generation", &g.to_string()),
                    ],
                );
                view.live = Some(m.clone());
                swapped = true;
            }
            Err(e) => {
                refused_swap(shared);
                log::event(
                    "fleet-refused",
                    &[("version", &m.version.to_string()), ("why", &e.0)],
                );
                refused.push(format!("version {}: {}", m.version, e.0));
            }
        }
    }
    if view.shadow != wanted.shadow
        && let Some(why) = apply_shadow(shared, store, wanted, view)?
    {
        refused.push(why);
    }
    view.refused = (!refused.is_empty()).then(|| refused.join("; "));
    Ok(swapped)
}

/// Apply the fleet's shadow version (or stop the shadow); `Some(why)`: refused.
fn apply_shadow(
    shared: &Shared,
    store: &mut Store,
    wanted: &FleetState,
    view: &mut FleetView,
) -> anyhow::Result<Option<String>> {
    let Some(m) = &wanted.shadow else {
        shared.live.shadow_checked(None);
        view.shadow = None;
        return Ok(None);
    };
    // A shadow is held to the floor too: promoting it makes it live.
    let replay = Replay::Fleet {
        floor: wanted.floor,
        rollback: false,
    };
    let live = &shared.live;
    match with_candidate(store, m, replay, |c, r, source| {
        live.shadow_bytes(c, r, source)
    })? {
        Ok(_) => {
            log::event("fleet-shadow", &[("version", &m.version.to_string())]);
            view.shadow = Some(m.clone());
            Ok(None)
        }
        Err(e) => {
            refused_swap(shared);
            Ok(Some(format!("shadow version {}: {}", m.version, e.0)))
        }
    }
}

/// Read the store's configuration, check it with the running module and publish it, or
/// keep the one running and report why. A store read error is an `Err` (retried at the
/// next poll); a configuration that cannot be used is a refusal.
fn apply_config(shared: &Shared, store: &mut Store, view: &mut FleetView) -> anyhow::Result<()> {
    let stored = config::read(store.conn())?;
    let version = stored.version;
    view.config_tried = version;
    let swapped = stored
        .settings()
        .map_err(|e| Refused(format!("unusable: {e}")))
        .and_then(|s| shared.live.swap_config(s.config));
    match swapped {
        Ok(swap) => {
            shared.counters.config_swaps.fetch_add(1, Ordering::Relaxed);
            log::event(
                "fleet-config",
                &[
                    ("version", &version.to_string()),
                    ("generation", &swap.generation.to_string()),
                ],
            );
            view.config_version = version;
            view.config_refused = None;
            if let Some(e) = swap.shadow_refused {
                let why = format!("configuration version {version}: {}", e.0);
                log::event("fleet-shadow-stopped", &[("why", &why)]);
                let note = match view.shadow.take() {
                    Some(m) => format!("shadow version {} stopped: {why}", m.version),
                    None => format!("shadow stopped: {why}"),
                };
                view.refused = Some(match view.refused.take() {
                    Some(r) => format!("{r}; {note}"),
                    None => note,
                });
            }
        }
        Err(e) => {
            refused_swap(shared);
            shared
                .counters
                .refused_config_swaps
                .fetch_add(1, Ordering::Relaxed);
            log::event(
                "fleet-config-refused",
                &[("version", &version.to_string()), ("why", &e.0)],
            );
            view.config_refused = Some(format!("configuration version {version}: {}", e.0));
        }
    }
    Ok(())
}
