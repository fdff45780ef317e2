//! Git smart HTTP (`info/refs`, `git-upload-pack`, `git-receive-pack`): a request is
//! decided, its body bounded, then handed to `git http-backend`, whose answer streams
//! back. Every refusal is logged and answered where it is found, in this order: route,
//! `Authorization`, decision, body size, body coding.

#[allow(unused_imports)]
use super::*;

/// What the request log records of a request before anything is decided: its method,
/// target (path and query, as sent) and peer.
pub(super) struct RequestLine {
    method: String,
    target: String,
    peer: SocketAddr,
}

impl RequestLine {
    /// The line of `req`, sent by `peer`.
    pub(super) fn of(req: &Request<Incoming>, peer: SocketAddr) -> RequestLine {
        let target = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default();
        RequestLine {
            method: req.method().as_str().to_string(),
            target,
            peer,
        }
    }

    /// This request's `request` log record: its answer's status and reason, and who acted.
    fn log(&self, status: u16, reason: &str, principal: &str) {
        request_log(
            &self.method,
            &self.target,
            status,
            reason,
            principal,
            &self.peer,
        );
    }
}

/// A request the policy allowed, with what serving it needs.
struct Allowed {
    /// What was decided on (a push registers it for its hook).
    request: RequestDef,
    /// How it was asked (a push's ref updates are logged with its request id).
    asked: Asked,
    /// Fetch or push.
    action: ActionDef,
    /// The path after `owner/name.git/` (`info/refs`, `git-upload-pack`...).
    rest: String,
    /// `owner/name` as decided (from the repository's facts, not from the URL).
    repository: String,
    /// Who acted (for the log and `REMOTE_USER`).
    principal: String,
    /// The decision's reason code (for the log).
    reason: &'static str,
}

/// How an allowed request's body may arrive.
struct BodyBounds {
    /// Largest body, bytes, counted after decoding.
    max: u64,
    /// Its coding (git never sees `Content-Encoding`).
    encoding: cgi::BodyEncoding,
}

/// A refusal, answered as it is (boxed: a response is large beside what the steps return
/// when they pass).
type Refused = Box<Response<Body>>;

/// Serve one git smart-HTTP request: decide it, bound its body, run git.
pub(super) async fn serve(
    state: &Arc<HttpState>,
    req: Request<Incoming>,
    line: &RequestLine,
) -> Response<Body> {
    let allowed = match authorize(state, &req, line).await {
        Ok(allowed) => allowed,
        Err(refused) => return *refused,
    };
    let bounds = match bound_body(&state.limits, &req, line, &allowed) {
        Ok(bounds) => bounds,
        Err(refused) => return *refused,
    };
    run_git(state, req, line, allowed, bounds).await
}

/// Ask the policy about the request: its URL names the repository and the action (else
/// `404`), its one `Authorization` header the credential (two are `400`). A refusal is the
/// decision's own answer; an allow without the repository's facts is `404` (nothing
/// decided on disk). Each refusal is logged.
async fn authorize(
    state: &Arc<HttpState>,
    req: &Request<Incoming>,
    line: &RequestLine,
) -> Result<Allowed, Refused> {
    let Some((repo, action, rest)) = parse_git_url(&line.method, &line.target) else {
        line.log(404, "not-found", "-");
        return Err(Box::new(text(404, "not found\n")));
    };
    let Ok(authorization) = header(req, hyper::header::AUTHORIZATION) else {
        line.log(400, "request-invalid", "-");
        return Err(Box::new(invalid("send one Authorization header")));
    };
    let asked = state
        .shared
        .asked("http", Some(line.peer), Some(&line.target));
    let GitAnswer {
        request,
        asked,
        answer,
        principal,
    } = decide_git(
        &state.shared,
        authorization,
        state.client.of(req.headers(), line.peer.ip()),
        (repo, action),
        asked,
    );
    let d = &answer.decision;
    let decided = answer.gathered.repository.clone().filter(|_| d.allow());
    let Some(repository) = decided else {
        line.log(d.http(), d.code(), &principal);
        return Err(Box::new(if d.allow() {
            // An allow without facts cannot be served: there is nothing decided on disk.
            text(404, "not found\n")
        } else {
            refusal(d)
        }));
    };
    Ok(Allowed {
        request,
        asked,
        action,
        rest,
        repository,
        principal,
        reason: d.code(),
    })
}

