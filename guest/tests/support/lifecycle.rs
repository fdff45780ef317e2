//! Generated sequences of token lifecycle operations by generated actors, and the driver
//! that runs them against a [`Lifecycle`] (the core `Authorizer`, or — in the differential
//! test — the native engine and the wasm component side by side), applying every returned
//! plan to the store as the host does (`forge-authz/src/lifecycle.rs`). Shared by
//! `guest/tests/authority.rs` (the properties) and `tests/tests/differential.rs`.

use forge_authz_guest::policy::token::ENTROPY_BYTES;
use forge_authz_guest::policy::{
    AccountStatus, Actor, AuditEntry, AuditFinding, AuditFix, Authorizer, ChangeContext,
    ChangePlan, ChildOutcome, ChildRequest, IssueError, IssueRequest, IssuedToken, LifecycleError,
    Options, RevokeScope, RotateRequest, Rotation, Timestamp, TokenEdit, TokenRecord, UserFacts,
    Visibility,
};
use proptest::prelude::*;
use proptest::sample::select;

use super::{NOW, REPOSITORY_SCOPES, VOCABULARY, World, config, entropy, issue_request};

/// The lifecycle calls, each written once: the trait [`Lifecycle`] (the calls as the core
/// answers them) and its implementation on the core `Authorizer`, the same call (a minting
/// call given its entropy).
macro_rules! lifecycle_calls {
    (
        minting { $($mint:ident($req:ty) -> $minted:ty;)* }
        planning { $($plan:ident($($arg:ident: $ty:ty),*) -> $planned:ty;)* }
    ) => {
        /// The lifecycle calls, as the core answers them.
        pub trait Lifecycle {
            $(fn $mint(&mut self, r: &$req, e: &[u8; ENTROPY_BYTES]) -> $minted;)*
            $(fn $plan(&mut self, $($arg: $ty),*) -> $planned;)*
        }

        impl Lifecycle for Authorizer {
            $(fn $mint(&mut self, r: &$req, e: &[u8; ENTROPY_BYTES]) -> $minted {
                Authorizer::$mint(self, r, Some(e))
            })*
            $(fn $plan(&mut self, $($arg: $ty),*) -> $planned {
                Authorizer::$plan(self, $($arg),*)
            })*
        }
    };
}

lifecycle_calls! {
    minting {
        issue(IssueRequest) -> Result<IssuedToken, IssueError>;
        derive_child(ChildRequest) -> Result<ChildOutcome, LifecycleError>;
        rotate(RotateRequest) -> Result<Rotation, LifecycleError>;
    }
    planning {
        plan_edit(id: &str, edit: &TokenEdit, records: &[TokenRecord], ctx: &ChangeContext)
            -> Result<ChangePlan, LifecycleError>;
        plan_revoke(id: &str, scope: RevokeScope, records: &[TokenRecord], ctx: &ChangeContext)
            -> Result<ChangePlan, LifecycleError>;
        audit(entries: &[AuditEntry], ctx: &ChangeContext) -> Vec<AuditFinding>;
    }
}

pub fn live(r: &TokenRecord, now: Timestamp) -> bool {
    r.revoked.is_none() && r.expires.is_none_or(|e| e > now)
}

/// Who acts.
#[derive(Clone, Copy, Debug)]
pub enum Who {
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
pub enum Op {
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

impl Op {
    /// The kind of step this operation is.
    pub fn kind(&self) -> Kind {
        match self {
            Op::Issue { .. } => Kind::Issue,
            Op::Child { .. } => Kind::Child,
            Op::Rotate { .. } => Kind::Rotate,
            Op::Edit { .. } => Kind::Edit,
            Op::Revoke { family, .. } => Kind::Revoke(*family),
            Op::Audit => Kind::Audit,
            Op::Legacy { .. } | Op::Advance(_) => Kind::Other,
        }
    }

