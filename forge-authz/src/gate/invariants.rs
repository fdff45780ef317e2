//! The policy-independent invariants: properties every module must keep whatever its site
//! rules (a site policy only narrows the core's decisions, so it keeps them by
//! construction). Stated as the core's own property tests state them
//! (`guest/tests/invariants.rs`: 3, 5, 6, 7, 11, 22), but checked on the module under test,
//! through the host's decision flow, over the generated cases of [`super::generator`].
//!
//! Each invariant looks at what the generator made (the credential's state, its scopes)
//! and at the world (who owns what, who has which role) — never at a policy rule — and at
//! the decisions the module gave.

use forge_authz_guest::policy;

use super::Judge;
use super::generator::{Case, Cred, TokenState};
use crate::request::{
    ActionDef, Decided, KindDef, Outcome, RefUpdateDef, RequestDef, outcome_output,
};
use crate::world::World;

/// One invariant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Invariant {
    /// A token signed with another secret under a configured key id never allows.
    ForgedTokenNeverAllows,
    /// A token past its expiry never allows.
    ExpiredTokenNeverAllows,
    /// A revoked token never allows.
    RevokedTokenNeverAllows,
    /// A token signed with a key the configuration does not list never allows.
    RetiredKeyTokenNeverAllows,
    /// Read-only scopes, read-only deploy keys and read roles never write.
    ReadOnlyNeverWrites,
    /// A restricted token (bound, public-only, child) never gets admin powers or sudo.
    RestrictedTokenNoAdmin,
    /// A private repository the principal cannot see answers exactly as a missing one.
    HiddenEqualsMissing,
    /// Mirrors and archived repositories never take writes.
    MirrorArchivedNeverWritten,
    /// `authorize`, `authorize-batch` and `ref-permissions` agree.
    SameThroughAuthorizeBatchRefs,
}

/// Every invariant, in the report's order.
pub const ALL: [Invariant; 9] = [
    Invariant::ForgedTokenNeverAllows,
    Invariant::ExpiredTokenNeverAllows,
    Invariant::RevokedTokenNeverAllows,
    Invariant::RetiredKeyTokenNeverAllows,
    Invariant::ReadOnlyNeverWrites,
    Invariant::RestrictedTokenNoAdmin,
    Invariant::HiddenEqualsMissing,
    Invariant::MirrorArchivedNeverWritten,
    Invariant::SameThroughAuthorizeBatchRefs,
];

