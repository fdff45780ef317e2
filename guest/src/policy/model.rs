//! Plain data the policy consumes and produces. Mirrors the WIT package (`wit/*.wit`) one
//! to one; the component converts between the two, the native tests use these directly.
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

impl ConfigError {
    /// A sentence for operators.
    pub fn describe(&self) -> String {
        match self {
            ConfigError::NoKeys => "no signing keys configured".to_string(),
            ConfigError::BadKeyId(id) => format!("malformed key id `{id}`"),
            ConfigError::DuplicateKeyId(id) => format!("duplicate key id `{id}`"),
            ConfigError::WeakKey(id) => format!("key `{id}` is shorter than 32 bytes"),
            ConfigError::UnknownSigningKey(id) => format!("signing key `{id}` is not configured"),
        }
    }
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

/// Facts about an account (its name is the one asked for).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserFacts {
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

/// A named account: a login and its facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// Login name.
    pub name: String,
    /// Facts.
    pub facts: UserFacts,
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

impl Role {
    /// Lowercase name (`none`, `read`, `write`, `admin`).
    pub fn name(self) -> &'static str {
        match self {
            Role::None => "none",
            Role::Read => "read",
            Role::Write => "write",
            Role::Admin => "admin",
        }
    }
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

/// Facts about a user or organisation targeted by a request (its name is the one asked
/// for), as the query's viewer sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NamespaceFacts {
    /// Organisation (else user).
    pub organization: bool,
    /// Visibility.
    pub visibility: Visibility,
    /// The viewer's membership role in it.
    pub member_role: Role,
}

/// Facts about an existing repository (its path is the one asked for), as the query's
/// viewer sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepositoryFacts {
    /// Visibility of the owner.
    pub owner_visibility: Visibility,
    /// Private repository.
    pub private: bool,
    /// Hosted, mirror or import.
    pub kind: RepositoryKind,
    /// Archived (read-only).
    pub archived: bool,
    /// The viewer's role.
    pub role: Role,
    /// Branch protection, first match wins.
    pub protected_refs: Vec<ProtectedRef>,
    /// The user who registered (created) the repository, if asked for and known: only
    /// they may confirm or abort its creation (Launchpad).
    pub registrant: Option<String>,
}

/// How a stored record is bound to its token's secret (see `secret-digest` in the WIT).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SecretDigest {
    /// The token's HMAC-SHA256 tag (tokens minted since contract 0.4).
    HmacTag([u8; 32]),
    /// SHA-256 of the whole secret string (older records).
    Sha256([u8; 32]),
}

impl core::fmt::Debug for SecretDigest {
    // Not a secret, but nothing a log needs either.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SecretDigest::HmacTag(_) => f.write_str("HmacTag(..)"),
            SecretDigest::Sha256(_) => f.write_str("Sha256(..)"),
        }
    }
}

/// A token binding: the repositories and owners it reaches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Binding {
    /// Repositories, `owner/name`.
    pub repositories: Vec<String>,
    /// Owners whose repositories are covered.
    pub owners: Vec<String>,
}

/// A token's stored record as a decision needs it (see `token-facts` in the WIT).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenFacts {
    /// Owner login.
    pub owner: String,
    /// Stored scopes, comma-separated.
    pub scopes: String,
    /// Binding; `None`: unbound.
    pub binding: Option<Binding>,
    /// A child token.
    pub child: bool,
    /// Rotated away (has a successor).
    pub rotated: bool,
    /// Last use.
    pub last_used: Option<Timestamp>,
    /// Expires at (`expires <= now` is expired).
    pub expires: Option<Timestamp>,
    /// Revoked at.
    pub revoked: Option<Timestamp>,
    /// What binds the record to the secret.
    pub secret: SecretDigest,
}

/// A stored token record (see `token-record` in the WIT): what a store keeps.
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
    /// What binds the record to the secret.
    pub secret: SecretDigest,
}

