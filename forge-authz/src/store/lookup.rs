//! A decision's whole fact query in one statement (issue 24, docs/design/serve-cost.md
//! §2.6): the token's record and its owner's account, the account, the `sudo` target, the
//! repository and the namespace as the query's viewer sees them — one statement, so one
//! read transaction on SQLite (one read-mark lock on the WAL, not one per fact) and one
//! round trip on PostgreSQL, and one snapshot on both (separate statements could straddle
//! a write). The answer is exactly the per-fact composition's
//! (`FactSource::lookup`'s default, `tests/facts.rs` compares them): the same row
//! readers read the same columns, and what is not a column (the own-namespace `Admin` rule,
//! the registrant only when asked, what the host learned) stays in Rust as there.
//!
//! The row readers (`*_at`) and the repository's columns are here, below `facts`, whose
//! per-fact statements read their rows with them.
//!
//! A query that asks for no token, account or `sudo` target (an anonymous pull) runs a
//! lighter statement of its own, the repository and the namespace only: on PostgreSQL
//! the full one's joins cost their executor nodes even when their keys are NULL.
//!
//! The viewer is an SQL expression: the token owner's key comes from the token row
//! (`t.owner_key`, the record's owner as `name_key` writes it), any other viewer's key is
//! a parameter.

use anyhow::Context as _;

use super::{Conn, Dialect, Role, Row, StoredToken, Value, name_key, parse_blocks, token_from_row};
use crate::facts::{Answered, FoundRepository};
use crate::vals;
use crate::wit::core as convert;
use crate::world::{AccessDef, RepoKind, Status, Visibility};
use forge_authz_fixture::named;
use forge_authz_guest::policy;

/// The token's columns, in `token_from_row`'s order.
const TOKEN_COLUMNS: usize = 17;

/// `$1` token id, `$2` account key, `$3` sudo key, `$4`/`$5` repository owner and name
/// keys, `$6` namespace key, `$7` 1 when the viewer is the token's owner, `$8` the other
/// viewer's key (NULL: anonymous). Columns: the token (17), the viewer's key, the owner,
/// account and sudo users (4 each), the repository (12), the namespace (5).
macro_rules! lookup_sql {
    ($agg:literal, $arr:literal) => {
        concat!(
            "SELECT t.id, t.owner, t.name, t.scopes, t.repositories, t.owners, t.parent, \
             t.predecessor, t.successor, t.created, t.expires, t.revoked, t.last_used, \
             t.secret_hash, t.expiry_recorded, t.secret_kind, t.ip_allow, ",
            viewer!(),
            ", o.status, o.site_admin, o.visibility, o.organization, \
             a.status, a.site_admin, a.visibility, a.organization, \
             s.status, s.site_admin, s.visibility, s.organization, ",
            repository_columns!($agg, $arr, viewer!()),
            ", ",
            namespace_columns!(viewer!()),
            " FROM (SELECT 1 AS one) q \
             LEFT JOIN tokens t ON t.id = CAST($1 AS TEXT) \
             LEFT JOIN users o ON o.name_key = t.owner_key \
             LEFT JOIN users a ON a.name_key = CAST($2 AS TEXT) \
             LEFT JOIN users s ON s.name_key = CAST($3 AS TEXT) ",
            place_joins!("$4", "$5", "$6")
        )
    };
}

/// The light shape (a query with no token, account or `sudo` target: an anonymous pull):
/// `$1`/`$2` repository owner and name keys, `$3` namespace key. Columns: the repository
/// (12), the namespace (5). Its viewer is always anonymous (with none of the three asked,
/// the full statement's viewer expression is NULL whatever the viewer kind), so the
/// viewer's role subselects compare with NULL and match no row, as there (PostgreSQL
/// plans them as constant-false). Its generic plan holds 5 index scans where the full
/// statement's holds 12, each started per execution even with a NULL key: about 0.6× the
/// backend's CPU per anonymous lookup (docs/design/serve-cost.md §5.2).
macro_rules! place_sql {
    ($agg:literal, $arr:literal) => {
        concat!(
            "SELECT ",
            repository_columns!($agg, $arr, "CAST(NULL AS TEXT)"),
            ", ",
            namespace_columns!("CAST(NULL AS TEXT)"),
            " FROM (SELECT 1 AS one) q ",
            place_joins!("$1", "$2", "$3")
        )
    };
}

