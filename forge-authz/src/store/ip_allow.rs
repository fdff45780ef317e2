//! IP allow lists (issue 23): an organisation's (`users.ip_allow`) and a token's
//! (`tokens.ip_allow`), each a JSON array of CIDR blocks (`[]`: no restriction). The
//! policy decides with them (`namespace-facts.ip-allow`, `repository-facts.owner-ip-allow`,
//! `token-facts.ip-allow`); the store keeps them, checks each block an operator types
//! (`org ip-allow`, `token create --ip-allow`), and records every change of an
//! organisation's list in the records' history (`ip-allow-set`: who, when, the list
//! before and after). A world (or bulk) import keeps a list as written: a block the policy
//! cannot parse matches nothing, so it can only narrow, and the store answers as the world.
//!
//! A token's list is not part of the lifecycle's `token-record` (the policy never edits
//! it): it is given when the token is created, and a rotation's successor or a derived
//! child keeps the list of the token it comes from (a narrowing only).

use anyhow::{Context as _, bail};

use super::{Conn, Store, config, json, name_key, parse};
use crate::cidr::Cidr;
use crate::vals;

/// `blocks`, each checked as an IPv4 or IPv6 address or CIDR block (`192.0.2.0/24`,
/// `2001:db8::/32`, `198.51.100.7`), trimmed; the first bad one is named.
pub fn checked_blocks(blocks: &[String]) -> anyhow::Result<Vec<String>> {
    blocks
        .iter()
        .map(|b| {
            let b = b.trim();
            b.parse::<Cidr>()
                .map_err(|e| anyhow::anyhow!("IP allow list: {e}"))?;
            Ok(b.to_owned())
        })
        .collect()
}

/// A stored list (a JSON array of text).
pub fn parse_blocks(text: &str) -> anyhow::Result<Vec<String>> {
    parse(text).context("an IP allow list in the store")
}

/// An organisation's list; `None`: no such organisation (a user is not one).
pub fn org_ip_allow(conn: &mut Conn, org: &str) -> anyhow::Result<Option<Vec<String>>> {
    let Some(r) = conn.query_opt(
        "SELECT organization, ip_allow FROM users WHERE name_key = $1",
        &vals![name_key(org)],
    )?
    else {
        return Ok(None);
    };
    if !r.flag(0)? {
        return Ok(None);
    }
    parse_blocks(&r.text(1)?).map(Some)
}

/// Replace organisation `org`'s list with `blocks` (checked; empty: no restriction) as
/// `actor` at `now`, recorded in the records' history. Returns the list before.
pub fn set_org_ip_allow(
    store: &mut Store,
    org: &str,
    blocks: &[String],
    actor: &str,
    now: i64,
) -> anyhow::Result<Vec<String>> {
    let blocks = checked_blocks(blocks)?;
    let mut tx = store.write()?;
    let Some(before) = org_ip_allow(&mut tx, org)? else {
        bail!("no organisation `{org}` (IP allow lists belong to organisations)");
    };
    if before == blocks {
        return Ok(before);
    }
    tx.execute(
        "UPDATE users SET ip_allow = $1 WHERE name_key = $2",
        &vals![json(&blocks)?, name_key(org)],
    )?;
    let detail = serde_json::json!({"organization": org, "before": &before, "after": &blocks});
    config::record(&mut tx, "ip-allow-set", actor, now, None, &detail)?;
    tx.commit()?;
    Ok(before)
}

/// A token's list (`None`: no such token).
pub fn token_ip_allow(conn: &mut Conn, id: &str) -> anyhow::Result<Option<Vec<String>>> {
    conn.query_opt("SELECT ip_allow FROM tokens WHERE id = $1", &vals![id])?
        .map(|r| parse_blocks(&r.text(0)?))
        .transpose()
}

/// Set token `id`'s list as given (its row must exist; a list typed by an operator is
/// checked first: `lifecycle::create_with_ip_allow`).
pub fn set_token_ip_allow(conn: &mut Conn, id: &str, blocks: &[String]) -> anyhow::Result<()> {
    conn.execute(
        "UPDATE tokens SET ip_allow = $1 WHERE id = $2",
        &vals![json(&blocks)?, id],
    )?;
    Ok(())
}

/// Give token `to` the list of token `from` (a rotation's successor, a derived child).
pub fn inherit_token_ip_allow(conn: &mut Conn, from: &str, to: &str) -> anyhow::Result<()> {
    match token_ip_allow(conn, from)? {
        Some(blocks) if !blocks.is_empty() => set_token_ip_allow(conn, to, &blocks),
        _ => Ok(()),
    }
}
