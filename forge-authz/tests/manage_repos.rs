//! Store management of repositories through the real binary (issue 25, "No way to manage
//! the store's people and repositories": `repo`, `collaborator`, `key` (user and deploy
//! keys), `protect` — add, list, show, change, remove, each recorded in the history, each
//! refused with a clear error on bad input), on SQLite and on a real PostgreSQL server.
//! Rules checked, each cited where it is asserted:
//! - issue 25 plan, "Decisions fixed for everyone": each change is one transaction recorded
//!   in the records' history with the actor and a before/after detail (`history
//!   --records`: not configuration, no new configuration version); names follow the
//!   policy's rule; a collaborator, key or rule needs its user and repository;
//!   removing a repository removes what hangs off it and revokes the tokens bound to it
//!   (recorded in the token history), so a repository re-created under the same name never
//!   hands old bound tokens to the new one; not found exits 5, bad input or a duplicate 2
//!   (the exit status table, `cli::EXIT_*`);
//! - one served effect each: a collaborator added can push (`decide`), a removed key is no
//!   longer printed by `ssh-keys`, a protected ref refuses a push (`decide`);
//! - a private key is never accepted nor echoed (house rule: secrets never printed), and a
//!   key registered once is refused again (GitHub: "Key is already in use").
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

#[path = "support/store_case.rs"]
mod store_case;

use forge_authz_testkit::{Backend, both};
use serde_json::Value;
use store_case::{
    DENY, ERROR, NOT_FOUND, StoreCase as Env, describe, ed25519_line, missing_store_creates_nothing,
};

/// alice, bob, carol; acme (an organisation alice administers) and its repository.
const WORLD: &str = r#"{
  "keys": [{"id": "k1", "secret": "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"}],
  "signing_key": "k1",
  "users": [
    {"name": "alice"}, {"name": "bob"}, {"name": "carol"},
    {"name": "acme", "organization": true, "members": {"alice": "admin"}}
  ],
  "repositories": [{"owner": "alice", "name": "app"}]
}"#;

/// A store holding [`WORLD`] in a scratch directory, changed by `$USER` `root-op`, and an
/// empty `repos` directory for `ssh-keys`; a refusal prints nothing on stdout.
fn env(b: Backend, name: &str) -> Option<Env> {
    let e = Env::with_world(b, &format!("fa-repos-{name}-"), "repos", WORLD)?;
    std::fs::create_dir_all(e.dir.join("repos")).unwrap();
    Some(e)
}

impl Env {
    /// The records' history's events with `action`, newest first.
    fn history(&self, action: &str) -> Vec<Value> {
        let v = self.json(&["history", "--records", "--limit", "1000"]);
        v["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == action)
            .cloned()
            .collect()
    }

    /// `acme/widget` added, with `who` a write collaborator on it.
    fn widget_with_writer(&self, who: &str) {
        self.ok(&["repo", "add", "acme/widget"]);
        self.ok(&["collaborator", "add", "acme/widget", who, "--role", "write"]);
    }

    /// `decide --db` on `request`: the exit status and the reason.
    fn decide(&self, request: &str) -> (i32, String) {
        let o = self.decide_output(request);
        let v: Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", describe(&["decide", "--request", "-"], &o)));
        (
            o.status.code().unwrap(),
            v["reason"].as_str().unwrap_or_default().to_owned(),
        )
    }

    /// `ssh-keys` as sshd runs it for the forge account `git`: the line printed.
    fn ssh_keys(&self, key: &str) -> String {
        let mut parts = key.split_whitespace();
        let (kind, blob) = (parts.next().unwrap(), parts.next().unwrap());
        let repos = self.dir.join("repos");
        self.ok(&[
            "ssh-keys",
            "--user",
            "git",
            "--repos",
            repos.to_str().unwrap(),
            "git",
            kind,
            blob,
        ])
    }
}

/// A push of `refs/heads/main` to `repo` by `who` (a forge session).
fn push_as(who: &str, repo: &str) -> String {
    format!(
        r#"{{"credential": {{"session": "{who}"}}, "repository": "{repo}", "action": "push",
            "refs": [{{"name": "refs/heads/main"}}]}}"#
    )
}

