//! OpenSSH integration: `ssh-keys` (the `AuthorizedKeysCommand`) and `git-shell` (the
//! forced command of a key).

use super::{DbArgs, PolicyArgs, ReposArgs};

/// `forge-authz ssh-keys`
#[derive(Debug, clap::Args)]
pub struct SshKeysArgs {
    /// The forge's account: the only login forge keys are printed for (`git`). Any other
    /// login sshd asks about (`root`, another local user, one that does not exist) gets
    /// no key line, so a forge key never logs in as anyone else.
    #[arg(long = "user", value_name = "ACCOUNT")]
    pub user: String,
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
    /// The repositories.
    #[command(flatten)]
    pub repos: ReposArgs,
    /// `%u`: the login sshd is authenticating.
    pub login: String,
    /// `%t`: the offered key's type.
    pub key_type: String,
    /// `%k`: the offered key, base64.
    pub key: String,
    /// Whose modules `git-shell` trusts (passed on in the forced command).
    #[command(flatten)]
    pub trust: super::module::TrustArgs,
    /// `git-shell`'s decision log (passed on in the forced command, made absolute): every
    /// SSH decision appended to this file as one JSON line.
    #[arg(long, value_name = "PATH")]
    pub decision_log: Option<std::path::PathBuf>,
}

/// `forge-authz git-shell`
#[derive(Debug, clap::Args)]
pub struct GitShellArgs {
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
    /// The repositories.
    #[command(flatten)]
    pub repos: ReposArgs,
    /// The key's id.
    #[arg(long)]
    pub key: String,
    /// Whose modules are trusted (a `--policy` file must be signed: "Trusting a module").
    #[command(flatten)]
    pub trust: super::module::TrustArgs,
    /// Largest pack a push may send (git's `receive.maxInputSize`), as `serve`'s
    /// `--max-body-bytes`.
    #[arg(long, default_value_t = 1 << 30)]
    pub max_body_bytes: u64,
    /// Record every decision (the request, and each ref update of a push) as one JSON
    /// line appended to this file (created 0600), as `serve --decision-log`; standard
    /// output carries git's protocol, so `-` is refused. A decision whose record cannot
    /// be written is refused.
    #[arg(long, value_name = "PATH")]
    pub decision_log: Option<std::path::PathBuf>,
}

/// `forge-authz ssh-keys --user git --db DB --repos DIR %u %t %k`: exit 0 with the key
/// line, or with nothing (an unknown key, or a login that is not the forge's account).
pub fn ssh_keys(p: &PolicyArgs, a: SshKeysArgs) -> anyhow::Result<u8> {
    let SshKeysArgs {
        user,
        db: DbArgs { db },
        repos: ReposArgs { repos },
        login,
        key_type,
        key,
        trust,
        decision_log,
    } = a;
    refuse_stdout(decision_log.as_deref())?;
    let forced = crate::serve::ForcedPolicy {
        policy: p.path(),
        deadline_ms: p.limits().deadline_ms,
        trusted_signers: trust.trusted_signers,
        allow_unsigned: trust.allow_unsigned,
        decision_log,
    };
    let offered = crate::serve::OfferedKey {
        forge_user: &user,
        login: &login,
        key_type: &key_type,
        key_blob: &key,
    };
    if let Some(line) = crate::serve::ssh_keys(&db, &repos, &offered, &forced)? {
        outln!("{line}");
    }
    Ok(0)
}

/// `forge-authz git-shell --db DB --repos DIR --key ID`
pub fn git_shell(p: &PolicyArgs, a: GitShellArgs) -> anyhow::Result<u8> {
    let GitShellArgs {
        db: DbArgs { db },
        repos: ReposArgs { repos },
        key,
        max_body_bytes,
        trust,
        decision_log,
    } = a;
    refuse_stdout(decision_log.as_deref())?;
    let policy = (p.path(), trust.trust()?);
    let body_and_log = (max_body_bytes, decision_log.as_deref());
    crate::serve::git_shell(&policy, p.limits(), &db, &repos, &key, body_and_log)
}

/// `git-shell`'s decision log is a file: its standard output carries git's protocol.
fn refuse_stdout(decision_log: Option<&std::path::Path>) -> anyhow::Result<()> {
    if decision_log.is_some_and(crate::log::decision::is_stdout) {
        return Err(super::fail(
            super::EXIT_ERROR,
            "git-shell cannot write its decision log to standard output (git's protocol runs there): give a file, e.g. `--decision-log /var/log/forge-authz/decisions.jsonl`",
        ));
    }
    Ok(())
}
