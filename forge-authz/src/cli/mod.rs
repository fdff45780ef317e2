//! The `forge-authz` command line: the command tree, the flags several commands share,
//! and a dispatcher; each command group lives in its own module.
//!
//! - [`db`]: world fixtures and the database (`init`, `init-db`, `import`, `export`,
//!   `history`, `bulk-import`);
//! - [`token`]: tokens (`mint`, `token ...`, `audit`, `expire`);
//! - [`policy`]: the policy module on its own (`decide`, `scopes`, `inspect`, `demo`);
//! - [`serve`]: the server and its admin client (`serve`, `reload`, `status`, `shadow`,
//!   `promote`, the internal `hook`);
//! - [`ssh`]: OpenSSH integration (`ssh-keys`, `git-shell`);
//! - [`fleet`]: one module version across hosts (`publish`, `fleet`);
//! - [`keys`]: the policy's configuration, versioned across hosts (`keys`, `options`);
//! - [`module`], [`signers`]: module trust (`module keygen|sign|export|verify`, `signers`);
//! - [`org`], [`people`]: the store's people (`user`, `org`, `member`) and organisations'
//!   IP allow lists (`org ip-allow`);
//! - [`repos`]: the store's repositories (`repo`, `collaborator`, `key` for user and deploy
//!   SSH keys, `protect`);
//! - [`site`]: site data for a site policy, versioned the same way (`site`);
//! - [`table`]: human-readable output (aligned tables, UTC dates).

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};

use crate::policy::{Limits, default_policy_path};
use crate::serve::admin::AdminRequest;

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

pub mod check;
pub mod db;
pub mod docs;
pub mod fleet;
pub mod json;
pub mod keys;
pub mod module;
pub mod open;
pub mod org;
pub mod people;
pub mod policy;
pub mod repos;
pub mod serve;
pub mod signers;
pub mod site;
pub mod ssh;
pub mod table;
pub mod token;

pub use db::sample_world;

// ---- Exit status: one table, documented in the README ("Exit status") and tested. ----
pub use crate::exit::{
    EXIT_DENY, EXIT_DIFFERENCES, EXIT_ERROR, EXIT_NOT_FOUND, EXIT_OK, EXIT_REFUSED,
    EXIT_UNAVAILABLE, Failure, exit_code, fail,
};

