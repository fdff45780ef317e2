//! Request cost through `forge-authz serve` as the forge grows (issue 10): forward-auth
//! and git `info/refs` requests at 0, 10,000, 100,000 and 1,000,000 repositories (with a
//! user per ten repositories), on SQLite and on PostgreSQL.
//!
//! ```text
//! cargo bench -p forge-authz --bench serve_scale                     # SQLite and PostgreSQL
//! cargo bench -p forge-authz --bench serve_scale -- --sizes 0,10000 --backends sqlite
//! ```
//!
//! For each backend and size: a fresh store, the sample world, the generated users and
//! repositories through the bulk importer, a read token for alice; then the release
//! `serve` binary on loopback, driven by client threads over keep-alive connections for
//! a fixed time per case. Prints median, p99 and requests per second per case, and a
//! Markdown table (for BENCHMARKS.md). PostgreSQL is a private server started for the run
//! (`testkit/src/pg.rs`); without its binaries the PostgreSQL rows are reported as
//! skipped, never as figures.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic, missing_docs)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use forge_authz_host::cli::sample_world;
use forge_authz_host::lifecycle::{self, Actor, CreateArgs};
use forge_authz_host::policy::{Limits, PolicyModule, default_policy_path};
use forge_authz_host::store::{Location, Store, bulk};
use forge_authz_testkit::deploy::Daemon;

mod support;

struct Args {
    sizes: Vec<u64>,
    backends: Vec<String>,
    seconds: f64,
    clients: usize,
}

fn args() -> Args {
    let mut a = Args {
        sizes: vec![0, 10_000, 100_000, 1_000_000],
        backends: vec!["sqlite".into(), "postgres".into()],
        seconds: 3.0,
        clients: 2,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().cloned().unwrap_or_default();
        match flag.as_str() {
            "--sizes" => a.sizes = value().split(',').map(|s| s.parse().unwrap()).collect(),
            "--backends" => a.backends = value().split(',').map(String::from).collect(),
            "--seconds" => a.seconds = value().parse().unwrap(),
            "--clients" => a.clients = value().parse().unwrap(),
            _ => {} // `cargo bench` passes `--bench`
        }
    }
    a
}

/// Bulk-imports JSON lines of `kind`, in batches of 10,000.
fn import(store: &mut Store, kind: bulk::Kind, text: &str) {
    let batch = 10_000;
    bulk::import(
        store,
        kind,
        bulk::Format::Jsonl,
        text.as_bytes(),
        batch,
        0,
        |_| {},
    )
    .unwrap();
}

/// Fill a store: the sample world, `repos / 10` users, `repos` repositories, a token.
fn fill(location: &Location, repos: u64) -> String {
    let mut store = Store::create(location).unwrap();
    let mut world = sample_world().unwrap();
    world.now = None;
    store.import_world(&world).unwrap();
    let users = support::users_for(repos);
    let started = Instant::now();
    if users > 0 {
        import(&mut store, bulk::Kind::Users, &support::users_jsonl(users));
    }
    if repos > 0 {
        import(
            &mut store,
            bulk::Kind::Repositories,
            &support::repos_jsonl(repos),
        );
    }
    eprintln!(
        "  filled {repos} repositories, {users} users in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let module = PolicyModule::load(&default_policy_path(), Limits::default()).unwrap();
    let mut policy = module
        .authorizer(store.settings().unwrap().config)
        .unwrap()
        .unwrap();
    let now = forge_authz_host::world::system_now();
    let (secret, _) = lifecycle::create(
        &mut policy,
        &mut store,
        &CreateArgs {
            owner: "alice".into(),
            name: "bench".into(),
            scopes: vec!["read:repository".into()],
            repositories: vec![],
            owners: vec![],
            expires: Some(now + 86_400),
        },
        &Actor::session("alice", None, now),
    )
    .unwrap();
    secret
}

/// `serve` on loopback over `db` (Traefik's forward-auth headers), with
/// `dir/repos/alice/app.git` to serve: the server (killed when dropped) and its port.
fn serve(dir: &Path, db: &str) -> (Daemon, u16) {
    let bin = Path::new(env!("CARGO_BIN_EXE_forge-authz"));
    support::serve(bin, dir, db, &["--forward-auth", "traefik"])
}

/// One keep-alive connection: send `request`, read one response (status and body).
fn exchange(conn: &mut BufReader<TcpStream>, request: &[u8]) -> u16 {
    conn.get_mut().write_all(request).unwrap();
    let mut line = String::new();
    conn.read_line(&mut line).unwrap();
    let status: u16 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut length = None;
    let mut chunked = false;
    loop {
        line.clear();
        conn.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let lower = l.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = Some(v.trim().parse::<usize>().unwrap());
        }
        if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
            chunked = true;
        }
    }
    if chunked {
        loop {
            line.clear();
            conn.read_line(&mut line).unwrap();
            let size = usize::from_str_radix(line.trim(), 16).unwrap();
            let mut chunk = vec![0; size + 2];
            conn.read_exact(&mut chunk).unwrap();
            if size == 0 {
                break;
            }
        }
    } else if let Some(n) = length {
        let mut body = vec![0; n];
        conn.read_exact(&mut body).unwrap();
    }
    status
}

