//! The scenario corpus (`tests/scenarios/*.json`) run natively against
//! `forge_authz_guest::policy`, with no host crate and no wasmtime: a faithful copy of what
//! the host does for the corpus runner (`tests/tests/corpus.rs`):
//!
//! - the world fixture and its facts: `host-harness/src/world.rs`;
//! - the facts the host answers the policy's query with (`lookup`, `repositories`):
//!   `host-harness/src/facts.rs`;
//! - request → the policy call and the decision flow (`call`, `authorize`) and the
//!   printed outcome (`outcome_output`): `host-harness/src/request.rs`;
//! - token minting, `${name|op}` substitution, running and checking a family
//!   (`prepare`, `substitute`, `run_family`, `mismatch`): `tests/src/scenario.rs`.
//!
//! It exists so that `cargo mutants` on `guest/src/policy` runs the corpus's exact
//! expectations in milliseconds. Keep it in step with those three files: a change to how
//! the host gathers facts or prints decisions must be made here too (the host-based
//! runner and this one must report the same scenario count and both pass).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use forge_authz_guest::policy::scope::{Categories, Category};
use forge_authz_guest::policy::token::{ENTROPY_BYTES, crc32};
use forge_authz_guest::policy::{
    self, Account, AccountStatus, Actor, ApiRequest, AuthorizeRequest, Authorizer, BatchRequest,
    BoundRepository, Config, CreationRequest, CreationStep, Credential, Decision, FactAnswer,
    FactQuery, Facts, GitAction, GitRequest, IssueRequest, KeyKind, Method, NamespaceFacts,
    Options, PrivilegedOperation, ProtectedRef, RefAccess, RefChange, RefPermissions,
    RefPermissionsRequest, RefUpdate, RepositoryFacts, RepositoryKind, Request, Role, SecretDigest,
    SigningKey, SshKey, TokenRecord, Transport, UserFacts, Viewer, Visibility,
};

/// Errors are plain strings: a broken fixture stops the test with a readable message.
pub type Res<T> = Result<T, String>;

macro_rules! fail {
    ($($arg:tt)*) => { return Err(format!($($arg)*)) };
}

// ---------------------------------------------------------------------------------------
// Hex (the host uses the `hex` crate: lower- or upper-case digits, even length).

fn hex_decode(s: &str) -> Res<Vec<u8>> {
    fn nibble(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        fail!("odd-length hex");
    }
    bytes
        .chunks(2)
        .map(|p| match (nibble(p[0]), nibble(p[1])) {
            (Some(h), Some(l)) => Ok(h << 4 | l),
            _ => Err("invalid hex character".to_string()),
        })
        .collect()
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------------------
// The world fixture (host-harness/src/world.rs).

/// A signing key; the secret is hex in the file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyDef {
    pub id: String,
    pub secret: String,
}

/// A user or organisation.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserDef {
    pub name: String,
    #[serde(default = "default_status")]
    pub status: String,
    #[serde(default)]
    pub site_admin: bool,
    #[serde(default = "default_visibility")]
    pub visibility: String,
    #[serde(default)]
    pub organization: bool,
    #[serde(default)]
    pub members: BTreeMap<String, String>,
}

/// `"writers"`, `"admins"`, `"nobody"` or `{"users": [...]}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum AccessDef {
    Writers,
    Admins,
    Nobody,
    Users(Vec<String>),
}

/// A branch-protection rule.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtectedRefDef {
    pub pattern: String,
    #[serde(default = "writers")]
    pub push: AccessDef,
    #[serde(default = "nobody")]
    pub force_push: AccessDef,
}

fn writers() -> AccessDef {
    AccessDef::Writers
}
fn nobody() -> AccessDef {
    AccessDef::Nobody
}

/// An SSH key.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshKeyDef {
    pub id: String,
    pub kind: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    #[allow(
        dead_code,
        reason = "accepted as the host accepts it; only SSH servers read it"
    )]
    pub public_key: Option<String>,
}

fn default_status() -> String {
    "active".into()
}
fn default_visibility() -> String {
    "public".into()
}
fn default_kind() -> String {
    "hosted".into()
}

/// A repository.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoDef {
    pub owner: String,
    pub name: String,
    #[serde(default)]
    pub private: bool,
    #[serde(default = "default_kind")]
    pub kind: String,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub collaborators: BTreeMap<String, String>,
    #[serde(default)]
    pub protected_refs: Vec<ProtectedRefDef>,
    #[serde(default)]
    pub registrant: Option<String>,
}

/// A stored token record, in the host's world format (`host-harness/src/world.rs`): what
/// binds it to its secret is `secret_hash` (32 bytes of hex), of the kind `digest` names —
/// `hmac-tag` (the token's HMAC tag, records minted since contract 0.4) or `sha256` (SHA-256
/// of the whole secret, older records; the default when absent).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenDef {
    pub id: String,
    pub owner: String,
    pub name: String,
    pub scopes: Vec<String>,
    #[serde(default)]
    pub repositories: Vec<String>,
    #[serde(default)]
    pub owners: Vec<String>,
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default)]
    pub predecessor: Option<String>,
    #[serde(default)]
    pub successor: Option<String>,
    #[serde(default)]
    pub last_used: Option<i64>,
    pub created: i64,
    #[serde(default)]
    pub expires: Option<i64>,
    #[serde(default)]
    pub revoked: Option<i64>,
    pub secret_hash: String,
    #[serde(default = "sha256_kind")]
    pub digest: String,
}

fn sha256_kind() -> String {
    "sha256".into()
}