/// forge-authz: the authorization policy of a git forge, as a WebAssembly component.
#[derive(Debug, Parser)]
#[command(
    name = "forge-authz",
    version = concat!(
        env!("CARGO_PKG_VERSION"),
        " (embedded policy sha256:",
        env!("FORGE_AUTHZ_EMBEDDED_DIGEST"),
        ")"
    ),
    after_help = "Commands are listed by task: first steps (demo to inspect), tokens (token to \
                  scopes), serving (serve to git-shell), the store's records (user to export), \
                  fleets and modules (publish to promote), tools (completions to \
                  install-completions). `forge-authz help COMMAND`: one command in full."
)]
pub struct Cli {
    /// The policy module and its limits (global flags).
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Commands. `--help` lists them by task (`display_order`: hundreds per group, see the
/// `after_help` of [`Cli`]; `tests/help.rs` holds the order).
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a new world fixture with a fresh random signing key and sample users and
    /// repositories.
    #[command(display_order = 105)]
    Init(db::InitArgs),
    /// Mint a token: prints the secret once (stdout) and stores its record (hash only).
    #[command(display_order = 205)]
    Mint(token::MintArgs),
    /// The publication gate on a candidate module: the shipped scenario corpus, the
    /// policy-independent invariants over generated cases, and every decision it changes
    /// against the live module. Exit 0 pass, 1 failure, 3 differences only.
    #[command(display_order = 530)]
    Check(check::CheckArgs),
    /// Decide a request file against a world; prints the decision as JSON. Exit 0 allow,
    /// 1 deny, 2 error.
    #[command(display_order = 110)]
    Decide(policy::DecideArgs),
    /// Scope utilities, decided by the policy module.
    #[command(display_order = 215)]
    Scopes {
        /// `migrate` (legacy Gitea scopes to current ones) or `normalize`.
        #[command(subcommand)]
        action: policy::ScopesAction,
    },
    /// Check a token's format and checksum offline and print its public fields (no key,
    /// no store). Pass `-` to read the token from stdin (keeps it out of shell history).
    #[command(display_order = 120)]
    Inspect(policy::InspectArgs),
    /// Run a demo end to end in a temporary directory: a world, a minted token, a real
    /// allow and a real deny from the wasm policy.
    #[command(display_order = 100)]
    Demo,
    /// Create a token database (SQLite), from a world fixture or with sample data.
    #[command(display_order = 115)]
    InitDb(db::InitDbArgs),
    /// Replace the database's content with a world fixture.
    #[command(display_order = 455)]
    Import(db::ImportArgs),
    /// Write the database's content (tokens: hashes only) as a world fixture.
    #[command(display_order = 460)]
    Export(db::ExportArgs),
    /// Token lifecycle in the database: every operation is decided by the policy module.
    #[command(display_order = 200)]
    Token(token::TokenArgs),
    /// The change history, newest first.
    #[command(display_order = 440)]
    History(db::HistoryArgs),
    /// Check the database for inconsistencies; `--fix` applies the safe repairs.
    #[command(display_order = 445)]
    Audit(token::AuditArgs),
    /// Serve git over smart HTTP (and forward auth) with every request decided by the
    /// policy; the module is hot-swappable (`forge-authz reload`).
    #[command(display_order = 300)]
    Serve(serve::ServeArgs),
    /// Ask a running server to load a new policy module (checked before it serves).
    #[command(display_order = 310)]
    Reload(serve::ReloadArgs),
    /// A running server's counters and module generation (JSON).
    #[command(display_order = 305)]
    Status(AdminSocketArgs),
    /// Run a candidate module in shadow beside the live one on a running server: the live
    /// decision is enforced, every difference is logged and counted (`/-/admin/status`).
    /// Without `--module`, stop the shadow.
    #[command(display_order = 535)]
    Shadow(serve::ShadowArgs),
    /// Make the shadow candidate the live module.
    #[command(display_order = 540)]
    Promote(AdminSocketArgs),
    /// OpenSSH `AuthorizedKeysCommand`: `forge-authz ssh-keys --user git --db DB --repos DIR
    /// %u %t %k` (prints nothing for any login but `--user`).
    #[command(display_order = 315)]
    SshKeys(ssh::SshKeysArgs),
    /// The forced command of an SSH key: reads `SSH_ORIGINAL_COMMAND`, asks the policy,
    /// runs git or prints the reason and exits non-zero.
    #[command(display_order = 320)]
    GitShell(ssh::GitShellArgs),
    /// Git hooks installed by `serve` (internal).
    #[command(hide = true)]
    #[command(display_order = 325)]
    Hook(serve::HookArgs),
    /// Record the expiry of every token past it.
    #[command(display_order = 210)]
    Expire(token::ExpireArgs),
    /// Add users or repositories in bulk (JSON lines or CSV), one transaction per batch.
    #[command(display_order = 450)]
    BulkImport(db::BulkImportArgs),
    /// Publish a policy module to every `serve` over this store (or roll back, promote
    /// the shadow, stop the shadow). Hosts check it and swap within a few seconds.
    #[command(display_order = 500)]
    Publish(fleet::PublishArgs),
    /// What is published and what each host runs.
    #[command(display_order = 505)]
    Fleet(fleet::FleetArgs),
    /// Signing keys: add, retire, switch signing, list (never a secret). Each change is
    /// checked with the policy, then applied by every host within its poll.
    #[command(display_order = 510)]
    Keys(keys::KeysArgs),
    /// Policy options: show, set. Each change is checked with the policy, then applied
    /// by every host within its poll.
    #[command(display_order = 515)]
    Options(keys::OptionsArgs),
    /// Module signatures: generate a minisign key pair, sign a module (its statement:
    /// contract, version, SHA-256), verify one against trusted keys, export the embedded one.
    #[command(display_order = 520)]
    Module {
        /// `keygen`, `sign`, `export` or `verify`.
        #[command(subcommand)]
        action: module::ModuleAction,
    },
    /// The fleet's module signers in the store: add (endorsed by a trusted key), retire,
    /// list. Each change is applied by every host within its poll.
    #[command(display_order = 525)]
    Signers(signers::SignersArgs),
    /// Organisations: add, list, show, change, remove, and `org ip-allow ORG --set
    /// CIDR,... | --clear | --show`; each change recorded in the history (`history
    /// --records`).
    #[command(display_order = 405)]
    Org(org::OrgArgs),
    /// Users: add, list, show, change, remove (tokens revoked, memberships removed); each
    /// change recorded in the history (`history --records`).
    #[command(display_order = 400)]
    User(people::UserArgs),
    /// Organisations' members and their roles: add, list, change, remove; each change
    /// recorded in the history (`history --records`).
    #[command(display_order = 410)]
    Member(people::MemberArgs),
    /// Site data (JSON) for a site policy built on the core (a change freeze's windows):
    /// set, show, clear, history. Checked with the policy, then applied by every host
    /// within its poll.
    #[command(display_order = 435)]
    Site(site::SiteArgs),
    /// The store's repositories (the site operator's): add, list, show, change, remove.
    /// Each change is recorded in the history (`history --records`).
    #[command(display_order = 415)]
    Repo(repos::RepoArgs),
    /// A repository's collaborators and their roles: add, list, change, remove.
    #[command(display_order = 420)]
    Collaborator(repos::CollaboratorArgs),
    /// SSH keys: a user's keys and repositories' deploy keys (add, list, show, change,
    /// remove), offered to sshd by `ssh-keys` at once. (The policy's signing keys: `keys`.)
    #[command(visible_alias = "ssh-key")]
    #[command(display_order = 425)]
    Key(repos::KeyArgs),
    /// Protected refs (branch protection) of a repository: add, list, show, change, remove.
    /// Rules keep their order: the first that matches a ref decides.
    #[command(display_order = 430)]
    Protect(repos::ProtectArgs),
    /// Print the shell completion script (bash, zsh, fish, elvish, powershell) generated
    /// from this CLI (`install-completions` puts them where the shells look).
    #[command(display_order = 600)]
    Completions(docs::CompletionsArgs),
    /// Print the man page, or write one page per command with `--dir DIR`.
    #[command(display_order = 605)]
    Man(docs::ManArgs),
    /// Install bash, zsh and fish completions and the man pages for your user (or under
    /// `--prefix /usr/local` for everyone), and say what the shells need.
    #[command(display_order = 610)]
    InstallCompletions(docs::InstallArgs),
}

/// Run a command; returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    let p = &cli.policy;
    match cli.command {
        Command::Init(a) => db::init(a),
        Command::Mint(a) => token::mint_command(p, a),
        Command::Check(a) => check::check(p, a),
        Command::Decide(a) => policy::decide(p, a),
        Command::Scopes { action } => policy::scopes(p, action),
        Command::Inspect(a) => policy::inspect(p, a),
        Command::Demo => policy::demo(p),
        Command::InitDb(a) => db::init_db(p, a),
        Command::Import(a) => db::import(p, a),
        Command::Export(a) => db::export(a),
        Command::Token(a) => token::token_command(p, a),
        Command::History(a) => db::history(a),
        Command::Audit(a) => token::audit(p, a),
        Command::Serve(a) => serve::serve(p, a),
        Command::Reload(a) => serve::admin(&a.admin, &AdminRequest::Reload { module: a.module }),
        Command::Status(a) => serve::admin(&a, &AdminRequest::Status),
        Command::Shadow(a) => serve::admin(&a.admin, &AdminRequest::Shadow { module: a.module }),
        Command::Promote(a) => serve::admin(&a, &AdminRequest::Promote),
        Command::SshKeys(a) => ssh::ssh_keys(p, a),
        Command::GitShell(a) => ssh::git_shell(p, a),
        Command::Hook(a) => serve::hook(a),
        Command::Expire(a) => token::expire(p, a),
        Command::BulkImport(a) => db::bulk_import(a),
        Command::Publish(a) => fleet::publish(p, a),
        Command::Fleet(a) => fleet::fleet(a),
        Command::Keys(a) => keys::keys(p, a),
        Command::Options(a) => keys::options(p, a),
        Command::Module { action } => module::module(action),
        Command::Signers(a) => signers::signers(a),
        Command::Org(a) => org::org(p, a),
        Command::User(a) => people::user(p, a),
        Command::Member(a) => people::member(a),
        Command::Site(a) => site::site(p, a),
        Command::Repo(a) => repos::repo(p, a),
        Command::Collaborator(a) => repos::collaborator(a),
        Command::Key(a) => repos::key::key(a),
        Command::Protect(a) => repos::protect::protect(a),
        Command::Completions(a) => docs::completions(a),
        Command::Man(a) => docs::man(a),
        Command::InstallCompletions(a) => docs::install(a),
    }
}

