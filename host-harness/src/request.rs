//! Requests as JSON, the host's decision flow, and decisions as JSON.
//!
//! The flow is the same for every caller (CLI, tests, servers): ask the policy to verify
//! the credential with no store; only for a genuine token look its record up; gather the
//! acting user's, the repository's and the namespace's facts; ask the policy to decide.
//! A policy failure at any step is a deny (`policy-failure`), never an allow.

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

use crate::policy::{Policy, PolicyFailure};
use crate::wit;

/// Where facts come from: the JSON world, a database, a forge's own tables.
pub trait FactSource {
    /// The stored record for a token id.
    fn token(&self, id: &str) -> Option<wit::TokenRecord>;
    /// A user's facts.
    fn user(&self, name: &str) -> Option<wit::UserFacts>;
    /// A repository's facts for `actor` (None: anonymous).
    fn repository(&self, path: &str, actor: Option<&str>) -> Option<wit::RepositoryFacts>;
    /// A user's or organisation's facts for `actor`.
    fn namespace(&self, name: &str, actor: Option<&str>) -> Option<wit::NamespaceFacts>;
    /// An SSH key by id.
    fn ssh_key(&self, id: &str) -> Option<wit::SshKey>;
}

impl FactSource for crate::world::World {
    fn token(&self, id: &str) -> Option<wit::TokenRecord> {
        crate::world::World::token(self, id)
    }
    fn user(&self, name: &str) -> Option<wit::UserFacts> {
        crate::world::World::user(self, name)
    }
    fn repository(&self, path: &str, actor: Option<&str>) -> Option<wit::RepositoryFacts> {
        crate::world::World::repository(self, path, actor)
    }
    fn namespace(&self, name: &str, actor: Option<&str>) -> Option<wit::NamespaceFacts> {
        crate::world::World::namespace(self, name, actor)
    }
    fn ssh_key(&self, id: &str) -> Option<wit::SshKey> {
        crate::world::World::ssh_key(self, id)
    }
}

/// A credential in a request file.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum CredentialDef {
    /// `"anonymous"`
    #[default]
    Anonymous,
    /// `{"bearer": "<token>"}`
    Bearer(String),
    /// `{"basic": {"username": "...", "password": "..."}}`
    Basic {
        /// Username.
        username: String,
        /// Password.
        password: String,
    },
    /// `{"ssh-key": "<key id>"}`: a key the SSH server verified.
    SshKey(String),
    /// `{"session": "<login>"}`: the forge authenticated the user itself.
    Session(String),
}

impl std::fmt::Debug for CredentialDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialDef::Anonymous => f.write_str("anonymous"),
            CredentialDef::Bearer(_) => f.write_str("bearer(<redacted>)"),
            CredentialDef::Basic { .. } => f.write_str("basic(<redacted>)"),
            CredentialDef::SshKey(k) => write!(f, "ssh-key({k})"),
            CredentialDef::Session(u) => write!(f, "session({u})"),
        }
    }
}

/// `http` or `ssh`.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum TransportDef {
    /// Smart HTTP.
    #[default]
    Http,
    /// SSH.
    Ssh,
}

/// `pull` or `push`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ActionDef {
    /// Fetch / clone.
    Pull,
    /// Push.
    Push,
}

/// What a request file asks.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum KindDef {
    /// Git pull or push (`repository`, `action`, optional `refs`).
    #[default]
    Git,
    /// Repository creation (`repository`, `step`).
    Create,
    /// An API route (`method`, `categories`, targets, flags).
    Api,
    /// Launchpad ref permissions (`repository`, `ref_names`).
    RefPermissions,
    /// One git action against many repositories (`repositories`, `action`).
    Batch,
}

/// One ref update of a push.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RefUpdateDef {
    /// Full ref name.
    pub name: String,
    /// Old object id (zeros: create). Default: a non-zero id.
    #[serde(default = "some_id")]
    pub old: String,
    /// New object id (zeros: delete). Default: a non-zero id.
    #[serde(default = "some_id")]
    pub new: String,
    /// Not a fast-forward.
    #[serde(default)]
    pub force: bool,
}