fn events_of(v: &[Value], repository: &str) -> usize {
    v.iter()
        .filter(|e| e["detail"]["repository"] == repository)
        .count()
}

/// `repo add|list|show|change|remove`: the happy path, every refusal, the history.
fn repo_commands_and_their_refusals(e: Env) {
    let added = e.json(&["repo", "add", "acme/widget", "--private"]);
    assert_eq!(added["repository"], "acme/widget");
    assert_eq!(
        (added["private"].as_bool(), added["kind"].as_str()),
        (Some(true), Some("hosted"))
    );
    let list = e.json(&["repo", "list", "--owner", "ACME"]);
    assert_eq!(list["repositories"].as_array().unwrap().len(), 1, "{list}");
    let table = e.ok(&["repo", "list"]);
    assert!(
        table.contains("acme/widget") && table.contains("private"),
        "{table}"
    );
    // Plan: each change recorded with the actor and a before/after detail.
    let changed = e.json(&["repo", "change", "acme/widget", "--public", "--archived"]);
    assert_eq!(
        (changed["private"].as_bool(), changed["archived"].as_bool()),
        (Some(false), Some(true))
    );
    let change = &e.history("repo-change")[0];
    assert_eq!(change["actor"], "root-op");
    assert_eq!(change["detail"]["before"]["private"], true);
    assert_eq!(change["detail"]["after"]["archived"], true);
    assert_eq!(events_of(&e.history("repo-add"), "acme/widget"), 1);
    // `history --records` lists the changes to the store's records (P2's listing).
    let records = e.json(&["history", "--records", "--action", "repo-add"]);
    assert_eq!(
        records["events"][0]["detail"]["repository"], "acme/widget",
        "{records}"
    );
    let shown = e.json(&["repo", "show", "Acme/Widget"]);
    assert_eq!(
        shown["repository"], "acme/widget",
        "names compare case-insensitively"
    );
    assert_eq!(shown["collaborators"], serde_json::json!([]));

    // Bad input (exit 2, saying what is allowed), not found (exit 5), duplicates (exit 2).
    e.fails_each(&[
        (&["repo", "add", "acme/widget"], ERROR, "already exists"),
        (&["repo", "add", "ACME/WIDGET"], ERROR, "already exists"),
        (
            &["repo", "add", "acme/x.git"],
            ERROR,
            "not ending in `.git`",
        ),
        (&["repo", "add", "acme/a b"], ERROR, "letters, digits"),
        (&["repo", "add", "widget"], ERROR, "OWNER/NAME"),
        (
            &["repo", "add", "nobody/x"],
            NOT_FOUND,
            "no user or organisation `nobody`",
        ),
        (
            &["repo", "add", "acme/y", "--kind", "fork"],
            ERROR,
            "`hosted`",
        ),
        (
            &["repo", "add", "acme/y", "--registrant", "zed"],
            NOT_FOUND,
            "no user `zed`",
        ),
        (
            &["repo", "show", "acme/nope"],
            NOT_FOUND,
            "no repository `acme/nope`",
        ),
        (
            &["repo", "change", "acme/nope", "--private"],
            NOT_FOUND,
            "no repository",
        ),
        (&["repo", "change", "acme/widget"], ERROR, "required"),
        (
            &["repo", "change", "acme/widget", "--private", "--public"],
            ERROR,
            "cannot be used",
        ),
        (
            &["repo", "list", "--owner", "nobody"],
            NOT_FOUND,
            "no user or organisation",
        ),
        (&["repo", "remove", "acme/nope"], NOT_FOUND, "no repository"),
        (
            &["repo", "add", "acme/z", "--actor", " "],
            ERROR,
            "`--actor`",
        ),
    ]);
    assert_eq!(
        events_of(&e.history("repo-add"), "acme/y"),
        0,
        "a refused add records nothing"
    );

    let removed = e.json(&["repo", "remove", "acme/widget"]);
    assert_eq!(removed["revoked_tokens"], serde_json::json!([]));
    assert_eq!(events_of(&e.history("repo-remove"), "acme/widget"), 1);
    e.fails(&["repo", "show", "acme/widget"], NOT_FOUND, "no repository");
}
both!(repo_commands_and_their_refusals, |b| env(b, "repositories"));

