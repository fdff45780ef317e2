//! Forward-auth spoofing: mixed or foreign proxy headers refused, the user header is the
//! verified token owner, `/-/auth` off by default (issue 5).

use super::forge::*;

// ---------------------------------------------------------------------------------------
// issue 5: forward-auth spoofing.
// ---------------------------------------------------------------------------------------

pub(crate) const UPLOAD_REFS: &str = "/alice/app.git/info/refs?service=git-upload-pack";

#[test]
fn nginx_forward_auth_refuses_mixed_or_foreign_headers() {
    // issue 5: with --forward-auth nginx, a request carrying BOTH X-Original-URI (a pull)
    // and X-Forwarded-Uri (a push), with methods, and a read-only token is refused 400;
    // X-Forwarded-* alone is refused 400 (nginx mode reads X-Original-* only). nginx's
    // auth_request understands only 2xx/401/403 (issue 20 item 2): the 400 is sent as 403
    // carrying `X-Forge-Authz-Status: 400`, which the README's nginx configuration maps back.
    let s = Setup::new("fwd-nginx");
    let srv = s.serve(&["--forward-auth", "nginx"]);
    let ro = s.token("alice", "ro", "read:repository");
    let auth = basic("alice", &ro);
    let r = http(
        srv.port,
        "GET",
        "/-/auth",
        &[
            ("X-Original-URI", UPLOAD_REFS),
            ("X-Original-Method", "GET"),
            ("X-Forwarded-Uri", "/alice/app.git/git-receive-pack"),
            ("X-Forwarded-Method", "POST"),
            ("Authorization", &auth),
        ],
        b"",
    );
    assert_eq!(
        r.status,
        Some(403),
        "both header families: {}",
        r.describe()
    );
    assert_eq!(
        r.header("X-Forge-Authz-Status").as_deref(),
        Some("400"),
        "{}",
        r.describe()
    );
    let r = http(
        srv.port,
        "GET",
        "/-/auth",
        &[
            ("X-Forwarded-Uri", "/alice/app.git/git-receive-pack"),
            ("X-Forwarded-Method", "POST"),
            ("Authorization", &auth),
        ],
        b"",
    );
    assert_eq!(
        r.status,
        Some(403),
        "X-Forwarded-* in nginx mode: {}",
        r.describe()
    );
    assert_eq!(
        r.header("X-Forge-Authz-Status").as_deref(),
        Some("400"),
        "{}",
        r.describe()
    );
    let r = http(
        srv.port,
        "GET",
        "/-/auth",
        &[("X-Forwarded-Uri", UPLOAD_REFS), ("Authorization", &auth)],
        b"",
    );
    assert_eq!(
        r.status,
        Some(403),
        "X-Forwarded-Uri only, nginx mode: {}",
        r.describe()
    );
    assert_eq!(
        r.header("X-Forge-Authz-Status").as_deref(),
        Some("400"),
        "{}",
        r.describe()
    );
    // The genuine nginx form still works (the refusals above are not a broken endpoint).
    let r = http(
        srv.port,
        "GET",
        "/-/auth",
        &[
            ("X-Original-URI", UPLOAD_REFS),
            ("X-Original-Method", "GET"),
            ("Authorization", &auth),
        ],
        b"",
    );
    assert_eq!(r.status, Some(200), "nginx form: {}", r.describe());
    assert_eq!(r.header("X-Forge-Authz-Status").as_deref(), Some("200"));
    assert_eq!(
        r.header("X-Forge-Authz-Repository").as_deref(),
        Some("alice/app"),
        "the decided repository: {}",
        r.describe()
    );
    // A push asked the nginx way with the read-only token is refused on its merits.
    let r = http(
        srv.port,
        "GET",
        "/-/auth",
        &[
            ("X-Original-URI", "/alice/app.git/git-receive-pack"),
            ("X-Original-Method", "POST"),
            ("Authorization", &auth),
        ],
        b"",
    );
    assert_eq!(
        r.status,
        Some(403),
        "read-only token pushing: {}",
        r.describe()
    );
    assert_eq!(
        r.header("X-Forge-Authz-Status").as_deref(),
        Some("403"),
        "{}",
        r.describe()
    );
    s.assert_serves(&srv, "after forward-auth spoofing");
}

