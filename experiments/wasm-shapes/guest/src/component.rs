//! The component: `shapes.wit`'s exports over one engine per instance.
#![allow(unsafe_code)]

use super::*;
use alloc::vec;
use forge_authz_guest::policy::{
    Config, Engine, FactAnswer, FactQuery, Facts, Options, SigningKey,
};

wit_bindgen::generate!({ world: "crossing", path: "../wit" });

use exports::forge::shapes::shapes::Guest;
use forge::shapes::flat_facts;

/// The instance's engine. The canonical ABI never re-enters a component, and a wasm
/// instance has one thread.
struct Global(::core::cell::RefCell<Option<Engine>>);
// SAFETY: wasm32 without threads.
unsafe impl Sync for Global {}
static ENGINE: Global = Global(::core::cell::RefCell::new(None));

fn decide(request: &core::AuthorizeRequest, facts: &mut dyn Facts) -> u64 {
    match ENGINE.0.borrow_mut().as_mut() {
        Some(e) => packed(&e.authorize(request, facts)),
        None => ::core::arch::wasm32::unreachable(),
    }
}

/// Shape 2's facts: one flat callback.
struct FlatFacts;

impl Facts for FlatFacts {
    fn lookup(&mut self, q: &FactQuery<'_>) -> FactAnswer {
        let viewer = matches!(q.viewer, core::Viewer::TokenOwner) as u32;
        let a = flat_facts::lookup(q.token, q.repository, viewer);
        FactAnswer {
            token: a.token.map(|t| {
                let (w0, w1, w2, w3) = t.digest;
                let mut digest = [0u8; 32];
                for (c, w) in digest.chunks_exact_mut(8).zip([w0, w1, w2, w3]) {
                    c.copy_from_slice(&w.to_be_bytes());
                }
                let mut f = token_in(
                    t.owner,
                    t.scopes,
                    t.bits,
                    [t.last_used, t.expires, t.revoked],
                    digest,
                );
                if let Some(b) = f.binding.as_mut() {
                    b.repositories = t.binding_repositories;
                    b.owners = t.binding_owners;
                }
                f.ip_allow = t.ip_allow;
                f
            }),
            owner: user_in(a.owner),
            repository: repo_in(a.repository, a.owner_ip_allow),
            ..FactAnswer::default()
        }
    }
    crate::no_batch!();
}

struct Shapes;

impl Guest for Shapes {
    fn init(key_id: String, key: Vec<u8>) -> bool {
        let config = Config {
            keys: vec![SigningKey {
                id: key_id.clone(),
                secret: key,
            }],
            signing_key_id: key_id,
            options: Options::default(),
            site: String::new(),
        };
        let engine = Engine::new(&config).ok();
        let ok = engine.is_some();
        *ENGINE.0.borrow_mut() = engine;
        ok
    }

    fn nop() {}

    fn decide_flat(
        kind: u32,
        secret: String,
        repository: String,
        client: Option<String>,
        now: i64,
    ) -> u64 {
        decide(
            &request(kind, secret, repository, client, now),
            &mut FlatFacts,
        )
    }

    fn decide_given(
        kind: u32,
        secret: String,
        repository: String,
        now: i64,
        owner: String,
        scopes: String,
        bits: u32,
        last_used: i64,
        expires: i64,
        revoked: i64,
        digest: Vec<u8>,
    ) -> u64 {
        let digest: [u8; 32] = digest.try_into().unwrap_or([0; 32]);
        let answer = given(owner, scopes, bits, [last_used, expires, revoked], digest);
        decide(
            &request(kind, secret, repository, None, now),
            &mut Given(Some(answer)),
        )
    }

    fn decide_packed(
        kind: u32,
        secret: String,
        repository: String,
        now: i64,
        bits: u32,
        last_used: i64,
        expires: i64,
        revoked: i64,
        row: Vec<u8>,
    ) -> u64 {
        let (digest, rest) = row.split_at_checked(32).unwrap_or((&[], &[]));
        let digest: [u8; 32] = digest.try_into().unwrap_or([0; 32]);
        let (n, rest) = rest.split_at_checked(2).unwrap_or((&[0, 0], &[]));
        let n = u16::from_le_bytes([
            n.first().copied().unwrap_or(0),
            n.get(1).copied().unwrap_or(0),
        ]);
        let (owner, scopes) = rest.split_at_checked(n as usize).unwrap_or((&[], &[]));
        let text = |b: &[u8]| String::from(::core::str::from_utf8(b).unwrap_or(""));
        let answer = given(
            text(owner),
            text(scopes),
            bits,
            [last_used, expires, revoked],
            digest,
        );
        decide(
            &request(kind, secret, repository, None, now),
            &mut Given(Some(answer)),
        )
    }
}

export!(Shapes);
