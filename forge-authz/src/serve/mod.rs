//! `forge-authz serve`: a git smart-HTTP server whose every request is decided by the
//! policy, a forward-auth endpoint for reverse proxies, hot swap of the policy module,
//! and git over SSH (`ssh-keys`, `git-shell`). Laid out by concern:
//!
//! - [`enforce`]: the decision flow, with no HTTP in it (pooled warm instances, read-only
//!   store connections, shadow comparison, effects, the hook's per-ref answers);
//! - [`http`]: hyper's HTTP/1.1 with explicit limits, routing, forward auth;
//! - [`cgi`]: the streaming bridge to `git http-backend` (request bodies decoded and
//!   counted here);
//! - [`procs`]: every git a request starts runs in its own process group, ended whole;
//! - [`hook`]: per-ref decisions inside receive-pack through git's `proc-receive` hook,
//!   failing closed, with typed messages;
//! - [`admin`]: the admin Unix socket (reload, shadow, promote, status);
//! - [`ssh`]: `ssh-keys` and `git-shell`;
//! - [`log`]: structured, escaped log records;
//! - [`metrics`]: Prometheus text exposition, on its own listener (`--metrics-listen`,
//!   off by default: metrics reveal traffic patterns, so never on the git listener).
//!
//! The host enforces and logs; it never decides.

pub mod admin;
pub mod audit;
pub mod cgi;
pub mod conns;
pub mod enforce;
pub mod fleet;
pub mod hook;
pub mod http;
pub mod metrics;
pub mod procs;
mod signals;
pub mod ssh;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use base64::Engine as _;

pub use ssh::{ForcedPolicy, OfferedKey, git_shell, parse_ssh_command, ssh_keys};

use crate::live::LivePolicy;
use crate::log;
use crate::policy::Limits;
use crate::request::{ActionDef, CredentialDef};
use crate::store::Store;

/// Which reverse proxy's forward-auth headers `/-/auth` reads, and which answers it gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ForwardAuth {
    /// nginx `auth_request`: `X-Original-Method`, `X-Original-URI`. nginx understands only
    /// `2xx`, `401` and `403` from an auth request (anything else becomes its own `500`),
    /// so every other refusal is sent as `403` with the real status in
    /// `X-Forge-Authz-Status`, which the README's nginx configuration maps back.
    Nginx,
    /// Traefik `forwardAuth`: `X-Forwarded-Method`, `X-Forwarded-Uri`; answers pass through
    /// to the client as they are.
    Traefik,
    /// Caddy `forward_auth`: the same `X-Forwarded-*` family as Traefik, answers passed
    /// through as they are.
    Caddy,
}

impl ForwardAuth {
    /// (method header, URI header, the other family's headers, which are refused).
    pub fn headers(self) -> (&'static str, &'static str, [&'static str; 2]) {
        match self {
            ForwardAuth::Nginx => (
                "x-original-method",
                "x-original-uri",
                ["x-forwarded-method", "x-forwarded-uri"],
            ),
            ForwardAuth::Traefik | ForwardAuth::Caddy => (
                "x-forwarded-method",
                "x-forwarded-uri",
                ["x-original-method", "x-original-uri"],
            ),
        }
    }
}

/// Server settings.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// The store.
    pub db: crate::store::Location,
    /// Directory of bare repositories, `owner/name.git`.
    pub repos: PathBuf,
    /// Address to listen on.
    pub listen: String,
    /// The async runtime's worker threads (0: one per core), which serve connections and
    /// decide requests (each keeps a warm policy instance); what may block (git, effects,
    /// PostgreSQL) runs on up to `max(workers, 16)` more threads.
    pub workers: usize,
    /// Policy module.
    pub policy: PathBuf,
    /// Its signature (`None`: `POLICY.minisig`).
    pub policy_signature: Option<PathBuf>,
    /// Whose modules are trusted (the anchors, `--allow-unsigned`); the store's endorsed
    /// signers are added at start and at every change.
    pub trust: crate::trust::Trust,
    /// Per-call limits.
    pub limits: Limits,
    /// Private state directory (hooks, sockets); `None`: a fresh random one.
    pub state: Option<PathBuf>,
    /// Write the bound port here once listening.
    pub port_file: Option<PathBuf>,
    /// Forward-auth header family (`None`: `/-/auth` is not served).
    pub forward_auth: Option<ForwardAuth>,
    /// The admin socket (default: `admin.sock` in the state directory).
    pub admin_socket: Option<PathBuf>,
    /// Where `reload`/`shadow` may take modules from.
    pub modules: Option<PathBuf>,
    /// HTTP limits.
    pub http: http::HttpLimits,
    /// Peers held to the global connection cap only (`--connection-limit-exempt`).
    pub exempt_peers: Vec<crate::cidr::Cidr>,
    /// Where a request's client address comes from (`--trusted-proxy`).
    pub client: http::ClientAddress,
    /// How long in-flight requests may finish after SIGTERM.
    pub grace: Duration,
    /// This host's id in the fleet's `policy_hosts` (default: `hostname/listen`).
    pub host_id: Option<String>,
    /// How often the publication log and the configuration version are polled (at least
    /// a second; over PostgreSQL a `NOTIFY` wakes the poller at once).
    pub fleet_poll: Duration,
    /// Address of the metrics listener (`GET /metrics`); `None`: metrics are not served.
    /// Metrics reveal traffic patterns: never the public listener's address.
    pub metrics_listen: Option<String>,
    /// Write the metrics listener's bound port here once listening.
    pub metrics_port_file: Option<PathBuf>,
    /// Where every decision is recorded (`-`: standard output; `None`: nowhere).
    pub decision_log: Option<PathBuf>,
}

