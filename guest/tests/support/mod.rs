//! Generated worlds, credentials, token records and requests for the policy's property
//! tests, and the facts a correct host answers (forge-authz `facts.rs` `lookup` and
//! `repositories`, `world.rs` `repository`/`namespace`/`user`) through [`WorldFacts`], a
//! `policy::Facts` that also records what the policy asked ([`Gathered`]) and counts its
//! calls, written against the policy core only.
//!
//! Shared by `guest/tests/invariants.rs` (the invariants, native) and
//! `tests/tests/differential.rs` (native core against the wasm component), so both
//! run on the same inputs. Generated values are small and print readably: a failing case
//! shows the world, the token spec, the credential and the request.
// Each test file that includes this module uses part of it.
#![allow(dead_code)]

use std::sync::LazyLock;

use forge_authz_guest::policy::principal::PLACEHOLDER_USERNAMES;
use forge_authz_guest::policy::scope::{CATEGORIES, Categories, Category};
use forge_authz_guest::policy::token::{ENTROPY_BYTES, secret_hash};
use forge_authz_guest::policy::{
    AccountStatus, Actor, ApiRequest, AuthorizeRequest, Authorizer, BatchRequest, Config,
    CreationRequest, CreationStep, Credential, Decision, Engine, FactAnswer, FactQuery, Facts,
    GitAction, GitRequest, IssueRequest, KeyKind, Method, NamespaceFacts, Options,
    PrivilegedOperation, ProtectedRef, RefAccess, RefChange, RefGrants, RefPermissionsRequest,
    RefUpdate, RepositoryFacts, RepositoryKind, Request, Role, SecretDigest, SigningKey, SshKey,
    Timestamp, TokenFacts, TokenRecord, Transport, UserFacts, Viewer, Visibility,
};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};

pub mod lifecycle;

/// The fixed clock of every generated case.
pub const NOW: Timestamp = 1_767_225_600;

/// Account names: `NAMES[..N_USERS]` are users, `NAMES[5..7]` organisations, and
/// `NAMES[GHOST]` exists nowhere (a missing account, an owner gone from the store).
pub const NAMES: [&str; 8] = [
    "alice", "bob", "carol", "dave", "erin", "acme", "corp", "ghost",
];
/// Users among [`NAMES`].
pub const N_USERS: usize = 5;
/// Index of the organisations in [`NAMES`].
pub const ORGS: std::ops::Range<usize> = 5..7;
/// Index of the missing account.
pub const GHOST: usize = 7;
/// Repository names.
pub const REPO_NAMES: [&str; 3] = ["app", "lib", "web"];
/// Malformed repository paths.
pub const INVALID_PATHS: [&str; 5] = ["alice", "alice/app/x", "../app", "alice/", "al ice/app"];
/// Malformed account names.
pub const INVALID_NAMES: [&str; 3] = ["", "..", "bad name"];

/// The whole scope vocabulary (Gitea/Forgejo, Launchpad, GitLab, Gafaelfawr).
pub use forge_authz_guest::policy::vocabulary::SCOPES as VOCABULARY;
/// The scopes git requests care about, drawn more often.
pub const REPOSITORY_SCOPES: [&str; 9] = [
    "read:repository",
    "write:repository",
    "repository:pull",
    "repository:push",
    "read_repository",
    "write_repository",
    "all",
    "api",
    "user:token",
];
/// A scope no policy knows (a stored record from elsewhere).
pub const UNKNOWN_SCOPE: &str = "write:everything";

/// Protection patterns: plain, case variants, globs, and unsupported syntax (which
/// matches every ref).
pub const PATTERNS: [&str; 22] = [
    "main",
    "MAIN",
    "Main",
    "refs/heads/main",
    "REFS/heads/Main",
    "release/*",
    "Release/*",
    "refs/tags/**",
    "refs/heads/*",
    "**",
    "*",
    "dev",
    "feature/**",
    "ma?n",
    "[m]ain",
    "{main,dev}",
    "",
    "a b",
    "x\\y",
    "main!",
    "ma~in",
    "refs/heads/ma:in",
];
/// Ref names: valid ones in several cases and depths, and invalid ones.
pub const REF_NAMES: [&str; 14] = [
    "refs/heads/main",
    "refs/heads/MAIN",
    "refs/heads/Main",
    "refs/heads/dev",
    "refs/heads/release/1.0",
    "refs/heads/release/1.0/hotfix",
    "refs/tags/v1",
    "refs/tags/v1/rc/2",
    "refs/heads/feature/x/y",
    "refs/notes/commits",
    "refs/heads/ma?n",
    "main",
    "refs/heads/a..b",
    "refs/heads/x.lock",
];
/// HTTP methods as sent, one lower-case and one malformed.
pub const METHODS: [&str; 9] = [
    "GET",
    "HEAD",
    "OPTIONS",
    "POST",
    "PUT",
    "PATCH",
    "DELETE",
    "get",
    "BAD METHOD",
];

/// A method as the host passes it: the seven the contract names (as sent, upper-case),
/// anything else as `other`.
pub fn method(sent: &str) -> Method {
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

/// Every privileged operation.
pub use forge_authz_guest::policy::vocabulary::OPERATIONS;

/// The configuration every case uses: two listed keys, `k1` signs.
pub fn config(fallback: bool) -> Config {
    Config {
        site: String::new(),
        keys: vec![
            SigningKey {
                id: "k1".into(),
                secret: vec![7; 32],
            },
            SigningKey {
                id: "k2".into(),
                secret: vec![9; 32],
            },
        ],
        signing_key_id: "k1".into(),
        options: Options {
            binding_fallback_to_anonymous: fallback,
            ..Options::default()
        },
    }
}

/// A configuration of one key, `id` (32 bytes of `byte`), which signs.
pub fn single_key(id: &str, byte: u8, options: Options) -> Config {
    Config {
        site: String::new(),
        keys: vec![SigningKey {
            id: id.into(),
            secret: vec![byte; 32],
        }],
        signing_key_id: id.into(),
        options,
    }
}

fn authorizer(config: Config) -> Authorizer {
    match Authorizer::new(&config) {
        Ok(a) => a,
        Err(e) => panic!("test configuration refused: {e:?}"),
    }
}

/// The policy with default options.
pub static AUTHZ: LazyLock<Authorizer> = LazyLock::new(|| authorizer(config(false)));
/// The policy with `binding_fallback_to_anonymous`.
pub static AUTHZ_FALLBACK: LazyLock<Authorizer> = LazyLock::new(|| authorizer(config(true)));
/// A forger: key id `k1`, another secret.
pub static FORGER: LazyLock<Authorizer> =
    LazyLock::new(|| authorizer(single_key("k1", 8, Options::default())));
/// A key id nobody configured (a retired key).
pub static RETIRED: LazyLock<Authorizer> =
    LazyLock::new(|| authorizer(single_key("k9", 7, Options::default())));

/// The policy a case runs against.
pub fn policy(fallback: bool) -> &'static Authorizer {
    if fallback { &AUTHZ_FALLBACK } else { &AUTHZ }
}

