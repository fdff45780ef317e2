//! Forward auth (`/-/auth`): the decision for the request a reverse proxy describes, in
//! the header family the configuration names, answered as that proxy must receive it.

#[allow(unused_imports)]
use super::*;

/// The status header every forward-auth answer carries: the decision's own status, even
/// when the HTTP status is the one nginx can read (see [`for_proxy`]).
pub const STATUS_HEADER: &str = "X-Forge-Authz-Status";

/// [`STATUS_HEADER`]'s name as sent.
const STATUS_NAME: HeaderName = HeaderName::from_static("x-forge-authz-status");

/// A forward-auth answer as `family`'s proxy must receive it. Every answer carries its
/// status in [`STATUS_HEADER`]. nginx's `auth_request` understands only `2xx`, `401` and
/// `403` (any other status is its own `500`, and "auth request unexpected status" in its
/// error log), so for nginx every other refusal — a concealed repository's `404`, a `400`,
/// a `503` — is sent as `403`; the README's nginx configuration reads the header and
/// answers the client with the real status, so hidden and missing repositories still
/// answer alike. `401` keeps its `WWW-Authenticate` challenge (nginx passes it on).
/// Traefik and Caddy pass answers through as they are.
fn for_proxy(family: ForwardAuth, mut r: Response<Body>) -> Response<Body> {
    let status = r.status().as_u16();
    match status_text(status) {
        std::borrow::Cow::Borrowed(code) => set_static(&mut r, STATUS_NAME, code),
        std::borrow::Cow::Owned(code) => set(&mut r, STATUS_NAME, &code),
    }
    if family == ForwardAuth::Nginx && !r.status().is_success() && !matches!(status, 401 | 403) {
        *r.status_mut() = StatusCode::FORBIDDEN;
    }
    r
}

/// `GET /-/auth`: the decision for the request a reverse proxy describes. The header
/// family is configuration: a request carrying the other family, or two of one header,
/// is refused (a client behind `auth_request` can add `X-Forwarded-*` itself).
pub(super) async fn forward_auth(
    state: &Arc<HttpState>,
    req: &Request<Incoming>,
    peer: &SocketAddr,
) -> Response<Body> {
    let Some(family) = state.forward_auth else {
        return text(404, "not found\n");
    };
    for_proxy(family, forward_auth_answer(state, family, req, peer).await)
}

async fn forward_auth_answer(
    state: &Arc<HttpState>,
    family: ForwardAuth,
    req: &Request<Incoming>,
    peer: &SocketAddr,
) -> Response<Body> {
    let (method_h, uri_h, other) = family.headers();
    let spoofed = other.iter().any(|h| req.headers().contains_key(*h));
    let (Ok(method), Ok(uri), Ok(authorization)) = (
        header(req, method_h),
        header(req, uri_h),
        header(req, hyper::header::AUTHORIZATION),
    ) else {
        request_log("AUTH", "-", 400, "request-invalid", "-", peer);
        return invalid("conflicting forward-auth headers");
    };
    if spoofed {
        request_log("AUTH", "-", 400, "request-invalid", "-", peer);
        return invalid("forward-auth headers of another proxy family");
    }
    let (method, uri) = (method.unwrap_or("GET"), uri.unwrap_or(""));
    let Some((repo, action, _)) = parse_git_url(method, uri) else {
        request_log("AUTH", uri, 400, "request-invalid", "-", peer);
        return invalid("not a git smart-HTTP request");
    };
    let asked = state.shared.asked("forward-auth", Some(*peer), Some(uri));
    let GitAnswer {
        answer, principal, ..
    } = decide_git(
        &state.shared,
        authorization,
        state.client.of(req.headers(), peer.ip()),
        (repo, action),
        asked,
    );
    let d = &answer.decision;
    request_log("AUTH", uri, d.http(), d.code(), &principal, peer);
    let decided = answer.gathered.repository.as_deref().filter(|_| d.allow());
    let Some(repository) = decided else {
        // An allow without facts names nothing on disk: refuse it like a missing one.
        return if d.allow() {
            text(404, "not found\n")
        } else {
            refusal(d)
        };
    };
    let mut r = text(200, Bytes::new());
    set_static(&mut r, REASON_HEADER, d.code());
    // The verified owner of the credential (empty for anonymous), never the username the
    // client typed.
    set(
        &mut r,
        USER_HEADER,
        answer.gathered.user.as_deref().unwrap_or(""),
    );
    // The repository decided on (`owner/name` from its facts): the proxy serves this one,
    // never the URL's spelling.
    set(&mut r, REPOSITORY_HEADER, repository);
    if action == ActionDef::Push {
        // Forward auth sees no ref updates: protected refs are enforced only by the git
        // endpoint's hook (or the forge's own). Say so to the proxy.
        set_static(&mut r, REFS_HEADER, "unchecked");
    }
    r
}