impl TokenDef {
    fn from_record(r: &TokenRecord) -> TokenDef {
        TokenDef {
            id: r.id.clone(),
            owner: r.owner.clone(),
            name: r.name.clone(),
            scopes: r.scopes.clone(),
            repositories: r.repositories.clone(),
            owners: r.owners.clone(),
            parent: r.parent.clone(),
            predecessor: r.predecessor.clone(),
            successor: r.successor.clone(),
            last_used: r.last_used,
            created: r.created,
            expires: r.expires,
            revoked: r.revoked,
            secret_hash: match r.secret {
                SecretDigest::HmacTag(b) | SecretDigest::Sha256(b) => hex_encode(&b),
            },
            digest: match r.secret {
                SecretDigest::HmacTag(_) => "hmac-tag".into(),
                SecretDigest::Sha256(_) => "sha256".into(),
            },
        }
    }

    /// The stored digest: the tag or the SHA-256, 32 bytes of hex.
    fn digest(&self) -> Res<SecretDigest> {
        let bytes = |hex: &str| -> Res<[u8; 32]> {
            hex_decode(hex)?
                .try_into()
                .map_err(|_| "not 32 bytes".to_string())
        };
        match self.digest.as_str() {
            "hmac-tag" => Ok(SecretDigest::HmacTag(bytes(&self.secret_hash)?)),
            "sha256" => Ok(SecretDigest::Sha256(bytes(&self.secret_hash)?)),
            other => fail!("unknown digest kind `{other}`"),
        }
    }
}

/// Policy options in the fixture.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionsDef {
    #[serde(default)]
    pub binding_fallback_to_anonymous: bool,
    #[serde(default = "yes")]
    pub require_expiry: bool,
    #[serde(default = "max_lifetime")]
    pub max_lifetime: i64,
    #[serde(default = "min_lifetime")]
    pub min_lifetime: i64,
}

fn yes() -> bool {
    true
}
fn max_lifetime() -> i64 {
    366 * 86_400
}
fn min_lifetime() -> i64 {
    300
}

impl Default for OptionsDef {
    fn default() -> Self {
        OptionsDef {
            binding_fallback_to_anonymous: false,
            require_expiry: true,
            max_lifetime: max_lifetime(),
            min_lifetime: min_lifetime(),
        }
    }
}

impl OptionsDef {
    fn to_core(self) -> Options {
        Options {
            binding_fallback_to_anonymous: self.binding_fallback_to_anonymous,
            require_expiry: self.require_expiry,
            max_lifetime: self.max_lifetime,
            min_lifetime: self.min_lifetime,
        }
    }
}

/// The whole fixture.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct World {
    #[serde(default)]
    pub now: Option<i64>,
    pub keys: Vec<KeyDef>,
    pub signing_key: String,
    #[serde(default)]
    pub users: Vec<UserDef>,
    #[serde(default)]
    pub repositories: Vec<RepoDef>,
    #[serde(default)]
    pub tokens: Vec<TokenDef>,
    #[serde(default)]
    pub ssh_keys: Vec<SshKeyDef>,
    #[serde(default)]
    pub options: OptionsDef,
}

fn status_of(s: &str) -> Option<AccountStatus> {
    match s {
        "active" => Some(AccountStatus::Active),
        "inactive" => Some(AccountStatus::Inactive),
        "suspended" => Some(AccountStatus::Suspended),
        _ => None,
    }
}

fn visibility_of(s: &str) -> Option<Visibility> {
    match s {
        "public" => Some(Visibility::Public),
        "limited" => Some(Visibility::Limited),
        "private" => Some(Visibility::Private),
        _ => None,
    }
}

fn kind_of(s: &str) -> Option<RepositoryKind> {
    match s {
        "hosted" => Some(RepositoryKind::Hosted),
        "mirror" => Some(RepositoryKind::Mirror),
        "import" => Some(RepositoryKind::Import),
        _ => None,
    }
}

fn role_of(s: &str) -> Option<Role> {
    match s {
        "none" => Some(Role::None),
        "read" => Some(Role::Read),
        "write" => Some(Role::Write),
        "admin" => Some(Role::Admin),
        _ => None,
    }
}

fn access(a: &AccessDef) -> RefAccess {
    match a {
        AccessDef::Writers => RefAccess::Writers,
        AccessDef::Admins => RefAccess::Admins,
        AccessDef::Nobody => RefAccess::Nobody,
        AccessDef::Users(u) => RefAccess::Users(u.clone()),
    }
}

impl World {
    /// `World::validate` of the host: unknown enum values and malformed hex are errors.
    pub fn validate(&self) -> Res<()> {
        for k in &self.keys {
            hex_decode(&k.secret).map_err(|e| format!("key `{}`: secret: {e}", k.id))?;
        }
        for k in &self.ssh_keys {
            match (k.kind.as_str(), &k.repository) {
                ("user", _) if !k.owner.is_empty() => {}
                ("deploy", Some(_)) => {}
                _ => fail!(
                    "ssh key `{}`: a user key needs an owner, a deploy key a repository",
                    k.id
                ),
            }
        }
        for u in &self.users {
            for (m, role) in &u.members {
                if role_of(role).is_none() {
                    fail!("organization `{}`: unknown role `{role}` for `{m}`", u.name);
                }
            }
            if status_of(&u.status).is_none() {
                fail!("user `{}`: unknown status `{}`", u.name, u.status);
            }
            if visibility_of(&u.visibility).is_none() {
                fail!("user `{}`: unknown visibility `{}`", u.name, u.visibility);
            }
        }
        for r in &self.repositories {
            if kind_of(&r.kind).is_none() {
                fail!(
                    "repository `{}/{}`: unknown kind `{}`",
                    r.owner,
                    r.name,
                    r.kind
                );
            }
            if r.name.to_ascii_lowercase().ends_with(".git") {
                fail!(
                    "repository `{}/{}`: a name may not end in `.git`",
                    r.owner,
                    r.name
                );
            }
            for p in &r.protected_refs {
                if p.pattern.is_empty()
                    || p.pattern
                        .bytes()
                        .any(|b| b <= b' ' || b == 0x7f || b"?[]{}\\!^~:".contains(&b))
                {
                    fail!(
                        "repository `{}/{}`: protected-ref pattern `{}` uses syntax other than `*` and `**`",
                        r.owner,
                        r.name,
                        p.pattern.escape_debug()
                    );
                }
            }
            for (user, role) in &r.collaborators {
                if role_of(role).is_none() {
                    fail!(
                        "repository `{}/{}`: unknown role `{role}` for `{user}`",
                        r.owner,
                        r.name
                    );
                }
            }
        }
        for t in &self.tokens {
            t.digest().map_err(|e| format!("token `{}`: {e}", t.id))?;
        }
        Ok(())
    }

