//! PostgreSQL: a batch of bulk rows as one `COPY t (columns) FROM STDIN (FORMAT binary)`
//! per table, in the batch's write transaction (its advisory lock held), instead of one
//! `INSERT` round trip per row. The columns and values are exactly those
//! `put_user`/`put_repository` (`store/records.rs`) write; what can fail in Rust (an allow
//! list's JSON) is made before the first byte is sent.
//!
//! A row the server refuses (a name that exists, or twice in the batch, or in a child
//! table such as a collaborator twice) fails the COPY with the context `COPY t, line N`:
//! line N of that table's data is mapped back to the batch row that produced it, so the
//! error names the input line as the `INSERT` path does. Tables go one after another (users, then members; repositories,
//! then collaborators and protected refs): when two rows of one batch are bad in different
//! tables, the one named is the first in that order, not necessarily the first in the
//! input. Either way the whole batch is rolled back and `--skip` is the same.

use anyhow::Context as _;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};

use super::Item;
use crate::store::name_key;
use crate::world::{AccessDef, RepoDef, UserDef};

/// A table's `COPY` statement and its columns' types (`{INT}` is `BIGINT` on PostgreSQL).
struct Table {
    copy: &'static str,
    types: &'static [Type],
}

const TEXT: Type = Type::TEXT;
const INT: Type = Type::INT8;

const USERS: Table = Table {
    copy: "COPY users (name_key, name, status, site_admin, visibility, organization, ip_allow) \
           FROM STDIN (FORMAT binary)",
    types: &[TEXT, TEXT, TEXT, INT, TEXT, INT, TEXT],
};
const ORG_MEMBERS: Table = Table {
    copy: "COPY org_members (org_key, member_key, member, role) FROM STDIN (FORMAT binary)",
    types: &[TEXT, TEXT, TEXT, TEXT],
};
const REPOSITORIES: Table = Table {
    copy: "COPY repositories (owner_key, name_key, owner, name, private, kind, archived, \
           registrant) FROM STDIN (FORMAT binary)",
    types: &[TEXT, TEXT, TEXT, TEXT, INT, TEXT, INT, TEXT],
};
const COLLABORATORS: Table = Table {
    copy: "COPY collaborators (owner_key, name_key, login_key, login, role) \
           FROM STDIN (FORMAT binary)",
    types: &[TEXT, TEXT, TEXT, TEXT, TEXT],
};
const PROTECTED_REFS: Table = Table {
    copy: "COPY protected_refs (owner_key, name_key, ordinal, pattern, push, force_push) \
           FROM STDIN (FORMAT binary)",
    types: &[TEXT, TEXT, INT, TEXT, TEXT, TEXT],
};
const PROTECTED_REF_USERS: Table = Table {
    copy: "COPY protected_ref_users (owner_key, name_key, ordinal, rule, idx, login) \
           FROM STDIN (FORMAT binary)",
    types: &[TEXT, TEXT, INT, TEXT, INT, TEXT],
};

/// A batch that failed: the index (in the batch) of the row to blame, and why.
#[derive(Debug)]
pub(super) struct Failed {
    pub index: usize,
    pub error: anyhow::Error,
}

type Cell<'a> = &'a (dyn ToSql + Sync);

/// One table's COPY in progress; `origin[k]` is the batch row of its data line `k + 1`.
struct Sink<'c> {
    types: &'static [Type],
    writer: BinaryCopyInWriter<'c>,
    origin: Vec<usize>,
    at: usize,
}

impl Sink<'_> {
    /// One row of the table, produced by batch row `self.at`.
    fn row(&mut self, cells: &[Cell<'_>]) -> anyhow::Result<()> {
        // The writer panics on a count mismatch: refuse instead (a bug, never input).
        anyhow::ensure!(
            cells.len() == self.types.len(),
            "{} values for {} columns",
            cells.len(),
            self.types.len()
        );
        self.origin.push(self.at);
        self.writer.write(cells)?;
        Ok(())
    }
}

