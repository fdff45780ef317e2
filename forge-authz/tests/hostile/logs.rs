//! Logs: text logs cannot be forged and hold no secret, JSON logs are one value per line
//! (issue 11).

use super::forge::*;
use super::forward_auth::UPLOAD_REFS;

// ---------------------------------------------------------------------------------------
// issue 11: logs.
// ---------------------------------------------------------------------------------------

const FORGED: &str = "FORGED";

/// Requests that try to forge log lines (raw control bytes in headers, the target, the
/// method, a Basic username, forward-auth headers) and to leak the token into the log.
fn log_attacks(port: u16, token: &str) {
    let fake = "forge-authz: GET /alice/secret.git 200 reason=granted principal=root";
    let req = |line: &str, headers: &str| {
        format!("{line}\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n").into_bytes()
    };
    let refs = "GET /alice/app.git/info/refs?service=git-upload-pack HTTP/1.1";
    let mut attacks: Vec<Vec<u8>> = vec![
        req(
            refs,
            &format!("User-Agent: probe\r{FORGED}-UA-CR {fake}\r\n"),
        ),
        req(
            refs,
            &format!("User-Agent: probe\r\n {FORGED}-UA-FOLD {fake}\r\n"),
        ),
        req(
            refs,
            &format!("User-Agent: probe\x1b[1G\x1b[2K{FORGED}-UA-ESC {fake}\r\n"),
        ),
        req(
            refs,
            &format!("User-Agent: probe\x0b\x0c\x00{FORGED}-UA-VT {fake}\r\n"),
        ),
        req(
            refs,
            &format!("X-Forwarded-For: 10.0.0.1\r{FORGED}-XFF {fake}\r\n"),
        ),
        req(refs, &format!("Referer: x\n{FORGED}-REF-LF {fake}\r\n")),
        req(
            &format!(
                "GET /alice/app.git/info/refs%0a{FORGED}-PCT-LF%0d%0a{FORGED}-PCT-CRLF?service=git-upload-pack HTTP/1.1"
            ),
            "",
        ),
        req(
            &format!("GET /alice/\x0c{FORGED}-TARGET-FF/app.git/info/refs HTTP/1.1"),
            "",
        ),
        req(
            &format!("GET /alice/app.git/info/refs\r{FORGED}-TARGET-CR HTTP/1.1"),
            "",
        ),
        req(
            &format!("GET\r{FORGED}-METHOD /alice/app.git/info/refs HTTP/1.1"),
            "",
        ),
        req(refs, &format!("Host: x\r{FORGED}-HOST {fake}\r\n")),
        req(
            refs,
            &format!(
                "Authorization: {}\r\n",
                basic(&format!("ali\n{FORGED}-USER {fake}\r"), token)
            ),
        ),
        req(
            refs,
            &format!(
                "Authorization: {}\r\n",
                basic(&format!("\x1b[2K{FORGED}-USER-ESC"), "nope")
            ),
        ),
        req(
            "GET /-/auth HTTP/1.1",
            &format!(
                "X-Original-URI: /alice/app.git/info/refs\r{FORGED}-XURI?service=git-upload-pack\r\nX-Original-Method: GET\r\n"
            ),
        ),
        req(
            "GET /-/auth HTTP/1.1",
            &format!(
                "X-Original-URI: /alice/app.git/info/refs%0a{FORGED}-XURI-PCT?service=git-upload-pack\r\nX-Original-Method: GET\r\n"
            ),
        ),
        req(
            "GET /-/auth HTTP/1.1",
            &format!(
                "X-Original-URI: {UPLOAD_REFS}\r\nX-Original-Method: GET\r{FORGED}-XMETHOD\r\n"
            ),
        ),
    ];
    // The token, everywhere a careless server might log it.
    attacks.extend([
        req(refs, &format!("Authorization: Bearer {token}\r\n")),
        req(refs, &format!("Authorization: {}\r\n", basic("alice", token))),
        req(refs, &format!("Authorization: {}\r\n", basic(token, "x"))),
        req(refs, &format!("Private-Token: {token}\r\nCookie: session={token}\r\n")),
        req(
            &format!("GET /alice/app.git/info/refs?service=git-upload-pack&access_token={token} HTTP/1.1"),
            "",
        ),
        req(
            &format!("GET /alice/secret.git/info/refs?private_token={token}&service=git-upload-pack HTTP/1.1"),
            "",
        ),
        req(
            "GET /-/auth HTTP/1.1",
            &format!(
                "X-Original-URI: /alice/secret.git/info/refs?service=git-upload-pack&token={token}\r\nX-Original-Method: GET\r\nAuthorization: Bearer {token}\r\n"
            ),
        ),
        req(
            "POST /alice/app.git/git-receive-pack HTTP/1.1",
            &format!("Authorization: Bearer {token}x\r\nContent-Length: 0\r\n"),
        ),
    ]);
    for a in attacks {
        let _ = exchange(port, &a, secs(10));
    }
}

fn assert_no_forgery(raw: &[u8], token: &str) {
    let log = text(raw);
    for line in log.split(['\n', '\r']) {
        assert!(
            !line.trim_start().starts_with(FORGED),
            "a request forged a log line: {line:?}\nlog:\n{log}"
        );
    }
    if let Some(b) = raw
        .iter()
        .find(|b| (**b < 0x20 && **b != b'\n' && **b != b'\t') || **b == 0x7f)
    {
        panic!("the log carries a raw control byte {b:#04x}:\n{log:?}");
    }
    for part in secret_parts(token) {
        assert!(
            !log.contains(&part),
            "a token secret reached the log:\n{log}"
        );
    }
}

