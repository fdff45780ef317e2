//! Issue 24 experiment (not shipped): one decision through each crossing shape, for
//! callgrind to count instructions per call (README.md). `shapes-host CASE N [SHIPPED.wasm
//! SHAPES.wasm]` runs CASE N times inside `bench_loop`, after checking its answer.
//! `shapes-host precompile ...` compiles both components to `.cwasm` beside them (so that
//! valgrind runs no compiler).
#![allow(clippy::unwrap_used)]

#[cfg(feature = "w48")]
extern crate wasmtime48 as wasmtime;
#[cfg(feature = "w49")]
extern crate wasmtime49 as wasmtime;

use std::hint::black_box;

use anyhow::{Context, Result, bail};
use forge_authz_guest::policy as core;
use wasmtime::component::{Component, HasSelf, Linker, ResourceAny};
use wasmtime::{Config, Engine, Store};

mod shipped {
    wasmtime::component::bindgen!({ world: "policy", path: "../../../wit" });
}
mod shapes {
    wasmtime::component::bindgen!({ world: "crossing", path: "../wit" });
}

use shapes::forge::shapes::flat_facts as ff;
use shipped::forge::authz::facts as wf;

const NOW: i64 = 1_767_225_600;
const KEY: [u8; 32] = [7; 32];
const REPO: &str = "alice/app";

fn active() -> core::UserFacts {
    core::UserFacts {
        status: core::AccountStatus::Active,
        site_admin: false,
        visibility: core::Visibility::Public,
        organization: false,
    }
}

fn public_repo() -> core::RepositoryFacts {
    core::RepositoryFacts {
        owner_visibility: core::Visibility::Public,
        private: false,
        kind: core::RepositoryKind::Hosted,
        archived: false,
        role: core::Role::None,
        protected_refs: vec![],
        registrant: None,
        owner_ip_allow: vec![],
    }
}

fn config() -> core::Config {
    core::Config {
        keys: vec![core::SigningKey {
            id: "k1".into(),
            secret: KEY.to_vec(),
        }],
        signing_key_id: "k1".into(),
        options: core::Options::default(),
        site: String::new(),
    }
}

/// A token for alice (`read:repository`, an hour left, already used now: no effect).
fn mint() -> (String, core::TokenFacts) {
    let a = core::Authorizer::new(&config()).unwrap();
    let request = core::IssueRequest {
        owner: "alice".into(),
        name: "bench".into(),
        scopes: vec!["read:repository".into()],
        repositories: vec![],
        owners: vec![],
        expires: Some(NOW + 3600),
        now: NOW,
        creator: core::Actor::Session(core::Account {
            name: "alice".into(),
            facts: active(),
        }),
        existing_names: vec![],
        bound_facts: vec![],
        ip: None,
    };
    let t = a.issue(&request, Some(&[9; 36])).unwrap();
    let mut facts = t.record.facts();
    facts.last_used = Some(NOW);
    (t.secret, facts)
}

/// The host's facts: alice's token and her public repositories.
struct Host {
    token: core::TokenFacts,
}

impl core::Facts for Host {
    fn lookup(&mut self, q: &core::FactQuery<'_>) -> core::FactAnswer {
        core::FactAnswer {
            token: q.token.map(|_| self.token.clone()),
            owner: q.token.map(|_| active()),
            repository: q.repository.map(|_| public_repo()),
            ..core::FactAnswer::default()
        }
    }
    shapes_guest::no_batch!();
}

fn hash(d: &[u8; 32]) -> wf::Hash256 {
    let w = |i: usize| u64::from_be_bytes(d[i * 8..i * 8 + 8].try_into().unwrap());
    wf::Hash256 {
        w0: w(0),
        w1: w(1),
        w2: w(2),
        w3: w(3),
    }
}

fn words(d: &[u8; 32]) -> (u64, u64, u64, u64) {
    let h = hash(d);
    (h.w0, h.w1, h.w2, h.w3)
}

fn digest(t: &core::TokenFacts) -> &[u8; 32] {
    match &t.secret {
        core::SecretDigest::HmacTag(d) | core::SecretDigest::Sha256(d) => d,
    }
}

