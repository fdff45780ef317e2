//! Forward-auth spoofing: mixed or foreign proxy headers refused, the user header is the
//! verified token owner, `/-/auth` off by default (issue 5).

use super::forge::*;

// ---------------------------------------------------------------------------------------
// issue 5: forward-auth spoofing.
// ---------------------------------------------------------------------------------------

pub(crate) const UPLOAD_REFS: &str = "/alice/app.git/info/refs?service=git-upload-pack";

const PUSH: &str = "/alice/app.git/git-receive-pack";

/// Request headers, as sent.
type Headers<'a> = &'a [(&'a str, &'a str)];

/// Ask `/-/auth` with `headers`: its status must be `status`, and, where `inner` is given,
/// its `X-Forge-Authz-Status` (the answer an nginx-mode 403 stands for) `inner`.
fn ask_auth(
    port: u16,
    what: &str,
    headers: &[(&str, &str)],
    status: u16,
    inner: Option<&str>,
) -> Reply {
    let r = http(port, "GET", "/-/auth", headers, b"");
    assert_eq!(r.status, Some(status), "{what}: {}", r.describe());
    if inner.is_some() {
        let got = r.header("X-Forge-Authz-Status");
        assert_eq!(got.as_deref(), inner, "{what}: {}", r.describe());
    }
    r
}

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
    let cases: [(&str, Headers, u16, &str); 5] = [
        (
            "both header families",
            &[
                ("X-Original-URI", UPLOAD_REFS),
                ("X-Original-Method", "GET"),
                ("X-Forwarded-Uri", PUSH),
                ("X-Forwarded-Method", "POST"),
                ("Authorization", &auth),
            ],
            403,
            "400",
        ),
        (
            "X-Forwarded-* in nginx mode",
            &[
                ("X-Forwarded-Uri", PUSH),
                ("X-Forwarded-Method", "POST"),
                ("Authorization", &auth),
            ],
            403,
            "400",
        ),
        (
            "X-Forwarded-Uri only, nginx mode",
            &[("X-Forwarded-Uri", UPLOAD_REFS), ("Authorization", &auth)],
            403,
            "400",
        ),
        // The genuine nginx form still works (the refusals above are not a broken
        // endpoint).
        (
            "nginx form",
            &[
                ("X-Original-URI", UPLOAD_REFS),
                ("X-Original-Method", "GET"),
                ("Authorization", &auth),
            ],
            200,
            "200",
        ),
        // A push asked the nginx way with the read-only token is refused on its merits.
        (
            "read-only token pushing",
            &[
                ("X-Original-URI", PUSH),
                ("X-Original-Method", "POST"),
                ("Authorization", &auth),
            ],
            403,
            "403",
        ),
    ];
    for (what, headers, status, inner) in cases {
        let r = ask_auth(srv.port, what, headers, status, Some(inner));
        if status == 200 {
            let repository = r.header("X-Forge-Authz-Repository");
            assert_eq!(
                repository.as_deref(),
                Some("alice/app"),
                "the decided repository"
            );
        }
    }
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
    let cases: [(&str, Headers, u16); 3] = [
        (
            "both header families",
            &[
                ("X-Forwarded-Uri", UPLOAD_REFS),
                ("X-Forwarded-Method", "GET"),
                ("X-Original-URI", PUSH),
                ("X-Original-Method", "POST"),
                ("Authorization", &auth),
            ],
            400,
        ),
        (
            "X-Original-* in traefik mode",
            &[
                ("X-Original-URI", UPLOAD_REFS),
                ("X-Original-Method", "GET"),
                ("Authorization", &auth),
            ],
            400,
        ),
        (
            "traefik form",
            &[
                ("X-Forwarded-Uri", UPLOAD_REFS),
                ("X-Forwarded-Method", "GET"),
                ("Authorization", &auth),
            ],
            200,
        ),
    ];
    for (what, headers, status) in cases {
        let r = ask_auth(srv.port, what, headers, status, None);
        if status == 200 {
            assert_eq!(r.header("x-forge-authz-user").as_deref(), Some("alice"));
        }
    }
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
        let what = format!("Basic username {user}");
        let headers = [
            (
                "X-Original-URI",
                "/alice/secret.git/info/refs?service=git-upload-pack",
            ),
            ("X-Original-Method", "GET"),
            ("Authorization", &basic(user, &ro)),
            ("X-Forge-Authz-User", "root"),
        ];
        let r = ask_auth(srv.port, &what, &headers, 200, None);
        assert_eq!(
            r.header("x-forge-authz-user").as_deref(),
            Some("alice"),
            "Basic username {user}: {}",
            r.describe()
        );
    }
    let headers = [
        ("X-Original-URI", UPLOAD_REFS),
        ("X-Original-Method", "GET"),
        ("X-Forge-Authz-User", "alice"),
    ];
    let r = ask_auth(srv.port, "anonymous public pull", &headers, 200, None);
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
        ask_auth(
            plain.port,
            "/-/auth without --forward-auth",
            &headers,
            404,
            None,
        );
    }
    s.assert_serves(&plain, "after /-/auth without --forward-auth");
}
