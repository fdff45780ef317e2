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
//! stay committed, and the error names the line, says what is wrong in words and how many
//! rows were committed). To go on: `--skip-existing` skips the users or repositories
//! already there (those committed before included, so the same input can be run again),
//! and `--skip N` skips the first N rows (after fixing a bad line). See [`existing`].
//!
//! SQLite writes a batch by prepared `INSERT`s; PostgreSQL by one `COPY … (FORMAT binary)`
//! per table ([`copy`]), in the same transaction, the same columns and the same errors.

mod copy;
mod existing;

use std::io::BufRead;

use anyhow::{Context as _, bail};
use serde::Deserialize;

use super::{Conn, Store, put_repository, put_user};
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
    #[serde(default, with = "forge_authz_fixture::named::option")]
    status: Option<Status>,
    #[serde(default)]
    site_admin: Option<bool>,
    #[serde(default, with = "forge_authz_fixture::named::option")]
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
    #[serde(default, with = "forge_authz_fixture::named::option")]
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

impl Item {
    /// The row as errors name it (`put_user`'s and `put_repository`'s context).
    fn what(&self) -> String {
        match self {
            Item::User(u) => format!("user `{}`", u.name),
            Item::Repo(r) => format!("repository `{}/{}`", r.owner, r.name),
        }
    }
}

/// Counts reported after each batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Rows committed so far.
    pub committed: u64,
    /// Rows skipped (`skip`).
    pub skipped: u64,
    /// Rows left out because their user or repository exists (`skip_existing`).
    pub existing: u64,
}

impl Progress {
    /// Rows read before the current batch: what `--skip` takes to go on after it.
    fn done(&self) -> u64 {
        self.committed + self.skipped + self.existing
    }
}

/// How rows are read and written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Rows per transaction.
    pub batch: usize,
    /// Rows to skip first.
    pub skip: u64,
    /// Leave out (and count) the rows whose user or repository already exists.
    pub skip_existing: bool,
}

/// A bad row: its line, what is wrong, and how to go on (its batch is not committed).
fn refused(e: anyhow::Error, line: u64, counts: &Progress) -> anyhow::Error {
    anyhow::anyhow!("line {line}: {e:#}: {}", way_on(false, line, counts))
}

/// A row the store refused for `problem`: in words, with the way on.
fn refused_because(problem: &existing::Problem, line: u64, counts: &Progress) -> anyhow::Error {
    let next = way_on(problem.skippable(), line, counts);
    anyhow::anyhow!("line {line}: {problem}: {next}")
}

/// What became of the rows before `line`, and how to go on: `--skip-existing` when the
/// row's user or repository is there already (`skippable`), else fixing the line and
/// `--skip` past the rows committed.
fn way_on(skippable: bool, line: u64, counts: &Progress) -> String {
    let done = counts.done();
    let before = match done {
        1 => "1 row before it was committed".to_owned(),
        n => format!("{n} rows before it were committed"),
    };
    let rerun = match done {
        0 => "rerun".to_owned(),
        n => format!("rerun with `--skip {n}`"),
    };
    let next = if skippable {
        format!(
            "rerun with `--skip-existing` to skip the rows already there, or remove line \
             {line} and {rerun}"
        )
    } else {
        format!("fix line {line} and {rerun} to go on from it")
    };
    format!("not imported ({before}); {next}")
}

/// Rows on their way into the store: committed `batch` at a time, the first `skip`
/// skipped (counted, not read further), `progress` told after each commit.
struct Loader<'a, P: FnMut(Progress)> {
    store: &'a mut Store,
    batch: usize,
    skip: u64,
    skip_existing: bool,
    rows: u64,
    pending: Vec<(u64, Item)>,
    counts: Progress,
    progress: P,
}

