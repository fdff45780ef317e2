// Conversions between WIT values (`wit::*`) and the policy core (`policy::*`), by value.
//
// This file is not a module of its own: it is `include!`d with two different `wit` modules
// in scope — the guest's wit-bindgen types (`src/component.rs`) and the host's wasmtime
// bindgen types (`forge_authz_host::wit`, for the host's code tables and the native test
// engine) — so every side converts with the very same code, and every code, status and
// message comes from the core. Each includer brings `wit` (a flat module naming every WIT
// type) and `policy` into scope.
//
// `*_in` functions go from WIT to the core, `*_out` from the core to WIT. One file per
// concern, included together: this one (shared values, configuration, facts),
// `convert_request.rs` (credentials and requests), `convert_decision.rs` (verdicts and
// decisions), `convert_lifecycle.rs` (token records and lifecycle calls).

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
pub fn options_out(o: policy::Options) -> wit::Options {
    wit::Options {
        binding_fallback_to_anonymous: o.binding_fallback_to_anonymous,
        require_expiry: o.require_expiry,
        max_lifetime: o.max_lifetime,
        min_lifetime: o.min_lifetime,
    }
}

#[allow(dead_code)]
pub fn config_out(c: policy::Config) -> wit::Config {
    wit::Config {
        keys: c
            .keys
            .into_iter()
            .map(|k| wit::SigningKey {
                id: k.id,
                secret: k.secret,
            })
            .collect(),
        signing_key_id: c.signing_key_id,
        options: options_out(c.options),
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
pub fn answer_out(a: policy::FactAnswer) -> wit::FactAnswer {
    wit::FactAnswer {
        token: a.token.map(token_facts_out),
        owner: a.owner.map(user_out),
        account: a.account.map(user_out),
        sudo: a.sudo.map(user_out),
        repository: a.repository.map(repository_out),
        namespace: a.namespace.map(namespace_out),
    }
}
