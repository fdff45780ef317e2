//! The decision log (`serve --decision-log PATH|-`, `git-shell --decision-log PATH`): one
//! JSON object per line for every decision the policy made on a served request — a pull,
//! a push, each ref update of a push (through the push hook), a forward-auth check —
//! with who asked, how, from where, on what, the verdict and the module that gave it. It
//! answers "why was dave refused?" where the request log only says `403`.
//!
//! Every string is cleaned as the request log's values are ([`super::clean`]): a
//! token-shaped run is redacted wherever it appears (a path, a typed username, a
//! repository name), control characters are escaped, long values are cut. A path is
//! written without its query string. A secret is never passed in: the token is named by
//! its public id, and only once the store knew it.
//!
//! A file is opened for appending (`O_APPEND`: records of several processes, `serve` and
//! every `git-shell`, never overwrite each other) and created `0600` when missing. Each
//! record is one `write(2)` before the request's answer is sent; a record that cannot be
//! written fails its request closed (the caller refuses it: an audit log with holes is
//! not one).
//!
//! Rotation: [`DecisionLog::reopen`] (`serve` on `SIGUSR1`, nginx's signal for "reopen
//! logs") opens the path again, so a rotated file (`mv`) is followed by a fresh one. A path
//! that cannot be opened then leaves the log closed: every record fails (its request is
//! refused) and tries the path again, so records resume once it can be opened.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::clean;

/// Where records go.
#[derive(Debug)]
enum Out {
    /// Standard output (`-`).
    Stdout,
    /// A file, opened for appending.
    File(std::fs::File),
    /// The file could not be reopened: no record is written until it can be (each write
    /// tries again).
    Closed,
}

/// An open decision log.
#[derive(Debug)]
pub struct DecisionLog {
    out: Mutex<Out>,
    /// The file's path (`None`: standard output).
    path: Option<PathBuf>,
    /// This host, as every record names it.
    host: String,
}

/// The argument of `--decision-log`: `-` (standard output) or a file.
pub fn is_stdout(spec: &Path) -> bool {
    spec == Path::new("-")
}

impl DecisionLog {
    /// Open `spec` (`-`: standard output; else a file, appended to, created `0600`), the
    /// records naming `host`.
    pub fn open(spec: &Path, host: String) -> anyhow::Result<DecisionLog> {
        let (out, path) = if is_stdout(spec) {
            (Out::Stdout, None)
        } else {
            let file = open_file(spec).map_err(|e| {
                anyhow::anyhow!(
                    "cannot open the decision log {}: {e}; give a file this user may append to, or `-` for standard output",
                    spec.display()
                )
            })?;
            (Out::File(file), Some(spec.to_path_buf()))
        };
        Ok(DecisionLog {
            out: Mutex::new(out),
            path,
            host,
        })
    }

    /// The file records go to (`None`: standard output).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Open the file again by its path (after a log rotation moved it away), appended to,
    /// created `0600`; the old file is closed. Standard output: nothing to do. An error:
    /// the log is closed, and every record fails until the path can be opened again.
    pub fn reopen(&self) -> std::io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let opened = open_file(path);
        let mut out = self.lock();
        match opened {
            Ok(file) => {
                *out = Out::File(file);
                Ok(())
            }
            Err(e) => {
                *out = Out::Closed;
                Err(e)
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Out> {
        self.out.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Write one record, its newline included, in one write; an error means it was not
    /// (wholly) written.
    pub fn write(&self, record: &Record<'_>) -> std::io::Result<()> {
        let mut line = record.json(&self.host).to_string();
        line.push('\n');
        let mut out = self.lock();
        if let (Out::Closed, Some(path)) = (&*out, &self.path) {
            let file = open_file(path).map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("cannot reopen the decision log {}: {e}", path.display()),
                )
            })?;
            *out = Out::File(file);
        }
        match &mut *out {
            Out::Stdout => {
                let mut stdout = std::io::stdout().lock();
                stdout.write_all(line.as_bytes())?;
                stdout.flush()
            }
            Out::File(f) => f.write_all(line.as_bytes()),
            Out::Closed => Err(std::io::Error::other("the decision log is closed")),
        }
    }
}

