//! Token lifecycle rules (Gafaelfawr's TokenService, seed 002; GitLab rotation and
//! Launchpad last-used, reference §4-5): minting, child tokens, rotation, revocation,
//! edits, expiry bookkeeping, audit. Pure: the host stores what these functions return.
#[allow(unused_imports)]
use crate::prelude::*;

use super::model::SecretDigest;
use super::model::{
    AuditEntry, AuditFinding, AuditFix, AuditKind, ChangeContext, ChangePlan, ChildOutcome,
    ChildRequest, Creator, HistoryAction, HistoryEvent, IssueError, IssueRequest, IssuedToken,
    LifecycleError, Options, RevokeScope, RotateRequest, Rotation, Timestamp, TokenEdit,
    TokenRecord,
};
use super::principal::{Principal, Repo, User, covers, valid_name, valid_repository_path};
use super::scope::{BOUND_ALLOWED, Category, ScopeSet, migrate_legacy};
use super::token::{ENTROPY_BYTES, Keyring};

/// Longest token name accepted at minting.
pub const MAX_NAME_CHARS: usize = 100;
/// Last-used is written at most this often per token (Launchpad, GitLab): seconds.
pub const LAST_USED_INTERVAL: i64 = 600;

fn dedup(list: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for x in list {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(x)) {
            out.push(x.clone());
        }
    }
    out
}

/// Whether a record is live at `now`: not revoked, not expired.
pub fn live(r: &TokenRecord, now: Timestamp) -> bool {
    r.revoked.is_none() && r.expires.is_none_or(|e| e > now)
}

/// Whether the host should record a use now, for a token last used at `last_used`.
pub fn last_used_due(last_used: Option<Timestamp>, now: Timestamp) -> bool {
    last_used.is_none_or(|t| now.saturating_sub(t) >= LAST_USED_INTERVAL)
}

/// The placeholder digest of a record template (replaced by the minted token's tag).
const NO_DIGEST: SecretDigest = SecretDigest::HmacTag([0; 32]);

fn event(r: &TokenRecord, action: HistoryAction, ctx: &ChangeContext) -> HistoryEvent {
    HistoryEvent {
        token_id: r.id.clone(),
        owner: r.owner.clone(),
        action,
        actor: ctx.actor.clone(),
        ip: ctx.ip.clone(),
        at: ctx.now,
        name: r.name.clone(),
        scopes: r.scopes.clone(),
        expires: r.expires,
        parent: r.parent.clone(),
        old_name: None,
        old_scopes: None,
        old_expires: None,
        related: None,
    }
}

fn valid_token_name(name: &str) -> bool {
    let n = name.chars().count();
    n > 0 && n <= MAX_NAME_CHARS && !name.chars().any(char::is_control)
}

/// The expiry rules: required (by option), within [min, max] lifetime from `now`.
fn check_expiry(
    options: &Options,
    expires: Option<Timestamp>,
    now: Timestamp,
) -> Result<(), IssueError> {
    match expires {
        None if options.require_expiry => Err(IssueError::ExpiryRequired),
        None => Ok(()),
        Some(e) if e <= now => Err(IssueError::ExpiryInPast),
        Some(e) => {
            let lifetime = e.saturating_sub(now);
            if lifetime > options.max_lifetime {
                Err(IssueError::LifetimeTooLong(options.max_lifetime))
            } else if lifetime < options.min_lifetime {
                Err(IssueError::LifetimeTooShort(options.min_lifetime))
            } else {
                Ok(())
            }
        }
    }
}

/// Bound tokens: repository/issue scopes only, never public-only (reference §1.14).
fn check_bound_scopes(scopes: &[String], set: &ScopeSet) -> Result<(), IssueError> {
    if set.public_only {
        return Err(IssueError::BoundAndPublicOnly);
    }
    match scopes
        .iter()
        .find(|s| !s.is_empty() && !BOUND_ALLOWED.contains(&s.as_str()))
    {
        Some(bad) => Err(IssueError::ScopeNotAllowedWhenBound(bad.clone())),
        None => Ok(()),
    }
}

