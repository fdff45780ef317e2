//! CLI conventions, part two (issue 25, "A secret echoed back" and "Conventions"), through
//! the real binary, on SQLite and on a real PostgreSQL server:
//! - a token's secret pasted where its id goes is recognised (its id is used, or it is
//!   refused) and never printed, on stdout or stderr, by any token command;
//! - every `--json` reading command gives each time twice: Unix seconds under its name
//!   and ISO 8601 UTC under `<name>_utc`, `null` in both when absent (issue 25 plan,
//!   "JSON times");
//! - an unknown scope gets a suggestion from the policy: a near miss "did you mean", a
//!   legacy Gitea scope `scopes migrate`;
//! - `bulk-import` names the line and the problem in words (no database text), and the
//!   way on it suggests works (`--skip-existing`, `--skip N`), reporting what it skipped;
//! - revoking a revoked token says so and exits 0 (an idempotent revoke).
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

#[path = "support/cli.rs"]
mod cli;
#[path = "support/store_case.rs"]
mod store_case;

use std::process::Output;

use cli::run;
use forge_authz_host::cli::table::utc;
use forge_authz_testkit::{Backend, both};
use serde_json::Value;
use store_case::{StoreCase as Case, both_streams};

impl Case {
    /// A store made by `init-db` with the sample users (`None`: PostgreSQL skipped by
    /// `FORGE_AUTHZ_SKIP_PG=1`; without it a missing server fails the test).
    fn new(b: Backend, label: &str) -> Option<Case> {
        let prefix = format!("forge-authz-conv2-{label}-{b:?}-");
        let case = Case::scratch(b, &prefix, "c")?;
        case.ok(&["init-db"]);
        Some(case)
    }

    /// A new token of alice's: (id, secret).
    fn token(&self, name: &str) -> (String, String) {
        let v = self.json(&[
            "token",
            "create",
            "--owner",
            "alice",
            "--name",
            name,
            "--scope",
            "write:repository",
        ]);
        let id = v["token"]["id"].as_str().unwrap().to_owned();
        (id, v["secret"].as_str().unwrap().to_owned())
    }
}

/// `o` exited `code` and neither stream holds `secret`.
fn exits_without(o: &Output, code: i32, secret: &str, what: &str) {
    let shown = both_streams(o);
    assert_eq!(o.status.code(), Some(code), "{what}: {shown}");
    assert!(
        !shown.contains(secret),
        "{what}: the secret is printed: {shown}"
    );
    // Not even most of it (a secret cut short is still a secret).
    let head = secret.get(..secret.len() - 10).unwrap();
    assert!(
        !shown.contains(head),
        "{what}: part of the secret is printed: {shown}"
    );
}

both!(
    a_secret_where_an_id_goes_is_used_by_its_id_and_never_printed,
    |b| { Case::new(b, "secret") }
);
fn a_secret_where_an_id_goes_is_used_by_its_id_and_never_printed(case: Case) {
    // Issue 25, "A secret echoed back": every token command that takes an id.
    let (id, secret) = case.token("ci");
    let o = case.run(&["token", "show", &secret, "--json"]);
    exits_without(&o, 0, &secret, "show");
    let shown: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(shown["id"], id.as_str(), "the secret's id is used");
    assert!(String::from_utf8_lossy(&o.stderr).contains("not its id"));
    let o = case.run(&["token", "edit", &secret, "--name", "ci2"]);
    exits_without(&o, 0, &secret, "edit");
    let o = case.run(&["token", "child", &secret, "--scope", "read:repository"]);
    exits_without(&o, 0, &secret, "child");
    let o = case.run(&["token", "rotate", &secret]);
    exits_without(&o, 0, &secret, "rotate");
    let o = case.run(&["token", "revoke", &secret, "--family"]);
    exits_without(&o, 0, &secret, "revoke");
    // Shaped like a token but not one (a character lost, or changed): refused, not shown.
    let cut = &secret[..secret.len() - 1];
    for bad in [cut.to_owned(), format!("{cut}x")] {
        for cmd in ["show", "revoke", "rotate"] {
            let o = case.run(&["token", cmd, &bad]);
            exits_without(&o, 2, &bad, cmd);
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(err.contains("token list"), "says what to pass: {err}");
        }
    }
    // A valid secret of a token this store does not hold: not found (5), id named only.
    let world = case.dir.join("world.json");
    run(&["init", "--world", world.to_str().unwrap()], None);
    let minted = run(
        &[
            "mint",
            "--world",
            world.to_str().unwrap(),
            "--owner",
            "alice",
        ]
        .iter()
        .chain(&["--scope", "read:repository"])
        .copied()
        .collect::<Vec<_>>(),
        None,
    );
    let other = String::from_utf8_lossy(&minted.stdout).trim().to_owned();
    assert!(other.starts_with("fzpat_"), "{}", both_streams(&minted));
    let o = case.run(&["token", "show", &other]);
    exits_without(&o, 5, &other, "show of another store's token");
}

