//! The store's people, managed one change at a time (issue 25): users and organisations
//! (`forge-authz user|org add|list|show|change|remove`) and organisations' members
//! (`forge-authz member ...`). The authority is the store's credentials (a forge's site
//! administration panel): the policy decides requests over these rows, not who may write
//! them.
//!
//! Every change is one write transaction recorded in the records' history
//! (`record_history`, not configuration: `user-add`, `org-change`, `member-remove`, ...;
//! who, when, before and after, never a secret), listed by `forge-authz history
//! --records`. Rules that hold at creation hold after every change: a name follows the
//! policy's own name rule; a member must be a user and its organisation an organisation;
//! removing a user or organisation that still owns repositories is refused (Gitea's rule:
//! remove or transfer them first);
//! removing an account removes what hangs off it (memberships, collaborations, its SSH
//! keys, its place in protected refs' user lists) and revokes, in the same transaction,
//! every token it owns or that is bound to its namespace: a later account of the same
//! name never inherits them. Each revocation is planned by the policy (a maintenance
//! revocation named after the operator) and written to the token history.

use serde::Serialize;

use super::{Conn, Store, all_tokens, config, name_key, put_user};
use crate::vals;
use crate::world::{Status, UserDef, Visibility};
use forge_authz_guest::policy::principal::valid_name;

mod members;
pub use super::record_history::{
    RECORD_ACTION_PREFIXES, RecordFilter, is_record_action, record_history,
};
pub use members::{MemberOp, check_role, members, memberships, parse_role, set_member};

/// Why a change was not made. The CLI gives each kind its exit status.
#[derive(Debug)]
pub enum Refusal {
    /// What the command names does not exist.
    NotFound(String),
    /// Bad input: a name that breaks the rules, a duplicate, a user where an organisation
    /// goes (or the reverse).
    Invalid(String),
    /// A rule that holds after every change forbids it (removing an owner of
    /// repositories).
    Refused(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotFound(m) | Refusal::Invalid(m) | Refusal::Refused(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Refusal {}

fn not_found(m: String) -> anyhow::Error {
    Refusal::NotFound(m).into()
}

fn invalid(m: String) -> anyhow::Error {
    Refusal::Invalid(m).into()
}

/// A user or organisation as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Account {
    /// Its login, as spelled when it was added.
    pub login: String,
    /// An organisation (else a user).
    pub organization: bool,
    /// `active`, `inactive` or `suspended`.
    pub status: String,
    /// A site administrator.
    pub site_admin: bool,
    /// `public`, `limited` or `private`.
    pub visibility: String,
}

impl Account {
    /// `user` or `organisation`, as messages name it.
    pub fn kind(&self) -> &'static str {
        if self.organization {
            "organisation"
        } else {
            "user"
        }
    }
}

/// An organisation's member as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Member {
    /// The member's login.
    pub login: String,
    /// `read`, `write` or `admin` (owners).
    pub role: String,
}

/// Refuse a login the policy would refuse in a request (`valid_name`: 1 to 100 of ASCII
/// letters, digits, `-`, `_`, `.`; not `.` or `..`).
pub fn check_login(login: &str) -> anyhow::Result<()> {
    if valid_name(login) {
        return Ok(());
    }
    Err(invalid(format!(
        "`{}` is not a valid name: use 1 to 100 of `A`-`Z`, `a`-`z`, `0`-`9`, `-`, `_` and \
         `.` (not `.` or `..`)",
        login.escape_debug()
    )))
}

fn account_from(r: &super::Row) -> anyhow::Result<Account> {
    Ok(Account {
        login: r.text(0)?,
        organization: r.flag(1)?,
        status: r.text(2)?,
        site_admin: r.flag(3)?,
        visibility: r.text(4)?,
    })
}

/// The user or organisation `login` (names compare case-insensitively).
pub fn account(conn: &mut Conn, login: &str) -> anyhow::Result<Option<Account>> {
    conn.query_opt(
        "SELECT name, organization, status, site_admin, visibility FROM users \
         WHERE name_key = $1",
        &vals![name_key(login)],
    )?
    .as_ref()
    .map(account_from)
    .transpose()
}