// ---------------------------------------------------------------------------------------
// The world and the facts a correct host gathers from it: the fixture's world (the one
// the host, the CLI and the scenario corpus read), answering through its `FactSource`.

use forge_authz_fixture::FactSource as _;
pub use forge_authz_fixture::World;
pub use forge_authz_fixture::defs::{ProtectedRefDef, RepoDef, UserDef};

/// A world of these users and repositories, with no token records (the policy's
/// configuration is the test's, not the world's).
pub fn world_of(users: Vec<UserDef>, repositories: Vec<RepoDef>) -> World {
    World {
        now: Some(NOW),
        users,
        repositories,
        ..World::default()
    }
}

/// What the tests ask of a world beyond the fixture's own lookups.
pub trait Gather {
    /// `facts.rs` `lookup`: the token's record (as a decision needs it) and its owner's
    /// account, the account, the `sudo` target, then the repository and namespace as the
    /// query's viewer sees them.
    fn gather(&self, q: &FactQuery<'_>) -> FactAnswer;
    /// `facts.rs` `repositories`: each path as `viewer` sees it, no registrant.
    fn gather_batch(&self, paths: &[String], viewer: Option<&str>) -> Vec<Option<RepositoryFacts>>;
    /// The account at `NAMES[i]`, if it exists.
    fn account_mut(&mut self, i: usize) -> Option<&mut UserDef>;
}

impl Gather for World {
    fn gather(&self, q: &FactQuery<'_>) -> FactAnswer {
        match self.lookup(q) {
            Ok(a) => a.answer,
            Err(e) => panic!("the fixture world failed a lookup: {e:#}"),
        }
    }

    fn gather_batch(&self, paths: &[String], viewer: Option<&str>) -> Vec<Option<RepositoryFacts>> {
        match self.repositories(paths, viewer) {
            Ok(a) => a,
            Err(e) => panic!("the fixture world failed a batch: {e:#}"),
        }
    }

    fn account_mut(&mut self, i: usize) -> Option<&mut UserDef> {
        let name = NAMES.get(i)?;
        self.users.iter_mut().find(|a| a.name == *name)
    }
}

// ---------------------------------------------------------------------------------------
// The facts a correct host answers, what the policy asked, and replaying an answer.

/// A [`FactQuery`] as the policy asked it, owned (it prints and compares).
pub use forge_authz_fixture::facts::Query;

/// The `repositories` call of a batch: the paths and viewer asked, the answers given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchAnswer {
    pub paths: Vec<String>,
    pub viewer: Option<String>,
    pub answers: Vec<Option<RepositoryFacts>>,
}

/// What the host answered during one policy call: the first `lookup` (its query and
/// answer) and the first `repositories` call. A property may edit the answers and replay
/// them ([`Replay`]): the old tests' "decide with these facts instead".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Gathered {
    pub lookup: Option<(Query, FactAnswer)>,
    pub batch: Option<BatchAnswer>,
}

impl Gathered {
    /// The query asked, if any.
    pub fn query(&self) -> Option<&Query> {
        self.lookup.as_ref().map(|(q, _)| q)
    }

    /// The answer given, if anything was asked.
    pub fn answer(&self) -> Option<&FactAnswer> {
        self.lookup.as_ref().map(|(_, a)| a)
    }

    /// The answer, mutably.
    pub fn answer_mut(&mut self) -> Option<&mut FactAnswer> {
        self.lookup.as_mut().map(|(_, a)| a)
    }

    /// The token's record, as answered.
    pub fn token(&self) -> Option<&TokenFacts> {
        self.answer()?.token.as_ref()
    }

    /// The repository, as answered.
    pub fn repository(&self) -> Option<&RepositoryFacts> {
        self.answer()?.repository.as_ref()
    }

    /// The namespace, as answered.
    pub fn namespace(&self) -> Option<&NamespaceFacts> {
        self.answer()?.namespace.as_ref()
    }

    /// The `sudo` target (login as asked, facts as answered).
    pub fn sudo(&self) -> Option<(&str, &UserFacts)> {
        let a = self.answer()?;
        Some((self.query()?.sudo.as_deref()?, a.sudo.as_ref()?))
    }

    /// The account behind the credential (login and facts): the token's owner, as its
    /// record names it, or the session's or SSH user key's account.
    pub fn user(&self) -> Option<(&str, &UserFacts)> {
        let (q, a) = self.lookup.as_ref()?;
        match &a.token {
            Some(t) => Some((t.owner.as_str(), a.owner.as_ref()?)),
            None if q.token.is_none() => Some((q.account.as_deref()?, a.account.as_ref()?)),
            None => None,
        }
    }

    /// The account the request acts as, whose view the facts describe (the query's
    /// viewer): the `sudo` target, else [`Gathered::user`]. `None`: anonymous.
    pub fn acting(&self) -> Option<(&str, &UserFacts)> {
        match self.query()?.viewer {
            Viewer::Anonymous => None,
            Viewer::Sudo => self.sudo(),
            Viewer::TokenOwner | Viewer::Account => self.user(),
        }
    }

    /// Each repository of a batch with the facts answered for it (`None`: no such
    /// repository, or never asked: malformed paths never reach the host).
    pub fn batch_targets(&self, repositories: &[String]) -> Vec<(String, Option<RepositoryFacts>)> {
        let mut answers = self
            .batch
            .as_ref()
            .map(|b| b.answers.clone())
            .unwrap_or_default()
            .into_iter();
        repositories
            .iter()
            .map(|p| {
                let facts = if forge_authz_guest::policy::principal::valid_repository_path(p) {
                    answers.next().flatten()
                } else {
                    None
                };
                (p.clone(), facts)
            })
            .collect()
    }
}

/// A correct host's facts for a world (`facts.rs`), recording what the policy asked
/// ([`Gathered`]) and counting the calls.
#[derive(Debug)]
pub struct WorldFacts<'w> {
    pub world: &'w World,
    pub gathered: Gathered,
    /// `lookup` calls.
    pub lookups: usize,
    /// `repositories` calls.
    pub batches: usize,
    /// Every query asked, in order.
    pub queries: Vec<Query>,
}

impl<'w> WorldFacts<'w> {
    pub fn new(world: &'w World) -> WorldFacts<'w> {
        WorldFacts {
            world,
            gathered: Gathered::default(),
            lookups: 0,
            batches: 0,
            queries: Vec::new(),
        }
    }
}

impl Facts for WorldFacts<'_> {
    fn lookup(&mut self, query: &FactQuery<'_>) -> FactAnswer {
        self.lookups += 1;
        self.queries.push(Query::of(query));
        let answer = self.world.gather(query);
        if self.gathered.lookup.is_none() {
            self.gathered.lookup = Some((Query::of(query), answer.clone()));
        }
        answer
    }

