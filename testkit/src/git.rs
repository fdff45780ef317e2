//! Real git clients, isolated from the machine's configuration.

use std::path::Path;
use std::process::Command;

use crate::process::{both, run_for, secs, text};

/// `git` in `dir` with `HOME` at `home`, nothing else from the environment but `PATH`:
/// no system or user configuration, no prompt, no credential helper, a fixed identity and
/// `main` as the first branch.
pub fn git(dir: &Path, home: &Path) -> Command {
    let mut c = Command::new("git");
    c.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.test",
            "-c",
            "credential.helper=",
            "-c",
            "init.defaultBranch=main",
        ]);
    c
}

/// `git ARGS` (as [`git`]) must succeed within 120 s; its stdout, trimmed.
pub fn git_ok(dir: &Path, home: &Path, args: &[&str]) -> String {
    succeeds(git(dir, home), args)
}

/// A git command `git` (e.g. [`git`] with more configuration) with `args` must succeed
/// within 120 s; its stdout, trimmed.
pub fn succeeds(mut git: Command, args: &[&str]) -> String {
    let o = run_for(git.args(args), secs(120));
    assert!(o.status.success(), "git {args:?}: {}", both(&o));
    text(&o.stdout).trim().to_string()
}

/// A bare repository at `bare` whose `main` (its HEAD) holds one commit of `files`, made
/// in the scratch work tree `work` (removed afterwards); returns the commit.
pub fn seed(bare: &Path, work: &Path, home: &Path, files: &[(String, Vec<u8>)]) -> String {
    std::fs::create_dir_all(bare).unwrap();
    git_ok(bare, home, &["init", "-q", "--bare", "."]);
    std::fs::create_dir_all(work).unwrap();
    git_ok(work, home, &["init", "-q", "."]);
    for (path, content) in files {
        std::fs::write(work.join(path), content).unwrap();
    }
    git_ok(work, home, &["add", "-A"]);
    git_ok(work, home, &["commit", "-q", "--allow-empty", "-m", "seed"]);
    let to = bare.to_str().unwrap();
    git_ok(work, home, &["push", "-q", to, "HEAD:refs/heads/main"]);
    git_ok(bare, home, &["symbolic-ref", "HEAD", "refs/heads/main"]);
    let sha = git_ok(work, home, &["rev-parse", "HEAD"]);
    let _ = std::fs::remove_dir_all(work);
    sha
}
