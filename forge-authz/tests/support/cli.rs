//! The `forge-authz` binary run as a user runs it, shared by `cli.rs` and `store.rs`: its
//! arguments, a request on stdin, the output it prints. Use it with
//! `#[path = "support/cli.rs"] mod cli;`.
// Tests: a broken expectation is a panic that says what broke.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_forge-authz"))
}

/// `forge-authz ARGS...`, with `stdin` (if any) as its input, to its end.
pub fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        use std::io::Write;
        // The command may exit before reading (e.g. on a bad world): ignore a closed pipe.
        let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

/// The string `field` of every element of the JSON array `list` (a trace's rules, a
/// history's actions).
pub fn strings<'a>(list: &'a serde_json::Value, field: &str) -> Vec<&'a str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| e[field].as_str().unwrap())
        .collect()
}
