// Conversions between WIT values and the policy core: token errors, verdicts, traces and decisions.
//
// `include!`d beside `convert.rs` (whose header says how and why); `*_in` functions go
// from WIT to the core, `*_out` from the core to WIT.

#[allow(dead_code)]
pub fn token_error_out(e: policy::TokenError) -> wit::TokenError {
    use policy::TokenError as E;
    match e {
        E::Empty => wit::TokenError::Empty,
        E::WrongPrefix => wit::TokenError::WrongPrefix,
        E::WrongLength => wit::TokenError::WrongLength,
        E::BadSeparator => wit::TokenError::BadSeparator,
        E::BadKeyId => wit::TokenError::BadKeyId,
        E::BadEncoding => wit::TokenError::BadEncoding,
        E::BadChecksum => wit::TokenError::BadChecksum,
        E::UnknownKey => wit::TokenError::UnknownKey,
        E::BadSignature => wit::TokenError::BadSignature,
    }
}

#[allow(dead_code)]
pub fn token_error_in(e: wit::TokenError) -> policy::TokenError {
    use policy::TokenError as E;
    match e {
        wit::TokenError::Empty => E::Empty,
        wit::TokenError::WrongPrefix => E::WrongPrefix,
        wit::TokenError::WrongLength => E::WrongLength,
        wit::TokenError::BadSeparator => E::BadSeparator,
        wit::TokenError::BadKeyId => E::BadKeyId,
        wit::TokenError::BadEncoding => E::BadEncoding,
        wit::TokenError::BadChecksum => E::BadChecksum,
        wit::TokenError::UnknownKey => E::UnknownKey,
        wit::TokenError::BadSignature => E::BadSignature,
    }
}

/// One table of (core reason, WIT verdict) pairs, read in both directions.
#[allow(dead_code)]
pub fn verdict_table() -> [(policy::Reason, wit::Verdict); 32] {
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
        (R::RepositoryNotFound, V::NotFound(N::RepositoryNotFound)),
        (R::NamespaceNotFound, V::NotFound(N::NamespaceNotFound)),
    ]
}

#[allow(dead_code)]
pub fn verdict_out(r: policy::Reason) -> wit::Verdict {
    // INVARIANT: the table lists every core reason (a test checks it); the fallback is a
    // refusal, never an allow.
    verdict_table()
        .into_iter()
        .find(|(core, _)| *core == r)
        .map(|(_, v)| v)
        .unwrap_or(wit::Verdict::BadRequest(wit::BadRequestReason::RequestInvalid))
}

#[allow(dead_code)]
pub fn verdict_in(v: wit::Verdict) -> policy::Reason {
    verdict_table()
        .into_iter()
        .find(|(_, w)| *w == v)
        .map(|(core, _)| core)
        .unwrap_or(policy::Reason::RequestInvalid)
}

#[allow(dead_code)]
pub fn rule_out(r: policy::Rule) -> wit::Rule {
    use policy::Rule as R;
    match r {
        R::Request => wit::Rule::Request,
        R::Credential => wit::Rule::Credential,
        R::TokenSignature => wit::Rule::TokenSignature,
        R::TokenRecord => wit::Rule::TokenRecord,
        R::TokenExpiry => wit::Rule::TokenExpiry,
        R::Account => wit::Rule::Account,
        R::Username => wit::Rule::Username,
        R::ScopesKnown => wit::Rule::ScopesKnown,
        R::Binding => wit::Rule::Binding,
        R::Scope => wit::Rule::Scope,
        R::Authentication => wit::Rule::Authentication,
        R::Sudo => wit::Rule::Sudo,
        R::Admin => wit::Rule::Admin,
        R::Operation => wit::Rule::Operation,
        R::DeployKey => wit::Rule::DeployKey,
        R::Existence => wit::Rule::Existence,
        R::Visibility => wit::Rule::Visibility,
        R::PublicOnly => wit::Rule::PublicOnly,
        R::WriteRules => wit::Rule::WriteRules,
        R::Role => wit::Rule::Role,
        R::Refs => wit::Rule::Refs,
        R::Repository => wit::Rule::Repository,
        R::Namespace => wit::Rule::Namespace,
        R::Creation => wit::Rule::Creation,
        R::Restricted => wit::Rule::Restricted,
        R::Grant => wit::Rule::Grant,
    }
}

