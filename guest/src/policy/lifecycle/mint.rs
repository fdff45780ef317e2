//! Minting: a token from a mint request, and a child token derived from its parent (or
//! an existing child reused).
#[allow(unused_imports)]
use crate::prelude::*;

use crate::policy::Authorizer;

use super::{NO_DIGEST, new_record};
use crate::policy::authority::{
    Expiry, MAX_NAME_CHARS, Operation, admissible, check_expiry, may_act,
};
use crate::policy::model::{
    Actor, ChangeContext, ChildOutcome, ChildRequest, HistoryAction, IssueError, IssueRequest,
    IssuedToken, LifecycleError, Options, Role, TokenRecord,
};
use crate::policy::principal::{Principal, Repo, User, owner_of, visible_to_signed_in};
use crate::policy::records::{event, live};
use crate::policy::scope::ScopeSet;
use crate::policy::token::{ENTROPY_BYTES, Keyring};

fn dedup(list: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for x in list {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(x)) {
            out.push(x.clone());
        }
    }
    out
}

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
                visible_to_signed_in(f)
                    || f.role >= Role::Read
                    || owner_of(repo).eq_ignore_ascii_case(&request.owner)
            }
            (None, _) => false,
        };
        if !visible {
            return Err(IssueError::RepositoryNotVisible(repo.clone()));
        }
    }
    Ok(())
}

impl Authorizer {
    /// Mint a token from `entropy` (36 bytes from a CSPRNG; `None` if the source failed):
    /// validate the request and build the token, its record and its event.
    pub fn issue(
        &self,
        request: &IssueRequest,
        entropy: Option<&[u8; ENTROPY_BYTES]>,
    ) -> Result<IssuedToken, IssueError> {
        let (keys, options) = (&self.keys, &self.options);
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
}

impl Authorizer {
    /// Derive a child token, or pick an existing one to reuse.
    pub fn derive_child(
        &self,
        request: &ChildRequest,
        entropy: Option<&[u8; ENTROPY_BYTES]>,
    ) -> Result<ChildOutcome, LifecycleError> {
        let now = request.context.now;
        let parent = &request.parent;
        may_act(&request.context.actor, Operation::Derive, parent, &[], now)?;
        child_of(&self.keys, &self.options, request, entropy).map_err(LifecycleError::Refused)
    }
}

/// [`Authorizer::derive_child`] once the actor may derive from the parent.
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
