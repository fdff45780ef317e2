//! Protected refs and SSH keys changed in place, through the real binary, on SQLite and on a
//! real PostgreSQL server (issue 25, "No way to manage the store's people and
//! repositories": add, list, show, change, remove on each record, each recorded in the
//! history, each refused with a clear error on bad input). Rules checked, each cited where
//! it is asserted:
//! - `protect show` and `protect change` (pattern, who may push, who may force-push or
//!   delete, place in the order), `key change` (a key's title, a deploy key's read-only or
//!   read-write access): each change one history event (`history --records`) with the
//!   actor and the record before and after; a change that changes nothing records nothing;
//! - the policy takes the FIRST protected-ref rule that matches a ref
//!   (`guest/src/policy/refs.rs::rule_for`; README "Git (`kind: git`)"), so order is a
//!   setting: `protect add --before PATTERN`, `protect change --before PATTERN|--last`,
//!   and a rule's position is shown (`position`, from 1);
//! - exit status (README "Exit status", `cli::EXIT_*`): a missing repository, rule, key or
//!   user 5; an invalid value or a duplicate 2; a refused change changes nothing;
//! - one served effect each (`decide` reads the store per request): a moved or changed
//!   rule decides the next push; a deploy key changed to read-write pushes.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

#[path = "support/store_case.rs"]
mod store_case;

use forge_authz_testkit::{Backend, both};
use serde_json::Value;
use store_case::{
    ALLOW, DENY, ERROR, NOT_FOUND, StoreCase as Env, describe, ed25519_line,
    missing_store_creates_nothing,
};

/// alice, bob, carol; acme (an organisation alice administers), its repository
/// `acme/widget` with bob and carol as writers, and alice's `alice/app`.
const WORLD: &str = r#"{
  "keys": [{"id": "k1", "secret": "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"}],
  "signing_key": "k1",
  "users": [
    {"name": "alice"}, {"name": "bob"}, {"name": "carol"},
    {"name": "acme", "organization": true, "members": {"alice": "admin"}}
  ],
  "repositories": [
    {"owner": "alice", "name": "app"},
    {"owner": "acme", "name": "widget", "collaborators": {"bob": "write", "carol": "write"}}
  ]
}"#;

/// A store holding [`WORLD`] in a scratch directory, changed by `$USER` `root-op`; a
/// refusal prints nothing on stdout.
fn env(b: Backend, name: &str) -> Option<Env> {
    Env::with_world(b, &format!("fa-protkeys-{name}-"), "protkeys", WORLD)
}

fn protect_env(b: Backend) -> Option<Env> {
    env(b, "protect")
}

fn keys_env(b: Backend) -> Option<Env> {
    env(b, "keys")
}

impl Env {
    /// `history --records --action ACTION --json`: its events, newest first.
    fn events(&self, action: &str) -> Vec<Value> {
        let v = self.json(&["history", "--records", "--action", action, "--limit", "100"]);
        v["events"].as_array().unwrap().clone()
    }

    /// [`Env::events`] with `action`: there are `n` of them.
    fn events_n(&self, action: &str, n: usize) -> Vec<Value> {
        let events = self.events(action);
        assert_eq!(events.len(), n, "{action}: {events:?}");
        events
    }

