//! Git over SSH: `ssh-keys` (OpenSSH's `AuthorizedKeysCommand`) and `git-shell` (the
//! forced command of every key).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use super::audit::Asked;
use super::enforce::{Answer, Shared, principal_of};
use super::hook;
use crate::live::LivePolicy;
use crate::log;
use crate::policy::{EMBEDDED_POLICY_NAME, Limits};
use crate::request::{ActionDef, CredentialDef, KindDef, RequestDef};
use crate::store::repos::key_type_supported;
use crate::store::{Location, Store};

/// How `git-shell` must run the policy: the same module and limits as the `ssh-keys` call
/// that printed it (so SSH follows `--policy` and `--deadline-ms`, not the defaults).
#[derive(Clone, Debug)]
pub struct ForcedPolicy {
    /// `--policy` (the embedded module: not repeated).
    pub policy: PathBuf,
    /// `--deadline-ms`.
    pub deadline_ms: u64,
    /// `--trusted-signers` (issue 23: `git-shell` verifies a `--policy` file).
    pub trusted_signers: Vec<PathBuf>,
    /// `--allow-unsigned`.
    pub allow_unsigned: bool,
    /// `git-shell --decision-log` (made absolute: sshd runs the command elsewhere).
    pub decision_log: Option<PathBuf>,
}

/// What sshd asks `ssh-keys` about (`%u %t %k`), and the forge's account.
#[derive(Clone, Copy, Debug)]
pub struct OfferedKey<'a> {
    /// The forge's account (`--user`): the only login forge keys open.
    pub forge_user: &'a str,
    /// `%u`: the login being authenticated.
    pub login: &'a str,
    /// `%t`: the key's type.
    pub key_type: &'a str,
    /// `%k`: the key, base64.
    pub key_blob: &'a str,
}

/// `forge-authz ssh-keys`: prints the key line with a forced command when the login is the
/// forge's account and the offered key (`%t %k`) is a known user or deploy key; nothing
/// otherwise (sshd then refuses the key). Like `gitea keys -e git -u %u` and
/// `gitlab-shell-authorized-keys-check git %u %k`, a forge key never opens another account:
/// sshd runs `AuthorizedKeysCommand` for every login (root included) unless a `Match User`
/// block says otherwise, so the check lives here, where a missing `Match` cannot undo it.
/// Reads the store read-only (an unprivileged `AuthorizedKeysCommandUser` can run it), and
/// not at all for another login.
pub fn ssh_keys(
    db: &Location,
    repos: &Path,
    offered: &OfferedKey<'_>,
    forced: &ForcedPolicy,
) -> anyhow::Result<Option<String>> {
    let OfferedKey {
        forge_user,
        login,
        key_type,
        key_blob,
    } = *offered;
    // Exact comparison: sshd passes the account name it resolved (`%u`); an empty
    // `--user` matches nothing.
    if forge_user.is_empty() || login != forge_user {
        return Ok(None);
    }
    if !key_type_supported(key_type)
        || key_blob.is_empty()
        || !key_blob
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
    {
        return Ok(None);
    }
    // One indexed lookup by fingerprint, then an exact comparison of type and key.
    let found = Store::open_read_only(db)?.ssh_key_by_public(key_type, key_blob)?;
    let Some(k) = found else { return Ok(None) };
    let safe = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    if !safe(&k.id) {
        return Ok(None);
    }
    let quote_str = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let quote = |p: &Path| quote_str(&p.display().to_string());
    // The forced command names the store; it must never carry a password (sshd's
    // command lines and process lists are readable).
    let store = match db {
        Location::Sqlite(path) => quote(&std::fs::canonicalize(path)?),
        Location::Postgres(_) => {
            let url = db.spelled();
            if db.to_string() != url {
                anyhow::bail!(
                    "the --db URL carries a password, which would appear in the forced command: use a role that needs none here (trust or peer authentication on a Unix socket)"
                );
            }
            quote_str(&url)
        }
    };
    let bin = std::env::current_exe()?;
    let mut command = quote(&bin);
    command.push_str(&policy_options(forced)?);
    command.push_str(&format!(
        " --deadline-ms {} git-shell --db {} --repos {} --key {}",
        forced.deadline_ms,
        store,
        quote(&std::fs::canonicalize(repos)?),
        k.id
    ));
    if let Some(log) = &forced.decision_log {
        let log = std::path::absolute(log)?;
        command.push_str(&format!(" --decision-log {}", quote(&log)));
    }
    // `restrict`: no forwarding, no pty, no rc; the key can only run the forced command.
    Ok(Some(format!(
        "command=\"{}\",restrict {key_type} {key_blob}",
        command.replace('"', "\\\"")
    )))
}

