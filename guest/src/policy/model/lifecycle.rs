//! Token lifecycle calls (`lifecycle` in the WIT): minting, children, rotation, plans,
//! audit, and their errors.
#[allow(unused_imports)]
use crate::prelude::*;

#[allow(unused_imports)]
use super::*;

use crate::policy::decision::named_enum;

/// One repository of a mint request's binding, as the owner sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoundRepository {
    /// `owner/name`.
    pub repository: String,
    /// Facts.
    pub facts: Option<RepositoryFacts>,
}

/// What to mint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssueRequest {
    /// Owner login.
    pub owner: String,
    /// Token name.
    pub name: String,
    /// Requested scopes.
    pub scopes: Vec<String>,
    /// Repositories to bind to.
    pub repositories: Vec<String>,
    /// Owners to bind to.
    pub owners: Vec<String>,
    /// Expiry.
    pub expires: Option<Timestamp>,
    /// Now.
    pub now: Timestamp,
    /// Who asks.
    pub creator: Actor,
    /// The owner's live token names.
    pub existing_names: Vec<String>,
    /// Facts of each bound repository as the owner sees it.
    pub bound_facts: Vec<BoundRepository>,
    /// Client IP.
    pub ip: Option<String>,
}

/// Who acts on a token: mints it, changes, rotates, derives from or revokes it (see
/// `actor` in the WIT).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A user authenticated by the forge itself (session, password).
    Session(Account),
    /// A token presented to a token-management route.
    Token(TokenRecord),
    /// The operator's own maintenance (expiry bookkeeping, audit repairs), by name.
    System(String),
}

impl Actor {
    /// The login (or maintenance name) history events record: a session's user, a
    /// token's owner, the system job's name.
    pub fn name(&self) -> &str {
        match self {
            Actor::Session(a) => &a.name,
            Actor::Token(t) => &t.owner,
            Actor::System(n) => n,
        }
    }
}

/// Who, where, when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeContext {
    /// Who acts.
    pub actor: Actor,
    /// Client IP.
    pub ip: Option<String>,
    /// Now.
    pub now: Timestamp,
}

named_enum! {
    /// What happened to a token.
    HistoryAction, name / from_name {
        /// Minted.
        Create = "create",
        /// Edited.
        Edit = "edit",
        /// Rotated away.
        Rotate = "rotate",
        /// Revoked.
        Revoke = "revoke",
        /// Expired.
        Expire = "expire",
    }
}

/// One change to one token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEvent {
    /// Token id.
    pub token_id: String,
    /// Owner.
    pub owner: String,
    /// Action.
    pub action: HistoryAction,
    /// Actor.
    pub actor: String,
    /// Client IP.
    pub ip: Option<String>,
    /// When.
    pub at: Timestamp,
    /// Name after.
    pub name: String,
    /// Scopes after.
    pub scopes: Vec<String>,
    /// Expiry after.
    pub expires: Option<Timestamp>,
    /// Parent.
    pub parent: Option<String>,
    /// Name before (edit).
    pub old_name: Option<String>,
    /// Scopes before (edit).
    pub old_scopes: Option<Vec<String>>,
    /// Expiry before (edit).
    pub old_expires: Option<Option<Timestamp>>,
    /// The other token of a rotation.
    pub related: Option<String>,
}

/// A child-token request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildRequest {
    /// Parent record.
    pub parent: TokenRecord,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Lifetime, seconds.
    pub lifetime: i64,
    /// Minimum remaining lifetime for reuse.
    pub minimum_lifetime: Option<i64>,
    /// Live children of the parent.
    pub existing_children: Vec<TokenRecord>,
    /// Context.
    pub context: ChangeContext,
}

/// Result of a child request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChildOutcome {
    /// Reuse this child.
    Reuse(TokenRecord),
    /// A new child.
    Minted(IssuedToken),
}

/// A rotation request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotateRequest {
    /// The token to rotate.
    pub old: TokenRecord,
    /// New expiry.
    pub expires: Option<Timestamp>,
    /// The owner's other tokens (for the children's revocation).
    pub records: Vec<TokenRecord>,
    /// Context.
    pub context: ChangeContext,
}

/// A rotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rotation {
    /// New token.
    pub new: IssuedToken,
    /// Old record, revoked and linked.
    pub old: TokenRecord,
    /// Its children, revoked with it.
    pub revoked_children: Vec<TokenRecord>,
    /// Events.
    pub events: Vec<HistoryEvent>,
}

/// Reach of a revocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevokeScope {
    /// Token and children.
    Token,
    /// Rotation family and children.
    Family,
}

/// Planned writes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangePlan {
    /// Records to write, in order.
    pub updates: Vec<TokenRecord>,
    /// Events.
    pub events: Vec<HistoryEvent>,
}

/// An edit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenEdit {
    /// New name.
    pub name: Option<String>,
    /// New scopes.
    pub scopes: Option<Vec<String>>,
    /// New expiry.
    pub expires: Option<Option<Timestamp>>,
}

/// Why a lifecycle change was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LifecycleError {
    /// No such token.
    UnknownToken(String),
    /// Revoked or expired.
    TokenNotLive(String),
    /// Refused.
    Refused(IssueError),
    /// The actor may not do this to the token (a token without `user:token`, a
    /// maintenance job asked to grant). Someone who is neither the owner nor a site
    /// administrator is answered [`LifecycleError::UnknownToken`] instead.
    NotPermitted,
}

