//! Plain data the policy consumes and produces. Mirrors `wit/types.wit` one to one; the
//! component converts between the two, the native tests use these directly.
#[allow(unused_imports)]
use crate::prelude::*;

/// Seconds since the Unix epoch, UTC.
pub type Timestamp = i64;

/// A signing key (see `signing-key` in the WIT).
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// Key id written into tokens: 1 to 16 of `a`-`z`, `0`-`9`.
    pub id: String,
    /// HMAC-SHA256 secret, at least 32 bytes.
    pub secret: Vec<u8>,
}

impl core::fmt::Debug for SigningKey {
    // The secret never reaches a log, not even through Debug.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SigningKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Policy options (see `options` in the WIT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Forgejo: a bound token outside its binding is treated as anonymous (else 401).
    pub binding_fallback_to_anonymous: bool,
    /// New tokens must expire.
    pub require_expiry: bool,
    /// Longest lifetime of a new token, seconds.
    pub max_lifetime: i64,
    /// Shortest lifetime of a new token, seconds.
    pub min_lifetime: i64,
}

/// 366 days.
pub const DEFAULT_MAX_LIFETIME: i64 = 366 * 86_400;
/// 5 minutes.
pub const DEFAULT_MIN_LIFETIME: i64 = 300;

impl Default for Options {
    fn default() -> Self {
        Options {
            binding_fallback_to_anonymous: false,
            require_expiry: true,
            max_lifetime: DEFAULT_MAX_LIFETIME,
            min_lifetime: DEFAULT_MIN_LIFETIME,
        }
    }
}

/// Authorizer configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Every key that verifies tokens.
    pub keys: Vec<SigningKey>,
    /// The key that signs new tokens.
    pub signing_key_id: String,
    /// Policy options.
    pub options: Options,
}

/// Why a configuration was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// No keys at all.
    NoKeys,
    /// A malformed key id.
    BadKeyId(String),
    /// Two keys with one id.
    DuplicateKeyId(String),
    /// A secret shorter than 32 bytes.
    WeakKey(String),
    /// The signing key id names no key.
    UnknownSigningKey(String),
}

/// State of a user account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountStatus {
    /// May act.
    Active,
    /// Deactivated.
    Inactive,
    /// Suspended.
    Suspended,
}

/// Visibility of a user or organisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visibility {
    /// Everyone.
    Public,
    /// Signed-in users.
    Limited,
    /// Members only.
    Private,
}

/// Facts about a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserFacts {
    /// Login name.
    pub name: String,
    /// Account state.
    pub status: AccountStatus,
    /// Site administrator.
    pub site_admin: bool,
    /// Profile visibility.
    pub visibility: Visibility,
    /// An organisation: it owns repositories but never authenticates (no token,
    /// session or key of an organisation acts).
    pub organization: bool,
}

/// How a repository came to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RepositoryKind {
    /// Pushed to directly.
    Hosted,
    /// Pull mirror.
    Mirror,
    /// Code import.
    Import,
}

/// Collaborator role. Ordered: `None < Read < Write < Admin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// No role.
    None,
    /// Read.
    Read,
    /// Read and write.
    Write,
    /// Read, write, administer.
    Admin,
}

/// Who may do something to a protected ref.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefAccess {
    /// Anyone with write access.
    Writers,
    /// Repository administrators.
    Admins,
    /// These users (with write access).
    Users(Vec<String>),
    /// Nobody.
    Nobody,
}

/// A branch-protection rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtectedRef {
    /// Glob over full ref names.
    pub pattern: String,
    /// Who may create / fast-forward.
    pub push: RefAccess,
    /// Who may force-push / delete.
    pub force_push: RefAccess,
}

/// Facts about a user or organisation targeted by a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceFacts {
    /// Login name.
    pub name: String,
    /// Organisation (else user).
    pub organization: bool,
    /// Visibility.
    pub visibility: Visibility,
    /// The acting user's role in it.
    pub member_role: Role,
}

