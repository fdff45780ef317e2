//! Token lifecycle operations against the store (SQLite or PostgreSQL). Each operation reads what the
//! policy needs inside one write transaction, asks the policy module, and writes exactly
//! what it returned (records and history events) before committing. Nothing here decides:
//! a refusal is the policy's.

use anyhow::{anyhow, bail};

use crate::exit::{EXIT_NOT_FOUND, EXIT_REFUSED, fail};
use crate::policy::Policy;
use crate::store::facts;
use crate::store::{
    Conn, Store, StoredToken, all_tokens, checked_blocks, inherit_token_ip_allow, live_children,
    live_names, mark_expired, put_event, put_token, set_token_ip_allow, token_by_id,
    tokens_of_owner, touch_last_used,
};
use crate::wit;
use crate::wit::core as convert;

/// Who acts on a token. The policy decides what each may do (`lifecycle.actor` in the
/// WIT); the host only says who it is and gives the facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Who {
    /// A user signed in to the forge (the CLI acts as one with `--actor`), by login: the
    /// store gives its account facts.
    Session(String),
    /// A token presented to a token route, by id: the store gives its record.
    Token(String),
    /// The operator's maintenance job, by name (expiry, audit repairs, revocations
    /// a decision asked for).
    System(String),
}

/// Who acts, from where, when.
#[derive(Clone, Debug)]
pub struct Actor {
    /// Who.
    pub who: Who,
    /// Client IP.
    pub ip: Option<String>,
    /// Now.
    pub now: i64,
}

impl Actor {
    /// A session of `login`.
    pub fn session(login: impl Into<String>, ip: Option<String>, now: i64) -> Actor {
        Actor {
            who: Who::Session(login.into()),
            ip,
            now,
        }
    }

    /// The maintenance job `name`.
    pub fn system(name: impl Into<String>, now: i64) -> Actor {
        Actor {
            who: Who::System(name.into()),
            ip: None,
            now,
        }
    }

    /// The policy's view of the actor, with its facts from the store. An actor the store
    /// does not know is an error (nothing is asked of the policy).
    fn resolve(&self, conn: &mut Conn) -> anyhow::Result<wit::Actor> {
        Ok(match &self.who {
            Who::Session(login) => wit::Actor::Session(wit::Account {
                name: login.clone(),
                facts: convert::user_out(facts::user(conn, login)?.ok_or_else(|| no_user(login))?),
            }),
            Who::Token(id) => {
                wit::Actor::Token(token_by_id(conn, id)?.ok_or_else(|| no_token(id))?.record)
            }
            Who::System(name) => wit::Actor::System(name.clone()),
        })
    }

    fn context(&self, conn: &mut Conn) -> anyhow::Result<wit::ChangeContext> {
        Ok(wit::ChangeContext {
            actor: self.resolve(conn)?,
            ip: self.ip.clone(),
            now: self.now,
        })
    }
}

/// The policy's refusal as an error with its exit status: an unknown token (also what
/// someone who may not see it gets) exits [`EXIT_NOT_FOUND`], any other refusal
/// [`EXIT_REFUSED`].
fn refused(e: &wit::LifecycleError) -> anyhow::Error {
    let code = match e {
        wit::LifecycleError::UnknownToken(_) => EXIT_NOT_FOUND,
        _ => EXIT_REFUSED,
    };
    fail(code, format!("refused: {}", e.describe()))
}

/// No token `id` in the store: exit status [`EXIT_NOT_FOUND`].
pub fn no_token(id: &str) -> anyhow::Error {
    fail(
        EXIT_NOT_FOUND,
        format!("no token `{id}`: `forge-authz token list` shows the ids"),
    )
}

/// No user `login` in the store: exit status [`EXIT_NOT_FOUND`].
fn no_user(login: &str) -> anyhow::Error {
    fail(EXIT_NOT_FOUND, format!("no user `{login}`"))
}

