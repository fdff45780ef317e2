//! Generated cases: small worlds (the fixture's [`World`]) and requests (the fixture's
//! [`RequestDef`]), exactly the files `forge-authz decide --world W --request R` reads, so
//! every counterexample the gate prints is reproducible by hand.
//!
//! Randomness is a SplitMix64 stream of our own ([`Rng`]): ten lines, no dependency, and
//! the same numbers on every platform and every future build (a crate's generator may
//! change its stream between versions, which would change every report's hash). The gate
//! draws everything from it, so a `(seed, cases)` pair names one list of cases.
//!
//! Tokens are minted by the policy core natively ([`Native`]: entropy derived from the
//! request, so the same secret every run) with the gate's own test keys, never the store's:
//! a counterexample may be printed, a store key may not. Minting is test data, not a
//! decision: every decision is the module's.

use forge_authz_fixture::native::Native;
use forge_authz_fixture::scenario::Engine as _;
use forge_authz_guest::policy;
use serde_json::json;

use crate::request::{ActionDef, CredentialDef, KindDef, MintOrder, RefUpdateDef, RequestDef};
use crate::world::{OptionsDef, World};

/// The clock of generated worlds in the gate's own tests (2026-01-01); `check` runs them at
/// `--at` (default: the time of the check), stated in its report.
pub const NOW: i64 = 1_767_225_600;

/// SplitMix64 (Steele, Lea, Flood 2014): a 64-bit state, one add and two multiply-xorshift
/// rounds per number.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// The stream of `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % (n.max(1) as u64)) as usize
    }

    /// True with `percent` % probability.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// `usual` with `percent` % probability, else either of `others`.
    pub fn mostly<'a>(&mut self, percent: u64, usual: &'a str, others: [&'a str; 2]) -> &'a str {
        if self.chance(percent) {
            usual
        } else if self.chance(50) {
            others[0]
        } else {
            others[1]
        }
    }

    /// One of `items` (`None` when there is none).
    pub fn pick<T: Clone>(&mut self, items: &[T]) -> Option<T> {
        items.get(self.below(items.len())).cloned()
    }
}

/// The state of a generated token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TokenState {
    /// Minted with the configured signing key, live.
    Valid,
    /// Signed with another secret under the signing key's id (its record stored).
    Forged,
    /// Past its expiry.
    Expired,
    /// Its record revoked.
    Revoked,
    /// Signed with a key the configuration does not list (a retired key).
    RetiredKey,
}

/// What the request's credential is, as the generator made it (what the invariants need to
/// know that the world does not say).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cred {
    /// No credential.
    Anonymous,
    /// A forge session of this user.
    Session(String),
    /// An SSH user key of this user.
    SshUser(String),
    /// A deploy key of this repository.
    SshDeploy {
        /// `owner/name`.
        repository: String,
        /// Read-only key.
        read_only: bool,
    },
    /// A token.
    Token {
        /// Its owner.
        owner: String,
        /// Valid, forged, expired, revoked or signed by a retired key.
        state: TokenState,
        /// Every scope it holds is a read scope.
        read_only: bool,
        /// Bound to repositories or owners, `public-only`, or a child token.
        restricted: bool,
    },
}

/// One generated case: a world, a request, and what its credential is.
#[derive(Clone, Debug)]
pub struct Case {
    /// The world (its keys are the gate's test keys).
    pub world: World,
    /// The request.
    pub request: RequestDef,
    /// The credential, as generated.
    pub cred: Cred,
}

/// The gate's test keys: `k1` signs, `k2` verifies too. Not secrets: they sign only the
/// generated worlds' tokens.
fn test_keys() -> serde_json::Value {
    json!([{"id": "k1", "secret": "07".repeat(32)}, {"id": "k2", "secret": "09".repeat(32)}])
}

const USERS: [&str; 3] = ["alice", "bob", "carol"];
const ORG: &str = "acme";
const REPOS: [(&str, &str); 4] = [
    ("alice", "app"),
    ("acme", "lib"),
    ("bob", "web"),
    ("ghost", "old"),
];
/// IP allow lists (CIDR blocks of the documentation ranges) and client addresses in and
/// out of them.
const NETWORKS: [&str; 2] = ["192.0.2.0/24", "198.51.100.0/24"];
const ADDRESSES: [&str; 4] = ["192.0.2.7", "198.51.100.9", "203.0.113.5", "2001:db8::1"];
const ROLES: [&str; 4] = ["none", "read", "write", "admin"];
const REFS: [&str; 4] = [
    "refs/heads/main",
    "refs/heads/dev",
    "refs/tags/v1",
    "refs/heads/release/1",
];
const READ_SCOPES: [&[&str]; 5] = [
    &["read:repository"],
    &["repository:pull"],
    &["read_repository"],
    &["read_api"],
    &["read:repository", "read:user", "read:organization"],
];
const WRITE_SCOPES: [&[&str]; 7] = [
    &["write:repository"],
    &["repository:push"],
    &["write_repository"],
    &["api"],
    &["all"],
    &[
        "write:repository",
        "write:admin",
        "write:user",
        "write:organization",
    ],
    &["read:repository", "write:issue", "user:token"],
];
const METHODS: [&str; 6] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];
const CATEGORIES: [&str; 6] = [
    "repository",
    "user",
    "organization",
    "admin",
    "issue",
    "package",
];
const OPERATIONS: [&str; 4] = [
    "repository-settings",
    "delete-repository",
    "view-admin-details",
    "moderate",
];

