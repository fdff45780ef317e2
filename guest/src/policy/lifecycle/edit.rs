//! Edits: a token's name, scopes or expiry changed, its children narrowed to match.
#[allow(unused_imports)]
use crate::prelude::*;

use crate::policy::Authorizer;

use super::live_parent;
use super::revoke::descendants;
use crate::policy::audit::fix_event;
use crate::policy::authority::{
    Expiry, Operation, admissible, check_bound_scopes, may_act, valid_token_name,
};
use crate::policy::model::{
    ChangeContext, ChangePlan, HistoryAction, HistoryEvent, IssueError, LifecycleError, TokenEdit,
    TokenRecord,
};
use crate::policy::records::{event, find, live, narrowed};
use crate::policy::scope::ScopeSet;

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

impl Authorizer {
    /// Plan an edit; shortening a parent shortens its children.
    pub fn plan_edit(
        &self,
        id: &str,
        edit: &TokenEdit,
        records: &[TokenRecord],
        ctx: &ChangeContext,
    ) -> Result<ChangePlan, LifecycleError> {
        let options = &self.options;
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
    plan.events.push(fix_event(old, &new, ctx));
    plan.updates.push(new);
}
