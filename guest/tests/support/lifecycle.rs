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

/// The lifecycle calls, as the core answers them.
pub trait Lifecycle {
    fn issue(
        &mut self,
        r: &IssueRequest,
        e: &[u8; ENTROPY_BYTES],
    ) -> Result<IssuedToken, IssueError>;
    fn derive_child(
        &mut self,
        r: &ChildRequest,
        e: &[u8; ENTROPY_BYTES],
    ) -> Result<ChildOutcome, LifecycleError>;
    fn rotate(
        &mut self,
        r: &RotateRequest,
        e: &[u8; ENTROPY_BYTES],
    ) -> Result<Rotation, LifecycleError>;
    fn plan_edit(
        &mut self,
        id: &str,
        edit: &TokenEdit,
        records: &[TokenRecord],
        ctx: &ChangeContext,
    ) -> Result<ChangePlan, LifecycleError>;
    fn plan_revoke(
        &mut self,
        id: &str,
        scope: RevokeScope,
        records: &[TokenRecord],
        ctx: &ChangeContext,
    ) -> Result<ChangePlan, LifecycleError>;
    fn audit(&mut self, entries: &[AuditEntry], ctx: &ChangeContext) -> Vec<AuditFinding>;
}

impl Lifecycle for Authorizer {
    fn issue(
        &mut self,
        r: &IssueRequest,
        e: &[u8; ENTROPY_BYTES],
    ) -> Result<IssuedToken, IssueError> {
        Authorizer::issue(self, r, Some(e))
    }
    fn derive_child(
        &mut self,
        r: &ChildRequest,
        e: &[u8; ENTROPY_BYTES],
    ) -> Result<ChildOutcome, LifecycleError> {
        Authorizer::derive_child(self, r, Some(e))
    }
    fn rotate(
        &mut self,
        r: &RotateRequest,
        e: &[u8; ENTROPY_BYTES],
    ) -> Result<Rotation, LifecycleError> {
        Authorizer::rotate(self, r, Some(e))
    }
    fn plan_edit(
        &mut self,
        id: &str,
        edit: &TokenEdit,
        records: &[TokenRecord],
        ctx: &ChangeContext,
    ) -> Result<ChangePlan, LifecycleError> {
        Authorizer::plan_edit(self, id, edit, records, ctx)
    }
    fn plan_revoke(
        &mut self,
        id: &str,
        scope: RevokeScope,
        records: &[TokenRecord],
        ctx: &ChangeContext,
    ) -> Result<ChangePlan, LifecycleError> {
        Authorizer::plan_revoke(self, id, scope, records, ctx)
    }
    fn audit(&mut self, entries: &[AuditEntry], ctx: &ChangeContext) -> Vec<AuditFinding> {
        Authorizer::audit(self, entries, ctx)
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
    pub written: Vec<(TokenRecord, Option<bool>)>,
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
                match authz.issue(&r, &e) {
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
                    match authz.derive_child(&request, &e) {
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
                    match authz.rotate(&request, &e) {
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
pub fn seeds() -> impl Strategy<Value = Vec<(Who, Op)>> {
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
