//! Debian's `wrk` as the load generator (closed loop, one thread: little CPU beside the
//! server on a shared machine) and nginx beside it: `return 200` (the floor of one HTTP
//! exchange) and `git http-backend` through fcgiwrap (the git baseline).

use std::path::{Path, PathBuf};
use std::process::Command;

use forge_authz_testkit::deploy::{self, Daemon};

/// What one `wrk` run measured.
pub struct Run {
    pub rps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub requests: u64,
    /// Why the run does not count (non-2xx answers, socket errors), if it does not.
    pub failed: Option<String>,
}

/// One load: the URL and its request headers.
pub struct Load {
    pub url: String,
    pub headers: Vec<String>,
}

/// `wrk -t1 -c<conns> -d<seconds>s --latency` over `load`.
pub fn run(wrk: &Path, load: &Load, conns: usize, seconds: f64) -> Run {
    let mut cmd = Command::new(wrk);
    cmd.args([
        "-t1",
        &format!("-c{conns}"),
        &format!("-d{seconds}s"),
        "--latency",
    ]);
    cmd.args(["--timeout", "10s"]);
    for h in &load.headers {
        cmd.args(["-H", h]);
    }
    let out = cmd.arg(&load.url).output().expect("run wrk");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut r = parse(&text);
    if !out.status.success() && r.failed.is_none() {
        r.failed = Some(format!(
            "wrk exited {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    r
}

/// `12.5us`, `1.20ms`, `2.00s` in microseconds.
fn micros(v: &str) -> Option<f64> {
    let (n, scale) = if let Some(n) = v.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1e6)
    } else {
        return None;
    };
    n.parse::<f64>().ok().map(|n| n * scale)
}

/// Reads wrk's report (`--latency`).
pub fn parse(text: &str) -> Run {
    let mut r = Run {
        rps: 0.0,
        p50_us: 0.0,
        p99_us: 0.0,
        requests: 0,
        failed: None,
    };
    let mut errors = Vec::new();
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", v] => r.p50_us = micros(v).unwrap_or(0.0),
            ["99%", v] => r.p99_us = micros(v).unwrap_or(0.0),
            ["Requests/sec:", v] => r.rps = v.parse().unwrap_or(0.0),
            [n, "requests", "in", ..] => r.requests = n.parse().unwrap_or(0),
            ["Non-2xx", "or", "3xx", "responses:", n] => errors.push(format!("{n} non-2xx")),
            ["Socket", "errors:", rest @ ..] => {
                errors.push(format!("socket errors {}", rest.join(" ")))
            }
            _ => {}
        }
    }
    if r.requests == 0 {
        errors.push("no request answered".into());
    }
    if !errors.is_empty() {
        r.failed = Some(errors.join(", "));
    }
    r
}

/// nginx on `port`: `return 200` everywhere but `/<owner>/<name>.git/…`, which goes to
/// `git http-backend` through fcgiwrap (when `fcgiwrap` is given) over `repos`.
pub struct Nginx {
    pub port: u16,
    _nginx: Daemon,
    _fcgiwrap: Option<Daemon>,
}

/// nginx's configuration (design §3): one worker, keep-alive without limit, no log.
fn config(dir: &Path, port: u16, git: Option<(&Path, &Path)>) -> String {
    let d = dir.display();
    let git = git.map_or(String::new(), |(socket, repos)| {
        format!(
            "    location ~ ^/[^/]+/[^/]+\\.git/ {{ include {d}/fastcgi_params;\n      \
             fastcgi_pass unix:{};\n      \
             fastcgi_param SCRIPT_FILENAME {};\n      \
             fastcgi_param GIT_PROJECT_ROOT {};\n      \
             fastcgi_param GIT_HTTP_EXPORT_ALL 1;\n      \
             fastcgi_param PATH_INFO $uri; }}\n",
            socket.display(),
            deploy::http_backend().display(),
            repos.display()
        )
    });
    format!(
        "worker_processes 1;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 16384; }}\n\
         http {{ access_log off; keepalive_requests 10000000; keepalive_timeout 300s;\n  \
         client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp;\n  \
         uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;\n  \
         server {{ listen 127.0.0.1:{port};\n    location / {{ return 200; }}\n{git}  }}\n}}\n"
    )
}

/// Starts nginx in `dir` (and fcgiwrap when `fcgiwrap` is given) in front of `repos`.
pub fn nginx(bin: &Path, fcgiwrap: Option<&PathBuf>, dir: &Path, repos: &Path) -> Nginx {
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    let fcgi = fcgiwrap.map(|bin| deploy::fcgiwrap(bin, dir));
    if fcgi.is_some() {
        std::fs::copy("/etc/nginx/fastcgi_params", dir.join("fastcgi_params")).unwrap();
    }
    let port = deploy::free_port();
    let git = fcgi.as_ref().map(|(_, socket)| (socket.as_path(), repos));
    std::fs::write(dir.join("nginx.conf"), config(dir, port, git)).unwrap();
    let (prefix, conf) = (dir.display().to_string(), dir.join("nginx.conf"));
    let args = [
        "-p",
        &prefix,
        "-c",
        &conf.display().to_string(),
        "-e",
        "stderr",
    ];
    let mut n = Daemon::start(
        "nginx",
        Command::new(bin).args(args),
        &dir.join("nginx.out"),
    );
    n.wait_listening(port);
    Nginx {
        port,
        _nginx: n,
        _fcgiwrap: fcgi.map(|(d, _)| d),
    }
}