/// What the creator may grant; `Err` names the refusal.
fn check_creator(request: &IssueRequest, set: &ScopeSet, bound: bool) -> Result<(), IssueError> {
    match &request.creator {
        Creator::Session(account) => {
            let own = account.name.eq_ignore_ascii_case(&request.owner);
            let user = &account.facts;
            if user.status != super::model::AccountStatus::Active
                || user.organization
                || (!own && !user.site_admin)
            {
                return Err(IssueError::CreatorNotAllowed);
            }
            if !user.site_admin && !set.is_all() && set.can_read(Category::Admin) {
                let s = if set.can_write(Category::Admin) {
                    "write:admin"
                } else {
                    "read:admin"
                };
                return Err(IssueError::ScopeNotGrantable(s.into()));
            }
            Ok(())
        }
        Creator::Token(creator) => {
            if !live(creator, request.now) {
                return Err(IssueError::CreatorNotLive);
            }
            let cs = ScopeSet::parse(&creator.scopes).map_err(IssueError::UnknownScope)?;
            if !cs.user_token || !creator.owner.eq_ignore_ascii_case(&request.owner) {
                return Err(IssueError::CreatorNotAllowed);
            }
            if let Some(x) = set.excess_over(&cs) {
                return Err(IssueError::ExceedsCreator(x));
            }
            let creator_bound = !creator.repositories.is_empty() || !creator.owners.is_empty();
            if creator_bound {
                if !bound {
                    return Err(IssueError::ExceedsCreator("unbound".into()));
                }
                if let Some(r) = request.repositories.iter().find(|r| {
                    !covers(
                        &creator.repositories,
                        &creator.owners,
                        super::principal::Target::Repository(r),
                    )
                }) {
                    return Err(IssueError::ExceedsCreator(r.clone()));
                }
                if let Some(o) = request
                    .owners
                    .iter()
                    .find(|o| !creator.owners.iter().any(|c| c.eq_ignore_ascii_case(o)))
                {
                    return Err(IssueError::ExceedsCreator(o.clone()));
                }
            }
            match (creator.expires, request.expires) {
                (Some(_), None) => Err(IssueError::ExceedsCreator("never expires".into())),
                (Some(c), Some(e)) if e > c => {
                    Err(IssueError::ExceedsCreator("a later expiry".into()))
                }
                _ => Ok(()),
            }
        }
    }
}

fn new_record(
    keys: &Keyring,
    entropy: &[u8; ENTROPY_BYTES],
    template: TokenRecord,
) -> (String, TokenRecord) {
    let (secret, token_id, tag) = keys.mint(entropy);
    let record = TokenRecord {
        id: token_id,
        secret: SecretDigest::HmacTag(tag),
        ..template
    };
    (secret, record)
}

/// Validate a mint request and build the token, its record and its event.
pub fn issue(
    keys: &Keyring,
    options: &Options,
    request: &IssueRequest,
    entropy: Option<&[u8; ENTROPY_BYTES]>,
) -> Result<IssuedToken, IssueError> {
    if !valid_name(&request.owner) {
        return Err(IssueError::BadOwner);
    }
    if !valid_token_name(&request.name) {
        return Err(IssueError::BadName);
    }
    let scopes = ScopeSet::parse(&request.scopes).map_err(IssueError::UnknownScope)?;
    if !scopes.has_permission() {
        return Err(IssueError::NoPermissionScope);
    }
    if let Some(bad) = request
        .repositories
        .iter()
        .find(|r| !valid_repository_path(r))
    {
        return Err(IssueError::BadRepository(bad.clone()));
    }
    if let Some(bad) = request.owners.iter().find(|o| !valid_name(o)) {
        return Err(IssueError::BadRepository(bad.clone()));
    }
    let bound = !request.repositories.is_empty() || !request.owners.is_empty();
    if bound {
        check_bound_scopes(&request.scopes, &scopes)?;
    }
    check_creator(request, &scopes, bound)?;
    // Every bound repository must be visible to the owner; missing and unseen get the
    // same refusal (reference §1.14).
    for repo in &request.repositories {
        let facts = request
            .bound_facts
            .iter()
            .find(|t| t.repository.eq_ignore_ascii_case(repo))
            .and_then(|t| t.facts.as_ref());
        let visible = match (facts, &request.creator) {
            (Some(f), Creator::Session(u)) if u.name.eq_ignore_ascii_case(&request.owner) => {
                Principal::Session {
                    user: User {
                        name: &u.name,
                        facts: &u.facts,
                    },
                }
                .can_read(Repo {
                    path: repo,
                    facts: f,
                })
            }
            (Some(f), _) => {
                super::principal::visible_to_signed_in(f)
                    || f.role >= super::model::Role::Read
                    || super::principal::owner_of(repo).eq_ignore_ascii_case(&request.owner)
            }
            (None, _) => false,
        };
        if !visible {
            return Err(IssueError::RepositoryNotVisible(repo.clone()));
        }
    }
    check_expiry(options, request.expires, request.now)?;
    if request
        .existing_names
        .iter()
        .any(|n| n.eq_ignore_ascii_case(&request.name))
    {
        return Err(IssueError::NameTaken);
    }
    let entropy = entropy.ok_or(IssueError::EntropyUnavailable)?;
    let (secret, record) = new_record(
        keys,
        entropy,
        TokenRecord {
            id: String::new(),
            owner: request.owner.clone(),
            name: request.name.clone(),
            scopes: scopes.normalized(),
            repositories: dedup(&request.repositories),
            owners: dedup(&request.owners),
            // A token minted by a child token is a child of that token: it stays
            // restricted (no admin powers) and goes when its creator goes.
            parent: match &request.creator {
                Creator::Token(c) if c.parent.is_some() => Some(c.id.clone()),
                _ => None,
            },
            predecessor: None,
            successor: None,
            last_used: None,
            created: request.now,
            expires: request.expires,
            revoked: None,
            secret: NO_DIGEST,
        },
    );
    let actor = match &request.creator {
        Creator::Session(u) => u.name.clone(),
        Creator::Token(t) => t.owner.clone(),
    };
    let ctx = ChangeContext {
        actor,
        ip: request.ip.clone(),
        now: request.now,
    };
    let event = event(&record, HistoryAction::Create, &ctx);
    Ok(IssuedToken {
        secret,
        record,
        event,
    })
}

