//! `pg-server`: a private PostgreSQL server for the hosts' CI scripts in other languages
//! (Go, Python, Node), which cannot use the Rust harness directly (`testkit/src/pg.rs`:
//! binaries found, run as a non-root user when we are root, loopback only, a watchdog).
//!
//! ```text
//! cargo run --locked -q -p forge-authz-testkit --bin pg-server
//! ```
//!
//! - Starts a fresh server, creates a fresh database `forge` and prints its URL as the
//!   **first stdout line**, flushed:
//!   `postgres://postgres@127.0.0.1:PORT/forge?sslmode=disable` (superuser `postgres`, no
//!   password: `trust` on loopback). Go `lib/pq` (which otherwise requires TLS), libpq /
//!   Python `psycopg` 3 and Node `pg` accept this form as it is. Nothing else is ever
//!   written to stdout; progress and errors go to stderr.
//! - Then waits, and stops the server and removes its directory when
//!   - its **stdin closes** (EOF): the server is stopped before this process exits (status 0);
//!   - its **parent exits** (it is re-parented), even if someone else keeps stdin open;
//!   - it gets **SIGTERM / SIGINT / SIGHUP / SIGKILL**: it dies at once, and the harness's
//!     watchdog (which reads a pipe from this process) stops the server and removes its
//!     directory within about 10 s. So it never outlives the shell that started it, however
//!     that shell ends.
//!
//!   Give it a pipe on stdin: with `/dev/null` (or a closed stdin) it stops at once.
//! - **Skipped vs failed.** No server binaries here and `FORGE_AUTHZ_SKIP_PG=1`: it writes
//!   `SKIPPED: ...` to stderr and exits **0** with **nothing on stdout**. Any failure to start
//!   (no binaries without that variable, initdb or the server failing, ...) exits **1** with
//!   nothing on stdout and the cause on stderr. So: a URL line = a server; no line and exit
//!   0 = skipped; no line and a non-zero exit = failed.
//!
//! In a host's `ci.sh` (bash: a coprocess's descriptors are not inherited by the commands
//! the script runs, so closing ours is what ends it):
//!
//! ```bash
//! coproc PG { exec cargo run --locked -q -p forge-authz-testkit --bin pg-server; }
//! pg_pid=$PG_PID
//! IFS= read -r FORGE_AUTHZ_PG_URL <&"${PG[0]}" || FORGE_AUTHZ_PG_URL=
//! if [ -n "$FORGE_AUTHZ_PG_URL" ]; then
//!   export FORGE_AUTHZ_PG_URL
//! elif wait "$pg_pid"; then
//!   echo "SKIPPED: PostgreSQL tests (no server, FORGE_AUTHZ_SKIP_PG=1)"
//! else
//!   echo "pg-server failed" >&2; exit 1
//! fi
//! # ... the tests (they read FORGE_AUTHZ_PG_URL; unset: they print SKIPPED) ...
//! exec {PG[1]}>&-    # stdin closed: the server stops
//! wait "$pg_pid"
//! ```

use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use forge_authz_testkit::pg;

/// The database created (fresh) in the new server, named in the printed URL.
const DATABASE: &str = "forge";

/// How often the parent is checked.
const PARENT_POLL: Duration = Duration::from_millis(250);

fn main() -> ExitCode {
    let parent = std::os::unix::process::parent_id();
    let server = match pg::PgServer::start() {
        Ok(server) => server,
        Err(e) => {
            return match pg::skip_or_error("pg-server", &e) {
                Ok(skipped) => {
                    say(&skipped);
                    ExitCode::SUCCESS
                }
                Err(failed) => {
                    say(&failed);
                    ExitCode::FAILURE
                }
            };
        }
    };
    // `fresh_database` panics on failure: the server is then dropped (stopped) on unwind.
    let url = format!("{}?sslmode=disable", server.fresh_database(DATABASE));
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{url}").and_then(|()| out.flush()) {
        say(&format!("pg-server: cannot write the URL to stdout: {e}"));
        return ExitCode::FAILURE;
    }
    drop(out);
    say(&format!(
        "pg-server: {} (pid {}) serving {DATABASE} on 127.0.0.1:{}; stops when stdin closes",
        server.version(),
        server.pid(),
        server.port()
    ));

    let (tx, ended) = mpsc::channel();
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = [0u8; 4096];
        let why = loop {
            match stdin.read(&mut buf) {
                Ok(0) => break "stdin closed".to_owned(),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break format!("stdin unreadable ({e})"),
            }
        };
        let _ = tx.send(why);
    });
    let why = loop {
        match ended.recv_timeout(PARENT_POLL) {
            Ok(why) => break why,
            Err(mpsc::RecvTimeoutError::Disconnected) => break "stdin reader gone".to_owned(),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if std::os::unix::process::parent_id() != parent {
                    break format!("parent {parent} exited");
                }
            }
        }
    };
    drop(server);
    say(&format!(
        "pg-server: {why}: server stopped, its directory removed"
    ));
    ExitCode::SUCCESS
}

/// One line to stderr (stdout carries only the URL).
fn say(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}
