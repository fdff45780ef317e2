//! Requests as JSON, the host's decision flow, and decisions as JSON.
//!
//! The flow is the same for every caller (CLI, tests, servers): one policy call per
//! request (`authorize`); the policy verifies the credential with no fact and then asks the
//! host's [`FactSource`] once for exactly the facts it needs. A policy failure (trap,
//! deadline, memory limit, a fact the store could not read) is a deny (`policy-failure`),
//! never an allow.

mod multi;

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

use crate::facts::{FactSource, Gathered};
use crate::policy::{Policy, PolicyFailure};
use crate::wit;
use crate::wit::core as convert;
pub use forge_authz_fixture::mint::MintOrder;

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

impl CredentialDef {
    /// The token this credential carries, as `authorizer.verify` takes it: a bearer or a
    /// basic credential as is; anything else (anonymous, an SSH key, a session) carries no
    /// token and is `anonymous` (verify answers "no token").
    pub fn token_credential(self) -> wit::Credential {
        match self {
            CredentialDef::Anonymous | CredentialDef::SshKey(_) | CredentialDef::Session(_) => {
                wit::Credential::Anonymous
            }
            CredentialDef::Bearer(t) => wit::Credential::Bearer(t),
            CredentialDef::Basic { username, password } => {
                wit::Credential::Basic(wit::BasicCredential { username, password })
            }
        }
    }
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
    /// API: the route writes the repository's content (the write rules of a push apply).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub writes_content: bool,
    /// API: the route creates in the acting account's own namespace, naming no target.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub creates_in_own_namespace: bool,
    /// The time (Unix seconds); default: the world's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<i64>,
    /// Ask for the explanation trace.
    #[serde(default)]
    pub explain: bool,
}

/// A decision as the host enforces it: the policy's verdict, or the host's own
/// `policy-failure` (503) when the policy could not decide. Ref verdicts carry the ref
/// names of the request, effects the token they apply to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decided {
    /// The policy's verdict; `None`: the policy could not decide.
    pub verdict: Option<wit::Verdict>,
    /// A message for the user (empty for a plain allow).
    pub message: String,
    /// Operator detail.
    pub detail: Option<String>,
    /// Per-ref verdicts of a push, in request order.
    pub refs: Vec<RefDecided>,
    /// Store writes asked of the host.
    pub effects: wit::Effects,
    /// The presented token the effects are about (only when there are effects).
    pub token: Option<String>,
    /// The explanation trace.
    pub trace: Vec<wit::TraceStep>,
}

/// One ref verdict, with its ref's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefDecided {
    /// The ref.
    pub name: String,
    /// The policy's verdict on it.
    pub verdict: wit::Verdict,
    /// For a refused ref, what the user can do.
    pub message: Option<String>,
}

impl RefDecided {
    /// Whether this update may be applied.
    pub fn allow(&self) -> bool {
        self.verdict.allow()
    }
}

impl Decided {
    /// The policy's decision on a request whose refs are named `refs` (in request order),
    /// about the presented token `token`.
    pub fn new(d: wit::Decision, refs: &[String], token: Option<String>) -> Decided {
        let verdicts = d.refs.unwrap_or_default();
        Decided {
            verdict: Some(d.verdict),
            message: d.message.unwrap_or_default(),
            detail: d.detail,
            refs: verdicts
                .into_iter()
                .enumerate()
                .map(|(i, v)| RefDecided {
                    name: refs.get(i).cloned().unwrap_or_default(),
                    verdict: v.verdict,
                    message: v.message,
                })
                .collect(),
            token: token.filter(|_| d.effects != wit::Effects::empty()),
            effects: d.effects,
            trace: d.trace.unwrap_or_default(),
        }
    }

    /// The host's own deny: the policy could not decide.
    pub fn failure(failure: &PolicyFailure) -> Decided {
        Decided {
            verdict: None,
            message: "the authorization policy could not decide; access denied".into(),
            detail: Some(failure.0.clone()),
            refs: vec![],
            effects: wit::Effects::empty(),
            token: None,
            trace: vec![],
        }
    }