impl<P: FnMut(Progress)> Loader<'_, P> {
    /// One parsed row (or its parse error) from line `line`.
    fn row(&mut self, line: u64, item: anyhow::Result<Item>) -> anyhow::Result<()> {
        self.rows += 1;
        if self.rows <= self.skip {
            self.counts.skipped += 1;
            return Ok(());
        }
        let item = item.map_err(|e| refused(e, line, &self.counts))?;
        self.pending.push((line, item));
        if self.pending.len() == self.batch {
            self.flush()?;
        }
        Ok(())
    }

    /// Commit the pending rows in one transaction (none: nothing); with `skip_existing`,
    /// those already there are left out first, in the same transaction.
    fn flush(&mut self) -> anyhow::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut tx = self.store.write()?;
        let existing = if self.skip_existing {
            existing::drop_existing(&mut tx, &mut self.pending)?
        } else {
            0
        };
        if let Err((index, e)) = write_batch(&mut tx, &self.pending) {
            drop(tx);
            return Err(self.explain(index, e));
        }
        tx.commit()?;
        self.counts.existing += existing;
        self.counts.committed += u64::try_from(self.pending.len())?;
        self.pending.clear();
        (self.progress)(self.counts);
        Ok(())
    }

    /// The error of a batch the store refused at its row `index` (rolled back): the
    /// cause in words when it is a known one, else the store's error with the row named.
    fn explain(&mut self, index: usize, e: anyhow::Error) -> anyhow::Error {
        let Some((line, item)) = self.pending.get(index) else {
            return e;
        };
        let line = *line;
        match existing::explain(self.store.conn(), &self.pending, index) {
            Ok(Some(problem)) => refused_because(&problem, line, &self.counts),
            _ => refused(e.context(item.what()), line, &self.counts),
        }
    }
}

/// Write `pending` in the transaction `tx`; a failure names the row (index) to blame.
fn write_batch(tx: &mut Conn, pending: &[(u64, Item)]) -> Result<(), (usize, anyhow::Error)> {
    match tx {
        Conn::Postgres(client, _) => copy::batch(client, pending).map_err(|f| (f.index, f.error)),
        Conn::Sqlite(_) => {
            for (index, (_, item)) in pending.iter().enumerate() {
                match item {
                    Item::User(u) => put_user(tx, u),
                    Item::Repo(r) => put_repository(tx, r),
                }
                .map_err(|e| (index, e))?;
            }
            Ok(())
        }
    }
}

/// A JSON Lines row of `kind`.
fn jsonl_item(kind: Kind, text: &str) -> anyhow::Result<Item> {
    match kind {
        Kind::Users => crate::world::parse_json::<UserDef>(text).map(Item::User),
        Kind::Repositories => crate::world::parse_json::<RepoDef>(text)
            .and_then(|r| r.validate().map(|()| Item::Repo(r))),
    }
}

/// A CSV row of `kind` (absent optional columns take the world file's defaults).
fn csv_item(
    kind: Kind,
    record: &csv::StringRecord,
    headers: &csv::StringRecord,
) -> anyhow::Result<Item> {
    match kind {
        Kind::Users => {
            let u = record.deserialize::<UserRow>(Some(headers))?;
            Ok(Item::User(UserDef {
                name: u.name,
                status: u.status.unwrap_or(Status::Active),
                site_admin: u.site_admin.unwrap_or(false),
                visibility: u.visibility.unwrap_or(Visibility::Public),
                organization: u.organization.unwrap_or(false),
                members: Default::default(),
                ip_allow: Vec::new(),
            }))
        }
        Kind::Repositories => {
            let r = record.deserialize::<RepoRow>(Some(headers))?;
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
        }
    }
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
    progress: impl FnMut(Progress),
) -> anyhow::Result<Progress> {
    let options = Options {
        batch,
        skip,
        skip_existing: false,
    };
    import_with(store, kind, format, input, options, progress)
}

/// [`import`] with every option (`--skip-existing`).
pub fn import_with(
    store: &mut Store,
    kind: Kind,
    format: Format,
    input: impl BufRead,
    options: Options,
    progress: impl FnMut(Progress),
) -> anyhow::Result<Progress> {
    let Options {
        batch,
        skip,
        skip_existing,
    } = options;
    let batch = batch.max(1);
    let mut loader = Loader {
        store,
        batch,
        skip,
        skip_existing,
        rows: 0,
        pending: Vec::with_capacity(batch),
        counts: Progress::default(),
        progress,
    };
    match format {
        Format::Jsonl => {
            for (n, line) in input.lines().enumerate() {
                let line_no = u64::try_from(n)? + 1;
                let text = line.with_context(|| format!("line {line_no}"))?;
                if text.trim().is_empty() {
                    continue;
                }
                loader.row(line_no, jsonl_item(kind, &text))?;
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
                loader.row(line_no, csv_item(kind, &record, &headers))?;
            }
        }
    }
    loader.flush()?;
    let counts = loader.counts;
    if counts.done() == 0 {
        bail!("no rows in the input");
    }
    Ok(counts)
}