    /// The policy configuration.
    pub fn config(&self) -> Res<Config> {
        let mut keys = Vec::with_capacity(self.keys.len());
        for k in &self.keys {
            keys.push(SigningKey {
                id: k.id.clone(),
                secret: hex_decode(&k.secret)?,
            });
        }
        Ok(Config {
            keys,
            signing_key_id: self.signing_key.clone(),
            options: self.options.to_core(),
        })
    }

    /// The fixed clock (the corpus requires one).
    pub fn now(&self) -> i64 {
        self.now.unwrap_or_default()
    }

    /// Facts about a user (names compare case-insensitively).
    pub fn user(&self, name: &str) -> Option<UserFacts> {
        let u = self
            .users
            .iter()
            .find(|u| u.name.eq_ignore_ascii_case(name))?;
        Some(UserFacts {
            status: status_of(&u.status).unwrap_or(AccountStatus::Suspended),
            site_admin: u.site_admin,
            visibility: visibility_of(&u.visibility).unwrap_or(Visibility::Private),
            organization: u.organization,
        })
    }

    /// Facts about repository `path` as `actor` (None: anonymous) sees it, with its
    /// registrant when `registrant` is asked for.
    pub fn repository(
        &self,
        path: &str,
        actor: Option<&str>,
        registrant: bool,
    ) -> Option<RepositoryFacts> {
        let (owner, name) = path.split_once('/')?;
        let r = self
            .repositories
            .iter()
            .find(|r| r.owner.eq_ignore_ascii_case(owner) && r.name.eq_ignore_ascii_case(name))?;
        let role = actor
            .map(|a| {
                let collaborator = r
                    .collaborators
                    .iter()
                    .find(|(user, _)| user.eq_ignore_ascii_case(a))
                    .map(|(_, role)| role_of(role).unwrap_or(Role::None))
                    .unwrap_or(Role::None);
                let member = self.member_role(&r.owner, a);
                if rank(member) > rank(collaborator) {
                    member
                } else {
                    collaborator
                }
            })
            .unwrap_or(Role::None);
        let owner_visibility = self
            .user(&r.owner)
            .map(|u| u.visibility)
            .unwrap_or(Visibility::Private);
        Some(RepositoryFacts {
            owner_visibility,
            private: r.private,
            kind: kind_of(&r.kind).unwrap_or(RepositoryKind::Mirror),
            archived: r.archived,
            role,
            protected_refs: r
                .protected_refs
                .iter()
                .map(|p| ProtectedRef {
                    pattern: p.pattern.clone(),
                    push: access(&p.push),
                    force_push: access(&p.force_push),
                })
                .collect(),
            registrant: r.registrant.clone().filter(|_| registrant),
        })
    }

    fn member_role(&self, org: &str, actor: &str) -> Role {
        self.users
            .iter()
            .find(|u| u.organization && u.name.eq_ignore_ascii_case(org))
            .and_then(|o| {
                o.members
                    .iter()
                    .find(|(m, _)| m.eq_ignore_ascii_case(actor))
            })
            .map(|(_, role)| role_of(role).unwrap_or(Role::None))
            .unwrap_or(Role::None)
    }

    /// Facts about user or organisation `name` for `actor`.
    pub fn namespace(&self, name: &str, actor: Option<&str>) -> Option<NamespaceFacts> {
        let u = self
            .users
            .iter()
            .find(|u| u.name.eq_ignore_ascii_case(name))?;
        let member_role = match actor {
            None => Role::None,
            Some(a) if !u.organization && u.name.eq_ignore_ascii_case(a) => Role::Admin,
            Some(a) => self.member_role(&u.name, a),
        };
        Some(NamespaceFacts {
            organization: u.organization,
            visibility: visibility_of(&u.visibility).unwrap_or(Visibility::Private),
            member_role,
        })
    }

    /// An SSH key by id.
    pub fn ssh_key(&self, id: &str) -> Option<SshKey> {
        let k = self.ssh_keys.iter().find(|k| k.id == id)?;
        Some(SshKey {
            id: k.id.clone(),
            kind: if k.kind == "deploy" {
                KeyKind::Deploy
            } else {
                KeyKind::User
            },
            owner: k.owner.clone(),
            repository: k.repository.clone(),
            read_only: k.read_only,
        })
    }

    /// The stored record for a token id.
    pub fn token(&self, id: &str) -> Option<TokenRecord> {
        let t = self.tokens.iter().find(|t| t.id == id)?;
        Some(TokenRecord {
            id: t.id.clone(),
            owner: t.owner.clone(),
            name: t.name.clone(),
            scopes: t.scopes.clone(),
            repositories: t.repositories.clone(),
            owners: t.owners.clone(),
            parent: t.parent.clone(),
            predecessor: t.predecessor.clone(),
            successor: t.successor.clone(),
            last_used: t.last_used,
            created: t.created,
            expires: t.expires,
            revoked: t.revoked,
            // validated at load: a malformed digest binds nothing.
            secret: t.digest().unwrap_or(SecretDigest::HmacTag([0; 32])),
        })
    }

