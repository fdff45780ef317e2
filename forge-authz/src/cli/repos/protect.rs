//! `forge-authz protect ...`: a repository's protected refs (branch protection), one rule
//! per pattern, kept in order (the first rule that matches a ref decides; a new rule goes
//! last unless `--before PATTERN`, and `protect change` can move one).

use clap::Subcommand;

use super::super::keys::ConfigArgs;
use super::super::table::print_table;
use super::open;
use crate::store::repos::{self, ProtectChange, ProtectInfo};
use crate::world::ProtectedRefDef;

/// `forge-authz protect ...`
pub type ProtectArgs = ConfigArgs<ProtectAction>;

/// `forge-authz protect ...`
#[derive(Debug, Subcommand)]
pub enum ProtectAction {
    /// Protect the refs matching PATTERN (`main` is `refs/heads/main`; `*` within one
    /// path segment, `**` across them).
    Add {
        /// `OWNER/NAME`.
        repository: String,
        /// The pattern (`main`, `release/*`, `refs/tags/**`).
        pattern: String,
        /// Who may push: `writers`, `admins`, `nobody` or `users` (`--push-users`).
        #[arg(long, default_value = "writers", value_name = "WHO")]
        push: String,
        /// With `--push users`: who (comma separated).
        #[arg(long, alias = "users", value_delimiter = ',', value_name = "LOGIN,...")]
        push_users: Vec<String>,
        /// Who may force-push or delete: `writers`, `admins`, `nobody` or `users`
        /// (`--force-push-users`).
        #[arg(long, default_value = "nobody", value_name = "WHO")]
        force_push: String,
        /// With `--force-push users`: who (comma separated).
        #[arg(long, value_delimiter = ',', value_name = "LOGIN,...")]
        force_push_users: Vec<String>,
        /// Put the rule before the rule for this pattern (the first rule that matches a
        /// ref decides; default: last).
        #[arg(long, value_name = "PATTERN")]
        before: Option<String>,
    },
    /// A repository's rules, in order.
    List {
        /// `OWNER/NAME`.
        repository: String,
    },
    /// The rule for PATTERN, with its place in the order.
    Show {
        /// `OWNER/NAME`.
        repository: String,
        /// The pattern, as listed.
        pattern: String,
    },
    /// Change the rule for PATTERN: its pattern, who may push or force-push, its place.
    Change {
        /// `OWNER/NAME`.
        repository: String,
        /// The pattern, as listed.
        pattern: String,
        /// What changes (at least one).
        #[command(flatten)]
        what: ProtectChangeFlags,
    },
    /// Remove the rule for PATTERN.
    Remove {
        /// `OWNER/NAME`.
        repository: String,
        /// The pattern, as listed.
        pattern: String,
    },
}

/// `protect change` flags: at least one.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = true)]
pub struct ProtectChangeFlags {
    /// A new pattern for the rule.
    #[arg(long = "pattern", id = "new_pattern", value_name = "PATTERN")]
    new_pattern: Option<String>,
    /// Who may push: `writers`, `admins`, `nobody` or `users` (`--push-users`).
    #[arg(long, value_name = "WHO")]
    push: Option<String>,
    /// With `--push users`, or alone for a rule whose push is `users`: who (comma
    /// separated; replaces the list).
    #[arg(long, value_delimiter = ',', value_name = "LOGIN,...")]
    push_users: Vec<String>,
    /// Who may force-push or delete: `writers`, `admins`, `nobody` or `users`.
    #[arg(long, value_name = "WHO")]
    force_push: Option<String>,
    /// With `--force-push users`, or alone as `--push-users`: who (comma separated).
    #[arg(long, value_delimiter = ',', value_name = "LOGIN,...")]
    force_push_users: Vec<String>,
    /// Move the rule before the rule for this pattern.
    #[arg(long, value_name = "PATTERN", conflicts_with = "last")]
    before: Option<String>,
    /// Move the rule last.
    #[arg(long)]
    last: bool,
}

/// `forge-authz protect ...`
pub fn protect(a: ProtectArgs) -> anyhow::Result<u8> {
    protect_command(a).map_err(super::exit_status)
}

