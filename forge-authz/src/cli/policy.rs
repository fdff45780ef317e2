//! The policy module on its own: `decide`, `scopes`, `inspect`, `demo`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Subcommand;

use super::db::sample_world;
use super::open::{open_policy, open_store, store_now, store_policy, world_policy};
use super::token::mint;
use super::{BindingArgs, EXIT_DENY, EXIT_ERROR, PolicyArgs};
use crate::lifecycle;
use crate::policy::{Policy, PolicyModule, WasmPolicy};
use crate::request::{
    ActionDef, CredentialDef, Decided, DecisionOutput, Outcome, RequestDef, authorize,
    outcome_output,
};
use crate::store::facts::StoreFacts;
use crate::wit;
use crate::wit::core as convert;
use crate::world::World;

/// `forge-authz decide`
#[derive(Debug, clap::Args)]
pub struct DecideArgs {
    /// World file.
    #[arg(long, conflicts_with = "db")]
    pub world: Option<PathBuf>,
    /// Or a token database: facts come from it, and the decision's store writes
    /// (last-used, revocation of a leaked rotation family) are applied to it. Without
    /// `--world` or `--db`, the store named by `FORGE_AUTHZ_DB`, as for every command.
    // Not the shared `DbArgs`: optional, without its default, and the environment
    // variable is read in `decide` (an explicit `--world` wins over it).
    #[arg(long, value_parser = super::parse_location)]
    pub db: Option<crate::store::Location>,
    /// Request file (`-` for stdin).
    #[arg(long)]
    pub request: PathBuf,
    /// Explain the decision: every rule consulted and the facts that decided (why was I
    /// refused?). `text` for people, `json` for the one JSON line with its `trace`; bare
    /// `--explain` is text on a terminal and JSON otherwise (pipes and scripts).
    #[arg(
        long,
        value_enum,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "auto",
        value_name = "FORMAT"
    )]
    pub explain: Option<ExplainFormat>,
    /// Site data (a JSON file, `forge-authz site set`'s format) given to the policy with
    /// the world's keys and options: what a site policy reads (`--db` reads the store's).
    #[arg(long, requires = "world")]
    pub site: Option<PathBuf>,
}

/// How `decide --explain` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExplainFormat {
    /// Text on a terminal, JSON otherwise.
    Auto,
    /// Words for people (`forge-authz decide --explain=text`).
    Text,
    /// The decision's JSON line with its `trace`.
    Json,
}

impl ExplainFormat {
    /// Whether this prints text (`auto`: when stdout is a terminal).
    fn text(self) -> bool {
        match self {
            ExplainFormat::Auto => std::io::IsTerminal::is_terminal(&std::io::stdout()),
            ExplainFormat::Text => true,
            ExplainFormat::Json => false,
        }
    }
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

/// `forge-authz inspect`
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// The token, or `-`.
    pub token: String,
}

/// The store `FORGE_AUTHZ_DB` names, if set and not empty (`--db`'s environment variable
/// for every other command).
fn env_db() -> Option<crate::store::Location> {
    let v = std::env::var("FORGE_AUTHZ_DB").ok()?;
    super::parse_location(&v).ok()
}

/// `forge-authz decide`
pub fn decide(p: &PolicyArgs, a: DecideArgs) -> anyhow::Result<u8> {
    let DecideArgs {
        world,
        db,
        request,
        explain,
        site,
    } = a;
    let (policy_path, limits) = (p.path(), p.limits());
    let mut req = read_request(&request)?;
    req.explain |= explain.is_some();
    let db = db.or_else(|| env_db().filter(|_| world.is_none()));
    let outcome = match (world, db) {
        (Some(world), _) => {
            let w = World::load(&world)?;
            let site = site
                .as_deref()
                .map(super::site::read_site_file)
                .transpose()?;
            match world_policy(&policy_path, limits, &w, site.unwrap_or_default()) {
                Ok(mut policy) => authorize(&mut policy, &w, &req, w.now())?,
                // Fail closed: a policy that cannot load decides nothing.
                Err(e) => Outcome::Decision(Decided::failure(format!("{e:#}"))),
            }
        }
        (None, Some(db)) => {
            let mut store = open_store(&db)?;
            let now = store_now(&mut store)?;
            match store_policy(&policy_path, limits, &mut store) {
                Ok(mut policy) => {
                    let outcome = {
                        let facts = StoreFacts::new(&mut store);
                        let outcome = authorize(&mut policy, &facts, &req, now)?;
                        // A fact the store could not read is an error, never a decision
                        // made without it.
                        if let Some(e) = facts.take_error() {
                            return Err(e.context("reading facts from the store"));
                        }
                        outcome
                    };
                    // Every request kind applies the effects the policy asked for (a
                    // batch's and ref-permissions' as a single decision's).
                    let (effects, token) = outcome.effects();
                    lifecycle::apply_effects(&mut policy, &mut store, effects, token, None, now)?;
                    outcome
                }
                Err(e) => Outcome::Decision(Decided::failure(format!("{e:#}"))),
            }
        }
        (None, None) => bail!("pass --world FILE or --db STORE (or set FORGE_AUTHZ_DB)"),
    };
    let (out, allow) = outcome_output(&outcome);
    if explain.is_some_and(ExplainFormat::text) {
        outln!("{}", explain_text(&outcome).trim_end());
    } else {
        outln!("{}", serde_json::to_string(&out)?);
    }
    Ok(if allow { 0 } else { EXIT_DENY })
}