fn some_id() -> String {
    "1".repeat(40)
}

/// A request file (README, "Requests"). One flat shape for every kind.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RequestDef {
    /// The credential; default anonymous.
    #[serde(default)]
    pub credential: CredentialDef,
    /// Further tokens found in the request (query parameters, other headers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_presented: Vec<String>,
    /// What is asked; default `git`.
    #[serde(default)]
    pub kind: KindDef,
    /// Transport (git); default http.
    #[serde(default)]
    pub transport: TransportDef,
    /// Target repository `owner/name` (a trailing `.git` is dropped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Git action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<ActionDef>,
    /// Ref updates of a push.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refs: Vec<RefUpdateDef>,
    /// Refs to report permissions on (`ref-permissions`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ref_names: Vec<String>,
    /// Repositories of a batch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repositories: Vec<String>,
    /// Creation step: `push-to-create`, `confirm`, `abort`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<StepDef>,
    /// API: HTTP method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// API: scope categories of the route.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<CategoryDef>,
    /// API: target user or organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// API: the route demands authentication.
    #[serde(default)]
    pub requires_auth: bool,
    /// API: an `/admin` route.
    #[serde(default)]
    pub admin_only: bool,
    /// API: role needed on the target repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_role: Option<crate::world::Role>,
    /// API: privileged operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<OperationDef>,
    /// API: `sudo` target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sudo: Option<String>,
    /// API: a package route.
    #[serde(default)]
    pub package: bool,
    /// The time (Unix seconds); default: the world's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<i64>,
    /// Ask for the explanation trace.
    #[serde(default)]
    pub explain: bool,
}

/// The deny a host answers with when the policy could not run.
pub fn failure_decision(failure: &PolicyFailure) -> wit::Decision {
    wit::Decision {
        allow: false,
        status: wit::Status::Unavailable,
        reason: wit::Reason::PolicyFailure,
        message: "the authorization policy could not decide; access denied".into(),
        detail: Some(failure.0.clone()),
        refs: vec![],
        trace: vec![],
        effects: vec![],
    }
}

/// Strip one trailing `.git` (a URL convention, not part of the name).
pub fn repository_path(requested: &str) -> &str {
    requested.strip_suffix(".git").unwrap_or(requested)
}

/// A step of repository creation.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum StepDef {
    /// A push to a repository that does not exist yet.
    PushToCreate,
    /// The registrant confirms a pending creation.
    Confirm,
    /// The registrant abandons it.
    Abort,
}

/// A scope category an API route declares.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CategoryDef {
    /// ActivityPub.
    Activitypub,
    /// Site administration.
    Admin,
    /// Miscellaneous.
    Misc,
    /// Notifications.
    Notification,
    /// Organisations.
    Organization,
    /// Packages.
    Package,
    /// Issues.
    Issue,
    /// Repositories.
    Repository,
    /// Users.
    User,
}

/// A privileged API operation.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum OperationDef {
    /// Change repository settings.
    RepositorySettings,
    /// Delete a repository.
    DeleteRepository,
    /// Transfer a repository.
    TransferRepository,
    /// Convert a mirror.
    ConvertMirror,
    /// Generate from a template.
    GenerateFromTemplate,
    /// Create for another owner.
    CreateForOtherOwner,
    /// View administrative details.
    ViewAdminDetails,
    /// Moderate.
    Moderate,
}

impl StepDef {
    fn to_wit(self) -> wit::CreationStep {
        match self {
            StepDef::PushToCreate => wit::CreationStep::PushToCreate,
            StepDef::Confirm => wit::CreationStep::Confirm,
            StepDef::Abort => wit::CreationStep::Abort,
        }
    }
}

