//! The store's repositories, managed by the site operator (issue 25): `repo`,
//! `collaborator` (here), `key` (user and deploy SSH keys: [`key`]) and `protect`
//! (protected refs: [`protect`]). The authority is the store's credentials, like a forge's
//! site-admin panel; every change is one transaction recorded in the configuration's
//! history (`forge-authz keys history`) with `--actor`. The rules live in
//! `store::repos`; this module parses flags and prints.
//!
//! Exit status: 0 done; 2 bad input or a duplicate; 4 refused; 5 not found
//! (`cli::EXIT_*`).

pub mod key;
pub mod protect;

use clap::Subcommand;
use forge_authz_fixture::named;

use super::keys::ConfigArgs;
use super::table::print_table;
use super::{EXIT_ERROR, EXIT_NOT_FOUND, EXIT_REFUSED, PolicyArgs, fail};
use crate::lifecycle::{self, Actor};
use crate::store::people::RevokeIn;
use crate::store::repos::{
    self, Collaborator, KeyFilter, Refusal, RepoChange, RepoInfo, RepoSettings, SetMode,
};
use crate::store::{Conn, Store};
use crate::world::{RepoKind, Role};

pub use key::{KeyAction, KeyArgs};
pub use protect::{ProtectAction, ProtectArgs};

/// `forge-authz repo ...`
pub type RepoArgs = ConfigArgs<RepoAction>;

/// `forge-authz collaborator ...`
pub type CollaboratorArgs = ConfigArgs<CollaboratorAction>;

/// `forge-authz repo ...`
#[derive(Debug, Subcommand)]
pub enum RepoAction {
    /// Add a repository owned by an existing user or organisation (the bare repository
    /// on disk, under `serve --repos`, is yours to create or push).
    Add {
        /// `OWNER/NAME`.
        repository: String,
        /// Private (default: public).
        #[arg(long)]
        private: bool,
        /// `hosted`, `mirror` or `import`.
        #[arg(long, default_value = "hosted", value_parser = kind_arg)]
        kind: RepoKind,
        /// Archived (read-only to everyone).
        #[arg(long)]
        archived: bool,
        /// The user who registered it (may confirm or abort its creation).
        #[arg(long)]
        registrant: Option<String>,
    },
    /// The repositories (of `--owner`), by owner and name.
    List {
        /// Only this user's or organisation's.
        #[arg(long)]
        owner: Option<String>,
    },
    /// A repository with its collaborators, protected refs and deploy keys.
    Show {
        /// `OWNER/NAME`.
        repository: String,
    },
    /// Change a repository's visibility, archived state or kind.
    Change {
        /// `OWNER/NAME`.
        repository: String,
        /// What changes (at least one).
        #[command(flatten)]
        what: ChangeFlags,
    },
    /// Remove a repository: its collaborators, protected refs and deploy keys go, and
    /// every token bound to it is revoked (recorded in the token history), so a
    /// repository added again under the name starts with none.
    Remove {
        /// `OWNER/NAME`.
        repository: String,
    },
}

/// `repo change` flags: at least one.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = true)]
pub struct ChangeFlags {
    /// Make it private.
    #[arg(long, conflicts_with = "public")]
    private: bool,
    /// Make it public.
    #[arg(long)]
    public: bool,
    /// Archive it.
    #[arg(long, conflicts_with = "unarchived")]
    archived: bool,
    /// Unarchive it.
    #[arg(long)]
    unarchived: bool,
    /// `hosted`, `mirror` or `import`.
    #[arg(long, value_parser = kind_arg)]
    kind: Option<RepoKind>,
}

/// `forge-authz collaborator ...`
#[derive(Debug, Subcommand)]
pub enum CollaboratorAction {
    /// Give a user a role on a repository.
    Add {
        /// `OWNER/NAME`.
        repository: String,
        /// The user's login.
        login: String,
        /// `read`, `write` or `admin`.
        #[arg(long, value_parser = role_arg)]
        role: Role,
    },
    /// A repository's collaborators.
    List {
        /// `OWNER/NAME`.
        repository: String,
    },
    /// Change a collaborator's role.
    Change {
        /// `OWNER/NAME`.
        repository: String,
        /// The user's login.
        login: String,
        /// `read`, `write` or `admin`.
        #[arg(long, value_parser = role_arg)]
        role: Role,
    },
    /// Remove a collaborator.
    Remove {
        /// `OWNER/NAME`.
        repository: String,
        /// The user's login.
        login: String,
    },
}

/// `--kind`: the core's repository kinds.
fn kind_arg(s: &str) -> Result<RepoKind, String> {
    named::parse::<RepoKind>(s).map_err(|e| e.to_string())
}

/// `--role`: the core's roles but `none` (remove the collaborator instead).
fn role_arg(s: &str) -> Result<Role, String> {
    match named::parse::<Role>(s).map_err(|e| e.to_string())? {
        Role::None => Err("`none` is no role: remove the collaborator instead \
             (`forge-authz collaborator remove`); roles: `read`, `write`, `admin`"
            .into()),
        r => Ok(r),
    }
}