/// `path` opened for appending, created `0600` when missing. A file a local user could
/// have planted is refused (the log names users, addresses and token ids): the last
/// component is never a symlink (`O_NOFOLLOW`), and a regular file or a FIFO (a log
/// shipper's pipe) must be owned by this process's user and not writable by every user. A
/// character device (`/dev/null`, a terminal) is taken as it is: only root makes one.
/// Anything else is refused. A refusal leaves the log closed, which fails closed.
fn open_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, OpenOptionsExt as _};
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        // Never blocks: a FIFO no one reads is refused at once (ENXIO), not waited on.
        .custom_flags((rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32)
        .open(path)?;
    let meta = file.metadata()?;
    let me = rustix::process::geteuid().as_raw();
    let kind = meta.file_type();
    let refused = if kind.is_char_device() {
        None
    } else if !kind.is_file() && !kind.is_fifo() {
        Some("it is not a regular file, a FIFO or a character device".to_string())
    } else if meta.uid() != me {
        Some(format!(
            "it is owned by uid {}, not by this server's user (uid {me})",
            meta.uid()
        ))
    } else if meta.mode() & 0o002 != 0 {
        Some("every user may write it (mode o+w)".to_string())
    } else {
        None
    };
    match refused {
        Some(why) => Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("refused: {why}; remove it and let the server create it (0600)"),
        )),
        None => Ok(file),
    }
}

/// The module that decided.
#[derive(Clone, Copy, Debug)]
pub struct Module<'a> {
    /// SHA-256 of its bytes.
    pub sha256: &'a str,
    /// Its signed version (`None`: embedded or unsigned).
    pub version: Option<u64>,
    /// This process's publication number.
    pub generation: u64,
}

/// One decision, as the decision log records it (see the README's "Decision log" for each
/// field). Every string is cleaned when written.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    /// Unix seconds.
    pub at: i64,
    /// The request's id (a push's ref updates carry their push's).
    pub request_id: &'a str,
    /// `http`, `forward-auth` or `ssh`.
    pub via: &'a str,
    /// The client address the decision was made with (IP allow lists).
    pub client: Option<&'a str>,
    /// The TCP peer (HTTP only).
    pub peer: Option<&'a str>,
    /// `anonymous`, `token`, `password`, `ssh-key`, `deploy-key` or `session`.
    pub credential: &'a str,
    /// The username a `password` credential typed (unverified).
    pub username: Option<&'a str>,
    /// The verified acting user.
    pub user: Option<&'a str>,
    /// The presented token's id, once the store knew it.
    pub token: Option<&'a str>,
    /// `pull`, `push` or `ref-update`.
    pub action: &'a str,
    /// The ref of a `ref-update`.
    pub ref_name: Option<&'a str>,
    /// The HTTP path asked (never its query string).
    pub path: Option<&'a str>,
    /// `owner/name`: as stored when the store had it, else as asked.
    pub repository: Option<&'a str>,
    /// Whether it was allowed.
    pub allow: bool,
    /// The HTTP status of the decision.
    pub status: u16,
    /// The reason code.
    pub reason: &'a str,
    /// What the client was told.
    pub message: &'a str,
    /// The module that decided.
    pub module: Module<'a>,
}

/// A status's class, by name.
pub fn status_class(status: u16) -> &'static str {
    match status {
        200..=299 => "ok",
        400 => "bad-request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not-found",
        503 => "unavailable",
        _ => "error",
    }
}