/// Pause before committing when `FORGE_AUTHZ_FAULT_PAUSE_BEFORE_COMMIT` names a file:
/// create the file, then sleep. Fault injection for the crash tests (a process killed
/// here must lose nothing); unset in production.
fn fault_point() {
    if let Some(marker) = std::env::var_os("FORGE_AUTHZ_FAULT_PAUSE_BEFORE_COMMIT") {
        let _ = std::fs::write(&marker, b"paused");
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
}

fn policy_err(e: crate::PolicyFailure) -> anyhow::Error {
    anyhow!("{e}")
}

/// What to mint.
#[derive(Clone, Debug)]
pub struct CreateArgs {
    /// Owner login.
    pub owner: String,
    /// Token name.
    pub name: String,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Bound repositories.
    pub repositories: Vec<String>,
    /// Bound owners.
    pub owners: Vec<String>,
    /// Expiry.
    pub expires: Option<i64>,
}

/// Mint a token as `actor`. Returns the secret (show once) and the stored record.
pub fn create(
    policy: &mut dyn Policy,
    store: &mut Store,
    args: &CreateArgs,
    actor: &Actor,
) -> anyhow::Result<(String, wit::TokenRecord)> {
    create_with_ip_allow(policy, store, args, &[], actor)
}

/// [`create`], the token restricted to the address blocks `ip_allow` (issue 23; empty:
/// none), written in the same transaction as its record.
pub fn create_with_ip_allow(
    policy: &mut dyn Policy,
    store: &mut Store,
    args: &CreateArgs,
    ip_allow: &[String],
    actor: &Actor,
) -> anyhow::Result<(String, wit::TokenRecord)> {
    let ip_allow = checked_blocks(ip_allow)?;
    let mut tx = store.write()?;
    let creator = actor.resolve(&mut tx)?;
    let mut bound_facts = Vec::with_capacity(args.repositories.len());
    for r in &args.repositories {
        bound_facts.push(wit::BoundRepository {
            repository: r.clone(),
            facts: facts::repository(&mut tx, r, Some(&args.owner))?
                .map(|(_, f)| convert::repository_out(f)),
        });
    }
    let request = wit::IssueRequest {
        owner: args.owner.clone(),
        name: args.name.clone(),
        scopes: args.scopes.clone(),
        repositories: args.repositories.clone(),
        owners: args.owners.clone(),
        expires: args.expires,
        now: actor.now,
        creator,
        existing_names: live_names(&mut tx, &args.owner, actor.now)?,
        bound_facts,
        ip: actor.ip.clone(),
    };
    let issued = policy
        .issue(&request)
        .map_err(policy_err)?
        .map_err(|e| fail(EXIT_REFUSED, format!("refused: {}", e.describe())))?;
    put_token(&mut tx, &issued.record, false)?;
    if !ip_allow.is_empty() {
        set_token_ip_allow(&mut tx, &issued.record.id, &ip_allow)?;
    }
    put_event(&mut tx, &issued.event)?;
    fault_point();
    tx.commit()?;
    Ok((issued.secret, issued.record))
}

/// A child request's answer.
#[derive(Clone, Debug)]
pub enum ChildResult {
    /// An existing child fits.
    Reused(wit::TokenRecord),
    /// A new child: its secret (show once) and record.
    Minted(String, wit::TokenRecord),
}

/// Derive a child of `parent_id`.
pub fn child(
    policy: &mut dyn Policy,
    store: &mut Store,
    parent_id: &str,
    scopes: &[String],
    lifetime: i64,
    minimum_lifetime: Option<i64>,
    actor: &Actor,
) -> anyhow::Result<ChildResult> {
    let mut tx = store.write()?;
    let parent = token_by_id(&mut tx, parent_id)?
        .ok_or_else(|| no_token(parent_id))?
        .record;
    let children = live_children(&mut tx, parent_id, actor.now)?
        .into_iter()
        .map(|t| t.record)
        .collect();
    let request = wit::ChildRequest {
        parent,
        scopes: scopes.to_vec(),
        lifetime,
        minimum_lifetime,
        existing_children: children,
        context: actor.context(&mut tx)?,
    };
    let outcome = policy
        .derive_child(&request)
        .map_err(policy_err)?
        .map_err(|e| refused(&e))?;
    match outcome {
        wit::ChildOutcome::Reuse(r) => {
            tx.commit()?;
            Ok(ChildResult::Reused(r))
        }
        wit::ChildOutcome::Minted(t) => {
            put_token(&mut tx, &t.record, false)?;
            inherit_token_ip_allow(&mut tx, parent_id, &t.record.id)?;
            put_event(&mut tx, &t.event)?;
            fault_point();
            tx.commit()?;
            Ok(ChildResult::Minted(t.secret, t.record))
        }
    }
}

/// Rotate a token: the old one is revoked and linked to its successor, in one
/// transaction. Concurrent rotations of one token serialise on the write lock; all but the
/// first find it already rotated and are refused.
pub fn rotate(
    policy: &mut dyn Policy,
    store: &mut Store,
    id: &str,
    expires: Option<i64>,
    actor: &Actor,
) -> anyhow::Result<(String, wit::TokenRecord)> {
    let mut tx = store.write()?;
    let old = token_by_id(&mut tx, id)?.ok_or_else(|| no_token(id))?;
    let context = actor.context(&mut tx)?;
    let rotation = policy
        .rotate(&wit::RotateRequest {
            old: old.record,
            expires,
            records: owner_records(&mut tx, id)?,
            context,
        })
        .map_err(policy_err)?
        .map_err(|e| refused(&e))?;
    put_token(&mut tx, &rotation.old, old.expiry_recorded)?;
    put_token(&mut tx, &rotation.new.record, false)?;
    inherit_token_ip_allow(&mut tx, id, &rotation.new.record.id)?;
    // The children the policy revoked with the old token, and every event.
    apply_plan(
        &mut tx,
        &wit::ChangePlan {
            updates: rotation.revoked_children,
            events: rotation.events,
        },
    )?;
    fault_point();
    tx.commit()?;
    Ok((rotation.new.secret, rotation.new.record))
}

fn apply_plan(tx: &mut Conn, plan: &wit::ChangePlan) -> anyhow::Result<()> {
    for r in &plan.updates {
        let recorded = token_by_id(tx, &r.id)?.is_some_and(|t| t.expiry_recorded);
        put_token(tx, r, recorded)?;
    }
    for e in &plan.events {
        put_event(tx, e)?;
    }
    Ok(())
}

fn owner_records(tx: &mut Conn, id: &str) -> anyhow::Result<Vec<wit::TokenRecord>> {
    let owner = token_by_id(tx, id)?
        .ok_or_else(|| no_token(id))?
        .record
        .owner;
    Ok(tokens_of_owner(tx, &owner)?
        .into_iter()
        .map(|t| t.record)
        .collect())
}

/// Plan a change to token `id` over its owner's records (`plan`: the policy's answer for
/// them and the actor's context) and write the plan in one transaction.
fn change_family(
    store: &mut Store,
    id: &str,
    actor: &Actor,
    plan: impl FnOnce(
        &[wit::TokenRecord],
        &wit::ChangeContext,
    ) -> Result<Result<wit::ChangePlan, wit::LifecycleError>, crate::PolicyFailure>,
) -> anyhow::Result<wit::ChangePlan> {
    let mut tx = store.write()?;
    let records = owner_records(&mut tx, id)?;
    let context = actor.context(&mut tx)?;
    let plan = plan(&records, &context)
        .map_err(policy_err)?
        .map_err(|e| refused(&e))?;
    apply_plan(&mut tx, &plan)?;
    fault_point();
    tx.commit()?;
    Ok(plan)
}

/// Revoke a token and its children (deepest first), or its whole rotation family.
/// Returns the ids revoked.
pub fn revoke(
    policy: &mut dyn Policy,
    store: &mut Store,
    id: &str,
    scope: wit::RevokeScope,
    actor: &Actor,
) -> anyhow::Result<Vec<String>> {
    let plan = change_family(store, id, actor, |records, context| {
        policy.plan_revoke(id, scope, records, context)
    })?;
    Ok(plan.updates.into_iter().map(|r| r.id).collect())
}

/// Revoke tokens `ids`, each with its children, inside the caller's write transaction
/// `tx` (a store change that must not leave them live: removing an account or a
/// repository): each as the policy plans it for `actor` (`plan-revoke`, scope token), its
/// records and `revoke` events written. Tokens already revoked or gone are skipped.
/// Returns every id revoked, once each. A refusal is an error: the caller's transaction,
/// dropped, changes nothing.
pub fn revoke_in(
    tx: &mut Conn,
    policy: &mut dyn Policy,
    ids: &[String],
    actor: &Actor,
) -> anyhow::Result<Vec<String>> {
    let context = actor.context(tx)?;
    let mut revoked: Vec<String> = Vec::new();
    for id in ids {
        if token_by_id(tx, id)?.is_none_or(|t| t.record.revoked.is_some()) {
            continue;
        }
        let records = owner_records(tx, id)?;
        let plan = policy
            .plan_revoke(id, wit::RevokeScope::Token, &records, &context)
            .map_err(policy_err)?
            .map_err(|e| {
                fail(
                    EXIT_REFUSED,
                    format!(
                        "the policy refused to revoke token `{id}`: {}; nothing was changed",
                        e.describe()
                    ),
                )
            })?;
        apply_plan(tx, &plan)?;
        for r in plan.updates {
            if !revoked.contains(&r.id) {
                revoked.push(r.id);
            }
        }
    }
    Ok(revoked)
}

/// Edit a token; shortening it shortens its children. Returns the records written.
pub fn edit(
    policy: &mut dyn Policy,
    store: &mut Store,
    id: &str,
    change: &wit::TokenEdit,
    actor: &Actor,
) -> anyhow::Result<Vec<wit::TokenRecord>> {
    let plan = change_family(store, id, actor, |records, context| {
        policy.plan_edit(id, change, records, context)
    })?;
    Ok(plan.updates)
}

fn entries(tx: &mut Conn) -> anyhow::Result<Vec<wit::AuditEntry>> {
    Ok(all_tokens(tx)?
        .into_iter()
        .map(
            |StoredToken {
                 record,
                 expiry_recorded,
                 ..
             }| wit::AuditEntry {
                record,
                expiry_recorded,
            },
        )
        .collect())
}

/// Record the expiry of every token past it: one `expire` event each.
pub fn expire(
    policy: &mut dyn Policy,
    store: &mut Store,
    actor: &Actor,
) -> anyhow::Result<Vec<wit::HistoryEvent>> {
    let mut tx = store.write()?;
    let context = actor.context(&mut tx)?;
    let events = policy
        .plan_expire(&entries(&mut tx)?, &context)
        .map_err(policy_err)?;
    for e in &events {
        put_event(&mut tx, e)?;
        mark_expired(&mut tx, &e.token_id)?;
    }
    tx.commit()?;
    Ok(events)
}

/// Audit the store; with `fix`, apply every safe repair (each recorded in the history
/// with the acting user). Returns the findings.
pub fn audit(
    policy: &mut dyn Policy,
    store: &mut Store,
    fix: bool,
    actor: &Actor,
) -> anyhow::Result<Vec<wit::AuditFinding>> {
    let mut tx = store.write()?;
    let all = entries(&mut tx)?;
    let context = actor.context(&mut tx)?;
    let findings = policy.audit(&all, &context).map_err(policy_err)?;
    if fix {
        // Each repair as the policy gave it: the record to write (or the expiry to
        // record) and its history event.
        for f in &findings {
            match (&f.fix, &f.event) {
                (Some(wit::AuditFix::Update(r)), Some(e)) => {
                    let recorded = all.iter().any(|x| x.record.id == r.id && x.expiry_recorded);
                    put_token(&mut tx, r, recorded)?;
                    put_event(&mut tx, e)?;
                }
                (Some(wit::AuditFix::RecordExpiry(id)), Some(e)) => {
                    put_event(&mut tx, e)?;
                    mark_expired(&mut tx, id)?;
                }
                (Some(_), None) => bail!("the policy gave a repair without its history event"),
                (None, _) => {}
            }
        }
    }
    tx.commit()?;
    Ok(findings)
}

/// Carry out the store writes a decision asked for, on the presented token `token`:
/// its last-used stamp, and the revocation of its leaked rotation family (asked of the
/// policy with the presented token as the actor: a token may always end its own family).
pub fn apply_effects(
    policy: &mut dyn Policy,
    store: &mut Store,
    effects: forge_authz_guest::policy::Effects,
    token: Option<&str>,
    ip: Option<String>,
    now: i64,
) -> anyhow::Result<()> {
    if !crate::request::any_effect(effects) {
        return Ok(());
    }
    let Some(id) = token else {
        bail!("the policy asked for store effects without a token");
    };
    if effects.touch_last_used {
        touch_last_used(store.conn(), id, now)?;
    }
    if effects.revoke_family {
        let actor = Actor {
            who: Who::Token(id.to_string()),
            ip,
            now,
        };
        revoke(policy, store, id, wit::RevokeScope::Family, &actor)?;
    }
    Ok(())
}