#[test]
fn traefik_forward_auth_refuses_mixed_headers() {
    // issue 5 (the other family): --forward-auth traefik reads X-Forwarded-* only; both
    // families at once are refused 400, X-Original-* alone is refused 400.
    let s = Setup::new("fwd-traefik");
    let srv = s.serve(&["--forward-auth", "traefik"]);
    let ro = s.token("alice", "ro", "read:repository");
    let auth = basic("alice", &ro);
    let r = http(
        srv.port,
        "GET",
        "/-/auth",
        &[
            ("X-Forwarded-Uri", UPLOAD_REFS),
            ("X-Forwarded-Method", "GET"),
            ("X-Original-URI", "/alice/app.git/git-receive-pack"),
            ("X-Original-Method", "POST"),
            ("Authorization", &auth),
        ],
        b"",
    );
    assert_eq!(
        r.status,
        Some(400),
        "both header families: {}",
        r.describe()
    );
    let r = http(
        srv.port,
        "GET",
        "/-/auth",
        &[
            ("X-Original-URI", UPLOAD_REFS),
            ("X-Original-Method", "GET"),
            ("Authorization", &auth),
        ],
        b"",
    );
    assert_eq!(
        r.status,
        Some(400),
        "X-Original-* in traefik mode: {}",
        r.describe()
    );
    let r = http(
        srv.port,
        "GET",
        "/-/auth",
        &[
            ("X-Forwarded-Uri", UPLOAD_REFS),
            ("X-Forwarded-Method", "GET"),
            ("Authorization", &auth),
        ],
        b"",
    );
    assert_eq!(r.status, Some(200), "traefik form: {}", r.describe());
    assert_eq!(r.header("x-forge-authz-user").as_deref(), Some("alice"));
    s.assert_serves(&srv, "after forward-auth spoofing");
}

#[test]
fn forward_auth_user_is_the_token_owner_and_off_by_default() {
    // issue 5: X-Forge-Authz-User on an allowed request is the token's owner whatever Basic
    // username the client sent (git, token, ALICE), empty or absent for anonymous, and a
    // client's own X-Forge-Authz-User is never echoed; without --forward-auth, /-/auth
    // answers 404.
    let s = Setup::new("fwd-user");
    let srv = s.serve(&["--forward-auth", "nginx"]);
    let ro = s.token("alice", "ro", "read:repository");
    for user in ["git", "token", "ALICE", "alice", "x-access-token"] {
        let r = http(
            srv.port,
            "GET",
            "/-/auth",
            &[
                (
                    "X-Original-URI",
                    "/alice/secret.git/info/refs?service=git-upload-pack",
                ),
                ("X-Original-Method", "GET"),
                ("Authorization", &basic(user, &ro)),
                ("X-Forge-Authz-User", "root"),
            ],
            b"",
        );
        assert_eq!(
            r.status,
            Some(200),
            "Basic username {user}: {}",
            r.describe()
        );
        assert_eq!(
            r.header("x-forge-authz-user").as_deref(),
            Some("alice"),
            "Basic username {user}: {}",
            r.describe()
        );
    }
    let r = http(
        srv.port,
        "GET",
        "/-/auth",
        &[
            ("X-Original-URI", UPLOAD_REFS),
            ("X-Original-Method", "GET"),
            ("X-Forge-Authz-User", "alice"),
        ],
        b"",
    );
    assert_eq!(
        r.status,
        Some(200),
        "anonymous public pull: {}",
        r.describe()
    );
    let user = r.header("x-forge-authz-user").unwrap_or_default();
    assert!(
        user.is_empty(),
        "anonymous must not carry a user (a client-sent header must not be echoed): {user:?}"
    );
    s.assert_serves(&srv, "after forward-auth requests");
    drop(srv);

    let plain = s.serve(&[]);
    for headers in [
        vec![
            ("X-Original-URI", UPLOAD_REFS),
            ("X-Original-Method", "GET"),
        ],
        vec![
            ("X-Forwarded-Uri", UPLOAD_REFS),
            ("X-Forwarded-Method", "GET"),
        ],
    ] {
        let r = http(plain.port, "GET", "/-/auth", &headers, b"");
        assert_eq!(
            r.status,
            Some(404),
            "/-/auth without --forward-auth: {}",
            r.describe()
        );
    }
    s.assert_serves(&plain, "after /-/auth without --forward-auth");
}
