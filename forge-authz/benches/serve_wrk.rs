//! The served request at the cost of HTTP (issue 24; design `docs/design/serve-cost.md` §3):
//! `forge-authz serve` driven by Debian's `wrk` beside nginx's `return 200` (the floor of
//! one HTTP exchange, same headers, in the same run) and `git http-backend` behind nginx and
//! fcgiwrap (the git baseline).
//!
//! ```text
//! cargo bench -p forge-authz --bench serve_wrk                       # everything (~20 min)
//! cargo bench -p forge-authz --bench serve_wrk -- --sizes 0 --conns 4,16 --duration 2 \
//!     --backends sqlite --idle 0                                     # a quick look
//! FORGE_AUTHZ_BIN=/path/to/forge-authz cargo bench -p forge-authz --bench serve_wrk  # another build
//! ```
//!
//! Options: `--backends sqlite,postgres`, `--sizes 0,1000000` (repositories, with a user per
//! ten), `--conns 1,4,16,64`, `--duration 10` (seconds per case, after a discarded warm-up
//! of `--warmup 2`), `--idle 10000` (idle keep-alive connections, 0: skip), `--perf`
//! (system calls and context switches per request, by `perf stat` on `serve`), `--no-git`.
//! `FORGE_AUTHZ_BIN` selects the binary under test (default: this tree's, as `cargo bench`
//! builds it): its own `init-db`, `bulk-import` (timed) and `token create` make each store,
//! so before and after run side by side in one session.
//!
//! For each backend and size: forward auth (`/-/auth`, nginx's header family) for
//! `alice/app.git/info/refs` with alice's read token and anonymously, then git `info/refs`
//! with the token, at each connection count; `VmRSS`/`VmHWM` of `serve` after each case;
//! at the first size, `--idle` connections opened and left idle (RSS after 5 s), then one
//! request answered on each (RSS after 5 s). Any non-2xx answer or socket error fails the
//! case (the row says so, with no figures). Without `wrk` or nginx: `SKIPPED`, no figures;
//! without fcgiwrap, no git rows. PostgreSQL is a private server (`testkit/src/pg.rs`).
//! Prints one Markdown table, then the import times.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic, missing_docs)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use forge_authz_testkit::pg::PgServer;

#[path = "serve_wrk/idle.rs"]
mod idle;
#[path = "serve_wrk/perf.rs"]
mod perf;
#[path = "serve_wrk/store.rs"]
mod store;
mod support;
#[path = "serve_wrk/wrk.rs"]
mod wrk;

use wrk::Load;

struct Args {
    backends: Vec<String>,
    sizes: Vec<u64>,
    conns: Vec<usize>,
    seconds: f64,
    warmup: f64,
    idle: usize,
    perf: bool,
    git: bool,
}

fn list<T: std::str::FromStr>(v: &str) -> Vec<T> {
    v.split(',')
        .map(|s| s.trim().parse().ok().expect("a comma-separated list"))
        .collect()
}

fn args() -> Args {
    let mut a = Args {
        backends: vec!["sqlite".into(), "postgres".into()],
        sizes: vec![0, 1_000_000],
        conns: vec![1, 4, 16, 64],
        seconds: 10.0,
        warmup: 2.0,
        idle: 10_000,
        perf: false,
        git: true,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().cloned().unwrap_or_default();
        match flag.as_str() {
            "--backends" => a.backends = list(&value()),
            "--sizes" => a.sizes = list(&value()),
            "--conns" => a.conns = list(&value()),
            "--duration" => a.seconds = value().parse().unwrap(),
            "--warmup" => a.warmup = value().parse().unwrap(),
            "--idle" => a.idle = value().parse().unwrap(),
            "--perf" => a.perf = true,
            "--no-git" => a.git = false,
            _ => {} // `cargo bench` passes `--bench`
        }
    }
    a
}