/// The namespace's 5 columns [`namespace_at`] reads, for the viewer whose key is the SQL
/// expression `$viewer`.
macro_rules! namespace_columns {
    ($viewer:expr) => {
        concat!(
            "n.name_key, n.organization, n.visibility, \
             (SELECT m.role FROM org_members m WHERE n.organization = 1 \
                AND m.org_key = n.name_key AND m.member_key = ",
            $viewer,
            "), n.ip_allow"
        )
    };
}

/// The repository `r` (owner and name keys: parameters `$owner`, `$name`) with its owner
/// `ru`, and the namespace `n` (key: parameter `$ns`).
macro_rules! place_joins {
    ($owner:literal, $name:literal, $ns:literal) => {
        concat!(
            "LEFT JOIN repositories r ON r.owner_key = CAST(",
            $owner,
            " AS TEXT) AND r.name_key = CAST(",
            $name,
            " AS TEXT) \
             LEFT JOIN users ru ON ru.name_key = r.owner_key \
             LEFT JOIN users n ON n.name_key = CAST(",
            $ns,
            " AS TEXT)"
        )
    };
}

/// The viewer's name key as an SQL expression (see [`lookup_sql`]).
macro_rules! viewer {
    () => {
        "(CASE WHEN CAST($7 AS BIGINT) = 1 THEN t.owner_key ELSE CAST($8 AS TEXT) END)"
    };
}

fn role(r: &Row, i: usize) -> anyhow::Result<Role> {
    Ok(match r.opt_str(i)? {
        Some(t) => named::parse::<Role>(t)?,
        None => Role::None,
    })
}

/// A user's facts from 4 columns at `at` (status, site_admin, visibility, organization);
/// a NULL status: no such user.
pub(super) fn user_at(r: &Row, at: usize) -> anyhow::Result<Option<policy::UserFacts>> {
    let Some(status) = r.opt_str(at)? else {
        return Ok(None);
    };
    Ok(Some(policy::UserFacts {
        status: named::parse::<Status>(status)?,
        site_admin: r.flag(at + 1)?,
        visibility: named::parse::<Visibility>(r.str(at + 2)?)?,
        organization: r.flag(at + 3)?,
    }))
}

/// The 12 columns [`repository_at`] reads: the repository `r` with its owner `ru` and the
/// role, in it, of the viewer whose key is the SQL expression `$viewer`; its protected refs
/// and their users as JSON arrays (`$agg`, `$arr`: the dialect's JSON aggregate and array).
macro_rules! repository_columns {
    ($agg:literal, $arr:literal, $viewer:expr) => {
        concat!(
            "r.owner, r.name, r.private, r.kind, r.archived, r.registrant, ru.visibility, \
             (SELECT c.role FROM collaborators c WHERE c.owner_key = r.owner_key \
                AND c.name_key = r.name_key AND c.login_key = ",
            $viewer,
            "), (SELECT m.role FROM org_members m WHERE ru.organization = 1 \
                AND m.org_key = r.owner_key AND m.member_key = ",
            $viewer,
            "), (SELECT CAST(",
            $agg,
            "(",
            $arr,
            "(p.ordinal, p.pattern, p.push, p.force_push)) AS TEXT) FROM protected_refs p \
                WHERE p.owner_key = r.owner_key AND p.name_key = r.name_key), \
             (SELECT CAST(",
            $agg,
            "(",
            $arr,
            "(u.ordinal, u.rule, u.idx, u.login)) AS TEXT) FROM protected_ref_users u \
                WHERE u.owner_key = r.owner_key AND u.name_key = r.name_key), \
             ru.ip_allow"
        )
    };
}
pub(super) use repository_columns;

/// One statement per dialect: `[SQLite, PostgreSQL]`, from a macro taking the dialect's
/// JSON aggregate and array functions first.
macro_rules! per_dialect {
    ($m:ident!($($rest:tt)*)) => {
        [
            $m!("json_group_array", "json_array" $($rest)*),
            $m!("json_agg", "json_build_array" $($rest)*),
        ]
    };
}
pub(super) use per_dialect;

