//! A real PostgreSQL server for integration tests, started (and stopped) by the tests.
//!
//! Use it from a test (`use forge_authz_testkit::pg;`), then per test:
//!
//! ```ignore
//! let Some(server) = pg::shared_or_skip("my_test") else { return };
//! let url = server.fresh_database("my_test"); // postgres://postgres@127.0.0.1:PORT/my_test
//! let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
//! ```
//!
//! - The server binaries (`initdb`, `postgres`) are taken from `$FORGE_AUTHZ_PG_BINDIR`, else
//!   from `initdb` on `PATH` (symlinks resolved), else from the highest version under
//!   `/usr/lib/postgresql/*/bin`.
//! - `initdb` and `postgres` refuse to run as root: as root they run as `$FORGE_AUTHZ_PG_USER`,
//!   else the `postgres` system user (created by Debian's server package), else `nobody`,
//!   through `std::os::unix::process::CommandExt::{uid, gid}` (std also drops the
//!   supplementary groups). As any other user they run as that user.
//! - Everything lives in one fresh directory `$TMPDIR/forge-authz-pg-*` owned by that user,
//!   mode 0700: `data/` (0700), `sock/` (the Unix socket), `server.log`.
//! - The server listens on 127.0.0.1 on a free port (bound to port 0 then released; a lost
//!   race is retried with another port) and on the Unix socket in `sock/`; `pg_hba.conf` is
//!   `trust` for these two only. `fsync` and friends are off: a test server, not a store.
//! - Readiness is polled through the private Unix socket (never someone else's server on a
//!   racing port), then the TCP address is checked to reach this very data directory.
//! - Dropping a `PgServer` stops it (immediate shutdown, SIGKILL after 10 s) and removes
//!   its directory. A server kept in a `static` (`shared`) is never dropped: a watchdog
//!   process (`sh`, reading a pipe from the test process) does the same when the test
//!   process exits, however it exits.
//!
//! Missing server binaries: `PgServer::start` returns `Err` and `shared_or_skip` /
//! `start_or_skip` panic (the test fails) unless `FORGE_AUTHZ_SKIP_PG=1`, in which case
//! they write `SKIPPED: ...` to the real stderr (not captured by the test harness) and
//! return `None`. Any other failure to start always fails the test.
//!
//! The hosts in other languages get the same server from the `pg-server` bin
//! (`src/bin/pg-server.rs`): a database URL on its first stdout line, stopped when its stdin
//! closes.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The database superuser created by `initdb` (`--username`).
pub const SUPERUSER: &str = "postgres";

/// Environment variable: skip (instead of failing) when no server binaries are found.
pub const SKIP_ENV: &str = "FORGE_AUTHZ_SKIP_PG";

const READY_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
const PORT_ATTEMPTS: usize = 5;

/// A running PostgreSQL server owned by this test process.
pub struct PgServer {
    bin_dir: PathBuf,
    base: PathBuf,
    data: PathBuf,
    sock: PathBuf,
    log: PathBuf,
    port: u16,
    os_user: String,
    os_uid: u32,
    version: String,
    postmaster: Child,
    watchdog: Option<(Child, ChildStdin)>,
    /// False while a failed start may still retry in the same directory.
    remove_on_drop: bool,
}

/// The server shared by every test of this test binary (started on first use), or `None`
/// when it is skipped (no server binaries and `FORGE_AUTHZ_SKIP_PG=1`). Panics (fails the
/// test) otherwise. Give each test its own database with [`PgServer::fresh_database`].
pub fn shared_or_skip(test: &str) -> Option<&'static PgServer> {
    static SHARED: OnceLock<Result<PgServer, String>> = OnceLock::new();
    match SHARED.get_or_init(PgServer::start) {
        Ok(server) => Some(server),
        Err(e) => skip_or_fail(test, e),
    }
}

/// A server of its own for this test (stopped when dropped), with the same skip policy as
/// [`shared_or_skip`].
pub fn start_or_skip(test: &str) -> Option<PgServer> {
    match PgServer::start() {
        Ok(server) => Some(server),
        Err(e) => skip_or_fail(test, &e),
    }
}

