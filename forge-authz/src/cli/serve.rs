//! The server and its admin client: `serve`, `reload`, `status`, `shadow`, `promote`,
//! and the git hook `serve` installs (`hook`).

use std::path::PathBuf;

use anyhow::{Context as _, bail};

use super::{AdminSocketArgs, DbArgs, EXIT_DENY, PolicyArgs, ReposArgs};
use crate::serve::admin::AdminRequest;

/// `forge-authz serve`
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
    /// The repositories.
    #[command(flatten)]
    pub repos: ReposArgs,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Threads serving connections and deciding requests, each keeping a warm policy
    /// instance and a read-only store connection (on SQLite a request is decided on the
    /// thread that serves it); 0: one per core. What may block (git, a decision's writes,
    /// PostgreSQL's round trips) runs on up to max(N, 16) more threads.
    #[arg(long, default_value_t = 0)]
    pub workers: usize,
    /// Private state directory (hooks, sockets). Default: a fresh random directory
    /// (mode 0700) in the temp directory. An existing one must belong to this user
    /// and be 0700.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Write the bound port to this file (for `--listen 127.0.0.1:0`).
    #[arg(long)]
    pub port_file: Option<PathBuf>,
    /// Serve `/-/auth` for this reverse proxy's header family (default: not served).
    #[arg(long, value_enum)]
    pub forward_auth: Option<crate::serve::ForwardAuth>,
    /// The admin socket (default: `admin.sock` in the state directory), mode 0600.
    #[arg(long)]
    pub admin_socket: Option<PathBuf>,
    /// The only directory `reload`/`shadow` may take modules from.
    #[arg(long)]
    pub modules: Option<PathBuf>,
    /// The signature of `--policy` (default: POLICY.minisig).
    #[arg(long)]
    pub policy_signature: Option<PathBuf>,
    /// Whose modules this server trusts.
    #[command(flatten)]
    pub trust: super::module::TrustArgs,
    /// Connections open at once, all peers. Past it the oldest idle or header-pending
    /// connection is closed to make room; `503` only when every connection is busy.
    /// `serve` raises its open-file limit to allow it (or lowers this, logged).
    #[arg(long, default_value_t = 4096)]
    pub max_connections: usize,
    /// Connections open at once from one peer (an IPv4 address or an IPv6 /64): past it
    /// that peer's oldest idle connection is closed, or `503` when all are busy. 0: no
    /// per-peer limit.
    #[arg(long, default_value_t = 64)]
    pub max_connections_per_peer: usize,
    /// Peers (an address or CIDR block; repeatable) held only to --max-connections, not
    /// to the per-peer limit: a reverse proxy in front of `serve` connects for all its
    /// clients (and limits them itself).
    #[arg(long = "connection-limit-exempt", value_name = "CIDR")]
    pub connection_limit_exempt: Vec<crate::cidr::Cidr>,
    /// The client address IP allow lists are checked with: trusted proxies.
    #[command(flatten)]
    pub client: Box<crate::serve::http::ClientAddress>,
    /// Largest push body, bytes, counted after decoding (a gzip body is counted
    /// inflated; git's `receive.maxInputSize` is set to the same).
    #[arg(long, default_value_t = 1 << 30)]
    pub max_body_bytes: u64,
    /// Largest fetch request body (its wants and haves), bytes, counted after decoding.
    /// git http-backend holds a fetch's whole request in memory; the default is git's own
    /// (`GIT_HTTP_MAX_REQUEST_BUFFER`, which is set to this).
    #[arg(long, default_value_t = 10 << 20)]
    pub max_fetch_body_bytes: u64,
    /// Seconds to receive a request's headers (and longest idle keep-alive).
    #[arg(long, default_value_t = 10)]
    pub header_timeout: u64,
    /// Seconds a body or a response may stall.
    #[arg(long, default_value_t = 60)]
    pub idle_timeout: u64,
    /// Seconds in-flight requests may finish after SIGTERM.
    #[arg(long, default_value_t = 30)]
    pub grace: u64,
    /// This host's id in the fleet's module reports (default: `hostname/listen`).
    #[arg(long)]
    pub host_id: Option<String>,
    /// Seconds between polls of the store for a newly published module version or a
    /// new configuration version (keys, options); at least 1 (0 counts as 1). Over
    /// PostgreSQL a `NOTIFY` wakes the server at once.
    #[arg(long, default_value_t = 2)]
    pub fleet_poll: u64,
    /// Log records: `text` or `json` (JSON lines).
    #[arg(long, value_enum, default_value_t)]
    pub log_format: crate::log::LogFormat,
    /// When log records are written: `buffered` (the records of answered requests,
    /// `request`, `ref` and `git`, are written together: at 64 KiB, at most 10 ms after
    /// they were logged, before any other record, and when the server stops or panics; a
    /// server killed outright loses at most the last 10 ms of them) or `line` (one write
    /// per record, before the answer is sent: a killed server loses at most the record
    /// being written).
    #[arg(long, value_enum, default_value_t)]
    pub log_flush: crate::log::LogFlush,
    /// Serve Prometheus metrics (`GET /metrics`) on this separate address (default:
    /// not served). Metrics reveal traffic patterns: use loopback or a management
    /// network, never the public git address.
    #[arg(long)]
    pub metrics_listen: Option<String>,
    /// Write the metrics listener's bound port to this file (for
    /// `--metrics-listen 127.0.0.1:0`).
    #[arg(long, requires = "metrics_listen")]
    pub metrics_port_file: Option<PathBuf>,
    /// Record every decision (each request, each ref update of a push, each forward-auth
    /// check) as one JSON line in this file (appended to; created 0600), or on standard
    /// output with `-`. A decision whose record cannot be written is refused. SIGUSR1
    /// reopens the file (log rotation). Default: no decision log.
    #[arg(long, value_name = "PATH|-")]
    pub decision_log: Option<PathBuf>,
}

