//! The world fixture: one JSON file holding signing keys, users, repositories and token
//! records. It is the embedded default store for tests and the CLI. Format (README,
//! "World fixture"):
//!
//! ```json
//! {
//!   "now": 1767225600,
//!   "keys": [{"id": "k1", "secret": "<64+ hex chars>"}],
//!   "signing_key": "k1",
//!   "users": [{"name": "alice", "status": "active", "site_admin": false, "visibility": "public"}],
//!   "repositories": [{"owner": "alice", "name": "app", "private": false, "kind": "hosted",
//!                     "archived": false, "collaborators": {"bob": "write"}}],
//!   "tokens": [{"id": "...", "owner": "alice", "name": "ci", "scopes": ["read:repository"],
//!               "repositories": [], "created": 1767225600, "expires": null,
//!               "revoked": null, "secret_hash": "<64 hex chars>"}]
//! }
//! ```
//!
//! Organisations are users too (their `visibility` hides their repositories). The store
//! only gathers facts: every rule (who owns what, who may read) is the policy's.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

use crate::wit;

/// A signing key; the secret is hex in the file.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KeyDef {
    /// Key id.
    pub id: String,
    /// Hex-encoded secret (at least 32 bytes).
    pub secret: String,
}

impl std::fmt::Debug for KeyDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyDef")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A closed set of fact values, spelled in files and in the store's columns exactly as the
/// WIT enum's cases. Parsing refuses anything else, naming the value (serde names the field).
macro_rules! fact_enum {
    ($(#[$doc:meta])* $name:ident => $wit:ty { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// The spelling in files and store columns.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parse a stored spelling.
            pub fn parse(text: &str) -> anyhow::Result<$name> {
                match text {
                    $($text => Ok($name::$variant),)+
                    other => bail!(concat!("unknown ", stringify!($name), " `{}`"), other.escape_debug()),
                }
            }

            /// As the WIT value.
            pub fn to_wit(self) -> $wit {
                match self { $($name::$variant => <$wit>::$variant),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

fact_enum! {
    /// An account's status.
    Status => wit::AccountStatus {
        /// May act.
        Active = "active",
        /// Not yet activated / deactivated.
        Inactive = "inactive",
        /// Suspended by an administrator.
        Suspended = "suspended",
    }
}

fact_enum! {
    /// Who may see a user's or organisation's profile and repositories.
    Visibility => wit::Visibility {
        /// Everyone.
        Public = "public",
        /// Signed-in users.
        Limited = "limited",
        /// Members only.
        Private = "private",
    }
}

fact_enum! {
    /// How a repository came to be.
    RepoKind => wit::RepositoryKind {
        /// Pushed to.
        Hosted = "hosted",
        /// Mirrored from elsewhere (read-only).
        Mirror = "mirror",
        /// Being imported (read-only).
        Import = "import",
    }
}

fact_enum! {
    /// A role on a repository or in an organisation.
    Role => wit::Role {
        /// No access.
        None = "none",
        /// Read.
        Read = "read",
        /// Write.
        Write = "write",
        /// Administer.
        Admin = "admin",
    }
}

fact_enum! {
    /// A user key or a repository's deploy key.
    KeyKind => wit::KeyKind {
        /// A user's key: acts as the user.
        User = "user",
        /// A deploy key: one repository.
        Deploy = "deploy",
    }
}

impl Role {
    /// Order: none < read < write < admin.
    pub fn rank(self) -> u8 {
        match self {
            Role::None => 0,
            Role::Read => 1,
            Role::Write => 2,
            Role::Admin => 3,
        }
    }

    /// The higher of two roles (a collaborator who is also an organisation member).
    pub fn max_with(self, other: Role) -> Role {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

/// A user or organisation.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UserDef {
    /// Login name.
    pub name: String,
    /// `active`, `inactive` or `suspended`.
    #[serde(default = "default_status")]
    pub status: Status,
    /// Site administrator.
    #[serde(default)]
    pub site_admin: bool,
    /// `public`, `limited` or `private`.
    #[serde(default = "default_visibility")]
    pub visibility: Visibility,
    /// An organisation (else a user).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub organization: bool,
    /// Organisations: member name -> role (`read`, `write`, `admin` for owners). A
    /// member's role applies to every repository of the organisation.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub members: BTreeMap<String, Role>,
}

/// Who may do something to a protected ref: `"writers"`, `"admins"`, `"nobody"`, or
/// `{"users": ["alice"]}`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum AccessDef {
    /// Anyone with write access.
    Writers,
    /// Repository administrators.
    Admins,
    /// Nobody.
    Nobody,
    /// These users.
    Users(Vec<String>),
}

/// A branch-protection rule.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProtectedRefDef {
    /// Glob over ref names (`main` means `refs/heads/main`).
    pub pattern: String,
    /// Who may push (default: writers).
    #[serde(default = "writers")]
    pub push: AccessDef,
    /// Who may force-push or delete (default: nobody).
    #[serde(default = "nobody")]
    pub force_push: AccessDef,
}

fn writers() -> AccessDef {
    AccessDef::Writers
}
fn nobody() -> AccessDef {
    AccessDef::Nobody
}

/// An SSH key the forge knows (its public half is the host's business).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SshKeyDef {
    /// Key id.
    pub id: String,
    /// `user` or `deploy`.
    pub kind: KeyKind,
    /// User keys: the owner's login.
    #[serde(default)]
    pub owner: String,
    /// Deploy keys: `owner/name`.
    #[serde(default)]
    pub repository: Option<String>,
    /// Deploy keys: read-only.
    #[serde(default)]
    pub read_only: bool,
    /// OpenSSH public key line (`ssh-ed25519 AAAA...`), for `AuthorizedKeysCommand`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

fn default_status() -> Status {
    Status::Active
}
fn default_visibility() -> Visibility {
    Visibility::Public
}
fn default_kind() -> RepoKind {
    RepoKind::Hosted
}

/// A repository.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RepoDef {
    /// Owning user or organisation.
    pub owner: String,
    /// Name within the owner.
    pub name: String,
    /// Private repository.
    #[serde(default)]
    pub private: bool,
    /// `hosted`, `mirror` or `import`.
    #[serde(default = "default_kind")]
    pub kind: RepoKind,
    /// Archived.
    #[serde(default)]
    pub archived: bool,
    /// Collaborator roles: user name -> `read` / `write` / `admin`.
    #[serde(default)]
    pub collaborators: BTreeMap<String, Role>,
    /// Branch protection, first match wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protected_refs: Vec<ProtectedRefDef>,
    /// The user who registered (created) the repository: only they may confirm or abort
    /// its creation. Absent: nobody may.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registrant: Option<String>,
}

impl RepoDef {
    /// Refuse what the host cannot serve faithfully (also used by the bulk import).
    pub fn validate(&self) -> anyhow::Result<()> {
        let r = self;
        // URLs append and strip one `.git`: a repository named `x.git` would be served
        // for `x.git.git` while the policy decides on `x` (the policy refuses such
        // names too).
        if r.name.to_ascii_lowercase().ends_with(".git") {
            bail!(
                "repository `{}/{}`: a name may not end in `.git`",
                r.owner,
                r.name
            );
        }
        // The policy supports `*` and `**` only; it treats any other pattern as
        // matching every ref (fail closed). Refusing such rules here tells the operator.
        for p in &r.protected_refs {
            if p.pattern.is_empty()
                || p.pattern
                    .bytes()
                    .any(|b| b <= b' ' || b == 0x7f || b"?[]{}\\!^~:".contains(&b))
            {
                bail!(
                    "repository `{}/{}`: protected-ref pattern `{}` uses syntax other than `*` and `**`",
                    r.owner,
                    r.name,
                    p.pattern.escape_debug()
                );
            }
        }
        Ok(())
    }
}

/// A stored token record; the hash is hex in the file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TokenDef {
    /// Public token id.
    pub id: String,
    /// Owner login.
    pub owner: String,
    /// Token name.
    pub name: String,
    /// Scopes as stored.
    pub scopes: Vec<String>,
    /// Bound repositories.
    #[serde(default)]
    pub repositories: Vec<String>,
    /// Bound owners.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owners: Vec<String>,
    /// Parent token id (child tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// The token this one replaced by rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predecessor: Option<String>,
    /// The token that replaced this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successor: Option<String>,
    /// Last use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used: Option<i64>,
    /// Minted at (Unix seconds).
    pub created: i64,
    /// Expires at.
    #[serde(default)]
    pub expires: Option<i64>,
    /// Revoked at.
    #[serde(default)]
    pub revoked: Option<i64>,
    /// The digest that binds the record to its secret, hex (see `digest`).
    pub secret_hash: String,
    /// What `secret_hash` is: `hmac-tag` (tokens minted since contract 0.4) or `sha256`
    /// (SHA-256 of the whole secret, older records; the default when absent).
    #[serde(default = "sha256_kind")]
    pub digest: String,
}

fn sha256_kind() -> String {
    "sha256".into()
}

impl TokenDef {
    /// A record the host can use: its `secret_hash` is hex.
    pub fn validate(&self) -> anyhow::Result<()> {
        hex::decode(&self.secret_hash)
            .with_context(|| format!("token `{}`: secret_hash is not hex", self.id))?;
        Ok(())
    }

    /// From the WIT record.
    pub fn from_wit(record: &wit::TokenRecord) -> TokenDef {
        TokenDef {
            id: record.id.clone(),
            owner: record.owner.clone(),
            name: record.name.clone(),
            scopes: record.scopes.clone(),
            repositories: record.repositories.clone(),
            owners: record.owners.clone(),
            parent: record.parent.clone(),
            predecessor: record.predecessor.clone(),
            successor: record.successor.clone(),
            last_used: record.last_used,
            created: record.created,
            expires: record.expires,
            revoked: record.revoked,
            secret_hash: hex::encode(record.secret.parts().1),
            digest: record.secret.parts().0.into(),
        }
    }
}

/// The whole fixture.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct World {
    /// A fixed clock (Unix seconds) for tests and demos; absent: the system clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<i64>,
    /// Signing keys.
    pub keys: Vec<KeyDef>,
    /// Id of the key that signs new tokens.
    pub signing_key: String,
    /// Users and organisations.
    #[serde(default)]
    pub users: Vec<UserDef>,
    /// Repositories.
    #[serde(default)]
    pub repositories: Vec<RepoDef>,
    /// Token records.
    #[serde(default)]
    pub tokens: Vec<TokenDef>,
    /// SSH keys (user and deploy keys).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ssh_keys: Vec<SshKeyDef>,
    /// Policy options (`binding_fallback_to_anonymous`).
    #[serde(default, skip_serializing_if = "OptionsDef::is_default")]
    pub options: OptionsDef,
}

/// Policy options in the fixture.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OptionsDef {
    /// Forgejo: a bound token outside its binding acts as anonymous (default: 401).
    #[serde(default)]
    pub binding_fallback_to_anonymous: bool,
    /// New tokens must expire (default true).
    #[serde(default = "yes")]
    pub require_expiry: bool,
    /// Longest lifetime of a new token, seconds (default 366 days).
    #[serde(default = "max_lifetime")]
    pub max_lifetime: i64,
    /// Shortest lifetime of a new token, seconds (default 300).
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
    /// As the WIT value.
    pub fn to_wit(&self) -> wit::Options {
        wit::Options {
            binding_fallback_to_anonymous: self.binding_fallback_to_anonymous,
            require_expiry: self.require_expiry,
            max_lifetime: self.max_lifetime,
            min_lifetime: self.min_lifetime,
        }
    }
}

