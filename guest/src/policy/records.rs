//! What every rule about stored token records reads: whether a record is live, finding
//! one by id, a child brought back within its parent, and the history event of a change.
//! The lowest floor of the lifecycle rules: [`super::authority`], [`super::audit`] and
//! [`super::lifecycle`] all build on it, and it builds on none of them.
#[allow(unused_imports)]
use crate::prelude::*;

use super::model::{ChangeContext, HistoryAction, HistoryEvent, Timestamp, TokenRecord};
use super::scope::ScopeSet;

/// Whether a record is live at `now`: not revoked, not expired.
pub fn live(r: &TokenRecord, now: Timestamp) -> bool {
    r.revoked.is_none() && r.expires.is_none_or(|e| e > now)
}

/// The history event of `action` on `r`, by the actor of `ctx`.
pub fn event(r: &TokenRecord, action: HistoryAction, ctx: &ChangeContext) -> HistoryEvent {
    HistoryEvent {
        token_id: r.id.clone(),
        owner: r.owner.clone(),
        action,
        actor: ctx.actor.name().to_string(),
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

/// The record with id `id` among `records`.
pub(crate) fn find<'a>(records: &'a [TokenRecord], id: &str) -> Option<&'a TokenRecord> {
    records.iter().find(|r| r.id == id)
}

/// `child` brought back within `parent`: revoked with it, expiry cut to the parent's,
/// scopes cut to what both hold (revoked when no permission is left, or when either
/// holds a scope this policy does not know: fail closed).
pub(crate) fn narrowed(child: &TokenRecord, parent: &TokenRecord, now: Timestamp) -> TokenRecord {
    let mut n = child.clone();
    if parent.revoked.is_some() {
        n.revoked = Some(now);
    }
    if let Some(pe) = parent.expires
        && n.expires.is_none_or(|e| e > pe)
    {
        n.expires = Some(pe);
    }
    match (
        ScopeSet::parse(&child.scopes),
        ScopeSet::parse(&parent.scopes),
    ) {
        (Ok(cs), Ok(ps)) if cs.excess_over(&ps).is_some() => {
            let kept = cs.intersect(&ps);
            if kept.has_permission() {
                n.scopes = kept.normalized();
            } else {
                n.revoked = Some(now);
            }
        }
        (Ok(_), Ok(_)) => {}
        _ => n.revoked = Some(now),
    }
    n
}
