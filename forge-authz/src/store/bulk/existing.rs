//! Rows that are already there: `--skip-existing` leaves them out of a batch (and counts
//! them), and a batch the store refused is explained in words — a user or repository
//! that exists, a name twice in the input, a member or collaborator listed twice — never
//! with the database's own error text (issue 25).

use std::collections::HashSet;

use super::Item;
use crate::store::{Conn, name_key};
use crate::vals;

/// The key that makes a row unique (users: the name; repositories: owner and name, any
/// case).
fn key(item: &Item) -> String {
    match item {
        Item::User(u) => name_key(&u.name),
        Item::Repo(r) => format!("{}/{}", name_key(&r.owner), name_key(&r.name)),
    }
}

/// Whether the store already holds the row's user or repository.
fn exists(conn: &mut Conn, item: &Item) -> anyhow::Result<bool> {
    Ok(match item {
        Item::User(u) => conn
            .query_opt(
                "SELECT 1 FROM users WHERE name_key = $1",
                &vals![name_key(&u.name)],
            )?
            .is_some(),
        Item::Repo(r) => conn
            .query_opt(
                "SELECT 1 FROM repositories WHERE owner_key = $1 AND name_key = $2",
                &vals![name_key(&r.owner), name_key(&r.name)],
            )?
            .is_some(),
    })
}

/// Leave out of `pending` the rows whose user or repository exists (in the store, or
/// earlier in the batch); returns how many were left out. One lookup per row, in the
/// batch's write transaction (so nothing can appear between the lookup and the write).
pub(super) fn drop_existing(
    conn: &mut Conn,
    pending: &mut Vec<(u64, Item)>,
) -> anyhow::Result<u64> {
    let mut seen = HashSet::new();
    let mut kept = Vec::with_capacity(pending.len());
    let mut dropped = 0;
    for (line, item) in pending.drain(..) {
        if !seen.insert(key(&item)) || exists(conn, &item)? {
            dropped += 1;
        } else {
            kept.push((line, item));
        }
    }
    *pending = kept;
    Ok(dropped)
}

/// Why the store refused a batch at its row `index`, in words.
pub(super) enum Problem {
    /// The user or repository exists: `--skip-existing` goes on.
    Exists(String),
    /// The row repeats an earlier one of the same batch (line): `--skip-existing` too.
    Twice(String, u64),
    /// A member or collaborator listed twice in the row: the line must be fixed.
    Listed(String),
}

impl Problem {
    /// Whether `--skip-existing` gets past it.
    pub(super) fn skippable(&self) -> bool {
        matches!(self, Problem::Exists(_) | Problem::Twice(..))
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Exists(what) => write!(f, "{what} already exists"),
            Problem::Twice(what, first) => write!(
                f,
                "{what} is also on line {first} (names compare without case)"
            ),
            Problem::Listed(what) => write!(f, "{what} (names compare without case)"),
        }
    }
}

/// What made the store refuse row `index` of `pending` (after the batch rolled back):
/// `None` when it is none of the known causes.
pub(super) fn explain(
    conn: &mut Conn,
    pending: &[(u64, Item)],
    index: usize,
) -> anyhow::Result<Option<Problem>> {
    let Some((_, item)) = pending.get(index) else {
        return Ok(None);
    };
    let what = item.what();
    let k = key(item);
    let earlier = pending.get(..index).unwrap_or_default();
    if let Some((first, _)) = earlier.iter().find(|(_, i)| key(i) == k) {
        return Ok(Some(Problem::Twice(what, *first)));
    }
    if exists(conn, item)? {
        return Ok(Some(Problem::Exists(what)));
    }
    let (noun, names): (&str, Vec<&String>) = match item {
        Item::User(u) => ("member", u.members.keys().collect()),
        Item::Repo(r) => ("collaborator", r.collaborators.keys().collect()),
    };
    let mut keys = HashSet::new();
    Ok(names
        .into_iter()
        .find(|n| !keys.insert(name_key(n)))
        .map(|n| Problem::Listed(format!("{what}: {noun} `{n}` is listed twice"))))
}