impl Invariant {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Invariant::ForgedTokenNeverAllows => "forged-token-never-allows",
            Invariant::ExpiredTokenNeverAllows => "expired-token-never-allows",
            Invariant::RevokedTokenNeverAllows => "revoked-token-never-allows",
            Invariant::RetiredKeyTokenNeverAllows => "retired-key-token-never-allows",
            Invariant::ReadOnlyNeverWrites => "read-only-never-writes",
            Invariant::RestrictedTokenNoAdmin => "restricted-token-no-admin",
            Invariant::HiddenEqualsMissing => "hidden-equals-missing",
            Invariant::MirrorArchivedNeverWritten => "mirror-archived-never-written",
            Invariant::SameThroughAuthorizeBatchRefs => "same-through-authorize-batch-refs",
        }
    }

    /// Whether the invariant says anything about this case.
    pub fn applies(self, case: &Case) -> bool {
        let state = |s: TokenState| matches!(&case.cred, Cred::Token { state, .. } if *state == s);
        match self {
            Invariant::ForgedTokenNeverAllows => state(TokenState::Forged),
            Invariant::ExpiredTokenNeverAllows => state(TokenState::Expired),
            Invariant::RevokedTokenNeverAllows => state(TokenState::Revoked),
            Invariant::RetiredKeyTokenNeverAllows => state(TokenState::RetiredKey),
            Invariant::ReadOnlyNeverWrites => read_only_credential(case) || read_role(case),
            Invariant::RestrictedTokenNoAdmin => {
                matches!(
                    case.cred,
                    Cred::Token {
                        restricted: true,
                        ..
                    }
                ) && admin_request(&case.request)
            }
            Invariant::HiddenEqualsMissing => !hidden_targets(case).is_empty(),
            Invariant::MirrorArchivedNeverWritten => !frozen_targets(case).is_empty(),
            Invariant::SameThroughAuthorizeBatchRefs => match case.request.kind {
                KindDef::Git => case.request.refs.is_empty(),
                KindDef::Batch | KindDef::RefPermissions => true,
                KindDef::Create | KindDef::Api => false,
            },
        }
    }

    /// Check the invariant on a case whose request the module answered `outcome`; `Some`:
    /// how it is broken. `judge` decides the further requests some invariants compare with.
    pub fn check(self, case: &Case, outcome: &Outcome, judge: &mut Judge) -> Option<String> {
        match self {
            Invariant::ForgedTokenNeverAllows
            | Invariant::ExpiredTokenNeverAllows
            | Invariant::RevokedTokenNeverAllows
            | Invariant::RetiredKeyTokenNeverAllows => {
                grants(outcome).then(|| format!("the token was granted: {}", shown(outcome)))
            }
            Invariant::ReadOnlyNeverWrites => {
                let api_too = read_only_credential(case);
                writes(&case.request, outcome, api_too)
                    .then(|| format!("a read-only credential or role wrote: {}", shown(outcome)))
            }
            Invariant::RestrictedTokenNoAdmin => grants(outcome)
                .then(|| format!("a restricted token got an admin power: {}", shown(outcome))),
            Invariant::HiddenEqualsMissing => hidden_as_missing(case, judge),
            Invariant::MirrorArchivedNeverWritten => {
                let frozen = frozen_targets(case);
                frozen_written(&case.request, outcome, &frozen)
                    .then(|| format!("{} took a write: {}", frozen.join(", "), shown(outcome)))
            }
            Invariant::SameThroughAuthorizeBatchRefs => same_through(case, outcome, judge),
        }
    }
}

/// The outcome as `forge-authz decide` prints it.
pub fn shown(outcome: &Outcome) -> String {
    outcome_output(outcome).0.to_string()
}

/// Whether anything is allowed: the decision, a batch target, a ref permission.
pub fn grants(outcome: &Outcome) -> bool {
    outcome_output(outcome).1
}

/// Whether the outcome lets the request write: a push (or a creation step) allowed, a
/// batch push target allowed, any ref permission, and with `api_too` an API route of a
/// writing method allowed.
fn writes(request: &RequestDef, outcome: &Outcome, api_too: bool) -> bool {
    let write_method = request
        .method
        .as_deref()
        .is_some_and(|m| !["GET", "HEAD", "OPTIONS"].contains(&m.to_ascii_uppercase().as_str()));
    match (request.kind, outcome) {
        (KindDef::Git, Outcome::Decision(d)) => {
            request.action == Some(ActionDef::Push) && d.allow()
        }
        (KindDef::Create, Outcome::Decision(d)) => api_too && d.allow(),
        (KindDef::Api, Outcome::Decision(d)) => api_too && write_method && d.allow(),
        (KindDef::Batch, _) => request.action == Some(ActionDef::Push) && grants(outcome),
        (KindDef::RefPermissions, _) => grants(outcome),
        _ => false,
    }
}

/// A read-only token (every scope a read scope) or a read-only deploy key.
fn read_only_credential(case: &Case) -> bool {
    matches!(
        case.cred,
        Cred::Token {
            read_only: true,
            ..
        } | Cred::SshDeploy {
            read_only: true,
            ..
        }
    )
}

