//! Fail closed: traps, deadlines, memory limits, a store that cannot answer, broken modules
//! and garbage input are denies (or load errors), never an allow and never a host crash. A
//! forged token never reaches the store.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

use std::cell::Cell;
use std::path::PathBuf;

use forge_authz_guest::policy as core;
use forge_authz_host::facts::{FactSource, FoundRepository};
use forge_authz_host::policy::{Limits, Policy, PolicyModule};
use forge_authz_host::request::{ActionDef, CredentialDef, Decided, RefUpdateDef, RequestDef};
use forge_authz_host::wit;
use forge_authz_host::wit::core as convert;
use forge_authz_host::world::World;
use forge_authz_tests::scenario::load_corpus;
use forge_authz_tests::{module, native, wasm};

fn world() -> World {
    load_corpus()
        .unwrap()
        .into_iter()
        .find(|f| f.family == "scopes")
        .unwrap()
        .world
}

fn pull(credential: CredentialDef, repository: &str) -> RequestDef {
    RequestDef {
        credential,
        repository: Some(repository.into()),
        action: Some(ActionDef::Pull),
        ..RequestDef::default()
    }
}

fn authorize_git(
    p: &mut dyn Policy,
    facts: &dyn FactSource,
    req: &RequestDef,
    now: i64,
) -> Decided {
    forge_authz_host::authorize_one(p, facts, req, now).unwrap()
}

/// A token of alice's holding `scopes`, minted by `p` and stored in `w`: its secret.
fn mint_with(p: &mut dyn Policy, w: &mut World, scopes: &[&str]) -> String {
    let t = p
        .issue(&forge_authz_tests::session_request(
            "alice",
            scopes,
            w.now(),
        ))
        .unwrap()
        .unwrap();
    w.add_token(&convert::record_in(t.record.clone()));
    t.secret
}

fn mint(p: &mut dyn Policy, w: &mut World) -> String {
    mint_with(p, w, &["read:repository"])
}

/// A push that keeps the policy busy for a long time: many long ref names against many
/// protection patterns that never match (each match is quadratic in the two lengths).
fn slow_push(w: &mut World, secret: &str) -> RequestDef {
    let repo = w
        .repositories
        .iter_mut()
        .find(|r| r.owner == "alice" && r.name == "app")
        .unwrap();
    let pattern = format!("refs/heads/{}b", "*a".repeat(120));
    repo.protected_refs = (0..40)
        .map(|_| {
            serde_json::from_value(serde_json::json!({
                "pattern": pattern, "push": "writers", "force_push": "writers"
            }))
            .unwrap()
        })
        .collect();
    let name = format!("refs/heads/{}", "a".repeat(240));
    RequestDef {
        credential: CredentialDef::Bearer(secret.into()),
        repository: Some("alice/app".into()),
        action: Some(ActionDef::Push),
        refs: (0..100)
            .map(|_| RefUpdateDef {
                name: name.clone(),
                old: "1".repeat(40),
                new: "2".repeat(40),
                force: false,
            })
            .collect(),
        ..RequestDef::default()
    }
}

#[test]
fn a_call_past_its_deadline_is_a_deny_and_the_policy_recovers() {
    // The bound that replaced fuel (issue 11): the epoch deadline. A call still running
    // when it passes traps; the host denies with `policy-failure` and rebuilds the
    // instance.
    let mut w = world();
    let mut p = wasm(&forge_authz_host::wit::world_config(&w).unwrap()).unwrap();
    let secret = mint_with(&mut p, &mut w, &["write:repository"]);
    let pull_req = pull(CredentialDef::Bearer(secret.clone()), "alice/app");
    let push = slow_push(&mut w, &secret);
    let now = w.now();
    assert!(authorize_git(&mut p, &w, &pull_req, now).allow());
    p.set_limits(Limits {
        deadline_ms: 10,
        ..Limits::default()
    });
    let started = std::time::Instant::now();
    let d = authorize_git(&mut p, &w, &push, now);
    assert!(!d.allow());
    assert!(d.is_failure(), "{d:?}");
    assert_eq!((d.http(), d.code()), (503, "policy-failure"));
    assert!(
        d.detail.as_deref().is_some_and(|x| x.contains("interrupt")),
        "{:?}",
        d.detail
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "the deadline stopped the call"
    );
    // The trapped instance was discarded; with a sane deadline the next call works, and
    // given time the slow push itself is decided (every ref allowed: no pattern matches):
    // the work is bounded, the deadline only cut it short.
    p.set_limits(Limits::default());
    assert!(authorize_git(&mut p, &w, &pull_req, now).allow());
    p.set_limits(Limits {
        deadline_ms: 60_000,
        ..Limits::default()
    });
    let d = authorize_git(&mut p, &w, &push, now);
    assert!(d.allow(), "{d:?}");
    assert_eq!(d.refs.len(), 100);
}

