//! World fixtures and the token database: `init`, `init-db`, `import`, `export`,
//! `history`.

use std::path::{Path, PathBuf};

use anyhow::bail;

use super::keys::{ActorArgs, check_config, local_module, policy_modules};
use super::open::{create_store, open_store};
use super::table::{print_table, utc};
use super::{DbArgs, JsonArgs, PolicyArgs};
use crate::policy::PolicyModule;
use crate::store::{HistoryFilter, Location};
use crate::wit;
use crate::world::{KeyDef, RepoDef, RepoKind, Role, Status, UserDef, Visibility, World};

/// `forge-authz init`
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// World file to create.
    #[arg(long)]
    pub world: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

/// `forge-authz init-db`
#[derive(Debug, clap::Args)]
pub struct InitDbArgs {
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
    /// Who creates it (recorded in the configuration's history).
    #[command(flatten)]
    pub actor: ActorArgs,
    /// Import this world fixture (default: sample users and repositories, fresh key).
    #[arg(long, conflicts_with = "empty")]
    pub world: Option<PathBuf>,
    /// A store with a fresh signing key and the default options but no users or
    /// repositories (add them with `user add`, `org add`, `repo add`).
    #[arg(long)]
    pub empty: bool,
}

/// `forge-authz import`
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
    /// Who imports (recorded in the configuration's history).
    #[command(flatten)]
    pub actor: ActorArgs,
    /// World fixture to import.
    #[arg(long)]
    pub world: PathBuf,
}

/// `forge-authz export`
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
    /// World fixture to write.
    #[arg(long)]
    pub world: PathBuf,
}

/// `forge-authz history`
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
    /// Which events, and the page.
    #[command(flatten)]
    pub filter: HistoryFilter,
    /// The changes to the store's records instead of tokens' events: users,
    /// organisations, members, repositories, collaborators, SSH and deploy keys, protected
    /// refs, IP allow lists (`--actor`, `--action`, `--since`, `--until`, `--limit` and
    /// `--cursor` apply).
    #[arg(long, conflicts_with_all = ["user", "token", "ip"])]
    pub records: bool,
    /// Output format.
    #[command(flatten)]
    pub out: JsonArgs,
}

/// `forge-authz init`
pub fn init(a: InitArgs) -> anyhow::Result<u8> {
    let InitArgs { world, force } = a;
    if world.exists() && !force {
        bail!("{} exists (use --force to overwrite)", world.display());
    }
    sample_world()?.save(&world)?;
    eprintln!("wrote {}", world.display());
    Ok(0)
}

/// Check a world's keys and options with `modules` (the policy), as any configuration
/// change is checked before it is written.
fn check_world(modules: &[(String, PolicyModule)], w: &World) -> anyhow::Result<()> {
    crate::store::config::check_options(&w.options)
        .map_err(|e| anyhow::anyhow!("the world's options: {e}"))?;
    check_config(modules, &crate::wit::world_config(w)?)
        .map_err(|e| anyhow::anyhow!("the world's keys and options are refused by the policy: {e}"))
}

/// `forge-authz init-db`
pub fn init_db(p: &PolicyArgs, a: InitDbArgs) -> anyhow::Result<u8> {
    let InitDbArgs {
        db: DbArgs { db },
        actor: ActorArgs { actor },
        world,
        empty,
    } = a;
    // Never over an existing store: a file that exists, or a database already holding
    // a store (`import` replaces content on purpose).
    let exists = match &db {
        Location::Sqlite(path) => path.exists(),
        Location::Postgres(_) => create_store(&db)?.settings().is_ok(),
    };
    if exists {
        bail!("{db} exists");
    }
    let w = match world {
        Some(p) => World::load(&p)?,
        None if empty => World {
            users: Vec::new(),
            repositories: Vec::new(),
            ..sample_world()?
        },
        None => sample_world()?,
    };
    // Checked before the store is created: a refused world leaves nothing behind.
    check_world(&[local_module(p)?], &w)?;
    let mut store = create_store(&db)?;
    store.import_world_as(&w, &actor)?;
    eprintln!("created {db} (schema {})", store.schema_version()?);
    Ok(0)
}

/// `forge-authz import`
pub fn import(p: &PolicyArgs, a: ImportArgs) -> anyhow::Result<u8> {
    let ImportArgs {
        db: DbArgs { db },
        actor: ActorArgs { actor },
        world,
    } = a;
    let w = World::load(&world)?;
    let mut store = open_store(&db)?;
    check_world(&policy_modules(p, &mut store)?, &w)?;
    store.import_world_as(&w, &actor)?;
    eprintln!("imported {} into {db}", world.display());
    Ok(0)
}

/// `forge-authz export`
pub fn export(a: ExportArgs) -> anyhow::Result<u8> {
    let ExportArgs {
        db: DbArgs { db },
        world,
    } = a;
    open_store(&db)?.export_world()?.save(&world)?;
    eprintln!("exported {db} to {}", world.display());
    Ok(0)
}

