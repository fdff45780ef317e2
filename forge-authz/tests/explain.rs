//! `forge-authz decide --explain=text` as a person reads it (issue 25, "`--explain` for
//! people"): each rule in words with the facts that decided — a role, an expiry, a
//! binding — and never more than the verdict reveals (issue 13's concealment, issue 19:
//! a private repository the requester cannot see is explained as a missing one).
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

#[path = "support/cli.rs"]
mod cli;
#[path = "support/fleet.rs"]
mod harness;

use std::path::{Path, PathBuf};

use cli::run;
use forge_authz_testkit::Backend;
use harness::{Fleet, pg_fleet, sqlite_fleet};

/// 2026-01-01T00:00:00Z: the world's clock, so expiry times are known.
const NOW: i64 = 1_767_225_600;

/// A sample world (`forge-authz init`: bob is a read collaborator on the public
/// `alice/app`; `alice/secret` is private) with its clock at [`NOW`].
fn world(name: &str) -> (PathBuf, PathBuf) {
    let dir = forge_authz_testkit::scratch(&format!("forge-authz-explain-{name}-"));
    let world = dir.join("world.json");
    let w = world.to_str().unwrap();
    assert!(run(&["init", "--world", w], None).status.success());
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&world).unwrap()).unwrap();
    json["now"] = NOW.into();
    std::fs::write(&world, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    (dir, world)
}

