//! Real git clients against `forge-authz serve` on loopback: clone, fetch and push decided
//! by the wasm policy, per-ref refusals, forward auth, hot swap under load, shadow mode.
//! Every test runs twice: over a SQLite store and over a real PostgreSQL server.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

#[path = "support/forge.rs"]
mod forge;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use forge::{bin, cli, create_token};
use forge_authz_host::serve::admin::AdminRequest;
use forge_authz_testkit::deploy::Daemon;
use forge_authz_testkit::git::git;
use forge_authz_testkit::pg;
use forge_authz_testkit::{Backend, both};

/// A forge on loopback: a database, bare repositories, a running server.
pub struct Forge {
    pub dir: PathBuf,
    pub db: String,
    pub repos: PathBuf,
    pub port: u16,
    server: Daemon,
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

const WORLD: &str = r#"{
  "keys": [{"id": "k1", "secret": "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"}],
  "signing_key": "k1",
  "users": [
    {"name": "alice"}, {"name": "bob"}, {"name": "carol"}
  ],
  "repositories": [
    {"owner": "alice", "name": "app", "collaborators": {"carol": "write"},
     "protected_refs": [{"pattern": "main", "push": "admins", "force_push": "nobody"}]},
    {"owner": "alice", "name": "secret", "private": true},
    {"owner": "bob", "name": "pub"}
  ]
}"#;

