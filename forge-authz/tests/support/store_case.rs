//! A store-management test's case (issue 25), shared by `manage_people.rs`,
//! `manage_repos.rs`, `manage_protect_keys.rs` and `conventions2.rs`: a scratch directory
//! and a store in it (a SQLite file, or a fresh database on the shared PostgreSQL server),
//! and the real binary run on that store — must succeed, must succeed with `--json`, must
//! fail saying what — with an optional actor and stdin; the exit statuses, an SSH public
//! key line, and the check that a command on a missing store creates nothing. Each test
//! file keeps its own world and helpers. Use it with
//! `#[path = "support/store_case.rs"] mod store_case;`.
// Tests: a broken expectation is a panic that says what broke.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use forge_authz_testkit::{Backend, pg};
use serde_json::Value;

/// Exit statuses (README "Exit status", `cli::EXIT_*`).
pub const ALLOW: i32 = 0;
pub const DENY: i32 = 1;
pub const ERROR: i32 = 2;
pub const NOT_FOUND: i32 = 5;
pub const UNAVAILABLE: i32 = 6;

/// One test's scratch directory and store; the directory is removed when the test passes
/// (kept for a look when it fails).
pub struct StoreCase {
    pub dir: PathBuf,
    pub db: String,
    /// `--actor ACTOR` given to every command run without an actor of its own.
    pub actor: Option<&'static str>,
    /// `$USER` for every command (the actor of commands that take it from there).
    pub user: Option<&'static str>,
    /// A refusal ([`StoreCase::fails`]) must also print nothing on stdout.
    pub quiet_refusals: bool,
}

impl Drop for StoreCase {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            std::fs::remove_dir_all(&self.dir).ok();
        }
    }
}

/// A database name from a test directory (PostgreSQL identifiers: `a-z0-9_`).
pub fn dir_name(dir: &Path) -> String {
    let name = dir
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_ascii_lowercase();
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(50)
        .collect()
}

