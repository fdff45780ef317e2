//! Memory: a process's resident set (`/proc/PID/status`) and `serve` holding many idle
//! keep-alive connections (design §2.8; the target: 10,000 in ≤ 200 MB).

use std::io::Write as _;
use std::net::TcpStream;
use std::time::Duration;

use forge_authz_testkit::http;

/// `VmRSS` and `VmHWM` of `pid`, in MB.
pub fn rss_mb(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |field: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(field))?;
        line.split_whitespace().nth(1)?.parse::<f64>().ok()
    };
    Some((kb("VmRSS:")? / 1024.0, kb("VmHWM:")? / 1024.0))
}

/// This process's soft limit of open files.
fn open_files() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Lets this process (and the `serve` it starts next) open `files` descriptors: raises
/// the soft limit with `prlimit` on our own pid when it is lower. False when it cannot.
pub fn raise_open_files(files: u64) -> bool {
    if open_files().is_some_and(|n| n >= files) {
        return true;
    }
    let _ = std::process::Command::new("prlimit")
        .args(["--pid", &std::process::id().to_string()])
        .arg(format!("--nofile={files}:"))
        .status();
    open_files().is_some_and(|n| n >= files)
}

/// What `serve` (`pid`, on `port`) holds with `n` idle connections: RSS after 5 s with no
/// request sent on them, then after one answered `request` on each (all must be 200).
/// `Err` says why the case could not run.
pub fn idle(pid: u32, port: u16, n: usize, request: &[u8]) -> Result<[(f64, f64); 2], String> {
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        let s =
            TcpStream::connect(http::loopback(port)).map_err(|e| format!("connection {i}: {e}"))?;
        conns.push(s);
    }
    std::thread::sleep(Duration::from_secs(5));
    let quiet = rss_mb(pid).ok_or("no /proc status")?;
    for (i, s) in conns.iter_mut().enumerate() {
        s.write_all(request)
            .map_err(|e| format!("request {i}: {e}"))?;
        let reply = http::read_reply(s, Duration::from_secs(30));
        if reply.status != Some(200) {
            return Err(format!("connection {i}: {}", reply.describe()));
        }
    }
    std::thread::sleep(Duration::from_secs(5));
    let served = rss_mb(pid).ok_or("no /proc status")?;
    Ok([quiet, served])
}
