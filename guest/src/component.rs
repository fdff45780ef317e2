//! The WebAssembly component: private bindings, conversions, `export!`. Every function
//! only converts WIT values to `crate::policy` values and back, and delegates.
#![allow(unsafe_code)] // the generated bindings; no hand-written unsafe here.

mod bindings {
    #![allow(missing_docs)]
    wit_bindgen::generate!({
        world: "policy",
        path: "../wit",
    });
}

use bindings::exports::forge::authz::authorizer as wit_authorizer;
use bindings::exports::forge::authz::types as wit;

use crate::policy;

struct Component;

impl wit_authorizer::Guest for Component {
    type Authorizer = Authorizer;

    fn inspect(secret: String) -> Result<wit::TokenInfo, wit::TokenError> {
        policy::inspect(&secret)
            .map(|i| wit::TokenInfo {
                token_id: i.token_id,
                key_id: i.key_id,
            })
            .map_err(token_error)
    }
}

struct Authorizer(policy::Authorizer);

impl wit_authorizer::GuestAuthorizer for Authorizer {
    fn create(config: wit::Config) -> Result<wit_authorizer::Authorizer, wit::ConfigError> {
        let config = policy::Config {
            keys: config
                .keys
                .into_iter()
                .map(|k| policy::SigningKey {
                    id: k.id,
                    secret: k.secret,
                })
                .collect(),
            signing_key_id: config.signing_key_id,
        };
        match policy::Authorizer::new(&config) {
            Ok(a) => Ok(wit_authorizer::Authorizer::new(Authorizer(a))),
            Err(e) => Err(match e {
                policy::ConfigError::NoKeys => wit::ConfigError::NoKeys,
                policy::ConfigError::BadKeyId(s) => wit::ConfigError::BadKeyId(s),
                policy::ConfigError::DuplicateKeyId(s) => wit::ConfigError::DuplicateKeyId(s),
                policy::ConfigError::WeakKey(s) => wit::ConfigError::WeakKey(s),
                policy::ConfigError::UnknownSigningKey(s) => wit::ConfigError::UnknownSigningKey(s),
            }),
        }
    }

    fn verify(
        &self,
        credential: wit::Credential,
    ) -> Result<Option<wit::VerifiedToken>, wit::TokenError> {
        self.0
            .verify(&credential_in(credential))
            .map(|v| {
                v.map(|v| wit::VerifiedToken {
                    token_id: v.token_id,
                    key_id: v.key_id,
                })
            })
            .map_err(token_error)
    }

    fn decide_git(&self, input: wit::GitInput) -> wit::Decision {
        let input = policy::GitInput {
            credential: credential_in(input.credential),
            token: input.token.map(record_in),
            owner: input.owner.map(|u| policy::UserFacts {
                name: u.name,
                status: match u.status {
                    wit::AccountStatus::Active => policy::AccountStatus::Active,
                    wit::AccountStatus::Inactive => policy::AccountStatus::Inactive,
                    wit::AccountStatus::Suspended => policy::AccountStatus::Suspended,
                },
                site_admin: u.site_admin,
                visibility: visibility_in(u.visibility),
            }),
            repository: input.repository.map(|r| policy::RepositoryFacts {
                owner: r.owner,
                name: r.name,
                owner_visibility: visibility_in(r.owner_visibility),
                private: r.private,
                kind: match r.kind {
                    wit::RepositoryKind::Hosted => policy::RepositoryKind::Hosted,
                    wit::RepositoryKind::Mirror => policy::RepositoryKind::Mirror,
                    wit::RepositoryKind::Import => policy::RepositoryKind::Import,
                },
                archived: r.archived,
                role: match r.role {
                    wit::Role::None => policy::Role::None,
                    wit::Role::Read => policy::Role::Read,
                    wit::Role::Write => policy::Role::Write,
                    wit::Role::Admin => policy::Role::Admin,
                },
            }),
            request: policy::GitRequest {
                transport: match input.request.transport {
                    wit::Transport::Http => policy::Transport::Http,
                    wit::Transport::Ssh => policy::Transport::Ssh,
                },
                repository: input.request.repository,
                action: match input.request.action {
                    wit::GitAction::Pull => policy::GitAction::Pull,
                    wit::GitAction::Push => policy::GitAction::Push,
                },
            },
            now: input.now,
        };
        decision_out(self.0.decide_git(&input))
    }