    /// Store a record (replacing one with the same id).
    pub fn add_token(&mut self, record: &TokenRecord) {
        let def = TokenDef::from_record(record);
        match self.tokens.iter_mut().find(|t| t.id == record.id) {
            Some(t) => *t = def,
            None => self.tokens.push(def),
        }
    }
}

fn rank(r: Role) -> u8 {
    match r {
        Role::None => 0,
        Role::Read => 1,
        Role::Write => 2,
        Role::Admin => 3,
    }
}

// ---------------------------------------------------------------------------------------
// Requests (host-harness/src/request.rs).

/// A credential in a request.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum CredentialDef {
    #[default]
    Anonymous,
    Bearer(String),
    Basic {
        username: String,
        password: String,
    },
    SshKey(String),
    Session(String),
}

/// `http` or `ssh`.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransportDef {
    #[default]
    Http,
    Ssh,
}

/// `pull` or `push`.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionDef {
    Pull,
    Push,
}

/// What a request asks.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KindDef {
    #[default]
    Git,
    Create,
    Api,
    RefPermissions,
    Batch,
}

/// One ref update of a push.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefUpdateDef {
    pub name: String,
    #[serde(default = "some_id")]
    pub old: String,
    #[serde(default = "some_id")]
    pub new: String,
    #[serde(default)]
    pub force: bool,
}

fn some_id() -> String {
    "1".repeat(40)
}

/// The all-zero object id: the old id of a creation, the new id of a deletion.
fn is_zero(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b == b'0')
}

impl RefUpdateDef {
    /// The update as the host passes it (contract 0.4: the change, not the ids): an
    /// all-zero old id creates, an all-zero new id deletes, anything else moves the ref.
    fn to_core(&self) -> RefUpdate {
        RefUpdate {
            name: self.name.clone(),
            change: if is_zero(&self.old) {
                RefChange::Create
            } else if is_zero(&self.new) {
                RefChange::Delete
            } else {
                RefChange::Update
            },
            force: self.force,
        }
    }
}

/// A method as the host passes it: the seven the contract names, anything else as sent.
fn method(sent: &str) -> Method {
    match sent {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "OPTIONS" => Method::Options,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        other => Method::Other(other.to_string()),
    }
}

/// A request (one flat shape for every kind).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestDef {
    #[serde(default)]
    pub credential: CredentialDef,
    #[serde(default)]
    pub also_presented: Vec<String>,
    #[serde(default)]
    pub kind: KindDef,
    #[serde(default)]
    pub transport: TransportDef,
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub action: Option<ActionDef>,
    #[serde(default)]
    pub refs: Vec<RefUpdateDef>,
    #[serde(default)]
    pub ref_names: Vec<String>,
    #[serde(default)]
    pub repositories: Vec<String>,
    #[serde(default)]
    pub step: Option<String>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub requires_auth: bool,
    #[serde(default)]
    pub admin_only: bool,
    #[serde(default)]
    pub required_role: Option<String>,
    #[serde(default)]
    pub operation: Option<String>,
    #[serde(default)]
    pub sudo: Option<String>,
    #[serde(default)]
    pub package: bool,
    #[serde(default)]
    pub writes_content: bool,
    #[serde(default)]
    pub creates_in_own_namespace: bool,
    #[serde(default)]
    pub now: Option<i64>,
    #[serde(default)]
    pub explain: bool,
}

/// Strip one trailing `.git`.
pub fn repository_path(requested: &str) -> &str {
    match requested.len().checked_sub(4) {
        Some(cut)
            if requested
                .get(cut..)
                .is_some_and(|t| t.eq_ignore_ascii_case(".git")) =>
        {
            requested.get(..cut).unwrap_or(requested)
        }
        _ => requested,
    }
}

fn category(s: &str) -> Res<Category> {
    use Category as C;
    Ok(match s {
        "activitypub" => C::ActivityPub,
        "admin" => C::Admin,
        "misc" => C::Misc,
        "notification" => C::Notification,
        "organization" => C::Organization,
        "package" => C::Package,
        "issue" => C::Issue,
        "repository" => C::Repository,
        "user" => C::User,
        _ => fail!("unknown scope category `{s}`"),
    })
}

fn role(s: &str) -> Res<Role> {
    role_of(s).ok_or_else(|| format!("unknown role `{s}`"))
}

fn operation(s: &str) -> Res<PrivilegedOperation> {
    use PrivilegedOperation as P;
    Ok(match s {
        "repository-settings" => P::RepositorySettings,
        "delete-repository" => P::DeleteRepository,
        "transfer-repository" => P::TransferRepository,
        "convert-mirror" => P::ConvertMirror,
        "generate-from-template" => P::GenerateFromTemplate,
        "create-for-other-owner" => P::CreateForOtherOwner,
        "view-admin-details" => P::ViewAdminDetails,
        "moderate" => P::Moderate,
        _ => fail!("unknown operation `{s}`"),
    })
}

impl RequestDef {
    fn repository(&self) -> Res<String> {
        let r = self
            .repository
            .as_deref()
            .ok_or_else(|| format!("a {:?} request needs `repository`", self.kind))?;
        Ok(repository_path(r).to_string())
    }

    fn transport(&self) -> Transport {
        match self.transport {
            TransportDef::Http => Transport::Http,
            TransportDef::Ssh => Transport::Ssh,
        }
    }

    fn git(&self, repository: String) -> Res<GitRequest> {
        Ok(GitRequest {
            transport: self.transport(),
            repository,
            action: match self.action.ok_or("a git request needs `action`")? {
                ActionDef::Pull => GitAction::Pull,
                ActionDef::Push => GitAction::Push,
            },
            refs: self.refs.iter().map(RefUpdateDef::to_core).collect(),
        })
    }

