//! The changes to the store's records as listed (`forge-authz history --records`): the
//! configuration's history rows whose action is a record's ([`RECORD_ACTION_PREFIXES`]).

use super::{Conn, RECORD_ACTION_PREFIXES, config};
use crate::vals;

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
    /// Before this configuration version.
    pub cursor: Option<i64>,
}

/// Whether `action` is a change to the store's records ([`RECORD_ACTION_PREFIXES`]).
pub fn is_record_action(action: &str) -> bool {
    RECORD_ACTION_PREFIXES.iter().any(|p| action.starts_with(p))
}

/// The changes to the store's records, newest first, filtered and paged: the page and the
/// cursor of the next one (None: no more). Reads the configuration's history in batches
/// until the page is full.
pub fn record_history(
    conn: &mut Conn,
    f: &RecordFilter,
) -> anyhow::Result<(Vec<config::ConfigEvent>, Option<i64>)> {
    let limit = f.limit.max(1);
    let mut cursor = f.cursor;
    let mut out: Vec<config::ConfigEvent> = Vec::new();
    loop {
        let rows = conn.query(
            "SELECT version, action, actor, at, key_id, detail FROM config_history \
             WHERE (CAST($1 AS BIGINT) IS NULL OR version < $1) ORDER BY version DESC LIMIT 256",
            &vals![cursor],
        )?;
        let exhausted = rows.len() < 256;
        for r in &rows {
            let e = config::ConfigEvent {
                version: r.int(0)?,
                action: r.text(1)?,
                actor: r.text(2)?,
                at: r.int(3)?,
                key: r.opt_text(4)?,
                detail: super::parse(&r.text(5)?)?,
            };
            cursor = Some(e.version);
            let wanted = is_record_action(&e.action)
                && f.actor.as_ref().is_none_or(|a| *a == e.actor)
                && f.action.as_ref().is_none_or(|a| *a == e.action)
                && f.since.is_none_or(|s| e.at >= s)
                && f.until.is_none_or(|u| e.at < u);
            if !wanted {
                continue;
            }
            if out.len() == limit {
                let next = out.last().map(|e| e.version);
                return Ok((out, next));
            }
            out.push(e);
        }
        if exhausted {
            return Ok((out, None));
        }
    }
}
