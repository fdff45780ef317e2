//! Tokens: `mint` (into a world file), `token ...` (the database's lifecycle), `audit`,
//! `expire`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;

use super::json::{ensure_null, print as print_json};
use super::open::{open_policy, open_store, store_now, store_policy};
use super::table::{print_table, utc};
use super::{BindingArgs, DbArgs, JsonArgs, LifetimeArgs, PolicyArgs, ScopeArgs, parse_lifetime};
use crate::lifecycle::{self, Actor, ChildResult, CreateArgs};
use crate::policy::WasmPolicy;
use crate::store::Store;
use crate::wit;
use crate::wit::core as convert;
use crate::world::World;

mod args;
mod maintenance;

pub use args::{check_scopes, token_id, unknown_scope};
pub use maintenance::{AuditArgs, ExpireArgs, audit, expire};

/// `forge-authz mint`
#[derive(Debug, clap::Args)]
pub struct MintArgs {
    /// World file.
    #[arg(long)]
    pub world: PathBuf,
    /// Owner login.
    #[arg(long)]
    pub owner: String,
    /// Scopes.
    #[command(flatten)]
    pub scopes: ScopeArgs,
    /// Binding.
    #[command(flatten)]
    pub binding: BindingArgs,
    /// Lifetime.
    #[command(flatten)]
    pub lifetime: LifetimeArgs,
    /// Token name.
    #[arg(long, default_value = "cli")]
    pub name: String,
}

/// `forge-authz token ...`
#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
    /// Acting user (default: the token's owner).
    #[arg(long, global = true)]
    pub actor: Option<String>,
    /// Client IP recorded in the history.
    #[arg(long, global = true)]
    pub ip: Option<String>,
    /// Output format.
    #[command(flatten)]
    pub out: JsonArgs,
    /// The operation.
    #[command(subcommand)]
    pub action: TokenAction,
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
        /// Scopes.
        #[command(flatten)]
        scopes: ScopeArgs,
        /// Binding.
        #[command(flatten)]
        binding: BindingArgs,
        /// Lifetime.
        #[command(flatten)]
        lifetime: LifetimeArgs,
        /// Only from these addresses: comma-separated CIDR blocks or addresses
        /// (`192.0.2.0/24,2001:db8::/32`); a rotation's successor and a child keep it.
        #[arg(long = "ip-allow", value_delimiter = ',', value_name = "CIDR,...")]
        ip_allow: Vec<String>,
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
        /// Scopes.
        #[command(flatten)]
        scopes: ScopeArgs,
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

