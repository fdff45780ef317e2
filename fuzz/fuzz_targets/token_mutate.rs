//! `token_mutate`: a genuine token (minted with `Authorizer::issue`, fixed entropy) with
//! fuzzer-chosen byte edits. A forged or altered token is never accepted: any edit that
//! changes the string makes `verify` fail, and `decide` (given the genuine record, the
//! owner's facts and a repository the genuine token may pull) deny — unless the edits
//! produced the very same string, which must then still be accepted.
//!
//! Input (decoded by hand, so seeds are easy to write):
//! - byte 0: bits 0-1 which genuine token (4: k1 and k2 keys, bound and unbound), bit 2
//!   recompute the CRC-32 field after the edits (the checksum is not keyed: any forger
//!   can fix it, so the edit reaches the HMAC check), bits 3-4 where the token is sent
//!   (Bearer; Basic password; Basic username with an empty password; Basic username
//!   with the password `x-oauth-basic`);
//! - then triples `(op, position, value)`, see `forge_authz_fuzz::apply_edit`
//!   (replace, replace with an alphabet character, xor, insert, delete, truncate, swap,
//!   case change); at most 64.
#![no_main]

use std::sync::LazyLock;

use forge_authz_fuzz::{
    Genuine, NOW, active_user, edited, genuine_tokens, private_repository, two_key_authorizer,
};
use forge_authz_guest::policy::{
    Authorizer, Credential, GitAction, GitRequest, Input, Options, Request, Role, Transport,
};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    auth: Authorizer,
    tokens: Vec<(Genuine, Input)>,
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
    let tokens = genuine_tokens()
        .into_iter()
        .map(|g| {
            // A repository this genuine token may pull: bound tokens' own, and a public
            // one for the public-only token (so an invalid token must not fall back to
            // anonymous either).
            let owner = g.record.owner.clone();
            let mut repo = match g.record.repositories.first() {
                Some(path) => {
                    let (o, n) = path.split_once('/').expect("owner/name");
                    private_repository(o, n, Role::Admin)
                }
                None => private_repository(&owner, "secret", Role::Admin),
            };
            if g.record.scopes.iter().any(|s| s == "public-only") {
                repo.private = false;
            }
            let input = Input {
                credential: Credential::Bearer(g.secret.clone()),
                also_presented: Vec::new(),
                token: Some(g.record.clone()),
                user: Some(active_user(&owner, g.owner.site_admin)),
                repository: Some(repo.clone()),
                namespace: None,
                sudo: None,
                request: Request::Git(GitRequest {
                    transport: Transport::Http,
                    repository: format!("{}/{}", repo.owner, repo.name),
                    action: GitAction::Pull,
                    refs: Vec::new(),
                }),
                now: NOW,
                explain: false,
            };
            for slot in 0..4 {
                let i = Input {
                    credential: credential(slot, &g.secret),
                    ..input.clone()
                };
                let d = auth.decide(&i);
                assert!(d.allow, "fixture: genuine token not granted: {d:?}");
            }
            (g, input)
        })
        .collect();
    Fixture { auth, tokens }
});

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let fx = &*FIXTURE;
    let (genuine, base) = &fx.tokens[usize::from(head & 3) % fx.tokens.len()];
    let fix = head & 4 != 0;
    let slot = (head >> 3) & 3;
    let edits: Vec<[u8; 3]> = rest
        .chunks_exact(3)
        .take(64)
        .map(|c| [c[0], c[1], c[2]])
        .collect();
    let candidate = edited(&genuine.secret, &edits, fix);
    let cred = credential(slot, &candidate);

    let verified = fx.auth.verify(&cred);
    let input = Input {
        credential: cred,
        ..base.clone()
    };
    let d = fx.auth.decide(&input);
    assert_eq!(d.allow, d.status == forge_authz_guest::policy::Status::Ok);

    if candidate == genuine.secret {
        let v = verified.expect("the unchanged genuine token verifies");
        assert_eq!(v.map(|v| v.token_id), Some(genuine.record.id.clone()));
        assert!(d.allow, "the unchanged genuine token was refused: {d:?}");
    } else {
        assert!(
            !matches!(verified, Ok(Some(_))),
            "an altered token verified (slot {slot}, fix_crc {fix})"
        );
        assert!(
            !d.allow,
            "an altered token was granted: {:?} (slot {slot}, fix_crc {fix})",
            d.reason
        );
    }
});
