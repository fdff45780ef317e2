//! The HTTP side of `serve`: hyper's HTTP/1.1 with explicit limits.
//!
//! - at most `max_connections` connections, `max_connections_per_peer` per peer; past a
//!   cap the oldest idle or header-pending connection is closed to make room, and a new
//!   one gets `503` only when every connection is busy ([`super::conns`]);
//! - request headers within `header_timeout` (also the longest idle keep-alive) and 16 KiB
//!   of buffer (hyper refuses more headers with `431`/closes);
//! - a body is never buffered: it streams to git with `idle_timeout` between chunks, up
//!   to `max_body_bytes` (a larger `Content-Length` is `413` before git starts);
//! - a client that stops reading the response for `idle_timeout` is dropped (write
//!   deadline on the socket), and git is killed with it;
//! - decisions run on the worker thread that serves the connection (warm policy
//!   instances, SQLite reads that never wait for a lock); what may wait — a write, a lock,
//!   PostgreSQL — runs under `block_in_place`, never holding up other connections.
//!
//! Routes: git smart HTTP (`info/refs`, `git-upload-pack`, `git-receive-pack`) and, when
//! configured, forward auth (`/-/auth`). Nothing else answers (`404`): the admin channel is
//! a Unix socket, never HTTP, and metrics are served only on their own listener
//! ([`run_metrics`], `serve --metrics-listen`, off by default: they reveal traffic patterns).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, combinators::UnsyncBoxBody};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;
use tokio::sync::watch;

mod body;
mod client;
mod forward;
mod git;

use self::body::{ConnEvents, RequestOver, Timing, guarded};
pub use self::client::ClientAddress;
pub use self::forward::STATUS_HEADER;
use self::forward::forward_auth;
use self::git::RequestLine;
use super::audit::Asked;
use super::conns::{Admitted, ConnLimits, Conns, Refused};
use super::enforce::{Answer, Shared, principal_of};
use super::metrics::{self, Counters, Route};
use super::{ForwardAuth, cgi, credential_from_header, parse_git_url};
use crate::log;
use crate::request::{ActionDef, Decided, KindDef, RequestDef};

/// A response body.
pub type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// Limits of the HTTP layer.
#[derive(Clone, Copy, Debug)]
pub struct HttpLimits {
    /// Connections open at once, all peers (past it the oldest idle or header-pending
    /// one is closed to make room; `503` only when all are busy).
    pub max_connections: usize,
    /// Connections open at once from one peer (an IPv4 address or an IPv6 /64; `0`: no
    /// per-peer limit), except peers in [`HttpState::exempt_peers`].
    pub max_connections_per_peer: usize,
    /// Largest push body, bytes, counted after decoding (what git reads).
    pub max_body_bytes: u64,
    /// Largest fetch request body (wants and haves), bytes, counted after decoding.
    pub max_fetch_body_bytes: u64,
    /// Time to receive a request's headers (and longest idle keep-alive).
    pub header_timeout: Duration,
    /// Longest wait for the next chunk of a body, and for a client to read a response.
    pub idle_timeout: Duration,
}

/// Everything a request handler needs.
pub struct HttpState {
    /// Decisions.
    pub shared: Arc<Shared>,
    /// Repositories root (canonical).
    pub repos: PathBuf,
    /// The hooks directory and the hook socket (pushes).
    pub hooks: PathBuf,
    /// The hook socket.
    pub socket: PathBuf,
    /// Forward-auth header family (`None`: `/-/auth` is not served).
    pub forward_auth: Option<ForwardAuth>,
    /// Limits.
    pub limits: HttpLimits,
    /// Peers held to the global connection cap only (reverse proxies).
    pub exempt_peers: Arc<[crate::cidr::Cidr]>,
    /// Where a request's client address comes from (the peer, or a trusted proxy's
    /// header).
    pub client: ClientAddress,
}

/// forge-authz's own response headers (names made once, at compile time).
const REASON_HEADER: HeaderName = HeaderName::from_static("x-forge-authz-reason");
const USER_HEADER: HeaderName = HeaderName::from_static("x-forge-authz-user");
const REPOSITORY_HEADER: HeaderName = HeaderName::from_static("x-forge-authz-repository");
const REFS_HEADER: HeaderName = HeaderName::from_static("x-forge-authz-refs");

