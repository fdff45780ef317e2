//! Child processes every test runs, bounded in time: each started in its own process group,
//! its output collected on threads, killed with its whole group on timeout or drop; and
//! what is running below a process (`/proc`), to prove a server's children died with
//! their request.

use std::collections::HashSet;
use std::io::Read;
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A child process whose output is collected on threads; killed (its whole process group)
/// if it is still running when dropped.
pub struct Running {
    pub child: Child,
    pub what: String,
    pub out: mpsc::Receiver<Vec<u8>>,
    pub err: mpsc::Receiver<Vec<u8>>,
    pub done: bool,
}

pub fn collect(mut r: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        let _ = tx.send(v);
    });
    rx
}

pub fn spawn(cmd: &mut Command) -> Running {
    let what = format!(
        "{:?} {:?}",
        cmd.get_program(),
        cmd.get_args().collect::<Vec<_>>()
    );
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let out = collect(child.stdout.take().unwrap());
    let err = collect(child.stderr.take().unwrap());
    Running {
        child,
        what,
        out,
        err,
        done: false,
    }
}

impl Running {
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits at most `limit`; `None` (and the process group killed) when it did not end.
    pub fn finish(&mut self, limit: Duration) -> Option<Output> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.done = true;
                let grab =
                    |rx: &mpsc::Receiver<Vec<u8>>| rx.recv_timeout(secs(5)).unwrap_or_default();
                return Some(Output {
                    status,
                    stdout: grab(&self.out),
                    stderr: grab(&self.err),
                });
            }
            if start.elapsed() > limit {
                self.kill();
                return None;
            }
            std::thread::sleep(ms(20));
        }
    }

    pub fn kill(&mut self) {
        // The whole process group (git's remote helpers too), named by our child's id.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.done = true;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.done {
            self.kill();
        }
    }
}

/// Runs a command to its end, at most `limit`.
pub fn run_for(cmd: &mut Command, limit: Duration) -> Output {
    let mut r = spawn(cmd);
    let what = r.what.clone();
    r.finish(limit)
        .unwrap_or_else(|| panic!("{what} did not finish within {limit:?}"))
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn both(o: &Output) -> String {
    format!("stdout: {}\nstderr: {}", text(&o.stdout), text(&o.stderr))
}

/// (pid, ppid, comm, state) of every process.
pub fn processes() -> Vec<(u32, u32, String, char)> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_string();
        let mut rest = stat[close + 1..].split_whitespace();
        let state = rest.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid = rest.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        all.push((pid, ppid, comm, state));
    }
    all
}

pub fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

/// `(state, process group, command line)` of a process.
pub fn proc_info(pid: u32) -> Option<(char, u32, String)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut rest = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let _ppid = rest.next()?;
    let pgrp = rest.next()?.parse().ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| text(&b).replace('\0', " ").trim().to_string())
        .unwrap_or_default();
    Some((state, pgrp, cmdline))
}

/// The process groups of the processes below `root` other than `root`'s own (the groups
/// the server started its git in).
pub fn groups_below(root: u32) -> HashSet<u32> {
    let own = proc_info(root).map(|(_, g, _)| g);
    descendants(root)
        .into_iter()
        .filter_map(|p| proc_info(p).map(|(_, g, _)| g))
        .filter(|g| Some(*g) != own)
        .collect()
}

/// Every live (not zombie) process in one of `groups`, wherever it was re-parented to.
pub fn live_in_groups(groups: &HashSet<u32>) -> Vec<String> {
    processes()
        .into_iter()
        .filter_map(|(pid, ppid, comm, _)| {
            let (state, pgrp, cmd) = proc_info(pid)?;
            (groups.contains(&pgrp) && !matches!(state, 'Z' | 'X'))
                .then(|| format!("{pid} (parent {ppid}, group {pgrp}) {comm} state {state}: {cmd}"))
        })
        .collect()
}

/// Polls until no live process is left in `groups`, at most `limit`; what is left.
pub fn wait_groups_gone(groups: &HashSet<u32>, limit: Duration) -> Vec<String> {
    let start = Instant::now();
    loop {
        let left = live_in_groups(groups);
        if left.is_empty() || start.elapsed() > limit {
            return left;
        }
        std::thread::sleep(ms(50));
    }
}

/// The pids of every process below `root`.
pub fn descendants(root: u32) -> Vec<u32> {
    let all = processes();
    let mut below: HashSet<u32> = HashSet::from([root]);
    loop {
        let before = below.len();
        for (pid, ppid, _, _) in &all {
            if below.contains(ppid) {
                below.insert(*pid);
            }
        }
        if below.len() == before {
            break;
        }
    }
    below.remove(&root);
    below.into_iter().collect()
}

/// Every process below `root` whose name starts with `git` (`git`, `git-upload-pack`,
/// `git http-backend`, `git pack-objects` ...), zombies included.
pub fn git_descendants(root: u32) -> Vec<String> {
    let below: HashSet<u32> = descendants(root).into_iter().collect();
    processes()
        .into_iter()
        .filter(|(pid, _, comm, _)| below.contains(pid) && comm.starts_with("git"))
        .map(|(pid, ppid, comm, state)| format!("{pid} (parent {ppid}) {comm} state {state}"))
        .collect()
}
