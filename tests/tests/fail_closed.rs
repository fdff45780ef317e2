//! Fail closed: traps, exhausted fuel, memory limits, broken modules and garbage input are
//! denies (or load errors), never an allow and never a host crash. A forged token never
//! reaches the store.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::cell::Cell;
use std::path::PathBuf;

use forge_authz_host::policy::{Limits, Policy, PolicyModule};
use forge_authz_host::request::{ActionDef, CredentialDef, FactSource, RequestDef};
use forge_authz_host::wit;
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
) -> wit::Decision {
    forge_authz_host::authorize_one(p, facts, req, now).unwrap()
}

fn mint(p: &mut dyn Policy, w: &mut World) -> String {
    let t = p
        .issue(&forge_authz_tests::session_request(
            "alice",
            &["read:repository"],
            w.now(),
        ))
        .unwrap()
        .unwrap();
    w.add_token(&t.record);
    t.secret
}

#[test]
fn out_of_fuel_is_a_deny_and_the_policy_recovers() {
    let mut w = world();
    let mut p = wasm(&w.config().unwrap()).unwrap();
    let secret = mint(&mut p, &mut w);
    let req = pull(CredentialDef::Bearer(secret), "alice/app");
    let now = w.now();
    assert!(authorize_git(&mut p, &w, &req, now).allow);
    p.set_limits(Limits {
        fuel: 1_000,
        ..Limits::default()
    });
    let d = authorize_git(&mut p, &w, &req, now);
    assert!(!d.allow);
    assert_eq!(d.reason, wit::Reason::PolicyFailure);
    assert_eq!(d.status, wit::Status::Unavailable);
    // The trapped instance was discarded; with a sane budget the next call works.
    p.set_limits(Limits::default());
    assert!(authorize_git(&mut p, &w, &req, now).allow);
}

#[test]
fn memory_limit_refuses_to_run() {
    let small = module().with_limits(Limits {
        memory_bytes: 64 * 1024,
        ..Limits::default()
    });
    let w = world();
    assert!(small.authorizer(w.config().unwrap()).is_err());
}

#[test]
fn fuel_limit_at_creation_refuses_to_run() {
    let starved = module().with_limits(Limits {
        fuel: 10,
        ..Limits::default()
    });
    assert!(starved.authorizer(world().config().unwrap()).is_err());
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

/// Counts store lookups, to prove what the host asks its store.
struct Counting<'a> {
    world: &'a World,
    token_lookups: Cell<usize>,
}

impl FactSource for Counting<'_> {
    fn token(&self, id: &str) -> Option<wit::TokenRecord> {
        self.token_lookups.set(self.token_lookups.get() + 1);
        self.world.token(id)
    }
    fn user(&self, name: &str) -> Option<wit::UserFacts> {
        self.world.user(name)
    }
    fn repository(&self, path: &str, actor: Option<&str>) -> Option<wit::RepositoryFacts> {
        self.world.repository(path, actor)
    }
    fn namespace(&self, name: &str, actor: Option<&str>) -> Option<wit::NamespaceFacts> {
        self.world.namespace(name, actor)
    }
    fn ssh_key(&self, id: &str) -> Option<wit::SshKey> {
        self.world.ssh_key(id)
    }
}