/// An outcome in words (`decide --explain=text`).
fn explain_text(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Decision(d) => crate::explain::decision_text(&DecisionOutput::from(d)),
        Outcome::Batch(list) => crate::explain::batch_text(
            &list
                .iter()
                .map(|(repo, d)| (repo.clone(), DecisionOutput::from(d)))
                .collect::<Vec<_>>(),
        ),
        Outcome::Permissions(p) => crate::explain::permissions_text(
            &p.refs
                .iter()
                .map(|(name, perms)| (name.clone(), crate::request::permission_names(*perms)))
                .collect::<Vec<_>>(),
        ),
    }
}

/// `forge-authz scopes migrate|normalize`
pub fn scopes(p: &PolicyArgs, action: ScopesAction) -> anyhow::Result<u8> {
    let mut policy = inspect_policy(p)?;
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
                // The suggestion comes from the policy's answers (`token/args.rs`).
                Err(wit::ScopeError::UnknownScope(s)) => Err(super::fail(
                    super::EXIT_ERROR,
                    super::token::unknown_scope(&mut policy, &s)?,
                )),
            }
        }
    }
}

/// `forge-authz inspect`
pub fn inspect(p: &PolicyArgs, a: InspectArgs) -> anyhow::Result<u8> {
    let token = if a.token == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        s.trim().to_string()
    } else {
        a.token
    };
    let mut policy = inspect_policy(p)?;
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

fn split_scopes(s: &str) -> Vec<String> {
    s.split(',')
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

/// A policy instance for the commands that consult no key (`scopes`, `inspect`).
fn inspect_policy(p: &PolicyArgs) -> anyhow::Result<WasmPolicy> {
    let module = PolicyModule::load(&p.path(), p.limits())?;
    module
        .authorizer(inspect_config())
        .map_err(anyhow::Error::from)?
        .map_err(|e| anyhow::anyhow!("{}", e.describe()))
}

/// A throwaway configuration: `inspect` needs an instance but consults no key.
pub(crate) fn inspect_config() -> wit::Config {
    wit::Config {
        keys: vec![wit::SigningKey {
            id: "inspect".into(),
            secret: vec![0u8; 32],
        }],
        signing_key_id: "inspect".into(),
        options: convert::options_out(crate::world::OptionsDef::default().to_core()),
        site: String::new(),
    }
}

fn read_request(path: &Path) -> anyhow::Result<RequestDef> {
    let text = if path == Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        s
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
    };
    crate::world::parse_json(&text).with_context(|| format!("parsing request {}", path.display()))
}

/// `forge-authz demo`
pub fn demo(p: &PolicyArgs) -> anyhow::Result<u8> {
    let (policy_path, limits) = (p.path(), p.limits());
    let dir = std::env::temp_dir().join(format!("forge-authz-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let world_path = dir.join("world.json");
    let mut world = sample_world()?;
    world.save(&world_path)?;
    outln!("policy:  {}", policy_path.display());
    outln!("world:   {}", world_path.display());
    let mut policy = open_policy(&policy_path, limits, &world)?;
    let now = world.now();
    let issued = mint(
        &mut policy,
        &mut world,
        "alice",
        "demo",
        vec!["read:repository".into()],
        BindingArgs::default(),
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
