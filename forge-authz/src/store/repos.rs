//! Repositories managed one at a time by the site operator (issue 25): repositories,
//! their collaborators (here), SSH keys (`keys`: user and deploy keys) and protected refs
//! (`protect`). The authority is the store's credentials, like a forge's site-admin panel.
//!
//! Every change is one write transaction recorded in the records' history
//! (`record_history`, not configuration: `repo-add`, `repo-change`, `repo-remove`,
//! `collaborator-add`, `ssh-key-add`, `deploy-key-remove`, `protect-add`, ...,
//! with the actor and a JSON detail of before and after, never a secret). What holds at
//! creation holds after every change: names follow the policy's own rule
//! (`principal::valid_repository_path`), a collaborator, key or rule needs its user and
//! repository to exist, and removing a repository removes what hangs off it (collaborators,
//! protected refs, deploy keys) and revokes, through the policy's lifecycle, every token
//! bound to it in the same transaction — a repository re-created under the same name never
//! inherits old bound tokens.
//!
//! A refused change is a [`Failure`] saying why ([`Refusal`]: bad input or a duplicate,
//! not found, refused), which the CLI maps to its exit status.

mod keys;
mod protect;

pub use keys::*;
pub use protect::*;

use anyhow::anyhow;
use forge_authz_fixture::named;
use forge_authz_guest::policy::principal::valid_repository_path;
use serde::Serialize;

use super::people::RevokeIn;
use super::{Conn, Row, Store, all_tokens, config, name_key};
use crate::vals;
use crate::world::{RepoKind, Role};

/// Why a change was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Bad input, or what it would add exists already.
    Invalid,
    /// What it names does not exist.
    NotFound,
    /// A rule that holds after every change refuses it (or the policy does).
    Refused,
}

/// A refused change: why, and what the user reads.
#[derive(Debug)]
pub struct Failure {
    /// Why.
    pub refusal: Refusal,
    /// The message (what happened and what to do next).
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// A refused change as an error.
pub fn fail(refusal: Refusal, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Failure {
        refusal,
        message: message.into(),
    })
}

/// A repository as the management commands show it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RepoInfo {
    /// `owner/name`, as stored.
    pub repository: String,
    /// Owning user or organisation.
    pub owner: String,
    /// Name within the owner.
    pub name: String,
    /// Private.
    pub private: bool,
    /// `hosted`, `mirror` or `import`.
    pub kind: String,
    /// Archived.
    pub archived: bool,
    /// Who registered it (may confirm or abort its creation), if anyone.
    pub registrant: Option<String>,
}

/// A repository's settings (`repo add`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RepoSettings {
    /// Private.
    pub private: bool,
    /// Kind.
    pub kind: RepoKind,
    /// Archived.
    pub archived: bool,
}

/// What `repo change` changes (`None`: unchanged).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RepoChange {
    /// Private or public.
    pub private: Option<bool>,
    /// Kind.
    pub kind: Option<RepoKind>,
    /// Archived or not.
    pub archived: Option<bool>,
}

/// What `repo remove` removed.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Removed {
    /// The repository.
    pub repository: String,
    /// Collaborators removed.
    pub collaborators: Vec<String>,
    /// Protected-ref patterns removed.
    pub protected_refs: Vec<String>,
    /// Deploy keys removed (ids).
    pub deploy_keys: Vec<String>,
    /// Tokens revoked (ids; a bound token's children too).
    pub revoked_tokens: Vec<String>,
}

/// A collaborator and its role.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Collaborator {
    /// The user's login.
    pub login: String,
    /// `read`, `write` or `admin`.
    pub role: String,
}

/// `owner/name` checked by the policy's rule for names: the owner and the name.
pub fn parse_repo_path(path: &str) -> anyhow::Result<(String, String)> {
    match path.split_once('/') {
        Some((o, n)) if valid_repository_path(path) => Ok((o.to_owned(), n.to_owned())),
        _ => Err(fail(
            Refusal::Invalid,
            format!(
                "`{}` is not a repository: write OWNER/NAME, each part 1 to 100 of letters, \
                 digits, `-`, `_` and `.` (not `.` or `..`), the name not ending in `.git`",
                path.escape_debug()
            ),
        )),
    }
}

fn repo_from_row(r: &Row) -> anyhow::Result<RepoInfo> {
    let (owner, name) = (r.text(0)?, r.text(1)?);
    Ok(RepoInfo {
        repository: format!("{owner}/{name}"),
        owner,
        name,
        private: r.flag(2)?,
        kind: r.text(3)?,
        archived: r.flag(4)?,
        registrant: r.opt_text(5)?,
    })
}