#[allow(dead_code)]
pub fn rule_in(r: wit::Rule) -> policy::Rule {
    policy::Rule::ALL
        .iter()
        .copied()
        .find(|core| rule_out(*core) == r)
        .unwrap_or(policy::Rule::Request)
}

#[allow(dead_code)]
pub fn trace_outcome_out(o: policy::TraceOutcome) -> wit::TraceOutcome {
    match o {
        policy::TraceOutcome::Pass => wit::TraceOutcome::Pass,
        policy::TraceOutcome::Decide => wit::TraceOutcome::Decide,
        policy::TraceOutcome::Skip => wit::TraceOutcome::Skip,
    }
}

#[allow(dead_code)]
pub fn trace_outcome_in(o: wit::TraceOutcome) -> policy::TraceOutcome {
    match o {
        wit::TraceOutcome::Pass => policy::TraceOutcome::Pass,
        wit::TraceOutcome::Decide => policy::TraceOutcome::Decide,
        wit::TraceOutcome::Skip => policy::TraceOutcome::Skip,
    }
}

#[allow(dead_code)]
pub fn effects_out(e: policy::Effects) -> wit::Effects {
    let mut out = wit::Effects::empty();
    if e.touch_last_used {
        out |= wit::Effects::TOUCH_LAST_USED;
    }
    if e.revoke_family {
        out |= wit::Effects::REVOKE_FAMILY;
    }
    out
}

#[allow(dead_code)]
pub fn effects_in(e: wit::Effects) -> policy::Effects {
    policy::Effects {
        touch_last_used: e.contains(wit::Effects::TOUCH_LAST_USED),
        revoke_family: e.contains(wit::Effects::REVOKE_FAMILY),
    }
}

#[allow(dead_code)]
pub fn decision_out(d: policy::Decision) -> wit::Decision {
    wit::Decision {
        verdict: verdict_out(d.reason),
        message: d.message,
        detail: d.detail,
        refs: d.refs.map(|refs| {
            refs.into_iter()
                .map(|v| wit::RefVerdict {
                    verdict: verdict_out(v.reason),
                    message: v.message,
                })
                .collect()
        }),
        effects: effects_out(d.effects),
        trace: d.trace.map(|steps| {
            steps
                .into_iter()
                .map(|s| wit::TraceStep {
                    rule: rule_out(s.rule),
                    outcome: trace_outcome_out(s.outcome),
                    detail: s.detail,
                })
                .collect()
        }),
    }
}

#[allow(dead_code)]
pub fn decision_in(d: wit::Decision) -> policy::Decision {
    policy::Decision {
        reason: verdict_in(d.verdict),
        message: d.message,
        detail: d.detail,
        refs: d.refs.map(|refs| {
            refs.into_iter()
                .map(|v| policy::RefVerdict {
                    reason: verdict_in(v.verdict),
                    message: v.message,
                })
                .collect()
        }),
        effects: effects_in(d.effects),
        trace: d.trace.map(|steps| {
            steps
                .into_iter()
                .map(|s| policy::TraceStep {
                    rule: rule_in(s.rule),
                    outcome: trace_outcome_in(s.outcome),
                    detail: s.detail,
                })
                .collect()
        }),
    }
}

#[allow(dead_code)]
pub fn ref_permissions_out(p: policy::RefPermissions) -> wit::RefPermissions {
    let mut out = wit::RefPermissions::empty();
    if p.create {
        out |= wit::RefPermissions::CREATE;
    }
    if p.push {
        out |= wit::RefPermissions::PUSH;
    }
    if p.force_push {
        out |= wit::RefPermissions::FORCE_PUSH;
    }
    out
}

#[allow(dead_code)]
pub fn ref_grants_out(g: policy::RefGrants) -> wit::RefGrants {
    wit::RefGrants {
        refs: g.refs.into_iter().map(ref_permissions_out).collect(),
        effects: effects_out(g.effects),
    }
}

#[allow(dead_code)]
pub fn ref_grants_in(g: wit::RefGrants) -> policy::RefGrants {
    policy::RefGrants {
        refs: g.refs.into_iter().map(ref_permissions_in).collect(),
        effects: effects_in(g.effects),
    }
}

#[allow(dead_code)]
pub fn ref_permissions_in(p: wit::RefPermissions) -> policy::RefPermissions {
    policy::RefPermissions {
        create: p.contains(wit::RefPermissions::CREATE),
        push: p.contains(wit::RefPermissions::PUSH),
        force_push: p.contains(wit::RefPermissions::FORCE_PUSH),
    }
}
