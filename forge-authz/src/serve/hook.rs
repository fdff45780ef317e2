//! Per-ref decisions inside `git receive-pack`, failing closed.
//!
//! The server runs receive-pack with `receive.procReceiveRefs=refs` and its own
//! `core.hooksPath`: git then hands **every** ref update of a push to the `proc-receive`
//! hook, which asks the server about each ref over one connection to a private Unix
//! socket, applies the allowed updates itself in **one** `git update-ref --stdin`
//! transaction (old values checked) and reports `ok`/`ng` per ref.
//!
//! Applying (issue 20 items 5 and 6): the transaction is prepared (every ref locked and
//! checked), then the hook asks the server whether it may commit ([`HookRequest::Commit`]):
//! a push the server has given up on (its client left, a deadline passed, the server is
//! stopping) is refused there and aborted, so it changes no ref. A non-atomic push whose
//! transaction cannot be prepared (a ref moved meanwhile) falls back to one transaction per
//! ref, so each ref still gets its own correct `ok`/`ng`. Thousands of refs cost one
//! connection, one `update-ref` and a few seconds of decisions; while they run, the hook
//! prints progress and receive-pack sends keepalives (`receive.keepAlive`, set below the
//! server's idle deadline), so a working push never looks like a stalled one. If git cannot run the hook (a `noexec` state directory, a missing
//! or broken hook), receive-pack refuses every update ("fail to run proc-receive hook"):
//! unlike an `update` hook, which git silently skips when it cannot execute it, a push
//! whose hook did not run never lands. The server also proves at start-up that the hook
//! executes ([`prove_executes`]) and refuses to start otherwise.
//!
//! The questions and answers are typed JSON lines ([`Question`], [`Answer`]); the
//! credential never leaves the server: the hook only presents the push's one-time id.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

/// Longest question or answer line, bytes.
pub const MAX_LINE: u64 = 4096;

/// One ref update the hook asks about.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// The push's one-time id (from the server, via the environment).
    pub push: String,
    /// Full ref name.
    #[serde(rename = "ref")]
    pub ref_name: String,
    /// Old object id (zeros: create).
    pub old: String,
    /// New object id (zeros: delete).
    pub new: String,
    /// Not a fast-forward (unknown counts as forced).
    pub force: bool,
}

/// What the hook asks the server, one JSON line each.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "ask", rename_all = "kebab-case", deny_unknown_fields)]
pub enum HookRequest {
    /// May this ref update be applied?
    Ref(Question),
    /// The allowed updates are prepared (locked): may they be committed? Refused once the
    /// server has given up on the push.
    Commit {
        /// The push's one-time id.
        push: String,
    },
}

/// The server's verdict on one ref update (or on a commit).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    /// Apply it.
    pub allow: bool,
    /// Why (shown to the user by git as `remote:` / the `ng` reason).
    pub message: String,
}

/// Environment of the hook: the push id and the socket.
pub const ENV_PUSH: &str = "FORGE_AUTHZ_PUSH";
/// Environment of the hook: the server's hook socket.
pub const ENV_SOCKET: &str = "FORGE_AUTHZ_HOOK_SOCKET";
/// Environment of the start-up proof: the hook echoes this value.
pub const ENV_PROBE: &str = "FORGE_AUTHZ_HOOK_PROBE";

/// The hook script: runs this binary's `hook proc-receive`.
pub fn script(bin: &Path) -> String {
    format!(
        "#!/bin/sh\n# Installed by forge-authz: decides each ref update of a push.\nexec '{}' hook proc-receive\n",
        bin.display().to_string().replace('\'', "'\\''")
    )
}

/// Write the hook into `hooks_dir` (created fresh, `0700`; the script `0700`, never
/// group- or world-writable).
pub fn install(hooks_dir: &Path, bin: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(hooks_dir)
        .with_context(|| format!("creating {}", hooks_dir.display()))?;
    let hook = hooks_dir.join("proc-receive");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o700)
        .open(&hook)
        .with_context(|| format!("creating {}", hook.display()))?;
    f.write_all(script(bin).as_bytes())?;
    Ok(())
}