/// The user the credential acts as (a token's owner, a session's or user key's user).
fn user_of(cred: &Cred) -> Option<&str> {
    match cred {
        Cred::Session(u) | Cred::SshUser(u) | Cred::Token { owner: u, .. } => Some(u),
        Cred::Anonymous | Cred::SshDeploy { .. } => None,
    }
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn owner_of(path: &str) -> &str {
    path.split_once('/').map_or(path, |(o, _)| o)
}

fn site_admin(world: &World, user: &str) -> bool {
    world.user(user).is_some_and(|u| u.site_admin)
}

/// A push or ref-permissions request on an existing repository whose user has at most the
/// read role there (not its owner, not a site administrator).
fn read_role(case: &Case) -> bool {
    let r = &case.request;
    let pushes = match r.kind {
        KindDef::Git => r.action == Some(ActionDef::Push),
        KindDef::RefPermissions => true,
        _ => false,
    };
    let (Some(user), Some(path)) = (user_of(&case.cred), r.repository.as_deref()) else {
        return false;
    };
    let Some((_, facts)) = case.world.repository(path, Some(user)) else {
        return false;
    };
    pushes
        && matches!(facts.role, policy::Role::None | policy::Role::Read)
        && !same(user, owner_of(path))
        && !site_admin(&case.world, user)
}

/// An API route needing admin powers (`/admin`, a privileged operation, `sudo`, the admin
/// role on its target) or push-to-create.
fn admin_request(r: &RequestDef) -> bool {
    match r.kind {
        KindDef::Api => {
            r.admin_only
                || r.operation.is_some()
                || r.sudo.is_some()
                || (r.required_role == Some(policy::Role::Admin)
                    && (r.repository.is_some() || r.namespace.is_some()))
        }
        KindDef::Create => r.step == Some(policy::CreationStep::PushToCreate),
        _ => false,
    }
}

/// The repositories a request targets (`owner/name` as sent).
fn targets(r: &RequestDef) -> Vec<String> {
    match r.kind {
        KindDef::Batch => r.repositories.clone(),
        KindDef::Git | KindDef::RefPermissions | KindDef::Api => {
            r.repository.iter().cloned().collect()
        }
        KindDef::Create => vec![],
    }
}

/// The targeted repositories that exist, are private (or their owner is not public), and
/// that the principal certainly cannot see: anonymous; or a user with no role there, not
/// its owner, not a site administrator; or a deploy key of another repository. Requests
/// with `sudo` are left out (the acting account is then another).
pub fn hidden_targets(case: &Case) -> Vec<String> {
    if case.request.sudo.is_some() {
        return vec![];
    }
    let world = &case.world;
    targets(&case.request)
        .into_iter()
        .filter(|path| {
            let path = crate::request::repository_path(path);
            let Some((_, anonymous)) = world.repository(path, None) else {
                return false;
            };
            let hidden =
                anonymous.private || anonymous.owner_visibility != policy::Visibility::Public;
            match &case.cred {
                Cred::SshDeploy { repository, .. } => !same(repository, path),
                Cred::Anonymous => hidden,
                cred => user_of(cred).is_some_and(|u| {
                    let role = world.repository(path, Some(u)).map(|(_, f)| f.role);
                    (anonymous.private || anonymous.owner_visibility == policy::Visibility::Private)
                        && role == Some(policy::Role::None)
                        && !same(u, owner_of(path))
                        && !site_admin(world, u)
                }),
            }
        })
        .collect()
}

/// The world without repository `path`.
fn without(world: &World, path: &str) -> World {
    let mut w = world.clone();
    w.repositories
        .retain(|r| !same(&format!("{}/{}", r.owner, r.name), path));
    w
}

/// Each hidden target: the request (with its trace) decided with the repository there and
/// without it must answer the same, trace included.
fn hidden_as_missing(case: &Case, judge: &mut Judge) -> Option<String> {
    let mut request = case.request.clone();
    request.explain = true;
    let there = judge.decide(&case.world, &request)?;
    for path in hidden_targets(case) {
        let path = crate::request::repository_path(&path).to_string();
        let missing = judge.decide(&without(&case.world, &path), &request)?;
        let (a, b) = (shown(&there), shown(&missing));
        if a != b {
            return Some(format!(
                "hidden {path} answered {a}; the same request with {path} missing answered {b}"
            ));
        }
    }
    None
}

/// The targeted repositories that are mirrors or archived.
fn frozen_targets(case: &Case) -> Vec<String> {
    targets(&case.request)
        .into_iter()
        .filter(|p| {
            case.world
                .repository(crate::request::repository_path(p), None)
                .is_some_and(|(_, f)| f.archived || f.kind == policy::RepositoryKind::Mirror)
        })
        .collect()
}

/// Whether a write reached one of `frozen`: a push, a batch push target, a ref permission,
/// an API route that writes content.
fn frozen_written(r: &RequestDef, outcome: &Outcome, frozen: &[String]) -> bool {
    match outcome {
        Outcome::Decision(d) => match r.kind {
            KindDef::Git => r.action == Some(ActionDef::Push) && d.allow(),
            KindDef::Api => r.writes_content && d.allow(),
            _ => false,
        },
        Outcome::Batch(list) => {
            r.action == Some(ActionDef::Push)
                && list.iter().any(|(p, d)| d.allow() && frozen.contains(p))
        }
        Outcome::Permissions(_) => grants(outcome),
    }
}

/// What a client and an operator see of a decision (the trace aside).
fn seen(d: &Decided) -> impl PartialEq + std::fmt::Debug + '_ {
    (d.verdict, &d.message, &d.detail, d.effects)
}