    fn repositories(
        &mut self,
        paths: &[String],
        viewer: Option<&str>,
    ) -> Vec<Option<RepositoryFacts>> {
        self.batches += 1;
        let answers = self.world.gather_batch(paths, viewer);
        if self.gathered.batch.is_none() {
            self.gathered.batch = Some(BatchAnswer {
                paths: paths.to_vec(),
                viewer: viewer.map(str::to_string),
                answers: answers.clone(),
            });
        }
        answers
    }
}

/// Facts that answer exactly what was [`Gathered`] (edited or not). The policy must ask
/// exactly what it asked when the answers were gathered: anything else stops the test.
#[derive(Debug)]
pub struct Replay<'g> {
    pub gathered: &'g Gathered,
}

impl Facts for Replay<'_> {
    fn lookup(&mut self, query: &FactQuery<'_>) -> FactAnswer {
        let asked = Query::of(query);
        match &self.gathered.lookup {
            Some((q, answer)) if *q == asked => answer.clone(),
            other => panic!("replay: the policy asked {asked:?}; gathered {other:?}"),
        }
    }

    fn repositories(
        &mut self,
        paths: &[String],
        viewer: Option<&str>,
    ) -> Vec<Option<RepositoryFacts>> {
        match &self.gathered.batch {
            Some(b) if b.paths == paths && b.viewer.as_deref() == viewer => b.answers.clone(),
            other => {
                panic!("replay: the policy asked for {paths:?} as {viewer:?}; gathered {other:?}")
            }
        }
    }
}

/// A policy call: what the host passes beside its facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    /// `authorize`.
    One(AuthorizeRequest),
    /// `authorize_batch`.
    Batch(BatchRequest),
    /// `ref_permissions`.
    Perms(RefPermissionsRequest),
}

impl Call {
    /// Ask the policy, with these facts.
    pub fn run(&self, authz: &Authorizer, facts: &mut dyn Facts) -> Answer {
        match self {
            Call::One(r) => Answer::One(authz.authorize(r, facts)),
            Call::Batch(r) => Answer::Batch(authz.authorize_batch(r, facts)),
            Call::Perms(r) => Answer::Perms(authz.ref_permissions(r, facts)),
        }
    }

    /// Ask an [`Engine`] (the authorizer with its token cache), with these facts.
    pub fn run_engine(&self, engine: &mut Engine, facts: &mut dyn Facts) -> Answer {
        match self {
            Call::One(r) => Answer::One(engine.authorize(r, facts)),
            Call::Batch(r) => Answer::Batch(engine.authorize_batch(r, facts)),
            Call::Perms(r) => Answer::Perms(engine.ref_permissions(r, facts)),
        }
    }

    /// The credential.
    pub fn credential(&self) -> &Credential {
        match self {
            Call::One(r) => &r.credential,
            Call::Batch(r) => &r.credential,
            Call::Perms(r) => &r.credential,
        }
    }

    /// Further tokens in the same request (a ref-permissions call carries none).
    pub fn also_presented(&self) -> &[String] {
        match self {
            Call::One(r) => &r.also_presented,
            Call::Batch(r) => &r.also_presented,
            Call::Perms(r) => &r.also_presented,
        }
    }

    /// The same call from the client address `client`.
    pub fn from(mut self, client: Option<&str>) -> Call {
        let a = client.map(str::to_string);
        match &mut self {
            Call::One(r) => r.client_address = a,
            Call::Batch(r) => r.client_address = a,
            Call::Perms(r) => r.client_address = a,
        }
        self
    }

    /// The same call with another credential.
    pub fn with_credential(&self, credential: Credential, also: Vec<String>) -> Call {
        let mut c = self.clone();
        match &mut c {
            Call::One(r) => {
                r.credential = credential;
                r.also_presented = also;
            }
            Call::Batch(r) => {
                r.credential = credential;
                r.also_presented = also;
            }
            Call::Perms(r) => {
                r.credential = credential;
                r.also_presented = also;
            }
        }
        c
    }
}

/// The call the host makes for a request (`request.rs` `authorize`).
pub fn call(credential: &Credential, also: &[String], ask: &Ask, explain: bool) -> Call {
    match ask {
        Ask::One(r) => Call::One(AuthorizeRequest {
            client_address: None,
            credential: credential.clone(),
            also_presented: also.to_vec(),
            request: r.clone(),
            now: NOW,
            explain,
        }),
        Ask::Batch {
            transport,
            action,
            repositories,
        } => Call::Batch(BatchRequest {
            client_address: None,
            credential: credential.clone(),
            also_presented: also.to_vec(),
            transport: *transport,
            action: *action,
            repositories: repositories.clone(),
            now: NOW,
            explain,
        }),
        Ask::Perms {
            transport,
            repository,
            refs,
        } => Call::Perms(RefPermissionsRequest {
            client_address: None,
            credential: credential.clone(),
            also_presented: also.to_vec(),
            transport: *transport,
            repository: repository.clone(),
            refs: refs.clone(),
            now: NOW,
        }),
    }
}

/// A call with the facts a correct host answered for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prepared {
    pub call: Call,
    pub gathered: Gathered,
}

/// What the policy answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    One(Decision),
    Batch(Vec<Decision>),
    Perms(RefGrants),
}

impl Answer {
    /// Everything granted: `(target, 0, 0)` for an allowed decision, `(target, 1 + i, 0)`
    /// for its allowed ref update `i`, `(i, 0, 1 + p)` for permission `p` on ref `i`
    /// (create, push, force-push).
    pub fn grants(&self) -> std::collections::BTreeSet<(usize, usize, usize)> {
        let mut out = std::collections::BTreeSet::new();
        let mut decision = |t: usize, d: &Decision| {
            if d.allow() {
                out.insert((t, 0, 0));
                for (i, v) in d.refs.iter().flatten().enumerate() {
                    if v.allow() {
                        out.insert((t, 1 + i, 0));
                    }
                }
            }
        };
        match self {
            Answer::One(d) => decision(0, d),
            Answer::Batch(ds) => ds.iter().enumerate().for_each(|(t, d)| decision(t, d)),
            Answer::Perms(ps) => {
                for (i, p) in ps.refs.iter().enumerate() {
                    for (k, on) in [p.create, p.push, p.force_push].into_iter().enumerate() {
                        if on {
                            out.insert((i, 0, 1 + k));
                        }
                    }
                }
            }
        }
        out
    }