/// What a command printed, for failure messages.
pub fn both_streams(o: &Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The command and what it printed, for failure messages.
pub fn describe(args: &[&str], o: &Output) -> String {
    format!("forge-authz {}: {}", args.join(" "), both_streams(o))
}

impl StoreCase {
    /// An empty store (no `init-db` yet) in a new scratch directory named `prefix...`; on
    /// PostgreSQL a fresh database `DB_PREFIX_<directory>` (`None`: PostgreSQL skipped by
    /// `FORGE_AUTHZ_SKIP_PG=1`; without it a missing server fails the test).
    pub fn scratch(b: Backend, prefix: &str, db_prefix: &str) -> Option<StoreCase> {
        let dir = forge_authz_testkit::scratch(prefix);
        let db = match b {
            Backend::Sqlite => dir.join("forge.db").display().to_string(),
            Backend::Postgres => {
                let name = format!("{db_prefix}_{}", dir_name(&dir));
                pg::shared_or_skip(&name)?.fresh_database(&name)
            }
        };
        Some(StoreCase {
            dir,
            db,
            actor: None,
            user: None,
            quiet_refusals: false,
        })
    }

    /// [`StoreCase::scratch`] holding `world` (`init-db --world`), changed by `$USER`
    /// `root-op`; a refusal prints nothing on stdout.
    pub fn with_world(b: Backend, prefix: &str, db_prefix: &str, world: &str) -> Option<StoreCase> {
        let mut e = StoreCase::scratch(b, prefix, db_prefix)?;
        e.user = Some("root-op");
        e.quiet_refusals = true;
        let file = e.dir.join("world.json");
        std::fs::write(&file, world).unwrap();
        e.ok(&["init-db", "--world", file.to_str().unwrap()]);
        Some(e)
    }

    /// `forge-authz ARGS --db DB [--actor ACTOR]`, with `stdin` (if any) as its input.
    pub fn run_with(&self, args: &[&str], actor: Option<&str>, stdin: Option<&str>) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_forge-authz"));
        command.args(args).args(["--db", &self.db]);
        if let Some(actor) = actor {
            command.args(["--actor", actor]);
        }
        if let Some(user) = self.user {
            command.env("USER", user);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            use std::io::Write as _;
            // The command may exit before reading: ignore a closed pipe.
            let _ = input.write_all(text.as_bytes());
        }
        drop(input);
        child.wait_with_output().unwrap()
    }

    /// `forge-authz ARGS --db DB` as the case's actor.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, self.actor, None)
    }

    /// `forge-authz ARGS --db DB` as the case's actor, with `stdin`.
    pub fn run_in(&self, args: &[&str], stdin: Option<&str>) -> Output {
        self.run_with(args, self.actor, stdin)
    }

    /// `forge-authz ARGS --db DB --actor ACTOR`.
    pub fn run_as(&self, actor: &str, args: &[&str]) -> Output {
        self.run_with(args, Some(actor), None)
    }

    /// A command that must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        succeeded(args, self.run(args))
    }

    /// A command that must succeed as `actor`; its stdout.
    pub fn ok_as(&self, actor: &str, args: &[&str]) -> String {
        succeeded(args, self.run_as(actor, args))
    }

    /// A command with `stdin` that must succeed; its stdout.
    pub fn ok_in(&self, args: &[&str], stdin: &str) -> String {
        succeeded(args, self.run_in(args, Some(stdin)))
    }

    /// `decide --request - --db DB` on `request` (no actor): what it printed.
    pub fn decide_output(&self, request: &str) -> Output {
        self.run_with(&["decide", "--request", "-"], None, Some(request))
    }

    /// A command that must succeed with `--json`; its output.
    pub fn json(&self, args: &[&str]) -> Value {
        parsed(args, &self.ok(&[args, &["--json"]].concat()))
    }

    /// A command with `stdin` that must succeed with `--json`; its output.
    pub fn json_in(&self, args: &[&str], stdin: &str) -> Value {
        parsed(args, &self.ok_in(&[args, &["--json"]].concat(), stdin))
    }

    /// A command that must succeed with `--json` as `actor`; its output.
    pub fn json_as(&self, actor: &str, args: &[&str]) -> Value {
        parsed(args, &self.ok_as(actor, &[args, &["--json"]].concat()))
    }

    /// A command that must exit `code` saying `says` on stderr; its stderr.
    pub fn fails(&self, args: &[&str], code: i32, says: &str) -> String {
        self.refused(args, self.run(args), code, says)
    }

    /// [`StoreCase::fails`] on each row: the arguments, the exit status, what stderr says.
    pub fn fails_each(&self, rows: &[(&[&str], i32, &str)]) {
        for (args, code, says) in rows {
            self.fails(args, *code, says);
        }
    }

    /// [`StoreCase::fails`] with `stdin`.
    pub fn fails_in(&self, args: &[&str], stdin: &str, code: i32, says: &str) -> String {
        self.refused(args, self.run_in(args, Some(stdin)), code, says)
    }

    fn refused(&self, args: &[&str], o: Output, code: i32, says: &str) -> String {
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(code), "{}", describe(args, &o));
        assert!(
            err.contains(says),
            "wanted {says:?}: {}",
            describe(args, &o)
        );
        if self.quiet_refusals {
            assert!(o.stdout.is_empty(), "{}", describe(args, &o));
        }
        err
    }
}

/// `o` succeeded: its stdout.
fn succeeded(args: &[&str], o: Output) -> String {
    assert!(o.status.success(), "{}", describe(args, &o));
    String::from_utf8(o.stdout).unwrap()
}

/// `out` is JSON: its value.
fn parsed(args: &[&str], out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

/// An OpenSSH ed25519 public key line for 32 bytes of `seed` (the blob is the SSH wire
/// form: the type string, then the key).
pub fn ed25519_line(seed: u8, comment: &str) -> String {
    let mut blob = Vec::new();
    for part in [&b"ssh-ed25519"[..], &[seed; 32][..]] {
        blob.extend_from_slice(&u32::try_from(part.len()).unwrap().to_be_bytes());
        blob.extend_from_slice(part);
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(blob);
    format!("ssh-ed25519 {b64} {comment}")
}

/// Issue 25, "Reading commands never create a store": each of `commands` on a missing
/// store (`typo.db` in a scratch directory named `prefix...`) exits 6 (the exit status
/// table), says `init-db`, and leaves no file behind.
pub fn missing_store_creates_nothing(prefix: &str, commands: &[&[&str]]) {
    let dir = forge_authz_testkit::scratch(prefix);
    let db = dir.join("typo.db");
    for args in commands {
        let o = Command::new(env!("CARGO_BIN_EXE_forge-authz"))
            .args(*args)
            .args(["--db", db.to_str().unwrap()])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(UNAVAILABLE), "{}", describe(args, &o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("init-db"),
            "{}",
            describe(args, &o)
        );
        assert!(!db.exists(), "{args:?} created {}", db.display());
    }
    std::fs::remove_dir_all(dir).unwrap();
}
