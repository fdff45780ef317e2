//! Protected refs never fail open (a state directory that cannot run hooks is refused;
//! force pushes and deletions of protected branches are refused) and the state directory is
//! private and never a guessable path (issues 6 and 7).

use std::collections::HashSet;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::forge::*;

// ---------------------------------------------------------------------------------------
// issue 6: protected refs never fail open.
// ---------------------------------------------------------------------------------------

/// A tmpfs mounted `noexec`, unmounted when dropped.
struct NoexecMount(PathBuf);

impl NoexecMount {
    fn new(at: &Path) -> NoexecMount {
        std::fs::create_dir_all(at).unwrap();
        let o = run_for(
            Command::new("mount")
                .args([
                    "-t",
                    "tmpfs",
                    "-o",
                    "noexec,nosuid,nodev,mode=0700",
                    "tmpfs",
                ])
                .arg(at),
            secs(20),
        );
        assert!(
            o.status.success(),
            "issue 6 (noexec state directory) cannot be checked here: `mount -t tmpfs -o noexec` \
             failed (this test needs root with CAP_SYS_ADMIN to mount a tmpfs): {}",
            both(&o)
        );
        NoexecMount(at.to_path_buf())
    }
}

impl Drop for NoexecMount {
    fn drop(&mut self) {
        let o = run_for(Command::new("umount").arg(&self.0), secs(20));
        if !o.status.success() {
            let _ = run_for(Command::new("umount").arg("-l").arg(&self.0), secs(20));
        }
    }
}

#[test]
fn state_directory_that_cannot_execute_hooks_is_refused() {
    // issue 6: --state on a noexec tmpfs: the hooks that decide protected refs could not
    // run, so serve must refuse to start (non-zero exit, a message naming the hook) rather
    // than accept pushes unchecked.
    let s = Setup::new("noexec");
    let mount = NoexecMount::new(&s.dir.join("noexec"));
    let state = mount.0.join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    let (status, log) = s.refused_start(
        &["--state", state.to_str().unwrap()],
        "its state directory is on a noexec mount",
    );
    assert!(!status.success(), "{status}: {log}");
    assert!(
        log.to_ascii_lowercase().contains("hook"),
        "the refusal must name the hook: {log}"
    );
    drop(mount);
}

/// `git push ARGS` from `work` (at most 120 s): it must succeed when `lands`, and fail
/// otherwise; `what` names the push in the failure.
fn push(s: &Setup, work: &Path, args: &[&str], lands: bool, what: &str) {
    let o = run_for(s.git(work).arg("push").args(args), secs(120));
    assert_eq!(o.status.success(), lands, "{what}: {}", both(&o));
}

#[test]
fn force_push_and_deletion_of_a_protected_branch_are_refused() {
    // issue 6: `main` of alice/app is protected with force_push: nobody. Over HTTP, the
    // owner's force-push and deletion are refused and the ref is unchanged (ls-remote);
    // an ordinary branch push through the same server works (the hook runs at all).
    let s = Setup::new("protected");
    let srv = s.serve(&[]);
    let rw = s.token("alice", "rw", "write:repository");
    let url = Setup::url(srv.port, Some(("alice", &rw)), "alice/app");
    let main_sha = |s: &Setup| {
        let o = s.ls_remote(srv.port, None, "alice/app");
        assert!(o.status.success(), "{}", both(&o));
        text(&o.stdout)
            .lines()
            .find(|l| l.ends_with("\trefs/heads/main"))
            .map(|l| l[..40].to_string())
            .unwrap_or_else(|| panic!("no main: {}", text(&o.stdout)))
    };
    let before = main_sha(&s);
    let o = s.clone_into(srv.port, Some(("alice", &rw)), "alice/app", "work");
    assert!(o.status.success(), "{}", both(&o));
    let work = s.home.join("work");
    git_ok(
        &work,
        &s.home,
        &["commit", "-q", "--amend", "-m", "rewritten history"],
    );
    // Each refused push leaves main where it was.
    for (args, what) in [
        (
            vec!["--force", &url, "HEAD:main"],
            "force-push to protected main",
        ),
        (
            vec![&url, "+HEAD:refs/heads/main"],
            "+refspec to protected main",
        ),
        (vec![&url, ":main"], "deleting protected main"),
    ] {
        push(&s, &work, &args, false, what);
        assert_eq!(main_sha(&s), before, "a refused {what} moved main");
    }
    let topic = [url.as_str(), "HEAD:refs/heads/topic"];
    push(&s, &work, &topic, true, "an ordinary branch push");
    s.assert_clones(&srv, "after refused pushes");
}

// ---------------------------------------------------------------------------------------
// issue 7: the state directory.
// ---------------------------------------------------------------------------------------

