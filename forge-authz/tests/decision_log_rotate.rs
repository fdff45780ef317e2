//! The decision log survives log rotation (issue 25, "Logs that cannot answer why": a
//! decision log an operator can keep; README "Decision log", "Rotating the decision log"):
//! `serve --decision-log FILE` reopens FILE on `SIGUSR1` (nginx's "reopen logs"; `SIGHUP`
//! stays "reload the module"), so logrotate can move the file away instead of copying and
//! truncating it. A reopen that fails leaves the log closed and fails closed as an unwritable
//! log always did: each decision is refused (503), said on stderr (`decision-log-failed`)
//! and counted (`forge_authz_decision_log_failures_total`), never silently dropped or
//! written to the file rotated away; once the path can be opened again, records resume.
//!
//! Through the real binary: a real `serve` on loopback, raw HTTP requests, `mv` and
//! `kill -USR1` as logrotate's `postrotate` does. The store plays no part in rotation: it is
//! SQLite here (the decision log's store-backed fields are tested on both backends in
//! `decision_log.rs`).
// Tests: a broken expectation is a panic that says what broke.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

#[path = "support/forge.rs"]
mod forge;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use forge::*;
use serde_json::Value;

/// The decision records in the file at `path` (missing: none).
fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect()
}

/// The records of `path` once there are `n` of them (10 s at most; the caller's
/// assertions then say what is missing).
fn settled(path: &Path, n: usize) -> Vec<Value> {
    let start = std::time::Instant::now();
    loop {
        let r = records(path);
        if r.len() >= n || start.elapsed() > secs(10) {
            return r;
        }
        std::thread::sleep(ms(20));
    }
}

/// The repositories the records are about, in order.
fn repositories(r: &[Value]) -> Vec<&str> {
    r.iter()
        .map(|v| v["repository"].as_str().unwrap_or("-"))
        .collect()
}

/// An anonymous `info/refs` of the public repository `repo`: its HTTP status.
fn pull(srv: &Server, repo: &str) -> Option<u16> {
    info_refs(srv.port, repo).status
}

/// A server whose decision log is `logs/decisions.jsonl` in a fresh forge, with metrics
/// served on their own port.
fn serving(name: &str) -> (Setup, Server, PathBuf, u16) {
    let s_ = Setup::new(name);
    let logs = s_.dir.join("logs");
    std::fs::create_dir(&logs).unwrap();
    let file = logs.join("decisions.jsonl");
    let metrics_port_file = s_.dir.join("metrics-port");
    let srv = s_.serve(&[
        "--decision-log",
        file.to_str().unwrap(),
        "--metrics-listen",
        "127.0.0.1:0",
        "--metrics-port-file",
        metrics_port_file.to_str().unwrap(),
    ]);
    // Written before the git port: there once `serve` returned.
    let metrics = std::fs::read_to_string(&metrics_port_file).unwrap();
    let metrics = metrics.trim().parse().unwrap();
    (s_, srv, file, metrics)
}

/// `forge_authz_decision_log_failures_total` as the metrics listener shows it.
fn failures(metrics_port: u16) -> u64 {
    let body = http(metrics_port, "GET", "/metrics", &[], b"").body();
    body.lines()
        .find_map(|l| l.strip_prefix("forge_authz_decision_log_failures_total "))
        .unwrap_or_else(|| panic!("no decision log failure counter in:\n{body}"))
        .trim()
        .parse()
        .unwrap()
}

/// `kill -USR1` and the server's word that it was handled (`marker` in its stderr).
fn reopen(srv: &Server, marker: &str) {
    srv.signal("USR1");
    let log = srv.settled_log(marker);
    assert!(log.contains(marker), "no `{marker}` after SIGUSR1:\n{log}");
}

#[test]
fn issue25_sigusr1_reopens_the_decision_log_after_a_rotation() {
    let (_s, srv, file, metrics) = serving("decision-log-rotate");
    assert_eq!(pull(&srv, "alice/app"), Some(200));
    assert_eq!(repositories(&settled(&file, 1)), ["alice/app"]);

    // What logrotate does without copytruncate: move the file, then `postrotate`.
    let rotated = file.with_extension("jsonl.1");
    std::fs::rename(&file, &rotated).unwrap();
    reopen(&srv, "log-reopened");
    assert!(file.exists(), "SIGUSR1 creates the decision log afresh");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the new decision log is private");

    assert_eq!(pull(&srv, "bob/pub"), Some(200));
    assert_eq!(repositories(&settled(&file, 1)), ["bob/pub"]);
    assert_eq!(
        repositories(&records(&rotated)),
        ["alice/app"],
        "the rotated file keeps the first record and gets no later one"
    );
    assert_eq!(failures(metrics), 0);
    assert!(
        srv.alive(),
        "SIGUSR1 must not stop the server:\n{}",
        srv.log()
    );
}