/// Repository `path` (`owner/name`, any case), if it exists.
pub fn find_repo(conn: &mut Conn, path: &str) -> anyhow::Result<Option<RepoInfo>> {
    let (owner, name) = parse_repo_path(path)?;
    conn.query_opt(
        "SELECT owner, name, private, kind, archived, registrant FROM repositories \
         WHERE owner_key = $1 AND name_key = $2",
        &vals![name_key(&owner), name_key(&name)],
    )?
    .as_ref()
    .map(repo_from_row)
    .transpose()
}

/// Repository `path`, or a not-found error naming it.
pub fn need_repo(conn: &mut Conn, path: &str) -> anyhow::Result<RepoInfo> {
    find_repo(conn, path)?.ok_or_else(|| {
        fail(
            Refusal::NotFound,
            format!("no repository `{path}`: `forge-authz repo list` shows the repositories"),
        )
    })
}

/// Every repository (of `owner`, if given), by owner and name.
pub fn list_repos(conn: &mut Conn, owner: Option<&str>) -> anyhow::Result<Vec<RepoInfo>> {
    let rows = match owner {
        Some(o) => conn.query(
            "SELECT owner, name, private, kind, archived, registrant FROM repositories \
             WHERE owner_key = $1 ORDER BY owner_key, name_key",
            &vals![name_key(o)],
        )?,
        None => conn.query(
            "SELECT owner, name, private, kind, archived, registrant FROM repositories \
             ORDER BY owner_key, name_key",
            &[],
        )?,
    };
    rows.iter().map(repo_from_row).collect()
}

/// An account: its login as stored and whether it is an organisation.
pub fn find_account(conn: &mut Conn, login: &str) -> anyhow::Result<Option<(String, bool)>> {
    conn.query_opt(
        "SELECT name, organization FROM users WHERE name_key = $1",
        &vals![name_key(login)],
    )?
    .map(|r| Ok((r.text(0)?, r.flag(1)?)))
    .transpose()
}

/// A user (not an organisation) that exists: its login as stored.
pub fn need_user(conn: &mut Conn, login: &str, what: &str) -> anyhow::Result<String> {
    match find_account(conn, login)? {
        Some((name, false)) => Ok(name),
        Some((name, true)) => Err(fail(
            Refusal::Invalid,
            format!("`{name}` is an organisation, and {what} must be a user"),
        )),
        None => Err(fail(
            Refusal::NotFound,
            format!("no user `{login}` ({what}): add it first with `forge-authz user add {login}`"),
        )),
    }
}

/// Add repository `path` owned by an existing user or organisation, as `actor` at `now`.
pub fn add_repo(
    store: &mut Store,
    path: &str,
    settings: RepoSettings,
    registrant: Option<&str>,
    actor: &str,
    now: i64,
) -> anyhow::Result<RepoInfo> {
    let (owner, name) = parse_repo_path(path)?;
    let mut tx = store.write()?;
    let Some((owner, _)) = find_account(&mut tx, &owner)? else {
        return Err(fail(
            Refusal::NotFound,
            format!(
                "no user or organisation `{owner}` to own `{path}`: add it first \
                 (`forge-authz user add {owner}` or `forge-authz org add {owner}`)"
            ),
        ));
    };
    if let Some(r) = find_repo(&mut tx, path)? {
        return Err(fail(
            Refusal::Invalid,
            format!(
                "repository `{}` already exists: change it with `forge-authz repo change`",
                r.repository
            ),
        ));
    }
    let registrant = match registrant {
        Some(r) => Some(need_user(&mut tx, r, "the registrant")?),
        None => None,
    };
    let def = crate::world::RepoDef {
        owner,
        name,
        private: settings.private,
        kind: settings.kind,
        archived: settings.archived,
        collaborators: Default::default(),
        protected_refs: Vec::new(),
        registrant,
    };
    def.validate()
        .map_err(|e| fail(Refusal::Invalid, format!("{e:#}")))?;
    super::put_repository(&mut tx, &def)?;
    let info = need_repo(&mut tx, path)?;
    let detail = serde_json::json!({"repository": &info.repository, "after": &info});
    config::record(&mut tx, "repo-add", actor, now, None, &detail)?;
    tx.commit()?;
    Ok(info)
}