/// Derive a child token, or pick an existing one to reuse.
pub fn derive_child(
    keys: &Keyring,
    request: &ChildRequest,
    entropy: Option<&[u8; ENTROPY_BYTES]>,
) -> Result<ChildOutcome, IssueError> {
    let now = request.context.now;
    let parent = &request.parent;
    if !live(parent, now) {
        return Err(IssueError::CreatorNotLive);
    }
    let ps = ScopeSet::parse(&parent.scopes).map_err(IssueError::UnknownScope)?;
    let cs = ScopeSet::parse(&request.scopes).map_err(IssueError::UnknownScope)?;
    if !cs.has_permission() {
        return Err(IssueError::NoPermissionScope);
    }
    if let Some(x) = cs.excess_over(&ps) {
        return Err(IssueError::ExceedsCreator(x));
    }
    if request.lifetime <= 0 {
        return Err(IssueError::ExpiryInPast);
    }
    let wanted = cs.normalized();
    let minimum = request.minimum_lifetime.unwrap_or(request.lifetime / 2);
    // Reuse (Gafaelfawr): same scopes, live, enough lifetime left.
    if let Some(c) = request.existing_children.iter().find(|c| {
        c.parent.as_deref() == Some(parent.id.as_str())
            && live(c, now)
            && ScopeSet::parse(&c.scopes)
                .map(|s| s.normalized())
                .ok()
                .as_ref()
                == Some(&wanted)
            && c.expires.is_none_or(|e| e.saturating_sub(now) >= minimum)
    }) {
        return Ok(ChildOutcome::Reuse(c.clone()));
    }
    let own = now.saturating_add(request.lifetime);
    let expires = Some(parent.expires.map_or(own, |p| p.min(own)));
    let entropy = entropy.ok_or(IssueError::EntropyUnavailable)?;
    let (secret, record) = new_record(
        keys,
        entropy,
        TokenRecord {
            id: String::new(),
            owner: parent.owner.clone(),
            name: format!("child of {}", parent.name)
                .chars()
                .take(MAX_NAME_CHARS)
                .collect(),
            scopes: wanted,
            repositories: parent.repositories.clone(),
            owners: parent.owners.clone(),
            parent: Some(parent.id.clone()),
            predecessor: None,
            successor: None,
            last_used: None,
            created: now,
            expires,
            revoked: None,
            secret: NO_DIGEST,
        },
    );
    let event = event(&record, HistoryAction::Create, &request.context);
    Ok(ChildOutcome::Minted(IssuedToken {
        secret,
        record,
        event,
    }))
}

