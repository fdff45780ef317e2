//! Who may do what to a token, and which token records may exist (issue 19).
//!
//! Two rules back every lifecycle operation:
//!
//! * [`may_act`]: only the token's owner, signed in (a session), or a site administrator
//!   may change, rotate, derive from or revoke a token (Gafaelfawr `TokenService`, seed
//!   002; Gitea's `DELETE /users/{username}/tokens/{id}`; GitLab's personal access token
//!   API). A token acts for its owner only when it holds `user:token` (Gafaelfawr), and
//!   then never beyond itself; a token may always revoke itself and its rotation family
//!   (GitLab's `DELETE /personal_access_tokens/self`, and the family revocation a reused
//!   rotated token triggers) and derive its own children (Gafaelfawr's notebook and
//!   internal tokens are derived from the token presented). A maintenance job
//!   ([`Actor::System`]) records expiries, revokes and repairs; it never mints, edits,
//!   rotates or derives. Anyone else is told the token does not exist, exactly as for a
//!   missing id, so token ids cannot be probed.
//! * [`admissible`]: whether a record may exist, created by this actor — the rules of
//!   minting (name, known scopes, at least one permission, binding rules, what the actor
//!   may grant, never beyond a creating or parent token, lifetime bounds). Minting,
//!   editing, rotation, children, audit repairs and the narrowing of children after a
//!   parent changed all produce records through it, so every rule that holds at creation
//!   holds after every later change.
#[allow(unused_imports)]
use crate::prelude::*;

use super::model::{AccountStatus, Actor, IssueError, LifecycleError, Options, Timestamp};
use super::model::{RevokeScope, TokenRecord};
use super::principal::{Target, covers, same_name, valid_name, valid_repository_path};
use super::records::live;
use super::scope::{BOUND_ALLOWED, Category, ScopeSet};

/// Longest token name accepted.
pub const MAX_NAME_CHARS: usize = 100;

/// A lifecycle operation on an existing token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Change its name, scopes or expiry.
    Edit,
    /// Replace it by a successor.
    Rotate,
    /// Derive a child from it.
    Derive,
    /// Revoke it (and its children, or its rotation family).
    Revoke(RevokeScope),
}

/// Whether `actor` may do `op` to `target` (`family`: the ids of `target`'s rotation
/// family, for a token revoking its own family). `Err(UnknownToken)` for someone who is
/// neither the owner nor a site administrator, so that the answer is the one a missing
/// id gets.
pub fn may_act(
    actor: &Actor,
    op: Operation,
    target: &TokenRecord,
    family: &[String],
    now: Timestamp,
) -> Result<(), LifecycleError> {
    let conceal = || LifecycleError::UnknownToken(target.id.clone());
    match actor {
        Actor::Session(account) => {
            let own = same_name(&account.name, &target.owner);
            if !own && !account.facts.site_admin {
                return Err(conceal());
            }
            if account.facts.status != AccountStatus::Active || account.facts.organization {
                return Err(LifecycleError::NotPermitted);
            }
            Ok(())
        }
        Actor::Token(t) => {
            if !same_name(&t.owner, &target.owner) {
                return Err(conceal());
            }
            let itself = t.id == target.id;
            match op {
                // Revoking only narrows: a token may end itself and its rotation family
                // whatever its state (a rotated-away token presented again).
                Operation::Revoke(_) if itself || family.contains(&t.id) => return Ok(()),
                Operation::Derive if itself && live(t, now) => return Ok(()),
                _ => {}
            }
            let holds = ScopeSet::parse(&t.scopes).is_ok_and(|s| s.user_token);
            if live(t, now) && holds {
                Ok(())
            } else {
                Err(LifecycleError::NotPermitted)
            }
        }
        Actor::System(_) => match op {
            Operation::Revoke(_) => Ok(()),
            Operation::Edit | Operation::Rotate | Operation::Derive => {
                Err(LifecycleError::NotPermitted)
            }
        },
    }
}

