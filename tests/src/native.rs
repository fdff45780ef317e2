//! The policy core compiled natively, behind the host's `Policy` trait, so that the
//! scenario corpus runs unchanged against it and against the wasm component.

use forge_authz_guest::policy as core;
use forge_authz_host::policy::{Policy, PolicyFailure};
use forge_authz_host::wit;

/// The native policy: `forge_authz_guest::policy::Authorizer` with WIT-typed edges.
#[derive(Debug)]
pub struct NativePolicy(core::Authorizer);

impl NativePolicy {
    /// Build from a WIT configuration (`Err`: refused, as `authorizer.create` would).
    pub fn new(config: &wit::Config) -> Result<NativePolicy, wit::ConfigError> {
        let config = core::Config {
            keys: config
                .keys
                .iter()
                .map(|k| core::SigningKey {
                    id: k.id.clone(),
                    secret: k.secret.clone(),
                })
                .collect(),
            signing_key_id: config.signing_key_id.clone(),
        };
        core::Authorizer::new(&config)
            .map(NativePolicy)
            .map_err(|e| match e {
                core::ConfigError::NoKeys => wit::ConfigError::NoKeys,
                core::ConfigError::BadKeyId(s) => wit::ConfigError::BadKeyId(s),
                core::ConfigError::DuplicateKeyId(s) => wit::ConfigError::DuplicateKeyId(s),
                core::ConfigError::WeakKey(s) => wit::ConfigError::WeakKey(s),
                core::ConfigError::UnknownSigningKey(s) => wit::ConfigError::UnknownSigningKey(s),
            })
    }
}

fn credential(c: &wit::Credential) -> core::Credential {
    match c {
        wit::Credential::Anonymous => core::Credential::Anonymous,
        wit::Credential::Bearer(t) => core::Credential::Bearer(t.clone()),
        wit::Credential::Basic(b) => core::Credential::Basic {
            username: b.username.clone(),
            password: b.password.clone(),
        },
    }
}

fn visibility(v: wit::Visibility) -> core::Visibility {
    match v {
        wit::Visibility::Public => core::Visibility::Public,
        wit::Visibility::Limited => core::Visibility::Limited,
        wit::Visibility::Private => core::Visibility::Private,
    }
}