/// Rotate a live token.
pub fn rotate(
    keys: &Keyring,
    options: &Options,
    request: &RotateRequest,
    entropy: Option<&[u8; ENTROPY_BYTES]>,
) -> Result<Rotation, LifecycleError> {
    let ctx = &request.context;
    let old = &request.old;
    if !live(old, ctx.now) || old.successor.is_some() {
        return Err(LifecycleError::TokenNotLive(old.id.clone()));
    }
    let expires = match request.expires {
        Some(e) => Some(e),
        None => old.expires.map(|e| {
            let lifetime = e
                .saturating_sub(old.created)
                .clamp(options.min_lifetime, options.max_lifetime);
            ctx.now.saturating_add(lifetime)
        }),
    };
    check_expiry(options, expires, ctx.now).map_err(LifecycleError::Refused)?;
    // The successor of a child is a child of the same parent, and never outlives it: an
    // expiry asked for past the parent's is refused; the default one is cut to it.
    let expires = match live_parent(old, &request.records, ctx.now)? {
        None => expires,
        Some(parent) => match (parent.expires, expires) {
            (Some(pe), Some(e)) if request.expires.is_some() && e > pe => {
                return Err(LifecycleError::Refused(IssueError::ExceedsCreator(
                    "an expiry after its parent's".into(),
                )));
            }
            (Some(_), None) => {
                return Err(LifecycleError::Refused(IssueError::ExceedsCreator(
                    "never expires, unlike its parent".into(),
                )));
            }
            (Some(pe), Some(e)) => Some(e.min(pe)),
            (None, e) => e,
        },
    };
    let entropy = entropy.ok_or(LifecycleError::Refused(IssueError::EntropyUnavailable))?;
    let (secret, new) = new_record(
        keys,
        entropy,
        TokenRecord {
            id: String::new(),
            predecessor: Some(old.id.clone()),
            successor: None,
            last_used: None,
            created: ctx.now,
            expires,
            revoked: None,
            secret: NO_DIGEST,
            ..old.clone()
        },
    );
    let mut revoked = old.clone();
    revoked.revoked = Some(ctx.now);
    revoked.successor = Some(new.id.clone());
    let mut rotate_event = event(&revoked, HistoryAction::Rotate, ctx);
    rotate_event.related = Some(new.id.clone());
    let mut create_event = event(&new, HistoryAction::Create, ctx);
    create_event.related = Some(old.id.clone());
    // The rotated-away token is revoked, so its children go with it, as in any
    // revocation (deepest first; the old token itself is already revoked above).
    let mut records: Vec<TokenRecord> = request
        .records
        .iter()
        .filter(|r| r.id != old.id)
        .cloned()
        .collect();
    records.push(revoked.clone());
    let cascade = plan_revoke(&old.id, RevokeScope::Token, &records, ctx)?;
    let mut events = vec![rotate_event, create_event.clone()];
    events.extend(cascade.events);
    Ok(Rotation {
        new: IssuedToken {
            secret,
            record: new,
            event: create_event,
        },
        old: revoked,
        revoked_children: cascade.updates,
        events,
    })
}

fn find<'a>(records: &'a [TokenRecord], id: &str) -> Option<&'a TokenRecord> {
    records.iter().find(|r| r.id == id)
}

/// The live parent of a child token (`None` for a token that is not a child). A child
/// whose parent is missing, revoked or expired cannot be changed: it is dead too.
fn live_parent<'a>(
    child: &TokenRecord,
    records: &'a [TokenRecord],
    now: Timestamp,
) -> Result<Option<&'a TokenRecord>, LifecycleError> {
    let Some(pid) = child.parent.as_deref() else {
        return Ok(None);
    };
    match find(records, pid) {
        Some(p) if live(p, now) => Ok(Some(p)),
        _ => Err(LifecycleError::Refused(IssueError::CreatorNotLive)),
    }
}

/// Ids of `root`'s descendants (children, grandchildren...), deepest first.
fn descendants(records: &[TokenRecord], root: &str) -> Vec<String> {
    let mut out = Vec::new();
    // Bounded walk: a cycle in bad data cannot loop forever.
    let mut frontier = vec![(root.to_string(), 0usize)];
    let mut levels: Vec<(String, usize)> = Vec::new();
    while let Some((id, depth)) = frontier.pop() {
        if depth > records.len() {
            break;
        }
        for c in records
            .iter()
            .filter(|r| r.parent.as_deref() == Some(id.as_str()))
        {
            if !levels.iter().any(|(x, _)| *x == c.id) && c.id != root {
                levels.push((c.id.clone(), depth + 1));
                frontier.push((c.id.clone(), depth + 1));
            }
        }
    }
    levels.sort_by_key(|l| core::cmp::Reverse(l.1));
    out.extend(levels.into_iter().map(|(id, _)| id));
    out
}