// Today's contract: the answer as the shipped host builds it (no list, no binding).
impl wf::Host for Host {
    fn lookup(&mut self, q: wf::FactQuery) -> wf::FactAnswer {
        let t = &self.token;
        wf::FactAnswer {
            token: q.token.as_ref().map(|_| wf::TokenFacts {
                owner: t.owner.clone(),
                scopes: t.scopes.clone(),
                binding: None,
                child: t.child,
                rotated: t.rotated,
                last_used: t.last_used,
                expires: t.expires,
                revoked: t.revoked,
                secret: wf::SecretDigest::HmacTag(hash(digest(t))),
                ip_allow: vec![],
            }),
            owner: q.token.as_ref().map(|_| wf::UserFacts {
                status: wf::AccountStatus::Active,
                site_admin: false,
                visibility: wf::Visibility::Public,
                organization: false,
            }),
            account: None,
            sudo: None,
            repository: q.repository.as_ref().map(|_| wf::RepositoryFacts {
                owner_visibility: wf::Visibility::Public,
                private: false,
                kind: wf::RepositoryKind::Hosted,
                archived: false,
                role: wf::Role::None,
                protected_refs: None,
                registrant: None,
                owner_ip_allow: vec![],
            }),
            namespace: None,
        }
    }
    fn repositories(
        &mut self,
        p: Vec<String>,
        _v: Option<String>,
    ) -> Vec<Option<wf::RepositoryFacts>> {
        p.iter().map(|_| None).collect()
    }
}

impl ff::Host for Host {
    fn lookup(
        &mut self,
        token: Option<String>,
        repository: Option<String>,
        _viewer: u32,
    ) -> ff::FlatAnswer {
        let t = &self.token;
        ff::FlatAnswer {
            token: token.as_ref().map(|_| ff::TokenRow {
                owner: t.owner.clone(),
                scopes: t.scopes.clone(),
                bits: shapes_guest::token_bits(t),
                last_used: t.last_used.unwrap_or(0),
                expires: t.expires.unwrap_or(0),
                revoked: t.revoked.unwrap_or(0),
                digest: words(digest(t)),
                binding_repositories: vec![],
                binding_owners: vec![],
                ip_allow: vec![],
            }),
            owner: if token.is_some() {
                shapes_guest::user_bits(Some(&active()))
            } else {
                0
            },
            repository: if repository.is_some() {
                shapes_guest::repo_bits(Some(&public_repo()))
            } else {
                0
            },
            owner_ip_allow: vec![],
        }
    }
}

/// Shape 3's and 4's `bits` for what the host would have looked up before the call (the
/// token id read from the secret's public part): a token row and its owner, the repository.
fn given_bits(kind: u32, t: &core::TokenFacts) -> u32 {
    let token = if kind == 1 {
        shapes_guest::token_bits(t) | 128 | shapes_guest::user_bits(Some(&active())) << 8
    } else {
        0
    };
    token | shapes_guest::repo_bits(Some(&public_repo())) << 16
}

/// The measured loop: callgrind collects inside it only (`--toggle-collect=*bench_loop*`).
#[inline(never)]
fn bench_loop<R>(n: u64, mut f: impl FnMut() -> R) {
    for _ in 0..n {
        black_box(f());
    }
}

fn engine() -> Result<Engine> {
    let mut c = Config::new();
    // As the shipped host (forge-authz/src/policy/mod.rs): the deadline is an epoch.
    c.epoch_interruption(true);
    Ok(Engine::new(&c)?)
}

fn cwasm(path: &str) -> String {
    format!(
        "{path}.{}.cwasm",
        if cfg!(feature = "w49") { 49 } else { 48 }
    )
}

fn load(engine: &Engine, path: &str) -> Result<Component> {
    // SAFETY: our own `precompile` wrote it, with this engine's settings.
    unsafe { Component::deserialize_file(engine, cwasm(path)) }
        .map_err(anyhow::Error::from)
        .with_context(|| format!("{path}: run precompile"))
}

fn store(engine: &Engine, token: &core::TokenFacts) -> Store<Host> {
    let mut s = Store::new(
        engine,
        Host {
            token: token.clone(),
        },
    );
    s.set_epoch_deadline(u64::MAX / 2);
    s
}

