//! Decision cost through the wasm component and through the natively compiled core, side by
//! side (issue 11). Run with
//!
//! ```sh
//! cargo bench -p forge-authz-tests --bench decide
//! ```
//!
//! Every case is a criterion group with a `wasm` and (where it means something) a `native`
//! function, so `target/criterion/<case>/<engine>/new/estimates.json` holds each figure and
//! `scripts/bench-chart.py` draws them. The wasm engine is a warm instance of the embedded
//! policy component (`PolicyModule::load(default_policy_path())`, `FORGE_AUTHZ_POLICY`
//! overrides it); the native engine is `forge_authz_tests::native`, the same core behind
//! the same `Policy` trait. The suite lives in the `tests` crate because only it depends on
//! both the host and the guest core.
//!
//! Not here (see BENCHMARKS.md): Cedar, throughput on 1 and 2 threads, a repeated-token
//! case (the policy has no verified-token cache yet, so it equals the first-time case).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use forge_authz_host::live::{LivePolicy, check_bytes};
use forge_authz_host::policy::{
    EMBEDDED_POLICY, Limits, Policy, PolicyModule, default_policy_path, module_bytes,
};
use forge_authz_host::wit;

const NOW: i64 = 1_767_225_600;

fn config(key_id: &str, byte: u8) -> wit::Config {
    wit::Config {
        keys: vec![wit::SigningKey {
            id: key_id.into(),
            secret: vec![byte; 32],
        }],
        signing_key_id: key_id.into(),
        options: forge_authz_tests::default_options(),
    }
}

fn alice() -> wit::UserFacts {
    wit::UserFacts {
        name: "alice".into(),
        status: wit::AccountStatus::Active,
        site_admin: false,
        visibility: wit::Visibility::Public,
        organization: false,
    }
}

fn repo(name: &str, role: wit::Role) -> wit::RepositoryFacts {
    wit::RepositoryFacts {
        owner: "alice".into(),
        name: name.into(),
        owner_visibility: wit::Visibility::Public,
        private: false,
        kind: wit::RepositoryKind::Hosted,
        archived: false,
        role,
        protected_refs: vec![],
        registrant: None,
    }
}

/// A token minted by `p` for alice, expiring in an hour.
fn mint(p: &mut dyn Policy, scopes: &[&str]) -> wit::IssuedToken {
    let mut request = forge_authz_tests::session_request("alice", scopes, NOW);
    request.name = "bench".into();
    p.issue(&request).unwrap().unwrap()
}

/// Every input the suite decides, built once and shared by both engines.
struct Fixtures {
    config: wit::Config,
    valid: wit::Credential,
    malformed: wit::Credential,
    bad_checksum: wit::Credential,
    bad_tag: wit::Credential,
    unknown_key: wit::Credential,
    token_pull: wit::Input,
    anonymous_pull: wit::Input,
    push_10_refs: wit::Input,
    api_route: wit::Input,
    batch_input: wit::Input,
    batch_targets: Vec<wit::BatchTarget>,
}

impl Fixtures {
    fn new() -> Fixtures {
        let config = config("k1", 7);
        let mut minter = forge_authz_tests::native(&config).unwrap();
        let issued = mint(&mut minter, &["write:repository", "read:issue"]);
        let secret = issued.secret.clone();
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

        let mut record = issued.record.clone();
        record.last_used = Some(NOW); // no last-used effect: the steady state
        let input = |credential: wit::Credential,
                     token: Option<wit::TokenRecord>,
                     repository: Option<wit::RepositoryFacts>,
                     request: wit::Request| wit::Input {
            credential,
            also_presented: vec![],
            token,
            user: Some(alice()),
            repository,
            namespace: None,
            request,
            now: NOW,
            sudo: None,
            explain: false,
        };
        let git = |action: wit::GitAction, refs: Vec<wit::RefUpdate>| {
            wit::Request::Git(wit::GitRequest {
                transport: wit::Transport::Http,
                repository: "alice/app".into(),
                action,
                refs,
            })
        };
        let valid = wit::Credential::Bearer(secret);
        let token_pull = input(
            valid.clone(),
            Some(record.clone()),
            Some(repo("app", wit::Role::None)),
            git(wit::GitAction::Pull, vec![]),
        );
        let anonymous_pull = input(
            wit::Credential::Anonymous,
            None,
            Some(repo("app", wit::Role::None)),
            git(wit::GitAction::Pull, vec![]),
        );
        let refs = (0..10)
            .map(|i| wit::RefUpdate {
                name: format!("refs/heads/topic-{i}"),
                old: format!("{:040x}", i + 1),
                new: format!("{:040x}", i + 100),
                force: false,
            })
            .collect();
        let push_10_refs = input(
            valid.clone(),
            Some(record.clone()),
            Some(repo("app", wit::Role::Write)),
            git(wit::GitAction::Push, refs),
        );
        let api_route = input(
            valid.clone(),
            Some(record.clone()),
            Some(repo("app", wit::Role::None)),
            wit::Request::Api(wit::ApiRequest {
                method: "GET".into(),
                categories: vec![wit::ScopeCategory::Issue],
                repository: Some("alice/app".into()),
                namespace: None,
                requires_auth: false,
                admin_only: false,
                required_role: wit::Role::None,
                operation: None,
                sudo: None,
                package: false,
            }),
        );
        let batch_input = token_pull.clone();
        let batch_targets = (0..100)
            .map(|i| {
                let name = format!("r{i}");
                wit::BatchTarget {
                    repository: format!("alice/{name}"),
                    facts: Some(repo(&name, wit::Role::None)),
                }
            })
            .collect();
        Fixtures {
            config,
            valid,
            malformed: wit::Credential::Bearer("fzpat_k1.short".into()),
            bad_checksum: wit::Credential::Bearer(damaged),
            bad_tag: wit::Credential::Bearer(forged),
            unknown_key: wit::Credential::Bearer(foreign),
            token_pull,
            anonymous_pull,
            push_10_refs,
            api_route,
            batch_input,
            batch_targets,
        }
    }

