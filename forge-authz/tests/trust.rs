//! Module trust through real `forge-authz serve` processes, the CLI and the real Debian
//! `minisign` binary (issue 23 item 1 and its "Done when": "unsigned, tampered (one
//! byte), wrong-key, replayed-older and retired-key modules are refused on every path that
//! can make a module live ... with the old module still serving; `--allow-unsigned` works
//! and is visible"). Paths: `publish` and each fleet host's apply (SQLite and PostgreSQL),
//! admin `reload` and `shadow`, `serve --policy` at start.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use sha2::Digest as _;

#[path = "support/fleet.rs"]
mod harness;

use forge_authz_host::policy::EMBEDDED_POLICY;
use forge_authz_host::store::modules::{self, Publication, Role};
use forge_authz_host::trust::sign;
use forge_authz_testkit::{Backend, both};
use harness::signing::{TestSigner, new_signer};
use harness::{Fleet, bin, cli, describe, pg_fleet, signer, sqlite_fleet, trusting, version_is};

/// A store with the test world (`None`: PostgreSQL skipped by `FORGE_AUTHZ_SKIP_PG=1`).
fn fleet(b: Backend, name: &str) -> Option<Fleet> {
    match b {
        Backend::Sqlite => Some(sqlite_fleet(name)),
        Backend::Postgres => pg_fleet(&format!("trust_{name}")),
    }
}

