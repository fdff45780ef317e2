//! Real OpenSSH: a test `sshd` on a random loopback port whose `AuthorizedKeysCommand` is
//! `forge-authz ssh-keys`, and real `git clone`/`git push` over SSH with user and deploy
//! keys, every request decided by the policy through `forge-authz git-shell`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

struct Sshd {
    dir: PathBuf,
    port: u16,
    child: Child,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "sshd log:\n{}",
                std::fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn git(dir: &Path, home: &Path, key: &Path, port: u16) -> Command {
    let mut c = Command::new("git");
    c.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env(
            "GIT_SSH_COMMAND",
            format!(
                "ssh -i {} -p {port} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
                key.display()
            ),
        )
        .args(["-c", "user.name=t", "-c", "user.email=t@example.test", "-c", "init.defaultBranch=main"]);
    c
}

fn start() -> Sshd {
    // A missing sshd is a failure, never a silent pass (CI installs it in .ci/run).
    assert!(
        Path::new(SSHD).exists(),
        "{SSHD} is not installed: apt-get install openssh-server (or run `bash .ci/run`)"
    );
    let uid = run(Command::new("id").arg("-u"));
    let user = String::from_utf8(run(Command::new("id").arg("-un")).stdout)
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "sshd's AuthorizedKeysCommand must be root-owned: run as root"
    );
    // sshd refuses an AuthorizedKeysCommand below a group- or world-writable directory
    // (such as /tmp): the test instance lives under $HOME.
    let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()));
    let dir = home.join(format!(".forge-authz-sshd-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::create_dir_all("/run/sshd").unwrap();
    let bin = dir.join("forge-authz");
    std::fs::copy(env!("CARGO_BIN_EXE_forge-authz"), &bin).unwrap();
    let alice = keygen(&dir, "alice_key");
    let ro = keygen(&dir, "deploy_ro");
    let rw = keygen(&dir, "deploy_rw");
    let _stranger = keygen(&dir, "stranger");
    let world = serde_json::json!({
        "keys": [{"id": "k1", "secret": "6b".repeat(32)}],
        "signing_key": "k1",
        "users": [{"name": "alice"}, {"name": "bob"}],
        "repositories": [
            {"owner": "alice", "name": "app"},
            {"owner": "alice", "name": "secret", "private": true},
            {"owner": "bob", "name": "other"}
        ],
        "ssh_keys": [
            {"id": "alice-laptop", "kind": "user", "owner": "alice", "public_key": alice},
            {"id": "app-ro", "kind": "deploy", "repository": "alice/app", "read_only": true, "public_key": ro},
            {"id": "app-rw", "kind": "deploy", "repository": "alice/app", "read_only": false, "public_key": rw}
        ]
    });
    std::fs::write(dir.join("world.json"), world.to_string()).unwrap();
    let db = dir.join("forge.db");
    let o = run(Command::new(&bin)
        .args(["init-db", "--db"])
        .arg(&db)
        .arg("--world")
        .arg(dir.join("world.json")));
    assert!(o.status.success(), "{}", stderr(&o));
    let repos = dir.join("repos");
    for (owner, name) in [("alice", "app"), ("alice", "secret"), ("bob", "other")] {
        let bare = repos.join(owner).join(format!("{name}.git"));
        std::fs::create_dir_all(&bare).unwrap();
        assert!(
            run(Command::new("git")
                .args(["init", "-q", "--bare", "-b", "main"])
                .arg(&bare))
            .status
            .success()
        );
        let work = dir.join(format!("seed-{owner}-{name}"));
        assert!(
            run(Command::new("git")
                .args(["init", "-q", "-b", "main"])
                .arg(&work))
            .status
            .success()
        );
        assert!(
            run(Command::new("git").current_dir(&work).args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                "init"
            ]))
            .status
            .success()
        );
        assert!(
            run(Command::new("git")
                .current_dir(&work)
                .arg("push")
                .arg("-q")
                .arg(&bare)
                .arg("HEAD:refs/heads/main"))
            .status
            .success()
        );
    }
    let host_key = dir.join("host_key");
    assert!(
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&host_key))
        .status
        .success()
    );
    let port = free_port();
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {hk}\nPidFile {dir}/sshd.pid\n\
         AuthorizedKeysFile none\n\
         AuthorizedKeysCommand {bin} ssh-keys --db {db} --repos {repos} %u %t %k\n\
         AuthorizedKeysCommandUser {user}\n\
         PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
         PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nLogLevel VERBOSE\n",
        hk = host_key.display(),
        dir = dir.display(),
        bin = bin.display(),
        db = db.display(),
        repos = repos.display(),
    );
    std::fs::write(dir.join("sshd_config"), config).unwrap();
    let log = std::fs::File::create(dir.join("sshd.log")).unwrap();
    let child = Command::new(SSHD)
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(dir.join("sshd_config"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "sshd did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Sshd { dir, port, child }
}

#[test]
fn git_over_ssh_with_user_and_deploy_keys() {
    // issue 5 (SSH); reference §1.19 (deploy keys: one repository, read or write; user keys
    // act as the user).
    let s = start();
    let user = String::from_utf8(run(Command::new("id").arg("-un")).stdout)
        .unwrap()
        .trim()
        .to_string();
    let url = |repo: &str| format!("ssh://{user}@127.0.0.1:{}/{repo}.git", s.port);
    let home = s.dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let key = |k: &str| s.dir.join(k);

    // A user key clones and pushes, private repositories included.
    let o = run(git(&home, &home, &key("alice_key"), s.port).args([
        "clone",
        "-q",
        &url("alice/app"),
        "a",
    ]));
    assert!(o.status.success(), "{}", stderr(&o));
    let work = home.join("a");
    assert!(
        run(git(&work, &home, &key("alice_key"), s.port).args([
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x"
        ]))
        .status
        .success()
    );
    let o = run(git(&work, &home, &key("alice_key"), s.port).args(["push", "origin", "HEAD:main"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(git(&home, &home, &key("alice_key"), s.port).args([
        "clone",
        "-q",
        &url("alice/secret"),
        "s",
    ]));
    assert!(o.status.success(), "{}", stderr(&o));

    // A read-only deploy key clones its repository but cannot push.
    let o = run(git(&home, &home, &key("deploy_ro"), s.port).args([
        "clone",
        "-q",
        &url("alice/app"),
        "ro",
    ]));
    assert!(o.status.success(), "{}", stderr(&o));
    let ro = home.join("ro");
    assert!(
        run(git(&ro, &home, &key("deploy_ro"), s.port).args([
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "y"
        ]))
        .status
        .success()
    );
    let o = run(git(&ro, &home, &key("deploy_ro"), s.port).args(["push", "origin", "HEAD:main"]));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("deploy-key-read-only"),
        "{}",
        stderr(&o)
    );

    // A read-write deploy key pushes to its repository, and is a stranger elsewhere.
    let o = run(git(&ro, &home, &key("deploy_rw"), s.port).args([
        "push",
        &url("alice/app"),
        "HEAD:refs/heads/deploy",
    ]));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(git(&home, &home, &key("deploy_rw"), s.port).args([
        "clone",
        "-q",
        &url("bob/other"),
        "other",
    ]));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("repository-not-found"),
        "{}",
        stderr(&o)
    );

    // An unknown key never gets in; a known key gets no shell and no path tricks.
    let o = run(git(&home, &home, &key("stranger"), s.port).args([
        "clone",
        "-q",
        &url("alice/app"),
        "x",
    ]));
    assert!(!o.status.success());
    let ssh = |args: &[&str]| {
        run(Command::new("ssh")
            .args([
                "-i",
                key("alice_key").to_str().unwrap(),
                "-p",
                &s.port.to_string(),
            ])
            .args([
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
            ])
            .arg(format!("{user}@127.0.0.1"))
            .args(args)
            .stdin(Stdio::null()))
    };
    for cmd in [
        vec!["ls", "/"],
        vec!["git-upload-pack", "'../../etc'"],
        vec!["git-upload-pack", "'/srv/x/y.git'"],
        vec!["git-upload-pack", "'alice/app.git'", "extra"],
        vec!["git-upload-archive", "'alice/app.git'"],
    ] {
        let o = ssh(&cmd);
        assert!(!o.status.success(), "{cmd:?} must be refused");
        assert!(
            stderr(&o).contains("forge-authz:"),
            "{cmd:?}: {}",
            stderr(&o)
        );
    }
}