/// A collaborator added can push (`decide`); its role changes and removal take effect.
fn a_collaborator_added_can_push(e: Env) {
    e.ok(&["repo", "add", "acme/widget", "--private"]);
    let push = push_as("bob", "acme/widget");
    assert_eq!(e.decide(&push).0, DENY, "bob has no role yet");
    let c = e.json(&[
        "collaborator",
        "add",
        "acme/widget",
        "bob",
        "--role",
        "write",
    ]);
    assert_eq!(
        (c["login"].as_str(), c["role"].as_str()),
        (Some("bob"), Some("write"))
    );
    assert_eq!(e.decide(&push).0, 0, "a write collaborator pushes");
    e.ok(&[
        "collaborator",
        "change",
        "acme/widget",
        "BOB",
        "--role",
        "read",
    ]);
    let (code, reason) = e.decide(&push);
    assert_eq!(
        (code, reason.as_str()),
        (DENY, "permission-denied"),
        "read cannot push"
    );
    let list = e.json(&["collaborator", "list", "acme/widget"]);
    assert_eq!(
        list["collaborators"],
        serde_json::json!([{"login": "bob", "role": "read"}])
    );
    let history = e.history("collaborator-change");
    assert_eq!(
        (
            history[0]["detail"]["before"].as_str(),
            history[0]["detail"]["after"].as_str()
        ),
        (Some("write"), Some("read"))
    );

    e.fails(
        &[
            "collaborator",
            "add",
            "acme/widget",
            "bob",
            "--role",
            "admin",
        ],
        ERROR,
        "already a collaborator",
    );
    e.fails(
        &[
            "collaborator",
            "add",
            "acme/widget",
            "zed",
            "--role",
            "read",
        ],
        NOT_FOUND,
        "no user `zed`",
    );
    e.fails(
        &[
            "collaborator",
            "add",
            "acme/widget",
            "acme",
            "--role",
            "read",
        ],
        ERROR,
        "is an organisation",
    );
    e.fails(
        &[
            "collaborator",
            "add",
            "alice/app",
            "alice",
            "--role",
            "read",
        ],
        ERROR,
        "owns",
    );
    e.fails(
        &["collaborator", "add", "acme/nope", "bob", "--role", "read"],
        NOT_FOUND,
        "no repository",
    );
    e.fails(
        &[
            "collaborator",
            "add",
            "acme/widget",
            "carol",
            "--role",
            "owner",
        ],
        ERROR,
        "`admin`",
    );
    e.fails(
        &[
            "collaborator",
            "add",
            "acme/widget",
            "carol",
            "--role",
            "none",
        ],
        ERROR,
        "collaborator remove",
    );
    e.fails(
        &["collaborator", "add", "acme/widget", "carol"],
        ERROR,
        "--role",
    );
    e.fails(
        &[
            "collaborator",
            "change",
            "acme/widget",
            "carol",
            "--role",
            "read",
        ],
        NOT_FOUND,
        "not a collaborator",
    );
    e.fails(
        &["collaborator", "remove", "acme/widget", "carol"],
        NOT_FOUND,
        "not a collaborator",
    );

    e.ok(&["collaborator", "remove", "acme/widget", "bob"]);
    assert_eq!(
        e.decide(&push).0,
        DENY,
        "a removed collaborator cannot push"
    );
    let removal = &e.history("collaborator-remove")[0];
    assert_eq!(
        (
            removal["detail"]["login"].as_str(),
            removal["actor"].as_str()
        ),
        (Some("bob"), Some("root-op"))
    );
}
both!(a_collaborator_added_can_push, |b| env(b, "collaborators"));