/// `forge-authz mint`: a token into a world file.
pub fn mint_command(p: &PolicyArgs, a: MintArgs) -> anyhow::Result<u8> {
    let MintArgs {
        world,
        owner,
        scopes: ScopeArgs { scopes },
        binding,
        lifetime,
        name,
    } = a;
    let mut w = World::load(&world)?;
    let now = w.now();
    let expires = lifetime.expires(now)?;
    let mut policy = open_policy(&p.path(), p.limits(), &w)?;
    check_scopes(&mut policy, &scopes)?;
    let issued = mint(
        &mut policy,
        &mut w,
        &owner,
        &name,
        scopes,
        binding,
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

/// What every `token` subcommand works with: the store, a policy configured from it, its
/// clock, and who acts.
struct TokenSession {
    store: Store,
    policy: WasmPolicy,
    now: i64,
    actor: Option<String>,
    ip: Option<String>,
    json: bool,
}

impl TokenSession {
    /// The CLI acts as a signed-in user: `--actor`, else the token's owner (as the forge
    /// would for the owner's own session). The policy decides what that user may do.
    fn who(&self, default: String) -> Actor {
        Actor::session(
            self.actor.clone().unwrap_or(default),
            self.ip.clone(),
            self.now,
        )
    }

    /// The acting user for a change of token `id`: `--actor`, else its owner.
    fn who_for(&mut self, id: &str) -> anyhow::Result<Actor> {
        let owner = self.token(id)?.record.owner;
        Ok(self.who(owner))
    }

    /// The stored token `id` (never a secret: see [`TokenSession::id`]), or an
    /// `EXIT_NOT_FOUND` failure.
    fn token(&mut self, id: &str) -> anyhow::Result<crate::store::StoredToken> {
        self.store
            .token(id)?
            .ok_or_else(|| lifecycle::no_token(&crate::log::redact_tokens(id)))
    }

    /// The token id an argument names (a pasted secret: its id, never shown).
    fn id(&mut self, arg: &str) -> anyhow::Result<String> {
        token_id(&mut self.policy, arg)
    }

    /// A minted secret, shown once.
    fn print_secret(&self, secret: &str, record: &wit::TokenRecord) {
        if self.json {
            print_json(serde_json::json!({"secret": secret, "token": token_json(record, false)}));
        } else {
            eprintln!(
                "token {} ({}); the secret is shown once:",
                record.id, record.name
            );
            outln!("{secret}");
        }
    }

    /// A lifetime from now, if one was given (`never`: none).
    fn expires_in(&self, lifetime: Option<String>) -> anyhow::Result<Option<Option<i64>>> {
        let now = self.now;
        lifetime
            .map(|e| parse_lifetime(&e).map(|l| l.map(|s| now.saturating_add(s))))
            .transpose()
    }
}

/// `forge-authz token ...`
pub fn token_command(p: &PolicyArgs, a: TokenArgs) -> anyhow::Result<u8> {
    let TokenArgs {
        db: DbArgs { db },
        actor,
        ip,
        out: JsonArgs { json },
        action,
    } = a;
    let mut store = open_store(&db)?;
    let now = store_now(&mut store)?;
    let policy = store_policy(&p.path(), p.limits(), &mut store)?;
    let mut s = TokenSession {
        store,
        policy,
        now,
        actor,
        ip,
        json,
    };
    match action {
        TokenAction::Create {
            owner,
            name,
            scopes: ScopeArgs { scopes },
            binding: BindingArgs { repos, owners },
            lifetime,
            ip_allow,
        } => {
            check_scopes(&mut s.policy, &scopes)?;
            let args = CreateArgs {
                owner,
                name,
                scopes,
                repositories: repos,
                owners,
                expires: lifetime.expires(now)?,
            };
            create_token(&mut s, &args, &ip_allow)?;
        }
        TokenAction::List { owner, all } => list_tokens(&mut s, owner.as_deref(), all)?,
        TokenAction::Show { id } => {
            let id = s.id(&id)?;
            show_token(&mut s, &id)?
        }
        TokenAction::Revoke { id, family } => {
            let id = s.id(&id)?;
            revoke_token(&mut s, &id, family)?
        }
        TokenAction::Rotate { id, expires_in } => {
            let id = s.id(&id)?;
            let expires = s.expires_in(expires_in)?.flatten();
            let who = s.who_for(&id)?;
            let (secret, record) =
                lifecycle::rotate(&mut s.policy, &mut s.store, &id, expires, &who)?;
            s.print_secret(&secret, &record);
        }
        TokenAction::Child {
            parent,
            scopes: ScopeArgs { scopes },
            lifetime,
            min_lifetime,
        } => {
            let parent = s.id(&parent)?;
            check_scopes(&mut s.policy, &scopes)?;
            child_token(&mut s, &parent, &scopes, &lifetime, min_lifetime)?
        }
        TokenAction::Edit {
            id,
            name,
            scopes,
            expires_in,
        } => edit_token(&mut s, &id, name, scopes, expires_in)?,
    }
    Ok(0)
}

/// `token edit`: a new name, scopes or lifetime; prints every record written (its
/// children shortened with it).
fn edit_token(
    s: &mut TokenSession,
    id: &str,
    name: Option<String>,
    scopes: Option<Vec<String>>,
    expires_in: Option<String>,
) -> anyhow::Result<()> {
    let id = s.id(id)?;
    if let Some(scopes) = &scopes {
        check_scopes(&mut s.policy, scopes)?;
    }
    let change = wit::TokenEdit {
        name,
        scopes,
        expires: s.expires_in(expires_in)?,
    };
    let who = s.who_for(&id)?;
    let written = lifecycle::edit(&mut s.policy, &mut s.store, &id, &change, &who)?;
    if s.json {
        let list: Vec<_> = written.iter().map(|r| token_json(r, false)).collect();
        print_json(serde_json::Value::from(list));
    } else {
        for r in &written {
            outln!("updated {}", r.id);
        }
    }
    Ok(())
}

/// `token create`: mint as the owner (or `--actor`), within `ips` if given; the secret once.
fn create_token(s: &mut TokenSession, args: &CreateArgs, ips: &[String]) -> anyhow::Result<()> {
    let who = s.who(args.owner.clone());
    let (secret, record) =
        lifecycle::create_with_ip_allow(&mut s.policy, &mut s.store, args, ips, &who)?;
    s.print_secret(&secret, &record);
    Ok(())
}

/// `token list`: live tokens (all with `--all`), as a table or JSON.
fn list_tokens(s: &mut TokenSession, owner: Option<&str>, all: bool) -> anyhow::Result<()> {
    let now = s.now;
    let tokens: Vec<_> = s
        .store
        .tokens(owner)?
        .into_iter()
        .filter(|t| all || token_state(&t.record, now) == "live")
        .collect();
    if s.json {
        let list: Vec<_> = tokens
            .iter()
            .map(|t| token_json(&t.record, t.expiry_recorded))
            .collect();
        print_json(serde_json::Value::from(list));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = tokens
        .iter()
        .map(|t| {
            let r = &t.record;
            vec![
                r.id.clone(),
                r.owner.clone(),
                r.name.clone(),
                token_state(r, now).into(),
                r.expires.map(utc).unwrap_or_else(|| "never".into()),
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
    Ok(())
}

/// `token show`: one record with its state.
fn show_token(s: &mut TokenSession, id: &str) -> anyhow::Result<()> {
    let t = s.token(id)?;
    let mut v = token_json(&t.record, t.expiry_recorded);
    if let Some(o) = v.as_object_mut() {
        o.insert("state".into(), token_state(&t.record, s.now).into());
        o.insert("ip_allow".into(), t.ip_allow.clone().into());
    }
    let v = super::json::with_utc(v);
    outln!(
        "{}",
        if s.json {
            v.to_string()
        } else {
            serde_json::to_string_pretty(&v)?
        }
    );
    Ok(())
}

/// `token revoke`: the token, or its whole family with `--family`.
fn revoke_token(s: &mut TokenSession, id: &str, family: bool) -> anyhow::Result<()> {
    let scope = if family {
        wit::RevokeScope::Family
    } else {
        wit::RevokeScope::Token
    };
    let before = s.token(id)?.record;
    let who = s.who(before.owner.clone());
    let ids = lifecycle::revoke(&mut s.policy, &mut s.store, id, scope, &who)?;
    // Revoking is idempotent: a token revoked before stays revoked (exit 0), and says so.
    let already = before.revoked.filter(|_| !ids.iter().any(|i| i == id));
    if s.json {
        print_json(serde_json::json!({"revoked": ids, "already_revoked": already}));
        return Ok(());
    }
    for i in &ids {
        outln!("revoked {i}");
    }
    if let Some(at) = already {
        let how = match &before.successor {
            Some(next) => format!(" (rotated: its successor is `{next}`)"),
            None => String::new(),
        };
        let rest = if ids.is_empty() {
            "; nothing else to revoke"
        } else {
            ""
        };
        outln!("token {id} was already revoked at {}{how}{rest}", utc(at));
    }
    Ok(())
}

/// `token child`: a child of `parent` (or the live one it may reuse).
fn child_token(
    s: &mut TokenSession,
    parent: &str,
    scopes: &[String],
    lifetime: &str,
    min_lifetime: Option<String>,
) -> anyhow::Result<()> {
    let lifetime = parse_lifetime(lifetime)?.context("a child token needs a finite lifetime")?;
    let min = min_lifetime
        .map(|m| parse_lifetime(&m))
        .transpose()?
        .flatten();
    let who = s.who_for(parent)?;
    match lifecycle::child(
        &mut s.policy,
        &mut s.store,
        parent,
        scopes,
        lifetime,
        min,
        &who,
    )? {
        ChildResult::Minted(secret, record) => s.print_secret(&secret, &record),
        ChildResult::Reused(record) => {
            if s.json {
                print_json(serde_json::json!({"reuse": token_json(&record, false)}));
            } else {
                outln!("reuse {}", record.id);
            }
        }
    }
    Ok(())
}

pub(super) fn token_json(t: &wit::TokenRecord, expiry_recorded: bool) -> serde_json::Value {
    let mut v = serde_json::to_value(crate::world::TokenDef::from_record(&convert::record_in(
        t.clone(),
    )))
    .unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("secret_hash");
        o.remove("digest");
        o.insert("expiry_recorded".into(), expiry_recorded.into());
        ensure_null(o, &["created", "expires", "revoked", "last_used"]);
    }
    v
}

pub(super) fn token_state(t: &wit::TokenRecord, now: i64) -> &'static str {
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

/// Mint a token into a world file's token list, acting for its owner.
#[allow(clippy::too_many_arguments)]
pub(super) fn mint(
    policy: &mut WasmPolicy,
    world: &mut World,
    owner: &str,
    name: &str,
    scopes: Vec<String>,
    binding: BindingArgs,
    expires: Option<i64>,
    now: i64,
) -> anyhow::Result<wit::IssuedToken> {
    // The CLI acts for the owner, as the forge would for a signed-in user.
    let order = crate::request::MintOrder {
        owner: owner.to_string(),
        name: name.to_string(),
        scopes,
        repositories: binding.repos,
        owners: binding.owners,
        expires,
        expires_in: None,
        now: Some(now),
    };
    crate::request::mint(policy, world, order)?
        .map_err(|e| anyhow::anyhow!("refused: {}", e.describe()))
}