/// Every user (`organization` false) or every organisation, by name.
pub fn accounts(conn: &mut Conn, organization: bool) -> anyhow::Result<Vec<Account>> {
    conn.query(
        "SELECT name, organization, status, site_admin, visibility FROM users \
         WHERE organization = $1 ORDER BY name_key",
        &vals![organization],
    )?
    .iter()
    .map(account_from)
    .collect()
}

/// The account `login` of the kind asked for, or the refusal that names what is there.
pub fn expect_account(conn: &mut Conn, login: &str, organization: bool) -> anyhow::Result<Account> {
    let want = if organization { "organisation" } else { "user" };
    let Some(a) = account(conn, login)? else {
        return Err(not_found(format!(
            "no {want} `{}`: list them with `forge-authz {} list`",
            login.escape_debug(),
            command(organization)
        )));
    };
    if a.organization != organization {
        let (is, not) = if a.organization {
            ("an organisation", "a user")
        } else {
            ("a user", "an organisation")
        };
        return Err(invalid(format!(
            "`{}` is {is}, not {not}: use `forge-authz {} ...`",
            a.login,
            command(a.organization)
        )));
    }
    Ok(a)
}

fn command(organization: bool) -> &'static str {
    if organization { "org" } else { "user" }
}

fn action(organization: bool, verb: &str) -> String {
    format!("{}-{verb}", command(organization))
}

/// Add a user or organisation (`def.organization`), as `actor` at `now`.
pub fn add_account(store: &mut Store, def: &UserDef, actor: &str, now: i64) -> anyhow::Result<()> {
    check_login(&def.name)?;
    let mut tx = store.write()?;
    if let Some(a) = account(&mut tx, &def.name)? {
        return Err(invalid(format!(
            "{} `{}` already exists (names compare case-insensitively): show it with \
             `forge-authz {} show {}`",
            a.kind(),
            a.login,
            command(a.organization),
            a.login
        )));
    }
    put_user(&mut tx, def)?;
    let after = expect_account(&mut tx, &def.name, def.organization)?;
    let detail = serde_json::json!({"login": &def.name, "after": after});
    config::record(
        &mut tx,
        &action(def.organization, "add"),
        actor,
        now,
        None,
        &detail,
    )?;
    tx.commit()
}

/// What `user change` / `org change` sets (None: unchanged).
#[derive(Clone, Debug, Default)]
pub struct AccountChange {
    /// A new status.
    pub status: Option<Status>,
    /// A site administrator or not.
    pub site_admin: Option<bool>,
    /// A new visibility.
    pub visibility: Option<Visibility>,
}

/// Change account `login` of the kind asked for; returns it before and after (equal: no
/// change, nothing recorded).
pub fn change_account(
    store: &mut Store,
    login: &str,
    organization: bool,
    change: &AccountChange,
    actor: &str,
    now: i64,
) -> anyhow::Result<(Account, Account)> {
    let mut tx = store.write()?;
    let before = expect_account(&mut tx, login, organization)?;
    let after = Account {
        status: change
            .status
            .map_or_else(|| before.status.clone(), |s| s.name().to_owned()),
        site_admin: change.site_admin.unwrap_or(before.site_admin),
        visibility: change
            .visibility
            .map_or_else(|| before.visibility.clone(), |v| v.name().to_owned()),
        ..before.clone()
    };
    if after == before {
        return Ok((before, after));
    }
    tx.execute(
        "UPDATE users SET status = $1, site_admin = $2, visibility = $3 WHERE name_key = $4",
        &vals![
            &after.status,
            after.site_admin,
            &after.visibility,
            name_key(login)
        ],
    )?;
    let detail = serde_json::json!({"login": &before.login, "before": &before, "after": &after});
    let verb = action(organization, "change");
    config::record(&mut tx, &verb, actor, now, None, &detail)?;
    tx.commit()?;
    Ok((before, after))
}

/// What removing an account removed with it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Removed {
    /// The account as it was.
    pub account: Option<Account>,
    /// Organisation memberships (of the user; of the organisation: its members).
    pub memberships: u64,
    /// Collaborator roles on repositories.
    pub collaborations: u64,
    /// Its SSH keys.
    pub ssh_keys: u64,
    /// Its places in protected refs' user lists.
    pub protected_ref_entries: u64,
    /// The tokens revoked (ids, the policy's plan: children with their parents).
    pub revoked_tokens: Vec<String>,
}

