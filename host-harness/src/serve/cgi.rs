//! The bridge to `git http-backend` (CGI), streaming both ways.
//!
//! The request body is copied to git's stdin as it arrives (never buffered whole), with
//! an idle deadline per chunk and the server's body limit; git's output is parsed for
//! its CGI headers (bounded) and then streamed to the client. The child is killed when
//! the client goes away or a deadline passes (`kill_on_drop`), and tokio reaps it: no
//! worker ever waits on a child whose pipe it still holds.

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
use tokio::process::{Child, ChildStdout, Command};

use super::log;

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
    /// Selected request headers: `Content-Type`, `Content-Encoding`, `Git-Protocol`.
    pub content_type: Option<String>,
    /// `Content-Encoding` (gzip request bodies).
    pub content_encoding: Option<String>,
    /// `Git-Protocol`.
    pub git_protocol: Option<String>,
    /// A push: the hooks directory, socket and one-time id.
    pub push: Option<(PathBuf, PathBuf, String)>,
    /// Largest body accepted.
    pub max_body: u64,
    /// Longest wait for the next chunk of the body or of git's output.
    pub idle: Duration,
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

/// Run `git http-backend` for an allowed request.
pub async fn run(req: CgiRequest<'_>, body: Incoming) -> anyhow::Result<CgiResponse> {
    let mut cmd = Command::new("git");
    cmd.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", req.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", format!("/{}.git/{}", req.repository, req.rest))
        .env("REQUEST_METHOD", req.method)
        .env("QUERY_STRING", req.query)
        .env("REMOTE_USER", req.principal)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut config: Vec<(String, String)> = vec![("safe.directory".into(), "*".into())];
    if let Some((hooks, socket, id)) = &req.push {
        config.extend(super::hook::git_config(hooks));
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
        (&req.content_encoding, "HTTP_CONTENT_ENCODING"),
        (&req.git_protocol, "GIT_PROTOCOL"),
    ] {
        if let Some(v) = value {
            cmd.env(var, v);
        }
    }
    let mut child = cmd.spawn().context("spawning git http-backend")?;
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
    // Feed the body as it arrives; a stalled or oversized body ends the feed, which closes
    // git's stdin (git then fails the request), and the response is whatever git says.
    let (max_body, idle) = (req.max_body, req.idle);
    tokio::spawn(async move {
        let mut stdin = stdin;
        let mut body = body;
        let mut total: u64 = 0;
        loop {
            let frame = match tokio::time::timeout(idle, body.frame()).await {
                Ok(Some(Ok(f))) => f,
                _ => break,
            };
            if let Ok(data) = frame.into_data() {
                total = total.saturating_add(data.len() as u64);
                if total > max_body || stdin.write_all(&data).await.is_err() {
                    break;
                }
            }
        }
        let _ = stdin.shutdown().await;
    });
    let mut reader = BufReader::new(stdout);
    let (status, headers) = tokio::time::timeout(idle, read_cgi_headers(&mut reader))
        .await
        .context("git http-backend sent no headers in time")??;
    Ok(CgiResponse {
        status,
        headers,
        body: ChildBody {
            reader,
            _child: child,
            idle,
            deadline: None,
            _guard: None,
        },
    })
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

/// git's output after its headers, as a response body. Dropping it (the client went
/// away, or the response ended) kills and reaps git.
pub struct ChildBody {
    reader: BufReader<ChildStdout>,
    _child: Child,
    idle: Duration,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    _guard: Option<Guard>,
}

impl ChildBody {
    /// Keep `guard` alive as long as the body (dropped with it).
    pub fn guarded(mut self, guard: Guard) -> ChildBody {
        self._guard = Some(guard);
        self
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
