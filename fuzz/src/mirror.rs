//! `Arbitrary` mirrors of the policy's inputs and of a fuzz [`World`], converted into a
//! [`Case`]: one `AuthorizeRequest`, the world that answers its fact queries, a
//! `BatchRequest` and a `RefPermissionsRequest` with the same credential, and further
//! calls with the same or another credential after changes to the stored records.
//!
//! The mirrors are not one-to-one copies: names, scopes, ref names and times are drawn
//! mostly from small pools (so that the world's entries, the records and the request line
//! up often enough to reach the deep rules) and sometimes raw; tokens are mostly genuine
//! (minted with the test keys) or edited genuine ones, and records mostly the genuine
//! record with edits.
//!
//! Every field of the model is filled here. When `policy::model` gains a field, add it to
//! the mirror struct and to its conversion — the compiler points at each struct literal.
//! (Contract 0.4 replaced the facts beside the request by the world; the types it added or
//! changed — `SecretDigest`, `Method`, `Categories`, `RefChange`, viewers, registrant on
//! request — are marked `NEW(0.4)`.)

use arbitrary::Arbitrary;
use forge_authz_guest::policy::scope::{Categories, Category};
use forge_authz_guest::policy::token::{self, secret_hash};
use forge_authz_guest::policy::vocabulary;
use forge_authz_guest::policy::{
    AccountStatus, ApiRequest, AuthorizeRequest, BatchRequest, CreationRequest, CreationStep,
    Credential, GitAction, GitRequest, KeyKind, Method, NamespaceFacts, PrivilegedOperation,
    ProtectedRef, RefAccess, RefChange, RefPermissionsRequest, RefUpdate, RepositoryFacts,
    RepositoryKind, Request, Role, SecretDigest, SshKey, Timestamp, TokenRecord, Transport,
    UserFacts, Visibility,
};

use crate::world::{NamespaceEntry, RepoEntry, World};
use crate::{Genuine, NOW, edited, effective_secret, owner_part};

/// Longest list the conversion keeps (bounds the cost of one execution).
const MAX_LIST: usize = 8;
/// Longest ref list (pushes and `ref_permissions`).
const MAX_REFS: usize = 16;
/// Most further calls after the first.
const MAX_AGAIN: usize = 3;

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

/// A few unknown or legacy scopes, drawn beside the policy's own list
/// ([`vocabulary::SCOPES`]).
pub const UNKNOWN_SCOPES: &[&str] = &["repo", "write:everything", ""];

/// The scope at pool index `i`: the known ones, then [`UNKNOWN_SCOPES`].
fn scope(i: u8) -> &'static str {
    let i = usize::from(i) % (vocabulary::SCOPES.len() + UNKNOWN_SCOPES.len());
    vocabulary::SCOPES
        .get(i)
        .or_else(|| UNKNOWN_SCOPES.get(i - vocabulary::SCOPES.len()))
        .copied()
        .unwrap_or("")
}

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

/// Methods sent as `Method::Other`: names of the known ones in any case (which must
/// behave as the known ones), other valid methods, and malformed ones.
pub const OTHER_METHODS: &[&str] = &[
    "GET",
    "get",
    "Head",
    "OPTIONS",
    "POST",
    "delete",
    "PROPFIND",
    "MKCOL",
    "X",
    "",
    "G T",
    "GET1",
    "ABCDEFGHIJKLMNOPQRSTU",
];

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

/// A value of one of the core's closed lists ([`vocabulary`]), drawn by index: the list is
/// the core's, so a value the core adds is drawn too.
macro_rules! vocabulary_pick {
    ($mirror:ident => $target:ident in $list:expr) => {
        #[derive(Arbitrary, Clone, Copy, Debug)]
        pub struct $mirror(pub u8);
        impl From<$mirror> for $target {
            fn from(m: $mirror) -> $target {
                $list[usize::from(m.0) % $list.len()]
            }
        }
    };
}