    /// The answer with every trace removed.
    pub fn without_trace(mut self) -> Answer {
        match &mut self {
            Answer::One(d) => d.trace = None,
            Answer::Batch(ds) => ds.iter_mut().for_each(|d| d.trace = None),
            Answer::Perms(_) => {}
        }
        self
    }
}

/// Ask the policy with the gathered facts (replayed, edited or not).
pub fn run(authz: &Authorizer, p: &Prepared) -> Answer {
    p.call.run(
        authz,
        &mut Replay {
            gathered: &p.gathered,
        },
    )
}

/// Make a request's call and gather the facts a correct host answers for it.
pub fn prepare(
    authz: &Authorizer,
    world: &World,
    credential: &Credential,
    also: &[String],
    ask: &Ask,
    explain: bool,
    client: Option<&str>,
) -> Prepared {
    let call = call(credential, also, ask, explain).from(client);
    let mut facts = WorldFacts::new(world);
    call.run(authz, &mut facts);
    Prepared {
        call,
        gathered: facts.gathered,
    }
}

// ---------------------------------------------------------------------------------------
// Specs: what is generated (small, printable), and how each becomes real values.

/// A repository path.
#[derive(Clone, Debug)]
pub enum PathSpec {
    /// One of the world's repositories (index modulo their number).
    Repo { index: usize, upper: bool },
    /// Any owner and name (often missing).
    Any {
        owner: usize,
        name: usize,
        upper: bool,
    },
    /// Malformed.
    Invalid(&'static str),
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

impl PathSpec {
    /// The path as requested.
    pub fn resolve(&self, world: &World) -> String {
        let (owner, name, upper) = match self {
            PathSpec::Repo { index, upper } => {
                let repos = &world.repositories;
                match repos.get(index % repos.len().max(1)) {
                    Some(r) => (r.owner.as_str(), r.name.as_str(), *upper),
                    None => (NAMES[0], REPO_NAMES[0], *upper),
                }
            }
            PathSpec::Any { owner, name, upper } => (
                NAMES[owner % NAMES.len()],
                REPO_NAMES[name % REPO_NAMES.len()],
                *upper,
            ),
            PathSpec::Invalid(p) => return (*p).to_string(),
        };
        if upper {
            format!("{}/{}", upper_first(owner), name.to_uppercase())
        } else {
            format!("{owner}/{name}")
        }
    }
}

/// An account name.
#[derive(Clone, Debug)]
pub enum NameSpec {
    Account { index: usize, upper: bool },
    Invalid(&'static str),
}

impl NameSpec {
    /// The name as requested.
    pub fn resolve(&self) -> String {
        match self {
            NameSpec::Account { index, upper } => {
                let n = NAMES[index % NAMES.len()];
                if *upper {
                    n.to_uppercase()
                } else {
                    n.to_string()
                }
            }
            NameSpec::Invalid(n) => (*n).to_string(),
        }
    }
}

/// When a token expires.
#[derive(Clone, Copy, Debug)]
pub enum Expiry {
    Never,
    /// Seconds from now (> 0: live).
    In(i64),
    /// Seconds ago (>= 0: expired; 0 is exactly now).
    Ago(i64),
}

impl Expiry {
    pub fn at(self) -> Option<Timestamp> {
        match self {
            Expiry::Never => None,
            Expiry::In(s) => Some(NOW + s),
            Expiry::Ago(s) => Some(NOW - s),
        }
    }
}

/// A token record to mint.
#[derive(Clone, Debug)]
pub struct TokenSpec {
    /// Owner: index into [`NAMES`] (users, organisations, the missing account).
    pub owner: usize,
    pub scopes: Vec<&'static str>,
    pub repositories: Vec<PathSpec>,
    pub owners: Vec<NameSpec>,
    /// A child token (its parent is another record).
    pub child: bool,
    pub expiry: Expiry,
    pub revoked: bool,
    pub last_used: Option<Timestamp>,
    /// Fixed entropy: the secret and id are a function of it.
    pub entropy: u8,
    /// A record stored before contract 0.4: SHA-256 of the secret, not the HMAC tag.
    pub legacy: bool,
}

impl TokenSpec {
    /// Bound, public-only or a child.
    pub fn restricted(&self) -> bool {
        !self.repositories.is_empty()
            || !self.owners.is_empty()
            || self.child
            || self.scopes.contains(&"public-only")
    }
}

/// A session of the owner, with every power, as the minting creator: the records the
/// properties need are whatever the spec says, within the minting rules where they allow.
fn minting_session(owner: &str) -> Actor {
    session_creator(
        owner,
        UserFacts {
            status: AccountStatus::Active,
            site_admin: true,
            visibility: Visibility::Public,
            organization: false,
        },
    )
}

/// A session creator: a login and its facts.
pub fn session_creator(name: &str, facts: UserFacts) -> Actor {
    Actor::Session(forge_authz_guest::policy::Account {
        name: name.into(),
        facts,
    })
}

/// Fixed entropy for a mint: the secret and the public id follow from it.
pub fn entropy(seed: u8) -> [u8; ENTROPY_BYTES] {
    let mut e = [seed; ENTROPY_BYTES];
    e[0] = 0x5a;
    e
}

/// A plain request to mint for `owner`.
pub fn issue_request(
    world: &World,
    owner: &str,
    scopes: Vec<String>,
    repositories: Vec<String>,
    owners: Vec<String>,
    creator: Actor,
    expires: Option<Timestamp>,
) -> IssueRequest {
    let bound_facts = world.bound_facts(&repositories, owner);
    IssueRequest {
        owner: owner.into(),
        name: "t".into(),
        scopes,
        repositories,
        owners,
        expires,
        now: NOW,
        creator,
        existing_names: vec![],
        bound_facts,
        ip: None,
    }
}

/// Mint a token for real (`Authorizer::issue`, fixed entropy, so its secret, id and HMAC
/// tag are genuine) from a spec. The spec's scopes and binding are minted as asked when the
/// minting rules allow them; otherwise (say a bound token with `all`, or an unknown scope)
/// the record is the one an older policy or an import would have stored: a plain token
/// minted with the same entropy, its scopes and binding set to the spec's. Lifecycle
/// state (parent, expiry, revocation, last use) is then set on the record, and a legacy
/// spec's record stores SHA-256 of the secret instead of the tag.
pub fn mint(world: &World, spec: &TokenSpec) -> (String, TokenRecord) {
    let owner = NAMES[spec.owner % NAMES.len()];
    let repositories: Vec<String> = spec.repositories.iter().map(|p| p.resolve(world)).collect();
    let owners: Vec<String> = spec.owners.iter().map(NameSpec::resolve).collect();
    let scopes: Vec<String> = spec.scopes.iter().map(|s| s.to_string()).collect();
    let e = entropy(spec.entropy);
    let exact = AUTHZ.issue(
        &issue_request(
            world,
            owner,
            scopes.clone(),
            repositories.clone(),
            owners.clone(),
            minting_session(owner),
            Some(NOW + 86_400),
        ),
        Some(&e),
    );
    let (secret, mut record) = match exact {
        Ok(t) => (t.secret, t.record),
        Err(_) => {
            let plain = AUTHZ.issue(
                &issue_request(
                    world,
                    owner,
                    vec!["read:repository".into()],
                    vec![],
                    vec![],
                    minting_session(owner),
                    Some(NOW + 86_400),
                ),
                Some(&e),
            );
            let t = match plain {
                Ok(t) => t,
                Err(err) => panic!("a plain token always mints: {err:?}"),
            };
            let mut r = t.record;
            r.scopes = scopes;
            r.repositories = repositories;
            r.owners = owners;
            (t.secret, r)
        }
    };
    record.parent = spec.child.then(|| "parent0000000000".to_string());
    record.created = NOW - 86_400;
    record.expires = spec.expiry.at();
    record.revoked = spec.revoked.then_some(NOW - 60);
    record.last_used = spec.last_used;
    if spec.legacy {
        record.secret = SecretDigest::Sha256(secret_hash(&secret));
    }
    (secret, record)
}

/// How the credential is presented.
#[derive(Clone, Debug)]
pub enum CredSpec {
    Anonymous,
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// Basic with the token as the password and this username.
    BasicPassword(UserField),
    /// Basic with the token as the username, password empty (`false`) or
    /// `x-oauth-basic` (`true`).
    BasicUsername(bool),
    /// No credential; the token in another place of the request (a query parameter).
    AlsoPresented,
    /// An SSH user key of `NAMES[i]`.
    UserKey(usize),
    /// A deploy key of a repository, read-only or not.
    DeployKey(PathSpec, bool),
    /// A session of `NAMES[i]`.
    Session(usize),
}

impl CredSpec {
    /// Whether the credential carries the token.
    pub fn carries_token(&self) -> bool {
        matches!(
            self,
            CredSpec::Bearer
                | CredSpec::BasicPassword(_)
                | CredSpec::BasicUsername(_)
                | CredSpec::AlsoPresented
        )
    }
}

/// The username of a Basic credential.
#[derive(Clone, Debug)]
pub enum UserField {
    Placeholder(usize),
    Owner,
    OwnerUpper,
    Other(usize),
}

/// The credential for a spec (`secret`: the token, `owner`: its owner).
pub fn credential(
    spec: &CredSpec,
    secret: &str,
    owner: &str,
    world: &World,
) -> (Credential, Vec<String>) {
    let c = match spec {
        CredSpec::Anonymous => Credential::Anonymous,
        CredSpec::Bearer => Credential::Bearer(secret.into()),
        CredSpec::BasicPassword(u) => Credential::Basic {
            username: match u {
                UserField::Placeholder(i) => {
                    PLACEHOLDER_USERNAMES[i % PLACEHOLDER_USERNAMES.len()].into()
                }
                UserField::Owner => owner.into(),
                UserField::OwnerUpper => owner.to_uppercase(),
                UserField::Other(i) => NAMES[i % NAMES.len()].into(),
            },
            password: secret.into(),
        },
        CredSpec::BasicUsername(oauth) => Credential::Basic {
            username: secret.into(),
            password: if *oauth { "x-oauth-basic" } else { "" }.into(),
        },
        CredSpec::AlsoPresented => {
            return (Credential::Anonymous, vec![secret.to_string()]);
        }
        CredSpec::UserKey(i) => Credential::SshKey(SshKey {
            id: "laptop".into(),
            kind: KeyKind::User,
            owner: NAMES[i % NAMES.len()].into(),
            repository: None,
            read_only: false,
        }),
        CredSpec::DeployKey(path, read_only) => Credential::SshKey(SshKey {
            id: "deploy".into(),
            kind: KeyKind::Deploy,
            owner: String::new(),
            repository: Some(path.resolve(world)),
            read_only: *read_only,
        }),
        CredSpec::Session(i) => Credential::Session(NAMES[i % NAMES.len()].into()),
    };
    (c, vec![])
}

/// A ref update: create, fast-forward, force-push, delete (a malformed name among the
/// ref names). Contract 0.4 carries the change, not object ids: an update without an
/// old or new id cannot be expressed.
#[derive(Clone, Debug)]
pub struct RefSpec {
    pub name: &'static str,
    pub change: RefChange,
    pub force: bool,
}

impl RefSpec {
    pub fn update(&self) -> RefUpdate {
        RefUpdate {
            name: self.name.into(),
            change: self.change,
            force: self.force,
        }
    }
}

/// An API route.
#[derive(Clone, Debug)]
pub struct ApiSpec {
    pub method: &'static str,
    pub categories: Vec<Category>,
    pub repository: Option<PathSpec>,
    pub namespace: Option<NameSpec>,
    pub requires_auth: bool,
    pub admin_only: bool,
    pub required_role: Role,
    pub operation: Option<PrivilegedOperation>,
    pub sudo: Option<NameSpec>,
    pub package: bool,
    /// The route writes the repository's content (contract 0.5).
    pub writes_content: bool,
    /// The route creates in the actor's own namespace (contract 0.5).
    pub creates_in_own_namespace: bool,
}

/// A request of any kind.
#[derive(Clone, Debug)]
pub enum AskSpec {
    Git {
        transport: Transport,
        path: PathSpec,
        action: GitAction,
        refs: Vec<RefSpec>,
    },
    /// A batch decides without ref updates (contract 0.4).
    Batch {
        transport: Transport,
        action: GitAction,
        paths: Vec<PathSpec>,
    },
    RefPerms {
        transport: Transport,
        path: PathSpec,
        names: Vec<&'static str>,
    },
    Create {
        transport: Transport,
        path: PathSpec,
        step: CreationStep,
    },
    Api(ApiSpec),
}

/// A request, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ask {
    One(Request),
    Batch {
        transport: Transport,
        action: GitAction,
        repositories: Vec<String>,
    },
    Perms {
        transport: Transport,
        repository: String,
        refs: Vec<String>,
    },
}

impl AskSpec {
    pub fn resolve(&self, world: &World) -> Ask {
        match self {
            AskSpec::Git {
                transport,
                path,
                action,
                refs,
            } => Ask::One(Request::Git(GitRequest {
                transport: *transport,
                repository: path.resolve(world),
                action: *action,
                refs: refs.iter().map(RefSpec::update).collect(),
            })),
            AskSpec::Batch {
                transport,
                action,
                paths,
            } => Ask::Batch {
                transport: *transport,
                action: *action,
                repositories: paths.iter().map(|p| p.resolve(world)).collect(),
            },
            AskSpec::RefPerms {
                transport,
                path,
                names,
            } => Ask::Perms {
                transport: *transport,
                repository: path.resolve(world),
                refs: names.iter().map(|n| n.to_string()).collect(),
            },
            AskSpec::Create {
                transport,
                path,
                step,
            } => Ask::One(Request::Create(CreationRequest {
                transport: *transport,
                repository: path.resolve(world),
                step: *step,
            })),
            AskSpec::Api(a) => Ask::One(Request::Api(ApiRequest {
                method: method(a.method),
                categories: Categories::of(&a.categories),
                repository: a.repository.as_ref().map(|p| p.resolve(world)),
                namespace: a.namespace.as_ref().map(NameSpec::resolve),
                requires_auth: a.requires_auth,
                admin_only: a.admin_only,
                required_role: a.required_role,
                operation: a.operation,
                sudo: a.sudo.as_ref().map(NameSpec::resolve),
                package: a.package,
                writes_content: a.writes_content,
                creates_in_own_namespace: a.creates_in_own_namespace,
            })),
        }
    }
}

/// One generated case: a world, a token minted into its store, a credential, a request.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub world: World,
    pub token: TokenSpec,
    pub cred: CredSpec,
    pub ask: AskSpec,
    /// `binding_fallback_to_anonymous`.
    pub fallback: bool,
    pub explain: bool,
    /// The client's address (one of [`ADDRESSES`]).
    pub client: Option<&'static str>,
    /// The token's own IP allow list (an index into [`IP_LISTS`]).
    pub token_list: usize,
}

/// The IP allow lists drawn for accounts and tokens (mostly none).
pub const IP_LISTS: &[&[&str]] = &[
    &[],
    &[],
    &[],
    &[],
    &[],
    &["192.0.2.0/24"],
    &["2001:db8::/32", "198.51.100.0/24"],
    &["192.0.2.0/33", "not a block"],
];

/// The client addresses requests come from: none, inside and outside the blocks of
/// [`IP_LISTS`], IPv4-mapped IPv6, garbage.
pub const ADDRESSES: &[Option<&str>] = &[
    None,
    Some("192.0.2.7"),
    Some("::ffff:192.0.2.7"),
    Some("198.51.100.9"),
    Some("2001:db8::1"),
    Some("203.0.113.5"),
    Some("192.0.2.300"),
];

/// List `i` of [`IP_LISTS`] (modulo its length).
pub fn ip_list(i: usize) -> Vec<String> {
    IP_LISTS[i % IP_LISTS.len()]
        .iter()
        .map(|b| b.to_string())
        .collect()
}

/// A scenario made real: the store holds the minted record.
#[derive(Clone, Debug)]
pub struct Case {
    pub world: World,
    pub secret: String,
    pub record: TokenRecord,
    pub credential: Credential,
    pub also: Vec<String>,
    pub ask: Ask,
    pub fallback: bool,
    pub explain: bool,
    /// The client's address.
    pub client: Option<String>,
}

impl Scenario {
    /// Mint the token into the store and resolve the credential and request.
    pub fn build(&self) -> Case {
        let mut world = self.world.clone();
        let (secret, record) = mint(&world, &self.token);
        world.add_token(&record);
        world.set_token_ip_allow(&record.id, &ip_list(self.token_list));
        let (credential, also) = credential(&self.cred, &secret, &record.owner, &world);
        let ask = self.ask.resolve(&world);
        Case {
            world,
            secret,
            record,
            credential,
            also,
            ask,
            fallback: self.fallback,
            explain: self.explain,
            client: self.client.map(str::to_string),
        }
    }
}

impl Case {
    /// The policy this case runs against.
    pub fn authz(&self) -> &'static Authorizer {
        policy(self.fallback)
    }

