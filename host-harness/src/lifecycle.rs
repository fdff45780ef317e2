//! Token lifecycle operations against the SQLite store. Each operation reads what the
//! policy needs inside one write transaction, asks the policy module, and writes exactly
//! what it returned (records and history events) before committing. Nothing here decides:
//! a refusal is the policy's.

use anyhow::{Context as _, anyhow, bail};

use crate::policy::Policy;
use crate::request::FactSource;
use crate::store::{Store, StoredToken, put_event, put_token, tokens_in};
use crate::wit;
use crate::world::World;

/// Who acts, from where, when.
#[derive(Clone, Debug)]
pub struct Actor {
    /// Login of the acting user.
    pub name: String,
    /// Client IP.
    pub ip: Option<String>,
    /// Now.
    pub now: i64,
}

impl Actor {
    fn context(&self) -> wit::ChangeContext {
        wit::ChangeContext {
            actor: self.name.clone(),
            ip: self.ip.clone(),
            now: self.now,
        }
    }
}

/// Facts from a store: token records live from SQL, everything else from a snapshot.
#[derive(Debug)]
pub struct StoreFacts<'a> {
    /// Users, repositories, keys, options (tokens are read live).
    pub world: World,
    store: &'a Store,
}

impl<'a> StoreFacts<'a> {
    /// Snapshot a store's facts.
    pub fn new(store: &'a Store) -> anyhow::Result<StoreFacts<'a>> {
        let mut world = store.export_world()?;
        world.tokens.clear();
        Ok(StoreFacts { world, store })
    }
}

impl FactSource for StoreFacts<'_> {
    fn token(&self, id: &str) -> Option<wit::TokenRecord> {
        // A store error is a missing record: the policy answers 401, never allows.
        self.store.token(id).ok().flatten().map(|t| t.record)
    }
    fn user(&self, name: &str) -> Option<wit::UserFacts> {
        self.world.user(name)
    }
    fn repository(&self, path: &str, actor: Option<&str>) -> Option<wit::RepositoryFacts> {
        self.world.repository(path, actor)
    }
    fn namespace(&self, name: &str, actor: Option<&str>) -> Option<wit::NamespaceFacts> {
        self.world.namespace(name, actor)
    }
    fn ssh_key(&self, id: &str) -> Option<wit::SshKey> {
        self.world.ssh_key(id)
    }
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

fn live_names(conn: &rusqlite::Connection, owner: &str, now: i64) -> anyhow::Result<Vec<String>> {
    Ok(tokens_in(
        conn,
        "WHERE owner = ?1 AND revoked IS NULL AND (expires IS NULL OR expires > ?2)",
        &[&owner, &now],
    )?
    .into_iter()
    .map(|t| t.record.name)
    .collect())
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

/// Mint a token as `actor` (a session of that user). Returns the secret (show once) and
/// the stored record.
pub fn create(
    policy: &mut dyn Policy,
    store: &mut Store,
    args: &CreateArgs,
    actor: &Actor,
) -> anyhow::Result<(String, wit::TokenRecord)> {
    let facts = StoreFacts::new(store)?.world;
    let user = facts
        .user(&actor.name)
        .with_context(|| format!("no user `{}`", actor.name))?;
    let bound_facts = args
        .repositories
        .iter()
        .map(|r| wit::BatchTarget {
            repository: r.clone(),
            facts: facts.repository(r, Some(&args.owner)),
        })
        .collect();
    let tx = store.write()?;
    let request = wit::IssueRequest {
        owner: args.owner.clone(),
        name: args.name.clone(),
        scopes: args.scopes.clone(),
        repositories: args.repositories.clone(),
        owners: args.owners.clone(),
        expires: args.expires,
        now: actor.now,
        creator: wit::Creator::Session(user),
        existing_names: live_names(&tx, &args.owner, actor.now)?,
        bound_facts,
        ip: actor.ip.clone(),
    };
    let issued = policy
        .issue(&request)
        .map_err(policy_err)?
        .map_err(|e| anyhow!("refused: {}", e.describe()))?;
    put_token(&tx, &issued.record, false)?;
    put_event(&tx, &issued.event)?;
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
    let tx = store.write()?;
    let parent = tokens_in(&tx, "WHERE id = ?1", &[&parent_id])?
        .into_iter()
        .next()
        .with_context(|| format!("no token `{parent_id}`"))?
        .record;
    let children = tokens_in(
        &tx,
        "WHERE parent = ?1 AND revoked IS NULL AND (expires IS NULL OR expires > ?2)",
        &[&parent_id, &actor.now],
    )?
    .into_iter()
    .map(|t| t.record)
    .collect();
    let request = wit::ChildRequest {
        parent,
        scopes: scopes.to_vec(),
        lifetime,
        minimum_lifetime,
        existing_children: children,
        context: actor.context(),
    };
    let outcome = policy
        .derive_child(&request)
        .map_err(policy_err)?
        .map_err(|e| anyhow!("refused: {}", e.describe()))?;
    match outcome {
        wit::ChildOutcome::Reuse(r) => {
            tx.commit()?;
            Ok(ChildResult::Reused(r))
        }
        wit::ChildOutcome::Minted(t) => {
            put_token(&tx, &t.record, false)?;
            put_event(&tx, &t.event)?;
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
    let tx = store.write()?;
    let old = tokens_in(&tx, "WHERE id = ?1", &[&id])?
        .into_iter()
        .next()
        .with_context(|| format!("no token `{id}`"))?;
    let rotation = policy
        .rotate(&wit::RotateRequest {
            old: old.record,
            expires,
            records: owner_records(&tx, id)?,
            context: actor.context(),
        })
        .map_err(policy_err)?
        .map_err(|e| anyhow!("refused: {}", e.describe()))?;
    put_token(&tx, &rotation.old, old.expiry_recorded)?;
    put_token(&tx, &rotation.new.record, false)?;
    // The children the policy revoked with the old token, and every event.
    apply_plan(
        &tx,
        &wit::ChangePlan {
            updates: rotation.revoked_children,
            events: rotation.events,
        },
    )?;
    fault_point();
    tx.commit()?;
    Ok((rotation.new.secret, rotation.new.record))
}

fn apply_plan(tx: &rusqlite::Transaction<'_>, plan: &wit::ChangePlan) -> anyhow::Result<()> {
    for r in &plan.updates {
        let recorded = tokens_in(tx, "WHERE id = ?1", &[&r.id])?
            .first()
            .is_some_and(|t| t.expiry_recorded);
        put_token(tx, r, recorded)?;
    }
    for e in &plan.events {
        put_event(tx, e)?;
    }
    Ok(())
}

fn owner_records(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
) -> anyhow::Result<Vec<wit::TokenRecord>> {
    let owner = tokens_in(tx, "WHERE id = ?1", &[&id])?
        .into_iter()
        .next()
        .with_context(|| format!("no token `{id}`"))?
        .record
        .owner;
    Ok(tokens_in(tx, "WHERE owner = ?1", &[&owner])?
        .into_iter()
        .map(|t| t.record)
        .collect())
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
    let tx = store.write()?;
    let records = owner_records(&tx, id)?;
    let plan = policy
        .plan_revoke(id, scope, &records, &actor.context())
        .map_err(policy_err)?
        .map_err(|e| anyhow!("refused: {}", e.describe()))?;
    apply_plan(&tx, &plan)?;
    fault_point();
    tx.commit()?;
    Ok(plan.updates.into_iter().map(|r| r.id).collect())
}

/// Edit a token; shortening it shortens its children. Returns the records written.
pub fn edit(
    policy: &mut dyn Policy,
    store: &mut Store,
    id: &str,
    change: &wit::TokenEdit,
    actor: &Actor,
) -> anyhow::Result<Vec<wit::TokenRecord>> {
    let tx = store.write()?;
    let records = owner_records(&tx, id)?;
    let plan = policy
        .plan_edit(id, change, &records, &actor.context())
        .map_err(policy_err)?
        .map_err(|e| anyhow!("refused: {}", e.describe()))?;
    apply_plan(&tx, &plan)?;
    fault_point();
    tx.commit()?;
    Ok(plan.updates)
}

fn entries(tx: &rusqlite::Connection) -> anyhow::Result<Vec<wit::AuditEntry>> {
    Ok(tokens_in(tx, "ORDER BY created, id", &[])?
        .into_iter()
        .map(
            |StoredToken {
                 record,
                 expiry_recorded,
             }| wit::AuditEntry {
                record,
                expiry_recorded,
            },
        )
        .collect())
}

fn mark_expired(tx: &rusqlite::Transaction<'_>, id: &str) -> anyhow::Result<()> {
    tx.execute("UPDATE tokens SET expiry_recorded = 1 WHERE id = ?1", [id])?;
    Ok(())
}

/// Record the expiry of every token past it: one `expire` event each.
pub fn expire(
    policy: &mut dyn Policy,
    store: &mut Store,
    actor: &Actor,
) -> anyhow::Result<Vec<wit::HistoryEvent>> {
    let tx = store.write()?;
    let events = policy
        .plan_expire(&entries(&tx)?, &actor.context())
        .map_err(policy_err)?;
    for e in &events {
        put_event(&tx, e)?;
        mark_expired(&tx, &e.token_id)?;
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
    let tx = store.write()?;
    let all = entries(&tx)?;
    let findings = policy.audit(&all, &actor.context()).map_err(policy_err)?;
    if fix {
        // Each repair as the policy gave it: the record to write (or the expiry to
        // record) and its history event.
        for f in &findings {
            match (&f.fix, &f.event) {
                (Some(wit::AuditFix::Update(r)), Some(e)) => {
                    let recorded = all.iter().any(|x| x.record.id == r.id && x.expiry_recorded);
                    put_token(&tx, r, recorded)?;
                    put_event(&tx, e)?;
                }
                (Some(wit::AuditFix::RecordExpiry(id)), Some(e)) => {
                    put_event(&tx, e)?;
                    mark_expired(&tx, id)?;
                }
                (Some(_), None) => bail!("the policy gave a repair without its history event"),
                (None, _) => {}
            }
        }
    }
    tx.commit()?;
    Ok(findings)
}

/// Carry out the store writes a decision asked for: last-used stamps, and the revocation
/// of a leaked rotation family.
pub fn apply_effects(
    policy: &mut dyn Policy,
    store: &mut Store,
    effects: &[wit::Effect],
    actor: &Actor,
) -> anyhow::Result<()> {
    for e in effects {
        match e {
            wit::Effect::TouchLastUsed(id) => {
                let tx = store.write()?;
                tx.execute(
                    "UPDATE tokens SET last_used = ?1 WHERE id = ?2",
                    rusqlite::params![actor.now, id],
                )?;
                tx.commit()?;
            }
            wit::Effect::RevokeFamily(id) => {
                revoke(policy, store, id, wit::RevokeScope::Family, actor)?;
            }
        }
    }
    Ok(())
}