mirror_enum!(FAccountStatus => AccountStatus { Active, Inactive, Suspended });
mirror_enum!(FVisibility => Visibility { Public, Limited, Private });
mirror_enum!(FRepositoryKind => RepositoryKind { Hosted, Mirror, Import });
vocabulary_pick!(FRole => Role in vocabulary::ROLES);
mirror_enum!(FTransport => Transport { Http, Ssh });
vocabulary_pick!(FGitAction => GitAction in vocabulary::GIT_ACTIONS);
vocabulary_pick!(FCreationStep => CreationStep in vocabulary::CREATION_STEPS);
mirror_enum!(FKeyKind => KeyKind { User, Deploy });
mirror_enum!(FRefChange => RefChange { Create, Update, Delete }); // NEW(0.4)
mirror_enum!(FKnownMethod => Method { Get, Head, Options, Post, Put, Patch, Delete }); // NEW(0.4)
vocabulary_pick!(FCategory => Category in vocabulary::CATEGORIES);
vocabulary_pick!(FOperation => PrivilegedOperation in vocabulary::OPERATIONS);

// ---------------------------------------------------------------------------------
// Small building blocks.

/// NEW(0.6): an IP allow list (README, "IP allow lists"): none, IPv4, IPv4 and IPv6, or
/// blocks that do not parse (which match nothing).
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum FIpList {
    None,
    V4,
    Mixed,
    Broken,
}

impl FIpList {
    pub fn convert(self) -> Vec<String> {
        let blocks: &[&str] = match self {
            FIpList::None => &[],
            FIpList::V4 => &["192.0.2.0/24"],
            FIpList::Mixed => &["2001:db8::/32", "198.51.100.0/24"],
            FIpList::Broken => &["192.0.2.0/33", "not a block"],
        };
        blocks.iter().map(|b| b.to_string()).collect()
    }
}

/// NEW(0.6): a client address, inside or outside the blocks of [`FIpList`], or garbage.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum FAddress {
    Inside,
    Mapped,
    V6,
    Outside,
    Garbage,
}

impl FAddress {
    pub fn convert(self) -> String {
        match self {
            FAddress::Inside => "192.0.2.7",
            FAddress::Mapped => "::ffff:192.0.2.7",
            FAddress::V6 => "2001:db8::1",
            FAddress::Outside => "203.0.113.5",
            FAddress::Garbage => "192.0.2.300",
        }
        .to_string()
    }
}

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
            FScope::Pool(i) => scope(*i).to_string(),
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

/// NEW(0.4): which digest binds a record to a secret.
#[derive(Arbitrary, Clone, Debug)]
pub enum FDigest {
    /// The issued record's: the HMAC tag of genuine token `i`.
    OfGenuine(u8),
    /// A record from before 0.4: SHA-256 of genuine token `i`.
    LegacyOfGenuine(u8),
    /// The tag field of whatever secret is presented (when it parses): for a forged token,
    /// a record no real store holds — it must not help, since verification comes first.
    PresentedTag,
    /// SHA-256 of whatever secret is presented (likewise).
    PresentedSha256,
    Raw {
        legacy: bool,
        bytes: [u8; 32],
    },
}

