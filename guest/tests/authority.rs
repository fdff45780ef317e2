//! Who may change a token, and which records may exist, as properties over generated
//! sequences of lifecycle operations (issue 19), native only, against
//! `forge_authz_guest::policy` alone: minting, children, rotation, edits, revocation and
//! audit repairs, each by a generated actor — the owner's session (active or not), a site
//! administrator's, another user's, an organisation's, a stored token (the owner's or
//! another's, live or not, with or without `user:token`, the target itself) or the
//! operator's maintenance job — with time passing between them. Every plan a call returns
//! is applied to the store as the host applies it (`forge-authz/src/lifecycle.rs`).
//!
//! The oracles are written from the rules as the README and the WIT state them
//! (`wit/lifecycle.wit`, `actor`), independently of `policy::authority`. `PROPTEST_CASES`
//! cases per property (default 10,000), each a sequence of up to 12 operations.
// Property tests: a broken generator or a failed property stops the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing)]

mod support;

use std::sync::LazyLock;

use forge_authz_guest::policy::scope::{BOUND_ALLOWED, Category, ScopeSet};
use forge_authz_guest::policy::{
    AccountStatus, Actor, AuditEntry, AuditFinding, AuditFix, Authorizer, ChangeContext,
    ChildRequest, IssueError, LifecycleError, Options, RevokeScope, RotateRequest, Timestamp,
    TokenEdit, TokenRecord,
};
use proptest::prelude::*;
use support::NOW;
use support::lifecycle::{
    Kind, Op, Step, Who, app, drive, facts, live, ops, rec, seeds, sequence, session,
};

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

// ---------------------------------------------------------------------------------------
// Oracles.

/// The rotation family of `id` (linked by predecessor and successor).
fn family(store: &[TokenRecord], id: &str) -> Vec<String> {
    let mut out = vec![id.to_string()];
    let mut i = 0;
    while i < out.len() && i <= store.len() {
        let cur = out[i].clone();
        for r in store {
            let linked = r.id == cur
                || r.predecessor.as_deref() == Some(cur.as_str())
                || r.successor.as_deref() == Some(cur.as_str());
            for other in [Some(&r.id), r.predecessor.as_ref(), r.successor.as_ref()]
                .into_iter()
                .flatten()
            {
                if linked && !out.contains(other) && store.iter().any(|x| &x.id == other) {
                    out.push(other.clone());
                }
            }
        }
        i += 1;
    }
    out
}

/// Whether `actor` may do `kind` to `target` (README "Who may do what to a token";
/// `wit/lifecycle.wit` `actor`).
fn may_act(
    actor: &Actor,
    kind: Kind,
    target: &TokenRecord,
    store: &[TokenRecord],
    now: Timestamp,
) -> bool {
    match actor {
        Actor::Session(a) => {
            (same(&a.name, &target.owner) || a.facts.site_admin)
                && a.facts.status == AccountStatus::Active
                && !a.facts.organization
        }
        Actor::Token(t) => {
            if !same(&t.owner, &target.owner) {
                return false;
            }
            let holds = ScopeSet::parse(&t.scopes).is_ok_and(|s| s.user_token);
            match kind {
                Kind::Revoke(_)
                    if t.id == target.id || family(store, &target.id).contains(&t.id) =>
                {
                    true
                }
                Kind::Child if t.id == target.id && live(t, now) => true,
                _ => live(t, now) && holds,
            }
        }
        Actor::System(_) => matches!(kind, Kind::Revoke(_)),
    }
}

/// Whether `actor` may apply audit repairs: a maintenance job, an active site
/// administrator's session (not an organisation).
fn may_repair(actor: &Actor) -> bool {
    match actor {
        Actor::System(_) => true,
        Actor::Session(a) => {
            a.facts.site_admin && a.facts.status == AccountStatus::Active && !a.facts.organization
        }
        Actor::Token(_) => false,
    }
}

/// Whether `actor` may mint for `owner` at all.
fn may_mint(actor: &Actor, owner: &str, now: Timestamp) -> bool {
    match actor {
        Actor::Session(a) => {
            (same(&a.name, owner) || a.facts.site_admin)
                && a.facts.status == AccountStatus::Active
                && !a.facts.organization
        }
        Actor::Token(t) => {
            same(&t.owner, owner)
                && live(t, now)
                && ScopeSet::parse(&t.scopes).is_ok_and(|s| s.user_token)
        }
        Actor::System(_) => false,
    }
}

fn bound(r: &TokenRecord) -> bool {
    !r.repositories.is_empty() || !r.owners.is_empty()
}

