//! Site data (issue 23 item 4): the data a site policy built on the core reads — a change
//! freeze's windows, say — versioned with the rest of the configuration. It is JSON text
//! handed to the module as `config.site` ("" = none); the host checks only that it is JSON
//! of a sane size, and the policy judges what it says (`config-error.bad-site`), exactly
//! as it judges keys and options: an authorizer is created with the new configuration
//! before it is written, and every host applies it at its next poll.
//!
//! Stored as the `site` row of `meta`, verbatim (what `site show` prints is what was set,
//! byte for byte). Each change appends a `site-set` or `site-clear` row to the history
//! with the data's SHA-256, size and content: site data is configuration an operator
//! reviews, never a place for a secret. `import` replaces everything, site data included
//! (a world file has none).

use anyhow::bail;
use sha2::Digest as _;

use super::{ConfigEvent, Conn, meta, record};
use crate::vals;
use crate::wit;

/// The largest site data the store takes (bytes). A freeze calendar is a few hundred.
pub const MAX_SITE_BYTES: usize = 64 * 1024;

/// The history actions a site change records.
pub const SITE_ACTIONS: [&str; 2] = ["site-set", "site-clear"];

/// `Ok` when `text` can be site data: not empty, at most [`MAX_SITE_BYTES`], JSON.
pub fn check_site(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("site data is empty (to remove it: `forge-authz site clear`)".into());
    }
    if text.len() > MAX_SITE_BYTES {
        return Err(format!(
            "site data is {} bytes, more than the {MAX_SITE_BYTES} the store takes",
            text.len()
        ));
    }
    serde_json::from_str::<serde_json::Value>(text)
        .map(drop)
        .map_err(|e| format!("site data is not JSON: {e}"))
}

/// The SHA-256 of site data, hex.
pub fn site_sha256(text: &str) -> String {
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// Put `new` (None: no site data) into `config`, checked; false when it already holds it.
pub(super) fn plan(config: &mut wit::Config, new: Option<&str>) -> anyhow::Result<bool> {
    if let Some(text) = new {
        check_site(text).map_err(anyhow::Error::msg)?;
    }
    let new = new.unwrap_or_default();
    if config.site == new {
        return Ok(false);
    }
    new.clone_into(&mut config.site);
    Ok(true)
}

/// Write `new` (None: remove the site data) and its history row.
pub(super) fn write(
    conn: &mut Conn,
    new: Option<&str>,
    actor: &str,
    now: i64,
) -> anyhow::Result<()> {
    let previous = meta(conn, "site")?;
    let previous = previous.as_deref().map(site_sha256);
    let detail = match new {
        Some(text) => {
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('site', $1) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &vals![text],
            )?;
            let Ok(site) = serde_json::from_str::<serde_json::Value>(text) else {
                bail!("site data is not JSON");
            };
            serde_json::json!({
                "sha256": site_sha256(text),
                "bytes": text.len(),
                "previous_sha256": previous,
                "site": site,
            })
        }
        None => {
            conn.execute("DELETE FROM meta WHERE key = 'site'", &[])?;
            serde_json::json!({"previous_sha256": previous})
        }
    };
    let action = if new.is_some() {
        "site-set"
    } else {
        "site-clear"
    };
    record(conn, action, actor, now, None, &detail)
}

/// The site data's changes, newest first (at most `limit`).
pub fn site_history(conn: &mut Conn, limit: i64) -> anyhow::Result<Vec<ConfigEvent>> {
    super::events(
        conn,
        "SELECT version, action, actor, at, key_id, detail FROM config_history \
         WHERE action IN ('site-set', 'site-clear') ORDER BY version DESC LIMIT $1",
        &vals![limit],
    )
}