    /// The core request of a `git`, `create` or `api` request.
    pub fn to_core(&self) -> Res<Request> {
        Ok(match self.kind {
            KindDef::Git => Request::Git(self.git(self.repository()?)?),
            KindDef::Batch | KindDef::RefPermissions => {
                fail!("a {:?} request is not one request", self.kind)
            }
            KindDef::Create => Request::Create(CreationRequest {
                transport: self.transport(),
                repository: self.repository()?,
                step: match self
                    .step
                    .as_deref()
                    .ok_or("a create request needs `step`")?
                {
                    "push-to-create" => CreationStep::PushToCreate,
                    "confirm" => CreationStep::Confirm,
                    "abort" => CreationStep::Abort,
                    other => fail!("unknown creation step `{other}`"),
                },
            }),
            KindDef::Api => Request::Api(ApiRequest {
                method: method(
                    self.method
                        .as_deref()
                        .ok_or("an api request needs `method`")?,
                ),
                categories: Categories::of(
                    &self
                        .categories
                        .iter()
                        .map(|c| category(c))
                        .collect::<Res<Vec<_>>>()?,
                ),
                repository: self
                    .repository
                    .as_deref()
                    .map(|r| repository_path(r).to_string()),
                namespace: self.namespace.clone(),
                requires_auth: self.requires_auth,
                admin_only: self.admin_only,
                required_role: role(self.required_role.as_deref().unwrap_or("none"))?,
                operation: self.operation.as_deref().map(operation).transpose()?,
                sudo: self.sudo.clone(),
                package: self.package,
                writes_content: self.writes_content,
                creates_in_own_namespace: self.creates_in_own_namespace,
            }),
        })
    }
}

/// What the policy answered, with the names the output keys it by.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// A decision and the ref names of its push, in request order.
    Decision(Decision, Vec<String>),
    /// Each repository as requested, and its decision.
    Batch(Vec<(String, Decision)>),
    /// Each ref name and its permissions.
    Permissions(Vec<(String, RefPermissions)>),
}

fn credential(def: &CredentialDef, world: &World) -> Res<Credential> {
    Ok(match def {
        CredentialDef::Anonymous => Credential::Anonymous,
        CredentialDef::Bearer(t) => Credential::Bearer(t.clone()),
        CredentialDef::Basic { username, password } => Credential::Basic {
            username: username.clone(),
            password: password.clone(),
        },
        CredentialDef::SshKey(id) => Credential::SshKey(
            world
                .ssh_key(id)
                .ok_or_else(|| format!("unknown ssh key `{id}`"))?,
        ),
        CredentialDef::Session(u) => Credential::Session(u.clone()),
    })
}

/// The host's facts for a world (`facts.rs` `lookup` and `repositories`): the token's
/// record and its owner's account, the account, the `sudo` target, then the repository
/// (its registrant only when asked) and namespace as the query's viewer sees them.
pub struct WorldFacts<'w> {
    pub world: &'w World,
}

impl Facts for WorldFacts<'_> {
    fn lookup(&mut self, q: &FactQuery<'_>) -> FactAnswer {
        let w = self.world;
        let token = q.token.and_then(|id| w.token(id)).map(|r| r.facts());
        let owner_name = token.as_ref().map(|t| t.owner.clone());
        let viewer = match q.viewer {
            Viewer::Anonymous => None,
            Viewer::TokenOwner => owner_name.as_deref(),
            Viewer::Account => q.account,
            Viewer::Sudo => q.sudo,
        };
        FactAnswer {
            owner: owner_name.as_deref().and_then(|o| w.user(o)),
            account: q.account.and_then(|a| w.user(a)),
            sudo: q.sudo.and_then(|s| w.user(s)),
            repository: q
                .repository
                .and_then(|p| w.repository(p, viewer, q.registrant)),
            namespace: q.namespace.and_then(|n| w.namespace(n, viewer)),
            token,
        }
    }

    fn repositories(
        &mut self,
        paths: &[String],
        viewer: Option<&str>,
    ) -> Vec<Option<RepositoryFacts>> {
        paths
            .iter()
            .map(|p| self.world.repository(p, viewer, false))
            .collect()
    }
}

/// A policy call: what the host passes beside its facts.
#[derive(Clone, Debug)]
pub enum Call {
    One(AuthorizeRequest),
    Batch(BatchRequest),
    Perms(RefPermissionsRequest),
}

/// The host's request building (`request.rs`): the call a request makes. The policy asks
/// for its facts itself, during the call.
pub fn call(world: &World, request: &RequestDef, now: i64) -> Res<Call> {
    let credential = credential(&request.credential, world)?;
    let now = request.now.unwrap_or(now);
    Ok(match request.kind {
        KindDef::Git | KindDef::Create | KindDef::Api => Call::One(AuthorizeRequest {
            credential,
            also_presented: request.also_presented.clone(),
            request: request.to_core()?,
            now,
            explain: request.explain,
        }),
        KindDef::Batch => {
            let g = request.git(String::new())?;
            Call::Batch(BatchRequest {
                credential,
                also_presented: request.also_presented.clone(),
                transport: g.transport,
                action: g.action,
                repositories: request
                    .repositories
                    .iter()
                    .map(|r| repository_path(r).to_string())
                    .collect(),
                now,
                explain: request.explain,
            })
        }
        KindDef::RefPermissions => Call::Perms(RefPermissionsRequest {
            credential,
            also_presented: request.also_presented.clone(),
            transport: request.transport(),
            repository: request.repository()?,
            refs: request.ref_names.clone(),
            now,
        }),
    })
}

