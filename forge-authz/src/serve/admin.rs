//! The admin channel of `serve`: a Unix socket (`0600`, in the private state directory
//! unless configured elsewhere), never HTTP — behind a same-host proxy every HTTP client
//! is a loopback peer, so loopback proves nothing.
//!
//! One JSON request per connection, one JSON answer: `{"op":"status"}`,
//! `{"op":"reload","module":"NAME"}` (no module: the current one again),
//! `{"op":"shadow","module":"NAME"}` (no module: stop), `{"op":"promote"}`. Modules are
//! read only from the configured modules directory, by plain file name (no `/`, no `..`),
//! only if they are regular files of at most [`MAX_MODULE_BYTES`]; a refusal says what
//! failed, never what a file holds. Reads are bounded in size and time.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::enforce::Shared;
use crate::log;

/// Largest admin request, bytes.
const MAX_REQUEST: u64 = 4096;
/// Largest module file accepted.
pub const MAX_MODULE_BYTES: u64 = 16 * 1024 * 1024;

/// An admin request.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
pub enum AdminRequest {
    /// Counters and the module generation.
    Status,
    /// Check and publish a module (none: the current one again).
    Reload {
        /// File name inside the modules directory.
        #[serde(default)]
        module: Option<String>,
    },
    /// Run a module in shadow (none: stop).
    Shadow {
        /// File name inside the modules directory.
        #[serde(default)]
        module: Option<String>,
    },
    /// Publish the shadow module.
    Promote,
}

/// Where modules may come from, and where the server listens (shown by `status`).
#[derive(Clone, Debug, Default)]
pub struct Modules {
    /// The configured directory (`None`: only the current module can be reloaded).
    pub dir: Option<PathBuf>,
    /// The address the git listener is bound to (the port chosen for `--listen ...:0`).
    pub listen: Option<std::net::SocketAddr>,
    /// The address the metrics listener is bound to, if metrics are served.
    pub metrics_listen: Option<std::net::SocketAddr>,
}

impl Modules {
    /// The file a module name stands for, if it may be loaded.
    pub fn resolve(&self, name: &str) -> Result<PathBuf, String> {
        let Some(dir) = &self.dir else {
            return Err("no modules directory is configured (serve --modules DIR)".into());
        };
        let plain = !name.is_empty()
            && name != "."
            && name != ".."
            && !name.contains(['/', '\0'])
            && name.len() <= 255;
        if !plain {
            return Err("a module is named by its file name inside the modules directory".into());
        }
        let path = dir.join(name);
        let meta = std::fs::symlink_metadata(&path)
            .map_err(|_| "no such module in the modules directory".to_string())?;
        if !meta.file_type().is_file() {
            return Err("a module must be a regular file".into());
        }
        if meta.len() > MAX_MODULE_BYTES {
            return Err(format!("a module must be at most {MAX_MODULE_BYTES} bytes"));
        }
        Ok(path)
    }
}

fn reload(shared: &Shared, modules: &Modules, module: Option<&str>) -> serde_json::Value {
    // The module is checked and published with the store's current keys and options,
    // even between two polls of the fleet watcher (a store that cannot be read leaves
    // the configuration running).
    super::fleet::sync_config(shared);
    let path = match module {
        None => crate::live::source_of(&shared.live.current()),
        Some(name) => match modules.resolve(name) {
            Ok(p) => p,
            Err(e) => return refused(shared, &e),
        },
    };
    match shared.live.reload(&path) {
        Ok(g) => {
            shared.counters.reloads.fetch_add(1, Ordering::Relaxed);
            log::event(
                "published",
                &[
                    ("module", &path.display().to_string()),
                    ("generation", &g.to_string()),
                ],
            );
            serde_json::json!({"generation": g})
        }
        Err(e) => refused(shared, &e.0),
    }
}

fn refused(shared: &Shared, why: &str) -> serde_json::Value {
    shared
        .counters
        .refused_reloads
        .fetch_add(1, Ordering::Relaxed);
    log::event("reload-refused", &[("why", why)]);
    serde_json::json!({"refused": why, "generation": shared.live.generation()})
}

/// What this host trusts (issue 23): its signers, the floor, `--allow-unsigned`.
fn trust_status(shared: &Shared) -> serde_json::Value {
    let t = shared.live.trust();
    serde_json::json!({
        "allow_unsigned": t.allow_unsigned,
        "signers": t.trusted_ids(),
        "anchors": t.anchors.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        "retired": t.retired,
        "floor": t.floor,
    })
}