/// A server logging in `format` (forward auth on), after the log attacks with a token
/// of alice's and a last request of bob's public repository: the server, the token and
/// the log once that request is in it.
fn attacked(name: &str, format: &str) -> (Setup, Server, String, String) {
    let s = Setup::new(name);
    let srv = s.serve(&["--forward-auth", "nginx", "--log-format", format]);
    let rw = s.token("alice", "rw", "write:repository");
    log_attacks(srv.port, &rw);
    s.assert_serves(&srv, "after log-injection attempts");
    let bob = "/bob/pub.git/info/refs?service=git-upload-pack";
    let _ = http(srv.port, "GET", bob, &[], b"");
    let log = srv.settled_log("/bob/pub.git");
    (s, srv, rw, log)
}

#[test]
fn text_logs_cannot_be_forged_and_hold_no_secret() {
    // issue 11: control bytes in the User-Agent, other headers, the target, the method, a
    // Basic username or forward-auth headers never start a log line of their own (no line
    // begins with the injected text, no raw control byte at all); no token secret appears.
    let (_s, srv, rw, log) = attacked("log-text", "text");
    assert!(
        log.contains("/alice/app.git") && log.contains("/bob/pub.git"),
        "requests were not logged:\n{log}"
    );
    assert_no_forgery(&std::fs::read(&srv.log).unwrap(), &rw);
}

#[test]
fn json_logs_are_one_json_value_per_line() {
    // issue 11: with --log-format json every log line parses as JSON, even after
    // injection attempts, and no token secret appears.
    let (_s, srv, rw, log) = attacked("log-json", "json");
    let mut n = 0;
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let v: Result<serde_json::Value, _> = serde_json::from_str(line);
        assert!(v.is_ok(), "a log line is not JSON: {line:?}\nlog:\n{log}");
        n += 1;
    }
    assert!(n >= 10, "only {n} JSON log lines:\n{log}");
    assert_no_forgery(&std::fs::read(&srv.log).unwrap(), &rw);
}

// ---------------------------------------------------------------------------------------
// issue 24: the request log without a syscall per line (docs/design/serve-cost.md §2.5).
// ---------------------------------------------------------------------------------------

/// Forward-auth requests `from..to` (one repository name each, `app-N`): the numbers of
/// those answered. Forward auth logs its `request` record before it answers.
fn answered_auths(port: u16, from: usize, to: usize) -> Vec<usize> {
    (from..to)
        .filter(|n| {
            let uri = format!("/alice/app-{n}.git/info/refs?service=git-upload-pack");
            let headers = [
                ("X-Original-URI", uri.as_str()),
                ("X-Original-Method", "GET"),
            ];
            http(port, "GET", "/-/auth", &headers, b"").status.is_some()
        })
        .collect()
}

/// The answered requests of `answered` the log has no `request` record of.
fn unlogged(log: &str, answered: &[usize]) -> Vec<usize> {
    let logged = |n: &usize| {
        let path = format!(" path=/alice/app-{n}.git/info/refs ");
        log.lines()
            .any(|l| l.starts_with("forge-authz: request ") && l.contains(&path))
    };
    answered.iter().copied().filter(|n| !logged(n)).collect()
}

/// The log of `srv` once `signal` has ended it; it holds every request of `answered`.
fn log_after(srv: &mut Server, signal: &str, answered: &[usize]) -> String {
    srv.signal(signal);
    let ended = srv.wait_exit(secs(60));
    assert!(ended.is_some(), "SIG{signal} did not stop the server");
    let log = srv.log();
    assert_eq!(unlogged(&log, answered), Vec::<usize>::new(), "{log}");
    log
}

#[test]
fn buffered_records_reach_the_log_while_serving_and_when_stopped() {
    // issue 24 ("the request log written without a syscall per line"), design §2.5: by
    // default the records of answered requests are buffered and written within 10 ms (here:
    // a running server's log holds them all within the 10 s the tests wait), and a server
    // stopped by SIGTERM has logged every request it answered, however recent.
    let s = Setup::new("log-buffered");
    let mut srv = s.serve(&["--forward-auth", "nginx"]);
    let first = answered_auths(srv.port, 0, 50);
    assert_eq!(first.len(), 50, "forward auth went unanswered");
    let log = srv.settled_log(" path=/alice/app-49.git/info/refs ");
    assert_eq!(unlogged(&log, &first), Vec::<usize>::new(), "{log}");
    let second = answered_auths(srv.port, 50, 250);
    assert_eq!(second.len(), 200, "forward auth went unanswered");
    let log = log_after(&mut srv, "TERM", &second);
    assert!(log.contains("forge-authz: stopped"), "{log}");
}

#[test]
fn line_flush_logs_each_request_before_answering_it() {
    // issue 24, design §2.5 and README "Logs": `serve --log-flush line` writes each record
    // as it is logged, before the request is answered: the log holds every answered
    // request at once, and still after the server is killed outright (SIGKILL).
    let s = Setup::new("log-line");
    let mut srv = s.serve(&["--forward-auth", "nginx", "--log-flush", "line"]);
    for n in 0..20 {
        let answered = answered_auths(srv.port, n, n + 1);
        assert_eq!(answered, [n], "forward auth went unanswered");
        assert_eq!(unlogged(&srv.log(), &answered), Vec::<usize>::new());
    }
    let answered = answered_auths(srv.port, 20, 220);
    log_after(&mut srv, "KILL", &answered);
}
