//! The whole store as a world file (`forge-authz export`): each table family read once,
//! in the order the world lists it.

use std::collections::BTreeMap;

use super::{Conn, all_tokens, parse_blocks, ssh_key_from_row};
use crate::wit::core as convert;
use crate::world::{
    AccessDef, KeyDef, OptionsDef, ProtectedRefDef, RepoDef, RepoKind, Role, Status, TokenDef,
    UserDef, Visibility, World,
};
use forge_authz_fixture::named;

/// `(owner_key, name_key)`: a repository as the tables key it.
type RepoKey = (String, String);

/// The world held by `c`, checked as an imported world is.
pub(super) fn world(
    c: &mut Conn,
    signing_key: String,
    options: OptionsDef,
    now: Option<i64>,
) -> anyhow::Result<World> {
    let keys = c
        .query(
            "SELECT id, secret FROM keys WHERE retired_at IS NULL ORDER BY ordinal",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(KeyDef {
                id: r.text(0)?,
                secret: r.text(1)?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let users = users(c)?;
    let repositories = repositories(c)?;
    let ssh_keys = c
        .query(
            "SELECT id, kind, owner, repository, read_only, public_key FROM ssh_keys \
             ORDER BY seq",
            &[],
        )?
        .iter()
        .map(ssh_key_from_row)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let tokens = all_tokens(c)?
        .into_iter()
        .map(|t| TokenDef {
            ip_allow: t.ip_allow,
            ..TokenDef::from_record(&convert::record_in(t.record))
        })
        .collect();
    let world = World {
        now,
        keys,
        signing_key,
        users,
        repositories,
        tokens,
        ssh_keys,
        options,
    };
    world.validate()?;
    Ok(world)
}

/// Users and organisations, each organisation with its members.
fn users(c: &mut Conn) -> anyhow::Result<Vec<UserDef>> {
    let mut members: BTreeMap<String, BTreeMap<String, Role>> = BTreeMap::new();
    for r in c.query("SELECT org_key, member, role FROM org_members", &[])? {
        members
            .entry(r.text(0)?)
            .or_default()
            .insert(r.text(1)?, named::parse::<Role>(&r.text(2)?)?);
    }
    let mut users = Vec::new();
    for r in c.query(
        "SELECT name_key, name, status, site_admin, visibility, organization, ip_allow \
         FROM users ORDER BY seq",
        &[],
    )? {
        users.push(UserDef {
            name: r.text(1)?,
            status: named::parse::<Status>(&r.text(2)?)?,
            site_admin: r.flag(3)?,
            visibility: named::parse::<Visibility>(&r.text(4)?)?,
            organization: r.flag(5)?,
            members: members.remove(&r.text(0)?).unwrap_or_default(),
            ip_allow: parse_blocks(&r.text(6)?)?,
        });
    }
    Ok(users)
}

/// Repositories with their collaborators and protected refs.
fn repositories(c: &mut Conn) -> anyhow::Result<Vec<RepoDef>> {
    let mut collaborators: BTreeMap<RepoKey, BTreeMap<String, Role>> = BTreeMap::new();
    for r in c.query(
        "SELECT owner_key, name_key, login, role FROM collaborators",
        &[],
    )? {
        collaborators
            .entry((r.text(0)?, r.text(1)?))
            .or_default()
            .insert(r.text(2)?, named::parse::<Role>(&r.text(3)?)?);
    }
    let mut refs = protected_refs(c)?;
    let mut repositories = Vec::new();
    for r in c.query(
        "SELECT owner_key, name_key, owner, name, private, kind, archived, registrant \
         FROM repositories ORDER BY seq",
        &[],
    )? {
        let key = (r.text(0)?, r.text(1)?);
        repositories.push(RepoDef {
            owner: r.text(2)?,
            name: r.text(3)?,
            private: r.flag(4)?,
            kind: named::parse::<RepoKind>(&r.text(5)?)?,
            archived: r.flag(6)?,
            collaborators: collaborators.remove(&key).unwrap_or_default(),
            protected_refs: refs.remove(&key).unwrap_or_default(),
            registrant: r.opt_text(7)?,
        });
    }
    Ok(repositories)
}

/// Protected refs by repository, in their stored order, each with its named users.
fn protected_refs(c: &mut Conn) -> anyhow::Result<BTreeMap<RepoKey, Vec<ProtectedRefDef>>> {
    let mut users_of: BTreeMap<(RepoKey, i64, String), Vec<String>> = BTreeMap::new();
    for r in c.query(
        "SELECT owner_key, name_key, ordinal, rule, login FROM protected_ref_users \
         ORDER BY owner_key, name_key, ordinal, rule, idx",
        &[],
    )? {
        users_of
            .entry(((r.text(0)?, r.text(1)?), r.int(2)?, r.text(3)?))
            .or_default()
            .push(r.text(4)?);
    }
    let mut refs: BTreeMap<RepoKey, Vec<ProtectedRefDef>> = BTreeMap::new();
    for r in c.query(
        "SELECT owner_key, name_key, ordinal, pattern, push, force_push FROM protected_refs \
         ORDER BY owner_key, name_key, ordinal",
        &[],
    )? {
        let key = (r.text(0)?, r.text(1)?);
        let ordinal = r.int(2)?;
        let mut access = |rule: &str, kind: String| -> anyhow::Result<AccessDef> {
            AccessDef::from_kind(
                &kind,
                users_of
                    .remove(&(key.clone(), ordinal, rule.to_owned()))
                    .unwrap_or_default(),
            )
        };
        let push = access("push", r.text(4)?)?;
        let force_push = access("force_push", r.text(5)?)?;
        refs.entry(key.clone()).or_default().push(ProtectedRefDef {
            pattern: r.text(3)?,
            push,
            force_push,
        });
    }
    Ok(refs)
}