impl OptionsDef {
    fn is_default(&self) -> bool {
        *self == OptionsDef::default()
    }
}

impl World {
    /// Read and validate a fixture file.
    pub fn load(path: &Path) -> anyhow::Result<World> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading world {}", path.display()))?;
        let world: World =
            parse_json(&text).with_context(|| format!("parsing world {}", path.display()))?;
        world.validate()?;
        Ok(world)
    }

    /// Write the fixture (pretty JSON) atomically: a fresh temporary file created `0600`
    /// (the fixture holds the signing keys), then a rename.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let text = serde_json::to_string_pretty(self)?;
        let tmp = path.with_extension("json.tmp");
        let _ = std::fs::remove_file(&tmp);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| f.write_all((text + "\n").as_bytes()))
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
        Ok(())
    }

    /// Reject enum values the policy does not know, and malformed hex: an unknown fact is
    /// an error here, never a silent default.
    pub fn validate(&self) -> anyhow::Result<()> {
        for k in &self.keys {
            hex::decode(&k.secret).with_context(|| format!("key `{}`: secret is not hex", k.id))?;
        }
        for k in &self.ssh_keys {
            match (k.kind, &k.repository) {
                (KeyKind::User, _) if !k.owner.is_empty() => {}
                (KeyKind::Deploy, Some(_)) => {}
                _ => bail!(
                    "ssh key `{}`: a user key needs an owner, a deploy key a repository",
                    k.id
                ),
            }
        }
        for r in &self.repositories {
            r.validate()?;
        }
        for t in &self.tokens {
            t.validate()?;
        }
        Ok(())
    }

    /// Add a token record, or replace the one with its id. A record that does not validate
    /// is refused and the world is left as it was.
    pub fn put_token(&mut self, def: TokenDef) -> anyhow::Result<()> {
        def.validate()?;
        self.store_token(def);
        Ok(())
    }

    /// Replace the record with `def`'s id, or add it.
    fn store_token(&mut self, def: TokenDef) {
        match self.tokens.iter_mut().find(|t| t.id == def.id) {
            Some(t) => *t = def,
            None => self.tokens.push(def),
        }
    }

    /// The policy configuration: keys and the signing key id.
    pub fn config(&self) -> anyhow::Result<wit::Config> {
        let mut keys = Vec::with_capacity(self.keys.len());
        for k in &self.keys {
            keys.push(wit::SigningKey {
                id: k.id.clone(),
                secret: hex::decode(&k.secret)
                    .with_context(|| format!("key `{}`: secret is not hex", k.id))?,
            });
        }
        Ok(wit::Config {
            keys,
            signing_key_id: self.signing_key.clone(),
            options: self.options.to_wit(),
        })
    }

    /// The current time: the fixture's fixed clock, or the system clock.
    pub fn now(&self) -> i64 {
        self.now.unwrap_or_else(system_now)
    }

    /// Facts about a user, if it exists (names compare case-insensitively).
    pub fn user(&self, name: &str) -> Option<wit::UserFacts> {
        let u = self
            .users
            .iter()
            .find(|u| u.name.eq_ignore_ascii_case(name))?;
        Some(wit::UserFacts {
            status: u.status.to_wit(),
            site_admin: u.site_admin,
            visibility: u.visibility.to_wit(),
            organization: u.organization,
        })
    }

    /// Facts about repository `path` (`owner/name`) for `actor` (None: anonymous), with its
    /// path as stored.
    pub fn repository(
        &self,
        path: &str,
        actor: Option<&str>,
    ) -> Option<(String, wit::RepositoryFacts)> {
        let (owner, name) = path.split_once('/')?;
        let r = self
            .repositories
            .iter()
            .find(|r| r.owner.eq_ignore_ascii_case(owner) && r.name.eq_ignore_ascii_case(name))?;
        // The actor's role: as a collaborator, or as a member of the owning organisation.
        let role = actor
            .map(|a| {
                let collaborator = r
                    .collaborators
                    .iter()
                    .find(|(user, _)| user.eq_ignore_ascii_case(a))
                    .map(|(_, role)| *role)
                    .unwrap_or(Role::None);
                collaborator.max_with(self.member_role(&r.owner, a))
            })
            .unwrap_or(Role::None)
            .to_wit();
        // An owner missing from `users` is an unknown fact: treated as private.
        let owner_visibility = self
            .user(&r.owner)
            .map(|u| u.visibility)
            .unwrap_or(wit::Visibility::Private);
        let protected: Vec<wit::ProtectedRef> = r
            .protected_refs
            .iter()
            .map(|p| wit::ProtectedRef {
                pattern: p.pattern.clone(),
                push: p.push.to_wit(),
                force_push: p.force_push.to_wit(),
            })
            .collect();
        Some((
            format!("{}/{}", r.owner, r.name),
            wit::RepositoryFacts {
                owner_visibility,
                private: r.private,
                kind: r.kind.to_wit(),
                archived: r.archived,
                role,
                protected_refs: (!protected.is_empty()).then_some(protected),
                registrant: r.registrant.clone(),
            },
        ))
    }

    /// `actor`'s role in organisation `org` (none for users and non-members).
    fn member_role(&self, org: &str, actor: &str) -> Role {
        self.users
            .iter()
            .find(|u| u.organization && u.name.eq_ignore_ascii_case(org))
            .and_then(|o| {
                o.members
                    .iter()
                    .find(|(m, _)| m.eq_ignore_ascii_case(actor))
            })
            .map(|(_, role)| *role)
            .unwrap_or(Role::None)
    }

    /// Facts about user or organisation `name` for `actor`.
    pub fn namespace(&self, name: &str, actor: Option<&str>) -> Option<wit::NamespaceFacts> {
        let u = self
            .users
            .iter()
            .find(|u| u.name.eq_ignore_ascii_case(name))?;
        let member_role = match actor {
            None => wit::Role::None,
            Some(a) if !u.organization && u.name.eq_ignore_ascii_case(a) => wit::Role::Admin,
            Some(a) => self.member_role(&u.name, a).to_wit(),
        };
        Some(wit::NamespaceFacts {
            organization: u.organization,
            visibility: u.visibility.to_wit(),
            member_role,
        })
    }

    /// An SSH key by id.
    pub fn ssh_key(&self, id: &str) -> Option<wit::SshKey> {
        let k = self.ssh_keys.iter().find(|k| k.id == id)?;
        Some(wit::SshKey {
            id: k.id.clone(),
            kind: k.kind.to_wit(),
            owner: k.owner.clone(),
            repository: k.repository.clone(),
            read_only: k.read_only,
        })
    }

    /// The stored record for a token id.
    pub fn token_record(&self, id: &str) -> Option<wit::TokenRecord> {
        let t = self.tokens.iter().find(|t| t.id == id)?;
        Some(wit::TokenRecord {
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
            // A malformed digest matches nothing (no secret has an all-zero SHA-256):
            // the token is refused as unknown.
            secret: hex::decode(&t.secret_hash)
                .ok()
                .and_then(|b| wit::SecretDigest::from_parts(&t.digest, &b))
                .unwrap_or(wit::SecretDigest::Sha256(wit::Hash256 {
                    w0: 0,
                    w1: 0,
                    w2: 0,
                    w3: 0,
                })),
        })
    }

    /// Store a record minted by the policy (replacing one with the same id).
    pub fn add_token(&mut self, record: &wit::TokenRecord) {
        self.store_token(TokenDef::from_wit(record));
    }
}