/// Facts about an existing repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepositoryFacts {
    /// Owning user or organisation.
    pub owner: String,
    /// Name within the owner.
    pub name: String,
    /// Visibility of the owner.
    pub owner_visibility: Visibility,
    /// Private repository.
    pub private: bool,
    /// Hosted, mirror or import.
    pub kind: RepositoryKind,
    /// Archived (read-only).
    pub archived: bool,
    /// The acting user's collaborator role.
    pub role: Role,
    /// Branch protection, first match wins.
    pub protected_refs: Vec<ProtectedRef>,
    /// The user who registered (created) the repository, if the forge records one:
    /// only they may confirm or abort its creation (Launchpad).
    pub registrant: Option<String>,
}

/// A stored token record (hash of the secret only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    /// Public id.
    pub id: String,
    /// Owner login.
    pub owner: String,
    /// Token name.
    pub name: String,
    /// Stored scopes.
    pub scopes: Vec<String>,
    /// Bound repositories (`owner/name`).
    pub repositories: Vec<String>,
    /// Bound owners (all their repositories).
    pub owners: Vec<String>,
    /// Parent token id (child tokens).
    pub parent: Option<String>,
    /// The token this one replaced.
    pub predecessor: Option<String>,
    /// The token that replaced this one.
    pub successor: Option<String>,
    /// Last use.
    pub last_used: Option<Timestamp>,
    /// Minted at.
    pub created: Timestamp,
    /// Expires at (`expires <= now` is expired).
    pub expires: Option<Timestamp>,
    /// Revoked at.
    pub revoked: Option<Timestamp>,
    /// SHA-256 of the whole secret string.
    pub secret_hash: Vec<u8>,
}

/// Whose SSH key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// A user's key.
    User,
    /// A deploy key.
    Deploy,
}

/// A verified SSH key's facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshKey {
    /// Key id.
    pub id: String,
    /// User or deploy.
    pub kind: KeyKind,
    /// User keys: owner login.
    pub owner: String,
    /// Deploy keys: the repository.
    pub repository: Option<String>,
    /// Deploy keys: read-only.
    pub read_only: bool,
}

/// A credential as presented.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// None.
    Anonymous,
    /// Bearer token.
    Bearer(String),
    /// HTTP Basic.
    Basic {
        /// Username as sent.
        username: String,
        /// Password as sent.
        password: String,
    },
    /// A verified SSH key.
    SshKey(SshKey),
    /// A session the forge authenticated (the user's login).
    Session(String),
}

impl core::fmt::Debug for Credential {
    // Credentials hold secrets: Debug shows only their shape.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Credential::Anonymous => f.write_str("Anonymous"),
            Credential::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Credential::Basic { .. } => f.write_str("Basic(<redacted>)"),
            Credential::SshKey(k) => write!(f, "SshKey({})", k.id),
            Credential::Session(u) => write!(f, "Session({u})"),
        }
    }
}

/// Protocol of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Smart HTTP / API.
    Http,
    /// SSH.
    Ssh,
}

/// Git action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GitAction {
    /// Fetch / clone.
    Pull,
    /// Push.
    Push,
}

/// One ref update of a push.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefUpdate {
    /// Full ref name.
    pub name: String,
    /// Old object id (zeros: create).
    pub old: String,
    /// New object id (zeros: delete).
    pub new: String,
    /// Not a fast-forward.
    pub force: bool,
}

/// A git request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitRequest {
    /// Transport.
    pub transport: Transport,
    /// `owner/name` as requested.
    pub repository: String,
    /// Pull or push.
    pub action: GitAction,
    /// Ref updates of a push.
    pub refs: Vec<RefUpdate>,
}

/// Step of a repository creation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreationStep {
    /// Push to a missing repository.
    PushToCreate,
    /// Confirm.
    Confirm,
    /// Abort.
    Abort,
}

