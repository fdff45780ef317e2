//! Two real `forge-authz serve` processes over one PostgreSQL database (issue 10, "Two serve
//! processes over one PostgreSQL" and "One module version across the fleet"): a token made
//! or revoked through the CLI is seen by both hosts on their next request, effects written
//! through one host (last use, a leaked rotation's family revocation) are enforced by the
//! other, and a module published in the database reaches every host (swapped, refused,
//! rolled back, run in shadow), as `status` and `fleet` report it. Plus the same `publish`
//! and `fleet` on SQLite with one host.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::Digest as _;

#[path = "support/pg.rs"]
mod pg;

/// How long a host may take to pick up a publication (it polls every second).
const FLEET_WAIT: Duration = Duration::from_secs(15);
/// How long a host may take to start (compiling the module included).
const START_WAIT: Duration = Duration::from_secs(60);

const WORLD: &str = r#"{
  "keys": [{"id": "k1", "secret": "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"}],
  "signing_key": "k1",
  "users": [{"name": "alice"}],
  "repositories": [
    {"owner": "alice", "name": "app"},
    {"owner": "alice", "name": "secret", "private": true}
  ]
}"#;

const APP: &str = "/alice/app.git/info/refs?service=git-upload-pack";
const SECRET: &str = "/alice/secret.git/info/refs?service=git-upload-pack";

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_forge-authz"))
}

fn embedded_sha256() -> String {
    hex::encode(sha2::Sha256::digest(
        forge_authz_host::policy::EMBEDDED_POLICY,
    ))
}

