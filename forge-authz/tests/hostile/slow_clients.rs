//! Slow and idle clients: slowloris connections freed, the oldest idle connection evicted
//! past the cap, `503` only when every connection is busy, headers trickled past the header
//! deadline (issue 2).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::forge::*;

// ---------------------------------------------------------------------------------------
// issue 2: slowloris.
// ---------------------------------------------------------------------------------------

/// Waits until the server closes `conn` (EOF or reset); how long that took, or `None` if it
/// was still open at `deadline`.
fn closed_by(conn: &mut TcpStream, deadline: Instant) -> Option<Instant> {
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        let _ = conn.set_read_timeout(Some(left.max(ms(1))));
        match conn.read(&mut buf) {
            Ok(0) => return Some(Instant::now()),
            Ok(_) => {} // a 408 or 503 before the close is fine
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return None;
            }
            Err(_) => return Some(Instant::now()),
        }
    }
}

/// Opens a connection over the limit and asks for the public repository's refs: the
/// server must answer (`200` when it could make room, `503` when every connection is busy),
/// never queue or hang it. Waits briefly for an unsolicited answer before sending.
fn over_the_limit(port: u16) -> Reply {
    let mut conn = match try_connect(port) {
        Ok(c) => c,
        Err(e) => panic!("a connection over --max-connections was not accepted ({e})"),
    };
    let early = read_reply(&mut conn, ms(700));
    if early.status.is_some() || early.closed {
        return early;
    }
    let _ = conn.write_all(
        b"GET /alice/app.git/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    );
    read_reply(&mut conn, secs(5))
}

/// After `settle` (the held connections reach the server), a fifth connection, over the
/// limit, must get `want`; `held` says what holds the four.
fn fifth_connection(port: u16, t0: Instant, settle: Duration, want: u16, held: &str) -> Reply {
    std::thread::sleep(settle);
    let r = over_the_limit(port);
    assert_eq!(
        r.status,
        Some(want),
        "a fifth connection while {held} (sent {:?} after): {}",
        t0.elapsed(),
        r.describe()
    );
    r
}

/// A POST whose headers are complete and whose body stalls after 10 of 100 bytes: a
/// request in flight (git is running), so the connection is busy, never evicted.
const STALLED_POST: &[u8] = b"POST /alice/app.git/git-upload-pack HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-git-upload-pack-request\r\nContent-Length: 100\r\n\r\n0032want 0";

/// Room for four connections; 2 s for a request's headers, 3 s idle.
const FOUR_CONNECTIONS: [&str; 6] = [
    "--max-connections",
    "4",
    "--header-timeout",
    "2",
    "--idle-timeout",
    "3",
];

/// A connection that sent `bytes` and then nothing more.
fn stalled(port: u16, bytes: &[u8]) -> TcpStream {
    let mut c = connect(port);
    c.write_all(bytes).unwrap();
    c
}

#[test]
fn slowloris_connections_are_freed_and_overflow_evicts_the_oldest_idle() {
    // issue 2, as issue 20 item 3 changed it: --max-connections 4 --header-timeout 2
    // --idle-timeout 3; four connections that stall (nothing sent, a partial request
    // line, partial headers, a POST announcing 100 bytes that sends 10). A fifth is served
    // (the oldest header-pending one is closed to make room) instead of hanging or being
    // refused; within a few seconds the server closes all four; then a normal clone
    // succeeds.
    let s = Setup::new("slowloris");
    let srv = s.serve(&FOUR_CONNECTIONS);
    let t0 = Instant::now();
    let stalls: [&[u8]; 4] = [
        b"",
        b"GET /alice/app.git/info/refs?serv",
        b"GET /alice/app.git/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slo",
        STALLED_POST,
    ];
    let mut conns: Vec<TcpStream> = stalls
        .iter()
        .map(|bytes| stalled(srv.port, bytes))
        .collect();
    fifth_connection(
        srv.port,
        t0,
        ms(300),
        200,
        "4 (the maximum) are held, 3 of them idle, must be served",
    );
    let deadline = t0 + secs(10);
    for (i, c) in conns.iter_mut().enumerate() {
        let when = closed_by(c, deadline);
        assert!(
            when.is_some(),
            "stalled connection {i} ({:?}) was still open after 10 s",
            text(stalls[i])
        );
    }
    s.assert_clones(&srv, "after the stalled connections were freed");
}

#[test]
fn overflow_gets_503_only_when_every_connection_is_busy() {
    // issue 2 / issue 20 item 3: --max-connections 4, four POSTs whose bodies stall (four
    // requests in flight: nothing can be evicted); a fifth connection gets 503 with
    // Retry-After, not a hang; once the idle deadline frees the four, a clone succeeds.
    let s = Setup::new("all-busy");
    let srv = s.serve(&FOUR_CONNECTIONS);
    let t0 = Instant::now();
    let mut conns: Vec<TcpStream> = (0..4).map(|_| stalled(srv.port, STALLED_POST)).collect();
    let r = fifth_connection(srv.port, t0, ms(500), 503, "4 requests are in flight");
    assert_eq!(
        r.header("Retry-After").as_deref(),
        Some("1"),
        "{}",
        r.describe()
    );
    let deadline = t0 + secs(15);
    for (i, c) in conns.iter_mut().enumerate() {
        assert!(
            closed_by(c, deadline).is_some(),
            "stalled POST {i} was still open after 15 s"
        );
    }
    s.assert_clones(&srv, "after the stalled POSTs were freed");
}

#[test]
fn trickled_headers_are_cut_by_the_header_deadline() {
    // issue 2: a slowloris that sends one header byte every 250 ms never trips an idle
    // timeout; --header-timeout 2 is a deadline for the whole header: the server closes
    // all four within a few seconds; during that a fifth connection is served (issue 20
    // item 3: the oldest header-pending connection makes room); then a normal clone
    // succeeds.
    let s = Setup::new("trickle");
    let srv = s.serve(&FOUR_CONNECTIONS);
    let port = srv.port;
    let t0 = Instant::now();
    let tricklers: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                let mut c = connect(port);
                let _ = c.write_all(
                    format!(
                        "GET /alice/app.git/info/refs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow-{i}: "
                    )
                    .as_bytes(),
                );
                let start = Instant::now();
                let mut buf = [0u8; 1024];
                while start.elapsed() < secs(12) {
                    if c.write_all(b"a").is_err() {
                        return Some(start.elapsed());
                    }
                    let _ = c.set_read_timeout(Some(ms(250)));
                    match c.read(&mut buf) {
                        Ok(0) => return Some(start.elapsed()),
                        Err(e)
                            if !matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                            ) =>
                        {
                            return Some(start.elapsed());
                        }
                        _ => {}
                    }
                }
                None
            })
        })
        .collect();
    fifth_connection(srv.port, t0, ms(400), 200, "4 trickle their headers");
    for (i, t) in tricklers.into_iter().enumerate() {
        let closed = t.join().unwrap();
        assert!(
            closed.is_some_and(|d| d < secs(8)),
            "trickling connection {i} was not closed within 8 s ({closed:?}): the header timeout must be a deadline, not an idle timer"
        );
    }
    s.assert_clones(&srv, "after the trickling connections were cut");
}
