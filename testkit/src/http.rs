//! Raw HTTP/1.1 over std sockets on loopback, every read and write with a timeout: what a
//! hostile or plain client sends, byte for byte, and what came back (status, whether the
//! server closed or went quiet).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::process::{ms, secs, text};

pub struct Reply {
    pub status: Option<u16>,
    pub bytes: Vec<u8>,
    /// The server closed (or reset) the connection.
    pub closed: bool,
    /// Nothing more arrived before the deadline and the connection stayed open.
    pub timed_out: bool,
}

impl Reply {
    pub fn text(&self) -> String {
        text(&self.bytes)
    }

    pub fn header(&self, name: &str) -> Option<String> {
        let t = self.text();
        let head = t.split("\r\n\r\n").next().unwrap_or("");
        head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    /// Every header of the response, names lowercased, in order.
    pub fn headers(&self) -> Vec<(String, String)> {
        let t = self.text();
        let head = t.split("\r\n\r\n").next().unwrap_or("");
        head.lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect()
    }

    /// (status, headers with lowercased names, body); status 0 when none arrived.
    pub fn parts(&self) -> (u16, Vec<(String, String)>, String) {
        (self.status.unwrap_or(0), self.headers(), self.body())
    }

    pub fn body(&self) -> String {
        let t = self.text();
        t.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default()
    }

    pub fn describe(&self) -> String {
        let t = self.text();
        let shown: String = t.chars().take(400).collect();
        format!(
            "status {:?}, closed {}, timed out {}, {} bytes: {shown:?}",
            self.status,
            self.closed,
            self.timed_out,
            self.bytes.len()
        )
    }
}

pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

pub fn try_connect(port: u16) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&loopback(port), secs(5))?;
    s.set_read_timeout(Some(secs(10)))?;
    s.set_write_timeout(Some(secs(10)))?;
    Ok(s)
}

pub fn connect(port: u16) -> TcpStream {
    try_connect(port).unwrap_or_else(|e| panic!("connect to 127.0.0.1:{port}: {e}"))
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A whole response has arrived (headers, and the body its framing announces).
/// The bytes after any interim (1xx) responses.
pub fn final_response(mut b: &[u8]) -> &[u8] {
    while b.starts_with(b"HTTP/1.1 1") || b.starts_with(b"HTTP/1.0 1") {
        match find(b, b"\r\n\r\n") {
            Some(end) => b = &b[end + 4..],
            None => break,
        }
    }
    b
}

pub fn complete(b: &[u8]) -> bool {
    let b = final_response(b);
    let Some(end) = find(b, b"\r\n\r\n") else {
        return false;
    };
    let head = text(&b[..end]).to_ascii_lowercase();
    let body = &b[end + 4..];
    if head.starts_with("http/1.1 1") || head.starts_with("http/1.0 1") {
        return false;
    }
    if head.contains("transfer-encoding: chunked") {
        return body.ends_with(b"0\r\n\r\n");
    }
    match head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        Some(n) => body.len() >= n,
        None => head.contains(" 204 ") || head.contains(" 304 "),
    }
}

/// Reads a response until it is complete, the server closes, or `limit` passes.
pub fn read_reply(s: &mut TcpStream, limit: Duration) -> Reply {
    let deadline = Instant::now() + limit;
    let mut bytes = Vec::new();
    let mut buf = [0u8; 16384];
    let (mut closed, mut timed_out) = (false, false);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            timed_out = true;
            break;
        }
        let _ = s.set_read_timeout(Some(left.max(ms(1))));
        match s.read(&mut buf) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => {
                bytes.extend_from_slice(&buf[..n]);
                if complete(&bytes) || bytes.len() > 16 << 20 {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                timed_out = true;
                break;
            }
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    let last = final_response(&bytes);
    let status = last
        .starts_with(b"HTTP/")
        .then(|| text(&last[..last.len().min(64)]))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|c| c.parse().ok()));
    Reply {
        status,
        bytes,
        closed,
        timed_out,
    }
}

/// Sends raw bytes (a refused write is not an error: the server may close first) and reads
/// the reply.
pub fn exchange(port: u16, request: &[u8], limit: Duration) -> Reply {
    let mut s = connect(port);
    let _ = s.write_all(request);
    read_reply(&mut s, limit)
}

/// Reads everything until the server closes the connection or `limit` passes.
pub fn read_until_closed(s: &mut TcpStream, limit: Duration) -> Reply {
    let deadline = Instant::now() + limit;
    let mut all = read_reply(s, limit);
    while !all.closed && !all.timed_out {
        let more = read_reply(s, deadline.saturating_duration_since(Instant::now()));
        all.bytes.extend_from_slice(&more.bytes);
        all.closed = more.closed;
        all.timed_out = more.timed_out;
        if more.bytes.is_empty() && !more.closed {
            all.timed_out = true;
        }
    }
    all
}

/// A well-formed request (`Connection: close`, exact `Content-Length`).
pub fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    )
    .into_bytes();
    for (k, v) in headers {
        req.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    req.extend_from_slice(body);
    exchange(port, &req, secs(30))
}
