//! Token lifecycle rules (Gafaelfawr's TokenService, seed 002; GitLab rotation and
//! Launchpad last-used, reference §4-5): minting, child tokens, rotation, revocation,
//! edits. Pure: the host stores what these functions return. Who may do each, and which
//! records may exist, is [`super::authority`]; expiry bookkeeping and audit are
//! [`super::audit`].
#[allow(unused_imports)]
use crate::prelude::*;

use super::authority::{
    Expiry, Operation, admissible, check_bound_scopes, check_expiry, may_act, valid_token_name,
};
use super::model::SecretDigest;
use super::model::{
    Actor, ChangeContext, ChangePlan, ChildOutcome, ChildRequest, HistoryAction, HistoryEvent,
    IssueError, IssueRequest, IssuedToken, LifecycleError, Options, RevokeScope, RotateRequest,
    Rotation, Timestamp, TokenEdit, TokenRecord,
};
use super::principal::{Principal, Repo, User};
use super::scope::ScopeSet;
use super::token::{ENTROPY_BYTES, Keyring};

pub use super::authority::MAX_NAME_CHARS;
pub use super::records::live;
use super::records::{event, find, narrowed};
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

/// Whether the host should record a use now, for a token last used at `last_used`.
pub fn last_used_due(last_used: Option<Timestamp>, now: Timestamp) -> bool {
    last_used.is_none_or(|t| now.saturating_sub(t) >= LAST_USED_INTERVAL)
}

/// The placeholder digest of a record template (replaced by the minted token's tag).
const NO_DIGEST: SecretDigest = SecretDigest::HmacTag([0; 32]);

