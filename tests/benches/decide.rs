//! Decision cost (issue 11): the wasm component, the natively compiled core and Cedar,
//! side by side, on the same requests. Run with
//!
//! ```sh
//! cargo bench -p forge-authz-tests --bench decide
//! python3 scripts/bench-chart.py --markdown     # docs/decide-bench.svg + the table
//! ```
//!
//! Every case is a criterion group with a `wasm` function and, where it means something,
//! `native` and `cedar` ones, so `target/criterion/<case>/<engine>/new/estimates.json`
//! holds each figure. The wasm engine is one warm instance of the embedded policy module
//! (`FORGE_AUTHZ_POLICY` overrides it); the native engine is `forge_authz_tests::native`,
//! the same core behind the same `Policy` trait. Both ask the same in-memory fact source
//! (`BenchFacts`), so the figures are the policy and its crossing, not a store. Cedar
//! (`cedar/`) decides the same requests from entities built once; its agreement with our
//! policy on every benched request is the test `tests/tests/cedar.rs`.
//!
//! Before timing, the suite checks that each engine gives the intended answer to every
//! benched request. After criterion, it measures throughput on 1 and 2 threads and writes
//! it, with the module size, to `target/criterion/summary.json`.
//!
//! Instructions per call, which a busy machine does not blur (issue 24): run one case under
//! callgrind, collecting only inside the engine's method, and divide the total by that
//! method's call count (`calls=` lines of the output; the suite's checks add a few calls):
//!
//! ```sh
//! cd tests && valgrind --tool=callgrind --callgrind-out-file=cg.out \
//!     --toggle-collect='*WasmPolicy*::authorize' ../target/release/deps/decide-<hash> \
//!     --bench '^token_pull_repeated/wasm$' --warm-up-time 1 --measurement-time 2
//! ```
//!
//! (`*NativePolicy*::authorize` and `/native$` for the core; `::migrate_legacy_scopes` for
//! `empty_call`.) Measured so at b89de01 (2026-12-06), wasm: empty call 4,817, anonymous
//! pull 19,171, token pull repeated 24,308-24,413 (two runs), first 29,525; native core:
//! 33, 3,573, 4,227-5,526 (two runs: the allocator's state), 3,505.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic, missing_docs)]

#[path = "cedar/cedar_model.rs"]
mod cedar_model;

use std::collections::HashMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use forge_authz_fixture::boundary::{Boundary, DEFAULT_BUDGET, WorldCallbacks};
use forge_authz_guest::policy as core;
use forge_authz_host::facts::{Answered, FactSource, FoundRepository, Gathered};
use forge_authz_host::live::{LivePolicy, check_bytes};
use forge_authz_host::policy::{
    EMBEDDED_POLICY, Limits, Policy, PolicyModule, default_policy_path, module_bytes,
};
use forge_authz_host::wit;
use forge_authz_host::wit::core as convert;

const NOW: i64 = 1_767_225_600;
/// Distinct genuine tokens cycled through for the "first time" case: more than an
/// authorizer remembers, so every presentation is a miss.
const COLD_TOKENS: usize = 1024;

fn config(key_id: &str, byte: u8) -> wit::Config {
    wit::Config {
        site: String::new(),
        keys: vec![wit::SigningKey {
            id: key_id.into(),
            secret: vec![byte; 32],
        }],
        signing_key_id: key_id.into(),
        options: forge_authz_tests::default_options(),
    }
}

fn active() -> core::UserFacts {
    core::UserFacts {
        status: core::AccountStatus::Active,
        site_admin: false,
        visibility: core::Visibility::Public,
        organization: false,
    }
}

fn public_repo(role: core::Role) -> core::RepositoryFacts {
    core::RepositoryFacts {
        owner_ip_allow: Vec::new(),
        owner_visibility: core::Visibility::Public,
        private: false,
        kind: core::RepositoryKind::Hosted,
        archived: false,
        role,
        protected_refs: vec![],
        registrant: None,
    }
}

/// The facts of every benched request, answered from memory: alice, her public
/// repositories (`alice/app`, `alice/r0`..`r99`) and her tokens' records.
struct BenchFacts {
    tokens: HashMap<String, core::TokenFacts>,
}

