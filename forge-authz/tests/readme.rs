//! Issue 25 "Done when": the README leads an operator, and "every command block in it runs
//! verbatim in CI". This test runs the README's `sh` blocks as printed (README, "The command
//! blocks run as printed"):
//!
//! - the blocks of one `##` section run in order, in ONE `bash -euo pipefail` session (so a
//!   variable or a background `serve` a block starts is there for the next block of its
//!   section), in a fresh private directory, with a private `HOME`, the built binary
//!   (`env!("CARGO_BIN_EXE_forge-authz")`) first on `PATH` as `forge-authz`, and git;
//! - the substitution: a `cargo` stand-in on `PATH` copies that binary where `cargo install
//!   --path forge-authz` (`$HOME/.cargo/bin`) or `cargo build --release` (`target/release`)
//!   would put it, and runs it for `cargo run -p forge-authz -- ARGS`; a cargo command on
//!   the site-policy template (`--manifest-path examples/site-policy/Cargo.toml`, its own
//!   small workspace) it runs for real, and that section runs in a checkout (the
//!   repository's top-level entries linked into its directory, `target/site-policy` shared
//!   with `tests/site_policy.rs`); anything else it refuses, so a block that really builds
//!   or tests must be marked (below). CI does not build a release binary for this (a
//!   second full build of wasmtime; its time is tight);
//! - git's author and committer come from the environment (an operator's git has an
//!   identity already); the test's own `FORGE_AUTHZ_*`, `CARGO_*`, `GIT_*`, `XDG_*` and
//!   `SSH_*` variables are removed (nothing a block writes lands outside its directory);
//! - a `text` block right after a command block (blank lines between at most) is the end of
//!   what the block printed on stdout, compared line by line, `…` matching any text;
//! - a block that cannot run here starts with `# not run by forge-authz/tests/readme.rs: WHY`
//!   (visible in the README); WHY must name the test that covers it, and every such block
//!   is listed on stderr. No other block is skipped;
//! - the one substitution in the text: a line `export FORGE_AUTHZ_DB=postgres://forge@db/forge`
//!   (the operator's database, "Forge scale") gets the URL of a fresh database on the
//!   PostgreSQL server the test starts (`forge_authz_testkit::pg`), so that section's
//!   `init-db`, `bulk-import` and `serve` run against a real PostgreSQL. Without a server
//!   the test fails, unless `FORGE_AUTHZ_SKIP_PG=1`: then it prints `SKIPPED:` and runs the
//!   section's blocks before that line only;
//! - whatever a section left running (a `serve` whose block failed) is killed with the
//!   section's process group.
// Tests: a failing block is a panic naming the section, the block and its output.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use forge_authz_testkit::{pg, process};

const SKIP: &str = "# not run by forge-authz/tests/readme.rs:";

/// The operator's store (README, "Forge scale"): its URL becomes the test's own database.
const PG_LINE: &str = "export FORGE_AUTHZ_DB=postgres://forge@db/forge";

/// One fenced block of the README.
#[derive(Clone)]
struct Block {
    lang: String,
    body: String,
    /// The `text` block right after it (its expected stdout), for a command block.
    expected: Option<String>,
}

/// One `##` section and its blocks, in order.
struct Section {
    title: String,
    blocks: Vec<Block>,
}

/// The README's `##` sections with their fenced blocks (headings inside fences are code).
fn sections(readme: &str) -> Vec<Section> {
    let mut out: Vec<Section> = vec![Section {
        title: "(preamble)".into(),
        blocks: vec![],
    }];
    let mut fence: Option<(String, String)> = None;
    // Only blank lines since the last block closed: a `text` block here is its output.
    let mut adjacent = false;
    for line in readme.lines() {
        if let Some((lang, body)) = fence.as_mut() {
            if line.starts_with("```") {
                let (lang, body) = (lang.clone(), body.clone());
                fence = None;
                let sec = out.last_mut().unwrap();
                let prev_cmd = sec.blocks.last().is_some_and(|b| b.lang == "sh");
                if lang == "text" && adjacent && prev_cmd {
                    sec.blocks.last_mut().unwrap().expected = Some(body);
                } else {
                    sec.blocks.push(Block {
                        lang,
                        body,
                        expected: None,
                    });
                }
                adjacent = true;
            } else {
                body.push_str(line);
                body.push('\n');
            }
            continue;
        }
        if let Some(lang) = line.strip_prefix("```") {
            fence = Some((lang.trim().to_string(), String::new()));
        } else if let Some(title) = line.strip_prefix("## ") {
            out.push(Section {
                title: title.to_string(),
                blocks: vec![],
            });
            adjacent = false;
        } else if !line.trim().is_empty() {
            adjacent = false;
        }
    }
    assert!(fence.is_none(), "the README ends inside a fenced block");
    out
}