#[test]
fn unsafe_explicit_state_directories_are_refused() {
    // issue 7: an existing --state owned by another uid (65534), or with group/other
    // permission bits (0777, 0750), makes serve refuse to start.
    let s = Setup::new("state-bad");
    let other = s.dir.join("state-other-uid");
    std::fs::create_dir(&other).unwrap();
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&other, Some(65534), Some(65534)).unwrap();
    let (status, log) = s.refused_start(
        &["--state", other.to_str().unwrap()],
        "its state directory belongs to uid 65534",
    );
    assert!(!status.success(), "{log}");
    for mode in [0o777, 0o750, 0o701] {
        let dir = s.dir.join(format!("state-{mode:o}"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
        let (status, log) = s.refused_start(
            &["--state", dir.to_str().unwrap()],
            &format!("its state directory has mode {mode:o}"),
        );
        assert!(!status.success(), "mode {mode:o}: {log}");
    }
    // A safe one (0700, ours) is accepted: the refusals above are about the directory.
    let good = s.dir.join("state-good");
    std::fs::create_dir(&good).unwrap();
    std::fs::set_permissions(&good, std::fs::Permissions::from_mode(0o700)).unwrap();
    let srv = s.serve(&["--state", good.to_str().unwrap()]);
    s.assert_serves(&srv, "with a 0700 state directory");
}

/// The Unix sockets a process has open (path, from /proc/net/unix).
fn unix_sockets(pid: u32) -> Vec<PathBuf> {
    let mut inodes = HashSet::new();
    if let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for fd in fds.flatten() {
            if let Ok(link) = std::fs::read_link(fd.path())
                && let Some(n) = link
                    .to_str()
                    .and_then(|l| l.strip_prefix("socket:["))
                    .and_then(|l| l.strip_suffix(']'))
            {
                inodes.insert(n.to_string());
            }
        }
    }
    std::fs::read_to_string("/proc/net/unix")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 8 && inodes.contains(f[6])).then(|| PathBuf::from(f[7]))
        })
        .collect()
}

#[test]
fn default_state_directories_are_private_and_not_named_after_the_pid() {
    // issue 7: without --state, each server makes a fresh random-named 0700 directory (not
    // derived from its pid): two servers on the same repositories both serve, and each
    // runs its own push hooks (a branch push works, a force-push to protected main is
    // refused through either).
    let s = Setup::new("state-default");
    let uid = std::fs::metadata(&s.home).unwrap().uid();
    let a = s.serve(&[]);
    let b = s.serve(&[]);
    s.assert_serves(&a, "(first of two servers)");
    s.assert_serves(&b, "(second of two servers)");
    let rw = s.token("alice", "rw", "write:repository");
    let o = s.clone_into(a.port, Some(("alice", &rw)), "alice/app", "work");
    assert!(o.status.success(), "{}", both(&o));
    let work = s.home.join("work");
    std::fs::write(work.join("f"), "1").unwrap();
    git_ok(&work, &s.home, &["add", "f"]);
    git_ok(&work, &s.home, &["commit", "-q", "-m", "one"]);
    for (i, srv) in [&a, &b].into_iter().enumerate() {
        let url = Setup::url(srv.port, Some(("alice", &rw)), "alice/app");
        let branch = format!("HEAD:refs/heads/via-{i}");
        let through = |what: &str| format!("{what} through server {i}");
        push(&s, &work, &[&url, &branch], true, &through("push"));
        // The owner fast-forwards main (up to date through the second server), then a
        // rewind is a force-push: refused by this server's own hook.
        let main = [url.as_str(), "HEAD:main"];
        push(&s, &work, &main, true, &through("owner fast-forward"));
        let rewind = ["--force", url.as_str(), "HEAD~1:main"];
        push(&s, &work, &rewind, false, &through("force-push"));
    }
    // Find each server's state directory: a new directory in its TMPDIR, else the
    // directory of the Unix sockets it holds.
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&s.tmp)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    if dirs.len() < 2 {
        for srv in [&a, &b] {
            for sock in unix_sockets(srv.pid()) {
                if let Some(parent) = sock.parent()
                    && !dirs.iter().any(|d| d == parent)
                {
                    dirs.push(parent.to_path_buf());
                }
            }
        }
    }
    assert!(
        dirs.len() >= 2,
        "could not find two default state directories (looked in TMPDIR {} and at the servers' Unix sockets): {dirs:?}",
        s.tmp.display()
    );
    for d in &dirs {
        let m = std::fs::metadata(d).unwrap();
        assert_eq!(
            m.mode() & 0o777,
            0o700,
            "{} has mode {:o}",
            d.display(),
            m.mode() & 0o777
        );
        assert_eq!(m.uid(), uid, "{} is not ours", d.display());
        let name = d.file_name().unwrap().to_string_lossy().into_owned();
        for srv in [&a, &b] {
            let pid = srv.pid().to_string();
            assert!(
                !name.ends_with(&pid) && !name.starts_with(&pid),
                "{} is named after server pid {pid}: predictable",
                d.display()
            );
        }
    }
}
