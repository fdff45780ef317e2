//! The store's token maintenance: `audit` (findings, `--fix`) and `expire`.

use super::super::open::{open_store, store_now, store_policy};
use super::super::table::print_table;
use super::super::{DbArgs, EXIT_DENY, JsonArgs, PolicyArgs};
use crate::lifecycle::{self, Actor};

/// `forge-authz audit`
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
    /// Apply repairs.
    #[arg(long)]
    pub fix: bool,
    /// Acting user recorded for repairs.
    #[arg(long, default_value = "audit")]
    pub actor: String,
    /// Output format.
    #[command(flatten)]
    pub out: JsonArgs,
}

/// `forge-authz expire`
#[derive(Debug, clap::Args)]
pub struct ExpireArgs {
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
    /// Output format.
    #[command(flatten)]
    pub out: JsonArgs,
}

/// `forge-authz audit`
pub fn audit(p: &PolicyArgs, a: AuditArgs) -> anyhow::Result<u8> {
    let AuditArgs {
        db: DbArgs { db },
        fix,
        actor,
        out: JsonArgs { json },
    } = a;
    let mut store = open_store(&db)?;
    let mut policy = store_policy(&p.path(), p.limits(), &mut store)?;
    // Audit repairs are the operator's maintenance job, recorded under `--actor`.
    let who = Actor::system(actor, store_now(&mut store)?);
    let findings = lifecycle::audit(&mut policy, &mut store, fix, &who)?;
    if json {
        let list: Vec<serde_json::Value> = findings
            .iter()
            .map(|f| serde_json::json!({"token": f.token_id, "kind": f.kind.name(), "message": f.message, "fixable": f.fix.is_some(), "fixed": fix && f.fix.is_some()}))
            .collect();
        outln!("{}", serde_json::Value::from(list));
    } else {
        let table: Vec<Vec<String>> = findings
            .iter()
            .map(|f| {
                let state = match (&f.fix, fix) {
                    (Some(_), true) => "fixed",
                    (Some(_), false) => "fixable",
                    (None, _) => "manual",
                };
                vec![
                    f.token_id.clone(),
                    f.kind.name().into(),
                    state.into(),
                    f.message.clone(),
                ]
            })
            .collect();
        print_table(&["TOKEN", "FINDING", "REPAIR", "DETAIL"], &table);
    }
    Ok(if findings.is_empty() || fix {
        0
    } else {
        EXIT_DENY
    })
}

/// `forge-authz expire`
pub fn expire(p: &PolicyArgs, a: ExpireArgs) -> anyhow::Result<u8> {
    let ExpireArgs {
        db: DbArgs { db },
        out: JsonArgs { json },
    } = a;
    let mut store = open_store(&db)?;
    let mut policy = store_policy(&p.path(), p.limits(), &mut store)?;
    let who = Actor::system("expire", store_now(&mut store)?);
    let events = lifecycle::expire(&mut policy, &mut store, &who)?;
    if json {
        let ids: Vec<&str> = events.iter().map(|e| e.token_id.as_str()).collect();
        outln!("{}", serde_json::json!({"expired": ids}));
    } else {
        for e in &events {
            outln!("expired {} ({} of {})", e.token_id, e.name, e.owner);
        }
        eprintln!("{} token(s) expired", events.len());
    }
    Ok(0)
}
