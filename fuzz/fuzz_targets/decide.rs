//! `decide`: a whole `AuthorizeRequest` and the world that answers its fact queries, built
//! from fuzzer bytes (the `Arbitrary` mirrors in `forge_authz_fuzz::mirror`: every request
//! kind — git with ref updates, create, API with every optional target, sudo —, every
//! credential kind, token records, accounts, repositories and namespaces with per-viewer
//! roles), through `authorize`, `authorize_batch` and `ref_permissions`, on a fresh
//! `Authorizer` and on one `Engine` (authorizer and token cache) that sees every call of
//! the execution, also after the store changed between calls.
//!
//! Invariants (never may fail):
//! 1. no panic (overflow checks are on: an overflow is a panic too);
//! 2. every decision has `allow() == (status() == Ok)`, a refusal (and a refused ref)
//!    always has a message, and per-ref verdicts come only with a push, one per update;
//! 3. a strictly anonymous request (no credential, no token anywhere) is never allowed a
//!    git push (single and batch), and gets no ref permission — whatever roles the world
//!    wrongly tells an anonymous viewer;
//! 4. the facts are asked exactly once per `authorize` unless it was refused before any
//!    fact (`request-invalid`, `conflicting-credentials`, `token-invalid`: never), and the
//!    query is the one the contract describes (`forge_authz_fuzz::expected_query`); in
//!    particular a token that `verify` refuses is never looked up, and never allowed;
//! 5. an allow through a token means a live record for it in the world: same token id,
//!    digest binding the presented secret, not revoked, not expired, and an active,
//!    non-organisation owner; an allow through a session or an SSH user key means an
//!    active, non-organisation account;
//! 6. an allowed push with ref updates allows at least one ref;
//! 7. an allowed `sudo` means an active, non-organisation target and a site administrator
//!    behind the credential;
//! 8. `authorize_batch` gives one decision per repository, each exactly the decision of a
//!    single `authorize` for it (the trace's first step aside); it asks `lookup` at most
//!    once (the query of the credential, no repository) and `repositories` at most once,
//!    after it, for exactly the well-formed paths in order, as the acting user;
//! 9. `ref_permissions` answers each asked ref, in order, asks the facts at most once,
//!    lists nothing when a push without updates is refused, and (for the first 8 refs)
//!    lists a permission exactly when a push of that one update would be allowed with
//!    that update granted;
//! 10. the `Engine` gives exactly what a fresh `Authorizer` gives (decisions, traces,
//!     queries) for every call, its cache warm or cold, including after the stored record
//!     of a cached token was changed, revoked, removed or replaced.
#![no_main]

use std::cell::RefCell;
use std::sync::LazyLock;

use forge_authz_fuzz::mirror::FDecide;
use forge_authz_fuzz::world::{Call, Query, World};
use forge_authz_fuzz::{
    Genuine, digest_binds, effective_secret, expected_query, genuine_tokens, strictly_anonymous,
    two_key_authorizer, two_key_engine,
};
use forge_authz_guest::policy::principal::valid_repository_path;
use forge_authz_guest::policy::{
    AccountStatus, AuthorizeRequest, Authorizer, BatchRequest, Credential, Decision, Engine,
    GitAction, GitRequest, KeyKind, Options, Reason, RefChange, RefPermissionsRequest, RefUpdate,
    Request, Status,
};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    strict: Authorizer,
    fallback: Authorizer,
    /// Engines whose caches hold the four genuine tokens.
    strict_warm: Engine,
    fallback_warm: Engine,
    genuine: Vec<Genuine>,
}

fn options(fallback: bool) -> Options {
    Options {
        binding_fallback_to_anonymous: fallback,
        ..Options::default()
    }
}

fn warm(mut e: Engine, genuine: &[Genuine]) -> Engine {
    for g in genuine {
        e.verify(&Credential::Bearer(g.secret.clone()))
            .expect("genuine verifies");
    }
    e
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let genuine = genuine_tokens();
    Fixture {
        strict: two_key_authorizer("k1", options(false)),
        fallback: two_key_authorizer("k1", options(true)),
        strict_warm: warm(two_key_engine("k1", options(false)), &genuine),
        fallback_warm: warm(two_key_engine("k1", options(true)), &genuine),
        genuine,
    }
});

fn is_push(request: &AuthorizeRequest) -> bool {
    matches!(&request.request, Request::Git(g) if g.action == GitAction::Push)
}

