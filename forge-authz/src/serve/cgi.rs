//! The bridge to `git http-backend` (CGI), streaming both ways.
//!
//! The request body is copied to git's stdin as it arrives (never buffered whole), with
//! an idle deadline per chunk and the server's body limit; git's output is parsed for
//! its CGI headers (bounded) and then streamed to the client. git runs in a process group
//! of its own ([`super::procs`]): the whole group is ended when the response ends, when
//! the client goes away or when a deadline passes, and its leader reaped — no worker ever
//! waits on a child whose pipe it still holds.
//!
//! **Request bodies are decoded here, and the limit counts what git reads** (issue 20
//! item 4): a `gzip`/`x-gzip` body is inflated by the server, in steps of at most
//! [`INFLATE_STEP`] compressed bytes (so a bomb never holds more than about a megabyte of
//! output in memory), and git gets the plain body with no `Content-Encoding`. The limit
//! (`--max-body-bytes` for pushes, `--max-fetch-body-bytes` for fetches) counts inflated
//! bytes; past it the feed stops and git's stdin is closed, so git sees a truncated
//! request and fails it without storing anything (receive-pack removes its quarantined
//! objects). Any other content coding is refused (`415`) before git starts.

use std::future::Future as _;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper::body::{Frame, Incoming};
use tokio::io::{
    AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, AsyncWriteExt as _, BufReader,
};
use tokio::process::{ChildStdout, Command};

use super::procs::{self, Group};
use crate::log;

/// Compressed bytes handed to the inflater at a time: deflate expands at most about
/// 1032:1, so one step produces at most about a megabyte.
pub const INFLATE_STEP: usize = 1024;

/// How a request body is encoded (`Content-Encoding`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyEncoding {
    /// No coding (absent or `identity`).
    Plain,
    /// `gzip` or `x-gzip`: inflated by the server before git reads it.
    Gzip,
}

impl BodyEncoding {
    /// The coding a `Content-Encoding` value names; `None` for any other (refused).
    pub fn parse(value: Option<&str>) -> Option<BodyEncoding> {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("" | "identity") => Some(BodyEncoding::Plain),
            Some("gzip" | "x-gzip") => Some(BodyEncoding::Gzip),
            Some(_) => None,
        }
    }
}

/// Longest block of CGI headers accepted from git, bytes.
const MAX_CGI_HEADERS: usize = 64 * 1024;

/// What one CGI run needs.
pub struct CgiRequest<'a> {
    /// `GET` or `POST`.
    pub method: &'a str,
    /// The repositories root.
    pub root: &'a Path,
    /// `owner/name` as decided (from the repository's facts, not from the URL).
    pub repository: &'a str,
    /// The rest of the path after `owner/name.git/` (`info/refs`, `git-upload-pack`...).
    pub rest: &'a str,
    /// The query string.
    pub query: &'a str,
    /// Who acted (for `REMOTE_USER`).
    pub principal: &'a str,
    /// Selected request headers: `Content-Type`, `Git-Protocol`.
    pub content_type: Option<String>,
    /// How the body is encoded (decoded here: git never sees `Content-Encoding`).
    pub encoding: BodyEncoding,
    /// `Git-Protocol`.
    pub git_protocol: Option<String>,
    /// A push: the hooks directory, socket and one-time id.
    pub push: Option<(PathBuf, PathBuf, String)>,
    /// Largest body accepted, counted after decoding (what git reads).
    pub max_body: u64,
    /// Longest wait for the next chunk of the body or of git's output.
    pub idle: Duration,
    /// For log records: the request path (already cleaned of its query) and the peer.
    pub log_path: String,
    /// For log records: the peer.
    pub peer: String,
}

/// git's answer: status, headers, and the streamed rest of its output.
pub struct CgiResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// The body (owns the child).
    pub body: ChildBody,
}

/// Something to drop when the response body ends (a push's registration).
pub type Guard = Box<dyn Send>;

/// `receive.keepAlive` for a given idle deadline: receive-pack sends a keepalive packet
/// after this many silent seconds while it checks the pack and while the push hook decides,
/// so a working server never looks like a stalled one (issue 20 item 6).
pub fn keepalive_seconds(idle: Duration) -> u64 {
    (idle.as_secs() / 3).clamp(1, 5)
}

