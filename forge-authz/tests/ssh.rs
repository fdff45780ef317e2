//! Real OpenSSH: a test `sshd` on a random loopback port configured with the README's
//! `sshd_config` lines verbatim (`docs/deploy/sshd_config`: `AuthorizedKeysCommand
//! forge-authz ssh-keys --user git ...`), and real `git clone`/`git push` over SSH as the
//! forge account `git` with user and deploy keys, every request decided by the policy
//! through `forge-authz git-shell`; a forge key offered for any other login is refused.
//!
//! Needs root (sshd's `AuthorizedKeysCommand` must be root-owned) and the account `git`:
//! when it does not exist the test creates it (`useradd --system`, shell `/bin/sh`, no
//! password) and removes it afterwards; an existing `git` account is used as it is.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

use forge_authz_testkit::deploy::{self, Daemon};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
const SSHD: &str = "/usr/sbin/sshd";

/// The forge account of the README's configuration.
const FORGE_USER: &str = "git";

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// One test at a time uses (and may create, then remove) the account `git`.
static ACCOUNT: Mutex<()> = Mutex::new(());

/// The account `git`, created for the test when it did not exist (and removed when done).
struct ForgeAccount {
    created: bool,
    _one_test: MutexGuard<'static, ()>,
}

impl ForgeAccount {
    fn get(home: &Path) -> ForgeAccount {
        let one_test = ACCOUNT
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let exists = run(Command::new("id").args(["-u", FORGE_USER]))
            .status
            .success();
        if !exists {
            // No password (`*`: not locked, so sshd without PAM accepts keys) and a real
            // shell: sshd runs the forced command through it.
            let o = run(Command::new("useradd")
                .args(["--system", "--shell", "/bin/sh", "--password", "*"])
                .arg("--home-dir")
                .arg(home)
                .arg("--no-create-home")
                .arg(FORGE_USER));
            assert!(o.status.success(), "useradd {FORGE_USER}: {}", stderr(&o));
        }
        ForgeAccount {
            created: !exists,
            _one_test: one_test,
        }
    }
}

