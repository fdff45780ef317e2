//! Token rows and history events: reading records by id, owner or parent, writing
//! records, last use and expiry, and the history they leave.

#[allow(unused_imports)]
use super::*;

/// A token row: the record and the store's own bookkeeping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredToken {
    /// The record.
    pub record: wit::TokenRecord,
    /// Whether the expiry was recorded (by `expire`).
    pub expiry_recorded: bool,
    /// The token's IP allow list (issue 23; empty: no restriction), which the
    /// lifecycle's record does not carry (`ip_allow`).
    pub ip_allow: Vec<String>,
}

/// `SELECT <token columns> FROM tokens <clause>` as one static statement.
macro_rules! token_sql {
    ($($clause:literal)?) => {
        concat!(
            "SELECT id, owner, name, scopes, repositories, owners, parent, predecessor, \
             successor, created, expires, revoked, last_used, secret_hash, expiry_recorded, \
             secret_kind, ip_allow FROM tokens ",
            $($clause)?
        )
    };
}

pub(super) fn token_from_row(row: &Row) -> anyhow::Result<StoredToken> {
    Ok(StoredToken {
        record: wit::TokenRecord {
            id: row.text(0)?,
            owner: row.text(1)?,
            name: row.text(2)?,
            scopes: parse(&row.text(3)?)?,
            repositories: parse(&row.text(4)?)?,
            owners: parse(&row.text(5)?)?,
            parent: row.opt_text(6)?,
            predecessor: row.opt_text(7)?,
            successor: row.opt_text(8)?,
            created: row.int(9)?,
            expires: row.opt_int(10)?,
            revoked: row.opt_int(11)?,
            last_used: row.opt_int(12)?,
            secret: {
                let kind = row.text(15)?;
                wit::SecretDigest::from_parts(&kind, &row.blob(13)?)
                    .with_context(|| format!("token row: a `{kind}` digest must be 32 bytes"))?
            },
        },
        expiry_recorded: row.flag(14)?,
        ip_allow: super::parse_blocks(&row.text(16)?)?,
    })
}

fn tokens_of(rows: Vec<Row>) -> anyhow::Result<Vec<StoredToken>> {
    rows.iter().map(token_from_row).collect()
}

/// One token by id.
pub fn token_by_id(conn: &mut Conn, id: &str) -> anyhow::Result<Option<StoredToken>> {
    conn.query_opt(token_sql!("WHERE id = $1"), &vals![id])?
        .as_ref()
        .map(token_from_row)
        .transpose()
}

/// Every token of an owner, oldest first.
pub fn tokens_of_owner(conn: &mut Conn, owner: &str) -> anyhow::Result<Vec<StoredToken>> {
    tokens_of(conn.query(
        token_sql!("WHERE owner_key = $1 ORDER BY created, id"),
        &vals![name_key(owner)],
    )?)
}

/// Every token, oldest first (audit, expiry, export).
pub fn all_tokens(conn: &mut Conn) -> anyhow::Result<Vec<StoredToken>> {
    tokens_of(conn.query(token_sql!("ORDER BY created, id"), &[])?)
}

/// The live children of a token at `now`.
pub fn live_children(conn: &mut Conn, parent: &str, now: i64) -> anyhow::Result<Vec<StoredToken>> {
    tokens_of(conn.query(
        token_sql!(
            "WHERE parent = $1 AND revoked IS NULL AND (expires IS NULL OR expires > $2) \
             ORDER BY created, id"
        ),
        &vals![parent, now],
    )?)
}

/// The names of an owner's live tokens at `now` (names are unique among them).
pub fn live_names(conn: &mut Conn, owner: &str, now: i64) -> anyhow::Result<Vec<String>> {
    Ok(tokens_of(conn.query(
        token_sql!(
            "WHERE owner_key = $1 AND revoked IS NULL AND (expires IS NULL OR expires > $2) \
             ORDER BY created, id"
        ),
        &vals![name_key(owner), now],
    )?)?
    .into_iter()
    .map(|t| t.record.name)
    .collect())
}

/// Insert or replace a token row.
pub fn put_token(
    conn: &mut Conn,
    r: &wit::TokenRecord,
    expiry_recorded: bool,
) -> anyhow::Result<()> {
    let (kind, digest) = r.secret.parts();
    conn.execute(
        "INSERT INTO tokens (id, owner, owner_key, name, scopes, repositories, owners, parent, \
         predecessor, successor, created, expires, revoked, last_used, secret_hash, \
         expiry_recorded, secret_kind) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
         ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, owner_key = excluded.owner_key, \
         name = excluded.name, scopes = excluded.scopes, repositories = excluded.repositories, \
         owners = excluded.owners, parent = excluded.parent, \
         predecessor = excluded.predecessor, successor = excluded.successor, \
         created = excluded.created, expires = excluded.expires, revoked = excluded.revoked, \
         last_used = excluded.last_used, secret_hash = excluded.secret_hash, \
         expiry_recorded = excluded.expiry_recorded, secret_kind = excluded.secret_kind",
        &vals![
            &r.id,
            &r.owner,
            name_key(&r.owner),
            &r.name,
            json(&r.scopes)?,
            json(&r.repositories)?,
            json(&r.owners)?,
            &r.parent,
            &r.predecessor,
            &r.successor,
            r.created,
            &r.expires,
            &r.revoked,
            &r.last_used,
            &digest[..],
            expiry_recorded,
            kind,
        ],
    )?;
    Ok(())
}

/// Record that a token's expiry is in the history.
pub fn mark_expired(conn: &mut Conn, id: &str) -> anyhow::Result<()> {
    conn.execute(
        "UPDATE tokens SET expiry_recorded = 1 WHERE id = $1",
        &vals![id],
    )?;
    Ok(())
}

/// Stamp a token's last use (a single-row update: no transaction needed).
pub fn touch_last_used(conn: &mut Conn, id: &str, now: i64) -> anyhow::Result<()> {
    conn.execute(
        "UPDATE tokens SET last_used = $1 WHERE id = $2",
        &vals![now, id],
    )?;
    Ok(())
}

/// Append a history event.
pub fn put_event(conn: &mut Conn, e: &wit::HistoryEvent) -> anyhow::Result<()> {
    conn.execute(
        "INSERT INTO history (token_id, owner, owner_key, action, actor, actor_key, ip, at, \
         name, scopes, expires, parent, old_name, old_scopes, old_expires, related) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        &vals![
            &e.token_id,
            &e.owner,
            name_key(&e.owner),
            e.action.name(),
            &e.actor,
            name_key(&e.actor),
            &e.ip,
            e.at,
            &e.name,
            json(&e.scopes)?,
            &e.expires,
            &e.parent,
            &e.old_name,
            e.old_scopes.as_ref().map(json).transpose()?,
            e.old_expires.map(|x| json(&x)).transpose()?,
            &e.related,
        ],
    )?;
    Ok(())
}