/// A refused change's error with the CLI's exit status (`store::repos::Refusal` ->
/// `EXIT_ERROR`, `EXIT_NOT_FOUND`, `EXIT_REFUSED`); any other error as it is.
pub(super) fn exit_status(e: anyhow::Error) -> anyhow::Error {
    match e.downcast::<repos::Failure>() {
        Ok(f) => {
            let code = match f.refusal {
                Refusal::Invalid => EXIT_ERROR,
                Refusal::NotFound => EXIT_NOT_FOUND,
                Refusal::Refused => EXIT_REFUSED,
            };
            fail(code, f.message)
        }
        Err(e) => e,
    }
}

/// The store, who acts (refused if empty) and the store's clock.
pub(super) fn open(
    db: &super::DbArgs,
    actor: &super::keys::ActorArgs,
) -> anyhow::Result<(Store, String, i64)> {
    let mut store = super::open::open_store(&db.db)?;
    let actor = actor.actor.trim();
    if actor.is_empty() {
        return Err(fail(
            EXIT_ERROR,
            "`--actor` must name someone (default: `$USER`)",
        ));
    }
    let now = super::open::store_now(&mut store).unwrap_or_else(|_| crate::world::system_now());
    Ok((store, actor.to_owned(), now))
}

/// `forge-authz repo ...`
pub fn repo(p: &PolicyArgs, a: RepoArgs) -> anyhow::Result<u8> {
    repo_command(p, a).map_err(exit_status)
}

fn repo_command(p: &PolicyArgs, a: RepoArgs) -> anyhow::Result<u8> {
    let (mut store, actor, now) = open(&a.db, &a.actor)?;
    let json = a.out.json;
    match a.action {
        RepoAction::Add {
            repository,
            private,
            kind,
            archived,
            registrant,
        } => {
            let settings = RepoSettings {
                private,
                kind,
                archived,
            };
            let info = repos::add_repo(
                &mut store,
                &repository,
                settings,
                registrant.as_deref(),
                &actor,
                now,
            )?;
            eprintln!("added repository `{}`", info.repository);
            print_repos(&[info], json, true);
        }
        RepoAction::List { owner } => {
            if let Some(o) = &owner
                && repos::find_account(store.conn(), o)?.is_none()
            {
                return Err(fail(
                    EXIT_NOT_FOUND,
                    format!("no user or organisation `{o}`"),
                ));
            }
            let list = repos::list_repos(store.conn(), owner.as_deref())?;
            print_repos(&list, json, false);
        }
        RepoAction::Show { repository } => show(&mut store, &repository, json)?,
        RepoAction::Change { repository, what } => {
            let change = RepoChange {
                private: flag_pair(what.private, what.public),
                kind: what.kind,
                archived: flag_pair(what.archived, what.unarchived),
            };
            let (before, after) = repos::change_repo(&mut store, &repository, change, &actor, now)?;
            if before == after {
                eprintln!("`{}`: unchanged", after.repository);
            } else {
                eprintln!("changed repository `{}`", after.repository);
            }
            print_repos(&[after], json, true);
        }
        RepoAction::Remove { repository } => remove(p, &mut store, &repository, &actor, now, json)?,
    }
    Ok(0)
}

/// `--x`/`--no-x` as a change: `Some(true)`, `Some(false)`, or `None` (neither).
fn flag_pair(yes: bool, no: bool) -> Option<bool> {
    match (yes, no) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    }
}

