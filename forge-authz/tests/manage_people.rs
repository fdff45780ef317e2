//! The store's people managed from the CLI (issue 25, "No way to manage the store's people
//! and repositories"): `user`, `org`, `member` add/list/show/change/remove, `init-db
//! --empty` and `history --records`, through the real binary, on SQLite and on a real
//! PostgreSQL server. Rules checked (issue 25 plan, "Decisions fixed for everyone"):
//! - each change is one transaction recorded in the records' history with its actor, an
//!   action like `user-add`, and before/after; records are not configuration, so no change
//!   moves the configuration version (`keys list`) or appears in `keys history`;
//! - names follow the policy's rule; a member is a user of an existing organisation;
//! - not found exits 5 naming what was looked for, bad input and duplicates exit 2 saying
//!   what is wrong, a removal the rules forbid exits 4 (Gitea: a user or organisation that
//!   owns repositories cannot be deleted) — the exit status table of `cli/mod.rs`;
//! - removing a user revokes its tokens (recorded in the token history) so `decide`
//!   denies them afterwards, also after a new account takes the same name.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

#[path = "support/cli.rs"]
mod cli;
#[path = "support/fleet.rs"]
mod harness;
#[path = "support/store_case.rs"]
mod store_case;

use std::process::Output;

use cli::{run, strings};
use forge_authz_testkit::{Backend, both};
use serde_json::Value;
use store_case::StoreCase as Case;

impl Case {
    /// A store made by `init-db ARGS`, changed by `root` (the operator) unless a command
    /// names its actor (`None`: PostgreSQL skipped by `FORGE_AUTHZ_SKIP_PG=1`).
    fn new(b: Backend, label: &str, args: &[&str]) -> Option<Case> {
        let prefix = format!("forge-authz-people-{label}-{b:?}-");
        let mut case = Case::scratch(b, &prefix, "p")?;
        case.actor = Some("root");
        case.ok(&[&["init-db"][..], args].concat());
        Some(case)
    }

    /// `history --records --json`: the events, newest first.
    fn records(&self) -> Vec<Value> {
        let h = self.json(&["history", "--records", "--limit", "100"]);
        h["events"].as_array().unwrap().clone()
    }
}

both!(
    an_empty_store_is_filled_one_change_at_a_time,
    |b| Case::new(b, "happy", &["--empty"])
);
fn an_empty_store_is_filled_one_change_at_a_time(c: Case) {
    // issue 25: `init-db --empty` — keys and options, no sample users or repositories.
    assert_eq!(c.json(&["user", "list"])["users"], serde_json::json!([]));
    assert_eq!(
        c.json(&["org", "list"])["organizations"],
        serde_json::json!([])
    );
    let keys = c.json(&["keys", "list"]);
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1);
    let config_version = keys["version"].clone();
    // user add / show / change: what is printed is what is stored.
    let dave = c.json(&["user", "add", "dave", "--visibility", "limited"]);
    assert_eq!(dave["login"], "dave");
    assert_eq!(dave["status"], "active");
    assert_eq!(dave["visibility"], "limited");
    c.ok(&["user", "add", "erin", "--admin", "--status", "inactive"]);
    let changed = c.json(&["user", "change", "erin", "--no-admin", "--status", "active"]);
    assert_eq!(
        (changed["site_admin"].as_bool(), changed["status"].as_str()),
        (Some(false), Some("active"))
    );
    let table = c.ok(&["user", "list"]);
    assert!(
        table.starts_with("LOGIN") && table.contains("dave") && table.contains("erin"),
        "{table}"
    );
    // org add / change, member add / change / list / remove.
    c.ok(&["org", "add", "acme", "--visibility", "private"]);
    assert_eq!(
        c.json(&["org", "change", "acme", "--visibility", "public"])["visibility"],
        "public"
    );
    c.ok(&["member", "add", "acme", "dave", "--role", "write"]);
    c.ok(&["member", "add", "acme", "erin", "--role", "read"]);
    c.ok(&["member", "change", "acme", "erin", "--role", "admin"]);
    let members = c.json(&["member", "list", "acme"]);
    assert_eq!(strings(&members["members"], "login"), ["dave", "erin"]);
    assert_eq!(strings(&members["members"], "role"), ["write", "admin"]);
    let shown = c.json(&["user", "show", "DAVE"]);
    assert_eq!(
        shown["organizations"][0]["login"], "acme",
        "names compare without case"
    );
    c.ok(&["member", "remove", "acme", "erin"]);
    assert_eq!(
        c.json(&["org", "show", "acme"])["members"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    c.ok(&["user", "remove", "erin"]);
    // history --records: one event per change, newest first, the actor, times twice.
    let events = c.records();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "user-remove",
            "member-remove",
            "member-change",
            "member-add",
            "member-add",
            "org-change",
            "org-add",
            "user-change",
            "user-add",
            "user-add"
        ]
    );
    assert!(
        events
            .iter()
            .all(|e| e["actor"] == "root" && e["at_utc"].as_str().unwrap().ends_with('Z'))
    );
    let change = &events[7]["detail"];
    assert_eq!(
        (
            change["before"]["status"].as_str(),
            change["after"]["status"].as_str()
        ),
        (Some("inactive"), Some("active"))
    );
    assert_eq!(
        (
            events[2]["detail"]["before"].as_str(),
            events[2]["detail"]["after"].as_str()
        ),
        (Some("read"), Some("admin"))
    );
    // Not configuration: the version hosts poll did not move, and the configuration's
    // history has none of these changes.
    assert_eq!(c.json(&["keys", "list"])["version"], config_version);
    let config = c.json(&["keys", "history"]);
    assert!(
        config["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| !actions.contains(&e["action"].as_str().unwrap())),
        "{config}"
    );
    // The token history stays the tokens' (`history` without `--records`).
    assert_eq!(c.json(&["history"])["events"], serde_json::json!([]));
    let page = c.json(&[
        "history",
        "--records",
        "--limit",
        "3",
        "--action",
        "member-add",
    ]);
    assert_eq!(page["events"].as_array().unwrap().len(), 2);
}