/// `forge-authz history`
pub fn history(a: HistoryArgs) -> anyhow::Result<u8> {
    let HistoryArgs {
        db: DbArgs { db },
        filter,
        records,
        out: JsonArgs { json },
    } = a;
    let mut store = open_store(&db)?;
    if records {
        return super::people::history_records(&mut store, &filter, json);
    }
    if let Some(a) = &filter.action
        && wit::HistoryAction::parse(a).is_none()
    {
        bail!("unknown action `{a}` (create, edit, rotate, revoke, expire)");
    }
    let (rows, next) = store.history(&filter)?;
    if json {
        super::json::print(serde_json::json!({"events": rows, "next_cursor": next}));
    } else {
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                let e = &r.event;
                vec![
                    r.seq.to_string(),
                    utc(e.at),
                    e.action.name().to_owned(),
                    e.token_id.clone(),
                    e.owner.clone(),
                    e.actor.clone(),
                    e.ip.clone().unwrap_or_default(),
                    e.scopes.join(","),
                ]
            })
            .collect();
        print_table(
            &[
                "SEQ", "AT", "ACTION", "TOKEN", "OWNER", "ACTOR", "IP", "SCOPES",
            ],
            &table,
        );
        if let Some(n) = next {
            outln!("more: --cursor {n}");
        }
    }
    Ok(0)
}

/// A world with a fresh random key, four users and five repositories.
pub fn sample_world() -> anyhow::Result<World> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let user = |name: &str, visibility: Visibility| UserDef {
        name: name.into(),
        status: Status::Active,
        site_admin: false,
        visibility,
        organization: false,
        members: Default::default(),
        ip_allow: Vec::new(),
    };
    let repo = |owner: &str, name: &str, private: bool, kind: RepoKind| RepoDef {
        owner: owner.into(),
        name: name.into(),
        private,
        kind,
        archived: false,
        collaborators: Default::default(),
        protected_refs: vec![],
        registrant: Some(owner.into()),
    };
    let mut app = repo("alice", "app", false, RepoKind::Hosted);
    app.collaborators.insert("bob".into(), Role::Read);
    Ok(World {
        now: None,
        keys: vec![KeyDef {
            id: "k1".into(),
            secret: hex::encode(secret),
        }],
        signing_key: "k1".into(),
        users: vec![
            user("alice", Visibility::Public),
            user("bob", Visibility::Public),
            user("carol", Visibility::Public),
            user("acme", Visibility::Private),
        ],
        ssh_keys: vec![],
        options: Default::default(),
        repositories: vec![
            app,
            repo("alice", "secret", true, RepoKind::Hosted),
            repo("alice", "upstream-mirror", false, RepoKind::Mirror),
            repo("acme", "internal", false, RepoKind::Hosted),
            repo("carol", "notes", true, RepoKind::Hosted),
        ],
        tokens: vec![],
    })
}

/// `forge-authz bulk-import`
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("rows").required(true).args(["users", "repositories"])))]
pub struct BulkImportArgs {
    /// The store.
    #[command(flatten)]
    pub db: DbArgs,
    /// Users and organisations (`-` for stdin).
    #[arg(long)]
    pub users: Option<PathBuf>,
    /// Repositories (`-` for stdin).
    #[arg(long)]
    pub repositories: Option<PathBuf>,
    /// `jsonl` (the world fixture's objects, one per line) or `csv` (a header row).
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: crate::store::bulk::Format,
    /// Rows per transaction.
    #[arg(long, default_value_t = 10_000)]
    pub batch: usize,
    /// Skip this many rows first (to go on from a line fixed after a failed batch).
    #[arg(long, default_value_t = 0)]
    pub skip: u64,
    /// Skip the users or repositories that already exist (names compare without case),
    /// and count them: the same input can be run again after a failed batch.
    #[arg(long)]
    pub skip_existing: bool,
}

/// `forge-authz bulk-import`: rows are added in batches, one transaction each; progress
/// goes to stderr (one updating line on a terminal, a line per batch otherwise).
pub fn bulk_import(a: BulkImportArgs) -> anyhow::Result<u8> {
    use std::io::IsTerminal as _;
    use std::io::Write as _;
    let (kind, path) = match (&a.users, &a.repositories) {
        (Some(p), None) => (crate::store::bulk::Kind::Users, p),
        (None, Some(p)) => (crate::store::bulk::Kind::Repositories, p),
        _ => bail!("pass one of --users or --repositories"),
    };
    let input: Box<dyn std::io::BufRead> = if path == Path::new("-") {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(std::fs::File::open(path).map_err(
            |e| anyhow::anyhow!("opening {}: {e}", path.display()),
        )?))
    };
    let mut store = open_store(&a.db.db)?;
    let tty = std::io::stderr().is_terminal();
    let started = std::time::Instant::now();
    let noun = match kind {
        crate::store::bulk::Kind::Users => "users",
        crate::store::bulk::Kind::Repositories => "repositories",
    };
    let report = |p: crate::store::bulk::Progress, end: &str| {
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        let rate = p.committed as f64 / secs;
        let mut err = std::io::stderr().lock();
        let mut also = String::new();
        if p.existing > 0 {
            also.push_str(&format!(", {} already there (skipped)", p.existing));
        }
        if p.skipped > 0 {
            also.push_str(&format!(", {} skipped by --skip", p.skipped));
        }
        let _ = write!(
            err,
            "{}{} {noun} imported{also} ({:.0}/s, {:.1} s){}",
            if tty { "\r" } else { "" },
            p.committed,
            rate,
            secs,
            end
        );
    };
    let options = crate::store::bulk::Options {
        batch: a.batch,
        skip: a.skip,
        skip_existing: a.skip_existing,
    };
    let done = crate::store::bulk::import_with(&mut store, kind, a.format, input, options, |p| {
        report(p, if tty { "" } else { "\n" })
    })?;
    if tty {
        report(done, "\n");
    }
    Ok(0)
}