fn ok_account(world: &World, name: &str) -> bool {
    world
        .user(name)
        .is_some_and(|u| u.status == AccountStatus::Active && !u.organization)
}

/// A secret's verified token id (`Err`: it does not verify).
type VerifiedId = Result<Option<String>, ()>;

thread_local! {
    /// `verified_id` answers of this execution, by secret (one HMAC per secret).
    static VERIFIED: RefCell<Vec<(String, VerifiedId)>> =
        const { RefCell::new(Vec::new()) };
}

/// The verified token id of the presented secret, if any (`Err`: a secret that does not
/// verify), by the fresh authorizer's `verify`.
fn verified_id(auth: &Authorizer, request: &AuthorizeRequest) -> VerifiedId {
    let Some(secret) = effective_secret(request) else {
        return Ok(None);
    };
    VERIFIED.with_borrow_mut(|memo| {
        if let Some((_, v)) = memo.iter().find(|(s, _)| s == secret) {
            return v.clone();
        }
        let v = match auth.verify(&Credential::Bearer(secret.to_string())) {
            Ok(Some(v)) => Ok(Some(v.token_id)),
            _ => Err(()),
        };
        memo.push((secret.to_string(), v.clone()));
        v
    })
}

/// Invariants 2, 3, 5, 6, 7 for decision `d` of `request` in `world`.
fn check_decision(auth: &Authorizer, request: &AuthorizeRequest, world: &World, d: &Decision) {
    assert_eq!(d.allow(), d.status() == Status::Ok);
    assert!(
        d.allow() || d.message.is_some(),
        "refusal without a message: {d:?}"
    );
    if let Some(refs) = &d.refs {
        let Request::Git(g) = &request.request else {
            panic!("ref verdicts on a non-git request: {d:?}");
        };
        assert_eq!(g.action, GitAction::Push, "ref verdicts on a pull: {d:?}");
        assert_eq!(
            refs.len(),
            g.refs.len(),
            "one verdict per ref update: {d:?}"
        );
        for v in refs {
            assert!(
                v.allow() || v.message.is_some(),
                "refused ref without a message"
            );
        }
    }
    if !d.allow() {
        return;
    }
    assert!(
        !(strictly_anonymous(request) && is_push(request)),
        "anonymous push allowed: {d:?}"
    );
    let acting: Option<String> = if let Some(secret) = effective_secret(request) {
        let Ok(Some(id)) = verified_id(auth, request) else {
            panic!("a token that does not verify was allowed: {d:?}");
        };
        let record = world.record(&id).expect("allowed token without a record");
        assert!(
            digest_binds(secret, &record.secret),
            "allowed with a record whose digest does not bind the secret"
        );
        assert!(record.revoked.is_none(), "revoked token allowed");
        assert!(
            record.expires.is_none_or(|e| e > request.now),
            "expired token allowed"
        );
        assert!(
            ok_account(world, &record.owner),
            "token of an inactive, missing or organisation owner allowed"
        );
        Some(record.owner.clone())
    } else {
        match &request.credential {
            Credential::Session(name) => {
                assert!(ok_account(world, name), "session of a bad account allowed");
                Some(name.clone())
            }
            Credential::SshKey(k) if k.kind == KeyKind::User => {
                assert!(ok_account(world, &k.owner), "key of a bad account allowed");
                Some(k.owner.clone())
            }
            _ => None,
        }
    };
    if let Request::Git(g) = &request.request
        && g.action == GitAction::Push
        && !g.refs.is_empty()
    {
        assert!(
            d.refs.iter().flatten().any(|r| r.allow()),
            "push allowed with every ref refused: {d:?}"
        );
    }
    if let Request::Api(a) = &request.request
        && let Some(target) = &a.sudo
    {
        assert!(ok_account(world, target), "sudo to a bad account allowed");
        let admin = acting
            .as_deref()
            .and_then(|n| world.user(n))
            .is_some_and(|u| u.site_admin);
        assert!(admin, "sudo allowed to a non-administrator: {d:?}");
    }
}