/// The credential in an `Authorization` header (absent: anonymous; a malformed or
/// unknown scheme is passed on as an empty bearer, which the policy refuses as
/// `token-invalid`).
pub fn credential_from_header(value: Option<&str>) -> CredentialDef {
    let Some(v) = value.map(str::trim) else {
        return CredentialDef::Anonymous;
    };
    let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
    if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token") {
        return CredentialDef::Bearer(rest.trim().to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        return match decoded.as_deref().and_then(|s| s.split_once(':')) {
            Some((u, p)) => CredentialDef::Basic {
                username: u.to_string(),
                password: p.to_string(),
            },
            None => CredentialDef::Bearer(String::new()),
        };
    }
    CredentialDef::Bearer(String::new())
}

/// What a git smart-HTTP URL asks: (repository path as requested — `owner/name`, with
/// the URL's `.git` if it had one, which the request layer strips exactly once —, action,
/// the rest of the path). The repository is always the first two segments:
/// `/alice/app.git.git/info/refs` asks for `alice/app.git`, a name the policy refuses,
/// never for `alice/app`. `service=` is read as git reads it: the last occurrence wins.
pub fn parse_git_url(method: &str, url: &str) -> Option<(String, ActionDef, String)> {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let path = path.strip_prefix('/')?;
    let mut it = path.splitn(3, '/');
    let (owner, name, rest) = (it.next()?, it.next()?, it.next()?);
    let repo = format!("{owner}/{name}");
    let service = query
        .split('&')
        .filter_map(|kv| kv.strip_prefix("service="))
        .next_back()
        .unwrap_or("");
    let action = match (method, rest, service) {
        ("GET", "info/refs", "git-upload-pack") => ActionDef::Pull,
        ("GET", "info/refs", "git-receive-pack") => ActionDef::Push,
        ("POST", "git-upload-pack", _) => ActionDef::Pull,
        ("POST", "git-receive-pack", _) => ActionDef::Push,
        _ => return None,
    };
    Some((repo, action, rest.to_string()))
}

/// 128 random bits as hex (push ids, directory names).
pub fn random_id() -> String {
    let mut b = [0u8; 16];
    // Should the OS refuse randomness, the id is predictable but still safe where it is
    // used: `fresh_private_dir` never reuses an existing directory, and push ids are only
    // presented over a socket inside such a directory.
    let _ = getrandom::fill(&mut b);
    hex::encode(b)
}

/// The uid this process runs as (the owner of `/proc/self`).
fn own_uid() -> anyhow::Result<u32> {
    use std::os::unix::fs::MetadataExt as _;
    Ok(std::fs::metadata("/proc/self")?.uid())
}

/// Create a new directory with a random name under `parent`, mode `0700`. Never reuses
/// an existing directory (another local user could have made it).
pub fn fresh_private_dir(parent: &Path, prefix: &str) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt as _;
    let dir = parent.join(format!("{prefix}-{}", random_id()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    Ok(std::fs::canonicalize(&dir)?)
}

/// An explicit state directory: created `0700` if missing; if it exists, it must be a
/// real directory owned by this user with no group or other permissions.
pub fn checked_state_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _};
    match std::fs::symlink_metadata(dir) {
        Err(_) => {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("creating {}", dir.display()))?;
        }
        Ok(m) => {
            if !m.file_type().is_dir() {
                bail!("state directory {} is not a directory", dir.display());
            }
            if m.uid() != own_uid()? {
                bail!(
                    "state directory {} belongs to another user: refusing to use it",
                    dir.display()
                );
            }
            if m.mode() & 0o077 != 0 {
                bail!(
                    "state directory {} is open to other users (mode {:o}): it must be 0700",
                    dir.display(),
                    m.mode() & 0o777
                );
            }
        }
    }
    Ok(std::fs::canonicalize(dir)?)
}