fn remove(
    p: &PolicyArgs,
    store: &mut Store,
    repository: &str,
    actor: &str,
    now: i64,
    json: bool,
) -> anyhow::Result<()> {
    let repo = repos::need_repo(store.conn(), repository)?;
    // The policy plans each revocation (the lifecycle's rule); loaded only if needed.
    let mut policy = if repos::bound_tokens(store.conn(), &repo.repository)?.is_empty() {
        None
    } else {
        Some(super::open::store_policy(&p.path(), p.limits(), store)?)
    };
    let maintenance = Actor::system(actor, now);
    let mut revoke = policy.as_mut().map(|policy| {
        move |tx: &mut Conn, ids: &[String]| lifecycle::revoke_in(tx, policy, ids, &maintenance)
    });
    let removed = repos::remove_repo(
        store,
        &repo.repository,
        revoke.as_mut().map(|r| r as &mut RevokeIn<'_>),
        actor,
        now,
    )?;
    eprintln!(
        "removed repository `{}`: {} collaborator(s), {} protected ref(s), {} deploy key(s); \
         {} bound token(s) revoked",
        removed.repository,
        removed.collaborators.len(),
        removed.protected_refs.len(),
        removed.deploy_keys.len(),
        removed.revoked_tokens.len()
    );
    if json {
        outln!("{}", serde_json::to_string(&removed)?);
    } else if !removed.revoked_tokens.is_empty() {
        outln!("revoked: {}", removed.revoked_tokens.join(", "));
    }
    Ok(())
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

/// Repositories as a table or JSON (`one`: a single object rather than a list).
fn print_repos(list: &[RepoInfo], json: bool, one: bool) {
    if json {
        let text = match (one, list.first()) {
            (true, Some(r)) => serde_json::json!(r),
            _ => serde_json::json!({ "repositories": list }),
        };
        outln!("{text}");
        return;
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|r| {
            vec![
                r.repository.clone(),
                if r.private { "private" } else { "public" }.to_owned(),
                r.kind.clone(),
                yes_no(r.archived),
            ]
        })
        .collect();
    print_table(&["REPOSITORY", "VISIBILITY", "KIND", "ARCHIVED"], &rows);
}

fn show(store: &mut Store, repository: &str, json: bool) -> anyhow::Result<()> {
    let repo = repos::need_repo(store.conn(), repository)?;
    let collaborators = repos::collaborators(store.conn(), &repo)?;
    let refs = repos::protected_refs(store.conn(), &repo)?;
    let keys = repos::list_keys(store.conn(), KeyFilter::Deploy(repo.repository.clone()))?;
    if json {
        let mut v = serde_json::json!(&repo);
        if let Some(o) = v.as_object_mut() {
            o.insert("collaborators".into(), serde_json::json!(collaborators));
            o.insert("protected_refs".into(), serde_json::json!(refs));
            o.insert("deploy_keys".into(), serde_json::json!(keys));
        }
        outln!("{v}");
        return Ok(());
    }
    outln!("repository: {}", repo.repository);
    outln!(
        "visibility: {}",
        if repo.private { "private" } else { "public" }
    );
    outln!("kind: {}", repo.kind);
    outln!("archived: {}", yes_no(repo.archived));
    outln!(
        "registrant: {}",
        repo.registrant.as_deref().unwrap_or("none")
    );
    if collaborators.is_empty() {
        outln!("collaborators: none");
    } else {
        outln!();
        print_collaborators(&collaborators);
    }
    if refs.is_empty() {
        outln!("protected refs: none");
    } else {
        outln!();
        protect::print_rules(&refs);
    }
    if keys.is_empty() {
        outln!("deploy keys: none");
    } else {
        outln!();
        key::print_keys(&keys);
    }
    Ok(())
}

fn print_collaborators(list: &[Collaborator]) {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| vec![c.login.clone(), c.role.clone()])
        .collect();
    print_table(&["COLLABORATOR", "ROLE"], &rows);
}

/// `forge-authz collaborator ...`
pub fn collaborator(a: CollaboratorArgs) -> anyhow::Result<u8> {
    collaborator_command(a).map_err(exit_status)
}

fn collaborator_command(a: CollaboratorArgs) -> anyhow::Result<u8> {
    let (mut store, actor, now) = open(&a.db, &a.actor)?;
    let json = a.out.json;
    let (repository, login, role, mode) = match a.action {
        CollaboratorAction::List { repository } => {
            let repo = repos::need_repo(store.conn(), &repository)?;
            let list = repos::collaborators(store.conn(), &repo)?;
            if json {
                outln!(
                    "{}",
                    serde_json::json!({"repository": repo.repository, "collaborators": list})
                );
            } else {
                print_collaborators(&list);
            }
            return Ok(0);
        }
        CollaboratorAction::Remove { repository, login } => {
            let repository = repos::need_repo(store.conn(), &repository)?.repository;
            let c = repos::remove_collaborator(&mut store, &repository, &login, &actor, now)?;
            eprintln!(
                "`{}` is no longer a collaborator of `{repository}` (was {})",
                c.login, c.role
            );
            print_collaborator(&repository, &c, json);
            return Ok(0);
        }
        CollaboratorAction::Add {
            repository,
            login,
            role,
        } => (repository, login, role, SetMode::Add),
        CollaboratorAction::Change {
            repository,
            login,
            role,
        } => (repository, login, role, SetMode::Change),
    };
    let repository = repos::need_repo(store.conn(), &repository)?.repository;
    let (before, after) =
        repos::set_collaborator(&mut store, &repository, &login, role, mode, &actor, now)?;
    match before {
        None => eprintln!("`{}` is now a collaborator of `{repository}`", after.login),
        Some(b) if b == after.role => eprintln!("`{}`: role unchanged", after.login),
        Some(b) => eprintln!("`{}`: role {b} -> {}", after.login, after.role),
    }
    print_collaborator(&repository, &after, json);
    Ok(0)
}

fn print_collaborator(repository: &str, c: &Collaborator, json: bool) {
    if json {
        outln!(
            "{}",
            serde_json::json!({"repository": repository, "login": c.login, "role": c.role})
        );
    } else {
        print_collaborators(std::slice::from_ref(c));
    }
}