/// A repository creation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreationRequest {
    /// Transport (push-to-create arrives over HTTP or SSH).
    pub transport: Transport,
    /// `owner/name`.
    pub repository: String,
    /// Step.
    pub step: CreationStep,
}

/// Administrators' operations (seed 004).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrivilegedOperation {
    /// Repository settings.
    RepositorySettings,
    /// Delete a repository.
    DeleteRepository,
    /// Transfer a repository.
    TransferRepository,
    /// Convert a mirror.
    ConvertMirror,
    /// Generate from a template.
    GenerateFromTemplate,
    /// Create or migrate for another owner.
    CreateForOtherOwner,
    /// Admin-only details.
    ViewAdminDetails,
    /// Moderate others' content.
    Moderate,
}

impl PrivilegedOperation {
    /// Kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            PrivilegedOperation::RepositorySettings => "repository-settings",
            PrivilegedOperation::DeleteRepository => "delete-repository",
            PrivilegedOperation::TransferRepository => "transfer-repository",
            PrivilegedOperation::ConvertMirror => "convert-mirror",
            PrivilegedOperation::GenerateFromTemplate => "generate-from-template",
            PrivilegedOperation::CreateForOtherOwner => "create-for-other-owner",
            PrivilegedOperation::ViewAdminDetails => "view-admin-details",
            PrivilegedOperation::Moderate => "moderate",
        }
    }
}

/// An API request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiRequest {
    /// HTTP method.
    pub method: String,
    /// Scope categories needed (all of them).
    pub categories: Vec<crate::policy::scope::Category>,
    /// Target repository.
    pub repository: Option<String>,
    /// Target user / organisation / package owner.
    pub namespace: Option<String>,
    /// Authentication required.
    pub requires_auth: bool,
    /// `/admin` route.
    pub admin_only: bool,
    /// Role needed on the target repository.
    pub required_role: Role,
    /// Privileged operation performed.
    pub operation: Option<PrivilegedOperation>,
    /// `sudo` target.
    pub sudo: Option<String>,
    /// Package route.
    pub package: bool,
}

/// What is asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Git.
    Git(GitRequest),
    /// Repository creation.
    Create(CreationRequest),
    /// API route.
    Api(ApiRequest),
}

/// Everything needed to decide one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    /// The credential.
    pub credential: Credential,
    /// Further tokens in the same request.
    pub also_presented: Vec<String>,
    /// The record the host found for the verified token id.
    pub token: Option<TokenRecord>,
    /// The acting user's facts.
    pub user: Option<UserFacts>,
    /// The target repository's facts; `None` if it does not exist.
    pub repository: Option<RepositoryFacts>,
    /// The target namespace's facts.
    pub namespace: Option<NamespaceFacts>,
    /// API `sudo`: the impersonated account's facts (`None`: no such account). When a
    /// request names a `sudo` target, `repository` and `namespace` are the facts as that
    /// account sees them.
    pub sudo: Option<UserFacts>,
    /// The request.
    pub request: Request,
    /// Now.
    pub now: Timestamp,
    /// Record a trace.
    pub explain: bool,
}

/// One repository of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchTarget {
    /// `owner/name`.
    pub repository: String,
    /// Facts.
    pub facts: Option<RepositoryFacts>,
}

/// Permissions on a ref.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefPermission {
    /// Create.
    Create,
    /// Fast-forward.
    Push,
    /// Force-push / delete.
    ForcePush,
}

/// Permissions on one ref.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefPermissions {
    /// The ref.
    pub name: String,
    /// Its permissions.
    pub permissions: Vec<RefPermission>,
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
    pub creator: Creator,
    /// The owner's live token names.
    pub existing_names: Vec<String>,
    /// Facts of each bound repository as the owner sees it.
    pub bound_facts: Vec<BatchTarget>,
    /// Client IP.
    pub ip: Option<String>,
}

/// Who asks for a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Creator {
    /// A user authenticated by the forge.
    Session(UserFacts),
    /// A token.
    Token(TokenRecord),
}

