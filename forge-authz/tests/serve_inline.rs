//! Decisions where the request is (issue 24, "no thread hand-off per request where the
//! decision can run where the request is"; docs/design/serve-cost.md §2.3 and §4 "Blocking
//! the reactor"): on SQLite `serve` reads the facts and decides on the async worker thread
//! that serves the connection. What may wait must never hold that thread, or every other
//! connection it serves would wait too — header deadlines (issue 2: `--header-timeout`)
//! included. So, with one worker thread (`--workers 1`) and another process holding the
//! store's write lock (the `sqlite3` shell, as an operator's repair would: `BEGIN
//! IMMEDIATE`), a decision whose effect must write (a fresh token's first use stamps its last
//! use) waits for the lock, still before its answer, while other requests are decided and
//! answered and a trickling client is cut at its header deadline.
//!
//! A lock that WAL readers would wait for cannot be taken while `serve` has the store open
//! (an exclusive locking mode needs every other connection closed: `sqlite3` gets "database
//! is locked"); only WAL recovery makes a reader wait, and then the decision waits off the
//! worker (`Shared::decide_here`).
//!
//! `sqlite3` is Debian's `sqlite3` (CI installs it); without it the test fails, unless
//! `FORGE_AUTHZ_SKIP_SQLITE3=1` (then `SKIPPED:` on stderr).
// Tests: a broken expectation is a panic that says what broke.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

#[path = "support/forge.rs"]
mod forge;

use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use forge::*;

/// The refs of the public repository, asked through Traefik's forward-auth headers.
const PUBLIC_REFS: [(&str, &str); 2] = [
    ("X-Forwarded-Method", "GET"),
    (
        "X-Forwarded-Uri",
        "/alice/app.git/info/refs?service=git-upload-pack",
    ),
];

/// One worker thread (a blocked worker would stop everything), a 2 s header deadline.
const ONE_WORKER: [&str; 6] = [
    "--forward-auth",
    "traefik",
    "--workers",
    "1",
    "--header-timeout",
    "2",
];

/// Whether `sqlite3` can be run; `false` only when the test is to be skipped.
fn have_sqlite3(test: &str) -> bool {
    let found = Command::new("sqlite3")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return true;
    }
    if std::env::var_os("FORGE_AUTHZ_SKIP_SQLITE3").is_some_and(|v| v == "1") {
        eprintln!("SKIPPED: {test}: no sqlite3 (Debian's sqlite3)");
        return false;
    }
    panic!("{test}: sqlite3 is not installed (CI installs it; FORGE_AUTHZ_SKIP_SQLITE3=1 skips)");
}

/// A `sqlite3` shell holding a lock on the store until released (or dropped: killed, its
/// transaction rolled back by SQLite).
struct Holder {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Holder {
    /// Run `statements` in a `sqlite3` shell on `db` and keep its transaction open; returns
    /// once `probe` (another shell's statement, no busy timeout) fails: the lock is held.
    fn lock(db: &Path, statements: &str, probe: &str) -> Holder {
        let mut child = Command::new("sqlite3")
            .arg(db)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // The shell waits for the lock (`.timeout`): `serve` writes too (the fleet
        // heartbeat, every 2 s), and a `BEGIN` that met that write would fail at once
        // and leave no transaction to hold.
        stdin.write_all(b".timeout 10000\n").unwrap();
        stdin.write_all(statements.as_bytes()).unwrap();
        stdin.flush().unwrap();
        let holder = Holder {
            child,
            stdin: Some(stdin),
        };
        let deadline = Instant::now() + secs(10);
        loop {
            let probed = run_for(Command::new("sqlite3").arg(db).arg(probe), secs(10));
            if !probed.status.success() {
                return holder;
            }
            assert!(Instant::now() < deadline, "sqlite3 never took the lock");
            std::thread::sleep(ms(50));
        }
    }

    /// Commit and end the shell; when that happened.
    fn release(mut self) -> Instant {
        let mut stdin = self.stdin.take().unwrap();
        stdin.write_all(b"COMMIT;\n").unwrap();
        drop(stdin);
        let deadline = Instant::now() + secs(10);
        while matches!(self.child.try_wait(), Ok(None)) {
            assert!(Instant::now() < deadline, "sqlite3 did not end");
            std::thread::sleep(ms(10));
        }
        Instant::now()
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A forward-auth question in a thread of its own: its reply and when it came.
fn ask(port: u16, credential: Option<String>) -> JoinHandle<(Reply, Instant)> {
    std::thread::spawn(move || {
        let mut headers = PUBLIC_REFS.to_vec();
        let bearer = credential.map(|t| format!("Bearer {t}"));
        if let Some(b) = &bearer {
            headers.push(("Authorization", b));
        }
        let r = http(port, "GET", "/-/auth", &headers, b"");
        (r, Instant::now())
    })
}

/// A client that sends part of a request's headers and then nothing: the server must
/// close it at its header deadline (2 s); when it did (within `limit`).
fn trickle(port: u16, limit: Duration) -> JoinHandle<Option<Instant>> {
    std::thread::spawn(move || {
        let mut c = connect(port);
        c.write_all(b"GET /alice/app.git/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: x")
            .unwrap();
        read_until_closed(&mut c, limit).closed.then(Instant::now)
    })
}

/// While the lock is held: a trickling client is cut at its header deadline (when: the
/// handle's answer), and a request that asks nothing of the store (a path that is no git
/// URL: `404`) is answered.
fn others_are_served_while_locked(port: u16, what: &str) -> JoinHandle<Option<Instant>> {
    let cut = trickle(port, secs(5));
    let r = http(port, "GET", "/nothing/here", &[], b"");
    assert_eq!(r.status, Some(404), "{what}: {}", r.describe());
    cut
}

#[test]
fn a_write_lock_held_elsewhere_delays_only_the_decision_that_writes() {
    // issue 24 / design §2.3: effects (writes) run off the worker; §4: another process
    // holding the write lock delays no header deadline and no other request.
    if !have_sqlite3("write lock") {
        return;
    }
    let s = Setup::new("inline-write-lock");
    // A fresh token: its first use stamps its last use (an effect: a write).
    let token = s.token("alice", "fresh", "read:repository");
    let srv = s.serve(&ONE_WORKER);
    let warm = ask(srv.port, None).join().unwrap().0;
    assert_eq!(
        warm.status,
        Some(200),
        "before the lock: {}",
        warm.describe()
    );
    let holder = Holder::lock(&s.db, "BEGIN IMMEDIATE;\n", "BEGIN IMMEDIATE;");
    let writing = ask(srv.port, Some(token));
    std::thread::sleep(ms(300));
    let cut = others_are_served_while_locked(srv.port, "write lock held");
    for i in 0..4 {
        let (r, _) = ask(srv.port, None).join().unwrap();
        assert_eq!(
            r.status,
            Some(200),
            "anonymous pull {i} while a write waits: {}",
            r.describe()
        );
    }
    let cut = cut.join().unwrap();
    std::thread::sleep(secs(2));
    assert!(
        !writing.is_finished(),
        "the token's first use did not wait for its write"
    );
    let released = holder.release();
    assert!(
        cut.is_some_and(|t| t < released),
        "the header deadline waited for the lock"
    );
    let (r, answered) = writing.join().unwrap();
    assert_eq!(
        r.status,
        Some(200),
        "the token's first use: {}",
        r.describe()
    );
    assert!(
        answered >= released,
        "answered before its effect was written"
    );
    s.assert_serves(&srv, "after the write lock was released");
}
