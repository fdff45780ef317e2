//! Clients that push bombs and walk away (issue 20 items 4 to 7), against the real
//! `forge-authz serve` on loopback with real git: gzip bodies that inflate past the body
//! limits, pushes and fetches abandoned while git works, a server stopped under load, a
//! push of 4,000 branches under a short idle deadline, and tokens in request paths.
//!
//! Every wait is a poll with a deadline; each test kills the servers it started (and their
//! process groups) when it ends, and the process checks look for live processes in the
//! process groups the server started, wherever they were re-parented to.
// Tests: a broken expectation is a panic that says what broke.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

#[path = "support/forge.rs"]
mod forge;

use std::collections::{BTreeSet, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use forge::*;

/// The refs of a bare repository.
fn refs(bare: &Path, home: &Path) -> Vec<String> {
    git_ok(bare, home, &["for-each-ref", "--format=%(refname)"])
        .lines()
        .map(str::to_string)
        .collect()
}

/// Every file below a repository's `objects/` (packs, loose objects, quarantines, temp
/// packs): what a refused push must leave as it found it.
fn object_files(bare: &Path) -> BTreeSet<PathBuf> {
    fn walk(dir: &Path, out: &mut BTreeSet<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                out.insert(p.clone());
                walk(&p, out);
            } else {
                out.insert(p);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(&bare.join("objects"), &mut out);
    out
}

fn pkt(line: &str) -> Vec<u8> {
    format!("{:04x}{line}", line.len() + 4).into_bytes()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A push test's forge: a server started with `args`, `user`'s write token, alice/app's bare
/// repository, and a work clone of it (over HTTP with the token) with a new commit on top.
struct PushForge {
    /// Before `s`: fields drop in order, and the server must stop before its directory goes.
    srv: Server,
    s: Setup,
    token: String,
    /// `repos/alice/app.git`.
    bare: PathBuf,
    work: PathBuf,
    /// The work clone's head before its new commit, and the new commit.
    old: String,
    new: String,
    /// alice/app's URL with `user`'s token.
    url: String,
}

impl PushForge {
    fn new(name: &str, args: &[&str], user: &str) -> PushForge {
        let s = Setup::new(name);
        let srv = s.serve(args);
        let token = s.token(user, "rw", "write:repository");
        let url = Setup::url(srv.port, Some((user, &token)), "alice/app");
        let o = s.clone_into(srv.port, Some((user, &token)), "alice/app", "work");
        assert!(o.status.success(), "clone: {}", both(&o));
        let work = s.home.join("work");
        let old = git_ok(&work, &s.home, &["rev-parse", "HEAD"]);
        git_ok(
            &work,
            &s.home,
            &["commit", "-q", "--allow-empty", "-m", "new"],
        );
        let new = git_ok(&work, &s.home, &["rev-parse", "HEAD"]);
        PushForge {
            bare: s.repos.join("alice").join("app.git"),
            srv,
            s,
            token,
            work,
            old,
            new,
            url,
        }
    }

    /// alice/app's refs.
    fn refs(&self) -> Vec<String> {
        refs(&self.bare, &self.s.home)
    }

    /// `git push [FLAGS] --porcelain URL HEAD:refs/heads/BRANCH...` from the work clone (at
    /// most 120 s), which must fail (each push of the per-ref test has a refused ref): its
    /// porcelain report (stdout) and git's stderr.
    fn refused_push(&self, flags: &[&str], branches: &[&str]) -> (String, String) {
        let specs: Vec<String> = branches
            .iter()
            .map(|b| format!("HEAD:refs/heads/{b}"))
            .collect();
        let o = run_for(
            self.s
                .git(&self.work)
                .arg("push")
                .args(flags)
                .args(["--porcelain", &self.url])
                .args(&specs),
            secs(120),
        );
        let out = text(&o.stdout);
        assert!(!o.status.success(), "{out}");
        (out, text(&o.stderr))
    }
}

/// `n` new branches `refs/heads/bNNNNN` at `sha` in `work` (one `update-ref --stdin`).
fn branches(s: &Setup, work: &Path, n: usize, sha: &str) {
    let script: String = (0..n)
        .map(|i| format!("create refs/heads/b{i:05} {sha}\n"))
        .collect();
    let mut c = s.git(work);
    c.args(["update-ref", "--stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

/// A raw smart-HTTP POST: headers, then the body; returns the open connection.
fn post(port: u16, path: &str, headers: &[(&str, &str)], body: &[u8]) -> std::net::TcpStream {
    let mut conn = connect(port);
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    conn.write_all(req.as_bytes()).unwrap();
    conn.write_all(body).unwrap();
    conn
}

/// Every process of `groups` ends within `limit`; else the test fails with `what` and the
/// processes left.
fn assert_groups_gone(groups: &HashSet<u32>, limit: Duration, what: &str) {
    let left = wait_groups_gone(groups, limit);
    assert!(left.is_empty(), "{what}:\n{}", left.join("\n"));
}

/// A raw smart-HTTP POST (see `post`) and its whole answer: read until the server closes
/// the connection or `limit` passes.
fn post_answer(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    limit: Duration,
) -> Reply {
    let mut conn = post(port, path, headers, body);
    read_until_closed(&mut conn, limit)
}

/// Waits until a process below the server matches `pred` (its command line), at most
/// `limit`; the process groups below the server at that moment.
fn wait_for_child(
    srv: &Server,
    what: &str,
    limit: Duration,
    pred: impl Fn(&str) -> bool,
) -> HashSet<u32> {
    let start = Instant::now();
    loop {
        let found = descendants(srv.pid())
            .into_iter()
            .filter_map(proc_info)
            .any(|(state, _, cmd)| !matches!(state, 'Z' | 'X') && pred(&cmd));
        if found {
            return groups_below(srv.pid());
        }
        assert!(
            start.elapsed() < limit,
            "no {what} under the server within {limit:?}:\n{}",
            srv.log()
        );
        std::thread::sleep(ms(20));
    }
}

// ---------------------------------------------------------------------------------------
// item 4: gzip bodies count inflated.
// ---------------------------------------------------------------------------------------

/// A receive-pack request body creating `refs/heads/bomb` at `new` with a pack of `new`'s
/// objects stored uncompressed (`pack.compression=0`): megabytes that gzip to kilobytes.
fn push_body(s: &Setup, work: &Path, old: &str, new: &str) -> Vec<u8> {
    let mut c = s.git(work);
    c.args([
        "-c",
        "pack.compression=0",
        "pack-objects",
        "--stdout",
        "--revs",
    ])
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let revs = format!("{new}\n^{old}\n");
    std::thread::spawn(move || {
        let _ = stdin.write_all(revs.as_bytes());
    });
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let zero = "0".repeat(40);
    let mut body = pkt(&format!(
        "{zero} {new} refs/heads/bomb\0report-status side-band-64k agent=forge-authz-test\n"
    ));
    body.extend_from_slice(b"0000");
    body.extend_from_slice(&out.stdout);
    body
}

#[test]
fn issue20_item4_gzip_push_inflating_past_max_body_bytes_is_cut_and_stores_nothing() {
    // issue 20 item 4: a push whose body is 24 MiB plain and a few KiB gzipped, to a
    // server with --max-body-bytes 8 MiB: the inflated bytes count; git gets no byte past
    // the limit, the push fails, no ref lands and the repository's objects directory is
    // as it was (no pack, no loose object, no quarantine); the log says body-too-large.
    // The same body to a server with a 64 MiB limit lands (the body is a real push).
    let f = PushForge::new(
        "gzip-push",
        &["--max-body-bytes", &(8 << 20).to_string()],
        "alice",
    );
    std::fs::write(f.work.join("zeros.bin"), vec![0u8; 24 << 20]).unwrap();
    git_ok(&f.work, &f.s.home, &["add", "zeros.bin"]);
    git_ok(
        &f.work,
        &f.s.home,
        &["commit", "-q", "-m", "24 MiB of zeros"],
    );
    let new = git_ok(&f.work, &f.s.home, &["rev-parse", "HEAD"]);
    let body = push_body(&f.s, &f.work, &f.old, &new);
    let gz = gzip(&body);
    assert!(
        body.len() > 24 << 20 && gz.len() < 1 << 20,
        "the bomb: {} bytes plain, {} gzipped",
        body.len(),
        gz.len()
    );
    let auth = basic("alice", &f.token);
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/x-git-receive-pack-request"),
        ("Content-Encoding", "gzip"),
        ("Connection", "close"),
    ];
    let before = object_files(&f.bare);
    let push = "/alice/app.git/git-receive-pack";
    let r = post_answer(f.srv.port, push, &headers, &gz, secs(60));
    assert!(
        !r.text().contains("ok refs/heads/bomb") && !r.text().contains("unpack ok"),
        "the inflated bomb was accepted: {}",
        r.describe()
    );
    let groups = groups_below(f.srv.pid());
    assert_groups_gone(&groups, secs(20), "git still running");
    assert!(
        !f.refs().contains(&"refs/heads/bomb".to_string()),
        "the ref landed"
    );
    let after = object_files(&f.bare);
    assert_eq!(
        after.difference(&before).collect::<Vec<_>>(),
        Vec::<&PathBuf>::new(),
        "the refused push left files in objects/"
    );
    let log = f.srv.settled_log("encoding=gzip");
    assert!(
        log.contains("body-too-large") && log.contains("encoding=gzip"),
        "the log does not say why:\n{log}"
    );
    f.s.assert_clones(&f.srv, "after the gzip bomb");

    // The control: the same bytes under a limit they fit in land whole.
    let big = f.s.serve(&["--max-body-bytes", &(64 << 20).to_string()]);
    let r = post_answer(big.port, push, &headers, &gz, secs(120));
    assert!(
        r.text().contains("ok refs/heads/bomb"),
        "the same push under a 64 MiB limit: {}",
        r.describe()
    );
    assert!(f.refs().contains(&"refs/heads/bomb".to_string()));
}

#[test]
fn issue20_item4_gzip_fetch_body_inflating_past_the_fetch_limit_is_cut() {
    // issue 20 item 4 (fetches): an anonymous fetch whose gzip body of `have` lines inflates
    // to 32 MiB, to a server with --max-fetch-body-bytes 1 MiB: git reads 1 MiB and not a
    // byte more (the log names the limit and what was read), upload-pack ends at once and
    // the server keeps serving. A body in another content coding is refused 415.
    let s = Setup::new("gzip-fetch");
    let srv = s.serve(&["--max-fetch-body-bytes", &(1 << 20).to_string()]);
    let head = git_ok(
        &s.repos.join("alice").join("app.git"),
        &s.home,
        &["rev-parse", "main"],
    );
    let mut body = pkt(&format!("want {head} multi_ack_detailed side-band-64k\n"));
    body.extend_from_slice(b"0000");
    let have = pkt(&format!("have {}\n", "1".repeat(40)));
    while body.len() < 32 << 20 {
        body.extend_from_slice(&have);
    }
    let gz = gzip(&body);
    let headers = [
        ("Content-Type", "application/x-git-upload-pack-request"),
        ("Content-Encoding", "gzip"),
        ("Connection", "close"),
    ];
    let fetch = "/alice/app.git/git-upload-pack";
    let r = post_answer(srv.port, fetch, &headers, &gz, secs(60));
    assert!(
        !r.text().contains("PACK"),
        "a pack was sent: {}",
        r.describe()
    );
    let log = srv.settled_log("body-too-large");
    assert!(
        log.contains("body-too-large") && log.contains(&format!("read={}", 1 << 20)),
        "the limit was not applied to the inflated bytes:\n{log}"
    );
    assert_groups_gone(&groups_below(srv.pid()), secs(20), "git still running");
    let r = http(
        srv.port,
        "POST",
        "/alice/app.git/git-upload-pack",
        &[
            ("Content-Type", "application/x-git-upload-pack-request"),
            ("Content-Encoding", "br"),
        ],
        &body[..64],
    );
    assert_eq!(r.status, Some(415), "a brotli body: {}", r.describe());
    s.assert_clones(&srv, "after the gzip fetch bomb");
}

// ---------------------------------------------------------------------------------------
// item 5: abandoned requests end with their whole process group.
// ---------------------------------------------------------------------------------------

#[test]
fn issue20_item5_push_whose_client_leaves_while_the_hook_decides_lands_no_ref() {
    // issue 20 item 5: a push of 8,000 new branches; its client is killed once the
    // server's push hook is running (the server is deciding). Every process of the push
    // (http-backend, receive-pack, the hook, update-ref) is gone within a few seconds, not
    // a single ref landed (then or later: nothing of the push is left to land one), and the
    // server serves on.
    let f = PushForge::new("push-abandoned", &[], "alice");
    branches(&f.s, &f.work, 8000, &f.new);
    let before = f.refs();
    let mut client =
        spawn(
            f.s.git(&f.work)
                .args(["push", "-q", &f.url, "refs/heads/b*:refs/heads/b*"]),
        );
    // The wait is for the git *client*: its send-pack of 8,000 new refs takes ~100 s of
    // CPU on CI's 2 cores while this binary's other tests run beside it (measured: the
    // test passed in 128 s and failed at a 120 s limit on two runs of the same tree). The
    // server is not what is slow here, so the limit is generous; the assertions after it
    // are the test.
    let groups = wait_for_child(&f.srv, "push hook", secs(600), |cmd| {
        cmd.contains("hook proc-receive")
    });
    assert!(
        client.running(),
        "the push finished before it could be abandoned"
    );
    client.kill();
    assert_groups_gone(
        &groups,
        secs(15),
        "the abandoned push is still running 15 s after its client left",
    );
    assert_eq!(f.refs(), before, "an abandoned push changed refs");
    f.s.assert_clones(&f.srv, "after an abandoned push");
}

/// A fetch request body: want `head`, then `have` lines (no flush, no `done`) up to `size`
/// bytes, gzipped: upload-pack reads every one of them before it answers anything.
fn have_bomb(head: &str, size: usize) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&pkt(&format!(
        "want {head} multi_ack_detailed side-band-64k\n"
    )))
    .unwrap();
    e.write_all(b"0000").unwrap();
    let have = pkt(&format!("have {}\n", "2".repeat(40)));
    let block: Vec<u8> = have
        .iter()
        .copied()
        .cycle()
        .take(have.len() * 4096)
        .collect();
    let mut written = 0;
    while written < size {
        e.write_all(&block).unwrap();
        written += block.len();
    }
    e.finish().unwrap()
}

#[test]
fn issue20_item5_have_bomb_stops_burning_cpu_when_its_client_leaves() {
    // issue 20 item 5: an anonymous fetch of a public repository whose gzip body is 320 MiB
    // of `have` lines (under a --max-fetch-body-bytes of 512 MiB, so only the client's
    // leaving can stop it; left alone, upload-pack chews on it for about 5 s on the CI
    // machine). The client reads the 200 headers and leaves while upload-pack is still
    // chewing; the server notices the closed socket although git says nothing (the log
    // says `abandoned`), and every process of the request is gone within 4 s.
    let s = Setup::new("have-bomb");
    let srv = s.serve(&["--max-fetch-body-bytes", &(512u64 << 20).to_string()]);
    let head = git_ok(
        &s.repos.join("alice").join("app.git"),
        &s.home,
        &["rev-parse", "main"],
    );
    let gz = have_bomb(&head, 320 << 20);
    let headers = [
        ("Content-Type", "application/x-git-upload-pack-request"),
        ("Content-Encoding", "gzip"),
    ];
    let mut conn = post(srv.port, "/alice/app.git/git-upload-pack", &headers, &gz);
    let r = read_reply(&mut conn, ms(1500));
    assert!(
        r.text().starts_with("HTTP/1.1 200"),
        "the fetch did not start: {}",
        r.describe()
    );
    let groups = wait_for_child(&srv, "upload-pack", secs(30), |cmd| {
        cmd.contains("upload-pack")
    });
    assert!(
        !live_in_groups(&groups).is_empty(),
        "upload-pack finished before the client left: the bomb is too small to test"
    );
    drop(conn);
    assert_groups_gone(
        &groups,
        secs(4),
        "the have bomb still runs 4 s after its client left",
    );
    let start = Instant::now();
    while !srv.log().contains("forge-authz: abandoned") && start.elapsed() < secs(10) {
        std::thread::sleep(ms(50));
    }
    assert!(
        srv.log().contains("forge-authz: abandoned"),
        "the server did not notice its client leave (git ended on its own?):\n{}",
        srv.log()
    );
    s.assert_clones(&srv, "after the have bomb");
}

#[test]
fn issue20_item5_server_stop_ends_every_git_it_started() {
    // issue 20 item 5: SIGTERM with --grace 1 while a clone of a 24 MiB repository streams to
    // a client that stopped reading, and a push sits in receive-pack with half its pack
    // sent (both clients still connected): the server exits 0, no process of any group it
    // started is left running, and the push landed no ref.
    let mut f = PushForge::new("stop-kills", &["--grace", "1"], "alice");
    let head = f.s.seed_big("alice", "big", 24);
    let before = f.refs();
    let want = format!("0032want {head}\n00000009done\n");
    let mut clone = post(
        f.srv.port,
        "/alice/big.git/git-upload-pack",
        &[("Content-Type", "application/x-git-upload-pack-request")],
        want.as_bytes(),
    );
    let r = read_reply(&mut clone, ms(500));
    assert!(r.text().starts_with("HTTP/1.1 200"), "{}", r.describe());
    let cloning = wait_for_child(&f.srv, "upload-pack", secs(30), |cmd| {
        cmd.contains("upload-pack")
    });
    // The push: headers announce the whole body, half of it is sent.
    let body = push_body(&f.s, &f.work, &f.old, &f.new);
    let auth = basic("alice", &f.token);
    let mut push = connect(f.srv.port);
    let head_lines = format!(
        "POST /alice/app.git/git-receive-pack HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\nContent-Type: application/x-git-receive-pack-request\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    push.write_all(head_lines.as_bytes()).unwrap();
    push.write_all(&body[..body.len() / 2]).unwrap();
    let groups = wait_for_child(&f.srv, "receive-pack", secs(30), |cmd| {
        cmd.contains("receive-pack")
    });
    assert!(groups.len() >= 2, "two requests in flight: {groups:?}");
    assert!(
        !live_in_groups(&cloning).is_empty(),
        "the clone finished although its client reads nothing"
    );
    f.srv.signal("TERM");
    let status = f.srv.wait_exit(secs(30));
    assert!(
        status.is_some_and(|st| st.success()),
        "serve did not exit 0 within 30 s of SIGTERM ({status:?}):\n{}",
        f.srv.log()
    );
    assert_groups_gone(
        &groups,
        secs(10),
        "processes the stopped server started are still running",
    );
    assert_eq!(f.refs(), before, "the stopped push changed refs");
    drop((clone, push));
}

// ---------------------------------------------------------------------------------------
// item 6: a large push keeps its report.
// ---------------------------------------------------------------------------------------

#[test]
fn issue20_item6_4000_new_branches_under_a_2s_idle_timeout_land_and_are_reported() {
    // issue 20 item 6: 4,000 new branches pushed over HTTP to a server with
    // --idle-timeout 2: the push succeeds, git reports every one of the 4,000 refs to the
    // client (`--porcelain`: one `*` line each, then `Done`), and all 4,000 are in the
    // repository. The hook decides them on one connection and applies them in one
    // transaction; receive-pack's keepalives keep the response alive while it works.
    let f = PushForge::new("many-refs", &["--idle-timeout", "2"], "alice");
    branches(&f.s, &f.work, 4000, &f.new);
    let started = Instant::now();
    let o = run_for(
        f.s.git(&f.work)
            .args(["push", "--porcelain", &f.url, "refs/heads/b*:refs/heads/b*"]),
        secs(600),
    );
    let took = started.elapsed();
    let out = text(&o.stdout);
    let reported = out
        .lines()
        .filter(|l| l.starts_with("*\trefs/heads/b"))
        .count();
    assert!(
        o.status.success() && reported == 4000 && out.lines().any(|l| l == "Done"),
        "push of 4,000 branches ({took:?}): exit {:?}, {reported} reported\n{}\nserver log tail:\n{}",
        o.status.code(),
        text(&o.stderr),
        f.srv
            .log()
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .join("\n")
    );
    let landed = f
        .refs()
        .iter()
        .filter(|r| r.starts_with("refs/heads/b"))
        .count();
    assert_eq!(landed, 4000);
    eprintln!("issue 20 item 6: 4,000 branches pushed and reported in {took:?}");
}

/// `HEAD:refs/heads/BRANCH` has a line in the porcelain report `out` flagged `flag` (`*`
/// pushed, `!` refused) that contains `reason`.
fn reported(out: &str, flag: char, branch: &str, reason: &str) -> bool {
    let start = format!("{flag}\tHEAD:refs/heads/{branch}");
    out.lines()
        .any(|l| l.starts_with(&start) && l.contains(reason))
}

#[test]
fn issue20_item6_each_ref_of_a_push_gets_its_own_answer_and_atomic_pushes_land_whole() {
    // issue 20 item 6: carol (write collaborator) pushes protected `main` (push: admins)
    // and three new branches: non-atomic, main is `ng ... ref-protected` and the three land
    // (`ok`); three more while another writer holds one of them locked: that one is `ng`
    // with git's reason, the other two land; with --atomic, main and two more branches:
    // all refused, none lands.
    let f = PushForge::new("per-ref", &[], "carol");
    let (out, err) = f.refused_push(&[], &["main", "t1", "t2", "t3"]);
    let protected = "ref-protected";
    assert!(reported(&out, '!', "main", protected), "main: {out}\n{err}");
    for b in ["t1", "t2", "t3"] {
        assert!(reported(&out, '*', b, ""), "{b}: {out}");
    }
    let now = f.refs();
    assert!(now.contains(&"refs/heads/t3".to_string()), "{now:?}");
    let main = git_ok(&f.bare, &f.s.home, &["rev-parse", "main"]);
    assert_ne!(main, f.new, "protected main moved");
    // A ref git cannot lock (another writer holds `t5.lock`): the one transaction cannot be
    // prepared, each ref is applied alone, and only t5 is refused, with git's reason.
    std::fs::write(f.bare.join("refs").join("heads").join("t5.lock"), b"").unwrap();
    let (out, err) = f.refused_push(&[], &["t4", "t5", "t6"]);
    let locked = "failed to update ref";
    assert!(reported(&out, '!', "t5", locked), "t5: {out}\n{err}");
    for b in ["t4", "t6"] {
        assert!(reported(&out, '*', b, ""), "{b}: {out}\n{err}");
    }
    let now = f.refs();
    assert!(
        now.contains(&"refs/heads/t4".to_string())
            && now.contains(&"refs/heads/t6".to_string())
            && !now.contains(&"refs/heads/t5".to_string()),
        "{now:?}"
    );
    std::fs::remove_file(f.bare.join("refs").join("heads").join("t5.lock")).unwrap();
    f.refused_push(&["--atomic"], &["main", "a1", "a2"]);
    let now = f.refs();
    assert!(
        !now.iter()
            .any(|r| r == "refs/heads/a1" || r == "refs/heads/a2"),
        "an atomic push with a refused ref landed part: {now:?}"
    );
}

// ---------------------------------------------------------------------------------------
// item 7: secrets in request paths never reach the log.
// ---------------------------------------------------------------------------------------

fn token_path_attacks(port: u16, token: &str) {
    let pct = token.replacen('_', "%5F", 1).replace('.', "%2E");
    let get = |target: &str, headers: &str| {
        let req = format!(
            "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n"
        );
        let _ = exchange(port, req.as_bytes(), secs(10));
    };
    get(
        &format!("/{token}/x.git/info/refs?service=git-upload-pack"),
        "",
    );
    get(
        &format!("/alice/secret.git/info/refs;access_token={token}?service=git-upload-pack"),
        "",
    );
    get(
        &format!("/alice/{token}.git/info/refs?service=git-upload-pack"),
        "",
    );
    get(
        &format!("/{pct}/x.git/info/refs?service=git-upload-pack"),
        "",
    );
    get(&format!("/{}/x.git/info/refs", token.to_uppercase()), "");
    get(
        "/-/auth",
        &format!(
            "X-Original-URI: /alice/app.git/info/refs;access_token={token}?service=git-upload-pack\r\nX-Original-Method: GET\r\n"
        ),
    );
    get(
        "/-/auth",
        &format!("X-Original-URI: /{token}/app.git/info/refs\r\nX-Original-Method: GET\r\n"),
    );
    get(
        "/-/auth",
        &format!(
            "X-Original-URI: /alice/app.git/git-upload-pack;{pct}\r\nX-Original-Method: POST\r\n"
        ),
    );
}

#[test]
fn issue20_item7_tokens_in_paths_params_and_forwarded_uris_never_reach_the_log() {
    // issue 20 item 7: a token in the path (`/fzpat_…/x.git/info/refs`), in a `;param`,
    // as a repository name, percent-encoded, upper-cased, and in a forward-auth
    // `X-Original-URI`: text and JSON logs hold `fzpat_[redacted]` and no part of the
    // token's secret.
    for format in ["text", "json"] {
        let s = Setup::new(&format!("redact-{format}"));
        let srv = s.serve(&["--forward-auth", "nginx", "--log-format", format]);
        let rw = s.token("alice", "rw", "write:repository");
        token_path_attacks(srv.port, &rw);
        let _ = http(
            srv.port,
            "GET",
            "/bob/pub.git/info/refs?service=git-upload-pack",
            &[],
            b"",
        );
        let log = srv.settled_log("/bob/pub.git");
        let redacted = log.matches("fzpat_[redacted]").count();
        assert!(
            redacted >= 8,
            "{format}: only {redacted} redacted tokens in the log (the requests were not logged?):\n{log}"
        );
        for part in secret_parts(&rw) {
            assert!(
                !log.contains(&part) && !log.contains(&part.to_uppercase()),
                "{format}: a token secret reached the log:\n{log}"
            );
        }
        let id = &rw[rw.find('.').unwrap() + 1..][..16];
        assert!(
            !log.contains(id),
            "{format}: the token's id reached the log (the whole token must go):\n{log}"
        );
    }
}

#[test]
fn issue20_item4_an_ssh_push_past_the_body_limit_lands_nothing() {
    // Over SSH there is no HTTP body to count: git's own `receive.maxInputSize` is the
    // limit, set by `git-shell` (its `--max-body-bytes`, as `serve`'s). The forced command
    // sshd runs is driven here directly, as `GIT_SSH_COMMAND` (sshd itself is tested in
    // tests/ssh.rs).
    let mut world = default_world();
    world["ssh_keys"] = serde_json::json!([{"id": "laptop", "kind": "user", "owner": "alice"}]);
    let s = Setup::with_world("ssh-limit", &world, &[("alice", "app")]);
    let shell = s.dir.join("forced.sh");
    let forced = |limit: u64| {
        format!(
            "#!/bin/sh\n# ssh's arguments: host, then the command\nshift\nSSH_ORIGINAL_COMMAND=\"$*\" exec {} git-shell --db {} --repos {} --key laptop --max-body-bytes {limit}\n",
            bin().display(),
            s.db.display(),
            s.repos.display()
        )
    };
    let work = s.dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    git_ok(&work, &s.home, &["init", "-q", "."]);
    std::fs::write(work.join("blob"), noise(nonce(), 2 << 20)).unwrap();
    git_ok(&work, &s.home, &["add", "-A"]);
    git_ok(
        &work,
        &s.home,
        &["commit", "-q", "-m", "two incompressible MiB"],
    );
    let bare = s.repos.join("alice").join("app.git");
    let before = refs(&bare, &s.home);
    let push = |limit: u64| {
        std::fs::write(&shell, forced(limit)).unwrap();
        std::fs::set_permissions(&shell, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        run_for(
            git(&work, &s.home).env("GIT_SSH_COMMAND", &shell).args([
                "push",
                "ssh://git@forge/alice/app.git",
                "HEAD:refs/heads/big",
            ]),
            secs(120),
        )
    };
    let refused = push(1 << 20);
    assert!(!refused.status.success(), "{}", both(&refused));
    assert_eq!(refs(&bare, &s.home), before, "no ref landed");
    let allowed = push(64 << 20);
    assert!(allowed.status.success(), "{}", both(&allowed));
    assert!(
        refs(&bare, &s.home)
            .iter()
            .any(|r| r.contains("refs/heads/big"))
    );
}