/// Who, where, when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeContext {
    /// Acting user.
    pub actor: String,
    /// Client IP.
    pub ip: Option<String>,
    /// Now.
    pub now: Timestamp,
}

/// What happened to a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistoryAction {
    /// Minted.
    Create,
    /// Edited.
    Edit,
    /// Rotated away.
    Rotate,
    /// Revoked.
    Revoke,
    /// Expired.
    Expire,
}

impl HistoryAction {
    /// Kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            HistoryAction::Create => "create",
            HistoryAction::Edit => "edit",
            HistoryAction::Rotate => "rotate",
            HistoryAction::Revoke => "revoke",
            HistoryAction::Expire => "expire",
        }
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
}

/// Audit finding kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditKind {
    /// Child outlives parent.
    ChildOutlivesParent,
    /// Child exceeds parent scopes.
    ChildExceedsParent,
    /// Live child of a revoked parent.
    ChildOfRevokedParent,
    /// Parent missing.
    Orphan,
    /// Unknown scope.
    UnknownScope,
    /// Expiry not recorded.
    ExpiredNotRecorded,
    /// Rotated but not revoked.
    RotatedNotRevoked,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let key = SigningKey {
            id: "k1".into(),
            secret: b"very-secret-key-material-32-bytes".to_vec(),
        };
        let shown = format!("{key:?}");
        assert!(
            shown.contains("k1") && shown.contains("<redacted>"),
            "{shown}"
        );
        assert!(!shown.contains("very-secret"));
        for (c, want) in [
            (Credential::Bearer("fzpat_x".into()), "Bearer(<redacted>)"),
            (
                Credential::Basic {
                    username: "u".into(),
                    password: "fzpat_x".into(),
                },
                "Basic(<redacted>)",
            ),
            (Credential::Anonymous, "Anonymous"),
            (Credential::Session("alice".into()), "Session(alice)"),
        ] {
            assert_eq!(format!("{c:?}"), want);
        }
        let issued = IssuedToken {
            secret: "fzpat_secret".into(),
            record: TokenRecord {
                id: "id".into(),
                owner: "alice".into(),
                name: "n".into(),
                scopes: vec![],
                repositories: vec![],
                owners: vec![],
                parent: None,
                predecessor: None,
                successor: None,
                last_used: None,
                created: 0,
                expires: None,
                revoked: None,
                secret_hash: vec![],
            },
            event: HistoryEvent {
                token_id: "id".into(),
                owner: "alice".into(),
                action: HistoryAction::Create,
                actor: "alice".into(),
                ip: None,
                at: 0,
                name: "n".into(),
                scopes: vec![],
                expires: None,
                parent: None,
                old_name: None,
                old_scopes: None,
                old_expires: None,
                related: None,
            },
        };
        let shown = format!("{issued:?}");
        assert!(
            shown.contains("<redacted>") && shown.contains("alice"),
            "{shown}"
        );
        assert!(!shown.contains("fzpat_secret"));
    }

    #[test]
    fn names_are_the_wit_codes() {
        use PrivilegedOperation as P;
        let ops = [
            (P::RepositorySettings, "repository-settings"),
            (P::DeleteRepository, "delete-repository"),
            (P::TransferRepository, "transfer-repository"),
            (P::ConvertMirror, "convert-mirror"),
            (P::GenerateFromTemplate, "generate-from-template"),
            (P::CreateForOtherOwner, "create-for-other-owner"),
            (P::ViewAdminDetails, "view-admin-details"),
            (P::Moderate, "moderate"),
        ];
        for (op, name) in ops {
            assert_eq!(op.name(), name);
        }
        use HistoryAction as H;
        for (a, name) in [
            (H::Create, "create"),
            (H::Edit, "edit"),
            (H::Rotate, "rotate"),
            (H::Revoke, "revoke"),
            (H::Expire, "expire"),
        ] {
            assert_eq!(a.name(), name);
        }
    }
}
