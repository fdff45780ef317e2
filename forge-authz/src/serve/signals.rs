//! The signals `serve` handles: SIGTERM and SIGINT stop it, SIGHUP reloads the module
//! (`reload`), SIGUSR1 reopens the log files after a rotation (nginx's convention). The
//! handlers are installed before the port is announced ([`handlers`]), so a signal sent to
//! a listening server never meets its default action (which ends the process).

use std::sync::Arc;

use super::{admin, audit, enforce};
use crate::log;

/// The signals `serve` handles, in [`serve`]'s order.
pub(super) type Handlers = [tokio::signal::unix::Signal; 4];

/// Install the handlers (`None`: they could not be, said on stderr).
pub(super) fn handlers() -> Option<Handlers> {
    use tokio::signal::unix::{SignalKind, signal};
    let handlers = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
        signal(SignalKind::user_defined1()),
    );
    if let (Ok(term), Ok(int), Ok(hup), Ok(usr1)) = handlers {
        return Some([term, int, hup, usr1]);
    }
    log::event("signals", &[("note", "cannot install signal handlers")]);
    None
}

/// SIGTERM and SIGINT stop the server; SIGHUP reloads the current module through the
/// same checks as `reload`; SIGUSR1 reopens the log files (the decision log's: after a
/// rotation, as nginx does).
pub(super) async fn serve(
    shared: Arc<enforce::Shared>,
    stop: tokio::sync::watch::Sender<bool>,
    handlers: Option<Handlers>,
) {
    let Some([mut term, mut int, mut hup, mut usr1]) = handlers else {
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                let shared = shared.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    let modules = admin::Modules::default();
                    admin::answer(&shared, &modules, &admin::AdminRequest::Reload { module: None })
                })
                .await;
            }
            _ = usr1.recv() => {
                let shared = shared.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    if let Some(out) = &shared.decision_log {
                        audit::reopen(out);
                    }
                })
                .await;
            }
        }
    }
    log::event(
        "stopping",
        &[("note", "no new connections; finishing requests in flight")],
    );
    let _ = stop.send(true);
}