    /// The call and the facts a correct host answers for it.
    pub fn prepared(&self) -> Prepared {
        prepare(
            self.authz(),
            &self.world,
            &self.credential,
            &self.also,
            &self.ask,
            self.explain,
            self.client.as_deref(),
        )
    }

    /// The call the host makes.
    pub fn call(&self) -> Call {
        call(&self.credential, &self.also, &self.ask, self.explain).from(self.client.as_deref())
    }

    /// The policy's answer, the facts answered from the world.
    pub fn answer(&self) -> Answer {
        self.call()
            .run(self.authz(), &mut WorldFacts::new(&self.world))
    }

    /// A batch's target `path` asked alone: the single git request a batch decides it as
    /// (a push without ref updates). `None` for a case that is not a batch.
    pub fn one_of_batch(&self, path: &str) -> Option<Case> {
        let Ask::Batch {
            transport, action, ..
        } = &self.ask
        else {
            return None;
        };
        Some(Case {
            ask: Ask::One(Request::Git(GitRequest {
                transport: *transport,
                repository: path.to_string(),
                action: *action,
                refs: vec![],
            })),
            ..self.clone()
        })
    }

    /// The same request with another credential.
    pub fn with_credential(&self, credential: Credential, also: Vec<String>) -> Case {
        Case {
            credential,
            also,
            ..self.clone()
        }
    }
}

