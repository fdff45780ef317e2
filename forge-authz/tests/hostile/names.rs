//! Name confusion: `.git` names, `.git.git` directories, path tricks and case variants
//! never open another repository (issue 8).

use super::forge::*;

// ---------------------------------------------------------------------------------------
// issue 8: name confusion.
// ---------------------------------------------------------------------------------------

/// `forge-authz COMMAND --db DB --world FILE` (`init-db`, `import`, `export`).
fn with_world(
    command: &str,
    db: &std::path::Path,
    world: &std::path::Path,
) -> std::process::Output {
    let (db, world) = (db.to_str().unwrap(), world.to_str().unwrap());
    cli(&[command, "--db", db, "--world", world])
}

#[test]
fn a_repository_named_dot_git_cannot_be_imported() {
    // issue 8: a public alice/app and a private alice/app.git cannot coexist: a world with
    // a repository named `app.git` is refused by init-db and by import, and a refused
    // import leaves the database as it was.
    let s = Setup::new("dotgit-import");
    let mut world = default_world();
    world["repositories"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"owner": "alice", "name": "app.git", "private": true}));
    let file = s.dir.join("confusing.json");
    std::fs::write(&file, world.to_string()).unwrap();
    let fresh = s.dir.join("fresh.db");
    let o = with_world("init-db", &fresh, &file);
    assert!(
        !o.status.success(),
        "init-db accepted alice/app.git: {}",
        both(&o)
    );
    let o = with_world("import", &s.db, &file);
    assert!(
        !o.status.success(),
        "import accepted alice/app.git: {}",
        both(&o)
    );
    // Alone, too (no alice/app beside it).
    let alone = serde_json::json!({
        "keys": [{"id": "k1", "secret": "5a".repeat(32)}],
        "signing_key": "k1",
        "users": [{"name": "alice"}],
        "repositories": [{"owner": "alice", "name": "tool.git"}]
    });
    std::fs::write(&file, alone.to_string()).unwrap();
    let o = with_world("import", &s.db, &file);
    assert!(
        !o.status.success(),
        "import accepted alice/tool.git: {}",
        both(&o)
    );
    let out = s.dir.join("export.json");
    let o = with_world("export", &s.db, &out);
    assert!(o.status.success(), "{}", both(&o));
    let exported = std::fs::read_to_string(&out).unwrap();
    assert!(
        exported.contains("\"secret\"")
            && !exported.contains("app.git")
            && !exported.contains("tool.git"),
        "a refused import changed the database: {exported}"
    );
}

#[test]
fn a_dot_git_dot_git_directory_on_disk_never_leaks() {
    // issue 8: repos/alice/app.git.git exists on disk (made by hand, with a commit) but is
    // no repository of the forge: anonymous (and token) requests for
    // /alice/app.git.git/... are refused 4xx and never return its content.
    let s = Setup::new("dotgit-disk");
    let canary = s.seed("alice", "app.git", &[("LEAK".into(), b"leaked\n".to_vec())]);
    assert!(s.repos.join("alice").join("app.git.git").is_dir());
    git_ok(
        &s.repos.join("alice").join("app.git.git"),
        &s.home,
        &["branch", SECRET_BRANCH, "main"],
    );
    let srv = s.serve(&[]);
    let rw = s.token("alice", "rw", "write:repository");
    let leaks = |r: &Reply, asked: &[u8]| leaked(&r.text(), asked, &canary);
    let mut not_refused = Vec::new();
    for auth in [None, Some(basic("alice", &rw))] {
        let mut headers = vec![("Content-Type", "application/x-git-upload-pack-request")];
        if let Some(a) = &auth {
            headers.push(("Authorization", a.as_str()));
        }
        for (method, path, body) in [
            (
                "GET",
                "/alice/app.git.git/info/refs?service=git-upload-pack",
                Vec::new(),
            ),
            ("GET", "/alice/app.git.git/info/refs", Vec::new()),
            ("GET", "/alice/app.git.git/HEAD", Vec::new()),
            (
                "POST",
                "/alice/app.git.git/git-upload-pack",
                want_body(&canary),
            ),
            (
                "GET",
                "/alice/app.git.git/info/refs?service=git-receive-pack",
                Vec::new(),
            ),
        ] {
            let r = http(srv.port, method, path, &headers, &body);
            let who = if auth.is_some() { "token" } else { "anonymous" };
            assert!(
                !leaks(&r, &body),
                "{method} {path} ({who}) returned the content of repos/alice/app.git.git: {}",
                r.describe()
            );
            if !is_4xx(r.status) {
                not_refused.push(format!("{method} {path} ({who}): {}", r.describe()));
            }
        }
    }
    assert!(
        not_refused.is_empty(),
        "requests for /alice/app.git.git must be refused 4xx (no leak, but answered):\n{}",
        not_refused.join("\n")
    );
    // Real git: no content either.
    let o = s.ls_remote(srv.port, None, "alice/app.git");
    assert!(
        !text(&o.stdout).contains(&canary) && !text(&o.stdout).contains(SECRET_BRANCH),
        "ls-remote of alice/app.git.git leaked: {}",
        both(&o)
    );
    s.assert_clones(&srv, "after name-confusion requests");
}

