//! Decisions: status classes, reason codes, per-ref verdicts and explanation traces.
#[allow(unused_imports)]
use crate::prelude::*;

use super::model::RefPermissions;

/// Status class of a decision (fixes the HTTP status).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// 200
    Ok,
    /// 400
    BadRequest,
    /// 401
    Unauthorized,
    /// 403
    Forbidden,
    /// 404
    NotFound,
    /// 503
    Unavailable,
}

impl Status {
    /// The HTTP status code.
    pub fn http(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::BadRequest => 400,
            Status::Unauthorized => 401,
            Status::Forbidden => 403,
            Status::NotFound => 404,
            Status::Unavailable => 503,
        }
    }

    /// The kebab-case code, as in the WIT.
    pub fn code(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::BadRequest => "bad-request",
            Status::Unauthorized => "unauthorized",
            Status::Forbidden => "forbidden",
            Status::NotFound => "not-found",
            Status::Unavailable => "unavailable",
        }
    }
}

macro_rules! reasons {
    ($($variant:ident = $code:literal => $status:ident,)*) => {
        /// Stable reason code of a decision. See `reason` in the WIT for each case.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Reason {
            $(
                #[doc = $code]
                $variant,
            )*
        }

        impl Reason {
            /// Every reason, in WIT order.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant,)*];

            /// The kebab-case code, as in the WIT, JSON, logs and docs.
            pub fn code(self) -> &'static str {
                match self { $(Reason::$variant => $code,)* }
            }

            /// The status class this reason always comes with.
            pub fn status(self) -> Status {
                match self { $(Reason::$variant => Status::$status,)* }
            }
        }
    };
}

reasons! {
    Granted = "granted" => Ok,
    PublicRead = "public-read" => Ok,
    AuthenticationRequired = "authentication-required" => Unauthorized,
    TokenInvalid = "token-invalid" => Unauthorized,
    TokenUnknown = "token-unknown" => Unauthorized,
    TokenExpired = "token-expired" => Unauthorized,
    TokenRevoked = "token-revoked" => Unauthorized,
    AccountInactive = "account-inactive" => Unauthorized,
    UsernameMismatch = "username-mismatch" => Unauthorized,
    TokenNotBound = "token-not-bound" => Unauthorized,
    ScopeMissing = "scope-missing" => Forbidden,
    ScopeUnknown = "scope-unknown" => Forbidden,
    TokenPublicOnly = "token-public-only" => Forbidden,
    PermissionDenied = "permission-denied" => Forbidden,
    RepositoryMirror = "repository-mirror" => Forbidden,
    RepositoryImport = "repository-import" => Forbidden,
    RepositoryArchived = "repository-archived" => Forbidden,
    RepositoryNotFound = "repository-not-found" => NotFound,
    RequestInvalid = "request-invalid" => BadRequest,
    ConflictingCredentials = "conflicting-credentials" => BadRequest,
    TokenNotAllowed = "token-not-allowed" => Unauthorized,
    CredentialNotAllowed = "credential-not-allowed" => Unauthorized,
    DeployKeyReadOnly = "deploy-key-read-only" => Forbidden,
    RestrictedToken = "restricted-token" => Forbidden,
    AdminRequired = "admin-required" => Forbidden,
    SudoDenied = "sudo-denied" => Forbidden,
    CreateDenied = "create-denied" => Forbidden,
    RefProtected = "ref-protected" => Forbidden,
    ForcePushProtected = "force-push-protected" => Forbidden,
    RefNameInvalid = "ref-name-invalid" => BadRequest,
    NamespaceNotFound = "namespace-not-found" => NotFound,
    RepositoryExists = "repository-exists" => BadRequest,
    FactsInconsistent = "facts-inconsistent" => Unavailable,
    PolicyFailure = "policy-failure" => Unavailable,
}

/// The verdict on one ref update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefVerdict {
    /// The ref.
    pub name: String,
    /// Allowed.
    pub allow: bool,
    /// Reason.
    pub reason: Reason,
    /// Message.
    pub message: String,
}

/// What a rule concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceOutcome {
    /// Checked, passed.
    Pass,
    /// Decided the request.
    Decide,
    /// Did not apply.
    Skip,
}

/// One rule consulted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceStep {
    /// Stable rule name.
    pub rule: &'static str,
    /// Outcome.
    pub outcome: TraceOutcome,
    /// What it looked at.
    pub detail: String,
}