// ---------------------------------------------------------------------------------------
// Strategies.

pub fn status() -> impl Strategy<Value = AccountStatus> {
    prop_oneof![
        20 => Just(AccountStatus::Active),
        1 => Just(AccountStatus::Inactive),
        1 => Just(AccountStatus::Suspended),
    ]
}

pub fn visibility() -> impl Strategy<Value = Visibility> {
    prop_oneof![
        3 => Just(Visibility::Public),
        1 => Just(Visibility::Limited),
        2 => Just(Visibility::Private),
    ]
}

pub fn role() -> impl Strategy<Value = Role> {
    prop_oneof![
        Just(Role::None),
        Just(Role::Read),
        Just(Role::Write),
        Just(Role::Admin),
    ]
}

/// A role, or no relation at all (drawn half the time).
fn relation() -> impl Strategy<Value = Option<Role>> {
    proptest::option::weighted(0.5, role())
}

fn access() -> impl Strategy<Value = RefAccess> {
    prop_oneof![
        3 => Just(RefAccess::Writers),
        3 => Just(RefAccess::Admins),
        2 => Just(RefAccess::Nobody),
        2 => subsequence(vec!["alice", "BOB", "carol", "dave", "Erin"], 0..3)
            .prop_map(|u| RefAccess::Users(u.into_iter().map(str::to_string).collect())),
    ]
}

pub fn protected_ref() -> impl Strategy<Value = ProtectedRef> {
    (select(PATTERNS.to_vec()), access(), access()).prop_map(|(pattern, push, force_push)| {
        ProtectedRef {
            pattern: pattern.into(),
            push,
            force_push,
        }
    })
}

fn named(roles: Vec<Option<Role>>) -> std::collections::BTreeMap<String, Role> {
    NAMES[..N_USERS]
        .iter()
        .zip(roles)
        .filter_map(|(n, r)| r.map(|r| (n.to_string(), r)))
        .collect()
}

