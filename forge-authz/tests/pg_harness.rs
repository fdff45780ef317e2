//! The PostgreSQL test harness itself (`testkit/src/pg.rs`): a real server started by the
//! tests, running as an unprivileged user, fresh databases, and no server left behind.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use forge_authz_testkit::pg;
use postgres::{Client, NoTls};

/// Real and effective uid of a process, from `/proc/<pid>/status`.
fn process_uids(pid: u32) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace()
        .skip(1)
        .map(|u| u.parse().unwrap())
        .collect()
}

/// Gone, or a zombie nobody reaps (a container's init may not).
fn process_dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/status")) {
        Err(_) => true,
        Ok(status) => status
            .lines()
            .any(|l| l.starts_with("State:") && l.contains('Z')),
    }
}

fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    done()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().mode() & 0o7777
}

#[test]
fn two_fresh_databases_on_a_server_run_by_an_unprivileged_user() {
    let Some(server) = pg::shared_or_skip("two_fresh_databases") else {
        return;
    };
    let a = server.fresh_database("pg_harness_a");
    let b = server.fresh_database("pg_harness_b");
    assert_eq!(
        a,
        format!(
            "postgres://postgres@127.0.0.1:{}/pg_harness_a",
            server.port()
        )
    );
    assert_eq!(server.superuser(), "postgres");

    for (url, label) in [(&a, "in a"), (&b, "in b")] {
        let mut c = Client::connect(url, NoTls).unwrap();
        c.batch_execute("CREATE TABLE t (id bigint PRIMARY KEY, label text NOT NULL)")
            .unwrap();
        c.execute("INSERT INTO t VALUES ($1, $2)", &[&1_i64, &label])
            .unwrap();
        let rows = c.query("SELECT id, label FROM t", &[]).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].get::<_, i64>(0), 1);
        assert_eq!(rows[0].get::<_, String>(1), label);
        let db: String = c
            .query_one("SELECT current_database()", &[])
            .unwrap()
            .get(0);
        assert!(url.ends_with(&format!("/{db}")), "{url} reached {db}");
    }

    // Separate databases: each sees only its own row. Over the Unix socket too.
    let mut over_socket = Client::connect(&server.socket_conninfo("pg_harness_b"), NoTls).unwrap();
    let labels: Vec<String> = over_socket
        .query("SELECT label FROM t", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(labels, ["in b"]);
    let user: String = over_socket
        .query_one("SELECT current_user::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(user, "postgres");

    // The postmaster and a backend run as the unprivileged user, never root.
    assert_ne!(server.os_user(), "root");
    assert_ne!(server.os_uid(), 0);
    let backend: i32 = over_socket
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    for pid in [server.pid(), u32::try_from(backend).unwrap()] {
        let uids = process_uids(pid);
        assert_eq!(uids.len(), 4, "{uids:?}");
        assert!(
            uids.iter().all(|&u| u == server.os_uid()),
            "process {pid} runs as {uids:?}, expected uid {} ({})",
            server.os_uid(),
            server.os_user()
        );
    }
    let id_out = Command::new("id")
        .args(["-u", server.os_user()])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&id_out.stdout).trim(),
        server.os_uid().to_string()
    );

    // Private directories: data dir and its parent 0700, owned by that user.
    for dir in [server.data_dir(), server.base_dir(), server.socket_dir()] {
        assert_eq!(mode(dir), 0o700, "{}", dir.display());
        assert_eq!(std::fs::metadata(dir).unwrap().uid(), server.os_uid());
    }
    assert!(server.version().starts_with("postgres (PostgreSQL) "));
}

#[test]
fn a_fresh_database_is_empty_even_if_the_name_was_used() {
    let Some(server) = pg::shared_or_skip("fresh_database_is_fresh") else {
        return;
    };
    let url = server.fresh_database("pg_harness_reused");
    let mut c = Client::connect(&url, NoTls).unwrap();
    c.batch_execute("CREATE TABLE leftover (x int)").unwrap();
    // An open connection does not prevent the reset (DROP ... WITH (FORCE)).
    let again = server.fresh_database("pg_harness_reused");
    assert_eq!(url, again);
    let mut c = Client::connect(&again, NoTls).unwrap();
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE tablename = 'leftover'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}

#[test]
fn dropping_the_server_stops_it_and_removes_its_directory() {
    let started = Instant::now();
    let Some(server) = pg::start_or_skip("dropping_the_server_stops_it") else {
        return;
    };
    let took = started.elapsed();
    eprintln!("{} started in {took:?}", server.version());
    assert!(took < Duration::from_secs(10), "start took {took:?}");

    let url = server.url();
    let socket = server.socket_conninfo("postgres");
    let (pid, base) = (server.pid(), server.base_dir().to_path_buf());
    let mut c = Client::connect(&url, NoTls).unwrap();
    c.batch_execute("SELECT 1").unwrap();
    drop(c);

    let stopping = Instant::now();
    drop(server);
    eprintln!("stopped in {:?}", stopping.elapsed());
    assert!(process_dead(pid), "postmaster {pid} still running");
    assert!(!base.exists(), "{} left behind", base.display());
    let err = Client::connect(&(url.clone() + "?connect_timeout=5"), NoTls)
        .err()
        .unwrap_or_else(|| panic!("{url} still accepts connections"));
    let msg = format!("{err:?}");
    assert!(
        msg.contains("ConnectionRefused") || msg.contains("refused"),
        "{msg}"
    );
    assert!(Client::connect(&socket, NoTls).is_err());
}

/// Not a test: run by `a_server_never_dropped_is_stopped_when_the_process_exits` in a child
/// process, which starts a server, forgets it (as a `static` would) and exits.
#[test]
#[ignore = "helper process of a_server_never_dropped_is_stopped_when_the_process_exits"]
fn leaked_server_helper() {
    let server = pg::PgServer::start().unwrap();
    println!(
        "LEAKED {} {} {}",
        server.pid(),
        server.port(),
        server.base_dir().display()
    );
    std::mem::forget(server);
}

#[test]
fn a_server_never_dropped_is_stopped_when_the_process_exits() {
    // The same skip policy as the other tests (the helper itself just fails).
    let Some(_server) = pg::shared_or_skip("a_server_never_dropped") else {
        return;
    };
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "leaked_server_helper",
            "--nocapture",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("LEAKED "))
        .unwrap_or_else(|| panic!("no LEAKED line in {stdout}"));
    let mut fields = line.split(' ');
    let pid: u32 = fields.next().unwrap().parse().unwrap();
    let port: u16 = fields.next().unwrap().parse().unwrap();
    let base = PathBuf::from(fields.next().unwrap());
    assert!(
        wait_until(Duration::from_secs(20), || process_dead(pid)
            && !base.exists()),
        "the leaked server {pid} (or {}) outlived its test process",
        base.display()
    );
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres?connect_timeout=5");
    assert!(Client::connect(&url, NoTls).is_err());
}
