//! Property (issue 19): a warm authorizer, after any change of keys, options or records,
//! decides exactly as a fresh one. A server keeps one warm instance per worker (with its
//! verified-token cache and the key state derived at creation) and swaps its
//! configuration at run time (`LivePolicy::swap_config`, what every fleet host does when
//! an operator adds or retires a key or changes an option). Over generated sequences of
//! configuration changes (add, retire and switch signing keys, options; some refused by
//! the module) and record changes (revoked, rotated away, expired, rescoped), a
//! `live::Worker` kept warm across the whole sequence answers every request — decisions
//! with traces and effects, batches, ref permissions — exactly as a fresh wasm instance
//! and a fresh native core built from the configuration that is live at that moment.
//!
//! `PROPTEST_CASES` cases (default 10,000), each up to six changes and eight requests.
// Property test: a failed property stops the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing)]

use std::sync::Arc;

use forge_authz_host::live::{LivePolicy, Worker};
use forge_authz_host::policy::Policy;
use forge_authz_host::request::{RequestDef, authorize, outcome_output};
use forge_authz_host::wit;
use forge_authz_host::wit::core as convert;
use forge_authz_host::world::{TokenDef, World};
use forge_authz_tests::{module, native, session_request};
use proptest::prelude::*;

const NOW: i64 = 1_767_225_600;
const DAY: i64 = 86_400;

fn key(id: &str, byte: u8) -> wit::SigningKey {
    wit::SigningKey {
        id: id.into(),
        secret: vec![byte; 32],
    }
}

/// The three keys a sequence draws from.
fn keys() -> [wit::SigningKey; 3] {
    [key("k1", 7), key("k2", 9), key("k3", 5)]
}

fn options(fallback: bool, require_expiry: bool) -> wit::Options {
    wit::Options {
        binding_fallback_to_anonymous: fallback,
        require_expiry,
        max_lifetime: 366 * DAY,
        min_lifetime: 300,
    }
}

fn config(with: &[usize], signing: usize, opts: wit::Options) -> wit::Config {
    let all = keys();
    wit::Config {
        site: String::new(),
        keys: with.iter().map(|i| all[*i].clone()).collect(),
        signing_key_id: all[signing].id.clone(),
        options: opts,
    }
}

/// A change between two rounds of requests.
#[derive(Clone, Debug)]
enum Change {
    /// Add key `i` (if absent).
    AddKey(usize),
    /// Retire key `i` (a configuration without it; refused by the module when it is the
    /// signing key or the last key).
    RetireKey(usize),
    /// Sign with key `i` (refused when it is not configured).
    SignWith(usize),
    /// Options: binding fallback, expiry required.
    Options(bool, bool),
    /// A configuration the module refuses (a 16-byte key): the old one keeps serving.
    Weak,
    /// Token `t`'s record: revoked.
    Revoke(usize),
    /// Token `t`'s record: rotated away.
    Rotated(usize),
    /// Token `t`'s record: expired.
    Expire(usize),
    /// Token `t`'s record: other scopes.
    Rescope(usize, bool),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        2 => (0..3usize).prop_map(Change::AddKey),
        2 => (0..3usize).prop_map(Change::RetireKey),
        2 => (0..3usize).prop_map(Change::SignWith),
        2 => (any::<bool>(), any::<bool>()).prop_map(|(f, r)| Change::Options(f, r)),
        1 => Just(Change::Weak),
        1 => (0..3usize).prop_map(Change::Revoke),
        1 => (0..3usize).prop_map(Change::Rotated),
        1 => (0..3usize).prop_map(Change::Expire),
        1 => (0..3usize, any::<bool>()).prop_map(|(t, w)| Change::Rescope(t, w)),
    ]
}

