//! The token store with the real policy module, on both backends (SQLite and a real
//! PostgreSQL server started for the test run): concurrency, crashes, history, the CLI.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};

use forge_authz_host::cli::sample_world;
use forge_authz_host::lifecycle::{self, Actor, CreateArgs, Who};
use forge_authz_host::policy::{Limits, PolicyModule, WasmPolicy, default_policy_path};
use forge_authz_host::store::{HistoryFilter, Store};
use forge_authz_host::wit;
use forge_authz_testkit::pg;
use forge_authz_testkit::{Backend, both};

/// An empty store location for a test (`None`: PostgreSQL skipped by
/// `FORGE_AUTHZ_SKIP_PG=1`; without it a missing server fails the test).
fn fresh_db(dir: &Path, b: Backend, name: &str) -> Option<String> {
    match b {
        Backend::Sqlite => Some(dir.join(format!("{name}.db")).display().to_string()),
        Backend::Postgres => {
            let server = pg::shared_or_skip(name)?;
            Some(server.fresh_database(name))
        }
    }
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_forge-authz"))
}

fn tempdir(name: &str) -> PathBuf {
    forge_authz_testkit::scratch(&format!("forge-authz-store-{name}-"))
}

/// A database name from a test directory (PostgreSQL identifiers: `a-z0-9_`).
fn dir_name(dir: &Path) -> String {
    dir.file_name()
        .unwrap()
        .to_string_lossy()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect::<String>()
        .chars()
        .take(50)
        .collect()
}

fn module() -> PolicyModule {
    PolicyModule::load(&default_policy_path(), Limits::default()).unwrap()
}

fn policy(m: &PolicyModule, store: &mut Store) -> WasmPolicy {
    m.authorizer(store.settings().unwrap().config)
        .unwrap()
        .unwrap()
}

const NOW: i64 = 1_767_225_600;

fn new_store(dir: &Path, b: Backend, name: &str) -> Option<String> {
    let db = fresh_db(dir, b, name)?;
    let mut w = sample_world().unwrap();
    w.now = Some(NOW);
    // A site administrator, who may act on anyone's token (issue 19).
    let mut root = w.users[0].clone();
    root.name = "root".into();
    root.site_admin = true;
    w.users.push(root);
    Store::open(db.as_str()).unwrap().import_world(&w).unwrap();
    Some(db)
}

/// A user's session, or the maintenance job of that name (`expire`, `audit`).
fn actor(name: &str, now: i64) -> Actor {
    let who = match name {
        "expire" | "audit" => Who::System(name.into()),
        _ => Who::Session(name.into()),
    };
    Actor {
        who,
        ip: Some("198.51.100.4".into()),
        now,
    }
}