/// `key add|list|show|remove`: `ssh-keys` offers a key at once and stops at once; a key
/// registered once is refused again; a private key is refused and never echoed.
fn keys_are_offered_until_removed(e: Env) {
    let bob = ed25519_line(7, "bob@laptop");
    let file = e.dir.join("bob.pub");
    std::fs::write(&file, format!("{bob}\n")).unwrap();
    assert_eq!(e.ssh_keys(&bob), "", "not registered yet");
    let k = e.json(&[
        "key",
        "add",
        "--user",
        "bob",
        "--file",
        file.to_str().unwrap(),
    ]);
    let id = k["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (k["kind"].as_str(), k["user"].as_str()),
        (Some("user"), Some("bob"))
    );
    assert!(k["fingerprint"].as_str().unwrap().starts_with("SHA256:"));
    let line = e.ssh_keys(&bob);
    assert!(
        line.contains(&format!("--key {id}")) && line.contains(bob.split(' ').nth(1).unwrap()),
        "{line}"
    );
    let listed = e.json(&["key", "list", "--user", "bob"]);
    assert_eq!(listed["keys"].as_array().unwrap().len(), 1);
    assert_eq!(e.json(&["key", "show", &id])["public_key"], bob.as_str());

    // A deploy key, read-only unless `--read-write`, from stdin; `--id` chosen.
    e.ok(&["repo", "add", "acme/widget"]);
    let deploy = ed25519_line(9, "ci");
    let d = e.json_in(
        &[
            "key",
            "add",
            "--deploy",
            "acme/widget",
            "--file",
            "-",
            "--id",
            "ci-1",
        ],
        &deploy,
    );
    assert_eq!(
        (d["repository"].as_str(), d["read_only"].as_bool()),
        (Some("acme/widget"), Some(true))
    );
    assert!(e.ssh_keys(&deploy).contains("--key ci-1"));
    let shown = e.json(&["repo", "show", "acme/widget"]);
    assert_eq!(shown["deploy_keys"][0]["id"], "ci-1");
    // Served: the read-only deploy key pulls and may not push; a read-write one pushes.
    let by_key = |key: &str, action: &str| {
        format!(
            r#"{{"credential": {{"ssh-key": "{key}"}}, "transport": "ssh",
                "repository": "acme/widget", "action": "{action}"}}"#
        )
    };
    assert_eq!(e.decide(&by_key("ci-1", "pull")).0, 0, "a deploy key pulls");
    assert_eq!(e.decide(&by_key("ci-1", "push")).0, DENY, "read-only");
    let rw = ed25519_line(10, "deployer");
    e.ok_in(
        &[
            "key",
            "add",
            "--deploy",
            "acme/widget",
            "--read-write",
            "--file",
            "-",
            "--id",
            "ci-rw",
        ],
        &rw,
    );
    assert_eq!(
        e.decide(&by_key("ci-rw", "push")).0,
        0,
        "a read-write deploy key pushes"
    );
    e.ok(&["key", "remove", "ci-rw"]);

    // Refusals. A key already registered, as a user key or as a deploy key (GitHub).
    let f = file.to_str().unwrap();
    for (args, code, says) in [
        (
            &["--user", "carol", "--file", f][..],
            ERROR,
            "registered already",
        ),
        (
            &["--deploy", "alice/app", "--file", f],
            ERROR,
            "registered already",
        ),
        (&["--user", "zed", "--file", f], NOT_FOUND, "no user `zed`"),
        (
            &["--user", "acme", "--file", f],
            ERROR,
            "is an organisation",
        ),
        (
            &["--deploy", "acme/nope", "--file", f],
            NOT_FOUND,
            "no repository",
        ),
        (&["--file", f], ERROR, "--user"),
        (
            &["--user", "bob", "--read-write", "--file", f],
            ERROR,
            "--deploy",
        ),
        (
            &["--user", "bob", "--file", "/nonexistent.pub"],
            ERROR,
            "cannot read",
        ),
    ] {
        e.fails(&[&["key", "add"][..], args].concat(), code, says);
    }
    let wrong = ed25519_line(3, "").replace("ssh-ed25519", "ssh-rsa");
    let two = format!("{}\n{}\n", ed25519_line(4, "a"), ed25519_line(5, "b"));
    let carol = ["key", "add", "--user", "carol", "--file", "-"];
    for (stdin, extra, says) in [
        ("ssh-dss AAAA", &[][..], "not one sshd offers"),
        ("ssh-ed25519 !!!", &[], "not base64"),
        (&wrong, &[], "not a `ssh-rsa` key"),
        ("", &[], "empty"),
        (&two, &[], "one key at a time"),
        (&ed25519_line(6, ""), &["--id", "a b"], "not a key id"),
    ] {
        e.fails_in(&[&carol[..], extra].concat(), stdin, ERROR, says);
    }
    // The private half: refused, its content never echoed (house rule on secrets).
    let private = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAPRIVATEMATERIAL\n-----END OPENSSH PRIVATE KEY-----\n";
    let err = e.fails_in(
        &["key", "add", "--user", "carol", "--file", "-"],
        private,
        ERROR,
        "private key",
    );
    assert!(
        !err.contains("PRIVATEMATERIAL") && !err.contains("b3Blbn"),
        "{err}"
    );
    e.fails(&["key", "show", "nope"], NOT_FOUND, "no SSH key `nope`");
    e.fails(&["key", "remove", "nope"], NOT_FOUND, "no SSH key `nope`");
    e.fails(
        &["key", "list", "--user", "zed"],
        NOT_FOUND,
        "no user `zed`",
    );

    // Removed: `ssh-keys` prints nothing for it at once; the history says who and what.
    e.ok(&["key", "remove", &id]);
    assert_eq!(e.ssh_keys(&bob), "", "a removed key is no longer offered");
    let h = &e.history("ssh-key-remove")[0];
    assert_eq!(
        (h["detail"]["key"]["id"].as_str(), h["actor"].as_str()),
        (Some(id.as_str()), Some("root-op"))
    );
    assert_eq!(e.history("ssh-key-add").len(), 1);
    assert_eq!(e.history("deploy-key-add").len(), 2);
    assert!(
        e.history("key-add").is_empty(),
        "`key-add` is a signing key's action"
    );
    assert!(
        !h.to_string().contains(bob.split(' ').nth(1).unwrap()),
        "the history keeps no key line"
    );
}
both!(keys_are_offered_until_removed, |b| env(b, "keys"));

