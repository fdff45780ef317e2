//! The hostile-client harness shared by `hostile/`, `hostile_processes.rs`, `git.rs`,
//! `connections.rs` and the deployment tests (through `proxied.rs`): bounded child processes
//! (killed with their process group), a forge on disk (database, bare repositories, tokens),
//! real `forge-authz serve` processes on loopback, and raw HTTP over std sockets, every read
//! and write with a timeout. Use it with `#[path = "support/forge.rs"] mod forge;`.
// Tests: a broken expectation is a panic that says what broke.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;

#[path = "signing.rs"]
pub mod signing;
pub use forge_authz_testkit::http::*;
pub use forge_authz_testkit::process::*;

// ---------------------------------------------------------------------------------------
// The program under test (bounded processes and raw HTTP are the test kit's: `process`,
// `http`, re-exported above).
// ---------------------------------------------------------------------------------------

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_forge-authz"))
}

pub fn cli(args: &[&str]) -> Output {
    run_for(Command::new(bin()).args(args), secs(120))
}

// ---------------------------------------------------------------------------------------
// A forge on disk (database, bare repositories) and servers started on it.
// ---------------------------------------------------------------------------------------

pub static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A branch of the private repository whose name must never reach an unauthorised client.
pub const SECRET_BRANCH: &str = "canary-never-leaks-5e1f";

pub fn default_world() -> serde_json::Value {
    serde_json::json!({
        "keys": [{"id": "k1", "secret": "5a".repeat(32)}],
        "signing_key": "k1",
        "users": [{"name": "alice"}, {"name": "bob"}, {"name": "carol"}],
        "repositories": [
            {"owner": "alice", "name": "app", "collaborators": {"carol": "write"},
             "protected_refs": [{"pattern": "main", "push": "admins", "force_push": "nobody"}]},
            {"owner": "alice", "name": "secret", "private": true},
            {"owner": "alice", "name": "big"},
            {"owner": "bob", "name": "pub"}
        ]
    })
}

pub fn git(dir: &Path, home: &Path) -> Command {
    let mut c = forge_authz_testkit::git::git(dir, home);
    // A stalled transfer fails the client within 30 s instead of hanging the test.
    c.args([
        "-c",
        "http.lowSpeedLimit=1000",
        "-c",
        "http.lowSpeedTime=30",
    ]);
    c
}

pub fn git_ok(dir: &Path, home: &Path, args: &[&str]) -> String {
    forge_authz_testkit::git::succeeds(git(dir, home), args)
}

/// Deterministic pseudo-random bytes (incompressible content for big repositories).
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

pub fn nonce() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    u64::try_from(t % u128::from(u64::MAX)).unwrap() ^ u64::from(std::process::id())
}

/// `token create --db DB --owner OWNER --name NAME --scope SCOPES EXTRA...`: the secret.
pub fn create_token(db: &str, owner: &str, name: &str, scopes: &str, extra: &[&str]) -> String {
    let create = [
        "token", "create", "--db", db, "--owner", owner, "--name", name,
    ];
    let o = cli(&[&create[..], &["--scope", scopes], extra].concat());
    assert!(o.status.success(), "token create: {}", both(&o));
    text(&o.stdout).trim().to_string()
}

pub fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

pub struct Setup {
    pub dir: PathBuf,
    pub db: PathBuf,
    pub repos: PathBuf,
    pub home: PathBuf,
    /// TMPDIR of the servers: their default state directories land here.
    pub tmp: PathBuf,
    /// The private repository's head (must never reach an unauthorised client).
    pub secret_sha: String,
}

impl Drop for Setup {
    fn drop(&mut self) {
        // A process that just died may still have files appearing: retry a few times.
        for _ in 0..5 {
            if std::fs::remove_dir_all(&self.dir).is_ok() || !self.dir.exists() {
                return;
            }
            std::thread::sleep(ms(100));
        }
    }
}

impl Setup {
    pub fn new(name: &str) -> Setup {
        Setup::with_world(
            name,
            &default_world(),
            &[("alice", "app"), ("alice", "secret"), ("bob", "pub")],
        )
    }