/// Paths that name the private alice/secret (however a server may decode them): its own
/// name, case variants, percent-encoding, dot segments, doubled and encoded slashes, trailing
/// bytes and absolute-form targets. The fuzzed requests (`framing::fuzz`) aim at them too.
pub(crate) const PRIVATE_PATHS: &[&str] = &[
    "/alice/secret.git",
    "/alice/secret",
    "/ALICE/SECRET.git",
    "/alice/Secret.git",
    "/alice/%73ecret.git",
    "/alice/secre%74.git",
    "/alice/secret%2Egit",
    "//alice/secret.git",
    "/alice//secret.git",
    "/./alice/secret.git",
    "/alice/./secret.git",
    "/alice/app/../secret.git",
    "/alice/app.git/../secret.git",
    "/bob/pub/../../alice/secret.git",
    "/bob/pub.git/../../alice/secret.git",
    "/%2e/alice/secret.git",
    "/alice/app.git/%2e%2e/secret.git",
    "/alice%2fsecret.git",
    "/alice%2Fsecret.git",
    "/alice/secret.git/",
    "/alice/secret.git.",
    "/alice/secret.git;x=1",
    "/alice/secret.git%00",
    "http://127.0.0.1/alice/secret.git",
    "HTTP://localhost:1/alice/secret.git",
];

#[test]
fn path_tricks_never_reach_the_private_repository() {
    // issue 8 (paths): each of PRIVATE_PATHS (percent-encoding, dot segments, doubled
    // slashes, case, encoded slashes, trailing bytes, absolute-form targets) that names the
    // private alice/secret: never 2xx for an anonymous client, never its refs in the answer.
    let s = Setup::new("paths");
    let srv = s.serve(&[]);
    for v in PRIVATE_PATHS {
        for (method, rest, body) in [
            ("GET", "/info/refs?service=git-upload-pack", Vec::new()),
            ("GET", "/info/refs", Vec::new()),
            ("GET", "/HEAD", Vec::new()),
            ("GET", "/objects/info/packs", Vec::new()),
            ("POST", "/git-upload-pack", want_body(&s.secret_sha)),
        ] {
            let path = format!("{v}{rest}");
            let r = http(
                srv.port,
                method,
                &path,
                &[("Content-Type", "application/x-git-upload-pack-request")],
                &body,
            );
            assert!(
                !is_2xx(r.status) && !leaked(&r.text(), &body, &s.secret_sha),
                "anonymous {method} {path} reached the private repository: {}",
                r.describe()
            );
        }
    }
    s.assert_clones(&srv, "after path tricks");
}

#[test]
fn case_variant_of_a_public_name_does_not_open_another_directory() {
    // issue 8 (case): repositories match case-insensitively in the store; an anonymous
    // request for /alice/APP.git (alice/app is public) must not serve a different
    // directory repos/alice/APP.git that exists on disk (made by hand).
    let s = Setup::new("case");
    let canary = s.seed("alice", "APP", &[("LEAK".into(), b"other\n".to_vec())]);
    let srv = s.serve(&[]);
    let r = http(
        srv.port,
        "GET",
        "/alice/APP.git/info/refs?service=git-upload-pack",
        &[],
        b"",
    );
    assert!(
        !r.text().contains(&canary),
        "/alice/APP.git served repos/alice/APP.git: {}",
        r.describe()
    );
    s.assert_serves(&srv, "after a case-variant request");
}
