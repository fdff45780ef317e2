//! The deployment configurations the README shows (`docs/deploy/*`), as test inputs: each
//! file must appear in README.md verbatim, inside a fenced block, and a test replaces only
//! the site-specific values the file's own header names (ports and paths). Use it with
//! `#[path = "support/deploy.rs"] mod deploy;`.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests: a broken expectation is a panic that says what broke"
)]

use std::path::PathBuf;

/// The workspace root.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `docs/deploy/<name>`, after checking that README.md quotes it whole: the fenced block
/// that holds it holds exactly the file (a README edited without the file, or the other
/// way round, fails here).
pub fn quoted_config(name: &str) -> String {
    let path = workspace().join("docs").join("deploy").join(name);
    let config =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(config.ends_with('\n'), "{name} must end with a newline");
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let mut in_fence = false;
    let mut block = String::new();
    let mut blocks = Vec::new();
    for line in readme.split_inclusive('\n') {
        if line.trim_start().starts_with("```") {
            if in_fence {
                blocks.push(std::mem::take(&mut block));
            }
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            block.push_str(line);
        }
    }
    assert!(
        blocks.contains(&config),
        "README.md does not quote docs/deploy/{name} verbatim in a fenced block: copy the file into the README (or the README's block into the file)"
    );
    config
}

/// Replace each site-specific value by the test's own; every value must occur (a renamed
/// placeholder fails loudly instead of leaving the README's path in the test's config).
pub fn substitute(config: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = config.to_string();
    for (from, to) in pairs {
        assert!(
            out.contains(from),
            "the configuration no longer holds `{from}`:\n{out}"
        );
        out = out.replace(from, to);
    }
    out
}
