//! Protected refs managed one rule at a time: a rule is a pattern over ref names (`main`,
//! `release/*`, `refs/tags/**`) with who may push and who may force-push or delete
//! (`writers`, `admins`, `nobody`, or named users). Rules keep their order (the first
//! that matches decides): a new rule goes last unless placed before another, and a
//! change may move a rule. Patterns follow the import's rule (only
//! `*` and `**`), and named users must exist.

use serde::Serialize;

use super::{Refusal, RepoInfo, fail, need_repo, need_user};
use crate::store::{Conn, Store, config, name_key, put_protected_ref};
use crate::vals;
use crate::world::{AccessDef, ProtectedRefDef, RepoDef};

/// A protected ref as the management commands show it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ProtectInfo {
    /// The pattern.
    pub pattern: String,
    /// Its place in the repository's rules, from 1 (the first rule that matches decides).
    pub position: usize,
    /// Who may push: `writers`, `admins`, `nobody` or `users`.
    pub push: String,
    /// With `push: users`, who.
    pub push_users: Vec<String>,
    /// Who may force-push or delete.
    pub force_push: String,
    /// With `force_push: users`, who.
    pub force_push_users: Vec<String>,
}

impl ProtectInfo {
    /// Rule `p`, `position` (from 1) in its repository's order.
    fn of(p: &ProtectedRefDef, position: usize) -> ProtectInfo {
        let users = |a: &AccessDef| match a {
            AccessDef::Users(u) => u.clone(),
            _ => Vec::new(),
        };
        ProtectInfo {
            pattern: p.pattern.clone(),
            position,
            push: p.push.kind_name().to_owned(),
            push_users: users(&p.push),
            force_push: p.force_push.kind_name().to_owned(),
            force_push_users: users(&p.force_push),
        }
    }
}

/// Repository `repo`'s rules, in order.
fn rules(conn: &mut Conn, repo: &RepoInfo) -> anyhow::Result<Vec<ProtectedRefDef>> {
    let (ok, nk) = (name_key(&repo.owner), name_key(&repo.name));
    let users = conn.query(
        "SELECT ordinal, rule, login FROM protected_ref_users \
         WHERE owner_key = $1 AND name_key = $2 ORDER BY ordinal, rule, idx",
        &vals![ok.as_str(), nk.as_str()],
    )?;
    let mut out = Vec::new();
    for r in conn.query(
        "SELECT ordinal, pattern, push, force_push FROM protected_refs \
         WHERE owner_key = $1 AND name_key = $2 ORDER BY ordinal",
        &vals![ok.as_str(), nk.as_str()],
    )? {
        let ordinal = r.int(0)?;
        let named = |rule: &str| -> anyhow::Result<Vec<String>> {
            let mut v = Vec::new();
            for u in &users {
                if u.int(0)? == ordinal && u.str(1)? == rule {
                    v.push(u.text(2)?);
                }
            }
            Ok(v)
        };
        out.push(ProtectedRefDef {
            pattern: r.text(1)?,
            push: AccessDef::from_kind(r.str(2)?, named("push")?)?,
            force_push: AccessDef::from_kind(r.str(3)?, named("force_push")?)?,
        });
    }
    Ok(out)
}

/// Rules as shown, with their positions.
fn infos(list: &[ProtectedRefDef]) -> Vec<ProtectInfo> {
    list.iter()
        .enumerate()
        .map(|(i, p)| ProtectInfo::of(p, i + 1))
        .collect()
}

/// Repository `repo`'s protected refs, in order.
pub fn protected_refs(conn: &mut Conn, repo: &RepoInfo) -> anyhow::Result<Vec<ProtectInfo>> {
    Ok(infos(&rules(conn, repo)?))
}

/// Repository `repo`'s rule for `pattern` (its index in `list`), or a not-found error.
fn find_rule(list: &[ProtectedRefDef], repo: &RepoInfo, pattern: &str) -> anyhow::Result<usize> {
    list.iter()
        .position(|p| p.pattern == pattern)
        .ok_or_else(|| {
            fail(
                Refusal::NotFound,
                format!(
                    "`{}` has no rule for `{}`: `forge-authz protect list {}` shows its rules",
                    repo.repository,
                    pattern.escape_debug(),
                    repo.repository
                ),
            )
        })
}

/// Repository `path`'s rule for `pattern`.
pub fn protected_ref(conn: &mut Conn, path: &str, pattern: &str) -> anyhow::Result<ProtectInfo> {
    let repo = need_repo(conn, path)?;
    let list = rules(conn, &repo)?;
    let at = find_rule(&list, &repo, pattern)?;
    infos(&list)
        .into_iter()
        .nth(at)
        .ok_or_else(|| anyhow::anyhow!("rule `{pattern}` vanished while read"))
}