/// git's exec path (`git --exec-path`, asked once per process with the environment every
/// request's git gets), when `git-http-backend` is there.
static EXEC_PATH: tokio::sync::OnceCell<Option<PathBuf>> = tokio::sync::OnceCell::const_new();

/// How long `git --exec-path` may take before the wrapper is used instead.
const EXEC_PATH_DEADLINE: Duration = Duration::from_secs(2);

/// `PATH` as this process got it: what every git this server runs searches.
fn inherited_path() -> std::ffi::OsString {
    std::env::var_os("PATH").unwrap_or_default()
}

async fn exec_path() -> Option<&'static Path> {
    EXEC_PATH
        .get_or_init(|| ask_exec_path("git".as_ref(), EXEC_PATH_DEADLINE))
        .await
        .as_deref()
}

/// `GIT --exec-path`, bounded: a git that hangs or dies (a wrapper script, a slow network
/// home) costs the first request at most `deadline`, is killed (`kill_on_drop`), and
/// leaves `None`: the requests then run `git http-backend`, the wrapper, as before.
async fn ask_exec_path(git: &std::ffi::OsStr, deadline: Duration) -> Option<PathBuf> {
    let child = Command::new(git)
        .arg("--exec-path")
        .env_clear()
        .env("PATH", inherited_path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    let out = tokio::time::timeout(deadline, child.wait_with_output())
        .await
        .ok()?
        .ok()
        .filter(|o| o.status.success())?;
    let dir = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim_end());
    (dir.is_absolute() && dir.join("git-http-backend").is_file()).then_some(dir)
}

/// The program that serves a request: `EXEC_PATH/git-http-backend` run directly, in the
/// environment the `git` wrapper would give it (`GIT_EXEC_PATH`, and the exec path first
/// in `PATH`: git's `setup_path`). Not through `git http-backend` (issue 24, design
/// §2.10): the wrapper is one more process per request, and `"git"` looked up in a `PATH`
/// the command sets makes std fork the whole server (page tables, copy-on-write faults
/// after) instead of `posix_spawn` (`CLONE_VM | CLONE_VFORK`), then try each `PATH`
/// entry in turn. Without an exec path (`git --exec-path` failed), `git http-backend`.
fn backend_program(exec: Option<&Path>) -> Command {
    let path = inherited_path();
    let Some(exec) = exec else {
        let mut cmd = Command::new("git");
        cmd.arg("http-backend").env_clear().env("PATH", path);
        return cmd;
    };
    let mut first = exec.as_os_str().to_os_string();
    first.push(":");
    first.push(path);
    let mut cmd = Command::new(exec.join("git-http-backend"));
    cmd.env_clear()
        .env("GIT_EXEC_PATH", exec)
        .env("PATH", first);
    cmd
}