/// The bounds on an allowed request's body, checked before git starts: a `Content-Length`
/// over the action's limit (or not a number) is `413`, two `Content-Encoding` headers are
/// `400`, a coding other than plain or gzip is `415`. Each refusal is logged.
fn bound_body(
    limits: &HttpLimits,
    req: &Request<Incoming>,
    line: &RequestLine,
    allowed: &Allowed,
) -> Result<BodyBounds, Refused> {
    // Pushes carry packs; a fetch's body is only its wants and haves (a much smaller
    // limit: inflated `have` lines are CPU for upload-pack).
    let max = if allowed.action == ActionDef::Push {
        limits.max_body_bytes
    } else {
        limits.max_fetch_body_bytes
    };
    let too_long = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.parse::<u64>().map_or(true, |n| n > max));
    if too_long {
        line.log(413, "body-too-large", &allowed.principal);
        return Err(Box::new(text(413, "forge-authz: request body too large\n")));
    }
    let Ok(content_encoding) = header(req, hyper::header::CONTENT_ENCODING) else {
        line.log(400, "request-invalid", &allowed.principal);
        return Err(Box::new(invalid("send one Content-Encoding header")));
    };
    let Some(encoding) = cgi::BodyEncoding::parse(content_encoding) else {
        line.log(415, "unsupported-encoding", &allowed.principal);
        return Err(Box::new(text(
            415,
            "forge-authz: request bodies may be sent plain or gzip-encoded only\n",
        )));
    };
    Ok(BodyBounds { max, encoding })
}

/// Hand an allowed request to `git http-backend`, its body streamed within `bounds`, and
/// answer with git's output (logged with the decision's reason); git failing is `500`.
async fn run_git(
    state: &Arc<HttpState>,
    req: Request<Incoming>,
    line: &RequestLine,
    allowed: Allowed,
    bounds: BodyBounds,
) -> Response<Body> {
    let (push, guard) = register_push(state, line, &allowed).unzip();
    let query = line.target.split_once('?').map(|(_, q)| q).unwrap_or("");
    let get = |name: &str| header(&req, name).ok().flatten().map(str::to_string);
    let cgi_request = cgi::CgiRequest {
        method: &line.method,
        root: &state.repos,
        repository: &allowed.repository,
        rest: &allowed.rest,
        query,
        principal: &allowed.principal,
        content_type: get("content-type"),
        encoding: bounds.encoding,
        git_protocol: get("git-protocol"),
        push,
        max_body: bounds.max,
        idle: state.limits.idle_timeout,
        log_path: log::path_only(&line.target).to_string(),
        peer: line.peer.to_string(),
    };
    let (parts, body) = req.into_parts();
    drop(parts);
    match cgi::run(cgi_request, body).await {
        Ok(out) => {
            line.log(out.status, allowed.reason, &allowed.principal);
            git_response(out, guard)
        }
        Err(e) => {
            log::event("git-failed", &[("cause", &format!("{e:#}"))]);
            line.log(500, "git-failed", &allowed.principal);
            text(500, "internal error\n")
        }
    }
}

/// A push (a `POST` of `git-receive-pack`) registered for its hook: what git needs to
/// reach the hook (the hooks directory, the hook socket, the push's one-time id) and the
/// guard that ends the registration. `None` for anything else.
fn register_push(
    state: &Arc<HttpState>,
    line: &RequestLine,
    allowed: &Allowed,
) -> Option<((PathBuf, PathBuf, String), PushGuard)> {
    (allowed.action == ActionDef::Push && line.method == "POST").then(|| {
        let id = state.shared.begin_push(&allowed.request, &allowed.asked);
        let guard = PushGuard {
            shared: state.shared.clone(),
            id: id.clone(),
        };
        ((state.hooks.clone(), state.socket.clone(), id), guard)
    })
}

/// git's answer as the response: its status (`502` if that is no status), its headers
/// (any that HTTP cannot carry left out) and its streamed output, which keeps a push's
/// `guard` until it is dropped.
fn git_response(out: cgi::CgiResponse, guard: Option<PushGuard>) -> Response<Body> {
    let body = match guard {
        Some(g) => out.body.guarded(Box::new(g)),
        None => out.body,
    };
    let mut r = Response::new(body.boxed_unsync());
    *r.status_mut() = StatusCode::from_u16(out.status).unwrap_or(StatusCode::BAD_GATEWAY);
    for (k, v) in &out.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            r.headers_mut().append(n, v);
        }
    }
    r
}

/// Ends a push's registration when its response is over.
struct PushGuard {
    shared: Arc<Shared>,
    id: String,
}

impl Drop for PushGuard {
    fn drop(&mut self) {
        self.shared.end_push(&self.id);
    }
}