/// Who may do something, from its name and the users named for it.
pub fn access(kind: &str, users: Vec<String>, flag: &str) -> anyhow::Result<AccessDef> {
    let access = match kind {
        "writers" | "admins" | "nobody" | "users" => AccessDef::from_kind(kind, users.clone())?,
        other => {
            return Err(fail(
                Refusal::Invalid,
                format!(
                    "`--{flag} {}`: expected `writers`, `admins`, `nobody` or `users`",
                    other.escape_debug()
                ),
            ));
        }
    };
    match (&access, users.is_empty()) {
        (AccessDef::Users(_), true) => Err(fail(
            Refusal::Invalid,
            format!("`--{flag} users` needs the users: `--{flag}-users alice,bob`"),
        )),
        (AccessDef::Users(_), false) | (_, true) => Ok(access),
        (_, false) => Err(fail(
            Refusal::Invalid,
            format!("`--{flag}-users` is only for `--{flag} users`"),
        )),
    }
}

/// The import's check of patterns, on this one rule of `repo`.
fn check_pattern(repo: &RepoInfo, rule: &ProtectedRefDef) -> anyhow::Result<()> {
    RepoDef {
        owner: repo.owner.clone(),
        name: repo.name.clone(),
        private: false,
        kind: crate::world::RepoKind::Hosted,
        archived: false,
        collaborators: Default::default(),
        protected_refs: vec![rule.clone()],
        registrant: None,
    }
    .validate()
    .map_err(|e| {
        fail(
            Refusal::Invalid,
            format!("{e:#}: write `main`, `release/*` or `refs/tags/**`"),
        )
    })
}

/// `rule`'s named users as the store spells them (each must exist).
fn named_users(conn: &mut Conn, rule: &mut ProtectedRefDef) -> anyhow::Result<()> {
    for access in [&mut rule.push, &mut rule.force_push] {
        if let AccessDef::Users(users) = access {
            for u in users.iter_mut() {
                *u = need_user(conn, u, "a protected ref's user")?;
            }
        }
    }
    Ok(())
}

/// A second rule for `pattern` is refused.
fn no_duplicate(list: &[ProtectedRefDef], repo: &RepoInfo, pattern: &str) -> anyhow::Result<()> {
    if list.iter().any(|p| p.pattern == pattern) {
        return Err(fail(
            Refusal::Invalid,
            format!(
                "`{}` has a rule for `{pattern}` already: change it (`forge-authz protect \
                 change`) or remove it first",
                repo.repository
            ),
        ));
    }
    Ok(())
}

/// Where a rule goes: before the rule for `before` (in `list`, which no longer holds the
/// rule placed), or last.
fn place(list: &[ProtectedRefDef], repo: &RepoInfo, before: Option<&str>) -> anyhow::Result<usize> {
    match before {
        Some(b) => find_rule(list, repo, b),
        None => Ok(list.len()),
    }
}

/// Replace repository `repo`'s rules by `list`, in its order.
fn write_rules(conn: &mut Conn, repo: &RepoInfo, list: &[ProtectedRefDef]) -> anyhow::Result<()> {
    let (ok, nk) = (name_key(&repo.owner), name_key(&repo.name));
    for sql in [
        "DELETE FROM protected_refs WHERE owner_key = $1 AND name_key = $2",
        "DELETE FROM protected_ref_users WHERE owner_key = $1 AND name_key = $2",
    ] {
        conn.execute(sql, &vals![ok.as_str(), nk.as_str()])?;
    }
    for (ordinal, rule) in (0i64..).zip(list) {
        put_protected_ref(conn, &ok, &nk, ordinal, rule)?;
    }
    Ok(())
}

/// Add a rule for `pattern` to repository `path` (before the rule for `before`, else
/// last), as `actor` at `now`.
pub fn add_protected_ref(
    store: &mut Store,
    path: &str,
    rule: ProtectedRefDef,
    before: Option<&str>,
    actor: &str,
    now: i64,
) -> anyhow::Result<ProtectInfo> {
    let mut tx = store.write()?;
    let repo = need_repo(&mut tx, path)?;
    check_pattern(&repo, &rule)?;
    let mut list = rules(&mut tx, &repo)?;
    no_duplicate(&list, &repo, &rule.pattern)?;
    let mut rule = rule;
    named_users(&mut tx, &mut rule)?;
    let at = place(&list, &repo, before)?;
    list.insert(at, rule.clone());
    write_rules(&mut tx, &repo, &list)?;
    let info = ProtectInfo::of(&rule, at + 1);
    let detail = serde_json::json!({"repository": &repo.repository, "before": null,
        "after": &info});
    config::record(&mut tx, "protect-add", actor, now, None, &detail)?;
    tx.commit()?;
    Ok(info)
}