fn skip_or_fail<T>(test: &str, error: &str) -> Option<T> {
    match skip_or_error(test, error) {
        Ok(skipped) => {
            // Straight to the process's stderr: libtest captures only print!/eprint!.
            let _ = writeln!(std::io::stderr().lock(), "{skipped}");
            None
        }
        Err(failed) => panic!("{failed}"),
    }
}

/// The skip policy for a server that did not start with `error`: `Ok(the SKIPPED: line)`
/// when its binaries are missing and `FORGE_AUTHZ_SKIP_PG=1`, else `Err(why it failed)`
/// (with an install hint when the binaries are missing).
pub fn skip_or_error(test: &str, error: &str) -> Result<String, String> {
    let missing = find_bin_dir().is_err();
    if missing && std::env::var(SKIP_ENV).is_ok_and(|v| v == "1") {
        return Ok(format!(
            "SKIPPED: {test}: no PostgreSQL server here ({SKIP_ENV}=1): {error}"
        ));
    }
    let hint = if missing {
        format!(
            "\n(install Debian's `postgresql` package, as .ci/run does, or set {SKIP_ENV}=1 to \
             skip the PostgreSQL tests)"
        )
    } else {
        String::new()
    };
    Err(format!(
        "{test}: cannot start the PostgreSQL test server: {error}{hint}"
    ))
}

impl PgServer {
    /// initdb a fresh cluster in a new temporary directory and start a server on it;
    /// returns once it accepts connections (at most 30 s).
    pub fn start() -> Result<PgServer, String> {
        let bin_dir = find_bin_dir()?;
        let (os_user, os_uid, os_gid) = server_user()?;
        let base = make_base_dir(os_uid, os_gid)?;
        match Self::start_in(bin_dir, base.clone(), os_user, os_uid, os_gid) {
            Ok(server) => Ok(server),
            Err(e) => {
                let _ = fs::remove_dir_all(&base);
                Err(e)
            }
        }
    }

    fn start_in(
        bin_dir: PathBuf,
        base: PathBuf,
        os_user: String,
        os_uid: u32,
        os_gid: u32,
    ) -> Result<PgServer, String> {
        let data = base.join("data");
        let sock = base.join("sock");
        let log = base.join("server.log");
        for (dir, mode) in [(&data, 0o700), (&sock, 0o700)] {
            fs::create_dir(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
            fs::set_permissions(dir, fs::Permissions::from_mode(mode))
                .map_err(|e| format!("chmod {}: {e}", dir.display()))?;
            std::os::unix::fs::chown(dir, Some(os_uid), Some(os_gid))
                .map_err(|e| format!("chown {}: {e}", dir.display()))?;
        }
        // A socket path is at most 107 bytes: `<sock>/.s.PGSQL.<port>`.
        if sock.as_os_str().len() > 90 {
            return Err(format!(
                "socket directory path too long for a Unix socket: {} (set TMPDIR shorter)",
                sock.display()
            ));
        }

        let version = run_capture(
            Command::new(bin_dir.join("postgres")).arg("--version"),
            "postgres --version",
        )?
        .trim()
        .to_owned();

        let mut initdb = as_user(Command::new(bin_dir.join("initdb")), os_uid, os_gid, &base);
        initdb.arg("--pgdata").arg(&data).args([
            "--username",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ]);
        run_capture(&mut initdb, "initdb")?;
        // Trust for the private Unix socket and loopback IPv4 only (the server listens on
        // nothing else anyway).
        fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhost all all 127.0.0.1/32 trust\n",
        )
        .map_err(|e| format!("write pg_hba.conf: {e}"))?;

        let mut last = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port()?;
            let postmaster = spawn_postmaster(&bin_dir, &data, &sock, &log, port, os_uid, os_gid)?;
            let mut server = PgServer {
                bin_dir: bin_dir.clone(),
                base: base.clone(),
                data: data.clone(),
                sock: sock.clone(),
                log: log.clone(),
                port,
                os_user: os_user.clone(),
                os_uid,
                version: version.clone(),
                postmaster,
                watchdog: None,
                remove_on_drop: false,
            };
            server.watchdog = Some(spawn_watchdog(server.pid(), &base)?);
            match server.wait_ready() {
                Ok(()) => {
                    server.remove_on_drop = true;
                    return Ok(server);
                }
                Err(Ready::PortTaken(e)) => {
                    last = e;
                    server.stop();
                    let _ = fs::remove_file(&log);
                }
                Err(Ready::Failed(e)) => {
                    let log = server.log();
                    server.stop();
                    return Err(format!("{e}\n--- server log ---\n{log}"));
                }
            }
        }
        Err(format!(
            "no free port after {PORT_ATTEMPTS} attempts; last: {last}"
        ))
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`: the maintenance database over TCP.
    pub fn url(&self) -> String {
        self.url_for("postgres")
    }

    /// `postgres://postgres@127.0.0.1:PORT/DBNAME` (DBNAME must be a plain identifier).
    pub fn url_for(&self, dbname: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{dbname}", self.port)
    }