/// Invariant 4: what one `authorize` (or `ref_permissions`, whose push is `request`)
/// asked the world.
fn check_calls(auth: &Authorizer, request: &AuthorizeRequest, d: &Decision, calls: &[Call]) {
    let lookups = World::lookups(calls);
    assert_eq!(
        lookups.len(),
        calls.len(),
        "repositories asked outside a batch"
    );
    let before_facts = matches!(
        d.reason,
        Reason::RequestInvalid | Reason::ConflictingCredentials | Reason::TokenInvalid
    );
    assert_eq!(
        lookups.len(),
        usize::from(!before_facts),
        "lookup count for {:?}",
        d.reason
    );
    let verified = verified_id(auth, request);
    if let Some(q) = lookups.first() {
        let id = verified.as_ref().unwrap_or_else(|()| {
            panic!("the store was asked about a token that does not verify: {q:?}")
        });
        assert_eq!(**q, expected_query(request, id.as_deref()), "fact query");
    } else if d.reason == Reason::TokenInvalid {
        assert!(verified.is_err(), "token-invalid for a genuine token");
    }
    if verified.is_err() {
        assert!(!d.allow(), "a token that does not verify was allowed");
        assert!(
            lookups.is_empty(),
            "a token that does not verify was looked up"
        );
    }
}

/// One `authorize` on the fresh authorizer and on the engine, in clones of `world`:
/// invariants 2-7 and 10. Returns the decision.
fn authorize(
    auth: &Authorizer,
    engine: &mut Engine,
    request: &AuthorizeRequest,
    world: &mut World,
) -> Decision {
    let (d, calls) = on_both(
        world,
        |w| auth.authorize(request, w),
        |w| engine.authorize(request, w),
    );
    check_decision(auth, request, world, &d);
    check_calls(auth, request, &d, &calls);
    d
}

/// Invariant 10 for one call: `fresh` (on the fresh authorizer), then `engine` (on the
/// engine), each in `world`, give the same answer and ask the same. Returns the answer and
/// what it asked. A failure names the caller's line (the call that differs).
#[track_caller]
fn on_both<T: PartialEq + std::fmt::Debug>(
    world: &mut World,
    fresh: impl FnOnce(&mut World) -> T,
    engine: impl FnOnce(&mut World) -> T,
) -> (T, Vec<Call>) {
    world.take_log();
    let answer = fresh(world);
    let calls = world.take_log();
    assert_eq!(engine(world), answer, "the engine answered otherwise");
    assert_eq!(world.take_log(), calls, "the engine asked otherwise");
    (answer, calls)
}

/// The fields a batch decision shares with the single decision.
fn essence(d: &Decision) -> impl PartialEq + std::fmt::Debug + '_ {
    (d.reason, &d.message, &d.detail, &d.refs, &d.effects)
}

/// The single request a batch stands for at `path`.
fn single_of(batch: &BatchRequest, path: &str) -> AuthorizeRequest {
    AuthorizeRequest {
        client_address: batch.client_address.clone(),
        credential: batch.credential.clone(),
        also_presented: batch.also_presented.clone(),
        request: Request::Git(GitRequest {
            transport: batch.transport,
            repository: path.to_string(),
            action: batch.action,
            refs: Vec::new(),
        }),
        now: batch.now,
        explain: batch.explain,
    }
}

/// Invariants 8 and 10 for the batch.
fn batch(auth: &Authorizer, engine: &mut Engine, b: &BatchRequest, world: &mut World) {
    let (ds, calls) = on_both(
        world,
        |w| auth.authorize_batch(b, w),
        |w| engine.authorize_batch(b, w),
    );
    assert_eq!(ds.len(), b.repositories.len(), "batch answer count");

    // What it asked.
    let as_single = single_of(b, "");
    let lookups = World::lookups(&calls);
    assert!(
        lookups.len() <= 1,
        "batch looked up {} times",
        lookups.len()
    );
    let mut viewer = None;
    if let Some(q) = lookups.first() {
        assert_eq!(
            calls.first(),
            Some(&Call::Lookup((*q).clone())),
            "lookup first"
        );
        let id = verified_id(auth, &as_single)
            .unwrap_or_else(|()| panic!("batch looked up a token that does not verify"));
        let expected = Query {
            repository: None,
            ..expected_query(&as_single, id.as_deref())
        };
        assert_eq!(**q, expected, "batch fact query");
        viewer = match id {
            Some(id) => world.record(&id).map(|r| r.owner.clone()),
            None => expected.account.clone(),
        };
    } else {
        assert!(calls.is_empty(), "repositories asked without a lookup");
    }
    let asked: Vec<_> = calls
        .iter()
        .filter_map(|c| match c {
            Call::Repositories { paths, viewer } => Some((paths, viewer)),
            Call::Lookup(_) => None,
        })
        .collect();
    assert!(asked.len() <= 1, "repositories asked {} times", asked.len());
    if let Some((paths, v)) = asked.first() {
        let valid: Vec<String> = b
            .repositories
            .iter()
            .filter(|p| valid_repository_path(p))
            .cloned()
            .collect();
        assert_eq!(**paths, valid, "batch asked for other paths");
        assert_eq!(**v, viewer, "batch asked as another viewer");
    }

    // Each decision is the single one.
    for (path, bd) in b.repositories.iter().zip(&ds) {
        let single = single_of(b, path);
        check_decision(auth, &single, world, bd);
        let sd = auth.authorize(&single, world);
        assert_eq!(
            essence(bd),
            essence(&sd),
            "batch decision differs from the single decision for {path}"
        );
        if valid_repository_path(path) {
            let steps = |d: &Decision| d.trace.as_ref().map(|t| t[1..].to_vec());
            assert_eq!(steps(bd), steps(&sd), "batch trace differs for {path}");
        }
        if strictly_anonymous(&single) && b.action == GitAction::Push {
            assert!(!bd.allow(), "anonymous batch push allowed");
        }
    }
}