/// A program on `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The programs a run needs; `None` when `wrk` or nginx is missing (SKIPPED).
struct Tools {
    wrk: PathBuf,
    nginx: PathBuf,
    fcgiwrap: Option<PathBuf>,
    serve: PathBuf,
}

fn tools(a: &Args) -> Option<Tools> {
    let nginx = Path::new("/usr/sbin/nginx");
    let (Some(wrk), true) = (on_path("wrk"), nginx.exists()) else {
        println!("SKIPPED: serve_wrk: needs wrk and nginx (apt-get install wrk nginx-light)");
        return None;
    };
    let fcgiwrap = Path::new("/usr/sbin/fcgiwrap");
    let fcgiwrap = (a.git && fcgiwrap.exists()).then(|| fcgiwrap.to_path_buf());
    if a.git && fcgiwrap.is_none() {
        println!("SKIPPED: serve_wrk git rows: needs fcgiwrap (apt-get install fcgiwrap)");
    }
    let serve = std::env::var_os("FORGE_AUTHZ_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_forge-authz")),
        PathBuf::from,
    );
    Some(Tools {
        wrk,
        nginx: nginx.to_path_buf(),
        fcgiwrap,
        serve,
    })
}

const REFS: &str = "/alice/app.git/info/refs?service=git-upload-pack";

/// Forward auth for `alice/app.git/info/refs` at `port` (nginx's header family), with
/// `token` or anonymous.
fn auth(port: u16, token: Option<&str>) -> Load {
    let mut headers = vec![
        "X-Original-Method: GET".to_string(),
        format!("X-Original-URI: {REFS}"),
    ];
    headers.extend(token.map(|t| format!("Authorization: Bearer {t}")));
    Load {
        url: format!("http://127.0.0.1:{port}/-/auth"),
        headers,
    }
}

/// git `info/refs` at `port`, with `token` (none for nginx's git, which has no policy).
fn refs(port: u16, token: Option<&str>) -> Load {
    Load {
        url: format!("http://127.0.0.1:{port}{REFS}"),
        headers: token
            .map(|t| format!("Authorization: Bearer {t}"))
            .into_iter()
            .collect(),
    }
}

/// The results: table rows, the floor per (load, connections), import rows.
#[derive(Default)]
struct Report {
    rows: Vec<String>,
    floor: HashMap<(&'static str, usize), f64>,
    imports: Vec<String>,
}

/// One measured case: which server, what load, against which floor.
struct Case<'a> {
    server: &'a str,
    backend: &'a str,
    size: u64,
    request: &'a str,
    /// `Some(key)`: this case is the floor `key`; `None`: compared to `against`.
    floor: Option<&'static str>,
    against: &'static str,
    /// `serve`'s pid (RSS, perf), none for nginx.
    pid: Option<u32>,
}