/// `protect add|list|remove`: a protected ref refuses a push (`decide`) until removed.
fn a_protected_ref_refuses_a_push(e: Env) {
    e.widget_with_writer("bob");
    let push = push_as("bob", "acme/widget");
    assert_eq!(e.decide(&push).0, 0);
    let rule = e.json(&["protect", "add", "acme/widget", "main", "--push", "nobody"]);
    assert_eq!(
        (rule["push"].as_str(), rule["force_push"].as_str()),
        (Some("nobody"), Some("nobody"))
    );
    let (code, reason) = e.decide(&push);
    assert_eq!(
        code, DENY,
        "a push to a protected ref is refused ({reason})"
    );
    e.ok(&[
        "protect",
        "add",
        "acme/widget",
        "release/*",
        "--push",
        "users",
        "--push-users",
        "carol",
        "--force-push",
        "admins",
    ]);
    let list = e.json(&["protect", "list", "acme/widget"]);
    let rules = list["protected_refs"].as_array().unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(
        (
            rules[1]["pattern"].as_str(),
            rules[1]["push_users"][0].as_str()
        ),
        (Some("release/*"), Some("carol"))
    );

    e.fails(&["protect", "add", "acme/widget", "main"], ERROR, "already");
    e.fails(
        &["protect", "add", "acme/widget", "ma[in"],
        ERROR,
        "`*` and `**`",
    );
    e.fails(
        &["protect", "add", "acme/widget", "dev", "--push", "everyone"],
        ERROR,
        "`writers`",
    );
    e.fails(
        &["protect", "add", "acme/widget", "dev", "--push", "users"],
        ERROR,
        "--push-users",
    );
    e.fails(
        &[
            "protect",
            "add",
            "acme/widget",
            "dev",
            "--push-users",
            "bob",
        ],
        ERROR,
        "only for `--push users`",
    );
    e.fails(
        &[
            "protect",
            "add",
            "acme/widget",
            "dev",
            "--push",
            "users",
            "--push-users",
            "zed",
        ],
        NOT_FOUND,
        "no user `zed`",
    );
    e.fails(
        &["protect", "add", "acme/nope", "dev"],
        NOT_FOUND,
        "no repository",
    );
    e.fails(
        &["protect", "remove", "acme/widget", "dev"],
        NOT_FOUND,
        "no rule for `dev`",
    );
    e.fails(
        &["protect", "list", "acme/nope"],
        NOT_FOUND,
        "no repository",
    );

    e.ok(&["protect", "remove", "acme/widget", "main"]);
    assert_eq!(e.decide(&push).0, 0, "unprotected again");
    assert_eq!(e.history("protect-add").len(), 2);
    let removal = &e.history("protect-remove")[0];
    assert_eq!(removal["detail"]["before"]["pattern"], "main");
}
both!(a_protected_ref_refuses_a_push, |b| env(b, "protection"));