    /// The stored token (index modulo the store) a call on one token acts on.
    pub fn target(&self) -> Option<usize> {
        match self {
            Op::Child { parent: k, .. }
            | Op::Rotate { token: k, .. }
            | Op::Edit { token: k, .. }
            | Op::Revoke { token: k, .. } => Some(*k),
            Op::Issue { .. } | Op::Audit | Op::Legacy { .. } | Op::Advance(_) => None,
        }
    }
}

/// The records a step writes, each with how it set their expiry (see [`Step::written`]).
pub type Written = Vec<(TokenRecord, Option<bool>)>;

/// A call's answer, its refusal as the step records it.
fn refusal<T, E: std::fmt::Debug>(answer: Result<T, E>) -> Result<T, String> {
    answer.map_err(|e| format!("{e:?}"))
}

/// Scopes an operation asks for: the repository ones mostly, any of the vocabulary (admin
/// scopes and `user:token` included) often.
pub fn op_scopes() -> impl Strategy<Value = Vec<&'static str>> {
    proptest::collection::vec(
        prop_oneof![
            3 => select(REPOSITORY_SCOPES.to_vec()),
            2 => select(VOCABULARY.to_vec()),
            1 => select(vec!["user:token", "write:admin", "read:admin", "all"]),
        ],
        1..4,
    )
}

pub fn lifetime() -> impl Strategy<Value = i64> {
    prop_oneof![60i64..600, 600i64..86_400, 86_400i64..40_000_000]
}

pub fn who() -> impl Strategy<Value = Who> {
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

pub fn op() -> impl Strategy<Value = Op> {
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

/// Operations, each by its actor.
pub type Ops = Vec<(Who, Op)>;

/// The operations of a sequence after its seeds: one to eleven, by generated actors.
pub fn ops() -> impl Strategy<Value = Ops> {
    proptest::collection::vec((who(), op()), 1..12)
}

/// A whole sequence: the policy options, the seed tokens, the operations.
pub fn sequence() -> impl Strategy<Value = (Options, Ops, Ops)> {
    (options(), seeds(), ops())
}

/// Policy options drawn per sequence.
pub fn options() -> impl Strategy<Value = Options> {
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

pub fn facts(status: AccountStatus, site_admin: bool, organization: bool) -> UserFacts {
    UserFacts {
        status,
        site_admin,
        visibility: Visibility::Public,
        organization,
    }
}

pub fn session(name: &str, facts: UserFacts) -> Actor {
    super::session_creator(name, facts)
}

/// What one step did.
#[derive(Debug)]
pub struct Step {
    /// The actor as given to the policy.
    pub actor: Actor,
    /// The token acted on (none for a mint, an audit, or an empty store).
    pub target: Option<TokenRecord>,
    /// Which operation, for the authority oracle.
    pub kind: Kind,
    /// The store before.
    pub before: Vec<TokenRecord>,
    /// The records written (none when refused), with whether the operation set each
    /// one's expiry (and how: `Some(true)` the full lifetime rules, `Some(false)` a
    /// child's).
    pub written: Written,
    /// The refusal, if any.
    pub refused: Option<String>,
    pub now: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Issue,
    Child,
    Rotate,
    Edit,
    Revoke(bool),
    Audit,
    Other,
}

/// A record of alice's with these fields (its digest is never presented).
pub fn rec(
    id: &str,
    parent: Option<&str>,
    expires: Option<Timestamp>,
    scopes: &[&str],
) -> TokenRecord {
    TokenRecord {
        id: id.into(),
        owner: "alice".into(),
        name: id.into(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        repositories: vec![],
        owners: vec![],
        parent: parent.map(Into::into),
        predecessor: None,
        successor: None,
        last_used: None,
        created: NOW,
        expires,
        revoked: None,
        secret: forge_authz_guest::policy::SecretDigest::HmacTag([0; 32]),
    }
}

pub fn app() -> World {
    super::world_of(
        vec![],
        vec![forge_authz_fixture::defs::RepoDef {
            owner: "alice".into(),
            name: "app".into(),
            private: false,
            kind: forge_authz_fixture::defs::RepoKind::Hosted,
            archived: false,
            collaborators: Default::default(),
            protected_refs: vec![],
            registrant: None,
        }],
    )
}

pub fn put(store: &mut Vec<TokenRecord>, records: impl IntoIterator<Item = TokenRecord>) {
    for r in records {
        match store.iter_mut().find(|x| x.id == r.id) {
            Some(x) => *x = r,
            None => store.push(r),
        }
    }
}

/// Run a sequence, calling `check` after every step (with the store after it).
pub fn drive(
    options: Options,
    seed_ops: &[(Who, Op)],
    ops: &[(Who, Op)],
    check: impl FnMut(&Step, &[TokenRecord]) -> Result<(), String>,
) -> Result<(), String> {
    let mut authz = Authorizer::new(&forge_authz_guest::policy::Config {
        options,
        ..config(false)
    })
    .unwrap();
    drive_on(&mut authz, seed_ops, ops, check)
}

/// [`drive`] on any engine.
pub fn drive_on(
    authz: &mut dyn Lifecycle,
    seed_ops: &[(Who, Op)],
    ops: &[(Who, Op)],
    mut check: impl FnMut(&Step, &[TokenRecord]) -> Result<(), String>,
) -> Result<(), String> {
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
        step.kind = op.kind();
        step.target = op.target().and_then(pick);
        // What the call answered: the records it writes (with the lifetime rule each must
        // meet, if any), or why it refused.
        let answer: Result<Written, String> = match (op, step.target.clone()) {
            (
                Op::Issue {
                    for_bob,
                    scopes,
                    lifetime,
                    bound,
                },
                _,
            ) => {
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
                refusal(authz.issue(&r, &e)).map(|t| vec![(t.record, Some(true))])
            }
            (
                Op::Child {
                    scopes, lifetime, ..
                },
                Some(parent),
            ) => {
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
                refusal(authz.derive_child(&request, &e)).map(|outcome| match outcome {
                    ChildOutcome::Minted(t) => vec![(t.record, Some(false))],
                    ChildOutcome::Reuse(_) => vec![],
                })
            }
            (Op::Rotate { expires, .. }, Some(old)) => {
                let request = RotateRequest {
                    old,
                    expires: expires.map(|x| now + x),
                    records: store.clone(),
                    context: ctx.clone(),
                };
                refusal(authz.rotate(&request, &e)).map(|rot| {
                    // A child's successor is a child: it expires with its parent (the
                    // child's lifetime rule, the maximum only).
                    let rule = Some(rot.new.record.parent.is_none());
                    let mut written = vec![(rot.new.record, rule), (rot.old, None)];
                    written.extend(rot.revoked_children.into_iter().map(|r| (r, None)));
                    written
                })
            }
            (
                Op::Edit {
                    name,
                    scopes,
                    expires,
                    ..
                },
                Some(t),
            ) => {
                let edit = TokenEdit {
                    name: name.then(|| format!("renamed{i}")),
                    scopes: scopes
                        .as_ref()
                        .map(|s| s.iter().map(|x| x.to_string()).collect()),
                    expires: expires.map(|x| x.map(|l| now + l)),
                };
                let set = expires.is_some();
                refusal(authz.plan_edit(&t.id, &edit, &store, &ctx)).map(|plan| {
                    plan.updates
                        .into_iter()
                        .map(|r| {
                            let edited = r.id == t.id;
                            (r, (edited && set).then_some(true))
                        })
                        .collect()
                })
            }
            (Op::Revoke { family, .. }, Some(t)) => {
                let scope = if *family {
                    RevokeScope::Family
                } else {
                    RevokeScope::Token
                };
                refusal(authz.plan_revoke(&t.id, scope, &store, &ctx))
                    .map(|plan| plan.updates.into_iter().map(|r| (r, None)).collect())
            }
            // An operation on a token of an empty store: nothing to act on.
            (Op::Child { .. } | Op::Rotate { .. } | Op::Edit { .. } | Op::Revoke { .. }, None) => {
                Ok(vec![])
            }
            (Op::Audit, _) => {
                let entries: Vec<AuditEntry> = store
                    .iter()
                    .map(|r| AuditEntry {
                        record: r.clone(),
                        expiry_recorded: false,
                    })
                    .collect();
                Ok(authz
                    .audit(&entries, &ctx)
                    .into_iter()
                    .filter_map(|f| match f.fix {
                        Some(AuditFix::Update(r)) => Some((r, None)),
                        _ => None,
                    })
                    .collect())
            }
            (Op::Legacy { token, scopes }, _) => {
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
                Ok(vec![])
            }
            (Op::Advance(s), _) => {
                now += s;
                Ok(vec![])
            }
        };
        match answer {
            Ok(written) => step.written = written,
            Err(why) => step.refused = Some(why),
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
pub fn seeds() -> impl Strategy<Value = Ops> {
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
