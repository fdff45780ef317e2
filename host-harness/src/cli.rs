//! The `forge-authz` command line: argument types and the commands themselves.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};

use crate::policy::{Limits, Policy, PolicyModule, WasmPolicy, default_policy_path};
use crate::request::{
    ActionDef, CredentialDef, DecisionOutput, Outcome, RequestDef, authorize, failure_decision,
    outcome_output,
};
use crate::wit;
use crate::world::{KeyDef, RepoDef, UserDef, World};

/// Exit code of `decide` for a deny.
pub const EXIT_DENY: u8 = 1;
/// Exit code for a usage or input error.
pub const EXIT_ERROR: u8 = 2;

/// forge-authz: the authorization policy of a git forge, as a WebAssembly component.
#[derive(Debug, Parser)]
#[command(name = "forge-authz", version)]
pub struct Cli {
    /// Policy component to load (default: $FORGE_AUTHZ_POLICY, else the one built in this
    /// workspace).
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
        #[arg(long)]
        world: PathBuf,
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
            println!("{}", issued.secret);
            Ok(0)
        }
        Command::Decide {
            world,
            request,
            explain,
        } => {
            let w = World::load(&world)?;
            let mut req = read_request(&request)?;
            req.explain |= explain;
            let outcome = match open_policy(&policy_path, limits, &w) {
                Ok(mut policy) => authorize(&mut policy, &w, &req, w.now())?,
                // Fail closed: a policy that cannot load decides nothing.
                Err(e) => {
                    Outcome::Decision(failure_decision(&crate::PolicyFailure(format!("{e:#}"))))
                }
            };
            let (out, allow) = outcome_output(&outcome);
            println!("{}", serde_json::to_string(&out)?);
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
                    println!("{}", out.join(","));
                    Ok(0)
                }
                ScopesAction::Normalize { scopes } => {
                    match policy.normalize_scopes(&split_scopes(&scopes))? {
                        Ok(out) => {
                            println!("{}", out.join(","));
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
                    println!(
                        "{}",
                        serde_json::json!({"format": "ok", "token_id": info.token_id, "key_id": info.key_id})
                    );
                    Ok(0)
                }
                Err(e) => {
                    println!(
                        "{}",
                        serde_json::json!({"format": "invalid", "error": e.code()})
                    );
                    Ok(EXIT_DENY)
                }
            }
        }
        Command::Demo => demo(&policy_path, limits),
    }
}

/// A throwaway configuration: `inspect` needs an instance but consults no key.
fn inspect_config() -> wit::Config {
    wit::Config {
        keys: vec![wit::SigningKey {
            id: "inspect".into(),
            secret: vec![0u8; 32],
        }],
        signing_key_id: "inspect".into(),
        options: wit::Options {
            binding_fallback_to_anonymous: false,
        },
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
    let request = wit::IssueRequest {
        owner: owner.to_string(),
        name: name.to_string(),
        scopes,
        repositories: binding.repositories,
        owners: binding.owners,
        expires,
        now,
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
    let user = |name: &str, visibility: &str| UserDef {
        name: name.into(),
        status: "active".into(),
        site_admin: false,
        visibility: visibility.into(),
        organization: false,
        members: Default::default(),
    };
    let repo = |owner: &str, name: &str, private: bool, kind: &str| RepoDef {
        owner: owner.into(),
        name: name.into(),
        private,
        kind: kind.into(),
        archived: false,
        collaborators: Default::default(),
        protected_refs: vec![],
    };
    let mut app = repo("alice", "app", false, "hosted");
    app.collaborators.insert("bob".into(), "read".into());
    Ok(World {
        now: None,
        keys: vec![KeyDef {
            id: "k1".into(),
            secret: hex::encode(secret),
        }],
        signing_key: "k1".into(),
        users: vec![
            user("alice", "public"),
            user("bob", "public"),
            user("carol", "public"),
            user("acme", "private"),
        ],
        ssh_keys: vec![],
        options: Default::default(),
        repositories: vec![
            app,
            repo("alice", "secret", true, "hosted"),
            repo("alice", "upstream-mirror", false, "mirror"),
            repo("acme", "internal", false, "hosted"),
            repo("carol", "notes", true, "hosted"),
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
    println!("policy:  {}", policy_path.display());
    println!("world:   {}", world_path.display());
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
    println!(
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
        println!("{what:<18} -> {}", serde_json::to_string(&d)?);
    }
    std::fs::remove_dir_all(&dir).ok();
    Ok(if allowed && denied { 0 } else { EXIT_ERROR })
}