/// The batch row to blame for `e`: the one behind the server's `COPY t, line N` (line N
/// of the table's data came from batch row `origin[N - 1]`), else `fallback`.
fn blame(origin: &[usize], e: anyhow::Error, fallback: usize) -> Failed {
    let index = e
        .downcast_ref::<postgres::Error>()
        .and_then(|e| e.as_db_error())
        .and_then(|db| copy_line(db.where_()?))
        .and_then(|line| origin.get(line.checked_sub(1)?).copied())
        .unwrap_or(fallback);
    Failed { index, error: e }
}

/// N from the error context `COPY t, line N[, column c: …]`.
fn copy_line(context: &str) -> Option<usize> {
    let rest = context.split(", line ").nth(1)?;
    let digits = rest.split(|c: char| !c.is_ascii_digit()).next()?;
    digits.parse().ok()
}

/// Copy into `table` the rows `rows` makes of each of `items` (batch row, item); no COPY
/// at all when `any` says none has a row for it.
fn copy<T>(
    client: &mut postgres::Client,
    table: &'static Table,
    items: &[(usize, T)],
    any: impl Fn(&T) -> bool,
    mut rows: impl FnMut(&T, &mut Sink<'_>) -> anyhow::Result<()>,
) -> Result<(), Failed> {
    if !items.iter().any(|(_, item)| any(item)) {
        return Ok(());
    }
    let first = items.first().map_or(0, |(i, _)| *i);
    let started = client.copy_in(table.copy).map_err(|e| Failed {
        index: first,
        error: anyhow::Error::new(e),
    })?;
    let mut sink = Sink {
        types: table.types,
        writer: BinaryCopyInWriter::new(started, table.types),
        origin: Vec::with_capacity(items.len()),
        at: first,
    };
    for (i, item) in items {
        sink.at = *i;
        if let Err(e) = rows(item, &mut sink) {
            return Err(blame(&sink.origin, e, *i));
        }
    }
    let Sink { writer, origin, .. } = sink;
    match writer.finish() {
        Ok(_) => Ok(()),
        Err(e) => Err(blame(&origin, e.into(), first)),
    }
}

/// Write a batch's rows (the caller's write transaction commits them).
pub(super) fn batch(client: &mut postgres::Client, pending: &[(u64, Item)]) -> Result<(), Failed> {
    let mut users = Vec::new();
    let mut repos = Vec::new();
    for (i, (_, item)) in pending.iter().enumerate() {
        match item {
            Item::User(u) => users.push((i, u)),
            Item::Repo(r) => repos.push((i, r)),
        }
    }
    if !users.is_empty() {
        self::users(client, &users)?;
    }
    if !repos.is_empty() {
        repositories(client, &repos)?;
    }
    Ok(())
}

/// A user row as `put_user` writes it: its key and its allow list's JSON made first.
struct UserRow<'a> {
    def: &'a UserDef,
    key: String,
    ip_allow: String,
}

fn users(client: &mut postgres::Client, users: &[(usize, &UserDef)]) -> Result<(), Failed> {
    let rows = users
        .iter()
        .map(|&(index, def)| {
            let ip_allow = serde_json::to_string(&def.ip_allow).map_err(|e| Failed {
                index,
                error: e.into(),
            })?;
            let key = name_key(&def.name);
            Ok((index, UserRow { def, key, ip_allow }))
        })
        .collect::<Result<Vec<_>, Failed>>()?;
    copy(client, &USERS, &rows, |_| true, user_row)?;
    let any_member = |u: &UserRow<'_>| !u.def.members.is_empty();
    copy(client, &ORG_MEMBERS, &rows, any_member, member_rows)
}

fn user_row(u: &UserRow<'_>, s: &mut Sink<'_>) -> anyhow::Result<()> {
    let d = u.def;
    let (admin, org) = (i64::from(d.site_admin), i64::from(d.organization));
    let (status, visibility) = (d.status.name(), d.visibility.name());
    s.row(&[
        &u.key,
        &d.name,
        &status,
        &admin,
        &visibility,
        &org,
        &u.ip_allow,
    ])
}

fn member_rows(u: &UserRow<'_>, s: &mut Sink<'_>) -> anyhow::Result<()> {
    for (member, role) in &u.def.members {
        s.row(&[&u.key, &name_key(member), member, &role.name()])
            .with_context(|| format!("member `{member}`"))?;
    }
    Ok(())
}

