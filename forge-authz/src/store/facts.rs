//! The facts of one decision, read from the store as the decision asks for them: each
//! lookup is one or two indexed statements, prepared once per connection, so a decision
//! costs the same whatever the number of users, repositories or tokens.

use std::cell::RefCell;

use super::{Conn, Role, Row, Store, name_key, parse_blocks, token_by_id};
use crate::facts::{FactSource, FoundRepository};
use crate::vals;
use crate::wit::core as convert;
use crate::world::{AccessDef, KeyKind, RepoKind, Status, Visibility};
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

    fn read<T>(
        &self,
        f: impl FnOnce(&mut Conn) -> anyhow::Result<Option<T>>,
    ) -> anyhow::Result<Option<T>> {
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

fn role(r: &Row, i: usize) -> anyhow::Result<Role> {
    Ok(match r.opt_text(i)? {
        Some(t) => named::parse::<Role>(&t)?,
        None => Role::None,
    })
}

/// A user's facts by name.
pub fn user(conn: &mut Conn, name: &str) -> anyhow::Result<Option<policy::UserFacts>> {
    let Some(r) = conn.query_opt(
        "SELECT name, status, site_admin, visibility, organization FROM users WHERE name_key = $1",
        &vals![name_key(name)],
    )?
    else {
        return Ok(None);
    };
    Ok(Some(policy::UserFacts {
        status: named::parse::<Status>(&r.text(1)?)?,
        site_admin: r.flag(2)?,
        visibility: named::parse::<Visibility>(&r.text(3)?)?,
        organization: r.flag(4)?,
    }))
}

/// A repository's facts for `actor` (None: anonymous): the repository with its owner's
/// visibility and the actor's role (collaborator or organisation member, the higher) in
/// one statement; its protected refs in a second one when it has any.
pub fn repository(
    conn: &mut Conn,
    path: &str,
    actor: Option<&str>,
) -> anyhow::Result<Option<FoundRepository>> {
    let Some((owner, name)) = path.split_once('/') else {
        return Ok(None);
    };
    let (ok, nk) = (name_key(owner), name_key(name));
    let Some(r) = conn.query_opt(
        "SELECT r.owner, r.name, r.private, r.kind, r.archived, r.registrant, u.visibility, \
         (SELECT c.role FROM collaborators c WHERE c.owner_key = r.owner_key \
            AND c.name_key = r.name_key AND c.login_key = $3), \
         (SELECT m.role FROM org_members m WHERE u.organization = 1 \
            AND m.org_key = r.owner_key AND m.member_key = $3), \
         (SELECT count(*) FROM protected_refs p WHERE p.owner_key = r.owner_key \
            AND p.name_key = r.name_key), \
         u.ip_allow \
         FROM repositories r LEFT JOIN users u ON u.name_key = r.owner_key \
         WHERE r.owner_key = $1 AND r.name_key = $2",
        &vals![ok.as_str(), nk.as_str(), actor.map(name_key)],
    )?
    else {
        return Ok(None);
    };
    let role = match actor {
        Some(_) => role(&r, 7)?.max(role(&r, 8)?),
        None => Role::None,
    };
    let protected_refs = if r.int(9)? > 0 {
        protected_refs(conn, &ok, &nk)?
    } else {
        Vec::new()
    };
    let stored = format!("{}/{}", r.text(0)?, r.text(1)?);
    Ok(Some((
        stored,
        policy::RepositoryFacts {
            // An owner missing from `users` is an unknown fact: treated as private.
            owner_visibility: match r.opt_text(6)? {
                Some(v) => named::parse::<Visibility>(&v)?,
                None => policy::Visibility::Private,
            },
            private: r.flag(2)?,
            kind: named::parse::<RepoKind>(&r.text(3)?)?,
            archived: r.flag(4)?,
            role,
            protected_refs,
            registrant: r.opt_text(5)?,
            // No owner row: no list (the repository is treated as private already).
            owner_ip_allow: match r.opt_text(10)? {
                Some(list) => parse_blocks(&list)?,
                None => Vec::new(),
            },
        },
    )))
}

fn protected_refs(
    conn: &mut Conn,
    ok: &str,
    nk: &str,
) -> anyhow::Result<Vec<policy::ProtectedRef>> {
    let users = conn.query(
        "SELECT ordinal, rule, login FROM protected_ref_users \
         WHERE owner_key = $1 AND name_key = $2 ORDER BY ordinal, rule, idx",
        &vals![ok, nk],
    )?;
    let users_of = |ordinal: i64, rule: &str| -> anyhow::Result<Vec<String>> {
        let mut out = Vec::new();
        for u in &users {
            if u.int(0)? == ordinal && u.text(1)? == rule {
                out.push(u.text(2)?);
            }
        }
        Ok(out)
    };
    let access = |kind: &str, ordinal: i64, rule: &str| -> anyhow::Result<policy::RefAccess> {
        let users = if kind == "users" {
            users_of(ordinal, rule)?
        } else {
            Vec::new()
        };
        Ok(AccessDef::from_kind(kind, users)?.to_core())
    };
    conn.query(
        "SELECT ordinal, pattern, push, force_push FROM protected_refs \
         WHERE owner_key = $1 AND name_key = $2 ORDER BY ordinal",
        &vals![ok, nk],
    )?
    .iter()
    .map(|r| {
        let ordinal = r.int(0)?;
        Ok(policy::ProtectedRef {
            pattern: r.text(1)?,
            push: access(&r.text(2)?, ordinal, "push")?,
            force_push: access(&r.text(3)?, ordinal, "force_push")?,
        })
    })
    .collect()
}

/// A user's or organisation's facts for `actor`: a user is admin of its own namespace;
/// an organisation's members have their role.
pub fn namespace(
    conn: &mut Conn,
    name: &str,
    actor: Option<&str>,
) -> anyhow::Result<Option<policy::NamespaceFacts>> {
    let Some(r) = conn.query_opt(
        "SELECT u.name, u.organization, u.visibility, \
         (SELECT m.role FROM org_members m WHERE u.organization = 1 \
            AND m.org_key = u.name_key AND m.member_key = $2), \
         u.ip_allow \
         FROM users u WHERE u.name_key = $1",
        &vals![name_key(name), actor.map(name_key)],
    )?
    else {
        return Ok(None);
    };
    let organization = r.flag(1)?;
    let stored = r.text(0)?;
    let member_role = match actor {
        None => Role::None,
        Some(a) if !organization && stored.eq_ignore_ascii_case(a) => Role::Admin,
        Some(_) => role(&r, 3)?,
    };
    Ok(Some(policy::NamespaceFacts {
        organization,
        visibility: named::parse::<Visibility>(&r.text(2)?)?,
        member_role,
        ip_allow: parse_blocks(&r.text(4)?)?,
    }))
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
        self.read(|c| {
            Ok(token_by_id(c, id)?.map(|t| policy::TokenFacts {
                ip_allow: t.ip_allow,
                ..convert::record_in(t.record).facts()
            }))
        })
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
}
