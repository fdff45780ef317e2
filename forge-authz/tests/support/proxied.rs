//! A deployment test's runner (issue 20 item 2), shared by `deploy_nginx.rs`,
//! `deploy_caddy.rs` and `deploy_traefik.rs`: the proxy started in front of `serve` as the
//! README configures it, then what a git client sees through it — real `git clone`/`git
//! push` and raw requests, checked for 200, 401 with a Basic challenge, 403, 404 (a private
//! repository you cannot see answers exactly like a missing one), 400 for spoofed headers,
//! and never a 5xx — then the proxy's own record, and `serve` still alive. Include it with
//! `#[path = "support/proxied.rs"] mod proxied;`: it brings `support/forge.rs` along as
//! `proxied::forge`.
// Tests: a broken expectation is a panic that says what broke.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

#[path = "forge.rs"]
pub mod forge;

pub use forge_authz_testkit::deploy;
use forge_authz_testkit::deploy::Daemon;

use forge::*;

/// `#[test] fn $test`: runs `$run` with the test's name (for its `SKIPPED:` line).
macro_rules! deployment_test {
    ($test:ident, $run:expr) => {
        #[test]
        fn $test() {
            ($run)(stringify!($test));
        }
    };
}
pub(crate) use deployment_test;

/// What every deployment test checks once its proxy listens on `port` in front of `srv`
/// over `s`: the clients' scenario through it ([`clients_see_what_forge_authz_decided`],
/// `other_family` as there) with no 5xx, then `proxy_record` (what only this proxy
/// records: its logs), then serve still alive.
pub fn through_the_proxy(
    s: &Setup,
    srv: &Server,
    port: u16,
    other_family: Option<&str>,
    proxy_record: impl FnOnce(),
) {
    let seen = clients_see_what_forge_authz_decided(s, port, other_family);
    seen.assert_no_server_error();
    the_proxy_passes_the_client_address(s, port);
    proxy_record();
    assert!(srv.alive(), "serve died:\n{}", srv.log());
}

