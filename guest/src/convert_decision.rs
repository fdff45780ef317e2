// Conversions between WIT values and the policy core: token errors, verdicts, traces and decisions.
//
// `include!`d beside `convert.rs` (whose header says how and why: one `two_way!` row per
// type); `*_in` functions go from WIT to the core, `*_out` from the core to WIT.

two_way!(variant TokenError <-> TokenError {
    Empty,
    WrongPrefix,
    WrongLength,
    BadSeparator,
    BadKeyId,
    BadEncoding,
    BadChecksum,
    UnknownKey,
    BadSignature,
} as token_error_in, token_error_out);
two_way!(record TokenInfo <-> TokenInfo { token_id, key_id });
two_way!(record VerifiedToken <-> VerifiedToken { token_id, key_id });

/// One table of (core reason, WIT verdict) pairs, read in both directions.
#[allow(dead_code)]
pub fn verdict_table() -> [(policy::Reason, wit::Verdict); 34] {
    use policy::Reason as R;
    use wit::AllowReason as A;
    use wit::BadRequestReason as B;
    use wit::ForbiddenReason as F;
    use wit::NotFoundReason as N;
    use wit::UnauthorizedReason as U;
    use wit::Verdict as V;
    [
        (R::Granted, V::Allow(A::Granted)),
        (R::PublicRead, V::Allow(A::PublicRead)),
        (R::RequestInvalid, V::BadRequest(B::RequestInvalid)),
        (R::ConflictingCredentials, V::BadRequest(B::ConflictingCredentials)),
        (R::RefNameInvalid, V::BadRequest(B::RefNameInvalid)),
        (R::RepositoryExists, V::BadRequest(B::RepositoryExists)),
        (R::AuthenticationRequired, V::Unauthorized(U::AuthenticationRequired)),
        (R::TokenInvalid, V::Unauthorized(U::TokenInvalid)),
        (R::TokenUnknown, V::Unauthorized(U::TokenUnknown)),
        (R::TokenExpired, V::Unauthorized(U::TokenExpired)),
        (R::TokenRevoked, V::Unauthorized(U::TokenRevoked)),
        (R::AccountInactive, V::Unauthorized(U::AccountInactive)),
        (R::UsernameMismatch, V::Unauthorized(U::UsernameMismatch)),
        (R::TokenNotBound, V::Unauthorized(U::TokenNotBound)),
        (R::TokenNotAllowed, V::Unauthorized(U::TokenNotAllowed)),
        (R::CredentialNotAllowed, V::Unauthorized(U::CredentialNotAllowed)),
        (R::ScopeMissing, V::Forbidden(F::ScopeMissing)),
        (R::ScopeUnknown, V::Forbidden(F::ScopeUnknown)),
        (R::TokenPublicOnly, V::Forbidden(F::TokenPublicOnly)),
        (R::PermissionDenied, V::Forbidden(F::PermissionDenied)),
        (R::RepositoryMirror, V::Forbidden(F::RepositoryMirror)),
        (R::RepositoryImport, V::Forbidden(F::RepositoryImport)),
        (R::RepositoryArchived, V::Forbidden(F::RepositoryArchived)),
        (R::DeployKeyReadOnly, V::Forbidden(F::DeployKeyReadOnly)),
        (R::RestrictedToken, V::Forbidden(F::RestrictedToken)),
        (R::AdminRequired, V::Forbidden(F::AdminRequired)),
        (R::SudoDenied, V::Forbidden(F::SudoDenied)),
        (R::CreateDenied, V::Forbidden(F::CreateDenied)),
        (R::RefProtected, V::Forbidden(F::RefProtected)),
        (R::ForcePushProtected, V::Forbidden(F::ForcePushProtected)),
        (R::IpNotAllowed, V::Forbidden(F::IpNotAllowed)),
        (R::SiteRefused, V::Forbidden(F::SiteRefused)),
        (R::RepositoryNotFound, V::NotFound(N::RepositoryNotFound)),
        (R::NamespaceNotFound, V::NotFound(N::NamespaceNotFound)),
    ]
}