impl CategoryDef {
    fn to_wit(self) -> wit::ScopeCategory {
        use wit::ScopeCategory as C;
        match self {
            CategoryDef::Activitypub => C::Activitypub,
            CategoryDef::Admin => C::Admin,
            CategoryDef::Misc => C::Misc,
            CategoryDef::Notification => C::Notification,
            CategoryDef::Organization => C::Organization,
            CategoryDef::Package => C::Package,
            CategoryDef::Issue => C::Issue,
            CategoryDef::Repository => C::Repository,
            CategoryDef::User => C::User,
        }
    }
}

impl OperationDef {
    fn to_wit(self) -> wit::PrivilegedOperation {
        use wit::PrivilegedOperation as P;
        match self {
            OperationDef::RepositorySettings => P::RepositorySettings,
            OperationDef::DeleteRepository => P::DeleteRepository,
            OperationDef::TransferRepository => P::TransferRepository,
            OperationDef::ConvertMirror => P::ConvertMirror,
            OperationDef::GenerateFromTemplate => P::GenerateFromTemplate,
            OperationDef::CreateForOtherOwner => P::CreateForOtherOwner,
            OperationDef::ViewAdminDetails => P::ViewAdminDetails,
            OperationDef::Moderate => P::Moderate,
        }
    }
}

impl RequestDef {
    fn repository(&self) -> anyhow::Result<String> {
        let r = self
            .repository
            .as_deref()
            .with_context(|| format!("a {:?} request needs `repository`", self.kind))?;
        Ok(repository_path(r).to_string())
    }

    fn transport(&self) -> wit::Transport {
        match self.transport {
            TransportDef::Http => wit::Transport::Http,
            TransportDef::Ssh => wit::Transport::Ssh,
        }
    }

    fn git(&self, repository: String) -> anyhow::Result<wit::GitRequest> {
        Ok(wit::GitRequest {
            transport: self.transport(),
            repository,
            action: match self.action.context("a git request needs `action`")? {
                ActionDef::Pull => wit::GitAction::Pull,
                ActionDef::Push => wit::GitAction::Push,
            },
            refs: self
                .refs
                .iter()
                .map(|r| wit::RefUpdate {
                    name: r.name.clone(),
                    old: r.old.clone(),
                    new: r.new.clone(),
                    force: r.force,
                })
                .collect(),
        })
    }

    /// The WIT request (for `batch`, the git request of the first repository).
    pub fn to_wit(&self) -> anyhow::Result<wit::Request> {
        Ok(match self.kind {
            KindDef::Git | KindDef::RefPermissions => {
                wit::Request::Git(self.git(self.repository()?)?)
            }
            KindDef::Batch => wit::Request::Git(
                self.git(
                    self.repositories
                        .first()
                        .map(|r| repository_path(r).to_string())
                        .unwrap_or_default(),
                )?,
            ),
            KindDef::Create => wit::Request::Create(wit::CreationRequest {
                transport: self.transport(),
                repository: self.repository()?,
                step: self.step.context("a create request needs `step`")?.to_wit(),
            }),
            KindDef::Api => wit::Request::Api(wit::ApiRequest {
                method: self
                    .method
                    .clone()
                    .context("an api request needs `method`")?,
                categories: self.categories.iter().map(|c| c.to_wit()).collect(),
                repository: self
                    .repository
                    .as_deref()
                    .map(|r| repository_path(r).to_string()),
                namespace: self.namespace.clone(),
                requires_auth: self.requires_auth,
                admin_only: self.admin_only,
                required_role: self
                    .required_role
                    .unwrap_or(crate::world::Role::None)
                    .to_wit(),
                operation: self.operation.map(OperationDef::to_wit),
                sudo: self.sudo.clone(),
                package: self.package,
            }),
        })
    }
}

/// What the policy answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A decision.
    Decision(wit::Decision),
    /// One decision per repository of a batch.
    Batch(Vec<(String, wit::Decision)>),
    /// Permissions per ref.
    Permissions(Vec<wit::RefPermissions>),
}

