//! `token_mutate`: a genuine token (minted with `Authorizer::issue`, fixed entropy) with
//! fuzzer-chosen byte edits. A forged or altered token is never accepted: any edit that
//! changes the string makes `verify` fail, and `authorize` (in a world holding the
//! genuine record, its active owner and a repository the genuine token may pull) refuse
//! it as `token-invalid` without asking the world anything — unless the edits produced the
//! very same string, which must then still be accepted, after exactly one lookup of the
//! genuine token id. An `Engine` whose cache holds the genuine token answers every call
//! exactly as the fresh `Authorizer` does.
//!
//! Input (decoded by hand, so seeds are easy to write):
//! - byte 0: bits 0-1 which genuine token (4: k1 and k2 keys, bound and unbound), bit 2
//!   recompute the CRC-32 field after the edits (the checksum is not keyed: any forger
//!   can fix it, so the edit reaches the HMAC check), bits 3-4 where the token is sent
//!   (Bearer; Basic password; Basic username with an empty password; Basic username
//!   with the password `x-oauth-basic`), bit 5 the store holds a record from before
//!   contract 0.4 (SHA-256 of the secret) instead of the HMAC tag;
//! - then triples `(op, position, value)`, see `forge_authz_fuzz::apply_edit`
//!   (replace, replace with an alphabet character, xor, insert, delete, truncate, swap,
//!   case change); at most 64.
#![no_main]

use std::sync::LazyLock;

use forge_authz_fuzz::world::{Call, World};
use forge_authz_fuzz::{
    Genuine, edited, expected_query, genuine_tokens, genuine_world, private_repository, pull,
    two_key_authorizer, two_key_engine,
};
use forge_authz_guest::policy::token::secret_hash;
use forge_authz_guest::policy::{
    AuthorizeRequest, Authorizer, Credential, Engine, Options, Reason, Role, SecretDigest,
};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    auth: Authorizer,
    /// Its cache holds the four genuine tokens.
    engine: Engine,
    /// Each genuine token, the pull it may do, and its world (HMAC-tag record, SHA-256
    /// record).
    tokens: Vec<(Genuine, AuthorizeRequest, [World; 2])>,
}

fn credential(slot: u8, secret: &str) -> Credential {
    match slot % 4 {
        0 => Credential::Bearer(secret.to_string()),
        1 => Credential::Basic {
            username: "x-access-token".into(),
            password: secret.to_string(),
        },
        2 => Credential::Basic {
            username: secret.to_string(),
            password: String::new(),
        },
        _ => Credential::Basic {
            username: secret.to_string(),
            password: "x-oauth-basic".into(),
        },
    }
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let auth = two_key_authorizer("k1", Options::default());
    let mut engine = two_key_engine("k1", Options::default());
    let tokens = genuine_tokens()
        .into_iter()
        .map(|g| {
            engine
                .verify(&Credential::Bearer(g.secret.clone()))
                .expect("genuine verifies");
            // A repository this genuine token may pull: bound tokens' own, and a public
            // one for the public-only token (so an invalid token must not fall back to
            // anonymous either).
            let owner = g.record.owner.clone();
            let path = g
                .record
                .repositories
                .first()
                .cloned()
                .unwrap_or_else(|| format!("{owner}/secret"));
            let mut repo = private_repository(&owner, Role::Admin);
            if g.record.scopes.iter().any(|s| s == "public-only") {
                repo.private = false;
            }
            let world = genuine_world(&g, &path, repo);
            let mut legacy = world.clone();
            legacy.records[0].secret = SecretDigest::Sha256(secret_hash(&g.secret));
            let request = pull(Credential::Bearer(g.secret.clone()), &path);
            for w in [&world, &legacy] {
                for slot in 0..4 {
                    let r = AuthorizeRequest {
                        credential: credential(slot, &g.secret),
                        ..request.clone()
                    };
                    let d = auth.authorize(&r, &mut w.clone());
                    assert!(d.allow(), "fixture: genuine token not granted: {d:?}");
                }
            }
            (g, request, [world, legacy])
        })
        .collect();
    Fixture {
        auth,
        engine,
        tokens,
    }
});

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let fx = &*FIXTURE;
    let (genuine, base, worlds) = &fx.tokens[usize::from(head & 3) % fx.tokens.len()];
    let fix = head & 4 != 0;
    let slot = (head >> 3) & 3;
    let world = &worlds[usize::from(head & 0x20 != 0)];
    let edits: Vec<[u8; 3]> = rest
        .chunks_exact(3)
        .take(64)
        .map(|c| [c[0], c[1], c[2]])
        .collect();
    let candidate = edited(&genuine.secret, &edits, fix);
    let cred = credential(slot, &candidate);
    let mut engine = fx.engine.clone();

    let verified = fx.auth.verify(&cred);
    assert_eq!(
        engine.verify(&cred),
        verified,
        "the engine verified otherwise"
    );
    let request = AuthorizeRequest {
        credential: cred,
        ..base.clone()
    };
    let mut w = world.clone();
    let d = fx.auth.authorize(&request, &mut w);
    let calls = w.take_log();
    assert_eq!(
        d.allow(),
        d.status() == forge_authz_guest::policy::Status::Ok
    );
    // Twice through the engine: a cache miss (or hit) first, then whatever it remembered.
    for _ in 0..2 {
        let mut we = world.clone();
        assert_eq!(
            engine.authorize(&request, &mut we),
            d,
            "the engine decided otherwise"
        );
        assert_eq!(we.take_log(), calls, "the engine asked otherwise");
    }

    if candidate == genuine.secret {
        let v = verified.expect("the unchanged genuine token verifies");
        assert_eq!(v.map(|v| v.token_id), Some(genuine.record.id.clone()));
        assert!(d.allow(), "the unchanged genuine token was refused: {d:?}");
        assert_eq!(
            calls,
            vec![Call::Lookup(expected_query(
                &request,
                Some(&genuine.record.id)
            ))],
            "the genuine token's facts"
        );
    } else {
        assert!(
            !matches!(verified, Ok(Some(_))),
            "an altered token verified (slot {slot}, fix_crc {fix})"
        );
        assert_eq!(
            d.reason,
            Reason::TokenInvalid,
            "an altered token was not refused as invalid: {d:?} (slot {slot}, fix_crc {fix})"
        );
        assert!(
            calls.is_empty(),
            "an altered token reached the store: {calls:?} (slot {slot}, fix_crc {fix})"
        );
    }
});