/// Whether a session or maintenance job may apply audit repairs: the operator's own jobs
/// and active site administrators. Anyone else sees findings without repairs.
pub fn may_repair(actor: &Actor) -> bool {
    match actor {
        Actor::System(_) => true,
        Actor::Session(a) => {
            a.facts.site_admin && a.facts.status == AccountStatus::Active && !a.facts.organization
        }
        Actor::Token(_) => false,
    }
}

/// Which expiry rules apply to a record's expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// The operation did not set the expiry (a rename, a rescope, a repair): it stays as
    /// it was admitted.
    Kept,
    /// The operation set it (mint, edit of the expiry, rotation): required when the
    /// options say so, after `now`, within the minimum and maximum lifetime.
    Set,
    /// A child's: after `now` and within the maximum lifetime; no minimum, because a
    /// child expires with its parent (Gafaelfawr).
    Child,
}

/// The expiry rules: required (by option), within [min, max] lifetime from `now`.
pub fn check_expiry(
    options: &Options,
    expires: Option<Timestamp>,
    now: Timestamp,
    rule: Expiry,
) -> Result<(), IssueError> {
    if rule == Expiry::Kept {
        return Ok(());
    }
    match expires {
        None if options.require_expiry || rule == Expiry::Child => Err(IssueError::ExpiryRequired),
        None => Ok(()),
        Some(e) if e <= now => Err(IssueError::ExpiryInPast),
        Some(e) => {
            let lifetime = e.saturating_sub(now);
            if lifetime > options.max_lifetime {
                Err(IssueError::LifetimeTooLong(options.max_lifetime))
            } else if rule == Expiry::Set && lifetime < options.min_lifetime {
                Err(IssueError::LifetimeTooShort(options.min_lifetime))
            } else {
                Ok(())
            }
        }
    }
}

pub(crate) fn valid_token_name(name: &str) -> bool {
    let n = name.chars().count();
    n > 0 && n <= MAX_NAME_CHARS && !name.chars().any(char::is_control)
}

fn bound(r: &TokenRecord) -> bool {
    !r.repositories.is_empty() || !r.owners.is_empty()
}

/// Bound tokens: repository/issue scopes only, never public-only (reference §1.14).
pub(crate) fn check_bound_scopes(scopes: &[String], set: &ScopeSet) -> Result<(), IssueError> {
    if set.public_only {
        return Err(IssueError::BoundAndPublicOnly);
    }
    match scopes
        .iter()
        .find(|s| !s.is_empty() && !BOUND_ALLOWED.contains(&s.as_str()))
    {
        Some(bad) => Err(IssueError::ScopeNotAllowedWhenBound(bad.clone())),
        None => Ok(()),
    }
}

/// The rules of the record alone: owner and name, known scopes with a permission, a
/// well-formed binding with the scopes a binding allows.
fn check_shape(r: &TokenRecord) -> Result<ScopeSet, IssueError> {
    if !valid_name(&r.owner) {
        return Err(IssueError::BadOwner);
    }
    if !valid_token_name(&r.name) {
        return Err(IssueError::BadName);
    }
    let set = ScopeSet::parse(&r.scopes).map_err(IssueError::UnknownScope)?;
    if !set.has_permission() {
        return Err(IssueError::NoPermissionScope);
    }
    if let Some(bad) = r.repositories.iter().find(|p| !valid_repository_path(p)) {
        return Err(IssueError::BadRepository(bad.clone()));
    }
    if let Some(bad) = r.owners.iter().find(|o| !valid_name(o)) {
        return Err(IssueError::BadRepository(bad.clone()));
    }
    if bound(r) {
        check_bound_scopes(&r.scopes, &set)?;
    }
    Ok(set)
}

/// What the scopes would let a site administrator do, named for the refusal.
fn admin_scope(set: &ScopeSet) -> Option<&'static str> {
    if set.is_all() || !set.can_read(Category::Admin) {
        None
    } else if set.can_write(Category::Admin) {
        Some("write:admin")
    } else {
        Some("read:admin")
    }
}

