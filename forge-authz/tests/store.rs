//! The token store with the real policy module, on both backends (SQLite and a real
//! PostgreSQL server started for the test run): concurrency, crashes, history, the CLI.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

#[path = "support/cli.rs"]
mod cli;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Barrier};

use cli::{bin, run, strings};

use forge_authz_host::cli::sample_world;
use forge_authz_host::lifecycle::{self, Actor, CreateArgs, Who};
use forge_authz_host::policy::{Limits, PolicyModule, WasmPolicy, default_policy_path};
use forge_authz_host::store::{HistoryFilter, HistoryRow, Store};
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

/// One test's scratch directory and store on one backend; the directory is removed when
/// the test passes (a failing test leaves it to look at).
struct Case {
    dir: PathBuf,
    db: String,
    backend: Backend,
}

impl Drop for Case {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            std::fs::remove_dir_all(&self.dir).ok();
        }
    }
}

impl Case {
    /// An empty store (`None`: PostgreSQL skipped, see [`fresh_db`]).
    fn empty(b: Backend, label: &str) -> Option<Case> {
        let dir = forge_authz_testkit::scratch(&format!("forge-authz-store-{label}-{b:?}-"));
        let db = fresh_db(&dir, b, &format!("t_{}", dir_name(&dir)))?;
        Some(Case {
            dir,
            db,
            backend: b,
        })
    }

    /// A store created by `forge-authz init-db`, as the README's CLI sessions begin.
    fn init_db(b: Backend, label: &str) -> Option<Case> {
        let case = Case::empty(b, label)?;
        assert!(run(&["init-db", "--db", case.d()], None).status.success());
        Some(case)
    }

    /// A store holding the sample world at [`NOW`], with a site administrator `root`,
    /// who may act on anyone's token (issue 19).
    fn with_world(b: Backend, label: &str) -> Option<Case> {
        let case = Case::empty(b, label)?;
        let mut w = sample_world().unwrap();
        w.now = Some(NOW);
        let mut root = w.users[0].clone();
        root.name = "root".into();
        root.site_admin = true;
        w.users.push(root);
        Store::create(case.d()).unwrap().import_world(&w).unwrap();
        Some(case)
    }

    fn d(&self) -> &str {
        &self.db
    }

    /// Another empty store on the same backend, named after this one.
    fn another(&self, suffix: &str) -> String {
        fresh_db(
            &self.dir,
            self.backend,
            &format!("t_{}_{suffix}", dir_name(&self.dir)),
        )
        .unwrap()
    }

    /// The store and a policy configured from it.
    fn open(&self, m: &PolicyModule) -> (Store, WasmPolicy) {
        let mut s = Store::create(self.d()).unwrap();
        let p = policy(m, &mut s);
        (s, p)
    }

    /// Mints alice's token `name` through a connection of its own.
    fn mint(&self, m: &PolicyModule, name: &str, scopes: &[&str]) -> (String, wit::TokenRecord) {
        let (mut s, mut p) = self.open(m);
        create(&mut p, &mut s, name, scopes)
    }

    /// Every history event that `f` selects (up to 100).
    fn history(&self, f: HistoryFilter) -> Vec<HistoryRow> {
        events(&mut Store::create(self.d()).unwrap(), f)
    }
}