named_enum! {
    /// Audit finding kinds.
    AuditKind, name / from_name {
        /// Child outlives parent.
        ChildOutlivesParent = "child-outlives-parent",
        /// Child exceeds parent scopes.
        ChildExceedsParent = "child-exceeds-parent",
        /// Live child of a revoked parent.
        ChildOfRevokedParent = "child-of-revoked-parent",
        /// Parent missing.
        Orphan = "orphan",
        /// Unknown scope.
        UnknownScope = "unknown-scope",
        /// Expiry not recorded.
        ExpiredNotRecorded = "expired-not-recorded",
        /// Rotated but not revoked.
        RotatedNotRevoked = "rotated-not-revoked",
    }
}

/// A repair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditFix {
    /// Write this record.
    Update(TokenRecord),
    /// Record the expiry of this token.
    RecordExpiry(String),
}

/// One inconsistency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditFinding {
    /// Token.
    pub token_id: String,
    /// Kind.
    pub kind: AuditKind,
    /// Explanation.
    pub message: String,
    /// Repair.
    pub fix: Option<AuditFix>,
    /// The event the repair records.
    pub event: Option<HistoryEvent>,
}

/// A stored token for audit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Record.
    pub record: TokenRecord,
    /// Expiry recorded.
    pub expiry_recorded: bool,
}

/// Why a token could not be minted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IssueError {
    /// No permission scope.
    NoPermissionScope,
    /// Unknown scope.
    UnknownScope(String),
    /// Expiry not after now.
    ExpiryInPast,
    /// Bad token name.
    BadName,
    /// Bad repository path.
    BadRepository(String),
    /// Scope not allowed on a bound token.
    ScopeNotAllowedWhenBound(String),
    /// Bound and public-only.
    BoundAndPublicOnly,
    /// Expiry required.
    ExpiryRequired,
    /// Too long (max seconds).
    LifetimeTooLong(i64),
    /// Too short (min seconds).
    LifetimeTooShort(i64),
    /// Name taken.
    NameTaken,
    /// Bound repository missing or invisible.
    RepositoryNotVisible(String),
    /// Scope the creator may not grant.
    ScopeNotGrantable(String),
    /// Token creator without `user:token`, or for another owner.
    CreatorNotAllowed,
    /// Creator token not live.
    CreatorNotLive,
    /// Stronger than the creator or parent.
    ExceedsCreator(String),
    /// Bad owner name.
    BadOwner,
    /// Randomness failed.
    EntropyUnavailable,
}

impl IssueError {
    /// A sentence for the user.
    pub fn describe(&self) -> String {
        match self {
            IssueError::NoPermissionScope => {
                "at least one permission scope is required".to_string()
            }
            IssueError::UnknownScope(s) => format!("unknown scope `{s}`"),
            IssueError::ExpiryInPast => "the expiry must be in the future".to_string(),
            IssueError::BadName => {
                "the token name must be 1 to 100 printable characters".to_string()
            }
            IssueError::ScopeNotAllowedWhenBound(s) => format!(
                "scope `{s}` is not allowed on a bound token (repository and issue scopes only)"
            ),
            IssueError::BoundAndPublicOnly => {
                "a bound token cannot also be public-only".to_string()
            }
            IssueError::ExpiryRequired => "an expiry is required".to_string(),
            IssueError::LifetimeTooLong(max) => {
                format!("the lifetime exceeds the maximum of {} days", max / 86_400)
            }
            IssueError::LifetimeTooShort(min) => {
                format!("the lifetime is below the minimum of {min} seconds")
            }
            IssueError::NameTaken => {
                "the owner already has a live token with this name".to_string()
            }
            IssueError::RepositoryNotVisible(r) => {
                format!("repository `{r}` does not exist or is not visible to the owner")
            }
            IssueError::ScopeNotGrantable(s) => format!("you may not grant scope `{s}`"),
            IssueError::CreatorNotAllowed => {
                "this credential may not create tokens for this owner".to_string()
            }
            IssueError::CreatorNotLive => {
                "the creating or parent token is revoked or expired".to_string()
            }
            IssueError::ExceedsCreator(x) => {
                format!("the token would exceed the token that created it or its parent ({x})")
            }
            IssueError::BadRepository(r) => {
                format!("repository `{r}` is not of the form owner/name")
            }
            IssueError::BadOwner => "malformed owner name".to_string(),
            IssueError::EntropyUnavailable => {
                "no randomness available: nothing was minted".to_string()
            }
        }
    }
}

impl LifecycleError {
    /// A sentence for the user.
    pub fn describe(&self) -> String {
        match self {
            LifecycleError::UnknownToken(id) => format!("no token `{id}`"),
            LifecycleError::TokenNotLive(id) => format!("token `{id}` is revoked or expired"),
            LifecycleError::Refused(e) => e.describe(),
            LifecycleError::NotPermitted => "you may not change this token: only its owner \
                 (signed in, or with a token holding user:token) or a site administrator may"
                .to_string(),
        }
    }
}

/// A freshly minted token.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The secret: shown once.
    pub secret: String,
    /// The record to store.
    pub record: TokenRecord,
    /// Its `create` event.
    pub event: HistoryEvent,
}

impl core::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("secret", &"<redacted>")
            .field("record", &self.record)
            .field("event", &self.event)
            .finish()
    }
}