impl crate::facts::FactSource for World {
    fn token(&self, id: &str) -> anyhow::Result<Option<wit::TokenFacts>> {
        Ok(self.token_record(id).map(|r| r.facts()))
    }
    fn user(&self, name: &str) -> anyhow::Result<Option<wit::UserFacts>> {
        Ok(World::user(self, name))
    }
    fn repository(
        &self,
        path: &str,
        viewer: Option<&str>,
    ) -> anyhow::Result<Option<crate::facts::FoundRepository>> {
        Ok(World::repository(self, path, viewer))
    }
    fn namespace(
        &self,
        name: &str,
        viewer: Option<&str>,
    ) -> anyhow::Result<Option<wit::NamespaceFacts>> {
        Ok(World::namespace(self, name, viewer))
    }
    fn ssh_key(&self, id: &str) -> anyhow::Result<Option<wit::SshKey>> {
        Ok(World::ssh_key(self, id))
    }
}

impl AccessDef {
    /// The spelling of its kind in the store's columns (`users` lists its users apart).
    pub fn kind_name(&self) -> &'static str {
        match self {
            AccessDef::Writers => "writers",
            AccessDef::Admins => "admins",
            AccessDef::Nobody => "nobody",
            AccessDef::Users(_) => "users",
        }
    }

    /// From a stored kind and, for `users`, its users.
    pub fn from_kind(kind: &str, users: Vec<String>) -> anyhow::Result<AccessDef> {
        Ok(match kind {
            "writers" => AccessDef::Writers,
            "admins" => AccessDef::Admins,
            "nobody" => AccessDef::Nobody,
            "users" => AccessDef::Users(users),
            other => bail!("unknown ref access `{other}`"),
        })
    }

    /// As the WIT value.
    pub fn to_wit(&self) -> wit::RefAccess {
        match self {
            AccessDef::Writers => wit::RefAccess::Writers,
            AccessDef::Admins => wit::RefAccess::Admins,
            AccessDef::Nobody => wit::RefAccess::Nobody,
            AccessDef::Users(u) => wit::RefAccess::Users(u.clone()),
        }
    }
}

