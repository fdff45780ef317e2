//! Real git clients, isolated from the machine's configuration.

use std::path::Path;
use std::process::Command;

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