impl Drop for ForgeAccount {
    fn drop(&mut self) {
        if self.created {
            let _ = Command::new("userdel")
                .arg(FORGE_USER)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

struct Sshd {
    dir: PathBuf,
    port: u16,
    daemon: Daemon,
    /// Declared last: dropped after sshd is gone (no session of the account left).
    _account: ForgeAccount,
}

impl Sshd {
    fn log(&self) -> String {
        self.daemon.log()
    }

    /// `git ARGS` in `dir` as the test's client (`HOME` is `home/`), with the key `key`.
    fn git(&self, dir: &Path, key: &str, args: &[&str]) -> Output {
        let home = self.dir.join("home");
        run(git(dir, &home, &self.dir.join(key), self.port).args(args))
    }
}

/// The command succeeded (its stderr shown if not).
fn ok(o: &Output) {
    assert!(o.status.success(), "{}", stderr(o));
}

/// The command failed, saying `reason` on stderr (`""`: whatever it says).
fn refused(o: &Output, reason: &str) {
    assert!(!o.status.success());
    assert!(stderr(o).contains(reason), "{}", stderr(o));
}

fn keygen(dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    let o = run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path));
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::read_to_string(path.with_extension("pub"))
        .unwrap()
        .trim()
        .to_string()
}

const SSH_OPTIONS: [&str; 10] = [
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
];

/// The test kit's isolated `git`, speaking SSH with `key` to the test sshd.
fn git(dir: &Path, home: &Path, key: &Path, port: u16) -> Command {
    let mut c = forge_authz_testkit::git::git(dir, home);
    c.env(
        "GIT_SSH_COMMAND",
        format!(
            "ssh -i {} -p {port} {}",
            key.display(),
            SSH_OPTIONS.join(" ")
        ),
    );
    c
}

/// `ssh -i KEY login@127.0.0.1 ARGS...` against the test sshd, stdin closed.
fn ssh(s: &Sshd, key: &str, login: &str, args: &[&str]) -> Output {
    run(Command::new("ssh")
        .arg("-i")
        .arg(s.dir.join(key))
        .args(["-p", &s.port.to_string()])
        .args(SSH_OPTIONS)
        .arg(format!("{login}@127.0.0.1"))
        .args(args)
        .stdin(Stdio::null()))
}

fn chown_forge(path: &Path) {
    let o = run(Command::new("chown")
        .arg("-R")
        .arg(format!("{FORGE_USER}:"))
        .arg(path));
    assert!(
        o.status.success(),
        "chown {}: {}",
        path.display(),
        stderr(&o)
    );
}

fn start() -> Sshd {
    // A missing sshd is a failure, never a silent pass (CI installs it in .ci/run).
    assert!(
        Path::new(SSHD).exists(),
        "{SSHD} is not installed: apt-get install openssh-server (or run `bash .ci/run`)"
    );
    let uid = run(Command::new("id").arg("-u"));
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "sshd's AuthorizedKeysCommand must be root-owned, and the test needs the account `git`: run as root"
    );
    // sshd refuses an AuthorizedKeysCommand below a group- or world-writable directory
    // (such as /tmp), and the account `git` must reach the binary and its data: the test
    // instance lives in a root-owned 0755 directory under /var/lib.
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = PathBuf::from(format!(
        "/var/lib/forge-authz-sshd-test-{}-{n}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        for d in [dir.clone(), dir.join("bin")] {
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    let git_home = dir.join("git-home");
    std::fs::create_dir_all(&git_home).unwrap();
    let account = ForgeAccount::get(&git_home);
    std::fs::create_dir_all("/run/sshd").unwrap();
    let bin = dir.join("bin").join("forge-authz");
    std::fs::copy(env!("CARGO_BIN_EXE_forge-authz"), &bin).unwrap();
    let alice = keygen(&dir, "alice_key");
    let ro = keygen(&dir, "deploy_ro");
    let rw = keygen(&dir, "deploy_rw");
    let _stranger = keygen(&dir, "stranger");
    let world = serde_json::json!({
        "keys": [{"id": "k1", "secret": "6b".repeat(32)}],
        "signing_key": "k1",
        "users": [
            {"name": "alice"}, {"name": "bob"},
            {"name": "far", "organization": true, "members": {"alice": "write"},
             "ip_allow": ["10.0.0.0/8"]},
            {"name": "near", "organization": true, "members": {"alice": "write"},
             "ip_allow": ["10.0.0.0/8", "127.0.0.0/8"]}
        ],
        "repositories": [
            {"owner": "alice", "name": "app"},
            {"owner": "alice", "name": "secret", "private": true},
            {"owner": "bob", "name": "other"},
            {"owner": "far", "name": "tools"},
            {"owner": "near", "name": "tools"}
        ],
        "ssh_keys": [
            {"id": "alice-laptop", "kind": "user", "owner": "alice", "public_key": alice},
            {"id": "app-ro", "kind": "deploy", "repository": "alice/app", "read_only": true, "public_key": ro},
            {"id": "app-rw", "kind": "deploy", "repository": "alice/app", "read_only": false, "public_key": rw}
        ]
    });
    // The forge's data belongs to the forge account, as in a deployment: the database
    // (read by `ssh-keys` as AuthorizedKeysCommandUser) and the repositories.
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(dir.join("world.json"), world.to_string()).unwrap();
    let db = data.join("forge.db");
    let o = run(Command::new(&bin)
        .args(["init-db", "--db"])
        .arg(&db)
        .arg("--world")
        .arg(dir.join("world.json")));
    assert!(o.status.success(), "{}", stderr(&o));
    let repos = data.join("repos");
    for (owner, name) in [
        ("alice", "app"),
        ("alice", "secret"),
        ("bob", "other"),
        ("far", "tools"),
        ("near", "tools"),
    ] {
        let bare = repos.join(owner).join(format!("{name}.git"));
        let work = dir.join(format!("seed-{owner}-{name}"));
        forge_authz_testkit::git::seed(&bare, &work, &dir, &[]);
    }
    chown_forge(&data);
    chown_forge(&git_home);
    let host_key = dir.join("host_key");
    assert!(
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&host_key))
        .status
        .success()
    );
    let port = deploy::free_port();
    // The README's lines, verbatim but for the three site-specific paths.
    let readme_lines = deploy::substitute(
        &deploy::quoted_config("sshd_config"),
        &[
            ("/usr/local/bin/forge-authz", bin.to_str().unwrap()),
            ("/var/lib/forge-authz/forge.db", db.to_str().unwrap()),
            ("/srv/git", repos.to_str().unwrap()),
        ],
    );
    // What a private test instance adds: its own port, host key and pid file; no PAM (no
    // system PAM stack in CI containers); root may log in with a key (Debian's default),
    // so only `ssh-keys --user` stands between a forge key and root. No `Match User`.
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {hk}\nPidFile {dir}/sshd.pid\n\
         AuthorizedKeysFile none\n\
         PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
         PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nLogLevel VERBOSE\n\
         {readme_lines}",
        hk = host_key.display(),
        dir = dir.display(),
    );
    std::fs::write(dir.join("sshd_config"), config).unwrap();
    let mut daemon = Daemon::start(
        "sshd",
        Command::new(SSHD)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(dir.join("sshd_config")),
        &dir.join("sshd.log"),
    )
    .owning(&dir);
    daemon.wait_listening(port);
    Sshd {
        dir,
        port,
        daemon,
        _account: account,
    }
}