impl FactSource for BenchFacts {
    fn token(&self, id: &str) -> anyhow::Result<Option<core::TokenFacts>> {
        Ok(self.tokens.get(id).cloned())
    }
    fn user(&self, name: &str) -> anyhow::Result<Option<core::UserFacts>> {
        Ok((name == "alice").then(active))
    }
    fn repository(
        &self,
        path: &str,
        viewer: Option<&str>,
    ) -> anyhow::Result<Option<FoundRepository>> {
        // alice owns them; nobody else has a role.
        let _ = viewer;
        Ok(path
            .strip_prefix("alice/")
            .map(|_| (path.to_string(), public_repo(core::Role::None))))
    }
    fn namespace(
        &self,
        _name: &str,
        _viewer: Option<&str>,
    ) -> anyhow::Result<Option<core::NamespaceFacts>> {
        Ok(None)
    }
    fn ssh_key(&self, _id: &str) -> anyhow::Result<Option<core::SshKey>> {
        Ok(None)
    }
    // What a store would do in one statement: every fact of the query at once.
    fn lookup(&self, q: &core::FactQuery<'_>) -> anyhow::Result<Answered> {
        let token = q.token.and_then(|id| self.tokens.get(id)).cloned();
        let owner = token.as_ref().map(|_| active());
        let repository = q
            .repository
            .filter(|p| p.starts_with("alice/"))
            .map(|_| public_repo(core::Role::None));
        Ok(Answered {
            answer: core::FactAnswer {
                token,
                owner,
                account: None,
                sudo: None,
                repository,
                namespace: None,
            },
            gathered: Gathered::default(),
        })
    }
}

/// A token minted by `p` for alice, expiring in an hour, already used (no effect).
fn mint(p: &mut dyn Policy, scopes: &[&str]) -> wit::IssuedToken {
    let mut request = forge_authz_tests::session_request("alice", scopes, NOW);
    request.name = "bench".into();
    let mut t = p.issue(&request).unwrap().unwrap();
    t.record.last_used = Some(NOW);
    t
}

fn git(
    credential: wit::Credential,
    action: wit::GitAction,
    refs: Option<Vec<wit::RefUpdate>>,
) -> wit::AuthorizeRequest {
    wit::AuthorizeRequest {
        client_address: None,
        credential,
        also_presented: None,
        request: wit::Request::Git(wit::GitRequest {
            transport: wit::Transport::Http,
            repository: "alice/app".into(),
            action,
            refs,
        }),
        now: NOW,
        explain: false,
    }
}

/// Every request the suite decides, built once and shared by the engines.
struct Fixtures {
    config: wit::Config,
    facts: BenchFacts,
    malformed: wit::Credential,
    bad_checksum: wit::Credential,
    bad_tag: wit::Credential,
    unknown_key: wit::Credential,
    valid: wit::Credential,
    /// A request refused before any check of its credential (a malformed path), with the
    /// valid token: the cost of carrying a credential in.
    carried: wit::AuthorizeRequest,
    token_pull: wit::AuthorizeRequest,
    cold_pulls: Vec<wit::AuthorizeRequest>,
    anonymous_pull: wit::AuthorizeRequest,
    push_10_refs: wit::AuthorizeRequest,
    api_route: wit::AuthorizeRequest,
    batch_100: wit::BatchRequest,
}

