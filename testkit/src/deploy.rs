//! The deployment configurations the README shows (`docs/deploy/*`), as test inputs: each
//! file must appear in README.md verbatim, inside a fenced block, and a test replaces only
//! the site-specific values the file's own header names (ports and paths). Also the real
//! daemons those configurations run with (nginx, Caddy, fcgiwrap), each started in a
//! process group of its own and killed with it.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace root.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `docs/deploy/<name>`, after checking that README.md quotes it whole: the fenced block
/// that holds it holds exactly the file (a README edited without the file, or the other
/// way round, fails here).
pub fn quoted_config(name: &str) -> String {
    let path = workspace().join("docs").join("deploy").join(name);
    let config =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(config.ends_with('\n'), "{name} must end with a newline");
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let mut in_fence = false;
    let mut block = String::new();
    let mut blocks = Vec::new();
    for line in readme.split_inclusive('\n') {
        if line.trim_start().starts_with("```") {
            if in_fence {
                blocks.push(std::mem::take(&mut block));
            }
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            block.push_str(line);
        }
    }
    assert!(
        blocks.contains(&config),
        "README.md does not quote docs/deploy/{name} verbatim in a fenced block: copy the file into the README (or the README's block into the file)"
    );
    config
}

/// Replace each site-specific value by the test's own; every value must occur (a renamed
/// placeholder fails loudly instead of leaving the README's path in the test's config).
pub fn substitute(config: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = config.to_string();
    for (from, to) in pairs {
        assert!(
            out.contains(from),
            "the configuration no longer holds `{from}`:\n{out}"
        );
        out = out.replace(from, to);
    }
    out
}

/// A program the deployment tests need, or `None` when it is missing and
/// `FORGE_AUTHZ_SKIP_DEPLOY=1` says to skip them (printing `SKIPPED: <test>: ...` on
/// stderr). Missing without that variable, the test fails: a test that cannot run is
/// never a pass (CI installs them: `.ci/run`).
pub fn tool(test: &str, path: &str, package: &str) -> Option<PathBuf> {
    let p = PathBuf::from(path);
    if p.exists() {
        return Some(p);
    }
    missing(
        test,
        path,
        &format!("{path} is not installed: apt-get install {package} (or run `bash .ci/run`)"),
    )
}

/// A program a test needs is missing: `None` (the test skips, saying so on stderr) when
/// `FORGE_AUTHZ_SKIP_DEPLOY=1`, else the test fails with `how` to install it.
fn missing(test: &str, what: &str, how: &str) -> Option<PathBuf> {
    if std::env::var_os("FORGE_AUTHZ_SKIP_DEPLOY").is_some_and(|v| v == "1") {
        // Straight to the process's stderr: libtest captures only print!/eprint!.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr().lock(),
            "SKIPPED: {test}: {what} is not installed (FORGE_AUTHZ_SKIP_DEPLOY=1)"
        );
        return None;
    }
    panic!("{how}; set FORGE_AUTHZ_SKIP_DEPLOY=1 to skip the deployment tests knowingly");
}

/// A free loopback port (bound and released: the daemon binds it right after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A daemon started by a test: its own process group (workers, CGI children), its
/// output in a log file; the whole group is killed and the leader reaped when dropped.
pub struct Daemon {
    pub name: String,
    pub child: Child,
    pub log: PathBuf,
    /// Killed and reaped already ([`Daemon::stop`]): its process group id may be reused.
    stopped: bool,
    /// The test's scratch directory, removed with the daemon ([`Daemon::owning`]).
    scratch: Option<PathBuf>,
}

impl Daemon {
    /// Start `cmd` (stdin closed, stdout and stderr to `log`).
    pub fn start(name: &str, cmd: &mut Command, log: &Path) -> Daemon {
        let out = std::fs::File::create(log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Daemon {
            name: name.to_string(),
            child,
            log: log.to_path_buf(),
            stopped: false,
            scratch: None,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `ready` holds, at most `limit`; fails with the daemon's log if it exits
    /// or the time runs out.
    pub fn wait_until(&mut self, what: &str, limit: Duration, ready: impl Fn() -> bool) {
        let start = Instant::now();
        while !ready() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited ({status}) before {what}:\n{}",
                    self.name,
                    self.log()
                );
            }
            assert!(
                start.elapsed() < limit,
                "{} not {what} within {limit:?}:\n{}",
                self.name,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until something accepts connections on `port`.
    pub fn wait_listening(&mut self, port: u16) {
        self.wait_until("listening", Duration::from_secs(30), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }

    /// Waits until the daemon has written its port to `file` (as `serve --port-file`
    /// does once it listens), at most 60 s.
    pub fn wait_port_file(&mut self, file: &Path) -> u16 {
        let port = || std::fs::read_to_string(file).ok()?.trim().parse().ok();
        self.wait_until("listening", Duration::from_secs(60), || port().is_some());
        port().unwrap()
    }

    /// The daemon takes the test's scratch directory `dir` with it: removed when the daemon
    /// is dropped after the test passed (a failing test keeps it to look at).
    pub fn owning(mut self, dir: &Path) -> Daemon {
        self.scratch = Some(dir.to_path_buf());
        self
    }

    /// Kills the whole process group and reaps the leader (once; dropping does it too).
    pub fn stop(&mut self) {
        if std::mem::replace(&mut self.stopped, true) {
            return;
        }
        let pgid = self.child.id();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!(
                "{} log ({}):\n{}",
                self.name,
                self.log.display(),
                self.log()
            );
        } else if let Some(dir) = &self.scratch {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// `fcgiwrap` listening on a Unix socket in `dir` (mode 0666 once it exists: nginx's
/// workers run as another user). Returns the daemon and the socket's path.
pub fn fcgiwrap(bin: &Path, dir: &Path) -> (Daemon, PathBuf) {
    use std::os::unix::fs::PermissionsExt as _;
    let socket = dir.join("fcgiwrap.sock");
    let mut d = Daemon::start(
        "fcgiwrap",
        Command::new(bin)
            .arg("-s")
            .arg(format!("unix:{}", socket.display()))
            // Children that outlive a request are still this group's: killed with it.
            .arg("-c")
            .arg("4"),
        &dir.join("fcgiwrap.log"),
    );
    d.wait_until("listening", Duration::from_secs(30), || socket.exists());
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    (d, socket)
}

/// The `git http-backend` of the git on PATH (what `serve` runs, too).
pub fn http_backend() -> PathBuf {
    let o = Command::new("git").arg("--exec-path").output().unwrap();
    assert!(o.status.success());
    PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()).join("git-http-backend")
}

/// A program found by the environment variable `var` (a path) or as `name` on `PATH`;
/// missing, as [`tool`]: `None` with `FORGE_AUTHZ_SKIP_DEPLOY=1`, else the test fails.
pub fn tool_on_path(test: &str, var: &str, name: &str, install: &str) -> Option<PathBuf> {
    let found = std::env::var_os(var)
        .map(PathBuf::from)
        .or_else(|| {
            std::env::split_paths(&std::env::var_os("PATH")?)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
        .filter(|p| p.exists());
    if found.is_some() {
        return found;
    }
    missing(
        test,
        name,
        &format!("{name} is not installed: {install}, or set {var} (or run `bash .ci/run`)"),
    )
}