/// The forced command's options before `git-shell`: the policy module (unless embedded),
/// whose modules are trusted, `--allow-unsigned`.
fn policy_options(forced: &ForcedPolicy) -> anyhow::Result<String> {
    let quote = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', "'\\''"));
    let mut options = String::new();
    if forced.policy != Path::new(EMBEDDED_POLICY_NAME) {
        options.push_str(&format!(
            " --policy {}",
            quote(&std::fs::canonicalize(&forced.policy)?)
        ));
    }
    for signers in &forced.trusted_signers {
        let file = quote(&std::fs::canonicalize(signers)?);
        options.push_str(&format!(" --trusted-signers {file}"));
    }
    if forced.allow_unsigned {
        options.push_str(" --allow-unsigned");
    }
    Ok(options)
}

/// Parse `SSH_ORIGINAL_COMMAND`: exactly `git-upload-pack '<owner>/<name>[.git]'` or
/// `git-receive-pack ...` (quotes optional). One leading `/` is the namespace root, as
/// `ssh://` URLs send it; any other absolute or longer path, `..`, extra arguments, shell
/// syntax and every other command are refused.
pub fn parse_ssh_command(cmd: &str) -> Result<(ActionDef, String), String> {
    let cmd = cmd.trim();
    let (verb, arg) = cmd
        .split_once(' ')
        .ok_or("a git command needs a repository")?;
    let action = match verb {
        "git-upload-pack" => ActionDef::Pull,
        "git-receive-pack" => ActionDef::Push,
        _ => {
            return Err(format!(
                "`{verb}` is not allowed: only git-upload-pack and git-receive-pack"
            ));
        }
    };
    let arg = arg.trim();
    let path = match arg.strip_prefix('\'').and_then(|a| a.strip_suffix('\'')) {
        Some(inner) => inner,
        None => arg,
    };
    if path.contains(['\'', '"', ' ', '\\', '\0', '\n', ';', '&', '|', '$', '`']) {
        return Err("one repository path only, without shell syntax".into());
    }
    let path = path.strip_prefix('/').unwrap_or(path);
    if path.starts_with('/') {
        return Err("the repository must be `owner/name`".into());
    }
    let path = crate::request::repository_path(path);
    let parts: Vec<&str> = path.split('/').collect();
    let ok = parts.len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && *p != "."
                && *p != ".."
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        });
    if !ok {
        return Err("the repository must be `owner/name`".into());
    }
    Ok((action, path.to_string()))
}

/// The client address of an SSH session (issue 23: IP allow lists): the first field of
/// `SSH_CONNECTION` (`client-address client-port server-address server-port`), which sshd
/// sets for the forced command after the variables a client may send (`AcceptEnv`), so a
/// client cannot name another address. Anything else — absent, not four fields, not one
/// bare IP address — is no address, refused wherever an allow list applies.
pub fn ssh_client_address(connection: Option<&str>) -> Option<String> {
    let fields: Vec<&str> = connection?.split(' ').collect();
    let [client, _, _, _] = fields.as_slice() else {
        return None;
    };
    let ip: std::net::IpAddr = client.parse().ok()?;
    Some(ip.to_canonical().to_string())
}

/// The module `git-shell` decides with, trusted as `serve` trusts it at start (issue 23):
/// the anchors, the store's endorsed signers, the fleet's floor. `None`: refused (said on
/// stderr); nothing is decided.
fn trusted_live(
    policy_path: &Path,
    trust: &crate::trust::Trust,
    limits: Limits,
    db: &Location,
) -> anyhow::Result<Option<Arc<LivePolicy>>> {
    let mut store = Store::open_read_only(db)?;
    let settings = store.settings()?;
    let (fleet, _) = crate::store::modules::signers::trust(store.conn(), trust.anchors.clone())?;
    let trust = crate::trust::Trust {
        allow_unsigned: trust.allow_unsigned,
        floor: crate::store::modules::state(store.conn())?.floor,
        ..fleet
    };
    drop(store);
    match LivePolicy::start(policy_path, None, settings.config, limits, trust) {
        Ok(live) => Ok(Some(Arc::new(live))),
        Err(e) => {
            eprintln!("forge-authz: the policy module was refused: {e}");
            Ok(None)
        }
    }
}