/// Invariants 9 and 10 for `ref_permissions`.
fn ref_permissions(
    auth: &Authorizer,
    engine: &mut Engine,
    r: &RefPermissionsRequest,
    world: &mut World,
) {
    let (perms, calls) = on_both(
        world,
        |w| auth.ref_permissions(r, w),
        |w| engine.ref_permissions(r, w),
    );
    assert_eq!(
        perms.refs.len(),
        r.refs.len(),
        "ref_permissions answer count"
    );
    let lookups = World::lookups(&calls);
    assert_eq!(
        lookups.len(),
        calls.len(),
        "ref_permissions asked for repositories"
    );
    assert!(
        lookups.len() <= 1,
        "ref_permissions looked up {} times",
        lookups.len()
    );
    if let Some(q) = lookups.first() {
        let all = r.push(Vec::new());
        let id = verified_id(auth, &all)
            .unwrap_or_else(|()| panic!("ref_permissions looked up a token that does not verify"));
        assert_eq!(
            **q,
            expected_query(&all, id.as_deref()),
            "ref_permissions query"
        );
    }
    let anonymous = strictly_anonymous(&r.push(Vec::new()));
    // A push without updates is refused exactly when a refusal comes before the refs:
    // then no update is ever granted (every permission empty, one probe checks it);
    // otherwise each probe of the first 8 refs is checked.
    let may_push = auth.authorize(&r.push(Vec::new()), world).allow();
    let probed = if may_push { 8 } else { 1 };
    for (i, (name, p)) in r.refs.iter().zip(&perms.refs).enumerate() {
        if anonymous || !may_push {
            assert!(
                !(p.create || p.push || p.force_push),
                "ref permission without the right to push (anonymous: {anonymous}): {p:?}"
            );
        }
        if i >= probed {
            continue;
        }
        for (change, force, listed) in [
            (RefChange::Create, false, p.create),
            (RefChange::Update, false, p.push),
            (RefChange::Update, true, p.force_push),
        ] {
            let one = r.push(vec![RefUpdate {
                name: name.clone(),
                change,
                force,
            }]);
            let d = auth.authorize(&one, world);
            let granted = d.allow() && d.refs.as_ref().is_some_and(|v| v[0].allow());
            assert_eq!(
                listed, granted,
                "ref permission {change:?} force={force} on {name} disagrees with the push: {d:?}"
            );
        }
    }
}

fuzz_target!(|f: FDecide| {
    let fx = &*FIXTURE;
    VERIFIED.with_borrow_mut(Vec::clear);
    let (auth, mut engine) = match (f.fallback, f.cold_engine) {
        (false, false) => (&fx.strict, fx.strict_warm.clone()),
        (true, false) => (&fx.fallback, fx.fallback_warm.clone()),
        (false, true) => (&fx.strict, two_key_engine("k1", options(false))),
        (true, true) => (&fx.fallback, two_key_engine("k1", options(true))),
    };
    let mut case = f.case(&fx.genuine);

    // The engine finds and verifies the token as the authorizer does.
    assert_eq!(
        engine.verify(&case.request.credential),
        auth.verify(&case.request.credential),
        "engine verify differs"
    );

    authorize(auth, &mut engine, &case.request, &mut case.world);
    batch(auth, &mut engine, &case.batch, &mut case.world);
    ref_permissions(auth, &mut engine, &case.refs, &mut case.world);
    // The same engine after the store changed (and maybe with another credential).
    for (request, world) in &mut case.again {
        authorize(auth, &mut engine, request, world);
    }
});