/// The `git http-backend` command for an allowed request: CGI variables, git's own
/// limits and, for a push, the per-ref hook and its socket (as `GIT_CONFIG_*` variables,
/// in an environment cleared of everything else).
fn http_backend(req: &CgiRequest<'_>, exec: Option<&Path>) -> Command {
    let mut cmd = backend_program(exec);
    cmd.env("GIT_PROJECT_ROOT", req.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", format!("/{}.git/{}", req.repository, req.rest))
        .env("REQUEST_METHOD", req.method)
        .env("QUERY_STRING", req.query)
        .env("REMOTE_USER", req.principal)
        // http-backend reads a fetch's whole request into memory before upload-pack
        // starts, up to this (git's default: 10 MiB): the same limit as ours, so the
        // two never disagree about a body.
        .env("GIT_HTTP_MAX_REQUEST_BUFFER", req.max_body.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut config: Vec<(String, String)> = vec![("safe.directory".into(), "*".into())];
    if let Some((hooks, socket, id)) = &req.push {
        config.extend(super::hook::git_config(hooks));
        // git's own limit on the pack, beside the server's count of the body.
        config.push(("receive.maxInputSize".into(), req.max_body.to_string()));
        config.push((
            "receive.keepAlive".into(),
            keepalive_seconds(req.idle).to_string(),
        ));
        cmd.env(super::hook::ENV_PUSH, id)
            .env(super::hook::ENV_SOCKET, socket);
    }
    cmd.env("GIT_CONFIG_COUNT", config.len().to_string());
    for (i, (k, v)) in config.iter().enumerate() {
        cmd.env(format!("GIT_CONFIG_KEY_{i}"), k)
            .env(format!("GIT_CONFIG_VALUE_{i}"), v);
    }
    for (value, var) in [
        (&req.content_type, "CONTENT_TYPE"),
        (&req.git_protocol, "GIT_PROTOCOL"),
    ] {
        if let Some(v) = value {
            cmd.env(var, v);
        }
    }
    cmd
}

/// Run `git http-backend` for an allowed request.
pub async fn run(req: CgiRequest<'_>, body: Incoming) -> anyhow::Result<CgiResponse> {
    let mut cmd = http_backend(&req, exec_path().await);
    let mut group = procs::spawn(&mut cmd).context("spawning git http-backend")?;
    let child = group.child_mut().context("no child")?;
    let stdin = child.stdin.take().context("no stdin")?;
    let stdout = child.stdout.take().context("no stdout")?;
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr.take(64 * 1024)).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                log::event("git", &[("stderr", &line)]);
            }
        });
    }
    // Feed the body as it arrives; a stalled, undecodable or oversized body ends the feed,
    // which closes git's stdin (git then fails the request), and the response is whatever
    // git says.
    let feed = Feed {
        max: req.max_body,
        idle: req.idle,
        encoding: req.encoding,
        log_path: req.log_path.clone(),
        peer: req.peer.clone(),
    };
    tokio::spawn(feed.run(body, stdin));
    let mut reader = BufReader::new(stdout);
    let (status, headers) = tokio::time::timeout(req.idle, read_cgi_headers(&mut reader))
        .await
        .context("git http-backend sent no headers in time")??;
    Ok(CgiResponse {
        status,
        headers,
        body: ChildBody {
            reader,
            group: Some(group),
            idle: req.idle,
            deadline: None,
            guard: None,
            log_path: req.log_path.clone(),
            peer: req.peer.clone(),
        },
    })
}

/// Why a body feed stopped early.
#[derive(Debug, PartialEq, Eq)]
enum Cut {
    /// Past the limit, counted after decoding.
    TooLarge,
    /// Not valid gzip.
    Undecodable,
    /// git stopped reading (it failed, or the group was ended).
    GitGone,
    /// The client stalled past the idle deadline, or its body failed.
    Client,
}

/// Copies a request body to git's stdin: decodes it, counts it, stops at the limit.
struct Feed {
    max: u64,
    idle: Duration,
    encoding: BodyEncoding,
    log_path: String,
    peer: String,
}

impl Feed {
    async fn run(self, mut body: Incoming, mut stdin: tokio::process::ChildStdin) {
        let mut sink = Sink {
            stdin: &mut stdin,
            total: 0,
            max: self.max,
        };
        let mut inflater = match self.encoding {
            BodyEncoding::Plain => None,
            BodyEncoding::Gzip => Some(flate2::write::GzDecoder::new(Vec::new())),
        };
        let outcome: Result<(), Cut> = async {
            loop {
                let frame = match tokio::time::timeout(self.idle, body.frame()).await {
                    Ok(Some(Ok(f))) => f,
                    Ok(None) => break,
                    Ok(Some(Err(_))) | Err(_) => return Err(Cut::Client),
                };
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                match inflater.as_mut() {
                    None => sink.write(&data).await?,
                    Some(gz) => {
                        for step in data.chunks(INFLATE_STEP) {
                            std::io::Write::write_all(gz, step).map_err(|_| Cut::Undecodable)?;
                            let out = std::mem::take(gz.get_mut());
                            sink.write(&out).await?;
                        }
                    }
                }
            }
            if let Some(gz) = inflater.as_mut() {
                gz.try_finish().map_err(|_| Cut::Undecodable)?;
                let out = std::mem::take(gz.get_mut());
                sink.write(&out).await?;
            }
            Ok(())
        }
        .await;
        let total = sink.total;
        match outcome {
            Err(Cut::TooLarge) => log::event(
                "body-too-large",
                &[
                    ("path", &self.log_path),
                    ("limit", &self.max.to_string()),
                    ("read", &total.to_string()),
                    (
                        "encoding",
                        match self.encoding {
                            BodyEncoding::Plain => "identity",
                            BodyEncoding::Gzip => "gzip",
                        },
                    ),
                    ("peer", &self.peer),
                ],
            ),
            Err(Cut::Undecodable) => log::event(
                "body-undecodable",
                &[("path", &self.log_path), ("peer", &self.peer)],
            ),
            Err(Cut::GitGone | Cut::Client) | Ok(()) => {}
        }
        // Closing stdin ends git's input: complete, or truncated (git fails the request).
        let _ = stdin.shutdown().await;
    }
}