/// Removing a repository removes what hangs off it and revokes the tokens bound to it, so
/// the repository added again under the same name does not honour them (plan, issue 25).
fn removing_a_repository_revokes_its_bound_tokens(e: Env) {
    e.widget_with_writer("bob");
    e.ok(&["protect", "add", "acme/widget", "main"]);
    e.run_in(
        &[
            "key",
            "add",
            "--deploy",
            "acme/widget",
            "--file",
            "-",
            "--id",
            "ci",
        ],
        Some(&ed25519_line(1, "")),
    );
    let t = e.json(&[
        "token",
        "create",
        "--owner",
        "bob",
        "--name",
        "ci",
        "--scope",
        "write:repository",
        "--repo",
        "acme/widget",
    ]);
    let (secret, id) = (
        t["secret"].as_str().unwrap().to_owned(),
        t["token"]["id"].as_str().unwrap().to_owned(),
    );
    let unbound = e.json(&[
        "token",
        "create",
        "--owner",
        "bob",
        "--name",
        "all",
        "--scope",
        "read:repository",
    ]);
    let bearer = format!(
        r#"{{"credential": {{"bearer": "{secret}"}}, "repository": "acme/widget", "action": "push",
            "refs": [{{"name": "refs/heads/dev"}}]}}"#
    );
    assert_eq!(e.decide(&bearer).0, 0, "the bound token pushes");

    let removed = e.json(&["repo", "remove", "acme/widget"]);
    assert_eq!(removed["revoked_tokens"], serde_json::json!([id]));
    assert_eq!(removed["collaborators"], serde_json::json!(["bob"]));
    assert_eq!(removed["protected_refs"], serde_json::json!(["main"]));
    assert_eq!(removed["deploy_keys"], serde_json::json!(["ci"]));
    let shown = e.json(&["token", "show", &id]);
    assert!(
        shown.to_string().contains("\"revoked\":")
            && !shown.to_string().contains("\"revoked\":null"),
        "{shown}"
    );
    let other = e.json(&["token", "show", unbound["token"]["id"].as_str().unwrap()]);
    assert!(
        other.to_string().contains("\"revoked\":null"),
        "an unbound token stays: {other}"
    );
    let history = e.ok(&["history", "--token", &id]);
    assert!(
        history.contains("revoke") && history.contains("root-op"),
        "{history}"
    );
    assert_eq!(e.json(&["key", "list"])["keys"], serde_json::json!([]));

    // Added again under the same name, with bob writing again: the old token stays refused.
    e.widget_with_writer("bob");
    assert_eq!(
        e.json(&["protect", "list", "acme/widget"])["protected_refs"],
        serde_json::json!([])
    );
    let (code, reason) = e.decide(&bearer);
    assert_eq!((code, reason.as_str()), (DENY, "token-revoked"));
}
both!(removing_a_repository_revokes_its_bound_tokens, |b| env(
    b, "removal"
));

/// Issue 25, "Reading commands never create a store": each of these commands on a missing
/// store exits 6 (the exit status table) and leaves no file behind.
#[test]
fn commands_on_a_missing_store_create_nothing() {
    missing_store_creates_nothing(
        "fa-repos-missing-",
        &[
            &["repo", "list"],
            &["repo", "show", "acme/widget"],
            &["repo", "add", "acme/widget"],
            &["collaborator", "list", "acme/widget"],
            &["key", "list"],
            &["key", "show", "k1"],
            &["protect", "list", "acme/widget"],
        ],
    );
}
