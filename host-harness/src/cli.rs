//! The `forge-authz` command line: argument types and the commands themselves.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};

use crate::cidr::Cidr;
use crate::lifecycle::{self, Actor, ChildResult, CreateArgs};
use crate::policy::{Limits, Policy, PolicyModule, WasmPolicy, default_policy_path};
use crate::request::{
    ActionDef, CredentialDef, DecisionOutput, Outcome, RequestDef, authorize, failure_decision,
    outcome_output,
};
use crate::serve::admin::AdminRequest;
use crate::store::{HistoryFilter, Store};
use crate::wit;
use crate::world::{KeyDef, RepoDef, RepoKind, Role, Status, UserDef, Visibility, World};

/// Print a line on stdout; a closed pipe (`forge-authz ... | head`) ends the process
/// quietly with 141 (as a shell reports SIGPIPE) instead of a panic.
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        if writeln!(out, $($t)*).is_err() {
            std::process::exit(141);
        }
    }};
}

/// Exit code of `decide` for a deny.
pub const EXIT_DENY: u8 = 1;
/// Exit code for a usage or input error.
pub const EXIT_ERROR: u8 = 2;

/// forge-authz: the authorization policy of a git forge, as a WebAssembly component.
#[derive(Debug, Parser)]
#[command(
    name = "forge-authz",
    version = concat!(
        env!("CARGO_PKG_VERSION"),
        " (embedded policy sha256:",
        env!("FORGE_AUTHZ_EMBEDDED_DIGEST"),
        ")"
    )
)]
pub struct Cli {
    /// Policy component to load (default: $FORGE_AUTHZ_POLICY, else the module embedded
    /// in this binary, shown as `<embedded>`).
    #[arg(long, global = true)]
    pub policy: Option<PathBuf>,
    /// Fuel budget of one policy call.
    #[arg(long, global = true, default_value_t = Limits::default().fuel)]
    pub fuel: u64,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a new world fixture with a fresh random signing key and sample users and
    /// repositories.
    Init {
        /// World file to create.
        #[arg(long)]
        world: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Mint a token: prints the secret once (stdout) and stores its record (hash only).
    Mint {
        /// World file.
        #[arg(long)]
        world: PathBuf,
        /// Owner login.
        #[arg(long)]
        owner: String,
        /// Scope (repeat, or comma separated).
        #[arg(long = "scope", value_delimiter = ',', required = true)]
        scopes: Vec<String>,
        /// Bind to a repository `owner/name` (repeat, or comma separated).
        #[arg(long = "repo", value_delimiter = ',')]
        repos: Vec<String>,
        /// Bind to every repository of an owner (repeat, or comma separated).
        #[arg(long = "bind-owner", value_delimiter = ',')]
        owners: Vec<String>,
        /// Lifetime: `30d`, `12h`, `45m`, `90s`, or `never`.
        #[arg(long, default_value = "30d")]
        expires_in: String,
        /// Token name.
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// Decide a request file against a world; prints the decision as JSON. Exit 0 allow,
    /// 1 deny, 2 error.
    Decide {
        /// World file.
        #[arg(long, required_unless_present = "db", conflicts_with = "db")]
        world: Option<PathBuf>,
        /// Or a token database: facts come from it, and the decision's store writes
        /// (last-used, revocation of a leaked rotation family) are applied to it.
        #[arg(long)]
        db: Option<PathBuf>,
        /// Request file (`-` for stdin).
        #[arg(long)]
        request: PathBuf,
        /// Include the trace of every rule consulted (why was I refused?).
        #[arg(long)]
        explain: bool,
    },
    /// Scope utilities, decided by the policy module.
    Scopes {
        /// `migrate` (legacy Gitea scopes to current ones) or `normalize`.
        #[command(subcommand)]
        action: ScopesAction,
    },
    /// Check a token's format and checksum offline and print its public fields (no key,
    /// no store). Pass `-` to read the token from stdin (keeps it out of shell history).
    Inspect {
        /// The token, or `-`.
        token: String,
    },
    /// Run a demo end to end in a temporary directory: a world, a minted token, a real
    /// allow and a real deny from the wasm policy.
    Demo,
    /// Create a token database (SQLite), from a world fixture or with sample data.
    InitDb {
        /// Database file.
        #[arg(long, env = "FORGE_AUTHZ_DB", default_value = "forge-authz.db")]
        db: PathBuf,
        /// Import this world fixture (default: sample users and repositories, fresh key).
        #[arg(long)]
        world: Option<PathBuf>,
    },
    /// Replace the database's content with a world fixture.
    Import {
        /// Database file.
        #[arg(long, env = "FORGE_AUTHZ_DB", default_value = "forge-authz.db")]
        db: PathBuf,
        /// World fixture to import.
        #[arg(long)]
        world: PathBuf,
    },
    /// Write the database's content (tokens: hashes only) as a world fixture.
    Export {
        /// Database file.
        #[arg(long, env = "FORGE_AUTHZ_DB", default_value = "forge-authz.db")]
        db: PathBuf,
        /// World fixture to write.
        #[arg(long)]
        world: PathBuf,
    },
    /// Token lifecycle in the database: every operation is decided by the policy module.
    Token {
        /// Database file.
        #[arg(
            long,
            env = "FORGE_AUTHZ_DB",
            default_value = "forge-authz.db",
            global = true
        )]
        db: PathBuf,
        /// Acting user (default: the token's owner).
        #[arg(long, global = true)]
        actor: Option<String>,
        /// Client IP recorded in the history.
        #[arg(long, global = true)]
        ip: Option<String>,
        /// JSON output for scripts.
        #[arg(long, global = true)]
        json: bool,
        /// The operation.
        #[command(subcommand)]
        action: TokenAction,
    },
    /// The change history, newest first.
    History {
        /// Database file.
        #[arg(long, env = "FORGE_AUTHZ_DB", default_value = "forge-authz.db")]
        db: PathBuf,
        /// Token owner.
        #[arg(long)]
        user: Option<String>,
        /// Acting user.
        #[arg(long)]
        actor: Option<String>,
        /// Token id.
        #[arg(long)]
        token: Option<String>,
        /// create, edit, rotate, revoke or expire.
        #[arg(long)]
        action: Option<String>,
        /// At or after (Unix seconds).
        #[arg(long)]
        since: Option<i64>,
        /// Before (Unix seconds).
        #[arg(long)]
        until: Option<i64>,
        /// IP address or CIDR block.
        #[arg(long)]
        ip: Option<String>,
        /// Page size.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Continue after this cursor (printed with the previous page).
        #[arg(long)]
        cursor: Option<i64>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Check the database for inconsistencies; `--fix` applies the safe repairs.
    Audit {
        /// Database file.
        #[arg(long, env = "FORGE_AUTHZ_DB", default_value = "forge-authz.db")]
        db: PathBuf,
        /// Apply repairs.
        #[arg(long)]
        fix: bool,
        /// Acting user recorded for repairs.
        #[arg(long, default_value = "audit")]
        actor: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Serve git over smart HTTP (and forward auth) with every request decided by the
    /// policy; the module is hot-swappable (`forge-authz reload`).
    Serve {
        /// Token database.
        #[arg(long, env = "FORGE_AUTHZ_DB", default_value = "forge-authz.db")]
        db: PathBuf,
        /// Directory of bare repositories (`owner/name.git`).
        #[arg(long)]
        repos: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Threads deciding requests (each keeps a warm policy instance).
        #[arg(long, default_value_t = 4)]
        workers: usize,
        /// Private state directory (hooks, sockets). Default: a fresh random directory
        /// (mode 0700) in the temp directory. An existing one must belong to this user
        /// and be 0700.
        #[arg(long)]
        state: Option<PathBuf>,
        /// Write the bound port to this file (for `--listen 127.0.0.1:0`).
        #[arg(long)]
        port_file: Option<PathBuf>,
        /// Serve `/-/auth` for this reverse proxy's header family (default: not served).
        #[arg(long, value_enum)]
        forward_auth: Option<crate::serve::ForwardAuth>,
        /// The admin socket (default: `admin.sock` in the state directory), mode 0600.
        #[arg(long)]
        admin_socket: Option<PathBuf>,
        /// The only directory `reload`/`shadow` may take modules from.
        #[arg(long)]
        modules: Option<PathBuf>,
        /// Concurrent connections; past that, `503`.
        #[arg(long, default_value_t = 256)]
        max_connections: usize,
        /// Largest request body (a push), bytes.
        #[arg(long, default_value_t = 1 << 30)]
        max_body_bytes: u64,
        /// Seconds to receive a request's headers (and longest idle keep-alive).
        #[arg(long, default_value_t = 10)]
        header_timeout: u64,
        /// Seconds a body or a response may stall.
        #[arg(long, default_value_t = 60)]
        idle_timeout: u64,
        /// Seconds in-flight requests may finish after SIGTERM.
        #[arg(long, default_value_t = 30)]
        grace: u64,
        /// Log records: `text` or `json` (JSON lines).
        #[arg(long, value_enum, default_value_t)]
        log_format: crate::serve::log::LogFormat,
        /// Serve Prometheus metrics (`GET /metrics`) on this separate address (default:
        /// not served). Metrics reveal traffic patterns: use loopback or a management
        /// network, never the public git address.
        #[arg(long)]
        metrics_listen: Option<String>,
        /// Write the metrics listener's bound port to this file (for
        /// `--metrics-listen 127.0.0.1:0`).
        #[arg(long, requires = "metrics_listen")]
        metrics_port_file: Option<PathBuf>,
    },
    /// Ask a running server to load a new policy module (checked before it serves).
    Reload {
        /// The server's admin socket.
        #[arg(long)]
        admin_socket: PathBuf,
        /// A file name in the server's `--modules` directory (default: reload the
        /// module it serves).
        #[arg(long = "module")]
        module: Option<String>,
    },
    /// A running server's counters and module generation (JSON).
    Status {
        /// The server's admin socket.
        #[arg(long)]
        admin_socket: PathBuf,
    },
    /// Run a candidate module in shadow beside the live one on a running server: the live
    /// decision is enforced, every difference is logged and counted (`/-/admin/status`).
    /// Without `--module`, stop the shadow.
    Shadow {
        /// The server's admin socket.
        #[arg(long)]
        admin_socket: PathBuf,
        /// The candidate: a file name in the server's `--modules` directory.
        #[arg(long = "module")]
        module: Option<String>,
    },
    /// Make the shadow candidate the live module.
    Promote {
        /// The server's admin socket.
        #[arg(long)]
        admin_socket: PathBuf,
    },
    /// OpenSSH `AuthorizedKeysCommand`: `forge-authz ssh-keys --db DB --repos DIR %u %t %k`.
    SshKeys {
        /// Token database.
        #[arg(long, env = "FORGE_AUTHZ_DB", default_value = "forge-authz.db")]
        db: PathBuf,
        /// Directory of bare repositories.
        #[arg(long)]
        repos: PathBuf,
        /// `%u`, `%t`, `%k`.
        args: Vec<String>,
    },
    /// The forced command of an SSH key: reads `SSH_ORIGINAL_COMMAND`, asks the policy,
    /// runs git or prints the reason and exits non-zero.
    GitShell {
        /// Token database.
        #[arg(long, env = "FORGE_AUTHZ_DB", default_value = "forge-authz.db")]
        db: PathBuf,
        /// Directory of bare repositories.
        #[arg(long)]
        repos: PathBuf,
        /// The key's id.
        #[arg(long)]
        key: String,
    },
    /// Git hooks installed by `serve` (internal).
    #[command(hide = true)]
    Hook {
        /// `proc-receive`.
        kind: String,
        /// Hook arguments.
        args: Vec<String>,
    },
    /// Record the expiry of every token past it.
    Expire {
        /// Database file.
        #[arg(long, env = "FORGE_AUTHZ_DB", default_value = "forge-authz.db")]
        db: PathBuf,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// `forge-authz token ...`
#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Mint a token; prints the secret once.
    Create {
        /// Owner login.
        #[arg(long)]
        owner: String,
        /// Token name.
        #[arg(long)]
        name: String,
        /// Scope (repeat, or comma separated).
        #[arg(long = "scope", value_delimiter = ',', required = true)]
        scopes: Vec<String>,
        /// Bind to a repository.
        #[arg(long = "repo", value_delimiter = ',')]
        repos: Vec<String>,
        /// Bind to an owner's repositories.
        #[arg(long = "bind-owner", value_delimiter = ',')]
        owners: Vec<String>,
        /// Lifetime: `30d`, `12h`, `45m`, `90s`, or `never`.
        #[arg(long, default_value = "30d")]
        expires_in: String,
    },
    /// List tokens (live ones, unless `--all`).
    List {
        /// Only this owner's.
        #[arg(long)]
        owner: Option<String>,
        /// Include revoked and expired tokens.
        #[arg(long)]
        all: bool,
    },
    /// Show one token.
    Show {
        /// Token id.
        id: String,
    },
    /// Revoke a token and its children (or its rotation family).
    Revoke {
        /// Token id.
        id: String,
        /// Revoke the whole rotation family.
        #[arg(long)]
        family: bool,
    },
    /// Rotate a token: revoke it and mint its successor; prints the new secret once.
    Rotate {
        /// Token id.
        id: String,
        /// Lifetime of the new token (default: the old token's lifetime).
        #[arg(long)]
        expires_in: Option<String>,
    },
    /// Derive a child token (scopes within the parent's); prints the secret once.
    Child {
        /// Parent token id.
        parent: String,
        /// Scope (repeat, or comma separated).
        #[arg(long = "scope", value_delimiter = ',', required = true)]
        scopes: Vec<String>,
        /// Lifetime: `1h`, ...
        #[arg(long, default_value = "1h")]
        lifetime: String,
        /// Reuse an existing child only with at least this much left.
        #[arg(long)]
        min_lifetime: Option<String>,
    },
    /// Change a token's name, scopes or expiry.
    Edit {
        /// Token id.
        id: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// New scopes.
        #[arg(long = "scope", value_delimiter = ',')]
        scopes: Option<Vec<String>>,
        /// New lifetime from now, or `never`.
        #[arg(long)]
        expires_in: Option<String>,
    },
}

/// `forge-authz scopes ...`
#[derive(Debug, Subcommand)]
pub enum ScopesAction {
    /// Convert legacy (pre-1.20) Gitea scopes: `forge-authz scopes migrate repo,admin:org`.
    Migrate {
        /// Comma-separated scopes (empty: a legacy token with every power).
        #[arg(default_value = "")]
        scopes: String,
    },
    /// Normalise scopes: aliases to canonical names, write absorbs read, `all`.
    Normalize {
        /// Comma-separated scopes.
        scopes: String,
    },
}

fn split_scopes(s: &str) -> Vec<String> {
    s.split(',')
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

/// Run a command; returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    let limits = Limits {
        fuel: cli.fuel,
        ..Limits::default()
    };
    let policy_path = cli.policy.clone().unwrap_or_else(default_policy_path);
    match cli.command {
        Command::Init { world, force } => {
            if world.exists() && !force {
                bail!("{} exists (use --force to overwrite)", world.display());
            }
            sample_world()?.save(&world)?;
            eprintln!("wrote {}", world.display());
            Ok(0)
        }
        Command::Mint {
            world,
            owner,
            scopes,
            repos,
            owners,
            expires_in,
            name,
        } => {
            let mut w = World::load(&world)?;
            let now = w.now();
            let expires = parse_lifetime(&expires_in)?.map(|s| now.saturating_add(s));
            let mut policy = open_policy(&policy_path, limits, &w)?;
            let issued = mint(
                &mut policy,
                &mut w,
                &owner,
                &name,
                scopes,
                Binding {
                    repositories: repos,
                    owners,
                },
                expires,
                now,
            )?;
            w.save(&world)?;
            eprintln!(
                "minted token {} for {owner}; the secret is shown once:",
                issued.record.id
            );
            outln!("{}", issued.secret);
            Ok(0)
        }
        Command::Decide {
            world,
            db,
            request,
            explain,
        } => {
            let mut req = read_request(&request)?;
            req.explain |= explain;
            let outcome = match (world, db) {
                (Some(world), _) => {
                    let w = World::load(&world)?;
                    match open_policy(&policy_path, limits, &w) {
                        Ok(mut policy) => authorize(&mut policy, &w, &req, w.now())?,
                        // Fail closed: a policy that cannot load decides nothing.
                        Err(e) => Outcome::Decision(failure_decision(&crate::PolicyFailure(
                            format!("{e:#}"),
                        ))),
                    }
                }
                (None, Some(db)) => {
                    let mut store = Store::open(&db)?;
                    let now = store_now(&store)?;
                    match store_policy(&policy_path, limits, &store) {
                        Ok(mut policy) => {
                            let outcome = {
                                let facts = lifecycle::StoreFacts::new(&store)?;
                                authorize(&mut policy, &facts, &req, now)?
                            };
                            if let Outcome::Decision(d) = &outcome {
                                let who = Actor {
                                    name: "policy".into(),
                                    ip: None,
                                    now,
                                };
                                lifecycle::apply_effects(
                                    &mut policy,
                                    &mut store,
                                    &d.effects,
                                    &who,
                                )?;
                            }
                            outcome
                        }
                        Err(e) => Outcome::Decision(failure_decision(&crate::PolicyFailure(
                            format!("{e:#}"),
                        ))),
                    }
                }
                (None, None) => bail!("pass --world or --db"),
            };
            let (out, allow) = outcome_output(&outcome);
            outln!("{}", serde_json::to_string(&out)?);
            Ok(if allow { 0 } else { EXIT_DENY })
        }
        Command::Scopes { action } => {
            let module = PolicyModule::load(&policy_path, limits)?;
            let mut policy = module
                .authorizer(inspect_config())
                .map_err(anyhow::Error::from)?
                .map_err(|e| anyhow::anyhow!("{}", e.describe()))?;
            match action {
                ScopesAction::Migrate { scopes } => {
                    let out = policy.migrate_legacy_scopes(&split_scopes(&scopes))?;
                    outln!("{}", out.join(","));
                    Ok(0)
                }
                ScopesAction::Normalize { scopes } => {
                    match policy.normalize_scopes(&split_scopes(&scopes))? {
                        Ok(out) => {
                            outln!("{}", out.join(","));
                            Ok(0)
                        }
                        Err(unknown) => bail!("unknown scope `{unknown}`"),
                    }
                }
            }
        }
        Command::Inspect { token } => {
            let token = if token == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
                s.trim().to_string()
            } else {
                token
            };
            let module = PolicyModule::load(&policy_path, limits)?;
            let mut policy = module
                .authorizer(inspect_config())
                .map_err(anyhow::Error::from)?
                .map_err(|e| anyhow::anyhow!("{}", e.describe()))?;
            match policy.inspect(&token).map_err(anyhow::Error::from)? {
                Ok(info) => {
                    outln!(
                        "{}",
                        serde_json::json!({"format": "ok", "token_id": info.token_id, "key_id": info.key_id})
                    );
                    Ok(0)
                }
                Err(e) => {
                    outln!(
                        "{}",
                        serde_json::json!({"format": "invalid", "error": e.code()})
                    );
                    Ok(EXIT_DENY)
                }
            }
        }
        Command::Demo => demo(&policy_path, limits),
        Command::InitDb { db, world } => {
            if db.exists() {
                bail!("{} exists", db.display());
            }
            let w = match world {
                Some(p) => World::load(&p)?,
                None => sample_world()?,
            };
            let mut store = Store::open(&db)?;
            store.import_world(&w)?;
            eprintln!(
                "created {} (schema {})",
                db.display(),
                store.schema_version()?
            );
            Ok(0)
        }
        Command::Import { db, world } => {
            let w = World::load(&world)?;
            Store::open(&db)?.import_world(&w)?;
            eprintln!("imported {} into {}", world.display(), db.display());
            Ok(0)
        }
        Command::Export { db, world } => {
            Store::open(&db)?.export_world()?.save(&world)?;
            eprintln!("exported {} to {}", db.display(), world.display());
            Ok(0)
        }
        Command::Token {
            db,
            actor,
            ip,
            json,
            action,
        } => token_command(&policy_path, limits, &db, actor, ip, json, action),
        Command::History {
            db,
            user,
            actor,
            token,
            action,
            since,
            until,
            ip,
            limit,
            cursor,
            json,
        } => {
            let store = Store::open(&db)?;
            if let Some(a) = &action
                && wit::HistoryAction::parse(a).is_none()
            {
                bail!("unknown action `{a}` (create, edit, rotate, revoke, expire)");
            }
            let filter = HistoryFilter {
                user,
                actor,
                token,
                action,
                since,
                until,
                ip: ip
                    .map(|s| s.parse::<Cidr>())
                    .transpose()
                    .map_err(|e| anyhow::anyhow!(e))?,
                cursor,
                limit,
            };
            let (rows, next) = store.history(&filter)?;
            if json {
                outln!(
                    "{}",
                    serde_json::json!({"events": rows, "next_cursor": next})
                );
            } else {
                let table: Vec<Vec<String>> = rows
                    .iter()
                    .map(|r| {
                        vec![
                            r.seq.to_string(),
                            r.at.to_string(),
                            r.action.clone(),
                            r.token_id.clone(),
                            r.owner.clone(),
                            r.actor.clone(),
                            r.ip.clone().unwrap_or_default(),
                            r.scopes.join(","),
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
        Command::Audit {
            db,
            fix,
            actor,
            json,
        } => {
            let mut store = Store::open(&db)?;
            let mut policy = store_policy(&policy_path, limits, &store)?;
            let who = Actor {
                name: actor,
                ip: None,
                now: store_now(&store)?,
            };
            let findings = lifecycle::audit(&mut policy, &mut store, fix, &who)?;
            if json {
                let list: Vec<serde_json::Value> = findings
                    .iter()
                    .map(|f| serde_json::json!({"token": f.token_id, "kind": f.kind.name(), "message": f.message, "fixable": f.fix.is_some(), "fixed": fix && f.fix.is_some()}))
                    .collect();
                outln!("{}", serde_json::Value::from(list));
            } else {
                let table: Vec<Vec<String>> = findings
                    .iter()
                    .map(|f| {
                        let state = match (&f.fix, fix) {
                            (Some(_), true) => "fixed",
                            (Some(_), false) => "fixable",
                            (None, _) => "manual",
                        };
                        vec![
                            f.token_id.clone(),
                            f.kind.name().into(),
                            state.into(),
                            f.message.clone(),
                        ]
                    })
                    .collect();
                print_table(&["TOKEN", "FINDING", "REPAIR", "DETAIL"], &table);
            }
            Ok(if findings.is_empty() || fix {
                0
            } else {
                EXIT_DENY
            })
        }
        Command::Serve {
            db,
            repos,
            listen,
            workers,
            state,
            port_file,
            forward_auth,
            admin_socket,
            modules,
            max_connections,
            max_body_bytes,
            header_timeout,
            idle_timeout,
            grace,
            log_format,
            metrics_listen,
            metrics_port_file,
        } => {
            crate::serve::log::set_format(log_format);
            crate::serve::serve(crate::serve::ServeConfig {
                db,
                repos: std::fs::canonicalize(&repos)
                    .with_context(|| format!("repositories directory {}", repos.display()))?,
                listen,
                workers,
                policy: policy_path.clone(),
                limits,
                state,
                port_file,
                forward_auth,
                admin_socket,
                modules,
                http: crate::serve::http::HttpLimits {
                    max_connections,
                    max_body_bytes,
                    header_timeout: std::time::Duration::from_secs(header_timeout),
                    idle_timeout: std::time::Duration::from_secs(idle_timeout),
                },
                grace: std::time::Duration::from_secs(grace),
                metrics_listen,
                metrics_port_file,
            })?;
            Ok(0)
        }
        Command::Reload {
            admin_socket,
            module,
        } => admin(&admin_socket, &AdminRequest::Reload { module }),
        Command::Status { admin_socket } => admin(&admin_socket, &AdminRequest::Status),
        Command::Shadow {
            admin_socket,
            module,
        } => admin(&admin_socket, &AdminRequest::Shadow { module }),
        Command::Promote { admin_socket } => admin(&admin_socket, &AdminRequest::Promote),
        Command::SshKeys { db, repos, args } => {
            let (Some(t), Some(k)) = (args.get(args.len().wrapping_sub(2)), args.last()) else {
                bail!("usage: forge-authz ssh-keys --db DB --repos DIR %u %t %k");
            };
            let forced = crate::serve::ForcedPolicy {
                policy: policy_path.clone(),
                fuel: limits.fuel,
            };
            if let Some(line) = crate::serve::ssh_keys(&db, &repos, t, k, &forced)? {
                outln!("{line}");
            }
            Ok(0)
        }
        Command::GitShell { db, repos, key } => {
            crate::serve::git_shell(&policy_path, limits, &db, &repos, &key)
        }
        Command::Hook { kind, args } => match (kind.as_str(), args.as_slice()) {
            ("proc-receive", []) => Ok(crate::serve::hook::proc_receive()),
            _ => bail!("unknown hook `{kind}`"),
        },
        Command::Expire { db, json } => {
            let mut store = Store::open(&db)?;
            let mut policy = store_policy(&policy_path, limits, &store)?;
            let who = Actor {
                name: "expire".into(),
                ip: None,
                now: store_now(&store)?,
            };
            let events = lifecycle::expire(&mut policy, &mut store, &who)?;
            if json {
                let ids: Vec<&str> = events.iter().map(|e| e.token_id.as_str()).collect();
                outln!("{}", serde_json::json!({"expired": ids}));
            } else {
                for e in &events {
                    outln!("expired {} ({} of {})", e.token_id, e.name, e.owner);
                }
                eprintln!("{} token(s) expired", events.len());
            }
            Ok(0)
        }
    }
}

/// A module path as a running server (another working directory) must read it.
fn store_now(store: &Store) -> anyhow::Result<i64> {
    Ok(store.export_world()?.now())
}

fn store_policy(path: &Path, limits: Limits, store: &Store) -> anyhow::Result<WasmPolicy> {
    open_policy(path, limits, &store.export_world()?)
}

/// Print rows as an aligned table.
fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        outln!("{}", parts.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for r in rows {
        line(r.clone());
    }
}

fn token_json(t: &wit::TokenRecord, expiry_recorded: bool) -> serde_json::Value {
    let mut v = serde_json::to_value(crate::world::TokenDef::from_wit(t)).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("secret_hash");
        o.insert("expiry_recorded".into(), expiry_recorded.into());
    }
    v
}

fn token_state(t: &wit::TokenRecord, now: i64) -> &'static str {
    if t.successor.is_some() {
        "rotated"
    } else if t.revoked.is_some() {
        "revoked"
    } else if t.expires.is_some_and(|e| e <= now) {
        "expired"
    } else {
        "live"
    }
}

#[allow(clippy::too_many_arguments)]
fn token_command(
    policy_path: &Path,
    limits: Limits,
    db: &Path,
    actor: Option<String>,
    ip: Option<String>,
    json: bool,
    action: TokenAction,
) -> anyhow::Result<u8> {
    let mut store = Store::open(db)?;
    let now = store_now(&store)?;
    let mut policy = store_policy(policy_path, limits, &store)?;
    let owner_of = |store: &Store, id: &str| -> anyhow::Result<String> {
        Ok(store
            .token(id)?
            .with_context(|| format!("no token `{id}`"))?
            .record
            .owner)
    };
    let who = |default: String| Actor {
        name: actor.clone().unwrap_or(default),
        ip: ip.clone(),
        now,
    };
    let print_secret = |secret: &str, record: &wit::TokenRecord| {
        if json {
            outln!(
                "{}",
                serde_json::json!({"secret": secret, "token": token_json(record, false)})
            );
        } else {
            eprintln!(
                "token {} ({}); the secret is shown once:",
                record.id, record.name
            );
            outln!("{secret}");
        }
    };
    match action {
        TokenAction::Create {
            owner,
            name,
            scopes,
            repos,
            owners,
            expires_in,
        } => {
            let expires = parse_lifetime(&expires_in)?.map(|s| now.saturating_add(s));
            let args = CreateArgs {
                owner: owner.clone(),
                name,
                scopes,
                repositories: repos,
                owners,
                expires,
            };
            let (secret, record) = lifecycle::create(&mut policy, &mut store, &args, &who(owner))?;
            print_secret(&secret, &record);
        }
        TokenAction::List { owner, all } => {
            let tokens: Vec<_> = store
                .tokens(owner.as_deref())?
                .into_iter()
                .filter(|t| all || token_state(&t.record, now) == "live")
                .collect();
            if json {
                let list: Vec<_> = tokens
                    .iter()
                    .map(|t| token_json(&t.record, t.expiry_recorded))
                    .collect();
                outln!("{}", serde_json::Value::from(list));
            } else {
                let rows: Vec<Vec<String>> = tokens
                    .iter()
                    .map(|t| {
                        let r = &t.record;
                        vec![
                            r.id.clone(),
                            r.owner.clone(),
                            r.name.clone(),
                            token_state(r, now).into(),
                            r.expires
                                .map(|e| e.to_string())
                                .unwrap_or_else(|| "never".into()),
                            r.scopes.join(","),
                            r.repositories
                                .iter()
                                .chain(&r.owners)
                                .cloned()
                                .collect::<Vec<_>>()
                                .join(","),
                        ]
                    })
                    .collect();
                print_table(
                    &["ID", "OWNER", "NAME", "STATE", "EXPIRES", "SCOPES", "BOUND"],
                    &rows,
                );
            }
        }
        TokenAction::Show { id } => {
            let t = store
                .token(&id)?
                .with_context(|| format!("no token `{id}`"))?;
            let mut v = token_json(&t.record, t.expiry_recorded);
            if let Some(o) = v.as_object_mut() {
                o.insert("state".into(), token_state(&t.record, now).into());
            }
            outln!(
                "{}",
                if json {
                    v.to_string()
                } else {
                    serde_json::to_string_pretty(&v)?
                }
            );
        }
        TokenAction::Revoke { id, family } => {
            let scope = if family {
                wit::RevokeScope::Family
            } else {
                wit::RevokeScope::Token
            };
            let owner = owner_of(&store, &id)?;
            let ids = lifecycle::revoke(&mut policy, &mut store, &id, scope, &who(owner))?;
            if json {
                outln!("{}", serde_json::json!({"revoked": ids}));
            } else {
                for i in &ids {
                    outln!("revoked {i}");
                }
            }
        }
        TokenAction::Rotate { id, expires_in } => {
            let expires = expires_in
                .map(|e| parse_lifetime(&e))
                .transpose()?
                .flatten()
                .map(|s| now.saturating_add(s));
            let owner = owner_of(&store, &id)?;
            let (secret, record) =
                lifecycle::rotate(&mut policy, &mut store, &id, expires, &who(owner))?;
            print_secret(&secret, &record);
        }
        TokenAction::Child {
            parent,
            scopes,
            lifetime,
            min_lifetime,
        } => {
            let lifetime =
                parse_lifetime(&lifetime)?.context("a child token needs a finite lifetime")?;
            let min = min_lifetime
                .map(|m| parse_lifetime(&m))
                .transpose()?
                .flatten();
            let owner = owner_of(&store, &parent)?;
            match lifecycle::child(
                &mut policy,
                &mut store,
                &parent,
                &scopes,
                lifetime,
                min,
                &who(owner),
            )? {
                ChildResult::Minted(secret, record) => print_secret(&secret, &record),
                ChildResult::Reused(record) => {
                    if json {
                        outln!(
                            "{}",
                            serde_json::json!({"reuse": token_json(&record, false)})
                        );
                    } else {
                        outln!("reuse {}", record.id);
                    }
                }
            }
        }
        TokenAction::Edit {
            id,
            name,
            scopes,
            expires_in,
        } => {
            let expires = expires_in
                .map(|e| parse_lifetime(&e).map(|l| l.map(|s| now.saturating_add(s))))
                .transpose()?;
            let change = wit::TokenEdit {
                name,
                scopes,
                expires,
            };
            let owner = owner_of(&store, &id)?;
            let written = lifecycle::edit(&mut policy, &mut store, &id, &change, &who(owner))?;
            if json {
                let list: Vec<_> = written.iter().map(|r| token_json(r, false)).collect();
                outln!("{}", serde_json::Value::from(list));
            } else {
                for r in &written {
                    outln!("updated {}", r.id);
                }
            }
        }
    }
    Ok(0)
}

/// One admin request to a running server; exit 0 unless it was refused.
fn admin(socket: &Path, req: &AdminRequest) -> anyhow::Result<u8> {
    let answer = crate::serve::admin::request(socket, req)?;
    outln!("{answer}");
    Ok(if answer.get("refused").is_some() {
        EXIT_DENY
    } else {
        0
    })
}

/// A throwaway configuration: `inspect` needs an instance but consults no key.
fn inspect_config() -> wit::Config {
    wit::Config {
        keys: vec![wit::SigningKey {
            id: "inspect".into(),
            secret: vec![0u8; 32],
        }],
        signing_key_id: "inspect".into(),
        options: crate::world::OptionsDef::default().to_wit(),
    }
}

/// What a token is bound to.
#[derive(Debug, Default)]
struct Binding {
    repositories: Vec<String>,
    owners: Vec<String>,
}

fn open_policy(path: &Path, limits: Limits, world: &World) -> anyhow::Result<WasmPolicy> {
    let module = PolicyModule::load(path, limits)?;
    module
        .authorizer(world.config()?)
        .map_err(anyhow::Error::from)?
        .map_err(|e| anyhow::anyhow!("the policy refused the world's keys: {}", e.describe()))
}

#[allow(clippy::too_many_arguments)]
fn mint(
    policy: &mut WasmPolicy,
    world: &mut World,
    owner: &str,
    name: &str,
    scopes: Vec<String>,
    binding: Binding,
    expires: Option<i64>,
    now: i64,
) -> anyhow::Result<wit::IssuedToken> {
    // The CLI acts for the owner, as the forge would for a signed-in user.
    let user = world
        .user(owner)
        .with_context(|| format!("no user `{owner}` in the world"))?;
    let existing_names = world
        .tokens
        .iter()
        .filter(|t| {
            t.owner.eq_ignore_ascii_case(owner)
                && t.revoked.is_none()
                && t.expires.is_none_or(|e| e > now)
        })
        .map(|t| t.name.clone())
        .collect();
    let bound_facts = binding
        .repositories
        .iter()
        .map(|r| wit::BatchTarget {
            repository: r.clone(),
            facts: world.repository(r, Some(owner)),
        })
        .collect();
    let request = wit::IssueRequest {
        owner: owner.to_string(),
        name: name.to_string(),
        scopes,
        repositories: binding.repositories,
        owners: binding.owners,
        expires,
        now,
        creator: wit::Creator::Session(user),
        existing_names,
        bound_facts,
        ip: None,
    };
    let issued = policy
        .issue(&request)
        .map_err(anyhow::Error::from)?
        .map_err(|e| anyhow::anyhow!("refused: {}", e.describe()))?;
    world.add_token(&issued.record);
    Ok(issued)
}

/// `30d`, `12h`, `45m`, `90s` -> seconds; `never` -> None.
pub fn parse_lifetime(s: &str) -> anyhow::Result<Option<i64>> {
    if s == "never" {
        return Ok(None);
    }
    let (num, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = num
        .parse()
        .with_context(|| format!("lifetime `{s}`: expected a number and d/h/m/s, or `never`"))?;
    let mult = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => bail!("lifetime `{s}`: unit must be d, h, m or s"),
    };
    if n <= 0 {
        bail!("lifetime `{s}` must be positive");
    }
    n.checked_mul(mult)
        .map(Some)
        .with_context(|| format!("lifetime `{s}` is too long"))
}

fn read_request(path: &Path) -> anyhow::Result<RequestDef> {
    let text = if path == Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        s
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
    };
    serde_json::from_str(&text).with_context(|| format!("parsing request {}", path.display()))
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

fn demo(policy_path: &Path, limits: Limits) -> anyhow::Result<u8> {
    let dir = std::env::temp_dir().join(format!("forge-authz-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let world_path = dir.join("world.json");
    let mut world = sample_world()?;
    world.save(&world_path)?;
    outln!("policy:  {}", policy_path.display());
    outln!("world:   {}", world_path.display());
    let mut policy = open_policy(policy_path, limits, &world)?;
    let now = world.now();
    let issued = mint(
        &mut policy,
        &mut world,
        "alice",
        "demo",
        vec!["read:repository".into()],
        Binding::default(),
        Some(now + 30 * 86_400),
        now,
    )?;
    world.save(&world_path)?;
    outln!(
        "minted:  token {} for alice with scope read:repository (secret not shown)",
        issued.record.id
    );
    let mut denied = false;
    let mut allowed = false;
    let token = CredentialDef::Basic {
        username: "alice".into(),
        password: issued.secret.clone(),
    };
    for (what, credential, action) in [
        ("pull alice/secret", token.clone(), ActionDef::Pull),
        ("push alice/secret", token, ActionDef::Push),
        ("anonymous pull", CredentialDef::Anonymous, ActionDef::Pull),
    ] {
        let req = RequestDef {
            credential,
            repository: Some("alice/secret".into()),
            action: Some(action),
            ..RequestDef::default()
        };
        let d = match authorize(&mut policy, &world, &req, now)? {
            Outcome::Decision(d) => DecisionOutput::from(&d),
            _ => bail!("unexpected outcome"),
        };
        allowed |= d.decision == "allow";
        denied |= d.decision == "deny";
        outln!("{what:<18} -> {}", serde_json::to_string(&d)?);
    }
    std::fs::remove_dir_all(&dir).ok();
    Ok(if allowed && denied { 0 } else { EXIT_ERROR })
}
