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
        .join(GUEST_TARGET)
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
    embed_corpus(&root);
}

/// Write `OUT_DIR/corpus.rs`: the scenario corpus (`tests/scenarios/*.json`, sorted by
/// name) as `CORPUS: &[(file name, text)]`, which `forge-authz check` runs (the gate's
/// corpus ships with the binary).
fn embed_corpus(root: &std::path::Path) {
    let dir = root.join("tests").join("scenarios");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|x| x == "json"));
    files.sort();
    let mut code = String::from(
        "/// The scenario corpus: (file name, text).\npub static CORPUS: &[(&str, &str)] = &[\n",
    );
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        code.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            f.display().to_string()
        ));
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    if let Err(e) = std::fs::write(out.join("corpus.rs"), code) {
        println!("cargo:warning=could not embed the scenario corpus: {e}");
        std::process::exit(1);
    }
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

/// The target the policy component is built for.
const GUEST_TARGET: &str = "wasm32-wasip2";

/// Whether this toolchain has the standard library for `target` (rustc knows the target
/// either way; only an installed one has `libcore-*.rlib` in its target libdir). `None`
/// when rustc cannot be asked (then the build itself says what is wrong).
fn target_installed(target: &str) -> Option<bool> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc)
        .args(["--print", "target-libdir", "--target", target])
        .output()
        .ok()?;
    if !out.status.success() {
        return Some(false);
    }
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    Some(std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("libcore-"))
    }))
}

fn build_guest(root: &std::path::Path, target_dir: &std::path::Path) {
    // A toolchain without the target fails deep inside the first dependency the nested
    // build compiles ("can't find crate for `core`"): say the one command that fixes it.
    if target_installed(GUEST_TARGET) == Some(false) {
        println!(
            "cargo:warning=the {GUEST_TARGET} target is not installed for this toolchain: run `rustup target add {GUEST_TARGET}` (or set FORGE_AUTHZ_SKIP_GUEST_BUILD=1 and pass --policy)"
        );
        eprintln!(
            "error: the policy component needs the {GUEST_TARGET} target, which this toolchain lacks.\n\n    rustup target add {GUEST_TARGET}\n"
        );
        std::process::exit(1);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args([
            "build",
            "-p",
            "forge-authz-guest",
            "--target",
            GUEST_TARGET,
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
                "cargo:warning=building the policy component failed ({s}); is the target installed? run `rustup target add {GUEST_TARGET}`"
            );
            std::process::exit(1);
        }
        Err(e) => {
            println!("cargo:warning=could not run cargo to build the policy component: {e}");
            std::process::exit(1);
        }
    }
}
