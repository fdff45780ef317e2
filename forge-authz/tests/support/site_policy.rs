//! The template site policy (`examples/site-policy/`, README "Writing your own policy")
//! built as a user builds it: its own crate, compiled to a wasm32-wasip2 component with
//! cargo, into its own target directory (`target/site-policy`, so it never waits on or
//! disturbs the workspace's build). Use it with
//! `#[path = "support/site_policy.rs"] mod site_policy;`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The template crate's directory.
pub fn crate_dir() -> PathBuf {
    root().join("examples/site-policy")
}

/// Build the template once per test process (cargo's lock serialises processes) and
/// return the component's bytes. A build that fails is a test failure: the template is
/// shipped and must build.
pub fn build() -> &'static [u8] {
    static BUILT: OnceLock<Vec<u8>> = OnceLock::new();
    BUILT.get_or_init(|| {
        let target = root().join("target/site-policy");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .arg("build")
            .arg("--manifest-path")
            .arg(crate_dir().join("Cargo.toml"))
            .args(["--target", "wasm32-wasip2", "--release", "--target-dir"])
            .arg(&target)
            .output()
            .unwrap();
        let said = forge_authz_testkit::process::both(&out);
        assert!(
            out.status.success(),
            "building examples/site-policy: {said}"
        );
        let wasm = target.join("wasm32-wasip2/release/site_policy.wasm");
        std::fs::read(&wasm).unwrap_or_else(|e| panic!("{}: {e}", wasm.display()))
    })
}