/// A world of three users and an organisation, one to four repositories, an SSH user key
/// and a deploy key, with `options` as the configuration's.
fn world(rng: &mut Rng, options: &OptionsDef, now: i64) -> anyhow::Result<World> {
    let mut users: Vec<serde_json::Value> = USERS
        .iter()
        .map(|u| {
            let status = rng.mostly(85, "active", ["suspended", "inactive"]);
            json!({"name": u, "status": status, "site_admin": rng.chance(8)})
        })
        .collect();
    let members = some_roles(rng, 40);
    let visibility = rng.pick(&["public", "public", "limited", "private"]);
    // Sometimes the organisation admits only one network (GitHub's and GitLab's IP allow
    // lists; the request's client address is drawn in or out of it).
    let ip_allow = if rng.chance(20) {
        vec![NETWORKS[0]]
    } else {
        vec![]
    };
    users.push(json!({
        "name": ORG, "organization": true, "visibility": visibility, "members": members,
        "ip_allow": ip_allow,
    }));
    let mut repositories = Vec::new();
    for (owner, name) in REPOS {
        if repositories.is_empty() || rng.chance(45) {
            repositories.push(repository(rng, owner, name));
        }
    }
    let deploy = repositories
        .first()
        .and_then(|r| Some(format!("{}/{}", r["owner"].as_str()?, r["name"].as_str()?)));
    let world = json!({
        "now": now,
        "keys": test_keys(),
        "signing_key": "k1",
        "users": users,
        "repositories": repositories,
        "ssh_keys": [
            {"id": "ku", "kind": "user", "owner": rng.pick(&USERS)},
            {"id": "kd", "kind": "deploy", "repository": deploy, "read_only": rng.chance(50)},
        ],
    });
    let mut world: World = serde_json::from_value(world)?;
    world.options = options.clone();
    Ok(world)
}

/// Each user, with `percent` % probability, with a role (read, write or admin).
fn some_roles(rng: &mut Rng, percent: u64) -> serde_json::Map<String, serde_json::Value> {
    let mut roles = serde_json::Map::new();
    for u in USERS {
        if rng.chance(percent) {
            roles.insert(u.into(), json!(rng.pick(&ROLES[1..]).unwrap_or("read")));
        }
    }
    roles
}

/// A repository: private, a mirror, an import or archived sometimes, with collaborators
/// and sometimes a protected `main`.
fn repository(rng: &mut Rng, owner: &str, name: &str) -> serde_json::Value {
    let collaborators = some_roles(rng, 35);
    let kind = rng.mostly(80, "hosted", ["mirror", "import"]);
    let mut repo = serde_json::Map::new();
    repo.insert("owner".into(), json!(owner));
    repo.insert("name".into(), json!(name));
    repo.insert("private".into(), json!(rng.chance(45)));
    repo.insert("kind".into(), json!(kind));
    repo.insert("archived".into(), json!(rng.chance(10)));
    repo.insert("collaborators".into(), collaborators.into());
    if rng.chance(30) {
        let push = rng.pick(&["writers", "admins", "nobody"]);
        repo.insert(
            "protected_refs".into(),
            json!([{"pattern": "main", "push": push}]),
        );
    }
    if rng.chance(20) {
        repo.insert("registrant".into(), json!(rng.pick(&USERS)));
    }
    repo.into()
}