both!(bad_input_is_refused_with_its_exit_status, |b| Case::new(
    b,
    "bad",
    &[]
));
fn bad_input_is_refused_with_its_exit_status(c: Case) {
    // The sample store: alice (owns alice/app, alice/secret, ...), bob, carol, acme.
    c.ok(&["org", "add", "widgets"]);
    let before = c.records().len();
    // Not found: exit 5, naming what was looked for.
    c.fails(&["user", "show", "nobody"], 5, "no user `nobody`");
    c.fails(&["user", "remove", "nobody"], 5, "no user `nobody`");
    c.fails(
        &["member", "add", "widgets", "nobody", "--role", "read"],
        5,
        "no user `nobody`",
    );
    c.fails(
        &["member", "add", "nowhere", "bob", "--role", "read"],
        5,
        "no organisation `nowhere`",
    );
    c.fails(
        &["member", "change", "widgets", "bob", "--role", "write"],
        5,
        "`bob` is not a member of `widgets`",
    );
    c.fails(&["org", "show", "nowhere"], 5, "no organisation `nowhere`");
    // Duplicates and bad names: exit 2, saying what exists or what is allowed.
    c.fails(&["user", "add", "Alice"], 2, "user `alice` already exists");
    c.fails(&["org", "add", "ALICE"], 2, "user `alice` already exists");
    c.fails(
        &["user", "add", "bad name"],
        2,
        "is not a valid name: use 1 to 100 of",
    );
    c.fails(&["user", "add", ".."], 2, "is not a valid name");
    c.fails(
        &["user", "add", "dave", "--status", "asleep"],
        2,
        "expected one of `active`",
    );
    // A role the policy does not know, and `none` (no membership): clap's usage error.
    c.fails(
        &["member", "add", "widgets", "bob", "--role", "owner"],
        2,
        "unknown role `owner`: use `read`, `write`, `admin`",
    );
    c.fails(
        &["member", "add", "widgets", "bob", "--role", "none"],
        2,
        "role `none` is no membership",
    );
    c.fails(
        &["user", "change", "bob"],
        2,
        "<--admin|--no-admin|--status",
    );
    // An organisation used as a user and the reverse.
    c.fails(
        &["user", "show", "widgets"],
        2,
        "`widgets` is an organisation, not a user",
    );
    c.fails(
        &["org", "remove", "bob"],
        2,
        "`bob` is a user, not an organisation",
    );
    c.fails(
        &["member", "add", "bob", "carol", "--role", "read"],
        2,
        "`bob` is a user, not an organisation",
    );
    c.ok(&["org", "add", "gadgets"]);
    c.fails(
        &["member", "add", "widgets", "gadgets", "--role", "read"],
        2,
        "only users are members",
    );
    c.ok(&["member", "add", "widgets", "bob", "--role", "read"]);
    c.fails(
        &["member", "add", "widgets", "BOB", "--role", "write"],
        2,
        "`bob` is already a member of `widgets` (role read)",
    );
    // Removing an owner of repositories: exit 4, what to remove first; nothing changed.
    let err = c.fails(&["user", "remove", "alice"], 4, "user `alice` still owns");
    assert!(
        err.contains("alice/app") && err.contains("forge-authz repo remove"),
        "{err}"
    );
    assert_eq!(c.json(&["user", "show", "alice"])["login"], "alice");
    // Exactly the successful changes were recorded (org-add gadgets, member-add bob).
    assert_eq!(c.records().len(), before + 2);
    c.fails(
        &["history", "--records", "--action", "key-add"],
        2,
        "is not a change to the store's records",
    );
}

/// `decide --db D --request -`: a pull of alice's public `alice/app` with `secret`.
fn pull(c: &Case, secret: &str) -> Output {
    let request = format!(
        r#"{{"credential":{{"bearer":"{secret}"}},"repository":"alice/app","action":"pull"}}"#
    );
    run(&["decide", "--db", &c.db, "--request", "-"], Some(&request))
}

