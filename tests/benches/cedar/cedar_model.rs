//! The forge-authz benchmark decisions as a Cedar model (`cedar-policy` 4), so Cedar's
//! `Authorizer::is_authorized` can be timed beside our policy on the same decisions.
//!
//! - `forge.cedarschema`: the facts as entities and context; `forge.cedar`: the rules, each
//!   naming the rule of `guest/src/policy` it mirrors. Both are compiled in.
//! - [`CedarEngine::new`] parses and validates the schema and policies once, and builds the
//!   entity store once from a fixture [`World`] (the host's and the corpus's world type;
//!   [`bench_world`] is the benchmark's).
//! - Requests are built by [`CedarEngine::git_request`] and [`CedarEngine::api_request`]
//!   from what a host knows per call (who, what, which repository, the ref update, the
//!   route, the time); the benchmark cases have their own builders
//!   ([`CedarEngine::case_requests`]), and [`CASES`] lists every case with its expected
//!   answer (allow, or the policy that denies). [`case_asks`] gives each case's requests
//!   engine-neutrally ([`Ask`]), so the same cases can be fed to our policy for an
//!   agreement test; [`expected`] gives the `(case, allow)` pairs.
//!
//! What Cedar does not do, here as in our host flow: token string parsing, checksum, key
//! and HMAC tag, and binding the record to the secret (our figures include these, Cedar's
//! do not), looking the record and facts up, lowercasing names (entity ids are canonical
//! lowercase), ref-name validity and matching a ref against protection patterns (the
//! matched rule is a fact of the ref update). Scope strings become the token's `scopes` record
//! once, when the token's entity is built, parsed by the core's own `ScopeSet::parse` (which
//! our policy runs on every decision).
//!
//! A push is decided per ref: one `push` request per ref update, each carrying that update
//! in `context.ref`. Each such request is a complete decision (every repository-level push
//! rule and the ref's protection rule): its answer is the per-ref verdict, and the push is
//! allowed when at least one ref update is (git.rs: refused only when every update is). A
//! `push` request without `context.ref` is the repository-level decision alone.
//!
//! Included (`#[path]`) by `benches/decide.rs`, which times the benchmark cases, and by
//! `tests/cedar.rs`, which runs this module's own tests and checks every case against our
//! policy, native and wasm. Each uses part of it.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicyId,
    PolicySet, Request, Response, RestrictedExpression, Schema, ValidationMode, Validator,
};
use forge_authz_fixture::World;
use forge_authz_fixture::defs::{
    AccessDef, KeyDef, ProtectedRefDef, RepoDef, RepoKind, Role, Status, TokenDef, UserDef,
    Visibility,
};
use forge_authz_guest::policy::scope::{CATEGORIES, Category, ScopeSet};
use forge_authz_guest::policy::{self, GitAction, Method, RefChange};

/// The schema source (Cedar schema syntax).
pub const SCHEMA_SRC: &str = include_str!("forge.cedarschema");
/// The policy source.
pub const POLICIES_SRC: &str = include_str!("forge.cedar");

/// The benchmark's clock: 2026-01-01T00:00:00Z, as in `tests/benches/decide.rs`.
pub const NOW: i64 = 1_767_225_600;

/// Why the model could not be built or a request not formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelError {
    /// The schema does not parse.
    Schema(String),
    /// The policies do not parse, or lack a unique `@id`.
    Policies(String),
    /// The policies do not validate against the schema (strict mode).
    Validation(String),
    /// An entity is malformed or does not conform to the schema.
    Entities(String),
    /// A request or its context does not conform to the schema.
    Request(String),
    /// A scope string this model does not know.
    UnknownScope(String),
    /// No case of that name.
    UnknownCase(String),
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::Schema(e) => write!(f, "cedar schema: {e}"),
            ModelError::Policies(e) => write!(f, "cedar policies: {e}"),
            ModelError::Validation(e) => write!(f, "cedar policies do not validate: {e}"),
            ModelError::Entities(e) => write!(f, "cedar entities: {e}"),
            ModelError::Request(e) => write!(f, "cedar request: {e}"),
            ModelError::UnknownScope(s) => write!(f, "unknown scope `{s}`"),
            ModelError::UnknownCase(s) => write!(f, "unknown case `{s}`"),
        }
    }
}

impl std::error::Error for ModelError {}

fn err<E: fmt::Display>(kind: fn(String) -> ModelError) -> impl Fn(E) -> ModelError {
    move |e| kind(e.to_string())
}

// ------------------------------------------------------------------------- host facts
//
// The world is the fixture's (`forge_authz_fixture::World`: users, repositories with their
// collaborators, token records), the one the host and the scenario corpus read, so the
// model's facts are ours by construction; its values are named as files spell them
// (`Status::name`, `Role::name`, ...: the core's own types), and roles compare in the
// core's order.

/// The protection rule a ref update matched: the pattern every model ref update's name
/// (`refs/heads/topic-{i}`) matches.
pub const TOPIC_PATTERN: &str = "topic-*";