    /// Whether the request may proceed.
    pub fn allow(&self) -> bool {
        self.verdict.is_some_and(wit::Verdict::allow)
    }

    /// Whether the host denied because the policy could not decide.
    pub fn is_failure(&self) -> bool {
        self.verdict.is_none()
    }

    /// The HTTP status.
    pub fn http(&self) -> u16 {
        self.verdict
            .map_or(wit::POLICY_FAILURE_HTTP, wit::Verdict::http)
    }

    /// The reason code.
    pub fn code(&self) -> &'static str {
        self.verdict
            .map_or(wit::POLICY_FAILURE_CODE, wit::Verdict::code)
    }
}

/// Strip one trailing `.git`, in any case (a URL convention, not part of the name; names
/// compare case-insensitively, so `App.GIT` is `App`).
pub fn repository_path(requested: &str) -> &str {
    match requested.len().checked_sub(4) {
        Some(cut)
            if requested
                .get(cut..)
                .is_some_and(|tail| tail.eq_ignore_ascii_case(".git")) =>
        {
            requested.get(..cut).unwrap_or(requested)
        }
        _ => requested,
    }
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
    fn to_wit(self) -> wit::ScopeCategories {
        use wit::ScopeCategories as C;
        match self {
            CategoryDef::Activitypub => C::ACTIVITYPUB,
            CategoryDef::Admin => C::ADMIN,
            CategoryDef::Misc => C::MISC,
            CategoryDef::Notification => C::NOTIFICATION,
            CategoryDef::Organization => C::ORGANIZATION,
            CategoryDef::Package => C::PACKAGE,
            CategoryDef::Issue => C::ISSUE,
            CategoryDef::Repository => C::REPOSITORY,
            CategoryDef::User => C::USER,
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

/// A method name as the WIT types it (case-insensitive; any other name is `other`, which
/// the policy checks).
pub fn http_method(m: &str) -> wit::HttpMethod {
    match m.to_ascii_uppercase().as_str() {
        "GET" => wit::HttpMethod::Get,
        "HEAD" => wit::HttpMethod::Head,
        "OPTIONS" => wit::HttpMethod::Options,
        "POST" => wit::HttpMethod::Post,
        "PUT" => wit::HttpMethod::Put,
        "PATCH" => wit::HttpMethod::Patch,
        "DELETE" => wit::HttpMethod::Delete,
        _ => wit::HttpMethod::Other(m.to_string()),
    }
}

/// A ref update's change from its object ids (all zeros: created / deleted).
pub fn ref_change(old: &str, new: &str) -> anyhow::Result<wit::RefChange> {
    let zero = |id: &str| id.bytes().all(|b| b == b'0');
    if old.is_empty() || new.is_empty() {
        bail!("a ref update needs old and new object ids");
    }
    Ok(if zero(new) {
        wit::RefChange::Delete
    } else if zero(old) {
        wit::RefChange::Create
    } else {
        wit::RefChange::Update
    })
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

    fn action(&self) -> anyhow::Result<wit::GitAction> {
        Ok(match self.action.context("a git request needs `action`")? {
            ActionDef::Pull => wit::GitAction::Pull,
            ActionDef::Push => wit::GitAction::Push,
        })
    }

    fn git(&self, repository: String) -> anyhow::Result<wit::GitRequest> {
        let refs = self
            .refs
            .iter()
            .map(|r| {
                Ok(wit::RefUpdate {
                    name: r.name.clone(),
                    change: ref_change(&r.old, &r.new)?,
                    force: r.force,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(wit::GitRequest {
            transport: self.transport(),
            repository,
            action: self.action()?,
            refs: (!refs.is_empty()).then_some(refs),
        })
    }

    /// The names of the ref updates, in request order.
    pub fn ref_update_names(&self) -> Vec<String> {
        self.refs.iter().map(|r| r.name.clone()).collect()
    }

    /// The WIT request (`git`, `create`, `api`).
    pub fn to_wit(&self) -> anyhow::Result<wit::Request> {
        Ok(match self.kind {
            KindDef::Git => wit::Request::Git(self.git(self.repository()?)?),
            KindDef::RefPermissions | KindDef::Batch => {
                bail!("a {:?} request is not a single request", self.kind)
            }
            KindDef::Create => wit::Request::Create(wit::CreationRequest {
                transport: self.transport(),
                repository: self.repository()?,
                step: self.step.context("a create request needs `step`")?.to_wit(),
            }),
            KindDef::Api => {
                let mut route = wit::RouteFlags::empty();
                if self.requires_auth {
                    route |= wit::RouteFlags::REQUIRES_AUTH;
                }
                if self.admin_only {
                    route |= wit::RouteFlags::ADMIN_ONLY;
                }
                if self.package {
                    route |= wit::RouteFlags::PACKAGE;
                }
                if self.writes_content {
                    route |= wit::RouteFlags::WRITES_CONTENT;
                }
                if self.creates_in_own_namespace {
                    route |= wit::RouteFlags::CREATES_IN_OWN_NAMESPACE;
                }
                wit::Request::Api(wit::ApiRequest {
                    method: http_method(
                        self.method
                            .as_deref()
                            .context("an api request needs `method`")?,
                    ),
                    categories: self
                        .categories
                        .iter()
                        .fold(wit::ScopeCategories::empty(), |c, x| c | x.to_wit()),
                    repository: self
                        .repository
                        .as_deref()
                        .map(|r| repository_path(r).to_string()),
                    namespace: self.namespace.clone(),
                    route,
                    required_role: self
                        .required_role
                        .map_or(wit::Role::None, |r| convert::role_out(r.to_core())),
                    operation: self.operation.map(OperationDef::to_wit),
                    sudo: self.sudo.clone(),
                })
            }
        })
    }

    fn also_presented(&self) -> Option<Vec<String>> {
        (!self.also_presented.is_empty()).then(|| self.also_presented.clone())
    }
}

/// What the policy answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A decision.
    Decision(Decided),
    /// One decision per repository of a batch.
    Batch(Vec<(String, Decided)>),
    /// Permissions per ref.
    Permissions(Permissions),
}

/// Permissions per ref, and the store writes the push decision behind them asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permissions {
    /// (ref, permissions), in request order; empty sets when the policy could not decide.
    pub refs: Vec<(String, wit::RefPermissions)>,
    /// Store writes asked of the host.
    pub effects: wit::Effects,
    /// The presented token the effects are about (only when there are effects).
    pub token: Option<String>,
}

impl Outcome {
    /// The store writes the policy asked for, and the presented token they are about:
    /// every request kind has them (a batch's are its decisions' together).
    pub fn effects(&self) -> (wit::Effects, Option<&str>) {
        match self {
            Outcome::Decision(d) => (d.effects, d.token.as_deref()),
            Outcome::Batch(list) => list
                .iter()
                .fold((wit::Effects::empty(), None), |(e, t), (_, d)| {
                    (e | d.effects, t.or(d.token.as_deref()))
                }),
            Outcome::Permissions(p) => (p.effects, p.token.as_deref()),
        }
    }
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
                .ssh_key(id)?
                .map(convert::ssh_key_out)
                .with_context(|| format!("unknown ssh key `{id}`"))?,
        ),
        CredentialDef::Session(u) => wit::Credential::Session(u.clone()),
    })
}

/// Decide a request: one policy call, the policy asking `facts` for what it needs. `Err` is
/// a malformed request (the caller reports it); a policy failure is a deny inside the
/// outcome.
pub fn authorize(
    policy: &mut dyn Policy,
    facts: &dyn FactSource,
    request: &RequestDef,
    now: i64,
) -> anyhow::Result<Outcome> {
    let now = request.now.unwrap_or(now);
    Ok(match request.kind {
        KindDef::Git | KindDef::Create | KindDef::Api => {
            Outcome::Decision(authorize_gathered(policy, facts, request, now)?.0)
        }
        KindDef::RefPermissions => {
            Outcome::Permissions(multi::ref_permissions(policy, facts, request, now)?)
        }
        KindDef::Batch => Outcome::Batch(multi::batch(policy, facts, request, now)?),
    })
}

/// Decide a git, create or api request and report what was gathered for it.
pub fn authorize_gathered(
    policy: &mut dyn Policy,
    facts: &dyn FactSource,
    request: &RequestDef,
    now: i64,
) -> anyhow::Result<(Decided, Gathered)> {
    if matches!(request.kind, KindDef::RefPermissions | KindDef::Batch) {
        bail!("this request kind does not yield a single decision");
    }
    let wit_request = wit::AuthorizeRequest {
        credential: credential(&request.credential, facts)?,
        also_presented: request.also_presented(),
        request: request.to_wit()?,
        now: request.now.unwrap_or(now),
        explain: request.explain,
    };
    Ok(match policy.authorize(&wit_request, facts) {
        Ok((d, gathered)) => (
            Decided::new(d, &request.ref_update_names(), gathered.token.clone()),
            gathered,
        ),
        Err(f) => (Decided::failure(&f), Gathered::default()),
    })
}

/// Decide a request that must yield one decision (git, create, api). Malformed requests
/// are a `request-invalid`-style error for the caller.
pub fn authorize_one(
    policy: &mut dyn Policy,
    facts: &dyn FactSource,
    request: &RequestDef,
    now: i64,
) -> anyhow::Result<Decided> {
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
    /// Message for the user (absent for a plain allow).
    #[serde(default, skip_serializing_if = "String::is_empty")]
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

impl From<&Decided> for DecisionOutput {
    fn from(d: &Decided) -> Self {
        let allow = d.allow();
        DecisionOutput {
            decision: if allow { "allow" } else { "deny" }.into(),
            status: d.http(),
            reason: d.code().into(),
            message: d.message.clone(),
            detail: d.detail.clone(),
            refs: d
                .refs
                .iter()
                .map(|v| RefVerdictOutput {
                    name: v.name.clone(),
                    decision: if v.allow() && allow { "allow" } else { "deny" }.into(),
                    reason: v.verdict.code().into(),
                    message: v.message.clone().unwrap_or_default(),
                })
                .collect(),
            trace: d
                .trace
                .iter()
                .map(|s| TraceStepOutput {
                    rule: s.rule.name().into(),
                    outcome: s.outcome.name().into(),
                    detail: s.detail.clone(),
                })
                .collect(),
        }
    }
}

/// Permissions as printed: ref -> list of `create`, `push`, `force-push`.
pub fn permissions_output(p: &[(String, wit::RefPermissions)]) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for (name, perms) in p {
        let list: Vec<serde_json::Value> = [
            (wit::RefPermissions::CREATE, "create"),
            (wit::RefPermissions::PUSH, "push"),
            (wit::RefPermissions::FORCE_PUSH, "force-push"),
        ]
        .into_iter()
        .filter(|(f, _)| perms.contains(*f))
        .map(|(_, n)| serde_json::Value::from(n))
        .collect();
        map.insert(name.clone(), serde_json::Value::from(list));
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
            let allow = list.iter().any(|(_, d)| d.allow());
            (serde_json::Value::from(items), allow)
        }
        Outcome::Permissions(p) => {
            let allow = p
                .refs
                .iter()
                .any(|(_, r)| *r != wit::RefPermissions::empty());
            (permissions_output(&p.refs), allow)
        }
    }
}

/// Mint a token as its owner's session would ([`MintOrder::request`]) and add its record
/// to the world.
///
/// The outer error is "nothing was asked" (no such owner: the error is a plain message) or
/// "the policy could not answer" (a [`PolicyFailure`], found with `downcast_ref`); the
/// inner one is the policy's refusal.
pub fn mint(
    policy: &mut dyn Policy,
    world: &mut crate::world::World,
    order: MintOrder,
) -> anyhow::Result<Result<wit::IssuedToken, wit::IssueError>> {
    let request = convert::issue_request_out(order.request(world)?);
    let issued = policy.issue(&request)?;
    if let Ok(t) = &issued {
        world.add_token(&convert::record_in(t.record.clone()));
    }
    Ok(issued)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_request_field_is_named() {
        let e = crate::world::parse_json::<RequestDef>(
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