struct Figures {
    median_us: f64,
    p99_us: f64,
    rps: f64,
}

fn drive(port: u16, request: Vec<u8>, expect: u16, clients: usize, seconds: f64) -> Figures {
    // Every client warms up first; then all measure over the same window.
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(clients));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let request = request.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
                stream.set_nodelay(true).unwrap();
                let mut conn = BufReader::new(stream);
                // Warm: instances, connections, statement caches.
                for _ in 0..20 {
                    assert_eq!(exchange(&mut conn, &request), expect);
                }
                barrier.wait();
                let started = Instant::now();
                let deadline = started + Duration::from_secs_f64(seconds);
                let mut samples = Vec::new();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let status = exchange(&mut conn, &request);
                    samples.push(t.elapsed());
                    assert_eq!(status, expect);
                }
                (samples, started.elapsed())
            })
        })
        .collect();
    let mut all: Vec<Duration> = Vec::new();
    let mut wall = 0f64;
    for t in threads {
        let (samples, elapsed) = t.join().unwrap();
        all.extend(samples);
        wall = wall.max(elapsed.as_secs_f64());
    }
    all.sort();
    let at = |q: f64| {
        let i = ((all.len() as f64 - 1.0) * q).round() as usize;
        all[i].as_secs_f64() * 1e6
    };
    Figures {
        median_us: at(0.5),
        p99_us: at(0.99),
        rps: all.len() as f64 / wall,
    }
}

fn main() {
    let a = args();
    let dir = std::env::temp_dir().join(format!("forge-authz-scale-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut rows = Vec::new();
    let mut pg_server = None;
    for backend in &a.backends {
        for &size in &a.sizes {
            let case = dir.join(format!("{backend}-{size}"));
            std::fs::create_dir_all(&case).unwrap();
            let db = match backend.as_str() {
                "sqlite" => format!("sqlite:{}", case.join("forge.db").display()),
                "postgres" => match support::postgres(&mut pg_server) {
                    Ok(s) => s.fresh_database(&format!("scale_{size}")),
                    Err(e) => {
                        rows.push(format!("| postgres | {size} | skipped: {e} | | | | |"));
                        continue;
                    }
                },
                other => panic!("unknown backend {other}"),
            };
            eprintln!("{backend}, {size} repositories");
            let secret = fill(&Location::parse(&db), size);
            let (server, port) = serve(&case, &db);
            let auth = format!(
                "GET /-/auth HTTP/1.1\r\nHost: bench\r\nX-Forwarded-Method: GET\r\n\
                 X-Forwarded-Uri: /alice/app.git/info/refs?service=git-upload-pack\r\n\
                 Authorization: Bearer {secret}\r\n\r\n"
            )
            .into_bytes();
            let refs = format!(
                "GET /alice/app.git/info/refs?service=git-upload-pack HTTP/1.1\r\n\
                 Host: bench\r\nAuthorization: Bearer {secret}\r\n\r\n"
            )
            .into_bytes();
            for (name, request) in [("forward-auth", auth), ("info/refs", refs)] {
                let f = drive(port, request, 200, a.clients, a.seconds);
                eprintln!(
                    "  {name:12} median {:8.1} us  p99 {:8.1} us  {:8.0} req/s",
                    f.median_us, f.p99_us, f.rps
                );
                rows.push(format!(
                    "| {backend} | {size} | {name} | {:.0} | {:.0} | {:.0} | {} |",
                    f.median_us, f.p99_us, f.rps, a.clients
                ));
            }
            drop(server);
        }
    }
    println!(
        "| backend | repositories | request | median (µs) | p99 (µs) | requests/s | clients |"
    );
    println!("| --- | ---: | --- | ---: | ---: | ---: | ---: |");
    for r in rows {
        println!("{r}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
