// Conversions between WIT values (`wit::*`) and the policy core (`policy::*`), by value.
//
// This file is not a module of its own: it is `include!`d with two different `wit` modules
// in scope — the guest's wit-bindgen types (`src/component.rs`) and the host's wasmtime
// bindgen types (`forge_authz_host::wit`, for the host's code tables and the native test
// engine) — so every side converts with the very same code, and every code, status and
// message comes from the core. Each includer brings `wit` (a flat module naming every WIT
// type) and `policy` into scope.
//
// `*_in` functions go from WIT to the core, `*_out` from the core to WIT.

#[allow(dead_code)]
pub fn hash_in(h: wit::Hash256) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (chunk, w) in out.chunks_exact_mut(8).zip([h.w0, h.w1, h.w2, h.w3]) {
        chunk.copy_from_slice(&w.to_be_bytes());
    }
    out
}

#[allow(dead_code)]
pub fn hash_out(b: &[u8; 32]) -> wit::Hash256 {
    let word = |i: usize| {
        let mut w = [0u8; 8];
        if let Some(s) = b.get(i * 8..i * 8 + 8) {
            w.copy_from_slice(s);
        }
        u64::from_be_bytes(w)
    };
    wit::Hash256 {
        w0: word(0),
        w1: word(1),
        w2: word(2),
        w3: word(3),
    }
}

#[allow(dead_code)]
pub fn digest_in(d: wit::SecretDigest) -> policy::SecretDigest {
    match d {
        wit::SecretDigest::HmacTag(h) => policy::SecretDigest::HmacTag(hash_in(h)),
        wit::SecretDigest::Sha256(h) => policy::SecretDigest::Sha256(hash_in(h)),
    }
}

#[allow(dead_code)]
pub fn digest_out(d: policy::SecretDigest) -> wit::SecretDigest {
    match d {
        policy::SecretDigest::HmacTag(h) => wit::SecretDigest::HmacTag(hash_out(&h)),
        policy::SecretDigest::Sha256(h) => wit::SecretDigest::Sha256(hash_out(&h)),
    }
}

#[allow(dead_code)]
pub fn visibility_in(v: wit::Visibility) -> policy::Visibility {
    match v {
        wit::Visibility::Public => policy::Visibility::Public,
        wit::Visibility::Limited => policy::Visibility::Limited,
        wit::Visibility::Private => policy::Visibility::Private,
    }
}

#[allow(dead_code)]
pub fn visibility_out(v: policy::Visibility) -> wit::Visibility {
    match v {
        policy::Visibility::Public => wit::Visibility::Public,
        policy::Visibility::Limited => wit::Visibility::Limited,
        policy::Visibility::Private => wit::Visibility::Private,
    }
}

#[allow(dead_code)]
pub fn role_in(r: wit::Role) -> policy::Role {
    match r {
        wit::Role::None => policy::Role::None,
        wit::Role::Read => policy::Role::Read,
        wit::Role::Write => policy::Role::Write,
        wit::Role::Admin => policy::Role::Admin,
    }
}

#[allow(dead_code)]
pub fn role_out(r: policy::Role) -> wit::Role {
    match r {
        policy::Role::None => wit::Role::None,
        policy::Role::Read => wit::Role::Read,
        policy::Role::Write => wit::Role::Write,
        policy::Role::Admin => wit::Role::Admin,
    }
}

#[allow(dead_code)]
pub fn config_in(c: wit::Config) -> policy::Config {
    policy::Config {
        keys: c
            .keys
            .into_iter()
            .map(|k| policy::SigningKey {
                id: k.id,
                secret: k.secret,
            })
            .collect(),
        signing_key_id: c.signing_key_id,
        options: policy::Options {
            binding_fallback_to_anonymous: c.options.binding_fallback_to_anonymous,
            require_expiry: c.options.require_expiry,
            max_lifetime: c.options.max_lifetime,
            min_lifetime: c.options.min_lifetime,
        },
    }
}

#[allow(dead_code)]
pub fn config_error_out(e: policy::ConfigError) -> wit::ConfigError {
    match e {
        policy::ConfigError::NoKeys => wit::ConfigError::NoKeys,
        policy::ConfigError::BadKeyId(s) => wit::ConfigError::BadKeyId(s),
        policy::ConfigError::DuplicateKeyId(s) => wit::ConfigError::DuplicateKeyId(s),
        policy::ConfigError::WeakKey(s) => wit::ConfigError::WeakKey(s),
        policy::ConfigError::UnknownSigningKey(s) => wit::ConfigError::UnknownSigningKey(s),
    }
}

