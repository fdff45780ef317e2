//! Who may change a token, and which records may exist, as properties over generated
//! sequences of lifecycle operations (issue 19), native only, against
//! `forge_authz_guest::policy` alone: minting, children, rotation, edits, revocation and
//! audit repairs, each by a generated actor — the owner's session (active or not), a site
//! administrator's, another user's, an organisation's, a stored token (the owner's or
//! another's, live or not, with or without `user:token`, the target itself) or the
//! operator's maintenance job — with time passing between them. Every plan a call returns
//! is applied to the store as the host applies it (`host-harness/src/lifecycle.rs`).
//!
//! The oracles are written from the rules as the README and the WIT state them
//! (`wit/lifecycle.wit`, `actor`), independently of `policy::authority`. `PROPTEST_CASES`
//! cases per property (default 10,000), each a sequence of up to 12 operations.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "property tests: a broken generator or a failed property stops the test loudly"
)]

mod support;

use std::sync::LazyLock;

use forge_authz_guest::policy::scope::{BOUND_ALLOWED, Category, ScopeSet};
use forge_authz_guest::policy::{
    AccountStatus, Actor, AuditEntry, AuditFix, Authorizer, ChangeContext, ChildOutcome,
    ChildRequest, IssueError, LifecycleError, Options, RevokeScope, RotateRequest, Timestamp,
    TokenEdit, TokenRecord, UserFacts, Visibility,
};
use proptest::prelude::*;
use proptest::sample::select;
use support::{NOW, REPOSITORY_SCOPES, Repo, VOCABULARY, World, config, entropy, issue_request};

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn live(r: &TokenRecord, now: Timestamp) -> bool {
    r.revoked.is_none() && r.expires.is_none_or(|e| e > now)
}

// ---------------------------------------------------------------------------------------
// Generated sequences.

/// Who acts.
#[derive(Clone, Copy, Debug)]
enum Who {
    /// Alice (the owner of most tokens), in this state.
    Owner(AccountStatus),
    /// Root, a site administrator, in this state.
    Admin(AccountStatus),
    /// Bob, an active user who owns nothing here but his own tokens.
    Stranger,
    /// Acme, an organisation.
    Organisation,
    /// A stored token (index modulo the store).
    Token(usize),
    /// The operator's maintenance job.
    System,
}

/// One operation on the store (indices modulo the store's size).
#[derive(Clone, Debug)]
enum Op {
    /// Mint for `bob` (else alice) with these scopes, bound to alice/app or not.
    Issue {
        for_bob: bool,
        scopes: Vec<&'static str>,
        lifetime: Option<i64>,
        bound: bool,
    },
    Child {
        parent: usize,
        scopes: Vec<&'static str>,
        lifetime: i64,
    },
    Rotate {
        token: usize,
        expires: Option<i64>,
    },
    Edit {
        token: usize,
        name: bool,
        scopes: Option<Vec<&'static str>>,
        expires: Option<Option<i64>>,
    },
    Revoke {
        token: usize,
        family: bool,
    },
    /// `audit --fix`: every repair applied in order.
    Audit,
    /// A record the store holds from before (a legacy scope, as `import` may bring).
    Legacy {
        token: usize,
        scopes: Vec<&'static str>,
    },
    /// Let time pass.
    Advance(i64),
}

/// Scopes an operation asks for: the repository ones mostly, any of the vocabulary (admin
/// scopes and `user:token` included) often.
fn op_scopes() -> impl Strategy<Value = Vec<&'static str>> {
    proptest::collection::vec(
        prop_oneof![
            3 => select(REPOSITORY_SCOPES.to_vec()),
            2 => select(VOCABULARY.to_vec()),
            1 => select(vec!["user:token", "write:admin", "read:admin", "all"]),
        ],
        1..4,
    )
}

fn lifetime() -> impl Strategy<Value = i64> {
    prop_oneof![60i64..600, 600i64..86_400, 86_400i64..40_000_000]
}