    /// `args` run, saying `unchanged` on stderr; what it printed.
    fn says_unchanged(&self, args: &[&str]) -> std::process::Output {
        let o = self.run(args);
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("unchanged"),
            "{}",
            describe(args, &o)
        );
        o
    }

    /// `decide --db` on `request`: the exit status (0 allow, 1 deny).
    fn decide(&self, request: &str) -> i32 {
        let o = self.decide_output(request);
        let code = o.status.code().unwrap();
        assert!(
            code == ALLOW || code == DENY,
            "{}",
            describe(&["decide", "--request", "-"], &o)
        );
        code
    }

    /// Whether `who` (a forge session) may push `refs/heads/main` to `acme/widget`.
    fn push_main(&self, who: &str) -> i32 {
        self.decide(&format!(
            r#"{{"credential": {{"session": "{who}"}}, "repository": "acme/widget",
                "action": "push", "refs": [{{"name": "refs/heads/main"}}]}}"#
        ))
    }

    /// `protect list acme/widget --json`: (pattern, push) in order.
    fn rules(&self) -> Vec<(String, String)> {
        let v = self.json(&["protect", "list", "acme/widget"]);
        v["protected_refs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["pattern"].as_str().unwrap().to_owned(),
                    r["push"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

/// Owned (pattern, push) pairs, for comparing with [`Env::rules`].
fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(p, w)| ((*p).to_owned(), (*w).to_owned()))
        .collect()
}

/// The first matching rule decides (`refs.rs::rule_for`), so a rule's place is a setting:
/// `protect add --before`, `protect change --before|--last`, `protect show`'s position.
fn the_first_matching_rule_decides_and_rules_move(e: Env) {
    e.ok(&["protect", "add", "acme/widget", "main", "--push", "nobody"]);
    assert_eq!(e.push_main("bob"), DENY, "main: nobody pushes");
    // `*` (one segment: every branch) before `main`: it matches first and lets writers in.
    let added = e.json(&[
        "protect",
        "add",
        "acme/widget",
        "*",
        "--push",
        "writers",
        "--before",
        "main",
    ]);
    assert_eq!(added["position"], 1, "{added}");
    assert_eq!(e.rules(), pairs(&[("*", "writers"), ("main", "nobody")]));
    assert_eq!(
        e.push_main("bob"),
        ALLOW,
        "the first rule that matches decides"
    );
    let shown = e.json(&["protect", "show", "acme/widget", "main"]);
    assert_eq!(
        (shown["position"].as_i64(), shown["push"].as_str()),
        (Some(2), Some("nobody"))
    );
    let text = e.ok(&["protect", "show", "acme/widget", "main"]);
    assert!(
        text.contains("position: 2") && text.contains("nobody"),
        "{text}"
    );

    // Moved last: `main` matches first again.
    let moved = e.json(&["protect", "change", "acme/widget", "*", "--last"]);
    assert_eq!(moved["position"], 2, "{moved}");
    assert_eq!(e.rules(), pairs(&[("main", "nobody"), ("*", "writers")]));
    assert_eq!(e.push_main("bob"), DENY, "moved: `main` decides again");
    // And back before it.
    e.ok(&["protect", "change", "acme/widget", "*", "--before", "main"]);
    assert_eq!(e.rules(), pairs(&[("*", "writers"), ("main", "nobody")]));

    // Each move one event with the positions before and after, by the actor.
    let events = e.events_n("protect-change", 2);
    let last = &events[0];
    assert_eq!(
        (
            last["detail"]["before"]["position"].as_i64(),
            last["detail"]["after"]["position"].as_i64(),
            last["actor"].as_str()
        ),
        (Some(2), Some(1), Some("root-op"))
    );
    assert_eq!(e.events("protect-add")[0]["detail"]["after"]["position"], 1);

    // Placing refused: no rule to go before, or the rule itself; nothing changes.
    e.fails(
        &["protect", "add", "acme/widget", "dev", "--before", "nope"],
        NOT_FOUND,
        "no rule for `nope`",
    );
    e.fails(
        &[
            "protect",
            "change",
            "acme/widget",
            "main",
            "--before",
            "main",
        ],
        ERROR,
        "names the rule itself",
    );
    e.fails(
        &[
            "protect",
            "change",
            "acme/widget",
            "main",
            "--before",
            "x",
            "--last",
        ],
        ERROR,
        "--last",
    );
    assert_eq!(e.rules(), pairs(&[("*", "writers"), ("main", "nobody")]));
    e.events_n("protect-change", 2);
}
both!(the_first_matching_rule_decides_and_rules_move, protect_env);

/// `protect change`: who may push (named users replaced alone), who may force-push, the
/// pattern; an unchanged rule records nothing; `protect remove` still finds it renamed.
fn a_rule_changes_in_place(e: Env) {
    e.ok(&["protect", "add", "acme/widget", "main", "--push", "nobody"]);
    assert_eq!(e.push_main("bob"), DENY);
    let changed = e.json(&[
        "protect",
        "change",
        "acme/widget",
        "main",
        "--push",
        "users",
        "--push-users",
        "BOB",
    ]);
    assert_eq!(
        (changed["push"].as_str(), changed["push_users"][0].as_str()),
        (Some("users"), Some("bob")),
        "a named user as the store spells it: {changed}"
    );
    assert_eq!(e.push_main("bob"), ALLOW, "bob is named");
    assert_eq!(e.push_main("carol"), DENY, "carol is not");
    // `--push-users` alone: the rule's push is `users` already; the list is replaced.
    e.ok(&[
        "protect",
        "change",
        "acme/widget",
        "main",
        "--push-users",
        "carol",
    ]);
    assert_eq!((e.push_main("bob"), e.push_main("carol")), (DENY, ALLOW));
    let o = e.says_unchanged(&[
        "protect",
        "change",
        "acme/widget",
        "main",
        "--push-users",
        "carol",
    ]);
    assert!(
        o.status.success(),
        "{}",
        describe(&["protect", "change"], &o)
    );
    e.ok(&[
        "protect",
        "change",
        "acme/widget",
        "main",
        "--force-push",
        "admins",
    ]);
    let shown = e.json(&["protect", "show", "acme/widget", "main"]);
    assert_eq!(
        (
            shown["force_push"].as_str(),
            shown["push_users"][0].as_str()
        ),
        (Some("admins"), Some("carol")),
        "what a change does not name stays: {shown}"
    );

    // The unchanged change is not recorded.
    let events = e.events_n("protect-change", 3);
    assert_eq!(
        (
            events[0]["detail"]["before"]["force_push"].as_str(),
            events[0]["detail"]["after"]["force_push"].as_str(),
            events[0]["detail"]["repository"].as_str()
        ),
        (Some("nobody"), Some("admins"), Some("acme/widget"))
    );

    // A new pattern: the rule keeps its place and settings under its new name.
    e.ok(&[
        "protect",
        "change",
        "acme/widget",
        "main",
        "--pattern",
        "trunk",
    ]);
    assert_eq!(e.push_main("bob"), ALLOW, "main is no longer protected");
    e.fails(
        &["protect", "show", "acme/widget", "main"],
        NOT_FOUND,
        "no rule for `main`",
    );
    assert_eq!(
        e.json(&["protect", "show", "acme/widget", "trunk"])["push"],
        "users"
    );
    e.ok(&["protect", "remove", "acme/widget", "trunk"]);
    assert!(e.rules().is_empty());
}
both!(a_rule_changes_in_place, protect_env);

/// Bad input to `protect show|change`: 5 for a missing repository, rule or user, 2 for an
/// invalid value or a duplicate pattern; the rule is as it was.
fn bad_protect_changes_are_refused(e: Env) {
    e.ok(&["protect", "add", "acme/widget", "main", "--push", "admins"]);
    e.ok(&["protect", "add", "acme/widget", "release/*"]);
    let before = e.json(&["protect", "list", "acme/widget"]);
    let change = |extra: &[&str]| -> Vec<String> {
        [&["protect", "change", "acme/widget", "main"][..], extra]
            .concat()
            .into_iter()
            .map(str::to_owned)
            .collect()
    };
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (change(&["--push", "everyone"]), ERROR, "`writers`"),
        (change(&["--push", "users"]), ERROR, "--push-users"),
        (
            change(&["--push-users", "bob"]),
            ERROR,
            "only for `--push users`",
        ),
        (
            change(&["--force-push-users", "bob"]),
            ERROR,
            "only for `--force-push users`",
        ),
        (change(&["--pattern", "ma[in"]), ERROR, "`*` and `**`"),
        (change(&["--pattern", "release/*"]), ERROR, "already"),
        (
            change(&["--push", "users", "--push-users", "zed"]),
            NOT_FOUND,
            "no user `zed`",
        ),
        (
            change(&["--before", "nope"]),
            NOT_FOUND,
            "no rule for `nope`",
        ),
        (change(&[]), ERROR, "--push"),
    ];
    for (args, code, says) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        e.fails(&args, *code, says);
    }
    e.fails(
        &["protect", "change", "acme/nope", "main", "--push", "admins"],
        NOT_FOUND,
        "no repository",
    );
    e.fails(
        &[
            "protect",
            "change",
            "acme/widget",
            "dev",
            "--push",
            "admins",
        ],
        NOT_FOUND,
        "no rule for `dev`",
    );
    e.fails(
        &["protect", "show", "acme/widget", "dev"],
        NOT_FOUND,
        "`forge-authz protect list acme/widget`",
    );
    e.fails(
        &["protect", "show", "acme/nope", "main"],
        NOT_FOUND,
        "no repository",
    );
    assert_eq!(e.json(&["protect", "list", "acme/widget"]), before);
    assert!(e.events("protect-change").is_empty());
}
both!(bad_protect_changes_are_refused, protect_env);