/// An explanation trace; records nothing (and allocates nothing) unless enabled.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    enabled: bool,
    steps: Vec<TraceStep>,
}

impl Trace {
    /// A trace that records when `enabled`.
    pub fn new(enabled: bool) -> Trace {
        Trace {
            enabled,
            steps: Vec::new(),
        }
    }

    /// Record a rule that passed.
    pub fn pass(&mut self, rule: &'static str, detail: impl FnOnce() -> String) {
        self.push(rule, TraceOutcome::Pass, detail);
    }

    /// Record a rule that did not apply.
    pub fn skip(&mut self, rule: &'static str, detail: impl FnOnce() -> String) {
        self.push(rule, TraceOutcome::Skip, detail);
    }

    fn push(&mut self, rule: &'static str, outcome: TraceOutcome, detail: impl FnOnce() -> String) {
        if self.enabled {
            self.steps.push(TraceStep {
                rule,
                outcome,
                detail: detail(),
            });
        }
    }

    /// Record the rule that decided, and return the decision with the trace attached.
    pub fn decide(mut self, rule: &'static str, mut d: Decision) -> Decision {
        if self.enabled {
            let detail = match &d.detail {
                Some(x) => format!("{}: {x}", d.reason.code()),
                None => d.reason.code().to_string(),
            };
            self.steps.push(TraceStep {
                rule,
                outcome: TraceOutcome::Decide,
                detail,
            });
            d.trace = self.steps;
        }
        d
    }
}

/// A decision. Deciding never fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Allowed.
    pub allow: bool,
    /// Status class.
    pub status: Status,
    /// Reason code.
    pub reason: Reason,
    /// Message for the user.
    pub message: String,
    /// Detail for operators.
    pub detail: Option<String>,
    /// Per-ref verdicts of a push.
    pub refs: Vec<RefVerdict>,
    /// Explanation trace.
    pub trace: Vec<TraceStep>,
    /// Store writes asked of the host.
    pub effects: Vec<Effect>,
}

/// A store write the policy asks of the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Record the token's use now.
    TouchLastUsed(String),
    /// Revoke the token's rotation family.
    RevokeFamily(String),
}

impl Decision {
    /// A decision for `reason`; allow exactly when its status is `ok`.
    pub fn new(reason: Reason, message: impl Into<String>) -> Decision {
        let status = reason.status();
        Decision {
            allow: status == Status::Ok,
            status,
            reason,
            message: message.into(),
            detail: None,
            refs: Vec::new(),
            trace: Vec::new(),
            effects: Vec::new(),
        }
    }

    /// Attach operator detail.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Decision {
        self.detail = Some(detail.into());
        self
    }
}

/// The uniform message for every bad token: a forger learns nothing (reference §3.4).
pub const INVALID_TOKEN_MESSAGE: &str = "invalid access token";
/// The one answer for a missing repository and for one the principal may not see.
pub const NOT_FOUND_MESSAGE: &str = "repository not found";
/// The one answer for a missing user/organisation and for one the principal may not see.
pub const NAMESPACE_NOT_FOUND_MESSAGE: &str = "user or organization not found";

/// The 404 for repositories (missing and hidden alike).
pub fn not_found() -> Decision {
    Decision::new(Reason::RepositoryNotFound, NOT_FOUND_MESSAGE)
}

/// The 503 for facts that contradict each other.
pub fn inconsistent(detail: &str) -> Decision {
    Decision::new(
        Reason::FactsInconsistent,
        "the server could not decide this request; try again later",
    )
    .with_detail(detail.to_string())
}

/// Permissions of one ref, for callers that need an empty answer.
pub fn no_permissions(refs: &[String]) -> Vec<RefPermissions> {
    refs.iter()
        .map(|r| RefPermissions {
            name: r.clone(),
            permissions: Vec::new(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_match_the_wit() {
        let all = [
            (Status::Ok, "ok", 200),
            (Status::BadRequest, "bad-request", 400),
            (Status::Unauthorized, "unauthorized", 401),
            (Status::Forbidden, "forbidden", 403),
            (Status::NotFound, "not-found", 404),
            (Status::Unavailable, "unavailable", 503),
        ];
        for (s, code, http) in all {
            assert_eq!((s.code(), s.http()), (code, http));
        }
    }
}
