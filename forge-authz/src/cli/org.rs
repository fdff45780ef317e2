//! Organisations' settings in the store: `org ip-allow ORG --set CIDR,... | --clear |
//! --show` (issue 23). Every change is one write transaction recorded in the
//! configuration's history (`keys history`: `ip-allow-set`, who, when, before and after).

use clap::Subcommand;

use super::keys::ConfigArgs;
use crate::store::{org_ip_allow, set_org_ip_allow};

/// `forge-authz org ...`
pub type OrgArgs = ConfigArgs<OrgAction>;

/// `forge-authz org ...`
#[derive(Debug, Subcommand)]
pub enum OrgAction {
    /// An organisation's IP allow list: authenticated requests to it and its repositories
    /// must come from an address in one of its blocks (GitHub's organisation allow list,
    /// GitLab's group restriction by IP address). Empty: no restriction.
    IpAllow {
        /// The organisation's login.
        org: String,
        /// Replace the list: comma-separated CIDR blocks or addresses
        /// (`192.0.2.0/24,2001:db8::/32`).
        #[arg(
            long,
            value_delimiter = ',',
            value_name = "CIDR,...",
            num_args = 1..,
            required_unless_present_any = ["clear", "show"],
            conflicts_with_all = ["clear", "show"]
        )]
        set: Vec<String>,
        /// Remove every block (no restriction).
        #[arg(long, conflicts_with = "show")]
        clear: bool,
        /// Print the list.
        #[arg(long)]
        show: bool,
    },
}

/// `forge-authz org ...`
pub fn org(a: OrgArgs) -> anyhow::Result<u8> {
    let mut store = super::open::open_store(&a.db.db)?;
    let (actor, json) = (a.actor.actor.as_str(), a.out.json);
    let OrgAction::IpAllow {
        org,
        set,
        clear,
        show,
    } = a.action;
    if show {
        let Some(list) = org_ip_allow(store.conn(), &org)? else {
            anyhow::bail!("no organisation `{org}`");
        };
        print(&org, &list, json);
        return Ok(0);
    }
    if actor.trim().is_empty() {
        anyhow::bail!("`--actor` must name someone");
    }
    let list = if clear { Vec::new() } else { set };
    let now = super::open::store_now(&mut store).unwrap_or_else(|_| crate::world::system_now());
    let before = set_org_ip_allow(&mut store, &org, &list, actor, now)?;
    let after = org_ip_allow(store.conn(), &org)?.unwrap_or_default();
    if before == after {
        eprintln!("`{org}`: IP allow list unchanged");
    } else {
        eprintln!("`{org}`: IP allow list set (was: {})", shown(&before));
    }
    print(&org, &after, json);
    Ok(0)
}

fn shown(list: &[String]) -> String {
    if list.is_empty() {
        "no restriction".into()
    } else {
        list.join(",")
    }
}

fn print(org: &str, list: &[String], json: bool) {
    if json {
        outln!(
            "{}",
            serde_json::json!({"organization": org, "ip_allow": list})
        );
    } else {
        outln!("{org}: {}", shown(list));
    }
}