/// Generate case number `index` of a run: its own stream, derived from the run's seed and
/// the index, so a case does not depend on how many were drawn before it.
///
/// Every generated world's clock is `now`: a site rule that depends on time (a change
/// freeze) is judged at the time the operator asks about.
pub fn generate(seed: u64, index: u64, options: &OptionsDef, now: i64) -> anyhow::Result<Case> {
    let mut rng = Rng::new(seed ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
    rng.next_u64();
    let mut world = world(&mut rng, options, now)?;
    let paths = target_paths(&world);
    let (cred, credential) = credential(&mut rng, &mut world, &paths)?;
    let ssh = matches!(cred, Cred::SshUser(_) | Cred::SshDeploy { .. }) && rng.chance(90);
    let mut request = ask(&mut rng, &paths);
    request.credential = credential;
    if rng.chance(70) {
        request.client_address = rng.pick(&ADDRESSES).map(String::from);
    }
    if ssh {
        request.transport = crate::request::TransportDef::Ssh;
    }
    Ok(Case {
        world,
        request,
        cred,
    })
}

/// The repositories of a world, and one that does not exist.
fn target_paths(world: &World) -> Vec<String> {
    world
        .repositories
        .iter()
        .map(|r| format!("{}/{}", r.owner, r.name))
        .chain(["alice/missing".to_string()])
        .collect()
}

/// A credential, minting its token into the world when it is one.
fn credential(
    rng: &mut Rng,
    world: &mut World,
    paths: &[String],
) -> anyhow::Result<(Cred, CredentialDef)> {
    let user = rng.pick(&USERS).unwrap_or("alice").to_string();
    Ok(match rng.below(10) {
        0 => (Cred::Anonymous, CredentialDef::Anonymous),
        1 => (Cred::Session(user.clone()), CredentialDef::Session(user)),
        2 => {
            let key = world.ssh_keys.iter().find(|k| k.id == "ku");
            let owner = key.map(|k| k.owner.clone()).unwrap_or_default();
            (Cred::SshUser(owner), CredentialDef::SshKey("ku".into()))
        }
        3 => {
            let key = world.ssh_keys.iter().find(|k| k.id == "kd");
            let cred = Cred::SshDeploy {
                repository: key.and_then(|k| k.repository.clone()).unwrap_or_default(),
                read_only: key.is_some_and(|k| k.read_only),
            };
            (cred, CredentialDef::SshKey("kd".into()))
        }
        _ => token(rng, world, paths, user)?,
    })
}

/// A token of `owner`: its scopes, binding and state drawn, minted natively and stored.
fn token(
    rng: &mut Rng,
    world: &mut World,
    paths: &[String],
    owner: String,
) -> anyhow::Result<(Cred, CredentialDef)> {
    let read_only = rng.chance(35);
    let set = if read_only {
        rng.pick(&READ_SCOPES)
    } else {
        rng.pick(&WRITE_SCOPES)
    };
    let mut scopes: Vec<String> = set.unwrap_or(&[]).iter().map(|s| s.to_string()).collect();
    let public_only = rng.chance(10);
    if public_only {
        scopes.push("public-only".into());
    }
    let (repositories, owners) = match rng.below(6) {
        0 | 1 => (vec![rng.pick(paths).unwrap_or_default()], vec![]),
        2 => (
            vec![],
            vec![rng.pick(&[owner.as_str(), ORG]).unwrap_or(ORG).to_string()],
        ),
        _ => (vec![], vec![]),
    };
    let state = match rng.below(10) {
        0 => TokenState::Forged,
        1 => TokenState::Expired,
        2 => TokenState::Revoked,
        3 => TokenState::RetiredKey,
        _ => TokenState::Valid,
    };
    let child = rng.chance(10);
    let Some(mut issued) = mint(world, &owner, &scopes, &repositories, &owners, state)? else {
        return Ok((Cred::Anonymous, CredentialDef::Anonymous));
    };
    if state == TokenState::Revoked {
        issued.record.revoked = Some(world.now() - 3_600);
    }
    if child {
        issued.record.parent = Some("parent-token".into());
    }
    let bound = !issued.record.repositories.is_empty() || !issued.record.owners.is_empty();
    world.add_token(&issued.record);
    if rng.chance(10) {
        for t in world.tokens.iter_mut().filter(|t| t.id == issued.record.id) {
            t.ip_allow = vec![NETWORKS[1].to_string()];
        }
    }
    let credential = if rng.chance(70) {
        CredentialDef::Bearer(issued.secret)
    } else {
        CredentialDef::Basic {
            username: owner.clone(),
            password: issued.secret,
        }
    };
    let cred = Cred::Token {
        owner,
        state,
        read_only,
        restricted: bound || public_only || child,
    };
    Ok((cred, credential))
}

/// Mint a token natively, as its owner's session would (the owner made active for the
/// mint, as the corpus does: some worlds suspend the owner afterwards). A binding the owner
/// cannot make is dropped; `None` when even the unbound token cannot be minted.
fn mint(
    world: &World,
    owner: &str,
    scopes: &[String],
    repositories: &[String],
    owners: &[String],
    state: TokenState,
) -> anyhow::Result<Option<policy::IssuedToken>> {
    let mut minter = world.clone();
    for u in minter.users.iter_mut().filter(|u| u.name == owner) {
        u.status = policy::AccountStatus::Active;
    }
    let mut keys = minter.clone();
    match state {
        TokenState::Forged => {
            keys.keys = serde_json::from_value(json!([{"id": "k1", "secret": "08".repeat(32)}]))?
        }
        TokenState::RetiredKey => {
            keys.keys = serde_json::from_value(json!([{"id": "k9", "secret": "07".repeat(32)}]))?;
            keys.signing_key = "k9".into();
        }
        _ => {}
    }
    let mut native = Native::new(&keys.config()?)?;
    let (now, lifetime) = match state {
        TokenState::Expired => (world.now() - 40 * 86_400, 30 * 86_400),
        _ => (world.now() - 86_400, 30 * 86_400),
    };
    for (repositories, owners) in [(repositories, owners), (&[][..], &[][..])] {
        let order = MintOrder {
            owner: owner.to_string(),
            name: "t".into(),
            scopes: scopes.to_vec(),
            repositories: repositories.to_vec(),
            owners: owners.to_vec(),
            expires: None,
            expires_in: Some(lifetime),
            now: Some(now),
        };
        let Ok(request) = order.request(&minter) else {
            return Ok(None);
        };
        if let Ok(issued) = native.issue(&request)? {
            return Ok(Some(issued));
        }
    }
    Ok(None)
}

/// A request of any kind on the world's paths.
fn ask(rng: &mut Rng, paths: &[String]) -> RequestDef {
    let path = rng.pick(paths).unwrap_or_default();
    let action = if rng.chance(50) {
        ActionDef::Pull
    } else {
        ActionDef::Push
    };
    match rng.below(10) {
        0..=3 => RequestDef {
            kind: KindDef::Git,
            repository: Some(path),
            action: Some(action),
            refs: if action == ActionDef::Push {
                ref_updates(rng)
            } else {
                vec![]
            },
            ..RequestDef::default()
        },
        4 => creation(rng, path),
        5..=7 => api(rng, path),
        8 => RequestDef {
            kind: KindDef::RefPermissions,
            repository: Some(path),
            ref_names: (0..1 + rng.below(2))
                .filter_map(|_| rng.pick(&REFS))
                .map(String::from)
                .collect(),
            ..RequestDef::default()
        },
        _ => RequestDef {
            kind: KindDef::Batch,
            action: Some(action),
            repositories: (0..1 + rng.below(3))
                .filter_map(|_| rng.pick(paths))
                .collect(),
            ..RequestDef::default()
        },
    }
}

/// Zero to two ref updates: creations, fast-forwards, forced moves, deletions.
fn ref_updates(rng: &mut Rng) -> Vec<RefUpdateDef> {
    (0..rng.below(3))
        .map(|_| {
            let zero = "0".repeat(40);
            let (old, new) = match rng.below(4) {
                0 => (zero, "2".repeat(40)),
                1 => ("1".repeat(40), zero),
                _ => ("1".repeat(40), "2".repeat(40)),
            };
            RefUpdateDef {
                name: rng.pick(&REFS).unwrap_or_default().to_string(),
                old,
                new,
                force: rng.chance(25),
            }
        })
        .collect()
}

/// A creation step on an existing or a new path.
fn creation(rng: &mut Rng, path: String) -> RequestDef {
    let path = if rng.chance(50) {
        path
    } else {
        "alice/new".into()
    };
    let step = rng
        .pick(&["push-to-create", "confirm", "abort"])
        .unwrap_or("confirm");
    serde_json::from_value(json!({"kind": "create", "repository": path, "step": step}))
        .unwrap_or_default()
}

/// An API route: a method, a category, a repository or a namespace target, and sometimes
/// admin-only, a privileged operation, `sudo`, a required role or a content write.
fn api(rng: &mut Rng, path: String) -> RequestDef {
    let mut r = serde_json::Map::new();
    r.insert("kind".into(), json!("api"));
    r.insert("method".into(), json!(rng.pick(&METHODS)));
    r.insert("categories".into(), json!([rng.pick(&CATEGORIES)]));
    r.insert("requires_auth".into(), json!(rng.chance(50)));
    match rng.below(3) {
        0 => drop(r.insert("repository".into(), json!(path))),
        1 => drop(r.insert(
            "namespace".into(),
            json!(rng.pick(&["alice", "bob", ORG, "ghost"])),
        )),
        _ => {}
    }
    if rng.chance(8) {
        r.insert("admin_only".into(), json!(true));
    }
    if rng.chance(10) {
        r.insert("operation".into(), json!(rng.pick(&OPERATIONS)));
    }
    if rng.chance(6) {
        r.insert("sudo".into(), json!(rng.pick(&USERS)));
    }
    if rng.chance(30) {
        r.insert("required_role".into(), json!(rng.pick(&ROLES)));
    }
    if r.contains_key("repository") && rng.chance(30) {
        r.insert("writes_content".into(), json!(true));
    }
    serde_json::from_value(r.into()).unwrap_or_default()
}
