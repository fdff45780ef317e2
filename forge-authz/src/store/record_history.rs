//! The changes to the store's records (`forge-authz history --records`): the rows of
//! `record_history` (schema 6), one per change whose action is a record's
//! ([`RECORD_ACTION_PREFIXES`]). Records are read per request, so a change to them is not
//! configuration: it moves no configuration version and wakes no host. Below both the
//! records' modules (`people`, `repos`) and `config`, whose `record` sends a record's
//! action here.

use serde::Serialize;

use super::{Conn, json, parse};
use crate::vals;

/// The history actions of changes to the store's records (people, repositories and what
/// hangs off them) start with one of these: what `forge-authz history --records` lists.
/// Configuration changes (`key-add`, `option-set`, `import`, ...) do not.
pub const RECORD_ACTION_PREFIXES: &[&str] = &[
    "user-",
    "org-",
    "member-",
    "repo-",
    "collaborator-",
    "ssh-key-",
    "deploy-key-",
    "protect-",
    "ip-allow-",
];

/// One change to the store's records as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecordEvent {
    /// Its number in the records' history (what `--cursor` takes).
    pub seq: i64,
    /// `user-add`, `member-change`, `repo-remove`, `ip-allow-set`, ...
    pub action: String,
    /// Who made it.
    pub actor: String,
    /// When (Unix seconds).
    pub at: i64,
    /// What changed: before and after (never a secret).
    pub detail: serde_json::Value,
}

/// Which changes to the store's records `forge-authz history --records` lists: by whom,
/// which action, when, and the page (the changes before `cursor`, newest first).
#[derive(Clone, Debug, Default)]
pub struct RecordFilter {
    /// Who made the change (as recorded).
    pub actor: Option<String>,
    /// The action (`user-add`, `member-change`, ...).
    pub action: Option<String>,
    /// At or after (Unix seconds).
    pub since: Option<i64>,
    /// Before (Unix seconds).
    pub until: Option<i64>,
    /// At most this many.
    pub limit: usize,
    /// Before this change (its `seq`).
    pub cursor: Option<i64>,
}

/// Whether `action` is a change to the store's records ([`RECORD_ACTION_PREFIXES`]).
pub fn is_record_action(action: &str) -> bool {
    RECORD_ACTION_PREFIXES.iter().any(|p| action.starts_with(p))
}

/// Append a change to the store's records to their history, in the caller's transaction.
/// `detail` never holds a secret.
pub fn record_change(
    conn: &mut Conn,
    action: &str,
    actor: &str,
    now: i64,
    detail: &serde_json::Value,
) -> anyhow::Result<()> {
    conn.execute(
        "INSERT INTO record_history (action, actor, at, detail) VALUES ($1, $2, $3, $4)",
        &vals![action, actor, now, json(detail)?],
    )?;
    Ok(())
}

/// The changes to the store's records, newest first, filtered and paged: the page and the
/// cursor of the next one (None: no more). One query: the filter is SQL, the page is keyset
/// paging on `seq` (one row more than the page says whether another follows).
pub fn record_history(
    conn: &mut Conn,
    f: &RecordFilter,
) -> anyhow::Result<(Vec<RecordEvent>, Option<i64>)> {
    let limit = i64::try_from(f.limit.max(1)).unwrap_or(i64::MAX - 1);
    let rows = conn.query(
        "SELECT seq, action, actor, at, detail FROM record_history \
         WHERE (CAST($1 AS BIGINT) IS NULL OR seq < $1) \
         AND (CAST($2 AS TEXT) IS NULL OR actor = $2) \
         AND (CAST($3 AS TEXT) IS NULL OR action = $3) \
         AND (CAST($4 AS BIGINT) IS NULL OR at >= $4) \
         AND (CAST($5 AS BIGINT) IS NULL OR at < $5) \
         ORDER BY seq DESC LIMIT $6",
        &vals![
            f.cursor,
            f.actor.as_deref(),
            f.action.as_deref(),
            f.since,
            f.until,
            limit.saturating_add(1)
        ],
    )?;
    let mut out = rows
        .iter()
        .map(|r| {
            Ok(RecordEvent {
                seq: r.int(0)?,
                action: r.text(1)?,
                actor: r.text(2)?,
                at: r.int(3)?,
                detail: parse(&r.text(4)?)?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let more = out.len() > f.limit.max(1);
    out.truncate(f.limit.max(1));
    let next = if more {
        out.last().map(|e| e.seq)
    } else {
        None
    };
    Ok((out, next))
}