    /// `host=/tmp/forge-authz-pg-.../sock port=PORT user=postgres dbname=DBNAME`: the same
    /// database over the Unix socket (key=value form, also accepted by the `postgres` crate).
    pub fn socket_conninfo(&self, dbname: &str) -> String {
        format!(
            "host={} port={} user={SUPERUSER} dbname={dbname}",
            self.sock.display(),
            self.port
        )
    }

    /// Creates database `name` (dropped first if it exists: fresh) and returns its TCP URL.
    /// `name`: 1-63 of `a-z 0-9 _`, not starting with a digit. Panics on failure.
    pub fn fresh_database(&self, name: &str) -> String {
        let valid = !name.is_empty()
            && name.len() <= 63
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        assert!(valid, "fresh_database: not a plain identifier: {name:?}");
        let mut admin =
            postgres::Client::connect(&self.socket_conninfo("postgres"), postgres::NoTls)
                .unwrap_or_else(|e| panic!("fresh_database({name}): connect: {e:?}"));
        // Two statements: a multi-statement batch is one implicit transaction, which
        // DROP/CREATE DATABASE refuse.
        for sql in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            admin
                .batch_execute(&sql)
                .unwrap_or_else(|e| panic!("fresh_database({name}): {sql}: {e:?}"));
        }
        self.url_for(name)
    }

    /// The database superuser name (`postgres`).
    pub fn superuser(&self) -> &str {
        SUPERUSER
    }

    /// The operating-system user the server runs as (never root).
    pub fn os_user(&self) -> &str {
        &self.os_user
    }

    pub fn os_uid(&self) -> u32 {
        self.os_uid
    }

    /// Process id of the postmaster.
    pub fn pid(&self) -> u32 {
        self.postmaster.id()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    pub fn socket_dir(&self) -> &Path {
        &self.sock
    }

    /// The temporary directory holding everything (removed on drop).
    pub fn base_dir(&self) -> &Path {
        &self.base
    }

    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// `postgres --version`, e.g. `postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_else(|e| format!("(no log: {e})"))
    }

    fn wait_ready(&mut self) -> Result<(), Ready> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let socket = self.socket_conninfo("postgres") + " connect_timeout=2";
        loop {
            if let Ok(Some(status)) = self.postmaster.try_wait() {
                let log = self.log();
                let taken =
                    log.contains("could not bind") || log.contains("Address already in use");
                let msg = format!("postgres exited ({status}) before accepting connections");
                return Err(if taken {
                    Ready::PortTaken(msg)
                } else {
                    Ready::Failed(msg)
                });
            }
            // Through our private socket first: a TCP connection could reach another server
            // that won the port race.
            match postgres::Client::connect(&socket, postgres::NoTls) {
                Ok(_) => break,
                Err(e) if Instant::now() >= deadline => {
                    return Err(Ready::Failed(format!(
                        "not accepting connections after {READY_TIMEOUT:?}: {e}"
                    )));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(25)),
            }
        }
        // Then the TCP address must lead to this very server.
        let mut tcp = postgres::Client::connect(&self.url(), postgres::NoTls)
            .map_err(|e| Ready::Failed(format!("TCP {}: {e}", self.url())))?;
        let dir: String = tcp
            .query_one("SHOW data_directory", &[])
            .and_then(|row| row.try_get(0))
            .map_err(|e| Ready::Failed(format!("SHOW data_directory: {e}")))?;
        let same = fs::canonicalize(&dir).ok() == fs::canonicalize(&self.data).ok();
        if !same {
            return Err(Ready::PortTaken(format!(
                "port {} leads to another server ({dir})",
                self.port
            )));
        }
        Ok(())
    }

    /// Immediate shutdown (SIGQUIT), SIGKILL after 10 s; the watchdog is dismissed.
    fn stop(&mut self) {
        if matches!(self.postmaster.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .args(["-QUIT", &self.pid().to_string()])
                .stderr(Stdio::null())
                .status();
            let deadline = Instant::now() + STOP_TIMEOUT;
            while matches!(self.postmaster.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = self.postmaster.kill();
            let _ = self.postmaster.wait();
        }
        if let Some((mut child, mut stdin)) = self.watchdog.take() {
            let _ = stdin.write_all(b"done\n");
            drop(stdin);
            let _ = child.wait();
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
        if self.remove_on_drop {
            let _ = fs::remove_dir_all(&self.base);
        }
    }
}

enum Ready {
    PortTaken(String),
    Failed(String),
}

/// `$FORGE_AUTHZ_PG_BINDIR`, else `initdb` on PATH (symlinks resolved), else the highest
/// `/usr/lib/postgresql/<version>/bin`; the directory must hold `initdb` and `postgres`.
pub fn find_bin_dir() -> Result<PathBuf, String> {
    let complete = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Some(dir) = std::env::var_os("FORGE_AUTHZ_PG_BINDIR") {
        let dir = PathBuf::from(dir);
        return if complete(&dir) {
            Ok(dir)
        } else {
            Err(format!(
                "FORGE_AUTHZ_PG_BINDIR={} has no initdb and postgres",
                dir.display()
            ))
        };
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        let initdb = dir.join("initdb");
        if initdb.is_file() {
            for candidate in [fs::canonicalize(&initdb).ok(), Some(initdb)]
                .into_iter()
                .flatten()
            {
                if let Some(parent) = candidate.parent().filter(|d| complete(d)) {
                    return Ok(parent.to_path_buf());
                }
            }
        }
    }
    let mut versions: Vec<(Vec<u32>, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let version: Option<Vec<u32>> = name.split('.').map(|p| p.parse().ok()).collect();
            let bin = entry.path().join("bin");
            version.filter(|_| complete(&bin)).map(|v| (v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).ok_or_else(|| {
        "no PostgreSQL server binaries (initdb, postgres): none on PATH, none under \
         /usr/lib/postgresql/*/bin"
            .to_owned()
    })
}

/// (name, uid, gid) of the user to run the server as.
fn server_user() -> Result<(String, u32, u32), String> {
    let euid = run_capture(Command::new("id").arg("-u"), "id -u")?;
    if euid.trim() != "0" {
        let name = run_capture(Command::new("id").arg("-un"), "id -un")?;
        let gid = run_capture(Command::new("id").arg("-g"), "id -g")?;
        let uid = euid.trim().parse().map_err(|e| format!("id -u: {e}"))?;
        let gid = gid.trim().parse().map_err(|e| format!("id -g: {e}"))?;
        return Ok((name.trim().to_owned(), uid, gid));
    }
    let candidates: Vec<String> = match std::env::var("FORGE_AUTHZ_PG_USER") {
        Ok(user) => vec![user],
        Err(_) => vec!["postgres".into(), "nobody".into()],
    };
    for name in &candidates {
        let Ok(out) = Command::new("getent").args(["passwd", name]).output() else {
            continue;
        };
        let line = String::from_utf8_lossy(&out.stdout);
        let fields: Vec<&str> = line.trim().split(':').collect();
        if out.status.success()
            && let (Some(uid), Some(gid)) = (fields.get(2), fields.get(3))
            && let (Ok(uid), Ok(gid)) = (uid.parse::<u32>(), gid.parse::<u32>())
            && uid != 0
        {
            return Ok((name.clone(), uid, gid));
        }
    }
    Err(format!(
        "running as root and none of the users {candidates:?} exists (non-root) to run \
         the PostgreSQL server as"
    ))
}

/// A new directory `forge-authz-pg-<pid>-<n>` in the temp dir, owned by the server user,
/// mode 0700. As root, the temp dir must be reachable by that user, else `/tmp` is used.
fn make_base_dir(uid: u32, gid: u32) -> Result<PathBuf, String> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let mut parent = std::env::temp_dir();
    let reachable = parent
        .ancestors()
        .all(|dir| fs::metadata(dir).is_ok_and(|m| m.mode() & 0o001 != 0));
    if !reachable {
        parent = PathBuf::from("/tmp");
    }
    for _ in 0..100 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = parent.join(format!("forge-authz-pg-{}-{n}", std::process::id()));
        match fs::create_dir(&dir) {
            Ok(()) => {
                let setup = fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
                    .and_then(|()| std::os::unix::fs::chown(&dir, Some(uid), Some(gid)));
                return match setup {
                    Ok(()) => Ok(dir),
                    Err(e) => {
                        let _ = fs::remove_dir_all(&dir);
                        Err(format!("set up {}: {e}", dir.display()))
                    }
                };
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("create {}: {e}", dir.display())),
        }
    }
    Err(format!("no fresh directory under {}", parent.display()))
}

/// The command run as the server user (when we are root), from `cwd`, with a C locale.
fn as_user(mut cmd: Command, uid: u32, gid: u32, cwd: &Path) -> Command {
    if run_is_root() {
        cmd.uid(uid).gid(gid);
    }
    cmd.current_dir(cwd)
        .env("LC_ALL", "C")
        .env_remove("PGDATA")
        .env_remove("PGHOST")
        .env_remove("PGPORT")
        .stdin(Stdio::null());
    cmd
}

fn run_is_root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(|| {
        Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
    })
}