#[test]
fn memory_limit_refuses_to_run() {
    let small = module().with_limits(Limits {
        memory_bytes: 64 * 1024,
        ..Limits::default()
    });
    let w = world();
    assert!(
        small
            .authorizer(forge_authz_host::wit::world_config(&w).unwrap())
            .is_err()
    );
}

/// A store that cannot answer: every lookup fails.
struct Broken;

impl FactSource for Broken {
    fn token(&self, _: &str) -> anyhow::Result<Option<core::TokenFacts>> {
        anyhow::bail!("connection refused")
    }
    fn user(&self, _: &str) -> anyhow::Result<Option<core::UserFacts>> {
        anyhow::bail!("connection refused")
    }
    fn repository(&self, _: &str, _: Option<&str>) -> anyhow::Result<Option<FoundRepository>> {
        anyhow::bail!("connection refused")
    }
    fn namespace(&self, _: &str, _: Option<&str>) -> anyhow::Result<Option<core::NamespaceFacts>> {
        anyhow::bail!("connection refused")
    }
    fn ssh_key(&self, _: &str) -> anyhow::Result<Option<core::SshKey>> {
        anyhow::bail!("connection refused")
    }
}

#[test]
fn a_store_that_cannot_answer_is_a_deny_on_both_engines() {
    // A fact the host could not read fails the import (wasm) or the call (native): a
    // `policy-failure` deny naming the cause, never "no such repository" and never an
    // allow; the next call with a working store is decided normally.
    let mut w = world();
    let mut n = native(&forge_authz_host::wit::world_config(&w).unwrap()).unwrap();
    let secret = mint(&mut n, &mut w);
    let mut m = wasm(&forge_authz_host::wit::world_config(&w).unwrap()).unwrap();
    let now = w.now();
    for (engine, p) in [
        ("native", &mut n as &mut dyn Policy),
        ("wasm", &mut m as &mut dyn Policy),
    ] {
        for req in [
            pull(CredentialDef::Bearer(secret.clone()), "alice/app"),
            pull(CredentialDef::Anonymous, "alice/app"),
        ] {
            let d = authorize_git(p, &Broken, &req, now);
            assert!(d.is_failure(), "{engine}: {d:?}");
            assert_eq!(d.http(), 503, "{engine}");
            assert!(
                d.detail
                    .as_deref()
                    .is_some_and(|x| x.contains("connection refused")),
                "{engine}: {:?}",
                d.detail
            );
            assert!(authorize_git(p, &w, &req, now).allow(), "{engine}");
        }
    }
}

#[test]
fn broken_modules_do_not_load() {
    let l = Limits::default();
    assert!(PolicyModule::from_bytes(b"", l, PathBuf::new()).is_err());
    assert!(PolicyModule::from_bytes(b"not wasm at all", l, PathBuf::new()).is_err());
    // A valid core module (not a component).
    assert!(PolicyModule::from_bytes(b"\0asm\x01\0\0\0", l, PathBuf::new()).is_err());
    // A valid, empty component: it does not export the policy world.
    assert!(PolicyModule::from_bytes(b"\0asm\x0d\0\x01\0", l, PathBuf::new()).is_err());
    // The real module, truncated.
    let bytes =
        forge_authz_host::policy::module_bytes(&forge_authz_host::default_policy_path()).unwrap();
    assert!(PolicyModule::from_bytes(&bytes[..bytes.len() / 2], l, PathBuf::new()).is_err());
}

/// Counts the policy's questions, to prove what the host asks its store.
struct Counting<'a> {
    world: &'a World,
    lookups: Cell<usize>,
    token_lookups: Cell<usize>,
}

