//! `/metrics` of the real `forge-authz serve` on loopback: served only on the separate
//! `--metrics-listen` listener (never on the git listener), in the Prometheus text format,
//! with the decision counters, histograms, module info and swap counters moving as
//! requests are decided and modules swapped.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

#[path = "support/signing.rs"]
mod signing;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use forge_authz_host::serve::admin::AdminRequest;
use forge_authz_testkit::deploy::Daemon;
use forge_authz_testkit::git::git;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_forge-authz"))
}

use forge_authz_testkit::ALICE_APP_AND_SECRET as WORLD;

struct Server {
    dir: PathBuf,
    /// `serve`: stopped, and `dir` removed, when the test is done.
    _serve: Daemon,
    port: u16,
    metrics_port: u16,
}

/// Runs `cmd`, which must succeed.
fn ok(cmd: &mut Command) {
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

impl Server {
    fn start() -> Server {
        let dir = forge_authz_testkit::scratch("forge-authz-metrics-");
        let home = dir.join("home");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(dir.join("world.json"), WORLD).unwrap();
        let db = dir.join("forge.db");
        ok(Command::new(bin()).args([
            "init-db",
            "--db",
            db.to_str().unwrap(),
            "--world",
            dir.join("world.json").to_str().unwrap(),
        ]));
        let repos = dir.join("repos");
        for (owner, name) in [("alice", "app"), ("alice", "secret")] {
            let readme = (
                "README".to_string(),
                format!("{owner}/{name}\n").into_bytes(),
            );
            let bare = repos.join(owner).join(format!("{name}.git"));
            forge_authz_testkit::git::seed(&bare, &home.join("seed"), &home, &[readme]);
        }
        let modules = dir.join("modules");
        std::fs::create_dir_all(&modules).unwrap();
        let good = forge_authz_host::policy::EMBEDDED_POLICY;
        // Signed by the trusted test signer (issue 23): the broken one is refused by the
        // module checks.
        let signer = signing::signer();
        signer.write_signed(&modules.join("good.wasm"), good, 1);
        signer.write_signed(&modules.join("broken.wasm"), &good[..good.len() / 3], 1);
        let (port_file, metrics_port_file) = (dir.join("port"), dir.join("metrics-port"));
        let mut serve = Daemon::start(
            "serve",
            signing::trusting(&mut Command::new(bin()))
                .args(["serve", "--db", db.to_str().unwrap()])
                .args(["--repos", repos.to_str().unwrap()])
                .args(["--listen", "127.0.0.1:0"])
                .args(["--port-file", port_file.to_str().unwrap()])
                .args(["--metrics-listen", "127.0.0.1:0"])
                .args(["--metrics-port-file", metrics_port_file.to_str().unwrap()])
                .args(["--state", dir.join("state").to_str().unwrap()])
                .args(["--admin-socket", dir.join("admin.sock").to_str().unwrap()])
                .args(["--modules", modules.to_str().unwrap()])
                .args(["--forward-auth", "traefik", "--workers", "2"]),
            &dir.join("server.log"),
        )
        .owning(&dir);
        // The git port is written last: once it is there, the metrics port is too.
        let port = serve.wait_port_file(&port_file);
        let metrics_port = serve.wait_port_file(&metrics_port_file);
        Server {
            dir,
            _serve: serve,
            port,
            metrics_port,
        }
    }

    fn admin(&self, req: &AdminRequest) -> serde_json::Value {
        forge_authz_host::serve::admin::request(&self.dir.join("admin.sock"), req).unwrap()
    }

    /// Anonymous forward-auth question about a git request; (status, reason header).
    fn auth(&self, method: &str, uri: &str) -> (u16, String) {
        let (status, headers, _) = http(
            self.port,
            "GET",
            "/-/auth",
            &[("X-Forwarded-Method", method), ("X-Forwarded-Uri", uri)],
        );
        let reason = headers
            .iter()
            .find(|(k, _)| k == "x-forge-authz-reason")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        (status, reason)
    }
}

/// A raw HTTP/1.1 request; status, headers (lowercased names), body.
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, String) {
    forge_authz_testkit::http::http(port, method, path, headers, b"").parts()
}

