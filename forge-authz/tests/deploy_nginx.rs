//! Real nginx 1.22 in front of the real `forge-authz serve --forward-auth nginx`, with the
//! README's configuration (`docs/deploy/nginx.conf`) as written — only its ports and paths
//! replaced: `auth_request` to `/-/auth`, the ref advertisement served by real
//! `git http-backend` through real `fcgiwrap`, request bodies proxied to `serve`
//! (issue 20 item 2). Real `git clone`/`git push` through it see 200, 401 with a Basic
//! challenge, 403 and 404 as forge-authz decided them; nothing is a 500 and nginx's error
//! log stays empty.
//!
//! Needs `nginx` (Debian: nginx-light) and `fcgiwrap`; without them the test fails, unless
//! `FORGE_AUTHZ_SKIP_DEPLOY=1` (then `SKIPPED:` on stderr). nginx, fcgiwrap and serve each
//! run in a process group the test kills when it ends.
// Tests: a broken expectation is a panic that says what broke.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

#[path = "support/proxied.rs"]
mod proxied;

use std::process::Command;

use proxied::deploy::Daemon;
use proxied::{FcgiProxy, FcgiSite};

/// nginx with the README's site block (Debian's `nginx-light`).
const NGINX: FcgiProxy = FcgiProxy {
    program: ("/usr/sbin/nginx", "nginx-light"),
    family: "nginx",
    files: ("nginx.conf", "site.conf"),
    listen: ("listen 8080;", |port| format!("listen 127.0.0.1:{port};")),
    other_family: "X-Forwarded-Uri",
    start,
    record,
};

proxied::deployment_test!(
    issue20_item2_nginx_auth_request_with_fcgiwrap_as_the_readme_configures_it,
    |test| NGINX.run(test)
);

/// What the site block expects around it: Debian's fastcgi_params beside the main
/// configuration, and a main configuration of the test's own (its files, no daemon).
fn start(site: &FcgiSite) -> Daemon {
    let dir = &site.dir;
    std::fs::copy("/etc/nginx/fastcgi_params", dir.join("fastcgi_params")).unwrap();
    let d = dir.display();
    std::fs::write(
        dir.join("nginx.conf"),
        format!(
            "worker_processes 1;\nerror_log {d}/error.log warn;\npid {d}/nginx.pid;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n  \
             proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
             uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  include {d}/site.conf;\n}}\n"
        ),
    )
    .unwrap();
    Daemon::start(
        "nginx",
        Command::new(&site.proxy)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .args(["-g", "daemon off;"]),
        &dir.join("nginx.out"),
    )
}

/// Every request nginx logged (git's own included): no 5xx; its error log empty.
fn record(site: &FcgiSite, _: &Daemon) {
    let dir = &site.dir;
    let access = std::fs::read_to_string(dir.join("access.log")).unwrap();
    let errors: Vec<&str> = access
        .lines()
        .filter(|l| {
            l.split('"')
                .nth(2)
                .and_then(|rest| rest.split_whitespace().next())
                .is_some_and(|status| status.starts_with('5'))
        })
        .collect();
    assert!(
        access.lines().count() > 10 && errors.is_empty(),
        "nginx answered 5xx:\n{}\n(access log: {} lines)",
        errors.join("\n"),
        access.lines().count()
    );
    let error_log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
    assert!(
        error_log.trim().is_empty(),
        "nginx's error log is not empty:\n{error_log}"
    );
}