impl FactSource for Counting<'_> {
    fn token(&self, id: &str) -> anyhow::Result<Option<core::TokenFacts>> {
        self.token_lookups.set(self.token_lookups.get() + 1);
        FactSource::token(self.world, id)
    }
    fn user(&self, name: &str) -> anyhow::Result<Option<core::UserFacts>> {
        FactSource::user(self.world, name)
    }
    fn repository(
        &self,
        path: &str,
        actor: Option<&str>,
    ) -> anyhow::Result<Option<FoundRepository>> {
        FactSource::repository(self.world, path, actor)
    }
    fn namespace(
        &self,
        name: &str,
        actor: Option<&str>,
    ) -> anyhow::Result<Option<core::NamespaceFacts>> {
        FactSource::namespace(self.world, name, actor)
    }
    fn ssh_key(&self, id: &str) -> anyhow::Result<Option<core::SshKey>> {
        FactSource::ssh_key(self.world, id)
    }
    fn lookup(&self, q: &core::FactQuery<'_>) -> anyhow::Result<forge_authz_host::facts::Answered> {
        self.lookups.set(self.lookups.get() + 1);
        // The default composition, through the counting lookups above.
        let token = q.token.map(|id| self.token(id)).transpose()?.flatten();
        let answered = FactSource::lookup(self.world, q)?;
        assert_eq!(answered.answer.token, token);
        Ok(answered)
    }
}

#[test]
fn forged_tokens_never_reach_the_store() {
    // reference §6: malformed / forged token -> 401 before any lookup.
    let mut w = world();
    let mut p = wasm(&forge_authz_host::wit::world_config(&w).unwrap()).unwrap();
    let secret = mint(&mut p, &mut w);
    let mut forger = native(&wit::Config {
        site: String::new(),
        keys: vec![wit::SigningKey {
            id: "k1".into(),
            secret: vec![0x42; 32],
        }],
        signing_key_id: "k1".into(),
        options: forge_authz_tests::default_options(),
    })
    .unwrap();
    let forged = mint(&mut forger, &mut w.clone());
    let now = w.now();
    let counting = Counting {
        world: &w,
        lookups: Cell::new(0),
        token_lookups: Cell::new(0),
    };
    for bad in [
        forged.as_str(),
        "fzpat_nope",
        "",
        &secret[..secret.len() - 1],
    ] {
        let d = authorize_git(
            &mut p,
            &counting,
            &pull(CredentialDef::Bearer(bad.into()), "alice/app"),
            now,
        );
        assert_eq!(d.code(), "token-invalid");
        assert_eq!(d.http(), 401);
        assert_eq!(d.message, "invalid access token", "uniform message");
    }
    // Not only no token lookup: no question to the store at all.
    assert_eq!(counting.lookups.get(), 0);
    assert_eq!(counting.token_lookups.get(), 0);
    let d = authorize_git(
        &mut p,
        &counting,
        &pull(CredentialDef::Bearer(secret.clone()), "alice/app"),
        now,
    );
    assert!(d.allow());
    assert_eq!(counting.lookups.get(), 1, "one question per decision");
    assert_eq!(counting.token_lookups.get(), 1);
    // The token is remembered as verified, and still looked up (its record may change).
    let d = authorize_git(
        &mut p,
        &counting,
        &pull(CredentialDef::Bearer(secret), "alice/app"),
        now,
    );
    assert!(d.allow());
    assert_eq!(counting.lookups.get(), 2);
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Gen(u64);
impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
    fn string(&mut self, max: usize) -> String {
        let len = (self.next() % max as u64) as usize;
        (0..len)
            .map(|_| char::from_u32((self.next() % 0x3000) as u32).unwrap_or('?'))
            .collect()
    }
}