fn who() -> impl Strategy<Value = Who> {
    let status = prop_oneof![
        6 => Just(AccountStatus::Active),
        1 => Just(AccountStatus::Inactive),
        1 => Just(AccountStatus::Suspended),
    ];
    prop_oneof![
        6 => status.clone().prop_map(Who::Owner),
        2 => status.prop_map(Who::Admin),
        2 => Just(Who::Stranger),
        1 => Just(Who::Organisation),
        4 => any::<usize>().prop_map(Who::Token),
        1 => Just(Who::System),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (
            proptest::bool::weighted(0.2),
            op_scopes(),
            proptest::option::weighted(0.85, lifetime()),
            proptest::bool::weighted(0.2),
        )
            .prop_map(|(for_bob, scopes, lifetime, bound)| Op::Issue { for_bob, scopes, lifetime, bound }),
        3 => (any::<usize>(), op_scopes(), lifetime())
            .prop_map(|(parent, scopes, lifetime)| Op::Child { parent, scopes, lifetime }),
        2 => (any::<usize>(), proptest::option::of(lifetime()))
            .prop_map(|(token, expires)| Op::Rotate { token, expires }),
        3 => (
            any::<usize>(),
            any::<bool>(),
            proptest::option::of(op_scopes()),
            proptest::option::of(proptest::option::weighted(0.85, lifetime())),
        )
            .prop_map(|(token, name, scopes, expires)| Op::Edit { token, name, scopes, expires }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(token, family)| Op::Revoke { token, family }),
        1 => Just(Op::Audit),
        1 => (any::<usize>(), proptest::collection::vec(select(vec!["repo", "sudo", "admin:org", "public_repo", "write:repository"]), 1..3))
            .prop_map(|(token, scopes)| Op::Legacy { token, scopes }),
        1 => prop_oneof![1i64..600, 600i64..100_000].prop_map(Op::Advance),
    ]
}

/// Policy options drawn per sequence.
fn options() -> impl Strategy<Value = Options> {
    (any::<bool>(), 3_600i64..40_000_000, 0i64..3_600).prop_map(
        |(require_expiry, max_lifetime, min_lifetime)| Options {
            binding_fallback_to_anonymous: false,
            require_expiry,
            max_lifetime,
            min_lifetime,
        },
    )
}

// ---------------------------------------------------------------------------------------
// The driver: the store, the operations, what each returned.

fn facts(status: AccountStatus, site_admin: bool, organization: bool) -> UserFacts {
    UserFacts {
        status,
        site_admin,
        visibility: Visibility::Public,
        organization,
    }
}

fn session(name: &str, facts: UserFacts) -> Actor {
    support::session_creator(name, facts)
}

/// What one step did.
#[derive(Debug)]
struct Step {
    /// The actor as given to the policy.
    actor: Actor,
    /// The token acted on (none for a mint, an audit, or an empty store).
    target: Option<TokenRecord>,
    /// Which operation, for the authority oracle.
    kind: Kind,
    /// The store before.
    before: Vec<TokenRecord>,
    /// The records written (none when refused), with whether the operation set each
    /// one's expiry (and how: `Some(true)` the full lifetime rules, `Some(false)` a
    /// child's).
    written: Vec<(TokenRecord, Option<bool>)>,
    /// The refusal, if any.
    refused: Option<String>,
    now: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Issue,
    Child,
    Rotate,
    Edit,
    Revoke(bool),
    Audit,
    Other,
}

fn app() -> World {
    World {
        accounts: vec![],
        repos: vec![Repo {
            owner: "alice",
            name: "app",
            private: false,
            kind: forge_authz_guest::policy::RepositoryKind::Hosted,
            archived: false,
            collaborators: vec![],
            protected_refs: vec![],
            registrant: None,
        }],
        tokens: vec![],
    }
}