/// Run the server until SIGTERM/SIGINT (then exit 0 after in-flight requests finish) or
/// until it can no longer serve (an error: the process exits non-zero).
pub fn serve(config: ServeConfig) -> anyhow::Result<()> {
    // Every store statement's duration feeds the store-latency histogram.
    crate::store::sql::observe_queries(metrics::observe_store_query);
    // Migrations run here, once; request handlers only ever open read-only connections.
    // The store's current configuration; the fleet watcher follows its later versions.
    let mut store = Store::open(&config.db)?;
    let settings = store.settings()?;
    let config_version = settings.version;
    // The module must be trusted by this host's anchors or the store's endorsed signers.
    let (trust, _) =
        crate::store::modules::signers::trust(store.conn(), config.trust.anchors.clone())?;
    // Never a module older than the newest the fleet has published live.
    let floor = crate::store::modules::state(store.conn())?.floor;
    let trust = crate::trust::Trust {
        allow_unsigned: config.trust.allow_unsigned,
        floor,
        ..trust
    };
    drop(store);
    if config.trust.allow_unsigned {
        log::event(
            "allow-unsigned",
            &[(
                "note",
                "development only: modules without a signature are accepted",
            )],
        );
    }
    let live = Arc::new(
        LivePolicy::start(
            &config.policy,
            config.policy_signature.as_deref(),
            settings.config,
            config.limits,
            trust,
        )
        .map_err(|e| anyhow::anyhow!("the policy module was refused: {e}"))?,
    );
    let (state, ours) = match &config.state {
        Some(dir) => (checked_state_dir(dir)?, false),
        None => (
            fresh_private_dir(&std::env::temp_dir(), "forge-authz-serve")?,
            true,
        ),
    };
    let result = serve_in(&config, &state, live, config_version);
    if ours {
        let _ = std::fs::remove_dir_all(&state);
    }
    result
}

/// What serving needs beside its listeners: the shared state, the hooks and their
/// socket, the admin socket, and the threads behind them (hook socket, fleet watcher with
/// its first sync done, admin).
struct Backstage {
    shared: Arc<enforce::Shared>,
    hooks: PathBuf,
    socket: PathBuf,
    admin_path: PathBuf,
}

fn start_backstage(
    config: &ServeConfig,
    state: &Path,
    live: Arc<LivePolicy>,
    config_version: i64,
    bound: (std::net::SocketAddr, Option<std::net::SocketAddr>),
) -> anyhow::Result<Backstage> {
    let hooks = state.join("hooks");
    if hooks.exists() {
        std::fs::remove_dir_all(&hooks)?;
    }
    hook::install(&hooks, &std::env::current_exe()?)?;
    hook::prove_executes(&hooks)
        .context("refusing to serve: pushes could not be decided per ref")?;
    let socket = state.join("hook.sock");
    let hook_listener = admin::bind(&socket)?;
    let admin_path = config
        .admin_socket
        .clone()
        .unwrap_or_else(|| state.join("admin.sock"));
    let admin_listener = admin::bind(&admin_path)?;
    let host_id = config.host_id.clone().unwrap_or_else(|| {
        let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        format!("{}/{}", name.trim(), listen_name(&config.listen, bound.0))
    });
    let decision_log = config
        .decision_log
        .as_deref()
        .map(|p| crate::log::decision::DecisionLog::open(p, host_id.clone()))
        .transpose()?;
    let shared =
        Arc::new(enforce::Shared::new(config.db.clone(), live).with_decision_log(decision_log));
    {
        let shared = shared.clone();
        std::thread::spawn(move || enforce::serve_hook_socket(shared, hook_listener));
    }
    // The fleet's module version and configuration, applied before the first request,
    // then polled (always: there is no server that does not follow its store).
    let watcher = fleet::Watcher::new(shared.clone(), host_id, config.fleet_poll, config_version);
    watcher.sync();
    std::thread::spawn(move || watcher.run());
    let modules = admin::Modules {
        dir: config
            .modules
            .as_ref()
            .map(std::fs::canonicalize)
            .transpose()
            .context("modules directory")?,
        listen: Some(bound.0),
        metrics_listen: bound.1,
    };
    {
        let (shared, modules) = (shared.clone(), modules.clone());
        std::thread::spawn(move || admin::serve(shared, modules, admin_listener));
    }
    Ok(Backstage {
        shared,
        hooks,
        socket,
        admin_path,
    })
}

