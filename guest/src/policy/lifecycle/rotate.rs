//! Rotation: a live token replaced by a successor, the old one revoked with its children.
#[allow(unused_imports)]
use crate::prelude::*;

use crate::policy::Authorizer;

use super::revoke::revocation;
use super::{NO_DIGEST, live_parent, new_record};
use crate::policy::authority::{Expiry, Operation, admissible, check_expiry, may_act};
use crate::policy::model::{
    HistoryAction, IssueError, IssuedToken, LifecycleError, Options, RevokeScope, RotateRequest,
    Rotation, Timestamp, TokenRecord,
};
use crate::policy::records::{event, live};
use crate::policy::token::ENTROPY_BYTES;

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

impl Authorizer {
    /// Rotate a live token.
    pub fn rotate(
        &self,
        request: &RotateRequest,
        entropy: Option<&[u8; ENTROPY_BYTES]>,
    ) -> Result<Rotation, LifecycleError> {
        let (keys, options) = (&self.keys, &self.options);
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
}