/// The section's blocks with [`PG_LINE`]'s URL replaced by a fresh database's; without a
/// PostgreSQL server (and `FORGE_AUTHZ_SKIP_PG=1`), the blocks before that line only.
fn with_postgres(title: &str, mut blocks: Vec<Block>) -> Vec<Block> {
    let uses_pg = |b: &Block| b.body.lines().any(|l| pg_rest(l).is_some());
    let Some(first) = blocks.iter().position(uses_pg) else {
        return blocks;
    };
    let Some(server) = pg::shared_or_skip("readme") else {
        eprintln!("README blocks not run here (no PostgreSQL): `{title}` from block {first}");
        blocks.truncate(first);
        return blocks;
    };
    let url = server.fresh_database("readme_forge");
    for b in &mut blocks {
        let lines: Vec<String> = b
            .body
            .lines()
            .map(|l| match pg_rest(l) {
                Some(rest) => format!("export FORGE_AUTHZ_DB={url}{rest}"),
                None => l.to_string(),
            })
            .collect();
        b.body = lines.join("\n") + "\n";
    }
    blocks
}

/// What follows [`PG_LINE`] on `line` (a comment), if `line` is that assignment.
fn pg_rest(line: &str) -> Option<&str> {
    let rest = line.strip_prefix(PG_LINE)?;
    (rest.is_empty() || rest.starts_with(char::is_whitespace)).then_some(rest)
}

/// `line` matches `pattern`, where `…` in the pattern matches any text. A line of JSON
/// is compared as JSON: an object's members in any order (a build with serde_json's
/// `preserve_order`, as the workspace's test build is, prints them in insertion order; a
/// binary built alone prints them sorted), `…` matching within a string value.
fn matches(pattern: &str, line: &str) -> bool {
    let json = |t: &str| serde_json::from_str::<serde_json::Value>(t).ok();
    if let (Some(want), Some(got)) = (json(pattern), json(line))
        && (want.is_object() || want.is_array())
    {
        return json_matches(&want, &got);
    }
    text_matches(pattern, line)
}

/// [`matches`] on JSON values: objects by member names, arrays in order, strings with `…`.
fn json_matches(want: &serde_json::Value, got: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            w.len() == g.len()
                && w.iter()
                    .all(|(k, wv)| g.get(k).is_some_and(|gv| json_matches(wv, gv)))
        }
        (Value::Array(w), Value::Array(g)) => {
            w.len() == g.len() && w.iter().zip(g).all(|(wv, gv)| json_matches(wv, gv))
        }
        (Value::String(w), Value::String(g)) => text_matches(w, g),
        (Value::String(w), g) if w.contains('…') => text_matches(w, &g.to_string()),
        _ => want == got,
    }
}

/// `line` matches `pattern` as text, `…` matching any text.
fn text_matches(pattern: &str, line: &str) -> bool {
    let parts: Vec<&str> = pattern.split('…').collect();
    if parts.len() == 1 {
        return pattern == line;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !line.starts_with(first) || line.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &line[first.len()..];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(at) => rest = &rest[at + p.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// The stand-in `cargo` (see the module's doc): the built binary where a build would leave it.
const CARGO_STANDIN: &str = r#"#!/bin/sh
# forge-authz/tests/readme.rs: the README's cargo commands, with the binary this test built.
case " $* " in
*" --manifest-path examples/site-policy/Cargo.toml "*)
    # The site-policy template (its own small workspace): really built and tested, by the
    # cargo that runs this test, with the machine's cargo and rustup homes.
    HOME="$README_HOME" exec "$README_CARGO" "$@" ;;
esac
case "$1" in
install)
    mkdir -p "${CARGO_HOME:-$HOME/.cargo}/bin"
    cp "$README_BIN" "${CARGO_HOME:-$HOME/.cargo}/bin/forge-authz" ;;
build)
    case " $* " in *" --release "*) ;; *) echo "cargo stand-in: only --release builds" >&2; exit 97 ;; esac
    mkdir -p target/release && cp "$README_BIN" target/release/forge-authz ;;