#[allow(dead_code)]
pub fn config_error_in(e: wit::ConfigError) -> policy::ConfigError {
    match e {
        wit::ConfigError::NoKeys => policy::ConfigError::NoKeys,
        wit::ConfigError::BadKeyId(s) => policy::ConfigError::BadKeyId(s),
        wit::ConfigError::DuplicateKeyId(s) => policy::ConfigError::DuplicateKeyId(s),
        wit::ConfigError::WeakKey(s) => policy::ConfigError::WeakKey(s),
        wit::ConfigError::UnknownSigningKey(s) => policy::ConfigError::UnknownSigningKey(s),
    }
}

#[allow(dead_code)]
pub fn transport_in(t: wit::Transport) -> policy::Transport {
    match t {
        wit::Transport::Http => policy::Transport::Http,
        wit::Transport::Ssh => policy::Transport::Ssh,
    }
}

#[allow(dead_code)]
pub fn credential_in(c: wit::Credential) -> policy::Credential {
    match c {
        wit::Credential::Anonymous => policy::Credential::Anonymous,
        wit::Credential::Bearer(t) => policy::Credential::Bearer(t),
        wit::Credential::Basic(b) => policy::Credential::Basic {
            username: b.username,
            password: b.password,
        },
        wit::Credential::SshKey(k) => policy::Credential::SshKey(policy::SshKey {
            id: k.id,
            kind: match k.kind {
                wit::KeyKind::User => policy::KeyKind::User,
                wit::KeyKind::Deploy => policy::KeyKind::Deploy,
            },
            owner: k.owner,
            repository: k.repository,
            read_only: k.read_only,
        }),
        wit::Credential::Session(u) => policy::Credential::Session(u),
    }
}

#[allow(dead_code)]
pub fn git_action_in(a: wit::GitAction) -> policy::GitAction {
    match a {
        wit::GitAction::Pull => policy::GitAction::Pull,
        wit::GitAction::Push => policy::GitAction::Push,
    }
}

#[allow(dead_code)]
pub fn categories_in(c: wit::ScopeCategories) -> policy::scope::Categories {
    use policy::scope::Category as C;
    use wit::ScopeCategories as F;
    [
        (F::ACTIVITYPUB, C::ActivityPub),
        (F::ADMIN, C::Admin),
        (F::MISC, C::Misc),
        (F::NOTIFICATION, C::Notification),
        (F::ORGANIZATION, C::Organization),
        (F::PACKAGE, C::Package),
        (F::ISSUE, C::Issue),
        (F::REPOSITORY, C::Repository),
        (F::USER, C::User),
    ]
    .into_iter()
    .filter(|(f, _)| c.contains(*f))
    .fold(policy::scope::Categories::NONE, |set, (_, cat)| set.with(cat))
}

#[allow(dead_code)]
pub fn method_in(m: wit::HttpMethod) -> policy::Method {
    match m {
        wit::HttpMethod::Get => policy::Method::Get,
        wit::HttpMethod::Head => policy::Method::Head,
        wit::HttpMethod::Options => policy::Method::Options,
        wit::HttpMethod::Post => policy::Method::Post,
        wit::HttpMethod::Put => policy::Method::Put,
        wit::HttpMethod::Patch => policy::Method::Patch,
        wit::HttpMethod::Delete => policy::Method::Delete,
        wit::HttpMethod::Other(m) => policy::Method::Other(m),
    }
}

#[allow(dead_code)]
pub fn operation_in(o: wit::PrivilegedOperation) -> policy::PrivilegedOperation {
    use policy::PrivilegedOperation as P;
    match o {
        wit::PrivilegedOperation::RepositorySettings => P::RepositorySettings,
        wit::PrivilegedOperation::DeleteRepository => P::DeleteRepository,
        wit::PrivilegedOperation::TransferRepository => P::TransferRepository,
        wit::PrivilegedOperation::ConvertMirror => P::ConvertMirror,
        wit::PrivilegedOperation::GenerateFromTemplate => P::GenerateFromTemplate,
        wit::PrivilegedOperation::CreateForOtherOwner => P::CreateForOtherOwner,
        wit::PrivilegedOperation::ViewAdminDetails => P::ViewAdminDetails,
        wit::PrivilegedOperation::Moderate => P::Moderate,
    }
}