#[test]
fn forged_tokens_never_reach_the_store() {
    // reference §6: malformed / forged token -> 401 before any lookup.
    let mut w = world();
    let mut p = wasm(&w.config().unwrap()).unwrap();
    let secret = mint(&mut p, &mut w);
    let mut forger = native(&wit::Config {
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
        assert_eq!(d.reason, wit::Reason::TokenInvalid);
        assert_eq!(d.status.http(), 401);
        assert_eq!(d.message, "invalid access token", "uniform message");
    }
    assert_eq!(counting.token_lookups.get(), 0);
    let d = authorize_git(
        &mut p,
        &counting,
        &pull(CredentialDef::Bearer(secret), "alice/app"),
        now,
    );
    assert!(d.allow);
    assert_eq!(counting.token_lookups.get(), 1);
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
    let mut n = native(&w.config().unwrap()).unwrap();
    let mut m = wasm(&w.config().unwrap()).unwrap();
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
        assert_ne!(
            a.reason,
            wit::Reason::PolicyFailure,
            "native failed on {req:?}"
        );
        assert_ne!(
            b.reason,
            wit::Reason::PolicyFailure,
            "wasm failed on {req:?}"
        );
        assert_eq!(a, b, "engines disagree on {req:?}");
        assert_eq!(a.allow, a.status == wit::Status::Ok);
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
        (d.reason, d.detail.as_deref()),
        (wit::Reason::TokenInvalid, Some("wrong-length"))
    );
}

#[test]
fn inconsistent_facts_are_a_deny() {
    let mut w = world();
    let mut p = wasm(&w.config().unwrap()).unwrap();
    let secret = mint(&mut p, &mut w);
    let token = w.tokens[0].id.clone();
    let input = |repo: &str, facts_for: &str, record_id: &str| wit::Input {
        credential: wit::Credential::Bearer(secret.clone()),
        also_presented: vec![],
        namespace: None,
        sudo: None,
        explain: false,
        token: w.token(&token).map(|mut r| {
            r.id = record_id.into();
            r
        }),
        user: w.user("alice"),
        repository: w.repository(facts_for, Some("alice")),
        request: wit::Request::Git(wit::GitRequest {
            transport: wit::Transport::Http,
            repository: repo.into(),
            action: wit::GitAction::Pull,
            refs: vec![],
        }),
        now: w.now(),
    };
    let d = p
        .decide(&input("alice/app", "alice/secret", &token))
        .unwrap();
    assert_eq!(d.reason, wit::Reason::FactsInconsistent);
    let d = p
        .decide(&input("alice/app", "alice/app", "someone-else"))
        .unwrap();
    assert_eq!(d.reason, wit::Reason::FactsInconsistent);
    assert!(
        p.decide(&input("alice/app", "alice/app", &token))
            .unwrap()
            .allow
    );
}

#[test]
fn the_component_exports_the_documented_world_and_imports_only_randomness() {
    let m = module();
    let mut exports = m.exports().to_vec();
    exports.sort();
    assert_eq!(
        exports,
        ["forge:authz/authorizer@0.3.0", "forge:authz/types@0.3.0"],
        "exports of {}",
        m.source().display()
    );
    // The guest links no Rust `std` (issue 11): the only interface it imports is
    // randomness, for token entropy. Anything else (stdio, environment, exit, streams: what
    // `std` pulled in before) would be a capability the policy must not name.
    let imports: Vec<&str> = m
        .imports()
        .iter()
        .map(|i| i.split('@').next().unwrap_or(i))
        .collect();
    assert_eq!(
        imports,
        ["wasi:random/random"],
        "imports of {}",
        m.source().display()
    );
    assert!(
        m.imports()
            .iter()
            .all(|i| i.starts_with("wasi:random/random@0.2.")),
        "{:?}",
        m.imports()
    );
}

#[test]
fn an_idle_instance_gets_a_fresh_deadline_on_every_call() {
    // Regression: the epoch deadline is per call, so a worker idle for longer than the
    // deadline must not trap on its next request.
    let mut w = world();
    let mut p = wasm(&w.config().unwrap()).unwrap();
    p.set_limits(Limits {
        deadline_ms: 50,
        ..Limits::default()
    });
    let secret = mint(&mut p, &mut w);
    let req = pull(CredentialDef::Bearer(secret), "alice/app");
    assert!(authorize_git(&mut p, &w, &req, w.now()).allow);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let d = authorize_git(&mut p, &w, &req, w.now());
    assert!(d.allow, "{:?}", d.detail);
}
