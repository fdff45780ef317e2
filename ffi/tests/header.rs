//! The checked-in C header is the one cbindgen generates from `src/lib.rs` now.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[test]
fn the_checked_in_header_is_current() {
    let generated = std::fs::read_to_string(concat!(env!("OUT_DIR"), "/forge_authz.h"));
    let generated = match generated {
        Ok(g) => g,
        // build.rs runs cbindgen; a missing file means it failed, which it reports.
        Err(e) => panic!("no generated header ({e}): see the build script's warnings"),
    };
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/include/forge_authz.h"
    ))
    .unwrap();
    assert!(
        generated == committed,
        "ffi/include/forge_authz.h is stale: run `FORGE_AUTHZ_WRITE_HEADER=1 cargo build -p forge-authz-ffi`"
    );
}