impl Record<'_> {
    /// The record as a JSON object, every string cleaned.
    pub fn json(&self, host: &str) -> serde_json::Value {
        let s = |v: &str| serde_json::Value::String(clean(v));
        let o = |v: Option<&str>| v.map_or(serde_json::Value::Null, s);
        serde_json::json!({
            "at": self.at,
            "at_utc": forge_authz_guest::site::time::utc(self.at),
            "request_id": s(self.request_id),
            "host": s(host),
            "via": s(self.via),
            "client": o(self.client),
            "peer": o(self.peer),
            "credential": s(self.credential),
            "username": o(self.username),
            "user": o(self.user),
            "token": o(self.token),
            "action": s(self.action),
            "ref": o(self.ref_name),
            "path": o(self.path.map(super::path_only)),
            "repository": o(self.repository),
            "verdict": if self.allow { "allow" } else { "deny" },
            "status": self.status,
            "status_class": status_class(self.status),
            "reason": s(self.reason),
            "message": s(self.message),
            "module_sha256": s(self.module.sha256),
            "module_version": self.module.version,
            "module_generation": self.module.generation,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn record<'a>(path: &'a str, username: &'a str) -> Record<'a> {
        Record {
            at: 1_767_225_600,
            request_id: "r1",
            via: "http",
            client: Some("192.0.2.7"),
            peer: Some("127.0.0.1:4000"),
            credential: "password",
            username: Some(username),
            user: None,
            token: None,
            action: "pull",
            ref_name: None,
            path: Some(path),
            repository: Some("alice/secret"),
            allow: false,
            status: 404,
            reason: "not-found",
            message: "line\nforged",
            module: Module {
                sha256: "ab",
                version: None,
                generation: 1,
            },
        }
    }

    #[test]
    fn records_are_redacted_and_escaped() {
        let t = "fzpat_k1.abcdefABCDEF0123456789";
        let path = format!("/{t}/x.git/info/refs?access_token={t}");
        let v = record(&path, t).json("h");
        let line = v.to_string();
        assert!(!line.contains("abcdefABCDEF"), "{line}");
        assert!(!line.contains("access_token"), "{line}");
        assert_eq!(v["path"], "/fzpat_[redacted]/x.git/info/refs");
        assert_eq!(v["username"], "fzpat_[redacted]");
        assert_eq!(v["at_utc"], "2026-01-01T00:00:00Z");
        assert_eq!(v["status_class"], "not-found");
        assert_eq!(v["module_version"], serde_json::Value::Null);
        assert_eq!(line.lines().count(), 1);
    }

    #[test]
    fn files_are_created_private_and_appended() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("fz-dlog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("d.log");
        std::fs::write(&path, "kept\n").unwrap();
        std::fs::remove_file(&path).unwrap();
        let log = DecisionLog::open(&path, "h".into()).unwrap();
        log.write(&record("/a/b.git/info/refs", "dave")).unwrap();
        let again = DecisionLog::open(&path, "h".into()).unwrap();
        again.write(&record("/a/b.git/info/refs", "dave")).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reopen_follows_a_rotation_and_a_missing_directory_refuses_until_it_is_back() {
        let dir = std::env::temp_dir().join(format!("fz-dlog-rot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("d.log");
        let log = DecisionLog::open(&path, "h".into()).unwrap();
        log.write(&record("/a/b.git/info/refs", "first")).unwrap();
        std::fs::rename(&path, dir.join("d.log.1")).unwrap();
        log.reopen().unwrap();
        log.write(&record("/a/b.git/info/refs", "second")).unwrap();
        let old = std::fs::read_to_string(dir.join("d.log.1")).unwrap();
        let new = std::fs::read_to_string(&path).unwrap();
        assert!(old.contains("first") && !old.contains("second"), "{old}");
        assert!(new.contains("second") && !new.contains("first"), "{new}");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(log.reopen().is_err());
        assert!(log.write(&record("/a/b.git/info/refs", "lost")).is_err());
        std::fs::create_dir_all(&dir).unwrap();
        log.write(&record("/a/b.git/info/refs", "third")).unwrap();
        let back = std::fs::read_to_string(&path).unwrap();
        assert_eq!(back.lines().count(), 1, "{back}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
