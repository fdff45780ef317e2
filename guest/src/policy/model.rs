//! Plain data the policy consumes and produces. Mirrors `wit/types.wit` one to one; the
//! component converts between the two, the native tests use these directly.

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

impl std::fmt::Debug for SigningKey {
    // The secret never reaches a log, not even through Debug.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Authorizer configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Every key that verifies tokens.
    pub keys: Vec<SigningKey>,
    /// The key that signs new tokens.
    pub signing_key_id: String,
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
    /// Bound repositories (`owner/name`); empty = unbound.
    pub repositories: Vec<String>,
    /// Minted at.
    pub created: Timestamp,
    /// Expires at (`expires <= now` is expired).
    pub expires: Option<Timestamp>,
    /// Revoked at.
    pub revoked: Option<Timestamp>,
    /// SHA-256 of the whole secret string.
    pub secret_hash: Vec<u8>,
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
}

impl std::fmt::Debug for Credential {
    // Credentials hold secrets: Debug shows only their shape.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Anonymous => f.write_str("Anonymous"),
            Credential::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Credential::Basic { .. } => f.write_str("Basic(<redacted>)"),
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

/// A git request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitRequest {
    /// Transport.
    pub transport: Transport,
    /// `owner/name` as requested.
    pub repository: String,
    /// Pull or push.
    pub action: GitAction,
}

/// Everything needed to decide one git request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitInput {
    /// The credential.
    pub credential: Credential,
    /// The record the host found for the verified token id.
    pub token: Option<TokenRecord>,
    /// The token owner's facts.
    pub owner: Option<UserFacts>,
    /// The repository's facts; `None` if it does not exist.
    pub repository: Option<RepositoryFacts>,
    /// The request.
    pub request: GitRequest,
    /// Now.
    pub now: Timestamp,
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
    /// Expiry.
    pub expires: Option<Timestamp>,
    /// Now.
    pub now: Timestamp,
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
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("secret", &"<redacted>")
            .field("record", &self.record)
            .finish()
    }
}