impl Forge {
    /// A forge over a fresh store (`None`: PostgreSQL skipped by `FORGE_AUTHZ_SKIP_PG=1`).
    pub fn start(name: &str, backend: Backend) -> Option<Forge> {
        let dir = forge_authz_testkit::scratch(&format!("forge-authz-git-{name}-{backend:?}-"));
        let home = dir.join("home");
        std::fs::create_dir_all(&home).unwrap();
        let world = dir.join("world.json");
        std::fs::write(&world, WORLD).unwrap();
        let db = match backend {
            Backend::Sqlite => dir.join("forge.db").display().to_string(),
            Backend::Postgres => pg::shared_or_skip(name)?.fresh_database(&format!("git_{name}")),
        };
        let out = cli(&[
            "init-db",
            "--db",
            db.as_str(),
            "--world",
            world.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let repos = dir.join("repos");
        for (o, n) in [("alice", "app"), ("alice", "secret"), ("bob", "pub")] {
            let readme = ("README".to_string(), format!("{o}/{n}\n").into_bytes());
            let (bare, work) = (repos.join(o).join(format!("{n}.git")), home.join("seed"));
            forge_authz_testkit::git::seed(&bare, &work, &home, &[readme]);
        }
        let port_file = dir.join("port");
        // Modules `reload` may load: the embedded one, a truncated one, a core module,
        // each signed by the trusted test signer (issue 23: refused by the module checks,
        // not for want of a signature).
        let modules = dir.join("modules");
        std::fs::create_dir_all(&modules).unwrap();
        let good = forge_authz_host::policy::EMBEDDED_POLICY;
        let signer = forge::signing::signer();
        signer.write_signed(&modules.join("good.wasm"), good, 1);
        signer.write_signed(&modules.join("broken.wasm"), &good[..good.len() / 3], 1);
        signer.write_signed(&modules.join("core.wasm"), b"\0asm\x01\0\0\0", 1);
        let mut server = Daemon::start(
            "serve",
            forge::signing::trusting(&mut Command::new(bin()))
                .args([
                    "serve",
                    "--db",
                    db.as_str(),
                    "--repos",
                    repos.to_str().unwrap(),
                ])
                .args([
                    "--listen",
                    "127.0.0.1:0",
                    "--port-file",
                    port_file.to_str().unwrap(),
                ])
                .args([
                    "--state",
                    dir.join("state").to_str().unwrap(),
                    "--workers",
                    "4",
                    "--forward-auth",
                    "traefik",
                    "--admin-socket",
                    dir.join("admin.sock").to_str().unwrap(),
                    "--modules",
                    modules.to_str().unwrap(),
                ]),
            &dir.join("server.log"),
        )
        .owning(&dir);
        let port = server.wait_port_file(&port_file);
        Some(Forge {
            dir,
            db,
            repos,
            port,
            server,
        })
    }

    /// One request on the admin socket.
    pub fn admin(&self, req: &AdminRequest) -> serde_json::Value {
        forge_authz_host::serve::admin::request(&self.dir.join("admin.sock"), req).unwrap()
    }

    pub fn token(&self, owner: &str, name: &str, scopes: &str, extra: &[&str]) -> String {
        create_token(&self.db, owner, name, scopes, extra)
    }

    pub fn url(&self, user: &str, secret: &str, repo: &str) -> String {
        if secret.is_empty() {
            format!("http://127.0.0.1:{}/{repo}.git", self.port)
        } else {
            format!("http://{user}:{secret}@127.0.0.1:{}/{repo}.git", self.port)
        }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.join("home")
    }

    pub fn clone(&self, url: &str, into: &str) -> Output {
        run(git(&self.home(), &self.home()).args(["clone", "-q", url, into]))
    }

    pub fn log(&self) -> String {
        self.server.log()
    }

    /// A raw HTTP request; returns status, headers (lowercased names) and body.
    pub fn http(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, Vec<(String, String)>, String) {
        forge_authz_testkit::http::http(self.port, method, path, headers, body.as_bytes()).parts()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

both!(clone_fetch_and_push_are_decided_by_the_policy);
fn clone_fetch_and_push_are_decided_by_the_policy(b: Backend) {
    // issue 5 (smart HTTP through the policy); reference §1.11-13, §2.8, §6.
    let Some(f) = Forge::start("http", b) else {
        return;
    };
    let home = f.home();
    let rw = f.token("alice", "rw", "write:repository", &[]);
    let ro = f.token("alice", "ro", "read:repository", &[]);
    let push_only = f.token("alice", "po", "repository:push", &[]);
    let bound = f.token("alice", "bound", "write:repository", &["--repo", "bob/pub"]);
    let carol = f.token("carol", "c", "write:repository", &[]);

    // Whether `user:secret` (none: `""`, `""`) clones `repo` into `into`.
    let clones = |user: &str, secret: &str, repo: &str, into: &str| {
        f.clone(&f.url(user, secret, repo), into).status.success()
    };
    // Anonymous clone of a public repository; a private one is refused without a prompt.
    assert!(clones("", "", "alice/app", "anon"));
    let o = f.clone(&f.url("", "", "alice/secret"), "anon-secret");
    assert!(!o.status.success());

    // A good token clones, fetches and pushes.
    let o = f.clone(&f.url("x-access-token", &rw, "alice/app"), "rw");
    assert!(o.status.success(), "{}", stderr(&o));
    let work = home.join("rw");
    // `git ARGS` in the clone.
    let in_work = |args: &[&str]| run(git(&work, &home).args(args));
    assert!(in_work(&["fetch", "-q", "origin"]).status.success());
    std::fs::write(work.join("f"), "1").unwrap();
    assert!(in_work(&["add", "f"]).status.success());
    assert!(in_work(&["commit", "-q", "-m", "one"]).status.success());
    let o = in_work(&["push", "origin", "HEAD:main"]);
    assert!(o.status.success(), "owner pushes main: {}", stderr(&o));
    assert!(clones("alice", &rw, "alice/secret", "rw-secret"));

    // Pull-only token: cannot push (403 with the reason shown by git).
    let o = in_work(&[
        "push",
        &f.url("x-access-token", &ro, "alice/app"),
        "HEAD:refs/heads/x",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("scope-missing"), "{}", stderr(&o));
    // Push-only token (Launchpad): cannot clone (a private repository, so git has to
    // present it: a public one it may clone anonymously).
    let o = f.clone(&f.url("x-access-token", &push_only, "alice/secret"), "po");
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("403") || stderr(&o).contains("scope-missing"),
        "{}",
        stderr(&o)
    );
    // Push-only token pushes (the advertisement needs no pull).
    let po = f.url("x-access-token", &push_only, "alice/app");
    let o = in_work(&["push", &po, "HEAD:refs/heads/from-push-only"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The credential cases use the private repository: git presents credentials only after
    // a 401, and a public repository it would clone anonymously.
    // Wrong repository: 401, no prompt.
    assert!(!clones("x-access-token", &bound, "alice/secret", "bound"));
    // Forged token: same as any bad credential.
    let mut forged = rw.clone();
    forged.replace_range(30..31, if &forged[30..31] == "A" { "B" } else { "A" });
    assert!(!clones("x-access-token", &forged, "alice/secret", "forged"));
    // Expired token: move its expiry into the past in the store.
    let exp = f.token("alice", "exp", "read:repository", &[]);
    assert_eq!(
        sql(&f.db, "UPDATE tokens SET expires = 1000 WHERE name = 'exp'"),
        1
    );
    assert!(!clones("alice", &exp, "alice/secret", "exp"));

    // Protected main: a write collaborator is refused on main, allowed on a branch, and the
    // refused ref's reason reaches the user.
    std::fs::write(work.join("f"), "2").unwrap();
    assert!(in_work(&["commit", "-q", "-am", "two"]).status.success());
    let as_carol = f.url("carol", &carol, "alice/app");
    let o = in_work(&["push", &as_carol, "HEAD:main", "HEAD:refs/heads/carol"]);
    assert!(!o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("ref-protected"), "{err}");
    assert!(
        err.contains("[new branch]") && err.contains("carol"),
        "the other ref follows: {err}"
    );
    // An atomic push with one refused ref lands nothing (issue 9: the proc-receive hook
    // applies refs itself, atomically when asked).
    let atomic = [
        "push",
        "--atomic",
        &as_carol,
        "HEAD:main",
        "HEAD:refs/heads/carol-atomic",
    ];
    let o = in_work(&atomic);
    assert!(!o.status.success(), "{}", stderr(&o));
    let refs = in_work(&["ls-remote", &as_carol]);
    assert!(
        !String::from_utf8_lossy(&refs.stdout).contains("carol-atomic"),
        "an atomic push with a refused ref landed a ref"
    );
    // Force-push to main is refused even for the owner.
    let o = in_work(&["push", "--force", "origin", "HEAD~2:main"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("force-push-protected"),
        "{}",
        stderr(&o)
    );

    // The log names reasons and never a secret (the records of answered requests may
    // come up to 10 ms after the answers: wait for them).
    let reasons = [
        "public-read",
        "granted",
        "scope-missing",
        "token-not-bound",
        "token-invalid",
        "token-expired",
        "ref-protected",
    ];
    let logs_every = |log: &str| reasons.iter().all(|r| log.contains(&format!("reason={r}")));
    let log = forge::settled_log(|| f.log(), logs_every);
    for reason in reasons {
        assert!(
            log.contains(&format!("reason={reason}")),
            "log lacks {reason}:\n{log}"
        );
    }
    for secret in [&rw, &ro, &push_only, &bound, &carol, &forged, &exp] {
        assert!(!log.contains(&secret[9..57]), "a secret reached the log");
    }
}

/// Run one SQL statement against the store (test-side time travel).
fn sql(db: &str, sql: &str) -> u64 {
    let mut store = forge_authz_host::store::Store::open(db).unwrap();
    store.execute_sql(sql).unwrap()
}

both!(forward_auth_answers_like_the_server);
fn forward_auth_answers_like_the_server(b: Backend) {
    // issue 5 (nginx auth_request / Traefik forwardAuth).
    let Some(f) = Forge::start("fwd", b) else {
        return;
    };
    let rw = f.token("alice", "rw", "write:repository", &[]);
    let basic = |u: &str, p: &str| {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    };
    let auth = |uri: &str, method: &str, authz: Option<&str>| {
        let mut h = vec![("X-Forwarded-Uri", uri), ("X-Forwarded-Method", method)];
        if let Some(a) = authz {
            h.push(("Authorization", a));
        }
        f.http("GET", "/-/auth", &h, "")
    };
    let header =
        |h: &[(String, String)], k: &str| h.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let (s, h, _) = auth(
        "/alice/app.git/info/refs?service=git-receive-pack",
        "GET",
        Some(&basic("alice", &rw)),
    );
    assert_eq!(s, 200);
    assert_eq!(
        header(&h, "x-forge-authz-reason").as_deref(),
        Some("granted")
    );
    assert_eq!(header(&h, "x-forge-authz-user").as_deref(), Some("alice"));
    let (s, h, _) = auth(
        "/alice/secret.git/info/refs?service=git-upload-pack",
        "GET",
        None,
    );
    assert_eq!(s, 401);
    assert!(header(&h, "www-authenticate").unwrap().starts_with("Basic"));
    let (s, _, body) = auth(
        "/alice/nothing.git/git-upload-pack",
        "POST",
        Some(&format!("Bearer {rw}")),
    );
    assert_eq!(s, 404);
    assert!(body.contains("repository-not-found"));
    // This server is configured for Traefik: nginx's header names are another family, and
    // a request carrying them is refused (a client could add them itself, issue 9).
    let (s, _, _) = f.http(
        "GET",
        "/-/auth",
        &[
            (
                "X-Original-URI",
                "/bob/pub.git/info/refs?service=git-upload-pack",
            ),
            ("X-Original-Method", "GET"),
        ],
        "",
    );
    assert_eq!(s, 400);
    // The identity header is the verified owner, not the Basic username the client sent.
    for username in ["git", "token", "ALICE"] {
        let (s, h, _) = auth(
            "/alice/app.git/info/refs?service=git-upload-pack",
            "GET",
            Some(&basic(username, &rw)),
        );
        assert_eq!(s, 200);
        assert_eq!(header(&h, "x-forge-authz-user").as_deref(), Some("alice"));
    }
    let (s, _, _) = auth("/not/a/git/url", "GET", None);
    assert_eq!(s, 400);
}

both!(hot_swap_under_load_never_fails_or_wrongly_allows);
fn hot_swap_under_load_never_fails_or_wrongly_allows(b: Backend) {
    // issue 5: N clients decide while the module is swapped M times, broken modules
    // included; every answer is the expected one, and refused modules never serve.
    let Some(f) = Forge::start("swap", b) else {
        return;
    };
    let rw = f.token("alice", "rw", "write:repository", &[]);
    let mut forged = rw.clone();
    forged.replace_range(30..31, if &forged[30..31] == "A" { "B" } else { "A" });
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let port = f.port;
    let clients: Vec<_> = (0..4)
        .map(|i| {
            let (rw, forged, stop) = (rw.clone(), forged.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0u32;
                let mut wrong = Vec::new();
                let start = Instant::now();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && start.elapsed() < Duration::from_secs(120) {
                    let (token, want) = if (n + i).is_multiple_of(2) { (&rw, 200) } else { (&forged, 401) };
                    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                    write!(
                        s,
                        "GET /-/auth HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Forwarded-Uri: /alice/app.git/info/refs?service=git-upload-pack\r\nX-Forwarded-Method: GET\r\nAuthorization: Bearer {token}\r\n\r\n"
                    )
                    .unwrap();
                    let mut resp = String::new();
                    s.read_to_string(&mut resp).unwrap();
                    let status: u16 = resp.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
                    if status != want {
                        wrong.push(format!("want {want} got {status}"));
                    }
                    n += 1;
                }
                (n, wrong)
            })
        })
        .collect();
    let mut published = 0;
    let mut refused = 0;
    for round in 0..8 {
        let module = match round % 4 {
            0 | 2 => "good.wasm",
            1 => "broken.wasm",
            _ => "core.wasm",
        };
        let body = f.admin(&AdminRequest::Reload {
            module: Some(module.into()),
        });
        if module == "good.wasm" {
            assert!(
                body.get("generation").is_some() && body.get("refused").is_none(),
                "{body}"
            );
            published += 1;
        } else {
            assert!(
                body.get("refused").is_some(),
                "a broken module must be refused: {body}"
            );
            refused += 1;
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = 0;
    for c in clients {
        let (n, wrong) = c.join().unwrap();
        assert!(wrong.is_empty(), "{wrong:?}");
        total += n;
    }
    assert!(total > 20, "only {total} requests ran during the swaps");
    let v = f.admin(&AdminRequest::Status);
    assert_eq!(v["generation"].as_u64(), Some(1 + published));
    assert_eq!(v["refused_reloads"].as_u64(), Some(refused));
    assert_eq!(v["policy_failures"].as_u64(), Some(0));
}

both!(shadow_mode_compares_and_promotes);
fn shadow_mode_compares_and_promotes(b: Backend) {
    // issue 5: a candidate decides beside the live module; the live decision is enforced.
    let Some(f) = Forge::start("shadow", b) else {
        return;
    };
    let rw = f.token("alice", "rw", "write:repository", &[]);
    let sock = f.dir.join("admin.sock");
    let v = f.admin(&AdminRequest::Shadow {
        module: Some("nonexistent.wasm".into()),
    });
    assert!(
        v.get("refused").is_some(),
        "an unloadable candidate is refused"
    );
    let o = cli(&[
        "shadow",
        "--admin-socket",
        sock.to_str().unwrap(),
        "--module",
        "good.wasm",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    for _ in 0..3 {
        let (st, _, _) = f.http(
            "GET",
            "/-/auth",
            &[
                (
                    "X-Forwarded-Uri",
                    "/alice/app.git/info/refs?service=git-upload-pack",
                ),
                ("Authorization", &format!("Bearer {rw}")),
            ],
            "",
        );
        assert_eq!(st, 200);
    }
    let v = f.admin(&AdminRequest::Status);
    assert_eq!(v["shadow_requests"].as_u64(), Some(3));
    assert_eq!(
        v["shadow_differences"].as_u64(),
        Some(0),
        "the same module never differs"
    );
    let o = cli(&["promote", "--admin-socket", sock.to_str().unwrap()]);
    assert!(o.status.success());
    let v = f.admin(&AdminRequest::Status);
    assert_eq!(v["generation"].as_u64(), Some(2));
    assert!(v["shadow"].is_null());
    // The admin channel is the Unix socket: no HTTP path reaches it (issue 9).
    for path in ["/-/admin/status", "/-/admin/reload", "/-/admin/nope"] {
        let (s, _, _) = f.http("GET", path, &[], "");
        assert_eq!(s, 404);
    }
}
