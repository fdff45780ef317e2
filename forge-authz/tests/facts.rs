//! The store's per-decision lookups give exactly the facts the world fixture gives, for
//! every world of the scenario corpus, every actor (and anonymous) and every target, with
//! names in any case and names that do not exist — on SQLite and on a real PostgreSQL
//! server. The corpus decides on the world's facts; this is what makes its verdicts hold
//! for a server reading the store (issue 10: indexed lookups must not change an answer).
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use forge_authz_guest::policy;
use forge_authz_host::facts::FactSource;
use forge_authz_host::store::facts::StoreFacts;
use forge_authz_host::store::sql::observe_queries;
use forge_authz_host::store::{Dialect, Store, Value, lookup_statement};
use forge_authz_host::world::World;
use forge_authz_testkit::pg;

fn scenario_worlds() -> Vec<(String, World)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            if let Some(w) = v.get("world") {
                let mut world: World = serde_json::from_value(w.clone()).unwrap();
                with_tokens(&mut world);
                world.validate().unwrap();
                out.push((
                    path.file_stem().unwrap().to_string_lossy().into_owned(),
                    world,
                ));
            }
        }
    }
    assert!(out.len() >= 10, "the corpus worlds were found");
    out
}

/// The corpus worlds hold no token records (scenarios mint theirs): give each user and
/// organisation one, its owner spelled in another case than the account's (the store keys
/// owners by `name_key`), some bound, derived or with an IP allow list, so that the token,
/// its owner's account and the token owner's view are compared too.
fn with_tokens(w: &mut World) {
    let owners: Vec<String> = w.users.iter().map(|u| u.name.clone()).collect();
    for (i, owner) in owners.iter().enumerate() {
        let def = serde_json::json!({
            "id": format!("tk{i}"),
            "owner": if i % 2 == 0 { owner.to_ascii_uppercase() } else { owner.clone() },
            "name": format!("t{i}"),
            "scopes": ["read:repository", "write:repository"],
            "repositories": if i % 3 == 1 { vec![format!("{owner}/x")] } else { vec![] },
            "parent": if i % 4 == 3 { Some("tk0") } else { None },
            "created": 1_700_000_000 + i64::try_from(i).unwrap(),
            "expires": if i % 5 == 2 { Some(1_800_000_000_i64) } else { None },
            "secret_hash": "00".repeat(32),
            "ip_allow": if i % 3 == 2 { vec!["192.0.2.0/24"] } else { vec![] },
        });
        w.tokens.push(serde_json::from_value(def).unwrap());
    }
}