fn fmt_us(us: f64) -> String {
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

impl Report {
    /// Warms `load` (discarded), then measures it at each connection count of `conns`.
    fn measure(
        &mut self,
        t: &Tools,
        a: &Args,
        c: &Case,
        load: &Load,
        conns: &[usize],
        scratch: &Path,
    ) {
        let _ = wrk::run(
            &t.wrk,
            load,
            16.min(conns.iter().copied().max().unwrap_or(1)),
            a.warmup,
        );
        for &n in conns {
            let counting = c
                .pid
                .filter(|_| a.perf)
                .and_then(|pid| perf::start(pid, &scratch.join("perf.txt")));
            let r = wrk::run(&t.wrk, load, n, a.seconds);
            let counts = counting.and_then(|p| p.stop(r.requests));
            let rss = c.pid.and_then(idle::rss_mb);
            self.row(a, c, n, &r, rss, counts);
        }
    }

    fn row(
        &mut self,
        a: &Args,
        c: &Case,
        n: usize,
        r: &wrk::Run,
        rss: Option<(f64, f64)>,
        counts: Option<(f64, f64)>,
    ) {
        let head = format!(
            "| {} | {} | {} | {} | {n} |",
            c.server, c.backend, c.size, c.request
        );
        let rss = rss.map_or("".into(), |(now, peak)| format!("{now:.0} / {peak:.0}"));
        let line = if let Some(why) = &r.failed {
            format!("{head} FAILED: {why} | | | | {rss} |")
        } else {
            if let Some(key) = c.floor {
                self.floor.insert((key, n), r.rps);
            }
            let pct = self
                .floor
                .get(&(c.against, n))
                .map_or("".into(), |f| format!("{:.0} %", 100.0 * r.rps / f));
            format!(
                "{head} {:.0} | {} | {} | {pct} | {rss} |",
                r.rps,
                fmt_us(r.p50_us),
                fmt_us(r.p99_us)
            )
        };
        let line = if a.perf {
            let counts = counts.map_or(" | |".into(), |(s, w)| format!(" {s:.1} | {w:.2} |"));
            format!("{line}{counts}")
        } else {
            line
        };
        eprintln!("{line}");
        self.rows.push(line);
    }

    fn print(&self, a: &Args) {
        let (extra, rule) = if a.perf {
            (" syscalls/request | switches/request |", " ---: | ---: |")
        } else {
            ("", "")
        };
        println!(
            "| server | backend | repositories | request | connections | requests/s | p50 | p99 | % of floor | RSS MB (now / peak) |{extra}"
        );
        println!("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |{rule}");
        for r in &self.rows {
            println!("{r}");
        }
        println!();
        println!("| backend | repositories | users | import users (s) | import repositories (s) |");
        println!("| --- | ---: | ---: | ---: | ---: |");
        for r in &self.imports {
            println!("{r}");
        }
    }
}

/// The connection counts for git (at most 16: a process per request).
fn git_conns(a: &Args) -> Vec<usize> {
    a.conns.iter().copied().filter(|&n| n <= 16).collect()
}

/// nginx's floor and git baseline for `backend`'s block, with `token`'s headers.
fn floor(r: &mut Report, t: &Tools, a: &Args, dir: &Path, backend: &str, token: &str) {
    let repos = support::repos_dir(&dir.join(format!("nginx-{backend}")));
    let ngx = wrk::nginx(
        &t.nginx,
        t.fcgiwrap.as_ref(),
        &dir.join(format!("nginx-{backend}")),
        &repos,
    );
    let mut c = Case {
        server: "nginx `return 200`",
        backend,
        size: 0,
        request: "forward auth, token headers",
        floor: Some("auth"),
        against: "auth",
        pid: None,
    };
    r.measure(t, a, &c, &auth(ngx.port, Some(token)), &a.conns, dir);
    if t.fcgiwrap.is_some() {
        c.server = "nginx + fcgiwrap + git http-backend";
        c.request = "git info/refs";
        (c.floor, c.against) = (Some("git"), "git");
        r.measure(t, a, &c, &refs(ngx.port, None), &git_conns(a), dir);
    }
}

/// The store for `backend` at `size`: its `--db` value, or why it is skipped.
fn database(
    pg: &mut Option<Result<PgServer, String>>,
    backend: &str,
    case: &Path,
    size: u64,
) -> Result<String, String> {
    match backend {
        "sqlite" => Ok(format!("sqlite:{}", case.join("forge.db").display())),
        "postgres" => support::postgres(pg).map(|s| s.fresh_database(&format!("wrk_{size}"))),
        other => Err(format!("unknown backend {other}")),
    }
}

/// One store to serve: where, its backend and size, alice's token; `first`: the backend's
/// first size (the idle case runs there).
struct Served<'a> {
    case: &'a Path,
    db: &'a str,
    backend: &'a str,
    size: u64,
    first: bool,
    token: &'a str,
}

