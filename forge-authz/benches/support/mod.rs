//! What the serving benchmarks share (`serve_scale.rs`, `serve_wrk.rs`): the generated
//! forge (users and repositories as bulk-import JSON lines), the repository `serve` answers
//! for, a `serve` process on loopback and the private PostgreSQL server.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use forge_authz_testkit::deploy::Daemon;
use forge_authz_testkit::pg::PgServer;

/// Users for `repos` repositories: one per ten.
pub fn users_for(repos: u64) -> u64 {
    repos / 10
}

/// `users` users `user0` .. as JSON lines.
pub fn users_jsonl(users: u64) -> String {
    let mut text = String::with_capacity(usize::try_from(users).unwrap_or(0) * 24);
    for u in 0..users {
        let _ = writeln!(text, "{{\"name\": \"user{u}\"}}");
    }
    text
}

/// `repos` repositories `user{r % users}/repo{r}` as JSON lines, a third of them private.
pub fn repos_jsonl(repos: u64) -> String {
    let users = users_for(repos).max(1);
    let mut text = String::with_capacity(usize::try_from(repos).unwrap_or(0) * 64);
    for r in 0..repos {
        let _ = writeln!(
            text,
            "{{\"owner\": \"user{}\", \"name\": \"repo{r}\", \"private\": {}}}",
            r % users,
            r % 3 == 0
        );
    }
    text
}

/// `dir/repos` with `alice/app.git` (an empty bare repository: the sample world's public
/// repository) in it.
pub fn repos_dir(dir: &Path) -> PathBuf {
    let repos = dir.join("repos");
    let app = repos.join("alice").join("app.git");
    std::fs::create_dir_all(&app).unwrap();
    let ok = Command::new("git")
        .args(["init", "-q", "--bare"])
        .arg(&app)
        .status()
        .unwrap();
    assert!(ok.success(), "git init --bare {}", app.display());
    repos
}

/// `bin serve` over `db` and `dir/repos` on a loopback port, with `extra` options: the
/// server (killed when dropped) and its port.
pub fn serve(bin: &Path, dir: &Path, db: &str, extra: &[&str]) -> (Daemon, u16) {
    let repos = repos_dir(dir);
    let port_file = dir.join("port");
    let mut daemon = Daemon::start(
        "serve",
        Command::new(bin)
            .args(["serve", "--db", db, "--repos"])
            .arg(&repos)
            .args(["--listen", "127.0.0.1:0", "--port-file"])
            .arg(&port_file)
            .arg("--state")
            .arg(dir.join("state"))
            .args(extra),
        &dir.join("serve.log"),
    );
    let port = daemon.wait_port_file(&port_file);
    (daemon, port)
}

/// The run's PostgreSQL server, started on first use; `Err` (the row says skipped, never
/// a figure) when it cannot start.
pub fn postgres(server: &mut Option<Result<PgServer, String>>) -> Result<&PgServer, String> {
    server
        .get_or_insert_with(|| {
            PgServer::start().inspect_err(|e| eprintln!("SKIPPED postgres: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}