#[allow(dead_code)]
pub fn request_in(r: wit::Request) -> policy::Request {
    match r {
        wit::Request::Git(g) => policy::Request::Git(policy::GitRequest {
            transport: transport_in(g.transport),
            repository: g.repository,
            action: git_action_in(g.action),
            refs: g
                .refs
                .unwrap_or_default()
                .into_iter()
                .map(|u| policy::RefUpdate {
                    name: u.name,
                    change: match u.change {
                        wit::RefChange::Create => policy::RefChange::Create,
                        wit::RefChange::Update => policy::RefChange::Update,
                        wit::RefChange::Delete => policy::RefChange::Delete,
                    },
                    force: u.force,
                })
                .collect(),
        }),
        wit::Request::Create(c) => policy::Request::Create(policy::CreationRequest {
            transport: transport_in(c.transport),
            repository: c.repository,
            step: match c.step {
                wit::CreationStep::PushToCreate => policy::CreationStep::PushToCreate,
                wit::CreationStep::Confirm => policy::CreationStep::Confirm,
                wit::CreationStep::Abort => policy::CreationStep::Abort,
            },
        }),
        wit::Request::Api(a) => policy::Request::Api(policy::ApiRequest {
            method: method_in(a.method),
            categories: categories_in(a.categories),
            repository: a.repository,
            namespace: a.namespace,
            requires_auth: a.route.contains(wit::RouteFlags::REQUIRES_AUTH),
            admin_only: a.route.contains(wit::RouteFlags::ADMIN_ONLY),
            required_role: role_in(a.required_role),
            operation: a.operation.map(operation_in),
            sudo: a.sudo,
            package: a.route.contains(wit::RouteFlags::PACKAGE),
            writes_content: a.route.contains(wit::RouteFlags::WRITES_CONTENT),
            creates_in_own_namespace: a.route.contains(wit::RouteFlags::CREATES_IN_OWN_NAMESPACE),
        }),
    }
}

#[allow(dead_code)]
pub fn authorize_in(r: wit::AuthorizeRequest) -> policy::AuthorizeRequest {
    policy::AuthorizeRequest {
        credential: credential_in(r.credential),
        also_presented: r.also_presented.unwrap_or_default(),
        request: request_in(r.request),
        now: r.now,
        explain: r.explain,
    }
}

#[allow(dead_code)]
pub fn batch_request_in(r: wit::BatchRequest) -> policy::BatchRequest {
    policy::BatchRequest {
        credential: credential_in(r.credential),
        also_presented: r.also_presented.unwrap_or_default(),
        transport: transport_in(r.transport),
        action: git_action_in(r.action),
        repositories: r.repositories,
        now: r.now,
        explain: r.explain,
    }
}

#[allow(dead_code)]
pub fn ref_permissions_request_in(r: wit::RefPermissionsRequest) -> policy::RefPermissionsRequest {
    policy::RefPermissionsRequest {
        credential: credential_in(r.credential),
        also_presented: r.also_presented.unwrap_or_default(),
        transport: transport_in(r.transport),
        repository: r.repository,
        refs: r.refs,
        now: r.now,
    }
}

#[allow(dead_code)]
pub fn user_in(u: wit::UserFacts) -> policy::UserFacts {
    policy::UserFacts {
        status: match u.status {
            wit::AccountStatus::Active => policy::AccountStatus::Active,
            wit::AccountStatus::Inactive => policy::AccountStatus::Inactive,
            wit::AccountStatus::Suspended => policy::AccountStatus::Suspended,
        },
        site_admin: u.site_admin,
        visibility: visibility_in(u.visibility),
        organization: u.organization,
    }
}

#[allow(dead_code)]
pub fn user_out(u: policy::UserFacts) -> wit::UserFacts {
    wit::UserFacts {
        status: match u.status {
            policy::AccountStatus::Active => wit::AccountStatus::Active,
            policy::AccountStatus::Inactive => wit::AccountStatus::Inactive,
            policy::AccountStatus::Suspended => wit::AccountStatus::Suspended,
        },
        site_admin: u.site_admin,
        visibility: visibility_out(u.visibility),
        organization: u.organization,
    }
}

#[allow(dead_code)]
pub fn ref_access_in(a: wit::RefAccess) -> policy::RefAccess {
    match a {
        wit::RefAccess::Writers => policy::RefAccess::Writers,
        wit::RefAccess::Admins => policy::RefAccess::Admins,
        wit::RefAccess::Users(u) => policy::RefAccess::Users(u),
        wit::RefAccess::Nobody => policy::RefAccess::Nobody,
    }
}