/// The name of the `i`-th ref update of a push.
pub fn ref_name(i: usize) -> String {
    format!("refs/heads/topic-{i}")
}

/// One ref update (model.rs `RefUpdate`), its name reduced to the protection rule the
/// host matched for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefFacts {
    /// Creation, move or deletion.
    pub change: RefChange,
    /// A move that is not a fast-forward.
    pub force: bool,
    /// The first protection rule whose pattern matches the ref name.
    pub protection: Option<ProtectedRefDef>,
}

impl RefFacts {
    /// A fast-forward of an existing, unprotected ref.
    pub fn fast_forward() -> RefFacts {
        RefFacts {
            change: RefChange::Update,
            force: false,
            protection: None,
        }
    }
}

/// An API route on a repository (model.rs `ApiRequest`, repository target only).
#[derive(Clone, Debug)]
pub struct RouteFacts {
    /// HTTP method.
    pub method: Method,
    /// Scope categories needed, all of them.
    pub categories: Vec<Category>,
    /// Authentication required.
    pub requires_auth: bool,
    /// Role needed on the repository.
    pub required_role: policy::Role,
}

/// Who is asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who<'a> {
    /// No credential.
    Anonymous,
    /// A verified token, by its public id.
    Token(&'a str),
}

// ------------------------------------------------------------------------ the engine

/// Entity type names and action ids, parsed once.
#[derive(Clone, Debug)]
struct Names {
    user: EntityTypeName,
    role: EntityTypeName,
    repository: EntityTypeName,
    token: EntityTypeName,
    anonymous: EntityUid,
    pull: EntityUid,
    push: EntityUid,
    api_read: EntityUid,
    api_write: EntityUid,
}

