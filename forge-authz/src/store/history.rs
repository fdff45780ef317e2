//! The token history as listed: each row is the policy's own event (`lifecycle.history-event`,
//! written by [`super::put_event`]) and its position, read newest first, filtered and paged.

use anyhow::Context as _;

use super::{Store, name_key, parse};
use crate::vals;
use crate::wit;

/// A history row as listed: the policy's event (`lifecycle.history-event`, written by
/// [`super::put_event`]) and its position in the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryRow {
    /// Position (the pagination cursor).
    pub seq: i64,
    /// The event as the policy planned it.
    pub event: wit::HistoryEvent,
}

/// `forge-authz history --json` writes each row as one flat object: `seq`, then the event's
/// fields by their WIT names (the before-values and `related` only where the event has them).
impl serde::Serialize for HistoryRow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let e = &self.event;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("seq", &self.seq)?;
        m.serialize_entry("token_id", &e.token_id)?;
        m.serialize_entry("owner", &e.owner)?;
        m.serialize_entry("action", e.action.name())?;
        m.serialize_entry("actor", &e.actor)?;
        m.serialize_entry("ip", &e.ip)?;
        m.serialize_entry("at", &e.at)?;
        m.serialize_entry("name", &e.name)?;
        m.serialize_entry("scopes", &e.scopes)?;
        m.serialize_entry("expires", &e.expires)?;
        m.serialize_entry("parent", &e.parent)?;
        // Present only where the event has them (an edit's before-values, a rotation's other token).
        entry_if_some(&mut m, "old_name", e.old_name.as_ref())?;
        entry_if_some(&mut m, "old_scopes", e.old_scopes.as_ref())?;
        entry_if_some(&mut m, "old_expires", e.old_expires.as_ref())?;
        entry_if_some(&mut m, "related", e.related.as_ref())?;
        m.end()
    }
}

fn entry_if_some<M: serde::ser::SerializeMap, T: serde::Serialize>(
    m: &mut M,
    key: &str,
    value: Option<&T>,
) -> Result<(), M::Error> {
    value.map_or(Ok(()), |v| m.serialize_entry(key, v))
}

/// History filters (all optional; combined with AND), and the page asked for: the rows
/// before `cursor`, newest first, at most `limit`. The flags of `forge-authz history` (the
/// doc comments are their help).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct HistoryFilter {
    /// Token owner.
    #[arg(long)]
    pub user: Option<String>,
    /// Acting user.
    #[arg(long)]
    pub actor: Option<String>,
    /// Token id.
    #[arg(long)]
    pub token: Option<String>,
    /// create, edit, rotate, revoke or expire.
    #[arg(long)]
    pub action: Option<String>,
    /// At or after (Unix seconds).
    #[arg(long)]
    pub since: Option<i64>,
    /// Before (Unix seconds).
    #[arg(long)]
    pub until: Option<i64>,
    /// IP address or CIDR block.
    #[arg(long)]
    pub ip: Option<crate::cidr::Cidr>,
    /// Page size.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Continue after this cursor (printed with the previous page).
    #[arg(long)]
    pub cursor: Option<i64>,
}

impl Store {
    /// History, newest first, filtered and paginated. Returns the rows and the cursor for
    /// the next page (None: no more). Reads at most one page (plus one row) per query; an
    /// IP filter (applied here: SQLite has no address type) reads further pages until
    /// the page is full.
    pub fn history(&mut self, f: &HistoryFilter) -> anyhow::Result<(Vec<HistoryRow>, Option<i64>)> {
        let limit = f.limit.max(1);
        let batch = i64::try_from(limit.saturating_add(1).max(256))?;
        let mut cursor = f.cursor;
        let mut out = Vec::new();
        loop {
            let rows = self.conn.query(
                "SELECT seq, token_id, owner, action, actor, ip, at, name, scopes, expires, \
                 parent, old_name, old_scopes, old_expires, related FROM history \
                 WHERE (CAST($1 AS TEXT) IS NULL OR owner_key = $1) AND (CAST($2 AS TEXT) IS NULL OR actor_key = $2) \
                 AND (CAST($3 AS TEXT) IS NULL OR token_id = $3) AND (CAST($4 AS TEXT) IS NULL OR action = $4) \
                 AND (CAST($5 AS BIGINT) IS NULL OR at >= $5) AND (CAST($6 AS BIGINT) IS NULL OR at < $6) \
                 AND (CAST($7 AS BIGINT) IS NULL OR seq < $7) ORDER BY seq DESC LIMIT $8",
                &vals![
                    f.user.as_deref().map(name_key),
                    f.actor.as_deref().map(name_key),
                    &f.token,
                    &f.action,
                    &f.since,
                    &f.until,
                    &cursor,
                    batch
                ],
            )?;
            let exhausted = i64::try_from(rows.len())? < batch;
            for r in &rows {
                let seq = r.int(0)?;
                cursor = Some(seq);
                let ip = r.opt_text(5)?;
                if let Some(cidr) = &f.ip
                    && !ip.as_deref().is_some_and(|a| cidr.contains(a))
                {
                    continue;
                }
                if out.len() == limit {
                    let next = out.last().map(|r: &HistoryRow| r.seq);
                    return Ok((out, next));
                }
                let action = r.text(3)?;
                let action = wit::HistoryAction::parse(&action)
                    .with_context(|| format!("history row {seq}: unknown action `{action}`"))?;
                out.push(HistoryRow {
                    seq,
                    event: wit::HistoryEvent {
                        token_id: r.text(1)?,
                        owner: r.text(2)?,
                        action,
                        actor: r.text(4)?,
                        ip,
                        at: r.int(6)?,
                        name: r.text(7)?,
                        scopes: parse(&r.text(8)?)?,
                        expires: r.opt_int(9)?,
                        parent: r.opt_text(10)?,
                        old_name: r.opt_text(11)?,
                        old_scopes: r.opt_text(12)?.map(|s| parse(&s)).transpose()?,
                        old_expires: r.opt_text(13)?.map(|s| parse(&s)).transpose()?,
                        related: r.opt_text(14)?,
                    },
                });
            }
            if exhausted {
                return Ok((out, None));
            }
        }
    }
}
