//! Decisions: status classes, reason codes, per-ref verdicts and explanation traces.
#[allow(unused_imports)]
use crate::prelude::*;

/// Status class of a decision (fixes the HTTP status). A host's own `policy-failure`
/// (503) is not among them: the policy never produces it.
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
        }
    }
}

/// An enum whose every variant has a kebab-case name (as in the WIT, JSON, logs, docs,
/// files and store columns), with the list of all of them in WIT order and the lookup by
/// name: the one place each spelling is written, also answered through
/// [`super::vocabulary::Named`]. Further attributes on the enum (e.g.
/// `#[derive(PartialOrd, Ord)]`) are kept.
macro_rules! named_enum {
    ($(#[$doc:meta])* $Enum:ident, $name:ident / $from:ident {
        $($(#[$vdoc:meta])* $variant:ident = $code:literal,)*
    }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $Enum {
            $(
                $(#[$vdoc])*
                #[doc = concat!("`", $code, "`")]
                $variant,
            )*
        }

        impl $Enum {
            /// Every variant, in WIT order.
            pub const ALL: &'static [$Enum] = &[$($Enum::$variant,)*];

            /// The kebab-case name, as in the WIT, JSON, logs and docs.
            pub fn $name(self) -> &'static str {
                match self { $($Enum::$variant => $code,)* }
            }

            /// The variant named `code`.
            pub fn $from(code: &str) -> Option<$Enum> {
                match code { $($code => Some($Enum::$variant),)* _ => None }
            }
        }

        impl $crate::policy::vocabulary::Named for $Enum {
            const ALL: &'static [$Enum] = $Enum::ALL;
            fn name(self) -> &'static str {
                $Enum::$name(self)
            }
            fn from_name(name: &str) -> Option<$Enum> {
                $Enum::$from(name)
            }
        }
    };
}
pub(crate) use named_enum;

/// The reasons, each with the status class it always comes with.
macro_rules! reasons {
    ($($variant:ident = $code:literal => $status:ident,)*) => {
        named_enum! {
            /// Stable reason code of a decision. See the reason enums of `decision` in the WIT.
            Reason, code / from_code { $($variant = $code,)* }
        }

        impl Reason {
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
    RequestInvalid = "request-invalid" => BadRequest,
    ConflictingCredentials = "conflicting-credentials" => BadRequest,
    RefNameInvalid = "ref-name-invalid" => BadRequest,
    RepositoryExists = "repository-exists" => BadRequest,
    AuthenticationRequired = "authentication-required" => Unauthorized,
    TokenInvalid = "token-invalid" => Unauthorized,
    TokenUnknown = "token-unknown" => Unauthorized,
    TokenExpired = "token-expired" => Unauthorized,
    TokenRevoked = "token-revoked" => Unauthorized,
    AccountInactive = "account-inactive" => Unauthorized,
    UsernameMismatch = "username-mismatch" => Unauthorized,
    TokenNotBound = "token-not-bound" => Unauthorized,
    TokenNotAllowed = "token-not-allowed" => Unauthorized,
    CredentialNotAllowed = "credential-not-allowed" => Unauthorized,
    ScopeMissing = "scope-missing" => Forbidden,
    ScopeUnknown = "scope-unknown" => Forbidden,
    TokenPublicOnly = "token-public-only" => Forbidden,
    PermissionDenied = "permission-denied" => Forbidden,
    RepositoryMirror = "repository-mirror" => Forbidden,
    RepositoryImport = "repository-import" => Forbidden,
    RepositoryArchived = "repository-archived" => Forbidden,
    DeployKeyReadOnly = "deploy-key-read-only" => Forbidden,
    RestrictedToken = "restricted-token" => Forbidden,
    AdminRequired = "admin-required" => Forbidden,
    SudoDenied = "sudo-denied" => Forbidden,
    CreateDenied = "create-denied" => Forbidden,
    RefProtected = "ref-protected" => Forbidden,
    ForcePushProtected = "force-push-protected" => Forbidden,
    IpNotAllowed = "ip-not-allowed" => Forbidden,
    SiteRefused = "site-refused" => Forbidden,
    RepositoryNotFound = "repository-not-found" => NotFound,
    NamespaceNotFound = "namespace-not-found" => NotFound,
}

impl Reason {
    /// Whether this reason allows.
    pub fn allows(self) -> bool {
        self.status() == Status::Ok
    }
}

named_enum! {
    /// A rule of the policy, as named in traces (see `rule` in the WIT).
    Rule, name / from_code {
        Request = "request",
        Credential = "credential",
        TokenSignature = "token-signature",
        TokenRecord = "token-record",
        TokenExpiry = "token-expiry",
        Account = "account",
        Username = "username",
        ScopesKnown = "scopes-known",
        Binding = "binding",
        Scope = "scope",
        Authentication = "authentication",
        Sudo = "sudo",
        Admin = "admin",
        Operation = "operation",
        DeployKey = "deploy-key",
        Existence = "existence",
        Visibility = "visibility",
        PublicOnly = "public-only",
        WriteRules = "write-rules",
        Role = "role",
        Refs = "refs",
        Repository = "repository",
        Namespace = "namespace",
        Creation = "creation",
        Restricted = "restricted",
        IpAllow = "ip-allow",
        Site = "site",
        Grant = "grant",
    }
}

/// The verdict on one ref update (in request order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefVerdict {
    /// Reason (`granted` allows).
    pub reason: Reason,
    /// For a refused ref: what the user can do.
    pub message: Option<String>,
}

impl RefVerdict {
    /// Whether this update may be applied.
    pub fn allow(&self) -> bool {
        self.reason.allows()
    }
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

impl TraceOutcome {
    /// `pass`, `decide` or `skip`.
    pub fn name(self) -> &'static str {
        match self {
            TraceOutcome::Pass => "pass",
            TraceOutcome::Decide => "decide",
            TraceOutcome::Skip => "skip",
        }
    }
}

/// One rule consulted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceStep {
    /// The rule.
    pub rule: Rule,
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
    /// The facts behind a refusal about to be decided by this rule (trace only: the
    /// decision itself is unchanged, so concealment swaps them out with the rest).
    note: Option<(Rule, String)>,
}

impl Trace {
    /// A trace that records when `enabled`.
    pub fn new(enabled: bool) -> Trace {
        Trace {
            enabled,
            steps: Vec::new(),
            note: None,
        }
    }

    /// The facts that make `rule` refuse (`role `read` on `a/b`; push needs `write``),
    /// for the deciding step's detail: said to whoever reads the trace, never to the
    /// decision's message or detail. Only the refusing rule's own note is kept.
    pub fn note(&mut self, rule: Rule, facts: impl FnOnce() -> String) {
        if self.enabled {
            self.note = Some((rule, facts()));
        }
    }

    /// Record a rule that passed.
    pub fn pass(&mut self, rule: Rule, detail: impl FnOnce() -> String) {
        self.push(rule, TraceOutcome::Pass, detail);
    }

    /// Record a rule that did not apply.
    pub fn skip(&mut self, rule: Rule, detail: impl FnOnce() -> String) {
        self.push(rule, TraceOutcome::Skip, detail);
    }

    fn push(&mut self, rule: Rule, outcome: TraceOutcome, detail: impl FnOnce() -> String) {
        if self.enabled {
            self.steps.push(TraceStep {
                rule,
                outcome,
                detail: detail(),
            });
        }
    }

    /// Record the rule that decided, and return the decision with the trace attached.
    pub fn decide(mut self, rule: Rule, mut d: Decision) -> Decision {
        if self.enabled {
            let mut detail = match &d.detail {
                Some(x) => format!("{}: {x}", d.reason.code()),
                None => d.reason.code().to_string(),
            };
            if let Some((noted, facts)) = self.note.take()
                && noted == rule
            {
                detail.push_str(if d.detail.is_some() { "; " } else { ": " });
                detail.push_str(&facts);
            }
            self.steps.push(TraceStep {
                rule,
                outcome: TraceOutcome::Decide,
                detail,
            });
            d.trace = Some(self.steps);
        }
        d
    }
}

/// Store writes the policy asks of the host, for the presented token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// Record the token's use now.
    pub touch_last_used: bool,
    /// Revoke the token's rotation family.
    pub revoke_family: bool,
}

