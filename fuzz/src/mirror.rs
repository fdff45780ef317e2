//! `Arbitrary` mirrors of the policy's input types, converted into `policy::Input`.
//!
//! The mirrors are not one-to-one copies: names, scopes, ref names and times are drawn
//! mostly from small pools (so that facts, records and requests line up often enough to
//! reach the deep rules) and sometimes raw; tokens are mostly genuine (minted with the
//! test keys) or edited genuine ones, and records mostly the genuine record with edits.
//!
//! Every field of the model is filled here. When `policy::model` gains a field, add it
//! to the mirror struct and to its `convert` — the compiler points at each struct
//! literal. (Issue 8 added `UserFacts::organization`, `RepositoryFacts::registrant`,
//! `Input::sudo` and `CreationRequest::transport`; each is marked `NEW(issue 8)`.)

use arbitrary::Arbitrary;
use forge_authz_guest::policy::scope::Category;
use forge_authz_guest::policy::token::{self, secret_hash};
use forge_authz_guest::policy::{
    AccountStatus, ApiRequest, BatchTarget, CreationRequest, CreationStep, Credential, GitAction,
    GitRequest, Input, KeyKind, NamespaceFacts, PrivilegedOperation, ProtectedRef, RefAccess,
    RefUpdate, RepositoryFacts, RepositoryKind, Request, Role, SshKey, Timestamp, TokenRecord,
    Transport, UserFacts, Visibility,
};

use crate::{Genuine, NOW, edited};

/// Longest list the conversion keeps (bounds the cost of one execution).
const MAX_LIST: usize = 8;
/// Longest ref list (pushes and `ref_permissions`).
const MAX_REFS: usize = 16;

fn bounded<T, U>(v: &[T], max: usize, f: impl FnMut(&T) -> U) -> Vec<U> {
    v.iter().take(max).map(f).collect()
}

fn pick<'a>(pool: &[&'a str], i: u8) -> &'a str {
    pool[usize::from(i) % pool.len()]
}

// ---------------------------------------------------------------------------------
// Pools.

/// Users, organisations, repository names, placeholders and malformed names.
pub const NAMES: &[&str] = &[
    "alice",
    "bob",
    "carol",
    "acme",
    "app",
    "secret",
    "ALICE",
    "Bob",
    "x-access-token",
    "oauth2",
    "x-oauth-basic",
    "git",
    "token",
    "",
    "a.b-c_d",
    "..",
    "ghost",
    "al ice",
];

/// Known scopes, GitLab aliases, and a few unknown or legacy ones.
pub const SCOPES: &[&str] = &[
    "read:activitypub",
    "write:activitypub",
    "read:admin",
    "write:admin",
    "read:issue",
    "write:issue",
    "read:misc",
    "write:misc",
    "read:notification",
    "write:notification",
    "read:organization",
    "write:organization",
    "read:package",
    "write:package",
    "read:repository",
    "write:repository",
    "read:user",
    "write:user",
    "all",
    "public-only",
    "repository:pull",
    "repository:push",
    "repository:build_status",
    "user:token",
    "read_repository",
    "write_repository",
    "api",
    "read_api",
    "repo",
    "write:everything",
    "",
];

/// Full ref names, valid and not.
pub const REF_NAMES: &[&str] = &[
    "refs/heads/main",
    "refs/heads/feature/x",
    "refs/tags/v1.0",
    "refs/heads/release/1.x",
    "refs/heads/MAIN",
    "refs/pull/1/head",
    "main",
    "refs/heads/a..b",
    "refs/heads/x.lock",
    "refs/heads/",
    "refs/heads/@{x}",
];

/// Protection patterns, supported and not.
pub const PATTERNS: &[&str] = &[
    "main",
    "refs/heads/main",
    "release/*",
    "refs/tags/**",
    "*",
    "**",
    "feature/*",
    "MAIN",
    "[bad]",
    "",
];

/// HTTP methods, valid and not.
pub const METHODS: &[&str] = &[
    "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "get", "", "G T",
];

const ZERO_ID: &str = "0000000000000000000000000000000000000000";

// ---------------------------------------------------------------------------------
// Mirrors of the model's enums.

macro_rules! mirror_enum {
    ($mirror:ident => $target:ident { $($v:ident),* $(,)? }) => {
        #[derive(Arbitrary, Clone, Copy, Debug)]
        pub enum $mirror { $($v),* }
        impl From<$mirror> for $target {
            fn from(m: $mirror) -> $target {
                match m { $($mirror::$v => $target::$v),* }
            }
        }
    };
}