impl FDigest {
    pub fn convert(&self, genuine: &[Genuine], presented: Option<&str>) -> SecretDigest {
        let g = |i: u8| &genuine[usize::from(i) % genuine.len()];
        match self {
            FDigest::OfGenuine(i) => g(*i).record.secret,
            FDigest::LegacyOfGenuine(i) => SecretDigest::Sha256(secret_hash(&g(*i).secret)),
            FDigest::PresentedTag => SecretDigest::HmacTag(
                presented
                    .and_then(|s| token::parse(s).ok())
                    .map_or([0; 32], |p| p.tag),
            ),
            FDigest::PresentedSha256 => {
                SecretDigest::Sha256(secret_hash(presented.unwrap_or_default()))
            }
            FDigest::Raw { legacy, bytes } => {
                if *legacy {
                    SecretDigest::Sha256(*bytes)
                } else {
                    SecretDigest::HmacTag(*bytes)
                }
            }
        }
    }
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
    pub secret: FDigest,
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
    pub secret: Option<FDigest>,
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

impl FRecordEdit {
    pub fn apply(&self, r: &mut TokenRecord, genuine: &[Genuine], presented: Option<&str>) {
        if let Some(o) = &self.owner {
            r.owner = o.convert();
        }
        if let Some(s) = &self.scopes {
            r.scopes = scopes(s);
        }
        if let Some(p) = &self.repositories {
            r.repositories = paths(p);
        }
        if let Some(o) = &self.owners {
            r.owners = names(o);
        }
        if let Some(p) = &self.parent {
            r.parent = p.as_ref().map(FName::convert);
        }
        if let Some(s) = &self.successor {
            r.successor = s.as_ref().map(FName::convert);
        }
        if let Some(t) = self.last_used {
            r.last_used = t.map(FTime::convert);
        }
        if let Some(t) = self.expires {
            r.expires = t.map(FTime::convert);
        }
        if let Some(t) = self.revoked {
            r.revoked = t.map(FTime::convert);
        }
        if let Some(d) = &self.secret {
            r.secret = d.convert(genuine, presented);
        }
    }
}

impl FTokenRecord {
    pub fn convert(&self, genuine: &[Genuine], presented: Option<&str>) -> TokenRecord {
        let g = |i: u8| &genuine[usize::from(i) % genuine.len()];
        match self {
            FTokenRecord::Genuine(i) => g(*i).record.clone(),
            FTokenRecord::Edited(i, e) => {
                let mut r = g(*i).record.clone();
                e.apply(&mut r, genuine, presented);
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
                secret: f.secret.convert(genuine, presented), // NEW(0.4)
            },
        }
    }
}

// ---------------------------------------------------------------------------------
// The world: accounts, repositories, namespaces.

#[derive(Arbitrary, Clone, Copy, Debug)]
pub struct FUser {
    pub status: FAccountStatus,
    pub site_admin: bool,
    pub visibility: FVisibility,
    pub organization: bool,
}

impl FUser {
    pub fn convert(self) -> UserFacts {
        UserFacts {
            status: self.status.into(),
            site_admin: self.site_admin,
            visibility: self.visibility.into(),
            organization: self.organization,
        }
    }
}

/// An account of the world: exactly the (active) owner of genuine token `i`, or any
/// login with any facts.
#[derive(Arbitrary, Clone, Debug)]
pub enum FUserEntry {
    OwnerOf(u8),
    Named(FName, FUser),
}

impl FUserEntry {
    pub fn convert(&self, genuine: &[Genuine]) -> (String, UserFacts) {
        match self {
            FUserEntry::OwnerOf(i) => {
                let g = &genuine[usize::from(*i) % genuine.len()];
                (g.record.owner.clone(), g.owner)
            }
            FUserEntry::Named(n, u) => (n.convert(), u.convert()),
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

/// Roles as the world answers them for each viewer: a default for any signed-in viewer,
/// particular logins, and — NEW(0.4) — what an anonymous viewer is told (`None`: the
/// honest `none`; else a wrong host's answer, which must not give an anonymous principal
/// anything).
#[derive(Arbitrary, Clone, Debug)]
pub struct FRoles {
    pub default: FRole,
    pub logins: Vec<(FName, FRole)>,
    pub anonymous: Option<FRole>,
}

impl FRoles {
    fn logins(&self) -> Vec<(String, Role)> {
        bounded(&self.logins, MAX_LIST, |(n, r)| (n.convert(), (*r).into()))
    }

    fn anonymous(&self) -> Role {
        self.anonymous.map_or(Role::None, Into::into)
    }
}

/// Where a repository of the world is: the path the request names (the usual case), or
/// another one.
#[derive(Arbitrary, Clone, Debug)]
pub enum FRepositoryIdent {
    Requested,
    Path(FPath),
}

#[derive(Arbitrary, Clone, Debug)]
pub struct FRepository {
    pub owner_visibility: FVisibility,
    pub private: bool,
    pub kind: FRepositoryKind,
    pub archived: bool,
    pub roles: FRoles,
    pub protected_refs: Vec<FProtectedRef>,
    pub registrant: Option<FName>,
    pub owner_ip_allow: FIpList,
}

impl FRepository {
    pub fn convert(&self, path: String) -> RepoEntry {
        RepoEntry {
            path,
            facts: RepositoryFacts {
                owner_ip_allow: self.owner_ip_allow.convert(),
                owner_visibility: self.owner_visibility.into(),
                private: self.private,
                kind: self.kind.into(),
                archived: self.archived,
                role: self.roles.default.into(),
                protected_refs: bounded(&self.protected_refs, MAX_LIST, FProtectedRef::convert),
                registrant: self.registrant.as_ref().map(FName::convert),
            },
            roles: self.roles.logins(),
            anonymous_role: self.roles.anonymous(),
        }
    }
}

#[derive(Arbitrary, Clone, Debug)]
pub struct FRepoEntry {
    pub ident: FRepositoryIdent,
    pub facts: FRepository,
}

/// Where a namespace of the world is: the request's (the API route's namespace, else the
/// owner of the repository it names), or another name.
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
    pub roles: FRoles,
    pub ip_allow: FIpList,
}

impl FNamespace {
    pub fn convert(&self, requested: &str) -> NamespaceEntry {
        NamespaceEntry {
            name: match &self.ident {
                FNamespaceIdent::Requested => requested.to_string(),
                FNamespaceIdent::Other(n) => n.convert(),
            },
            facts: NamespaceFacts {
                ip_allow: self.ip_allow.convert(),
                organization: self.organization,
                visibility: self.visibility.into(),
                member_role: self.roles.default.into(),
            },
            roles: self.roles.logins(),
            anonymous_role: self.roles.anonymous(),
        }
    }
}

/// The world of one execution. Lists are bounded by the conversion.
#[derive(Arbitrary, Clone, Debug)]
pub struct FWorld {
    pub records: Vec<FTokenRecord>,
    pub users: Vec<FUserEntry>,
    pub repositories: Vec<FRepoEntry>,
    pub namespaces: Vec<FNamespace>,
}

/// A change to the store between two calls (applied to every record, or to the accounts
/// of every record's owner).
#[derive(Arbitrary, Clone, Debug)]
pub enum FChange {
    Edit(FRecordEdit),
    Revoke(FTime),
    Unrevoke,
    Expires(Option<FTime>),
    Digest(FDigest),
    Remove,
    Insert(FTokenRecord),
    OwnerStatus(FAccountStatus),
    OwnerFacts(FUser),
}

impl FChange {
    pub fn apply(&self, w: &mut World, genuine: &[Genuine], presented: Option<&str>) {
        match self {
            FChange::Edit(e) => w
                .records
                .iter_mut()
                .for_each(|r| e.apply(r, genuine, presented)),
            FChange::Revoke(t) => w
                .records
                .iter_mut()
                .for_each(|r| r.revoked = Some(t.convert())),
            FChange::Unrevoke => w.records.iter_mut().for_each(|r| r.revoked = None),
            FChange::Expires(t) => w
                .records
                .iter_mut()
                .for_each(|r| r.expires = t.map(FTime::convert)),
            FChange::Digest(d) => {
                let d = d.convert(genuine, presented);
                w.records.iter_mut().for_each(|r| r.secret = d);
            }
            FChange::Remove => w.records.clear(),
            FChange::Insert(r) => w.records.insert(0, r.convert(genuine, presented)),
            FChange::OwnerStatus(s) => {
                let owners: Vec<String> = w.records.iter().map(|r| r.owner.clone()).collect();
                for (n, f) in &mut w.users {
                    if owners.iter().any(|o| o.eq_ignore_ascii_case(n)) {
                        f.status = (*s).into();
                    }
                }
            }
            FChange::OwnerFacts(u) => {
                let owners: Vec<String> = w.records.iter().map(|r| r.owner.clone()).collect();
                for (n, f) in &mut w.users {
                    if owners.iter().any(|o| o.eq_ignore_ascii_case(n)) {
                        *f = u.convert();
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Requests.

#[derive(Arbitrary, Clone, Debug)]
pub struct FRefUpdate {
    pub name: FRefName,
    pub change: FRefChange, // NEW(0.4): was old and new object ids
    pub force: bool,
}

impl FRefUpdate {
    pub fn convert(&self) -> RefUpdate {
        RefUpdate {
            name: self.name.convert(),
            change: self.change.into(),
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
    pub transport: FTransport,
    pub repository: FPath,
    pub step: FCreationStep,
}

/// NEW(0.4): a method, known (one of the contract's cases) or sent as `Other` (pooled or
/// raw).
#[derive(Arbitrary, Clone, Debug)]
pub enum FMethod {
    Known(FKnownMethod),
    Other(u8),
    Raw(String),
}

impl FMethod {
    pub fn convert(&self) -> Method {
        match self {
            FMethod::Known(m) => (*m).into(),
            FMethod::Other(i) => Method::Other(pick(OTHER_METHODS, *i).to_string()),
            FMethod::Raw(s) => Method::Other(s.clone()),
        }
    }
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
    /// NEW(0.5): the route writes repository content.
    pub writes_content: bool,
    /// NEW(0.5): the route creates in the actor's own namespace.
    pub creates_in_own_namespace: bool,
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
                transport: c.transport.into(),
                repository: c.repository.convert(),
                step: c.step.into(),
            }),
            FRequest::Api(a) => Request::Api(ApiRequest {
                method: a.method.convert(),
                categories: Categories::of(
                    // NEW(0.4): a set
                    &bounded(&a.categories, MAX_LIST, |c| (*c).into()),
                ),
                repository: a.repository.as_ref().map(FPath::convert),
                namespace: a.namespace.as_ref().map(FName::convert),
                requires_auth: a.requires_auth,
                admin_only: a.admin_only,
                required_role: a.required_role.into(),
                operation: a.operation.map(Into::into),
                sudo: a.sudo.as_ref().map(FName::convert),
                package: a.package,
                writes_content: a.writes_content,
                creates_in_own_namespace: a.creates_in_own_namespace,
            }),
        }
    }
}

/// The repository path a request names (for `Requested` entries).
pub fn requested_path(request: &Request) -> String {
    match request {
        Request::Git(g) => g.repository.clone(),
        Request::Create(c) => c.repository.clone(),
        Request::Api(a) => a.repository.clone().unwrap_or_default(),
    }
}

/// The namespace a request names (for `Requested` namespace entries).
fn requested_namespace(request: &Request) -> String {
    match request {
        Request::Api(a) => a
            .namespace
            .clone()
            .unwrap_or_else(|| owner_part(&requested_path(request)).to_string()),
        _ => owner_part(&requested_path(request)).to_string(),
    }
}

// ---------------------------------------------------------------------------------
// The whole input of the `decide` target.

/// A repository of the batch, with the world's entry for it (`None`: no such
/// repository, unless another entry has the same path).
#[derive(Arbitrary, Clone, Debug)]
pub struct FBatchTarget {
    pub repository: FPath,
    pub facts: Option<FRepository>,
}

/// A further call after the first: the same credential (`None`) or another one, after
/// these changes to the store, at the same time or another.
#[derive(Arbitrary, Clone, Debug)]
pub struct FAgain {
    pub credential: Option<FCredential>,
    pub changes: Vec<FChange>,
    pub now: Option<FTime>,
}

/// One execution of `decide`.
#[derive(Arbitrary, Clone, Debug)]
pub struct FDecide {
    /// Use the authorizer with `binding_fallback_to_anonymous` (Forgejo).
    pub fallback: bool,
    /// NEW(0.4): start the engine with an empty cache (else it holds the genuine tokens).
    pub cold_engine: bool,
    pub credential: FCredential,
    pub also_presented: Vec<FSecret>,
    pub world: FWorld,
    pub request: FRequest,
    pub now: FTime,
    pub explain: bool,
    /// NEW(0.6): the client's address (every call of the execution comes from it).
    pub client_address: Option<FAddress>,
    /// The batch: the request's transport and action for a git request, these otherwise.
    pub batch: Vec<FBatchTarget>,
    pub batch_transport: FTransport,
    pub batch_action: FGitAction,
    /// `ref_permissions` on the request's repository.
    pub ref_names: Vec<FRefName>,
    pub again: Vec<FAgain>,
}

/// What one execution of `decide` runs.
#[derive(Clone, Debug)]
pub struct Case {
    /// Use the authorizer with `binding_fallback_to_anonymous`.
    pub fallback: bool,
    pub request: AuthorizeRequest,
    pub world: World,
    pub batch: BatchRequest,
    pub refs: RefPermissionsRequest,
    /// Further calls, each with the world after its changes (cumulative).
    pub again: Vec<(AuthorizeRequest, World)>,
}

impl FDecide {
    pub fn case(&self, genuine: &[Genuine]) -> Case {
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
        let (transport, action) = match &request {
            Request::Git(g) => (g.transport, g.action),
            _ => (self.batch_transport.into(), self.batch_action.into()),
        };
        let request = AuthorizeRequest {
            client_address: self.client_address.map(FAddress::convert),
            credential,
            also_presented,
            request,
            now: self.now.convert(),
            explain: self.explain,
        };
        let presented = effective_secret(&request).map(str::to_string);
        let presented = presented.as_deref();
        let w = &self.world;
        let mut world = World {
            records: bounded(&w.records, 4, |r| r.convert(genuine, presented)),
            users: bounded(&w.users, MAX_LIST, |u| u.convert(genuine)),
            repositories: bounded(&w.repositories, MAX_LIST, |e| {
                e.facts.convert(match &e.ident {
                    FRepositoryIdent::Requested => path.clone(),
                    FRepositoryIdent::Path(p) => p.convert(),
                })
            }),
            namespaces: bounded(&w.namespaces, 4, |n| n.convert(&namespace)),
            log: Vec::new(),
        };
        let targets: Vec<&FBatchTarget> = self.batch.iter().take(MAX_LIST).collect();
        let repositories: Vec<String> = targets.iter().map(|t| t.repository.convert()).collect();
        for (t, p) in targets.iter().zip(&repositories) {
            if let Some(f) = &t.facts {
                world.repositories.push(f.convert(p.clone()));
            }
        }
        let batch = BatchRequest {
            client_address: request.client_address.clone(),
            credential: request.credential.clone(),
            also_presented: request.also_presented.clone(),
            transport,
            action,
            repositories,
            now: request.now,
            explain: request.explain,
        };
        let refs = RefPermissionsRequest {
            client_address: request.client_address.clone(),
            credential: request.credential.clone(),
            also_presented: request.also_presented.clone(),
            transport,
            repository: path.clone(),
            refs: bounded(&self.ref_names, MAX_REFS, FRefName::convert),
            now: request.now,
        };
        let mut again = Vec::new();
        let mut w = world.clone();
        for a in self.again.iter().take(MAX_AGAIN) {
            let mut r = request.clone();
            if let Some(c) = &a.credential {
                r.credential = c.convert(genuine, &path);
            }
            if let Some(t) = a.now {
                r.now = t.convert();
            }
            let presented = effective_secret(&r).map(str::to_string);
            for c in a.changes.iter().take(4) {
                c.apply(&mut w, genuine, presented.as_deref());
            }
            again.push((r, w.clone()));
        }
        Case {
            fallback: self.fallback,
            request,
            world,
            batch,
            refs,
            again,
        }
    }
}
