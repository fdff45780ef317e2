//! `forge-authz signers add|retire|list`: the fleet's module signers in the store (issue
//! 23; `store::modules::signers`). A key is added only with an endorsement that verifies
//! with a key already trusted (the anchors in `--trusted-signers`, or a signer already in
//! the store), so a store writer alone cannot add trust — and every host checks each
//! endorsement again itself. Each change is a new configuration version.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;

use super::module::TrustArgs;
use super::table::{print_table, utc};
use super::{DbArgs, JsonArgs};
use crate::store::modules::signers;
use crate::trust;

/// `forge-authz signers ...`
#[derive(Debug, clap::Args)]
pub struct SignersArgs {
    /// The store.
    #[command(flatten)]
    pub db: DbArgs,
    /// The anchors endorsements are checked with.
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Who makes the change (recorded).
    #[arg(long, env = "USER", default_value = "operator", global = true)]
    pub by: String,
    /// Machine-readable output.
    #[command(flatten)]
    pub out: JsonArgs,
    /// The operation.
    #[command(subcommand)]
    pub action: SignersAction,
}

/// `forge-authz signers ...`
#[derive(Debug, Subcommand)]
pub enum SignersAction {
    /// Add a module signer: its minisign public key file, endorsed by a trusted key
    /// (`minisign -S -s TRUSTED.key -m NEW.pub -x NEW.pub.minisig`).
    Add {
        /// The new signer's public key file.
        public_key: PathBuf,
        /// The endorsement: the public key file signed by a trusted key.
        #[arg(long)]
        endorsement: PathBuf,
    },
    /// Retire a signer (an added key or an anchor's id): no host over the store trusts
    /// its signatures any more, nor the keys only it endorsed.
    Retire {
        /// The key id (16 hex digits).
        id: String,
    },
    /// Every signer, retired ones too; with `--trusted-signers`, whether each is trusted.
    List,
}

/// `forge-authz signers ...`
pub fn signers(a: SignersArgs) -> anyhow::Result<u8> {
    let mut store = super::open::open_store(&a.db.db)?;
    let now = crate::world::system_now();
    match a.action {
        SignersAction::Add {
            public_key,
            endorsement,
        } => {
            let text = trust::read_text(&public_key).map_err(anyhow::Error::msg)?;
            let endorsed = trust::read_text(&endorsement).map_err(anyhow::Error::msg)?;
            let (id, by) =
                signers::add(&mut store, a.trust.anchors()?, &text, &endorsed, &a.by, now)?;
            eprintln!("signer {id} added (endorsed by {by}); hosts trust it at their next poll");
            outln!("{id}");
        }
        SignersAction::Retire { id } => {
            let (before, _) = signers::trust(store.conn(), a.trust.anchors()?)?;
            if signers::retire(&mut store, &id, &a.by, now)? {
                let (after, _) = signers::trust(store.conn(), a.trust.anchors()?)?;
                let lost: Vec<String> = before
                    .trusted_ids()
                    .into_iter()
                    .filter(|k| !after.trusted_ids().contains(k))
                    .collect();
                eprintln!(
                    "signer {} retired; no longer trusted: {}",
                    id.to_ascii_uppercase(),
                    lost.join(", ")
                );
            } else {
                eprintln!("signer {} was already retired", id.to_ascii_uppercase());
            }
        }
        SignersAction::List => list(&mut store, &a.trust, a.out.json)?,
    }
    Ok(0)
}

fn list(store: &mut crate::store::Store, args: &TrustArgs, json: bool) -> anyhow::Result<()> {
    let rows = signers::list(store.conn()).context("reading the signers")?;
    let anchors = args.anchors()?;
    let checked = !anchors.is_empty();
    let anchor_ids: Vec<String> = anchors.iter().map(|s| s.id.clone()).collect();
    let (trust, _) = signers::trust_of(anchors, &rows);
    let trusted = trust.trusted_ids();
    let state = |id: &str, retired: bool| -> &'static str {
        if retired {
            "retired"
        } else if !checked {
            "-"
        } else if trusted.iter().any(|t| t == id) {
            "trusted"
        } else {
            "not-endorsed"
        }
    };
    if json {
        let list: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(r).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("state".into(), state(&r.id, r.retired_at.is_some()).into());
                }
                v
            })
            .collect();
        super::json::print(
            serde_json::json!({"signers": list, "anchors": anchor_ids, "trusted": trusted}),
        );
        return Ok(());
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.id.clone(),
                state(&r.id, r.retired_at.is_some()).into(),
                r.endorsed_by.clone().unwrap_or_else(|| "-".into()),
                format!("{} by {}", utc(r.added_at), r.added_by),
                match (r.retired_at, &r.retired_by) {
                    (Some(at), Some(by)) => format!("{} by {by}", utc(at)),
                    _ => "-".into(),
                },
            ]
        })
        .collect();
    print_table(&["ID", "STATE", "ENDORSED BY", "ADDED", "RETIRED"], &table);
    Ok(())
}