impl TokenRecord {
    /// The facts a decision needs, as a host derives them from the stored record.
    pub fn facts(&self) -> TokenFacts {
        TokenFacts {
            owner: self.owner.clone(),
            scopes: self.scopes.join(","),
            binding: (!self.repositories.is_empty() || !self.owners.is_empty()).then(|| Binding {
                repositories: self.repositories.clone(),
                owners: self.owners.clone(),
            }),
            child: self.parent.is_some(),
            rotated: self.successor.is_some(),
            last_used: self.last_used,
            expires: self.expires,
            revoked: self.revoked,
            secret: self.secret,
        }
    }
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

impl GitAction {
    /// `pull` or `push`.
    pub fn name(self) -> &'static str {
        match self {
            GitAction::Pull => "pull",
            GitAction::Push => "push",
        }
    }
}

/// What a ref update does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefChange {
    /// Old id all zeros: created.
    Create,
    /// Moved.
    Update,
    /// New id all zeros: deleted.
    Delete,
}

/// One ref update of a push.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefUpdate {
    /// Full ref name.
    pub name: String,
    /// Create, move or delete.
    pub change: RefChange,
    /// A move that is not a fast-forward.
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

impl CreationStep {
    /// Kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            CreationStep::PushToCreate => "push-to-create",
            CreationStep::Confirm => "confirm",
            CreationStep::Abort => "abort",
        }
    }
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

    /// The operation in words (`delete repository`).
    pub fn words(self) -> &'static str {
        match self {
            PrivilegedOperation::RepositorySettings => "repository settings",
            PrivilegedOperation::DeleteRepository => "delete repository",
            PrivilegedOperation::TransferRepository => "transfer repository",
            PrivilegedOperation::ConvertMirror => "convert mirror",
            PrivilegedOperation::GenerateFromTemplate => "generate from template",
            PrivilegedOperation::CreateForOtherOwner => "create for other owner",
            PrivilegedOperation::ViewAdminDetails => "view admin details",
            PrivilegedOperation::Moderate => "moderate",
        }
    }
}

/// The HTTP method of an API request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// HEAD
    Head,
    /// OPTIONS
    Options,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
    /// Any other method, as sent: a write.
    Other(String),
}

impl Method {
    /// GET, HEAD and OPTIONS read; everything else writes (reference §1.6). A method sent
    /// as `other` with one of these names reads too (names compare case-insensitively).
    pub fn reads(&self) -> bool {
        match self {
            Method::Get | Method::Head | Method::Options => true,
            Method::Other(m) => ["GET", "HEAD", "OPTIONS"]
                .iter()
                .any(|r| r.eq_ignore_ascii_case(m)),
            _ => false,
        }
    }

    /// A well-formed method: an HTTP token of 1 to 20 ASCII letters.
    pub fn valid(&self) -> bool {
        match self {
            Method::Other(m) => {
                !m.is_empty() && m.len() <= 20 && m.bytes().all(|b| b.is_ascii_alphabetic())
            }
            _ => true,
        }
    }

    /// Upper-case name (the method as sent, for any other method).
    pub fn name(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Other(m) => m,
        }
    }
}

/// An API request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiRequest {
    /// HTTP method.
    pub method: Method,
    /// Scope categories needed (all of them).
    pub categories: crate::policy::scope::Categories,
    /// Target repository.
    pub repository: Option<String>,
    /// Target user / organisation / package owner.
    pub namespace: Option<String>,
    /// Authentication required.
    pub requires_auth: bool,
    /// `/admin` route.
    pub admin_only: bool,
    /// Role needed on the targets.
    pub required_role: Role,
    /// Privileged operation performed.
    pub operation: Option<PrivilegedOperation>,
    /// `sudo` target.
    pub sudo: Option<String>,
    /// Package route.
    pub package: bool,
    /// The route changes the repository's content (files, refs, releases, wiki): the
    /// write rules of a push apply (mirrors, imports and archived repositories refuse).
    pub writes_content: bool,
    /// The route creates something in the acting account's own namespace and names no
    /// target (`POST /user/repos`, a migration): restricted tokens are refused, as for
    /// push-to-create.
    pub creates_in_own_namespace: bool,
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

/// One request to authorize (see `authorize-request` in the WIT).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizeRequest {
    /// The credential.
    pub credential: Credential,
    /// Further tokens in the same request.
    pub also_presented: Vec<String>,
    /// The request.
    pub request: Request,
    /// Now.
    pub now: Timestamp,
    /// Record a trace.
    pub explain: bool,
}