/// A `text/plain` response (a `&'static str` body is not copied).
fn text(status: u16, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(
        Full::new(body.into())
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Set header `name` to `value`, copied (left out if HTTP cannot carry it).
fn set(r: &mut Response<Body>, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
}

/// Set header `name` to a fixed value (a reason code, a status: visible ASCII).
fn set_static(r: &mut Response<Body>, name: HeaderName, value: &'static str) {
    r.headers_mut()
        .insert(name, HeaderValue::from_static(value));
}

/// The response for a refusal: one readable line git shows the user.
fn refusal(d: &Decided) -> Response<Body> {
    let mut r = text(
        d.http(),
        format!("forge-authz: {} ({})\n", d.message, d.code()),
    );
    set_static(&mut r, REASON_HEADER, d.code());
    if d.http() == 401 {
        set_static(
            &mut r,
            hyper::header::WWW_AUTHENTICATE,
            "Basic realm=\"forge-authz\"",
        );
    }
    r
}

/// A `400 request-invalid` the host gives for a request it cannot even ask about.
fn invalid(message: &str) -> Response<Body> {
    let mut r = text(400, format!("forge-authz: {message} (request-invalid)\n"));
    set_static(&mut r, REASON_HEADER, "request-invalid");
    r
}

/// The one value of header `name` (`None`: absent); two of it, or one that is not text, is
/// an error.
fn header(
    req: &Request<Incoming>,
    name: impl hyper::header::AsHeaderName,
) -> Result<Option<&str>, ()> {
    let mut values = req.headers().get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(v), None) => v.to_str().map(Some).map_err(|_| ()),
        // Two of a header that decides something: refuse rather than pick one.
        (Some(_), Some(_)) => Err(()),
    }
}

fn request_log(
    method: &str,
    target: &str,
    status: u16,
    reason: &str,
    principal: &str,
    peer: &SocketAddr,
) {
    log::event(
        "request",
        &[
            ("method", method),
            ("path", log::path_only(target)),
            ("status", status_text(status).as_ref()),
            ("reason", reason),
            ("principal", principal),
            ("peer", &peer.to_string()),
        ],
    );
}

/// A status as text: the three digits, not formatted for the statuses answered.
fn status_text(status: u16) -> std::borrow::Cow<'static, str> {
    match status {
        200 => "200",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        413 => "413",
        415 => "415",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        other => return other.to_string().into(),
    }
    .into()
}

/// A git smart-HTTP request, decided: what was asked (and how, for the decision log), the
/// answer, and the principal a request log names (`-` unless allowed).
struct GitAnswer {
    request: RequestDef,
    asked: Asked,
    answer: Answer,
    principal: String,
}

/// Decide `action` on `repository` for the credential of an `Authorization` header, from
/// `client_address` (git smart HTTP, served or asked by a proxy's forward auth, as
/// `asked` says), and record the decision (a decision that cannot be recorded is a
/// `policy-failure` deny).
fn decide_git(
    shared: &Arc<Shared>,
    authorization: Option<&str>,
    client_address: Option<String>,
    (repository, action): (String, ActionDef),
    asked: Asked,
) -> GitAnswer {
    let request = RequestDef {
        credential: credential_from_header(authorization),
        client_address,
        kind: KindDef::Git,
        repository: Some(repository),
        action: Some(action),
        ..RequestDef::default()
    };
    // On this worker thread, where the request is (see [`Shared::decide_here`]: what may
    // wait runs under `block_in_place`). Handing every decision to a blocking-pool thread
    // and back cost two thread wake-ups per request (issue 24). The decision never panics
    // on input (every failure is a deny); were it to, the connection's task ends and the
    // request fails, never passes.
    let answer = shared.recorded(&asked, &request, shared.decide_here(&request));
    let principal = principal_of(&request.credential, &answer.decision);
    GitAnswer {
        request,
        asked,
        answer,
        principal,
    }
}

/// Handle one request: forward auth at `/-/auth` (`forward`), else git smart HTTP
/// (`git`; anything that is neither is `404`).
pub async fn handle(
    state: Arc<HttpState>,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response<Body>, Infallible> {
    if req.uri().path() == "/-/auth" {
        return Ok(forward_auth(&state, &req, &peer).await);
    }
    let line = RequestLine::of(&req, peer);
    // Boxed: hyper keeps room for this future in every connection from its start (its
    // dispatcher's `Box<Option<future>>`), so a git request's state inline here (the CGI
    // run, the spawn, the exec-path lookup) would be paid by each of 10,000 idle
    // connections (issue 24: +9 MB at 10,000, measured); one allocation per git request
    // is nothing beside its process.
    Ok(Box::pin(git::serve(&state, req, &line)).await)
}

/// Serve the git listener until `shutdown` turns true; then stop accepting and let the
/// connections in flight finish for at most `grace`. Each request's whole duration (to the
/// end of its response body) goes to the request latency histogram.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: Arc<HttpState>,
    shutdown: watch::Receiver<bool>,
    grace: Duration,
) -> anyhow::Result<()> {
    let limits = state.limits;
    // Trusted proxies connect for all their clients: held to the global cap only.
    let exempt = state
        .exempt_peers
        .iter()
        .chain(&state.client.trusted_proxies);
    let conns = ConnLimits {
        max: limits.max_connections,
        per_peer: limits.max_connections_per_peer,
        exempt: exempt.copied().collect(),
    };
    let events = ConnEvents {
        refused: count(&state.shared, |c| &c.refused_connections),
        evicted: count(&state.shared, |c| &c.evicted_connections),
    };
    let handler = move |req: Request<Incoming>, peer: SocketAddr, over: RequestOver| {
        let state = state.clone();
        async move {
            let started = std::time::Instant::now();
            let route = if req.uri().path() == "/-/auth" {
                Route::Auth
            } else {
                let target = req.uri().path_and_query().map_or("", |p| p.as_str());
                match parse_git_url(req.method().as_str(), target) {
                    Some(_) => Route::Git,
                    None => Route::Other,
                }
            };
            let shared = state.shared.clone();
            let Ok(response) = handle(state, req, peer).await;
            let timing = Timing {
                started,
                route,
                shared,
            };
            // One guard (one box) for both ends of the request: its timing, and its
            // connection's "request over" mark.
            Ok::<_, Infallible>(response.map(|inner| guarded(inner, (timing, over))))
        }
    };
    serve_connections(listener, limits, conns, events, shutdown, grace, handler).await
}