fn events(s: &mut Store, f: HistoryFilter) -> Vec<HistoryRow> {
    s.history(&HistoryFilter { limit: 100, ..f }).unwrap().0
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

/// A command that must succeed (its stderr shown if not).
fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `token --db D ARGS...` through the CLI.
fn token(d: &str, args: &[&str]) -> Output {
    run(&[&["token", "--db", d], args].concat(), None)
}

/// `token --db D --json ARGS...` through the CLI, with its JSON output; panics on a failure.
fn token_json(d: &str, args: &[&str]) -> serde_json::Value {
    let all = [&["token", "--db", d, "--json"], args].concat();
    let out = run(&all, None);
    assert!(
        out.status.success(),
        "{all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `create --owner alice --name NAME --scope SCOPES`.
fn create_alice<'a>(name: &'a str, scopes: &'a str) -> [&'a str; 7] {
    [
        "create", "--owner", "alice", "--name", name, "--scope", scopes,
    ]
}

/// `token create --owner alice --name NAME --scope SCOPES EXTRA...`: (secret, id).
fn alice_token(d: &str, name: &str, scopes: &str, extra: &[&str]) -> (String, String) {
    let created = token_json(d, &[&create_alice(name, scopes)[..], extra].concat());
    let secret = created["secret"].as_str().unwrap().to_string();
    (secret, created["token"]["id"].as_str().unwrap().to_string())
}

/// The command exited with `code` (`what` and its stdout shown if not).
fn assert_code(out: &Output, code: i32, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// `decide --db D --request -` with `request` on stdin.
fn decide(d: &str, request: &str) -> Output {
    run(&["decide", "--db", d, "--request", "-"], Some(request))
}

/// A git `action` on `alice/app` with a bearer token.
fn bearer(secret: &str, action: &str) -> String {
    format!(
        r#"{{"credential":{{"bearer":"{secret}"}},"repository":"alice/app","action":"{action}"}}"#
    )
}

/// `bulk-import --db D ARGS...` with `stdin`.
fn bulk_import(d: &str, args: &[&str], stdin: Option<&str>) -> Output {
    run(&[&["bulk-import", "--db", d], args].concat(), stdin)
}

both!(concurrent_rotations_leave_exactly_one_live_successor, |b| {
    Case::with_world(b, "race")
});
fn concurrent_rotations_leave_exactly_one_live_successor(case: Case) {
    // issue 4: rotations of one token race; the store serialises them and the policy
    // refuses all but the first (the token is no longer live).
    let m = module();
    let (_, token) = case.mint(&m, "ci", &["write:repository"]);
    const N: usize = 6;
    let barrier = Arc::new(Barrier::new(N));
    let handles: Vec<_> = (0..N)
        .map(|_| {
            let (db, m, id, barrier) = (
                case.db.clone(),
                m.clone(),
                token.id.clone(),
                barrier.clone(),
            );
            std::thread::spawn(move || {
                let mut s = Store::create(db.as_str()).unwrap();
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
    let mut s = Store::create(case.d()).unwrap();
    let all = s.tokens(Some("alice")).unwrap();
    let live: Vec<_> = all.iter().filter(|t| t.record.revoked.is_none()).collect();
    assert_eq!(live.len(), 1);
    assert_eq!(
        live[0].record.predecessor.as_deref(),
        Some(token.id.as_str())
    );
    let old = s.token(&token.id).unwrap().unwrap().record;
    assert_eq!(old.successor.as_deref(), Some(live[0].record.id.as_str()));
    let rotations = case.history(HistoryFilter {
        action: Some("rotate".into()),
        ..Default::default()
    });
    assert_eq!(rotations.len(), 1);
}

both!(a_crash_in_the_middle_of_a_rotation_loses_nothing, |b| {
    Case::with_world(b, "crash")
});
fn a_crash_in_the_middle_of_a_rotation_loses_nothing(case: Case) {
    // issue 4: a killed process leaves no half-rotated family.
    let m = module();
    let (secret, token) = case.mint(&m, "ci", &["write:repository"]);
    let before = case.history(HistoryFilter::default());
    let marker = case.dir.join("paused");
    let mut child = Command::new(bin())
        .args(["token", "rotate", "--db", case.d(), &token.id])
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
    let mut s = Store::create(case.d()).unwrap();
    let all = s.tokens(None).unwrap();
    assert_eq!(all.len(), 1, "no half-written successor");
    let old = &all[0].record;
    assert_eq!(
        (old.revoked, old.successor.as_ref()),
        (None, None),
        "the old token is untouched"
    );
    let after = events(&mut s, HistoryFilter::default());
    assert_eq!(before, after, "no history event from the lost transaction");
    drop(s);
    // The token still works, and a later rotation succeeds.
    let (mut s, mut p) = case.open(&m);
    assert!(lifecycle::rotate(&mut p, &mut s, &token.id, None, &actor("alice", NOW + 20)).is_ok());
    assert!(!secret.is_empty());
}

both!(history_is_complete_and_filterable, |b| Case::with_world(
    b, "history"
));
fn history_is_complete_and_filterable(case: Case) {
    // seed 002 (token change history: every event, filters, cursor pagination), issue 4.
    let m = module();
    let (mut s, mut p) = case.open(&m);
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

    let all = events(&mut s, HistoryFilter::default());
    let count = |action: &str| {
        all.iter()
            .filter(|r| r.event.action.name() == action)
            .count()
    };
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
    let edit_a = &all
        .iter()
        .find(|r| r.event.action == wit::HistoryAction::Edit && r.event.token_id == a.id)
        .unwrap()
        .event;
    assert_eq!(
        (
            edit_a.old_name.as_deref(),
            edit_a.name.as_str(),
            edit_a.actor.as_str()
        ),
        (Some("a"), "a2", "root")
    );
    assert!(
        all.iter()
            .any(|r| r.event.action == wit::HistoryAction::Revoke && r.event.token_id == child.id)
    );
    let filter = |set: &dyn Fn(&mut HistoryFilter)| {
        let mut f = HistoryFilter::default();
        set(&mut f);
        f
    };
    // (filter, how many events it selects)
    let filtered = [
        (filter(&|f| f.actor = Some("root".into())), 2),
        (filter(&|f| f.token = Some(b.id.clone())), 2),
        (filter(&|f| f.action = Some("expire".into())), 1),
        // At NOW+3: rotate, its successor's create, the child's cascaded revoke; at NOW+4:
        // revoke b.
        (
            filter(&|f| (f.since, f.until) = (Some(NOW + 3), Some(NOW + 5))),
            4,
        ),
        (
            filter(&|f| f.ip = Some("198.51.100.0/24".parse().unwrap())),
            all.len(),
        ),
        (
            filter(&|f| f.ip = Some("203.0.113.0/24".parse().unwrap())),
            0,
        ),
    ];
    for (filter, n) in filtered {
        assert_eq!(events(&mut s, filter.clone()).len(), n, "{filter:?}");
    }
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
    let mut expected: Vec<i64> = all.iter().map(|e| e.seq).collect();
    expected.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(seen, expected);
}

both!(import_export_round_trip_and_no_secrets, |b| {
    Case::with_world(b, "roundtrip")
});
fn import_export_round_trip_and_no_secrets(case: Case) {
    let m = module();
    let (mut s, mut p) = case.open(&m);
    let (secret, _) = create(&mut p, &mut s, "ci", &["write:repository"]);
    let w = s.export_world().unwrap();
    let db2 = case.another("copy");
    Store::create(db2.as_str())
        .unwrap()
        .import_world(&w)
        .unwrap();
    assert_eq!(
        Store::create(db2.as_str()).unwrap().export_world().unwrap(),
        w
    );
    let needle = &secret.as_bytes()[9..57];
    let raw: Vec<u8> = match case.backend {
        Backend::Sqlite => std::fs::read(case.d()).unwrap(),
        // Every row of every table, as text (bytes as hex and as the text they hold).
        Backend::Postgres => {
            let mut c = postgres::Client::connect(case.d(), postgres::NoTls).unwrap();
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
        Store::create(case.d()).unwrap().schema_version().unwrap(),
        forge_authz_host::store::schema::VERSION
    );
}

both!(the_cli_lifecycle_from_the_readme, |b| Case::init_db(
    b, "cli"
));
fn the_cli_lifecycle_from_the_readme(case: Case) {
    // README "Token store": create, list, derive, rotate, revoke, audit; decide against the
    // database writes last-used and revokes a leaked rotation family.
    let d = case.d();
    let (secret, id) = alice_token(d, "ci", "write:repository", &[]);
    let out = token(d, &["list"]);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains(&id) && !listing.contains(&secret));
    ok(token(
        d,
        &[
            "child",
            &id,
            "--scope",
            "read:repository",
            "--lifetime",
            "1h",
        ],
    ));
    // Duplicate names are refused by the policy.
    let out = token(d, &create_alice("ci", "read:repository"));
    assert_eq!(
        out.status.code(),
        Some(4),
        "issue 25: a refusal exits EXIT_REFUSED"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already has a live token with this name")
    );
    assert_eq!(decide(d, &bearer(&secret, "pull")).status.code(), Some(0));
    let shown = token_json(d, &["show", &id]);
    assert!(
        shown["last_used"].as_i64().is_some(),
        "decide recorded the use"
    );
    let rotated = token_json(d, &["rotate", &id]);
    let new_id = rotated["token"]["id"].as_str().unwrap().to_string();
    // The old secret presented again: refused, and the whole family is revoked.
    assert_eq!(decide(d, &bearer(&secret, "pull")).status.code(), Some(1));
    let shown = token_json(d, &["show", &new_id]);
    assert_eq!(shown["state"].as_str(), Some("revoked"));
    assert_code(&run(&["audit", "--db", d, "--json"], None), 0, "");
    let out = run(&["history", "--db", d, "--json", "--limit", "100"], None);
    let h: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let actions = strings(&h["events"], "action");
    assert!(
        actions.contains(&"rotate") && actions.contains(&"revoke") && actions.contains(&"create")
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&secret));
    let export = case.dir.join("export.json");
    let world = ["export", "--db", d, "--world", export.to_str().unwrap()];
    assert!(run(&world, None).status.success());
    assert!(!std::fs::read_to_string(&export).unwrap().contains(&secret));
}

both!(children_stay_within_their_parent_from_the_cli, |b| {
    Case::init_db(b, "children")
});
fn children_stay_within_their_parent_from_the_cli(case: Case) {
    // issue 8 class 8 (children escaped their parent after creation); seed 002.
    let d = case.d();
    let both_scopes = "write:repository,read:issue";
    let (_, pid) = alice_token(d, "p", both_scopes, &["--expires-in", "30d"]);
    let child = token_json(
        d,
        &[
            "child",
            "--scope",
            both_scopes,
            "--lifetime",
            "1d",
            "--",
            &pid,
        ],
    );
    let cid = child["token"]["id"].as_str().unwrap().to_string();
    let child_secret = child["secret"].as_str().unwrap().to_string();
    for change in ["edit", "rotate"] {
        let args = [change, "--expires-in", "300d", "--", &cid];
        let out = token(d, &args);
        // Issue 25: a policy refusal exits 4 (EXIT_REFUSED).
        assert_eq!(out.status.code(), Some(4), "{args:?} must be refused");
        assert!(String::from_utf8_lossy(&out.stderr).contains("parent"));
    }
    // Narrowing the parent narrows the child: it can no longer push.
    token_json(d, &["edit", "--scope", "read:issue", "--", &pid]);
    let shown = token_json(d, &["show", "--", &cid]);
    assert_eq!(shown["scopes"], serde_json::json!(["read:issue"]));
    let out = decide(d, &bearer(&child_secret, "push"));
    assert_eq!(out.status.code(), Some(1), "the narrowed child is refused");
    let audit = run(&["audit", "--db", d, "--json"], None);
    assert_code(&audit, 0, "nothing left for the audit: ");
}

both!(bulk_import_adds_rows_in_batches_and_names_bad_ones, |b| {
    Case::with_world(b, "bulk")
});
fn bulk_import_adds_rows_in_batches_and_names_bad_ones(case: Case) {
    // issue 10 (bulk import): JSON lines and CSV, batches, a bad row named by line and
    // field with the count committed before it, --skip to go on; the rows are facts the
    // policy then decides on.
    let d = case.d();
    let users = case.dir.join("users.csv");
    std::fs::write(
        &users,
        "name,visibility,organization\nzed,public,false\nneworg,private,true\n",
    )
    .unwrap();
    let csv = ["--users", users.to_str().unwrap(), "--format", "csv"];
    ok(bulk_import(d, &csv, None));
    // Five repositories, batches of two; the fourth has an unknown kind.
    let mut lines = String::new();
    for i in 0..3 {
        lines.push_str(&format!(
            "{{\"owner\": \"zed\", \"name\": \"r{i}\", \"collaborators\": {{\"carol\": \"write\"}}}}\n"
        ));
    }
    lines.push_str("{\"owner\": \"zed\", \"name\": \"r3\", \"kind\": \"fork\"}\n");
    lines.push_str("{\"owner\": \"zed\", \"name\": \"r4\", \"private\": true}\n");
    let batches = ["--repositories", "-", "--batch", "2"];
    let out = bulk_import(d, &batches, Some(&lines));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("line 4: ") && err.contains("kind") && err.contains("unknown variant `fork`"),
        "the bad row and field are named: {err}"
    );
    let mut s = Store::create(d).unwrap();
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
    ok(bulk_import(
        d,
        &[&batches[..], &["--skip", "2"]].concat(),
        Some(&fixed),
    ));
    assert_eq!(repository_names(d, "zed"), ["r0", "r1", "r2", "r3", "r4"]);
    // A name that exists is refused, not replaced.
    let out = bulk_import(
        d,
        &["--repositories", "-"],
        Some("{\"owner\": \"zed\", \"name\": \"R0\"}\n"),
    );
    assert_eq!(out.status.code(), Some(2));
}

/// The names of `owner`'s repositories in the store at `d`, in the order they were added.
fn repository_names(d: &str, owner: &str) -> Vec<String> {
    let w = Store::create(d).unwrap().export_world().unwrap();
    let mine = w.repositories.into_iter().filter(|r| r.owner == owner);
    mine.map(|r| r.name).collect()
}

/// Import `lines` of `kind` (`--users` or `--repositories`) in batches of two, after
/// `skip` rows: the exit code must be 2 and the error must name the line `row` and `done`
/// rows committed before it, with `what` and the way on (issue 25: in words, no database
/// text, and a `--skip` that goes on).
fn bulk_refused(d: &str, kind: &str, lines: &str, skip: &str, row: u64, done: u64, what: &str) {
    let args = [kind, "-", "--batch", "2", "--skip", skip];
    let out = bulk_import(d, &args, Some(lines));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let named = format!("line {row}: ");
    let committed = format!("not imported ({done} rows before it were committed)");
    let skip = format!("`--skip {done}`");
    assert!(
        err.contains(&named)
            && err.contains(what)
            && err.contains(&committed)
            && (done == 0 || err.contains(&skip)),
        "{named} / {what} / {committed}: {err}"
    );
    for raw in ["constraint", "UNIQUE", "duplicate key", "COPY"] {
        assert!(!err.contains(raw), "no database text ({raw}): {err}");
    }
}

both!(
    bulk_import_writes_what_single_rows_write_and_names_a_duplicate,
    |b| { Case::with_world(b, "bulkcopy") }
);
fn bulk_import_writes_what_single_rows_write_and_names_a_duplicate(case: Case) {
    // Issue 24 ("bulk import by COPY"): PostgreSQL writes a batch by one COPY per table;
    // the store must hold exactly what one INSERT per row (`put_user`, `put_repository`,
    // as `import --world` writes) holds, every column and child row, and a refused row is
    // still named by its input line with the rows committed before it (issue 10's
    // "row N ... --skip"), for a name that exists, a name twice in one batch, and a
    // duplicate in a child table.
    use forge_authz_host::store::{put_repository, put_user};
    use forge_authz_host::world::{RepoDef, UserDef};
    let d = case.d();
    let users = [
        r#"{"name": "Org1", "organization": true, "visibility": "private", "members": {"Alice": "admin", "bob": "read"}, "ip_allow": ["192.0.2.0/24", "not a block"]}"#,
        r#"{"name": "Susp", "status": "suspended", "site_admin": true, "visibility": "limited"}"#,
        r#"{"name": "plain"}"#,
    ];
    let repos = [
        r#"{"owner": "Org1", "name": "App", "private": true, "kind": "mirror", "archived": true, "registrant": "alice", "collaborators": {"Carol": "write", "dave": "admin"}, "protected_refs": [{"pattern": "main", "push": {"users": ["Bob", "carol"]}, "force_push": {"users": ["bob"]}}, {"pattern": "release/*", "push": "admins"}, {"pattern": "x", "push": {"users": []}}]}"#,
        r#"{"owner": "plain", "name": "lib", "kind": "import"}"#,
        r#"{"owner": "Susp", "name": "old", "protected_refs": [{"pattern": "**", "push": "nobody", "force_push": {"users": ["Susp"]}}]}"#,
    ];
    // The oracle: the same world and the same rows written one INSERT at a time.
    let oracle = case.another("oracle");
    let before = Store::create(d).unwrap().export_world().unwrap();
    let mut o = Store::create(&oracle).unwrap();
    o.import_world(&before).unwrap();
    let mut tx = o.write().unwrap();
    for u in users {
        put_user(&mut tx, &serde_json::from_str::<UserDef>(u).unwrap()).unwrap();
    }
    for r in repos {
        put_repository(&mut tx, &serde_json::from_str::<RepoDef>(r).unwrap()).unwrap();
    }
    tx.commit().unwrap();
    let expected = o.export_world().unwrap();
    let jsonl = |rows: &[&str]| rows.iter().map(|r| format!("{r}\n")).collect::<String>();
    ok(bulk_import(
        d,
        &["--users", "-", "--batch", "2"],
        Some(&jsonl(&users)),
    ));
    ok(bulk_import(
        d,
        &["--repositories", "-", "--batch", "2"],
        Some(&jsonl(&repos)),
    ));
    let got = Store::create(d).unwrap().export_world().unwrap();
    assert_eq!(got.users, expected.users, "users and members, every column");
    assert_eq!(
        got.repositories, expected.repositories,
        "repositories and their rows"
    );
    assert_ne!(got.repositories, before.repositories, "the rows arrived");

    // Batches of two: lines 1-2 commit; line 4 names a repository that exists (any case).
    let mut lines = jsonl(&[
        r#"{"owner": "plain", "name": "a"}"#,
        r#"{"owner": "plain", "name": "b"}"#,
        r#"{"owner": "plain", "name": "c"}"#,
        r#"{"owner": "PLAIN", "name": "LIB"}"#,
    ]);
    bulk_refused(
        d,
        "--repositories",
        &lines,
        "0",
        4,
        2,
        "repository `PLAIN/LIB`",
    );
    // Going on from there: line 4 now repeats line 3 of the same batch.
    lines = lines.replace(r#""PLAIN", "name": "LIB""#, r#""plain", "name": "C""#);
    bulk_refused(
        d,
        "--repositories",
        &lines,
        "2",
        4,
        2,
        "repository `plain/C`",
    );
    // A collaborator twice (names are keys in any case): the child row's line.
    lines = lines.replace(
        r#""name": "C""#,
        r#""name": "d", "collaborators": {"Carol": "read", "carol": "write"}"#,
    );
    bulk_refused(
        d,
        "--repositories",
        &lines,
        "2",
        4,
        2,
        "repository `plain/d`",
    );
    // A member twice in an organisation's first row; a user that exists in another batch.
    let members =
        r#"{"name": "o2", "organization": true, "members": {"Bob": "read", "bob": "admin"}}"#;
    bulk_refused(d, "--users", &jsonl(&[members]), "0", 1, 0, "`o2`");
    let again = jsonl(&[
        r#"{"name": "u1"}"#,
        r#"{"name": "u2"}"#,
        r#"{"name": "SUSP"}"#,
    ]);
    bulk_refused(d, "--users", &again, "0", 3, 2, "user `SUSP`");
    // Nothing of a failed batch stayed; the good batches did.
    let plain = repository_names(d, "plain");
    assert_eq!(plain, ["lib", "a", "b"], "in the order they came");
    let w = Store::create(d).unwrap().export_world().unwrap();
    let names: Vec<&str> = w.users.iter().map(|u| u.name.as_str()).collect();
    assert!(names.contains(&"u1") && names.contains(&"u2"), "{names:?}");
    assert!(!names.contains(&"o2"), "{names:?}");
}

both!(a_store_from_before_contract_0_4_keeps_its_tokens, |b| {
    Case::with_world(b, "legacy")
});
fn a_store_from_before_contract_0_4_keeps_its_tokens(case: Case) {
    // Issue 11: records minted before contract 0.4 hold SHA-256 of the secret; 0.4 binds
    // new records to the token's HMAC tag instead (no second hash per request). A version-2
    // store is migrated in place (`secret_kind` = `sha256` for every existing row) and its
    // tokens keep working; a legacy record whose hash does not match is still refused.
    let d = case.d();
    let m = module();
    let (secret, record) = case.mint(&m, "legacy", &["read:repository"]);
    let (other_secret, other) = case.mint(&m, "legacy-bad", &["read:repository"]);
    assert_eq!(
        record.secret.parts().0,
        "hmac-tag",
        "0.4 records store the tag"
    );
    // Turn the store back into version 2: SHA-256 digests, no kind column.
    {
        use sha2::Digest as _;
        let mut s = Store::create(d).unwrap();
        let hash = hex::encode(sha2::Sha256::digest(secret.as_bytes()));
        let (bytes, set_version) = match case.backend {
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
        // And what versions 4 to 6 added.
        let undo_v4_v5 = forge_authz_testkit::schema::UNDO_V6
            .iter()
            .chain(forge_authz_testkit::schema::UNDO_V5)
            .chain(forge_authz_testkit::schema::UNDO_V4);
        for undo in undo_v4_v5 {
            s.execute_sql(undo).unwrap();
        }
        s.execute_sql(set_version).unwrap();
    }
    // Any write command migrates (as `init-db` would); the token still pulls.
    let mut s = Store::create(d).unwrap();
    assert_eq!(
        s.schema_version().unwrap(),
        forge_authz_host::store::schema::VERSION
    );
    drop(s);
    // (secret, exit code, reason): the other legacy record's hash does not match its own
    // (genuine) secret.
    for (secret, code, reason) in [(&secret, 0, "granted"), (&other_secret, 1, "token-unknown")] {
        let out = decide(d, &bearer(secret, "pull"));
        let shown = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(code), "{shown}");
        let reason = format!(r#""reason":"{reason}""#);
        assert!(shown.contains(&reason), "{shown}");
    }
    let mut s = Store::create(d).unwrap();
    let kinds = forge_authz_host::store::token_by_id(s.conn(), &other.id)
        .unwrap()
        .unwrap()
        .record
        .secret
        .parts()
        .0;
    assert_eq!(kinds, "sha256", "migrated rows are SHA-256 records");
}

both!(
    strangers_change_no_token_and_edits_grant_nothing_minting_refuses,
    |b| Case::init_db(b, "authority")
);
fn strangers_change_no_token_and_edits_grant_nothing_minting_refuses(case: Case) {
    // issue 19 items 1 and 2, reproduced with the release binary and a store:
    // `token edit|rotate|child|revoke --actor eve -- ALICE_TOKEN` all succeeded (eve got a
    // working secret); `token edit --scope write:admin,...` granted what minting refuses.
    let d = case.d();
    let (secret, id) = alice_token(d, "ci", "write:repository", &[]);
    let before = token_json(d, &["show", &id]);
    for attempt in [
        vec!["edit", "--scope", "all", &id],
        vec!["rotate", &id],
        vec!["child", &id, "--scope", "read:repository"],
        vec!["revoke", &id],
        vec!["revoke", "--family", &id],
    ] {
        let out = token(d, &[&["--actor", "bob"], &attempt[..]].concat());
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
    let history = ok(run(
        &["history", "--db", d, "--actor", "bob", "--json"],
        None,
    ));
    let events: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(
        events["events"].as_array().map(Vec::len).unwrap_or(0),
        0,
        "no event by bob: {events}"
    );
    // An actor the store does not know acts on nothing.
    let out = token(d, &["--actor", "nobody", "revoke", &id]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user `nobody`"));
    // The owner cannot grant herself what only an administrator grants.
    let out = token(d, &["edit", "--scope", "write:admin,read:repository", &id]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("you may not grant scope `write:admin`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(token_json(d, &["show", &id]), before);
    // The token still works for its owner.
    assert_code(&decide(d, &bearer(&secret, "push")), 0, "");
}

both!(every_request_kind_revokes_a_leaked_rotation_family, |b| {
    Case::init_db(b, "family")
});
fn every_request_kind_revokes_a_leaked_rotation_family(case: Case) {
    // issue 19 item 4: a rotated-away token presented through `ref-permissions` or a batch
    // did not revoke its family (through plain git it did). GitLab, reference §5.2.
    let d = case.d();
    for (n, leak) in [
        r#""kind":"ref-permissions","repository":"alice/app","ref_names":["refs/heads/main"]"#,
        r#""kind":"batch","action":"pull","repositories":["alice/app","alice/secret"]"#,
    ]
    .into_iter()
    .enumerate()
    {
        let (old, id) = alice_token(d, &format!("leaky{n}"), "write:repository", &[]);
        let rotated = token_json(d, &["rotate", &id]);
        let new = rotated["secret"].as_str().unwrap().to_string();
        let out = decide(d, &bearer(&new, "pull"));
        assert_eq!(out.status.code(), Some(0), "the successor works");
        // The old secret, presented through this request kind.
        let out = decide(
            d,
            &format!(r#"{{"credential":{{"bearer":"{old}"}},{leak}}}"#),
        );
        assert!(
            out.status.success() || out.status.code() == Some(1),
            "{leak}"
        );
        let out = decide(d, &bearer(&new, "pull"));
        let d_json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            d_json["reason"].as_str(),
            Some("token-revoked"),
            "{leak}: the successor is revoked with its family"
        );
    }
}