pub fn repo() -> impl Strategy<Value = RepoDef> {
    (
        prop_oneof![12 => 0..GHOST, 1 => Just(GHOST)],
        0..REPO_NAMES.len(),
        any::<bool>(),
        prop_oneof![
            6 => Just(RepositoryKind::Hosted),
            1 => Just(RepositoryKind::Mirror),
            1 => Just(RepositoryKind::Import),
        ],
        proptest::bool::weighted(0.15),
        proptest::collection::vec(relation(), N_USERS),
        proptest::collection::vec(protected_ref(), 0..3),
        proptest::option::weighted(0.8, 0..NAMES.len()),
    )
        .prop_map(
            |(owner, name, private, kind, archived, collaborators, protected_refs, registrant)| {
                RepoDef {
                    owner: NAMES[owner].into(),
                    name: REPO_NAMES[name].into(),
                    private,
                    kind,
                    archived,
                    collaborators: named(collaborators),
                    protected_refs: protected_refs
                        .into_iter()
                        .map(ProtectedRefDef::from_core)
                        .collect(),
                    registrant: registrant.map(|i| NAMES[i].into()),
                }
            },
        )
}

pub fn world() -> impl Strategy<Value = World> {
    (
        proptest::collection::vec(
            (status(), proptest::bool::weighted(0.25), visibility()),
            N_USERS,
        ),
        proptest::collection::vec(
            (
                status(),
                visibility(),
                proptest::collection::vec(relation(), N_USERS),
            ),
            ORGS.len(),
        ),
        proptest::collection::vec(repo(), 1..7),
        proptest::collection::vec(0..IP_LISTS.len(), N_USERS + ORGS.len()),
    )
        .prop_map(|(users, orgs, repos, lists)| {
            let mut accounts: Vec<UserDef> = users
                .into_iter()
                .enumerate()
                .map(|(i, (status, site_admin, visibility))| UserDef {
                    ip_allow: Vec::new(),
                    name: NAMES[i].into(),
                    status,
                    site_admin,
                    visibility,
                    organization: false,
                    members: Default::default(),
                })
                .collect();
            accounts.extend(orgs.into_iter().enumerate().map(
                |(i, (status, visibility, members))| UserDef {
                    ip_allow: Vec::new(),
                    name: NAMES[ORGS.start + i].into(),
                    status,
                    site_admin: false,
                    visibility,
                    organization: true,
                    members: named(members),
                },
            ));
            let mut unique: Vec<RepoDef> = Vec::new();
            for r in repos {
                if !unique
                    .iter()
                    .any(|u| u.owner == r.owner && u.name == r.name)
                {
                    unique.push(r);
                }
            }
            for (a, l) in accounts.iter_mut().zip(lists) {
                a.ip_allow = ip_list(l);
            }
            world_of(accounts, unique)
        })
}

pub fn path() -> impl Strategy<Value = PathSpec> {
    prop_oneof![
        24 => (0..8usize, proptest::bool::weighted(0.15))
            .prop_map(|(index, upper)| PathSpec::Repo { index, upper }),
        12 => (0..NAMES.len(), 0..REPO_NAMES.len(), proptest::bool::weighted(0.15))
            .prop_map(|(owner, name, upper)| PathSpec::Any { owner, name, upper }),
        1 => select(INVALID_PATHS.to_vec()).prop_map(PathSpec::Invalid),
    ]
}

pub fn name() -> impl Strategy<Value = NameSpec> {
    prop_oneof![
        40 => (0..NAMES.len(), proptest::bool::weighted(0.15))
            .prop_map(|(index, upper)| NameSpec::Account { index, upper }),
        1 => select(INVALID_NAMES.to_vec()).prop_map(NameSpec::Invalid),
    ]
}

/// One scope: repository scopes most often, then the whole vocabulary, rarely an unknown.
pub fn scope() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        5 => select(REPOSITORY_SCOPES.to_vec()),
        3 => select(VOCABULARY.to_vec()),
        2 => Just("all"),
        1 => Just("public-only"),
        1 => Just("read_api"),
        1 => Just("write:admin"),
    ]
}

pub fn scopes() -> impl Strategy<Value = Vec<&'static str>> {
    prop_oneof![
        30 => proptest::collection::vec(scope(), 1..4),
        4 => Just(vec!["all"]),
        4 => Just(vec!["write:repository"]),
        2 => Just(vec!["repository:pull", "repository:push"]),
        2 => Just(vec!["write:repository", "write:organization", "write:admin", "user:token"]),
        1 => Just(vec![]),
        1 => Just(vec![UNKNOWN_SCOPE, "read:repository"]),
    ]
}

pub fn expiry() -> impl Strategy<Value = Expiry> {
    prop_oneof![
        2 => Just(Expiry::Never),
        8 => (1i64..40_000_000).prop_map(Expiry::In),
        1 => (0i64..100_000).prop_map(Expiry::Ago),
    ]
}

prop_compose! {
    /// A token spec with every state: bound or not, child or not, live, expired or revoked.
    pub fn token()(
        owner in prop_oneof![30 => 0..N_USERS, 1 => ORGS, 1 => Just(GHOST)],
        scopes in scopes(),
        repositories in prop_oneof![
            4 => Just(vec![]),
            1 => proptest::collection::vec(path(), 1..3),
        ],
        owners in prop_oneof![
            6 => Just(vec![]),
            1 => proptest::collection::vec(name(), 1..3),
        ],
        child in proptest::bool::weighted(0.15),
        expiry in expiry(),
        revoked in proptest::bool::weighted(0.05),
        last_used in proptest::option::of(prop_oneof![Just(NOW - 30), Just(NOW - 3_600)]),
        entropy in any::<u8>(),
        legacy in proptest::bool::weighted(0.2),
    ) -> TokenSpec {
        TokenSpec {
            owner, scopes, repositories, owners, child, expiry, revoked, last_used, entropy,
            legacy,
        }
    }
}

/// A live, unrevoked token spec.
pub fn live_token() -> impl Strategy<Value = TokenSpec> {
    (token(), 300i64..40_000_000).prop_map(|(mut t, lifetime)| {
        if !matches!(t.expiry, Expiry::Never) {
            t.expiry = Expiry::In(lifetime);
        }
        t.revoked = false;
        t
    })
}

/// Mostly live tokens, sometimes in any state.
pub fn mostly_live_token() -> impl Strategy<Value = TokenSpec> {
    prop_oneof![3 => live_token(), 1 => token()]
}

pub fn user_field() -> impl Strategy<Value = UserField> {
    prop_oneof![
        3 => (0..PLACEHOLDER_USERNAMES.len()).prop_map(UserField::Placeholder),
        2 => Just(UserField::Owner),
        1 => Just(UserField::OwnerUpper),
        1 => (0..NAMES.len()).prop_map(UserField::Other),
    ]
}

