//! The facts of one decision, read from the store as the decision asks for them: each
//! per-fact lookup is one indexed statement, prepared once per connection, so a decision
//! costs the same whatever the number of users, repositories or tokens. A decision's whole
//! query is one statement (`lookup`) built from the same columns and read by the same
//! row readers (`lookup`'s `*_at`).

use std::cell::RefCell;

use super::lookup::{
    namespace_at, per_dialect, pick, repository_at, repository_columns, token_facts, user_at,
};
use super::{Conn, Dialect, Store, name_key, token_by_id};
use crate::facts::{Answered, FactSource, FoundRepository, registrant_if_asked};
use crate::vals;
use crate::world::KeyKind;
use forge_authz_fixture::named;
use forge_authz_guest::policy;

/// A fact source over an open store. A store error fails the lookup (the policy call fails
/// and the host denies with `policy-failure`) and is remembered (`take_error`) for the
/// caller's log, so an unreachable database never allows anything.
pub struct StoreFacts<'a> {
    conn: RefCell<&'a mut Conn>,
    error: RefCell<Option<anyhow::Error>>,
}

impl std::fmt::Debug for StoreFacts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreFacts").finish_non_exhaustive()
    }
}

impl<'a> StoreFacts<'a> {
    /// Facts from `store`, read per lookup.
    pub fn new(store: &'a mut Store) -> StoreFacts<'a> {
        StoreFacts::over(store.conn())
    }

    /// Facts from a connection (also inside a write transaction).
    pub fn over(conn: &'a mut Conn) -> StoreFacts<'a> {
        StoreFacts {
            conn: RefCell::new(conn),
            error: RefCell::new(None),
        }
    }

    /// The first store error met by a lookup, if any.
    pub fn take_error(&self) -> Option<anyhow::Error> {
        self.error.try_borrow_mut().ok().and_then(|mut e| e.take())
    }

    fn read<T>(&self, f: impl FnOnce(&mut Conn) -> anyhow::Result<T>) -> anyhow::Result<T> {
        let result = match self.conn.try_borrow_mut() {
            Ok(mut conn) => f(&mut conn),
            Err(_) => Err(anyhow::anyhow!("re-entrant fact lookup")),
        };
        if let Err(e) = &result
            && let Ok(mut slot) = self.error.try_borrow_mut()
            && slot.is_none()
        {
            *slot = Some(anyhow::anyhow!("{e:#}"));
        }
        result
    }
}

/// A user's facts by name.
pub fn user(conn: &mut Conn, name: &str) -> anyhow::Result<Option<policy::UserFacts>> {
    match conn.query_opt(
        "SELECT status, site_admin, visibility, organization FROM users WHERE name_key = $1",
        &vals![name_key(name)],
    )? {
        Some(r) => user_at(&r, 0),
        None => Ok(None),
    }
}

macro_rules! repository_sql {
    ($agg:literal, $arr:literal) => {
        concat!(
            "SELECT ",
            repository_columns!($agg, $arr, "CAST($3 AS TEXT)"),
            " FROM repositories r LEFT JOIN users ru ON ru.name_key = r.owner_key \
             WHERE r.owner_key = $1 AND r.name_key = $2"
        )
    };
}

const REPOSITORY: [&str; 2] = per_dialect!(repository_sql!());

/// A repository's facts for `actor` (None: anonymous): the repository with its owner's
/// visibility, the actor's role (collaborator or organisation member, the higher) and its
/// protected refs, in one statement.
pub fn repository(
    conn: &mut Conn,
    path: &str,
    actor: Option<&str>,
) -> anyhow::Result<Option<FoundRepository>> {
    let Some((owner, name)) = path.split_once('/') else {
        return Ok(None);
    };
    let sql = pick(conn.dialect(), &REPOSITORY);
    match conn.query_opt(
        sql,
        &vals![name_key(owner), name_key(name), actor.map(name_key)],
    )? {
        Some(r) => repository_at(&r, 0),
        None => Ok(None),
    }
}

/// A user's or organisation's facts for `actor`: a user is admin of its own namespace;
/// an organisation's members have their role.
pub fn namespace(
    conn: &mut Conn,
    name: &str,
    actor: Option<&str>,
) -> anyhow::Result<Option<policy::NamespaceFacts>> {
    let actor = actor.map(name_key);
    match conn.query_opt(
        "SELECT u.name_key, u.organization, u.visibility, \
         (SELECT m.role FROM org_members m WHERE u.organization = 1 \
            AND m.org_key = u.name_key AND m.member_key = $2), \
         u.ip_allow \
         FROM users u WHERE u.name_key = $1",
        &vals![name_key(name), actor.as_deref()],
    )? {
        Some(r) => namespace_at(&r, 0, actor.as_deref()),
        None => Ok(None),
    }
}

/// Many repositories as `viewer` sees them (`authorize-batch`): one statement each, in
/// one read transaction on SQLite when none is open (one snapshot and one read-mark lock
/// for the batch); inside a caller's transaction, or on PostgreSQL (where a transaction
/// would add two round trips), the statements run as they are.
fn repositories(
    conn: &mut Conn,
    paths: &[String],
    viewer: Option<&str>,
) -> anyhow::Result<Vec<Option<policy::RepositoryFacts>>> {
    let each = |c: &mut Conn| -> anyhow::Result<Vec<Option<policy::RepositoryFacts>>> {
        paths
            .iter()
            .map(|p| {
                let found = repository(c, p, viewer)?;
                Ok(found.map(|(_, f)| registrant_if_asked(f, false)))
            })
            .collect()
    };
    if conn.dialect() == Dialect::Sqlite && paths.len() > 1 && conn.autocommit() {
        let mut tx = conn.snapshot()?;
        let out = each(&mut tx)?;
        tx.commit()?;
        return Ok(out);
    }
    each(conn)
}

/// An SSH key by id.
pub fn ssh_key(conn: &mut Conn, id: &str) -> anyhow::Result<Option<policy::SshKey>> {
    let Some(r) = conn.query_opt(
        "SELECT id, kind, owner, repository, read_only FROM ssh_keys WHERE id = $1",
        &vals![id],
    )?
    else {
        return Ok(None);
    };
    Ok(Some(policy::SshKey {
        id: r.text(0)?,
        kind: named::parse::<KeyKind>(&r.text(1)?)?,
        owner: r.text(2)?,
        repository: r.opt_text(3)?,
        read_only: r.flag(4)?,
    }))
}

impl FactSource for StoreFacts<'_> {
    fn token(&self, id: &str) -> anyhow::Result<Option<policy::TokenFacts>> {
        self.read(|c| Ok(token_by_id(c, id)?.map(token_facts)))
    }
    fn user(&self, name: &str) -> anyhow::Result<Option<policy::UserFacts>> {
        self.read(|c| user(c, name))
    }
    fn repository(
        &self,
        path: &str,
        viewer: Option<&str>,
    ) -> anyhow::Result<Option<FoundRepository>> {
        self.read(|c| repository(c, path, viewer))
    }
    fn namespace(
        &self,
        name: &str,
        viewer: Option<&str>,
    ) -> anyhow::Result<Option<policy::NamespaceFacts>> {
        self.read(|c| namespace(c, name, viewer))
    }
    fn ssh_key(&self, id: &str) -> anyhow::Result<Option<policy::SshKey>> {
        self.read(|c| ssh_key(c, id))
    }
    /// One statement (one read transaction, one round trip): see `lookup`.
    fn lookup(&self, q: &policy::FactQuery<'_>) -> anyhow::Result<Answered> {
        self.read(|c| super::lookup::lookup(c, q))
    }
    /// One read transaction on SQLite: see `lookup::repositories`.
    fn repositories(
        &self,
        paths: &[String],
        viewer: Option<&str>,
    ) -> anyhow::Result<Vec<Option<policy::RepositoryFacts>>> {
        self.read(|c| repositories(c, paths, viewer))
    }
}
