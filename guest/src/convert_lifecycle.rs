// Conversions between WIT values and the policy core: token records and the lifecycle calls.
//
// `include!`d beside `convert.rs` (whose header says how and why); `*_in` functions go
// from WIT to the core, `*_out` from the core to WIT.

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