/// `key change --title`: the public line's comment; the key (its fingerprint) and what
/// `ssh-keys` matches stay; `--title ""` removes it; each change one event.
fn a_key_is_retitled(e: Env) {
    let bob = ed25519_line(7, "bob@laptop");
    let added = e.json_in(
        &[
            "key", "add", "--user", "bob", "--file", "-", "--id", "bob-1",
        ],
        &bob,
    );
    assert_eq!(added["title"], "bob@laptop");
    let changed = e.json(&["key", "change", "bob-1", "--title", "bob's desk"]);
    assert_eq!(
        (changed["title"].as_str(), &changed["fingerprint"]),
        (Some("bob's desk"), &added["fingerprint"]),
        "the key is the same key: {changed}"
    );
    let blob = bob.split(' ').nth(1).unwrap();
    assert_eq!(
        e.json(&["key", "show", "bob-1"])["public_key"],
        format!("ssh-ed25519 {blob} bob's desk")
    );
    let table = e.ok(&["key", "list", "--user", "bob"]);
    assert!(
        table.contains("TITLE") && table.contains("bob's desk"),
        "{table}"
    );
    let untitled = e.json(&["key", "change", "bob-1", "--title", ""]);
    assert_eq!(untitled["title"], Value::Null);
    assert_eq!(
        e.json(&["key", "show", "bob-1"])["public_key"],
        format!("ssh-ed25519 {blob}")
    );
    e.says_unchanged(&["key", "change", "bob-1", "--title", ""]);

    // The unchanged change is not recorded.
    let events = e.events_n("ssh-key-change", 2);
    assert_eq!(
        (
            events[1]["detail"]["before"]["title"].as_str(),
            events[1]["detail"]["after"]["title"].as_str(),
            events[1]["detail"]["key"]["id"].as_str(),
            events[1]["actor"].as_str()
        ),
        (
            Some("bob@laptop"),
            Some("bob's desk"),
            Some("bob-1"),
            Some("root-op")
        )
    );
    assert!(
        events[1]["detail"]["key"]["public_key"].is_null(),
        "the history keeps no public line"
    );
}
both!(a_key_is_retitled, keys_env);