/// The value paired with `key` in a table of pairs (`fallback` where none is).
fn paired<K: PartialEq, V>(pairs: impl IntoIterator<Item = (K, V)>, key: &K, fallback: V) -> V {
    pairs
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .unwrap_or(fallback)
}

#[allow(dead_code)]
pub fn verdict_out(r: policy::Reason) -> wit::Verdict {
    // INVARIANT: the table lists every core reason (a test checks it); the fallback is a
    // refusal, never an allow.
    let refused = wit::Verdict::BadRequest(wit::BadRequestReason::RequestInvalid);
    paired(verdict_table(), &r, refused)
}

#[allow(dead_code)]
pub fn verdict_in(v: wit::Verdict) -> policy::Reason {
    let by_verdict = verdict_table().map(|(core, verdict)| (verdict, core));
    paired(by_verdict, &v, policy::Reason::RequestInvalid)
}

impl Convert<wit::Verdict> for policy::Reason {
    fn convert(self) -> wit::Verdict {
        verdict_out(self)
    }
}

impl Convert<policy::Reason> for wit::Verdict {
    fn convert(self) -> policy::Reason {
        verdict_in(self)
    }
}

two_way!(variant Rule <-> Rule {
    Request,
    Credential,
    TokenSignature,
    TokenRecord,
    TokenExpiry,
    Account,
    Username,
    ScopesKnown,
    Binding,
    Scope,
    Authentication,
    Sudo,
    Admin,
    Operation,
    DeployKey,
    Existence,
    Visibility,
    PublicOnly,
    WriteRules,
    Role,
    Refs,
    Repository,
    Namespace,
    Creation,
    Restricted,
    IpAllow,
    Site,
    Grant,
} as rule_in, rule_out);
two_way!(variant TraceOutcome <-> TraceOutcome { Pass, Decide, Skip } as trace_outcome_in, trace_outcome_out);
two_way!(record TraceStep <-> TraceStep { rule, outcome, detail });
two_way!(flags Effects <-> Effects {
    touch_last_used = TOUCH_LAST_USED,
    revoke_family = REVOKE_FAMILY,
} as effects_in, effects_out);

// A verdict in the WIT is the reason in the core (field `verdict` / `reason`).
impl Convert<policy::RefVerdict> for wit::RefVerdict {
    fn convert(self) -> policy::RefVerdict {
        policy::RefVerdict {
            reason: self.verdict.convert(),
            message: self.message,
        }
    }
}

impl Convert<wit::RefVerdict> for policy::RefVerdict {
    fn convert(self) -> wit::RefVerdict {
        wit::RefVerdict {
            verdict: self.reason.convert(),
            message: self.message,
        }
    }
}

impl Convert<policy::Decision> for wit::Decision {
    fn convert(self) -> policy::Decision {
        policy::Decision {
            reason: self.verdict.convert(),
            message: self.message,
            detail: self.detail,
            refs: self.refs.convert(),
            effects: self.effects.convert(),
            trace: self.trace.convert(),
        }
    }
}

impl Convert<wit::Decision> for policy::Decision {
    fn convert(self) -> wit::Decision {
        wit::Decision {
            verdict: self.reason.convert(),
            message: self.message,
            detail: self.detail,
            refs: self.refs.convert(),
            effects: self.effects.convert(),
            trace: self.trace.convert(),
        }
    }
}

two_way!(@named Decision Decision decision_in decision_out);
two_way!(flags RefPermissions <-> RefPermissions {
    create = CREATE,
    push = PUSH,
    force_push = FORCE_PUSH,
} as ref_permissions_in, ref_permissions_out);
two_way!(record RefGrants <-> RefGrants { refs, effects } as ref_grants_in, ref_grants_out);