/// Names to ask about: every name the world mentions, in its case, upper case and
/// swapped case, and names that exist nowhere.
fn names(w: &World) -> Vec<String> {
    let mut set = BTreeSet::new();
    for u in &w.users {
        set.insert(u.name.clone());
        set.extend(u.members.keys().cloned());
    }
    for r in &w.repositories {
        set.insert(r.owner.clone());
        set.extend(r.collaborators.keys().cloned());
        if let Some(reg) = &r.registrant {
            set.insert(reg.clone());
        }
    }
    let mut out: Vec<String> = Vec::new();
    for n in set {
        out.push(n.to_ascii_uppercase());
        out.push(
            n.chars()
                .enumerate()
                .map(|(i, c)| {
                    if i % 2 == 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect(),
        );
        out.push(n);
    }
    out.push("nobody-here".into());
    out.push(String::new());
    out
}

fn paths(w: &World) -> Vec<String> {
    let mut out = Vec::new();
    for r in &w.repositories {
        out.push(format!("{}/{}", r.owner, r.name));
        out.push(format!("{}/{}", r.owner.to_ascii_uppercase(), r.name));
        out.push(format!("{}/{}", r.owner, r.name.to_ascii_uppercase()));
        out.push(format!("{}/missing", r.owner));
    }
    out.extend(["nobody/none".into(), "no-slash".into(), "/".into()]);
    out
}

fn compare(backend: &str, location: &str, name: &str, w: &World) {
    let mut store = Store::create(location).unwrap();
    store.import_world(w).unwrap();
    let facts = StoreFacts::new(&mut store);
    let at = format!("{backend} {name}");
    // One question to the store and to the world: the same answer (`what`: which one).
    macro_rules! agree {
        ($lookup:ident($($arg:expr),*), $($what:tt)+) => {
            assert_eq!(
                facts.$lookup($($arg),*).unwrap(),
                FactSource::$lookup(w, $($arg),*).unwrap(),
                "{at}: {}",
                format_args!($($what)+)
            )
        };
    }
    let names = names(w);
    let mut asked = 0;
    for n in &names {
        agree!(user(n), "user {n:?}");
        asked += 1;
    }
    let actors: Vec<Option<&str>> = std::iter::once(None)
        .chain(names.iter().map(|n| Some(n.as_str())))
        .collect();
    for a in &actors {
        for p in paths(w) {
            agree!(repository(&p, *a), "repository {p:?} for {a:?}");
            asked += 1;
        }
        for n in &names {
            agree!(namespace(n, *a), "namespace {n:?} for {a:?}");
            asked += 1;
        }
    }
    let keys = w.ssh_keys.iter().map(|k| k.id.as_str());
    for k in keys.chain(["no-such-key"]) {
        agree!(ssh_key(k), "key {k}");
    }
    let tokens = w.tokens.iter().map(|t| t.id.as_str());
    for t in tokens.chain(["no-such-token"]) {
        agree!(token(t), "token {t}");
    }
    assert!(facts.take_error().is_none(), "{at}: no store error");
    assert!(asked > 100, "{at}: asked {asked}");
    drop(facts);
    whole_queries_agree(&mut store, &at, w);
}

const VIEWERS: [policy::Viewer; 4] = [
    policy::Viewer::Anonymous,
    policy::Viewer::TokenOwner,
    policy::Viewer::Account,
    policy::Viewer::Sudo,
];

/// Issue 24 (docs/design/serve-cost.md §2.6, §4 "One statement answering differently"):
/// the store answers a decision's whole query in one statement; the answer and what the
/// host learns must be the per-fact composition's (`FactSource::lookup`'s default, as the
/// world answers) for every query shape — each token (and none, and a missing one) with
/// each viewer kind, each account and namespace pair (any case, missing names), each
/// repository path, with and without the registrant — and `authorize-batch`'s repositories
/// likewise. Returns how many queries were compared.
fn whole_queries_agree(store: &mut Store, at: &str, w: &World) -> usize {
    let facts = StoreFacts::new(store);
    let names = names(w);
    let accounts: Vec<Option<&str>> = std::iter::once(None)
        .chain(names.iter().map(|n| Some(n.as_str())))
        .collect();
    let tokens: Vec<Option<&str>> = std::iter::once(None)
        .chain(w.tokens.iter().map(|t| Some(t.id.as_str())))
        .chain([Some("no-such-token")])
        .collect();
    let paths = paths(w);
    let repos: Vec<Option<&str>> = std::iter::once(None)
        .chain(paths.iter().map(|p| Some(p.as_str())))
        .collect();
    let mut k = 0usize;
    let mut ask = |q: policy::FactQuery<'_>| {
        assert_eq!(
            facts.lookup(&q).unwrap(),
            FactSource::lookup(w, &q).unwrap(),
            "{at}: {q:?}"
        );
        k += 1;
    };
    // A query by its axes' indices (each taken modulo its list), `n` choosing the rest.
    let query = |t: usize, a: usize, r: usize, ns: usize, v: usize, n: usize| policy::FactQuery {
        token: tokens[t % tokens.len()],
        account: accounts[a % accounts.len()],
        sudo: accounts[(n * 7 + 2) % accounts.len()],
        repository: repos[r % repos.len()],
        namespace: accounts[ns % accounts.len()],
        viewer: VIEWERS[v % VIEWERS.len()],
        registrant: n.is_multiple_of(2),
    };
    // Every repository × token × viewer kind.
    for r in 0..repos.len() {
        for t in 0..tokens.len() {
            for v in 0..VIEWERS.len() {
                let n = r * 31 + t * 7 + v;
                ask(query(t, n, r, n * 3 + 1, v, n));
            }
        }
    }
    // Every token × viewer kind × namespace (the token owner's own among them).
    for t in 0..tokens.len() {
        for v in 0..VIEWERS.len() {
            for ns in 0..accounts.len() {
                let n = t * 17 + v * 5 + ns;
                ask(query(t, n * 11 + 1, n, ns, v, n));
            }
        }
    }
    // Every account × namespace.
    for a in 0..accounts.len() {
        for ns in 0..accounts.len() {
            let n = a * 13 + ns;
            ask(query(n, a, n, ns, n, n));
        }
    }
    // The light shape (no token, account or sudo target: an anonymous pull, issue 24
    // round 2): every repository × namespace × viewer kind, with and without registrant.
    for r in 0..repos.len() {
        for ns in 0..accounts.len() {
            for v in 0..VIEWERS.len() {
                let registrant = (r + ns + v).is_multiple_of(2);
                ask(policy::FactQuery {
                    token: None,
                    account: None,
                    sudo: None,
                    registrant,
                    ..query(0, 0, r, ns, v, 0)
                });
            }
        }
    }
    let asked = k;
    for &viewer in &accounts {
        assert_eq!(
            facts.repositories(&paths, viewer).unwrap(),
            FactSource::repositories(w, &paths, viewer).unwrap(),
            "{at}: repositories for {viewer:?}"
        );
    }
    assert!(facts.take_error().is_none(), "{at}: no store error");
    assert!(asked > 100, "{at}: asked {asked}");
    asked
}

#[test]
fn sqlite_lookups_equal_the_world_facts() {
    let dir = forge_authz_testkit::scratch("forge-authz-facts-");
    for (name, w) in scenario_worlds() {
        let db = dir.join(format!("{name}.db"));
        compare("sqlite", &db.display().to_string(), &name, &w);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn postgres_lookups_equal_the_world_facts() {
    let Some(server) = pg::shared_or_skip("postgres_lookups_equal_the_world_facts") else {
        return;
    };
    for (name, w) in scenario_worlds() {
        let db = server.fresh_database(&format!("facts_{}", name.replace('-', "_")));
        compare("postgres", &db, &name, &w);
    }
}

/// Issue 19 (settled): must the policy check that repository facts are about the path it
/// asked for? It cannot — facts carry no name (the policy asked for one path) — so the
/// rule is the host's: facts describe exactly the path asked (names compare
/// case-insensitively), never another repository's, and a forge that keeps rename
/// redirects redirects the *client* (HTTP 301 to the new path) so that the policy decides
/// on the canonical path. Otherwise a token bound to the old name would reach the new
/// repository. The store answers no fact for an old or near name.
fn renames_are_not_followed(location: &str) {
    let mut w: World = serde_json::from_value(serde_json::json!({
        "keys": [{"id": "k1", "secret": "07".repeat(32)}],
        "signing_key": "k1",
        "users": [{"name": "alice", "status": "active", "site_admin": false,
                   "visibility": "public"}],
        "repositories": [{"owner": "alice", "name": "renamed", "private": false,
                          "kind": "hosted", "archived": false, "collaborators": {}}],
    }))
    .unwrap();
    w.now = Some(1_767_225_600);
    let mut store = Store::create(location).unwrap();
    store.import_world(&w).unwrap();
    let facts = StoreFacts::new(&mut store);
    for asked in [
        "alice/old-name",
        "alice/renamed.git",
        "alice/renamed2",
        "alice/rename",
    ] {
        for viewer in [None, Some("alice")] {
            assert_eq!(facts.repository(asked, viewer).unwrap(), None, "{asked}");
            assert_eq!(
                FactSource::repository(&w, asked, viewer).unwrap(),
                None,
                "{asked}"
            );
        }
    }
    assert!(facts.repository("ALICE/Renamed", None).unwrap().is_some());
    assert!(facts.take_error().is_none());
}

#[test]
fn the_store_never_answers_for_another_name() {
    let dir = forge_authz_testkit::scratch("forge-authz-renames-");
    renames_are_not_followed(&dir.join("renames.db").display().to_string());
    let _ = std::fs::remove_dir_all(&dir);
    let Some(server) = pg::shared_or_skip("the_store_never_answers_for_another_name") else {
        return;
    };
    renames_are_not_followed(&server.fresh_database("renames"));
}

thread_local! {
    static STATEMENTS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn count_statement(_: std::time::Duration) {
    STATEMENTS.with(|n| n.set(n.get() + 1));
}

/// Issue 24's target "PostgreSQL: one round trip per decision" (and on SQLite one
/// statement, one read transaction): a token pull's whole query — token, owner, account,
/// sudo, a repository with protected refs (whose users are listed) and a namespace — is
/// one statement on a warm connection (prepared once per connection: on PostgreSQL a
/// statement is then one Bind/Execute/Sync exchange). Counted by the store's per-statement
/// observer on this thread; the plans are checked on indexes (`EXPLAIN`).
fn one_statement_per_decision(location: &str, dialect: Dialect) {
    let w = scenario_worlds()
        .into_iter()
        .find(|(n, _)| n == "protected-refs")
        .unwrap()
        .1;
    assert!(w.repositories.iter().any(|r| !r.protected_refs.is_empty()));
    let mut store = Store::create(location).unwrap();
    store.import_world(&w).unwrap();
    observe_queries(count_statement);
    let token = w.tokens.first().map(|t| t.id.as_str());
    let owner = w.users.first().map(|u| u.name.as_str());
    let facts = StoreFacts::new(&mut store);
    for r in &w.repositories {
        let path = format!("{}/{}", r.owner, r.name);
        let q = policy::FactQuery {
            token,
            account: owner,
            sudo: owner,
            repository: Some(&path),
            namespace: Some(&r.owner),
            viewer: policy::Viewer::TokenOwner,
            registrant: true,
        };
        let anonymous = policy::FactQuery {
            token: None,
            account: None,
            sudo: None,
            viewer: policy::Viewer::Anonymous,
            ..q
        };
        for q in [q, anonymous] {
            facts.lookup(&q).unwrap();
            let before = STATEMENTS.with(std::cell::Cell::get);
            let answer = facts.lookup(&q).unwrap();
            let after = STATEMENTS.with(std::cell::Cell::get);
            assert_eq!(after - before, 1, "{dialect:?} {path}: one statement");
            assert_eq!(answer, FactSource::lookup(&w, &q).unwrap(), "{path}");
        }
    }
    drop(facts);
    plans_use_indexes(&mut store, dialect);
}

/// Rows enough in every table the lookup reads that a scan would cost more than an index,
/// then fresh statistics and generic plans (what a cached prepared statement runs).
const BULK_ROWS: &str = "\
    INSERT INTO users (name_key, name, status, site_admin, visibility, organization) \
      SELECT 'bulk' || i, 'bulk' || i, 'active', 0, 'public', i % 2 \
      FROM generate_series(1, 20000) i; \
    INSERT INTO repositories (owner_key, name_key, owner, name, private, kind, archived) \
      SELECT 'bulk' || (i % 20000), 'r' || i, 'bulk' || (i % 20000), 'r' || i, 0, 'hosted', 0 \
      FROM generate_series(1, 50000) i; \
    INSERT INTO tokens (id, owner, owner_key, name, scopes, repositories, owners, created, \
      secret_hash) SELECT 'tok' || i, 'bulk1', 'bulk1', 'n' || i, '[]', '[]', '[]', 0, \
      decode(repeat('00', 32), 'hex') FROM generate_series(1, 20000) i; \
    INSERT INTO collaborators (owner_key, name_key, login_key, login, role) \
      SELECT 'bulk' || (i % 20000), 'r' || i, 'bulk' || (i % 997), 'bulk', 'read' \
      FROM generate_series(1, 50000) i; \
    INSERT INTO org_members (org_key, member_key, member, role) \
      SELECT 'bulk' || (i % 20000), 'm' || i, 'm', 'read' FROM generate_series(1, 50000) i; \
    INSERT INTO protected_refs (owner_key, name_key, ordinal, pattern, push, force_push) \
      SELECT 'bulk' || (i % 20000), 'r' || i, 0, 'refs/heads/main', 'users', 'admins' \
      FROM generate_series(1, 50000) i; \
    INSERT INTO protected_ref_users (owner_key, name_key, ordinal, rule, idx, login) \
      SELECT 'bulk' || (i % 20000), 'r' || i, 0, 'push', 0, 'bulk' \
      FROM generate_series(1, 50000) i; \
    ANALYZE; SET plan_cache_mode = force_generic_plan;";

/// The lookup statements' parameter types (`$1` … `$8`; the light one's `$1` … `$3`), and
/// `EXPLAIN EXECUTE` of each with keys that exist.
const PG_SHAPES: [(&str, &str); 2] = [
    (
        "(text, text, text, text, text, text, bigint, text)",
        "EXPLAIN EXECUTE lookup0('t', 'a', 's', 'bulk1', 'r1', 'n', 1, 'v')",
    ),
    (
        "(text, text, text)",
        "EXPLAIN EXECUTE lookup1('bulk1', 'r1', 'bulk2')",
    ),
];

/// The lookup statements' plans (the full one and the light one) read every table by its
/// key index, never a scan: SQLite's `EXPLAIN QUERY PLAN`; on PostgreSQL the generic plan
/// of the prepared statement (what a cached statement runs with), over enough rows that a
/// scan would cost more.
fn plans_use_indexes(store: &mut Store, dialect: Dialect) {
    if dialect == Dialect::Postgres {
        store.conn().batch(BULK_ROWS).unwrap();
    }
    for (i, sql) in lookup_statement(dialect).into_iter().enumerate() {
        plan_uses_indexes(store, dialect, i, sql);
    }
}

fn plan_uses_indexes(store: &mut Store, dialect: Dialect, i: usize, sql: &str) {
    let lines: Vec<String> = match dialect {
        Dialect::Sqlite => {
            let explain: &'static str = format!("EXPLAIN QUERY PLAN {sql}").leak();
            let unbound = vec![Value::Null; 8 - 5 * i];
            let rows = store.conn().query(explain, &unbound).unwrap();
            rows.iter().map(|r| r.text(3).unwrap()).collect()
        }
        Dialect::Postgres => {
            let conn = store.conn();
            let (types, explain) = PG_SHAPES[i];
            conn.batch(&format!("PREPARE lookup{i} {types} AS {sql}"))
                .unwrap();
            let rows = conn.query(explain, &[]).unwrap();
            rows.iter().map(|r| r.text(0).unwrap()).collect()
        }
    };
    let plan = lines.join("\n");
    assert!(lines.len() > 5, "{plan}");
    for line in &lines {
        let scan = match dialect {
            // `q` is the one-row `(SELECT 1)` every fact joins to.
            Dialect::Sqlite => {
                line.starts_with("SCAN") && !["SCAN q", "SCAN CONSTANT ROW"].contains(&line.trim())
            }
            Dialect::Postgres => line.contains("Seq Scan"),
        };
        assert!(!scan, "{dialect:?}: a scan in the lookup's plan:\n{plan}");
    }
}

#[test]
fn a_decision_is_one_statement_on_indexes() {
    let dir = forge_authz_testkit::scratch("forge-authz-one-statement-");
    one_statement_per_decision(&dir.join("one.db").display().to_string(), Dialect::Sqlite);
    let _ = std::fs::remove_dir_all(&dir);
    let Some(server) = pg::shared_or_skip("a_decision_is_one_statement_on_indexes") else {
        return;
    };
    one_statement_per_decision(&server.fresh_database("one_statement"), Dialect::Postgres);
}
