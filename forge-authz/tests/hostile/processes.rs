//! Processes a client or a signal leaves behind: abandoned clones leave no git process,
//! `SIGTERM` finishes the clone in flight and refuses new ones, `SIGHUP` reloads the module
//! (issues 3 and 12).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use super::forge::*;

// ---------------------------------------------------------------------------------------
// issue 3: abandoned clones.
// ---------------------------------------------------------------------------------------

#[test]
fn abandoned_clones_leave_no_git_processes() {
    // issue 3: a raw `POST /alice/big.git/git-upload-pack` of a repository with a few MB
    // of content, closed after reading a few KB, 10 times: the server keeps serving and no
    // git child processes (git http-backend, git-upload-pack, pack-objects) pile up under
    // it after a short grace period.
    let s = Setup::new("abandon");
    let head = s.seed_big("alice", "big", 4);
    let srv = s.serve(&[]);
    let body = want_body(&head);
    for round in 0..10 {
        let mut conn = connect(srv.port);
        let req = format!(
            "POST /alice/big.git/git-upload-pack HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Content-Type: application/x-git-upload-pack-request\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        );
        conn.write_all(req.as_bytes()).unwrap();
        conn.write_all(&body).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        let start = Instant::now();
        while got.len() < 4096 && start.elapsed() < secs(20) {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        assert!(
            got.starts_with(b"HTTP/1.1 200") && got.len() >= 4096,
            "round {round}: the fetch did not start streaming ({} bytes): {:?}",
            got.len(),
            text(&got[..got.len().min(300)])
        );
        if round == 0 {
            // The count below can see the server's git children (the check is not vacuous).
            let busy = git_descendants(srv.pid());
            assert!(
                !busy.is_empty(),
                "no git process under the server while a fetch streams: cannot count them"
            );
        }
        drop(conn); // abandon mid-pack
    }
    s.assert_clones(&srv, "after 10 abandoned clones");
    let start = Instant::now();
    let left = loop {
        let left = git_descendants(srv.pid());
        if left.is_empty() || start.elapsed() > secs(15) {
            break left;
        }
        std::thread::sleep(ms(200));
    };
    assert!(
        left.is_empty(),
        "git processes still under the server 15 s after 10 abandoned clones:\n{}",
        left.join("\n")
    );
    // The big repository itself still clones completely.
    let o = s.clone_into(srv.port, None, "alice/big", "big");
    assert!(o.status.success(), "clone of alice/big: {}", both(&o));
    assert!(s.home.join("big").join("blob-3.bin").exists());
}

// ---------------------------------------------------------------------------------------
// issue 12: signals.
// ---------------------------------------------------------------------------------------

/// A loopback TCP proxy that slows the server-to-client direction (about 1.6 MB/s) and
/// counts its bytes, so a clone is reliably in flight when the test acts.
struct SlowProxy {
    port: u16,
    down: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Drop for SlowProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    count: Option<Arc<AtomicU64>>,
    stop: Arc<AtomicBool>,
) {
    let _ = from.set_read_timeout(Some(secs(30)));
    let _ = to.set_write_timeout(Some(secs(30)));
    let mut buf = [0u8; 16384];
    while !stop.load(Ordering::SeqCst) {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
                if let Some(c) = &count {
                    c.fetch_add(n as u64, Ordering::SeqCst);
                    std::thread::sleep(ms(10));
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

fn slow_proxy(target: u16) -> SlowProxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let down = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (d, st) = (down.clone(), stop.clone());
    std::thread::spawn(move || {
        let start = Instant::now();
        while !st.load(Ordering::SeqCst) && start.elapsed() < secs(180) {
            match listener.accept() {
                Ok((client, _)) => {
                    let _ = client.set_nonblocking(false);
                    let Ok(server) = try_connect(target) else {
                        continue;
                    };
                    let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                    let (st1, st2, d2) = (st.clone(), st.clone(), d.clone());
                    std::thread::spawn(move || pump(client, server, None, st1));
                    std::thread::spawn(move || pump(s2, c2, Some(d2), st2));
                }
                Err(_) => std::thread::sleep(ms(10)),
            }
        }
    });
    SlowProxy { port, down, stop }
}

#[test]
fn sigterm_finishes_the_clone_in_flight_refuses_new_ones_and_exits_0() {
    // issue 12: SIGTERM while a clone is in flight: the clone completes, new connections
    // are refused (or answered 503/closed, never served or left hanging), and the process
    // exits 0 within about 10 s.
    let s = Setup::new("sigterm");
    s.seed_big("alice", "big", 4);
    let mut srv = s.serve(&[]);
    s.assert_serves(&srv, "before SIGTERM");
    let proxy = slow_proxy(srv.port);
    let mut clone = spawn(s.git(&s.home).args([
        "clone",
        "-q",
        &Setup::url(proxy.port, None, "alice/big"),
        "big",
    ]));
    let start = Instant::now();
    while proxy.down.load(Ordering::SeqCst) < 256 << 10 {
        assert!(
            clone.running(),
            "the clone ended before SIGTERM could be sent ({} bytes through)",
            proxy.down.load(Ordering::SeqCst)
        );
        assert!(
            start.elapsed() < secs(60),
            "the clone did not start within 60 s"
        );
        std::thread::sleep(ms(10));
    }
    srv.signal("TERM");
    let term = Instant::now();
    std::thread::sleep(ms(500));
    let in_flight = clone.running();
    assert!(
        in_flight,
        "the clone finished within 0.5 s of SIGTERM: it was not in flight (slow the proxy)"
    );
    match try_connect(srv.port) {
        Err(_) => {}
        Ok(mut c) => {
            let _ = c.write_all(
                b"GET /alice/app.git/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
            );
            let r = read_reply(&mut c, secs(5));
            assert!(
                r.status == Some(503) || (r.status.is_none() && r.closed),
                "a new connection after SIGTERM must be refused (clone in flight: {in_flight}): {}",
                r.describe()
            );
        }
    }
    let o = clone
        .finish(secs(60))
        .unwrap_or_else(|| panic!("the clone in flight did not finish within 60 s of SIGTERM"));
    assert!(
        o.status.success(),
        "the clone in flight failed after SIGTERM: {}",
        both(&o)
    );
    assert!(s.home.join("big").join("blob-3.bin").exists());
    let status = srv.wait_exit(secs(15).saturating_sub(term.elapsed()).max(secs(1)));
    assert!(
        status.is_some(),
        "the server did not exit within 15 s of SIGTERM (clone done at {:?})",
        term.elapsed()
    );
    assert_eq!(status.unwrap().code(), Some(0), "exit status after SIGTERM");
    drop(proxy);
}

#[test]
fn sighup_reloads_the_module() {
    // issue 12: SIGHUP reloads the module (status "generation" increments) and the server
    // keeps serving (SIGHUP's default action would kill it).
    let s = Setup::new("sighup");
    let admin = s.dir.join("admin.sock");
    let srv = s.serve(&["--admin-socket", admin.to_str().unwrap()]);
    let g0 = generation(&admin);
    srv.signal("HUP");
    let start = Instant::now();
    loop {
        assert!(srv.alive(), "SIGHUP killed the server:\n{}", srv.log());
        if generation(&admin) == g0 + 1 {
            break;
        }
        assert!(
            start.elapsed() < secs(15),
            "generation still {g0} 15 s after SIGHUP"
        );
        std::thread::sleep(ms(200));
    }
    s.assert_clones(&srv, "after SIGHUP");
    srv.signal("HUP");
    let start = Instant::now();
    while generation(&admin) != g0 + 2 {
        assert!(start.elapsed() < secs(15), "a second SIGHUP did not reload");
        std::thread::sleep(ms(200));
    }
    s.assert_serves(&srv, "after a second SIGHUP");
}
