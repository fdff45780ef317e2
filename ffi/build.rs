//! Generate the C header from the crate's `extern "C"` items (cbindgen) into `OUT_DIR`;
//! `FORGE_AUTHZ_WRITE_HEADER=1` also writes it to `include/forge_authz.h` (the copy the Go
//! package and C callers include; `tests/header.rs` checks it is current).
fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=FORGE_AUTHZ_WRITE_HEADER");
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let out = std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into());
    // A stale header must not survive a failed generation: the header test then fails.
    let _ = std::fs::remove_file(format!("{out}/forge_authz.h"));
    let config = match cbindgen::Config::from_file(format!("{dir}/cbindgen.toml")) {
        Ok(c) => c,
        Err(e) => {
            println!("cargo:warning=cbindgen.toml: {e}");
            return;
        }
    };
    match cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
    {
        Ok(bindings) => {
            bindings.write_to_file(format!("{out}/forge_authz.h"));
            if std::env::var_os("FORGE_AUTHZ_WRITE_HEADER").is_some() {
                bindings.write_to_file(format!("{dir}/include/forge_authz.h"));
            }
        }
        Err(e) => println!("cargo:warning=cbindgen: {e}"),
    }
}