impl Names {
    fn new() -> Result<Names, ModelError> {
        let ty = |s: &str| EntityTypeName::from_str(s).map_err(err(ModelError::Schema));
        let uid = |s: &str| EntityUid::from_str(s).map_err(err(ModelError::Schema));
        Ok(Names {
            user: ty("Forge::User")?,
            role: ty("Forge::RepositoryRole")?,
            repository: ty("Forge::Repository")?,
            token: ty("Forge::Token")?,
            anonymous: uid(r#"Forge::Anonymous::"anonymous""#)?,
            pull: uid(r#"Forge::Action::"pull""#)?,
            push: uid(r#"Forge::Action::"push""#)?,
            api_read: uid(r#"Forge::Action::"apiRead""#)?,
            api_write: uid(r#"Forge::Action::"apiWrite""#)?,
        })
    }

    fn uid(ty: &EntityTypeName, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(id))
    }

    fn user(&self, name: &str) -> EntityUid {
        Names::uid(&self.user, name)
    }

    fn repository(&self, path: &str) -> EntityUid {
        Names::uid(&self.repository, path)
    }

    /// The group of `repo`'s collaborators with role >= `role`.
    fn role(&self, repo: &str, role: policy::Role) -> EntityUid {
        Names::uid(&self.role, &format!("{repo}#{}", role.name()))
    }

    fn principal(&self, who: Who<'_>) -> EntityUid {
        match who {
            Who::Anonymous => self.anonymous.clone(),
            Who::Token(id) => Names::uid(&self.token, id),
        }
    }
}

/// Cedar's authorizer with the forge policies, schema and entity store, built once.
#[derive(Debug)]
pub struct CedarEngine {
    authorizer: Authorizer,
    policies: PolicySet,
    schema: Schema,
    entities: Entities,
    names: Names,
}

fn long(v: i64) -> RestrictedExpression {
    RestrictedExpression::new_long(v)
}

fn string(s: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(s.to_string())
}

fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> RestrictedExpression {
    RestrictedExpression::new_set(items.into_iter().map(string))
}

fn record(
    fields: impl IntoIterator<Item = (&'static str, RestrictedExpression)>,
    kind: fn(String) -> ModelError,
) -> Result<RestrictedExpression, ModelError> {
    RestrictedExpression::new_record(fields.into_iter().map(|(k, v)| (k.to_string(), v)))
        .map_err(err(kind))
}

/// Parse the policies and give each the id of its `@id` annotation, so a response's
/// reasons name the rules.
fn policies(src: &str) -> Result<PolicySet, ModelError> {
    let parsed = PolicySet::from_str(src).map_err(err(ModelError::Policies))?;
    let mut set = PolicySet::new();
    for p in parsed.policies() {
        let id = p
            .annotation("id")
            .ok_or_else(|| ModelError::Policies(format!("policy without @id: {p}")))?;
        set.add(p.new_id(PolicyId::new(id)))
            .map_err(err(ModelError::Policies))?;
    }
    Ok(set)
}

impl CedarEngine {
    /// Parse the schema, parse and validate the policies (strict), and build the entity
    /// store of `world` (checked against the schema, with the schema's actions).
    pub fn new(world: &World) -> Result<CedarEngine, ModelError> {
        CedarEngine::with_policies(world, POLICIES_SRC)
    }

    /// As [`CedarEngine::new`] with other policy text (same schema): to try variants.
    pub fn with_policies(world: &World, policies_src: &str) -> Result<CedarEngine, ModelError> {
        let (schema, _warnings) =
            Schema::from_cedarschema_str(SCHEMA_SRC).map_err(err(ModelError::Schema))?;
        let policies = policies(policies_src)?;
        let validation = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        if !validation.validation_passed() {
            return Err(ModelError::Validation(validation.to_string()));
        }
        let names = Names::new()?;
        let entities = Entities::from_entities(entities(&names, world)?, Some(&schema))
            .map_err(err(ModelError::Entities))?;
        Ok(CedarEngine {
            authorizer: Authorizer::new(),
            policies,
            schema,
            entities,
            names,
        })
    }

    /// Cedar's full response (decision, determining policies, evaluation errors).
    pub fn authorize(&self, req: &Request) -> Response {
        self.authorizer
            .is_authorized(req, &self.policies, &self.entities)
    }

    /// Allowed?
    pub fn decide(&self, req: &Request) -> bool {
        self.authorize(req).decision() == Decision::Allow
    }

    /// A request checked against the schema.
    fn request(
        &self,
        who: Who<'_>,
        action: &EntityUid,
        repository: &str,
        context: Context,
    ) -> Result<Request, ModelError> {
        Request::new(
            self.names.principal(who),
            action.clone(),
            self.names.repository(repository),
            context,
            Some(&self.schema),
        )
        .map_err(err(ModelError::Request))
    }

    /// A git request: pull, or push (with `update`: the verdict on that ref update).
    pub fn git_request(
        &self,
        who: Who<'_>,
        action: GitAction,
        repository: &str,
        update: Option<&RefFacts>,
        now: i64,
    ) -> Result<Request, ModelError> {
        let mut pairs = vec![("now".to_string(), long(now))];
        let action = match action {
            GitAction::Pull => &self.names.pull,
            GitAction::Push => {
                if let Some(u) = update {
                    pairs.push(("ref".to_string(), self.ref_update(u)?));
                }
                &self.names.push
            }
        };
        let context = Context::from_pairs(pairs).map_err(err(ModelError::Request))?;
        self.request(who, action, repository, context)
    }

    fn access(&self, a: &AccessDef) -> Result<RestrictedExpression, ModelError> {
        let (who, users): (&str, &[String]) = match a {
            AccessDef::Writers => ("writers", &[]),
            AccessDef::Admins => ("admins", &[]),
            AccessDef::Users(users) => ("users", users),
            AccessDef::Nobody => ("nobody", &[]),
        };
        let users = users
            .iter()
            .map(|u| RestrictedExpression::new_entity_uid(self.names.user(u)));
        record(
            [
                ("who", string(who)),
                ("users", RestrictedExpression::new_set(users)),
            ],
            ModelError::Request,
        )
    }

    fn ref_update(&self, u: &RefFacts) -> Result<RestrictedExpression, ModelError> {
        let mut fields = vec![
            ("change", string(u.change.name())),
            ("force", RestrictedExpression::new_bool(u.force)),
        ];
        if let Some(p) = &u.protection {
            let rule = record(
                [
                    ("push", self.access(&p.push)?),
                    ("forcePush", self.access(&p.force_push)?),
                ],
                ModelError::Request,
            )?;
            fields.push(("protection", rule));
        }
        record(fields, ModelError::Request)
    }

    /// An API request on a repository route.
    pub fn api_request(
        &self,
        who: Who<'_>,
        repository: &str,
        route: &RouteFacts,
        now: i64,
    ) -> Result<Request, ModelError> {
        // GET, HEAD and OPTIONS read (the core's `Method::reads`).
        let action = if route.method.reads() {
            &self.names.api_read
        } else {
            &self.names.api_write
        };
        let context = Context::from_pairs([
            ("now".to_string(), long(now)),
            (
                "categories".to_string(),
                strings(route.categories.iter().map(|c| c.name())),
            ),
            (
                "requiresAuth".to_string(),
                RestrictedExpression::new_bool(route.requires_auth),
            ),
            (
                "requiredRole".to_string(),
                string(route.required_role.name()),
            ),
        ])
        .map_err(err(ModelError::Request))?;
        self.request(who, action, repository, context)
    }
}

/// The entities of `world`: users (members of their role groups), three role groups per
/// repository (admin in write in read), repositories and tokens.
fn entities(names: &Names, world: &World) -> Result<Vec<Entity>, ModelError> {
    let entity = |uid, attrs: Vec<(&str, RestrictedExpression)>, parents| {
        Entity::new(
            uid,
            attrs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<HashMap<_, _>>(),
            parents,
        )
        .map_err(err(ModelError::Entities))
    };
    let mut memberships: HashMap<&str, HashSet<EntityUid>> = HashMap::new();
    let mut out = Vec::new();
    for repo in &world.repositories {
        let path = format!("{}/{}", repo.owner, repo.name);
        for (user, role) in &repo.collaborators {
            if *role > policy::Role::None {
                memberships
                    .entry(user.as_str())
                    .or_default()
                    .insert(names.role(&path, *role));
            }
        }
        let read = names.role(&path, policy::Role::Read);
        let write = names.role(&path, policy::Role::Write);
        let admin = names.role(&path, policy::Role::Admin);
        out.push(Entity::new_no_attrs(read.clone(), HashSet::new()));
        out.push(Entity::new_no_attrs(
            write.clone(),
            HashSet::from([read.clone()]),
        ));
        out.push(Entity::new_no_attrs(
            admin.clone(),
            HashSet::from([write.clone()]),
        ));
        let uid = |u| RestrictedExpression::new_entity_uid(u);
        out.push(entity(
            names.repository(&path),
            vec![
                ("owner", uid(names.user(&repo.owner))),
                ("private", RestrictedExpression::new_bool(repo.private)),
                ("kind", string(repo.kind.name())),
                ("archived", RestrictedExpression::new_bool(repo.archived)),
                ("readers", uid(read)),
                ("writers", uid(write)),
                ("admins", uid(admin)),
            ],
            HashSet::new(),
        )?);
    }
    for user in &world.users {
        out.push(entity(
            names.user(&user.name),
            vec![
                ("status", string(user.status.name())),
                ("siteAdmin", RestrictedExpression::new_bool(user.site_admin)),
                (
                    "organization",
                    RestrictedExpression::new_bool(user.organization),
                ),
                ("visibility", string(user.visibility.name())),
            ],
            memberships.remove(user.name.as_str()).unwrap_or_default(),
        )?);
    }
    for t in &world.tokens {
        let s = ScopeSet::parse(&t.scopes).map_err(ModelError::UnknownScope)?;
        let named = |has: fn(&ScopeSet, Category) -> bool| {
            strings(CATEGORIES.iter().filter(|c| has(&s, **c)).map(|c| c.name()))
        };
        let scopes = record(
            [
                ("read", named(ScopeSet::can_read)),
                ("write", named(ScopeSet::can_write)),
                ("pull", RestrictedExpression::new_bool(s.pull)),
                ("push", RestrictedExpression::new_bool(s.push)),
                ("apiRead", RestrictedExpression::new_bool(s.api_read)),
                ("publicOnly", RestrictedExpression::new_bool(s.public_only)),
            ],
            ModelError::Entities,
        )?;
        let mut attrs = vec![
            (
                "owner",
                RestrictedExpression::new_entity_uid(names.user(&t.owner)),
            ),
            ("scopes", scopes),
            (
                "repositories",
                RestrictedExpression::new_set(
                    t.repositories
                        .iter()
                        .map(|r| RestrictedExpression::new_entity_uid(names.repository(r))),
                ),
            ),
            (
                "owners",
                RestrictedExpression::new_set(
                    t.owners
                        .iter()
                        .map(|o| RestrictedExpression::new_entity_uid(names.user(o))),
                ),
            ),
            (
                "derived",
                RestrictedExpression::new_bool(t.parent.is_some()),
            ),
            (
                "revoked",
                RestrictedExpression::new_bool(t.revoked.is_some()),
            ),
        ];
        if let Some(e) = t.expires {
            attrs.push(("expires", long(e)));
        }
        out.push(entity(
            Names::uid(&names.token, &t.id),
            attrs,
            HashSet::new(),
        )?);
    }
    Ok(out)
}

// ------------------------------------------------------------- the benchmark world

/// The benchmark's token: alice's, `write:repository` + `read:issue`, unbound.
pub const BENCH_TOKEN: &str = "alice-main";
/// The benchmark's repository.
pub const BENCH_REPOSITORY: &str = "alice/app";
/// Repositories in the batch.
pub const BATCH_SIZE: usize = 100;
/// Ref updates in the push.
pub const PUSH_REFS: usize = 10;

fn user(name: &str, status: Status, site_admin: bool) -> UserDef {
    UserDef {
        ip_allow: Vec::new(),
        name: name.to_string(),
        status,
        site_admin,
        visibility: Visibility::Public,
        organization: false,
        members: Default::default(),
    }
}

fn repository(name: &str, private: bool, collaborators: &[(&str, Role)]) -> RepoDef {
    RepoDef {
        owner: "alice".to_string(),
        name: name.to_string(),
        private,
        kind: RepoKind::Hosted,
        archived: false,
        collaborators: collaborators
            .iter()
            .map(|(u, r)| (u.to_string(), *r))
            .collect(),
        protected_refs: vec![],
        registrant: None,
    }
}

/// A live, unbound token record created a minute before [`NOW`] and expiring an hour
/// after it. Its digest binds no secret: the agreement test (`tests/cedar.rs`) mints a
/// genuine token for each record and keeps these facts.
fn token(id: &str, owner: &str, scopes: &[&str]) -> TokenDef {
    TokenDef {
        ip_allow: Vec::new(),
        id: id.to_string(),
        owner: owner.to_string(),
        name: id.to_string(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        repositories: vec![],
        owners: vec![],
        parent: None,
        predecessor: None,
        successor: None,
        last_used: Some(NOW),
        created: NOW - 60,
        expires: Some(NOW + 3600),
        revoked: None,
        secret_hash: "00".repeat(32),
        digest: "sha256".into(),
    }
}

fn bound(id: &str, repositories: &[&str], owners: &[&str]) -> TokenDef {
    TokenDef {
        repositories: repositories.iter().map(|r| r.to_string()).collect(),
        owners: owners.iter().map(|o| o.to_string()).collect(),
        ..token(id, "alice", &["write:repository"])
    }
}

/// The names of the batch's repositories, `alice/r0` .. `alice/r99`.
pub fn batch_repositories() -> Vec<String> {
    (0..BATCH_SIZE).map(|i| format!("alice/r{i}")).collect()
}

/// The benchmark's world (`tests/benches/decide.rs`: alice, `alice/app`, her
/// `write:repository` + `read:issue` token, 100 public repositories), and the facts the
/// other cases need: a fixture [`World`], as the host and the corpus read one (its clock
/// is [`NOW`], its signing key `k1`, its options the defaults: no binding fallback).
pub fn bench_world() -> World {
    let mut repositories = vec![
        repository("app", false, &[]),
        // Private: bob may read, carol (suspended) may write.
        repository(
            "secret",
            true,
            &[("bob", Role::Read), ("carol", Role::Write)],
        ),
        RepoDef {
            archived: true,
            ..repository("archive", false, &[])
        },
        RepoDef {
            kind: RepoKind::Mirror,
            ..repository("mirror", false, &[])
        },
    ];
    repositories.extend((0..BATCH_SIZE).map(|i| repository(&format!("r{i}"), false, &[])));
    World {
        now: Some(NOW),
        keys: vec![KeyDef {
            id: "k1".into(),
            secret: "07".repeat(32),
        }],
        signing_key: "k1".into(),
        users: vec![
            user("alice", Status::Active, false),
            user("bob", Status::Active, false),
            user("carol", Status::Suspended, false),
            user("dave", Status::Active, false),
            user("root", Status::Active, true),
        ],
        repositories,
        tokens: vec![
            token(BENCH_TOKEN, "alice", &["write:repository", "read:issue"]),
            token("alice-issue-only", "alice", &["read:issue"]),
            token("alice-repo-only", "alice", &["write:repository"]),
            token("alice-pull-only", "alice", &["repository:pull"]),
            token(
                "alice-public-only",
                "alice",
                &["write:repository", "public-only"],
            ),
            bound("alice-bound-secret", &["alice/secret"], &[]),
            bound("alice-bound-app", &["alice/app"], &[]),
            bound("alice-bound-owner", &[], &["alice"]),
            TokenDef {
                expires: Some(NOW),
                ..token("alice-expired", "alice", &["write:repository"])
            },
            TokenDef {
                revoked: Some(NOW - 10),
                ..token("alice-revoked", "alice", &["write:repository"])
            },
            TokenDef {
                expires: None,
                ..token("alice-no-expiry", "alice", &["write:repository"])
            },
            token("bob-main", "bob", &["write:repository", "write:issue"]),
            token("carol-main", "carol", &["write:repository"]),
            token("dave-main", "dave", &["all"]),
            token("root-main", "root", &["all"]),
            TokenDef {
                parent: Some("root-main".into()),
                ..token("root-child", "root", &["all"])
            },
        ],
        ..World::default()
    }
}

// ------------------------------------------------------------------------- the cases

/// What a request asks, engine-neutral: the same [`Ask`] can be turned into a Cedar
/// request ([`CedarEngine::ask_request`]) or into our policy's input.
#[derive(Clone, Debug)]
pub enum What {
    /// Git pull.
    Pull,
    /// Git push; with a ref update, the verdict on that update.
    Push(Option<RefFacts>),
    /// An API route on the repository.
    Api(RouteFacts),
}

/// One request of a case.
#[derive(Clone, Debug)]
pub struct Ask {
    /// The token's public id; `None`: anonymous.
    pub token: Option<&'static str>,
    /// `owner/name`.
    pub repository: String,
    /// What is asked.
    pub what: What,
}

impl Ask {
    /// Who asks, for the request builders.
    pub fn who(&self) -> Who<'static> {
        self.token.map_or(Who::Anonymous, Who::Token)
    }
}

/// The benchmark's API route: GET, needs `issue`, no authentication, no role.
pub fn issue_route() -> RouteFacts {
    route(Method::Get, &[Category::Issue], false, policy::Role::None)
}

fn route(
    method: Method,
    categories: &[Category],
    requires_auth: bool,
    required_role: policy::Role,
) -> RouteFacts {
    RouteFacts {
        method,
        categories: categories.to_vec(),
        requires_auth,
        required_role,
    }
}

/// A case and its expected answer: allowed, or denied by the forbid policy `because`
/// (`None` with a deny: no permit applies, Cedar's default deny).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Case {
    /// Case name.
    pub name: &'static str,
    /// Every request of the case is allowed.
    pub allow: bool,
    /// The policy id that denies (the only one in the response's reasons).
    pub because: Option<&'static str>,
}

const fn allow(name: &'static str) -> Case {
    Case {
        name,
        allow: true,
        because: None,
    }
}

const fn deny(name: &'static str, because: Option<&'static str>) -> Case {
    Case {
        name,
        allow: false,
        because,
    }
}

/// Every case ([`case_asks`] gives its requests). The first five are the benchmark's;
/// `push_10_refs` is ten requests and `batch_100` a hundred, each with the case's answer.
pub const CASES: &[Case] = &[
    allow("token_pull"),
    allow("anonymous_pull"),
    allow("push_10_refs"),
    allow("api_route"),
    allow("batch_100"),
    // More allows: the rules that grant.
    allow("pull_only_scope_pull"),
    allow("bound_inside_pull"),
    allow("owner_bound_pull"),
    allow("no_expiry_pull"),
    allow("collaborator_pull_private"),
    allow("site_admin_pull_private"),
    allow("push_without_ref"),
    allow("owner_push_admins_only_ref"),
    allow("owner_force_push_unprotected"),
    allow("listed_user_push_ref"),
    allow("create_protected_ref"),
    allow("anonymous_api_read"),
    allow("collaborator_api_write_issue"),
    // Denies.
    deny("pull_missing_scope", Some("scope-missing-pull")),
    deny("push_missing_scope", Some("scope-missing-push")),
    deny("push_pull_only_scope", Some("scope-missing-push")),
    deny("private_pull_non_collaborator", None),
    deny("anonymous_pull_private", None),
    deny("anonymous_push", Some("authentication-required-push")),
    deny("public_only_private_pull", Some("token-public-only")),
    deny("bound_elsewhere_pull", Some("token-not-bound")),
    deny("expired_token_pull", Some("token-expired")),
    deny("revoked_token_pull", Some("token-revoked")),
    deny("suspended_account_pull", Some("account-inactive")),
    deny("collaborator_read_push", None),
    deny("archived_push", Some("repository-read-only")),
    deny("mirror_push", Some("repository-read-only")),
    deny("protected_ref_push", Some("ref-protected")),
    deny("force_push_protected", Some("force-push-protected")),
    deny("delete_protected", Some("force-push-protected")),
    deny("create_push_protected_ref", Some("ref-protected")),
    deny("unlisted_user_push_ref", Some("ref-protected")),
    deny("restricted_site_admin_private", None),
    deny("bound_admin_only_ref", Some("ref-protected")),
    deny("api_missing_scope", Some("scope-missing-api-read")),
    deny("api_no_category", Some("scope-missing-api-read")),
    deny("api_write_missing_scope", Some("scope-missing-api-write")),
    deny("anonymous_api_requires_auth", None),
    deny("anonymous_api_write", Some("authentication-required-api")),
    deny("collaborator_api_admin_route", Some("role-required")),
];

/// The `(case name, expected allow)` pairs of [`CASES`].
pub fn expected() -> impl Iterator<Item = (&'static str, bool)> {
    CASES.iter().map(|c| (c.name, c.allow))
}

/// The `i`-th ref update of the benchmark's push, `refs/heads/topic-{i}`: a fast-forward
/// of an unprotected ref. (A ref name reaches Cedar only through the host's protection
/// match, so every update of the push has the same facts.)
pub fn push_ref(_i: usize) -> RefFacts {
    RefFacts::fast_forward()
}

fn protected(push: AccessDef, force_push: AccessDef, change: RefChange, force: bool) -> RefFacts {
    RefFacts {
        change,
        force,
        protection: Some(ProtectedRefDef {
            pattern: TOPIC_PATTERN.into(),
            push,
            force_push,
        }),
    }
}

fn users(names: &[&str]) -> AccessDef {
    AccessDef::Users(names.iter().map(|n| n.to_string()).collect())
}

/// The requests of the case `name` of [`CASES`] (`None`: no such case).
pub fn case_asks(name: &str) -> Option<Vec<Ask>> {
    use AccessDef::{Admins, Nobody, Writers};
    use RefChange::{Create, Delete, Update};
    let ask = |token, repository: &str, what| Ask {
        token,
        repository: repository.to_string(),
        what,
    };
    let one = |token, repository: &str, what| Some(vec![ask(token, repository, what)]);
    let me = Some(BENCH_TOKEN);
    let app = BENCH_REPOSITORY;
    let secret = "alice/secret";
    let push = |update: RefFacts| What::Push(Some(update));
    let ff = || push(RefFacts::fast_forward());
    let mine = |update: RefFacts| one(me, app, push(update));
    // An API request on a route that requires authentication.
    let api = |token, repository: &str, method, category, role| {
        one(
            token,
            repository,
            What::Api(route(method, &[category], true, role)),
        )
    };
    match name {
        "token_pull" => one(me, app, What::Pull),
        "anonymous_pull" => one(None, app, What::Pull),
        "push_10_refs" => Some(
            (0..PUSH_REFS)
                .map(|i| ask(me, app, push(push_ref(i))))
                .collect(),
        ),
        "api_route" => one(me, app, What::Api(issue_route())),
        "batch_100" => Some(
            batch_repositories()
                .iter()
                .map(|r| ask(me, r, What::Pull))
                .collect(),
        ),
        "pull_only_scope_pull" => one(Some("alice-pull-only"), app, What::Pull),
        "bound_inside_pull" => one(Some("alice-bound-app"), app, What::Pull),
        "owner_bound_pull" => one(Some("alice-bound-owner"), app, What::Pull),
        "no_expiry_pull" => one(Some("alice-no-expiry"), app, What::Pull),
        "collaborator_pull_private" => one(Some("bob-main"), secret, What::Pull),
        "site_admin_pull_private" => one(Some("root-main"), secret, What::Pull),
        "push_without_ref" => one(me, app, What::Push(None)),
        "owner_push_admins_only_ref" => mine(protected(Admins, Nobody, Update, false)),
        "owner_force_push_unprotected" => mine(RefFacts {
            force: true,
            ..RefFacts::fast_forward()
        }),
        "listed_user_push_ref" => mine(protected(users(&["alice"]), Nobody, Update, false)),
        "create_protected_ref" => mine(protected(Writers, Nobody, Create, false)),
        "anonymous_api_read" => one(None, app, What::Api(issue_route())),
        "collaborator_api_write_issue" => api(
            Some("bob-main"),
            secret,
            Method::Post,
            Category::Issue,
            policy::Role::Read,
        ),
        "pull_missing_scope" => one(Some("alice-issue-only"), app, What::Pull),
        "push_missing_scope" => one(Some("alice-issue-only"), app, ff()),
        "push_pull_only_scope" => one(Some("alice-pull-only"), app, ff()),
        "private_pull_non_collaborator" => one(Some("dave-main"), secret, What::Pull),
        "anonymous_pull_private" => one(None, secret, What::Pull),
        "anonymous_push" => one(None, app, ff()),
        "public_only_private_pull" => one(Some("alice-public-only"), secret, What::Pull),
        "bound_elsewhere_pull" => one(Some("alice-bound-secret"), app, What::Pull),
        "expired_token_pull" => one(Some("alice-expired"), app, What::Pull),
        "revoked_token_pull" => one(Some("alice-revoked"), app, What::Pull),
        "suspended_account_pull" => one(Some("carol-main"), app, What::Pull),
        "collaborator_read_push" => one(Some("bob-main"), secret, ff()),
        "archived_push" => one(me, "alice/archive", ff()),
        "mirror_push" => one(me, "alice/mirror", What::Push(None)),
        "protected_ref_push" => mine(protected(Nobody, Nobody, Update, false)),
        "force_push_protected" => mine(protected(Writers, Nobody, Update, true)),
        "delete_protected" => mine(protected(Writers, users(&["bob"]), Delete, false)),
        "create_push_protected_ref" => mine(protected(Nobody, Writers, Create, false)),
        "unlisted_user_push_ref" => mine(protected(users(&["bob"]), Nobody, Update, false)),
        "restricted_site_admin_private" => one(Some("root-child"), secret, What::Pull),
        "bound_admin_only_ref" => one(
            Some("alice-bound-app"),
            app,
            push(protected(Admins, Nobody, Update, false)),
        ),
        "api_missing_scope" => one(Some("alice-repo-only"), app, What::Api(issue_route())),
        "api_no_category" => one(
            me,
            app,
            What::Api(route(Method::Get, &[], false, policy::Role::None)),
        ),
        "api_write_missing_scope" => {
            api(me, app, Method::Post, Category::Issue, policy::Role::None)
        }
        "anonymous_api_requires_auth" => {
            api(None, app, Method::Get, Category::Issue, policy::Role::None)
        }
        "anonymous_api_write" => api(None, app, Method::Post, Category::Issue, policy::Role::None),
        "collaborator_api_admin_route" => api(
            Some("bob-main"),
            secret,
            Method::Get,
            Category::Repository,
            policy::Role::Admin,
        ),
        _ => None,
    }
}

impl CedarEngine {
    /// The Cedar request for `ask`.
    pub fn ask_request(&self, ask: &Ask) -> Result<Request, ModelError> {
        let who = ask.who();
        match &ask.what {
            What::Pull => self.git_request(who, GitAction::Pull, &ask.repository, None, NOW),
            What::Push(update) => {
                self.git_request(who, GitAction::Push, &ask.repository, update.as_ref(), NOW)
            }
            What::Api(route) => self.api_request(who, &ask.repository, route, NOW),
        }
    }

    /// The Cedar requests of the case `name` of [`CASES`].
    pub fn case_requests(&self, name: &str) -> Result<Vec<Request>, ModelError> {
        case_asks(name)
            .ok_or_else(|| ModelError::UnknownCase(name.to_string()))?
            .iter()
            .map(|a| self.ask_request(a))
            .collect()
    }

    /// Benchmark case: the token pull of `alice/app`.
    pub fn token_pull_request(&self) -> Result<Request, ModelError> {
        self.git_request(
            Who::Token(BENCH_TOKEN),
            GitAction::Pull,
            BENCH_REPOSITORY,
            None,
            NOW,
        )
    }

    /// Benchmark case: the anonymous pull of `alice/app`.
    pub fn anonymous_pull_request(&self) -> Result<Request, ModelError> {
        self.git_request(Who::Anonymous, GitAction::Pull, BENCH_REPOSITORY, None, NOW)
    }

    /// Benchmark case: the verdict on one ref update of the token push to `alice/app` (the
    /// push is [`PUSH_REFS`] of these, [`push_ref`]).
    pub fn push_ref_request(&self, update: &RefFacts) -> Result<Request, ModelError> {
        self.git_request(
            Who::Token(BENCH_TOKEN),
            GitAction::Push,
            BENCH_REPOSITORY,
            Some(update),
            NOW,
        )
    }

    /// Benchmark case: the token's request on an API route of `alice/app`
    /// ([`issue_route`]).
    pub fn api_route_request(&self, route: &RouteFacts) -> Result<Request, ModelError> {
        self.api_request(Who::Token(BENCH_TOKEN), BENCH_REPOSITORY, route, NOW)
    }

    /// Benchmark case: the token pull of one repository of the batch.
    pub fn batch_request(&self, repository: &str) -> Result<Request, ModelError> {
        self.git_request(
            Who::Token(BENCH_TOKEN),
            GitAction::Pull,
            repository,
            None,
            NOW,
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn engine() -> CedarEngine {
        CedarEngine::new(&bench_world()).unwrap()
    }

    /// Every case gives its expected answer, for the expected reason, without an
    /// evaluation error (Cedar skips a policy that errors, so an error could hide a
    /// forbid).
    #[test]
    fn every_case_as_expected() {
        let e = engine();
        for case in CASES {
            let requests = e.case_requests(case.name).unwrap();
            assert!(!requests.is_empty(), "{}", case.name);
            for r in &requests {
                let resp = e.authorize(r);
                let errors: Vec<String> =
                    resp.diagnostics().errors().map(|e| e.to_string()).collect();
                assert!(
                    errors.is_empty(),
                    "{}: evaluation errors {errors:?}",
                    case.name
                );
                assert_eq!(e.decide(r), case.allow, "{}: {resp:?}", case.name);
                let reasons: Vec<&str> = resp.diagnostics().reason().map(|p| p.as_ref()).collect();
                if !case.allow {
                    let want: Vec<&str> = case.because.into_iter().collect();
                    assert_eq!(reasons, want, "{}: determining policies", case.name);
                }
            }
        }
    }

    #[test]
    fn case_sizes() {
        let e = engine();
        assert_eq!(e.case_requests("push_10_refs").unwrap().len(), PUSH_REFS);
        assert_eq!(e.case_requests("batch_100").unwrap().len(), BATCH_SIZE);
        assert!(matches!(
            e.case_requests("nope"),
            Err(ModelError::UnknownCase(_))
        ));
        let names: HashSet<&str> = CASES.iter().map(|c| c.name).collect();
        assert_eq!(names.len(), CASES.len(), "case names are unique");
    }

    /// Every policy decides at least one case: none is dead or untested.
    #[test]
    fn every_policy_is_exercised() {
        let e = engine();
        let mut seen = HashSet::new();
        for case in CASES {
            for r in e.case_requests(case.name).unwrap() {
                for p in e.authorize(&r).diagnostics().reason() {
                    seen.insert(p.to_string());
                }
            }
        }
        let all: HashSet<String> = e.policies.policies().map(|p| p.id().to_string()).collect();
        let unused: Vec<&String> = all.difference(&seen).collect();
        assert!(unused.is_empty(), "policies no case reaches: {unused:?}");
    }

    #[test]
    fn unknown_scope_is_refused() {
        let mut world = bench_world();
        world.tokens[0].scopes.push("write:everything".into());
        assert_eq!(
            CedarEngine::new(&world).unwrap_err(),
            ModelError::UnknownScope("write:everything".into())
        );
    }

    /// A request that does not fit the schema is refused when built.
    #[test]
    fn requests_are_schema_checked() {
        let e = engine();
        let ctx = Context::from_pairs([("now".to_string(), string("soon"))]).unwrap();
        assert!(matches!(
            e.request(
                Who::Token(BENCH_TOKEN),
                &e.names.pull,
                BENCH_REPOSITORY,
                ctx
            ),
            Err(ModelError::Request(_))
        ));
    }
}