/// The rotation family of `id`: every token linked by predecessor/successor.
fn family(records: &[TokenRecord], id: &str) -> Vec<String> {
    let mut out = vec![id.to_string()];
    let mut i = 0;
    while let Some(cur) = out.get(i).cloned() {
        i += 1;
        if let Some(r) = find(records, &cur) {
            for link in [&r.predecessor, &r.successor].into_iter().flatten() {
                if !out.contains(link) && find(records, link).is_some() {
                    out.push(link.clone());
                }
            }
        }
        for r in records.iter().filter(|r| {
            r.predecessor.as_deref() == Some(cur.as_str())
                || r.successor.as_deref() == Some(cur.as_str())
        }) {
            if !out.contains(&r.id) {
                out.push(r.id.clone());
            }
        }
        if i > records.len() {
            break;
        }
    }
    out
}

/// Plan a revocation: children deepest first, then the token(s).
pub fn plan_revoke(
    id: &str,
    scope: RevokeScope,
    records: &[TokenRecord],
    ctx: &ChangeContext,
) -> Result<ChangePlan, LifecycleError> {
    if find(records, id).is_none() {
        return Err(LifecycleError::UnknownToken(id.to_string()));
    }
    let roots = match scope {
        RevokeScope::Token => vec![id.to_string()],
        RevokeScope::Family => family(records, id),
    };
    let mut order: Vec<String> = Vec::new();
    for root in &roots {
        for d in descendants(records, root) {
            if !order.contains(&d) {
                order.push(d);
            }
        }
    }
    for root in roots {
        if !order.contains(&root) {
            order.push(root);
        }
    }
    let mut plan = ChangePlan::default();
    for id in order {
        if let Some(r) = find(records, &id)
            && r.revoked.is_none()
        {
            let mut r = r.clone();
            r.revoked = Some(ctx.now);
            plan.events.push(event(&r, HistoryAction::Revoke, ctx));
            plan.updates.push(r);
        }
    }
    Ok(plan)
}

/// Plan an edit; shortening a parent shortens its children.
pub fn plan_edit(
    options: &Options,
    id: &str,
    edit: &TokenEdit,
    records: &[TokenRecord],
    ctx: &ChangeContext,
) -> Result<ChangePlan, LifecycleError> {
    let refused = LifecycleError::Refused;
    let old = find(records, id).ok_or_else(|| LifecycleError::UnknownToken(id.to_string()))?;
    if !live(old, ctx.now) {
        return Err(LifecycleError::TokenNotLive(id.to_string()));
    }
    let parent = live_parent(old, records, ctx.now)?;
    let mut new = old.clone();
    let mut ev = event(old, HistoryAction::Edit, ctx);
    if let Some(name) = &edit.name {
        if !valid_token_name(name) {
            return Err(refused(IssueError::BadName));
        }
        let taken = records.iter().any(|r| {
            r.id != old.id
                && r.owner.eq_ignore_ascii_case(&old.owner)
                && live(r, ctx.now)
                && r.name.eq_ignore_ascii_case(name)
        });
        if taken {
            return Err(refused(IssueError::NameTaken));
        }
        if *name != old.name {
            ev.old_name = Some(old.name.clone());
            new.name = name.clone();
        }
    }
    if let Some(scopes) = &edit.scopes {
        let set = ScopeSet::parse(scopes).map_err(|s| refused(IssueError::UnknownScope(s)))?;
        if !set.has_permission() {
            return Err(refused(IssueError::NoPermissionScope));
        }
        if !old.repositories.is_empty() || !old.owners.is_empty() {
            check_bound_scopes(scopes, &set).map_err(refused)?;
        }
        if let Some(parent) = parent {
            let ps = ScopeSet::parse(&parent.scopes)
                .map_err(|s| refused(IssueError::UnknownScope(s)))?;
            if let Some(x) = set.excess_over(&ps) {
                return Err(refused(IssueError::ExceedsCreator(x)));
            }
        }
        let normalized = set.normalized();
        if normalized != old.scopes {
            ev.old_scopes = Some(old.scopes.clone());
            new.scopes = normalized;
        }
    }
    if let Some(expires) = edit.expires {
        check_expiry(options, expires, ctx.now).map_err(refused)?;
        // A child never outlives its parent: refused, not cut (the caller asked for a
        // date it cannot have).
        if let Some(pe) = parent.and_then(|p| p.expires)
            && expires.is_none_or(|e| e > pe)
        {
            return Err(refused(IssueError::ExceedsCreator(
                "an expiry after its parent's".into(),
            )));
        }
        if expires != old.expires {
            ev.old_expires = Some(old.expires);
            new.expires = expires;
        }
    }
    ev.name = new.name.clone();
    ev.scopes = new.scopes.clone();
    ev.expires = new.expires;
    // Cascade parents first (each child against its parent's new values), then write
    // deepest first and the edited token last, as every plan does.
    let mut cascade = ChangePlan {
        updates: vec![new.clone()],
        events: Vec::new(),
    };
    cascade_to_children(&new, records, ctx, &mut cascade);
    let mut plan = ChangePlan {
        updates: cascade.updates.into_iter().skip(1).rev().collect(),
        events: cascade.events.into_iter().rev().collect(),
    };
    plan.updates.push(new);
    plan.events.push(ev);
    Ok(plan)
}

