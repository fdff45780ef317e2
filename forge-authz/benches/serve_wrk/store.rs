//! The store each case serves, made through the CLI of the binary under test (so the
//! import times are that binary's): the sample world (`init-db`), the generated users and
//! repositories (`bulk-import`, timed), a read token for alice (`token create`).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use super::support;

/// Seconds each bulk import took (`None`: nothing to import at this size).
pub struct Imported {
    pub users_s: Option<f64>,
    pub repos_s: Option<f64>,
    pub users: u64,
    /// Alice's read token (never printed).
    pub token: String,
}

/// Runs `bin args…`; its stdout, or a panic with its stderr.
fn cli(bin: &Path, args: &[&str]) -> String {
    let out = Command::new(bin)
        .args(args)
        .output()
        .expect("run forge-authz");
    assert!(
        out.status.success(),
        "forge-authz {}: {}",
        args.first().unwrap_or(&""),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The JSON lines for `repos` repositories, written once per size under `dir`.
fn files(dir: &Path, repos: u64) -> (String, String) {
    let users = dir.join(format!("users-{repos}.jsonl"));
    let repositories = dir.join(format!("repos-{repos}.jsonl"));
    if !repositories.exists() {
        std::fs::write(&users, support::users_jsonl(support::users_for(repos))).unwrap();
        std::fs::write(&repositories, support::repos_jsonl(repos)).unwrap();
    }
    (
        users.display().to_string(),
        repositories.display().to_string(),
    )
}

/// Fills `db` (fresh) for `repos` repositories, the data files kept in `data`.
pub fn fill(bin: &Path, db: &str, data: &Path, repos: u64) -> Imported {
    cli(bin, &["init-db", "--db", db]);
    let users = support::users_for(repos);
    let timed = |flag: &str, file: &str| {
        let started = Instant::now();
        cli(bin, &["bulk-import", "--db", db, flag, file]);
        started.elapsed().as_secs_f64()
    };
    let (mut users_s, mut repos_s) = (None, None);
    if repos > 0 {
        let (u, r) = files(data, repos);
        users_s = Some(timed("--users", &u));
        repos_s = Some(timed("--repositories", &r));
    }
    let token = cli(
        bin,
        &[
            "token",
            "create",
            "--db",
            db,
            "--owner",
            "alice",
            "--name",
            "bench",
            "--scope",
            "read:repository",
            "--expires-in",
            "1d",
        ],
    );
    Imported {
        users_s,
        repos_s,
        users,
        token,
    }
}