/// How a host names its listener in its default id: `--listen` as given, but the bound
/// address when the port was left to the system (`:0`), so two such hosts differ.
fn listen_name(listen: &str, bound: std::net::SocketAddr) -> String {
    if listen.ends_with(":0") {
        bound.to_string()
    } else {
        listen.to_owned()
    }
}

/// A listener bound to `addr`, non-blocking (tokio takes it over).
fn bind(addr: &str, what: &str) -> anyhow::Result<std::net::TcpListener> {
    let l = std::net::TcpListener::bind(addr).with_context(|| format!("{what} on {addr}"))?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// Say where the server listens: the `serving` log event and the port files.
fn announce(
    config: &ServeConfig,
    addr: std::net::SocketAddr,
    metrics_addr: Option<std::net::SocketAddr>,
    admin_path: &Path,
) -> anyhow::Result<()> {
    log::event(
        "serving",
        &[
            ("repos", &config.repos.display().to_string()),
            ("listen", &addr.to_string()),
            ("admin", &admin_path.display().to_string()),
            (
                "metrics",
                &metrics_addr.map_or_else(|| "-".to_string(), |a| a.to_string()),
            ),
        ],
    );
    if let (Some(f), Some(a)) = (&config.metrics_port_file, metrics_addr) {
        std::fs::write(f, a.port().to_string())?;
    }
    if let Some(f) = &config.port_file {
        std::fs::write(f, addr.port().to_string())?;
    }
    Ok(())
}

/// The fewest threads for what may block (git's pipes, effects' writes, PostgreSQL's
/// round trips, a read waiting for a lock).
const MIN_BLOCKING_THREADS: usize = 16;

/// The async worker threads for `--workers N`: `N`, or one per core when `N` is 0. They
/// serve the connections and, on SQLite, decide the requests where they arrive (each keeps
/// a warm policy instance and a read-only store connection); what may block runs on up to
/// `max(N, 16)` more threads.
fn worker_threads(workers: usize) -> usize {
    match workers {
        0 => std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
        n => n,
    }
}

fn serve_in(
    config: &ServeConfig,
    state: &Path,
    live: Arc<LivePolicy>,
    config_version: i64,
) -> anyhow::Result<()> {
    // Bound first: the admin socket's `status` and the default host id show the port
    // chosen for `--listen ...:0`, not `:0` (issue 25).
    let std_listener = bind(&config.listen, "listening")?;
    let addr = std_listener.local_addr()?;
    let metrics_listener = config
        .metrics_listen
        .as_deref()
        .map(|a| bind(a, "listening for metrics"))
        .transpose()?;
    let metrics_addr = metrics_listener
        .as_ref()
        .map(std::net::TcpListener::local_addr)
        .transpose()?;
    let Backstage {
        shared,
        hooks,
        socket,
        admin_path,
    } = start_backstage(config, state, live, config_version, (addr, metrics_addr))?;
    let max_connections = raise_open_files(config.http.max_connections);
    let workers = worker_threads(config.workers);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .max_blocking_threads(workers.max(MIN_BLOCKING_THREADS))
        .enable_all()
        .build()?;
    // Installed before the port is announced: a signal sent once the server is listening
    // never meets the default action (which, for SIGHUP and SIGUSR1, ends the process).
    let handlers = {
        let _in_runtime = runtime.enter();
        signals::handlers()
    };
    announce(config, addr, metrics_addr, &admin_path)?;
    let state = Arc::new(http::HttpState {
        shared: shared.clone(),
        repos: config.repos.clone(),
        hooks,
        socket,
        forward_auth: config.forward_auth,
        limits: http::HttpLimits {
            max_connections,
            ..config.http
        },
        exempt_peers: config.exempt_peers.clone().into(),
        client: config.client.clone(),
    });
    let grace = config.grace;
    let served = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(std_listener)?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        if let Some(l) = metrics_listener {
            let l = tokio::net::TcpListener::from_std(l)?;
            let (shared, limits, stopped) = (shared.clone(), state.limits, stopped.clone());
            tokio::spawn(async move {
                if let Err(e) = http::run_metrics(l, shared, limits, stopped, grace).await {
                    // Metrics are not worth stopping git for: say so and keep serving.
                    log::event("metrics-stopped", &[("cause", &format!("{e:#}"))]);
                }
            });
        }
        tokio::spawn(signals::serve(shared, stop, handlers));
        http::run(listener, state, stopped, grace).await
    });
    // Whatever git is still running (requests past the grace period) is ended with its
    // whole process group before the server exits (issue 20 item 5).
    runtime.block_on(procs::stop_all());
    runtime.shutdown_timeout(Duration::from_secs(1));
    procs::kill_remaining();
    served?;
    log::event("stopped", &[]);
    Ok(())
}