    fn issue(&self, request: wit::IssueRequest) -> Result<wit::IssuedToken, wit::IssueError> {
        let request = policy::IssueRequest {
            owner: request.owner,
            name: request.name,
            scopes: request.scopes,
            repositories: request.repositories,
            expires: request.expires,
            now: request.now,
        };
        let mut entropy = [0u8; policy::token::ENTROPY_BYTES];
        // Entropy comes from the host through `wasi:random/random.get-random-bytes`.
        let entropy = getrandom::fill(&mut entropy).ok().map(|()| &entropy);
        match self.0.issue(&request, entropy) {
            Ok(t) => Ok(wit::IssuedToken {
                secret: t.secret,
                record: record_out(t.record),
            }),
            Err(e) => Err(match e {
                policy::IssueError::NoPermissionScope => wit::IssueError::NoPermissionScope,
                policy::IssueError::UnknownScope(s) => wit::IssueError::UnknownScope(s),
                policy::IssueError::ExpiryInPast => wit::IssueError::ExpiryInPast,
                policy::IssueError::BadName => wit::IssueError::BadName,
                policy::IssueError::BadRepository(s) => wit::IssueError::BadRepository(s),
                policy::IssueError::BadOwner => wit::IssueError::BadOwner,
                policy::IssueError::EntropyUnavailable => wit::IssueError::EntropyUnavailable,
            }),
        }
    }
}

fn credential_in(c: wit::Credential) -> policy::Credential {
    match c {
        wit::Credential::Anonymous => policy::Credential::Anonymous,
        wit::Credential::Bearer(t) => policy::Credential::Bearer(t),
        wit::Credential::Basic(b) => policy::Credential::Basic {
            username: b.username,
            password: b.password,
        },
    }
}

fn visibility_in(v: wit::Visibility) -> policy::Visibility {
    match v {
        wit::Visibility::Public => policy::Visibility::Public,
        wit::Visibility::Limited => policy::Visibility::Limited,
        wit::Visibility::Private => policy::Visibility::Private,
    }
}

fn record_in(r: wit::TokenRecord) -> policy::TokenRecord {
    policy::TokenRecord {
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

fn record_out(r: policy::TokenRecord) -> wit::TokenRecord {
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

fn token_error(e: policy::TokenError) -> wit::TokenError {
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

fn decision_out(d: policy::Decision) -> wit::Decision {
    use policy::{Reason as R, Status as S};
    wit::Decision {
        allow: d.allow,
        status: match d.status {
            S::Ok => wit::Status::Ok,
            S::BadRequest => wit::Status::BadRequest,
            S::Unauthorized => wit::Status::Unauthorized,
            S::Forbidden => wit::Status::Forbidden,
            S::NotFound => wit::Status::NotFound,
            S::Unavailable => wit::Status::Unavailable,
        },
        reason: match d.reason {
            R::Granted => wit::Reason::Granted,
            R::PublicRead => wit::Reason::PublicRead,
            R::AuthenticationRequired => wit::Reason::AuthenticationRequired,
            R::TokenInvalid => wit::Reason::TokenInvalid,
            R::TokenUnknown => wit::Reason::TokenUnknown,
            R::TokenExpired => wit::Reason::TokenExpired,
            R::TokenRevoked => wit::Reason::TokenRevoked,
            R::AccountInactive => wit::Reason::AccountInactive,
            R::UsernameMismatch => wit::Reason::UsernameMismatch,
            R::TokenNotBound => wit::Reason::TokenNotBound,
            R::ScopeMissing => wit::Reason::ScopeMissing,
            R::ScopeUnknown => wit::Reason::ScopeUnknown,
            R::TokenPublicOnly => wit::Reason::TokenPublicOnly,
            R::PermissionDenied => wit::Reason::PermissionDenied,
            R::RepositoryMirror => wit::Reason::RepositoryMirror,
            R::RepositoryImport => wit::Reason::RepositoryImport,
            R::RepositoryArchived => wit::Reason::RepositoryArchived,
            R::RepositoryNotFound => wit::Reason::RepositoryNotFound,
            R::RequestInvalid => wit::Reason::RequestInvalid,
            R::FactsInconsistent => wit::Reason::FactsInconsistent,
            R::PolicyFailure => wit::Reason::PolicyFailure,
        },
        message: d.message,
        detail: d.detail,
    }
}

bindings::export!(Component with_types_in bindings);