/// One git request against many repositories (see `batch-request` in the WIT).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchRequest {
    /// The credential.
    pub credential: Credential,
    /// Further tokens in the same request.
    pub also_presented: Vec<String>,
    /// Transport.
    pub transport: Transport,
    /// Pull or push.
    pub action: GitAction,
    /// The repositories.
    pub repositories: Vec<String>,
    /// Now.
    pub now: Timestamp,
    /// Record a trace per repository.
    pub explain: bool,
}

/// Launchpad `checkRefPermissions` (see `ref-permissions-request` in the WIT).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefPermissionsRequest {
    /// The credential.
    pub credential: Credential,
    /// Further tokens in the same request.
    pub also_presented: Vec<String>,
    /// Transport.
    pub transport: Transport,
    /// The repository.
    pub repository: String,
    /// Full ref names.
    pub refs: Vec<String>,
    /// Now.
    pub now: Timestamp,
}

/// Whose view repository and namespace facts describe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Viewer {
    /// Nobody.
    Anonymous,
    /// The owner of the queried token.
    TokenOwner,
    /// The queried account.
    Account,
    /// The queried `sudo` account.
    Sudo,
}

/// The facts one decision needs (see `fact-query` in the WIT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FactQuery<'a> {
    /// A verified token's id.
    pub token: Option<&'a str>,
    /// An account by login (session user, SSH user key owner).
    pub account: Option<&'a str>,
    /// The `sudo` target, by login.
    pub sudo: Option<&'a str>,
    /// A repository, `owner/name`.
    pub repository: Option<&'a str>,
    /// A user or organisation.
    pub namespace: Option<&'a str>,
    /// Whose view.
    pub viewer: Viewer,
    /// Also answer the repository's registrant.
    pub registrant: bool,
}

/// The answer to a [`FactQuery`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FactAnswer {
    /// The token's record.
    pub token: Option<TokenFacts>,
    /// The token owner's account.
    pub owner: Option<UserFacts>,
    /// The queried account.
    pub account: Option<UserFacts>,
    /// The queried `sudo` account.
    pub sudo: Option<UserFacts>,
    /// The repository.
    pub repository: Option<RepositoryFacts>,
    /// The namespace.
    pub namespace: Option<NamespaceFacts>,
}

/// Where the policy's facts come from: the WIT `facts` import in the component, a world
/// or a store natively. The policy calls `lookup` at most once per decision.
pub trait Facts {
    /// Answer one query.
    fn lookup(&mut self, query: &FactQuery<'_>) -> FactAnswer;
    /// Facts about many repositories as `viewer` (a login; `None`: anonymous) sees them,
    /// one answer per path, in order.
    fn repositories(
        &mut self,
        paths: &[String],
        viewer: Option<&str>,
    ) -> Vec<Option<RepositoryFacts>>;
}

/// One repository of a mint request's binding, as the owner sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoundRepository {
    /// `owner/name`.
    pub repository: String,
    /// Facts.
    pub facts: Option<RepositoryFacts>,
}

/// The answer to a [`RefPermissionsRequest`]: permissions per ref in request order, and
/// the store writes the underlying push decision asked for (see `ref-grants` in the WIT).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RefGrants {
    /// One set per ref.
    pub refs: Vec<RefPermissions>,
    /// Store writes for the presented token.
    pub effects: crate::policy::decision::Effects,
}

/// Permissions on a ref (a set).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RefPermissions {
    /// Create.
    pub create: bool,
    /// Fast-forward.
    pub push: bool,
    /// Force-push / delete.
    pub force_push: bool,
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
    /// The actor may not do this to the token (a token without `user:token`, a
    /// maintenance job asked to grant). Someone who is neither the owner nor a site
    /// administrator is answered [`LifecycleError::UnknownToken`] instead.
    NotPermitted,
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

impl AuditKind {
    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            AuditKind::ChildOutlivesParent => "child-outlives-parent",
            AuditKind::ChildExceedsParent => "child-exceeds-parent",
            AuditKind::ChildOfRevokedParent => "child-of-revoked-parent",
            AuditKind::Orphan => "orphan",
            AuditKind::UnknownScope => "unknown-scope",
            AuditKind::ExpiredNotRecorded => "expired-not-recorded",
            AuditKind::RotatedNotRevoked => "rotated-not-revoked",
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
                secret: SecretDigest::HmacTag([0; 32]),
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
}