impl Fixtures {
    fn new() -> Fixtures {
        let config = config("k1", 7);
        let mut minter = forge_authz_tests::native(&config).unwrap();
        let issued = mint(&mut minter, &["write:repository", "read:issue"]);
        let secret = issued.secret.clone();
        let mut tokens = HashMap::new();
        tokens.insert(
            issued.record.id.clone(),
            convert::record_in(issued.record.clone()).facts(),
        );
        let cold: Vec<wit::IssuedToken> = (0..COLD_TOKENS)
            .map(|_| mint(&mut minter, &["write:repository", "read:issue"]))
            .collect();
        for t in &cold {
            tokens.insert(
                t.record.id.clone(),
                convert::record_in(t.record.clone()).facts(),
            );
        }
        // Valid format and CRC, wrong HMAC: the same key id minted with another secret.
        let forged = mint(
            &mut forge_authz_tests::native(&self::config("k1", 9)).unwrap(),
            &["write:repository"],
        )
        .secret;
        let foreign = mint(
            &mut forge_authz_tests::native(&self::config("k7", 9)).unwrap(),
            &["write:repository"],
        )
        .secret;
        // One payload character changed: the CRC-32 no longer matches.
        let mut damaged = secret.clone().into_bytes();
        damaged[40] = if damaged[40] == b'A' { b'B' } else { b'A' };
        let damaged = String::from_utf8(damaged).unwrap();

        let valid = wit::Credential::Bearer(secret);
        let refs = (0..10)
            .map(|i| wit::RefUpdate {
                name: format!("refs/heads/topic-{i}"),
                change: wit::RefChange::Update,
                force: false,
            })
            .collect();
        let mut carried = git(valid.clone(), wit::GitAction::Pull, None);
        if let wit::Request::Git(g) = &mut carried.request {
            g.repository = "not a path".into();
        }
        Fixtures {
            config,
            facts: BenchFacts { tokens },
            malformed: wit::Credential::Bearer("fzpat_k1.short".into()),
            bad_checksum: wit::Credential::Bearer(damaged),
            bad_tag: wit::Credential::Bearer(forged),
            unknown_key: wit::Credential::Bearer(foreign),
            carried,
            token_pull: git(valid.clone(), wit::GitAction::Pull, None),
            cold_pulls: cold
                .iter()
                .map(|t| {
                    git(
                        wit::Credential::Bearer(t.secret.clone()),
                        wit::GitAction::Pull,
                        None,
                    )
                })
                .collect(),
            anonymous_pull: git(wit::Credential::Anonymous, wit::GitAction::Pull, None),
            push_10_refs: git(valid.clone(), wit::GitAction::Push, Some(refs)),
            api_route: wit::AuthorizeRequest {
                client_address: None,
                credential: valid.clone(),
                also_presented: None,
                request: wit::Request::Api(wit::ApiRequest {
                    method: wit::HttpMethod::Get,
                    categories: wit::ScopeCategories::ISSUE,
                    repository: Some("alice/app".into()),
                    namespace: None,
                    route: wit::RouteFlags::empty(),
                    required_role: wit::Role::None,
                    operation: None,
                    sudo: None,
                }),
                now: NOW,
                explain: false,
            },
            batch_100: wit::BatchRequest {
                client_address: None,
                credential: valid.clone(),
                also_presented: None,
                transport: wit::Transport::Http,
                action: wit::GitAction::Pull,
                repositories: (0..100).map(|i| format!("alice/r{i}")).collect(),
                now: NOW,
                explain: false,
            },
            valid,
        }
    }

    fn refused_with(&self, credential: &wit::Credential) -> wit::AuthorizeRequest {
        wit::AuthorizeRequest {
            credential: credential.clone(),
            ..self.token_pull.clone()
        }
    }

    fn decide(&self, p: &mut dyn Policy, r: &wit::AuthorizeRequest) -> wit::Decision {
        p.authorize(r, &self.facts).unwrap().0
    }

    /// The benched answers are the intended ones, on this engine.
    fn check(&self, name: &str, p: &mut dyn Policy) {
        use wit::TokenError as E;
        for (c, e) in [
            (&self.malformed, E::WrongLength),
            (&self.bad_checksum, E::BadChecksum),
            (&self.bad_tag, E::BadSignature),
            (&self.unknown_key, E::UnknownKey),
        ] {
            assert_eq!(p.verify(c).unwrap().err(), Some(e), "{name}");
            let d = self.decide(p, &self.refused_with(c));
            assert_eq!(
                (d.verdict.code(), d.detail.as_deref()),
                ("token-invalid", Some(e.code())),
                "{name}"
            );
        }
        assert!(p.verify(&self.valid).unwrap().unwrap().is_some(), "{name}");
        assert_eq!(
            self.decide(p, &self.carried).verdict.code(),
            "request-invalid"
        );
        for (case, r) in [
            ("token pull", &self.token_pull),
            ("cold pull", &self.cold_pulls[0]),
            ("anonymous pull", &self.anonymous_pull),
            ("push", &self.push_10_refs),
            ("api", &self.api_route),
        ] {
            let d = self.decide(p, r);
            assert!(d.allow(), "{name}: {case} denied: {d:?}");
            assert_eq!(d.effects, wit::Effects::empty(), "{name}: {case}");
        }
        let d = self.decide(p, &self.push_10_refs);
        assert_eq!(
            d.refs.map(|r| r.len()),
            Some(10),
            "{name}: push decides each ref"
        );
        let (batch, _) = p.authorize_batch(&self.batch_100, &self.facts).unwrap();
        assert_eq!(batch.len(), 100, "{name}");
        assert!(
            batch.iter().all(wit::Decision::allow),
            "{name}: batch denied"
        );
    }
}

fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    c.benchmark_group(name)
}

/// The group `case`: `call` timed on each of our engines.
fn on_each<R>(
    c: &mut Criterion,
    case: &str,
    engines: &mut [(&str, &mut dyn Policy)],
    mut call: impl FnMut(&mut dyn Policy) -> R,
) {
    let mut g = group(c, case);
    for (name, p) in engines.iter_mut() {
        g.bench_function(*name, |b| b.iter(|| black_box(call(&mut **p))));
    }
}

/// The cases decided by our two engines.
fn decisions(c: &mut Criterion, f: &Fixtures, engines: &mut [(&str, &mut dyn Policy)]) {
    on_each(c, "empty_call", engines, |p| {
        p.migrate_legacy_scopes(black_box(&[])).unwrap()
    });
    for (case, credential) in [
        ("verify_malformed", &f.malformed),
        ("verify_bad_checksum", &f.bad_checksum),
        ("verify_bad_tag", &f.bad_tag),
        ("verify_unknown_key", &f.unknown_key),
        ("verify_valid", &f.valid),
    ] {
        on_each(c, case, engines, |p| {
            p.verify(black_box(credential)).unwrap()
        });
    }
    let refused = [
        ("refused_carried", f.carried.clone()),
        ("refused_malformed", f.refused_with(&f.malformed)),
        ("refused_bad_checksum", f.refused_with(&f.bad_checksum)),
        ("refused_bad_tag", f.refused_with(&f.bad_tag)),
        ("refused_unknown_key", f.refused_with(&f.unknown_key)),
    ];
    for (case, r) in refused.iter().map(|(c, r)| (*c, r)).chain([
        ("token_pull_repeated", &f.token_pull),
        ("anonymous_pull", &f.anonymous_pull),
        ("push_10_refs", &f.push_10_refs),
        ("api_route", &f.api_route),
    ]) {
        on_each(c, case, engines, |p| {
            p.authorize(black_box(r), &f.facts).unwrap()
        });
    }
    {
        let mut g = group(c, "token_pull_first");
        for (name, p) in engines.iter_mut() {
            let mut i = 0;
            g.bench_function(*name, |b| {
                b.iter(|| {
                    i = (i + 1) % COLD_TOKENS;
                    black_box(p.authorize(black_box(&f.cold_pulls[i]), &f.facts).unwrap())
                })
            });
        }
    }
    on_each(c, "batch_100", engines, |p| {
        p.authorize_batch(black_box(&f.batch_100), &f.facts)
            .unwrap()
    });
}