/// Every case of one served store.
fn cases(r: &mut Report, t: &Tools, a: &Args, s: &Served) {
    let (case, backend, size, token) = (s.case, s.backend, s.size, s.token);
    let extra = [
        "--forward-auth",
        "nginx",
        "--max-connections",
        "12000",
        "--max-connections-per-peer",
        "0",
        "--header-timeout",
        "120",
    ];
    let (server, port) = support::serve(&t.serve, case, s.db, &extra);
    let pid = server.child.id();
    let mut c = Case {
        server: "forge-authz",
        backend,
        size,
        request: "forward auth, token",
        floor: None,
        against: "auth",
        pid: Some(pid),
    };
    r.measure(t, a, &c, &auth(port, Some(token)), &a.conns, case);
    c.request = "forward auth, anonymous";
    r.measure(t, a, &c, &auth(port, None), &a.conns, case);
    if t.fcgiwrap.is_some() {
        (c.request, c.against) = ("git info/refs, token", "git");
        r.measure(t, a, &c, &refs(port, Some(token)), &git_conns(a), case);
    }
    if s.first && a.idle > 0 {
        idle_rows(r, a, backend, size, pid, port);
    }
}

fn idle_rows(r: &mut Report, a: &Args, backend: &str, size: u64, pid: u32, port: u16) {
    let request = format!(
        "GET /-/auth HTTP/1.1\r\nHost: bench\r\nX-Original-Method: GET\r\nX-Original-URI: {REFS}\r\n\r\n"
    );
    let head = format!("| forge-authz | {backend} | {size} |");
    let n = a.idle;
    let cells = |(now, peak): (f64, f64)| format!("| | | | | {now:.0} / {peak:.0} |");
    let lines = match idle::idle(pid, port, n, request.as_bytes()) {
        Ok([quiet, served]) => vec![
            format!(
                "{head} idle keep-alive, no request yet | {n} {}",
                cells(quiet)
            ),
            format!(
                "{head} idle keep-alive, one answered request each | {n} {}",
                cells(served)
            ),
        ],
        Err(e) => vec![format!(
            "{head} idle keep-alive | {n} | FAILED: {e} | | | | |"
        )],
    };
    let perf_cells = if a.perf { " | |" } else { "" };
    for l in lines {
        let l = format!("{l}{perf_cells}");
        eprintln!("{l}");
        r.rows.push(l);
    }
}

fn main() {
    let a = args();
    let Some(t) = tools(&a) else { return };
    if a.idle > 0 && !idle::raise_open_files(a.idle as u64 + 1024) {
        eprintln!("serve_wrk: cannot raise the open-file limit: the idle case may fail");
    }
    let dir = forge_authz_testkit::scratch("serve-wrk");
    // nginx's workers (another user when run as root) reach fcgiwrap's socket in here.
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    eprintln!("serve_wrk: {} in {}", t.serve.display(), dir.display());
    let mut r = Report::default();
    let mut pg = None;
    for backend in &a.backends {
        for (i, &size) in a.sizes.iter().enumerate() {
            let case = dir.join(format!("{backend}-{size}"));
            std::fs::create_dir_all(&case).unwrap();
            let db = match database(&mut pg, backend, &case, size) {
                Ok(db) => db,
                Err(e) => {
                    r.rows.push(format!(
                        "| forge-authz | {backend} | {size} | skipped: {e} | | | | | | |"
                    ));
                    continue;
                }
            };
            eprintln!("{backend}, {size} repositories");
            let made = store::fill(&t.serve, &db, &dir, size);
            let secs = |s: Option<f64>| s.map_or("-".into(), |s| format!("{s:.1}"));
            r.imports.push(format!(
                "| {backend} | {size} | {} | {} | {} |",
                made.users,
                secs(made.users_s),
                secs(made.repos_s)
            ));
            if i == 0 {
                floor(&mut r, &t, &a, &dir, backend, &made.token);
            }
            let served = Served {
                case: &case,
                db: &db,
                backend,
                size,
                first: i == 0,
                token: &made.token,
            };
            cases(&mut r, &t, &a, &served);
        }
    }
    r.print(&a);
    drop(pg);
    let _ = std::fs::remove_dir_all(&dir);
}