/// The git configuration that routes every ref update of a push through the hook.
pub fn git_config(hooks_dir: &Path) -> Vec<(String, String)> {
    vec![
        (
            "core.hooksPath".into(),
            hooks_dir.to_string_lossy().into_owned(),
        ),
        ("receive.procReceiveRefs".into(), "refs".into()),
    ]
}

/// Prove that git will be able to run the hook: execute it as git would and check it
/// answers. A `noexec` mount, a missing interpreter or a broken binary fails here, and the
/// server refuses to start.
pub fn prove_executes(hooks_dir: &Path) -> anyhow::Result<()> {
    let hook = hooks_dir.join("proc-receive");
    let nonce = super::random_id();
    let out = Command::new(&hook)
        .env(ENV_PROBE, &nonce)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .with_context(|| {
            format!(
                "the push hook {} cannot be executed (is the state directory on a noexec mount?)",
                hook.display()
            )
        })?;
    if !out.status.success() || String::from_utf8_lossy(&out.stdout).trim() != nonce {
        bail!(
            "the push hook {} did not answer its start-up check",
            hook.display()
        );
    }
    Ok(())
}

/// One connection to the server's hook socket, for all of a push's questions. Any
/// failure is a refusal.
struct Server {
    stream: Option<(BufReader<UnixStream>, UnixStream)>,
}

impl Server {
    fn connect(socket: &Path) -> Server {
        let stream = UnixStream::connect(socket).and_then(|s| {
            s.set_read_timeout(Some(Duration::from_secs(60)))?;
            s.set_write_timeout(Some(Duration::from_secs(10)))?;
            let writer = s.try_clone()?;
            Ok((BufReader::new(s), writer))
        });
        Server {
            stream: stream.ok(),
        }
    }

    fn ask(&mut self, q: &HookRequest) -> Answer {
        let refuse = |m: &str| Answer {
            allow: false,
            message: m.into(),
        };
        let Ok(line) = serde_json::to_string(q) else {
            return refuse("malformed question");
        };
        let Some((reader, writer)) = self.stream.as_mut() else {
            return refuse("cannot reach the authorization server");
        };
        let answer = (|| -> std::io::Result<String> {
            writeln!(writer, "{line}")?;
            let mut out = String::new();
            reader.by_ref().take(MAX_LINE).read_line(&mut out)?;
            Ok(out)
        })();
        match answer {
            Ok(a) if a.ends_with('\n') => serde_json::from_str(a.trim())
                .unwrap_or_else(|_| refuse("malformed answer from the authorization server")),
            _ => {
                // The connection is unusable: every later question is refused too.
                self.stream = None;
                refuse("cannot reach the authorization server")
            }
        }
    }
}

/// Ask the server about one ref update on a connection of its own (a test helper and
/// the simplest client). Any failure is a refusal.
pub fn ask(socket: &Path, q: &Question) -> Answer {
    Server::connect(socket).ask(&HookRequest::Ref(q.clone()))
}

// ---- pkt-line (git's framing for the proc-receive protocol) ----

/// Read one pkt-line: `Some(payload)`, or `None` for a flush packet.
fn read_pkt(r: &mut impl std::io::Read) -> anyhow::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).context("reading a pkt-line")?;
    let len = usize::from_str_radix(std::str::from_utf8(&len)?, 16)?;
    if len == 0 {
        return Ok(None);
    }
    if !(4..=65520).contains(&len) {
        bail!("bad pkt-line length {len}");
    }
    let mut buf = vec![0u8; len - 4];
    r.read_exact(&mut buf)?;
    Ok(Some(buf))
}

fn write_pkt(w: &mut impl std::io::Write, line: &str) -> std::io::Result<()> {
    write!(w, "{:04x}{line}", line.len() + 4)
}