/// After `parent` changed, bring every live descendant back within it (cascade, never
/// refuse: the parent's owner narrowed it on purpose). Parents first, so each child is
/// cut to its parent's new values: expiry to at most the parent's; scopes to what both
/// hold; a child left with no permission is revoked.
fn cascade_to_children(
    parent: &TokenRecord,
    records: &[TokenRecord],
    ctx: &ChangeContext,
    plan: &mut ChangePlan,
) {
    let mut order = descendants(records, &parent.id);
    order.reverse(); // shallowest first
    for cid in order {
        let Some(c) = find(records, &cid) else {
            continue;
        };
        if !live(c, ctx.now) {
            continue;
        }
        // The child's parent as already planned (updates hold the new values).
        let Some(p) = c.parent.as_deref().and_then(|pid| {
            plan.updates
                .iter()
                .rev()
                .find(|u| u.id == pid)
                .or_else(|| find(records, pid))
        }) else {
            continue;
        };
        let mut n = c.clone();
        if p.revoked.is_some() {
            n.revoked = Some(ctx.now);
        }
        if let Some(pe) = p.expires
            && n.expires.is_none_or(|e| e > pe)
        {
            n.expires = Some(pe);
        }
        let (Ok(cs), Ok(ps)) = (ScopeSet::parse(&c.scopes), ScopeSet::parse(&p.scopes)) else {
            // Unknown scopes: the audit repairs or reports them; a child of a parent we
            // cannot read is revoked (fail closed).
            n.revoked = Some(ctx.now);
            push_change(c, n, ctx, plan);
            continue;
        };
        if cs.excess_over(&ps).is_some() {
            let kept = cs.intersect(&ps);
            if kept.has_permission() {
                n.scopes = kept.normalized();
            } else {
                n.revoked = Some(ctx.now);
            }
        }
        push_change(c, n, ctx, plan);
    }
}

/// Record a cascaded change (nothing when nothing changed).
fn push_change(old: &TokenRecord, new: TokenRecord, ctx: &ChangeContext, plan: &mut ChangePlan) {
    if *old == new {
        return;
    }
    plan.events
        .push(fix_event(old, &AuditFix::Update(new.clone()), ctx));
    plan.updates.push(new);
}

/// `expire` events for live-looking records past their expiry, not yet recorded.
pub fn plan_expire(entries: &[AuditEntry], ctx: &ChangeContext) -> Vec<HistoryEvent> {
    entries
        .iter()
        .filter(|e| {
            !e.expiry_recorded
                && e.record.revoked.is_none()
                && e.record.expires.is_some_and(|x| x <= ctx.now)
        })
        .map(|e| event(&e.record, HistoryAction::Expire, ctx))
        .collect()
}