/// `forge-authz reload`
#[derive(Debug, clap::Args)]
pub struct ReloadArgs {
    /// The server.
    #[command(flatten)]
    pub admin: AdminSocketArgs,
    /// A file name in the server's `--modules` directory (default: reload the
    /// module it serves).
    #[arg(long = "module")]
    pub module: Option<String>,
}

/// `forge-authz shadow`
#[derive(Debug, clap::Args)]
pub struct ShadowArgs {
    /// The server.
    #[command(flatten)]
    pub admin: AdminSocketArgs,
    /// The candidate: a file name in the server's `--modules` directory.
    #[arg(long = "module")]
    pub module: Option<String>,
}

/// `forge-authz hook` (internal)
#[derive(Debug, clap::Args)]
pub struct HookArgs {
    /// `proc-receive`.
    pub kind: String,
    /// Hook arguments.
    pub args: Vec<String>,
}

/// `forge-authz serve`
pub fn serve(p: &PolicyArgs, a: ServeArgs) -> anyhow::Result<u8> {
    let ServeArgs {
        db: DbArgs { db },
        repos: ReposArgs { repos },
        listen,
        workers,
        state,
        port_file,
        forward_auth,
        admin_socket,
        modules,
        policy_signature,
        trust,
        max_connections,
        max_connections_per_peer,
        connection_limit_exempt,
        client,
        max_body_bytes,
        max_fetch_body_bytes,
        header_timeout,
        idle_timeout,
        grace,
        host_id,
        fleet_poll,
        log_format,
        log_flush,
        metrics_listen,
        metrics_port_file,
        decision_log,
    } = a;
    crate::log::set_format(log_format);
    // Dropped when `serve` returns, however it ends: the buffered records are written
    // before the process exits (or before `main` prints the error that stopped it).
    let _flushing = crate::log::set_flush(log_flush);
    crate::serve::serve(crate::serve::ServeConfig {
        db,
        repos: std::fs::canonicalize(&repos)
            .with_context(|| format!("repositories directory {}", repos.display()))?,
        listen,
        workers,
        policy: p.path(),
        policy_signature,
        trust: trust.trust()?,
        limits: p.limits(),
        state,
        port_file,
        forward_auth,
        admin_socket,
        modules,
        http: crate::serve::http::HttpLimits {
            max_connections,
            max_connections_per_peer,
            max_body_bytes,
            max_fetch_body_bytes,
            header_timeout: std::time::Duration::from_secs(header_timeout),
            idle_timeout: std::time::Duration::from_secs(idle_timeout),
        },
        exempt_peers: connection_limit_exempt,
        client: *client,
        grace: std::time::Duration::from_secs(grace),
        host_id,
        fleet_poll: std::time::Duration::from_secs(fleet_poll.max(1)),
        metrics_listen,
        metrics_port_file,
        decision_log,
    })?;
    Ok(0)
}

/// `forge-authz hook KIND ARGS...`
pub fn hook(a: HookArgs) -> anyhow::Result<u8> {
    match (a.kind.as_str(), a.args.as_slice()) {
        ("proc-receive", []) => Ok(crate::serve::hook::proc_receive()),
        _ => bail!("unknown hook `{}`", a.kind),
    }
}

/// The admin client commands (`reload`, `status`, `shadow`, `promote`): one admin request
/// to a running server; exit 0 unless it was refused.
pub fn admin(socket: &AdminSocketArgs, req: &AdminRequest) -> anyhow::Result<u8> {
    let answer = crate::serve::admin::request(&socket.admin_socket, req)?;
    outln!("{answer}");
    Ok(if answer.get("refused").is_some() {
        EXIT_DENY
    } else {
        0
    })
}