fn create(
    p: &mut WasmPolicy,
    s: &mut Store,
    name: &str,
    scopes: &[&str],
) -> (String, wit::TokenRecord) {
    let args = CreateArgs {
        owner: "alice".into(),
        name: name.into(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        repositories: vec![],
        owners: vec![],
        expires: Some(NOW + 30 * 86_400),
    };
    lifecycle::create(p, s, &args, &actor("alice", NOW)).unwrap()
}

both!(concurrent_rotations_leave_exactly_one_live_successor);
fn concurrent_rotations_leave_exactly_one_live_successor(b: Backend) {
    // issue 4: rotations of one token race; the store serialises them and the policy
    // refuses all but the first (the token is no longer live).
    let dir = tempdir(&format!("race-{b:?}"));
    let Some(db) = new_store(&dir, b, &format!("t_{}", dir_name(&dir))) else {
        return;
    };
    let m = module();
    let (_, token) = {
        let mut s = Store::open(db.as_str()).unwrap();
        let mut p = policy(&m, &mut s);
        create(&mut p, &mut s, "ci", &["write:repository"])
    };
    const N: usize = 6;
    let barrier = Arc::new(Barrier::new(N));
    let handles: Vec<_> = (0..N)
        .map(|_| {
            let (db, m, id, barrier) = (db.clone(), m.clone(), token.id.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut s = Store::open(db.as_str()).unwrap();
                let mut p = policy(&m, &mut s);
                barrier.wait();
                lifecycle::rotate(&mut p, &mut s, &id, None, &actor("alice", NOW + 10)).is_ok()
            })
        })
        .collect();
    let wins = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|ok| *ok)
        .count();
    assert_eq!(wins, 1, "exactly one rotation wins");
    let mut s = Store::open(db.as_str()).unwrap();
    let all = s.tokens(Some("alice")).unwrap();
    let live: Vec<_> = all.iter().filter(|t| t.record.revoked.is_none()).collect();
    assert_eq!(live.len(), 1);
    assert_eq!(
        live[0].record.predecessor.as_deref(),
        Some(token.id.as_str())
    );
    let old = s.token(&token.id).unwrap().unwrap().record;
    assert_eq!(old.successor.as_deref(), Some(live[0].record.id.as_str()));
    let (rotations, _) = s
        .history(&HistoryFilter {
            action: Some("rotate".into()),
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(rotations.len(), 1);
    std::fs::remove_dir_all(dir).ok();
}

both!(a_crash_in_the_middle_of_a_rotation_loses_nothing);
fn a_crash_in_the_middle_of_a_rotation_loses_nothing(b: Backend) {
    // issue 4: a killed process leaves no half-rotated family.
    let dir = tempdir(&format!("crash-{b:?}"));
    let Some(db) = new_store(&dir, b, &format!("t_{}", dir_name(&dir))) else {
        return;
    };
    let m = module();
    let (secret, token) = {
        let mut s = Store::open(db.as_str()).unwrap();
        let mut p = policy(&m, &mut s);
        create(&mut p, &mut s, "ci", &["write:repository"])
    };
    let before = Store::open(db.as_str())
        .unwrap()
        .history(&HistoryFilter {
            limit: 100,
            ..Default::default()
        })
        .unwrap()
        .0;
    let marker = dir.join("paused");
    let mut child = Command::new(bin())
        .args(["token", "rotate", "--db", db.as_str(), &token.id])
        .env("FORGE_AUTHZ_FAULT_PAUSE_BEFORE_COMMIT", &marker)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !marker.exists() {
        assert!(
            start.elapsed().as_secs() < 60,
            "the rotation never reached its commit point"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: no destructor, no rollback code runs
    child.wait().unwrap();
    let mut s = Store::open(db.as_str()).unwrap();
    let all = s.tokens(None).unwrap();
    assert_eq!(all.len(), 1, "no half-written successor");
    let old = &all[0].record;
    assert_eq!(
        (old.revoked, old.successor.as_ref()),
        (None, None),
        "the old token is untouched"
    );
    let after = s
        .history(&HistoryFilter {
            limit: 100,
            ..Default::default()
        })
        .unwrap()
        .0;
    assert_eq!(before, after, "no history event from the lost transaction");
    drop(s);
    // The token still works, and a later rotation succeeds.
    let mut s = Store::open(db.as_str()).unwrap();
    let mut p = policy(&m, &mut s);
    assert!(lifecycle::rotate(&mut p, &mut s, &token.id, None, &actor("alice", NOW + 20)).is_ok());
    assert!(!secret.is_empty());
    std::fs::remove_dir_all(dir).ok();
}

both!(history_is_complete_and_filterable);
fn history_is_complete_and_filterable(b: Backend) {
    // seed 002 (token change history: every event, filters, cursor pagination), issue 4.
    let dir = tempdir(&format!("history-{b:?}"));
    let Some(db) = new_store(&dir, b, &format!("t_{}", dir_name(&dir))) else {
        return;
    };
    let m = module();
    let mut s = Store::open(db.as_str()).unwrap();
    let mut p = policy(&m, &mut s);
    let (_, a) = create(&mut p, &mut s, "a", &["write:repository", "read:issue"]);
    let (_, b) = create(&mut p, &mut s, "b", &["read:repository"]);
    let child = match lifecycle::child(
        &mut p,
        &mut s,
        &a.id,
        &["read:repository".into()],
        3600,
        None,
        &actor("alice", NOW + 1),
    )
    .unwrap()
    {
        lifecycle::ChildResult::Minted(_, r) => r,
        lifecycle::ChildResult::Reused(_) => panic!("nothing to reuse"),
    };
    let edit = wit::TokenEdit {
        name: Some("a2".into()),
        scopes: None,
        expires: Some(Some(NOW + 600)),
    };
    let written = lifecycle::edit(&mut p, &mut s, &a.id, &edit, &actor("root", NOW + 2)).unwrap();
    assert_eq!(written.len(), 2, "the child was shortened with its parent");
    let (_, a3) = lifecycle::rotate(&mut p, &mut s, &a.id, None, &actor("alice", NOW + 3)).unwrap();
    let revoked = lifecycle::revoke(
        &mut p,
        &mut s,
        &b.id,
        wit::RevokeScope::Token,
        &actor("alice", NOW + 4),
    )
    .unwrap();
    assert_eq!(revoked, vec![b.id.clone()]);
    let expired = lifecycle::expire(&mut p, &mut s, &actor("expire", NOW + 10_000)).unwrap();
    assert_eq!(
        expired.len(),
        1,
        "the rotated successor expired (its lifetime was 600 s)"
    );
    assert_eq!(expired[0].token_id, a3.id);
    assert!(
        lifecycle::expire(&mut p, &mut s, &actor("expire", NOW + 20_000))
            .unwrap()
            .is_empty(),
        "recorded once"
    );

    let mut all = |f: HistoryFilter| s.history(&HistoryFilter { limit: 100, ..f }).unwrap().0;
    let events = all(HistoryFilter::default());
    let count = |action: &str| events.iter().filter(|e| e.action == action).count();
    // create a, b, child, rotation successor; edit a and child; rotate a; revoke b and the
    // child (it went with its rotated-away parent); expire a3.
    assert_eq!(
        (
            count("create"),
            count("edit"),
            count("rotate"),
            count("revoke"),
            count("expire")
        ),
        (4, 2, 1, 2, 1)
    );
    let edit_a = events
        .iter()
        .find(|e| e.action == "edit" && e.token_id == a.id)
        .unwrap();
    assert_eq!(
        (
            edit_a.old_name.as_deref(),
            edit_a.name.as_str(),
            edit_a.actor.as_str()
        ),
        (Some("a"), "a2", "root")
    );
    assert!(
        events
            .iter()
            .any(|e| e.action == "revoke" && e.token_id == child.id)
    );
    assert_eq!(
        all(HistoryFilter {
            actor: Some("root".into()),
            ..Default::default()
        })
        .len(),
        2
    );
    assert_eq!(
        all(HistoryFilter {
            token: Some(b.id.clone()),
            ..Default::default()
        })
        .len(),
        2
    );
    assert_eq!(
        all(HistoryFilter {
            action: Some("expire".into()),
            ..Default::default()
        })
        .len(),
        1
    );
    // At NOW+3: rotate, its successor's create, the child's cascaded revoke; at NOW+4: revoke b.
    assert_eq!(
        all(HistoryFilter {
            since: Some(NOW + 3),
            until: Some(NOW + 5),
            ..Default::default()
        })
        .len(),
        4
    );
    let mut cidr = |c: &str| {
        all(HistoryFilter {
            ip: Some(c.parse().unwrap()),
            ..Default::default()
        })
        .len()
    };
    assert_eq!(cidr("198.51.100.0/24"), events.len());
    assert_eq!(cidr("203.0.113.0/24"), 0);
    // Cursor pagination walks every event exactly once, newest first.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let (page, next) = s
            .history(&HistoryFilter {
                limit: 3,
                cursor,
                ..Default::default()
            })
            .unwrap();
        seen.extend(page.iter().map(|e| e.seq));
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let mut expected: Vec<i64> = events.iter().map(|e| e.seq).collect();
    expected.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(seen, expected);
    std::fs::remove_dir_all(dir).ok();
}

both!(import_export_round_trip_and_no_secrets);
fn import_export_round_trip_and_no_secrets(b: Backend) {
    let dir = tempdir(&format!("roundtrip-{b:?}"));
    let Some(db) = new_store(&dir, b, &format!("t_{}", dir_name(&dir))) else {
        return;
    };
    let m = module();
    let mut s = Store::open(db.as_str()).unwrap();
    let mut p = policy(&m, &mut s);
    let (secret, _) = create(&mut p, &mut s, "ci", &["write:repository"]);
    let w = s.export_world().unwrap();
    let db2 = fresh_db(&dir, b, &format!("t_{}_copy", dir_name(&dir))).unwrap();
    Store::open(db2.as_str()).unwrap().import_world(&w).unwrap();
    assert_eq!(
        Store::open(db2.as_str()).unwrap().export_world().unwrap(),
        w
    );
    let needle = &secret.as_bytes()[9..57];
    let raw: Vec<u8> = match b {
        Backend::Sqlite => std::fs::read(&db).unwrap(),
        // Every row of every table, as text (bytes as hex and as the text they hold).
        Backend::Postgres => {
            let mut c = postgres::Client::connect(&db, postgres::NoTls).unwrap();
            let mut all = Vec::new();
            for t in ["tokens", "history", "meta", "keys"] {
                for r in c.query(&format!("SELECT t::text FROM {t} t"), &[]).unwrap() {
                    all.extend_from_slice(r.get::<_, String>(0).as_bytes());
                }
            }
            all
        }
    };
    assert!(
        !raw.windows(needle.len()).any(|win| win == needle),
        "the secret is never stored"
    );
    assert_eq!(
        Store::open(db.as_str()).unwrap().schema_version().unwrap(),
        forge_authz_host::store::schema::VERSION
    );
    std::fs::remove_dir_all(dir).ok();
}

fn run(args: &[&str], stdin: Option<&str>) -> std::process::Output {
    use std::io::Write;
    let mut c = Command::new(bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(i) = stdin {
        let _ = c.stdin.take().unwrap().write_all(i.as_bytes());
    }
    drop(c.stdin.take());
    c.wait_with_output().unwrap()
}

both!(the_cli_lifecycle_from_the_readme);
fn the_cli_lifecycle_from_the_readme(b: Backend) {
    // README "Token store": create, list, derive, rotate, revoke, audit; decide against the
    // database writes last-used and revokes a leaked rotation family.
    let dir = tempdir(&format!("cli-{b:?}"));
    let Some(db) = fresh_db(&dir, b, &format!("t_{}", dir_name(&dir))) else {
        return;
    };
    let d = db.as_str();
    assert!(run(&["init-db", "--db", d], None).status.success());
    let out = run(
        &[
            "token",
            "create",
            "--db",
            d,
            "--owner",
            "alice",
            "--name",
            "ci",
            "--scope",
            "write:repository",
            "--json",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let secret = created["secret"].as_str().unwrap().to_string();
    let id = created["token"]["id"].as_str().unwrap().to_string();
    let out = run(&["token", "list", "--db", d], None);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains(&id) && !listing.contains(&secret));
    let out = run(
        &[
            "token",
            "child",
            "--db",
            d,
            &id,
            "--scope",
            "read:repository",
            "--lifetime",
            "1h",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Duplicate names are refused by the policy.
    let out = run(
        &[
            "token",
            "create",
            "--db",
            d,
            "--owner",
            "alice",
            "--name",
            "ci",
            "--scope",
            "read:repository",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already has a live token with this name")
    );
    let request = |s: &str| {
        format!(r#"{{"credential":{{"bearer":"{s}"}},"repository":"alice/app","action":"pull"}}"#)
    };
    let out = run(
        &["decide", "--db", d, "--request", "-"],
        Some(&request(&secret)),
    );
    assert_eq!(out.status.code(), Some(0));
    let shown: serde_json::Value =
        serde_json::from_slice(&run(&["token", "show", "--db", d, &id, "--json"], None).stdout)
            .unwrap();
    assert!(
        shown["last_used"].as_i64().is_some(),
        "decide recorded the use"
    );
    let out = run(&["token", "rotate", "--db", d, &id, "--json"], None);
    let rotated: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let new_id = rotated["token"]["id"].as_str().unwrap().to_string();
    // The old secret presented again: refused, and the whole family is revoked.
    let out = run(
        &["decide", "--db", d, "--request", "-"],
        Some(&request(&secret)),
    );
    assert_eq!(out.status.code(), Some(1));
    let shown: serde_json::Value =
        serde_json::from_slice(&run(&["token", "show", "--db", d, &new_id, "--json"], None).stdout)
            .unwrap();
    assert_eq!(shown["state"].as_str(), Some("revoked"));
    let out = run(&["audit", "--db", d, "--json"], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = run(&["history", "--db", d, "--json", "--limit", "100"], None);
    let h: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let actions: Vec<&str> = h["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"rotate") && actions.contains(&"revoke") && actions.contains(&"create")
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&secret));
    let export = dir.join("export.json");
    assert!(
        run(
            &["export", "--db", d, "--world", export.to_str().unwrap()],
            None
        )
        .status
        .success()
    );
    assert!(!std::fs::read_to_string(&export).unwrap().contains(&secret));
    std::fs::remove_dir_all(dir).ok();
}

both!(children_stay_within_their_parent_from_the_cli);
fn children_stay_within_their_parent_from_the_cli(b: Backend) {
    // issue 8 class 8 (children escaped their parent after creation); seed 002.
    let dir = tempdir(&format!("children-{b:?}"));
    let Some(db) = fresh_db(&dir, b, &format!("t_{}", dir_name(&dir))) else {
        return;
    };
    let d = db.as_str();
    assert!(run(&["init-db", "--db", d], None).status.success());
    let json = |out: std::process::Output| -> serde_json::Value {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let parent = json(run(
        &[
            "token",
            "create",
            "--db",
            d,
            "--owner",
            "alice",
            "--name",
            "p",
            "--scope",
            "write:repository,read:issue",
            "--expires-in",
            "30d",
            "--json",
        ],
        None,
    ));
    let pid = parent["token"]["id"].as_str().unwrap().to_string();
    let child = json(run(
        &[
            "token",
            "child",
            "--db",
            d,
            "--scope",
            "write:repository,read:issue",
            "--lifetime",
            "1d",
            "--json",
            "--",
            &pid,
        ],
        None,
    ));
    let cid = child["token"]["id"].as_str().unwrap().to_string();
    let child_secret = child["secret"].as_str().unwrap().to_string();
    for args in [
        vec![
            "token",
            "edit",
            "--db",
            d,
            "--expires-in",
            "300d",
            "--",
            &cid,
        ],
        vec![
            "token",
            "rotate",
            "--db",
            d,
            "--expires-in",
            "300d",
            "--",
            &cid,
        ],
    ] {
        let out = run(&args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?} must be refused");
        assert!(String::from_utf8_lossy(&out.stderr).contains("parent"));
    }
    // Narrowing the parent narrows the child: it can no longer push.
    json(run(
        &[
            "token",
            "edit",
            "--db",
            d,
            "--scope",
            "read:issue",
            "--json",
            "--",
            &pid,
        ],
        None,
    ));
    let shown = json(run(
        &["token", "show", "--db", d, "--json", "--", &cid],
        None,
    ));
    assert_eq!(shown["scopes"], serde_json::json!(["read:issue"]));
    let push = format!(
        r#"{{"credential":{{"bearer":"{child_secret}"}},"repository":"alice/app","action":"push"}}"#
    );
    let out = run(&["decide", "--db", d, "--request", "-"], Some(&push));
    assert_eq!(out.status.code(), Some(1), "the narrowed child is refused");
    let out = run(&["audit", "--db", d, "--json"], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "nothing left for the audit: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    std::fs::remove_dir_all(dir).ok();
}

both!(bulk_import_adds_rows_in_batches_and_names_bad_ones);
fn bulk_import_adds_rows_in_batches_and_names_bad_ones(b: Backend) {
    // issue 10 (bulk import): JSON lines and CSV, batches, a bad row named by line and
    // field with the count committed before it, --skip to go on; the rows are facts the
    // policy then decides on.
    let dir = tempdir(&format!("bulk-{b:?}"));
    let Some(db) = new_store(&dir, b, &format!("t_{}", dir_name(&dir))) else {
        return;
    };
    let d = db.as_str();
    let users = dir.join("users.csv");
    std::fs::write(
        &users,
        "name,visibility,organization\nzed,public,false\nneworg,private,true\n",
    )
    .unwrap();
    let out = run(
        &[
            "bulk-import",
            "--db",
            d,
            "--users",
            users.to_str().unwrap(),
            "--format",
            "csv",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Five repositories, batches of two; the fourth has an unknown kind.
    let mut lines = String::new();
    for i in 0..3 {
        lines.push_str(&format!(
            "{{\"owner\": \"zed\", \"name\": \"r{i}\", \"collaborators\": {{\"carol\": \"write\"}}}}\n"
        ));
    }
    lines.push_str("{\"owner\": \"zed\", \"name\": \"r3\", \"kind\": \"fork\"}\n");
    lines.push_str("{\"owner\": \"zed\", \"name\": \"r4\", \"private\": true}\n");
    let out = run(
        &[
            "bulk-import",
            "--db",
            d,
            "--repositories",
            "-",
            "--batch",
            "2",
        ],
        Some(&lines),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("row 4") && err.contains("kind") && err.contains("unknown variant `fork`"),
        "the bad row and field are named: {err}"
    );
    let mut s = Store::open(d).unwrap();
    let facts = forge_authz_host::store::facts::StoreFacts::new(&mut s);
    use forge_authz_host::facts::FactSource as _;
    // Batches are r0+r1 and r2+r3: the first committed, the second (with the bad row)
    // failed as a whole.
    let (stored, r0) = facts.repository("ZED/r0", Some("Carol")).unwrap().unwrap();
    assert_eq!(stored, "zed/r0", "the path as stored");
    assert_eq!(
        r0.role,
        forge_authz_guest::policy::Role::Write,
        "collaborator roles arrive, any case"
    );
    assert!(
        facts.repository("zed/r2", None).unwrap().is_none(),
        "a failed batch is rolled back"
    );
    assert!(err.contains("2 rows before it were committed"), "{err}");
    assert!(
        facts
            .namespace("neworg", Some("zed"))
            .unwrap()
            .unwrap()
            .organization,
        "CSV users with their flags"
    );
    drop(facts);
    drop(s);
    // Fix the bad row and go on from the failed batch.
    let fixed = lines.replace("\"fork\"", "\"mirror\"");
    let out = run(
        &[
            "bulk-import",
            "--db",
            d,
            "--repositories",
            "-",
            "--batch",
            "2",
            "--skip",
            "2",
        ],
        Some(&fixed),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut s = Store::open(d).unwrap();
    let w = s.export_world().unwrap();
    let names: Vec<&str> = w
        .repositories
        .iter()
        .filter(|r| r.owner == "zed")
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(names, ["r0", "r1", "r2", "r3", "r4"]);
    // A name that exists is refused, not replaced.
    let out = run(
        &["bulk-import", "--db", d, "--repositories", "-"],
        Some("{\"owner\": \"zed\", \"name\": \"R0\"}\n"),
    );
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(dir).ok();
}

both!(a_store_from_before_contract_0_4_keeps_its_tokens);
fn a_store_from_before_contract_0_4_keeps_its_tokens(b: Backend) {
    // Issue 11: records minted before contract 0.4 hold SHA-256 of the secret; 0.4 binds
    // new records to the token's HMAC tag instead (no second hash per request). A version-2
    // store is migrated in place (`secret_kind` = `sha256` for every existing row) and its
    // tokens keep working; a legacy record whose hash does not match is still refused.
    let dir = tempdir(&format!("legacy-{b:?}"));
    let Some(db) = new_store(&dir, b, &format!("l_{}", dir_name(&dir))) else {
        return;
    };
    let d = db.as_str();
    let m = module();
    let (secret, record) = {
        let mut s = Store::open(d).unwrap();
        let mut p = policy(&m, &mut s);
        create(&mut p, &mut s, "legacy", &["read:repository"])
    };
    let (other_secret, other) = {
        let mut s = Store::open(d).unwrap();
        let mut p = policy(&m, &mut s);
        create(&mut p, &mut s, "legacy-bad", &["read:repository"])
    };
    assert_eq!(
        record.secret.parts().0,
        "hmac-tag",
        "0.4 records store the tag"
    );
    // Turn the store back into version 2: SHA-256 digests, no kind column.
    {
        use sha2::Digest as _;
        let mut s = Store::open(d).unwrap();
        let hash = hex::encode(sha2::Sha256::digest(secret.as_bytes()));
        let (bytes, set_version) = match b {
            Backend::Sqlite => (format!("X'{hash}'"), "PRAGMA user_version = 2"),
            Backend::Postgres => (
                format!("'\\x{hash}'::bytea"),
                "UPDATE forge_authz_schema SET version = 2",
            ),
        };
        s.execute_sql(&format!(
            "UPDATE tokens SET secret_hash = {bytes} WHERE id = '{}'",
            record.id
        ))
        .unwrap();
        // SHA-256 of another string: the other record matches no secret.
        let wrong = hex::encode(sha2::Sha256::digest(b"not the secret"));
        s.execute_sql(&format!(
            "UPDATE tokens SET secret_hash = {} WHERE id = '{}'",
            bytes.replace(&hash, &wrong),
            other.id
        ))
        .unwrap();
        s.execute_sql("ALTER TABLE tokens DROP COLUMN secret_kind")
            .unwrap();
        // And what version 4 added (issue 19 item 3: versioned configuration).
        for undo in [
            "DROP TABLE config_history",
            "ALTER TABLE keys DROP COLUMN added_at",
            "ALTER TABLE keys DROP COLUMN added_by",
            "ALTER TABLE keys DROP COLUMN retired_at",
            "ALTER TABLE keys DROP COLUMN retired_by",
            "ALTER TABLE policy_hosts DROP COLUMN config_version",
        ] {
            s.execute_sql(undo).unwrap();
        }
        s.execute_sql(set_version).unwrap();
    }
    // Any write command migrates (as `init-db` would); the token still pulls.
    let mut s = Store::open(d).unwrap();
    assert_eq!(
        s.schema_version().unwrap(),
        forge_authz_host::store::schema::VERSION
    );
    drop(s);
    let request = |secret: &str| {
        format!(
            r#"{{"credential":{{"bearer":"{secret}"}},"repository":"alice/app","action":"pull"}}"#
        )
    };
    let out = run(
        &["decide", "--db", d, "--request", "-"],
        Some(&request(&secret)),
    );
    let shown = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(shown.contains(r#""reason":"granted""#), "{shown}");
    // The other legacy record's hash does not match its own (genuine) secret.
    let out = run(
        &["decide", "--db", d, "--request", "-"],
        Some(&request(&other_secret)),
    );
    let shown = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(shown.contains(r#""reason":"token-unknown""#), "{shown}");
    let mut s = Store::open(d).unwrap();
    let kinds = forge_authz_host::store::token_by_id(s.conn(), &other.id)
        .unwrap()
        .unwrap()
        .record
        .secret
        .parts()
        .0;
    assert_eq!(kinds, "sha256", "migrated rows are SHA-256 records");
    std::fs::remove_dir_all(dir).ok();
}

/// `token ...` through the CLI, with its JSON output; panics on a failure.
fn token_json(d: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["token"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--db", d, "--json"]);
    let out = run(&all, None);
    assert!(
        out.status.success(),
        "{all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

both!(strangers_change_no_token_and_edits_grant_nothing_minting_refuses);
fn strangers_change_no_token_and_edits_grant_nothing_minting_refuses(b: Backend) {
    // issue 19 items 1 and 2, reproduced with the release binary and a store:
    // `token edit|rotate|child|revoke --actor eve -- ALICE_TOKEN` all succeeded (eve got a
    // working secret); `token edit --scope write:admin,...` granted what minting refuses.
    let dir = tempdir(&format!("authority-{b:?}"));
    let Some(db) = fresh_db(&dir, b, &format!("t_{}", dir_name(&dir))) else {
        return;
    };
    let d = db.as_str();
    assert!(run(&["init-db", "--db", d], None).status.success());
    let created = token_json(
        d,
        &[
            "create",
            "--owner",
            "alice",
            "--name",
            "ci",
            "--scope",
            "write:repository",
        ],
    );
    let secret = created["secret"].as_str().unwrap().to_string();
    let id = created["token"]["id"].as_str().unwrap().to_string();
    let before = token_json(d, &["show", &id]);
    for attempt in [
        vec!["edit", "--scope", "all", &id],
        vec!["rotate", &id],
        vec!["child", &id, "--scope", "read:repository"],
        vec!["revoke", &id],
        vec!["revoke", "--family", &id],
    ] {
        let mut args = vec!["token", "--db", d, "--actor", "bob"];
        args.extend_from_slice(&attempt);
        let out = run(&args, None);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(!out.status.success(), "{attempt:?} by bob: {stdout}");
        // As for a missing id: no probing, and no secret.
        assert!(
            stderr.contains(&format!("no token `{id}`")),
            "{attempt:?}: {stderr}"
        );
        assert!(
            !stdout.contains("fzpat_") && !stderr.contains("fzpat_"),
            "{attempt:?}: a secret was printed"
        );
        assert_eq!(
            token_json(d, &["show", &id]),
            before,
            "{attempt:?} changed the record"
        );
    }
    let history = run(&["history", "--db", d, "--actor", "bob", "--json"], None);
    assert!(
        history.status.success(),
        "{}",
        String::from_utf8_lossy(&history.stderr)
    );
    let events: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(
        events["events"].as_array().map(Vec::len).unwrap_or(0),
        0,
        "no event by bob: {events}"
    );
    // An actor the store does not know acts on nothing.
    let out = run(
        &["token", "--db", d, "--actor", "nobody", "revoke", &id],
        None,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user `nobody`"));
    // The owner cannot grant herself what only an administrator grants.
    let out = run(
        &[
            "token",
            "--db",
            d,
            "edit",
            "--scope",
            "write:admin,read:repository",
            &id,
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("you may not grant scope `write:admin`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(token_json(d, &["show", &id]), before);
    // The token still works for its owner.
    let request = format!(
        r#"{{"credential":{{"bearer":"{secret}"}},"repository":"alice/app","action":"push"}}"#
    );
    let out = run(&["decide", "--db", d, "--request", "-"], Some(&request));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

both!(every_request_kind_revokes_a_leaked_rotation_family);
fn every_request_kind_revokes_a_leaked_rotation_family(b: Backend) {
    // issue 19 item 4: a rotated-away token presented through `ref-permissions` or a batch
    // did not revoke its family (through plain git it did). GitLab, reference §5.2.
    let dir = tempdir(&format!("family-{b:?}"));
    let Some(db) = fresh_db(&dir, b, &format!("t_{}", dir_name(&dir))) else {
        return;
    };
    let d = db.as_str();
    assert!(run(&["init-db", "--db", d], None).status.success());
    for (n, leak) in [
        r#""kind":"ref-permissions","repository":"alice/app","ref_names":["refs/heads/main"]"#,
        r#""kind":"batch","action":"pull","repositories":["alice/app","alice/secret"]"#,
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("leaky{n}");
        let created = token_json(
            d,
            &[
                "create",
                "--owner",
                "alice",
                "--name",
                &name,
                "--scope",
                "write:repository",
            ],
        );
        let old = created["secret"].as_str().unwrap().to_string();
        let id = created["token"]["id"].as_str().unwrap().to_string();
        let rotated = token_json(d, &["rotate", &id]);
        let new = rotated["secret"].as_str().unwrap().to_string();
        let pull = |s: &str| {
            format!(
                r#"{{"credential":{{"bearer":"{s}"}},"repository":"alice/app","action":"pull"}}"#
            )
        };
        let out = run(&["decide", "--db", d, "--request", "-"], Some(&pull(&new)));
        assert_eq!(out.status.code(), Some(0), "the successor works");
        // The old secret, presented through this request kind.
        let leaked = format!(r#"{{"credential":{{"bearer":"{old}"}},{leak}}}"#);
        let out = run(&["decide", "--db", d, "--request", "-"], Some(&leaked));
        assert!(
            out.status.success() || out.status.code() == Some(1),
            "{leak}"
        );
        let out = run(&["decide", "--db", d, "--request", "-"], Some(&pull(&new)));
        let d_json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            d_json["reason"].as_str(),
            Some("token-revoked"),
            "{leak}: the successor is revoked with its family"
        );
    }
}
