//! Organisations in the store: `org add|list|show|change|remove` (issue 25, carried out
//! by [`super::people`]) and `org ip-allow ORG --set CIDR,... | --clear | --show` (issue
//! 23). Every change is one write transaction recorded in the records' history
//! (`history --records`: `org-add`, `ip-allow-set`, ...: who, when, before and after).

use clap::Subcommand;

use super::PolicyArgs;
use super::keys::ConfigArgs;
use super::people;
use crate::store::people::AccountChange;
use crate::store::{org_ip_allow, set_org_ip_allow};
use crate::world::{Status, UserDef, Visibility};

/// `forge-authz org ...`
pub type OrgArgs = ConfigArgs<OrgAction>;

/// `forge-authz org ...`
#[derive(Debug, Subcommand)]
pub enum OrgAction {
    /// Add an organisation (members: `forge-authz member add ORG LOGIN --role ROLE`).
    Add {
        /// Its name (1 to 100 of `A`-`Z`, `a`-`z`, `0`-`9`, `-`, `_`, `.`).
        name: String,
        /// `public`, `limited` (signed-in users) or `private` (members only).
        #[arg(long, default_value = "public", value_parser = parse_visibility)]
        visibility: Visibility,
    },
    /// Every organisation.
    List,
    /// One organisation: its visibility, members and IP allow list.
    Show {
        /// Its name.
        name: String,
    },
    /// Change an organisation's visibility.
    Change {
        /// Its name.
        name: String,
        /// `public`, `limited` or `private`.
        #[arg(long, value_parser = parse_visibility, required = true)]
        visibility: Option<Visibility>,
    },
    /// Remove an organisation and its memberships; every token bound to it is revoked.
    /// Refused while it owns repositories.
    Remove {
        /// Its name.
        name: String,
    },
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

fn parse_visibility(s: &str) -> Result<Visibility, String> {
    forge_authz_fixture::named::parse::<Visibility>(s).map_err(|e| e.to_string())
}

/// `forge-authz org ...`
pub fn org(p: &PolicyArgs, a: OrgArgs) -> anyhow::Result<u8> {
    let mut store = super::open::open_store(&a.db.db)?;
    let (actor, json) = (a.actor.actor.as_str(), a.out.json);
    let store = &mut store;
    match a.action {
        OrgAction::Add { name, visibility } => {
            let def = UserDef {
                name,
                status: Status::Active,
                site_admin: false,
                visibility,
                organization: true,
                members: Default::default(),
                ip_allow: Vec::new(),
            };
            people::add(store, &def, actor, json)
        }
        OrgAction::List => people::list(store, true, json),
        OrgAction::Show { name } => people::show_org(store, &name, json),
        OrgAction::Change { name, visibility } => {
            let change = AccountChange {
                visibility,
                ..AccountChange::default()
            };
            people::change_account(store, &name, true, &change, actor, json)
        }
        OrgAction::Remove { name } => people::remove(p, store, &name, true, actor, json),
        OrgAction::IpAllow {
            org,
            set,
            clear,
            show,
        } => ip_allow(store, &org, set, clear, show, actor, json),
    }
    .map_err(people::exit_for)
}

fn ip_allow(
    store: &mut crate::store::Store,
    org: &str,
    set: Vec<String>,
    clear: bool,
    show: bool,
    actor: &str,
    json: bool,
) -> anyhow::Result<u8> {
    if show {
        let Some(list) = org_ip_allow(store.conn(), org)? else {
            return Err(super::fail(
                super::EXIT_NOT_FOUND,
                format!("no organisation `{org}`: list them with `forge-authz org list`"),
            ));
        };
        print(org, &list, json);
        return Ok(0);
    }
    if actor.trim().is_empty() {
        anyhow::bail!("`--actor` must name someone");
    }
    let list = if clear { Vec::new() } else { set };
    let now = super::open::store_now(store).unwrap_or_else(|_| crate::world::system_now());
    let before = set_org_ip_allow(store, org, &list, actor, now)?;
    let after = org_ip_allow(store.conn(), org)?.unwrap_or_default();
    if before == after {
        eprintln!("`{org}`: IP allow list unchanged");
    } else {
        eprintln!("`{org}`: IP allow list set (was: {})", shown(&before));
    }
    print(org, &after, json);
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