run)
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do shift; done
    [ $# -gt 0 ] && shift
    exec "$README_BIN" "$@" ;;
*)
    echo "cargo stand-in: \`cargo $*\` is not run by the README test: mark its block" >&2
    exit 97 ;;
esac
"#;

/// A fresh directory with `bin/` (forge-authz, the cargo stand-in) and `home/`.
fn machine(title: &str) -> PathBuf {
    let dir = forge_authz_testkit::scratch("readme-");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(dir.join("home")).unwrap();
    std::fs::create_dir_all(dir.join("work")).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_forge-authz"), bin.join("forge-authz")).unwrap();
    let cargo = bin.join("cargo");
    std::fs::write(&cargo, CARGO_STANDIN).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.join("section"), title).unwrap();
    dir
}

/// The template's manifest: a section whose blocks build it runs in a checkout.
const TEMPLATE: &str = "examples/site-policy/Cargo.toml";

/// `work` becomes a checkout of this repository: its top-level entries linked (the
/// checkout's `target/` left out), and `target/site-policy` linked to the checkout's, so
/// the template's build reuses what `forge-authz/tests/site_policy.rs` (and CI's cache)
/// built.
fn checkout(work: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for entry in std::fs::read_dir(&root).unwrap() {
        let name = entry.unwrap().file_name();
        if name != "target" && name != ".git" {
            std::os::unix::fs::symlink(root.join(&name), work.join(&name)).unwrap();
        }
    }
    let site = root.join("target/site-policy");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::create_dir_all(work.join("target")).unwrap();
    std::os::unix::fs::symlink(site, work.join("target/site-policy")).unwrap();
}

fn marker(i: usize) -> String {
    format!("@@readme-block {i}@@")
}