mirror_enum!(FAccountStatus => AccountStatus { Active, Inactive, Suspended });
mirror_enum!(FVisibility => Visibility { Public, Limited, Private });
mirror_enum!(FRepositoryKind => RepositoryKind { Hosted, Mirror, Import });
mirror_enum!(FRole => Role { None, Read, Write, Admin });
mirror_enum!(FTransport => Transport { Http, Ssh });
mirror_enum!(FGitAction => GitAction { Pull, Push });
mirror_enum!(FCreationStep => CreationStep { PushToCreate, Confirm, Abort });
mirror_enum!(FKeyKind => KeyKind { User, Deploy });
mirror_enum!(FCategory => Category {
    ActivityPub, Admin, Misc, Notification, Organization, Package, Issue, Repository, User,
});
mirror_enum!(FOperation => PrivilegedOperation {
    RepositorySettings, DeleteRepository, TransferRepository, ConvertMirror,
    GenerateFromTemplate, CreateForOtherOwner, ViewAdminDetails, Moderate,
});

// ---------------------------------------------------------------------------------
// Small building blocks.

/// A name: from [`NAMES`] or raw.
#[derive(Arbitrary, Clone, Debug)]
pub enum FName {
    Pool(u8),
    Raw(String),
}

impl FName {
    pub fn convert(&self) -> String {
        match self {
            FName::Pool(i) => pick(NAMES, *i).to_string(),
            FName::Raw(s) => s.clone(),
        }
    }
}

/// A repository path: `owner/name` from names, or raw.
#[derive(Arbitrary, Clone, Debug)]
pub enum FPath {
    Pair(FName, FName),
    Raw(String),
}

impl FPath {
    pub fn convert(&self) -> String {
        match self {
            FPath::Pair(o, n) => format!("{}/{}", o.convert(), n.convert()),
            FPath::Raw(s) => s.clone(),
        }
    }
}

/// A timestamp: minutes around [`NOW`] (so expiry and last-use collide with now), or any
/// `i64` (extremes included).
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum FTime {
    Near(i16),
    Raw(i64),
}

impl FTime {
    pub fn convert(self) -> Timestamp {
        match self {
            FTime::Near(m) => NOW + i64::from(m) * 60,
            FTime::Raw(t) => t,
        }
    }
}

/// A scope: from [`SCOPES`] or raw.
#[derive(Arbitrary, Clone, Debug)]
pub enum FScope {
    Pool(u8),
    Raw(String),
}

impl FScope {
    pub fn convert(&self) -> String {
        match self {
            FScope::Pool(i) => pick(SCOPES, *i).to_string(),
            FScope::Raw(s) => s.clone(),
        }
    }
}

/// A ref name: from [`REF_NAMES`] or raw.
#[derive(Arbitrary, Clone, Debug)]
pub enum FRefName {
    Pool(u8),
    Raw(String),
}

impl FRefName {
    pub fn convert(&self) -> String {
        match self {
            FRefName::Pool(i) => pick(REF_NAMES, *i).to_string(),
            FRefName::Raw(s) => s.clone(),
        }
    }
}

/// An object id: zeros (create/delete), a filled id, or raw.
#[derive(Arbitrary, Clone, Debug)]
pub enum FObjectId {
    Zero,
    Filled(u8),
    Raw(String),
}

impl FObjectId {
    pub fn convert(&self) -> String {
        match self {
            FObjectId::Zero => ZERO_ID.to_string(),
            FObjectId::Filled(b) => format!("{b:02x}").repeat(20),
            FObjectId::Raw(s) => s.clone(),
        }
    }
}

/// A secret presented somewhere: a genuine token, an edited genuine token (optionally
/// with its checksum fixed), a name (placeholders, empty) or raw text.
#[derive(Arbitrary, Clone, Debug)]
pub enum FSecret {
    Genuine(u8),
    Edited {
        token: u8,
        edits: Vec<[u8; 3]>,
        fix_crc: bool,
    },
    Name(FName),
    Raw(String),
}

impl FSecret {
    pub fn convert(&self, genuine: &[Genuine]) -> String {
        let g = |i: u8| &genuine[usize::from(i) % genuine.len()];
        match self {
            FSecret::Genuine(i) => g(*i).secret.clone(),
            FSecret::Edited {
                token,
                edits,
                fix_crc,
            } => edited(
                &g(*token).secret,
                &edits[..edits.len().min(MAX_LIST)],
                *fix_crc,
            ),
            FSecret::Name(n) => n.convert(),
            FSecret::Raw(s) => s.clone(),
        }
    }
}