fn credential(def: &CredentialDef, facts: &dyn FactSource) -> anyhow::Result<wit::Credential> {
    Ok(match def {
        CredentialDef::Anonymous => wit::Credential::Anonymous,
        CredentialDef::Bearer(t) => wit::Credential::Bearer(t.clone()),
        CredentialDef::Basic { username, password } => {
            wit::Credential::Basic(wit::BasicCredential {
                username: username.clone(),
                password: password.clone(),
            })
        }
        // An SSH server only authenticates keys it knows: an unknown id never gets here.
        CredentialDef::SshKey(id) => wit::Credential::SshKey(
            facts
                .ssh_key(id)
                .with_context(|| format!("unknown ssh key `{id}`"))?,
        ),
        CredentialDef::Session(u) => wit::Credential::Session(u.clone()),
    })
}

/// Build the policy input: verify, look up (only for a genuine token), gather.
fn gather(
    policy: &mut dyn Policy,
    facts: &dyn FactSource,
    request: &RequestDef,
    now: i64,
) -> anyhow::Result<Result<wit::Input, PolicyFailure>> {
    let credential = credential(&request.credential, facts)?;
    let wit_request = request.to_wit()?;
    let mut verified = match policy.verify(&credential) {
        Ok(v) => v,
        Err(f) => return Ok(Err(f)),
    };
    // A token that came only in another place of the request.
    if matches!(verified, Ok(None))
        && let Some(extra) = request.also_presented.iter().find(|t| !t.is_empty())
    {
        verified = match policy.verify(&wit::Credential::Bearer(extra.clone())) {
            Ok(v) => v,
            Err(f) => return Ok(Err(f)),
        };
    }
    // Only a genuine token reaches the store (reference §6: forged -> 401 before lookup).
    let token = match &verified {
        Ok(Some(v)) => facts.token(&v.token_id),
        Ok(None) | Err(_) => None,
    };
    let actor: Option<String> = match (&token, &credential) {
        (Some(t), _) => Some(t.owner.clone()),
        (None, wit::Credential::SshKey(k)) if k.kind == wit::KeyKind::User => Some(k.owner.clone()),
        (None, wit::Credential::Session(u)) => Some(u.clone()),
        _ => None,
    };
    let user = actor.as_deref().and_then(|a| facts.user(a));
    // Under `sudo`, targets are seen as the impersonated account sees them; the policy
    // decides whether the sudo itself is allowed (and refuses a missing target).
    let sudo_target = match &wit_request {
        wit::Request::Api(a) => a.sudo.as_deref(),
        _ => None,
    };
    let sudo = sudo_target.and_then(|s| facts.user(s));
    let actor = match sudo_target {
        Some(s) => Some(s),
        None => actor.as_deref(),
    };
    let (repository, namespace) = match &wit_request {
        wit::Request::Git(g) => (facts.repository(&g.repository, actor), None),
        wit::Request::Create(c) => {
            let owner = c
                .repository
                .split_once('/')
                .map(|(o, _)| o)
                .unwrap_or_default();
            (
                facts.repository(&c.repository, actor),
                facts.namespace(owner, actor),
            )
        }
        wit::Request::Api(a) => (
            a.repository
                .as_deref()
                .and_then(|r| facts.repository(r, actor)),
            a.namespace
                .as_deref()
                .and_then(|n| facts.namespace(n, actor)),
        ),
    };
    Ok(Ok(wit::Input {
        credential,
        also_presented: request.also_presented.clone(),
        token,
        user,
        repository,
        namespace,
        sudo,
        request: wit_request,
        now: request.now.unwrap_or(now),
        explain: request.explain,
    }))
}