#[allow(dead_code)]
pub fn ref_access_out(a: policy::RefAccess) -> wit::RefAccess {
    match a {
        policy::RefAccess::Writers => wit::RefAccess::Writers,
        policy::RefAccess::Admins => wit::RefAccess::Admins,
        policy::RefAccess::Users(u) => wit::RefAccess::Users(u),
        policy::RefAccess::Nobody => wit::RefAccess::Nobody,
    }
}

#[allow(dead_code)]
pub fn repository_in(r: wit::RepositoryFacts) -> policy::RepositoryFacts {
    policy::RepositoryFacts {
        owner_visibility: visibility_in(r.owner_visibility),
        private: r.private,
        kind: match r.kind {
            wit::RepositoryKind::Hosted => policy::RepositoryKind::Hosted,
            wit::RepositoryKind::Mirror => policy::RepositoryKind::Mirror,
            wit::RepositoryKind::Import => policy::RepositoryKind::Import,
        },
        archived: r.archived,
        role: role_in(r.role),
        registrant: r.registrant,
        protected_refs: r
            .protected_refs
            .unwrap_or_default()
            .into_iter()
            .map(|p| policy::ProtectedRef {
                pattern: p.pattern,
                push: ref_access_in(p.push),
                force_push: ref_access_in(p.force_push),
            })
            .collect(),
    }
}

#[allow(dead_code)]
pub fn repository_out(r: policy::RepositoryFacts) -> wit::RepositoryFacts {
    wit::RepositoryFacts {
        owner_visibility: visibility_out(r.owner_visibility),
        private: r.private,
        kind: match r.kind {
            policy::RepositoryKind::Hosted => wit::RepositoryKind::Hosted,
            policy::RepositoryKind::Mirror => wit::RepositoryKind::Mirror,
            policy::RepositoryKind::Import => wit::RepositoryKind::Import,
        },
        archived: r.archived,
        role: role_out(r.role),
        registrant: r.registrant,
        protected_refs: (!r.protected_refs.is_empty()).then(|| {
            r.protected_refs
                .into_iter()
                .map(|p| wit::ProtectedRef {
                    pattern: p.pattern,
                    push: ref_access_out(p.push),
                    force_push: ref_access_out(p.force_push),
                })
                .collect()
        }),
    }
}

#[allow(dead_code)]
pub fn namespace_in(n: wit::NamespaceFacts) -> policy::NamespaceFacts {
    policy::NamespaceFacts {
        organization: n.organization,
        visibility: visibility_in(n.visibility),
        member_role: role_in(n.member_role),
    }
}

#[allow(dead_code)]
pub fn namespace_out(n: policy::NamespaceFacts) -> wit::NamespaceFacts {
    wit::NamespaceFacts {
        organization: n.organization,
        visibility: visibility_out(n.visibility),
        member_role: role_out(n.member_role),
    }
}

#[allow(dead_code)]
pub fn token_facts_in(t: wit::TokenFacts) -> policy::TokenFacts {
    policy::TokenFacts {
        owner: t.owner,
        scopes: t.scopes,
        binding: t.binding.map(|b| policy::Binding {
            repositories: b.repositories,
            owners: b.owners,
        }),
        child: t.child,
        rotated: t.rotated,
        last_used: t.last_used,
        expires: t.expires,
        revoked: t.revoked,
        secret: digest_in(t.secret),
    }
}

#[allow(dead_code)]
pub fn token_facts_out(t: policy::TokenFacts) -> wit::TokenFacts {
    wit::TokenFacts {
        owner: t.owner,
        scopes: t.scopes,
        binding: t.binding.map(|b| wit::TokenBinding {
            repositories: b.repositories,
            owners: b.owners,
        }),
        child: t.child,
        rotated: t.rotated,
        last_used: t.last_used,
        expires: t.expires,
        revoked: t.revoked,
        secret: digest_out(t.secret),
    }
}

#[allow(dead_code)]
pub fn answer_in(a: wit::FactAnswer) -> policy::FactAnswer {
    policy::FactAnswer {
        token: a.token.map(token_facts_in),
        owner: a.owner.map(user_in),
        account: a.account.map(user_in),
        sudo: a.sudo.map(user_in),
        repository: a.repository.map(repository_in),
        namespace: a.namespace.map(namespace_in),
    }
}

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