/// What `protect change` changes in a rule (`None`/empty: as it is).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProtectChange {
    /// A new pattern.
    pub pattern: Option<String>,
    /// Who may push: `writers`, `admins`, `nobody` or `users`.
    pub push: Option<String>,
    /// Who, for `push: users` (alone: the users of a rule whose push is `users` already).
    pub push_users: Vec<String>,
    /// Who may force-push or delete.
    pub force_push: Option<String>,
    /// Who, for `force_push: users` (as `push_users`).
    pub force_push_users: Vec<String>,
    /// Move the rule before the rule for this pattern.
    pub before: Option<String>,
    /// Move the rule last.
    pub last: bool,
}

/// Who may do something after a change: the kind given (with its users), or new users
/// for an access that is `users` already, or the access as it is.
fn changed_access(
    now: &AccessDef,
    kind: Option<&str>,
    users: Vec<String>,
    flag: &str,
) -> anyhow::Result<AccessDef> {
    match (kind, users.is_empty(), now) {
        (Some(kind), _, _) => access(kind, users, flag),
        (None, true, _) => Ok(now.clone()),
        (None, false, AccessDef::Users(_)) => Ok(AccessDef::Users(users)),
        (None, false, _) => Err(fail(
            Refusal::Invalid,
            format!(
                "`--{flag}-users` is only for `--{flag} users`: this rule's {flag} is `{}`",
                now.kind_name()
            ),
        )),
    }
}

/// Change repository `path`'s rule for `pattern` as `change` says, as `actor` at `now`;
/// returns it before and after (recorded only if it changed).
pub fn change_protected_ref(
    store: &mut Store,
    path: &str,
    pattern: &str,
    change: ProtectChange,
    actor: &str,
    now: i64,
) -> anyhow::Result<(ProtectInfo, ProtectInfo)> {
    let mut tx = store.write()?;
    let repo = need_repo(&mut tx, path)?;
    let mut list = rules(&mut tx, &repo)?;
    let at = find_rule(&list, &repo, pattern)?;
    let old = list.remove(at);
    let mut rule = ProtectedRefDef {
        pattern: change.pattern.unwrap_or_else(|| old.pattern.clone()),
        push: changed_access(&old.push, change.push.as_deref(), change.push_users, "push")?,
        force_push: changed_access(
            &old.force_push,
            change.force_push.as_deref(),
            change.force_push_users,
            "force-push",
        )?,
    };
    check_pattern(&repo, &rule)?;
    no_duplicate(&list, &repo, &rule.pattern)?;
    named_users(&mut tx, &mut rule)?;
    if change.before.as_deref() == Some(pattern) {
        return Err(fail(
            Refusal::Invalid,
            format!("`--before {pattern}` names the rule itself: name the rule it goes before"),
        ));
    }
    let to = match (change.before.as_deref(), change.last) {
        (None, false) => at,
        (before, _) => place(&list, &repo, before)?,
    };
    let before = ProtectInfo::of(&old, at + 1);
    let after = ProtectInfo::of(&rule, to + 1);
    list.insert(to, rule);
    if before != after {
        write_rules(&mut tx, &repo, &list)?;
        let detail = serde_json::json!({"repository": &repo.repository, "before": &before,
            "after": &after});
        config::record(&mut tx, "protect-change", actor, now, None, &detail)?;
        tx.commit()?;
    }
    Ok((before, after))
}

/// Remove repository `path`'s rule for `pattern`; returns it.
pub fn remove_protected_ref(
    store: &mut Store,
    path: &str,
    pattern: &str,
    actor: &str,
    now: i64,
) -> anyhow::Result<ProtectInfo> {
    let mut tx = store.write()?;
    let repo = need_repo(&mut tx, path)?;
    let mut list = rules(&mut tx, &repo)?;
    let at = find_rule(&list, &repo, pattern)?;
    let info = ProtectInfo::of(&list.remove(at), at + 1);
    write_rules(&mut tx, &repo, &list)?;
    let detail = serde_json::json!({"repository": &repo.repository, "before": &info,
        "after": null});
    config::record(&mut tx, "protect-remove", actor, now, None, &detail)?;
    tx.commit()?;
    Ok(info)
}