/// Credentials that carry the token.
pub fn token_credential() -> impl Strategy<Value = CredSpec> {
    prop_oneof![
        4 => Just(CredSpec::Bearer),
        3 => user_field().prop_map(CredSpec::BasicPassword),
        1 => any::<bool>().prop_map(CredSpec::BasicUsername),
        1 => Just(CredSpec::AlsoPresented),
    ]
}

/// SSH keys.
pub fn key_credential() -> impl Strategy<Value = CredSpec> {
    prop_oneof![
        2 => prop_oneof![12 => 0..N_USERS, 1 => ORGS, 1 => Just(GHOST)].prop_map(CredSpec::UserKey),
        1 => (path(), any::<bool>()).prop_map(|(p, ro)| CredSpec::DeployKey(p, ro)),
    ]
}

/// Every kind of credential.
pub fn any_credential() -> impl Strategy<Value = CredSpec> {
    prop_oneof![
        1 => Just(CredSpec::Anonymous),
        6 => token_credential(),
        2 => key_credential(),
        3 => prop_oneof![12 => 0..N_USERS, 1 => ORGS, 1 => Just(GHOST)].prop_map(CredSpec::Session),
    ]
}

pub fn transport() -> impl Strategy<Value = Transport> {
    prop_oneof![Just(Transport::Http), Just(Transport::Ssh)]
}

pub fn action() -> impl Strategy<Value = GitAction> {
    prop_oneof![Just(GitAction::Pull), Just(GitAction::Push)]
}

pub fn ref_spec() -> impl Strategy<Value = RefSpec> {
    (
        select(REF_NAMES.to_vec()),
        prop_oneof![
            3 => Just(RefChange::Create),
            6 => Just(RefChange::Update),
            2 => Just(RefChange::Delete),
        ],
        any::<bool>(),
    )
        .prop_map(|(name, change, force)| RefSpec {
            name,
            change,
            force,
        })
}

prop_compose! {
    pub fn api()(
        method in prop_oneof![20 => select(METHODS[..8].to_vec()), 1 => Just(METHODS[8])],
        categories in prop_oneof![
            1 => Just(vec![]),
            4 => Just(vec![Category::Repository]),
            4 => proptest::collection::vec(select(CATEGORIES.to_vec()), 1..3),
        ],
        repository in proptest::option::weighted(0.6, path()),
        namespace in proptest::option::weighted(0.5, name()),
        requires_auth in proptest::bool::weighted(0.3),
        admin_only in proptest::bool::weighted(0.15),
        required_role in role(),
        operation in proptest::option::weighted(0.3, select(OPERATIONS.to_vec())),
        sudo in proptest::option::weighted(0.15, name()),
        package in proptest::bool::weighted(0.2),
        // Contract 0.5's route flags: mostly off, sometimes on (valid or not: a request
        // that combines them wrongly is `request-invalid`).
        writes_content in proptest::bool::weighted(0.15),
        creates_in_own_namespace in proptest::bool::weighted(0.1),
    ) -> ApiSpec {
        ApiSpec {
            method, categories, repository, namespace, requires_auth, admin_only,
            required_role, operation, sudo, package, writes_content, creates_in_own_namespace,
        }
    }
}

pub fn step() -> impl Strategy<Value = CreationStep> {
    prop_oneof![
        2 => Just(CreationStep::PushToCreate),
        1 => Just(CreationStep::Confirm),
        1 => Just(CreationStep::Abort),
    ]
}

pub fn git_ask() -> impl Strategy<Value = AskSpec> {
    git_ask_of(action(), 0..4)
}

/// Git requests of `action`, with `refs` ref updates.
pub fn git_ask_of(
    action: impl Strategy<Value = GitAction>,
    refs: std::ops::Range<usize>,
) -> impl Strategy<Value = AskSpec> {
    (
        transport(),
        path(),
        action,
        proptest::collection::vec(ref_spec(), refs),
    )
        .prop_map(|(transport, path, action, refs)| AskSpec::Git {
            transport,
            path,
            action,
            refs,
        })
}

pub fn batch_ask() -> impl Strategy<Value = AskSpec> {
    (
        transport(),
        action(),
        proptest::collection::vec(path(), 0..5),
    )
        .prop_map(|(transport, action, paths)| AskSpec::Batch {
            transport,
            action,
            paths,
        })
}

pub fn perms_ask() -> impl Strategy<Value = AskSpec> {
    (
        transport(),
        path(),
        proptest::collection::vec(select(REF_NAMES.to_vec()), 0..4),
    )
        .prop_map(|(transport, path, names)| AskSpec::RefPerms {
            transport,
            path,
            names,
        })
}

pub fn create_ask() -> impl Strategy<Value = AskSpec> {
    (transport(), path(), step()).prop_map(|(transport, path, step)| AskSpec::Create {
        transport,
        path,
        step,
    })
}

/// Every kind of request.
pub fn any_ask() -> impl Strategy<Value = AskSpec> {
    prop_oneof![
        4 => git_ask(),
        1 => batch_ask(),
        1 => perms_ask(),
        2 => create_ask(),
        4 => api().prop_map(AskSpec::Api),
    ]
}

/// A scenario from the given parts.
pub fn scenario_of(
    token: impl Strategy<Value = TokenSpec>,
    cred: impl Strategy<Value = CredSpec>,
    ask: impl Strategy<Value = AskSpec>,
) -> impl Strategy<Value = Scenario> {
    scenario_with_fallback(token, cred, ask, 0.2)
}

/// A scenario from the given parts, with `binding_fallback_to_anonymous` drawn with
/// probability `fallback`.
pub fn scenario_with_fallback(
    token: impl Strategy<Value = TokenSpec>,
    cred: impl Strategy<Value = CredSpec>,
    ask: impl Strategy<Value = AskSpec>,
    fallback: f64,
) -> impl Strategy<Value = Scenario> {
    (
        world(),
        token,
        cred,
        ask,
        proptest::bool::weighted(fallback),
        proptest::bool::weighted(0.3),
        select(ADDRESSES),
        0..IP_LISTS.len(),
    )
        .prop_map(
            |(world, token, cred, ask, fallback, explain, client, token_list)| Scenario {
                world,
                token,
                cred,
                ask,
                fallback,
                explain,
                client,
                token_list,
            },
        )
}

/// Any scenario.
pub fn scenario() -> impl Strategy<Value = Scenario> {
    scenario_of(mostly_live_token(), any_credential(), any_ask())
}

/// Cases per property: `PROPTEST_CASES`, default 10,000.
pub fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

/// The proptest configuration: [`cases`] cases, no regression files written into the
/// tree (a failure prints its minimal input).
pub fn proptest_config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(cases())
    }
}