/// What a record is checked against in [`within`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Over {
    /// The token that creates or changes it.
    Creator,
    /// Its parent.
    Parent,
}

/// `r` never goes beyond `over` (a creating token or a parent): scopes, public-only,
/// binding and expiry within its own.
pub(crate) fn within(
    r: &TokenRecord,
    set: &ScopeSet,
    over: &TokenRecord,
    role: Over,
) -> Result<(), IssueError> {
    let exceeds = |x: &str| Err(IssueError::ExceedsCreator(x.into()));
    let os = ScopeSet::parse(&over.scopes).map_err(IssueError::UnknownScope)?;
    if let Some(x) = set.excess_over(&os) {
        return Err(IssueError::ExceedsCreator(x));
    }
    if bound(over) {
        if !bound(r) {
            return exceeds("unbound");
        }
        if let Some(p) = r
            .repositories
            .iter()
            .find(|p| !covers(&over.repositories, &over.owners, Target::Repository(p)))
        {
            return exceeds(p);
        }
        if let Some(o) = r
            .owners
            .iter()
            .find(|o| !over.owners.iter().any(|c| same_name(c, o)))
        {
            return exceeds(o);
        }
    }
    let later = match (over.expires, r.expires) {
        (Some(_), None) => Some("never expires"),
        (Some(c), Some(e)) if e > c => Some("a later expiry"),
        _ => None,
    };
    match (later, role) {
        (None, _) => Ok(()),
        (Some(x), Over::Creator) => exceeds(x),
        (Some(_), Over::Parent) => exceeds("an expiry after its parent's"),
    }
}

/// The actor's part: who may create this record.
fn check_actor(
    r: &TokenRecord,
    set: &ScopeSet,
    actor: &Actor,
    parent: Option<&TokenRecord>,
    now: Timestamp,
) -> Result<(), IssueError> {
    match actor {
        Actor::Session(account) => {
            let user = &account.facts;
            if user.status != AccountStatus::Active
                || user.organization
                || (!same_name(&account.name, &r.owner) && !user.site_admin)
            {
                return Err(IssueError::CreatorNotAllowed);
            }
            match admin_scope(set) {
                Some(s) if !user.site_admin => Err(IssueError::ScopeNotGrantable(s.into())),
                _ => Ok(()),
            }
        }
        Actor::Token(creator) => {
            if !live(creator, now) {
                return Err(IssueError::CreatorNotLive);
            }
            // The parent deriving its own child needs no `user:token`: the child is
            // within it by the parent rule.
            if parent.is_some_and(|p| p.id == creator.id) {
                return Ok(());
            }
            let cs = ScopeSet::parse(&creator.scopes).map_err(IssueError::UnknownScope)?;
            if !cs.user_token || !same_name(&creator.owner, &r.owner) {
                return Err(IssueError::CreatorNotAllowed);
            }
            within(r, set, creator, Over::Creator)
        }
        // Maintenance repairs records; it is nobody's administrator.
        Actor::System(_) => match admin_scope(set) {
            Some(s) => Err(IssueError::ScopeNotGrantable(s.into())),
            None => Ok(()),
        },
    }
}

/// Whether `record` may exist, created (or last changed) by `actor`: every rule of
/// minting that the record itself, the actor and the parent decide (issue 19). Name
/// uniqueness and the visibility of bound repositories need the store's other facts and
/// are checked where those are given (minting, renaming).
///
/// `parent`: the record's parent, when it is a child (it must be live, and the record
/// within it); `expiry`: which expiry rules the operation is bound by.
pub fn admissible(
    record: &TokenRecord,
    actor: &Actor,
    parent: Option<&TokenRecord>,
    options: &Options,
    now: Timestamp,
    expiry: Expiry,
) -> Result<(), IssueError> {
    let set = check_shape(record)?;
    check_actor(record, &set, actor, parent, now)?;
    if let Some(p) = parent {
        if !live(p, now) {
            return Err(IssueError::CreatorNotLive);
        }
        within(record, &set, p, Over::Parent)?;
    }
    check_expiry(options, record.expires, now, expiry)
}