/// A store, the precompiled component at `path` and a linker with the host's imports
/// (`add`) and traps for the rest (`wasi:random`, which no decision uses).
fn setup(
    engine: &Engine,
    path: &str,
    token: &core::TokenFacts,
    add: impl FnOnce(&mut Linker<Host>) -> wasmtime::Result<()>,
) -> Result<(Store<Host>, Component, Linker<Host>)> {
    let mut linker = Linker::<Host>::new(engine);
    add(&mut linker)?;
    let component = load(engine, path)?;
    linker.define_unknown_imports_as_traps(&component)?;
    Ok((store(engine, token), component, linker))
}

fn expect(what: &str, got: u64, reason: core::Reason) -> Result<()> {
    let want = core::Reason::ALL.iter().position(|r| *r == reason).unwrap() as u64;
    if got != want {
        bail!("{what}: answer {got:#x}, want {want:#x} ({reason:?})");
    }
    Ok(())
}

fn run(case: &str, n: u64, shipped_path: &str, shapes_path: &str) -> Result<()> {
    let (secret, token) = mint();
    let (kind, reason) = if case.ends_with("token") {
        (1, core::Reason::Granted)
    } else {
        (0, core::Reason::PublicRead)
    };
    let bearer = || {
        if kind == 1 {
            core::Credential::Bearer(secret.clone())
        } else {
            core::Credential::Anonymous
        }
    };
    if case.starts_with("native") {
        let mut e = core::Engine::new(&config()).unwrap();
        let mut host = Host {
            token: token.clone(),
        };
        let req = shapes_guest::request(kind, secret.clone(), REPO.into(), None, NOW);
        if case == "native-nop" {
            bench_loop(n, || core::Engine::new(black_box(&config())).is_ok());
            return Ok(());
        }
        expect(
            case,
            shapes_guest::packed(&e.authorize(&req, &mut host)),
            reason,
        )?;
        bench_loop(n, || e.authorize(black_box(&req), &mut host));
        return Ok(());
    }
    let engine = engine()?;
    if case.starts_with("s1") {
        let (mut store, component, linker) = setup(&engine, shipped_path, &token, |l| {
            shipped::Policy::add_to_linker::<_, HasSelf<_>>(l, |h| h)
        })?;
        let p = shipped::Policy::instantiate(&mut store, &component, &linker)?;
        let a = p.forge_authz_authorizer();
        let c = config();
        let wc = shipped::exports::forge::authz::config::Config {
            keys: vec![shipped::exports::forge::authz::config::SigningKey {
                id: "k1".into(),
                secret: KEY.to_vec(),
            }],
            signing_key_id: c.signing_key_id.clone(),
            options: shipped::exports::forge::authz::config::Options {
                binding_fallback_to_anonymous: c.options.binding_fallback_to_anonymous,
                require_expiry: c.options.require_expiry,
                max_lifetime: c.options.max_lifetime,
                min_lifetime: c.options.min_lifetime,
            },
            site: String::new(),
        };
        let r: ResourceAny = a
            .authorizer()
            .call_create(&mut store, &wc)?
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        if case == "s1-nop" {
            bench_loop(n, || {
                a.call_migrate_legacy_scopes(&mut store, black_box(&[]))
                    .unwrap()
            });
            return Ok(());
        }
        use shipped::exports::forge::authz::credential::Credential as C;
        use shipped::exports::forge::authz::request as q;
        let req = q::AuthorizeRequest {
            client_address: None,
            credential: match bearer() {
                core::Credential::Bearer(s) => C::Bearer(s),
                _ => C::Anonymous,
            },
            also_presented: None,
            request: q::Request::Git(q::GitRequest {
                transport: shipped::exports::forge::authz::credential::Transport::Http,
                repository: REPO.into(),
                action: q::GitAction::Pull,
                refs: None,
            }),
            now: NOW,
            explain: false,
        };
        let d = a.authorizer().call_authorize(&mut store, r, &req)?;
        use shipped::exports::forge::authz::decision::{AllowReason, Verdict};
        let got = match d.verdict {
            Verdict::Allow(AllowReason::Granted) => core::Reason::Granted,
            Verdict::Allow(AllowReason::PublicRead) => core::Reason::PublicRead,
            v => bail!("{case}: {v:?}"),
        };
        if got != reason {
            bail!("{case}: {got:?}");
        }
        bench_loop(n, || {
            a.authorizer()
                .call_authorize(&mut store, r, black_box(&req))
                .unwrap()
        });
        return Ok(());
    }
    let (mut store, component, linker) = setup(&engine, shapes_path, &token, |l| {
        shapes::Crossing::add_to_linker::<_, HasSelf<_>>(l, |h| h)
    })?;
    let s = shapes::Crossing::instantiate(&mut store, &component, &linker)?;
    let x = s.forge_shapes_shapes();
    if !x.call_init(&mut store, "k1", &KEY)? {
        bail!("init");
    }
    match case {
        "s0-nop" => bench_loop(n, || x.call_nop(&mut store).unwrap()),
        "s2-token" | "s2-anon" => {
            let secret = if kind == 1 { secret.as_str() } else { "" };
            expect(
                case,
                x.call_decide_flat(&mut store, kind, secret, REPO, None, NOW)?,
                reason,
            )?;
            bench_loop(n, || {
                x.call_decide_flat(&mut store, kind, black_box(secret), REPO, None, NOW)
                    .unwrap()
            });
        }
        "s3-token" | "s3-anon" => {
            let t = &token;
            let bits = given_bits(kind, t);
            let (owner, scopes) = if kind == 1 {
                (t.owner.as_str(), t.scopes.as_str())
            } else {
                ("", "")
            };
            let d: &[u8] = if kind == 1 { digest(t) } else { &[] };
            let secret = if kind == 1 { secret.as_str() } else { "" };
            let (lu, ex, rv) = (
                t.last_used.unwrap_or(0),
                t.expires.unwrap_or(0),
                t.revoked.unwrap_or(0),
            );
            let mut call = || {
                x.call_decide_given(
                    &mut store,
                    kind,
                    black_box(secret),
                    REPO,
                    NOW,
                    owner,
                    scopes,
                    bits,
                    lu,
                    ex,
                    rv,
                    d,
                )
                .unwrap()
            };
            expect(case, call(), reason)?;
            bench_loop(n, call);
        }
        "s4-token" | "s4-anon" => {
            let t = &token;
            let bits = given_bits(kind, t);
            let mut row = Vec::new();
            if kind == 1 {
                row.extend_from_slice(digest(t));
                row.extend_from_slice(&(t.owner.len() as u16).to_le_bytes());
                row.extend_from_slice(t.owner.as_bytes());
                row.extend_from_slice(t.scopes.as_bytes());
            }
            let secret = if kind == 1 { secret.as_str() } else { "" };
            let times = (
                t.last_used.unwrap_or(0),
                t.expires.unwrap_or(0),
                t.revoked.unwrap_or(0),
            );
            let mut call = || {
                x.call_decide_packed(
                    &mut store,
                    kind,
                    black_box(secret),
                    REPO,
                    NOW,
                    bits,
                    times.0,
                    times.1,
                    times.2,
                    &row,
                )
                .unwrap()
            };
            expect(case, call(), reason)?;
            bench_loop(n, call);
        }
        _ => bail!("unknown case {case}"),
    }
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let shipped_path = args.get(3).map_or(
        "../../target/wasm32-wasip2/policy/forge_authz_guest.wasm",
        |s| s,
    );
    let shapes_path = args.get(4).map_or(
        "../../target/wasm-shapes/wasm32-wasip2/policy/shapes_guest.wasm",
        |s| s,
    );
    let case = args
        .get(1)
        .context("usage: shapes-host CASE N [SHIPPED SHAPES]")?;
    if case == "precompile" {
        let engine = engine()?;
        for p in [shipped_path, shapes_path] {
            let bytes = std::fs::read(p).with_context(|| p.to_string())?;
            std::fs::write(cwasm(p), engine.precompile_component(&bytes)?)?;
        }
        return Ok(());
    }
    let n: u64 = args.get(2).context("N")?.parse()?;
    run(case, n, shipped_path, shapes_path)
}
