//! Revocation: a token or its whole rotation family, its children (deepest first) with it.
#[allow(unused_imports)]
use crate::prelude::*;

use crate::policy::Authorizer;

use crate::policy::authority::{Operation, may_act};
use crate::policy::model::{
    ChangeContext, ChangePlan, HistoryAction, LifecycleError, RevokeScope, TokenRecord,
};
use crate::policy::records::{event, find};

/// Ids of `root`'s descendants (children, grandchildren...), deepest first.
pub(super) fn descendants(records: &[TokenRecord], root: &str) -> Vec<String> {
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

impl Authorizer {
    /// Plan a revocation: children deepest first, then the token(s).
    pub fn plan_revoke(
        &self,
        id: &str,
        scope: RevokeScope,
        records: &[TokenRecord],
        ctx: &ChangeContext,
    ) -> Result<ChangePlan, LifecycleError> {
        let target =
            find(records, id).ok_or_else(|| LifecycleError::UnknownToken(id.to_string()))?;
        may_act(
            &ctx.actor,
            Operation::Revoke(scope),
            target,
            &family(records, id),
            ctx.now,
        )?;
        Ok(revocation(id, scope, records, ctx))
    }
}

/// The records a revocation of `id` writes (the actor is already authorised).
pub(super) fn revocation(
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