fn spawn_postmaster(
    bin_dir: &Path,
    data: &Path,
    sock: &Path,
    log: &Path,
    port: u16,
    uid: u32,
    gid: u32,
) -> Result<Child, String> {
    let log_file = fs::File::create(log).map_err(|e| format!("create {}: {e}", log.display()))?;
    let log_err = log_file
        .try_clone()
        .map_err(|e| format!("clone log: {e}"))?;
    let cwd = data.parent().unwrap_or(data);
    let mut cmd = as_user(Command::new(bin_dir.join("postgres")), uid, gid, cwd);
    cmd.arg("-D")
        .arg(data)
        .arg("-k")
        .arg(sock)
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args([
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "logging_collector=off",
            "-c",
            "max_connections=200",
        ])
        .stdout(log_file)
        .stderr(log_err);
    cmd.spawn().map_err(|e| format!("spawn postgres: {e}"))
}

/// `sh` waiting on a pipe from this process: on EOF (this process exited without dropping
/// the server, e.g. a server in a `static`) it stops the postmaster and removes `base`; on
/// `done` (a normal drop) it just exits.
fn spawn_watchdog(pid: u32, base: &Path) -> Result<(Child, ChildStdin), String> {
    const SCRIPT: &str = r#"trap '' INT HUP TERM
read -r what || what=
[ "$what" = done ] && exit 0
alive() { kill -0 "$1" 2>/dev/null && ! grep -qs '^State:[[:space:]]*Z' "/proc/$1/status"; }
kill -QUIT "$1" 2>/dev/null
i=0
while alive "$1" && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i+1)); done
alive "$1" && kill -KILL "$1" 2>/dev/null
rm -rf "$2"
"#;
    let mut child = Command::new("sh")
        .args(["-c", SCRIPT, "forge-authz-pg-watchdog"])
        .arg(pid.to_string())
        .arg(base)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("spawn watchdog: {e}"))?;
    let stdin = child
        .stdin
        .take()
        .ok_or_else(|| "watchdog without stdin".to_owned())?;
    Ok((child, stdin))
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("bind 127.0.0.1:0: {e}"))
}

fn run_capture(cmd: &mut Command, what: &str) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        return Ok(text);
    }
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Err(format!("{what} failed ({}):\n{text}", out.status))
}