#[test]
fn issue25_a_reopen_that_fails_refuses_decisions_until_the_file_can_be_opened() {
    let (s_, srv, file, metrics) = serving("decision-log-reopen-fails");
    assert_eq!(pull(&srv, "alice/app"), Some(200));
    assert_eq!(settled(&file, 1).len(), 1);

    // The whole log directory rotated away: the path cannot be opened.
    let moved = s_.dir.join("logs.old");
    std::fs::rename(file.parent().unwrap(), &moved).unwrap();
    reopen(&srv, "decision-log-failed");

    let r = info_refs(srv.port, "alice/app");
    assert_eq!(r.status, Some(503), "fail closed: {}", r.describe());
    assert!(
        !r.text().contains("refs/heads/main"),
        "a refused decision serves nothing: {}",
        r.describe()
    );
    assert_eq!(failures(metrics), 1, "the refused decision is counted");
    assert_eq!(
        records(&moved.join("decisions.jsonl")).len(),
        1,
        "nothing is written to the file rotated away"
    );
    let log = srv.log();
    assert!(
        log.contains("each request tries again"),
        "the failed reopen says what to do:\n{log}"
    );

    // The directory is back: the next decision opens the file and is recorded.
    std::fs::create_dir(file.parent().unwrap()).unwrap();
    assert_eq!(pull(&srv, "bob/pub"), Some(200));
    assert_eq!(repositories(&settled(&file, 1)), ["bob/pub"]);
    assert_eq!(failures(metrics), 1);
}

/// Developers' guide, "The host faces hostile networks and local users": a file a local
/// user planted where the log is reopened (a symlink to a file the server may write, or a
/// file every user may write) is refused, never written: decisions fail closed until the
/// operator removes it, and the symlink's target is untouched.
#[test]
fn issue25_a_planted_decision_log_is_refused_after_a_rotation() {
    let (s_, srv, file, metrics) = serving("decision-log-planted");
    assert_eq!(pull(&srv, "alice/app"), Some(200));
    assert_eq!(settled(&file, 1).len(), 1);

    // Rotated; in the window before the signal, a symlink to another file appears.
    std::fs::rename(&file, file.with_extension("jsonl.1")).unwrap();
    let victim = s_.dir.join("victim");
    std::fs::write(&victim, "the operator's file\n").unwrap();
    std::os::unix::fs::symlink(&victim, &file).unwrap();
    reopen(&srv, "decision-log-failed");
    assert_eq!(
        pull(&srv, "alice/app"),
        Some(503),
        "a symlink is never followed"
    );
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "the operator's file\n"
    );

    // A file every user may write, instead: refused too.
    std::fs::remove_file(&file).unwrap();
    std::fs::write(&file, "").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert_eq!(
        pull(&srv, "alice/app"),
        Some(503),
        "a world-writable log is refused"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "");
    let log = srv.log();
    assert!(log.contains("o+w"), "the refusal says why:\n{log}");
    assert_eq!(failures(metrics), 2);

    // A FIFO no one reads: refused at once (never waited on: requests keep being answered).
    std::fs::remove_file(&file).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&file)
        .status()
        .unwrap();
    assert!(made.success());
    assert_eq!(
        pull(&srv, "alice/app"),
        Some(503),
        "a FIFO without a reader is refused"
    );
    assert_eq!(failures(metrics), 3);

    // The operator removes it: the server creates its own, private, and records resume.
    std::fs::remove_file(&file).unwrap();
    assert_eq!(pull(&srv, "bob/pub"), Some(200));
    assert_eq!(repositories(&settled(&file, 1)), ["bob/pub"]);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn issue25_sigusr1_with_the_decision_log_on_standard_output_keeps_serving() {
    let s_ = Setup::new("decision-log-reopen-stdout");
    let srv = s_.serve(&["--decision-log", "-"]);
    srv.signal("USR1");
    assert_eq!(pull(&srv, "alice/app"), Some(200));
    let log = srv.settled_log("\"at\"");
    let recorded: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("at").is_some())
        .collect();
    assert_eq!(repositories(&recorded), ["alice/app"], "{log}");
    assert!(
        srv.alive(),
        "SIGUSR1 must not stop the server:\n{}",
        srv.log()
    );
}

#[test]
fn issue25_sigusr1_without_a_decision_log_keeps_serving() {
    let s_ = Setup::new("decision-log-reopen-none");
    let srv = s_.serve(&[]);
    srv.signal("USR1");
    assert_eq!(pull(&srv, "alice/app"), Some(200));
    assert!(
        srv.alive(),
        "SIGUSR1 must not stop the server:\n{}",
        srv.log()
    );
}
