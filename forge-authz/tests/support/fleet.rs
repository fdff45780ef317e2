//! The fleet harness shared by `fleet.rs` and `keys.rs`: a store, a scratch directory and
//! real `forge-authz serve` processes over that store, asked through forward auth, their
//! admin `status` and `forge-authz fleet --json`. Use it from a test file with
//! `#[path = "support/fleet.rs"] mod harness;`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::Digest as _;

use forge_authz_testkit::pg;

#[path = "signing.rs"]
pub mod signing;
pub use signing::{signer, trusting};

/// How long a host may take to pick up a publication (it polls every second).
pub const FLEET_WAIT: Duration = Duration::from_secs(15);
/// How long a host may take to start (compiling the module included).
pub const START_WAIT: Duration = Duration::from_secs(60);

pub use forge_authz_testkit::ALICE_APP_AND_SECRET as WORLD;

pub const APP: &str = "/alice/app.git/info/refs?service=git-upload-pack";
pub const SECRET: &str = "/alice/secret.git/info/refs?service=git-upload-pack";

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_forge-authz"))
}

pub fn embedded_sha256() -> String {
    hex::encode(sha2::Sha256::digest(
        forge_authz_host::policy::EMBEDDED_POLICY,
    ))
}

/// One `forge-authz serve` process, killed when dropped.
pub struct Host {
    pub id: String,
    pub child: Child,
    pub port: u16,
    pub admin: PathBuf,
    pub log: PathBuf,
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A store, a scratch directory and the hosts serving from that store. Dropping it stops
/// every host (printing their logs if the test is failing) and removes the directory.
pub struct Fleet {
    pub dir: PathBuf,
    pub db: String,
    pub repos: PathBuf,
    pub hosts: Vec<Host>,
    /// `--fleet-poll` of the hosts started next (seconds).
    pub poll: &'static str,
    /// More `serve` flags for the hosts started next (`--trusted-signers FILE`).
    pub serve_args: Vec<String>,
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

/// A fresh private scratch directory, unique to this call.
pub fn scratch(name: &str) -> PathBuf {
    forge_authz_testkit::scratch(&format!("forge-authz-fleet-{name}-"))
}

/// A CLI command that trusts the test signer (issue 23).
pub fn cli(args: &[&str]) -> Output {
    trusting(&mut Command::new(bin()))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

pub fn describe(args: &[&str], o: &Output) -> String {
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
    pub fn new(dir: PathBuf, db: String) -> Fleet {
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
            serve_args: Vec::new(),
        };
        fleet.ok(&[
            "init-db",
            "--db",
            &fleet.db,
            "--world",
            world.to_str().unwrap(),
        ]);
        // Both signed by the trusted test signer (version 1): `broken.wasm` is refused by
        // the module checks, not for want of a signature.
        let good = fleet.dir.join("good.wasm");
        signer().write_signed(&good, forge_authz_host::policy::EMBEDDED_POLICY, 1);
        signer().write_signed(&fleet.dir.join("broken.wasm"), &truncated(), 1);
        fleet
    }

    pub fn module(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// Every host's log, for failure messages.
    pub fn logs(&self) -> String {
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
    pub fn ok(&self, args: &[&str]) -> String {
        let o = cli(args);
        assert!(o.status.success(), "{}", describe(args, &o));
        String::from_utf8(o.stdout).unwrap()
    }

    /// A CLI command that must fail, saying `says` on stderr.
    pub fn refused(&self, args: &[&str], says: &str) {
        let o = cli(args);
        assert!(!o.status.success(), "{}", describe(args, &o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{}", describe(args, &o));
    }

    /// A CLI command that must succeed with `--json`; its output.
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
    }

    /// Starts the hosts `{prefix}-a` and `{prefix}-b` ([`Fleet::start`]); their indices.
    pub fn start_two(&mut self, prefix: &str) -> (usize, usize) {
        let a = self.start(&format!("{prefix}-a"));
        (a, self.start(&format!("{prefix}-b")))
    }

    /// Start `serve --host-id ID --fleet-poll 1` over the store; returns its index.
    pub fn start(&mut self, id: &str) -> usize {
        let port_file = self.dir.join(format!("{id}.port"));
        let admin = self.dir.join(format!("{id}.sock"));
        let log = self.dir.join(format!("{id}.log"));
        let child = trusting(&mut Command::new(bin()))
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
            .args(&self.serve_args)
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
    pub fn auth(&self, h: usize, uri: &str, bearer: Option<&str>) -> (u16, String) {
        let authorization = bearer.map(|secret| format!("Bearer {secret}"));
        let mut headers = vec![("X-Forwarded-Method", "GET"), ("X-Forwarded-Uri", uri)];
        if let Some(a) = &authorization {
            headers.push(("Authorization", a.as_str()));
        }
        let r =
            forge_authz_testkit::http::http(self.hosts[h].port, "GET", "/-/auth", &headers, b"");
        let reason = r.header("x-forge-authz-reason").unwrap_or_default();
        (r.status.unwrap_or(0), reason)
    }

    /// Host `h` answers (status, reason) for a clone of `uri`.
    pub fn expect(&self, h: usize, uri: &str, bearer: Option<&str>, want: (u16, &str), why: &str) {
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
    pub fn decides(&self, secret: &str, when: &str) {
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
    pub fn status(&self, h: usize) -> Result<Value, String> {
        let admin = self.hosts[h].admin.to_str().unwrap().to_owned();
        let args = ["status", "--admin-socket", admin.as_str()];
        let o = cli(&args);
        if !o.status.success() {
            return Err(describe(&args, &o));
        }
        serde_json::from_slice(&o.stdout).map_err(|e| format!("{e}: {}", describe(&args, &o)))
    }

    /// `forge-authz fleet --json`.
    pub fn fleet(&self) -> Value {
        self.json(&["fleet", "--db", &self.db, "--json"])
    }

    /// The `fleet --json` row of host `h`.
    pub fn row(&self, fleet: &Value, h: usize) -> Option<Value> {
        fleet["hosts"]
            .as_array()?
            .iter()
            .find(|r| r["host"] == self.hosts[h].id.as_str())
            .cloned()
    }

    /// Poll `check` until it holds (at most `FLEET_WAIT`); the failure names what was
    /// awaited, what was last seen and every host's log.
    pub fn wait(&self, what: &str, check: impl FnMut() -> Result<(), String>) {
        self.wait_within(FLEET_WAIT, what, check);
    }

    /// [`Fleet::wait`] with its own deadline.
    pub fn wait_within(
        &self,
        deadline: Duration,
        what: &str,
        mut check: impl FnMut() -> Result<(), String>,
    ) {
        let start = Instant::now();
        loop {
            match check() {
                Ok(()) => return,
                Err(last) if start.elapsed() >= deadline => {
                    panic!("{what}: not within {deadline:?}\nlast seen: {last}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Poll until every host answers `want` for `uri` with `bearer` (at most `deadline`).
    pub fn wait_answers(
        &self,
        deadline: Duration,
        uri: &str,
        bearer: Option<&str>,
        want: (u16, &str),
        what: &str,
    ) {
        self.wait_within(deadline, what, || {
            for h in 0..self.hosts.len() {
                let got = self.auth(h, uri, bearer);
                if (got.0, got.1.as_str()) != want {
                    return Err(format!("host {} answers {got:?}", self.hosts[h].id));
                }
            }
            Ok(())
        });
    }

    /// Wait until every host's `status` and `fleet --json` row satisfy `want` (given the
    /// host's `status.fleet` and its row).
    pub fn wait_all(&self, what: &str, want: impl Fn(&Value, &Value) -> Result<(), String>) {
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
    pub fn create_token(&self, name: &str) -> (String, String) {
        self.create_token_with(name, &[])
    }

    /// [`Fleet::create_token`] with more `token create` flags (`--repo alice/secret`).
    pub fn create_token_with(&self, name: &str, more: &[&str]) -> (String, String) {
        let mut args = vec![
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
        ];
        args.extend_from_slice(more);
        let v = self.json(&args);
        (
            v["secret"].as_str().unwrap().to_owned(),
            v["token"]["id"].as_str().unwrap().to_owned(),
        )
    }

    pub fn show_token(&self, id: &str) -> Value {
        self.json(&["token", "show", "--db", &self.db, id, "--json"])
    }
}

/// A module every host refuses: the embedded one cut short.
pub fn truncated() -> Vec<u8> {
    let good = forge_authz_host::policy::EMBEDDED_POLICY;
    good[..good.len() / 3].to_vec()
}

/// `Ok` when `v` (a `ModuleRef` from `status`, a version number from a `fleet` row, or
/// null for none) is version `want`.
pub fn version_is(what: &str, v: &Value, want: Option<i64>) -> Result<(), String> {
    let got = v.as_i64().or_else(|| v["version"].as_i64());
    if got == want && (want.is_some() || v.is_null()) {
        Ok(())
    } else {
        Err(format!("{what} is {v}, wanted version {want:?}"))
    }
}

/// The store's configuration version (`keys list --json`).
pub fn config_version(f: &Fleet) -> i64 {
    f.json(&["keys", "list", "--db", &f.db, "--json"])["version"]
        .as_i64()
        .unwrap()
}

/// Run SQL on the store `db` behind the CLI's back, in one transaction (the checks the
/// CLI would refuse are the hosts' to make).
pub fn sql(db: &str, statements: &str) {
    if db.starts_with("postgres://") {
        let mut c = postgres::Client::connect(db, postgres::NoTls).unwrap();
        c.batch_execute(&format!("BEGIN; {statements}; COMMIT"))
            .unwrap();
    } else {
        let c = rusqlite::Connection::open(db).unwrap();
        c.execute_batch(&format!("BEGIN; {statements}; COMMIT"))
            .unwrap();
    }
}

/// A fleet over a SQLite store in a fresh directory; no host runs yet.
pub fn sqlite_fleet(name: &str) -> Fleet {
    let dir = scratch(name);
    let db = dir.join("forge.db").display().to_string();
    Fleet::new(dir, db)
}

/// Two hosts, `host-a` and `host-b`, over a fresh PostgreSQL database: the fleet and the
/// hosts' indices (`None`: skipped by `FORGE_AUTHZ_SKIP_PG=1`).
pub fn pg_two_hosts(name: &str) -> Option<(Fleet, usize, usize)> {
    let mut f = pg_fleet(name)?;
    let (a, b) = f.start_two("host");
    Some((f, a, b))
}

/// Two hosts, `notify-a` and `notify-b`, over a fresh PostgreSQL database, polling only
/// every 10 minutes: what reaches them within seconds, PostgreSQL's NOTIFY brought
/// (`None`: skipped by `FORGE_AUTHZ_SKIP_PG=1`).
pub fn pg_fleet_notified(name: &str) -> Option<Fleet> {
    let mut f = pg_fleet(name)?;
    f.poll = "600";
    f.start_two("notify");
    Some(f)
}

/// A fleet over a fresh PostgreSQL database (`None`: skipped by `FORGE_AUTHZ_SKIP_PG=1`).
pub fn pg_fleet(name: &str) -> Option<Fleet> {
    let server = pg::shared_or_skip(name)?;
    let db = server.fresh_database(&format!("fleet_{name}_{}", std::process::id()));
    Some(Fleet::new(scratch(name), db))
}