/// The host's `authorize` (the native core never fails, so there is no failure path).
pub fn authorize(
    policy: &Authorizer,
    world: &World,
    request: &RequestDef,
    now: i64,
) -> Res<Outcome> {
    let mut facts = WorldFacts { world };
    Ok(match call(world, request, now)? {
        Call::One(r) => {
            let names = match &r.request {
                Request::Git(g) => g.refs.iter().map(|u| u.name.clone()).collect(),
                _ => vec![],
            };
            Outcome::Decision(policy.authorize(&r, &mut facts), names)
        }
        Call::Batch(b) => {
            let decisions = policy.authorize_batch(&b, &mut facts);
            Outcome::Batch(
                request
                    .repositories
                    .iter()
                    .cloned()
                    .zip(decisions)
                    .collect(),
            )
        }
        Call::Perms(p) => {
            let grants = policy.ref_permissions(&p, &mut facts);
            Outcome::Permissions(p.refs.iter().cloned().zip(grants.refs).collect())
        }
    })
}

/// A decision as `forge-authz decide` prints it (`DecisionOutput`); its ref verdicts are
/// named by the push's ref names, in order.
fn decision_output(d: &Decision, names: &[String]) -> serde_json::Value {
    use serde_json::{Map, Value};
    let allow = d.allow();
    let mut o = Map::new();
    o.insert(
        "decision".into(),
        if allow { "allow" } else { "deny" }.into(),
    );
    o.insert("status".into(), d.status().http().into());
    o.insert("reason".into(), d.reason.code().into());
    if let Some(message) = &d.message {
        o.insert("message".into(), message.clone().into());
    }
    if let Some(detail) = &d.detail {
        o.insert("detail".into(), detail.clone().into());
    }
    if let Some(verdicts) = d.refs.as_ref().filter(|r| !r.is_empty()) {
        let refs: Vec<Value> = verdicts
            .iter()
            .enumerate()
            .map(|(i, v)| {
                serde_json::json!({
                    "name": names.get(i),
                    "decision": if v.allow() && allow { "allow" } else { "deny" },
                    "reason": v.reason.code(),
                    "message": v.message,
                })
            })
            .collect();
        o.insert("refs".into(), refs.into());
    }
    if let Some(steps) = d.trace.as_ref().filter(|t| !t.is_empty()) {
        let trace: Vec<Value> = steps
            .iter()
            .map(|s| {
                serde_json::json!({
                    "rule": s.rule.name(),
                    "outcome": s.outcome.name(),
                    "detail": s.detail,
                })
            })
            .collect();
        o.insert("trace".into(), trace.into());
    }
    Value::Object(o)
}

/// An outcome as printed (`outcome_output`).
pub fn outcome_output(o: &Outcome) -> serde_json::Value {
    use serde_json::Value;
    match o {
        Outcome::Decision(d, names) => decision_output(d, names),
        Outcome::Batch(list) => list
            .iter()
            .map(|(repo, d)| {
                let mut v = decision_output(d, &[]);
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("repository".into(), repo.clone().into());
                }
                v
            })
            .collect(),
        Outcome::Permissions(p) => {
            let mut map = serde_json::Map::new();
            for (name, r) in p {
                let list: Vec<Value> = [
                    (r.create, "create"),
                    (r.push, "push"),
                    (r.force_push, "force-push"),
                ]
                .into_iter()
                .filter(|(on, _)| *on)
                .map(|(_, x)| Value::from(x))
                .collect();
                map.insert(name.clone(), Value::from(list));
            }
            Value::Object(map)
        }
    }
}

// ---------------------------------------------------------------------------------------
// The corpus (tests/src/scenario.rs).

/// How to mint one token of a family.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSpec {
    pub owner: String,
    pub scopes: Vec<String>,
    #[serde(default)]
    pub repositories: Vec<String>,
    #[serde(default)]
    pub owners: Vec<String>,
    #[serde(default)]
    pub child: bool,
    #[serde(default)]
    pub expires_in: Option<i64>,
    #[serde(default)]
    pub revoked_at: Option<i64>,
    #[serde(default)]
    pub stored_scopes: Option<Vec<String>>,
    #[serde(default = "yes")]
    pub store: bool,
    #[serde(default)]
    pub corrupt_hash: bool,
    #[serde(default)]
    pub sign_with: Option<KeyDef>,
}

/// One ref verdict or batch entry expected.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartExpect {
    #[serde(alias = "repository")]
    pub name: String,
    pub decision: String,
    pub reason: String,
}

/// What a scenario expects (absent fields are not checked).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default)]
    pub decision: Option<String>,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub refs: Option<Vec<PartExpect>>,
    #[serde(default)]
    pub permissions: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    pub batch: Option<Vec<PartExpect>>,
    #[serde(default)]
    pub trace: Option<Vec<String>>,
    #[serde(default)]
    pub conceals: Option<String>,
}

/// One scenario.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    pub source: String,
    pub request: RequestDef,
    pub expect: Expect,
}

/// A scenario file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Family {
    pub family: String,
    #[allow(dead_code, reason = "documentation for readers of the file")]
    pub description: String,
    pub world: World,
    #[serde(default)]
    pub tokens: BTreeMap<String, TokenSpec>,
    pub scenarios: Vec<Scenario>,
    #[serde(skip)]
    pub path: PathBuf,
}

/// `tests/scenarios`, next to this crate.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios")
}

/// Every file in the corpus directory, sorted.
pub fn corpus_files() -> Vec<PathBuf> {
    let dir = corpus_dir();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    paths.sort();
    paths
}

/// Parse and validate one family file (as `load_corpus` does).
pub fn load_family(p: &Path) -> Res<Family> {
    let text = std::fs::read_to_string(p).map_err(|e| format!("reading {}: {e}", p.display()))?;
    let mut fam: Family =
        serde_json::from_str(&text).map_err(|e| format!("parsing {}: {e}", p.display()))?;
    fam.world
        .validate()
        .map_err(|e| format!("{}: {e}", p.display()))?;
    if fam.world.now.is_none() {
        fail!("{}: world.now is required", p.display());
    }
    fam.path = p.to_path_buf();
    Ok(fam)
}

/// Every `*.json` family, sorted by file name (the host's `load_corpus`).
pub fn load_corpus() -> Res<Vec<Family>> {
    corpus_files()
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| load_family(p))
        .collect()
}