/// Every bound repository must be visible to the owner; missing and unseen get the same
/// refusal (reference §1.14).
fn check_bound_visible(request: &IssueRequest) -> Result<(), IssueError> {
    for repo in &request.repositories {
        let facts = request
            .bound_facts
            .iter()
            .find(|t| t.repository.eq_ignore_ascii_case(repo))
            .and_then(|t| t.facts.as_ref());
        let visible = match (facts, &request.creator) {
            (Some(f), Actor::Session(u)) if u.name.eq_ignore_ascii_case(&request.owner) => {
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
    Ok(())
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
    // A maintenance job repairs and revokes; minting is always someone's.
    if matches!(request.creator, Actor::System(_)) {
        return Err(IssueError::CreatorNotAllowed);
    }
    // The record as it would be stored, checked with the scopes and binding as sent (so
    // a refusal names what the caller sent); stored with its scopes normalised.
    let mut template = TokenRecord {
        id: String::new(),
        owner: request.owner.clone(),
        name: request.name.clone(),
        scopes: request.scopes.clone(),
        repositories: dedup(&request.repositories),
        owners: dedup(&request.owners),
        // A token minted by a child token is a child of that token: it stays restricted
        // (no admin powers) and goes when its creator goes.
        parent: match &request.creator {
            Actor::Token(c) if c.parent.is_some() => Some(c.id.clone()),
            _ => None,
        },
        predecessor: None,
        successor: None,
        last_used: None,
        created: request.now,
        expires: request.expires,
        revoked: None,
        secret: NO_DIGEST,
    };
    // A creating token is checked as the creator, never as a parent: minting needs
    // `user:token` even for a child token's own children.
    admissible(
        &template,
        &request.creator,
        None,
        options,
        request.now,
        Expiry::Kept,
    )?;
    check_bound_visible(request)?;
    check_expiry(options, request.expires, request.now, Expiry::Set)?;
    if request
        .existing_names
        .iter()
        .any(|n| n.eq_ignore_ascii_case(&request.name))
    {
        return Err(IssueError::NameTaken);
    }
    template.scopes = ScopeSet::parse(&template.scopes)
        .map_err(IssueError::UnknownScope)?
        .normalized();
    let entropy = entropy.ok_or(IssueError::EntropyUnavailable)?;
    let (secret, record) = new_record(keys, entropy, template);
    let ctx = ChangeContext {
        actor: request.creator.clone(),
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
    options: &Options,
    request: &ChildRequest,
    entropy: Option<&[u8; ENTROPY_BYTES]>,
) -> Result<ChildOutcome, LifecycleError> {
    let now = request.context.now;
    let parent = &request.parent;
    may_act(&request.context.actor, Operation::Derive, parent, &[], now)?;
    child_of(keys, options, request, entropy).map_err(LifecycleError::Refused)
}

/// [`derive_child`] once the actor may derive from the parent.
fn child_of(
    keys: &Keyring,
    options: &Options,
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
    if request.lifetime > options.max_lifetime {
        return Err(IssueError::LifetimeTooLong(options.max_lifetime));
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
    let template = TokenRecord {
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
        expires: Some(parent.expires.map_or(own, |p| p.min(own))),
        revoked: None,
        secret: NO_DIGEST,
    };
    admissible(
        &template,
        &request.context.actor,
        Some(parent),
        options,
        now,
        Expiry::Child,
    )?;
    let entropy = entropy.ok_or(IssueError::EntropyUnavailable)?;
    let (secret, record) = new_record(keys, entropy, template);
    let event = event(&record, HistoryAction::Create, &request.context);
    Ok(ChildOutcome::Minted(IssuedToken {
        secret,
        record,
        event,
    }))
}

/// The expiry of a rotation's successor: as asked, else the old token's lifetime from
/// now within the lifetime bounds; a child's successor never outlives the parent (an
/// expiry asked for past the parent's is refused; the default one is cut to it).
fn successor_expiry(
    options: &Options,
    request: &RotateRequest,
    parent: Option<&TokenRecord>,
) -> Result<Option<Timestamp>, LifecycleError> {
    let (old, now) = (&request.old, request.context.now);
    let expires = match request.expires {
        Some(e) => Some(e),
        None => old.expires.map(|e| {
            let lifetime = e
                .saturating_sub(old.created)
                .clamp(options.min_lifetime, options.max_lifetime);
            now.saturating_add(lifetime)
        }),
    };
    check_expiry(options, expires, now, Expiry::Set).map_err(LifecycleError::Refused)?;
    let refused = |x: &str| {
        Err(LifecycleError::Refused(IssueError::ExceedsCreator(
            x.into(),
        )))
    };
    match parent.map(|p| (p.expires, expires)) {
        None => Ok(expires),
        Some((Some(pe), Some(e))) if request.expires.is_some() && e > pe => {
            refused("an expiry after its parent's")
        }
        Some((Some(_), None)) => refused("never expires, unlike its parent"),
        Some((Some(pe), Some(e))) => Ok(Some(e.min(pe))),
        Some((None, e)) => Ok(e),
    }
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
    may_act(&ctx.actor, Operation::Rotate, old, &[], ctx.now)?;
    if !live(old, ctx.now) || old.successor.is_some() {
        return Err(LifecycleError::TokenNotLive(old.id.clone()));
    }
    let parent = live_parent(old, &request.records, ctx.now)?;
    let expires = successor_expiry(options, request, parent)?;
    let template = TokenRecord {
        id: String::new(),
        predecessor: Some(old.id.clone()),
        successor: None,
        last_used: None,
        created: ctx.now,
        expires,
        revoked: None,
        secret: NO_DIGEST,
        ..old.clone()
    };
    // The successor is a new record: it must be one the actor could mint now (a user
    // cannot renew a scope only an administrator grants).
    admissible(
        &template,
        &ctx.actor,
        parent,
        options,
        ctx.now,
        Expiry::Kept,
    )
    .map_err(LifecycleError::Refused)?;
    let entropy = entropy.ok_or(LifecycleError::Refused(IssueError::EntropyUnavailable))?;
    let (secret, new) = new_record(keys, entropy, template);
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
    let cascade = revocation(&old.id, RevokeScope::Token, &records, ctx);
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
    levels.into_iter().map(|(id, _)| id).collect()
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
    let target = find(records, id).ok_or_else(|| LifecycleError::UnknownToken(id.to_string()))?;
    may_act(
        &ctx.actor,
        Operation::Revoke(scope),
        target,
        &family(records, id),
        ctx.now,
    )?;
    Ok(revocation(id, scope, records, ctx))
}

/// The records a revocation of `id` writes (the actor is already authorised).
fn revocation(
    id: &str,
    scope: RevokeScope,
    records: &[TokenRecord],
    ctx: &ChangeContext,
) -> ChangePlan {
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
    plan
}

/// The edited record and its event (before any cascade to children).
fn edited(
    old: &TokenRecord,
    edit: &TokenEdit,
    records: &[TokenRecord],
    ctx: &ChangeContext,
) -> Result<(TokenRecord, HistoryEvent), LifecycleError> {
    let refused = LifecycleError::Refused;
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
        // The bound-scope rule reads the scopes as sent (aliases included).
        if set.has_permission() && (!old.repositories.is_empty() || !old.owners.is_empty()) {
            check_bound_scopes(scopes, &set).map_err(refused)?;
        }
        let normalized = set.normalized();
        if normalized != old.scopes {
            ev.old_scopes = Some(old.scopes.clone());
            new.scopes = normalized;
        }
    }
    if let Some(expires) = edit.expires
        && expires != old.expires
    {
        ev.old_expires = Some(old.expires);
        new.expires = expires;
    }
    ev.name = new.name.clone();
    ev.scopes = new.scopes.clone();
    ev.expires = new.expires;
    Ok((new, ev))
}

/// Plan an edit; shortening a parent shortens its children.
pub fn plan_edit(
    options: &Options,
    id: &str,
    edit: &TokenEdit,
    records: &[TokenRecord],
    ctx: &ChangeContext,
) -> Result<ChangePlan, LifecycleError> {
    let old = find(records, id).ok_or_else(|| LifecycleError::UnknownToken(id.to_string()))?;
    may_act(&ctx.actor, Operation::Edit, old, &[], ctx.now)?;
    if !live(old, ctx.now) {
        return Err(LifecycleError::TokenNotLive(id.to_string()));
    }
    let parent = live_parent(old, records, ctx.now)?;
    let (new, ev) = edited(old, edit, records, ctx)?;
    // The edited record must be one the actor could mint now. An expiry asked for is
    // bound by the lifetime rules; a child's never passes its parent's (refused, not
    // cut: the caller asked for a date it cannot have).
    let expiry = if edit.expires.is_some() {
        Expiry::Set
    } else {
        Expiry::Kept
    };
    admissible(&new, &ctx.actor, parent, options, ctx.now, expiry)
        .map_err(LifecycleError::Refused)?;
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
        let n = narrowed(c, p, ctx.now);
        push_change(c, n, ctx, plan);
    }
}

/// Record a cascaded change (nothing when nothing changed).
fn push_change(old: &TokenRecord, new: TokenRecord, ctx: &ChangeContext, plan: &mut ChangePlan) {
    if *old == new {
        return;
    }
    plan.events.push(super::audit::fix_event(old, &new, ctx));
    plan.updates.push(new);
}
