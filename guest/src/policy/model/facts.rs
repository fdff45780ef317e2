//! What a store knows (`facts` in the WIT): accounts, repositories as a viewer sees them,
//! token records, and the one query a decision asks.
#[allow(unused_imports)]
use crate::prelude::*;

#[allow(unused_imports)]
use super::*;

use crate::policy::decision::named_enum;

// The facts' closed sets: each variant with its spelling in the WIT, files and store
// columns.

named_enum! {
    /// State of a user account.
    AccountStatus, name / from_name {
        /// May act.
        Active = "active",
        /// Deactivated.
        Inactive = "inactive",
        /// Suspended.
        Suspended = "suspended",
    }
}

named_enum! {
    /// Visibility of a user or organisation.
    Visibility, name / from_name {
        /// Everyone.
        Public = "public",
        /// Signed-in users.
        Limited = "limited",
        /// Members only.
        Private = "private",
    }
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

named_enum! {
    /// How a repository came to be.
    RepositoryKind, name / from_name {
        /// Pushed to directly.
        Hosted = "hosted",
        /// Pull mirror.
        Mirror = "mirror",
        /// Code import.
        Import = "import",
    }
}

named_enum! {
    /// Collaborator role. Ordered: `None < Read < Write < Admin` (the order of `ALL`).
    #[derive(PartialOrd, Ord)]
    Role, name / from_name {
        /// No role.
        None = "none",
        /// Read.
        Read = "read",
        /// Read and write.
        Write = "write",
        /// Read, write, administer.
        Admin = "admin",
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceFacts {
    /// Organisation (else user).
    pub organization: bool,
    /// Visibility.
    pub visibility: Visibility,
    /// The viewer's membership role in it.
    pub member_role: Role,
    /// Its IP allow list (CIDR blocks; empty: no restriction), see [`crate::policy::ip`].
    pub ip_allow: Vec<String>,
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
    /// The owner's IP allow list (its namespace's `ip_allow`; empty: no restriction).
    pub owner_ip_allow: Vec<String>,
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
    /// The token's own IP allow list (CIDR blocks; empty: no restriction).
    pub ip_allow: Vec<String>,
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
            // The record (the lifecycle's value) does not carry the list: a host adds the
            // stored list to the facts it answers (`TokenFacts::ip_allow`).
            ip_allow: Vec::new(),
        }
    }
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

/// Who acts in a decision, as the core resolved the principal (told to [`Facts::acting`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Acting<'a> {
    /// The acting user's login (`None`: anonymous, or a deploy key).
    pub user: Option<&'a str>,
    /// A site administrator acting with full powers (never through a restricted token).
    pub site_admin: bool,
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
    /// Told who acts, once per decision call, when the core has resolved the principal
    /// from the answer (before the request's own rules): what a site policy's narrowing
    /// reads (`crate::site`), so it never re-derives it. Default: nothing.
    fn acting(&mut self, _acting: &Acting<'_>) {}
}