/// Every time field of `v` (at any depth, outside site data) has its `_utc` twin: the
/// same instant in ISO 8601 UTC, or `null` beside `null`. Returns how many were checked.
fn times_in_both_forms(v: &Value, what: &str) -> usize {
    let mut n = 0;
    match v {
        Value::Array(items) => {
            n += items
                .iter()
                .map(|i| times_in_both_forms(i, what))
                .sum::<usize>()
        }
        Value::Object(o) => {
            for (k, t) in o {
                if k == "detail" || k == "site" {
                    continue;
                }
                n += times_in_both_forms(t, what);
                let time_field = ["at", "created", "expires", "revoked", "last_used"]
                    .contains(&k.as_str())
                    || k.ends_with("_at");
                if !time_field || !(t.is_i64() || t.is_null()) {
                    continue;
                }
                let twin = o.get(&format!("{k}_utc"));
                let expected = t.as_i64().map_or(Value::Null, |s| Value::from(utc(s)));
                assert_eq!(twin, Some(&expected), "{what}: `{k}`: {v}");
                n += 1;
            }
        }
        _ => {}
    }
    n
}

both!(json_reading_commands_give_times_in_both_forms, |b| {
    Case::new(b, "times")
});
fn json_reading_commands_give_times_in_both_forms(case: Case) {
    // Issue 25, "Conventions": `--json` on every reading command, times as Unix seconds
    // and ISO 8601 UTC (the plan's "JSON times"; README "JSON output").
    let (id, _) = case.token("ci");
    case.ok(&["token", "revoke", &id]);
    case.token("live");
    let list = case.json(&["token", "list", "--all"]);
    let token = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id.as_str())
        .unwrap();
    assert!(token["revoked"].is_i64(), "{token}");
    assert!(
        token["last_used"].is_null() && token["last_used_utc"].is_null(),
        "{token}"
    );
    let checks: &[(&[&str], usize)] = &[
        (&["token", "list", "--all"], 8),
        (&["token", "show", &id], 4),
        (&["history"], 4),
        (&["keys", "list"], 2),
        (&["keys", "history"], 1),
        (&["site", "history"], 0),
        (&["fleet"], 1),
        (&["signers", "list"], 0),
        (&["options", "show"], 0),
        (&["site", "show"], 0),
        (&["audit"], 0),
    ];
    for (args, at_least) in checks {
        let v = case.json(args);
        let n = times_in_both_forms(&v, &args.join(" "));
        assert!(
            n >= *at_least,
            "{args:?}: {n} times checked, expected {at_least}: {v}"
        );
    }
    // The table shows the same instant as the JSON's `_utc` field.
    let table = case.ok(&["token", "list", "--all"]);
    assert!(
        table.contains(token["expires_utc"].as_str().unwrap()),
        "{table}"
    );
}