/// Answer one admin request.
pub fn answer(shared: &Shared, modules: &Modules, req: &AdminRequest) -> serde_json::Value {
    match req {
        AdminRequest::Status => {
            let c = &shared.counters;
            let p = shared.live.current();
            serde_json::json!({
                "listen": modules.listen.map(|a| a.to_string()),
                "metrics_listen": modules.metrics_listen.map(|a| a.to_string()),
                "generation": p.generation,
                "policy": crate::live::source_of(&p),
                "requests": c.requests.load(Ordering::Relaxed),
                "allowed": c.allowed.load(Ordering::Relaxed),
                "denied": c.denied.load(Ordering::Relaxed),
                "policy_failures": c.failures.load(Ordering::Relaxed),
                "reloads": c.reloads.load(Ordering::Relaxed),
                "refused_reloads": c.refused_reloads.load(Ordering::Relaxed),
                "config_swaps": c.config_swaps.load(Ordering::Relaxed),
                "refused_config_swaps": c.refused_config_swaps.load(Ordering::Relaxed),
                "refused_connections": c.refused_connections.load(Ordering::Relaxed),
                "evicted_connections": c.evicted_connections.load(Ordering::Relaxed),
                "shadow": shared.live.shadow().map(|s| crate::live::source_of(&s)),
                "shadow_requests": c.shadow_requests.load(Ordering::Relaxed),
                "shadow_differences": c.shadow_differences.load(Ordering::Relaxed),
                "sha256": p.module.sha256(),
                "module_trust": p.provenance,
                "shadow_trust": shared.live.shadow().map(|s| s.provenance.clone()),
                "trust": trust_status(shared),
                "fleet": match shared.fleet.lock() {
                    Ok(v) => serde_json::to_value(&*v).unwrap_or_default(),
                    Err(_) => serde_json::Value::Null,
                },
            })
        }
        AdminRequest::Reload { module } => reload(shared, modules, module.as_deref()),
        AdminRequest::Shadow { module } => {
            let path = match module.as_deref().map(|m| modules.resolve(m)).transpose() {
                Ok(p) => p,
                Err(e) => return serde_json::json!({"refused": e}),
            };
            match shared.live.set_shadow(path.as_deref()) {
                Ok(g) => {
                    log::event("shadow", &[("generation", &g.to_string())]);
                    serde_json::json!({"shadow_generation": g})
                }
                Err(e) => serde_json::json!({"refused": e.0}),
            }
        }
        AdminRequest::Promote => match shared.live.promote() {
            Ok(g) => {
                shared.counters.reloads.fetch_add(1, Ordering::Relaxed);
                log::event("promoted", &[("generation", &g.to_string())]);
                serde_json::json!({"generation": g})
            }
            Err(e) => serde_json::json!({"refused": e.0}),
        },
    }
}

/// Bind the admin socket: a fresh file, `0600`.
pub fn bind(path: &Path) -> anyhow::Result<UnixListener> {
    use std::os::unix::fs::FileTypeExt as _;
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => std::fs::remove_file(path)?,
        Ok(_) => anyhow::bail!("{} exists and is not a socket", path.display()),
        Err(_) => {}
    }
    let listener =
        UnixListener::bind(path).with_context(|| format!("binding {}", path.display()))?;
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Serve the admin socket (one thread; requests are rare).
pub fn serve(shared: Arc<Shared>, modules: Modules, listener: UnixListener) {
    for conn in listener.incoming().flatten() {
        let _ = one(&shared, &modules, conn);
    }
}

fn one(shared: &Shared, modules: &Modules, conn: UnixStream) -> anyhow::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    conn.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut line = String::new();
    BufReader::new((&conn).take(MAX_REQUEST)).read_line(&mut line)?;
    let reply = match serde_json::from_str::<AdminRequest>(line.trim()) {
        Ok(req) => answer(shared, modules, &req),
        Err(_) => serde_json::json!({"refused": "malformed admin request"}),
    };
    writeln!(&conn, "{reply}")?;
    Ok(())
}

/// The client side (`forge-authz reload|shadow|promote|status --admin-socket PATH`).
pub fn request(socket: &Path, req: &AdminRequest) -> anyhow::Result<serde_json::Value> {
    let conn = UnixStream::connect(socket).map_err(|e| {
        crate::exit::fail(
            crate::exit::EXIT_UNAVAILABLE,
            format!(
                "no server answers on the admin socket {}: {e}: start `forge-authz serve` \
                 or pass its `--admin-socket`",
                socket.display()
            ),
        )
    })?;
    // Compiling and checking a module takes a moment.
    conn.set_read_timeout(Some(Duration::from_secs(120)))?;
    conn.set_write_timeout(Some(Duration::from_secs(5)))?;
    writeln!(&conn, "{}", serde_json::to_string(req)?)?;
    let mut line = String::new();
    BufReader::new((&conn).take(1024 * 1024)).read_line(&mut line)?;
    serde_json::from_str(line.trim()).context("malformed admin answer")
}