/// git's stdin, with the count of what went into it.
struct Sink<'a> {
    stdin: &'a mut tokio::process::ChildStdin,
    total: u64,
    max: u64,
}

impl Sink<'_> {
    async fn write(&mut self, data: &[u8]) -> Result<(), Cut> {
        if data.is_empty() {
            return Ok(());
        }
        let total = self.total.saturating_add(data.len() as u64);
        if total > self.max {
            // Not a byte past the limit reaches git.
            let room = usize::try_from(self.max.saturating_sub(self.total)).unwrap_or(0);
            if let Some(head) = data.get(..room) {
                let _ = self.stdin.write_all(head).await;
            }
            self.total = self.max;
            return Err(Cut::TooLarge);
        }
        self.total = total;
        self.stdin.write_all(data).await.map_err(|_| Cut::GitGone)
    }
}

async fn read_cgi_headers(
    reader: &mut BufReader<ChildStdout>,
) -> anyhow::Result<(u16, Vec<(String, String)>)> {
    let mut status = 200u16;
    let mut headers = Vec::new();
    let mut total = 0usize;
    loop {
        let mut line = Vec::new();
        let n = (&mut *reader)
            .take(MAX_CGI_HEADERS as u64)
            .read_until(b'\n', &mut line)
            .await?;
        total += n;
        if n == 0 || total > MAX_CGI_HEADERS {
            bail!("git http-backend sent no complete headers");
        }
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            let v = v.trim();
            if k.eq_ignore_ascii_case("Status") {
                status = v
                    .split(' ')
                    .next()
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(500);
            } else {
                headers.push((k.trim().to_string(), v.to_string()));
            }
        }
    }
    Ok((status, headers))
}

/// git's output after its headers, as a response body. When it is dropped — the response
/// ended, or the client went away — its guard (a push's registration) is dropped first,
/// then git's process group is ended (see [`super::procs`]).
pub struct ChildBody {
    reader: BufReader<ChildStdout>,
    group: Option<Group>,
    idle: Duration,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    guard: Option<Guard>,
    /// For the log record of an abandoned request: the request path and the peer.
    log_path: String,
    peer: String,
}

impl ChildBody {
    /// Keep `guard` alive as long as the body (dropped with it, before git is ended).
    pub fn guarded(mut self, guard: Guard) -> ChildBody {
        self.guard = Some(guard);
        self
    }
}

impl Drop for ChildBody {
    fn drop(&mut self) {
        // A push the server gives up on is forgotten before its git is stopped: from
        // here on its hook's questions are refused ("unknown push"), so it changes no ref.
        drop(self.guard.take());
        if let Some(group) = self.group.take() {
            if !group.is_finished() {
                log::event(
                    "abandoned",
                    &[
                        ("path", &self.log_path),
                        ("peer", &self.peer),
                        (
                            "note",
                            "the response ended before git did (the client left, or a deadline passed): git's process group is ended",
                        ),
                    ],
                );
            }
            drop(group);
        }
    }
}