#[allow(dead_code)]
pub fn record_in(r: wit::TokenRecord) -> policy::TokenRecord {
    policy::TokenRecord {
        id: r.id,
        owner: r.owner,
        name: r.name,
        scopes: r.scopes,
        repositories: r.repositories,
        owners: r.owners,
        parent: r.parent,
        predecessor: r.predecessor,
        successor: r.successor,
        last_used: r.last_used,
        created: r.created,
        expires: r.expires,
        revoked: r.revoked,
        secret: digest_in(r.secret),
    }
}

#[allow(dead_code)]
pub fn record_out(r: policy::TokenRecord) -> wit::TokenRecord {
    wit::TokenRecord {
        id: r.id,
        owner: r.owner,
        name: r.name,
        scopes: r.scopes,
        repositories: r.repositories,
        owners: r.owners,
        parent: r.parent,
        predecessor: r.predecessor,
        successor: r.successor,
        last_used: r.last_used,
        created: r.created,
        expires: r.expires,
        revoked: r.revoked,
        secret: digest_out(r.secret),
    }
}

#[allow(dead_code)]
pub fn issue_in(r: wit::IssueRequest) -> policy::IssueRequest {
    policy::IssueRequest {
        owner: r.owner,
        name: r.name,
        scopes: r.scopes,
        repositories: r.repositories,
        owners: r.owners,
        expires: r.expires,
        now: r.now,
        creator: actor_in(r.creator),
        existing_names: r.existing_names,
        bound_facts: r
            .bound_facts
            .into_iter()
            .map(|b| policy::BoundRepository {
                repository: b.repository,
                facts: b.facts.map(repository_in),
            })
            .collect(),
        ip: r.ip,
    }
}

/// One table of (core issue error, WIT issue error), read in both directions.
#[allow(dead_code)]
pub fn issue_error_out(e: policy::IssueError) -> wit::IssueError {
    use policy::IssueError as P;
    use wit::IssueError as W;
    match e {
        P::NoPermissionScope => W::NoPermissionScope,
        P::UnknownScope(s) => W::UnknownScope(s),
        P::ExpiryInPast => W::ExpiryInPast,
        P::BadName => W::BadName,
        P::BadRepository(s) => W::BadRepository(s),
        P::ScopeNotAllowedWhenBound(s) => W::ScopeNotAllowedWhenBound(s),
        P::BoundAndPublicOnly => W::BoundAndPublicOnly,
        P::ExpiryRequired => W::ExpiryRequired,
        P::LifetimeTooLong(x) => W::LifetimeTooLong(x),
        P::LifetimeTooShort(x) => W::LifetimeTooShort(x),
        P::NameTaken => W::NameTaken,
        P::RepositoryNotVisible(s) => W::RepositoryNotVisible(s),
        P::ScopeNotGrantable(s) => W::ScopeNotGrantable(s),
        P::CreatorNotAllowed => W::CreatorNotAllowed,
        P::CreatorNotLive => W::CreatorNotLive,
        P::ExceedsCreator(s) => W::ExceedsCreator(s),
        P::BadOwner => W::BadOwner,
        P::EntropyUnavailable => W::EntropyUnavailable,
    }
}

#[allow(dead_code)]
pub fn issue_error_in(e: wit::IssueError) -> policy::IssueError {
    use policy::IssueError as P;
    use wit::IssueError as W;
    match e {
        W::NoPermissionScope => P::NoPermissionScope,
        W::UnknownScope(s) => P::UnknownScope(s),
        W::ExpiryInPast => P::ExpiryInPast,
        W::BadName => P::BadName,
        W::BadRepository(s) => P::BadRepository(s),
        W::ScopeNotAllowedWhenBound(s) => P::ScopeNotAllowedWhenBound(s),
        W::BoundAndPublicOnly => P::BoundAndPublicOnly,
        W::ExpiryRequired => P::ExpiryRequired,
        W::LifetimeTooLong(x) => P::LifetimeTooLong(x),
        W::LifetimeTooShort(x) => P::LifetimeTooShort(x),
        W::NameTaken => P::NameTaken,
        W::RepositoryNotVisible(s) => P::RepositoryNotVisible(s),
        W::ScopeNotGrantable(s) => P::ScopeNotGrantable(s),
        W::CreatorNotAllowed => P::CreatorNotAllowed,
        W::CreatorNotLive => P::CreatorNotLive,
        W::ExceedsCreator(s) => P::ExceedsCreator(s),
        W::BadOwner => P::BadOwner,
        W::EntropyUnavailable => P::EntropyUnavailable,
    }
}