fn protect_command(a: ProtectArgs) -> anyhow::Result<u8> {
    let (mut store, actor, now) = open(&a.db, &a.actor)?;
    let json = a.out.json;
    match a.action {
        ProtectAction::Add {
            repository,
            pattern,
            push,
            push_users,
            force_push,
            force_push_users,
            before,
        } => {
            let rule = ProtectedRefDef {
                pattern,
                push: repos::access(&push, push_users, "push")?,
                force_push: repos::access(&force_push, force_push_users, "force-push")?,
            };
            let repository = repos::need_repo(store.conn(), &repository)?.repository;
            let before = before.as_deref();
            let info =
                repos::add_protected_ref(&mut store, &repository, rule, before, &actor, now)?;
            eprintln!(
                "`{repository}`: `{}` is protected (rule {})",
                info.pattern, info.position
            );
            print_one(&repository, &info, json);
        }
        ProtectAction::Show {
            repository,
            pattern,
        } => {
            let repository = repos::need_repo(store.conn(), &repository)?.repository;
            let info = repos::protected_ref(store.conn(), &repository, &pattern)?;
            show(&repository, &info, json);
        }
        ProtectAction::Change {
            repository,
            pattern,
            what,
        } => {
            let repository = repos::need_repo(store.conn(), &repository)?.repository;
            let change = what.into();
            let (before, after) = repos::change_protected_ref(
                &mut store,
                &repository,
                &pattern,
                change,
                &actor,
                now,
            )?;
            changed(&repository, &before, &after, json);
        }
        ProtectAction::List { repository } => {
            let repo = repos::need_repo(store.conn(), &repository)?;
            let list = repos::protected_refs(store.conn(), &repo)?;
            if json {
                outln!(
                    "{}",
                    serde_json::json!({"repository": repo.repository, "protected_refs": list})
                );
            } else {
                print_rules(&list);
            }
        }
        ProtectAction::Remove {
            repository,
            pattern,
        } => {
            let repository = repos::need_repo(store.conn(), &repository)?.repository;
            let info = repos::remove_protected_ref(&mut store, &repository, &pattern, &actor, now)?;
            eprintln!("`{repository}`: `{}` is no longer protected", info.pattern);
            print_one(&repository, &info, json);
        }
    }
    Ok(0)
}

impl From<ProtectChangeFlags> for ProtectChange {
    fn from(what: ProtectChangeFlags) -> ProtectChange {
        ProtectChange {
            pattern: what.new_pattern,
            push: what.push,
            push_users: what.push_users,
            force_push: what.force_push,
            force_push_users: what.force_push_users,
            before: what.before,
            last: what.last,
        }
    }
}

/// `protect show`: the rule, and (as text) its place in the order.
fn show(repository: &str, info: &ProtectInfo, json: bool) {
    print_one(repository, info, json);
    if !json {
        outln!(
            "position: {} (the first rule that matches a ref decides)",
            info.position
        );
    }
}

/// What `protect change` did: a line on stderr, the rule as it is now on stdout.
fn changed(repository: &str, before: &ProtectInfo, after: &ProtectInfo, json: bool) {
    if before == after {
        eprintln!(
            "`{repository}`: the rule for `{}` is unchanged",
            after.pattern
        );
    } else {
        eprintln!(
            "`{repository}`: changed the rule for `{}` (rule {})",
            after.pattern, after.position
        );
    }
    print_one(repository, after, json);
}

fn print_one(repository: &str, info: &ProtectInfo, json: bool) {
    if json {
        let mut v = serde_json::json!(info);
        if let Some(o) = v.as_object_mut() {
            o.insert("repository".into(), repository.into());
        }
        outln!("{v}");
    } else {
        print_rules(std::slice::from_ref(info));
    }
}

/// Rules as a table, in order.
pub(super) fn print_rules(list: &[ProtectInfo]) {
    let who = |kind: &str, users: &[String]| {
        if kind == "users" {
            users.join(",")
        } else {
            kind.to_owned()
        }
    };
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|p| {
            vec![
                p.pattern.clone(),
                who(&p.push, &p.push_users),
                who(&p.force_push, &p.force_push_users),
            ]
        })
        .collect();
    print_table(&["PROTECTED REF", "PUSH", "FORCE-PUSH/DELETE"], &rows);
}