/// `key change --read-write|--read-only`: a deploy key's access, served at the next
/// request; a user key has its user's access and is refused; bad input changes nothing.
fn a_deploy_key_changes_access(e: Env) {
    e.ok_in(
        &[
            "key",
            "add",
            "--deploy",
            "alice/app",
            "--file",
            "-",
            "--id",
            "ci",
        ],
        &ed25519_line(9, "ci"),
    );
    e.ok_in(
        &[
            "key", "add", "--user", "bob", "--file", "-", "--id", "bob-1",
        ],
        &ed25519_line(7, "bob@laptop"),
    );
    let push = r#"{"credential": {"ssh-key": "ci"}, "transport": "ssh",
                   "repository": "alice/app", "action": "push"}"#;
    assert_eq!(e.decide(push), DENY, "read-only by default");
    let rw = e.json(&["key", "change", "ci", "--read-write"]);
    assert_eq!(rw["read_only"], false, "{rw}");
    assert_eq!(e.decide(push), ALLOW, "read-write: it pushes");
    e.ok(&["key", "change", "ci", "--read-only"]);
    assert_eq!(e.decide(push), DENY, "read-only again");
    let events = e.events_n("deploy-key-change", 2);
    assert_eq!(
        (
            events[0]["detail"]["before"]["read_only"].as_bool(),
            events[0]["detail"]["after"]["read_only"].as_bool(),
            events[0]["detail"]["key"]["repository"].as_str()
        ),
        (Some(false), Some(true), Some("alice/app"))
    );

    let before = e.json(&["key", "list"]);
    e.fails(
        &["key", "change", "nope", "--title", "x"],
        NOT_FOUND,
        "no SSH key `nope`",
    );
    e.fails(
        &["key", "change", "bob-1", "--read-write"],
        ERROR,
        "for deploy keys",
    );
    e.fails(
        &["key", "change", "ci", "--title", "two\nlines"],
        ERROR,
        "control characters",
    );
    let long = "x".repeat(256);
    e.fails(
        &["key", "change", "ci", "--title", &long],
        ERROR,
        "at most 255",
    );
    e.fails(&["key", "change", "ci"], ERROR, "--title");
    e.fails(
        &["key", "change", "ci", "--read-only", "--read-write"],
        ERROR,
        "--read-write",
    );
    assert_eq!(e.json(&["key", "list"]), before, "refusals change nothing");
    assert!(e.events("ssh-key-change").is_empty());
}
both!(a_deploy_key_changes_access, keys_env);

/// Issue 25, "Reading commands never create a store": the new commands on a missing store
/// exit 6 (the exit status table), say `init-db`, and leave no file behind.
#[test]
fn the_new_commands_on_a_missing_store_create_nothing() {
    missing_store_creates_nothing(
        "fa-protkeys-missing-",
        &[
            &["protect", "show", "acme/widget", "main"],
            &["protect", "change", "acme/widget", "main", "--last"],
            &["key", "change", "k1", "--title", "x"],
        ],
    );
}