/// Runs a section's command blocks; the failures found, in words.
fn run_section(sec: &Section, runnable: &[Block]) -> Vec<String> {
    let dir = machine(&sec.title);
    let mut script = String::new();
    for (i, b) in runnable.iter().enumerate() {
        script.push_str(&format!("printf '\\n%s\\n' '{}'\n", marker(i)));
        script.push_str(&b.body);
    }
    let builds = runnable.iter().any(|b| b.body.contains(TEMPLATE));
    if builds {
        checkout(&dir.join("work"));
    }
    let home = dir.join("home");
    let path = format!(
        "{}:{}:{}",
        dir.join("bin").display(),
        home.join(".cargo/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    for (k, _) in std::env::vars() {
        // Nothing of the test's own machine: its store, cargo's, git's or XDG's directories.
        let own = ["FORGE_AUTHZ_", "CARGO_", "GIT_", "XDG_", "SSH_"];
        if own.iter().any(|p| k.starts_with(p)) {
            cmd.env_remove(k);
        }
    }
    cmd.args(["-euo", "pipefail", "-c", &script])
        .current_dir(dir.join("work"))
        .env("PATH", path)
        .env("HOME", &home)
        .env("README_BIN", env!("CARGO_BIN_EXE_forge-authz"))
        .env("README_CARGO", env!("CARGO"))
        .env("README_HOME", std::env::var_os("HOME").unwrap_or_default())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Alice")
        .env("GIT_AUTHOR_EMAIL", "alice@example.org")
        .env("GIT_COMMITTER_NAME", "Alice")
        .env("GIT_COMMITTER_EMAIL", "alice@example.org");
    let mut running = process::spawn(&mut cmd);
    // A section that builds the template compiles a crate (minutes on a cold cache).
    let limit = if builds { 1200 } else { 300 };
    let out = running.finish(Duration::from_secs(limit));
    // Whatever the section left running (its group outlives bash if a block failed).
    running.kill();
    let _ = std::fs::remove_dir_all(&dir);
    let Some(out) = out else {
        return vec![format!(
            "section `{}` did not finish within {limit} s",
            sec.title
        )];
    };
    let stdout = process::text(&out.stdout);
    let mut failures = Vec::new();
    if !out.status.success() {
        failures.push(format!(
            "section `{}` failed ({}):\n{}",
            sec.title,
            out.status,
            process::both(&out)
        ));
        return failures;
    }
    for (i, b) in runnable.iter().enumerate() {
        let Some(expected) = &b.expected else {
            continue;
        };
        let start = stdout.find(&marker(i)).map(|a| a + marker(i).len());
        let end = stdout.find(&marker(i + 1)).unwrap_or(stdout.len());
        let printed = start.map(|s| stdout[s..end].trim_end()).unwrap_or("");
        let got: Vec<&str> = printed.lines().collect();
        let want: Vec<&str> = expected.trim_end().lines().collect();
        let tail = got.len().checked_sub(want.len()).map(|s| &got[s..]);
        let same = tail.is_some_and(|t| t.iter().zip(&want).all(|(g, w)| matches(w, g)));
        if !same {
            failures.push(format!(
                "section `{}`, block {}: the README shows\n{}\nbut it printed\n{}",
                sec.title,
                i + 1,
                expected.trim_end(),
                printed
            ));
        }
    }
    failures
}

#[test]
fn every_command_block_of_the_readme_runs_as_printed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let mut failures = Vec::new();
    let mut ran = 0;
    for sec in sections(&readme) {
        let mut runnable = Vec::new();
        for b in sec.blocks.iter().filter(|b| b.lang == "sh") {
            match b.body.lines().next().and_then(|l| l.strip_prefix(SKIP)) {
                Some(why) => {
                    assert!(
                        why.contains("tests/") || why.contains(".ci/"),
                        "section `{}`: a block not run here names the test that covers it: {why}",
                        sec.title
                    );
                    eprintln!("README block not run here: `{}`:{why}", sec.title);
                }
                None => runnable.push(b.clone()),
            }
        }
        let runnable = with_postgres(&sec.title, runnable);
        if runnable.is_empty() {
            continue;
        }
        ran += runnable.len();
        failures.extend(run_section(&sec, &runnable));
    }
    assert!(ran >= 5, "the README's operator blocks were found ({ran})");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn output_patterns_match_what_varies_only() {
    // The comparison's own rule (module doc): `…` matches any text, nothing else does.
    assert!(matches("token … for alice", "token Gx0Ab for alice"));
    assert!(matches("…/world.json", "/tmp/x/world.json"));
    assert!(matches("exit 1", "exit 1"));
    assert!(!matches("exit 1", "exit 2"));
    assert!(!matches("a…b…c", "a-c-b"));
    assert!(!matches("ab…ba", "aba"));
    // JSON: members in either order, values still compared, `…` inside a string.
    assert!(matches(r#"{"a":1,"b":"x"}"#, r#"{"b":"x","a":1}"#));
    assert!(matches(
        r#"{"id":"…","n":[1,2]}"#,
        r#"{"n":[1,2],"id":"Gx0Ab"}"#
    ));
    assert!(!matches(r#"{"a":1,"b":"x"}"#, r#"{"b":"y","a":1}"#));
    assert!(!matches(r#"{"a":1}"#, r#"{"a":1,"b":2}"#));
    assert!(!matches(r#"{"n":[1,2]}"#, r#"{"n":[2,1]}"#));
}

/// GitHub's anchor for a heading: lower case, spaces to `-`, other punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn the_readmes_contents_links_lead_to_its_sections() {
    // README, the contents at its top: each `](#anchor)` is a heading's (outside fences).
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let mut fence = false;
    let mut anchors = Vec::new();
    for line in readme.lines() {
        if line.starts_with("```") {
            fence = !fence;
        } else if !fence && line.starts_with('#') {
            anchors.push(anchor(line.trim_start_matches('#').trim()));
        }
    }
    let links: Vec<&str> = readme
        .split("](#")
        .skip(1)
        .filter_map(|s| s.split(')').next())
        .collect();
    assert!(links.len() >= 10, "the README's contents: {links:?}");
    for link in links {
        assert!(
            anchors.iter().any(|a| a == link),
            "README links to #{link}, which no heading has"
        );
    }
    assert_eq!(anchor("The WIT contract (`wit/`)"), "the-wit-contract-wit");
}
