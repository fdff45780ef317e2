//! The `forge-authz` binary as a user runs it: init, mint, decide, inspect, demo.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

#[path = "support/cli.rs"]
mod cli;

use std::path::{Path, PathBuf};
use std::process::Command;

use cli::{bin, run, strings};

fn tempdir(name: &str) -> PathBuf {
    forge_authz_testkit::scratch(&format!("forge-authz-cli-{name}-"))
}

/// A test directory with a world `forge-authz init` wrote: (directory, world file).
fn init(name: &str) -> (PathBuf, PathBuf) {
    let dir = tempdir(name);
    let world = dir.join("world.json");
    let w = world.to_str().unwrap();
    assert!(run(&["init", "--world", w], None).status.success());
    (dir, world)
}

fn decide(world: &Path, request: &str) -> (i32, serde_json::Value) {
    let out = run(
        &[
            "decide",
            "--world",
            world.to_str().unwrap(),
            "--request",
            "-",
        ],
        Some(request),
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let json = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout:?}"));
    (out.status.code().unwrap(), json)
}

/// `forge-authz mint --world W --owner OWNER --scope SCOPE EXTRA...`.
fn mint(w: &str, owner: &str, scope: &str, extra: &[&str]) -> std::process::Output {
    let args = ["mint", "--world", w, "--owner", owner, "--scope", scope];
    run(&[&args[..], extra].concat(), None)
}

