//! The store's people (issue 25): `forge-authz user ...`, `org add|list|show|change|remove`
//! (beside `org ip-allow`, [`super::org`]) and `member ...`. The site operator's commands:
//! the authority is the store's credentials. Each change is one write transaction recorded
//! in the records' history (`forge-authz history --records`); the rules are the
//! store's (`store::people`). Not found exits [`EXIT_NOT_FOUND`], bad input and duplicates
//! [`EXIT_ERROR`], a removal the rules forbid [`EXIT_REFUSED`].

use clap::Subcommand;

use super::keys::ConfigArgs;
use super::table::print_table;
use super::{EXIT_ERROR, EXIT_NOT_FOUND, EXIT_REFUSED, PolicyArgs, fail};
use crate::lifecycle::{self, Actor};
use crate::store::people::{
    self, Account, AccountChange, Member, MemberOp, Refusal, Removed, parse_role,
};
use crate::store::{Conn, Store};
use crate::world::{Role, Status, UserDef, Visibility};
use forge_authz_fixture::named;

/// `forge-authz user ...`
pub type UserArgs = ConfigArgs<UserAction>;

/// `forge-authz member ...`
pub type MemberArgs = ConfigArgs<MemberAction>;

fn parse_status(s: &str) -> Result<Status, String> {
    named::parse::<Status>(s).map_err(|e| e.to_string())
}

fn parse_visibility(s: &str) -> Result<Visibility, String> {
    named::parse::<Visibility>(s).map_err(|e| e.to_string())
}

/// `forge-authz user ...`
#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Add a user account.
    Add {
        /// Its login (1 to 100 of `A`-`Z`, `a`-`z`, `0`-`9`, `-`, `_`, `.`).
        login: String,
        /// A site administrator (may act on anyone's token).
        #[arg(long)]
        admin: bool,
        /// `active`, `inactive` or `suspended`.
        #[arg(long, default_value = "active", value_parser = parse_status)]
        status: Status,
        /// `public`, `limited` (signed-in users) or `private`.
        #[arg(long, default_value = "public", value_parser = parse_visibility)]
        visibility: Visibility,
    },
    /// Every user.
    List,
    /// One user and the organisations it belongs to.
    Show {
        /// The login.
        login: String,
    },
    /// Change a user's status, site administration or visibility.
    #[command(group(clap::ArgGroup::new("what").required(true).multiple(true)
        .args(["admin", "no_admin", "status", "visibility"])))]
    Change {
        /// The login.
        login: String,
        /// Make it a site administrator.
        #[arg(long, conflicts_with = "no_admin")]
        admin: bool,
        /// No longer a site administrator.
        #[arg(long)]
        no_admin: bool,
        /// `active`, `inactive` or `suspended`.
        #[arg(long, value_parser = parse_status)]
        status: Option<Status>,
        /// `public`, `limited` or `private`.
        #[arg(long, value_parser = parse_visibility)]
        visibility: Option<Visibility>,
    },
    /// Remove a user: its memberships, collaborations and SSH keys go with it, and every
    /// token it owns or bound to its namespace is revoked. Refused while it owns
    /// repositories.
    Remove {
        /// The login.
        login: String,
    },
}