/// `forge-authz git-shell --key ID`: the forced command of an SSH key. Decides the
/// request, then runs git on the repository the policy decided on; a push is decided per
/// ref through the proc-receive hook (see [`hook`]).
pub fn git_shell(
    (policy_path, trust): &(PathBuf, crate::trust::Trust),
    limits: Limits,
    db: &Location,
    repos: &Path,
    key: &str,
    (max_body_bytes, decision_log): (u64, Option<&Path>),
) -> anyhow::Result<u8> {
    let Some(original) = std::env::var_os("SSH_ORIGINAL_COMMAND") else {
        eprintln!("forge-authz: interactive logins are not allowed; use git");
        return Ok(1);
    };
    let (action, repo) = match parse_ssh_command(&original.to_string_lossy()) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("forge-authz: {e}");
            return Ok(1);
        }
    };
    let Some(live) = trusted_live(policy_path, trust, limits, db)? else {
        return Ok(1);
    };
    let decision_log = decision_log
        .map(|p| crate::log::decision::DecisionLog::open(p, ssh_host()))
        .transpose()?;
    let shared = Arc::new(Shared::new(db.clone(), live).with_decision_log(decision_log));
    let request = RequestDef {
        credential: CredentialDef::SshKey(key.to_string()),
        client_address: ssh_client_address(std::env::var("SSH_CONNECTION").ok().as_deref()),
        kind: KindDef::Git,
        transport: crate::request::TransportDef::Ssh,
        repository: Some(repo.clone()),
        action: Some(action),
        ..RequestDef::default()
    };
    let asked = ssh_asked(&shared, db, key);
    let Answer {
        decision: d,
        gathered,
    } = shared.recorded(&asked, &request, shared.decide(&request));
    log::event(
        "ssh",
        &[
            ("repository", &repo),
            ("status", &d.http().to_string()),
            ("reason", d.code()),
            ("principal", &principal_of(&request.credential, &d)),
        ],
    );
    let Some(decided) = gathered.repository.filter(|_| d.allow()) else {
        eprintln!("forge-authz: {} ({})", d.message, d.code());
        return Ok(1);
    };
    // The repository on disk is the one decided on (from its facts), never the URL's.
    let dir = std::fs::canonicalize(repos)?.join(format!("{decided}.git"));
    match action {
        ActionDef::Pull => {
            let status = Command::new("git-upload-pack")
                .arg(&dir)
                .env("PATH", git_path())
                .status()?;
            Ok(if status.success() { 0 } else { 1 })
        }
        ActionDef::Push => {
            // A fresh private directory for this push's hook and socket.
            let state = super::fresh_private_dir(&std::env::temp_dir(), "forge-authz-ssh")?;
            let result = push(&shared, (&request, &asked), &state, &dir, max_body_bytes);
            let _ = std::fs::remove_dir_all(&state);
            result
        }
    }
}

fn push(
    shared: &Arc<Shared>,
    (request, asked): (&RequestDef, &Asked),
    state: &Path,
    dir: &Path,
    max_body_bytes: u64,
) -> anyhow::Result<u8> {
    let hooks = state.join("hooks");
    hook::install(&hooks, &std::env::current_exe()?)?;
    let socket = state.join("hook.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket)?;
    let id = shared.begin_push(request, asked);
    {
        let shared = shared.clone();
        std::thread::spawn(move || super::enforce::serve_hook_socket(shared, listener));
    }
    let mut cmd = Command::new("git-receive-pack");
    cmd.arg(dir)
        .env("PATH", git_path())
        .env(hook::ENV_PUSH, &id)
        .env(hook::ENV_SOCKET, &socket);
    let mut config = hook::git_config(&hooks);
    // git's own limit on the pack (issue 20: the SSH path has no HTTP body to count).
    config.push(("receive.maxInputSize".into(), max_body_bytes.to_string()));
    cmd.env("GIT_CONFIG_COUNT", config.len().to_string());
    for (i, (k, v)) in config.iter().enumerate() {
        cmd.env(format!("GIT_CONFIG_KEY_{i}"), k)
            .env(format!("GIT_CONFIG_VALUE_{i}"), v);
    }
    let status = cmd.status()?;
    shared.end_push(&id);
    Ok(if status.success() { 0 } else { 1 })
}

/// This host as `git-shell`'s decision log names it: `HOSTNAME/ssh`.
fn ssh_host() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{}/ssh", name.trim())
}