/// Decide a request: verify, look up, gather, decide. `Err` is a malformed request (the
/// caller reports it); a policy failure is a deny inside the outcome.
pub fn authorize(
    policy: &mut dyn Policy,
    facts: &dyn FactSource,
    request: &RequestDef,
    now: i64,
) -> anyhow::Result<Outcome> {
    let input = match gather(policy, facts, request, now)? {
        Ok(i) => i,
        Err(f) => {
            return Ok(match request.kind {
                KindDef::Batch => Outcome::Batch(
                    request
                        .repositories
                        .iter()
                        .map(|r| (r.clone(), failure_decision(&f)))
                        .collect(),
                ),
                KindDef::RefPermissions => Outcome::Permissions(
                    request
                        .ref_names
                        .iter()
                        .map(|n| wit::RefPermissions {
                            name: n.clone(),
                            permissions: vec![],
                        })
                        .collect(),
                ),
                _ => Outcome::Decision(failure_decision(&f)),
            });
        }
    };
    Ok(match request.kind {
        KindDef::Git | KindDef::Create | KindDef::Api => Outcome::Decision(
            policy
                .decide(&input)
                .unwrap_or_else(|f| failure_decision(&f)),
        ),
        KindDef::RefPermissions => Outcome::Permissions(
            policy
                .ref_permissions(&input, &request.ref_names)
                .unwrap_or_else(|_| {
                    request
                        .ref_names
                        .iter()
                        .map(|n| wit::RefPermissions {
                            name: n.clone(),
                            permissions: vec![],
                        })
                        .collect()
                }),
        ),
        KindDef::Batch => {
            let actor = input.user.as_ref().map(|u| u.name.clone());
            let targets: Vec<wit::BatchTarget> = request
                .repositories
                .iter()
                .map(|r| {
                    let path = repository_path(r).to_string();
                    wit::BatchTarget {
                        facts: facts.repository(&path, actor.as_deref()),
                        repository: path,
                    }
                })
                .collect();
            let decisions = policy
                .decide_batch(&input, &targets)
                .unwrap_or_else(|f| targets.iter().map(|_| failure_decision(&f)).collect());
            Outcome::Batch(
                request
                    .repositories
                    .iter()
                    .cloned()
                    .zip(decisions)
                    .collect(),
            )
        }
    })
}

/// What the host itself learned while gathering the facts of a single decision: the
/// verified acting user and the repository the facts describe (its canonical
/// `owner/name`, as stored). A server enforces on exactly these — the identity it reports,
/// the repository it serves from disk — never on the names the client sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Gathered {
    /// The acting user (token owner, SSH user key owner, session user).
    pub user: Option<String>,
    /// The repository the decision was made on, `owner/name` from its facts.
    pub repository: Option<String>,
}

/// Decide a git, create or api request and report what was gathered for it.
pub fn authorize_gathered(
    policy: &mut dyn Policy,
    facts: &dyn FactSource,
    request: &RequestDef,
    now: i64,
) -> anyhow::Result<(wit::Decision, Gathered)> {
    if matches!(request.kind, KindDef::RefPermissions | KindDef::Batch) {
        bail!("this request kind does not yield a single decision");
    }
    let input = match gather(policy, facts, request, now)? {
        Ok(i) => i,
        Err(f) => return Ok((failure_decision(&f), Gathered::default())),
    };
    let d = policy
        .decide(&input)
        .unwrap_or_else(|f| failure_decision(&f));
    let gathered = Gathered {
        user: input.user.as_ref().map(|u| u.name.clone()),
        repository: input
            .repository
            .as_ref()
            .map(|r| format!("{}/{}", r.owner, r.name)),
    };
    Ok((d, gathered))
}

/// Decide a request that must yield one decision (git, create, api). Malformed requests
/// are a `request-invalid`-style error for the caller.
pub fn authorize_one(
    policy: &mut dyn Policy,
    facts: &dyn FactSource,
    request: &RequestDef,
    now: i64,
) -> anyhow::Result<wit::Decision> {
    match authorize(policy, facts, request, now)? {
        Outcome::Decision(d) => Ok(d),
        _ => bail!("this request kind does not yield a single decision"),
    }
}