#[test]
fn init_mint_decide_inspect() {
    let (dir, world) = init("flow");
    let w = world.to_str().unwrap();
    // init refuses to overwrite.
    assert_eq!(run(&["init", "--world", w], None).status.code(), Some(2));
    let out = mint(
        w,
        "alice",
        "read:repository",
        &["--repo", "alice/app", "--expires-in", "30d"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secret = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(secret.starts_with("fzpat_k1."));
    // The world stores the hash, never the secret; stderr never shows it either.
    let stored = std::fs::read_to_string(&world).unwrap();
    assert!(!stored.contains(&secret) && !stored.contains(&secret[9..57]));
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&secret));

    let req = |repo: &str, action: &str| {
        format!(
            r#"{{"credential":{{"basic":{{"username":"alice","password":"{secret}"}}}},"repository":"{repo}","action":"{action}"}}"#
        )
    };
    let (code, d) = decide(&world, &req("alice/app", "pull"));
    assert_eq!(
        (code, d["decision"].as_str(), d["reason"].as_str()),
        (0, Some("allow"), Some("granted"))
    );
    let (code, d) = decide(&world, &req("alice/app", "push"));
    assert_eq!(
        (code, d["status"].as_u64(), d["reason"].as_str()),
        (1, Some(403), Some("scope-missing"))
    );
    let (code, d) = decide(&world, &req("alice/secret", "pull"));
    assert_eq!(
        (code, d["status"].as_u64(), d["reason"].as_str()),
        (1, Some(401), Some("token-not-bound"))
    );
    let (_, d) = decide(&world, r#"{"repository":"alice/app","action":"pull"}"#);
    assert_eq!(d["reason"].as_str(), Some("public-read"));
    // Decisions never echo the secret.
    let (_, d) = decide(&world, &req("alice/app", "push"));
    assert!(!d.to_string().contains(&secret));

    let out = run(&["inspect", "-"], Some(&secret));
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["format"].as_str(), Some("ok"));
    assert_eq!(info["key_id"].as_str(), Some("k1"));
    let out = run(&["inspect", "fzpat_k1.garbage"], None);
    assert_eq!(out.status.code(), Some(1));
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["error"].as_str(), Some("wrong-length"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bad_input_is_an_error_or_a_deny_never_an_allow() {
    let (dir, world) = init("bad");
    let w = world.to_str().unwrap();
    // Malformed request: error exit 2, nothing printed on stdout.
    let out = run(
        &["decide", "--world", w, "--request", "-"],
        Some("{not json"),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let out = run(
        &["decide", "--world", w, "--request", "-"],
        Some(r#"{"repository":"a/b","action":"delete"}"#),
    );
    assert_eq!(out.status.code(), Some(2));
    // Unknown fact in the world: refused at load.
    let bad_world = dir.join("bad.json");
    let text = std::fs::read_to_string(&world)
        .unwrap()
        .replace("\"hosted\"", "\"weird\"");
    std::fs::write(&bad_world, text).unwrap();
    let out = run(
        &[
            "decide",
            "--world",
            bad_world.to_str().unwrap(),
            "--request",
            "-",
        ],
        Some(r#"{"repository":"alice/app","action":"pull"}"#),
    );
    assert_eq!(out.status.code(), Some(2));
    // A policy module that cannot load: a deny with policy-failure, exit 1.
    let junk = dir.join("junk.wasm");
    std::fs::write(&junk, b"\0asm junk").unwrap();
    let out = run(
        &[
            "decide",
            "--policy",
            junk.to_str().unwrap(),
            "--world",
            w,
            "--request",
            "-",
        ],
        Some(r#"{"repository":"alice/app","action":"pull"}"#),
    );
    assert_eq!(out.status.code(), Some(1));
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            d["decision"].as_str(),
            d["status"].as_u64(),
            d["reason"].as_str()
        ),
        (Some("deny"), Some(503), Some("policy-failure"))
    );
    // Minting refusals are errors with the policy's reason.
    let out = mint(w, "alice", "public-only", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("permission scope"));
    assert!(out.stdout.is_empty());
    let out = mint(w, "alice", "read:repository", &["--expires-in", "-3d"]);
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn demo_shows_a_real_allow_and_a_real_deny() {
    let out = run(&["demo"], None);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(r#""decision":"allow""#), "{stdout}");
    assert!(stdout.contains(r#""reason":"scope-missing""#), "{stdout}");
    assert!(
        !stdout.contains("fzpat_"),
        "the demo must not print the secret"
    );
}

#[test]
fn scopes_migrate_and_normalize() {
    // reference §1.5: the legacy migration table, decided by the policy module.
    let out = run(&["scopes", "migrate", "repo,admin:org"], None);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "write:organization,write:repository"
    );
    let out = run(&["scopes", "migrate", "public_repo"], None);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "write:repository,public-only"
    );
    let out = run(&["scopes", "migrate"], None);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "all");
    let out = run(
        &[
            "scopes",
            "normalize",
            "read_repository,write:repository,read:issue",
        ],
        None,
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "read:issue,write:repository"
    );
    let out = run(&["scopes", "normalize", "repo"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown scope `repo`"));
}

#[test]
fn explain_and_ref_permissions_from_the_cli() {
    let (dir, world) = init("explain");
    let w = world.to_str().unwrap();
    let out = mint(w, "bob", "read:repository", &[]);
    let secret = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let out = run(
        &["decide", "--world", w, "--request", "-", "--explain"],
        Some(&format!(
            r#"{{"credential":{{"bearer":"{secret}"}},"repository":"alice/secret","action":"pull"}}"#
        )),
    );
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["reason"].as_str(), Some("repository-not-found"));
    let rules = strings(&d["trace"], "rule");
    assert_eq!(rules.first(), Some(&"request"));
    // Issue 19 item 5: the trace conceals what the verdict conceals — a private
    // repository bob cannot see is explained exactly as a missing one.
    assert_eq!(rules.last(), Some(&"existence"));
    let missing = run(
        &["decide", "--world", w, "--request", "-", "--explain"],
        Some(&format!(
            r#"{{"credential":{{"bearer":"{secret}"}},"repository":"alice/nothere","action":"pull"}}"#
        )),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).replace("alice/secret", "<target>"),
        String::from_utf8_lossy(&missing.stdout).replace("alice/nothere", "<target>"),
        "hidden and missing explained alike"
    );
    assert!(
        !d.to_string().contains(&secret),
        "the trace never shows the secret"
    );
    let out = mint(w, "alice", "write:repository", &[]);
    let secret = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let out = run(
        &["decide", "--world", w, "--request", "-"],
        Some(&format!(
            r#"{{"kind":"ref-permissions","credential":{{"bearer":"{secret}"}},"repository":"alice/app","action":"push","ref_names":["refs/heads/main"]}}"#
        )),
    );
    let p: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        p,
        serde_json::json!({"refs/heads/main": ["create", "push", "force-push"]})
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_copied_binary_is_self_contained() {
    // issue 9: the default policy was a path into the source tree's `target/`, so a copied
    // or installed binary failed. The module is embedded; `--version` names its digest.
    let dir = tempdir("copied");
    let copy = dir.join("forge-authz");
    // Copied by `cp`, not from this process: a file written here may still be open in a
    // child another test thread forks meanwhile, and exec would fail with ETXTBSY.
    assert!(
        Command::new("cp")
            .arg(bin())
            .arg(&copy)
            .status()
            .unwrap()
            .success()
    );
    let out = Command::new(&copy)
        .arg("demo")
        .current_dir(&dir)
        .env_remove("FORGE_AUTHZ_POLICY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("policy:  <embedded>"));
    let out = Command::new(&copy).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&out.stdout);
    let digest = version
        .split("sha256:")
        .nth(1)
        .unwrap()
        .trim_end_matches([')', '\n']);
    assert_eq!(digest.len(), 64, "{version}");
    assert!(digest.bytes().all(|b| b.is_ascii_hexdigit()));
    std::fs::remove_dir_all(dir).ok();
}
