//! Bulk import for a large forge: users (and organisations) and repositories from JSON
//! lines or CSV, one transaction per batch, with progress reported as it goes.
//!
//! - JSON lines: one object per line, exactly the world fixture's user or repository
//!   object (members, collaborators and protected refs included); unknown fields and
//!   values are refused with the line and field named.
//! - CSV: a header row, then one row per user (`name,status,site_admin,visibility,
//!   organization`) or repository (`owner,name,private,kind,archived,registrant`); only
//!   `name` (users) and `owner,name` (repositories) are required. Memberships,
//!   collaborators and protected refs need JSON lines.
//!
//! Rows are added, never replaced: a name that exists fails its batch (earlier batches
//! stay committed, and the error says how many rows were). Rerun with `--skip N` to go on.

use std::io::BufRead;

use anyhow::{Context as _, bail};
use serde::Deserialize;

use super::{Store, put_repository, put_user};
use crate::world::{RepoDef, RepoKind, Status, UserDef, Visibility};

/// What the rows are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Users and organisations.
    Users,
    /// Repositories.
    Repositories,
}

/// How the rows are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// A header row, then comma-separated rows.
    Csv,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserRow {
    name: String,
    #[serde(default)]
    status: Option<Status>,
    #[serde(default)]
    site_admin: Option<bool>,
    #[serde(default)]
    visibility: Option<Visibility>,
    #[serde(default)]
    organization: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RepoRow {
    owner: String,
    name: String,
    #[serde(default)]
    private: Option<bool>,
    #[serde(default)]
    kind: Option<RepoKind>,
    #[serde(default)]
    archived: Option<bool>,
    #[serde(default)]
    registrant: Option<String>,
}

enum Item {
    User(UserDef),
    Repo(RepoDef),
}

/// Counts reported after each batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Rows committed so far.
    pub committed: u64,
    /// Rows skipped (`skip`).
    pub skipped: u64,
}

/// A bad row: its error, its line, and where to go on from (its batch is not committed).
fn refused(e: anyhow::Error, line: u64, counts: &Progress) -> anyhow::Error {
    let done = counts.committed + counts.skipped;
    e.context(format!(
        "row {line}: not imported ({done} rows before it were committed; rerun with --skip {done})"
    ))
}

/// Import rows from `input`, `batch` rows per transaction, skipping the first `skip`
/// rows. Calls `progress` after each committed batch. Returns the final counts.
pub fn import(
    store: &mut Store,
    kind: Kind,
    format: Format,
    input: impl BufRead,
    batch: usize,
    skip: u64,
    mut progress: impl FnMut(Progress),
) -> anyhow::Result<Progress> {
    let batch = batch.max(1);
    let mut counts = Progress::default();
    let mut pending: Vec<(u64, Item)> = Vec::with_capacity(batch);
    let mut flush = |store: &mut Store,
                     pending: &mut Vec<(u64, Item)>,
                     counts: &mut Progress|
     -> anyhow::Result<()> {
        if pending.is_empty() {
            return Ok(());
        }
        let mut tx = store.write()?;
        for (line, item) in pending.iter() {
            match item {
                Item::User(u) => put_user(&mut tx, u),
                Item::Repo(r) => put_repository(&mut tx, r),
            }
            .map_err(|e| refused(e, *line, counts))?;
        }
        tx.commit()?;
        counts.committed += u64::try_from(pending.len())?;
        pending.clear();
        progress(*counts);
        Ok(())
    };
    let mut rows = 0u64;
    let mut take = |line: u64, item: anyhow::Result<Item>| -> anyhow::Result<Option<(u64, Item)>> {
        rows += 1;
        if rows <= skip {
            return Ok(None);
        }
        Ok(Some((line, item?)))
    };
    match format {
        Format::Jsonl => {
            for (n, line) in input.lines().enumerate() {
                let line_no = u64::try_from(n)? + 1;
                let text = line.with_context(|| format!("line {line_no}"))?;
                if text.trim().is_empty() {
                    continue;
                }
                let item = match kind {
                    Kind::Users => crate::world::parse_json::<UserDef>(&text).map(Item::User),
                    Kind::Repositories => crate::world::parse_json::<RepoDef>(&text)
                        .and_then(|r| r.validate().map(|()| Item::Repo(r))),
                };
                match take(line_no, item) {
                    Ok(Some(x)) => pending.push(x),
                    Ok(None) => counts.skipped += 1,
                    Err(e) => return Err(refused(e, line_no, &counts)),
                }
                if pending.len() == batch {
                    flush(store, &mut pending, &mut counts)?;
                }
            }
        }
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .from_reader(input);
            let headers = reader.headers().context("reading the CSV header")?.clone();
            for (n, record) in reader.records().enumerate() {
                let line_no = u64::try_from(n)? + 2;
                let record = record.with_context(|| format!("line {line_no}"))?;
                let item = match kind {
                    Kind::Users => record
                        .deserialize::<UserRow>(Some(&headers))
                        .map_err(anyhow::Error::from)
                        .map(|u| {
                            Item::User(UserDef {
                                name: u.name,
                                status: u.status.unwrap_or(Status::Active),
                                site_admin: u.site_admin.unwrap_or(false),
                                visibility: u.visibility.unwrap_or(Visibility::Public),
                                organization: u.organization.unwrap_or(false),
                                members: Default::default(),
                            })
                        }),
                    Kind::Repositories => record
                        .deserialize::<RepoRow>(Some(&headers))
                        .map_err(anyhow::Error::from)
                        .and_then(|r| {
                            let repo = RepoDef {
                                owner: r.owner,
                                name: r.name,
                                private: r.private.unwrap_or(false),
                                kind: r.kind.unwrap_or(RepoKind::Hosted),
                                archived: r.archived.unwrap_or(false),
                                collaborators: Default::default(),
                                protected_refs: vec![],
                                registrant: r.registrant.filter(|s| !s.is_empty()),
                            };
                            repo.validate().map(|()| Item::Repo(repo))
                        }),
                };
                match take(line_no, item) {
                    Ok(Some(x)) => pending.push(x),
                    Ok(None) => counts.skipped += 1,
                    Err(e) => return Err(refused(e, line_no, &counts)),
                }
                if pending.len() == batch {
                    flush(store, &mut pending, &mut counts)?;
                }
            }
        }
    }
    flush(store, &mut pending, &mut counts)?;
    if counts.committed == 0 && counts.skipped == 0 {
        bail!("no rows in the input");
    }
    Ok(counts)
}