// ---------------------------------------------------------------------------------
// Credentials.

/// A deploy key's repository: the requested one (so the key reaches it), or any path.
#[derive(Arbitrary, Clone, Debug)]
pub enum FKeyRepository {
    Requested,
    Path(FPath),
}

#[derive(Arbitrary, Clone, Debug)]
pub struct FSshKey {
    pub id: FName,
    pub kind: FKeyKind,
    pub owner: FName,
    pub repository: Option<FKeyRepository>,
    pub read_only: bool,
}

impl FSshKey {
    pub fn convert(&self, requested: &str) -> SshKey {
        SshKey {
            id: self.id.convert(),
            kind: self.kind.into(),
            owner: self.owner.convert(),
            repository: self.repository.as_ref().map(|r| match r {
                FKeyRepository::Requested => requested.to_string(),
                FKeyRepository::Path(p) => p.convert(),
            }),
            read_only: self.read_only,
        }
    }
}

#[derive(Arbitrary, Clone, Debug)]
pub enum FCredential {
    Anonymous,
    Bearer(FSecret),
    Basic {
        username: FSecret,
        password: FSecret,
    },
    SshKey(FSshKey),
    Session(FName),
}

impl FCredential {
    pub fn convert(&self, genuine: &[Genuine], requested: &str) -> Credential {
        match self {
            FCredential::Anonymous => Credential::Anonymous,
            FCredential::Bearer(s) => Credential::Bearer(s.convert(genuine)),
            FCredential::Basic { username, password } => Credential::Basic {
                username: username.convert(genuine),
                password: password.convert(genuine),
            },
            FCredential::SshKey(k) => Credential::SshKey(k.convert(requested)),
            FCredential::Session(n) => Credential::Session(n.convert()),
        }
    }
}

// ---------------------------------------------------------------------------------
// Token records.

/// Which token id a record carries.
#[derive(Arbitrary, Clone, Debug)]
pub enum FTokenId {
    OfGenuine(u8),
    /// The id of whatever secret is presented (when it parses).
    OfPresented,
    Raw(String),
}

/// Which hash a record carries.
#[derive(Arbitrary, Clone, Debug)]
pub enum FHash {
    OfGenuine(u8),
    /// SHA-256 of whatever secret is presented: a record no real store can hold for a
    /// forged secret (the fuzz target's forged-token invariant excludes this case).
    OfPresented,
    Raw(Vec<u8>),
}

/// A record written from scratch.
#[derive(Arbitrary, Clone, Debug)]
pub struct FRecord {
    pub id: FTokenId,
    pub owner: FName,
    pub name: FName,
    pub scopes: Vec<FScope>,
    pub repositories: Vec<FPath>,
    pub owners: Vec<FName>,
    pub parent: Option<FName>,
    pub predecessor: Option<FName>,
    pub successor: Option<FName>,
    pub last_used: Option<FTime>,
    pub created: FTime,
    pub expires: Option<FTime>,
    pub revoked: Option<FTime>,
    pub secret_hash: FHash,
}

/// Changes to a genuine record (each `None` keeps the issued value).
#[derive(Arbitrary, Clone, Debug)]
pub struct FRecordEdit {
    pub owner: Option<FName>,
    pub scopes: Option<Vec<FScope>>,
    pub repositories: Option<Vec<FPath>>,
    pub owners: Option<Vec<FName>>,
    pub parent: Option<Option<FName>>,
    pub successor: Option<Option<FName>>,
    pub last_used: Option<Option<FTime>>,
    pub expires: Option<Option<FTime>>,
    pub revoked: Option<Option<FTime>>,
}

#[derive(Arbitrary, Clone, Debug)]
pub enum FTokenRecord {
    /// The record issued with genuine token `i`, unchanged.
    Genuine(u8),
    /// That record with edits.
    Edited(u8, FRecordEdit),
    /// Any record.
    Raw(FRecord),
}

fn names(v: &[FName]) -> Vec<String> {
    bounded(v, MAX_LIST, FName::convert)
}

fn paths(v: &[FPath]) -> Vec<String> {
    bounded(v, MAX_LIST, FPath::convert)
}

fn scopes(v: &[FScope]) -> Vec<String> {
    bounded(v, MAX_LIST, FScope::convert)
}