/// The requests asked after every change (token `t`'s secret substituted).
fn requests() -> Vec<(Option<usize>, serde_json::Value)> {
    let git = |repo: &str, action: &str| serde_json::json!({"repository": repo, "action": action, "explain": true});
    vec![
        (Some(0), git("alice/app", "pull")),
        (Some(1), git("alice/app", "push")),
        (Some(2), git("alice/secret", "pull")),
        (Some(0), git("bob/lib", "pull")),
        (None, git("alice/app", "pull")),
        (
            Some(1),
            serde_json::json!({"kind": "ref-permissions", "repository": "alice/app",
                               "ref_names": ["refs/heads/main"]}),
        ),
        (
            Some(2),
            serde_json::json!({"kind": "batch", "action": "pull", "explain": true,
                               "repositories": ["alice/app", "alice/secret", "bob/lib"]}),
        ),
        (
            Some(0),
            serde_json::json!({"kind": "api", "method": "PUT", "categories": ["repository"],
                               "repository": "alice/app", "writes_content": true}),
        ),
    ]
}

fn world() -> World {
    serde_json::from_value(serde_json::json!({
        "now": NOW,
        "keys": [{"id": "k1", "secret": "07".repeat(32)}],
        "signing_key": "k1",
        "users": [
            {"name": "alice", "status": "active", "site_admin": false, "visibility": "public"},
            {"name": "bob", "status": "active", "site_admin": false, "visibility": "public"}
        ],
        "repositories": [
            {"owner": "alice", "name": "app", "private": false, "kind": "hosted",
             "archived": false, "collaborators": {"bob": "write"}},
            {"owner": "alice", "name": "secret", "private": true, "kind": "hosted",
             "archived": false, "collaborators": {}},
            {"owner": "bob", "name": "lib", "private": false, "kind": "hosted",
             "archived": false, "collaborators": {}}
        ],
    }))
    .unwrap()
}

/// Three tokens of alice's, signed with k1, k2 and k3 (bound to alice/app for the third).
fn tokens() -> Vec<(String, wit::TokenRecord)> {
    (0..3)
        .map(|i| {
            let mut p =
                forge_authz_tests::wasm(&config(&[0, 1, 2], i, options(false, true))).unwrap();
            let mut r = session_request("alice", &["write:repository"], NOW);
            r.expires = Some(NOW + 30 * DAY);
            if i == 2 {
                r.repositories = vec!["alice/app".into()];
                r.bound_facts = vec![wit::BoundRepository {
                    repository: "alice/app".into(),
                    facts: world()
                        .repository("alice/app", Some("alice"))
                        .map(|(_, f)| convert::repository_out(f)),
                }];
            }
            let t = p.issue(&r).unwrap().unwrap();
            (t.secret, t.record)
        })
        .collect()
}

/// Every answer a policy gives the requests, as printed (with effects).
fn answers(p: &mut dyn Policy, w: &World, secrets: &[String]) -> Vec<String> {
    requests()
        .into_iter()
        .map(|(t, mut req)| {
            if let Some(t) = t {
                req["credential"] = serde_json::json!({"bearer": secrets[t]});
            }
            let req: RequestDef = serde_json::from_value(req).unwrap();
            match authorize(p, w, &req, NOW) {
                Ok(o) => format!("{} {:?}", outcome_output(&o).0, o.effects()),
                Err(e) => format!("error: {e}"),
            }
        })
        .collect()
}

/// The configuration after `change` (`None`: not a configuration change).
fn reconfigured(c: &wit::Config, change: &Change) -> Option<wit::Config> {
    let all = keys();
    let mut next = c.clone();
    match change {
        Change::AddKey(i) => {
            if !next.keys.iter().any(|k| k.id == all[*i].id) {
                next.keys.push(all[*i].clone());
            }
        }
        Change::RetireKey(i) => next.keys.retain(|k| k.id != all[*i].id),
        Change::SignWith(i) => next.signing_key_id = all[*i].id.clone(),
        Change::Options(f, r) => next.options = options(*f, *r),
        Change::Weak => next.keys.push(wit::SigningKey {
            id: "weak".into(),
            secret: vec![1; 16],
        }),
        _ => return None,
    }
    Some(next)
}