fn put(store: &mut Vec<TokenRecord>, records: impl IntoIterator<Item = TokenRecord>) {
    for r in records {
        match store.iter_mut().find(|x| x.id == r.id) {
            Some(x) => *x = r,
            None => store.push(r),
        }
    }
}

/// Run a sequence, calling `check` after every step (with the store after it).
fn drive(
    options: Options,
    seed_ops: &[(Who, Op)],
    ops: &[(Who, Op)],
    mut check: impl FnMut(&Step, &[TokenRecord]) -> Result<(), String>,
) -> Result<(), String> {
    let authz = Authorizer::new(&forge_authz_guest::policy::Config {
        options,
        ..config(false)
    })
    .unwrap();
    let world = app();
    let mut store: Vec<TokenRecord> = Vec::new();
    let mut now = NOW;
    let mut seed: u8 = 0;
    let mut log: Vec<String> = Vec::new();
    for (i, (who, op)) in seed_ops.iter().chain(ops).enumerate() {
        seed = seed.wrapping_add(1);
        let e = entropy(seed);
        let pick = |k: usize| store.get(k % store.len().max(1)).cloned();
        let actor = match who {
            Who::Owner(s) => session("alice", facts(*s, false, false)),
            Who::Admin(s) => session("root", facts(*s, true, false)),
            Who::Stranger => session("bob", facts(AccountStatus::Active, false, false)),
            Who::Organisation => session("acme", facts(AccountStatus::Active, false, true)),
            Who::Token(k) => match pick(*k) {
                Some(t) => Actor::Token(t),
                None => Actor::System("nobody-yet".into()),
            },
            Who::System => Actor::System("ops".into()),
        };
        let ctx = ChangeContext {
            actor: actor.clone(),
            ip: None,
            now,
        };
        let mut step = Step {
            actor: actor.clone(),
            target: None,
            kind: Kind::Other,
            before: store.clone(),
            written: Vec::new(),
            refused: None,
            now,
        };
        let names: Vec<String> = store
            .iter()
            .filter(|r| live(r, now))
            .map(|r| r.name.clone())
            .collect();
        match op {
            Op::Issue {
                for_bob,
                scopes,
                lifetime,
                bound,
            } => {
                step.kind = Kind::Issue;
                let owner = if *for_bob { "bob" } else { "alice" };
                let mut r = issue_request(
                    &world,
                    owner,
                    scopes.iter().map(|s| s.to_string()).collect(),
                    if *bound {
                        vec!["alice/app".into()]
                    } else {
                        vec![]
                    },
                    vec![],
                    actor.clone(),
                    lifetime.map(|l| now + l),
                );
                r.now = now;
                r.name = format!("t{i}");
                r.existing_names = names;
                match authz.issue(&r, Some(&e)) {
                    Ok(t) => step.written.push((t.record, Some(true))),
                    Err(e) => step.refused = Some(format!("{e:?}")),
                }
            }
            Op::Child {
                parent,
                scopes,
                lifetime,
            } => {
                step.kind = Kind::Child;
                if let Some(parent) = pick(*parent) {
                    step.target = Some(parent.clone());
                    let request = ChildRequest {
                        existing_children: store
                            .iter()
                            .filter(|r| r.parent.as_deref() == Some(parent.id.as_str()))
                            .cloned()
                            .collect(),
                        parent,
                        scopes: scopes.iter().map(|s| s.to_string()).collect(),
                        lifetime: *lifetime,
                        minimum_lifetime: None,
                        context: ctx.clone(),
                    };
                    match authz.derive_child(&request, Some(&e)) {
                        Ok(ChildOutcome::Minted(t)) => step.written.push((t.record, Some(false))),
                        Ok(ChildOutcome::Reuse(_)) => {}
                        Err(e) => step.refused = Some(format!("{e:?}")),
                    }
                }
            }
            Op::Rotate { token, expires } => {
                step.kind = Kind::Rotate;
                if let Some(old) = pick(*token) {
                    step.target = Some(old.clone());
                    let request = RotateRequest {
                        old,
                        expires: expires.map(|x| now + x),
                        records: store.clone(),
                        context: ctx.clone(),
                    };
                    match authz.rotate(&request, Some(&e)) {
                        Ok(rot) => {
                            // A child's successor is a child: it expires with its parent
                            // (the child's lifetime rule, the maximum only).
                            let rule = Some(rot.new.record.parent.is_none());
                            step.written.push((rot.new.record, rule));
                            step.written.push((rot.old, None));
                            step.written
                                .extend(rot.revoked_children.into_iter().map(|r| (r, None)));
                        }
                        Err(e) => step.refused = Some(format!("{e:?}")),
                    }
                }
            }
            Op::Edit {
                token,
                name,
                scopes,
                expires,
            } => {
                step.kind = Kind::Edit;
                if let Some(t) = pick(*token) {
                    step.target = Some(t.clone());
                    let edit = TokenEdit {
                        name: name.then(|| format!("renamed{i}")),
                        scopes: scopes
                            .as_ref()
                            .map(|s| s.iter().map(|x| x.to_string()).collect()),
                        expires: expires.map(|x| x.map(|l| now + l)),
                    };
                    match authz.plan_edit(&t.id, &edit, &store, &ctx) {
                        Ok(plan) => {
                            let set = expires.is_some();
                            step.written.extend(plan.updates.into_iter().map(|r| {
                                let edited = r.id == t.id;
                                (r, (edited && set).then_some(true))
                            }));
                        }
                        Err(e) => step.refused = Some(format!("{e:?}")),
                    }
                }
            }
            Op::Revoke { token, family } => {
                step.kind = Kind::Revoke(*family);
                if let Some(t) = pick(*token) {
                    step.target = Some(t.clone());
                    let scope = if *family {
                        RevokeScope::Family
                    } else {
                        RevokeScope::Token
                    };
                    match authz.plan_revoke(&t.id, scope, &store, &ctx) {
                        Ok(plan) => step
                            .written
                            .extend(plan.updates.into_iter().map(|r| (r, None))),
                        Err(e) => step.refused = Some(format!("{e:?}")),
                    }
                }
            }
            Op::Audit => {
                step.kind = Kind::Audit;
                let entries: Vec<AuditEntry> = store
                    .iter()
                    .map(|r| AuditEntry {
                        record: r.clone(),
                        expiry_recorded: false,
                    })
                    .collect();
                for f in authz.audit(&entries, &ctx) {
                    if let Some(AuditFix::Update(r)) = f.fix {
                        step.written.push((r, None));
                    }
                }
            }
            Op::Legacy { token, scopes } => {
                // Only on a record with no parent and no children: a store's legacy record
                // predates child tokens.
                if let Some(mut t) = pick(*token)
                    && t.parent.is_none()
                    && !store
                        .iter()
                        .any(|c| c.parent.as_deref() == Some(t.id.as_str()))
                {
                    t.scopes = scopes.iter().map(|s| s.to_string()).collect();
                    put(&mut store, [t]);
                }
            }
            Op::Advance(s) => now += s,
        }
        put(&mut store, step.written.iter().map(|(r, _)| r.clone()));
        log.push(format!(
            "{who:?} {op:?} => {}",
            step.refused.clone().unwrap_or_else(|| format!(
                "wrote {:?}",
                step.written.iter().map(|(r, _)| r).collect::<Vec<_>>()
            ))
        ));
        if i >= seed_ops.len() {
            check(&step, &store).map_err(|e| format!("{e}\nafter:\n{}", log.join("\n")))?;
        }
    }
    Ok(())
}