/// A dialect's text of a [`per_dialect`] statement.
pub(super) fn pick(dialect: Dialect, texts: &[&'static str; 2]) -> &'static str {
    match dialect {
        Dialect::Sqlite => texts[0],
        Dialect::Postgres => texts[1],
    }
}

/// A repository from the 12 columns of [`repository_columns`] at `at`; a NULL owner: no
/// such repository.
pub(super) fn repository_at(r: &Row, at: usize) -> anyhow::Result<Option<FoundRepository>> {
    let Some(owner) = r.opt_str(at)? else {
        return Ok(None);
    };
    let stored = format!("{owner}/{}", r.str(at + 1)?);
    Ok(Some((
        stored,
        policy::RepositoryFacts {
            // An owner missing from `users` is an unknown fact: treated as private.
            owner_visibility: match r.opt_str(at + 6)? {
                Some(v) => named::parse::<Visibility>(v)?,
                None => policy::Visibility::Private,
            },
            private: r.flag(at + 2)?,
            kind: named::parse::<RepoKind>(r.str(at + 3)?)?,
            archived: r.flag(at + 4)?,
            role: role(r, at + 7)?.max(role(r, at + 8)?),
            protected_refs: protected_refs(r.opt_str(at + 9)?, r.opt_str(at + 10)?)?,
            registrant: r.opt_text(at + 5)?,
            // No owner row: no list (the repository is treated as private already).
            owner_ip_allow: match r.opt_str(at + 11)? {
                Some(list) => parse_blocks(list)?,
                None => Vec::new(),
            },
        },
    )))
}

/// JSON rows of a dialect's aggregate: NULL (PostgreSQL, no row) or an array.
fn json_rows<T: serde::de::DeserializeOwned>(text: Option<&str>) -> anyhow::Result<Vec<T>> {
    match text {
        Some(t) => serde_json::from_str(t).context("protected refs as read from the store"),
        None => Ok(Vec::new()),
    }
}

/// Protected refs from their rows `[ordinal, pattern, push, force_push]` and their users'
/// rows `[ordinal, rule, idx, login]`, in the stored order (by ordinal; users by index).
fn protected_refs(
    refs: Option<&str>,
    users: Option<&str>,
) -> anyhow::Result<Vec<policy::ProtectedRef>> {
    let mut refs: Vec<(i64, String, String, String)> = json_rows(refs)?;
    if refs.is_empty() {
        return Ok(Vec::new());
    }
    refs.sort_by_key(|r| r.0);
    let mut users: Vec<(i64, String, i64, String)> = json_rows(users)?;
    users.sort_by(|a, b| (a.0, &a.1, a.2).cmp(&(b.0, &b.1, b.2)));
    let access = |kind: &str, ordinal: i64, rule: &str| -> anyhow::Result<policy::RefAccess> {
        let users = if kind == "users" {
            let of = users.iter().filter(|u| u.0 == ordinal && u.1 == rule);
            of.map(|u| u.3.clone()).collect()
        } else {
            Vec::new()
        };
        Ok(AccessDef::from_kind(kind, users)?.to_core())
    };
    refs.into_iter()
        .map(|(ordinal, pattern, push, force_push)| {
            Ok(policy::ProtectedRef {
                pattern,
                push: access(&push, ordinal, "push")?,
                force_push: access(&force_push, ordinal, "force_push")?,
            })
        })
        .collect()
}

/// A namespace from 5 columns at `at` (name key, organization, visibility, the viewer's
/// member role, IP allow list) for the viewer whose name key is `actor`; a NULL name key:
/// no such namespace.
pub(super) fn namespace_at(
    r: &Row,
    at: usize,
    actor: Option<&str>,
) -> anyhow::Result<Option<policy::NamespaceFacts>> {
    let Some(key) = r.opt_str(at)? else {
        return Ok(None);
    };
    let organization = r.flag(at + 1)?;
    let member_role = match actor {
        None => Role::None,
        Some(a) if !organization && key == a => Role::Admin,
        Some(_) => role(r, at + 3)?,
    };
    Ok(Some(policy::NamespaceFacts {
        organization,
        visibility: named::parse::<Visibility>(r.str(at + 2)?)?,
        member_role,
        ip_allow: parse_blocks(r.str(at + 4)?)?,
    }))
}

/// A token's facts as the policy reads them: its record and its IP allow list.
pub(super) fn token_facts(t: StoredToken) -> policy::TokenFacts {
    policy::TokenFacts {
        ip_allow: t.ip_allow,
        ..convert::record_in(t.record).facts()
    }
}

const LOOKUP: [&str; 2] = per_dialect!(lookup_sql!());
const PLACE: [&str; 2] = per_dialect!(place_sql!());

/// The statements of [`lookup`] in `dialect`'s text (for `EXPLAIN`): the full one (8
/// parameters), then the light one (3).
pub fn statement(dialect: Dialect) -> [&'static str; 2] {
    [pick(dialect, &LOOKUP), pick(dialect, &PLACE)]
}

/// Answer `q` with one statement: the light one when `q` asks for no token, account or
/// `sudo` target (then no viewer but anonymous can be named), else the full one.
pub(super) fn lookup(conn: &mut Conn, q: &policy::FactQuery<'_>) -> anyhow::Result<Answered> {
    let (owner_key, repo_key) = match q.repository.and_then(|p| p.split_once('/')) {
        Some((o, n)) => (Some(name_key(o)), Some(name_key(n))),
        None => (None, None),
    };
    // Without a query field the statement joins nothing for it (a NULL key matches no row).
    let namespace = q.namespace.map(name_key);
    if q.token.is_none() && q.account.is_none() && q.sudo.is_none() {
        let sql = pick(conn.dialect(), &PLACE);
        let place = one_row(conn, sql, &vals![owner_key, repo_key, namespace])?;
        return answer(q, None, [None, None, None], &place, 0, None);
    }
    let (from_token, viewer) = match q.viewer {
        policy::Viewer::Anonymous => (false, None),
        policy::Viewer::TokenOwner => (true, None),
        policy::Viewer::Account => (false, q.account),
        policy::Viewer::Sudo => (false, q.sudo),
    };
    let args = vals![
        q.token,
        q.account.map(name_key),
        q.sudo.map(name_key),
        owner_key,
        repo_key,
        namespace,
        i64::from(from_token),
        viewer.map(name_key),
    ];
    let mut row = one_row(conn, pick(conn.dialect(), &LOOKUP), &args)?;
    let rest = row.split_off(TOKEN_COLUMNS)?;
    let token = match row.is_null(0)? {
        true => None,
        false => Some(token_facts(token_from_row(&row)?)),
    };
    let users = [user_at(&rest, 1)?, user_at(&rest, 5)?, user_at(&rest, 9)?];
    answer(q, token, users, &rest, 13, rest.opt_str(0)?)
}

/// The one row a lookup statement returns.
fn one_row(conn: &mut Conn, sql: &'static str, args: &[Value]) -> anyhow::Result<Row> {
    conn.query_opt(sql, args)?
        .ok_or_else(|| anyhow::anyhow!("the fact lookup returned no row"))
}

/// The answer from the token, the token owner's, account's and `sudo` target's users, and
/// the repository's 12 columns at `at` followed by the namespace's 5, as the viewer whose
/// name key is `viewer` sees them.
fn answer(
    q: &policy::FactQuery<'_>,
    token: Option<policy::TokenFacts>,
    [owner, account, sudo]: [Option<policy::UserFacts>; 3],
    place: &Row,
    at: usize,
    viewer: Option<&str>,
) -> anyhow::Result<Answered> {
    let answer = policy::FactAnswer {
        token,
        owner,
        account,
        sudo,
        repository: None,
        namespace: namespace_at(place, at + 12, viewer)?,
    };
    Ok(Answered::of(q, answer, repository_at(place, at)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_dialect_numbers_the_same_parameters() {
        for (texts, params) in [(LOOKUP, 8), (PLACE, 3)] {
            for sql in texts {
                for n in 1..=params {
                    assert!(sql.contains(&format!("${n}")), "${n} in {sql}");
                }
                assert!(!sql.contains(&format!("${}", params + 1)));
            }
        }
    }
}