fn token_error(e: core::TokenError) -> wit::TokenError {
    use core::TokenError as E;
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

/// Map a core reason to the WIT reason by its code: the two enums must carry the same
/// codes, and this fails loudly (policy-failure) if they drift apart.
pub fn reason(r: core::Reason) -> wit::Reason {
    const ALL: [wit::Reason; 21] = [
        wit::Reason::Granted,
        wit::Reason::PublicRead,
        wit::Reason::AuthenticationRequired,
        wit::Reason::TokenInvalid,
        wit::Reason::TokenUnknown,
        wit::Reason::TokenExpired,
        wit::Reason::TokenRevoked,
        wit::Reason::AccountInactive,
        wit::Reason::UsernameMismatch,
        wit::Reason::TokenNotBound,
        wit::Reason::ScopeMissing,
        wit::Reason::ScopeUnknown,
        wit::Reason::TokenPublicOnly,
        wit::Reason::PermissionDenied,
        wit::Reason::RepositoryMirror,
        wit::Reason::RepositoryImport,
        wit::Reason::RepositoryArchived,
        wit::Reason::RepositoryNotFound,
        wit::Reason::RequestInvalid,
        wit::Reason::FactsInconsistent,
        wit::Reason::PolicyFailure,
    ];
    ALL.iter()
        .copied()
        .find(|w| w.code() == r.code())
        .unwrap_or(wit::Reason::PolicyFailure)
}

/// Map a core status to the WIT status.
pub fn status(s: core::Status) -> wit::Status {
    match s {
        core::Status::Ok => wit::Status::Ok,
        core::Status::BadRequest => wit::Status::BadRequest,
        core::Status::Unauthorized => wit::Status::Unauthorized,
        core::Status::Forbidden => wit::Status::Forbidden,
        core::Status::NotFound => wit::Status::NotFound,
        core::Status::Unavailable => wit::Status::Unavailable,
    }
}

fn record_in(r: &wit::TokenRecord) -> core::TokenRecord {
    core::TokenRecord {
        id: r.id.clone(),
        owner: r.owner.clone(),
        name: r.name.clone(),
        scopes: r.scopes.clone(),
        repositories: r.repositories.clone(),
        created: r.created,
        expires: r.expires,
        revoked: r.revoked,
        secret_hash: r.secret_hash.clone(),
    }
}

fn record_out(r: core::TokenRecord) -> wit::TokenRecord {
    wit::TokenRecord {
        id: r.id,
        owner: r.owner,
        name: r.name,
        scopes: r.scopes,
        repositories: r.repositories,
        created: r.created,
        expires: r.expires,
        revoked: r.revoked,
        secret_hash: r.secret_hash,
    }
}

impl Policy for NativePolicy {
    fn verify(
        &mut self,
        c: &wit::Credential,
    ) -> Result<Result<Option<wit::VerifiedToken>, wit::TokenError>, PolicyFailure> {
        Ok(self
            .0
            .verify(&credential(c))
            .map(|v| {
                v.map(|v| wit::VerifiedToken {
                    token_id: v.token_id,
                    key_id: v.key_id,
                })
            })
            .map_err(token_error))
    }

    fn decide_git(&mut self, input: &wit::GitInput) -> Result<wit::Decision, PolicyFailure> {
        let input = core::GitInput {
            credential: credential(&input.credential),
            token: input.token.as_ref().map(record_in),
            owner: input.owner.as_ref().map(|u| core::UserFacts {
                name: u.name.clone(),
                status: match u.status {
                    wit::AccountStatus::Active => core::AccountStatus::Active,
                    wit::AccountStatus::Inactive => core::AccountStatus::Inactive,
                    wit::AccountStatus::Suspended => core::AccountStatus::Suspended,
                },
                site_admin: u.site_admin,
                visibility: visibility(u.visibility),
            }),
            repository: input.repository.as_ref().map(|r| core::RepositoryFacts {
                owner: r.owner.clone(),
                name: r.name.clone(),
                owner_visibility: visibility(r.owner_visibility),
                private: r.private,
                kind: match r.kind {
                    wit::RepositoryKind::Hosted => core::RepositoryKind::Hosted,
                    wit::RepositoryKind::Mirror => core::RepositoryKind::Mirror,
                    wit::RepositoryKind::Import => core::RepositoryKind::Import,
                },
                archived: r.archived,
                role: match r.role {
                    wit::Role::None => core::Role::None,
                    wit::Role::Read => core::Role::Read,
                    wit::Role::Write => core::Role::Write,
                    wit::Role::Admin => core::Role::Admin,
                },
            }),
            request: core::GitRequest {
                transport: match input.request.transport {
                    wit::Transport::Http => core::Transport::Http,
                    wit::Transport::Ssh => core::Transport::Ssh,
                },
                repository: input.request.repository.clone(),
                action: match input.request.action {
                    wit::GitAction::Pull => core::GitAction::Pull,
                    wit::GitAction::Push => core::GitAction::Push,
                },
            },
            now: input.now,
        };
        let d = self.0.decide_git(&input);
        Ok(wit::Decision {
            allow: d.allow,
            status: status(d.status),
            reason: reason(d.reason),
            message: d.message,
            detail: d.detail,
        })
    }

    fn issue(
        &mut self,
        r: &wit::IssueRequest,
    ) -> Result<Result<wit::IssuedToken, wit::IssueError>, PolicyFailure> {
        let request = core::IssueRequest {
            owner: r.owner.clone(),
            name: r.name.clone(),
            scopes: r.scopes.clone(),
            repositories: r.repositories.clone(),
            expires: r.expires,
            now: r.now,
        };
        let mut entropy = [0u8; core::token::ENTROPY_BYTES];
        let entropy = getrandom::fill(&mut entropy).ok().map(|()| &entropy);
        Ok(match self.0.issue(&request, entropy) {
            Ok(t) => Ok(wit::IssuedToken {
                secret: t.secret,
                record: record_out(t.record),
            }),
            Err(e) => Err(match e {
                core::IssueError::NoPermissionScope => wit::IssueError::NoPermissionScope,
                core::IssueError::UnknownScope(s) => wit::IssueError::UnknownScope(s),
                core::IssueError::ExpiryInPast => wit::IssueError::ExpiryInPast,
                core::IssueError::BadName => wit::IssueError::BadName,
                core::IssueError::BadRepository(s) => wit::IssueError::BadRepository(s),
                core::IssueError::BadOwner => wit::IssueError::BadOwner,
                core::IssueError::EntropyUnavailable => wit::IssueError::EntropyUnavailable,
            }),
        })
    }

    fn inspect(
        &mut self,
        secret: &str,
    ) -> Result<Result<wit::TokenInfo, wit::TokenError>, PolicyFailure> {
        Ok(core::inspect(secret)
            .map(|i| wit::TokenInfo {
                token_id: i.token_id,
                key_id: i.key_id,
            })
            .map_err(token_error))
    }
}