impl FTokenRecord {
    pub fn convert(&self, genuine: &[Genuine], presented: Option<&str>) -> TokenRecord {
        let g = |i: u8| &genuine[usize::from(i) % genuine.len()];
        match self {
            FTokenRecord::Genuine(i) => g(*i).record.clone(),
            FTokenRecord::Edited(i, e) => {
                let mut r = g(*i).record.clone();
                if let Some(o) = &e.owner {
                    r.owner = o.convert();
                }
                if let Some(s) = &e.scopes {
                    r.scopes = scopes(s);
                }
                if let Some(p) = &e.repositories {
                    r.repositories = paths(p);
                }
                if let Some(o) = &e.owners {
                    r.owners = names(o);
                }
                if let Some(p) = &e.parent {
                    r.parent = p.as_ref().map(FName::convert);
                }
                if let Some(s) = &e.successor {
                    r.successor = s.as_ref().map(FName::convert);
                }
                if let Some(t) = e.last_used {
                    r.last_used = t.map(FTime::convert);
                }
                if let Some(t) = e.expires {
                    r.expires = t.map(FTime::convert);
                }
                if let Some(t) = e.revoked {
                    r.revoked = t.map(FTime::convert);
                }
                r
            }
            FTokenRecord::Raw(f) => TokenRecord {
                id: match &f.id {
                    FTokenId::OfGenuine(i) => g(*i).record.id.clone(),
                    FTokenId::OfPresented => presented
                        .and_then(|s| token::parse(s).ok())
                        .map(|p| p.token_id.to_string())
                        .unwrap_or_default(),
                    FTokenId::Raw(s) => s.clone(),
                },
                owner: f.owner.convert(),
                name: f.name.convert(),
                scopes: scopes(&f.scopes),
                repositories: paths(&f.repositories),
                owners: names(&f.owners),
                parent: f.parent.as_ref().map(FName::convert),
                predecessor: f.predecessor.as_ref().map(FName::convert),
                successor: f.successor.as_ref().map(FName::convert),
                last_used: f.last_used.map(FTime::convert),
                created: f.created.convert(),
                expires: f.expires.map(FTime::convert),
                revoked: f.revoked.map(FTime::convert),
                secret_hash: match &f.secret_hash {
                    FHash::OfGenuine(i) => g(*i).record.secret_hash.clone(),
                    FHash::OfPresented => secret_hash(presented.unwrap_or_default()).to_vec(),
                    FHash::Raw(b) => b.clone(),
                },
            },
        }
    }
}

// ---------------------------------------------------------------------------------
// Facts.

#[derive(Arbitrary, Clone, Debug)]
pub struct FUser {
    pub name: FName,
    pub status: FAccountStatus,
    pub site_admin: bool,
    pub visibility: FVisibility,
    /// NEW(issue 8): `UserFacts::organization`.
    pub organization: bool,
}

/// The acting user: some user, or exactly the owner of genuine token `i` (active).
#[derive(Arbitrary, Clone, Debug)]
pub enum FUserChoice {
    OwnerOf(u8),
    Facts(FUser),
}

impl FUser {
    pub fn convert(&self) -> UserFacts {
        UserFacts {
            name: self.name.convert(),
            status: self.status.into(),
            site_admin: self.site_admin,
            visibility: self.visibility.into(),
            organization: self.organization, // NEW(issue 8)
        }
    }
}

impl FUserChoice {
    pub fn convert(&self, genuine: &[Genuine]) -> UserFacts {
        match self {
            FUserChoice::OwnerOf(i) => genuine[usize::from(*i) % genuine.len()].owner.clone(),
            FUserChoice::Facts(u) => u.convert(),
        }
    }
}

#[derive(Arbitrary, Clone, Debug)]
pub enum FRefAccess {
    Writers,
    Admins,
    Users(Vec<FName>),
    Nobody,
}

impl FRefAccess {
    pub fn convert(&self) -> RefAccess {
        match self {
            FRefAccess::Writers => RefAccess::Writers,
            FRefAccess::Admins => RefAccess::Admins,
            FRefAccess::Users(u) => RefAccess::Users(names(u)),
            FRefAccess::Nobody => RefAccess::Nobody,
        }
    }
}

#[derive(Arbitrary, Clone, Debug)]
pub enum FPattern {
    Pool(u8),
    Raw(String),
}

#[derive(Arbitrary, Clone, Debug)]
pub struct FProtectedRef {
    pub pattern: FPattern,
    pub push: FRefAccess,
    pub force_push: FRefAccess,
}

