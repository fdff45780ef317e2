//! Protected refs managed one rule at a time: a rule is a pattern over ref names (`main`,
//! `release/*`, `refs/tags/**`) with who may push and who may force-push or delete
//! (`writers`, `admins`, `nobody`, or named users). Rules keep their order (the first
//! that matches decides): a new rule goes last. Patterns follow the import's rule (only
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
    fn of(p: &ProtectedRefDef) -> ProtectInfo {
        let users = |a: &AccessDef| match a {
            AccessDef::Users(u) => u.clone(),
            _ => Vec::new(),
        };
        ProtectInfo {
            pattern: p.pattern.clone(),
            push: p.push.kind_name().to_owned(),
            push_users: users(&p.push),
            force_push: p.force_push.kind_name().to_owned(),
            force_push_users: users(&p.force_push),
        }
    }
}

/// Repository `repo`'s rules in order, with their ordinals.
fn rules(conn: &mut Conn, repo: &RepoInfo) -> anyhow::Result<Vec<(i64, ProtectInfo)>> {
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
        let def = ProtectedRefDef {
            pattern: r.text(1)?,
            push: AccessDef::from_kind(r.str(2)?, named("push")?)?,
            force_push: AccessDef::from_kind(r.str(3)?, named("force_push")?)?,
        };
        out.push((ordinal, ProtectInfo::of(&def)));
    }
    Ok(out)
}

/// Repository `repo`'s protected refs, in order.
pub fn protected_refs(conn: &mut Conn, repo: &RepoInfo) -> anyhow::Result<Vec<ProtectInfo>> {
    Ok(rules(conn, repo)?.into_iter().map(|(_, p)| p).collect())
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

/// Add a rule for `pattern` to repository `path` (last in order), as `actor` at `now`.
pub fn add_protected_ref(
    store: &mut Store,
    path: &str,
    rule: ProtectedRefDef,
    actor: &str,
    now: i64,
) -> anyhow::Result<ProtectInfo> {
    let mut tx = store.write()?;
    let repo = need_repo(&mut tx, path)?;
    // The import's check of patterns, on this one rule.
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
    })?;
    let existing = rules(&mut tx, &repo)?;
    if existing.iter().any(|(_, p)| p.pattern == rule.pattern) {
        return Err(fail(
            Refusal::Invalid,
            format!(
                "`{}` has a rule for `{}` already: remove it first to change it",
                repo.repository, rule.pattern
            ),
        ));
    }
    let mut rule = rule;
    for access in [&mut rule.push, &mut rule.force_push] {
        if let AccessDef::Users(users) = access {
            for u in users.iter_mut() {
                *u = need_user(&mut tx, u, "a protected ref's user")?;
            }
        }
    }
    let ordinal = existing.iter().map(|(o, _)| *o).max().map_or(0, |o| o + 1);
    let (ok, nk) = (name_key(&repo.owner), name_key(&repo.name));
    put_protected_ref(&mut tx, &ok, &nk, ordinal, &rule)?;
    let info = ProtectInfo::of(&rule);
    let detail = serde_json::json!({"repository": &repo.repository, "before": null,
        "after": &info});
    config::record(&mut tx, "protect-add", actor, now, None, &detail)?;
    tx.commit()?;
    Ok(info)
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
    let Some((ordinal, info)) = rules(&mut tx, &repo)?
        .into_iter()
        .find(|(_, p)| p.pattern == pattern)
    else {
        return Err(fail(
            Refusal::NotFound,
            format!(
                "`{}` has no rule for `{}`: `forge-authz protect list {}` shows its rules",
                repo.repository,
                pattern.escape_debug(),
                repo.repository
            ),
        ));
    };
    let (ok, nk) = (name_key(&repo.owner), name_key(&repo.name));
    for sql in [
        "DELETE FROM protected_refs WHERE owner_key = $1 AND name_key = $2 AND ordinal = $3",
        "DELETE FROM protected_ref_users WHERE owner_key = $1 AND name_key = $2 AND ordinal = $3",
    ] {
        tx.execute(sql, &vals![ok.as_str(), nk.as_str(), ordinal])?;
    }
    let detail = serde_json::json!({"repository": &repo.repository, "before": &info,
        "after": null});
    config::record(&mut tx, "protect-remove", actor, now, None, &detail)?;
    tx.commit()?;
    Ok(info)
}
