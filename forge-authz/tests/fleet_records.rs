//! A change to the store's records (users, repositories, members...: read per request) is
//! not configuration (issue 25, "Managing the store"; README "Managing the store"): it is
//! recorded in the records' own history (`history --records`, schema 6), never moves the
//! configuration version every host polls, and decides on every running host at once,
//! with no policy rebuild. A version-5 store, which kept record changes in the
//! configuration's history, keeps its configuration version and finds its record changes
//! in the records' history after the migration. SQLite and a real PostgreSQL server.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

use serde_json::Value;

#[path = "support/fleet.rs"]
mod harness;

use forge_authz_testkit::{Backend, both};
use harness::{Fleet, config_version, pg_fleet, sql, sqlite_fleet};

/// A clone of `zed/tools`, the repository the tests add.
const TOOLS: &str = "/zed/tools.git/info/refs?service=git-upload-pack";

/// The actions `args` (`keys history` or `history --records`) lists, newest first.
fn actions(f: &Fleet, args: &[&str]) -> Vec<String> {
    let all = [args, &["--db", &f.db, "--json"][..]].concat();
    f.json(&all)["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

/// `ARGS --db DB --actor ops`.
fn change(f: &Fleet, args: &[&str]) {
    f.ok(&[args, &["--db", &f.db, "--actor", "ops"][..]].concat());
}

/// Wait until every host runs configuration `version`.
fn at_rest(f: &Fleet, version: i64) {
    f.wait_all(
        &format!("every host at configuration {version}"),
        |s, row| {
            if s["fleet"]["config_version"] != version || row["config_version"] != version {
                return Err(format!("not at configuration {version}"));
            }
            Ok(())
        },
    );
}

/// Two hosts over a store with the test world (`None`: PostgreSQL skipped).
fn two_hosts(b: Backend) -> Option<Fleet> {
    let mut f = match b {
        Backend::Sqlite => sqlite_fleet("records"),
        Backend::Postgres => pg_fleet("records_swaps")?,
    };
    f.start_two("records");
    Some(f)
}

both!(a_record_change_moves_no_version_and_decides_at_once, |b| {
    two_hosts(b)
});
fn a_record_change_moves_no_version_and_decides_at_once(f: Fleet) {
    let version = config_version(&f);
    at_rest(&f, version);
    let swaps: Vec<Value> = (0..2)
        .map(|h| f.status(h).unwrap()["config_swaps"].clone())
        .collect();
    // alice's token reads what she can see.
    let (secret, _) = f.create_token("reader");
    let secret = Some(secret.as_str());
    let unknown = f.auth(0, TOOLS, secret);
    assert_ne!(unknown.0, 200, "{unknown:?}");
    change(&f, &["user", "add", "zed"]);
    change(&f, &["repo", "add", "zed/tools"]);
    // Not configuration: the version hosts poll stays; every host decides with the new
    // records on the next request, with no wait.
    assert_eq!(config_version(&f), version);
    for h in 0..2 {
        f.expect(
            h,
            TOOLS,
            None,
            (200, "public-read"),
            "a public repository just added",
        );
    }
    change(&f, &["repo", "change", "zed/tools", "--private"]);
    for h in 0..2 {
        let (status, reason) = f.auth(h, TOOLS, secret);
        assert_eq!((status, reason.as_str()), (unknown.0, unknown.1.as_str()));
    }
    assert_eq!(config_version(&f), version);
    // Each listing has its own changes.
    assert_eq!(
        actions(&f, &["history", "--records"]),
        ["repo-change", "repo-add", "user-add"]
    );
    let config = actions(&f, &["keys", "history"]);
    assert!(
        !config
            .iter()
            .any(|a| a.starts_with("user-") || a.starts_with("repo-")),
        "{config:?}"
    );
    // A configuration change swaps once: the record changes rebuilt no policy.
    change(&f, &["options", "set", "require-expiry", "false"]);
    let changed = config_version(&f);
    assert_eq!(changed, version + 1);
    at_rest(&f, changed);
    for (h, before) in swaps.iter().enumerate() {
        let s = f.status(h).unwrap();
        assert_eq!(
            s["config_swaps"].as_u64(),
            before.as_u64().map(|n| n + 1),
            "host {h}: {s}"
        );
    }
}

/// A store with the test world, no host (`None`: PostgreSQL skipped).
fn store(b: Backend) -> Option<Fleet> {
    match b {
        Backend::Sqlite => Some(sqlite_fleet("records-v5")),
        Backend::Postgres => pg_fleet("records_v5"),
    }
}

both!(
    a_version_5_store_keeps_its_version_and_its_record_changes,
    |b| { store(b) }
);
fn a_version_5_store_keeps_its_version_and_its_record_changes(f: Fleet) {
    // Schema 6's migration (schema.rs `V6`): a version-5 store kept record changes in the
    // configuration's history. Made here from a version-6 store: after a configuration
    // change, the two record changes made before it moved into `config_history`, then one
    // more record change (the head of that history).
    change(&f, &["user", "add", "zed"]);
    change(&f, &["repo", "add", "zed/tools"]);
    change(&f, &["options", "set", "require-expiry", "false"]);
    let before = config_version(&f);
    let set_version = if f.db.starts_with("postgres://") {
        "UPDATE forge_authz_schema SET version = 5"
    } else {
        "PRAGMA user_version = 5"
    };
    let to_v5 = [
        "INSERT INTO config_history (action, actor, at, key_id, detail) \
         SELECT action, actor, at, NULL, detail FROM record_history ORDER BY seq",
        "INSERT INTO config_history (action, actor, at, key_id, detail) \
         VALUES ('member-add', 'old-ops', 1, NULL, '{\"organization\":\"acme\"}')",
    ]
    .iter()
    .chain(forge_authz_testkit::schema::UNDO_V6)
    .chain([&set_version])
    .map(|s| format!("{s};"))
    .collect::<Vec<_>>()
    .join(" ");
    sql(&f.db, &to_v5);
    // Any command migrates; the version every host runs stays the history's last number
    // (the three record rows after the option change), never going back.
    let head = config_version(&f);
    assert_eq!(head, before + 3);
    let history = actions(&f, &["keys", "history"]);
    assert_eq!(history.first().map(String::as_str), Some("option-set"));
    assert!(
        !history
            .iter()
            .any(|a| a.starts_with("user-") || a.starts_with("repo-") || a.starts_with("member-")),
        "record changes are not configuration: {history:?}"
    );
    assert_eq!(
        actions(&f, &["history", "--records"]),
        ["member-add", "repo-add", "user-add"],
        "the copied record changes, newest first"
    );
    // New record changes follow them and move no version.
    change(&f, &["user", "add", "yan"]);
    assert_eq!(config_version(&f), head);
    let page = f.json(&[
        "history",
        "--records",
        "--limit",
        "2",
        "--db",
        &f.db,
        "--json",
    ]);
    let listed: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["user-add", "member-add"], "{page}");
    assert_eq!(page["events"][1]["actor"], "old-ops", "{page}");
    // Keyset paging: the next page starts after the cursor, with the actor filter applied.
    let cursor = page["next_cursor"].as_i64().unwrap().to_string();
    let rest = f.json(&[
        "history",
        "--records",
        "--cursor",
        &cursor,
        "--actor",
        "ops",
        "--db",
        &f.db,
        "--json",
    ]);
    assert_eq!(rest["events"].as_array().unwrap().len(), 2, "{rest}");
    assert_eq!(rest["events"][0]["action"], "repo-add", "{rest}");
    assert!(rest["next_cursor"].is_null(), "{rest}");
}