/// One `forge-authz serve` process, killed when dropped.
struct Host {
    id: String,
    child: Child,
    port: u16,
    admin: PathBuf,
    log: PathBuf,
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A store, a scratch directory and the hosts serving from that store. Dropping it stops
/// every host (printing their logs if the test is failing) and removes the directory.
struct Fleet {
    dir: PathBuf,
    db: String,
    repos: PathBuf,
    hosts: Vec<Host>,
    /// `--fleet-poll` of the hosts started next (seconds).
    poll: &'static str,
}

impl Drop for Fleet {
    fn drop(&mut self) {
        // Every failure message is followed by every host's log.
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
        self.hosts.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh scratch directory, unique to this process and call.
fn scratch(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "forge-authz-fleet-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn cli(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn describe(args: &[&str], o: &Output) -> String {
    format!(
        "forge-authz {}: {}\nstdout: {}\nstderr: {}",
        args.join(" "),
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

impl Fleet {
    /// `db` gets the test world (`init-db`); no host runs yet.
    fn new(dir: PathBuf, db: String) -> Fleet {
        let world = dir.join("world.json");
        std::fs::write(&world, WORLD).unwrap();
        let repos = dir.join("repos");
        std::fs::create_dir_all(&repos).unwrap();
        let fleet = Fleet {
            dir,
            db,
            repos,
            hosts: Vec::new(),
            poll: "1",
        };
        fleet.ok(&[
            "init-db",
            "--db",
            &fleet.db,
            "--world",
            world.to_str().unwrap(),
        ]);
        std::fs::write(
            fleet.dir.join("good.wasm"),
            forge_authz_host::policy::EMBEDDED_POLICY,
        )
        .unwrap();
        std::fs::write(fleet.dir.join("broken.wasm"), truncated()).unwrap();
        fleet
    }

    fn module(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// Every host's log, for failure messages.
    fn logs(&self) -> String {
        self.hosts
            .iter()
            .map(|h| {
                format!(
                    "----- log of host {} -----\n{}",
                    h.id,
                    std::fs::read_to_string(&h.log).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// A CLI command that must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let o = cli(args);
        assert!(o.status.success(), "{}", describe(args, &o));
        String::from_utf8(o.stdout).unwrap()
    }

    /// A CLI command that must succeed with `--json`; its output.
    fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
    }

    /// Start `serve --host-id ID --fleet-poll 1` over the store; returns its index.
    fn start(&mut self, id: &str) -> usize {
        let port_file = self.dir.join(format!("{id}.port"));
        let admin = self.dir.join(format!("{id}.sock"));
        let log = self.dir.join(format!("{id}.log"));
        let child = Command::new(bin())
            .args(["serve", "--db", &self.db])
            .args(["--repos", self.repos.to_str().unwrap()])
            .args(["--listen", "127.0.0.1:0"])
            .args(["--port-file", port_file.to_str().unwrap()])
            .args([
                "--state",
                self.dir.join(format!("{id}-state")).to_str().unwrap(),
            ])
            .args(["--admin-socket", admin.to_str().unwrap()])
            .args(["--forward-auth", "traefik", "--workers", "2"])
            .args(["--host-id", id, "--fleet-poll", self.poll])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        self.hosts.push(Host {
            id: id.to_owned(),
            child,
            port: 0,
            admin,
            log,
        });
        let index = self.hosts.len() - 1;
        let start = Instant::now();
        loop {
            if let Ok(p) = std::fs::read_to_string(&port_file)
                && let Ok(p) = p.trim().parse()
            {
                self.hosts[index].port = p;
                return index;
            }
            if let Ok(Some(status)) = self.hosts[index].child.try_wait() {
                panic!("host {id} exited ({status}) before serving");
            }
            assert!(
                start.elapsed() < START_WAIT,
                "host {id} did not write its port within {START_WAIT:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A forward-auth question to host `h` about a clone of `uri`: (status, reason).
    fn auth(&self, h: usize, uri: &str, bearer: Option<&str>) -> (u16, String) {
        let host = &self.hosts[h];
        let mut req = format!(
            "GET /-/auth HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             X-Forwarded-Method: GET\r\nX-Forwarded-Uri: {uri}\r\n"
        );
        if let Some(secret) = bearer {
            req.push_str(&format!("Authorization: Bearer {secret}\r\n"));
        }
        req.push_str("\r\n");
        let mut s = std::net::TcpStream::connect(("127.0.0.1", host.port))
            .unwrap_or_else(|e| panic!("connect to host {}: {e}", host.id));
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp)
            .unwrap_or_else(|e| panic!("read from host {}: {e}", host.id));
        let (head, _) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let reason = lines
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("x-forge-authz-reason"))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default();
        (status, reason)
    }

    /// Host `h` answers (status, reason) for a clone of `uri`.
    fn expect(&self, h: usize, uri: &str, bearer: Option<&str>, want: (u16, &str), why: &str) {
        let got = self.auth(h, uri, bearer);
        assert_eq!(
            (got.0, got.1.as_str()),
            want,
            "host {}: {why}",
            self.hosts[h].id
        );
    }

    /// Every host still decides: a good token clones, anonymous is refused a private
    /// repository.
    fn decides(&self, secret: &str, when: &str) {
        for h in 0..self.hosts.len() {
            self.expect(h, APP, Some(secret), (200, "granted"), when);
            self.expect(
                h,
                SECRET,
                None,
                (401, "authentication-required"),
                &format!("{when} (anonymous, private repository)"),
            );
        }
    }

    /// `forge-authz status --admin-socket` of host `h`.
    fn status(&self, h: usize) -> Result<Value, String> {
        let admin = self.hosts[h].admin.to_str().unwrap().to_owned();
        let args = ["status", "--admin-socket", admin.as_str()];
        let o = cli(&args);
        if !o.status.success() {
            return Err(describe(&args, &o));
        }
        serde_json::from_slice(&o.stdout).map_err(|e| format!("{e}: {}", describe(&args, &o)))
    }

    /// `forge-authz fleet --json`.
    fn fleet(&self) -> Value {
        self.json(&["fleet", "--db", &self.db, "--json"])
    }

    /// The `fleet --json` row of host `h`.
    fn row(&self, fleet: &Value, h: usize) -> Option<Value> {
        fleet["hosts"]
            .as_array()?
            .iter()
            .find(|r| r["host"] == self.hosts[h].id.as_str())
            .cloned()
    }

    /// Poll `check` until it holds (at most `FLEET_WAIT`); the failure names what was
    /// awaited, what was last seen and every host's log.
    fn wait(&self, what: &str, mut check: impl FnMut() -> Result<(), String>) {
        let start = Instant::now();
        loop {
            match check() {
                Ok(()) => return,
                Err(last) if start.elapsed() >= FLEET_WAIT => {
                    panic!("{what}: not within {FLEET_WAIT:?}\nlast seen: {last}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Wait until every host's `status` and `fleet --json` row satisfy `want` (given the
    /// host's `status.fleet` and its row).
    fn wait_all(&self, what: &str, want: impl Fn(&Value, &Value) -> Result<(), String>) {
        self.wait(what, || {
            let fleet = self.fleet();
            for h in 0..self.hosts.len() {
                let status = self.status(h)?;
                let row = self
                    .row(&fleet, h)
                    .ok_or_else(|| format!("no row for {}: {fleet}", self.hosts[h].id))?;
                want(&status, &row).map_err(|e| {
                    format!(
                        "host {}: {e}\nstatus: {status}\nfleet: {fleet}",
                        self.hosts[h].id
                    )
                })?;
            }
            Ok(())
        });
    }

    /// `token create --json`: (secret, id).
    fn create_token(&self, name: &str) -> (String, String) {
        let v = self.json(&[
            "token",
            "create",
            "--db",
            &self.db,
            "--owner",
            "alice",
            "--name",
            name,
            "--scope",
            "read:repository",
            "--json",
        ]);
        (
            v["secret"].as_str().unwrap().to_owned(),
            v["token"]["id"].as_str().unwrap().to_owned(),
        )
    }

    fn show_token(&self, id: &str) -> Value {
        self.json(&["token", "show", "--db", &self.db, id, "--json"])
    }
}

/// A module every host refuses: the embedded one cut short.
fn truncated() -> Vec<u8> {
    let good = forge_authz_host::policy::EMBEDDED_POLICY;
    good[..good.len() / 3].to_vec()
}

/// `Ok` when `v` (a `ModuleRef` from `status`, a version number from a `fleet` row, or
/// null for none) is version `want`.
fn version_is(what: &str, v: &Value, want: Option<i64>) -> Result<(), String> {
    let got = v.as_i64().or_else(|| v["version"].as_i64());
    if got == want && (want.is_some() || v.is_null()) {
        Ok(())
    } else {
        Err(format!("{what} is {v}, wanted version {want:?}"))
    }
}

/// Store the truncated module and make it the fleet's live version behind the CLI's back
/// (the CLI refuses to publish it): the hosts' own check must refuse it. Returns its
/// version.
fn insert_refused_module(db: &str) -> i64 {
    let bytes = truncated();
    let sha = hex::encode(sha2::Sha256::digest(&bytes));
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    if db.starts_with("postgres://") {
        let mut c = postgres::Client::connect(db, postgres::NoTls).unwrap();
        let mut tx = c.transaction().unwrap();
        let version: i64 = tx
            .query_one(
                "INSERT INTO policy_modules (sha256, bytes, published_by, published_at) \
                 VALUES ($1, $2, 'test', $3) RETURNING version",
                &[&sha, &bytes, &now],
            )
            .unwrap()
            .get(0);
        tx.execute(
            "INSERT INTO policy_publications (role, version, action, published_by, \
             published_at) VALUES ('live', $1, 'publish', 'test', $2)",
            &[&version, &now],
        )
        .unwrap();
        tx.commit().unwrap();
        version
    } else {
        let mut c = rusqlite::Connection::open(db).unwrap();
        let tx = c.transaction().unwrap();
        tx.execute(
            "INSERT INTO policy_modules (sha256, bytes, published_by, published_at) \
             VALUES (?1, ?2, 'test', ?3)",
            rusqlite::params![sha, bytes, now],
        )
        .unwrap();
        let version = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO policy_publications (role, version, action, published_by, \
             published_at) VALUES ('live', ?1, 'publish', 'test', ?2)",
            rusqlite::params![version, now],
        )
        .unwrap();
        tx.commit().unwrap();
        version
    }
}

/// A fleet over a fresh PostgreSQL database (`None`: skipped by `FORGE_AUTHZ_SKIP_PG=1`).
fn pg_fleet(name: &str) -> Option<Fleet> {
    let server = pg::shared_or_skip(name)?;
    let db = server.fresh_database(&format!("fleet_{name}_{}", std::process::id()));
    Some(Fleet::new(scratch(name), db))
}

#[test]
fn two_hosts_share_tokens_revocations_and_effects() {
    // issue 10, "Two serve processes over one PostgreSQL": nothing about a token is cached
    // per host; what the CLI or one host writes, the other enforces on its next request.
    let Some(mut f) = pg_fleet("tokens") else {
        return;
    };
    let (a, b) = (f.start("host-a"), f.start("host-b"));

    // A token created through the CLI is accepted by both hosts.
    let (secret, id) = f.create_token("ci");
    assert!(
        f.show_token(&id)["last_used"].is_null(),
        "a new token was never used"
    );
    f.expect(a, APP, Some(&secret), (200, "granted"), "a new token");
    // The use through host A is stamped before the answer (one write, README "Last used").
    let shown = f.show_token(&id);
    assert!(
        shown["last_used"].as_i64().is_some(),
        "a request through host A stamps last_used: {shown}"
    );
    f.expect(b, APP, Some(&secret), (200, "granted"), "a new token");
    // Revoked through the CLI: both hosts refuse it at once, without a restart.
    f.ok(&["token", "revoke", "--db", &f.db, &id]);
    for h in [a, b] {
        f.expect(
            h,
            APP,
            Some(&secret),
            (401, "token-revoked"),
            "revoked by the CLI",
        );
    }

    // A rotated-away secret presented to host B revokes the whole family (README
    // "Rotation"), so host A refuses the successor on its next request.
    let (old_secret, old_id) = f.create_token("deploy");
    f.expect(
        a,
        APP,
        Some(&old_secret),
        (200, "granted"),
        "before rotation",
    );
    let rotated = f.json(&["token", "rotate", "--db", &f.db, &old_id, "--json"]);
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    let new_id = rotated["token"]["id"].as_str().unwrap().to_owned();
    assert_ne!(new_id, old_id);
    for h in [a, b] {
        f.expect(h, APP, Some(&new_secret), (200, "granted"), "the successor");
    }
    assert_eq!(f.show_token(&new_id)["state"].as_str(), Some("live"));
    f.expect(
        b,
        APP,
        Some(&old_secret),
        (401, "token-revoked"),
        "rotated away, presented again",
    );
    let shown = f.show_token(&new_id);
    assert_eq!(
        shown["state"].as_str(),
        Some("revoked"),
        "the family was revoked through host B: {shown}"
    );
    f.expect(
        a,
        APP,
        Some(&new_secret),
        (401, "token-revoked"),
        "the successor after its family was revoked through host B",
    );
}

#[test]
fn one_module_version_across_two_hosts() {
    // issue 10, "One module version across the fleet": publish, a module the hosts refuse,
    // rollback, shadow.
    let Some(mut f) = pg_fleet("publish") else {
        return;
    };
    let (a, b) = (f.start("host-a"), f.start("host-b"));
    let (secret, _) = f.create_token("ci");
    let sha = embedded_sha256();

    // Nothing published: both run their local module and report it.
    f.wait_all("both hosts report their local module", |s, row| {
        version_is("status fleet.live", &s["fleet"]["live"], None)?;
        version_is("fleet live_version", &row["live_version"], None)?;
        if row["state"] != "running" || row["live_sha256"] != sha.as_str() {
            return Err("not running the embedded module".into());
        }
        Ok(())
    });
    f.decides(&secret, "before any publication");

    // A module the CLI's own check refuses is never published.
    let broken = f.module("broken.wasm");
    let args = ["publish", "--db", &f.db, &broken];
    let o = cli(&args);
    assert!(!o.status.success(), "{}", describe(&args, &o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not published"),
        "{}",
        describe(&args, &o)
    );
    let published = f.fleet()["published"].clone();
    assert!(
        published["live"].is_null() && published["seq"] == 0,
        "{published}"
    );

    // Publish: both hosts swap to version 1 within a few polls.
    let good = f.module("good.wasm");
    let state = f.json(&["publish", "--db", &f.db, &good, "--json"]);
    assert_eq!(state["live"]["version"], 1, "{state}");
    assert_eq!(state["live"]["sha256"], sha.as_str(), "{state}");
    f.wait_all("both hosts run version 1", |s, row| {
        version_is("status fleet.live", &s["fleet"]["live"], Some(1))?;
        version_is("fleet live_version", &row["live_version"], Some(1))?;
        if s["sha256"] != sha.as_str() || row["live_sha256"] != sha.as_str() {
            return Err("not the published SHA-256".into());
        }
        if row["state"] != "running" || !s["fleet"]["refused"].is_null() {
            return Err("not running".into());
        }
        Ok(())
    });
    for h in [a, b] {
        let s = f.status(h).unwrap();
        assert_eq!(
            s["policy"], "fleet:v1",
            "host {h} serves the fleet's module: {s}"
        );
        assert_eq!(s["fleet"]["host"], f.hosts[h].id.as_str(), "{s}");
    }
    f.decides(&secret, "after publishing version 1");

    // A module every host refuses (stored behind the CLI's back): both keep version 1,
    // report the refusal, and keep deciding.
    let refused = insert_refused_module(&f.db);
    assert_eq!(refused, 2);
    f.wait_all("both hosts refuse version 2", |s, row| {
        let detail = row["detail"].as_str().unwrap_or_default();
        if row["state"] != "refused" || !detail.contains("version 2") {
            return Err("fleet row not refused with a detail".into());
        }
        let why = s["fleet"]["refused"].as_str().unwrap_or_default();
        if !why.contains("version 2") {
            return Err("status fleet.refused does not name version 2".into());
        }
        version_is("status fleet.live", &s["fleet"]["live"], Some(1))?;
        version_is("fleet live_version", &row["live_version"], Some(1))?;
        if s["sha256"] != sha.as_str() || row["live_sha256"] != sha.as_str() {
            return Err("no longer runs version 1".into());
        }
        Ok(())
    });
    let fleet = f.fleet();
    assert_eq!(fleet["published"]["live"]["version"], 2, "{fleet}");
    for h in [a, b] {
        let s = f.status(h).unwrap();
        assert_eq!(s["policy"], "fleet:v1", "{s}");
        assert!(s["refused_reloads"].as_u64() >= Some(1), "{s}");
    }
    f.decides(&secret, "while version 2 is refused");

    // Rollback: the log is back at version 1, and both hosts report running again.
    let state = f.json(&["publish", "--db", &f.db, "--rollback", "--json"]);
    assert_eq!(state["live"]["version"], 1, "{state}");
    f.wait_all(
        "both hosts run version 1 again after the rollback",
        |s, row| {
            version_is("status fleet.live", &s["fleet"]["live"], Some(1))?;
            version_is("fleet live_version", &row["live_version"], Some(1))?;
            if row["state"] != "running" || !row["detail"].is_null() {
                return Err("fleet row still refused".into());
            }
            if !s["fleet"]["refused"].is_null() {
                return Err("status fleet.refused still set".into());
            }
            Ok(())
        },
    );
    f.decides(&secret, "after the rollback");
    // Never past the first publication.
    let args = ["publish", "--db", &f.db, "--rollback"];
    let o = cli(&args);
    assert!(!o.status.success(), "{}", describe(&args, &o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("first live publication"),
        "{}",
        describe(&args, &o)
    );
    assert_eq!(f.fleet()["published"]["live"]["version"], 1);

    // Shadow: both hosts run version 1 beside the live module, then stop it.
    let state = f.json(&["publish", "--db", &f.db, &good, "--shadow", "--json"]);
    assert_eq!(state["shadow"]["version"], 1, "{state}");
    f.wait_all("both hosts run version 1 in shadow", |s, row| {
        version_is("status fleet.shadow", &s["fleet"]["shadow"], Some(1))?;
        version_is("fleet shadow_version", &row["shadow_version"], Some(1))?;
        if s["shadow"].is_null() {
            return Err("status shows no shadow module".into());
        }
        Ok(())
    });
    f.decides(&secret, "with a shadow module");
    for h in [a, b] {
        let s = f.status(h).unwrap();
        assert!(s["shadow_requests"].as_u64() >= Some(1), "{s}");
        assert_eq!(s["shadow_differences"], 0, "the same module agrees: {s}");
    }
    let state = f.json(&["publish", "--db", &f.db, "--clear-shadow", "--json"]);
    assert!(state["shadow"].is_null(), "{state}");
    f.wait_all("both hosts stop the shadow module", |s, row| {
        version_is("status fleet.shadow", &s["fleet"]["shadow"], None)?;
        version_is("fleet shadow_version", &row["shadow_version"], None)?;
        if !s["shadow"].is_null() {
            return Err("status still shows a shadow module".into());
        }
        version_is("status fleet.live", &s["fleet"]["live"], Some(1))
    });
    f.decides(&secret, "after clearing the shadow");
}

#[test]
fn a_host_started_after_a_publication_serves_it_from_its_first_request() {
    // issue 10: the fleet's version is applied before the first request is served.
    let Some(mut f) = pg_fleet("late") else {
        return;
    };
    let (secret, _) = f.create_token("ci");
    let good = f.module("good.wasm");
    f.ok(&["publish", "--db", &f.db, &good]);
    let h = f.start("late-host");
    // No wait: the first status after startup already shows it.
    let s = f.status(h).unwrap();
    assert_eq!(s["fleet"]["live"]["version"], 1, "{s}");
    assert_eq!(s["policy"], "fleet:v1", "{s}");
    assert_eq!(s["sha256"], embedded_sha256().as_str(), "{s}");
    assert_eq!(s["fleet"]["seq"], 1, "{s}");
    f.expect(h, APP, Some(&secret), (200, "granted"), "first request");
    // And it has reported itself.
    let fleet = f.fleet();
    let row = f.row(&fleet, h).unwrap_or_else(|| panic!("{fleet}"));
    assert_eq!(row["live_version"], 1, "{fleet}");
    assert_eq!(row["state"], "running", "{fleet}");
}

#[test]
fn postgres_hosts_wake_on_a_publication_without_waiting_for_their_poll() {
    // issue 10 (LISTEN/NOTIFY): hosts polling only every 10 minutes still pick a
    // publication up within seconds, because PostgreSQL notifies them.
    let Some(mut f) = pg_fleet("notify") else {
        return;
    };
    f.poll = "600";
    f.start("notify-a");
    f.start("notify-b");
    let good = f.module("good.wasm");
    f.ok(&["publish", "--db", &f.db, &good]);
    f.wait_all("both hosts run version 1 (notified)", |status, row| {
        version_is("status", &status["fleet"]["live"]["version"], Some(1))?;
        version_is("row", &row["live_version"], Some(1))
    });
}

#[test]
fn publish_fleet_and_rollback_work_on_sqlite() {
    let dir = scratch("sqlite");
    let db = dir.join("forge.db").display().to_string();
    let mut f = Fleet::new(dir, db);
    let h = f.start("solo");
    let (secret, _) = f.create_token("ci");
    let good = f.module("good.wasm");
    let sha = embedded_sha256();

    f.ok(&["publish", "--db", &f.db, &good]);
    f.wait_all("the host runs version 1", |s, row| {
        version_is("status fleet.live", &s["fleet"]["live"], Some(1))?;
        version_is("fleet live_version", &row["live_version"], Some(1))?;
        if row["state"] != "running" || row["live_sha256"] != sha.as_str() {
            return Err("not running version 1".into());
        }
        Ok(())
    });
    f.decides(&secret, "after publishing on SQLite");

    let refused = insert_refused_module(&f.db);
    f.wait_all("the host refuses the broken version", |s, row| {
        if row["state"] != "refused" || row["detail"].is_null() {
            return Err("fleet row not refused".into());
        }
        if s["fleet"]["refused"].is_null() {
            return Err("status fleet.refused not set".into());
        }
        version_is("status fleet.live", &s["fleet"]["live"], Some(1))
    });
    assert_eq!(f.fleet()["published"]["live"]["version"], refused);
    f.decides(&secret, "while the broken version is refused");

    let state = f.json(&["publish", "--db", &f.db, "--rollback", "--json"]);
    assert_eq!(state["live"]["version"], 1, "{state}");
    f.wait_all("the host runs version 1 after the rollback", |s, row| {
        version_is("fleet live_version", &row["live_version"], Some(1))?;
        if row["state"] != "running" || !s["fleet"]["refused"].is_null() {
            return Err("still refused".into());
        }
        Ok(())
    });
    let o = cli(&["publish", "--db", &f.db, "--rollback"]);
    assert!(!o.status.success(), "never past the first publication");
    // The human table names the host and its version.
    let table = f.ok(&["fleet", "--db", &f.db]);
    assert!(
        table.contains("live:   version 1") && table.contains("solo"),
        "{table}"
    );
    assert_eq!(f.status(h).unwrap()["policy"], "fleet:v1");
}