/// `forge-authz mint --world W --owner OWNER --scope SCOPE EXTRA...`: the secret.
fn mint(world: &Path, owner: &str, scope: &str, extra: &[&str]) -> String {
    let w = world.to_str().unwrap();
    let args = ["mint", "--world", w, "--owner", owner, "--scope", scope];
    let out = run(&[&args[..], extra].concat(), None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A git request with a bearer token (or anonymous), at `now` if given.
fn git(secret: Option<&str>, repo: &str, action: &str, now: Option<i64>) -> String {
    let mut r = serde_json::json!({"repository": repo, "action": action});
    if let Some(s) = secret {
        r["credential"] = serde_json::json!({"bearer": s});
    }
    if let Some(t) = now {
        r["now"] = t.into();
    }
    r.to_string()
}

/// `decide --world W --request - --explain=FORMAT`: (exit status, stdout, stderr).
fn explain(world: &Path, format: &str, request: &str) -> (i32, String, String) {
    let flag = format!("--explain={format}");
    let w = world.to_str().unwrap();
    let out = run(
        &["decide", "--world", w, "--request", "-", &flag],
        Some(request),
    );
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The deciding step of a text explanation (the line marked with the verdict): its rule
/// and its words.
fn deciding<'a>(text: &'a str, verdict: &str) -> (&'a str, &'a str) {
    let line = text
        .lines()
        .rfind(|l| l.trim_start().starts_with(&format!("{verdict} ")))
        .unwrap_or_else(|| panic!("no deciding line in:\n{text}"));
    let rest = line
        .trim_start()
        .strip_prefix(verdict)
        .unwrap()
        .trim_start();
    let (rule, words) = rest.split_once(' ').unwrap();
    (rule, words.trim_start())
}

#[test]
fn an_allow_reads_as_every_rule_passed() {
    // Issue 25: the text for an allow names the verdict, and each rule consulted.
    let (dir, w) = world("allow");
    let secret = mint(&w, "alice", "write:repository", &[]);
    let (code, text, stderr) = explain(&w, "text", &git(Some(&secret), "alice/app", "push", None));
    assert_eq!(code, 0, "{stderr}");
    assert!(text.starts_with("allow: 200 granted\n"), "{text}");
    assert!(
        text.contains("why (each rule the policy consulted, in order):"),
        "{text}"
    );
    assert!(
        text.contains("the token's scopes: write:repository"),
        "{text}"
    );
    assert!(text.contains("`alice/app` exists"), "{text}");
    assert!(text.contains("role `admin`: enough for this"), "{text}");
    assert!(!text.contains(&secret), "the secret never appears");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_read_collaborators_push_says_the_role_and_what_push_needs() {
    // Issue 25: "your role is read, push needs write", not only `permission-denied`.
    let (dir, w) = world("role");
    let secret = mint(&w, "bob", "write:repository", &[]);
    let (code, text, _) = explain(&w, "text", &git(Some(&secret), "alice/app", "push", None));
    assert_eq!(code, 1);
    assert!(text.starts_with("deny: 403 permission-denied\n"), "{text}");
    assert!(
        text.contains("you may read this repository but not push to it"),
        "{text}"
    );
    assert_eq!(
        deciding(&text, "deny"),
        ("role", "role `read` on `alice/app`; push needs `write`")
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn an_expired_token_says_when_it_expired() {
    // Issue 25: an expired token says when (ISO 8601 UTC, as tables show times).
    let (dir, w) = world("expired");
    let secret = mint(&w, "alice", "read:repository", &["--expires-in", "30d"]);
    let later = NOW + 60 * 86_400;
    let (code, text, _) = explain(
        &w,
        "text",
        &git(Some(&secret), "alice/app", "pull", Some(later)),
    );
    assert_eq!(code, 1);
    assert!(text.starts_with("deny: 401 token-expired\n"), "{text}");
    assert_eq!(
        deciding(&text, "deny"),
        ("token-expiry", "the token expired at 2026-01-31T00:00:00Z")
    );
    // The JSON trace carries the same fact in Unix seconds.
    let (_, json, _) = explain(
        &w,
        "json",
        &git(Some(&secret), "alice/app", "pull", Some(later)),
    );
    let d: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    let last = d["trace"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["detail"], "token-expired: expired at 1769817600");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_revoked_token_says_when_it_was_revoked() {
    // Issue 25: the facts that decided, for a revoked token as for an expired one.
    let (dir, w) = world("revoked");
    let secret = mint(&w, "alice", "read:repository", &[]);
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&w).unwrap()).unwrap();
    json["tokens"][0]["revoked"] = NOW.into();
    std::fs::write(&w, json.to_string()).unwrap();
    let (code, text, _) = explain(&w, "text", &git(Some(&secret), "alice/app", "pull", None));
    assert_eq!(code, 1);
    assert!(text.starts_with("deny: 401 token-revoked\n"), "{text}");
    assert_eq!(
        deciding(&text, "deny"),
        (
            "token-record",
            "the token was revoked at 2026-01-01T00:00:00Z"
        )
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_bound_token_used_elsewhere_says_what_it_is_bound_to() {
    // Issue 25: "token is bound to acme/widget only".
    let (dir, w) = world("bound");
    let secret = mint(&w, "alice", "read:repository", &["--repo", "alice/app"]);
    let (code, text, _) = explain(
        &w,
        "text",
        &git(Some(&secret), "alice/secret", "pull", None),
    );
    assert_eq!(code, 1);
    assert!(text.starts_with("deny: 401 token-not-bound\n"), "{text}");
    assert_eq!(
        deciding(&text, "deny"),
        (
            "binding",
            "the token is bound to repositories `alice/app` only: not valid for this target"
        )
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_concealed_private_repository_is_explained_as_a_missing_one() {
    // Issue 13's concealment (and issue 19 item 5) holds for the text: bob cannot see the
    // private `alice/secret`, so its explanation is a missing repository's, word for word
    // — no role, no visibility, nothing the plain `repository-not-found` does not say.
    let (dir, w) = world("conceal");
    let secret = mint(&w, "bob", "write:repository", &[]);
    for action in ["pull", "push"] {
        let (code, hidden, _) = explain(
            &w,
            "text",
            &git(Some(&secret), "alice/secret", action, None),
        );
        let (_, missing, _) = explain(
            &w,
            "text",
            &git(Some(&secret), "alice/nothere", action, None),
        );
        assert_eq!(code, 1);
        assert!(
            hidden.starts_with("deny: 404 repository-not-found\n"),
            "{hidden}"
        );
        assert_eq!(
            hidden.replace("alice/secret", "<target>"),
            missing.replace("alice/nothere", "<target>"),
            "{action}: hidden and missing explained alike"
        );
        for revealing in ["role", "private", "readable", "exists"] {
            assert!(
                !hidden.contains(revealing),
                "{action}: `{revealing}` in:\n{hidden}"
            );
        }
    }
    // Anonymous: the same 401 for a private and a missing repository.
    let (_, hidden, _) = explain(&w, "text", &git(None, "alice/secret", "pull", None));
    let (_, missing, _) = explain(&w, "text", &git(None, "alice/nothere", "pull", None));
    assert!(
        hidden.starts_with("deny: 401 authentication-required\n"),
        "{hidden}"
    );
    assert_eq!(
        hidden.replace("alice/secret", "<target>"),
        missing.replace("alice/nothere", "<target>")
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn json_stays_one_line_and_a_pipe_gets_json() {
    // Issue 25: `--explain=json` keeps the one JSON line; bare `--explain` prints JSON
    // when stdout is not a terminal (scripts and pipes parse it as before).
    let (dir, w) = world("json");
    let secret = mint(&w, "bob", "write:repository", &[]);
    let req = git(Some(&secret), "alice/app", "push", None);
    let (_, json, _) = explain(&w, "json", &req);
    assert_eq!(json.lines().count(), 1);
    let d: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(d["reason"], "permission-denied");
    let out = run(
        &[
            "decide",
            "--world",
            w.to_str().unwrap(),
            "--request",
            "-",
            "--explain",
        ],
        Some(&req),
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), json);
    // A format it does not know is a usage error naming the ones it does.
    let (code, _, stderr) = explain(&w, "yaml", &req);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("text") && stderr.contains("json"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_terminal_gets_text() {
    // Issue 25 ("text for people"): bare `--explain` on a terminal prints words. The
    // terminal is `script`'s pseudo-terminal (util-linux).
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: no `script` to give the command a terminal");
        return;
    }
    let (dir, w) = world("tty");
    let secret = mint(&w, "bob", "write:repository", &[]);
    let req = dir.join("push.json");
    std::fs::write(&req, git(Some(&secret), "alice/app", "push", None)).unwrap();
    let command = format!(
        "'{}' decide --world '{}' --request '{}' --explain",
        cli::bin().display(),
        w.display(),
        req.display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap().replace("\r\n", "\n");
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.starts_with("deny: 403 permission-denied\n"), "{text}");
    assert_eq!(
        deciding(&text, "deny"),
        ("role", "role `read` on `alice/app`; push needs `write`")
    );
    std::fs::remove_dir_all(dir).ok();
}

/// bob reads alice's public `alice/app`; `alice/secret` is private.
const STORE_WORLD: &str = r#"{
  "keys": [{"id": "k1", "secret": "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"}],
  "signing_key": "k1",
  "users": [{"name": "alice"}, {"name": "bob"}],
  "repositories": [
    {"owner": "alice", "name": "app", "collaborators": {"bob": "read"}},
    {"owner": "alice", "name": "secret", "private": true}
  ]
}"#;

/// A store holding [`STORE_WORLD`] (`None`: PostgreSQL skipped by `FORGE_AUTHZ_SKIP_PG=1`).
fn store(b: Backend, name: &str) -> Option<Fleet> {
    let f = match b {
        Backend::Sqlite => sqlite_fleet(name),
        Backend::Postgres => pg_fleet(&format!("explain_{name}"))?,
    };
    let world = f.dir.join("explain-world.json");
    std::fs::write(&world, STORE_WORLD).unwrap();
    f.ok(&["import", "--db", &f.db, "--world", world.to_str().unwrap()]);
    Some(f)
}

/// `decide --db` explains on the store's facts as on a world's (issue 25: the text mode;
/// README "Why was this refused?"), on SQLite and PostgreSQL: the role that refused a
/// push, the time a token expired, and a hidden repository explained as a missing one.
fn store_decisions_are_explained_alike(f: Fleet) {
    let token = |name: &str, more: &[&str]| {
        let mut args = vec![
            "token",
            "create",
            "--db",
            &f.db,
            "--owner",
            "bob",
            "--name",
            name,
            "--scope",
            "write:repository",
            "--json",
        ];
        args.extend_from_slice(more);
        let v = f.json(&args);
        let secret = v["secret"].as_str().unwrap().to_owned();
        (secret, v["token"]["expires"].as_i64())
    };
    let decide = |request: &str| {
        let out = run(
            &["decide", "--db", &f.db, "--request", "-", "--explain=text"],
            Some(request),
        );
        let text = String::from_utf8(out.stdout).unwrap();
        (out.status.code().unwrap(), text)
    };
    let (secret, _) = token("unlimited", &[]);
    let (code, text) = decide(&git(Some(&secret), "alice/app", "push", None));
    assert_eq!(code, 1);
    assert_eq!(
        deciding(&text, "deny"),
        ("role", "role `read` on `alice/app`; push needs `write`")
    );
    let (_, hidden) = decide(&git(Some(&secret), "alice/secret", "push", None));
    let (_, missing) = decide(&git(Some(&secret), "alice/nothere", "push", None));
    assert_eq!(
        hidden.replace("alice/secret", "<target>"),
        missing.replace("alice/nothere", "<target>")
    );
    assert!(!hidden.contains("role"), "{hidden}");
    let (secret, expires) = token("a-day", &["--expires-in", "1d"]);
    let expires = expires.expect("token create --json names the expiry");
    let (code, text) = decide(&git(Some(&secret), "alice/app", "pull", Some(expires + 1)));
    assert_eq!(code, 1);
    let when = forge_authz_guest::site::time::utc(expires);
    assert_eq!(
        deciding(&text, "deny"),
        (
            "token-expiry",
            format!("the token expired at {when}").as_str()
        )
    );
}

forge_authz_testkit::both!(store_decisions_are_explained_alike, |b| store(b, "store"));

/// Each refusing reason code and what its deciding line must say: the facts the policy
/// noted (a role, a binding, an account's state) where it notes any, else what the reason
/// means and what to do. `site-refused` is a site policy's (the shipped module never
/// returns it): `explain::reasons`' own test covers its words.
const REASON_WORDS: &[(&str, &str)] = &[
    ("request-invalid", "fix what the detail names"),
    (
        "conflicting-credentials",
        "send one access token, key or session",
    ),
    ("ref-name-invalid", "rename the ref"),
    ("repository-exists", "push to it instead of creating it"),
    ("authentication-required", "send an access token"),
    ("token-invalid", "copy it again, or create a new one"),
    ("token-unknown", "this server has no record of the token"),
    ("token-expired", "the token expired at "),
    ("token-revoked", "the token was revoked at "),
    ("account-inactive", "the account `dave` is inactive: "),
    (
        "username-mismatch",
        "the token belongs to `alice`; the username sent is ",
    ),
    ("token-not-bound", "the token is bound to "),
    ("token-not-allowed", "do it signed in to the forge"),
    ("credential-not-allowed", "use an access token here"),
    ("scope-missing", "the token's scopes are "),
    ("scope-unknown", "create a new token"),
    (
        "token-public-only",
        "the token is public-only; `lim` is limited: ",
    ),
    ("permission-denied", "` on `"),
    ("repository-mirror", "push to the source instead"),
    ("repository-import", "nobody can push to it"),
    ("repository-archived", "its owner can unarchive it"),
    (
        "deploy-key-read-only",
        "a read-only deploy key; push needs write",
    ),
    ("restricted-token", "the token is bound to "),
    ("admin-required", "`alice` is not a site administrator: "),
    ("sudo-denied", "the token lacks write:admin: "),
    (
        "create-denied",
        "role `read` in `opensrc`; creating a repository there needs `write`",
    ),
    ("ref-protected", "ask for push access on its rule"),
    (
        "force-push-protected",
        "push without rewriting or deleting it",
    ),
    ("ip-not-allowed", "connect from an allowed network"),
    (
        "repository-not-found",
        "no such repository for this credential (a missing repository and one it may not see are answered alike)",
    ),
    (
        "namespace-not-found",
        "no such user or organization for this credential",
    ),
];

#[test]
fn every_refusal_reason_is_explained_in_words() {
    // Issue 25 ("`--explain` for people"): every reason code the policy refuses with reads
    // as words a person can act on, with the facts that decided; one case per code, the
    // first scenario of the corpus (tests/scenarios, README "Scenario corpus") refused
    // with it, decided by the real binary. A refusal code missing from this table, or
    // from the corpus, fails the test.
    use forge_authz_guest::policy::Reason;
    let dir = forge_authz_testkit::scratch("forge-authz-explain-reasons-");
    let mut seen = std::collections::BTreeSet::new();
    for fam in forge_authz_fixture::scenario::load_corpus().unwrap() {
        let make =
            |c: &forge_authz_guest::policy::Config| forge_authz_fixture::native::Native::new(c);
        let x = forge_authz_fixture::scenario::expand(&fam, &make).unwrap();
        let world = dir.join(format!("{}.json", fam.family));
        std::fs::write(&world, x["world"].to_string()).unwrap();
        for sc in x["scenarios"].as_array().unwrap() {
            let Some(code) = sc["output"]["reason"].as_str() else {
                continue;
            };
            let refusal = Reason::from_code(code).is_some_and(|r| !r.allows());
            if !refusal || !seen.insert(code.to_string()) {
                continue;
            }
            let (status, text, stderr) = explain(&world, "text", &sc["request"].to_string());
            assert_eq!(status, 1, "{}: {stderr}", sc["name"]);
            assert!(text.starts_with("deny: "), "{text}");
            let line = text
                .lines()
                .rfind(|l| l.trim_start().starts_with("deny "))
                .unwrap_or_else(|| panic!("{code}: no deciding line in:\n{text}"));
            eprintln!("{code:<24} {line}");
            let (_, want) = REASON_WORDS
                .iter()
                .find(|(c, _)| *c == code)
                .unwrap_or_else(|| panic!("`{code}` has no expected words here"));
            assert!(line.contains(want), "{code} ({}):\n{text}", sc["name"]);
        }
    }
    let missing: Vec<_> = Reason::ALL
        .iter()
        .filter(|r| !r.allows() && *r != &Reason::SiteRefused)
        .filter(|r| !seen.contains(r.code()))
        .map(|r| r.code())
        .collect();
    assert!(
        missing.is_empty(),
        "no corpus scenario refuses with {missing:?}"
    );
    std::fs::remove_dir_all(dir).ok();
}