/// Parse JSON into a typed value; an error names the field it is about
/// (`users[2].status: unknown variant ...`).
pub fn parse_json<T: serde::de::DeserializeOwned>(text: &str) -> anyhow::Result<T> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        anyhow::anyhow!("{path}: {}", e.into_inner())
    })
}

/// Seconds since the Unix epoch from the system clock (0 if the clock is before 1970).
pub fn system_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_fact_is_refused_by_type_with_its_field_named() {
        let text = r#"{"keys": [], "signing_key": "k1",
            "users": [{"name": "a"}, {"name": "b", "status": "on-holiday"}]}"#;
        let e = parse_json::<World>(text).err().map(|e| e.to_string());
        let e = e.unwrap_or_default();
        assert!(
            e.starts_with("users[1].status: unknown variant `on-holiday`"),
            "{e}"
        );
        let text = r#"{"keys": [], "signing_key": "k1",
            "repositories": [{"owner": "a", "name": "r", "collaborators": {"b": "owner"}}]}"#;
        let e = parse_json::<World>(text).err().map(|e| e.to_string());
        let e = e.unwrap_or_default();
        assert!(
            e.starts_with("repositories[0].collaborators.b: unknown variant"),
            "{e}"
        );
    }

    #[test]
    fn a_bad_request_field_is_named() {
        let e = parse_json::<crate::request::RequestDef>(
            r#"{"kind": "api", "method": "GET", "required_role": "owner"}"#,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(
            e.starts_with("required_role: unknown variant `owner`"),
            "{e}"
        );
    }
}