/// Issue 23 (IP allow lists behind a proxy; `serve --trusted-proxy 127.0.0.1`): the proxy
/// gives `serve` the client's own address (127.0.0.1 here), never the `X-Forwarded-For` a
/// client wrote. bob's list is set behind the CLI's back (`org ip-allow` takes
/// organisations; the policy restricts any owner with a list): outside it, a forged
/// in-list address gains nothing; inside it, the same request is served.
fn the_proxy_passes_the_client_address(s: &Setup, port: u16) {
    let secret = s.token("alice", "ip-through-proxy", "read:repository");
    let db = rusqlite::Connection::open(&s.db).unwrap();
    let ask = |list: &str| {
        db.execute(
            "UPDATE users SET ip_allow = ?1 WHERE name_key = 'bob'",
            [list],
        )
        .unwrap();
        let bearer = format!("Bearer {secret}");
        let headers = [
            ("Authorization", bearer.as_str()),
            ("X-Forwarded-For", "10.1.2.3"),
        ];
        let path = "/bob/pub.git/info/refs?service=git-upload-pack";
        let r = http(port, "GET", path, &headers, b"");
        let said = r.header("x-forge-authz-reason").unwrap_or_default() + &r.text();
        (r.status, said.contains("ip-not-allowed"))
    };
    assert_eq!(
        ask(r#"["10.0.0.0/8"]"#),
        (Some(403), true),
        "a client's X-Forwarded-For must not reach serve as the client address"
    );
    assert_eq!(
        ask(r#"["127.0.0.0/8"]"#).0,
        Some(200),
        "inside the list, through the proxy"
    );
    ask("[]");
}

/// A proxy that serves the ref advertisement through `fcgiwrap` and asks `serve`'s
/// forward auth (nginx, Caddy), as the README configures it.
pub struct FcgiProxy {
    /// The program's path and its Debian package.
    pub program: (&'static str, &'static str),
    /// Its forward-auth family (`serve --forward-auth <family>`).
    pub family: &'static str,
    /// The README's configuration (`docs/deploy/<config>`) and the site file it becomes.
    pub files: (&'static str, &'static str),
    /// The README's listen value, and the test's for a port.
    pub listen: (&'static str, fn(u16) -> String),
    /// The other family's forward-auth header, which a client may not send (400).
    pub other_family: &'static str,
    /// Writes the proxy's own main configuration around the site and starts it.
    pub start: fn(&FcgiSite) -> Daemon,
    /// Checks what only this proxy records (its logs).
    pub record: fn(&FcgiSite, &Daemon),
}

impl FcgiProxy {
    /// The deployment test `test`: the proxy started on its [`FcgiSite`] (nothing when the
    /// programs are missing and the deployment tests are skipped) and listening, then
    /// [`through_the_proxy`].
    pub fn run(&self, test: &str) {
        let Some(site) = fcgi_site(test, self.program, self.family, self.files, self.listen) else {
            return;
        };
        let mut proxy = (self.start)(&site);
        proxy.wait_listening(site.port);
        through_the_proxy(
            &site.s,
            &site.srv,
            site.port,
            Some(self.other_family),
            || (self.record)(&site, &proxy),
        );
    }
}

/// `serve` behind a proxy whose forward auth is `family` (`nginx`, `caddy`), with
/// `fcgiwrap` serving the ref advertisement, and the README's configuration `config`
/// (`docs/deploy/<config>`) with the site-specific values every fcgiwrap configuration
/// names replaced: `listen` (the README's listen value and the test's), forge-authz's
/// address, the repositories, fcgiwrap's socket and `git http-backend`.
pub struct FcgiSite {
    pub srv: Server,
    /// The proxy's working directory (configuration, logs, state).
    pub dir: std::path::PathBuf,
    pub fcgiwrap: Daemon,
    /// The proxy's port.
    pub port: u16,
    /// The configuration with the test's values, also written to `dir/<site file>`.
    pub config: String,
    /// The proxy's program.
    pub proxy: std::path::PathBuf,
    /// The forge (declared last: its directory goes once the servers above are gone).
    pub s: Setup,
}

/// An [`FcgiSite`] for the test `test` whose proxy is the program `proxy` (its path and
/// Debian package); `None` when it or fcgiwrap is missing and the deployment tests are
/// skipped ([`deploy::tool`]). The site configuration is written to `dir/site`.
pub fn fcgi_site(
    test: &str,
    proxy: (&str, &str),
    family: &str,
    (config, site): (&str, &str),
    listen: (&str, fn(u16) -> String),
) -> Option<FcgiSite> {
    let proxy = deploy::tool(test, proxy.0, proxy.1)?;
    let fcgiwrap = deploy::tool(test, "/usr/sbin/fcgiwrap", "fcgiwrap")?;
    let s = Setup::new(family);
    // The serve flags the README gives for these deployments.
    let srv = s.serve(&[
        "--forward-auth",
        family,
        "--connection-limit-exempt",
        "127.0.0.1",
        "--trusted-proxy",
        "127.0.0.1",
    ]);
    let dir = s.dir.join(family);
    std::fs::create_dir_all(&dir).unwrap();
    let (fcgiwrap, socket) = deploy::fcgiwrap(&fcgiwrap, &dir);
    let port = deploy::free_port();
    let config = deploy::substitute(
        &deploy::quoted_config(config),
        &[
            (listen.0, &listen.1(port)),
            ("127.0.0.1:8081", &format!("127.0.0.1:{}", srv.port)),
            ("/srv/git", s.repos.to_str().unwrap()),
            ("/run/fcgiwrap.socket", socket.to_str().unwrap()),
            (
                "/usr/lib/git-core/git-http-backend",
                deploy::http_backend().to_str().unwrap(),
            ),
        ],
    );
    std::fs::write(dir.join(site), &config).unwrap();
    Some(FcgiSite {
        srv,
        dir,
        fcgiwrap,
        port,
        config,
        proxy,
        s,
    })
}

const REFS: &str = "/info/refs?service=git-upload-pack";

/// Every status a raw request through the proxy got (for the "never a 5xx" check).
#[derive(Default)]
pub struct Seen(pub Vec<(String, u16)>);

impl Seen {
    fn get(&mut self, port: u16, what: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        let r = http(port, "GET", path, headers, b"");
        let status = r
            .status
            .unwrap_or_else(|| panic!("{what}: no answer through the proxy: {}", r.describe()));
        self.0.push((what.to_string(), status));
        r
    }

    /// No request got a 5xx.
    pub fn assert_no_server_error(&self) {
        let bad: Vec<_> = self.0.iter().filter(|(_, s)| *s >= 500).collect();
        assert!(bad.is_empty(), "server errors through the proxy: {bad:?}");
    }
}

/// Clone `repo` through the proxy into `into`; `Ok` or the client's output.
fn clone(
    s: &Setup,
    port: u16,
    cred: Option<(&str, &str)>,
    repo: &str,
    into: &str,
) -> Result<(), String> {
    outcome(s.clone_into(port, cred, repo, into))
}

/// Clones `repo` as `cred` through the proxy into `into` (it must succeed) and commits
/// nothing there with `message`: the work tree, one commit ahead.
fn clone_and_commit(
    s: &Setup,
    port: u16,
    cred: Option<(&str, &str)>,
    repo: &str,
    into: &str,
    message: &str,
) -> std::path::PathBuf {
    let who = cred.map_or("anonymous", |c| c.0);
    clone(s, port, cred, repo, into)
        .unwrap_or_else(|e| panic!("{who}'s clone of {repo} through the proxy: {e}"));
    let work = s.home.join(into);
    git_ok(
        &work,
        &s.home,
        &["commit", "-q", "--allow-empty", "-m", message],
    );
    work
}

fn push(s: &Setup, work: &std::path::Path, url: &str, refspec: &str) -> Result<(), String> {
    outcome(run_for(s.git(work).args(["push", url, refspec]), secs(120)))
}

/// A git client's run: `Ok` or its output.
fn outcome(o: std::process::Output) -> Result<(), String> {
    if o.status.success() {
        Ok(())
    } else {
        Err(both(&o))
    }
}

/// The scenario, through the proxy listening on `port` in front of a server over `s`
/// (the default world: alice/app public with `main` protected for admins and carol a
/// writer, alice/secret private with a canary branch). `other_family` is a forward-auth
/// header of the family the proxy's forward auth does not use (a client sending it is
/// refused 400), or `None` for a proxy that sends every git request to `serve` itself.
pub fn clients_see_what_forge_authz_decided(
    s: &Setup,
    port: u16,
    other_family: Option<&str>,
) -> Seen {
    let mut seen = Seen::default();
    let rw = s.token("alice", "rw", "write:repository");
    let ro = s.token("alice", "ro", "read:repository");
    let bob = s.token("bob", "rw", "write:repository");
    let carol = s.token("carol", "rw", "write:repository");

    // 200: an anonymous clone of a public repository; the owner clones and pushes a
    // private one.
    clone(s, port, None, "alice/app", "anon").unwrap_or_else(|e| panic!("anonymous clone: {e}"));
    assert!(s.home.join("anon").join("README").exists());
    let owner = Some(("alice", rw.as_str()));
    let mine = clone_and_commit(s, port, owner, "alice/secret", "mine", "through the proxy");
    let url = Setup::url(port, Some(("alice", &rw)), "alice/secret");
    push(s, &mine, &url, "HEAD:refs/heads/via-proxy")
        .unwrap_or_else(|e| panic!("the owner's push through the proxy: {e}"));
    let pushed = git_ok(&mine, &s.home, &["rev-parse", "HEAD"]);
    let bare = s.repos.join("alice").join("secret.git");
    assert_eq!(git_ok(&bare, &s.home, &["rev-parse", "via-proxy"]), pushed);

    // Each ref of a push is still decided: carol (a writer) may not push protected main,
    // and may push a topic branch.
    let writer = Some(("carol", carol.as_str()));
    let work = clone_and_commit(s, port, writer, "alice/app", "carol", "carol");
    let url = Setup::url(port, Some(("carol", &carol)), "alice/app");
    let e = push(s, &work, &url, "HEAD:main").expect_err("carol pushed protected main");
    assert!(e.contains("ref-protected"), "{e}");
    push(s, &work, &url, "HEAD:refs/heads/carol-topic")
        .unwrap_or_else(|e| panic!("carol's topic branch: {e}"));

    // 401 with a Basic challenge: no credential on a private repository (and on a missing
    // one: the same answer).
    let private = seen.get(
        port,
        "anonymous, private",
        &format!("/alice/secret.git{REFS}"),
        &[],
    );
    let missing = seen.get(
        port,
        "anonymous, missing",
        &format!("/alice/missing.git{REFS}"),
        &[],
    );
    for r in [&private, &missing] {
        assert_eq!(r.status, Some(401), "{}", r.describe());
        assert_eq!(
            r.header("WWW-Authenticate").as_deref(),
            Some("Basic realm=\"forge-authz\""),
            "the challenge git needs to ask for credentials: {}",
            r.describe()
        );
    }
    let e = clone(s, port, None, "alice/secret", "anon-secret")
        .expect_err("anonymous clone of a private repository");
    assert!(!e.contains(SECRET_BRANCH), "{e}");

    // 403: a read token pushing.
    let basic_ro = basic("alice", &ro);
    let r = seen.get(
        port,
        "read token, push advertisement",
        "/alice/app.git/info/refs?service=git-receive-pack",
        &[("Authorization", &basic_ro)],
    );
    assert_eq!(r.status, Some(403), "{}", r.describe());
    let url = Setup::url(port, Some(("alice", &ro)), "alice/secret");
    let e = push(s, &mine, &url, "HEAD:refs/heads/read-token").expect_err("a read token pushed");
    assert!(e.contains("403"), "the client should see 403: {e}");

    // 404: bob's token on alice's private repository and on a missing one, alike.
    let basic_bob = basic("bob", &bob);
    let hidden = seen.get(
        port,
        "bob, private",
        &format!("/alice/secret.git{REFS}"),
        &[("Authorization", &basic_bob)],
    );
    let absent = seen.get(
        port,
        "bob, missing",
        &format!("/alice/missing.git{REFS}"),
        &[("Authorization", &basic_bob)],
    );
    assert_eq!(hidden.status, Some(404), "{}", hidden.describe());
    assert_eq!(absent.status, Some(404), "{}", absent.describe());
    assert_eq!(
        hidden.body(),
        absent.body(),
        "hidden and missing repositories answer alike"
    );
    for r in [&hidden, &absent] {
        assert!(!leaked(&r.text(), b"", &s.secret_sha), "{}", r.describe());
    }
    let e1 = clone(s, port, Some(("bob", &bob)), "alice/secret", "bob-secret")
        .expect_err("bob cloned alice/secret");
    let e2 = clone(s, port, Some(("bob", &bob)), "alice/missing", "bob-missing")
        .expect_err("bob cloned a missing repository");
    for e in [&e1, &e2] {
        assert!(e.contains("not found"), "git should say `not found`: {e}");
        assert!(
            !e.contains(SECRET_BRANCH) && !e.contains(&s.secret_sha),
            "{e}"
        );
    }

    // Spoofing. Behind forward auth, the other proxy family's header is refused 400 (a
    // client behind nginx can add `X-Forwarded-Uri` itself); with no forward auth, the
    // forward-auth headers of both families are only text the git endpoint never reads.
    // A client's own copy of an answer header never picks the repository served.
    for header in ["X-Original-URI", "X-Forwarded-Uri"] {
        let expect = match other_family {
            Some(other) if other == header => 400,
            Some(_) => continue,
            None => 200,
        };
        let r = seen.get(
            port,
            &format!("spoofed {header}"),
            &format!("/alice/app.git{REFS}"),
            &[(header, "/alice/secret.git/info/refs")],
        );
        assert_eq!(r.status, Some(expect), "{}", r.describe());
        assert!(!r.text().contains(SECRET_BRANCH), "{}", r.describe());
    }
    let r = seen.get(
        port,
        "forged repository header",
        &format!("/alice/app.git{REFS}"),
        &[
            ("X-Forge-Authz-Repository", "alice/secret"),
            ("X-Forge-Authz-User", "alice"),
        ],
    );
    assert_eq!(r.status, Some(200), "{}", r.describe());
    assert!(
        !r.text().contains(SECRET_BRANCH),
        "a forged X-Forge-Authz-Repository served the private repository: {}",
        r.describe()
    );
    seen
}