fn flush_pkt(w: &mut impl std::io::Write) -> std::io::Result<()> {
    w.write_all(b"0000")?;
    w.flush()
}

fn is_zero(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b == b'0')
}

/// One line of a report: no newline or NUL may reach git's framing.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

struct RefCommand {
    old: String,
    new: String,
    name: String,
}

/// `forge-authz hook proc-receive`: git's proc-receive hook (see the module docs).
/// Exit 0 after reporting; any protocol failure exits 1, and git then refuses the push.
pub fn proc_receive() -> u8 {
    if let Some(nonce) = std::env::var_os(ENV_PROBE) {
        println!("{}", nonce.to_string_lossy());
        return 0;
    }
    match run_proc_receive() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("forge-authz: push refused: {e:#}");
            1
        }
    }
}

fn run_proc_receive() -> anyhow::Result<()> {
    let (Some(push), Some(socket)) = (std::env::var_os(ENV_PUSH), std::env::var_os(ENV_SOCKET))
    else {
        bail!("this push was not authorized by forge-authz");
    };
    let push = push.to_string_lossy().into_owned();
    let socket = std::path::PathBuf::from(socket);
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut output = stdout.lock();
    let atomic = negotiate(&mut input, &mut output)?;
    let commands = read_commands(&mut input)?;
    let mut server = Server::connect(&socket);
    let mut results = decide_refs(&mut server, &push, &commands);
    apply_allowed(&mut server, &push, &commands, &mut results, atomic);
    for (c, r) in commands.iter().zip(&results) {
        match r {
            Ok(()) => write_pkt(&mut output, &format!("ok {}\n", c.name))?,
            Err(m) => {
                eprintln!("forge-authz: {}: {}", c.name, one_line(m));
                write_pkt(&mut output, &format!("ng {} {}\n", c.name, one_line(m)))?;
            }
        }
    }
    flush_pkt(&mut output)?;
    Ok(())
}

/// Version negotiation: `version=1\0<capabilities>`, then a flush; we answer `version=1`.
/// Whether the push is atomic.
fn negotiate(
    input: &mut impl std::io::Read,
    output: &mut impl std::io::Write,
) -> anyhow::Result<bool> {
    let first = read_pkt(input)?.context("no version from receive-pack")?;
    let (version, caps) = match first.iter().position(|&b| b == 0) {
        Some(i) => (
            first.get(..i).unwrap_or_default(),
            first.get(i + 1..).unwrap_or_default(),
        ),
        None => (first.as_slice(), &[][..]),
    };
    if !String::from_utf8_lossy(version).trim_end().eq("version=1") {
        bail!("unsupported proc-receive protocol");
    }
    let atomic = String::from_utf8_lossy(caps)
        .split_whitespace()
        .any(|c| c == "atomic");
    while read_pkt(input)?.is_some() {}
    write_pkt(output, "version=1\n")?;
    flush_pkt(output)?;
    Ok(atomic)
}

/// The commands: `<old> <new> <ref>`, then a flush.
fn read_commands(input: &mut impl std::io::Read) -> anyhow::Result<Vec<RefCommand>> {
    let mut commands = Vec::new();
    while let Some(line) = read_pkt(input)? {
        let line = String::from_utf8(line).context("non-UTF-8 command")?;
        let mut parts = line.trim_end().splitn(3, ' ');
        let (Some(old), Some(new), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
            bail!("malformed command");
        };
        commands.push(RefCommand {
            old: old.into(),
            new: new.into(),
            name: name.into(),
        });
    }
    Ok(commands)
}