/// A ref verdict as printed.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RefVerdictOutput {
    /// The ref.
    pub name: String,
    /// `allow` or `deny`.
    pub decision: String,
    /// Reason code.
    pub reason: String,
    /// Message.
    pub message: String,
}

/// A trace step as printed.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TraceStepOutput {
    /// Rule name.
    pub rule: String,
    /// `pass`, `decide` or `skip`.
    pub outcome: String,
    /// What it looked at.
    pub detail: String,
}

/// A decision as printed by `forge-authz decide`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DecisionOutput {
    /// `allow` or `deny`.
    pub decision: String,
    /// HTTP status.
    pub status: u16,
    /// Reason code.
    pub reason: String,
    /// Message for the user.
    pub message: String,
    /// Operator detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Per-ref verdicts of a push.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refs: Vec<RefVerdictOutput>,
    /// Explanation trace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trace: Vec<TraceStepOutput>,
}

impl From<&wit::Decision> for DecisionOutput {
    fn from(d: &wit::Decision) -> Self {
        // `allow` and `status` must agree: anything else is treated as a deny.
        let allow = d.allow && d.status == wit::Status::Ok;
        DecisionOutput {
            decision: if allow { "allow" } else { "deny" }.into(),
            status: if d.allow && !allow {
                503
            } else {
                d.status.http()
            },
            reason: d.reason.code().into(),
            message: d.message.clone(),
            detail: d.detail.clone(),
            refs: d
                .refs
                .iter()
                .map(|v| RefVerdictOutput {
                    name: v.name.clone(),
                    decision: if v.allow && allow { "allow" } else { "deny" }.into(),
                    reason: v.reason.code().into(),
                    message: v.message.clone(),
                })
                .collect(),
            trace: d
                .trace
                .iter()
                .map(|s| TraceStepOutput {
                    rule: s.rule.clone(),
                    outcome: match s.outcome {
                        wit::TraceOutcome::Pass => "pass",
                        wit::TraceOutcome::Decide => "decide",
                        wit::TraceOutcome::Skip => "skip",
                    }
                    .into(),
                    detail: s.detail.clone(),
                })
                .collect(),
        }
    }
}

/// Permissions as printed: ref -> list of `create`, `push`, `force-push`.
pub fn permissions_output(p: &[wit::RefPermissions]) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for r in p {
        let list: Vec<serde_json::Value> = r
            .permissions
            .iter()
            .map(|x| {
                serde_json::Value::from(match x {
                    wit::RefPermission::Create => "create",
                    wit::RefPermission::Push => "push",
                    wit::RefPermission::ForcePush => "force-push",
                })
            })
            .collect();
        map.insert(r.name.clone(), serde_json::Value::from(list));
    }
    serde_json::Value::Object(map)
}

/// An outcome as printed, and whether it allows.
pub fn outcome_output(o: &Outcome) -> (serde_json::Value, bool) {
    match o {
        Outcome::Decision(d) => {
            let out = DecisionOutput::from(d);
            let allow = out.decision == "allow";
            (serde_json::to_value(out).unwrap_or_default(), allow)
        }
        Outcome::Batch(list) => {
            let items: Vec<serde_json::Value> = list
                .iter()
                .map(|(repo, d)| {
                    let mut v = serde_json::to_value(DecisionOutput::from(d)).unwrap_or_default();
                    if let Some(obj) = v.as_object_mut() {
                        obj.insert("repository".into(), repo.clone().into());
                    }
                    v
                })
                .collect();
            let allow = list.iter().any(|(_, d)| d.allow);
            (serde_json::Value::from(items), allow)
        }
        Outcome::Permissions(p) => {
            let allow = p.iter().any(|r| !r.permissions.is_empty());
            (permissions_output(p), allow)
        }
    }
}