impl FProtectedRef {
    pub fn convert(&self) -> ProtectedRef {
        ProtectedRef {
            pattern: match &self.pattern {
                FPattern::Pool(i) => pick(PATTERNS, *i).to_string(),
                FPattern::Raw(s) => s.clone(),
            },
            push: self.push.convert(),
            force_push: self.force_push.convert(),
        }
    }
}

/// Whose facts: the repository the request names (the usual, consistent case), or
/// another one (the host bug `facts-inconsistent` must catch).
#[derive(Arbitrary, Clone, Debug)]
pub enum FRepositoryIdent {
    Requested,
    Other(FName, FName),
}

#[derive(Arbitrary, Clone, Debug)]
pub struct FRepository {
    pub ident: FRepositoryIdent,
    pub owner_visibility: FVisibility,
    pub private: bool,
    pub kind: FRepositoryKind,
    pub archived: bool,
    pub role: FRole,
    pub protected_refs: Vec<FProtectedRef>,
    /// NEW(issue 8): `RepositoryFacts::registrant`.
    pub registrant: Option<FName>,
}

fn split_path(path: &str) -> (String, String) {
    match path.split_once('/') {
        Some((o, n)) => (o.to_string(), n.to_string()),
        None => (path.to_string(), String::new()),
    }
}

impl FRepository {
    /// Facts for the repository at `requested` (or another one).
    pub fn convert(&self, requested: &str) -> RepositoryFacts {
        let (owner, name) = match &self.ident {
            FRepositoryIdent::Requested => split_path(requested),
            FRepositoryIdent::Other(o, n) => (o.convert(), n.convert()),
        };
        RepositoryFacts {
            owner,
            name,
            owner_visibility: self.owner_visibility.into(),
            private: self.private,
            kind: self.kind.into(),
            archived: self.archived,
            role: self.role.into(),
            protected_refs: bounded(&self.protected_refs, MAX_LIST, FProtectedRef::convert),
            registrant: self.registrant.as_ref().map(FName::convert), // NEW(issue 8)
        }
    }
}

/// Namespace facts: for the request's owner / API namespace, or another name.
#[derive(Arbitrary, Clone, Debug)]
pub enum FNamespaceIdent {
    Requested,
    Other(FName),
}

#[derive(Arbitrary, Clone, Debug)]
pub struct FNamespace {
    pub ident: FNamespaceIdent,
    pub organization: bool,
    pub visibility: FVisibility,
    pub member_role: FRole,
}

impl FNamespace {
    pub fn convert(&self, requested: &str) -> NamespaceFacts {
        NamespaceFacts {
            name: match &self.ident {
                FNamespaceIdent::Requested => requested.to_string(),
                FNamespaceIdent::Other(n) => n.convert(),
            },
            organization: self.organization,
            visibility: self.visibility.into(),
            member_role: self.member_role.into(),
        }
    }
}

// ---------------------------------------------------------------------------------
// Requests.

#[derive(Arbitrary, Clone, Debug)]
pub struct FRefUpdate {
    pub name: FRefName,
    pub old: FObjectId,
    pub new: FObjectId,
    pub force: bool,
}

impl FRefUpdate {
    pub fn convert(&self) -> RefUpdate {
        RefUpdate {
            name: self.name.convert(),
            old: self.old.convert(),
            new: self.new.convert(),
            force: self.force,
        }
    }
}

#[derive(Arbitrary, Clone, Debug)]
pub struct FGit {
    pub transport: FTransport,
    pub repository: FPath,
    pub action: FGitAction,
    pub refs: Vec<FRefUpdate>,
}

#[derive(Arbitrary, Clone, Debug)]
pub struct FCreate {
    /// NEW(issue 8): `CreationRequest::transport`.
    pub transport: FTransport,
    pub repository: FPath,
    pub step: FCreationStep,
}

#[derive(Arbitrary, Clone, Debug)]
pub enum FMethod {
    Pool(u8),
    Raw(String),
}

#[derive(Arbitrary, Clone, Debug)]
pub struct FApi {
    pub method: FMethod,
    pub categories: Vec<FCategory>,
    pub repository: Option<FPath>,
    pub namespace: Option<FName>,
    pub requires_auth: bool,
    pub admin_only: bool,
    pub required_role: FRole,
    pub operation: Option<FOperation>,
    pub sudo: Option<FName>,
    pub package: bool,
}

#[derive(Arbitrary, Clone, Debug)]
pub enum FRequest {
    Git(FGit),
    Create(FCreate),
    Api(FApi),
}

