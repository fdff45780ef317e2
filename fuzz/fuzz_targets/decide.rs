//! `decide`: a whole `policy::Input` built from fuzzer bytes (the `Arbitrary` mirrors in
//! `forge_authz_fuzz::mirror`: every request kind — git with ref updates, create, API
//! with every optional target, sudo —, every credential kind, optional token record,
//! user, repository, namespace and sudo facts), through `decide`, `decide_batch` and
//! `ref_permissions`.
//!
//! Invariants (never may fail):
//! 1. no panic (overflow checks are on: an overflow is a panic too);
//! 2. every decision has `allow == (status == Ok)`;
//! 3. a strictly anonymous request (no credential, no token anywhere) is never allowed a
//!    git push (single and batch), and gets no ref permission;
//! 4. a presented token that `verify` refuses never gets an allow (unless the record's
//!    hash is that of the very string presented: a store only hashes genuine tokens);
//! 5. an allow through a token means a live record for it: same token id, hash matching,
//!    not revoked, not expired, and facts of its active, non-organisation owner;
//! 6. an allowed push with ref updates allows at least one ref (a push whose every ref is
//!    refused is denied);
//! 7. `decide_batch` gives one decision per target, each exactly the decision of a single
//!    `decide` for that target (trace aside); a non-git batch denies them all;
//! 8. `ref_permissions` answers each asked ref, in order, without duplicates.
#![no_main]

use std::sync::LazyLock;

use forge_authz_fuzz::mirror::FDecide;
use forge_authz_fuzz::{
    Genuine, effective_secret, genuine_tokens, strictly_anonymous, two_key_authorizer,
};
use forge_authz_guest::policy::token::hash_matches;
use forge_authz_guest::policy::{
    self, AccountStatus, Authorizer, Credential, Decision, GitAction, Input, Options, Request,
    Status,
};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    strict: Authorizer,
    fallback: Authorizer,
    genuine: Vec<Genuine>,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| Fixture {
    strict: two_key_authorizer("k1", Options::default()),
    fallback: two_key_authorizer(
        "k1",
        Options {
            binding_fallback_to_anonymous: true,
            ..Options::default()
        },
    ),
    genuine: genuine_tokens(),
});

fn is_push(input: &Input) -> bool {
    matches!(&input.request, Request::Git(g) if g.action == GitAction::Push)
}

/// Invariants 2-6 for one decision of `input`.
fn check(auth: &Authorizer, input: &Input, d: &Decision) {
    assert_eq!(
        d.allow,
        d.status == Status::Ok,
        "allow/status mismatch: {d:?}"
    );
    if !d.allow {
        return;
    }
    assert!(
        !(strictly_anonymous(input) && is_push(input)),
        "anonymous push allowed: {d:?}"
    );
    if let Some(secret) = effective_secret(input) {
        let record_binds = input
            .token
            .as_ref()
            .is_some_and(|r| hash_matches(secret, &r.secret_hash));
        let verified = auth.verify(&Credential::Bearer(secret.to_string()));
        assert!(
            record_binds || matches!(verified, Ok(Some(_))),
            "a token that does not verify was allowed: {verified:?} {d:?}"
        );
        let record = input
            .token
            .as_ref()
            .expect("allowed token without a record");
        let parsed = policy::inspect(secret).expect("allowed token does not parse");
        assert_eq!(
            record.id, parsed.token_id,
            "allowed with another token's record"
        );
        assert!(
            record_binds,
            "allowed with a record whose hash does not match"
        );
        assert!(record.revoked.is_none(), "revoked token allowed");
        assert!(
            record.expires.is_none_or(|e| e > input.now),
            "expired token allowed"
        );
        let user = input
            .user
            .as_ref()
            .expect("allowed token without user facts");
        assert!(
            user.name.eq_ignore_ascii_case(&record.owner),
            "user is not the owner"
        );
        assert_eq!(user.status, AccountStatus::Active, "inactive owner allowed");
        assert!(!user.organization, "organisation token allowed");
    }
    if let Request::Git(g) = &input.request
        && g.action == GitAction::Push
        && !g.refs.is_empty()
    {
        assert!(
            d.refs.iter().any(|r| r.allow),
            "push allowed with every ref refused: {d:?}"
        );
    }
}

/// The fields a batch decision must share with the single decision (the trace differs:
/// the batch's `request` step names the batch).
fn essence(d: &Decision) -> impl PartialEq + std::fmt::Debug + '_ {
    (
        d.allow, d.status, d.reason, &d.message, &d.detail, &d.refs, &d.effects,
    )
}

fuzz_target!(|f: FDecide| {
    let fx = &*FIXTURE;
    let auth = if f.fallback { &fx.fallback } else { &fx.strict };
    let input = f.input(&fx.genuine);

    let d = auth.decide(&input);
    check(auth, &input, &d);

    // Batch: one decision per target, each the single decision.
    let targets = f.batch();
    let batch = auth.decide_batch(&input, &targets);
    assert_eq!(batch.len(), targets.len(), "batch answer count");
    for (t, bd) in targets.iter().zip(&batch) {
        assert_eq!(
            bd.allow,
            bd.status == Status::Ok,
            "batch allow/status: {bd:?}"
        );
        match &input.request {
            Request::Git(g) => {
                let mut g = g.clone();
                g.repository = t.repository.clone();
                let single = Input {
                    request: Request::Git(g),
                    repository: t.facts.clone(),
                    ..input.clone()
                };
                let sd = auth.decide(&single);
                check(auth, &single, &sd);
                check(auth, &single, bd);
                assert_eq!(
                    essence(bd),
                    essence(&sd),
                    "batch decision differs from the single decision for {}",
                    t.repository
                );
            }
            _ => assert!(!bd.allow, "a non-git batch allowed something"),
        }
    }

    // ref_permissions: one answer per ref, in order.
    let names = f.ref_names();
    let perms = auth.ref_permissions(&input, &names);
    assert_eq!(perms.len(), names.len(), "ref_permissions answer count");
    for (n, p) in names.iter().zip(&perms) {
        assert_eq!(&p.name, n, "ref_permissions order");
        for (i, a) in p.permissions.iter().enumerate() {
            assert!(!p.permissions[..i].contains(a), "duplicate permission");
        }
        if strictly_anonymous(&input) {
            assert!(p.permissions.is_empty(), "anonymous ref permission: {p:?}");
        }
    }
});