/// A single git request on `path`, made as `r` was (its credential, transport, time).
fn single_git(
    r: &RequestDef,
    path: &str,
    action: ActionDef,
    refs: Vec<RefUpdateDef>,
) -> RequestDef {
    RequestDef {
        kind: KindDef::Git,
        repository: Some(path.to_string()),
        action: Some(action),
        refs,
        ref_names: vec![],
        repositories: vec![],
        explain: false,
        ..r.clone()
    }
}

/// `authorize` of a git request without ref updates answers as the same request's one
/// `authorize-batch` target; each batch target as its own `authorize`; each ref permission
/// as `authorize` of a push of that one update (create, fast-forward, forced move).
fn same_through(case: &Case, outcome: &Outcome, judge: &mut Judge) -> Option<String> {
    let r = &case.request;
    let action = r.action.unwrap_or(ActionDef::Pull);
    match outcome {
        Outcome::Decision(one) => {
            let path = r.repository.clone()?;
            let batch = RequestDef {
                kind: KindDef::Batch,
                repositories: vec![path.clone()],
                ..single_git(r, &path, action, vec![])
            };
            let Outcome::Batch(list) = judge.decide(&case.world, &batch)? else {
                return Some("a batch answered with something else".into());
            };
            let entry = list.first().map(|(_, d)| d);
            (entry.map(seen) != Some(seen(one))).then(|| {
                format!(
                    "authorize answered {}, authorize-batch {entry:?}",
                    shown(outcome)
                )
            })
        }
        Outcome::Batch(list) => list.iter().find_map(|(path, d)| {
            let single = judge.decide(&case.world, &single_git(r, path, action, vec![]))?;
            match &single {
                Outcome::Decision(one) if seen(one) == seen(d) => None,
                _ => Some(format!(
                    "batch target {path} answered {d:?}, authorize {}",
                    shown(&single)
                )),
            }
        }),
        Outcome::Permissions(p) => {
            let path = r.repository.clone()?;
            p.refs.iter().find_map(|(name, perms)| {
                probes(name).into_iter().find_map(|(kind, update, listed)| {
                    let push = single_git(r, &path, ActionDef::Push, vec![update]);
                    let Some(Outcome::Decision(d)) = judge.decide(&case.world, &push) else {
                        return Some("a push answered with something else".into());
                    };
                    let allowed = d.allow() && d.refs.first().is_some_and(|v| v.allow());
                    (allowed != listed(perms)).then(|| {
                        format!(
                            "ref-permissions on {name} lists {kind}: {}, a push of it is {}",
                            listed(perms),
                            shown(&Outcome::Decision(d))
                        )
                    })
                })
            })
        }
    }
}

/// The three probes of a ref permission: its name, the update, and whether a permission
/// set lists it.
#[allow(clippy::type_complexity)]
fn probes(
    name: &str,
) -> [(
    &'static str,
    RefUpdateDef,
    fn(&policy::RefPermissions) -> bool,
); 3] {
    let update = |old: &str, force: bool| RefUpdateDef {
        name: name.to_string(),
        old: old.repeat(40),
        new: "2".repeat(40),
        force,
    };
    [
        ("create", update("0", false), |p| p.create),
        ("push", update("1", false), |p| p.push),
        ("force-push", update("1", true), |p| p.force_push),
    ]
}