/// The same decisions in Cedar (`cedar/`: policies, schema and entities built once), in
/// the same groups as ours: `cedar` is `is_authorized` on prebuilt requests,
/// `cedar_with_request` also builds and schema-checks each request. Cedar decides a push
/// per ref update, so `push_10_refs` is ten requests (and `batch_100` a hundred), every one
/// decided: the answers are counted, never cut short at the first allow.
fn cedar(c: &mut Criterion) {
    use cedar_model::{
        CASES, CedarEngine, PUSH_REFS, batch_repositories, bench_world, issue_route, push_ref,
    };
    let engine = CedarEngine::new(&bench_world()).unwrap();
    // Every case gives its intended answer (tests/tests/cedar.rs checks each against our
    // policy too).
    for case in CASES {
        for r in engine.case_requests(case.name).unwrap() {
            assert_eq!(engine.decide(&r), case.allow, "cedar: {}", case.name);
        }
    }
    let updates: Vec<_> = (0..PUSH_REFS).map(push_ref).collect();
    let route = issue_route();
    let batch = batch_repositories();
    let allowed = |requests: &[cedar_policy::Request]| {
        requests
            .iter()
            .filter(|r| engine.decide(black_box(r)))
            .count()
    };
    let one = |allow: bool| usize::from(allow);
    let cases: [(&str, &str, &dyn Fn() -> usize); 5] = [
        ("token_pull_repeated", "token_pull", &|| {
            one(engine.decide(&engine.token_pull_request().unwrap()))
        }),
        ("anonymous_pull", "anonymous_pull", &|| {
            one(engine.decide(&engine.anonymous_pull_request().unwrap()))
        }),
        ("push_10_refs", "push_10_refs", &|| {
            updates
                .iter()
                .filter(|u| engine.decide(&engine.push_ref_request(black_box(u)).unwrap()))
                .count()
        }),
        ("api_route", "api_route", &|| {
            one(engine.decide(&engine.api_route_request(black_box(&route)).unwrap()))
        }),
        ("batch_100", "batch_100", &|| {
            batch
                .iter()
                .filter(|r| engine.decide(&engine.batch_request(black_box(r)).unwrap()))
                .count()
        }),
    ];
    for (group_name, case, with_request) in cases {
        let requests = engine.case_requests(case).unwrap();
        assert_eq!(allowed(&requests), requests.len(), "cedar: {case}");
        assert_eq!(with_request(), requests.len(), "cedar: {case}, built");
        let mut g = group(c, group_name);
        g.bench_function("cedar", |b| b.iter(|| black_box(allowed(&requests))));
        g.bench_function("cedar_with_request", |b| {
            b.iter(|| black_box(with_request()))
        });
    }
}

/// The Rust host's own API, as a forge embedding it calls it (the yardstick of the Go and
/// Python hosts, issue 12): a token pull from a world of facts, from a typed request, and
/// from request JSON to decision JSON (what the C ABI and the Python module do per call);
/// and the typed one through callbacks answering in the boundary format (issue 22).
fn host_api(c: &mut Criterion, module: &PolicyModule) {
    use forge_authz_host::request::{RequestDef, authorize, outcome_output};
    use forge_authz_host::world::World;
    let mut world: World = serde_json::from_value(serde_json::json!({
        "now": NOW,
        "keys": [{"id": "k1", "secret": "07".repeat(32)}],
        "signing_key": "k1",
        "users": [{"name": "alice", "status": "active", "site_admin": false, "visibility": "public"}],
        "repositories": [{"owner": "alice", "name": "app", "private": false, "kind": "hosted",
                          "archived": false, "collaborators": {}}],
    }))
    .unwrap();
    let mut p = module
        .authorizer(forge_authz_host::wit::world_config(&world).unwrap())
        .unwrap()
        .unwrap();
    let t = mint(&mut p, &["read:repository"]);
    world.add_token(&convert::record_in(t.record.clone()));
    let json = format!(
        r#"{{"credential":{{"bearer":"{}"}},"repository":"alice/app","action":"pull"}}"#,
        t.secret
    );
    let typed: RequestDef = serde_json::from_str(&json).unwrap();
    let d = forge_authz_host::authorize_one(&mut p, &world, &typed, NOW).unwrap();
    assert!(d.allow(), "{d:?}");
    let mut g = group(c, "host_token_pull");
    g.bench_function("rust_typed", |b| {
        b.iter(|| {
            black_box(
                forge_authz_host::authorize_one(&mut p, &world, black_box(&typed), NOW).unwrap(),
            )
        })
    });
    g.bench_function("rust_json", |b| {
        b.iter(|| {
            let req: RequestDef = serde_json::from_str(black_box(&json)).unwrap();
            let out = outcome_output(&authorize(&mut p, &world, &req, NOW).unwrap());
            black_box(out.0.to_string())
        })
    });
    // The same decision through a forge's callbacks (issue 22, design §7 "Cost"): the
    // world answering each per-fact query in the boundary format, JSON text parsed strictly
    // by the adapter every host shares, one `Boundary` (budget, first error) per decision
    // as the C ABI makes one per call.
    let through = |p: &mut dyn Policy| {
        let facts = Boundary::new(WorldCallbacks::new(&world), DEFAULT_BUDGET);
        forge_authz_host::authorize_one(p, &facts, black_box(&typed), NOW).unwrap()
    };
    assert_eq!(through(&mut p), d, "callbacks and world decide alike");
    g.bench_function("callbacks", |b| b.iter(|| black_box(through(&mut p))));
}