/// `r` within `over`: scopes, public-only, binding, expiry.
fn within(r: &TokenRecord, over: &TokenRecord) -> Result<(), String> {
    let rs = ScopeSet::parse(&r.scopes).map_err(|s| format!("unknown scope {s}"))?;
    let os = ScopeSet::parse(&over.scopes).map_err(|s| format!("over: unknown scope {s}"))?;
    if let Some(x) = rs.excess_over(&os) {
        return Err(format!("holds {x} beyond {}", over.id));
    }
    if bound(over) {
        let covered = |p: &String| {
            over.repositories.iter().any(|o| same(o, p))
                || over
                    .owners
                    .iter()
                    .any(|o| same(o, p.split('/').next().unwrap_or_default()))
        };
        if !bound(r)
            || !r.repositories.iter().all(covered)
            || !r
                .owners
                .iter()
                .all(|o| over.owners.iter().any(|x| same(x, o)))
        {
            return Err(format!("binding beyond {}", over.id));
        }
    }
    match (over.expires, r.expires) {
        (Some(_), None) => Err(format!("never expires, unlike {}", over.id)),
        (Some(o), Some(e)) if e > o => Err(format!("expires after {}", over.id)),
        _ => Ok(()),
    }
}

/// Every minting rule the record, its actor and its parent decide (README "Minting
/// rules"). `grants`: the operation gave the record something it did not hold, so the
/// actor must be able to grant it; `expiry`: the operation set the expiry (`Some(true)`:
/// every lifetime rule; `Some(false)`: a child's, the maximum only).
fn admissible(
    r: &TokenRecord,
    actor: &Actor,
    store: &[TokenRecord],
    options: &Options,
    now: Timestamp,
    grants: bool,
    expiry: Option<bool>,
) -> Result<(), String> {
    let set = ScopeSet::parse(&r.scopes).map_err(|s| format!("unknown scope {s}"))?;
    if !set.has_permission() {
        return Err("no permission scope".into());
    }
    if bound(r) {
        if set.public_only {
            return Err("bound and public-only".into());
        }
        if let Some(s) = r
            .scopes
            .iter()
            .find(|s| !BOUND_ALLOWED.contains(&s.as_str()))
        {
            return Err(format!("bound with {s}"));
        }
    }
    if let Some(pid) = &r.parent {
        let p = store
            .iter()
            .find(|p| &p.id == pid)
            .ok_or_else(|| format!("parent {pid} missing"))?;
        if !live(p, now) {
            return Err(format!("parent {pid} dead"));
        }
        within(r, p)?;
    }
    if grants {
        let admin = set.can_read(Category::Admin) && !set.is_all();
        match actor {
            Actor::Session(a) if admin && !a.facts.site_admin => {
                return Err("an admin scope granted by a non-administrator".into());
            }
            Actor::System(_) if admin => return Err("an admin scope granted by maintenance".into()),
            Actor::Token(t) if r.parent.as_deref() != Some(t.id.as_str()) => within(r, t)?,
            _ => {}
        }
    }
    if let Some(full) = expiry {
        match r.expires {
            None if full && options.require_expiry => return Err("no expiry".into()),
            None if !full => return Err("a child without expiry".into()),
            None => {}
            Some(e) if e <= now => return Err("expiry not in the future".into()),
            Some(e) if e - now > options.max_lifetime => {
                return Err("beyond the maximum lifetime".into());
            }
            Some(e) if full && e - now < options.min_lifetime => {
                return Err("below the minimum lifetime".into());
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Whether `new` holds something `old` did not (any scope, or a record that granted
/// nothing because a scope was unknown).
fn widens(new: &TokenRecord, old: Option<&TokenRecord>) -> bool {
    let Some(old) = old else { return true };
    match (ScopeSet::parse(&new.scopes), ScopeSet::parse(&old.scopes)) {
        (Ok(n), Ok(o)) => n.excess_over(&o).is_some(),
        _ => true,
    }
}

static PLAIN: LazyLock<Options> = LazyLock::new(Options::default);

/// Drive `seeds` then `ops` under `options`: the property holds when `check` passes after
/// every operation, else it fails with what failed and the operations that led there.
fn holds(
    options: Options,
    seeds: &[(Who, Op)],
    ops: &[(Who, Op)],
    check: impl FnMut(&Step, &[TokenRecord]) -> Result<(), String>,
) -> Result<(), TestCaseError> {
    let r = drive(options, seeds, ops, check);
    prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    Ok(())
}

proptest! {
    #![proptest_config(support::proptest_config())]

    /// 20 (issue 19). For every lifecycle operation — derive, rotate, edit, revoke, mint —
    /// and every actor that may not act on the token (neither the owner's active session
    /// nor an active site administrator's; a token of the owner only when live and
    /// holding `user:token`, save that a token may always revoke itself and its rotation
    /// family and derive its own children; a maintenance job only to revoke): the call is
    /// refused and returns nothing to write (so no record changes and no secret is
    /// given). A session of someone else is told `unknown-token`, as for a missing id.
    #[test]
    fn only_those_allowed_act_on_a_token((options, seeds, ops) in sequence()) {
        holds(options, &seeds, &ops, |step, _| {
            let allowed = match (step.kind, &step.target) {
                (Kind::Issue, _) => {
                    let owner = step.written.first().map(|(r, _)| r.owner.clone());
                    owner.is_none_or(|o| may_mint(&step.actor, &o, step.now))
                }
                (Kind::Audit, _) => may_repair(&step.actor),
                (Kind::Other, _) | (_, None) => true,
                (kind, Some(t)) => may_act(&step.actor, kind, t, &step.before, step.now),
            };
            if allowed {
                return Ok(());
            }
            if !step.written.is_empty() {
                return Err(format!("{:?} by {:?} wrote {:?}", step.kind, step.actor, step.written));
            }
            // The refusal says exactly what the rule says: someone who is not the owner's
            // (a stranger's session, another owner's token) is told the token does not
            // exist; the rest may not act.
            if let (Some(t), Kind::Child | Kind::Rotate | Kind::Edit | Kind::Revoke(_)) =
                (&step.target, step.kind)
            {
                let stranger = match &step.actor {
                    Actor::Session(a) => !same(&a.name, &t.owner) && !a.facts.site_admin,
                    Actor::Token(x) => !same(&x.owner, &t.owner),
                    Actor::System(_) => false,
                };
                let want = if stranger {
                    LifecycleError::UnknownToken(t.id.clone())
                } else {
                    LifecycleError::NotPermitted
                };
                let want = format!("{want:?}");
                if step.refused.as_deref() != Some(want.as_str()) {
                    return Err(format!(
                        "{:?} by {:?} was refused {:?}, not {want}",
                        step.kind, step.actor, step.refused
                    ));
                }
            }
            Ok(())
        })?;
    }

    /// 21 (issue 19). After every operation that changes a token — mint, child, rotation,
    /// edit, the narrowing of children after their parent changed, audit repairs — every
    /// live record it wrote satisfies every minting rule for the actor that wrote it:
    /// known scopes with a permission, a binding's scopes and no public-only with a
    /// binding, within a live parent (scopes, binding, expiry), within an acting token,
    /// no admin scope granted by a non-administrator or a maintenance job, and the
    /// lifetime rules for an expiry the operation set (a child's: the maximum only).
    #[test]
    fn every_written_record_is_one_its_actor_could_mint((options, seeds, ops) in sequence()) {
        holds(options, &seeds, &ops, |step, after| {
            for (w, expiry) in &step.written {
                if !live(w, step.now) {
                    continue;
                }
                let old = step.before.iter().find(|b| b.id == w.id);
                admissible(w, &step.actor, after, &options, step.now, widens(w, old), *expiry)
                    .map_err(|e| format!("{:?} by {:?} wrote {w:?}: {e}", step.kind, step.actor))?;
            }
            Ok(())
        })?;
    }

    /// 4. A child never exceeds its parent — in scopes (`ScopeSet::excess_over`), binding
    /// or expiry — and a live child has a live parent and some permission, after any
    /// sequence of lifecycle operations by any actor (mints by sessions and tokens,
    /// children, rotations and edits of parents or children, revocations of tokens or
    /// families, audit repairs, time passing).
    #[test]
    fn children_stay_within_their_parents(seeds in seeds(), ops in ops()) {
        holds(*PLAIN, &seeds, &ops, |step, after| {
            for c in after.iter().filter(|c| live(c, step.now)) {
                let Some(pid) = &c.parent else { continue };
                let p = after.iter().find(|p| &p.id == pid)
                    .ok_or_else(|| format!("live child {} has no parent record", c.id))?;
                if !live(p, step.now) {
                    return Err(format!("live child {c:?} of a dead parent {p:?}"));
                }
                // A legacy record planted by the test may hold an unknown scope: the
                // audit reports it; only parseable children are compared.
                if ScopeSet::parse(&c.scopes).is_ok() && ScopeSet::parse(&p.scopes).is_ok() {
                    within(c, p)?;
                    if !ScopeSet::parse(&c.scopes).unwrap().has_permission() {
                        return Err(format!("live child {c:?} holds no permission"));
                    }
                }
            }
            Ok(())
        })?;
    }
}

/// The oracle's family agrees with a hand-made chain, and its refusal of a stranger is
/// the policy's (`unknown-token`), so the properties above can fail.
#[test]
fn the_oracles_see_what_the_policy_refuses() {
    let mut a = support::mint(
        &app(),
        &support::TokenSpec {
            owner: 0,
            scopes: vec!["read:repository"],
            repositories: vec![],
            owners: vec![],
            child: false,
            expiry: support::Expiry::In(86_400),
            revoked: false,
            last_used: None,
            entropy: 3,
            legacy: false,
        },
    )
    .1;
    a.owner = "alice".into();
    let mut b = a.clone();
    b.id = "b".into();
    a.successor = Some("b".into());
    b.predecessor = Some(a.id.clone());
    let store = vec![a.clone(), b.clone()];
    assert_eq!(family(&store, "b"), vec!["b".to_string(), a.id.clone()]);
    let bob = session("bob", facts(AccountStatus::Active, false, false));
    assert!(!may_act(&bob, Kind::Edit, &b, &store, NOW));
    let ctx = ChangeContext {
        actor: bob,
        ip: None,
        now: NOW,
    };
    assert_eq!(
        support::AUTHZ.plan_revoke("b", RevokeScope::Token, &store, &ctx),
        Err(LifecycleError::UnknownToken("b".into()))
    );
    assert!(
        admissible(
            &TokenRecord {
                scopes: vec!["write:admin".into()],
                ..a
            },
            &alice_session(),
            &store,
            &PLAIN,
            NOW,
            true,
            None
        )
        .is_err()
    );
    let _ = IssueError::NameTaken;
}

/// The generated sequences are not vacuous: over a fixed sample, every kind of operation
/// is both written and refused, by sessions, tokens and the maintenance job alike, so the
/// properties above see both sides of every rule.
#[test]
fn the_generated_sequences_reach_every_outcome() {
    use proptest::strategy::ValueTree;
    use std::collections::BTreeSet;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = sequence();
    let mut seen: BTreeSet<(String, &'static str, bool)> = BTreeSet::new();
    for _ in 0..2_000 {
        let (options, seeds, ops) = strategy.new_tree(&mut runner).unwrap().current();
        drive(options, &seeds, &ops, |step, _| {
            let who = match &step.actor {
                Actor::Session(_) => "session",
                Actor::Token(_) => "token",
                Actor::System(_) => "system",
            };
            let kind = format!("{:?}", step.kind);
            seen.insert((kind, who, !step.written.is_empty()));
            Ok(())
        })
        .unwrap();
    }
    for kind in [
        "Issue",
        "Child",
        "Rotate",
        "Edit",
        "Revoke(false)",
        "Revoke(true)",
    ] {
        for who in ["session", "token"] {
            for written in [true, false] {
                assert!(
                    seen.contains(&(kind.to_string(), who, written)),
                    "never saw {kind} by a {who} {}: {seen:?}",
                    if written { "written" } else { "refused" }
                );
            }
        }
        assert!(
            seen.contains(&(kind.to_string(), "system", false)),
            "{kind} by the system"
        );
    }
    assert!(seen.contains(&("Revoke(false)".to_string(), "system", true)));
    assert!(seen.contains(&("Audit".to_string(), "system", true)));
}

// ---------------------------------------------------------------------------------------
// The observed behaviours of issue 19, one test each (natively; the differential test
// checks the component answers every lifecycle call alike, and forge-authz/tests/store.rs
// reproduces them through the CLI on SQLite and PostgreSQL).

const DAY: i64 = 86_400;

static AUTHZ: LazyLock<Authorizer> = LazyLock::new(|| {
    Authorizer::new(&forge_authz_guest::policy::Config {
        options: Options::default(),
        ..support::config(false)
    })
    .unwrap()
});

/// Mint for alice by her own session, expiring in `lifetime` seconds.
fn mint(scopes: &[&str], lifetime: i64, seed: u8) -> TokenRecord {
    let mut r = support::issue_request(
        &app(),
        "alice",
        scopes.iter().map(|s| s.to_string()).collect(),
        vec![],
        vec![],
        alice_session(),
        Some(NOW + lifetime),
    );
    r.name = format!("t{seed}");
    AUTHZ
        .issue(&r, Some(&support::entropy(seed)))
        .unwrap()
        .record
}

/// Alice's own session, active (the owner of the tokens here).
fn alice_session() -> Actor {
    session("alice", facts(AccountStatus::Active, false, false))
}

/// A revoked parent `id` holding `scopes`.
fn revoked_parent(id: &str, scopes: &[&str]) -> TokenRecord {
    TokenRecord {
        revoked: Some(NOW - 1),
        ..rec(id, None, Some(NOW + DAY), scopes)
    }
}

/// The maintenance job's audit of `entries`: every finding, and the repair of `id`.
fn repair_of(entries: &[AuditEntry], id: &str) -> (Vec<AuditFinding>, Option<AuditFix>) {
    let findings = AUTHZ.audit(entries, &acting(Actor::System("audit".into()), NOW));
    let fix = findings
        .iter()
        .find(|f| f.token_id == id && f.fix.is_some())
        .and_then(|f| f.fix.clone());
    (findings, fix)
}

fn acting(actor: Actor, now: Timestamp) -> ChangeContext {
    ChangeContext {
        actor,
        ip: Some("203.0.113.66".into()),
        now,
    }
}

/// The same answer from every lifecycle operation of [`every_operation`].
fn every(answer: Option<LifecycleError>) -> [Option<LifecycleError>; 4] {
    [answer.clone(), answer.clone(), answer.clone(), answer]
}

/// Every lifecycle operation on `target` (edit, rotate, derive, revoke) as `actor`: the
/// refusals, in that order (`None`: allowed).
fn every_operation(
    target: &TokenRecord,
    records: &[TokenRecord],
    actor: &Actor,
) -> [Option<LifecycleError>; 4] {
    let c = acting(actor.clone(), NOW + 10);
    let e = support::entropy(200);
    let edit = AUTHZ
        .plan_edit(
            &target.id,
            &TokenEdit {
                name: Some("renamed".into()),
                scopes: None,
                expires: None,
            },
            records,
            &c,
        )
        .err();
    let rotate = AUTHZ
        .rotate(
            &RotateRequest {
                old: target.clone(),
                expires: None,
                records: records.to_vec(),
                context: c.clone(),
            },
            Some(&e),
        )
        .err();
    let child = AUTHZ
        .derive_child(
            &ChildRequest {
                parent: target.clone(),
                scopes: vec!["read:repository".into()],
                lifetime: 3600,
                minimum_lifetime: None,
                existing_children: vec![],
                context: c.clone(),
            },
            Some(&e),
        )
        .err();
    let revoke = AUTHZ
        .plan_revoke(&target.id, RevokeScope::Token, records, &c)
        .err();
    [edit, rotate, child, revoke]
}

#[test]
fn only_the_owner_or_an_administrator_acts_on_a_token() {
    // issue 19 item 1: `token edit|rotate|child|revoke --actor eve -- ALICE_TOKEN` all
    // succeeded (eve got a working secret from the rotation). Rule: only the owner's
    // session or a site administrator (Gafaelfawr TokenService, seed 002; Gitea's
    // `DELETE /users/{username}/tokens/{id}`; GitLab's PAT API); anyone else is answered
    // as for a missing token, so ids cannot be probed.
    use AccountStatus::{Active, Inactive, Suspended};
    let t = mint(&["write:repository"], 30 * DAY, 1);
    let records = vec![t.clone()];
    let unknown = every(Some(LifecycleError::UnknownToken(t.id.clone())));
    let denied = Some(LifecycleError::NotPermitted);
    let refused = every(denied.clone());
    let allowed = every(None);
    for (name, f, want) in [
        // Strangers.
        ("eve", facts(Active, false, false), &unknown),
        ("acme", facts(Active, false, true), &unknown),
        ("EVE", facts(Suspended, false, false), &unknown),
        // An inactive owner, a suspended owner, an inactive administrator, an
        // organisation named as the owner.
        ("alice", facts(Inactive, false, false), &refused),
        ("ALICE", facts(Suspended, false, false), &refused),
        ("root", facts(Inactive, true, false), &refused),
        ("alice", facts(Active, false, true), &refused),
        // The owner (any case), an active administrator.
        ("alice", facts(Active, false, false), &allowed),
        ("ALICE", facts(Active, false, false), &allowed),
        ("root", facts(Active, true, false), &allowed),
    ] {
        let actor = session(name, f);
        assert_eq!(&every_operation(&t, &records, &actor), want, "{actor:?}");
    }
    // A maintenance job revokes; it never edits, rotates or derives.
    assert_eq!(
        every_operation(&t, &records, &Actor::System("ops".into())),
        [denied.clone(), denied.clone(), denied, None]
    );
}

#[test]
fn a_token_acts_for_its_owner_only_with_user_token_and_never_beyond_itself() {
    // issue 19 item 1 ("not with another token unless it holds the scope for it"):
    // Gafaelfawr's `user:token`; GitLab's self-revocation; a token derives its own
    // children (Gafaelfawr notebook/internal tokens).
    let t = mint(&["write:repository", "write:issue"], 30 * DAY, 2);
    let plain = mint(&["write:repository"], 30 * DAY, 3);
    // Expires later than the others: a successor (same lifetime from now) fits in it.
    let manager = mint(&["write:repository", "user:token"], 60 * DAY, 4);
    let records = vec![t.clone(), plain.clone(), manager.clone()];
    let denied = Some(LifecycleError::NotPermitted);
    // Without user:token: nothing on another token of the owner.
    assert_eq!(
        every_operation(&t, &records, &Actor::Token(plain.clone())),
        [
            denied.clone(),
            denied.clone(),
            denied.clone(),
            denied.clone()
        ]
    );
    // ... but it may revoke itself and derive its own children.
    let own = every_operation(&plain, &records, &Actor::Token(plain.clone()));
    assert_eq!(
        own[2..],
        [None, None],
        "self-derivation and self-revocation"
    );
    // Another owner's token, even with user:token: as a missing token.
    let mut bobs = manager.clone();
    bobs.owner = "bob".into();
    let unknown = Some(LifecycleError::UnknownToken(t.id.clone()));
    assert_eq!(
        every_operation(&t, &records, &Actor::Token(bobs)),
        [unknown.clone(), unknown.clone(), unknown.clone(), unknown]
    );
    // With user:token: acts, within itself. On `plain` (within the manager): all.
    let m = Actor::Token(manager.clone());
    assert_eq!(
        every_operation(&plain, &records, &m),
        [None, None, None, None]
    );
    // `t` holds write:issue, which the manager lacks: the edited record and the successor
    // would be records the manager could not mint; deriving a child within both, and
    // revoking, are fine.
    let beyond = Some(LifecycleError::Refused(IssueError::ExceedsCreator(
        "write:issue".into(),
    )));
    assert_eq!(
        every_operation(&t, &records, &m),
        [beyond.clone(), beyond, None, None]
    );
    let widen = AUTHZ
        .plan_edit(
            &plain.id,
            &TokenEdit {
                name: None,
                scopes: Some(vec!["write:repository".into(), "write:user".into()]),
                expires: None,
            },
            &records,
            &acting(m, NOW + 10),
        )
        .err();
    assert_eq!(
        widen,
        Some(LifecycleError::Refused(IssueError::ExceedsCreator(
            "write:user".into()
        )))
    );
    // A revoked acting token acts for nothing but its own family; an expired one likewise.
    let mut dead = manager.clone();
    dead.revoked = Some(NOW);
    assert_eq!(
        every_operation(&t, &records, &Actor::Token(dead))[0],
        denied
    );
    let mut expired = manager.clone();
    expired.expires = Some(NOW + 10);
    assert_eq!(
        every_operation(&t, &records, &Actor::Token(expired.clone())),
        [
            denied.clone(),
            denied.clone(),
            denied.clone(),
            denied.clone()
        ]
    );
    // ... and a dead token derives no children from itself.
    assert_eq!(
        every_operation(&expired, &records, &Actor::Token(expired.clone()))[2],
        denied
    );
    // A token of the family of a rotated token may revoke it (the leak response).
    let rotation = AUTHZ
        .rotate(
            &RotateRequest {
                old: plain.clone(),
                expires: None,
                records: records.clone(),
                context: acting(alice_session(), NOW),
            },
            Some(&support::entropy(9)),
        )
        .unwrap();
    let family = vec![rotation.old.clone(), rotation.new.record.clone()];
    let leaked = acting(Actor::Token(rotation.old.clone()), NOW + 20);
    assert!(
        AUTHZ
            .plan_revoke(
                &rotation.new.record.id,
                RevokeScope::Family,
                &family,
                &leaked
            )
            .is_ok(),
        "the old token revokes its successor's family"
    );
    assert_eq!(
        AUTHZ
            .plan_revoke(&t.id, RevokeScope::Token, &records, &leaked)
            .err(),
        denied,
        "but nothing outside its family"
    );
}

#[test]
fn every_rule_of_minting_holds_after_every_change() {
    // issue 19 item 2: alice (not an administrator) cannot mint write:admin, but `token
    // edit --scope write:admin,read:repository` on her token succeeded. One rule decides
    // whether a record may exist, created by this actor; every operation calls it.
    let alice = alice_session();
    let root = session("root", facts(AccountStatus::Active, true, false));
    let t = mint(&["read:repository"], 30 * DAY, 5);
    let records = vec![t.clone()];
    let edit_scopes = |actor: &Actor, scopes: &[&str]| {
        AUTHZ.plan_edit(
            &t.id,
            &TokenEdit {
                name: None,
                scopes: Some(scopes.iter().map(|s| s.to_string()).collect()),
                expires: None,
            },
            &records,
            &acting(actor.clone(), NOW + 10),
        )
    };
    for (scopes, refused) in [
        (&["write:admin", "read:repository"][..], "write:admin"),
        (&["read:admin"][..], "read:admin"),
    ] {
        assert_eq!(
            edit_scopes(&alice, scopes).err(),
            Some(LifecycleError::Refused(IssueError::ScopeNotGrantable(
                refused.into()
            )))
        );
    }
    // A site administrator may grant it (as at minting).
    let by_root = edit_scopes(&root, &["write:admin", "read:repository"]).unwrap();
    let granted = by_root.updates.last().unwrap().clone();
    assert_eq!(granted.scopes, vec!["write:admin", "read:repository"]);
    // ... and the owner cannot renew it by rotation: the successor is a new record she
    // could not mint.
    assert_eq!(
        AUTHZ
            .rotate(
                &RotateRequest {
                    old: granted.clone(),
                    expires: None,
                    records: vec![granted.clone()],
                    context: acting(alice.clone(), NOW + 20),
                },
                Some(&support::entropy(10)),
            )
            .err(),
        Some(LifecycleError::Refused(IssueError::ScopeNotGrantable(
            "write:admin".into()
        )))
    );
    // The lifetime rules hold for an expiry an edit sets, and for children.
    let long = AUTHZ
        .plan_edit(
            &t.id,
            &TokenEdit {
                name: None,
                scopes: None,
                expires: Some(Some(NOW + 400 * DAY)),
            },
            &records,
            &acting(alice.clone(), NOW + 10),
        )
        .err();
    assert_eq!(
        long,
        Some(LifecycleError::Refused(IssueError::LifetimeTooLong(
            Options::default().max_lifetime
        )))
    );
    let mut forever = t.clone();
    forever.expires = None;
    let child = AUTHZ
        .derive_child(
            &ChildRequest {
                parent: forever,
                scopes: vec!["read:repository".into()],
                lifetime: 400 * DAY,
                minimum_lifetime: None,
                existing_children: vec![],
                context: acting(alice, NOW + 10),
            },
            Some(&support::entropy(11)),
        )
        .err();
    assert_eq!(
        child,
        Some(LifecycleError::Refused(IssueError::LifetimeTooLong(
            Options::default().max_lifetime
        ))),
        "a child beyond the maximum lifetime"
    );
    // ... and exactly the maximum is a lifetime a child may have.
    let mut forever = t.clone();
    forever.expires = None;
    let at_max = AUTHZ.derive_child(
        &ChildRequest {
            parent: forever,
            scopes: vec!["read:repository".into()],
            lifetime: Options::default().max_lifetime,
            minimum_lifetime: None,
            existing_children: vec![],
            context: acting(alice_session(), NOW + 10),
        },
        Some(&support::entropy(14)),
    );
    assert!(at_max.is_ok(), "{at_max:?}");
    // A maintenance job mints nothing.
    let mut r = support::issue_request(
        &app(),
        "alice",
        vec!["read:repository".into()],
        vec![],
        vec![],
        Actor::System("ops".into()),
        Some(NOW + DAY),
    );
    r.name = "by-ops".into();
    assert_eq!(
        AUTHZ.issue(&r, Some(&support::entropy(12))).err(),
        Some(IssueError::CreatorNotAllowed)
    );
}

#[test]
fn audit_repairs_are_records_that_may_exist() {
    // issue 19 (settled): `audit --fix` rewrote a child's or a bound token's legacy scopes
    // without the parent and binding rules. A repair is a record like any other.
    let parent = rec("p", None, Some(NOW + DAY), &["read:repository"]);
    let child = rec("c", Some("p"), Some(NOW + DAY), &["repo"]);
    let mut bound = rec("b", None, Some(NOW + DAY), &["repo", "admin:org"]);
    bound.repositories = vec!["alice/app".into()];
    let mut owner_bound = rec("o", None, Some(NOW + DAY), &["public_repo"]);
    owner_bound.owners = vec!["alice".into()];
    let sudo = rec("s", None, Some(NOW + DAY), &["sudo"]);
    let revoked_parent = revoked_parent("rp", &["write:repository"]);
    let orphaned = rec("oc", Some("rp"), Some(NOW + DAY), &["repo"]);
    let gone = rec("gc", Some("nowhere"), Some(NOW + DAY), &["repo"]);
    let entries: Vec<AuditEntry> = [
        parent,
        child,
        bound,
        owner_bound,
        sudo,
        revoked_parent,
        orphaned,
        gone,
    ]
    .into_iter()
    .map(|record| AuditEntry {
        record,
        expiry_recorded: false,
    })
    .collect();
    let system = acting(Actor::System("audit".into()), NOW);
    let findings = AUTHZ.audit(&entries, &system);
    let repaired = |id: &str| {
        // The last repair of the record: they build on each other.
        findings
            .iter()
            .rev()
            .filter(|f| f.token_id == id)
            .find_map(|f| match &f.fix {
                Some(AuditFix::Update(r)) => Some(r.clone()),
                _ => None,
            })
    };
    // `repo` migrates to write:repository; the child keeps only what its parent holds; a
    // binding only what a binding allows (no public-only); `sudo` (write:admin) is nobody's
    // to grant in a maintenance job: left to the operator. A child of a revoked parent
    // stays revoked; a child of a parent not in the store is revoked, not migrated.
    let scopes = |id: &str| repaired(id).map(|r| r.scopes);
    assert_eq!(scopes("c"), Some(vec!["read:repository".to_string()]));
    assert_eq!(scopes("b"), Some(vec!["write:repository".to_string()]));
    assert_eq!(scopes("o"), Some(vec!["write:repository".to_string()]));
    assert_eq!(repaired("s"), None);
    assert!(
        repaired("oc").is_some_and(|r| r.revoked.is_some()),
        "{findings:?}"
    );
    assert!(
        repaired("gc").is_some_and(|r| r.revoked.is_some()),
        "{findings:?}"
    );
    // An administrator repairs as the maintenance job does (and may grant admin scopes).
    let root = acting(
        session("root", facts(AccountStatus::Active, true, false)),
        NOW,
    );
    let by_root = AUTHZ.audit(&entries, &root);
    assert!(by_root.iter().any(|f| f.token_id == "s" && f.fix.is_some()));
    // Anyone else sees the findings without repairs: the owner, an inactive administrator,
    // an organisation, a token (even with user:token).
    for who in [
        alice_session(),
        session("root", facts(AccountStatus::Inactive, true, false)),
        session("root", facts(AccountStatus::Active, true, true)),
        Actor::Token(rec("m", None, Some(NOW + DAY), &["all", "user:token"])),
    ] {
        let seen = AUTHZ.audit(&entries, &acting(who.clone(), NOW));
        for f in &findings {
            assert!(
                seen.iter().any(|g| g.token_id == f.token_id),
                "{who:?} is not told about {}",
                f.token_id
            );
        }
        assert!(
            seen.iter().all(|f| f.fix.is_none() && f.event.is_none()),
            "{who:?}: {seen:?}"
        );
    }
}

#[test]
fn owner_bindings_are_no_existence_oracle() {
    // issue 19 (settled): owner bindings are not checked at mint. Checking them would be an
    // oracle (a missing owner refused, a private one not, or the reverse); not checking is
    // safe, because a bound token reaches only what its owner can reach, and a binding to
    // an owner that does not exist (yet) reaches nothing the owner could not. Minting for a
    // missing owner and for a private organisation the owner cannot see answer alike.
    let mint_for = |owner: &str| {
        let mut r = support::issue_request(
            &app(),
            "alice",
            vec!["read:repository".into()],
            vec![],
            vec![owner.into()],
            alice_session(),
            Some(NOW + DAY),
        );
        r.name = "bound".into();
        AUTHZ.issue(&r, Some(&support::entropy(13))).map(|t| {
            let mut rec = t.record;
            rec.owners = vec![];
            rec
        })
    };
    let missing = mint_for("ghost");
    assert!(missing.is_ok());
    assert_eq!(missing, mint_for("corp"), "the same answer");
}

#[test]
fn a_binding_refuses_scopes_by_the_name_they_were_asked_by() {
    // issue 19 item 2, and reference §1.14: an owner-bound token (no repository listed)
    // edited to a scope a binding refuses is refused naming the scope as sent (`api`, not
    // its normal form `all`), as at minting.
    let mut owner_bound = mint(&["read:repository"], DAY, 20);
    owner_bound.owners = vec!["alice".into()];
    let refused = AUTHZ
        .plan_edit(
            &owner_bound.id,
            &TokenEdit {
                name: None,
                scopes: Some(vec!["api".into()]),
                expires: None,
            },
            std::slice::from_ref(&owner_bound),
            &acting(alice_session(), NOW),
        )
        .err();
    assert_eq!(
        refused,
        Some(LifecycleError::Refused(
            IssueError::ScopeNotAllowedWhenBound("api".into())
        ))
    );
}

#[test]
fn narrowing_a_parent_leaves_children_within_it_untouched() {
    // Gafaelfawr (seed 002): changing a parent cascades only to the children it must cut.
    // A child already within its parent, even with scopes stored in another spelling, is
    // neither rewritten nor given a history event.
    let parent = rec(
        "p",
        None,
        Some(NOW + 2 * DAY),
        &["write:repository", "read:issue"],
    );
    let child = rec(
        "c",
        Some("p"),
        Some(NOW + DAY),
        &["read:repository", "read_repository"],
    );
    let plan = AUTHZ
        .plan_edit(
            "p",
            &TokenEdit {
                name: None,
                scopes: None,
                expires: Some(Some(NOW + 3 * DAY)),
            },
            &[parent, child],
            &acting(alice_session(), NOW),
        )
        .unwrap();
    assert_eq!(
        plan.updates
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        ["p"],
        "{plan:?}"
    );
    assert_eq!(plan.events.len(), 1);
}

#[test]
fn a_revoked_record_is_repaired_whatever_it_held() {
    // A legacy child of a revoked parent is repaired by its revocation; its migrated scopes
    // (here `sudo`, an admin scope nobody grants in a maintenance job) grant nothing on a
    // revoked record, so the repair stands.
    let parent = revoked_parent("p", &["all"]);
    let child = rec("c", Some("p"), Some(NOW + DAY), &["sudo"]);
    let entries: Vec<AuditEntry> = [parent, child]
        .into_iter()
        .map(|record| AuditEntry {
            record,
            expiry_recorded: false,
        })
        .collect();
    let (findings, fix) = repair_of(&entries, "c");
    match fix {
        Some(AuditFix::Update(r)) => {
            assert!(r.revoked.is_some(), "{r:?}");
            assert_eq!(r.scopes, vec!["write:admin".to_string()]);
        }
        other => panic!("no repair of the legacy child: {other:?} in {findings:?}"),
    }
}

#[test]
fn a_child_of_a_dead_parent_is_refused_before_anything_else_is_checked() {
    // Gafaelfawr (seed 002): a child whose parent is revoked, expired or missing is dead
    // too; an edit of it is refused as such first, whatever else is wrong with the edit.
    let parent = revoked_parent("p", &["write:repository"]);
    let child = rec("c", Some("p"), Some(NOW + DAY), &["read:repository"]);
    let sibling = rec("s", None, Some(NOW + DAY), &["read:repository"]);
    let records = [parent, child, sibling];
    let refused = AUTHZ
        .plan_edit(
            "c",
            &TokenEdit {
                name: Some("s".into()),
                scopes: None,
                expires: None,
            },
            &records,
            &acting(alice_session(), NOW),
        )
        .err();
    assert_eq!(
        refused,
        Some(LifecycleError::Refused(IssueError::CreatorNotLive))
    );
}

#[test]
fn an_expired_record_is_migrated_whatever_it_held() {
    // An expired record grants nothing (Gafaelfawr, seed 002: expiry ends a token), so the
    // maintenance job migrates its legacy scopes even where it could not grant them: the
    // record stays expired, and stays dead.
    let expired = rec("e", None, Some(NOW - 1), &["sudo"]);
    let entries = [AuditEntry {
        record: expired,
        expiry_recorded: true,
    }];
    let (findings, fix) = repair_of(&entries, "e");
    match fix {
        Some(AuditFix::Update(r)) => {
            assert_eq!(r.expires, Some(NOW - 1), "{r:?}");
            assert_eq!(r.scopes, vec!["write:admin".to_string()]);
        }
        other => panic!("no migration of the expired record: {other:?} in {findings:?}"),
    }
}
