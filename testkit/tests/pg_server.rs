//! The `pg-server` bin (src/bin/pg-server.rs), as a host's `ci.sh` uses it: the first stdout
//! line is a database URL the store's PostgreSQL client connects to; closing its stdin, a
//! SIGTERM or its parent's exit stops the server and removes its directory.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use forge_authz_testkit::process::{proc_state, secs};
use postgres::{Client, NoTls};

const BIN: &str = env!("CARGO_BIN_EXE_pg-server");

/// A started `pg-server` (killed if the test fails half-way).
struct Served {
    child: Child,
    url: String,
    /// The postmaster's pid and the server's directory, learnt through the URL.
    postmaster: u32,
    base: PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `cmd` (whose stdout carries pg-server's), reads the URL line and connects to it;
/// `None` when pg-server reported SKIPPED (and exited 0 with no line).
fn serve(mut cmd: Command, test: &str) -> Option<Served> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(secs(60)).expect("no URL line within 60 s");
    if line.is_empty() {
        let status = child.wait().unwrap();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert!(
            status.success() && err.starts_with("SKIPPED: "),
            "pg-server printed no URL ({status}):\n{err}"
        );
        eprintln!("SKIPPED: {test}: {err}");
        return None;
    }
    let url = line
        .strip_suffix('\n')
        .expect("an unterminated line")
        .to_owned();
    assert!(
        url.starts_with("postgres://postgres@127.0.0.1:")
            && url.ends_with("/forge?sslmode=disable"),
        "{url}"
    );
    // The store's client, as the hosts' drivers will: a fresh database, writable.
    let mut c = Client::connect(&url, NoTls).unwrap();
    let db: String = c
        .query_one("SELECT current_database()", &[])
        .unwrap()
        .get(0);
    assert_eq!(db, "forge");
    let tables: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 0, "not a fresh database");
    c.batch_execute("CREATE TABLE t (id bigint PRIMARY KEY); INSERT INTO t VALUES (1)")
        .unwrap();
    let data: String = c.query_one("SHOW data_directory", &[]).unwrap().get(0);
    let data = PathBuf::from(data);
    let pid_file = std::fs::read_to_string(data.join("postmaster.pid")).unwrap();
    let postmaster = pid_file.lines().next().unwrap().trim().parse().unwrap();
    let base = data.parent().unwrap().to_path_buf();
    Some(Served {
        child,
        url,
        postmaster,
        base,
    })
}

impl Served {
    /// Within `limit`: the postmaster dead, the directory removed, the URL refusing.
    fn assert_gone(&self, limit: Duration) {
        let start = Instant::now();
        let dead = || !matches!(proc_state(self.postmaster), Some(s) if s != 'Z');
        while (!dead() || self.base.exists()) && start.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(dead(), "postmaster {} still running", self.postmaster);
        assert!(!self.base.exists(), "{} left behind", self.base.display());
        let err = Client::connect(&format!("{}&connect_timeout=5", self.url), NoTls);
        assert!(err.is_err(), "{} still accepts connections", self.url);
    }
}

#[test]
fn closing_stdin_stops_the_server_before_it_exits() {
    let Some(mut served) = serve(Command::new(BIN), "closing_stdin_stops_the_server") else {
        return;
    };
    drop(served.child.stdin.take());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = served.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < secs(20),
            "pg-server still running 20 s after EOF"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    // Synchronous: gone by the time it exited.
    served.assert_gone(Duration::ZERO);
}

#[test]
fn sigterm_stops_the_server() {
    let Some(served) = serve(Command::new(BIN), "sigterm_stops_the_server") else {
        return;
    };
    let pid = served.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    // stdin is still open: the watchdog does it.
    served.assert_gone(secs(20));
}

#[test]
fn its_parent_exiting_stops_the_server_though_stdin_stays_open() {
    // The parent shell starts pg-server with our stdin pipe (kept open by this test; through
    // fd 3, since an asynchronous command's own stdin is /dev/null), then exits once told to
    // (the file `go` appears), after the server was seen serving.
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    let mut sh = Command::new("sh");
    sh.args([
        "-c",
        "exec 3<&0; \"$0\" <&3 3<&- & while [ ! -e \"$1\" ]; do sleep 0.05; done",
        BIN,
    ])
    .arg(&go);
    let Some(served) = serve(sh, "its_parent_exiting_stops_the_server") else {
        return;
    };
    std::fs::write(&go, "").unwrap();
    served.assert_gone(secs(20));
}

#[test]
fn skipped_and_failed_print_no_url_and_differ_by_exit_status() {
    let run = |skip: Option<&str>| {
        let mut cmd = Command::new(BIN);
        cmd.env("FORGE_AUTHZ_PG_BINDIR", "/nonexistent/forge-authz-pg-bin")
            .env_remove("FORGE_AUTHZ_SKIP_PG")
            .stdin(Stdio::null());
        if let Some(v) = skip {
            cmd.env("FORGE_AUTHZ_SKIP_PG", v);
        }
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.stdout, b"", "{err}");
        (out.status.code(), err)
    };
    let (code, err) = run(Some("1"));
    assert_eq!(code, Some(0), "{err}");
    assert!(err.starts_with("SKIPPED: pg-server: "), "{err}");
    for skip in [None, Some("0")] {
        let (code, err) = run(skip);
        assert_eq!(code, Some(1), "{err}");
        assert!(
            err.contains("cannot start the PostgreSQL test server"),
            "{err}"
        );
    }
}