/// Every ref decided first, on one connection: `Ok` or the refusal's message, per command.
fn decide_refs(
    server: &mut Server,
    push: &str,
    commands: &[RefCommand],
) -> Vec<Result<(), String>> {
    let mut progress = Progress::new(commands.len());
    let mut results = Vec::with_capacity(commands.len());
    for (n, c) in commands.iter().enumerate() {
        // Fast-forward check: the new objects are in the repository now. Unknown counts
        // as forced (fail closed).
        let create_or_delete = is_zero(&c.old) || is_zero(&c.new);
        let force = !create_or_delete
            && !Command::new("git")
                .args(["merge-base", "--is-ancestor", &c.old, &c.new])
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
        let a = server.ask(&HookRequest::Ref(Question {
            push: push.to_string(),
            ref_name: c.name.clone(),
            old: c.old.clone(),
            new: c.new.clone(),
            force,
        }));
        results.push(if a.allow { Ok(()) } else { Err(a.message) });
        progress.tick(n + 1);
    }
    results
}

/// Apply the allowed refs in one transaction (the server commits the push's effects
/// first); an atomic push is all or nothing; when the transaction cannot be prepared (one
/// ref moved or is locked), each ref is applied alone and gets its own answer.
fn apply_allowed(
    server: &mut Server,
    push: &str,
    commands: &[RefCommand],
    results: &mut Vec<Result<(), String>>,
    atomic: bool,
) {
    let allowed: Vec<usize> = (0..commands.len())
        .filter(|i| results.get(*i).is_some_and(Result::is_ok))
        .collect();
    let mut commit = |batch: &[&RefCommand]| {
        apply(batch, || {
            server.ask(&HookRequest::Commit {
                push: push.to_string(),
            })
        })
    };
    if atomic {
        // All or nothing: one refused ref fails them all.
        if allowed.len() == commands.len() {
            let batch: Vec<&RefCommand> = commands.iter().collect();
            if let Err(e) = commit(&batch) {
                *results = commands.iter().map(|_| Err(e.message())).collect();
            }
        } else {
            *results = std::mem::take(results)
                .into_iter()
                .map(|r| r.and(Err("atomic push failed".to_string())))
                .collect();
        }
    } else if !allowed.is_empty() {
        let batch: Vec<&RefCommand> = allowed.iter().filter_map(|i| commands.get(*i)).collect();
        match commit(&batch) {
            Ok(()) => {}
            Err(Applied::Refused(m)) => {
                for i in &allowed {
                    if let Some(r) = results.get_mut(*i) {
                        *r = Err(m.clone());
                    }
                }
            }
            Err(Applied::NotPrepared(_)) => {
                for i in &allowed {
                    if let (Some(c), Some(r)) = (commands.get(*i), results.get_mut(*i)) {
                        *r = commit(&[c]).map_err(|e| e.message());
                    }
                }
            }
        }
    }
}

/// Progress lines for a long push (on stderr, which receive-pack sends to the client as
/// `remote:` lines): at most one a second, none for a push decided within a second.
struct Progress {
    total: usize,
    started: std::time::Instant,
    last: std::time::Instant,
}

impl Progress {
    fn new(total: usize) -> Progress {
        let now = std::time::Instant::now();
        Progress {
            total,
            started: now,
            last: now,
        }
    }

    fn tick(&mut self, done: usize) {
        let now = std::time::Instant::now();
        if now.duration_since(self.last) >= Duration::from_secs(1) {
            self.last = now;
            eprintln!(
                "forge-authz: checked {done}/{} ref updates ({} s)",
                self.total,
                now.duration_since(self.started).as_secs()
            );
        }
    }
}

/// Why a batch of ref updates was not applied.
enum Applied {
    /// The transaction could not be prepared (a ref moved, a lock is held): git's message.
    NotPrepared(String),
    /// The server refused the commit (it gave up on the push), or committing failed.
    Refused(String),
}

impl Applied {
    fn message(&self) -> String {
        match self {
            Applied::NotPrepared(m) | Applied::Refused(m) => m.clone(),
        }
    }
}