#[allow(dead_code)]
pub fn actor_in(a: wit::Actor) -> policy::Actor {
    match a {
        wit::Actor::Session(a) => policy::Actor::Session(policy::Account {
            name: a.name,
            facts: user_in(a.facts),
        }),
        wit::Actor::Token(t) => policy::Actor::Token(record_in(t)),
        wit::Actor::System(n) => policy::Actor::System(n),
    }
}

#[allow(dead_code)]
pub fn actor_out(a: policy::Actor) -> wit::Actor {
    match a {
        policy::Actor::Session(a) => wit::Actor::Session(wit::Account {
            name: a.name,
            facts: user_out(a.facts),
        }),
        policy::Actor::Token(t) => wit::Actor::Token(record_out(t)),
        policy::Actor::System(n) => wit::Actor::System(n),
    }
}

#[allow(dead_code)]
pub fn context_in(c: wit::ChangeContext) -> policy::ChangeContext {
    policy::ChangeContext {
        actor: actor_in(c.actor),
        ip: c.ip,
        now: c.now,
    }
}

#[allow(dead_code)]
pub fn history_action_out(a: policy::HistoryAction) -> wit::HistoryAction {
    match a {
        policy::HistoryAction::Create => wit::HistoryAction::Create,
        policy::HistoryAction::Edit => wit::HistoryAction::Edit,
        policy::HistoryAction::Rotate => wit::HistoryAction::Rotate,
        policy::HistoryAction::Revoke => wit::HistoryAction::Revoke,
        policy::HistoryAction::Expire => wit::HistoryAction::Expire,
    }
}

#[allow(dead_code)]
pub fn history_action_in(a: wit::HistoryAction) -> policy::HistoryAction {
    match a {
        wit::HistoryAction::Create => policy::HistoryAction::Create,
        wit::HistoryAction::Edit => policy::HistoryAction::Edit,
        wit::HistoryAction::Rotate => policy::HistoryAction::Rotate,
        wit::HistoryAction::Revoke => policy::HistoryAction::Revoke,
        wit::HistoryAction::Expire => policy::HistoryAction::Expire,
    }
}

#[allow(dead_code)]
pub fn event_out(e: policy::HistoryEvent) -> wit::HistoryEvent {
    wit::HistoryEvent {
        token_id: e.token_id,
        owner: e.owner,
        action: history_action_out(e.action),
        actor: e.actor,
        ip: e.ip,
        at: e.at,
        name: e.name,
        scopes: e.scopes,
        expires: e.expires,
        parent: e.parent,
        old_name: e.old_name,
        old_scopes: e.old_scopes,
        old_expires: e.old_expires,
        related: e.related,
    }
}

#[allow(dead_code)]
pub fn issued_out(t: policy::IssuedToken) -> wit::IssuedToken {
    wit::IssuedToken {
        secret: t.secret,
        record: record_out(t.record),
        event: event_out(t.event),
    }
}

#[allow(dead_code)]
pub fn child_in(r: wit::ChildRequest) -> policy::ChildRequest {
    policy::ChildRequest {
        parent: record_in(r.parent),
        scopes: r.scopes,
        lifetime: r.lifetime,
        minimum_lifetime: r.minimum_lifetime,
        existing_children: r.existing_children.into_iter().map(record_in).collect(),
        context: context_in(r.context),
    }
}

#[allow(dead_code)]
pub fn child_out(o: policy::ChildOutcome) -> wit::ChildOutcome {
    match o {
        policy::ChildOutcome::Reuse(r) => wit::ChildOutcome::Reuse(record_out(r)),
        policy::ChildOutcome::Minted(t) => wit::ChildOutcome::Minted(issued_out(t)),
    }
}

#[allow(dead_code)]
pub fn rotate_in(r: wit::RotateRequest) -> policy::RotateRequest {
    policy::RotateRequest {
        old: record_in(r.old),
        expires: r.expires,
        records: r.records.into_iter().map(record_in).collect(),
        context: context_in(r.context),
    }
}

#[allow(dead_code)]
pub fn rotation_out(r: policy::Rotation) -> wit::Rotation {
    wit::Rotation {
        new: issued_out(r.new),
        old: record_out(r.old),
        revoked_children: r.revoked_children.into_iter().map(record_out).collect(),
        events: r.events.into_iter().map(event_out).collect(),
    }
}