fn recorded(r: &mut wit::TokenRecord, change: &Change) {
    match change {
        Change::Revoke(_) => r.revoked = Some(NOW - 1),
        Change::Rotated(_) => {
            r.revoked = Some(NOW - 1);
            r.successor = Some("successor0000000".into());
        }
        Change::Expire(_) => r.expires = Some(NOW - 1),
        Change::Rescope(_, write) => {
            r.scopes = vec![
                if *write {
                    "write:issue"
                } else {
                    "read:repository"
                }
                .into(),
            ];
        }
        _ => {}
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// (issue 19) After every change of keys, options or records, the warm worker, a
    /// fresh instance of the live module and a fresh native core (both built from the
    /// configuration live at that moment) give the same answers, byte for byte.
    #[test]
    fn a_warm_authorizer_decides_as_a_fresh_one_after_any_change(
        changes in proptest::collection::vec(change(), 1..7),
    ) {
        let minted = TOKENS.with(Clone::clone);
        let secrets: Vec<String> = minted.iter().map(|(s, _)| s.clone()).collect();
        let mut w = world();
        for (_, r) in &minted {
            w.add_token(&convert::record_in(r.clone()));
        }
        let live = Arc::new(LivePolicy::from_module(
            module().clone(),
            config(&[0, 1, 2], 0, options(false, true)),
        ));
        let mut worker = Worker::new(live.clone());
        // Warm the worker (its cache learns every secret) before anything changes.
        let _ = answers(worker.policy().unwrap(), &w, &secrets);
        let mut records: Vec<wit::TokenRecord> = minted.iter().map(|(_, r)| r.clone()).collect();
        let mut applied = Vec::new();
        for change in &changes {
            if let Some(next) = reconfigured(&live.current().config, change) {
                let refused = live.swap_config(next).is_err();
                applied.push(format!("{change:?} refused: {refused}"));
            } else {
                let t = match change {
                    Change::Revoke(t) | Change::Rotated(t) | Change::Expire(t) | Change::Rescope(t, _) => *t,
                    _ => unreachable!(),
                };
                recorded(&mut records[t], change);
                w.put_token(TokenDef::from_record(&convert::record_in(records[t].clone())))
                    .unwrap();
                applied.push(format!("{change:?}"));
            }
            let live_config = live.current().config.clone();
            let warm = answers(worker.policy().unwrap(), &w, &secrets);
            let (_, mut fresh) = live.instance().unwrap();
            let fresh = answers(&mut fresh, &w, &secrets);
            let mut core = native(&live_config).unwrap();
            let core = answers(&mut core, &w, &secrets);
            prop_assert_eq!(&warm, &fresh, "warm vs fresh after {:?}", applied);
            prop_assert_eq!(&fresh, &core, "wasm vs native after {:?}", applied);
        }
    }
}

thread_local! {
    /// The three tokens, minted once per test thread.
    static TOKENS: Vec<(String, wit::TokenRecord)> = tokens();
}

/// The property can fail: a worker that kept its instance across a key retirement would
/// still accept the retired key's token, and a fresh one refuses it.
#[test]
fn a_stale_instance_would_be_caught() {
    let minted = tokens();
    let secrets: Vec<String> = minted.iter().map(|(s, _)| s.clone()).collect();
    let mut w = world();
    for (_, r) in &minted {
        w.add_token(&convert::record_in(r.clone()));
    }
    let mut stale = forge_authz_tests::wasm(&config(&[0, 1, 2], 0, options(false, true))).unwrap();
    let before = answers(&mut stale, &w, &secrets);
    let retired = config(&[0, 2], 0, options(false, true));
    let mut fresh = forge_authz_tests::wasm(&retired).unwrap();
    let after = answers(&mut fresh, &w, &secrets);
    assert_ne!(before, after, "retiring k2 changes what k2's token gets");
    assert_eq!(before, answers(&mut stale, &w, &secrets));
}