/// The history event a repair records: `expire` for a recorded expiry; `revoke` when the
/// repair revokes; otherwise `edit`, with the values it changed.
fn fix_event(old: &TokenRecord, fix: &AuditFix, ctx: &ChangeContext) -> HistoryEvent {
    match fix {
        AuditFix::RecordExpiry(_) => event(old, HistoryAction::Expire, ctx),
        AuditFix::Update(new) => {
            let action = if new.revoked.is_some() && old.revoked.is_none() {
                HistoryAction::Revoke
            } else {
                HistoryAction::Edit
            };
            let mut e = event(new, action, ctx);
            e.old_name = (old.name != new.name).then(|| old.name.clone());
            e.old_scopes = (old.scopes != new.scopes).then(|| old.scopes.clone());
            e.old_expires = (old.expires != new.expires).then_some(old.expires);
            e
        }
    }
}

/// Check records for inconsistencies; each repair comes with the event it records.
pub fn audit(entries: &[AuditEntry], ctx: &ChangeContext) -> Vec<AuditFinding> {
    let now = ctx.now;
    let records: Vec<TokenRecord> = entries.iter().map(|e| e.record.clone()).collect();
    let mut out = Vec::new();
    let finding =
        |r: &TokenRecord, kind: AuditKind, message: String, fix: Option<AuditFix>| AuditFinding {
            token_id: r.id.clone(),
            kind,
            message,
            event: fix.as_ref().map(|f| fix_event(r, f, ctx)),
            fix,
        };
    for e in entries {
        let r = &e.record;
        if let Err(unknown) = ScopeSet::parse(&r.scopes) {
            // A legacy record may migrate cleanly; otherwise the operator decides.
            let migrated = migrate_legacy(&r.scopes);
            let fix = ScopeSet::parse(&migrated).ok().map(|_| {
                let mut f = r.clone();
                f.scopes = migrated.clone();
                AuditFix::Update(f)
            });
            out.push(finding(
                r,
                AuditKind::UnknownScope,
                format!("unknown scope `{unknown}`"),
                fix,
            ));
        }
        if r.successor.is_some() && r.revoked.is_none() {
            let mut f = r.clone();
            f.revoked = Some(now);
            out.push(finding(
                r,
                AuditKind::RotatedNotRevoked,
                "rotated but still live".into(),
                Some(AuditFix::Update(f)),
            ));
        }
        if !e.expiry_recorded && r.revoked.is_none() && r.expires.is_some_and(|x| x <= now) {
            out.push(finding(
                r,
                AuditKind::ExpiredNotRecorded,
                "past its expiry; the expiry was never recorded".into(),
                Some(AuditFix::RecordExpiry(r.id.clone())),
            ));
        }
        let Some(pid) = r.parent.as_deref() else {
            continue;
        };
        let Some(parent) = find(&records, pid) else {
            let mut f = r.clone();
            f.revoked = Some(now);
            let fix = r.revoked.is_none().then_some(AuditFix::Update(f));
            out.push(finding(
                r,
                AuditKind::Orphan,
                format!("parent `{pid}` is not in the store"),
                fix,
            ));
            continue;
        };
        if parent.revoked.is_some() && r.revoked.is_none() {
            let mut f = r.clone();
            f.revoked = Some(now);
            out.push(finding(
                r,
                AuditKind::ChildOfRevokedParent,
                format!("parent `{pid}` is revoked"),
                Some(AuditFix::Update(f)),
            ));
        }
        if let Some(pe) = parent.expires
            && r.expires.is_none_or(|ce| ce > pe)
        {
            let mut f = r.clone();
            f.expires = Some(pe);
            out.push(finding(
                r,
                AuditKind::ChildOutlivesParent,
                format!("expires after parent `{pid}`"),
                Some(AuditFix::Update(f)),
            ));
        }
        if let (Ok(cs), Ok(ps)) = (ScopeSet::parse(&r.scopes), ScopeSet::parse(&parent.scopes))
            && let Some(x) = cs.excess_over(&ps)
        {
            // Repair: keep only the child's scopes its parent also has.
            let kept: Vec<String> = cs
                .normalized()
                .into_iter()
                .filter(|s| {
                    ScopeSet::parse(core::slice::from_ref(s))
                        .map(|one| one.excess_over(&ps).is_none())
                        .unwrap_or(false)
                })
                .collect();
            let fix = (!kept.is_empty()).then(|| {
                let mut f = r.clone();
                f.scopes = kept;
                AuditFix::Update(f)
            });
            out.push(finding(
                r,
                AuditKind::ChildExceedsParent,
                format!("holds `{x}`, which parent `{pid}` lacks"),
                fix,
            ));
        }
    }
    out
}
