//! The decision log (issue 25, "Logs that cannot answer why"; README "Decision log"):
//! `serve --decision-log PATH|-` and `git-shell --decision-log PATH` write one JSON line per
//! decision — every request kind (info/refs, upload-pack, receive-pack and each of its ref
//! updates, forward auth, anonymous, a bad token, SSH) — with the documented fields, the
//! same redaction as the request log (no secret, no query string), a file created 0600,
//! and a record that cannot be written failing its request closed.
//!
//! Through the real binary: a real `serve` on loopback with real git clients (the store
//! in SQLite and in PostgreSQL: the user and the token id come from the store's facts), and
//! `git-shell` driven as sshd's forced command (`GIT_SSH_COMMAND`, as
//! `hostile_processes.rs` does; sshd itself is tests/ssh.rs's).
// Tests: a broken expectation is a panic that says what broke.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

#[path = "support/forge.rs"]
mod forge;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use forge::*;
use forge_authz_testkit::{Backend, both};
use serde_json::Value;

/// The fields every record carries (README "Decision log").
const FIELDS: &[&str] = &[
    "at",
    "at_utc",
    "request_id",
    "host",
    "via",
    "client",
    "peer",
    "credential",
    "username",
    "user",
    "token",
    "action",
    "ref",
    "path",
    "repository",
    "verdict",
    "status",
    "status_class",
    "reason",
    "message",
    "module_sha256",
    "module_version",
    "module_generation",
];

/// Two public keys (only their fingerprints matter: `ssh-keys` finds a key by them).
const LAPTOP: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIKdghrDvXknZlIjFI4ZqyQmK12PhDzL1B99flCRPPMct";
const CI: &str = "AAAAC3NzaC1lZDI1NTE5AAAAICg0JH9kv2+kd/a5n7jBMh/J/UZG+YYR32p2qNvQnB6z";

fn world() -> Value {
    let mut w = default_world();
    w["ssh_keys"] = serde_json::json!([
        {"id": "laptop", "kind": "user", "owner": "alice",
         "public_key": format!("ssh-ed25519 {LAPTOP}")},
        {"id": "ci", "kind": "deploy", "repository": "alice/app", "read_only": true,
         "public_key": format!("ssh-ed25519 {CI}")}
    ]);
    w
}

/// The records of `text`: its lines that are JSON objects with an `at` (other lines are the
/// server's own log on the same stream), each checked to carry every documented field.
fn records(text: &str) -> Vec<Value> {
    let out: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("at").is_some())
        .collect();
    for r in &out {
        for f in FIELDS {
            assert!(r.get(*f).is_some(), "field `{f}` missing: {r}");
        }
        assert_eq!(r.as_object().unwrap().len(), FIELDS.len(), "{r}");
    }
    out
}

/// The records of the file at `path`, waiting (10 s at most) for `done` to hold.
fn settled(path: &Path, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let read = || records(&std::fs::read_to_string(path).unwrap_or_default());
    let start = std::time::Instant::now();
    loop {
        let r = read();
        if done(&r) || start.elapsed() > secs(10) {
            return r;
        }
        std::thread::sleep(ms(20));
    }
}

/// The records matching `want`: at least one (the first is returned).
fn some<'a>(all: &'a [Value], want: &[(&str, Value)]) -> &'a Value {
    all.iter()
        .find(|r| want.iter().all(|(k, v)| &r[*k] == v))
        .unwrap_or_else(|| panic!("no record {want:?} in:\n{all:#?}"))
}

/// The one record matching `want` (field = value pairs).
fn one<'a>(all: &'a [Value], want: &[(&str, Value)]) -> &'a Value {
    let found: Vec<&Value> = all
        .iter()
        .filter(|r| want.iter().all(|(k, v)| &r[*k] == v))
        .collect();
    assert_eq!(found.len(), 1, "want one record {want:?} in:\n{all:#?}");
    found[0]
}

fn s(v: &str) -> Value {
    Value::String(v.into())
}

/// The public id of a token (`fzpat_k1.<id><secret>.<mac>`: the first 16 characters of
/// its body).
fn token_id(token: &str) -> String {
    token.split('.').nth(1).unwrap()[..16].to_string()
}