    pub fn with_world(name: &str, world: &serde_json::Value, seeds: &[(&str, &str)]) -> Setup {
        // Short: the servers' Unix sockets live below it (TMPDIR), and a socket path has
        // at most 107 bytes.
        let dir = forge_authz_testkit::scratch("fzh");
        let home = dir.join("home");
        let tmp = dir.join("t");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::write(dir.join("TEST"), name).unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o700)).unwrap();
        let world_file = dir.join("world.json");
        std::fs::write(&world_file, world.to_string()).unwrap();
        let db = dir.join("forge.db");
        let o = cli(&[
            "init-db",
            "--db",
            db.to_str().unwrap(),
            "--world",
            world_file.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "init-db: {}", both(&o));
        let mut s = Setup {
            repos: dir.join("repos"),
            dir,
            db,
            home,
            tmp,
            secret_sha: String::new(),
        };
        for (owner, name) in seeds {
            let content = format!("{owner}/{name} {}\n", nonce()).into_bytes();
            let sha = s.seed(owner, name, &[("README".into(), content)]);
            if *name == "secret" {
                let bare = s.repos.join(owner).join("secret.git");
                git_ok(&bare, &s.home, &["branch", SECRET_BRANCH, "main"]);
                s.secret_sha = sha;
            }
        }
        s
    }

    /// A bare repository `repos/owner/name.git` with one commit of `files` on `main`;
    /// returns the commit.
    pub fn seed(&self, owner: &str, name: &str, files: &[(String, Vec<u8>)]) -> String {
        let bare = self.repos.join(owner).join(format!("{name}.git"));
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let work = self.dir.join(format!("seed-{n}"));
        forge_authz_testkit::git::seed(&bare, &work, &self.home, files)
    }

    /// A public repository with `mib` MiB of incompressible blobs; returns its head.
    pub fn seed_big(&self, owner: &str, name: &str, mib: usize) -> String {
        let seed = nonce();
        let files: Vec<(String, Vec<u8>)> = (0..mib)
            .map(|i| {
                (
                    format!("blob-{i}.bin"),
                    noise(seed.wrapping_add(i as u64), 1 << 20),
                )
            })
            .collect();
        self.seed(owner, name, &files)
    }

    pub fn token(&self, owner: &str, name: &str, scopes: &str) -> String {
        create_token(self.db.to_str().unwrap(), owner, name, scopes, &[])
    }

    pub fn url(port: u16, cred: Option<(&str, &str)>, repo: &str) -> String {
        match cred {
            None => format!("http://127.0.0.1:{port}/{repo}.git"),
            Some((u, p)) => format!("http://{u}:{p}@127.0.0.1:{port}/{repo}.git"),
        }
    }

    pub fn git(&self, dir: &Path) -> Command {
        git(dir, &self.home)
    }

    /// `serve` with this forge's database and repositories, on an ephemeral loopback port.
    pub fn spawn_server(&self, args: &[&str]) -> (Child, PathBuf, PathBuf) {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let port_file = self.dir.join(format!("port-{n}"));
        let log_path = self.dir.join(format!("server-{n}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let child = signing::trusting(&mut Command::new(bin()))
            .args(["serve", "--db", self.db.to_str().unwrap()])
            .args(["--repos", self.repos.to_str().unwrap()])
            .args(["--listen", "127.0.0.1:0"])
            .args(["--port-file", port_file.to_str().unwrap()])
            .args(args)
            .env("TMPDIR", &self.tmp)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        (child, port_file, log_path)
    }

    pub fn serve(&self, args: &[&str]) -> Server {
        let (mut child, port_file, log) = self.spawn_server(args);
        let start = Instant::now();
        let port = loop {
            if let Ok(p) = std::fs::read_to_string(&port_file)
                && let Ok(p) = p.trim().parse()
            {
                break p;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "serve {args:?} exited ({status}) before listening:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            if start.elapsed() > secs(90) {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "serve {args:?} did not listen within 90 s:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::thread::sleep(ms(20));
        };
        Server {
            child,
            port,
            log,
            exited: None,
        }
    }

    /// `serve` must refuse to start: returns its exit status and log. A server that
    /// listens and keeps running is killed and the test fails.
    pub fn refused_start(&self, args: &[&str], why: &str) -> (ExitStatus, String) {
        let (mut child, port_file, log) = self.spawn_server(args);
        let start = Instant::now();
        let mut listening_since: Option<Instant> = None;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return (status, std::fs::read_to_string(&log).unwrap_or_default());
            }
            if listening_since.is_none() && port_file.exists() {
                listening_since = Some(Instant::now());
            }
            let started = listening_since.is_some_and(|t| t.elapsed() > secs(3));
            if started || start.elapsed() > secs(60) {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "serve {args:?} {} although {why}:\n{}",
                    if started {
                        "started and kept serving"
                    } else {
                        "neither started nor exited within 60 s"
                    },
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::thread::sleep(ms(20));
        }
    }

    pub fn ls_remote(&self, port: u16, cred: Option<(&str, &str)>, repo: &str) -> Output {
        run_for(
            self.git(&self.home)
                .args(["ls-remote", &Setup::url(port, cred, repo)]),
            secs(60),
        )
    }

    pub fn clone_into(
        &self,
        port: u16,
        cred: Option<(&str, &str)>,
        repo: &str,
        into: &str,
    ) -> Output {
        run_for(
            self.git(&self.home)
                .args(["clone", "-q", &Setup::url(port, cred, repo), into]),
            secs(120),
        )
    }

    /// The server is alive and answers a normal anonymous `git ls-remote` of a public
    /// repository.
    pub fn assert_serves(&self, srv: &Server, when: &str) {
        assert!(srv.alive(), "the server died {when}:\n{}", srv.log());
        let o = self.ls_remote(srv.port, None, "alice/app");
        assert!(
            o.status.success() && text(&o.stdout).contains("refs/heads/main"),
            "anonymous ls-remote of a public repository failed {when}: {}\nserver log:\n{}",
            both(&o),
            srv.log()
        );
    }

    /// A normal anonymous `git clone` of a public repository succeeds.
    pub fn assert_clones(&self, srv: &Server, when: &str) {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let into = format!("clone-{n}");
        let o = self.clone_into(srv.port, None, "alice/app", &into);
        assert!(
            o.status.success(),
            "anonymous clone of a public repository failed {when}: {}\nserver log:\n{}",
            both(&o),
            srv.log()
        );
        assert!(self.home.join(&into).join("README").exists());
        let _ = std::fs::remove_dir_all(self.home.join(&into));
    }
}

pub struct Server {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
    pub exited: Option<ExitStatus>,
}

impl Drop for Server {
    fn drop(&mut self) {
        // The server's own children (git http-backend and the like) go with it.
        let below = descendants(self.pid());
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in below {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        if std::thread::panicking() {
            eprintln!("server log ({}):\n{}", self.log.display(), self.log());
        }
    }
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Running (not exited, not a zombie waiting for us).
    pub fn alive(&self) -> bool {
        self.exited.is_none() && proc_state(self.pid()).is_some_and(|s| s != 'Z' && s != 'X')
    }

    pub fn log(&self) -> String {
        text(&std::fs::read(&self.log).unwrap_or_default())
    }

    /// The log once it mentions `marker` (at most 10 s): see [`settled_log`].
    pub fn settled_log(&self, marker: &str) -> String {
        settled_log(|| self.log(), |log| log.contains(marker))
    }

    pub fn signal(&self, sig: &str) {
        let o = run_for(
            Command::new("kill").args(["-s", sig, &self.pid().to_string()]),
            secs(10),
        );
        assert!(o.status.success(), "kill -s {sig}: {}", both(&o));
    }

    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(s) = self.child.try_wait().unwrap() {
                self.exited = Some(s);
                return Some(s);
            }
            std::thread::sleep(ms(20));
        }
        None
    }
}