/// How an SSH request was asked, for the decision log: a fresh id, and whether the key is
/// a deploy key (read from the store only when there is a decision log; a key the store
/// cannot answer for is logged as `ssh-key`).
fn ssh_asked(shared: &Shared, db: &Location, key: &str) -> Asked {
    let deploy = shared.decision_log.is_some()
        && Store::open_read_only(db)
            .ok()
            .and_then(|mut s| crate::store::facts::ssh_key(s.conn(), key).ok().flatten())
            .is_some_and(|k| k.kind == crate::world::KeyKind::Deploy);
    Asked {
        credential: deploy.then_some("deploy-key"),
        ..shared.asked("ssh", None, None)
    }
}

/// PATH with git's exec directory first (git-upload-pack and git-receive-pack live there).
fn git_path() -> std::ffi::OsString {
    let exec = Command::new("git")
        .arg("--exec-path")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let mut p = std::ffi::OsString::from(exec);
    p.push(":");
    p.push(std::env::var_os("PATH").unwrap_or_default());
    p
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ssh_commands() {
        use ActionDef::{Pull, Push};
        for (command, action, repository) in [
            ("git-upload-pack 'alice/app.git'", Pull, "alice/app"),
            ("git-receive-pack '/alice/app.git'", Push, "alice/app"),
            ("git-upload-pack alice/app", Pull, "alice/app"),
            // A leading `/` is the namespace root (ssh:// URLs send it), never the
            // filesystem: `/etc/passwd` names repository `etc/passwd` under the served
            // directory.
            ("git-upload-pack '/etc/passwd'", Pull, "etc/passwd"),
        ] {
            assert_eq!(
                parse_ssh_command(command),
                Ok((action, repository.into())),
                "{command}"
            );
        }
        for bad in [
            "",
            "ls",
            "git-upload-archive 'alice/app.git'",
            "git-upload-pack '../etc/passwd'",
            "git-upload-pack 'alice/../../etc'",
            "git-upload-pack '/srv/git/alice/app.git'",
            "git-upload-pack '//alice/app.git'",
            "git-upload-pack 'alice/app.git' extra",
            "git-upload-pack 'alice/app.git'; rm -rf /",
            "git-upload-pack 'a/b/c.git'",
            "bash -c 'git-upload-pack alice/app'",
        ] {
            assert!(parse_ssh_command(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ssh_client_addresses() {
        let one = |c: &str| ssh_client_address(Some(c));
        assert_eq!(
            one("192.0.2.7 52311 10.0.0.1 22").as_deref(),
            Some("192.0.2.7")
        );
        assert_eq!(
            one("2001:db8::7 52311 2001:db8::1 22").as_deref(),
            Some("2001:db8::7")
        );
        assert_eq!(
            one("::ffff:192.0.2.7 1 ::1 22").as_deref(),
            Some("192.0.2.7")
        );
        for bad in [
            "",
            "192.0.2.7",
            "nonsense 1 2 3",
            "192.0.2.7  1 2 3",
            "1.2.3.4 1 2 3 4",
        ] {
            assert_eq!(one(bad), None, "{bad}");
        }
        assert_eq!(ssh_client_address(None), None);
    }

    #[test]
    fn key_types() {
        assert!(key_type_supported("sk-ssh-ed25519@openssh.com"));
        assert!(key_type_supported("ssh-ed25519"));
        assert!(!key_type_supported("ssh-ed25519-cert-v01@openssh.com"));
        assert!(!key_type_supported("x;rm"));
    }
}
