//! One module version across the fleet (`store::modules`): a thread polls the
//! publication log's head every `interval`; when it moves, it fetches the live and
//! shadow modules that changed, checks each exactly as `reload` does (off the request
//! path), swaps, and writes this host's row in `policy_hosts` (also as a heartbeat
//! every poll). A module this host refuses keeps the old one serving, counts as a
//! refused reload, and is reported with its reason, here and in the database.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::enforce::Shared;
use super::log;
use crate::live::check_bytes;
use crate::store::modules::{self, FleetState, HostRow, ModuleRef};
use crate::store::{Location, Store};

/// What this host runs from the fleet, for `status`.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct FleetView {
    /// This host's id in `policy_hosts`.
    pub host: String,
    /// The fleet's live version this host runs (None: its local module).
    pub live: Option<ModuleRef>,
    /// The fleet's shadow version this host runs.
    pub shadow: Option<ModuleRef>,
    /// The last version this host refused, and why.
    pub refused: Option<String>,
    /// The publication log position applied.
    pub seq: i64,
    /// The last poll's error, if the store could not be read.
    pub error: Option<String>,
}

/// The poller: `sync` once (before serving), then `run` in a thread.
pub struct Watcher {
    shared: Arc<Shared>,
    location: Location,
    store: Option<Store>,
    interval: Duration,
}

impl Watcher {
    /// A watcher for `shared`'s policy over the store at `location`.
    pub fn new(
        shared: Arc<Shared>,
        location: Location,
        host: String,
        interval: Duration,
    ) -> Watcher {
        if let Ok(mut v) = shared.fleet.lock() {
            v.host = host;
        }
        Watcher {
            shared,
            location,
            store: None,
            interval,
        }
    }

    /// Poll forever.
    pub fn run(mut self) {
        let mut listener: Option<modules::Listener> = None;
        loop {
            // PostgreSQL: wake on a publication's notification, at the latest after the
            // poll interval; SQLite (or a listener that cannot connect): poll.
            if listener.is_none() {
                listener = modules::Listener::open(&self.location).ok().flatten();
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

    fn view(&self) -> FleetView {
        match self.shared.fleet.lock() {
            Ok(v) => v.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn set_view(&self, view: FleetView) {
        match self.shared.fleet.lock() {
            Ok(mut v) => *v = view,
            Err(p) => *p.into_inner() = view,
        }
    }

    /// One poll: apply what changed, report. Errors are kept for `status` and the log;
    /// the module serving keeps serving.
    pub fn sync(&mut self) {
        let mut view = self.view();
        match self.try_sync(&mut view) {
            Ok(()) => view.error = None,
            Err(e) => {
                let text = format!("{e:#}");
                if view.error.as_deref() != Some(text.as_str()) {
                    log::event("fleet-error", &[("cause", &text)]);
                }
                view.error = Some(text);
                self.store = None;
            }
        }
        self.set_view(view);
    }

    fn try_sync(&mut self, view: &mut FleetView) -> anyhow::Result<()> {
        if self.store.is_none() {
            self.store = Some(Store::open_existing(&self.location)?);
        }
        let Some(store) = self.store.as_mut() else {
            anyhow::bail!("no store connection");
        };
        let head = modules::head(store.conn())?;
        if head != view.seq {
            let wanted = modules::state(store.conn())?;
            apply(&self.shared, store, &wanted, view)?;
            view.seq = wanted.seq;
        }
        let now = crate::world::system_now();
        let running = self.shared.live.current();
        modules::report(
            store.conn(),
            &HostRow {
                host: view.host.clone(),
                live_version: view.live.as_ref().map(|m| m.version),
                live_sha256: Some(running.module.sha256().to_owned()),
                shadow_version: view.shadow.as_ref().map(|m| m.version),
                state: if view.refused.is_some() {
                    "refused".into()
                } else {
                    "running".into()
                },
                detail: view.refused.clone(),
                seen_at: now,
                config_version: None,
            },
        )?;
        Ok(())
    }
}

fn apply(
    shared: &Shared,
    store: &mut Store,
    wanted: &FleetState,
    view: &mut FleetView,
) -> anyhow::Result<()> {
    let live = &shared.live;
    let config = live.current().config.clone();
    // What this host refuses is derived afresh from what the fleet wants now: a version
    // no longer wanted (rolled back, shadow cleared) is no longer refused.
    let mut refused: Vec<String> = Vec::new();
    if let Some(m) = &wanted.live
        && view.live.as_ref() != Some(m)
    {
        let bytes = modules::bytes(store.conn(), m)?;
        let source = format!("fleet:v{}", m.version).into();
        match check_bytes(&bytes, source, &config, live.limits()) {
            Ok(module) => {
                let g = live.publish_checked(module);
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
            }
            Err(e) => {
                shared
                    .counters
                    .refused_reloads
                    .fetch_add(1, Ordering::Relaxed);
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
                match check_bytes(&bytes, source, &config, live.limits()) {
                    Ok(module) => {
                        live.shadow_checked(Some(module));
                        log::event("fleet-shadow", &[("version", &m.version.to_string())]);
                        view.shadow = Some(m.clone());
                    }
                    Err(e) => {
                        shared
                            .counters
                            .refused_reloads
                            .fetch_add(1, Ordering::Relaxed);
                        refused.push(format!("shadow version {}: {}", m.version, e.0));
                    }
                }
            }
        }
    }
    view.refused = (!refused.is_empty()).then(|| refused.join("; "));
    Ok(())
}
