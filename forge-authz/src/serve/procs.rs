//! Child process groups: every git a request starts (`git http-backend` and all it runs in
//! turn — `upload-pack`, `pack-objects`, `receive-pack`, `index-pack`, the push hook and its
//! `update-ref`) runs in a process group of its own, and the **whole group** is killed and
//! its leader reaped when the request ends, when the client goes away, when a deadline
//! passes and when the server stops. Killing only the direct child (tokio's
//! `kill_on_drop`) left its children running, re-parented to PID 1: an abandoned push kept
//! landing refs, an abandoned fetch kept burning CPU (issue 20 item 5).
//!
//! How a group ends ([`Group`]'s `Drop`):
//! - the request **finished** (git closed its output): the leader is given
//!   [`FINISH_WAIT`] to exit by itself, then whatever is left of the group gets `SIGKILL`;
//! - the request was **abandoned** (client gone, deadline, error): the group gets
//!   `SIGTERM` at once — git's own handlers then remove its lock files and its quarantined
//!   objects — and [`TERM_GRACE`] to exit, then `SIGKILL`;
//! - the server **stops**: [`stop_all`] does the same for every group still registered, and
//!   [`kill_remaining`] sends `SIGKILL` to any left after the runtime is gone.
//!
//! The leader is reaped only after the group's last `SIGKILL`: until then its pid (the
//! group's id) cannot be reused, so a signal to the group never reaches another process.
//! Grandchildren re-parented by the kill are reaped by PID 1, as for any daemon (run the
//! server under an init that reaps: systemd, `docker --init`).

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process_group};
use tokio::process::{Child, Command};

/// How long a finished request's git may take to exit by itself before its group is
/// killed.
pub const FINISH_WAIT: Duration = Duration::from_secs(5);
/// How long an abandoned group has between `SIGTERM` and `SIGKILL`.
pub const TERM_GRACE: Duration = Duration::from_secs(2);
/// How often a group's state is looked at while waiting.
const POLL: Duration = Duration::from_millis(20);

/// Groups whose leader has not been reaped yet (their ids, which are the leaders' pids).
static LIVE: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

fn live() -> std::sync::MutexGuard<'static, BTreeSet<i32>> {
    match LIVE.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// The groups still registered (for status and tests).
pub fn live_groups() -> usize {
    live().len()
}

/// A child running as the leader of its own process group, ended with its group (see
/// the module docs).
pub struct Group {
    child: Option<Child>,
    pgid: Option<Pid>,
    finished: bool,
}

/// Start `cmd` as the leader of a new process group.
pub fn spawn(cmd: &mut Command) -> std::io::Result<Group> {
    cmd.process_group(0).kill_on_drop(true);
    let child = cmd.spawn()?;
    let pgid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(Pid::from_raw);
    if let Some(p) = pgid {
        live().insert(p.as_raw_pid());
    }
    Ok(Group {
        child: Some(child),
        pgid,
        finished: false,
    })
}

impl Group {
    /// The child (to take its pipes).
    pub fn child_mut(&mut self) -> Option<&mut Child> {
        self.child.as_mut()
    }

    /// The request ended normally (git closed its output): the group is given time to
    /// exit by itself before it is killed.
    pub fn finished(&mut self) {
        self.finished = true;
    }

    /// Whether [`Group::finished`] was called.
    pub fn is_finished(&self) -> bool {
        self.finished
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let Some(child) = self.child.take() else {
            return;
        };
        let Some(pgid) = self.pgid else {
            // No id: the child had already been reaped (cannot happen before a wait);
            // `kill_on_drop` covers the leader.
            return;
        };
        if !self.finished {
            // At once, synchronously: even if no task runs after this (runtime shutting
            // down), git has been told to stop.
            let _ = kill_process_group(pgid, Signal::TERM);
        }
        let finished = self.finished;
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(end(child, pgid, finished));
            }
            Err(_) => {
                // No runtime to wait on: kill the group now; the pid stays registered
                // until the process exits (`kill_remaining`).
                let _ = kill_process_group(pgid, Signal::KILL);
                drop(child);
            }
        }
    }
}

/// Wait (bounded) for the group to end by itself, kill what is left, reap the leader.
async fn end(mut child: Child, pgid: Pid, finished: bool) {
    let started = Instant::now();
    let limit = if finished { FINISH_WAIT } else { TERM_GRACE };
    loop {
        let done = if finished {
            leader_exited(pgid)
        } else {
            !group_has_live_members(pgid)
        };
        if done || started.elapsed() >= limit {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    {
        // INVARIANT: a registered group's leader is not reaped, so `pgid` still names
        // this group; it leaves the register (under the lock) before its leader is reaped.
        let mut l = live();
        let _ = kill_process_group(pgid, Signal::KILL);
        l.remove(&pgid.as_raw_pid());
    }
    // SIGKILL cannot be ignored: the wait ends unless the leader is stuck in the kernel.
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
}

/// `(state, process group)` of a process, from `/proc/<pid>/stat`.
fn stat_of(pid: &str) -> Option<(char, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: parse after the last `)`.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

fn dead(state: char) -> bool {
    matches!(state, 'Z' | 'X' | 'x')
}

/// The leader has exited (a zombie waiting for us) or is gone.
fn leader_exited(pgid: Pid) -> bool {
    stat_of(&pgid.as_raw_pid().to_string()).is_none_or(|(state, _)| dead(state))
}

/// Some process of the group is still running (zombies do not count).
fn group_has_live_members(pgid: Pid) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        // Cannot look: assume it is, and let the grace period run out.
        return true;
    };
    let want = pgid.as_raw_pid();
    entries.flatten().any(|e| {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        else {
            return false;
        };
        stat_of(pid).is_some_and(|(state, pgrp)| pgrp == want && !dead(state))
    })
}

/// Server stop: `SIGTERM` to every registered group, up to [`TERM_GRACE`] for them to
/// exit, then `SIGKILL` to what is left. Their leaders are reaped by the tasks that own
/// them, or at the latest when the process exits.
pub async fn stop_all() {
    let groups: Vec<Pid> = live().iter().filter_map(|p| Pid::from_raw(*p)).collect();
    if groups.is_empty() {
        return;
    }
    {
        let l = live();
        for g in groups.iter().filter(|g| l.contains(&g.as_raw_pid())) {
            let _ = kill_process_group(*g, Signal::TERM);
        }
    }
    let started = Instant::now();
    while started.elapsed() < TERM_GRACE && groups.iter().any(|g| group_has_live_members(*g)) {
        tokio::time::sleep(POLL).await;
    }
    let l = live();
    for g in groups.iter().filter(|g| l.contains(&g.as_raw_pid())) {
        let _ = kill_process_group(*g, Signal::KILL);
    }
}

/// Last resort when the runtime is gone: `SIGKILL` to every group still registered (their
/// leaders were never reaped, so the ids are still theirs).
pub fn kill_remaining() {
    for p in live().iter().filter_map(|p| Pid::from_raw(*p)) {
        let _ = kill_process_group(p, Signal::KILL);
    }
}