impl hyper::body::Body for ChildBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        let mut buf = [0u8; 16 * 1024];
        let mut rb = tokio::io::ReadBuf::new(&mut buf);
        match Pin::new(&mut this.reader).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => {
                this.deadline = None;
                if rb.filled().is_empty() {
                    // git closed its output: the request is over.
                    if let Some(g) = this.group.as_mut() {
                        g.finished();
                    }
                    Poll::Ready(None)
                } else {
                    Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(rb.filled())))))
                }
            }
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Pending => {
                // git itself stalled: give up after the idle deadline.
                let idle = this.idle;
                let deadline = this
                    .deadline
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                match deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "git http-backend stalled",
                    )))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// What `cmd` (a stand-in backend that prints its environment) was given, sorted.
    async fn env_of(mut cmd: Command) -> Vec<String> {
        let out = cmd.env("REQUEST_METHOD", "GET").output().await.unwrap();
        assert!(out.status.success(), "{out:?}");
        let mut vars: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        vars.sort();
        vars
    }

    /// Issue 24 (the host's cost, behaviour seen from outside unchanged; design §2.10):
    /// the backend run straight from an exec path gets the environment that `git
    /// http-backend` (the wrapper, run as before) gave it: same variables, same values,
    /// `GIT_EXEC_PATH` and `PATH` included.
    #[tokio::test]
    async fn direct_backend_sees_the_wrappers_environment() {
        if exec_path().await.is_none() {
            println!("SKIPPED: direct_backend_sees_the_wrappers_environment: no git");
            return;
        }
        let exec = std::env::temp_dir().join(format!("forge-authz-cgi-{}", std::process::id()));
        std::fs::create_dir_all(&exec).unwrap();
        let script = exec.join("git-http-backend");
        std::fs::write(&script, "#!/bin/sh\nexec env\n").unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        // The wrapper as before (`backend_program(None)`), told to use this exec path.
        let mut wrapper = Command::new("git");
        wrapper
            .arg(format!("--exec-path={}", exec.display()))
            .arg("http-backend")
            .env_clear()
            .env("PATH", inherited_path());
        let before = env_of(wrapper).await;
        let after = env_of(backend_program(Some(&exec))).await;
        let _ = std::fs::remove_dir_all(&exec);
        assert!(before.iter().any(|v| v.starts_with("GIT_EXEC_PATH=")));
        assert_eq!(after, before);
    }

    /// A `git` that hangs on `--exec-path` (issue 24 review: every wait has a deadline,
    /// every child dies with its request): the lookup gives up at its deadline, the
    /// stand-in is killed, and the server falls back to the wrapper.
    #[tokio::test]
    async fn a_hanging_git_costs_one_deadline_and_is_killed() {
        let dir = std::env::temp_dir().join(format!("forge-authz-git-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let git = dir.join("git");
        let pid_file = dir.join("pid");
        std::fs::write(
            &git,
            format!(
                "#!/bin/sh\necho $$ > {}\nexec sleep 30\n",
                pid_file.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&git, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let started = std::time::Instant::now();
        let found = ask_exec_path(git.as_os_str(), Duration::from_millis(500)).await;
        assert_eq!(found, None);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        // Under heavy load the stand-in may be killed before it wrote its pid: then it
        // is gone for sure.
        let Ok(pid) = std::fs::read_to_string(&pid_file) else {
            let _ = std::fs::remove_dir_all(&dir);
            return;
        };
        let stat = std::path::Path::new("/proc").join(pid.trim()).join("stat");
        // Killed: gone, or a zombie until tokio's reaper collects it.
        let mut alive = true;
        for _ in 0..100 {
            match std::fs::read_to_string(&stat) {
                Err(_) => alive = false,
                Ok(s)
                    if s.rsplit(')')
                        .next()
                        .is_some_and(|r| r.trim_start().starts_with('Z')) =>
                {
                    alive = false
                }
                Ok(_) => {}
            }
            if !alive {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = std::fs::remove_dir_all(&dir);
        assert!(!alive, "the hanging git still runs");
    }

    /// Without an exec path the command is the wrapper, as before.
    #[test]
    fn without_an_exec_path_the_wrapper_runs() {
        let cmd = backend_program(None);
        let std = cmd.as_std();
        assert_eq!(std.get_program(), "git");
        assert_eq!(std.get_args().collect::<Vec<_>>(), ["http-backend"]);
    }
}