/// Change repository `path`'s settings; returns (before, after). No change: nothing is
/// written or recorded.
pub fn change_repo(
    store: &mut Store,
    path: &str,
    change: RepoChange,
    actor: &str,
    now: i64,
) -> anyhow::Result<(RepoInfo, RepoInfo)> {
    let mut tx = store.write()?;
    let before = need_repo(&mut tx, path)?;
    let after = RepoInfo {
        private: change.private.unwrap_or(before.private),
        kind: change
            .kind
            .map_or_else(|| before.kind.clone(), |k| k.name().to_owned()),
        archived: change.archived.unwrap_or(before.archived),
        ..before.clone()
    };
    if after == before {
        return Ok((before, after));
    }
    named::parse::<RepoKind>(&after.kind)?;
    tx.execute(
        "UPDATE repositories SET private = $1, kind = $2, archived = $3 \
         WHERE owner_key = $4 AND name_key = $5",
        &vals![
            after.private,
            after.kind.as_str(),
            after.archived,
            name_key(&before.owner),
            name_key(&before.name)
        ],
    )?;
    let detail = serde_json::json!({
        "repository": &before.repository, "before": &before, "after": &after,
    });
    config::record(&mut tx, "repo-change", actor, now, None, &detail)?;
    tx.commit()?;
    Ok((before, after))
}

/// The ids of the tokens not yet revoked that are bound to repository `path` (`owner/name`,
/// any case): what a removal must revoke.
pub fn bound_tokens(conn: &mut Conn, path: &str) -> anyhow::Result<Vec<String>> {
    Ok(all_tokens(conn)?
        .into_iter()
        .filter(|t| {
            t.record.revoked.is_none()
                && t.record
                    .repositories
                    .iter()
                    .any(|r| r.trim_end_matches(".git").eq_ignore_ascii_case(path))
        })
        .map(|t| t.record.id)
        .collect())
}

/// Remove repository `path` with its collaborators, protected refs and deploy keys, and
/// revoke every token bound to it (with its children) through `revoke` (the lifecycle's,
/// as the maintenance job `actor`: recorded in the token history), as `actor` at `now`.
/// `revoke` may be `None` only when no token is bound (checked inside the transaction).
pub fn remove_repo(
    store: &mut Store,
    path: &str,
    revoke: Option<&mut RevokeIn<'_>>,
    actor: &str,
    now: i64,
) -> anyhow::Result<Removed> {
    let mut tx = store.write()?;
    let repo = need_repo(&mut tx, path)?;
    let (ok, nk) = (name_key(&repo.owner), name_key(&repo.name));
    let mut removed = Removed {
        repository: repo.repository.clone(),
        collaborators: collaborators(&mut tx, &repo)?
            .into_iter()
            .map(|c| c.login)
            .collect(),
        protected_refs: protected_refs(&mut tx, &repo)?
            .into_iter()
            .map(|p| p.pattern)
            .collect(),
        deploy_keys: list_keys(&mut tx, KeyFilter::Deploy(repo.repository.clone()))?
            .into_iter()
            .map(|k| k.id)
            .collect(),
        revoked_tokens: Vec::new(),
    };
    for sql in [
        "DELETE FROM collaborators WHERE owner_key = $1 AND name_key = $2",
        "DELETE FROM protected_refs WHERE owner_key = $1 AND name_key = $2",
        "DELETE FROM protected_ref_users WHERE owner_key = $1 AND name_key = $2",
        "DELETE FROM repositories WHERE owner_key = $1 AND name_key = $2",
    ] {
        tx.execute(sql, &vals![ok.as_str(), nk.as_str()])?;
    }
    tx.execute(
        "DELETE FROM ssh_keys WHERE kind = 'deploy' AND lower(repository) = $1",
        &vals![name_key(&repo.repository)],
    )?;
    let bound = bound_tokens(&mut tx, &repo.repository)?;
    if !bound.is_empty() {
        let revoke = revoke.ok_or_else(|| {
            anyhow!("tokens were bound to `{path}` meanwhile: run the command again")
        })?;
        removed.revoked_tokens = revoke(&mut tx, &bound)?;
    }
    let detail = serde_json::json!({"repository": &repo.repository, "before": &repo,
        "removed": &removed});
    config::record(&mut tx, "repo-remove", actor, now, None, &detail)?;
    tx.commit()?;
    Ok(removed)
}