// ---- Flags shared by several commands: each is defined once, here, and flattened. ----

/// `--policy` and `--deadline-ms`: the policy module every command loads (global flags).
#[derive(Debug, Clone, clap::Args)]
pub struct PolicyArgs {
    /// Policy component to load (default: $FORGE_AUTHZ_POLICY, else the module embedded
    /// in this binary, shown as `<embedded>`).
    #[arg(long, global = true)]
    pub policy: Option<PathBuf>,
    /// Wall-clock deadline of one policy call, in milliseconds (10 ms resolution): a call
    /// past it is a `policy-failure` deny.
    #[arg(long, global = true, default_value_t = Limits::default().deadline_ms)]
    pub deadline_ms: u64,
}

impl PolicyArgs {
    /// The module to load: `--policy`, else `$FORGE_AUTHZ_POLICY`, else the embedded one.
    pub fn path(&self) -> PathBuf {
        self.policy.clone().unwrap_or_else(default_policy_path)
    }

    /// The limits of one policy call.
    pub fn limits(&self) -> Limits {
        Limits {
            deadline_ms: self.deadline_ms,
            ..Limits::default()
        }
    }
}

/// `--db`: the store (global, so `token list --db X` works after the subcommand too).
#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// The store: a SQLite file (`forge.db`, `sqlite:forge.db`) or a PostgreSQL URL
    /// (`postgres://user@host:5432/forge`; shown without its password).
    #[arg(
        long,
        env = "FORGE_AUTHZ_DB",
        default_value = "forge-authz.db",
        global = true,
        value_parser = parse_location
    )]
    pub db: crate::store::Location,
}