    /// The benched answers are the intended ones, on this engine.
    fn check(&self, name: &str, p: &mut dyn Policy) {
        use wit::TokenError as E;
        let refused = |p: &mut dyn Policy, c: &wit::Credential| p.verify(c).unwrap().err();
        assert!(
            matches!(refused(p, &self.malformed), Some(E::WrongLength)),
            "{name}"
        );
        assert_eq!(
            refused(p, &self.bad_checksum),
            Some(E::BadChecksum),
            "{name}"
        );
        assert_eq!(refused(p, &self.bad_tag), Some(E::BadSignature), "{name}");
        assert_eq!(refused(p, &self.unknown_key), Some(E::UnknownKey), "{name}");
        assert!(p.verify(&self.valid).unwrap().unwrap().is_some(), "{name}");
        for (case, input) in [
            ("token pull", &self.token_pull),
            ("anonymous pull", &self.anonymous_pull),
            ("push", &self.push_10_refs),
            ("api", &self.api_route),
        ] {
            let d = p.decide(input).unwrap();
            assert!(d.allow, "{name}: {case} denied: {d:?}");
        }
        assert_eq!(
            self.push_10_refs_decision_refs(p),
            10,
            "{name}: push decides each ref"
        );
        let batch = p
            .decide_batch(&self.batch_input, &self.batch_targets)
            .unwrap();
        assert_eq!(batch.len(), 100, "{name}");
        assert!(batch.iter().all(|d| d.allow), "{name}: batch denied");
    }

    fn push_10_refs_decision_refs(&self, p: &mut dyn Policy) -> usize {
        p.decide(&self.push_10_refs).unwrap().refs.len()
    }
}

fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    c.benchmark_group(name)
}

/// The cases decided by both engines.
fn decisions(c: &mut Criterion, f: &Fixtures, engines: &mut [(&str, &mut dyn Policy)]) {
    let verify_cases: [(&str, &wit::Credential); 5] = [
        ("verify_malformed", &f.malformed),
        ("verify_bad_checksum", &f.bad_checksum),
        ("verify_bad_tag", &f.bad_tag),
        ("verify_unknown_key", &f.unknown_key),
        ("verify_valid", &f.valid),
    ];
    {
        let mut g = group(c, "empty_call");
        for (name, p) in engines.iter_mut() {
            g.bench_function(*name, |b| {
                b.iter(|| black_box(p.migrate_legacy_scopes(black_box(&[])).unwrap()))
            });
        }
    }
    for (case, credential) in verify_cases {
        let mut g = group(c, case);
        for (name, p) in engines.iter_mut() {
            g.bench_function(*name, |b| {
                b.iter(|| black_box(p.verify(black_box(credential)).unwrap()))
            });
        }
    }
    {
        let mut g = group(c, "token_pull_verify_decide");
        let credential = &f.token_pull.credential;
        for (name, p) in engines.iter_mut() {
            g.bench_function(*name, |b| {
                b.iter(|| {
                    black_box(p.verify(black_box(credential)).unwrap().unwrap());
                    black_box(p.decide(black_box(&f.token_pull)).unwrap())
                })
            });
        }
    }
    for (case, input) in [
        ("token_pull_decide", &f.token_pull),
        ("anonymous_pull_decide", &f.anonymous_pull),
        ("push_10_refs_decide", &f.push_10_refs),
        ("api_route_decide", &f.api_route),
    ] {
        let mut g = group(c, case);
        for (name, p) in engines.iter_mut() {
            g.bench_function(*name, |b| {
                b.iter(|| black_box(p.decide(black_box(input)).unwrap()))
            });
        }
    }
    {
        let mut g = group(c, "batch_100_decide");
        for (name, p) in engines.iter_mut() {
            g.bench_function(*name, |b| {
                b.iter(|| {
                    black_box(
                        p.decide_batch(black_box(&f.batch_input), black_box(&f.batch_targets))
                            .unwrap(),
                    )
                })
            });
        }
    }
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
    let f = Fixtures::new();
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

    // A fresh instance (or native authorizer) and one token-pull decision, against the
    // warm `token_pull_decide` above.
    {
        let mut g = group(c, "fresh_instance_decide");
        g.bench_function("wasm", |b| {
            b.iter(|| {
                let mut p = module.authorizer(f.config.clone()).unwrap().unwrap();
                black_box(p.decide(black_box(&f.token_pull)).unwrap())
            })
        });
        g.bench_function("native", |b| {
            b.iter(|| {
                let mut p = forge_authz_tests::native(&f.config).unwrap();
                black_box(p.decide(black_box(&f.token_pull)).unwrap())
            })
        });
    }

    // Hot swap: module bytes -> compiled (wasmtime's on-disk cache makes this a
    // deserialisation after the first time) -> checked (config accepted, known answers) ->
    // published. And the read side of the swap point a worker takes per request.
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
        // What a worker reads per request (`Worker::policy` compares the generation) and
        // what it takes when the generation moved.
        let mut g = group(c, "swap_read");
        g.bench_function("generation", |b| b.iter(|| black_box(live.generation())));
        g.bench_function("current", |b| b.iter(|| black_box(live.current())));
    }
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