/// An event callback that counts one in `shared`'s counter `field`.
fn count(shared: &Arc<Shared>, field: fn(&Counters) -> &AtomicU64) -> impl Fn() + use<> {
    let shared = shared.clone();
    move || {
        field(&shared.counters).fetch_add(1, Ordering::Relaxed);
    }
}

/// Most connections the metrics listener keeps open (scrapers are few).
const METRICS_MAX_CONNECTIONS: usize = 16;

/// Serve `GET /metrics` on its own listener (`serve --metrics-listen`), with the git
/// listener's limits, until `shutdown` turns true.
pub async fn run_metrics(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    limits: HttpLimits,
    shutdown: watch::Receiver<bool>,
    grace: Duration,
) -> anyhow::Result<()> {
    // Scrapers are few: a small cap, no per-peer limit.
    let conns = ConnLimits {
        max: limits.max_connections.min(METRICS_MAX_CONNECTIONS),
        per_peer: 0,
        exempt: Arc::from(Vec::new()),
    };
    let handler = move |req: Request<Incoming>, _peer: SocketAddr, over: RequestOver| {
        let shared = shared.clone();
        async move {
            let Ok(response) = metrics_page(shared, req).await;
            Ok::<_, Infallible>(response.map(|inner| guarded(inner, over)))
        }
    };
    let events = ConnEvents {
        refused: metrics::refused_metrics_connection,
        evicted: || {},
    };
    serve_connections(listener, limits, conns, events, shutdown, grace, handler).await
}

/// Accept connections until `shutdown` turns true, each served by `handler` within
/// `limits` and the connection table's `conns` limits (see [`super::conns`]: past a cap the
/// oldest idle or header-pending connection is closed to make room, and only when every
/// connection is busy does a new one get `503`); then stop accepting and let the
/// connections in flight finish for at most `grace`. `handler` gets each request, its peer
/// and its [`RequestOver`] mark, which its response body must keep ([`guarded`]) until the
/// response is over.
async fn serve_connections<H, F, R, E>(
    listener: tokio::net::TcpListener,
    limits: HttpLimits,
    conns: ConnLimits,
    events: ConnEvents<R, E>,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
    handler: H,
) -> anyhow::Result<()>
where
    H: Fn(Request<Incoming>, SocketAddr, RequestOver) -> F + Clone + Send + 'static,
    F: Future<Output = Result<Response<Body>, Infallible>> + Send + 'static,
    R: Fn(),
    E: Fn(),
{
    let table = Arc::new(Conns::new(conns));
    let graceful = GracefulShutdown::new();
    let mut failures = 0u32;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => break,
        };
        let Some((stream, peer)) = accepted_or_back_off(accepted, &mut failures).await? else {
            continue;
        };
        let Some((stream, admitted)) = admit(&table, &events, stream, peer) else {
            continue;
        };
        serve_connection(
            stream,
            peer,
            admitted,
            &table,
            &graceful,
            limits,
            handler.clone(),
        );
    }
    drop(listener);
    drain(graceful, grace).await;
    Ok(())
}