/// `token create --owner OWNER --name NAME ARGS --json`: (secret, id).
fn token(c: &Case, owner: &str, name: &str, args: &[&str]) -> (String, String) {
    let base = [
        "token",
        "create",
        "--owner",
        owner,
        "--name",
        name,
        "--scope",
        "read:repository",
    ];
    let t = c.json_as(owner, &[&base[..], args].concat());
    (
        t["secret"].as_str().unwrap().into(),
        t["token"]["id"].as_str().unwrap().into(),
    )
}

both!(
    a_removed_users_tokens_are_revoked_and_denied,
    |b| Case::new(b, "revoke", &[])
);
fn a_removed_users_tokens_are_revoked_and_denied(c: Case) {
    c.ok(&["user", "add", "dave"]);
    c.ok(&["org", "add", "tools"]);
    c.ok(&["member", "add", "tools", "dave", "--role", "write"]);
    let (secret, id) = token(&c, "dave", "ci", &[]);
    let (_, child) = {
        let t = c.json_as(
            "dave",
            &[
                "token",
                "child",
                &id,
                "--scope",
                "read:repository",
                "--lifetime",
                "1h",
            ],
        );
        ((), t["token"]["id"].as_str().unwrap().to_string())
    };
    let (bound_secret, bound) = token(&c, "alice", "tools-only", &["--bind-owner", "tools"]);
    assert_eq!(
        pull(&c, &secret).status.code(),
        Some(0),
        "dave's token pulls alice/app"
    );
    // A change is a fact the next decision reads: a suspended account's token is denied.
    c.ok(&["user", "change", "dave", "--status", "suspended"]);
    assert_eq!(
        pull(&c, &secret).status.code(),
        Some(1),
        "dave is suspended"
    );
    c.ok(&["user", "change", "dave", "--status", "active"]);
    assert_eq!(
        pull(&c, &secret).status.code(),
        Some(0),
        "dave is active again"
    );
    let removed = c.json(&["user", "remove", "dave"]);
    assert_eq!(removed["memberships"], 1);
    let revoked: Vec<&str> = removed["revoked_tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        revoked.contains(&id.as_str()) && revoked.contains(&child.as_str()),
        "{removed}"
    );
    assert_eq!(
        pull(&c, &secret).status.code(),
        Some(1),
        "a removed user's token is denied"
    );
    // A new account under the same name does not inherit the old tokens.
    c.ok(&["user", "add", "dave"]);
    assert_eq!(
        pull(&c, &secret).status.code(),
        Some(1),
        "the old token stays revoked"
    );
    assert_eq!(c.json(&["token", "show", &id])["state"], "revoked");
    // The token history records each revocation with the operator as actor.
    let h = c.json(&["history", "--token", &id]);
    assert_eq!(h["events"][0]["action"], "revoke");
    assert_eq!(h["events"][0]["actor"], "root");
    // Removing an organisation revokes tokens bound to it (another user's too).
    let o = c.json(&["org", "remove", "tools"]);
    assert_eq!(o["revoked_tokens"], serde_json::json!([bound]));
    assert_eq!(c.json(&["token", "show", &bound])["state"], "revoked");
    assert!(
        !c.ok(&["history", "--records"]).contains(&bound_secret),
        "no secret in the history"
    );
    // bob is alice/app's collaborator in the sample store: his role goes with him.
    let collab = c.json(&["user", "remove", "bob"]);
    assert_eq!(
        collab["collaborations"], 1,
        "bob's role on alice/app went with him"
    );
}

/// A store with alice's `alice/app` and a server over it, asked through forward auth
/// (`None`: PostgreSQL skipped by `FORGE_AUTHZ_SKIP_PG=1`).
fn served(b: Backend) -> Option<harness::Fleet> {
    match b {
        Backend::Sqlite => Some(harness::sqlite_fleet("people")),
        Backend::Postgres => harness::pg_fleet("people"),
    }
}

both!(a_running_server_refuses_a_removed_users_token, served);
fn a_running_server_refuses_a_removed_users_token(mut f: harness::Fleet) {
    // issue 25 plan: removing a user revokes its tokens; a `serve` already running over
    // the store refuses them at once (reference: a revoked token is `token-revoked`, 401).
    let h = f.start("people");
    let db = f.db.clone();
    f.ok(&["user", "add", "dave", "--db", &db]);
    let t = f.json(&[
        "token",
        "create",
        "--db",
        &db,
        "--actor",
        "dave",
        "--owner",
        "dave",
        "--name",
        "ci",
        "--scope",
        "read:repository",
        "--json",
    ]);
    let secret = t["secret"].as_str().unwrap().to_owned();
    let app = harness::APP;
    f.expect(
        h,
        app,
        Some(&secret),
        (200, "granted"),
        "dave's token pulls alice/app",
    );
    f.ok(&["user", "remove", "dave", "--db", &db]);
    f.expect(
        h,
        app,
        Some(&secret),
        (401, "token-revoked"),
        "dave was removed",
    );
    f.ok(&["user", "add", "dave", "--db", &db]);
    f.expect(
        h,
        app,
        Some(&secret),
        (401, "token-revoked"),
        "a new dave inherits nothing",
    );
}