/// A few tokens to act on: minted by alice's session (an administrator's for admin
/// scopes), some with `user:token`, one of bob's.
fn seeds() -> impl Strategy<Value = Vec<(Who, Op)>> {
    proptest::collection::vec(
        (
            prop_oneof![4 => Just(Who::Owner(AccountStatus::Active)), 1 => Just(Who::Admin(AccountStatus::Active))],
            any::<bool>(),
            op_scopes(),
            any::<bool>(),
            proptest::option::weighted(0.9, lifetime()),
        )
            .prop_map(|(who, for_bob, mut scopes, user_token, lifetime)| {
                if user_token {
                    scopes.push("user:token");
                }
                (
                    who,
                    Op::Issue {
                        for_bob: for_bob && matches!(who, Who::Admin(_)),
                        scopes,
                        lifetime,
                        bound: false,
                    },
                )
            }),
        1..4,
    )
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
    fn only_those_allowed_act_on_a_token(
        options in options(),
        seeds in seeds(),
        ops in proptest::collection::vec((who(), op()), 1..12),
    ) {
        let r = drive(options, &seeds, &ops, |step, _| {
            let allowed = match (step.kind, &step.target) {
                (Kind::Issue, _) => {
                    let owner = step.written.first().map(|(r, _)| r.owner.clone());
                    owner.is_none_or(|o| may_mint(&step.actor, &o, step.now))
                }
                (Kind::Audit | Kind::Other, _) | (_, None) => true,
                (kind, Some(t)) => may_act(&step.actor, kind, t, &step.before, step.now),
            };
            if allowed {
                return Ok(());
            }
            if !step.written.is_empty() {
                return Err(format!("{:?} by {:?} wrote {:?}", step.kind, step.actor, step.written));
            }
            if let (Actor::Session(a), Some(t), Kind::Child | Kind::Rotate | Kind::Edit | Kind::Revoke(_)) =
                (&step.actor, &step.target, step.kind)
                && !same(&a.name, &t.owner)
                && !a.facts.site_admin
            {
                let concealed = format!("{:?}", LifecycleError::UnknownToken(t.id.clone()));
                if step.refused.as_deref() != Some(concealed.as_str()) {
                    return Err(format!("a stranger was told {:?}, not {concealed}", step.refused));
                }
            }
            Ok(())
        });
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }

    /// 21 (issue 19). After every operation that changes a token — mint, child, rotation,
    /// edit, the narrowing of children after their parent changed, audit repairs — every
    /// live record it wrote satisfies every minting rule for the actor that wrote it:
    /// known scopes with a permission, a binding's scopes and no public-only with a
    /// binding, within a live parent (scopes, binding, expiry), within an acting token,
    /// no admin scope granted by a non-administrator or a maintenance job, and the
    /// lifetime rules for an expiry the operation set (a child's: the maximum only).
    #[test]
    fn every_written_record_is_one_its_actor_could_mint(
        options in options(),
        seeds in seeds(),
        ops in proptest::collection::vec((who(), op()), 1..12),
    ) {
        let r = drive(options, &seeds, &ops, |step, after| {
            for (w, expiry) in &step.written {
                if !live(w, step.now) {
                    continue;
                }
                let old = step.before.iter().find(|b| b.id == w.id);
                admissible(w, &step.actor, after, &options, step.now, widens(w, old), *expiry)
                    .map_err(|e| format!("{:?} by {:?} wrote {w:?}: {e}", step.kind, step.actor))?;
            }
            Ok(())
        });
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }

    /// 4. A child never exceeds its parent — in scopes (`ScopeSet::excess_over`), binding
    /// or expiry — and a live child has a live parent and some permission, after any
    /// sequence of lifecycle operations by any actor (mints by sessions and tokens,
    /// children, rotations and edits of parents or children, revocations of tokens or
    /// families, audit repairs, time passing).
    #[test]
    fn children_stay_within_their_parents(
        seeds in seeds(),
        ops in proptest::collection::vec((who(), op()), 1..12),
    ) {
        let r = drive(*PLAIN, &seeds, &ops, |step, after| {
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
        });
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
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
            &session("alice", facts(AccountStatus::Active, false, false)),
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
    let strategy = (
        options(),
        seeds(),
        proptest::collection::vec((who(), op()), 1..12),
    );
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