#[allow(dead_code)]
pub fn lifecycle_error_out(e: policy::LifecycleError) -> wit::LifecycleError {
    match e {
        policy::LifecycleError::UnknownToken(s) => wit::LifecycleError::UnknownToken(s),
        policy::LifecycleError::TokenNotLive(s) => wit::LifecycleError::TokenNotLive(s),
        policy::LifecycleError::Refused(e) => wit::LifecycleError::Refused(issue_error_out(e)),
        policy::LifecycleError::NotPermitted => wit::LifecycleError::NotPermitted,
    }
}

#[allow(dead_code)]
pub fn lifecycle_error_in(e: wit::LifecycleError) -> policy::LifecycleError {
    match e {
        wit::LifecycleError::UnknownToken(s) => policy::LifecycleError::UnknownToken(s),
        wit::LifecycleError::TokenNotLive(s) => policy::LifecycleError::TokenNotLive(s),
        wit::LifecycleError::Refused(e) => policy::LifecycleError::Refused(issue_error_in(e)),
        wit::LifecycleError::NotPermitted => policy::LifecycleError::NotPermitted,
    }
}

#[allow(dead_code)]
pub fn plan_out(p: policy::ChangePlan) -> wit::ChangePlan {
    wit::ChangePlan {
        updates: p.updates.into_iter().map(record_out).collect(),
        events: p.events.into_iter().map(event_out).collect(),
    }
}

#[allow(dead_code)]
pub fn revoke_scope_in(s: wit::RevokeScope) -> policy::RevokeScope {
    match s {
        wit::RevokeScope::Token => policy::RevokeScope::Token,
        wit::RevokeScope::Family => policy::RevokeScope::Family,
    }
}

#[allow(dead_code)]
pub fn edit_in(e: wit::TokenEdit) -> policy::TokenEdit {
    policy::TokenEdit {
        name: e.name,
        scopes: e.scopes,
        expires: e.expires,
    }
}

#[allow(dead_code)]
pub fn audit_entry_in(e: wit::AuditEntry) -> policy::AuditEntry {
    policy::AuditEntry {
        record: record_in(e.record),
        expiry_recorded: e.expiry_recorded,
    }
}

#[allow(dead_code)]
pub fn audit_kind_out(k: policy::AuditKind) -> wit::AuditKind {
    match k {
        policy::AuditKind::ChildOutlivesParent => wit::AuditKind::ChildOutlivesParent,
        policy::AuditKind::ChildExceedsParent => wit::AuditKind::ChildExceedsParent,
        policy::AuditKind::ChildOfRevokedParent => wit::AuditKind::ChildOfRevokedParent,
        policy::AuditKind::Orphan => wit::AuditKind::Orphan,
        policy::AuditKind::UnknownScope => wit::AuditKind::UnknownScope,
        policy::AuditKind::ExpiredNotRecorded => wit::AuditKind::ExpiredNotRecorded,
        policy::AuditKind::RotatedNotRevoked => wit::AuditKind::RotatedNotRevoked,
    }
}

#[allow(dead_code)]
pub fn audit_kind_in(k: wit::AuditKind) -> policy::AuditKind {
    match k {
        wit::AuditKind::ChildOutlivesParent => policy::AuditKind::ChildOutlivesParent,
        wit::AuditKind::ChildExceedsParent => policy::AuditKind::ChildExceedsParent,
        wit::AuditKind::ChildOfRevokedParent => policy::AuditKind::ChildOfRevokedParent,
        wit::AuditKind::Orphan => policy::AuditKind::Orphan,
        wit::AuditKind::UnknownScope => policy::AuditKind::UnknownScope,
        wit::AuditKind::ExpiredNotRecorded => policy::AuditKind::ExpiredNotRecorded,
        wit::AuditKind::RotatedNotRevoked => policy::AuditKind::RotatedNotRevoked,
    }
}

#[allow(dead_code)]
pub fn finding_out(f: policy::AuditFinding) -> wit::AuditFinding {
    wit::AuditFinding {
        token_id: f.token_id,
        kind: audit_kind_out(f.kind),
        message: f.message,
        fix: f.fix.map(|x| match x {
            policy::AuditFix::Update(r) => wit::AuditFix::Update(record_out(r)),
            policy::AuditFix::RecordExpiry(id) => wit::AuditFix::RecordExpiry(id),
        }),
        event: f.event.map(event_out),
    }
}

// The lifecycle calls the other way round (core requests to WIT, WIT answers to core): what
// a host that speaks core values needs, and the differential test's native-to-wasm
// comparison.

#[allow(dead_code)]
pub fn context_out(c: policy::ChangeContext) -> wit::ChangeContext {
    wit::ChangeContext {
        actor: actor_out(c.actor),
        ip: c.ip,
        now: c.now,
    }
}