/// One `accept`'s outcome: the connection, with `TCP_NODELAY`; or, when it failed (out
/// of file descriptors and the like), `None` after a 50 ms back-off, and an error once
/// the listener has failed more than 1000 times in a row.
async fn accepted_or_back_off(
    accepted: std::io::Result<(TcpStream, SocketAddr)>,
    failures: &mut u32,
) -> anyhow::Result<Option<(TcpStream, SocketAddr)>> {
    match accepted {
        Ok(x) => {
            *failures = 0;
            // Responses go out in several writes (headers, chunks): without NODELAY,
            // Nagle holds the next small write until the client's delayed ACK (~40 ms).
            let _ = x.0.set_nodelay(true);
            Ok(Some(x))
        }
        Err(e) => {
            // Out of file descriptors and the like: back off, keep serving; a listener
            // that keeps failing is a server that can no longer serve.
            *failures += 1;
            log::event("accept-failed", &[("cause", &e.to_string())]);
            if *failures > 1000 {
                anyhow::bail!("the listener keeps failing: {e}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok(None)
        }
    }
}

/// A place in the connection table for `stream` from `peer`, with each connection
/// closed to make room counted; `None` when there is none: counted, and the connection
/// is answered `503` ([`busy`]) in a task of its own.
fn admit<R: Fn(), E: Fn()>(
    table: &Conns,
    events: &ConnEvents<R, E>,
    stream: TcpStream,
    peer: SocketAddr,
) -> Option<(TcpStream, Admitted)> {
    let admitted = match table.admit(peer.ip()) {
        Ok(a) => a,
        Err(why) => {
            (events.refused)();
            tokio::spawn(busy(stream, why));
            return None;
        }
    };
    for _ in 0..admitted.evictions {
        (events.evicted)();
    }
    Some((stream, admitted))
}

/// Serve an admitted connection in a task of its own: hyper's HTTP/1.1 with the header
/// deadline and 16 KiB of buffer, writes bounded by the idle deadline, each request marked
/// busy in the table until its response is over. The task ends with the connection, or
/// when the table closes it to make room; either way it leaves the table.
fn serve_connection<H, F>(
    stream: TcpStream,
    peer: SocketAddr,
    admitted: Admitted,
    table: &Arc<Conns>,
    graceful: &GracefulShutdown,
    limits: HttpLimits,
    handler: H,
) where
    H: Fn(Request<Incoming>, SocketAddr, RequestOver) -> F + Send + 'static,
    F: Future<Output = Result<Response<Body>, Infallible>> + Send + 'static,
{
    let mut timed = tokio_io_timeout::TimeoutStream::new(stream);
    // Reads are bounded by hyper's header deadline and the body's idle deadline; a
    // client that stops reading what we send is dropped after the idle deadline.
    timed.set_write_timeout(Some(limits.idle_timeout));
    let io = TokioIo::new(Box::pin(timed));
    let (service_table, id) = (table.clone(), admitted.id);
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        // A request in flight: this connection is never closed to make room.
        service_table.busy(id);
        let over = RequestOver {
            conns: service_table.clone(),
            id,
        };
        // The handler attaches `over` to its response body, with its own guard.
        handler(req, peer, over)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        // hyper's adaptive read buffer (8 KiB at the first read, up to 16 KiB of headers)
        // is kept: 10,000 idle keep-alive connections that each had one forward-auth answer
        // measured 194 MB of RSS (175 MB with no request sent; issue 24's bound is 200 MB),
        // and an exact 4 KiB buffer (`read_buf_exact_size`) would also cap headers at 4 KiB.
        .max_buf_size(16 * 1024)
        .serve_connection(io, service);
    let conn = graceful.watch(conn);
    let (table, evicted) = (table.clone(), admitted.evicted);
    tokio::spawn(async move {
        tokio::select! {
            _ = conn => {}
            // Closed to make room (it was idle or waiting for headers): dropping the
            // connection closes the socket.
            _ = evicted => {}
        }
        table.close(id);
    });
}

/// Once accepting has stopped: let the connections in flight finish for at most
/// `grace`, then log that some are still open.
async fn drain(graceful: GracefulShutdown, grace: Duration) {
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => {
            log::event("shutdown", &[("note", "connections still open after the grace period")]);
        }
    }
}

/// Turn a connection away: `503` with `Retry-After`, then close (bounded writes).
async fn busy(mut stream: TcpStream, why: Refused) {
    let body = match why {
        Refused::PeerFull => "forge-authz: too many connections from your address, try again\n",
        Refused::Full => "forge-authz: too many connections, try again\n",
    };
    let busy = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.write_all(busy.as_bytes())).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.shutdown()).await;
}

/// One request on the metrics listener: `GET /metrics`, else `404`. The body, if any, is
/// never read.
async fn metrics_page(
    shared: std::sync::Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    if req.method() == hyper::Method::GET && req.uri().path() == "/metrics" {
        let page = metrics::render(&shared.counters, &shared.live, shared.config_version());
        let mut r = text(200, page);
        set_static(&mut r, hyper::header::CONTENT_TYPE, metrics::CONTENT_TYPE);
        return Ok(r);
    }
    Ok(text(404, "not found\n"))
}