/// Token pulls per second on `threads` threads, each with its own warm instance.
fn throughput(module: &PolicyModule, f: &Arc<Fixtures>, threads: usize) -> f64 {
    let run = Duration::from_secs(2);
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let module = module.clone();
            let f = f.clone();
            std::thread::spawn(move || {
                let mut p = module.authorizer(f.config.clone()).unwrap().unwrap();
                let start = Instant::now();
                let mut n = 0u64;
                while start.elapsed() < run {
                    for _ in 0..100 {
                        black_box(p.authorize(&f.token_pull, &f.facts).unwrap());
                    }
                    n += 100;
                }
                n as f64 / start.elapsed().as_secs_f64()
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).sum()
}

fn suite(c: &mut Criterion) {
    let path = default_policy_path();
    let bytes = module_bytes(&path).unwrap().into_owned();
    println!(
        "policy module: {} ({} bytes; embedded {} bytes)",
        path.display(),
        bytes.len(),
        EMBEDDED_POLICY.len()
    );
    let module = PolicyModule::load(&path, Limits::default()).unwrap();
    let f = Arc::new(Fixtures::new());
    let mut wasm = module.authorizer(f.config.clone()).unwrap().unwrap();
    let mut native = forge_authz_tests::native(&f.config).unwrap();
    f.check("wasm", &mut wasm);
    f.check("native", &mut native);

    decisions(
        c,
        &f,
        &mut [
            ("wasm", &mut wasm as &mut dyn Policy),
            ("native", &mut native as &mut dyn Policy),
        ],
    );
    cedar(c);
    host_api(c, &module);

    // A fresh instance (or native authorizer) and one token-pull decision, against the
    // warm cases above.
    {
        let mut g = group(c, "fresh_instance");
        g.bench_function("wasm", |b| {
            b.iter(|| {
                let mut p = module.authorizer(f.config.clone()).unwrap().unwrap();
                black_box(p.authorize(black_box(&f.token_pull), &f.facts).unwrap())
            })
        });
        g.bench_function("native", |b| {
            b.iter(|| {
                let mut p = forge_authz_tests::native(&f.config).unwrap();
                black_box(p.authorize(black_box(&f.token_pull), &f.facts).unwrap())
            })
        });
    }

    // Hot swap: module bytes -> compiled (a deserialisation of the cached compilation
    // after the first time) -> checked (config accepted, known answers) -> published.
    // And the read side of the swap point a worker takes per request.
    {
        let live = Arc::new(LivePolicy::from_module(module.clone(), f.config.clone()));
        let limits = Limits::default();
        let mut g = group(c, "hot_swap");
        g.sample_size(10);
        g.bench_function("wasm", |b| {
            b.iter(|| {
                let checked = check_bytes(
                    black_box(&bytes),
                    PathBuf::from("bench.wasm"),
                    &f.config,
                    limits,
                )
                .unwrap();
                black_box(live.publish_checked(checked))
            })
        });
        drop(g);
        let mut g = group(c, "swap_read");
        g.bench_function("generation", |b| b.iter(|| black_box(live.generation())));
        g.bench_function("current", |b| b.iter(|| black_box(live.current())));
    }

    let one = throughput(&module, &f, 1);
    let two = throughput(&module, &f, 2);
    println!("throughput: {one:.0} token pulls/s on 1 thread, {two:.0} on 2 threads");
    let summary = serde_json::json!({
        "module_bytes": bytes.len(),
        "throughput_per_second": { "1": one, "2": two },
    });
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")))
        .join("criterion");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("summary.json"), summary.to_string()).unwrap();
}

fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .without_plots()
}

criterion_group! {
    name = benches;
    config = criterion();
    targets = suite
}
criterion_main!(benches);