/// `forge-authz status --admin-socket S`: the module generation.
/// The log `read` returns once `done` holds for it, or after 10 s (the caller's assertions
/// then say what is missing). `serve` writes the records of answered requests (`request`,
/// `ref`, `git`) up to 10 ms after the answer (`--log-flush buffered`, issue 24): a test
/// that reads them after a response waits for them.
pub fn settled_log(read: impl Fn() -> String, done: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let log = read();
        if done(&log) || start.elapsed() > secs(10) {
            return log;
        }
        std::thread::sleep(ms(20));
    }
}

pub fn generation(admin: &Path) -> u64 {
    let o = cli(&["status", "--admin-socket", admin.to_str().unwrap()]);
    assert!(o.status.success(), "status: {}", both(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("status is not JSON ({e}): {}", both(&o)));
    v["generation"]
        .as_u64()
        .unwrap_or_else(|| panic!("status has no generation: {v}"))
}

/// The policy module this binary embeds, as a file signed by the trusted test signer
/// (version 1; `PATH.minisig`).
pub fn module_file(path: &Path) {
    let bytes = forge_authz_host::policy::EMBEDDED_POLICY;
    assert!(
        !bytes.is_empty(),
        "the binary embeds no policy (FORGE_AUTHZ_SKIP_GUEST_BUILD?)"
    );
    signing::signer().write_signed(path, bytes, 1);
}

/// A git protocol-v0 fetch request body: want `sha`, done.
pub fn want_body(sha: &str) -> Vec<u8> {
    format!("0032want {sha}\n00000009done\n").into_bytes()
}

/// An anonymous `info/refs` of `repo` (`OWNER/NAME`: a clone's first request) to the
/// server on `port`: its answer.
pub fn info_refs(port: u16, repo: &str) -> Reply {
    let path = format!("/{repo}.git/info/refs?service=git-upload-pack");
    http(port, "GET", &path, &[], b"")
}

pub fn is_4xx(s: Option<u16>) -> bool {
    s.is_some_and(|c| (400..500).contains(&c))
}

pub fn is_2xx(s: Option<u16>) -> bool {
    s.is_some_and(|c| (200..300).contains(&c))
}

/// Did an answer reveal the repository whose head is `sha` (or the canary branch)? A request
/// that itself names `sha` (a `want`) may see it echoed in git's "not our ref" error: then
/// only a pack or the branch name counts.
pub fn leaked(answer: &str, request: &[u8], sha: &str) -> bool {
    if answer.contains(SECRET_BRANCH) {
        return true;
    }
    if find(request, sha.as_bytes()).is_some() {
        answer.contains("PACK")
    } else {
        answer.contains(sha)
    }
}

/// The parts of a token that are secret (everything after its public id).
pub fn secret_parts(token: &str) -> Vec<String> {
    let mut parts = vec![token.to_string()];
    let segs: Vec<&str> = token.split('.').collect();
    if let Some(body) = segs.get(1)
        && body.len() > 24
    {
        parts.push(body[16..].to_string());
    }
    if let Some(mac) = segs.get(2)
        && mac.len() >= 16
    {
        parts.push((*mac).to_string());
    }
    parts
}