impl FRequest {
    pub fn convert(&self) -> Request {
        match self {
            FRequest::Git(g) => Request::Git(GitRequest {
                transport: g.transport.into(),
                repository: g.repository.convert(),
                action: g.action.into(),
                refs: bounded(&g.refs, MAX_REFS, FRefUpdate::convert),
            }),
            FRequest::Create(c) => Request::Create(CreationRequest {
                transport: c.transport.into(), // NEW(issue 8)
                repository: c.repository.convert(),
                step: c.step.into(),
            }),
            FRequest::Api(a) => Request::Api(ApiRequest {
                method: match &a.method {
                    FMethod::Pool(i) => pick(METHODS, *i).to_string(),
                    FMethod::Raw(s) => s.clone(),
                },
                categories: a
                    .categories
                    .iter()
                    .take(MAX_LIST)
                    .map(|c| (*c).into())
                    .collect(),
                repository: a.repository.as_ref().map(FPath::convert),
                namespace: a.namespace.as_ref().map(FName::convert),
                requires_auth: a.requires_auth,
                admin_only: a.admin_only,
                required_role: a.required_role.into(),
                operation: a.operation.map(Into::into),
                sudo: a.sudo.as_ref().map(FName::convert),
                package: a.package,
            }),
        }
    }
}

/// The repository path a request names (for `Requested` facts).
fn requested_path(request: &Request) -> String {
    match request {
        Request::Git(g) => g.repository.clone(),
        Request::Create(c) => c.repository.clone(),
        Request::Api(a) => a.repository.clone().unwrap_or_default(),
    }
}

/// The namespace a request names (for `Requested` namespace facts).
fn requested_namespace(request: &Request) -> String {
    match request {
        Request::Api(a) => a
            .namespace
            .clone()
            .unwrap_or_else(|| split_path(&requested_path(request)).0),
        _ => split_path(&requested_path(request)).0,
    }
}

// ---------------------------------------------------------------------------------
// The whole input of the `decide` target.

#[derive(Arbitrary, Clone, Debug)]
pub struct FBatchTarget {
    pub repository: FPath,
    pub facts: Option<FRepository>,
}

/// One execution of `decide`: the input, the authorizer's options, batch targets and
/// ref names for `decide_batch` and `ref_permissions`.
#[derive(Arbitrary, Clone, Debug)]
pub struct FDecide {
    /// Use the authorizer with `binding_fallback_to_anonymous` (Forgejo).
    pub fallback: bool,
    pub credential: FCredential,
    pub also_presented: Vec<FSecret>,
    pub token: Option<FTokenRecord>,
    pub user: Option<FUserChoice>,
    pub repository: Option<FRepository>,
    pub namespace: Option<FNamespace>,
    /// NEW(issue 8): `Input::sudo`.
    pub sudo: Option<FUser>,
    pub request: FRequest,
    pub now: FTime,
    pub explain: bool,
    pub batch: Vec<FBatchTarget>,
    pub ref_names: Vec<FRefName>,
}

impl FDecide {
    pub fn input(&self, genuine: &[Genuine]) -> Input {
        let request = self.request.convert();
        let path = requested_path(&request);
        let namespace = requested_namespace(&request);
        let credential = self.credential.convert(genuine, &path);
        let also_presented: Vec<String> = self
            .also_presented
            .iter()
            .take(4)
            .map(|s| s.convert(genuine))
            .collect();
        let mut input = Input {
            credential,
            also_presented,
            token: None,
            user: self.user.as_ref().map(|u| u.convert(genuine)),
            repository: self.repository.as_ref().map(|r| r.convert(&path)),
            namespace: self.namespace.as_ref().map(|n| n.convert(&namespace)),
            sudo: self.sudo.as_ref().map(FUser::convert), // NEW(issue 8)
            request,
            now: self.now.convert(),
            explain: self.explain,
        };
        let presented = crate::effective_secret(&input).map(str::to_string);
        input.token = self
            .token
            .as_ref()
            .map(|t| t.convert(genuine, presented.as_deref()));
        input
    }

    pub fn batch(&self) -> Vec<BatchTarget> {
        bounded(&self.batch, MAX_LIST, |t| {
            let repository = t.repository.convert();
            BatchTarget {
                facts: t.facts.as_ref().map(|f| f.convert(&repository)),
                repository,
            }
        })
    }

    pub fn ref_names(&self) -> Vec<String> {
        bounded(&self.ref_names, MAX_REFS, FRefName::convert)
    }
}