/// Tokens minted for a family: name -> secret.
pub type Minted = BTreeMap<String, String>;

/// Entropy for minting: the host draws it from the OS; here it is derived from the family
/// and token names (distinct per token, reproducible per run).
fn entropy(family: &str, name: &str) -> [u8; ENTROPY_BYTES] {
    let mut out = [0u8; ENTROPY_BYTES];
    for (counter, chunk) in (0u8..).zip(out.chunks_mut(32)) {
        let digest = Sha256::new()
            .chain_update(family.as_bytes())
            .chain_update([0u8])
            .chain_update(name.as_bytes())
            .chain_update([counter])
            .finalize();
        chunk.copy_from_slice(&digest[..chunk.len()]);
    }
    out
}

/// Build the policy for a family's world, mint its tokens, return the world with their
/// records stored (the host's `prepare`).
pub fn prepare(fam: &Family) -> Res<(Authorizer, World, Minted)> {
    let mut world = fam.world.clone();
    let now = world.now();
    let policy = Authorizer::new(&world.config()?)
        .map_err(|e| format!("{}: config refused: {e:?}", fam.family))?;
    let mut minted = Minted::new();
    for (name, spec) in &fam.tokens {
        let request = IssueRequest {
            owner: spec.owner.clone(),
            name: name.clone(),
            scopes: spec.scopes.clone(),
            repositories: spec.repositories.clone(),
            owners: spec.owners.clone(),
            expires: Some(now + spec.expires_in.unwrap_or(30 * 86_400)),
            now,
            creator: Actor::Session(Account {
                name: spec.owner.clone(),
                facts: UserFacts {
                    status: AccountStatus::Active,
                    organization: false,
                    ..world.user(&spec.owner).unwrap_or(UserFacts {
                        status: AccountStatus::Active,
                        site_admin: false,
                        visibility: Visibility::Public,
                        organization: false,
                    })
                },
            }),
            existing_names: vec![],
            bound_facts: spec
                .repositories
                .iter()
                .map(|r| BoundRepository {
                    repository: r.clone(),
                    facts: world.repository(r, Some(&spec.owner), false),
                })
                .collect(),
            ip: None,
        };
        let e = entropy(&fam.family, name);
        let issued = match &spec.sign_with {
            None => policy.issue(&request, Some(&e)),
            Some(key) => {
                let signer = Authorizer::new(&Config {
                    keys: vec![SigningKey {
                        id: key.id.clone(),
                        secret: hex_decode(&key.secret)?,
                    }],
                    signing_key_id: key.id.clone(),
                    options: Options::default(),
                })
                .map_err(|e| format!("`{name}`: sign_with refused: {e:?}"))?;
                signer.issue(&request, Some(&e))
            }
        };
        let mut issued = issued.map_err(|e| format!("minting `{name}`: {e:?}"))?;
        if let Some(at) = spec.revoked_at {
            issued.record.revoked = Some(now + at);
        }
        if let Some(scopes) = &spec.stored_scopes {
            issued.record.scopes = scopes.clone();
        }
        if spec.child {
            issued.record.parent = Some("parent-token".into());
        }
        if spec.corrupt_hash {
            // A digest that binds the record to no secret.
            issued.record.secret = SecretDigest::HmacTag([0u8; 32]);
        }
        if spec.store {
            world.add_token(&issued.record);
        }
        minted.insert(name.clone(), issued.secret);
    }
    Ok((policy, world, minted))
}

/// Replace `${name}` and `${name|op:arg|...}` with minted tokens.
pub fn substitute(s: &str, minted: &Minted) -> Res<String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or("unterminated ${")?;
        let expr = &after[..end];
        let mut parts = expr.split('|');
        let name = parts.next().unwrap_or_default();
        let mut token = minted
            .get(name)
            .ok_or_else(|| format!("no token named `{name}`"))?
            .clone();
        for op in parts {
            token = apply(&token, op)?;
        }
        out.push_str(&token);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn resum(body_with_dot: &str) -> String {
    format!(
        "{body_with_dot}{:08x}",
        crc32(body_with_dot.trim_end_matches('.').as_bytes())
    )
}

fn apply(token: &str, op: &str) -> Res<String> {
    let (name, arg) = op.split_once(':').unwrap_or((op, ""));
    let mut chars: Vec<char> = token.chars().collect();
    let num = |s: &str| -> Res<usize> { s.parse().map_err(|e| format!("`{op}`: {e}")) };
    Ok(match name {
        "flip" | "flip-resum" => {
            let i = num(arg)?;
            let c = chars.get_mut(i).ok_or("flip index out of range")?;
            *c = if *c == 'A' { 'B' } else { 'A' };
            let t: String = chars.into_iter().collect();
            if name == "flip-resum" {
                let cut = t.rfind('.').ok_or("no checksum field")?;
                resum(&t[..=cut])
            } else {
                t
            }
        }
        "set" => {
            let (i, c) = arg.split_once(':').ok_or("set:I:C")?;
            let i = num(i)?;
            *chars.get_mut(i).ok_or("set index out of range")? =
                c.chars().next().ok_or("set needs a character")?;
            chars.into_iter().collect()
        }
        "truncate" => chars.into_iter().take(num(arg)?).collect(),
        "append" => format!("{token}{arg}"),
        "replace" => {
            let (a, b) = arg.split_once(':').ok_or("replace:A:B")?;
            let t = token.replacen(a, b, 1);
            let cut = t.rfind('.').ok_or("no checksum field")?;
            resum(&t[..=cut])
        }
        other => fail!("unknown token operation `{other}`"),
    })
}