#[test]
fn git_over_ssh_with_user_and_deploy_keys() {
    // issue 5 (SSH); reference §1.19 (deploy keys: one repository, read or write; user keys
    // act as the user).
    let s = start();
    let url = |repo: &str| format!("ssh://{FORGE_USER}@127.0.0.1:{}/{repo}.git", s.port);
    let home = s.dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let clone =
        |key: &str, repo: &str, into: &str| s.git(&home, key, &["clone", "-q", &url(repo), into]);
    let commit = |dir: &Path, key: &str, message: &str| {
        ok(&s.git(dir, key, &["commit", "-q", "--allow-empty", "-m", message]));
    };

    // A user key clones and pushes, private repositories included.
    ok(&clone("alice_key", "alice/app", "a"));
    let work = home.join("a");
    commit(&work, "alice_key", "x");
    ok(&s.git(&work, "alice_key", &["push", "origin", "HEAD:main"]));
    ok(&clone("alice_key", "alice/secret", "s"));

    // A read-only deploy key clones its repository but cannot push.
    ok(&clone("deploy_ro", "alice/app", "ro"));
    let ro = home.join("ro");
    commit(&ro, "deploy_ro", "y");
    let o = s.git(&ro, "deploy_ro", &["push", "origin", "HEAD:main"]);
    refused(&o, "deploy-key-read-only");

    // A read-write deploy key pushes to its repository, and is a stranger elsewhere.
    let deploy = ["push", &url("alice/app"), "HEAD:refs/heads/deploy"];
    ok(&s.git(&ro, "deploy_rw", &deploy));
    refused(
        &clone("deploy_rw", "bob/other", "other"),
        "repository-not-found",
    );

    // An unknown key never gets in; a known key gets no shell and no path tricks.
    refused(&clone("stranger", "alice/app", "x"), "");
    for cmd in [
        vec!["ls", "/"],
        vec!["git-upload-pack", "'../../etc'"],
        vec!["git-upload-pack", "'/srv/x/y.git'"],
        vec!["git-upload-pack", "'alice/app.git'", "extra"],
        vec!["git-upload-archive", "'alice/app.git'"],
    ] {
        let o = ssh(&s, "alice_key", FORGE_USER, &cmd);
        assert!(!o.status.success(), "{cmd:?} must be refused");
        assert!(
            stderr(&o).contains("forge-authz:"),
            "{cmd:?}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn issue23_ip_allow_lists_apply_over_ssh_with_the_address_sshd_reports() {
    // issue 23 item 3; GitLab, "Restrict group access by IP address" (the restriction
    // applies to git over SSH too): git-shell takes the client address from sshd's
    // SSH_CONNECTION. This client is 127.0.0.1: outside `far`'s list, inside `near`'s.
    let s = start();
    let home = s.dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let url = |repo: &str| format!("ssh://{FORGE_USER}@127.0.0.1:{}/{repo}.git", s.port);
    let o = s.git(&home, "alice_key", &["ls-remote", &url("near/tools")]);
    assert!(
        o.status.success() && String::from_utf8_lossy(&o.stdout).contains("refs/heads/main"),
        "inside the list: {}\n{}",
        stderr(&o),
        s.log()
    );
    let o = s.git(&home, "alice_key", &["ls-remote", &url("far/tools")]);
    refused(&o, "ip-not-allowed");
    // A client cannot name another address: an SSH_CONNECTION it sends (SendEnv) is not
    // what git-shell reads (sshd sets its own for the forced command).
    let o = run(Command::new("ssh")
        .arg("-i")
        .arg(s.dir.join("alice_key"))
        .args(["-p", &s.port.to_string()])
        .args(SSH_OPTIONS)
        .args(["-o", "SendEnv=SSH_CONNECTION"])
        .arg(format!("{FORGE_USER}@127.0.0.1"))
        .arg("git-upload-pack 'far/tools.git'")
        .env("SSH_CONNECTION", "10.1.2.3 4711 10.0.0.1 22")
        .stdin(Stdio::null()));
    refused(&o, "ip-not-allowed");
}

#[test]
fn issue20_item1_forge_key_logs_in_as_the_forge_account_only_never_root_or_another_user() {
    // issue 20 item 1: with the README's sshd lines (no `Match User`), alice's forge key
    // logs in as `git` (git-shell serves alice/app) and is refused, before any shell or
    // git runs, as root, as another existing local account (`nobody`) and as a login that
    // does not exist; sshd never logs "Accepted publickey" for them.
    let s = start();
    let home = s.dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let url = |login: &str| format!("ssh://{login}@127.0.0.1:{}/alice/app.git", s.port);

    let o = s.git(&home, "alice_key", &["ls-remote", &url(FORGE_USER)]);
    assert!(
        o.status.success() && String::from_utf8_lossy(&o.stdout).contains("refs/heads/main"),
        "the forge key as `git`: {}",
        stderr(&o)
    );

    for login in ["root", "nobody", "forge-authz-no-such-user"] {
        let o = ssh(&s, "alice_key", login, &["id"]);
        assert!(
            !o.status.success() && stderr(&o).contains("Permission denied"),
            "alice's forge key as {login}: exit {:?}, stdout {:?}, stderr {:?}",
            o.status.code(),
            String::from_utf8_lossy(&o.stdout),
            stderr(&o)
        );
        assert!(
            !String::from_utf8_lossy(&o.stdout).contains("uid="),
            "a shell ran as {login}"
        );
        let o = s.git(&home, "alice_key", &["ls-remote", &url(login)]);
        assert!(
            !o.status.success() && !String::from_utf8_lossy(&o.stdout).contains("refs/heads"),
            "git as {login} with alice's forge key: {}",
            stderr(&o)
        );
        // The deploy keys too.
        let o = ssh(
            &s,
            "deploy_rw",
            login,
            &["git-upload-pack", "'alice/app.git'"],
        );
        assert!(
            !o.status.success() && stderr(&o).contains("Permission denied"),
            "a deploy key as {login}: {}",
            stderr(&o)
        );
    }
    let log = s.log();
    for login in ["root", "nobody", "forge-authz-no-such-user"] {
        assert!(
            !log.contains(&format!("Accepted publickey for {login} ")),
            "sshd accepted a forge key for {login}:\n{log}"
        );
    }
    assert!(
        log.contains(&format!("Accepted publickey for {FORGE_USER} ")),
        "the forge account's logins are not in sshd's log (is the log level VERBOSE?):\n{log}"
    );

    // The command itself, as sshd runs it: a key line for `git` only; for other logins
    // exit 0 and no output (sshd then tries nothing else).
    let bin = s.dir.join("bin").join("forge-authz");
    let alice = std::fs::read_to_string(s.dir.join("alice_key.pub")).unwrap();
    let mut parts = alice.split_whitespace();
    let (kind, blob) = (parts.next().unwrap(), parts.next().unwrap());
    let db = s.dir.join("data").join("forge.db");
    let repos = s.dir.join("data").join("repos");
    let ssh_keys = |user: &[&str], login: &str| {
        run(Command::new(&bin)
            .arg("ssh-keys")
            .args(user)
            .arg("--db")
            .arg(&db)
            .arg("--repos")
            .arg(&repos)
            .args([login, kind, blob]))
    };
    for (login, printed) in [
        (FORGE_USER, true),
        ("root", false),
        ("nobody", false),
        ("Git", false),
        ("git ", false),
        ("", false),
    ] {
        let o = ssh_keys(&["--user", FORGE_USER], login);
        assert!(o.status.success(), "ssh-keys for {login:?}: {}", stderr(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(
            out.contains(blob),
            printed,
            "ssh-keys for login {login:?} printed {out:?}"
        );
        if !printed {
            assert!(out.is_empty(), "ssh-keys for {login:?} printed {out:?}");
        }
    }
    // `--user` is required: without it the command refuses to run (sshd: no key).
    let o = ssh_keys(&[], FORGE_USER);
    assert!(
        !o.status.success() && o.stdout.is_empty(),
        "ssh-keys without --user: {}",
        stderr(&o)
    );
}
