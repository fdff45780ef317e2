//! Builds the policy component (`guest/`) for `wasm32-wasip2` so that `cargo run` and
//! `cargo test` on a fresh clone have a `.wasm` to load. The result's path becomes the
//! CLI's default policy (`FORGE_AUTHZ_BUILT_POLICY`).
//!
//! The nested cargo uses its own target directory (`target/guest`) so it never waits on
//! the lock of the build that runs this script. Set `FORGE_AUTHZ_SKIP_GUEST_BUILD=1` to
//! skip it (then pass `--policy` / `FORGE_AUTHZ_POLICY` at run time).

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest_dir.parent().map(PathBuf::from).unwrap_or_default();
    for p in ["guest/src", "guest/Cargo.toml", "wit", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(p).display());
    }
    println!("cargo:rerun-if-env-changed=FORGE_AUTHZ_SKIP_GUEST_BUILD");
    let target_dir = root.join("target").join("guest");
    let wasm = target_dir
        .join("wasm32-wasip2")
        .join("policy")
        .join("forge_authz_guest.wasm");
    println!(
        "cargo:rustc-env=FORGE_AUTHZ_BUILT_POLICY={}",
        wasm.display()
    );
    if std::env::var_os("FORGE_AUTHZ_SKIP_GUEST_BUILD").is_none() {
        build_guest(&root, &target_dir);
    }
    embed(&wasm);
}

/// Copy the built component into `OUT_DIR`, where the binary embeds it
/// (`policy::EMBEDDED_POLICY`), and publish its SHA-256 for `--version`. Without a built
/// component (guest build skipped), the binary embeds nothing and needs `--policy`.
fn embed(wasm: &std::path::Path) {
    use sha2::Digest as _;
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    let bytes = std::fs::read(wasm).unwrap_or_default();
    if let Err(e) = std::fs::write(out.join("forge_authz_policy.wasm"), &bytes) {
        println!("cargo:warning=could not embed the policy component: {e}");
        std::process::exit(1);
    }
    let digest = if bytes.is_empty() {
        "none".to_string()
    } else {
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    println!("cargo:rustc-env=FORGE_AUTHZ_EMBEDDED_DIGEST={digest}");
    println!("cargo:rerun-if-changed={}", wasm.display());
}

fn build_guest(root: &std::path::Path, target_dir: &std::path::Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args([
            "build",
            "-p",
            "forge-authz-guest",
            "--target",
            "wasm32-wasip2",
            "--profile",
            "policy",
        ])
        .arg("--target-dir")
        .arg(target_dir);
    // Do not pass this build's wrappers and flags (clippy, coverage) to the guest build.
    for var in [
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_RUSTFLAGS",
    ] {
        cmd.env_remove(var);
    }
    match cmd.status() {
        Ok(s) if s.success() => {}
        Ok(s) => {
            println!(
                "cargo:warning=building the policy component failed ({s}); is the target installed? run `rustup target add wasm32-wasip2`"
            );
            std::process::exit(1);
        }
        Err(e) => {
            println!("cargo:warning=could not run cargo to build the policy component: {e}");
            std::process::exit(1);
        }
    }
}