/// Substitute tokens into a request's credentials.
pub fn resolve(request: &RequestDef, minted: &Minted) -> Res<RequestDef> {
    let mut r = request.clone();
    r.credential = match &request.credential {
        CredentialDef::Bearer(t) => CredentialDef::Bearer(substitute(t, minted)?),
        CredentialDef::Basic { username, password } => CredentialDef::Basic {
            username: substitute(username, minted)?,
            password: substitute(password, minted)?,
        },
        other => other.clone(),
    };
    r.also_presented = request
        .also_presented
        .iter()
        .map(|t| substitute(t, minted))
        .collect::<Res<_>>()?;
    Ok(r)
}

/// Run every scenario of a family: (scenario name, outcome as printed, token ids named).
pub fn run_family(fam: &Family) -> Res<Vec<(String, serde_json::Value)>> {
    let (policy, world, minted) = prepare(fam)?;
    let now = world.now();
    let ids: Vec<(String, String)> = minted
        .iter()
        .filter_map(|(name, secret)| {
            policy::inspect(secret)
                .ok()
                .map(|i| (i.token_id, format!("<token {name}>")))
        })
        .collect();
    let mut out = Vec::with_capacity(fam.scenarios.len());
    for sc in &fam.scenarios {
        let ctx = |e: String| format!("{}: {}: {e}", fam.family, sc.name);
        let mut req = resolve(&sc.request, &minted).map_err(ctx)?;
        req.explain |= explained(fam, sc);
        let outcome = authorize(&policy, &world, &req, now).map_err(ctx)?;
        let mut text = outcome_output(&outcome).to_string();
        for (id, named) in &ids {
            text = text.replace(id, named);
        }
        out.push((
            sc.name.clone(),
            serde_json::from_str(&text).map_err(|e| ctx(e.to_string()))?,
        ));
    }
    Ok(out)
}

fn str_of<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(serde_json::Value::as_str)
}

fn parts_match(got: Option<&serde_json::Value>, want: &[PartExpect], key: &str) -> bool {
    let Some(list) = got.and_then(serde_json::Value::as_array) else {
        return want.is_empty();
    };
    list.len() == want.len()
        && list.iter().zip(want).all(|(g, w)| {
            str_of(g, key) == Some(w.name.as_str())
                && str_of(g, "decision") == Some(w.decision.as_str())
                && str_of(g, "reason") == Some(w.reason.as_str())
        })
}

/// Compare an outcome with a scenario's expectation; `None` when it matches.
pub fn mismatch(sc: &Scenario, got: &serde_json::Value) -> Option<String> {
    let e = &sc.expect;
    let mut ok = true;
    if let Some(batch) = &e.batch {
        let as_parts: Vec<serde_json::Value> = got.as_array().cloned().unwrap_or_default();
        ok &= parts_match(
            Some(&serde_json::Value::from(as_parts)),
            batch,
            "repository",
        );
    } else if let Some(perms) = &e.permissions {
        let want = serde_json::to_value(perms).unwrap_or_default();
        ok &= *got == want;
    } else {
        ok &= e
            .decision
            .as_deref()
            .is_none_or(|d| str_of(got, "decision") == Some(d));
        ok &= e.status.is_none_or(|s| {
            got.get("status").and_then(serde_json::Value::as_u64) == Some(u64::from(s))
        });
        ok &= e
            .reason
            .as_deref()
            .is_none_or(|r| str_of(got, "reason") == Some(r));
        ok &= e
            .detail
            .as_deref()
            .is_none_or(|d| str_of(got, "detail") == Some(d));
        if let Some(refs) = &e.refs {
            ok &= parts_match(got.get("refs"), refs, "name");
        }
        if let Some(rules) = &e.trace {
            let steps: Vec<&str> = got
                .get("trace")
                .and_then(serde_json::Value::as_array)
                .map(|a| a.iter().filter_map(|s| str_of(s, "rule")).collect())
                .unwrap_or_default();
            let mut it = steps.iter();
            ok &= rules.iter().all(|r| it.any(|s| s == r));
        }
    }
    (!ok).then(|| format!("{}: expected {:?}\n      got {}", sc.name, e, got))
}

/// Whether a scenario runs with `explain`: its expectation names a trace, or concealment
/// compares its trace with another's (either side).
fn explained(fam: &Family, sc: &Scenario) -> bool {
    sc.expect.trace.is_some()
        || sc.expect.conceals.is_some()
        || fam
            .scenarios
            .iter()
            .any(|o| o.expect.conceals.as_deref() == Some(sc.name.as_str()))
}

/// The scenarios whose output does not conceal their target as their `conceals`
/// scenario's missing target does (outputs of `run`, in the family's order). A scenario
/// naming no scenario of the family is a failure too.
pub fn concealment_mismatches(fam: &Family, run: &[(String, serde_json::Value)]) -> Vec<String> {
    let target = |sc: &Scenario| {
        sc.request
            .repository
            .as_deref()
            .map(|r| repository_path(r).to_string())
            .or_else(|| sc.request.namespace.clone())
            .unwrap_or_default()
    };
    let hidden = |sc: &Scenario, out: &serde_json::Value| {
        let t = target(sc);
        let text = out.to_string();
        if t.is_empty() {
            text
        } else {
            text.replace(&t, "<target>")
        }
    };
    let mut out = Vec::new();
    for (sc, (_, got)) in fam.scenarios.iter().zip(run) {
        let Some(other) = &sc.expect.conceals else {
            continue;
        };
        let Some((osc, (_, ogot))) = fam
            .scenarios
            .iter()
            .zip(run)
            .find(|(o, _)| &o.name == other)
        else {
            out.push(format!("{}: conceals unknown scenario `{other}`", sc.name));
            continue;
        };
        let (a, b) = (hidden(sc, got), hidden(osc, ogot));
        if a != b {
            out.push(format!(
                "{}: does not answer as `{other}` (target aside):\n      got  {a}\n      want {b}",
                sc.name
            ));
        }
    }
    out
}
