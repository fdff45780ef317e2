//! Counting instead of timing (the machine is shared): `perf stat` on `serve` over one
//! `wrk` run gives system calls and context switches per answered request.

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// `perf stat` attached to `pid`, counting until [`Counting::stop`].
pub struct Counting {
    child: Child,
    out: std::path::PathBuf,
}

/// Starts counting `serve`'s system calls and context switches (`None`: no perf here).
pub fn start(pid: u32, out: &Path) -> Option<Counting> {
    let child = Command::new("perf")
        .args(["stat", "-x", ",", "-o"])
        .arg(out)
        .args([
            "-e",
            "raw_syscalls:sys_enter,context-switches",
            "-p",
            &pid.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    // perf attaches within a few milliseconds; the first requests are not missed much.
    std::thread::sleep(std::time::Duration::from_millis(200));
    Some(Counting {
        child,
        out: out.to_path_buf(),
    })
}

impl Counting {
    /// Stops counting (SIGINT: perf writes its counts) and returns (system calls, context
    /// switches) per request over `requests`.
    pub fn stop(mut self, requests: u64) -> Option<(f64, f64)> {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        let text = std::fs::read_to_string(&self.out).ok()?;
        let count = |event: &str| -> Option<f64> {
            let line = text.lines().find(|l| l.contains(event))?;
            line.split(',').next()?.trim().parse::<f64>().ok()
        };
        let per = |n: f64| n / requests.max(1) as f64;
        Some((
            per(count("raw_syscalls:sys_enter")?),
            per(count("context-switches")?),
        ))
    }
}