/// Apply `batch` in one `git update-ref --stdin` transaction: `start`, every update
/// checked against its old value (a zero old value: the ref must not exist yet),
/// `prepare` (all locked), then `commit` only if `may_commit` allows it, else `abort`.
fn apply(batch: &[&RefCommand], may_commit: impl FnOnce() -> Answer) -> Result<(), Applied> {
    let failed = |e: std::io::Error| Applied::NotPrepared(format!("cannot update refs: {e}"));
    let mut child = Command::new("git")
        .args(["update-ref", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(failed)?;
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(Applied::NotPrepared("cannot update refs".into()));
    };
    // git's complaints, read on the side (bounded) so a full pipe never blocks it.
    let complaints = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.take(64 * 1024).read_to_string(&mut s);
        s
    });
    let mut replies = BufReader::new(stdout);
    let mut expect = |stdin: &mut std::process::ChildStdin, command: &str| -> bool {
        if writeln!(stdin, "{command}")
            .and_then(|()| stdin.flush())
            .is_err()
        {
            return false;
        }
        let mut line = String::new();
        let read = replies.by_ref().take(MAX_LINE).read_line(&mut line);
        read.is_ok() && line.trim_end() == format!("{command}: ok")
    };
    let mut outcome = if expect(&mut stdin, "start") {
        let mut script = String::new();
        for c in batch {
            if is_zero(&c.new) {
                script.push_str(&format!("delete {} {}\n", c.name, c.old));
            } else {
                script.push_str(&format!("update {} {} {}\n", c.name, c.new, c.old));
            }
        }
        if stdin.write_all(script.as_bytes()).is_ok() && expect(&mut stdin, "prepare") {
            let answer = may_commit();
            if answer.allow {
                if expect(&mut stdin, "commit") {
                    Ok(())
                } else {
                    Err(Applied::Refused("failed to update refs".into()))
                }
            } else {
                let _ = expect(&mut stdin, "abort");
                Err(Applied::Refused(answer.message))
            }
        } else {
            Err(Applied::NotPrepared(String::new()))
        }
    } else {
        Err(Applied::NotPrepared(String::new()))
    };
    drop(stdin);
    let _ = child.wait();
    let complaint = complaints.join().unwrap_or_default();
    if let Err(Applied::NotPrepared(m) | Applied::Refused(m)) = &mut outcome
        && m.is_empty()
    {
        let why = one_line(complaint.trim());
        *m = if why.is_empty() {
            "failed to update ref".into()
        } else {
            format!("failed to update ref: {why}")
        };
    }
    outcome
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn pkt_lines() {
        let mut out = Vec::new();
        write_pkt(&mut out, "version=1\n").unwrap();
        flush_pkt(&mut out).unwrap();
        assert_eq!(out, b"000eversion=1\n0000");
        let mut r = &out[..];
        assert_eq!(read_pkt(&mut r).unwrap().unwrap(), b"version=1\n");
        assert_eq!(read_pkt(&mut r).unwrap(), None);
        assert!(read_pkt(&mut &b"0003"[..]).is_err());
        assert!(read_pkt(&mut &b"zzzz"[..]).is_err());
    }

    #[test]
    fn questions_are_typed() {
        let q: Result<Question, _> = serde_json::from_str(
            r#"{"push":"p","ref":"refs/heads/main","old":"0","new":"1","force":false,"x":1}"#,
        );
        assert!(q.is_err(), "unknown fields are refused");
        let r: HookRequest = serde_json::from_str(
            r#"{"ask":"ref","push":"p","ref":"refs/heads/main","old":"0","new":"1","force":false}"#,
        )
        .unwrap();
        assert!(matches!(r, HookRequest::Ref(q) if q.ref_name == "refs/heads/main"));
        let r: HookRequest = serde_json::from_str(r#"{"ask":"commit","push":"p"}"#).unwrap();
        assert_eq!(r, HookRequest::Commit { push: "p".into() });
        for bad in [
            r#"{"ask":"ref","push":"p","ref":"r","old":"0","new":"1","force":false,"x":1}"#,
            r#"{"ask":"commit","push":"p","x":1}"#,
            r#"{"ask":"other","push":"p"}"#,
            r#"{"push":"p"}"#,
        ] {
            assert!(serde_json::from_str::<HookRequest>(bad).is_err(), "{bad}");
        }
    }
}