/// `--db` as a store location (every string is one: a URL, or a SQLite path).
pub fn parse_location(s: &str) -> Result<crate::store::Location, String> {
    if s.is_empty() {
        return Err("an empty store location".into());
    }
    Ok(crate::store::Location::parse(s))
}

/// `--json`: machine-readable output.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct JsonArgs {
    /// JSON output (for scripts).
    #[arg(long, global = true)]
    pub json: bool,
}

/// `--expires-in`: a new token's lifetime.
#[derive(Debug, Clone, clap::Args)]
pub struct LifetimeArgs {
    /// Lifetime: `30d`, `12h`, `45m`, `90s`, or `never`.
    #[arg(long, default_value = "30d")]
    pub expires_in: String,
}

impl LifetimeArgs {
    /// The expiry (Unix seconds) of a token minted at `now`; `None` never expires.
    pub fn expires(&self, now: i64) -> anyhow::Result<Option<i64>> {
        Ok(parse_lifetime(&self.expires_in)?.map(|s| now.saturating_add(s)))
    }
}

/// `--scope`: a new token's scopes (at least one).
#[derive(Debug, Clone, clap::Args)]
pub struct ScopeArgs {
    /// Scope (repeat, or comma separated).
    #[arg(long = "scope", value_delimiter = ',', required = true)]
    pub scopes: Vec<String>,
}

/// `--repo` and `--bind-owner`: what a new token is bound to.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct BindingArgs {
    /// Bind to a repository `owner/name` (repeat, or comma separated).
    #[arg(long = "repo", value_delimiter = ',')]
    pub repos: Vec<String>,
    /// Bind to every repository of an owner (repeat, or comma separated).
    #[arg(long = "bind-owner", value_delimiter = ',')]
    pub owners: Vec<String>,
}

/// `--repos`: the directory of bare repositories a server or SSH command serves.
#[derive(Debug, Clone, clap::Args)]
pub struct ReposArgs {
    /// Directory of bare repositories (`owner/name.git`).
    #[arg(long)]
    pub repos: PathBuf,
}

/// `--admin-socket` of a running server (the admin client commands).
#[derive(Debug, Clone, clap::Args)]
pub struct AdminSocketArgs {
    /// The server's admin socket.
    #[arg(long)]
    pub admin_socket: PathBuf,
}

/// `30d`, `12h`, `45m`, `90s` -> seconds; `never` -> None.
pub fn parse_lifetime(s: &str) -> anyhow::Result<Option<i64>> {
    if s == "never" {
        return Ok(None);
    }
    // `split_at_checked`: a multi-byte last character is an error, not a panic.
    let Some((num, unit)) = s.split_at_checked(s.len().saturating_sub(1)) else {
        bail!("lifetime `{s}`: unit must be d, h, m or s");
    };
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::parse_lifetime;

    #[test]
    fn lifetimes() {
        assert_eq!(parse_lifetime("30d").unwrap(), Some(30 * 86_400));
        assert_eq!(parse_lifetime("12h").unwrap(), Some(12 * 3_600));
        assert_eq!(parse_lifetime("45m").unwrap(), Some(45 * 60));
        assert_eq!(parse_lifetime("90s").unwrap(), Some(90));
        assert_eq!(parse_lifetime("never").unwrap(), None);
        for bad in [
            "",
            "d",
            "0d",
            "-1h",
            "5w",
            "5",
            "5é",
            "é",
            "99999999999999999d",
        ] {
            assert!(parse_lifetime(bad).is_err(), "{bad:?}");
        }
    }
}