#[allow(dead_code)]
pub fn issue_request_out(r: policy::IssueRequest) -> wit::IssueRequest {
    wit::IssueRequest {
        owner: r.owner,
        name: r.name,
        scopes: r.scopes,
        repositories: r.repositories,
        owners: r.owners,
        expires: r.expires,
        now: r.now,
        creator: actor_out(r.creator),
        existing_names: r.existing_names,
        bound_facts: r
            .bound_facts
            .into_iter()
            .map(|b| wit::BoundRepository {
                repository: b.repository,
                facts: b.facts.map(repository_out),
            })
            .collect(),
        ip: r.ip,
    }
}

#[allow(dead_code)]
pub fn child_request_out(r: policy::ChildRequest) -> wit::ChildRequest {
    wit::ChildRequest {
        parent: record_out(r.parent),
        scopes: r.scopes,
        lifetime: r.lifetime,
        minimum_lifetime: r.minimum_lifetime,
        existing_children: r.existing_children.into_iter().map(record_out).collect(),
        context: context_out(r.context),
    }
}

#[allow(dead_code)]
pub fn rotate_request_out(r: policy::RotateRequest) -> wit::RotateRequest {
    wit::RotateRequest {
        old: record_out(r.old),
        expires: r.expires,
        records: r.records.into_iter().map(record_out).collect(),
        context: context_out(r.context),
    }
}

#[allow(dead_code)]
pub fn edit_out(e: policy::TokenEdit) -> wit::TokenEdit {
    wit::TokenEdit {
        name: e.name,
        scopes: e.scopes,
        expires: e.expires,
    }
}

#[allow(dead_code)]
pub fn revoke_scope_out(s: policy::RevokeScope) -> wit::RevokeScope {
    match s {
        policy::RevokeScope::Token => wit::RevokeScope::Token,
        policy::RevokeScope::Family => wit::RevokeScope::Family,
    }
}

#[allow(dead_code)]
pub fn audit_entry_out(e: policy::AuditEntry) -> wit::AuditEntry {
    wit::AuditEntry {
        record: record_out(e.record),
        expiry_recorded: e.expiry_recorded,
    }
}

#[allow(dead_code)]
pub fn event_in(e: wit::HistoryEvent) -> policy::HistoryEvent {
    policy::HistoryEvent {
        token_id: e.token_id,
        owner: e.owner,
        action: history_action_in(e.action),
        actor: e.actor,
        ip: e.ip,
        at: e.at,
        name: e.name,
        scopes: e.scopes,
        expires: e.expires,
        parent: e.parent,
        old_name: e.old_name,
        old_scopes: e.old_scopes,
        old_expires: e.old_expires,
        related: e.related,
    }
}

#[allow(dead_code)]
pub fn issued_in(t: wit::IssuedToken) -> policy::IssuedToken {
    policy::IssuedToken {
        secret: t.secret,
        record: record_in(t.record),
        event: event_in(t.event),
    }
}

#[allow(dead_code)]
pub fn child_outcome_in(o: wit::ChildOutcome) -> policy::ChildOutcome {
    match o {
        wit::ChildOutcome::Reuse(r) => policy::ChildOutcome::Reuse(record_in(r)),
        wit::ChildOutcome::Minted(t) => policy::ChildOutcome::Minted(issued_in(t)),
    }
}

#[allow(dead_code)]
pub fn rotation_in(r: wit::Rotation) -> policy::Rotation {
    policy::Rotation {
        new: issued_in(r.new),
        old: record_in(r.old),
        revoked_children: r.revoked_children.into_iter().map(record_in).collect(),
        events: r.events.into_iter().map(event_in).collect(),
    }
}

#[allow(dead_code)]
pub fn plan_in(p: wit::ChangePlan) -> policy::ChangePlan {
    policy::ChangePlan {
        updates: p.updates.into_iter().map(record_in).collect(),
        events: p.events.into_iter().map(event_in).collect(),
    }
}

#[allow(dead_code)]
pub fn finding_in(f: wit::AuditFinding) -> policy::AuditFinding {
    policy::AuditFinding {
        token_id: f.token_id,
        kind: audit_kind_in(f.kind),
        message: f.message,
        fix: f.fix.map(|x| match x {
            wit::AuditFix::Update(r) => policy::AuditFix::Update(record_in(r)),
            wit::AuditFix::RecordExpiry(id) => policy::AuditFix::RecordExpiry(id),
        }),
        event: f.event.map(event_in),
    }
}