fn repositories(client: &mut postgres::Client, repos: &[(usize, &RepoDef)]) -> Result<(), Failed> {
    let listed = |a: &AccessDef| matches!(a, AccessDef::Users(u) if !u.is_empty());
    let any_listed =
        |r: &&RepoDef| (r.protected_refs.iter()).any(|p| listed(&p.push) || listed(&p.force_push));
    copy(client, &REPOSITORIES, repos, |_| true, repository_row)?;
    let any_collaborator = |r: &&RepoDef| !r.collaborators.is_empty();
    copy(
        client,
        &COLLABORATORS,
        repos,
        any_collaborator,
        collaborator_rows,
    )?;
    let any_rule = |r: &&RepoDef| !r.protected_refs.is_empty();
    copy(client, &PROTECTED_REFS, repos, any_rule, rule_rows)?;
    copy(
        client,
        &PROTECTED_REF_USERS,
        repos,
        any_listed,
        rule_user_rows,
    )
}

/// The owner's and the name's keys.
fn keys(r: &RepoDef) -> (String, String) {
    (name_key(&r.owner), name_key(&r.name))
}

fn repository_row(r: &&RepoDef, s: &mut Sink<'_>) -> anyhow::Result<()> {
    let (ok, nk) = keys(r);
    let (private, archived) = (i64::from(r.private), i64::from(r.archived));
    let kind = r.kind.name();
    s.row(&[
        &ok,
        &nk,
        &r.owner,
        &r.name,
        &private,
        &kind,
        &archived,
        &r.registrant,
    ])
}

fn collaborator_rows(r: &&RepoDef, s: &mut Sink<'_>) -> anyhow::Result<()> {
    let (ok, nk) = keys(r);
    for (login, role) in &r.collaborators {
        s.row(&[&ok, &nk, &name_key(login), login, &role.name()])
            .with_context(|| format!("`{login}`"))?;
    }
    Ok(())
}

/// Protected refs, numbered in order (`ordinal`: first match wins).
fn rule_rows(r: &&RepoDef, s: &mut Sink<'_>) -> anyhow::Result<()> {
    let (ok, nk) = keys(r);
    for (ordinal, p) in (0_i64..).zip(&r.protected_refs) {
        let (push, force) = (p.push.kind_name(), p.force_push.kind_name());
        s.row(&[&ok, &nk, &ordinal, &p.pattern, &push, &force])?;
    }
    Ok(())
}

/// The users a protected ref lists for `push` or `force_push`, numbered in order.
fn rule_user_rows(r: &&RepoDef, s: &mut Sink<'_>) -> anyhow::Result<()> {
    let (ok, nk) = keys(r);
    for (ordinal, p) in (0_i64..).zip(&r.protected_refs) {
        for (rule, access) in [("push", &p.push), ("force_push", &p.force_push)] {
            if let AccessDef::Users(users) = access {
                for (idx, login) in (0_i64..).zip(users) {
                    s.row(&[&ok, &nk, &ordinal, &rule, &idx, login])?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_of_a_copy_error_context_is_read() {
        assert_eq!(copy_line("COPY users, line 3"), Some(3));
        assert_eq!(
            copy_line("COPY repositories, line 12, column name: \"x\""),
            Some(12)
        );
        assert_eq!(copy_line("COPY users"), None);
        assert_eq!(copy_line("SQL statement"), None);
    }

    #[test]
    fn an_error_without_a_copy_line_blames_the_fallback_row() {
        // (The server's `COPY t, line N` is mapped in tests/store.rs, against PostgreSQL.)
        let origin = [0, 0, 3, 7];
        let other = blame(&origin, anyhow::anyhow!("not a server error"), 5);
        assert_eq!(other.index, 5);
    }

    #[test]
    fn every_table_names_as_many_columns_as_it_has_types() {
        for t in [
            &USERS,
            &ORG_MEMBERS,
            &REPOSITORIES,
            &COLLABORATORS,
            &PROTECTED_REFS,
            &PROTECTED_REF_USERS,
        ] {
            let open = t.copy.find('(').unwrap_or(0);
            let close = t.copy.find(')').unwrap_or(0);
            let columns = t.copy[open..close].split(',').count();
            assert_eq!(columns, t.types.len(), "{}", t.copy);
        }
    }
}