/// No secret part of any of `tokens`, and no query string, anywhere in `text`.
fn assert_redacted(text: &str, tokens: &[&str]) {
    for t in tokens {
        for part in secret_parts(t) {
            assert!(
                !text.contains(&part),
                "a token's secret reached the log:\n{text}"
            );
        }
    }
    assert!(
        !text.contains("service="),
        "a query string reached the log:\n{text}"
    );
    assert!(
        !text.contains("access_token"),
        "a query string reached the log:\n{text}"
    );
}

/// A forge on `backend`: the repositories on disk, the store in SQLite or in a fresh
/// PostgreSQL database (`None`: PostgreSQL skipped, said by the harness).
fn forge_on(backend: Backend, name: &str) -> Option<Setup> {
    let mut s_ = Setup::with_world(name, &world(), &[("alice", "app"), ("alice", "secret")]);
    if backend == Backend::Postgres {
        let url =
            forge_authz_testkit::pg::shared_or_skip(name)?.fresh_database(&name.replace('-', "_"));
        let world_file = s_.dir.join("world.json");
        let o = cli(&[
            "init-db",
            "--db",
            &url,
            "--world",
            world_file.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "init-db: {}", both(&o));
        s_.db = url.into();
    }
    Some(s_)
}

both!(issue25_every_http_request_kind_is_one_redacted_record);
fn issue25_every_http_request_kind_is_one_redacted_record(backend: Backend) {
    let Some(s_) = forge_on(backend, "decision-log-http") else {
        return;
    };
    let log = s_.dir.join("decisions.jsonl");
    let srv = s_.serve(&[
        "--decision-log",
        log.to_str().unwrap(),
        "--forward-auth",
        "nginx",
    ]);
    let mode = std::fs::metadata(&log).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the decision log is created 0600");
    let alice = s_.token("alice", "rw", "write:repository");
    let carol = s_.token("carol", "c", "write:repository");

    // Anonymous info/refs and upload-pack of a public repository (a clone).
    let o = s_.clone_into(srv.port, None, "alice/app", "anon");
    assert!(o.status.success(), "{}", both(&o));
    // A bad token sent as the password of `dave`, on a private repository.
    let bad = format!("{}x", &alice[..alice.len() - 1]);
    let o = s_.ls_remote(srv.port, Some(("dave", &bad)), "alice/secret");
    assert!(!o.status.success());
    // A token in the path, and a token in the query string.
    let r = http(
        srv.port,
        "GET",
        &format!("/{alice}/x.git/info/refs?service=git-upload-pack"),
        &[],
        b"",
    );
    assert!(is_4xx(r.status), "{}", r.describe());
    let r = http(
        srv.port,
        "GET",
        &format!("/alice/app.git/info/refs?service=git-upload-pack&access_token={alice}"),
        &[],
        b"",
    );
    assert!(is_2xx(r.status), "{}", r.describe());
    // Forward auth, with alice's token.
    let r = http(
        srv.port,
        "GET",
        "/-/auth",
        &[
            ("X-Original-Method", "GET"),
            (
                "X-Original-URI",
                "/alice/secret.git/info/refs?service=git-upload-pack",
            ),
            ("Authorization", &format!("Bearer {alice}")),
        ],
        b"",
    );
    assert!(is_2xx(r.status), "{}", r.describe());
    // Carol (a write collaborator) pushes main (protected: admins) and a new branch.
    let work = s_.home.join("anon");
    git_ok(
        &work,
        &s_.home,
        &["commit", "-q", "--allow-empty", "-m", "c"],
    );
    let url = Setup::url(srv.port, Some(("carol", &carol)), "alice/app");
    let o = run_for(
        s_.git(&work)
            .args(["push", &url, "HEAD:main", "HEAD:refs/heads/carol"]),
        secs(120),
    );
    assert!(!o.status.success(), "main is protected: {}", both(&o));

    let all = settled(&log, |r| {
        r.iter().filter(|r| r["action"] == "ref-update").count() >= 2
    });
    let text = std::fs::read_to_string(&log).unwrap();
    assert_redacted(&text, &[&alice, &carol, &bad]);

    // The anonymous clone: an info/refs pull and an upload-pack pull, allowed.
    let info = some(
        &all,
        &[
            ("path", s("/alice/app.git/info/refs")),
            ("credential", s("anonymous")),
        ],
    );
    assert_eq!(info["verdict"], "allow");
    assert_eq!(info["action"], "pull");
    assert_eq!(info["via"], "http");
    assert_eq!(info["repository"], "alice/app");
    assert_eq!(info["user"], Value::Null);
    assert_eq!(info["status"], 200);
    assert_eq!(info["client"], "127.0.0.1");
    assert!(info["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert_eq!(info["module_sha256"].as_str().unwrap().len(), 64);
    let at = info["at"].as_i64().unwrap();
    assert!(info["at_utc"].as_str().unwrap().ends_with('Z'));
    assert!(
        (at - forge_authz_host::world::system_now()).abs() < 600,
        "{info}"
    );
    some(
        &all,
        &[
            ("path", s("/alice/app.git/git-upload-pack")),
            ("verdict", s("allow")),
        ],
    );

    // The bad token: denied, the typed username kept (unverified), no user, no token id.
    let dave = one(&all, &[("username", s("dave"))]);
    assert_eq!(dave["credential"], "password");
    assert_eq!(dave["verdict"], "deny");
    assert_eq!(dave["user"], Value::Null);
    assert_eq!(dave["token"], Value::Null);
    assert_eq!(
        dave["repository"], "alice/secret",
        "the operator's log names it"
    );
    assert_eq!(dave["status_class"], "unauthorized");

    // The token in the path: redacted in the path and in the repository asked.
    let pathed = one(&all, &[("path", s("/fzpat_[redacted]/x.git/info/refs"))]);
    assert_eq!(pathed["repository"], "fzpat_[redacted]/x");
    assert_eq!(pathed["verdict"], "deny");

    // Forward auth: alice, her token's id, the repository as stored.
    let fwd = one(&all, &[("via", s("forward-auth"))]);
    assert_eq!(fwd["user"], "alice");
    assert_eq!(fwd["credential"], "token");
    assert_eq!(fwd["token"], Value::String(token_id(&alice)));
    assert_eq!(fwd["path"], "/alice/secret.git/info/refs");
    assert_eq!(fwd["verdict"], "allow");

    // The push: its receive-pack decision and one record per ref, under its request id.
    let push = one(
        &all,
        &[
            ("path", s("/alice/app.git/git-receive-pack")),
            ("action", s("push")),
        ],
    );
    assert_eq!(push["user"], "carol");
    let main = one(&all, &[("ref", s("refs/heads/main"))]);
    assert_eq!(main["action"], "ref-update");
    assert_eq!(main["verdict"], "deny");
    assert_eq!(main["reason"], "ref-protected");
    assert_eq!(main["request_id"], push["request_id"]);
    let branch = one(&all, &[("ref", s("refs/heads/carol"))]);
    assert_eq!(branch["verdict"], "allow");
    assert_eq!(branch["request_id"], push["request_id"]);
    let ids: std::collections::BTreeSet<&str> = all
        .iter()
        .map(|r| r["request_id"].as_str().unwrap())
        .collect();
    assert!(ids.len() >= all.len() - 2, "each request has its own id");
    drop(srv);
}

#[test]
fn issue25_decision_log_on_standard_output() {
    let s_ = Setup::new("decision-log-stdout");
    let srv = s_.serve(&["--decision-log", "-"]);
    let o = s_.ls_remote(srv.port, None, "alice/secret");
    assert!(!o.status.success());
    let log = srv.settled_log("\"at\"");
    let all = records(&log);
    let r = one(&all, &[("repository", s("alice/secret"))]);
    assert_eq!(r["verdict"], "deny");
    assert_eq!(r["credential"], "anonymous");
}

#[test]
fn issue25_a_decision_that_cannot_be_recorded_is_refused() {
    if !Path::new("/dev/full").exists() {
        println!("SKIPPED: no /dev/full to make the decision log's writes fail");
        return;
    }
    let s_ = Setup::new("decision-log-full");
    let srv = s_.serve(&["--decision-log", "/dev/full"]);
    let r = info_refs(srv.port, "alice/app");
    assert_eq!(r.status, Some(503), "fail closed: {}", r.describe());
    let log = srv.settled_log("decision-log-failed");
    assert!(log.contains("decision-log-failed"), "{log}");
}

#[test]
fn issue25_git_shell_records_pulls_pushes_and_each_ref() {
    let s_ = Setup::with_world("decision-log-ssh", &world(), &[("alice", "app")]);
    let log = s_.dir.join("ssh-decisions.jsonl");
    let shell = s_.dir.join("forced.sh");
    // The forced command `ssh-keys` prints for `blob` (its `--decision-log`, relative here,
    // passed on made absolute), run as sshd runs it.
    let forced = |blob: &str| {
        let o = run_for(
            std::process::Command::new(bin())
                .current_dir(&s_.dir)
                .args(["ssh-keys", "--user", "git", "--db"])
                .arg(&s_.db)
                .arg("--repos")
                .arg(&s_.repos)
                .args([
                    "--decision-log",
                    "ssh-decisions.jsonl",
                    "git",
                    "ssh-ed25519",
                    blob,
                ]),
            secs(60),
        );
        let line = text(&o.stdout);
        let command = line
            .strip_prefix("command=\"")
            .and_then(|l| l.split_once("\",restrict"))
            .unwrap_or_else(|| panic!("no forced command: {}", both(&o)))
            .0
            .replace("\\\"", "\"");
        assert!(
            command.contains(&format!("--decision-log '{}'", log.display())),
            "{command}"
        );
        let script = format!(
            "#!/bin/sh\nshift\nexport SSH_CONNECTION='192.0.2.7 5000 10.0.0.1 22'\nexport SSH_ORIGINAL_COMMAND=\"$*\"\nexec {command}\n"
        );
        std::fs::write(&shell, script).unwrap();
        std::fs::set_permissions(&shell, std::fs::Permissions::from_mode(0o700)).unwrap();
    };
    let ssh_git = |dir: &Path, args: &[&str]| {
        run_for(
            s_.git(dir).env("GIT_SSH_COMMAND", &shell).args(args),
            secs(120),
        )
    };
    // A read-only deploy key clones and is refused a push; alice's own key pushes a branch
    // (the push decision, then the ref update through the hook).
    forced(CI);
    let o = ssh_git(
        &s_.home,
        &["clone", "-q", "ssh://git@forge/alice/app.git", "viassh"],
    );
    assert!(o.status.success(), "{}", both(&o));
    let work = s_.home.join("viassh");
    git_ok(
        &work,
        &s_.home,
        &["commit", "-q", "--allow-empty", "-m", "s"],
    );
    let o = ssh_git(&work, &["push", "origin", "HEAD:refs/heads/ci"]);
    assert!(
        !o.status.success(),
        "a read-only deploy key cannot push: {}",
        both(&o)
    );
    forced(LAPTOP);
    let o = ssh_git(&work, &["push", "origin", "HEAD:refs/heads/topic"]);
    assert!(o.status.success(), "{}", both(&o));

    let all = settled(&log, |r| r.iter().any(|r| r["action"] == "ref-update"));
    let mode = std::fs::metadata(&log).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    for r in &all {
        assert_eq!(r["via"], "ssh", "{r}");
        assert_eq!(r["client"], "192.0.2.7", "{r}");
        assert_eq!(r["peer"], Value::Null, "{r}");
        assert!(r["host"].as_str().unwrap().ends_with("/ssh"), "{r}");
    }
    let clone = one(
        &all,
        &[("credential", s("deploy-key")), ("action", s("pull"))],
    );
    assert_eq!(clone["verdict"], "allow");
    assert_eq!(clone["repository"], "alice/app");
    let refused = one(
        &all,
        &[("credential", s("deploy-key")), ("action", s("push"))],
    );
    assert_eq!(refused["verdict"], "deny");
    let push = one(&all, &[("credential", s("ssh-key")), ("action", s("push"))]);
    assert_eq!(push["user"], "alice");
    let topic = one(&all, &[("ref", s("refs/heads/topic"))]);
    assert_eq!(topic["verdict"], "allow");
    assert_eq!(topic["request_id"], push["request_id"]);

    // Standard output carries git's protocol: `-` is refused, with the way out.
    let o = cli(&[
        "git-shell",
        "--db",
        s_.db.to_str().unwrap(),
        "--repos",
        s_.repos.to_str().unwrap(),
        "--key",
        "laptop",
        "--decision-log",
        "-",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    assert!(text(&o.stderr).contains("give a file"), "{}", both(&o));
}
