//! Organisations' members (`forge-authz member ...`): who belongs, with which role; each
//! change checked (an organisation's member is a user) and recorded.

use super::{Conn, Member, Refusal, Store, config, expect_account, invalid, name_key, not_found};
use crate::vals;
use crate::world::Role;
use forge_authz_fixture::named;

/// Organisation `org`'s members, by login.
pub fn members(conn: &mut Conn, org: &str) -> anyhow::Result<Vec<Member>> {
    expect_account(conn, org, true)?;
    conn.query(
        "SELECT member, role FROM org_members WHERE org_key = $1 ORDER BY member_key",
        &vals![name_key(org)],
    )?
    .iter()
    .map(|r| {
        Ok(Member {
            login: r.text(0)?,
            role: r.text(1)?,
        })
    })
    .collect()
}

/// The organisations user `login` belongs to, as (organisation, role), by name.
pub fn memberships(conn: &mut Conn, login: &str) -> anyhow::Result<Vec<Member>> {
    conn.query(
        "SELECT u.name, m.role FROM org_members m JOIN users u ON u.name_key = m.org_key \
         WHERE m.member_key = $1 ORDER BY m.org_key",
        &vals![name_key(login)],
    )?
    .iter()
    .map(|r| {
        Ok(Member {
            login: r.text(0)?,
            role: r.text(1)?,
        })
    })
    .collect()
}

fn member(conn: &mut Conn, org: &str, login: &str) -> anyhow::Result<Option<Member>> {
    conn.query_opt(
        "SELECT member, role FROM org_members WHERE org_key = $1 AND member_key = $2",
        &vals![name_key(org), name_key(login)],
    )?
    .map(|r| {
        Ok(Member {
            login: r.text(0)?,
            role: r.text(1)?,
        })
    })
    .transpose()
}

/// A member's role: `read`, `write` or `admin` (`none` is no membership: remove it).
pub fn check_role(role: Role) -> anyhow::Result<Role> {
    if role == Role::None {
        return Err(invalid(
            "role `none` is no membership: use `read`, `write` or `admin`, or remove the member"
                .into(),
        ));
    }
    Ok(role)
}

/// A change to an organisation's membership.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberOp {
    /// Add a member with this role (refused if already a member).
    Add(Role),
    /// Change a member's role (refused if not a member).
    Change(Role),
    /// Remove a member (refused if not a member).
    Remove,
}

impl MemberOp {
    fn role(self) -> Option<Role> {
        match self {
            MemberOp::Add(r) | MemberOp::Change(r) => Some(r),
            MemberOp::Remove => None,
        }
    }

    fn action(self) -> &'static str {
        match self {
            MemberOp::Add(_) => "member-add",
            MemberOp::Change(_) => "member-change",
            MemberOp::Remove => "member-remove",
        }
    }
}

/// Apply `op` to `login`'s membership of `org`, checked and recorded as `actor` at `now`;
/// returns the membership before and after.
pub fn set_member(
    store: &mut Store,
    org: &str,
    login: &str,
    op: MemberOp,
    actor: &str,
    now: i64,
) -> anyhow::Result<(Option<Member>, Option<Member>)> {
    op.role().map(check_role).transpose()?;
    let mut tx = store.write()?;
    let org = expect_account(&mut tx, org, true)?;
    let user = expect_account(&mut tx, login, false).map_err(|e| match e.downcast_ref() {
        Some(Refusal::Invalid(_)) => invalid(format!(
            "`{login}` is an organisation: only users are members of an organisation"
        )),
        _ => e,
    })?;
    let before = member(&mut tx, &org.login, &user.login)?;
    match (&before, op) {
        (Some(m), MemberOp::Add(_)) => {
            return Err(invalid(format!(
                "`{}` is already a member of `{}` (role {}): change the role with \
                 `forge-authz member change {} {} --role ROLE`",
                m.login, org.login, m.role, org.login, m.login
            )));
        }
        (None, MemberOp::Change(_) | MemberOp::Remove) => {
            return Err(not_found(format!(
                "`{}` is not a member of `{}`: add it with `forge-authz member add {} {} \
                 --role ROLE`",
                user.login, org.login, org.login, user.login
            )));
        }
        _ => {}
    }
    let (ok, mk) = (name_key(&org.login), name_key(&user.login));
    tx.execute(
        "DELETE FROM org_members WHERE org_key = $1 AND member_key = $2",
        &vals![ok.as_str(), mk.as_str()],
    )?;
    let after = op.role().map(|r| Member {
        login: user.login.clone(),
        role: r.name().to_owned(),
    });
    if let Some(m) = &after {
        tx.execute(
            "INSERT INTO org_members (org_key, member_key, member, role) VALUES ($1, $2, $3, $4)",
            &vals![ok.as_str(), mk.as_str(), &m.login, &m.role],
        )?;
    }
    let detail = serde_json::json!({
        "organization": &org.login,
        "login": &user.login,
        "before": before.as_ref().map(|m| &m.role),
        "after": after.as_ref().map(|m| &m.role),
    });
    config::record(&mut tx, op.action(), actor, now, None, &detail)?;
    tx.commit()?;
    Ok((before, after))
}

/// A role by the policy's name (`read`, `write`, `admin`), for `--role`.
pub fn parse_role(s: &str) -> Result<Role, String> {
    let roles: Vec<String> = Role::ALL
        .iter()
        .filter(|r| **r != Role::None)
        .map(|r| format!("`{}`", r.name()))
        .collect();
    match named::parse::<Role>(s) {
        Ok(r) if r != Role::None => Ok(r),
        Ok(_) => Err(format!(
            "role `none` is no membership: use {}, or remove the member",
            roles.join(", ")
        )),
        Err(_) => Err(format!(
            "unknown role `{}`: use {}",
            s.escape_debug(),
            roles.join(", ")
        )),
    }
}