/// The embedded module with a custom section holding `tag` appended: another SHA-256,
/// still a loadable component deciding as the embedded one (so only trust can refuse it).
fn variant(tag: &str) -> Vec<u8> {
    let name = b"forge-authz-test";
    let mut content = vec![u8::try_from(name.len()).unwrap()];
    content.extend_from_slice(name);
    content.extend_from_slice(tag.as_bytes());
    let mut out = EMBEDDED_POLICY.to_vec();
    out.push(0);
    out.push(u8::try_from(content.len()).unwrap());
    assert!(content.len() < 128, "one LEB128 byte");
    out.extend(content);
    out
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The modules of one scenario, written to `dir` (each `NAME.wasm`, signed or not).
struct Modules {
    dir: PathBuf,
}

impl Modules {
    /// Write `variant(name)` as `NAME.wasm`, signed by `by` at `version` (`None`: unsigned).
    fn write(&self, name: &str, by: Option<(&TestSigner, u64)>) -> String {
        let path = self.dir.join(format!("{name}.wasm"));
        match by {
            Some((s, v)) => s.write_signed(&path, &variant(name), v),
            None => std::fs::write(&path, variant(name)).unwrap(),
        }
        path.display().to_string()
    }

    /// A module signed by the trusted signer at `version`, then one byte of its custom
    /// section flipped: still a loadable component, but not the signed bytes.
    fn tampered(&self, name: &str, version: u64) -> String {
        let path = self.write(name, Some((signer(), version)));
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

/// `signer`'s public key added to the store's signers, endorsed by the trusted test key.
fn add_signer(f: &Fleet, s: &TestSigner) {
    let endorsement = format!("{}.minisig", s.public.display());
    let text = std::fs::read(&s.public).unwrap();
    let sig = sign::sign(&signer().key.secret, None, &text, "endorse").unwrap();
    std::fs::write(&endorsement, sig).unwrap();
    let public = s.public.to_str().unwrap();
    let out = f.ok(&[
        "signers",
        "add",
        "--db",
        &f.db,
        public,
        "--endorsement",
        &endorsement,
    ]);
    assert_eq!(out.trim(), s.key.id);
}

/// Store `module` as the fleet's live version behind the CLI's back (a store writer: the
/// hosts' own checks must refuse it), with its signature file if any.
fn store_behind_the_cli(f: &Fleet, module: &str, signed_version: u64) {
    let bytes = std::fs::read(module).unwrap();
    let sig = std::fs::read_to_string(format!("{module}.minisig")).ok();
    let signed_version = (signed_version > 0).then_some(signed_version);
    let mut store =
        forge_authz_host::store::Store::open(forge_authz_host::store::Location::parse(&f.db))
            .unwrap();
    let p = Publication {
        module: &bytes,
        signed: sig.as_deref().zip(signed_version),
        accepted_report_sha256: None,
        role: Role::Live,
    };
    modules::publish(&mut store, &p, "a store writer", 1).unwrap();
}

/// Host 0 runs the module with SHA-256 `sha` as the fleet's live version `version`, and
/// reports `state` (`refused`: with `code` in its detail).
fn host_runs(f: &Fleet, version: i64, sha: &str, refused: Option<&str>, what: &str) {
    f.wait_all(what, |s, row| {
        version_is("status fleet.live", &s["fleet"]["live"], Some(version))?;
        if s["sha256"] != sha || row["live_sha256"] != sha {
            return Err(format!("not running {sha}"));
        }
        let detail = row["detail"].as_str().unwrap_or_default();
        match refused {
            None if row["state"] == "running" => Ok(()),
            Some(code) if row["state"] == "refused" && detail.contains(code) => Ok(()),
            _ => Err(format!("state {} detail {detail}", row["state"])),
        }
    });
}

both!(publish_and_every_fleet_host_refuse_untrusted_modules, |b| {
    fleet(b, "publish")
});
fn publish_and_every_fleet_host_refuse_untrusted_modules(mut f: Fleet) {
    f.start("trust-host");
    let (secret, _) = f.create_token("ci");
    let m = Modules { dir: f.dir.clone() };
    let publish = |path: &str| f.ok(&["publish", "--db", &f.db, path]);
    let refuse = |path: &str, code: &str| f.refused(&["publish", "--db", &f.db, path], code);

    // Signed versions 2 then 5; a rollback goes back below the floor (5).
    let v2 = m.write("v2", Some((signer(), 2)));
    let v5 = m.write("v5", Some((signer(), 5)));
    publish(&v2);
    publish(&v5);
    host_runs(&f, 2, &sha(&variant("v5")), None, "signed version 5 live");
    f.ok(&["publish", "--db", &f.db, "--rollback"]);
    host_runs(
        &f,
        1,
        &sha(&variant("v2")),
        None,
        "rolled back to signed version 2",
    );
    f.decides(&secret, "after the rollback below the floor");
    let table = f.ok(&["fleet", "--db", &f.db]);
    assert!(
        table.contains("floor:  signed version 5 (live reached by rollback)"),
        "{table}"
    );

    // Replayed: signed 3 < the floor 5, refused by publish and by the host.
    let older = m.write("older", Some((signer(), 3)));
    refuse(&older, "replayed-older");
    store_behind_the_cli(&f, &older, 3);
    host_runs(
        &f,
        1,
        &sha(&variant("v2")),
        Some("replayed-older"),
        "older refused",
    );
    f.decides(&secret, "while the replayed module is refused");
    f.ok(&["publish", "--db", &f.db, "--rollback"]);

    // A fleet signer endorsed by the trusted key signs what every host runs; retired, its
    // next module is refused (the module it signed before keeps serving until replaced).
    let second = new_signer("second");
    add_signer(&f, &second);
    let by_second = m.write("by-second", Some((&second, 6)));
    publish(&by_second);
    let v7 = m.write("v7", Some((signer(), 7)));
    publish(&v7);
    host_runs(&f, 5, &sha(&variant("v7")), None, "signed version 7 live");
    f.ok(&["signers", "retire", "--db", &f.db, &second.key.id]);
    let retired = m.write("retired", Some((&second, 10)));
    refuse(&retired, "retired-key");

    // Each untrusted module: refused by publish, then stored behind the CLI's back and
    // refused by the host, which keeps serving version 7 and deciding.
    let stranger = new_signer("stranger");
    let cases = [
        (retired, 10, "retired-key"),
        (m.write("unsigned", None), 0, "unsigned"),
        (m.tampered("tampered", 11), 11, "bad-signature"),
        (
            m.write("wrong-key", Some((&stranger, 12))),
            12,
            "untrusted-key",
        ),
    ];
    for (path, version, code) in &cases {
        if *code != "retired-key" {
            refuse(path, code);
        }
        store_behind_the_cli(&f, path, *version);
        let what = format!("the host refuses a {code} module");
        host_runs(&f, 5, &sha(&variant("v7")), Some(code), &what);
        f.decides(&secret, &what);
        f.ok(&["publish", "--db", &f.db, "--rollback"]);
    }
    // What the store writer recorded stays in the log (rolled back): its claimed
    // versions count towards the floor (README "Trusting a module", the residual risk).
    let published = f.fleet()["published"].clone();
    assert_eq!(published["live"]["version"], 5, "{published}");
    assert_eq!(published["floor"], 12, "{published}");

    // A module refused for want of trust is tried again when the signers change (README
    // "Trusting a module": a new signer is a configuration version every host applies).
    let later = new_signer("later");
    let pending = m.write("pending", Some((&later, 13)));
    store_behind_the_cli(&f, &pending, 13);
    let what = "a module by a key not yet endorsed";
    host_runs(&f, 5, &sha(&variant("v7")), Some("untrusted-key"), what);
    add_signer(&f, &later);
    let what = "the same module once its key is endorsed";
    host_runs(&f, 10, &sha(&variant("pending")), None, what);
    f.decides(&secret, what);
}

/// `serve` with these flags over `f`'s store must refuse to start, saying `says`.
fn serve_refuses(f: &Fleet, args: &[&str], says: &str) {
    let state = f.dir.join("refused-state");
    let o = forge_authz_testkit::process::run_for(
        trusting(&mut Command::new(bin()))
            .args(["serve", "--db", &f.db, "--repos", f.repos.to_str().unwrap()])
            .args([
                "--listen",
                "127.0.0.1:0",
                "--state",
                state.to_str().unwrap(),
            ])
            .args(args),
        Duration::from_secs(60),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains(says),
        "serve {args:?}: {err}"
    );
    assert!(err.contains("the policy module was refused"), "{err}");
}

#[test]
fn serve_refuses_to_start_on_an_untrusted_module_and_allow_unsigned_is_visible() {
    let mut f = sqlite_fleet("start");
    let m = Modules { dir: f.dir.clone() };
    let stranger = new_signer("stranger");
    let retiring = new_signer("retiring");
    add_signer(&f, &retiring);
    let by_retiring = m.write("by-retiring", Some((&retiring, 9)));
    f.ok(&["signers", "retire", "--db", &f.db, &retiring.key.id]);
    f.ok(&[
        "publish",
        "--db",
        &f.db,
        &m.write("v5", Some((signer(), 5))),
    ]);
    let unsigned = m.write("unsigned", None);
    for (path, code) in [
        (unsigned.clone(), "unsigned"),
        (m.tampered("tampered", 8), "bad-signature"),
        (m.write("wrong-key", Some((&stranger, 8))), "untrusted-key"),
        (m.write("older", Some((signer(), 4))), "replayed-older"),
        (by_retiring, "retired-key"),
    ] {
        serve_refuses(&f, &["--policy", &path], code);
    }
    // `--policy-signature` names another file: a signature of other bytes does not do.
    let v8 = m.write("v8", Some((signer(), 8)));
    let sig = format!("{v8}.minisig");
    serve_refuses(
        &f,
        &["--policy", &unsigned, "--policy-signature", &sig],
        "bad-signature",
    );

    // --allow-unsigned: it starts, says so in its log, `status` and the metrics.
    let metrics_port = f.dir.join("metrics.port");
    f.serve_args = ["--policy", unsigned.as_str(), "--allow-unsigned"]
        .into_iter()
        .chain(["--metrics-listen", "127.0.0.1:0", "--metrics-port-file"])
        .chain([metrics_port.to_str().unwrap()])
        .map(String::from)
        .collect();
    let h = f.start("unsigned-host");
    let s = f.status(h).unwrap();
    assert_eq!(s["trust"]["allow_unsigned"], true, "{s}");
    // The fleet's version 1 (signed 5) replaced the local module at the first sync.
    assert_eq!(s["module_trust"]["trust"], "signed", "{s}");
    let port: u16 = std::fs::read_to_string(&metrics_port)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let metrics = forge_authz_testkit::http::http(port, "GET", "/metrics", &[], b"").body();
    assert!(
        metrics.contains("\nforge_authz_allow_unsigned 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\nforge_authz_module_signed_version 5\n"),
        "{metrics}"
    );
    assert!(f.logs().contains("allow-unsigned"), "{}", f.logs());
    // An unsigned module published with --allow-unsigned: this host runs it (shown as
    // unsigned, logged, counted); publish without the flag refuses it.
    f.refused(&["publish", "--db", &f.db, &unsigned], "unsigned");
    f.ok(&["publish", "--db", &f.db, &unsigned, "--allow-unsigned"]);
    host_runs(
        &f,
        2,
        &sha(&variant("unsigned")),
        None,
        "the unsigned module live",
    );
    let s = f.status(h).unwrap();
    assert_eq!(s["module_trust"]["trust"], "unsigned", "{s}");
    let metrics = forge_authz_testkit::http::http(port, "GET", "/metrics", &[], b"").body();
    assert!(
        metrics.contains("\nforge_authz_module_unsigned 1\n"),
        "{metrics}"
    );
    assert!(f.logs().contains("module-unsigned"), "{}", f.logs());
}

#[test]
fn admin_reload_and_shadow_refuse_untrusted_modules_and_keep_the_old_one() {
    let mut f = sqlite_fleet("admin");
    let modules_dir = f.dir.join("modules");
    std::fs::create_dir(&modules_dir).unwrap();
    let m = Modules {
        dir: modules_dir.clone(),
    };
    f.serve_args = vec!["--modules".into(), modules_dir.display().to_string()];
    let h = f.start("admin-host");
    let (secret, _) = f.create_token("ci");
    let admin = f.hosts[h].admin.display().to_string();
    let ask = |op: &str, module: &str| -> Value {
        let args = [op, "--admin-socket", admin.as_str(), "--module", module];
        let o = cli(&args);
        serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", describe(&args, &o)))
    };
    m.write("v2", Some((signer(), 2)));
    let reloaded = ask("reload", "v2.wasm");
    assert!(reloaded["refused"].is_null(), "{reloaded}");
    let s = f.status(h).unwrap();
    assert_eq!(s["module_trust"]["version"], 2, "{s}");
    let retiring = new_signer("retiring");
    add_signer(&f, &retiring);
    m.write("by-retiring", Some((&retiring, 9)));
    f.ok(&["signers", "retire", "--db", &f.db, &retiring.key.id]);
    // The retirement is a configuration version: the host applies it (a new generation)
    // and reads the signers again.
    let version = f.fleet()["config"]["version"].clone();
    f.wait("the host knows the retirement", || {
        let s = f.status(h)?;
        let retired = s["trust"]["retired"].to_string();
        let applied = s["fleet"]["config_version"] == version;
        (applied && retired.contains(&retiring.key.id))
            .then_some(())
            .ok_or(s.to_string())
    });
    let g = f.status(h).unwrap()["generation"].clone();
    let stranger = new_signer("stranger");
    m.write("unsigned", None);
    m.tampered("tampered", 8);
    m.write("wrong-key", Some((&stranger, 8)));
    m.write("older", Some((signer(), 1)));
    for (name, code) in [
        ("unsigned", "unsigned"),
        ("tampered", "bad-signature"),
        ("wrong-key", "untrusted-key"),
        ("older", "replayed-older"),
        ("by-retiring", "retired-key"),
    ] {
        for op in ["reload", "shadow"] {
            let answer = ask(op, &format!("{name}.wasm"));
            let why = answer["refused"].as_str().unwrap_or_default();
            assert!(why.contains(code), "{op} {name}: {answer}");
        }
        let s = f.status(h).unwrap();
        assert_eq!(s["generation"], g, "{name} was published: {s}");
        assert!(s["shadow"].is_null(), "{name} runs in shadow: {s}");
        assert_eq!(s["sha256"], sha(&variant("v2")), "{s}");
        f.decides(&secret, &format!("after {name} was refused"));
    }
    // A signature that is a FIFO is refused at once (reading it could block forever).
    let fifo_sig = format!("{}.minisig", m.write("fifo-sig", Some((signer(), 3))));
    std::fs::remove_file(&fifo_sig).unwrap();
    let made = forge_authz_testkit::process::run_for(
        Command::new("mkfifo").arg(&fifo_sig),
        Duration::from_secs(10),
    );
    assert!(made.status.success(), "mkfifo: {made:?}");
    let o = forge_authz_testkit::process::run_for(
        Command::new(bin()).args([
            "reload",
            "--admin-socket",
            &admin,
            "--module",
            "fifo-sig.wasm",
        ]),
        Duration::from_secs(15),
    );
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(said.contains("signature file cannot be read"), "{said}");
    let shadow = ask("shadow", "v2.wasm");
    assert!(
        shadow["refused"].is_null(),
        "a trusted module runs in shadow: {shadow}"
    );
    assert_eq!(
        f.status(h).unwrap()["shadow_trust"]["signer"],
        signer().key.id
    );
}

/// Whether the Debian `minisign` binary is installed (else the test fails, or says
/// SKIPPED with `FORGE_AUTHZ_SKIP_MINISIGN=1`).
fn minisign() -> bool {
    let found = Command::new("minisign").arg("-v").output().is_ok();
    if !found {
        forge_authz_testkit::minisign::skip_or_fail("trust");
    }
    found
}

fn run(program: &str, args: &[&str]) -> std::process::Output {
    let o = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{program} {args:?}: {o:?}");
    o
}

/// A key generation's arguments: `flags`, then where the public and secret keys go.
fn keygen<'a>(
    flags: &[&'a str],
    public: (&'a str, &'a Path),
    secret: (&'a str, &'a Path),
) -> Vec<&'a str> {
    let mut args = flags.to_vec();
    for (flag, path) in [public, secret] {
        args.extend([flag, path.to_str().unwrap()]);
    }
    args
}

fn verify(dir: &Path, module: &str, more: &[&str]) -> (bool, Value) {
    let public = dir.join("minisign.pub");
    let mut args = vec!["module", "verify", module, "--trusted-signers"];
    args.push(public.to_str().unwrap());
    args.extend_from_slice(more);
    let o = cli(&args);
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", describe(&args, &o)));
    (o.status.success(), v)
}

#[test]
fn the_minisign_binary_and_forge_authz_module_sign_and_verify_each_other() {
    // issue 23 item 1: "Debian's `minisign` CLI signs; `forge-authz module sign|verify`
    // for those without the CLI" — the same files either way.
    if !minisign() {
        return;
    }
    let dir = harness::scratch("minisign");
    let (public, secret) = (dir.join("minisign.pub"), dir.join("minisign.key"));
    run(
        "minisign",
        &keygen(&["-G", "-W"], ("-p", &public), ("-s", &secret)),
    );
    let module = dir.join("policy.wasm");
    std::fs::write(&module, EMBEDDED_POLICY).unwrap();
    let m = module.to_str().unwrap();
    let statement = format!(
        "forge-authz-module contract={} version=7 sha256={}",
        forge_authz_host::wit::WIT_VERSION,
        sha(EMBEDDED_POLICY)
    );
    run(
        "minisign",
        &[
            "-S",
            "-s",
            secret.to_str().unwrap(),
            "-m",
            m,
            "-t",
            &statement,
        ],
    );
    let (ok, v) = verify(&dir, m, &[]);
    assert!(ok, "{v}");
    assert_eq!(v["statement"]["version"], 7, "{v}");
    let (ok, v) = verify(&dir, m, &["--floor", "8"]);
    assert!(!ok && v["refused"] == "replayed-older", "{v}");
    let tampered = dir.join("tampered.wasm");
    let mut bytes = EMBEDDED_POLICY.to_vec();
    bytes[100] ^= 1;
    std::fs::write(&tampered, bytes).unwrap();
    let sig = format!("{m}.minisig");
    let t = tampered.to_str().unwrap();
    let (ok, v) = verify(&dir, t, &["--signature", &sig]);
    assert!(!ok && v["refused"] == "bad-signature", "{v}");
    // minisign's default trusted comment (a timestamp) is no statement.
    run("minisign", &["-S", "-s", secret.to_str().unwrap(), "-m", t]);
    let (ok, v) = verify(&dir, t, &[]);
    assert!(!ok && v["refused"] == "statement-mismatch", "{v}");

    // `forge-authz module sign` with the key minisign made; minisign verifies it.
    let second = dir.join("second.wasm");
    std::fs::write(&second, variant("second")).unwrap();
    let s = second.to_str().unwrap();
    let args = [
        "module",
        "sign",
        s,
        "--secret",
        secret.to_str().unwrap(),
        "--version",
        "9",
    ];
    let o = cli(&args);
    assert!(o.status.success(), "{}", describe(&args, &o));
    let o = run("minisign", &["-V", "-p", public.to_str().unwrap(), "-m", s]);
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(said.contains("version=9"), "{said}");
    // A key made by `forge-authz module keygen` is another key: untrusted here.
    let (other_pub, other_key) = (dir.join("other.pub"), dir.join("other.key"));
    let flags = ["module", "keygen", "--unencrypted"];
    let args = keygen(&flags, ("--public", &other_pub), ("--secret", &other_key));
    let o = cli(&args);
    assert!(o.status.success(), "{}", describe(&args, &o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("NOT encrypted"));
    let args = [
        "module",
        "sign",
        s,
        "--secret",
        other_key.to_str().unwrap(),
        "--version",
        "9",
    ];
    assert!(cli(&args).status.success());
    let (ok, v) = verify(&dir, s, &[]);
    assert!(!ok && v["refused"] == "untrusted-key", "{v}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_readme_trusting_a_module_commands_run_as_printed() {
    // README "Trusting a module": its command block, run as printed with the real
    // minisign binary over a SQLite store (only the anchors it names are trusted).
    if !minisign() {
        return;
    }
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let section = &readme[readme.find("## Trusting a module").unwrap()..];
    let block = &section[section.find("```sh\n").unwrap() + 6..];
    let block = &block[..block.find("```").unwrap()];
    assert!(
        block.contains(&format!("contract={} ", forge_authz_host::wit::WIT_VERSION)),
        "the README signs for this contract"
    );
    let f = sqlite_fleet("readme");
    std::fs::write(f.dir.join("policy.wasm"), EMBEDDED_POLICY).unwrap();
    // The store the block names: the fleet's own (`forge.db` in its directory).
    assert!(f.db.ends_with("/forge.db"), "{}", f.db);
    let path = format!(
        "{}:{}",
        bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = forge_authz_testkit::process::run_for(
        Command::new("bash")
            .args(["-euo", "pipefail", "-c", block])
            .current_dir(&f.dir)
            .env("PATH", path)
            .env_remove(harness::signing::TRUSTED_SIGNERS_ENV),
        Duration::from_secs(300),
    );
    let out = forge_authz_testkit::process::both(&o);
    assert!(o.status.success(), "the README's block failed: {out}");
    let list = String::from_utf8_lossy(&o.stdout);
    assert!(
        list.contains("trusted"),
        "signers list shows the CI key trusted: {out}"
    );
    let fleet = f.json(&[
        "fleet",
        "--db",
        f.dir.join("forge.db").to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(fleet["published"]["floor"], 8, "{fleet}");
}

#[test]
fn signers_are_added_only_with_an_endorsement_a_trusted_key_made() {
    // issue 23 item 1 ("trusted public keys are ... fleet state ... added and retired
    // with history"); README "Trusting a module": a store writer alone cannot add trust.
    let f = sqlite_fleet("signers");
    let (new, stranger) = (new_signer("new"), new_signer("stranger"));
    let public = new.public.to_str().unwrap();
    let self_signed = f.dir.join("self.minisig");
    let text = std::fs::read(&new.public).unwrap();
    let sig = sign::sign(&new.key.secret, None, &text, "endorse").unwrap();
    std::fs::write(&self_signed, sig).unwrap();
    let by_stranger = f.dir.join("stranger.minisig");
    let sig = sign::sign(&stranger.key.secret, None, &text, "endorse").unwrap();
    std::fs::write(&by_stranger, sig).unwrap();
    for (endorsement, code) in [
        (&self_signed, "untrusted-key"),
        (&by_stranger, "untrusted-key"),
    ] {
        let e = endorsement.to_str().unwrap();
        f.refused(
            &["signers", "add", "--db", &f.db, public, "--endorsement", e],
            code,
        );
    }
    add_signer(&f, &new);
    let again = ["signers", "add", "--db", &f.db, public, "--endorsement"];
    f.refused(
        &[&again[..], &[self_signed.to_str().unwrap()]].concat(),
        "already added",
    );
    f.refused(
        &["signers", "retire", "--db", &f.db, "not-an-id"],
        "16 hexadecimal",
    );
    f.ok(&["signers", "retire", "--db", &f.db, &new.key.id]);
    let list = f.json(&["signers", "list", "--db", &f.db, "--json"]);
    let row = &list["signers"][0];
    assert_eq!(row["id"], new.key.id.as_str(), "{list}");
    assert_eq!(row["state"], "retired", "{list}");
    assert_eq!(row["endorsed_by"], signer().key.id.as_str(), "{list}");
    assert!(row.get("endorsement").is_none(), "{list}");
    // Each change is a configuration version, with who and when.
    let history = f.json(&["keys", "history", "--db", &f.db, "--json"]);
    let actions: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.starts_with(&["signer-retire", "signer-add"]),
        "{history}"
    );
}

#[test]
fn shadow_publications_and_promotion_are_held_to_the_same_trust() {
    // issue 23 item 1: `publish` (live or shadow) and `--promote` make a module live on
    // every host: each is checked as the hosts will check it.
    let f = sqlite_fleet("shadow");
    let m = Modules { dir: f.dir.clone() };
    f.ok(&[
        "publish",
        "--db",
        &f.db,
        &m.write("v5", Some((signer(), 5))),
    ]);
    let older = m.write("older", Some((signer(), 3)));
    f.refused(
        &["publish", "--db", &f.db, &older, "--shadow"],
        "replayed-older",
    );
    let shadow_signer = new_signer("shadow");
    add_signer(&f, &shadow_signer);
    let candidate = m.write("candidate", Some((&shadow_signer, 6)));
    f.ok(&["publish", "--db", &f.db, &candidate, "--shadow"]);
    f.ok(&["signers", "retire", "--db", &f.db, &shadow_signer.key.id]);
    f.refused(&["publish", "--db", &f.db, "--promote"], "retired-key");
    let published = f.fleet()["published"].clone();
    assert_eq!(published["live"]["version"], 1, "not promoted: {published}");
    assert_eq!(published["shadow"]["version"], 2, "{published}");
}

#[test]
fn git_shell_refuses_an_untrusted_policy_module() {
    // issue 23 item 1: every path that makes a module decide — git over SSH too (the
    // forced command's `--policy`, verified as `serve` verifies it at start).
    let f = sqlite_fleet("git-shell");
    let m = Modules { dir: f.dir.clone() };
    let shell = |policy: &str| {
        let args = ["--policy", policy, "git-shell", "--db", &f.db];
        let o = forge_authz_testkit::process::run_for(
            trusting(&mut Command::new(bin()))
                .args(args)
                .args(["--repos", f.repos.to_str().unwrap(), "--key", "k1"])
                .env("SSH_ORIGINAL_COMMAND", "git-upload-pack 'alice/app.git'"),
            Duration::from_secs(60),
        );
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let stranger = new_signer("stranger");
    for (path, code) in [
        (m.write("unsigned", None), "unsigned"),
        (m.tampered("tampered", 2), "bad-signature"),
        (m.write("wrong-key", Some((&stranger, 2))), "untrusted-key"),
    ] {
        let err = shell(&path);
        assert!(
            err.contains("the policy module was refused") && err.contains(code),
            "{err}"
        );
    }
    let err = shell(&m.write("signed", Some((signer(), 2))));
    assert!(!err.contains("the policy module was refused"), "{err}");
}
