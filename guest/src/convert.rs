// Conversions between WIT values (`wit::*`) and the policy core (`policy::*`), by value.
//
// This file is not a module of its own: it is `include!`d twice, with two different
// `wit` modules in scope — the guest's wit-bindgen types (`src/component.rs`) and the
// host's wasmtime bindgen types (the native engine in `tests/src/native.rs`) — so the
// component and the native test engine convert with the very same code. Each includer
// brings `wit` and `policy` into scope.

#[allow(dead_code)]
fn visibility_in(v: wit::Visibility) -> policy::Visibility {
    match v {
        wit::Visibility::Public => policy::Visibility::Public,
        wit::Visibility::Limited => policy::Visibility::Limited,
        wit::Visibility::Private => policy::Visibility::Private,
    }
}

#[allow(dead_code)]
fn role_in(r: wit::Role) -> policy::Role {
    match r {
        wit::Role::None => policy::Role::None,
        wit::Role::Read => policy::Role::Read,
        wit::Role::Write => policy::Role::Write,
        wit::Role::Admin => policy::Role::Admin,
    }
}

#[allow(dead_code)]
fn config_in(c: wit::Config) -> policy::Config {
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
fn config_error_out(e: policy::ConfigError) -> wit::ConfigError {
    match e {
        policy::ConfigError::NoKeys => wit::ConfigError::NoKeys,
        policy::ConfigError::BadKeyId(s) => wit::ConfigError::BadKeyId(s),
        policy::ConfigError::DuplicateKeyId(s) => wit::ConfigError::DuplicateKeyId(s),
        policy::ConfigError::WeakKey(s) => wit::ConfigError::WeakKey(s),
        policy::ConfigError::UnknownSigningKey(s) => wit::ConfigError::UnknownSigningKey(s),
    }
}

#[allow(dead_code)]
fn credential_in(c: wit::Credential) -> policy::Credential {
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
fn ref_access_in(a: wit::RefAccess) -> policy::RefAccess {
    match a {
        wit::RefAccess::Writers => policy::RefAccess::Writers,
        wit::RefAccess::Admins => policy::RefAccess::Admins,
        wit::RefAccess::Users(u) => policy::RefAccess::Users(u),
        wit::RefAccess::Nobody => policy::RefAccess::Nobody,
    }
}

#[allow(dead_code)]
fn repository_in(r: wit::RepositoryFacts) -> policy::RepositoryFacts {
    policy::RepositoryFacts {
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
        role: role_in(r.role),
        registrant: r.registrant,
        protected_refs: r
            .protected_refs
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
fn record_in(r: wit::TokenRecord) -> policy::TokenRecord {
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
        secret_hash: r.secret_hash,
    }
}

#[allow(dead_code)]
fn record_out(r: policy::TokenRecord) -> wit::TokenRecord {
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
        secret_hash: r.secret_hash,
    }
}

#[allow(dead_code)]
fn category_in(c: wit::ScopeCategory) -> policy::scope::Category {
    use policy::scope::Category as C;
    match c {
        wit::ScopeCategory::Activitypub => C::ActivityPub,
        wit::ScopeCategory::Admin => C::Admin,
        wit::ScopeCategory::Misc => C::Misc,
        wit::ScopeCategory::Notification => C::Notification,
        wit::ScopeCategory::Organization => C::Organization,
        wit::ScopeCategory::Package => C::Package,
        wit::ScopeCategory::Issue => C::Issue,
        wit::ScopeCategory::Repository => C::Repository,
        wit::ScopeCategory::User => C::User,
    }
}

#[allow(dead_code)]
fn request_in(r: wit::Request) -> policy::Request {
    match r {
        wit::Request::Git(g) => policy::Request::Git(policy::GitRequest {
            transport: transport_in(g.transport),
            repository: g.repository,
            action: match g.action {
                wit::GitAction::Pull => policy::GitAction::Pull,
                wit::GitAction::Push => policy::GitAction::Push,
            },
            refs: g
                .refs
                .into_iter()
                .map(|u| policy::RefUpdate {
                    name: u.name,
                    old: u.old,
                    new: u.new,
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
            method: a.method,
            categories: a.categories.into_iter().map(category_in).collect(),
            repository: a.repository,
            namespace: a.namespace,
            requires_auth: a.requires_auth,
            admin_only: a.admin_only,
            required_role: role_in(a.required_role),
            operation: a.operation.map(|o| {
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
            }),
            sudo: a.sudo,
            package: a.package,
        }),
    }
}

#[allow(dead_code)]
fn transport_in(t: wit::Transport) -> policy::Transport {
    match t {
        wit::Transport::Http => policy::Transport::Http,
        wit::Transport::Ssh => policy::Transport::Ssh,
    }
}

#[allow(dead_code)]
fn user_in(u: wit::UserFacts) -> policy::UserFacts {
    policy::UserFacts {
        name: u.name,
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
fn input_in(i: wit::Input) -> policy::Input {
    policy::Input {
        credential: credential_in(i.credential),
        also_presented: i.also_presented,
        token: i.token.map(record_in),
        user: i.user.map(user_in),
        repository: i.repository.map(repository_in),
        namespace: i.namespace.map(|n| policy::NamespaceFacts {
            name: n.name,
            organization: n.organization,
            visibility: visibility_in(n.visibility),
            member_role: role_in(n.member_role),
        }),
        sudo: i.sudo.map(user_in),
        request: request_in(i.request),
        now: i.now,
        explain: i.explain,
    }
}

#[allow(dead_code)]
fn batch_in(t: wit::BatchTarget) -> policy::BatchTarget {
    policy::BatchTarget {
        repository: t.repository,
        facts: t.facts.map(repository_in),
    }
}

#[allow(dead_code)]
fn token_error_out(e: policy::TokenError) -> wit::TokenError {
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
fn status_out(s: policy::Status) -> wit::Status {
    match s {
        policy::Status::Ok => wit::Status::Ok,
        policy::Status::BadRequest => wit::Status::BadRequest,
        policy::Status::Unauthorized => wit::Status::Unauthorized,
        policy::Status::Forbidden => wit::Status::Forbidden,
        policy::Status::NotFound => wit::Status::NotFound,
        policy::Status::Unavailable => wit::Status::Unavailable,
    }
}

#[allow(dead_code)]
fn reason_out(r: policy::Reason) -> wit::Reason {
    use policy::Reason as R;
    match r {
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
        R::ConflictingCredentials => wit::Reason::ConflictingCredentials,
        R::TokenNotAllowed => wit::Reason::TokenNotAllowed,
        R::CredentialNotAllowed => wit::Reason::CredentialNotAllowed,
        R::DeployKeyReadOnly => wit::Reason::DeployKeyReadOnly,
        R::RestrictedToken => wit::Reason::RestrictedToken,
        R::AdminRequired => wit::Reason::AdminRequired,
        R::SudoDenied => wit::Reason::SudoDenied,
        R::CreateDenied => wit::Reason::CreateDenied,
        R::RefProtected => wit::Reason::RefProtected,
        R::ForcePushProtected => wit::Reason::ForcePushProtected,
        R::RefNameInvalid => wit::Reason::RefNameInvalid,
        R::NamespaceNotFound => wit::Reason::NamespaceNotFound,
        R::RepositoryExists => wit::Reason::RepositoryExists,
        R::FactsInconsistent => wit::Reason::FactsInconsistent,
        R::PolicyFailure => wit::Reason::PolicyFailure,
    }
}

#[allow(dead_code)]
fn decision_out(d: policy::Decision) -> wit::Decision {
    wit::Decision {
        allow: d.allow,
        status: status_out(d.status),
        reason: reason_out(d.reason),
        message: d.message,
        detail: d.detail,
        refs: d
            .refs
            .into_iter()
            .map(|v| wit::RefVerdict {
                name: v.name,
                allow: v.allow,
                reason: reason_out(v.reason),
                message: v.message,
            })
            .collect(),
        effects: d
            .effects
            .into_iter()
            .map(|e| match e {
                policy::Effect::TouchLastUsed(id) => wit::Effect::TouchLastUsed(id),
                policy::Effect::RevokeFamily(id) => wit::Effect::RevokeFamily(id),
            })
            .collect(),
        trace: d
            .trace
            .into_iter()
            .map(|s| wit::TraceStep {
                rule: s.rule.to_string(),
                outcome: match s.outcome {
                    policy::TraceOutcome::Pass => wit::TraceOutcome::Pass,
                    policy::TraceOutcome::Decide => wit::TraceOutcome::Decide,
                    policy::TraceOutcome::Skip => wit::TraceOutcome::Skip,
                },
                detail: s.detail,
            })
            .collect(),
    }
}

#[allow(dead_code)]
fn ref_permissions_out(p: policy::RefPermissions) -> wit::RefPermissions {
    wit::RefPermissions {
        name: p.name,
        permissions: p
            .permissions
            .into_iter()
            .map(|x| match x {
                policy::RefPermission::Create => wit::RefPermission::Create,
                policy::RefPermission::Push => wit::RefPermission::Push,
                policy::RefPermission::ForcePush => wit::RefPermission::ForcePush,
            })
            .collect(),
    }
}

#[allow(dead_code)]
fn issue_in(r: wit::IssueRequest) -> policy::IssueRequest {
    policy::IssueRequest {
        owner: r.owner,
        name: r.name,
        scopes: r.scopes,
        repositories: r.repositories,
        owners: r.owners,
        expires: r.expires,
        now: r.now,
        creator: match r.creator {
            wit::Creator::Session(u) => policy::Creator::Session(user_in(u)),
            wit::Creator::Token(t) => policy::Creator::Token(record_in(t)),
        },
        existing_names: r.existing_names,
        bound_facts: r.bound_facts.into_iter().map(batch_in).collect(),
        ip: r.ip,
    }
}

#[allow(dead_code)]
fn issue_error_out(e: policy::IssueError) -> wit::IssueError {
    match e {
        policy::IssueError::NoPermissionScope => wit::IssueError::NoPermissionScope,
        policy::IssueError::UnknownScope(s) => wit::IssueError::UnknownScope(s),
        policy::IssueError::ExpiryInPast => wit::IssueError::ExpiryInPast,
        policy::IssueError::BadName => wit::IssueError::BadName,
        policy::IssueError::BadRepository(s) => wit::IssueError::BadRepository(s),
        policy::IssueError::ScopeNotAllowedWhenBound(s) => {
            wit::IssueError::ScopeNotAllowedWhenBound(s)
        }
        policy::IssueError::BoundAndPublicOnly => wit::IssueError::BoundAndPublicOnly,
        policy::IssueError::ExpiryRequired => wit::IssueError::ExpiryRequired,
        policy::IssueError::LifetimeTooLong(x) => wit::IssueError::LifetimeTooLong(x),
        policy::IssueError::LifetimeTooShort(x) => wit::IssueError::LifetimeTooShort(x),
        policy::IssueError::NameTaken => wit::IssueError::NameTaken,
        policy::IssueError::RepositoryNotVisible(s) => wit::IssueError::RepositoryNotVisible(s),
        policy::IssueError::ScopeNotGrantable(s) => wit::IssueError::ScopeNotGrantable(s),
        policy::IssueError::CreatorNotAllowed => wit::IssueError::CreatorNotAllowed,
        policy::IssueError::CreatorNotLive => wit::IssueError::CreatorNotLive,
        policy::IssueError::ExceedsCreator(s) => wit::IssueError::ExceedsCreator(s),
        policy::IssueError::BadOwner => wit::IssueError::BadOwner,
        policy::IssueError::EntropyUnavailable => wit::IssueError::EntropyUnavailable,
    }
}

#[allow(dead_code)]
fn context_in(c: wit::ChangeContext) -> policy::ChangeContext {
    policy::ChangeContext {
        actor: c.actor,
        ip: c.ip,
        now: c.now,
    }
}

#[allow(dead_code)]
fn event_out(e: policy::HistoryEvent) -> wit::HistoryEvent {
    wit::HistoryEvent {
        token_id: e.token_id,
        owner: e.owner,
        action: match e.action {
            policy::HistoryAction::Create => wit::HistoryAction::Create,
            policy::HistoryAction::Edit => wit::HistoryAction::Edit,
            policy::HistoryAction::Rotate => wit::HistoryAction::Rotate,
            policy::HistoryAction::Revoke => wit::HistoryAction::Revoke,
            policy::HistoryAction::Expire => wit::HistoryAction::Expire,
        },
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
fn issued_out(t: policy::IssuedToken) -> wit::IssuedToken {
    wit::IssuedToken {
        secret: t.secret,
        record: record_out(t.record),
        event: event_out(t.event),
    }
}

#[allow(dead_code)]
fn child_in(r: wit::ChildRequest) -> policy::ChildRequest {
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
fn child_out(o: policy::ChildOutcome) -> wit::ChildOutcome {
    match o {
        policy::ChildOutcome::Reuse(r) => wit::ChildOutcome::Reuse(record_out(r)),
        policy::ChildOutcome::Minted(t) => wit::ChildOutcome::Minted(issued_out(t)),
    }
}

#[allow(dead_code)]
fn rotate_in(r: wit::RotateRequest) -> policy::RotateRequest {
    policy::RotateRequest {
        old: record_in(r.old),
        expires: r.expires,
        records: r.records.into_iter().map(record_in).collect(),
        context: context_in(r.context),
    }
}

#[allow(dead_code)]
fn rotation_out(r: policy::Rotation) -> wit::Rotation {
    wit::Rotation {
        new: issued_out(r.new),
        old: record_out(r.old),
        revoked_children: r.revoked_children.into_iter().map(record_out).collect(),
        events: r.events.into_iter().map(event_out).collect(),
    }
}

#[allow(dead_code)]
fn lifecycle_error_out(e: policy::LifecycleError) -> wit::LifecycleError {
    match e {
        policy::LifecycleError::UnknownToken(s) => wit::LifecycleError::UnknownToken(s),
        policy::LifecycleError::TokenNotLive(s) => wit::LifecycleError::TokenNotLive(s),
        policy::LifecycleError::Refused(e) => wit::LifecycleError::Refused(issue_error_out(e)),
    }
}

#[allow(dead_code)]
fn plan_out(p: policy::ChangePlan) -> wit::ChangePlan {
    wit::ChangePlan {
        updates: p.updates.into_iter().map(record_out).collect(),
        events: p.events.into_iter().map(event_out).collect(),
    }
}

#[allow(dead_code)]
fn revoke_scope_in(s: wit::RevokeScope) -> policy::RevokeScope {
    match s {
        wit::RevokeScope::Token => policy::RevokeScope::Token,
        wit::RevokeScope::Family => policy::RevokeScope::Family,
    }
}

#[allow(dead_code)]
fn edit_in(e: wit::TokenEdit) -> policy::TokenEdit {
    policy::TokenEdit {
        name: e.name,
        scopes: e.scopes,
        expires: e.expires,
    }
}

#[allow(dead_code)]
fn audit_entry_in(e: wit::AuditEntry) -> policy::AuditEntry {
    policy::AuditEntry {
        record: record_in(e.record),
        expiry_recorded: e.expiry_recorded,
    }
}

#[allow(dead_code)]
fn finding_out(f: policy::AuditFinding) -> wit::AuditFinding {
    wit::AuditFinding {
        token_id: f.token_id,
        kind: match f.kind {
            policy::AuditKind::ChildOutlivesParent => wit::AuditKind::ChildOutlivesParent,
            policy::AuditKind::ChildExceedsParent => wit::AuditKind::ChildExceedsParent,
            policy::AuditKind::ChildOfRevokedParent => wit::AuditKind::ChildOfRevokedParent,
            policy::AuditKind::Orphan => wit::AuditKind::Orphan,
            policy::AuditKind::UnknownScope => wit::AuditKind::UnknownScope,
            policy::AuditKind::ExpiredNotRecorded => wit::AuditKind::ExpiredNotRecorded,
            policy::AuditKind::RotatedNotRevoked => wit::AuditKind::RotatedNotRevoked,
        },
        message: f.message,
        fix: f.fix.map(|x| match x {
            policy::AuditFix::Update(r) => wit::AuditFix::Update(record_out(r)),
            policy::AuditFix::RecordExpiry(id) => wit::AuditFix::RecordExpiry(id),
        }),
        event: f.event.map(event_out),
    }
}
