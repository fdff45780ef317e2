//! Requests as JSON, the host's decision flow, and decisions as JSON.
//!
//! The flow is the same for every caller (CLI, tests, servers): ask the policy to verify
//! the credential with no store; only for a genuine token look its record up; gather the
//! owner's and the repository's facts; ask the policy to decide. A policy failure at any
//! step is a deny (`policy-failure`), never an allow.

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
}

impl std::fmt::Debug for CredentialDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CredentialDef::Anonymous => "anonymous",
            CredentialDef::Bearer(_) => "bearer(<redacted>)",
            CredentialDef::Basic { .. } => "basic(<redacted>)",
        })
    }
}

impl CredentialDef {
    /// As the WIT value.
    pub fn to_wit(&self) -> wit::Credential {
        match self {
            CredentialDef::Anonymous => wit::Credential::Anonymous,
            CredentialDef::Bearer(t) => wit::Credential::Bearer(t.clone()),
            CredentialDef::Basic { username, password } => {
                wit::Credential::Basic(wit::BasicCredential {
                    username: username.clone(),
                    password: password.clone(),
                })
            }
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

/// A git request file (README, "Requests").
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GitRequestDef {
    /// The credential; default anonymous.
    #[serde(default)]
    pub credential: CredentialDef,
    /// The transport; default http.
    #[serde(default)]
    pub transport: TransportDef,
    /// `owner/name` (a trailing `.git` is accepted and dropped).
    pub repository: String,
    /// `pull` or `push`.
    pub action: ActionDef,
    /// The time to decide at (Unix seconds); default: the world's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<i64>,
}

/// The deny a host answers with when the policy could not run.
pub fn failure_decision(failure: &PolicyFailure) -> wit::Decision {
    wit::Decision {
        allow: false,
        status: wit::Status::Unavailable,
        reason: wit::Reason::PolicyFailure,
        message: "the authorization policy could not decide; access denied".into(),
        detail: Some(failure.0.clone()),
    }
}

/// Strip one trailing `.git` (a URL convention, not part of the name).
pub fn repository_path(requested: &str) -> &str {
    requested.strip_suffix(".git").unwrap_or(requested)
}

/// Decide a git request: verify, look up (only for a genuine token), gather, decide.
pub fn authorize_git(
    policy: &mut dyn Policy,
    facts: &dyn FactSource,
    request: &GitRequestDef,
    now: i64,
) -> wit::Decision {
    let credential = request.credential.to_wit();
    let verified = match policy.verify(&credential) {
        Ok(v) => v,
        Err(f) => return failure_decision(&f),
    };
    // Only a genuine token reaches the store (reference §6: forged -> 401 before lookup).
    let token = match &verified {
        Ok(Some(v)) => facts.token(&v.token_id),
        Ok(None) | Err(_) => None,
    };
    let owner = token.as_ref().and_then(|t| facts.user(&t.owner));
    let actor = token.as_ref().map(|t| t.owner.as_str());
    let path = repository_path(&request.repository);
    let input = wit::GitInput {
        credential,
        owner,
        repository: facts.repository(path, actor),
        token,
        request: wit::GitRequest {
            transport: match request.transport {
                TransportDef::Http => wit::Transport::Http,
                TransportDef::Ssh => wit::Transport::Ssh,
            },
            repository: path.to_string(),
            action: match request.action {
                ActionDef::Pull => wit::GitAction::Pull,
                ActionDef::Push => wit::GitAction::Push,
            },
        },
        now: request.now.unwrap_or(now),
    };
    match policy.decide_git(&input) {
        Ok(d) => d,
        Err(f) => failure_decision(&f),
    }
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
        }
    }
}
