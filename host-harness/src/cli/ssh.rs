//! OpenSSH integration: `ssh-keys` (the `AuthorizedKeysCommand`) and `git-shell` (the
//! forced command of a key).

use anyhow::bail;

use super::{DbArgs, PolicyArgs, ReposArgs};

/// `forge-authz ssh-keys`
#[derive(Debug, clap::Args)]
pub struct SshKeysArgs {
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
    /// The repositories.
    #[command(flatten)]
    pub repos: ReposArgs,
    /// `%u`, `%t`, `%k`.
    pub args: Vec<String>,
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
}

/// `forge-authz ssh-keys --db DB --repos DIR %u %t %k`
pub fn ssh_keys(p: &PolicyArgs, a: SshKeysArgs) -> anyhow::Result<u8> {
    let SshKeysArgs {
        db: DbArgs { db },
        repos: ReposArgs { repos },
        args,
    } = a;
    let (Some(t), Some(k)) = (args.get(args.len().wrapping_sub(2)), args.last()) else {
        bail!("usage: forge-authz ssh-keys --db DB --repos DIR %u %t %k");
    };
    let forced = crate::serve::ForcedPolicy {
        policy: p.path(),
        deadline_ms: p.limits().deadline_ms,
    };
    if let Some(line) = crate::serve::ssh_keys(&db, &repos, t, k, &forced)? {
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
    } = a;
    crate::serve::git_shell(&p.path(), p.limits(), &db, &repos, &key)
}