/// Repository `repo`'s collaborators, by login.
pub fn collaborators(conn: &mut Conn, repo: &RepoInfo) -> anyhow::Result<Vec<Collaborator>> {
    conn.query(
        "SELECT login, role FROM collaborators WHERE owner_key = $1 AND name_key = $2 \
         ORDER BY login_key",
        &vals![name_key(&repo.owner), name_key(&repo.name)],
    )?
    .iter()
    .map(|r| {
        Ok(Collaborator {
            login: r.text(0)?,
            role: r.text(1)?,
        })
    })
    .collect()
}

/// How `set_collaborator` treats an existing collaborator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetMode {
    /// Add: the user must not be one yet.
    Add,
    /// Change: the user must be one already.
    Change,
}

/// Add user `login` as a collaborator of `path` with `role`, or change its role; returns
/// (role before, collaborator after).
pub fn set_collaborator(
    store: &mut Store,
    path: &str,
    login: &str,
    role: Role,
    mode: SetMode,
    actor: &str,
    now: i64,
) -> anyhow::Result<(Option<String>, Collaborator)> {
    let mut tx = store.write()?;
    let repo = need_repo(&mut tx, path)?;
    let login = need_user(&mut tx, login, "a collaborator")?;
    if login.eq_ignore_ascii_case(&repo.owner) {
        return Err(fail(
            Refusal::Invalid,
            format!(
                "`{login}` owns `{}`: an owner is not a collaborator",
                repo.repository
            ),
        ));
    }
    let before = collaborators(&mut tx, &repo)?
        .into_iter()
        .find(|c| c.login.eq_ignore_ascii_case(&login))
        .map(|c| c.role);
    let (ok, nk, lk) = (
        name_key(&repo.owner),
        name_key(&repo.name),
        name_key(&login),
    );
    match (mode, &before) {
        (SetMode::Add, Some(r)) => {
            return Err(fail(
                Refusal::Invalid,
                format!(
                    "`{login}` is already a collaborator of `{}` (role {r}): use \
                     `forge-authz collaborator change`",
                    repo.repository
                ),
            ));
        }
        (SetMode::Change, None) => return Err(not_collaborator(&login, &repo)),
        (SetMode::Add, None) => tx.execute(
            "INSERT INTO collaborators (owner_key, name_key, login_key, login, role) \
             VALUES ($1, $2, $3, $4, $5)",
            &vals![ok.as_str(), nk.as_str(), lk.as_str(), &login, role.name()],
        )?,
        (SetMode::Change, Some(_)) => tx.execute(
            "UPDATE collaborators SET role = $1 WHERE owner_key = $2 AND name_key = $3 \
             AND login_key = $4",
            &vals![role.name(), ok.as_str(), nk.as_str(), lk.as_str()],
        )?,
    };
    let after = Collaborator {
        login,
        role: role.name().to_owned(),
    };
    if before.as_deref() != Some(after.role.as_str()) {
        let action = match mode {
            SetMode::Add => "collaborator-add",
            SetMode::Change => "collaborator-change",
        };
        let detail = serde_json::json!({"repository": &repo.repository, "login": &after.login,
            "before": before, "after": &after.role});
        config::record(&mut tx, action, actor, now, None, &detail)?;
    }
    tx.commit()?;
    Ok((before, after))
}

fn not_collaborator(login: &str, repo: &RepoInfo) -> anyhow::Error {
    fail(
        Refusal::NotFound,
        format!(
            "`{login}` is not a collaborator of `{}`: `forge-authz collaborator list {}` shows them",
            repo.repository, repo.repository
        ),
    )
}

/// Remove collaborator `login` from `path`; returns its role.
pub fn remove_collaborator(
    store: &mut Store,
    path: &str,
    login: &str,
    actor: &str,
    now: i64,
) -> anyhow::Result<Collaborator> {
    let mut tx = store.write()?;
    let repo = need_repo(&mut tx, path)?;
    let Some(c) = collaborators(&mut tx, &repo)?
        .into_iter()
        .find(|c| c.login.eq_ignore_ascii_case(login))
    else {
        return Err(not_collaborator(login, &repo));
    };
    tx.execute(
        "DELETE FROM collaborators WHERE owner_key = $1 AND name_key = $2 AND login_key = $3",
        &vals![
            name_key(&repo.owner),
            name_key(&repo.name),
            name_key(&c.login)
        ],
    )?;
    let detail = serde_json::json!({"repository": &repo.repository, "login": &c.login,
        "before": &c.role, "after": null});
    config::record(&mut tx, "collaborator-remove", actor, now, None, &detail)?;
    tx.commit()?;
    Ok(c)
}