/// `forge-authz member ...`
#[derive(Debug, Subcommand)]
pub enum MemberAction {
    /// Add a user to an organisation with a role.
    Add {
        /// The organisation.
        org: String,
        /// The user.
        login: String,
        /// `read`, `write` or `admin` (owners).
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// An organisation's members and their roles.
    List {
        /// The organisation.
        org: String,
    },
    /// Change a member's role.
    Change {
        /// The organisation.
        org: String,
        /// The member.
        login: String,
        /// `read`, `write` or `admin`.
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// Remove a member from an organisation.
    Remove {
        /// The organisation.
        org: String,
        /// The member.
        login: String,
    },
}

/// A store refusal as the exit status it has (anything else unchanged).
pub fn exit_for(e: anyhow::Error) -> anyhow::Error {
    let code = match e.downcast_ref::<Refusal>() {
        Some(Refusal::NotFound(_)) => EXIT_NOT_FOUND,
        Some(Refusal::Invalid(_)) => EXIT_ERROR,
        Some(Refusal::Refused(_)) => EXIT_REFUSED,
        None => return e,
    };
    fail(code, e.to_string())
}

/// Who acts and when: the `--actor` (must name someone) and the store's clock.
pub fn actor_now(store: &mut Store, actor: &str) -> anyhow::Result<i64> {
    if actor.trim().is_empty() {
        return Err(fail(
            EXIT_ERROR,
            "`--actor` must name someone (default: $USER)",
        ));
    }
    Ok(super::open::store_now(store).unwrap_or_else(|_| crate::world::system_now()))
}

/// `forge-authz user ...`
pub fn user(p: &PolicyArgs, a: UserArgs) -> anyhow::Result<u8> {
    let mut store = super::open::open_store(&a.db.db)?;
    let (actor, json) = (a.actor.actor.as_str(), a.out.json);
    match a.action {
        UserAction::Add {
            login,
            admin,
            status,
            visibility,
        } => {
            let def = UserDef {
                name: login,
                status,
                site_admin: admin,
                visibility,
                organization: false,
                members: Default::default(),
                ip_allow: Vec::new(),
            };
            add(&mut store, &def, actor, json)
        }
        UserAction::List => list(&mut store, false, json),
        UserAction::Show { login } => show_user(&mut store, &login, json),
        UserAction::Change {
            login,
            admin,
            no_admin,
            status,
            visibility,
        } => {
            let change = AccountChange {
                status,
                site_admin: (admin || no_admin).then_some(admin),
                visibility,
            };
            change_account(&mut store, &login, false, &change, actor, json)
        }
        UserAction::Remove { login } => remove(p, &mut store, &login, false, actor, json),
    }
    .map_err(exit_for)
}

/// `user add` / `org add`.
pub fn add(store: &mut Store, def: &UserDef, actor: &str, json: bool) -> anyhow::Result<u8> {
    let now = actor_now(store, actor)?;
    people::add_account(store, def, actor, now)?;
    let a = people::expect_account(store.conn(), &def.name, def.organization)?;
    eprintln!("added {} `{}`", a.kind(), a.login);
    print_account(&a, json);
    Ok(0)
}

/// `user list` / `org list`.
pub fn list(store: &mut Store, organization: bool, json: bool) -> anyhow::Result<u8> {
    let all = people::accounts(store.conn(), organization)?;
    if json {
        let key = if organization {
            "organizations"
        } else {
            "users"
        };
        outln!("{}", serde_json::json!({ key: all }));
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|a| {
            let mut row = vec![a.login.clone(), a.visibility.clone()];
            if !organization {
                row.push(a.status.clone());
                row.push(yes_no(a.site_admin));
            }
            row
        })
        .collect();
    if organization {
        print_table(&["NAME", "VISIBILITY"], &rows);
    } else {
        print_table(&["LOGIN", "VISIBILITY", "STATUS", "ADMIN"], &rows);
    }
    Ok(0)
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

fn show_user(store: &mut Store, login: &str, json: bool) -> anyhow::Result<u8> {
    let a = people::expect_account(store.conn(), login, false)?;
    let orgs = people::memberships(store.conn(), &a.login)?;
    if json {
        let mut v = serde_json::to_value(&a)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("organizations".into(), serde_json::to_value(&orgs)?);
        }
        outln!("{v}");
        return Ok(0);
    }
    print_account(&a, false);
    let list: Vec<String> = orgs
        .iter()
        .map(|m| format!("{} ({})", m.login, m.role))
        .collect();
    outln!(
        "organisations: {}",
        if list.is_empty() {
            "none".to_owned()
        } else {
            list.join(", ")
        }
    );
    Ok(0)
}

/// An account on stdout: one JSON object, or `key: value` lines.
pub fn print_account(a: &Account, json: bool) {
    if json {
        outln!("{}", serde_json::json!(a));
        return;
    }
    let name = if a.organization { "name" } else { "login" };
    outln!("{name}: {}", a.login);
    outln!("kind: {}", a.kind());
    outln!("visibility: {}", a.visibility);
    if !a.organization {
        outln!("status: {}", a.status);
        outln!("site admin: {}", yes_no(a.site_admin));
    }
}

/// `user change` / `org change`.
pub fn change_account(
    store: &mut Store,
    login: &str,
    organization: bool,
    change: &AccountChange,
    actor: &str,
    json: bool,
) -> anyhow::Result<u8> {
    let now = actor_now(store, actor)?;
    let (before, after) = people::change_account(store, login, organization, change, actor, now)?;
    if before == after {
        eprintln!("{} `{}` unchanged", after.kind(), after.login);
    } else {
        eprintln!(
            "changed {} `{}` (was: visibility {}{})",
            after.kind(),
            after.login,
            before.visibility,
            if organization {
                String::new()
            } else {
                format!(
                    ", status {}, site admin {}",
                    before.status,
                    yes_no(before.site_admin)
                )
            }
        );
    }
    print_account(&after, json);
    Ok(0)
}

/// `user remove` / `org remove`: the policy plans each token revocation.
pub fn remove(
    p: &PolicyArgs,
    store: &mut Store,
    login: &str,
    organization: bool,
    actor: &str,
    json: bool,
) -> anyhow::Result<u8> {
    let now = actor_now(store, actor)?;
    // Checked before the policy is loaded: a name that is not there costs nothing.
    people::expect_account(store.conn(), login, organization)?;
    let mut policy = super::open::store_policy(&p.path(), p.limits(), store)?;
    let maintenance = Actor::system(actor, now);
    let mut revoke =
        |tx: &mut Conn, ids: &[String]| lifecycle::revoke_in(tx, &mut policy, ids, &maintenance);
    let removed = people::remove_account(store, login, organization, actor, now, &mut revoke)?;
    report_removed(login, &removed, json);
    Ok(0)
}

fn report_removed(login: &str, r: &Removed, json: bool) {
    let kind = r.account.as_ref().map_or("account", Account::kind);
    eprintln!(
        "removed {kind} `{login}` with {} membership(s), {} collaboration(s), {} SSH key(s), \
         {} protected-ref entry(ies); revoked {} token(s){}",
        r.memberships,
        r.collaborations,
        r.ssh_keys,
        r.protected_ref_entries,
        r.revoked_tokens.len(),
        if r.revoked_tokens.is_empty() {
            String::new()
        } else {
            format!(": {}", r.revoked_tokens.join(", "))
        }
    );
    if json {
        outln!("{}", serde_json::json!(r));
    }
}

/// `forge-authz member ...`
pub fn member(a: MemberArgs) -> anyhow::Result<u8> {
    let mut store = super::open::open_store(&a.db.db)?;
    let (actor, json) = (a.actor.actor.as_str(), a.out.json);
    let (org, login, op) = match a.action {
        MemberAction::List { org } => {
            return list_members(&mut store, &org, json).map_err(exit_for);
        }
        MemberAction::Add { org, login, role } => (org, login, MemberOp::Add(role)),
        MemberAction::Change { org, login, role } => (org, login, MemberOp::Change(role)),
        MemberAction::Remove { org, login } => (org, login, MemberOp::Remove),
    };
    let now = actor_now(&mut store, actor)?;
    let (before, after) =
        people::set_member(&mut store, &org, &login, op, actor, now).map_err(exit_for)?;
    let role = |m: &Option<Member>| m.as_ref().map_or("none".to_owned(), |m| m.role.clone());
    match op {
        MemberOp::Add(_) => eprintln!("`{org}`: added `{login}` with role {}", role(&after)),
        MemberOp::Change(_) => eprintln!(
            "`{org}`: `{login}`'s role changed from {} to {}",
            role(&before),
            role(&after)
        ),
        MemberOp::Remove => eprintln!("`{org}`: removed `{login}` (role was {})", role(&before)),
    }
    if json {
        outln!(
            "{}",
            serde_json::json!({"organization": org, "login": login, "role": after.map(|m| m.role)})
        );
    }
    Ok(0)
}

fn list_members(store: &mut Store, org: &str, json: bool) -> anyhow::Result<u8> {
    let members = people::members(store.conn(), org)?;
    if json {
        outln!(
            "{}",
            serde_json::json!({"organization": org, "members": members})
        );
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = members
        .iter()
        .map(|m| vec![m.login.clone(), m.role.clone()])
        .collect();
    print_table(&["LOGIN", "ROLE"], &rows);
    Ok(0)
}

/// `org show NAME`: the organisation, its members and its IP allow list.
pub fn show_org(store: &mut Store, name: &str, json: bool) -> anyhow::Result<u8> {
    let a = people::expect_account(store.conn(), name, true)?;
    let members = people::members(store.conn(), &a.login)?;
    let ip_allow = crate::store::org_ip_allow(store.conn(), &a.login)?.unwrap_or_default();
    if json {
        let mut v = serde_json::to_value(&a)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("members".into(), serde_json::to_value(&members)?);
            o.insert("ip_allow".into(), serde_json::to_value(&ip_allow)?);
        }
        outln!("{v}");
        return Ok(0);
    }
    print_account(&a, false);
    let list: Vec<String> = members
        .iter()
        .map(|m| format!("{} ({})", m.login, m.role))
        .collect();
    outln!(
        "members: {}",
        if list.is_empty() {
            "none".to_owned()
        } else {
            list.join(", ")
        }
    );
    outln!(
        "ip allow: {}",
        if ip_allow.is_empty() {
            "no restriction".to_owned()
        } else {
            ip_allow.join(",")
        }
    );
    Ok(0)
}

/// `forge-authz history --records`: the changes to the store's records, newest first
/// (JSON times: `at` in Unix seconds and `at_utc`).
pub fn history_records(
    store: &mut Store,
    f: &crate::store::HistoryFilter,
    json: bool,
) -> anyhow::Result<u8> {
    if let Some(a) = &f.action
        && !people::is_record_action(a)
    {
        return Err(fail(
            EXIT_ERROR,
            format!(
                "`{}` is not a change to the store's records: actions begin with {}",
                a.escape_debug(),
                people::RECORD_ACTION_PREFIXES
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let filter = people::RecordFilter {
        actor: f.actor.clone(),
        action: f.action.clone(),
        since: f.since,
        until: f.until,
        limit: f.limit,
        cursor: f.cursor,
    };
    let (events, next) = people::record_history(store.conn(), &filter)?;
    if json {
        let events: Vec<serde_json::Value> = events
            .iter()
            .map(|e| {
                serde_json::json!({
                    "seq": e.seq,
                    "action": &e.action,
                    "actor": &e.actor,
                    "at": e.at,
                    "at_utc": super::table::utc(e.at),
                    "detail": &e.detail,
                })
            })
            .collect();
        outln!(
            "{}",
            serde_json::json!({"events": events, "next_cursor": next})
        );
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                e.seq.to_string(),
                super::table::utc(e.at),
                e.action.clone(),
                e.actor.clone(),
                e.detail.to_string(),
            ]
        })
        .collect();
    print_table(&["SEQ", "AT", "ACTION", "ACTOR", "DETAIL"], &rows);
    if let Some(n) = next {
        outln!("more: --cursor {n}");
    }
    Ok(0)
}