/// File descriptors kept free for everything but connections: the store, the sockets,
/// and git's pipes (three per request in flight).
const RESERVED_FILES: u64 = 512;

/// Raise the open-file limit's soft value to its hard value (as Go's runtime and nginx's
/// `worker_rlimit_nofile` do: thousands of idle connections are cheap, but each is a
/// file descriptor, and systemd's default soft limit is 1024), and return the connection
/// cap the limit allows: `wanted`, or less (logged) when even the hard limit is too low.
fn raise_open_files(wanted: usize) -> usize {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(maximum)) = (limit.current, limit.maximum)
        && current < maximum
    {
        let raised = rustix::process::Rlimit {
            current: Some(maximum),
            maximum: Some(maximum),
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            limit = raised;
        }
    }
    let Some(files) = limit.current else {
        return wanted; // unlimited
    };
    let room = usize::try_from(files.saturating_sub(RESERVED_FILES)).unwrap_or(usize::MAX);
    if wanted > room {
        let allowed = room.max(16);
        log::event(
            "connection-cap",
            &[
                ("max-connections", &wanted.to_string()),
                ("open-files", &files.to_string()),
                ("using", &allowed.to_string()),
                (
                    "note",
                    "the open-file limit is too low for --max-connections: raise it (LimitNOFILE=)",
                ),
            ],
        );
        return allowed;
    }
    wanted
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn git_urls() {
        let repo = |m: &str, u: &str| parse_git_url(m, u).map(|x| (x.0, x.1));
        assert_eq!(
            repo("GET", "/alice/app.git/info/refs?service=git-upload-pack"),
            Some(("alice/app.git".into(), ActionDef::Pull))
        );
        assert_eq!(
            repo("GET", "/alice/app/info/refs?service=git-receive-pack"),
            Some(("alice/app".into(), ActionDef::Push))
        );
        assert_eq!(
            repo("POST", "/alice/app.git/git-receive-pack"),
            Some(("alice/app.git".into(), ActionDef::Push))
        );
        // The name keeps every `.git` but the one the request layer strips: the policy
        // then refuses `app.git` (a name ending in `.git`).
        assert_eq!(
            repo(
                "GET",
                "/alice/app.git.git/info/refs?service=git-upload-pack"
            ),
            Some(("alice/app.git.git".into(), ActionDef::Pull))
        );
        assert_eq!(
            repo("GET", "/alice/app.git/info/refs"),
            None,
            "dumb HTTP is not served"
        );
        assert_eq!(repo("GET", "/alice/app.git/HEAD"), None);
        assert_eq!(repo("POST", "/alice/../x.git/git-upload-pack"), None);
        // git reads the last `service=`: so do we.
        assert_eq!(
            repo(
                "GET",
                "/alice/app.git/info/refs?service=git-upload-pack&service=git-receive-pack"
            )
            .map(|x| x.1),
            Some(ActionDef::Push)
        );
    }

    #[test]
    fn authorization_headers() {
        assert_eq!(credential_from_header(None), CredentialDef::Anonymous);
        assert_eq!(
            credential_from_header(Some("Bearer abc")),
            CredentialDef::Bearer("abc".into())
        );
        let b = base64::engine::general_purpose::STANDARD.encode("alice:secret");
        assert_eq!(
            credential_from_header(Some(&format!("Basic {b}"))),
            CredentialDef::Basic {
                username: "alice".into(),
                password: "secret".into()
            }
        );
        assert_eq!(
            credential_from_header(Some("Basic !!!")),
            CredentialDef::Bearer(String::new())
        );
        assert_eq!(
            credential_from_header(Some("Negotiate x")),
            CredentialDef::Bearer(String::new())
        );
    }

    #[test]
    fn state_directories() {
        use std::os::unix::fs::PermissionsExt as _;
        let parent = fresh_private_dir(&std::env::temp_dir(), "forge-authz-test").unwrap();
        let a = fresh_private_dir(&parent, "s").unwrap();
        let b = fresh_private_dir(&parent, "s").unwrap();
        assert_ne!(a, b);
        assert_eq!(
            std::fs::metadata(&a).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert!(checked_state_dir(&a).is_ok());
        std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(checked_state_dir(&b).is_err(), "open to others");
        std::fs::remove_dir_all(parent).unwrap();
    }
}