#[test]
fn garbage_input_is_a_typed_decision_on_both_engines() {
    // Invariant: for any input both engines return a decision (no trap, no panic), the
    // same one, and `allow` holds exactly when the status is ok.
    let mut w = world();
    let mut n = native(&forge_authz_host::wit::world_config(&w).unwrap()).unwrap();
    let mut m = wasm(&forge_authz_host::wit::world_config(&w).unwrap()).unwrap();
    let good = mint(&mut n, &mut w);
    let mut g = Gen(0x9E37_79B9_7F4A_7C15);
    let repos = [
        "alice/app",
        "alice/secret",
        "",
        "/",
        "a/b/c",
        "alice/..",
        "ALICE/APP",
        "x/y",
    ];
    for i in 0..400 {
        let token = match i % 4 {
            0 => g.string(200),
            1 => {
                let mut t: Vec<char> = good.chars().collect();
                let k = (g.next() % t.len() as u64) as usize;
                t[k] = char::from_u32((g.next() % 128) as u32).unwrap_or('.');
                t.into_iter().collect()
            }
            2 => format!("fzpat_{}", g.string(150)),
            _ => good.clone(),
        };
        let credential = match g.next() % 3 {
            0 => CredentialDef::Bearer(token),
            1 => CredentialDef::Basic {
                username: g.string(20),
                password: token,
            },
            _ => CredentialDef::Basic {
                username: token,
                password: g.pick(&["", "x-oauth-basic"]).into(),
            },
        };
        let mut req = pull(credential, g.pick(&repos));
        if g.next().is_multiple_of(2) {
            req.action = Some(ActionDef::Push);
        }
        req.now = Some(w.now() + (g.next() % 1000) as i64 - 500);
        let a = authorize_git(&mut n, &w, &req, w.now());
        let b = authorize_git(&mut m, &w, &req, w.now());
        assert!(!a.is_failure(), "native failed on {req:?}");
        assert!(!b.is_failure(), "wasm failed on {req:?}");
        assert_eq!(a, b, "engines disagree on {req:?}");
        assert_eq!(a.allow(), a.http() == 200);
    }
    // Oversized input is refused by format, not by a limit.
    let huge = "fzpat_".to_string() + &"a".repeat(1 << 20);
    let d = authorize_git(
        &mut m,
        &w,
        &pull(CredentialDef::Bearer(huge), "alice/app"),
        w.now(),
    );
    assert_eq!(
        (d.code(), d.detail.as_deref()),
        ("token-invalid", Some("wrong-length"))
    );
}

#[test]
fn the_component_exports_the_documented_world_and_imports_only_facts_and_randomness() {
    let m = module();
    let mut exports = m.exports().to_vec();
    exports.sort();
    let v = forge_authz_host::wit::WIT_VERSION;
    assert_eq!(
        exports,
        [
            "authorizer",
            "config",
            "credential",
            "decision",
            "lifecycle",
            "request",
        ]
        .map(|i| format!("forge:authz/{i}@{v}")),
        "exports of {}",
        m.source().display()
    );
    // The guest links no Rust `std` (issue 11): it imports the host's facts (the one
    // question per decision) and randomness (token entropy). Anything else (stdio,
    // environment, exit, streams: what `std` pulled in before) would be a capability the
    // policy must not name.
    let mut imports: Vec<&str> = m
        .imports()
        .iter()
        .map(|i| i.split('@').next().unwrap_or(i))
        .collect();
    imports.sort();
    assert_eq!(
        imports,
        ["forge:authz/facts", "wasi:random/random"],
        "imports of {}",
        m.source().display()
    );
    assert!(
        m.imports()
            .iter()
            .all(|i| i.starts_with("wasi:random/random@0.2.")
                || *i == format!("forge:authz/facts@{}", forge_authz_host::wit::WIT_VERSION)),
        "{:?}",
        m.imports()
    );
}

#[test]
fn an_idle_instance_gets_a_fresh_deadline_on_every_call() {
    // Regression: the epoch deadline is per call, so a worker idle for longer than the
    // deadline must not trap on its next request.
    let mut w = world();
    let mut p = wasm(&forge_authz_host::wit::world_config(&w).unwrap()).unwrap();
    p.set_limits(Limits {
        deadline_ms: 50,
        ..Limits::default()
    });
    let secret = mint(&mut p, &mut w);
    let req = pull(CredentialDef::Bearer(secret), "alice/app");
    assert!(authorize_git(&mut p, &w, &req, w.now()).allow());
    std::thread::sleep(std::time::Duration::from_millis(300));
    let d = authorize_git(&mut p, &w, &req, w.now());
    assert!(d.allow(), "{:?}", d.detail);
}