/// Revokes tokens inside the caller's write transaction: the ids given, each with its
/// children, as the policy plans it for the operator's maintenance job; returns every id
/// revoked. The caller passes the lifecycle's `revoke_in` (the store does not ask the
/// policy itself).
pub type RevokeIn<'a> = dyn FnMut(&mut Conn, &[String]) -> anyhow::Result<Vec<String>> + 'a;

/// Remove account `login` of the kind asked for, and what hangs off it (see the module's
/// doc), as `actor` at `now`; `revoke` revokes its tokens. Refused while it owns
/// repositories.
pub fn remove_account(
    store: &mut Store,
    login: &str,
    organization: bool,
    actor: &str,
    now: i64,
    revoke: &mut RevokeIn<'_>,
) -> anyhow::Result<Removed> {
    let mut tx = store.write()?;
    let before = expect_account(&mut tx, login, organization)?;
    refuse_if_owner(&mut tx, &before)?;
    let key = name_key(login);
    let mut removed = Removed {
        memberships: tx.execute(
            "DELETE FROM org_members WHERE org_key = $1 OR member_key = $1",
            &vals![key.as_str()],
        )?,
        collaborations: tx.execute(
            "DELETE FROM collaborators WHERE login_key = $1",
            &vals![key.as_str()],
        )?,
        ssh_keys: tx.execute(
            "DELETE FROM ssh_keys WHERE kind = 'user' AND owner_key = $1",
            &vals![key.as_str()],
        )?,
        protected_ref_entries: tx.execute(
            "DELETE FROM protected_ref_users WHERE lower(login) = $1",
            &vals![key.as_str()],
        )?,
        ..Removed::default()
    };
    tx.execute(
        "DELETE FROM users WHERE name_key = $1",
        &vals![key.as_str()],
    )?;
    let ids = tokens_of_namespace(&mut tx, &key)?;
    removed.revoked_tokens = revoke(&mut tx, &ids)?;
    removed.account = Some(before);
    let detail = serde_json::json!({"login": login, "removed": &removed});
    let verb = action(organization, "remove");
    config::record(&mut tx, &verb, actor, now, None, &detail)?;
    tx.commit()?;
    Ok(removed)
}

/// Refuse to remove an account that still owns repositories (naming a few).
fn refuse_if_owner(conn: &mut Conn, a: &Account) -> anyhow::Result<()> {
    let repos = conn.query(
        "SELECT owner, name FROM repositories WHERE owner_key = $1 ORDER BY name_key",
        &vals![name_key(&a.login)],
    )?;
    if repos.is_empty() {
        return Ok(());
    }
    let names = repos
        .iter()
        .take(5)
        .map(|r| Ok(format!("{}/{}", r.text(0)?, r.text(1)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let more = if repos.len() > names.len() {
        ", ..."
    } else {
        ""
    };
    Err(Refusal::Refused(format!(
        "{} `{}` still owns {} repositories ({}{more}): remove them first with `forge-authz \
         repo remove OWNER/NAME`",
        a.kind(),
        a.login,
        repos.len(),
        names.join(", ")
    ))
    .into())
}

/// The tokens not yet revoked that the namespace `key` would hand on to a later account
/// of its name: owned by it, or bound to it (`--bind-owner`) or to a repository in it.
fn tokens_of_namespace(conn: &mut Conn, key: &str) -> anyhow::Result<Vec<String>> {
    let in_namespace = |path: &str| {
        path.split_once('/')
            .is_some_and(|(owner, _)| name_key(owner) == key)
    };
    Ok(all_tokens(conn)?
        .into_iter()
        .map(|t| t.record)
        .filter(|r| r.revoked.is_none())
        .filter(|r| {
            name_key(&r.owner) == key
                || r.owners.iter().any(|o| name_key(o) == key)
                || r.repositories.iter().any(|p| in_namespace(p))
        })
        .map(|r| r.id)
        .collect())
}
