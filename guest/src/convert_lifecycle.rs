// Conversions between WIT values and the policy core: token records and the lifecycle calls.
//
// `include!`d beside `convert.rs` (whose header says how and why: one `two_way!` row per
// type); `*_in` functions go from WIT to the core, `*_out` from the core to WIT.

two_way!(record TokenRecord <-> TokenRecord {
    id,
    owner,
    name,
    scopes,
    repositories,
    owners,
    parent,
    predecessor,
    successor,
    last_used,
    created,
    expires,
    revoked,
    secret,
} as record_in, record_out);
two_way!(record Account <-> Account { name, facts });
two_way!(variant Actor <-> Actor { Session(a), Token(t), System(n) } as actor_in, actor_out);
two_way!(record ChangeContext <-> ChangeContext { actor, ip, now } as context_in, context_out);
two_way!(record BoundRepository <-> BoundRepository { repository, facts });
two_way!(record IssueRequest <-> IssueRequest {
    owner,
    name,
    scopes,
    repositories,
    owners,
    expires,
    now,
    creator,
    existing_names,
    bound_facts,
    ip,
} as issue_in, issue_request_out);
two_way!(variant IssueError <-> IssueError {
    NoPermissionScope,
    UnknownScope(s),
    ExpiryInPast,
    BadName,
    BadRepository(s),
    ScopeNotAllowedWhenBound(s),
    BoundAndPublicOnly,
    ExpiryRequired,
    LifetimeTooLong(x),
    LifetimeTooShort(x),
    NameTaken,
    RepositoryNotVisible(s),
    ScopeNotGrantable(s),
    CreatorNotAllowed,
    CreatorNotLive,
    ExceedsCreator(s),
    BadOwner,
    EntropyUnavailable,
} as issue_error_in, issue_error_out);
two_way!(variant HistoryAction <-> HistoryAction {
    Create,
    Edit,
    Rotate,
    Revoke,
    Expire,
} as history_action_in, history_action_out);
two_way!(record HistoryEvent <-> HistoryEvent {
    token_id,
    owner,
    action,
    actor,
    ip,
    at,
    name,
    scopes,
    expires,
    parent,
    old_name,
    old_scopes,
    old_expires,
    related,
} as event_in, event_out);
two_way!(record IssuedToken <-> IssuedToken { secret, record, event } as issued_in, issued_out);
two_way!(record ChildRequest <-> ChildRequest {
    parent,
    scopes,
    lifetime,
    minimum_lifetime,
    existing_children,
    context,
} as child_in, child_request_out);
two_way!(variant ChildOutcome <-> ChildOutcome { Reuse(r), Minted(t) } as child_outcome_in, child_out);
two_way!(record RotateRequest <-> RotateRequest {
    old,
    expires,
    records,
    context,
} as rotate_in, rotate_request_out);
two_way!(record Rotation <-> Rotation {
    new,
    old,
    revoked_children,
    events,
} as rotation_in, rotation_out);
two_way!(variant LifecycleError <-> LifecycleError {
    UnknownToken(s),
    TokenNotLive(s),
    Refused(e),
    NotPermitted,
} as lifecycle_error_in, lifecycle_error_out);
two_way!(record ChangePlan <-> ChangePlan { updates, events } as plan_in, plan_out);
two_way!(variant RevokeScope <-> RevokeScope { Token, Family } as revoke_scope_in, revoke_scope_out);
two_way!(record TokenEdit <-> TokenEdit { name, scopes, expires } as edit_in, edit_out);
two_way!(record AuditEntry <-> AuditEntry { record, expiry_recorded } as audit_entry_in, audit_entry_out);
two_way!(variant AuditKind <-> AuditKind {
    ChildOutlivesParent,
    ChildExceedsParent,
    ChildOfRevokedParent,
    Orphan,
    UnknownScope,
    ExpiredNotRecorded,
    RotatedNotRevoked,
} as audit_kind_in, audit_kind_out);
two_way!(variant AuditFix <-> AuditFix { Update(r), RecordExpiry(id) });
two_way!(record AuditFinding <-> AuditFinding {
    token_id,
    kind,
    message,
    fix,
    event,
} as finding_in, finding_out);
