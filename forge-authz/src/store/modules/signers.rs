//! The fleet's module signers (issue 23): minisign public keys trusted to sign policy
//! modules, beside the anchors each host is configured with (`--trusted-signers`).
//!
//! A key is added with an **endorsement** — its public key file's text signed by a key
//! already trusted — so a store writer alone cannot add trust: every host checks each
//! endorsement itself ([`trust`]). A key is retired rather than deleted (who, when; an
//! anchor's id can be retired too: a row with no key). Every change is a row of
//! `config_history`, so it is a new configuration version every host polls and applies.

use anyhow::{Context as _, bail};
use serde::Serialize;

use crate::store::{Conn, Store};
use crate::trust::{Signer, Trust};
use crate::vals;

/// One signer as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SignerRow {
    /// Key id (as `minisign` prints it).
    pub id: String,
    /// The public key file's text ("" for a retired anchor's row).
    pub public_key: String,
    /// The endorsement: the public key text signed by `endorsed_by`.
    #[serde(skip)]
    pub endorsement: Option<String>,
    /// The endorsing key's id.
    pub endorsed_by: Option<String>,
    /// When it was added (Unix seconds).
    pub added_at: i64,
    /// Who added it.
    pub added_by: String,
    /// When it was retired.
    pub retired_at: Option<i64>,
    /// Who retired it.
    pub retired_by: Option<String>,
}

/// Every signer row, oldest first.
pub fn list(conn: &mut Conn) -> anyhow::Result<Vec<SignerRow>> {
    let rows = conn.query(
        "SELECT id, public_key, endorsement, endorsed_by, added_at, added_by, retired_at, \
         retired_by FROM module_signers ORDER BY added_at, id",
        &[],
    )?;
    rows.iter().map(signer_row).collect()
}

fn signer_row(r: &crate::store::sql::Row) -> anyhow::Result<SignerRow> {
    let (id, public_key, endorsement) = (r.text(0)?, r.text(1)?, r.opt_text(2)?);
    let (added_at, added_by) = (r.int(4)?, r.text(5)?);
    Ok(SignerRow {
        id,
        public_key,
        endorsement,
        endorsed_by: r.opt_text(3)?,
        added_at,
        added_by,
        retired_at: r.opt_int(6)?,
        retired_by: r.opt_text(7)?,
    })
}

/// The trust of a host over this store: `anchors` + the store's keys whose endorsement
/// verifies (each checked here, never taken on the store's word) - retired ids. Returns it
/// with the ids left out.
pub fn trust(conn: &mut Conn, anchors: Vec<Signer>) -> anyhow::Result<(Trust, Vec<String>)> {
    let rows = list(conn)?;
    Ok(trust_of(anchors, &rows))
}

/// [`trust`] over rows already read.
pub fn trust_of(anchors: Vec<Signer>, rows: &[SignerRow]) -> (Trust, Vec<String>) {
    let mut t = Trust {
        anchors,
        retired: rows
            .iter()
            .filter(|r| r.retired_at.is_some())
            .map(|r| r.id.clone())
            .collect(),
        ..Trust::default()
    };
    let left_out = t.add_endorsed(
        rows.iter()
            .filter(|r| r.retired_at.is_none() && !r.public_key.is_empty())
            .map(|r| (r.public_key.as_str(), r.endorsement.as_deref())),
    );
    (t, left_out)
}

/// Add a signer: `public_key` (a minisign public key file's text) endorsed by
/// `endorsement`, checked against `anchors` + the store's trusted keys. Returns the new
/// key's id and its endorser's.
pub fn add(
    store: &mut Store,
    anchors: Vec<Signer>,
    public_key: &str,
    endorsement: &str,
    by: &str,
    now: i64,
) -> anyhow::Result<(String, String)> {
    let signer = Signer::parse(public_key).map_err(anyhow::Error::msg)?;
    let mut tx = store.write()?;
    let (trust, _) = trust(&mut tx, anchors)?;
    let endorser = trust
        .check_endorsement(public_key, endorsement)
        .map_err(|e| anyhow::anyhow!("endorsement refused: {e}"))?;
    if let Some(r) = list(&mut tx)?.into_iter().find(|r| r.id == signer.id) {
        let state = if r.retired_at.is_some() {
            "retired"
        } else {
            "already added"
        };
        bail!(
            "key {} is {state}: a key id is never added twice",
            signer.id
        );
    }
    tx.execute(
        "INSERT INTO module_signers (id, public_key, endorsement, endorsed_by, added_at, \
         added_by) VALUES ($1, $2, $3, $4, $5, $6)",
        &vals![
            signer.id.as_str(),
            public_key,
            endorsement,
            endorser.as_str(),
            now,
            by
        ],
    )?;
    let detail = serde_json::json!({"signer": signer.id, "endorsed_by": endorser});
    crate::store::config::record(&mut tx, "signer-add", by, now, None, &detail)?;
    tx.commit()?;
    Ok((signer.id, endorser))
}

/// Retire a signer (an added key, or an anchor's id: recorded so every host over the
/// store stops trusting it). Narrowing: always allowed, recorded. `Ok(false)`: it already
/// was retired.
pub fn retire(store: &mut Store, id: &str, by: &str, now: i64) -> anyhow::Result<bool> {
    let plain = id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit());
    if !plain {
        bail!("a signer id is 16 hexadecimal digits (as `minisign` and `signers list` print it)");
    }
    let id = id.to_ascii_uppercase();
    let mut tx = store.write()?;
    let existing = list(&mut tx)?.into_iter().find(|r| r.id == id);
    match existing {
        Some(r) if r.retired_at.is_some() => return Ok(false),
        Some(_) => {
            tx.execute(
                "UPDATE module_signers SET retired_at = $1, retired_by = $2 WHERE id = $3",
                &vals![now, by, id.as_str()],
            )?;
        }
        None => {
            tx.execute(
                "INSERT INTO module_signers (id, public_key, added_at, added_by, retired_at, \
                 retired_by) VALUES ($1, '', $2, $3, $2, $3)",
                &vals![id.as_str(), now, by],
            )
            .context("recording the retirement")?;
        }
    }
    let detail = serde_json::json!({"signer": id});
    crate::store::config::record(&mut tx, "signer-retire", by, now, None, &detail)?;
    tx.commit()?;
    Ok(true)
}
