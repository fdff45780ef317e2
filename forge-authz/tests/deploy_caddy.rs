//! Real Caddy 2.6 in front of the real `forge-authz serve --forward-auth caddy`, with the
//! README's configuration (`docs/deploy/Caddyfile`) as written — only its site address,
//! ports and paths replaced: `forward_auth` to `/-/auth`, the ref advertisement served by
//! real `git http-backend` through real `fcgiwrap` (Caddy's fastcgi transport), request
//! bodies proxied to `serve` (issue 20 item 2). Real `git clone`/`git push` through it see
//! 200, 401 with a Basic challenge, 403 and 404 as forge-authz decided them, and no 5xx.
//!
//! Needs `caddy` and `fcgiwrap`; without them the test fails, unless
//! `FORGE_AUTHZ_SKIP_DEPLOY=1` (then `SKIPPED:` on stderr). Caddy runs with its admin API
//! off and its state in the test's directory; Caddy, fcgiwrap and serve each run in a
//! process group the test kills when it ends.
// Tests: a broken expectation is a panic that says what broke.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

#[path = "support/proxied.rs"]
mod proxied;

use std::process::Command;

use proxied::deploy::Daemon;
use proxied::{FcgiProxy, FcgiSite};

/// Caddy with the README's site (Debian's `caddy`).
const CADDY: FcgiProxy = FcgiProxy {
    program: ("/usr/bin/caddy", "caddy"),
    family: "caddy",
    files: ("Caddyfile", "site.caddy"),
    listen: ("http://:8080", |port| format!("http://127.0.0.1:{port}")),
    other_family: "X-Original-URI",
    start,
    record,
};

proxied::deployment_test!(
    issue20_item2_caddy_forward_auth_with_fcgiwrap_as_the_readme_configures_it,
    |test| CADDY.run(test)
);

/// The test's global options: no admin API (its fixed port would collide between tests),
/// no automatic HTTPS, state in the test's directory, loopback only.
fn start(site: &FcgiSite) -> Daemon {
    let dir = &site.dir;
    let d = dir.display();
    std::fs::write(
        dir.join("Caddyfile"),
        format!(
            "{{\n\tadmin off\n\tauto_https off\n\tstorage file_system {d}/data\n\tdefault_bind 127.0.0.1\n}}\nimport {d}/site.caddy\n"
        ),
    )
    .unwrap();
    Daemon::start(
        "caddy",
        Command::new(&site.proxy)
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(dir.join("Caddyfile"))
            .env("HOME", dir)
            .env("XDG_DATA_HOME", dir.join("xdg"))
            .env("XDG_CONFIG_HOME", dir.join("xdg")),
        &dir.join("caddy.log"),
    )
}

/// Caddy logged no error.
fn record(_: &FcgiSite, proxy: &Daemon) {
    assert!(
        !proxy.log().contains("\"level\":\"error\""),
        "Caddy logged errors:\n{}",
        proxy.log()
    );
}
