//! A change to the store's records (users, repositories: read per request) is recorded in
//! the configuration's history, so it is a new configuration version (issue 25, "Managing
//! the store"). A running host takes such a version as applied without rebuilding its
//! policy instances: no configuration swap, and the change still decides at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

use serde_json::Value;

#[path = "support/fleet.rs"]
mod harness;

use forge_authz_testkit::{Backend, both};
use harness::{Fleet, pg_fleet, sqlite_fleet};

/// The store's configuration version (`keys list --json`).
fn config_version(f: &Fleet) -> i64 {
    f.json(&["keys", "list", "--db", &f.db, "--json"])["version"]
        .as_i64()
        .unwrap()
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

both!(
    a_record_change_is_applied_without_a_configuration_swap,
    |b| { two_hosts(b) }
);
fn a_record_change_is_applied_without_a_configuration_swap(f: Fleet) {
    let at_rest = |f: &Fleet, version: i64| {
        f.wait_all(
            &format!("every host at configuration {version}"),
            |s, row| {
                if s["fleet"]["config_version"] != version || row["config_version"] != version {
                    return Err(format!("not at configuration {version}"));
                }
                Ok(())
            },
        );
    };
    at_rest(&f, config_version(&f));
    let swaps: Vec<Value> = (0..2)
        .map(|h| f.status(h).unwrap()["config_swaps"].clone())
        .collect();
    f.ok(&["user", "add", "zed", "--db", &f.db, "--actor", "ops"]);
    f.ok(&["repo", "add", "zed/tools", "--db", &f.db, "--actor", "ops"]);
    let version = config_version(&f);
    at_rest(&f, version);
    for (h, before) in swaps.iter().enumerate() {
        let s = f.status(h).unwrap();
        assert_eq!(
            &s["config_swaps"], before,
            "host {h} rebuilt its policy: {s}"
        );
        assert_eq!(s["refused_config_swaps"], 0, "{s}");
    }
    // A real configuration change still swaps.
    f.ok(&[
        "options",
        "set",
        "require-expiry",
        "false",
        "--db",
        &f.db,
        "--actor",
        "ops",
    ]);
    let changed = config_version(&f);
    at_rest(&f, changed);
    for (h, before) in swaps.iter().enumerate() {
        let s = f.status(h).unwrap();
        assert!(
            s["config_swaps"].as_u64() > before.as_u64(),
            "host {h}: {s}"
        );
    }
}
