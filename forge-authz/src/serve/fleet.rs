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
//! A module or a configuration this host refuses keeps the old one serving, counts as a
//! refused swap, and is reported with its reason, here, in `status` and in the database.
//! A store that cannot be read changes nothing: the host keeps what it runs.

use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use super::enforce::{FleetView, Shared};
use crate::live::Refused;
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
    if everything {
        let head = modules::head(store.conn())?;
        if head != view.seq {
            let wanted = modules::state(store.conn())?;
            module_swapped = apply(shared, store, &wanted, view)?;
            view.seq = wanted.seq;
        }
    }
    // A new configuration version, or a refused one again once the module changed (the
    // new module may accept it).
    let head = config::head(store.conn())?;
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
        let bytes = modules::bytes(store.conn(), m)?;
        let source = format!("fleet:v{}", m.version).into();
        match live.reload_bytes(&bytes, source) {
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
    if view.shadow != wanted.shadow {
        match &wanted.shadow {
            None => {
                live.shadow_checked(None);
                view.shadow = None;
            }
            Some(m) => {
                let bytes = modules::bytes(store.conn(), m)?;
                let source = format!("fleet:v{}", m.version).into();
                match live.shadow_bytes(&bytes, source) {
                    Ok(_) => {
                        log::event("fleet-shadow", &[("version", &m.version.to_string())]);
                        view.shadow = Some(m.clone());
                    }
                    Err(e) => {
                        refused_swap(shared);
                        refused.push(format!("shadow version {}: {}", m.version, e.0));
                    }
                }
            }
        }
    }
    view.refused = (!refused.is_empty()).then(|| refused.join("; "));
    Ok(swapped)
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