#[test]
fn unknown_scopes_get_a_suggestion_from_the_policy() {
    // Issue 25, "Conventions": `write:repo` -> did you mean `write:repository`; legacy
    // `repo` -> `scopes migrate`. Bad input exits 2 and creates nothing.
    let Some(case) = Case::new(Backend::Sqlite, "scopes") else {
        return;
    };
    let create = |scope: &str| {
        case.run(&[
            "token", "create", "--owner", "alice", "--name", "x", "--scope", scope,
        ])
    };
    for (scope, says) in [
        ("write:repo", "did you mean `write:repository`?"),
        ("read:isue", "did you mean `read:issue`?"),
        (
            "repo",
            "run `forge-authz scopes migrate repo` (it becomes `write:repository`)",
        ),
        ("read:repository,public_repo", "scopes migrate public_repo"),
        ("zzz", "unknown scope `zzz`"),
    ] {
        let o = create(scope);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{scope}: {err}");
        assert!(err.contains(says), "{scope}: {err}");
    }
    let o = run(&["scopes", "normalize", "read:repository,write:repo"], None);
    assert_eq!(o.status.code(), Some(2), "{}", both_streams(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("did you mean `write:repository`?"));
    // The suggested command does what the message says.
    let migrated = run(&["scopes", "migrate", "repo"], None);
    assert_eq!(
        String::from_utf8_lossy(&migrated.stdout).trim(),
        "write:repository"
    );
    assert_eq!(
        case.json(&["token", "list", "--all"]),
        serde_json::json!([])
    );
    // `token edit --scope` and `token child` are checked the same way.
    let (id, _) = case.token("ci");
    let o = case.run(&["token", "edit", &id, "--scope", "write:repo"]);
    assert_eq!(o.status.code(), Some(2), "{}", both_streams(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("did you mean `write:repository`?"));
    let o = case.run(&["token", "child", &id, "--scope", "read:repo"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("did you mean `read:repository`?"));
}

both!(revoking_a_revoked_token_says_so, |b| Case::new(b, "revoke"));
fn revoking_a_revoked_token_says_so(case: Case) {
    // Issue 25, "Conventions": revoking a revoked token is not silent; revoking is
    // idempotent (exit 0), as the README's "Exit status" says.
    let (id, _) = case.token("ci");
    assert_eq!(
        case.ok(&["token", "revoke", &id]).trim(),
        format!("revoked {id}")
    );
    let show = case.json(&["token", "show", &id]);
    let at = show["revoked_utc"].as_str().unwrap();
    let again = case.ok(&["token", "revoke", &id]);
    assert_eq!(
        again.trim(),
        format!("token {id} was already revoked at {at}; nothing else to revoke")
    );
    let v = case.json(&["token", "revoke", &id]);
    assert_eq!(v["revoked"], serde_json::json!([]));
    assert_eq!(v["already_revoked"], show["revoked"]);
    assert_eq!(v["already_revoked_utc"], at);
    // A rotated token names its successor.
    let (old, _) = case.token("rot");
    case.ok(&["token", "rotate", &old]);
    let next = case.json(&["token", "show", &old])["successor"]
        .as_str()
        .unwrap()
        .to_owned();
    let said = case.ok(&["token", "revoke", &old]);
    assert!(
        said.contains(&format!("(rotated: its successor is `{next}`)")),
        "{said}"
    );
    // With `--family`, the successor goes; the rotated token is said to be revoked already.
    let said = case.ok(&["token", "revoke", &old, "--family"]);
    assert!(said.contains(&format!("revoked {next}")), "{said}");
    assert!(
        said.contains(&format!("token {old} was already revoked at ")),
        "{said}"
    );
    assert!(!said.contains("nothing else to revoke"), "{said}");
}

/// The names of the users in the store at `case`.
fn user_names(case: &Case) -> Vec<String> {
    let world = case.dir.join("export.json");
    case.ok(&["export", "--world", world.to_str().unwrap()]);
    let w: Value = serde_json::from_str(&std::fs::read_to_string(&world).unwrap()).unwrap();
    let users = w["users"].as_array().unwrap().iter();
    users
        .map(|u| u["name"].as_str().unwrap().to_owned())
        .collect()
}

both!(bulk_import_says_what_is_wrong_and_its_way_on_works, |b| {
    Case::new(b, "bulk")
});
fn bulk_import_says_what_is_wrong_and_its_way_on_works(case: Case) {
    // Issue 25, "Conventions": `bulk-import` errors name the line and the problem in
    // words (no raw database text), and the `--skip` they suggest goes on.
    let bulk = |args: &[&str], input: &str| {
        case.run_in(
            &[&["bulk-import", "--users", "-", "--batch", "2"][..], args].concat(),
            Some(input),
        )
    };
    let no_db_text = |err: &str| {
        for raw in [
            "constraint",
            "UNIQUE",
            "duplicate key",
            "COPY",
            "Error code",
            "SQL",
        ] {
            assert!(!err.contains(raw), "no database text ({raw}): {err}");
        }
    };
    // Batches: [u1, u2] commit; [u3, alice] fails on alice, who exists.
    let input = "{\"name\": \"u1\"}\n{\"name\": \"u2\"}\n{\"name\": \"u3\"}\n{\"name\": \"Alice\"}\n{\"name\": \"u5\"}\n";
    let o = bulk(&[], input);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("line 4: user `Alice` already exists: not imported (2 rows before it were committed); rerun with `--skip-existing`"),
        "{err}"
    );
    no_db_text(&err);
    // The way on: the same input again, skipping what is there (u1, u2 and alice).
    let o = bulk(&["--skip-existing"], input);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("2 users imported, 3 already there (skipped)"),
        "{err}"
    );
    let names = user_names(&case);
    for u in ["u1", "u2", "u3", "u5"] {
        assert_eq!(
            names.iter().filter(|n| *n == u).count(),
            1,
            "{u}: {names:?}"
        );
    }
    // A name twice in the input, in one batch: both lines named.
    let o = bulk(&[], "{\"name\": \"v1\"}\n{\"name\": \"V1\"}\n");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        err.contains("line 2: user `V1` is also on line 1 (names compare without case)"),
        "{err}"
    );
    no_db_text(&err);
    // A member listed twice: the line must be fixed.
    let o = bulk(
        &[],
        "{\"name\": \"o1\", \"organization\": true, \"members\": {\"Bob\": \"read\", \"bob\": \"admin\"}}\n",
    );
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        err.contains("line 1: user `o1`: member `bob` is listed twice"),
        "{err}"
    );
    assert!(err.contains("fix line 1 and rerun"), "{err}");
    no_db_text(&err);
    // A bad line after a committed batch: fix it, and `--skip N` as suggested goes on.
    let bad = "{\"name\": \"w1\"}\n{\"name\": \"w2\"}\n{\"name\": \"w3\", \"status\": \"gone\"}\n";
    let o = bulk(&[], bad);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        err.contains("line 3: ") && err.contains("`--skip 2`"),
        "{err}"
    );
    let o = bulk(&["--skip", "2"], &bad.replace("gone", "active"));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("1 users imported, 2 skipped by --skip"),
        "{err}"
    );
    assert!(user_names(&case).contains(&"w3".to_owned()));
}

/// README "Writing your own policy": `module export FILE` writes the module this binary
/// embeds — the bytes whose SHA-256 `--version` prints, so signing and publishing it is
/// publishing the shipped module — and never writes over an existing file.
#[test]
fn module_export_writes_the_embedded_module_and_never_overwrites() {
    use sha2::Digest as _;
    let dir = forge_authz_testkit::scratch("forge-authz-module-export-");
    let file = dir.join("shipped.wasm");
    let path = file.to_str().unwrap();
    let out = run(&["module", "export", path], None);
    assert!(out.status.success(), "{out:?}");
    let bytes = std::fs::read(&file).unwrap();
    let digest = hex::encode(sha2::Sha256::digest(&bytes));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("sha256:{digest}")
    );
    let version = run(&["--version"], None);
    assert!(
        String::from_utf8_lossy(&version.stdout).contains(&digest),
        "{version:?}"
    );
    // A second export to the same path is refused (exit 2) and leaves the file as it was.
    std::fs::write(&file, b"operator's own module").unwrap();
    let again = run(&["module", "export", path], None);
    assert_eq!(again.status.code(), Some(2), "{again:?}");
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("exists"),
        "{again:?}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"operator's own module");
    let _ = std::fs::remove_dir_all(&dir);
}