/// A decision. Deciding never fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Reason code; its status class says whether the request is allowed.
    pub reason: Reason,
    /// Message for the user: present for every refusal.
    pub message: Option<String>,
    /// Detail for operators.
    pub detail: Option<String>,
    /// Per-ref verdicts of a push that reached its refs, in request order.
    pub refs: Option<Vec<RefVerdict>>,
    /// Store writes asked of the host.
    pub effects: Effects,
    /// Explanation trace (with `explain`).
    pub trace: Option<Vec<TraceStep>>,
}

impl Decision {
    /// A refusal (or, for an allowing reason, an allow with a message).
    pub fn new(reason: Reason, message: impl Into<String>) -> Decision {
        Decision {
            reason,
            message: Some(message.into()),
            detail: None,
            refs: None,
            effects: Effects::default(),
            trace: None,
        }
    }

    /// An allow with nothing more to say than its reason.
    pub fn allowed(reason: Reason) -> Decision {
        Decision {
            reason,
            message: None,
            detail: None,
            refs: None,
            effects: Effects::default(),
            trace: None,
        }
    }

    /// Whether the request may proceed.
    pub fn allow(&self) -> bool {
        self.reason.allows()
    }

    /// The status class.
    pub fn status(&self) -> Status {
        self.reason.status()
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
        ];
        for (s, code, http) in all {
            assert_eq!((s.code(), s.http()), (code, http));
        }
    }

    #[test]
    fn reason_codes_round_trip() {
        for r in Reason::ALL {
            assert_eq!(Reason::from_code(r.code()), Some(*r));
        }
        assert_eq!(Reason::from_code("policy-failure"), None);
    }
}