/// A scrape: every sample by its full series (`name{labels}`). Every line must be a
/// `# HELP`/`# TYPE` comment or `series value`.
fn scrape(port: u16) -> BTreeMap<String, f64> {
    let (status, headers, body) = http(port, "GET", "/metrics", &[]);
    assert_eq!(status, 200, "{body}");
    let ct = headers
        .iter()
        .find(|(k, _)| k == "content-type")
        .map(|(_, v)| v.as_str());
    assert_eq!(ct, Some("text/plain; version=0.0.4; charset=utf-8"));
    let mut samples = BTreeMap::new();
    for line in body.lines() {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample: {line:?}"));
        let name_ok = series
            .split('{')
            .next()
            .is_some_and(|n| n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        assert!(name_ok, "bad series {series:?}");
        assert!(
            !series.contains('{') || series.ends_with('}'),
            "bad labels {series:?}"
        );
        let v = if value == "+Inf" {
            f64::INFINITY
        } else {
            value
                .parse::<f64>()
                .unwrap_or_else(|e| panic!("{line:?}: {e}"))
        };
        assert!(
            samples.insert(series.to_string(), v).is_none(),
            "duplicate series {series}"
        );
    }
    samples
}

fn get(m: &BTreeMap<String, f64>, series: &str) -> f64 {
    *m.get(series)
        .unwrap_or_else(|| panic!("no series {series} in {m:#?}"))
}

/// Scrape until `ready` holds (the request histogram is written when a response body is
/// dropped, a moment after the client has read it), at most 10 s.
fn scrape_until(
    port: u16,
    ready: impl Fn(&BTreeMap<String, f64>) -> bool,
) -> BTreeMap<String, f64> {
    let start = Instant::now();
    loop {
        let m = scrape(port);
        if ready(&m) || start.elapsed() > Duration::from_secs(10) {
            return m;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn decisions(reason: &str, status: u16, allow: bool) -> String {
    format!(
        "forge_authz_decisions_total{{reason=\"{reason}\",status=\"{status}\",allow=\"{allow}\"}}"
    )
}

#[test]
fn metrics_are_served_on_their_own_listener_and_move_with_decisions() {
    let srv = Server::start();

    // Nothing decided yet: the counters exist at zero, the module is generation 1.
    let m = scrape(srv.metrics_port);
    assert_eq!(get(&m, "forge_authz_requests_total"), 0.0);
    assert_eq!(get(&m, "forge_authz_decision_duration_seconds_count"), 0.0);
    let digest = forge_authz_host::policy::EMBEDDED_POLICY_DIGEST;
    assert_eq!(
        get(
            &m,
            &format!("forge_authz_module_info{{sha256=\"{digest}\",generation=\"1\"}}")
        ),
        1.0
    );
    assert_eq!(get(&m, "forge_authz_module_generation"), 1.0);
    assert!(
        !m.keys()
            .any(|k| k.starts_with("forge_authz_decisions_total")),
        "only decisions seen are written"
    );

    // Not on the git listener, and nothing else on the metrics listener.
    let (status, _, _) = http(srv.port, "GET", "/metrics", &[]);
    assert_eq!(
        status, 404,
        "/metrics must not be served on the git listener"
    );
    for (method, path) in [("POST", "/metrics"), ("GET", "/"), ("GET", "/metrics/x")] {
        let (status, _, _) = http(srv.metrics_port, method, path, &[]);
        assert_eq!(status, 404, "{method} {path} on the metrics listener");
    }

    // An allowed anonymous clone of a public repository (info/refs + upload-pack).
    let home = srv.dir.join("home");
    let url = format!("http://127.0.0.1:{}/alice/app.git", srv.port);
    ok(git(&home, &home).args(["clone", "-q", &url, "app"]));
    assert!(home.join("app/README").exists());
    // Forward auth: one allowed, two denied.
    let (s, r) = srv.auth("GET", "/alice/app.git/info/refs?service=git-upload-pack");
    assert_eq!((s, r.as_str()), (200, "public-read"));
    let (s_push, r_push) = srv.auth("POST", "/alice/app.git/git-receive-pack");
    assert!(s_push >= 400, "anonymous push refused: {s_push} {r_push}");
    let (s_secret, r_secret) =
        srv.auth("GET", "/alice/secret.git/info/refs?service=git-upload-pack");
    assert!(
        s_secret >= 400,
        "private repository refused: {s_secret} {r_secret}"
    );
    // A denied git request on the git listener.
    let (s_git, h_git, _) = http(
        srv.port,
        "GET",
        "/alice/secret.git/info/refs?service=git-upload-pack",
        &[],
    );
    assert_eq!(s_git, s_secret);
    assert!(h_git.contains(&("x-forge-authz-reason".into(), r_secret.clone())));

    let m = scrape_until(srv.metrics_port, |m| {
        m.get("forge_authz_http_request_duration_seconds_count{route=\"auth\"}") == Some(&3.0)
            && m.get("forge_authz_http_request_duration_seconds_count{route=\"git\"}")
                .is_some_and(|n| *n >= 3.0)
    });
    let public = get(&m, &decisions("public-read", 200, true));
    assert!(public >= 3.0, "clone (2+) and one forward auth: {public}");
    let mut denied: BTreeMap<(String, u16), f64> = BTreeMap::new();
    *denied.entry((r_push, s_push)).or_default() += 1.0;
    *denied.entry((r_secret, s_secret)).or_default() += 2.0;
    for ((reason, status), n) in &denied {
        assert_eq!(get(&m, &decisions(reason, *status, false)), *n);
    }
    let total = get(&m, "forge_authz_requests_total");
    let by_reason: f64 = m
        .iter()
        .filter(|(k, _)| k.starts_with("forge_authz_decisions_total{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(by_reason, total);
    assert_eq!(get(&m, "forge_authz_allowed_total"), public);
    assert_eq!(get(&m, "forge_authz_denied_total"), 3.0);
    assert_eq!(total, public + 3.0);
    assert_eq!(get(&m, "forge_authz_policy_failures_total"), 0.0);
    assert_eq!(
        get(&m, "forge_authz_decision_duration_seconds_count"),
        total
    );
    assert_eq!(
        get(
            &m,
            "forge_authz_decision_duration_seconds_bucket{le=\"+Inf\"}"
        ),
        total
    );
    assert!(get(&m, "forge_authz_decision_duration_seconds_sum") > 0.0);
    assert_eq!(
        get(
            &m,
            "forge_authz_http_request_duration_seconds_count{route=\"auth\"}"
        ),
        3.0
    );
    // The `/metrics` probe on the git listener was the one `other` request.
    assert_eq!(
        get(
            &m,
            "forge_authz_http_request_duration_seconds_count{route=\"other\"}"
        ),
        1.0
    );
    // The last bucket is the count.
    assert_eq!(
        get(
            &m,
            "forge_authz_http_request_duration_seconds_bucket{route=\"git\",le=\"+Inf\"}"
        ),
        get(
            &m,
            "forge_authz_http_request_duration_seconds_count{route=\"git\"}"
        )
    );
    assert_eq!(
        get(
            &m,
            "forge_authz_refused_connections_total{listener=\"git\"}"
        ),
        0.0
    );
    // Every decision read its facts from the store.
    assert!(get(&m, "forge_authz_store_query_duration_seconds_count") >= 5.0);

    // Swaps: one published, one refused; shadow requests counted.
    assert!(
        srv.admin(&AdminRequest::Reload {
            module: Some("good.wasm".into())
        })
        .get("generation")
        .is_some()
    );
    assert!(
        srv.admin(&AdminRequest::Reload {
            module: Some("broken.wasm".into())
        })
        .get("refused")
        .is_some()
    );
    assert!(
        srv.admin(&AdminRequest::Shadow {
            module: Some("good.wasm".into())
        })
        .get("shadow_generation")
        .is_some()
    );
    let (s, _) = srv.auth("GET", "/alice/app.git/info/refs?service=git-upload-pack");
    assert_eq!(s, 200);
    let m = scrape(srv.metrics_port);
    assert_eq!(get(&m, "forge_authz_module_swaps_total"), 1.0);
    assert_eq!(get(&m, "forge_authz_module_swaps_refused_total"), 1.0);
    assert_eq!(get(&m, "forge_authz_module_generation"), 2.0);
    assert_eq!(
        get(
            &m,
            &format!("forge_authz_module_info{{sha256=\"{digest}\",generation=\"2\"}}")
        ),
        1.0
    );
    assert_eq!(
        get(
            &m,
            &format!("forge_authz_shadow_module_info{{sha256=\"{digest}\",generation=\"1\"}}")
        ),
        1.0
    );
    assert_eq!(get(&m, "forge_authz_shadow_requests_total"), 1.0);
    assert_eq!(get(&m, "forge_authz_shadow_differences_total"), 0.0);
    assert_eq!(get(&m, &decisions("public-read", 200, true)), public + 1.0);
}
