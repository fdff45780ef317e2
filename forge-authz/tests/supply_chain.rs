//! The module supply chain end to end (issue 23, "Done when": "the site policy built,
//! signed with the real `minisign` binary, checked, published to two running `serve`
//! hosts over PostgreSQL, decisions changed as intended on both within seconds, rolled
//! back"), as README "Writing your own policy" tells an operator to do it:
//!
//! 1. build `examples/site-policy/` (the change freeze) to a component with cargo;
//! 2. `minisign -G -W` a key pair, sign the shipped module (version 1) and the site
//!    policy (version 2) with the statement `forge-authz-module contract= version=
//!    sha256=` as the trusted comment (README "Trusting a module");
//! 3. `forge-authz check` the site policy against the shipped module with the freeze's
//!    site data: differences only, and only writes the core allowed now `site-refused`;
//! 4. `forge-authz site set` the freeze (a window covering now);
//! 5. two `serve` over one PostgreSQL store trusting the public key; `publish` the
//!    shipped module; the site policy without the reviewed report is refused (the gate),
//!    with `--accept-differences REPORT` it is published: within seconds
//!    both hosts refuse a token push 403 `site-refused` and still allow its pull;
//! 6. `publish --rollback`: within seconds both allow the push again.
//!
//! Without PostgreSQL (or without `minisign`) the test says SKIPPED on stderr and checks
//! nothing; CI installs both (.ci/run).
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

use std::path::Path;
use std::time::Instant;

use serde_json::Value;
use sha2::Digest as _;

use forge_authz_testkit::minisign::{Key, Minisign};

#[path = "support/fleet.rs"]
mod harness;
#[path = "support/site_policy.rs"]
mod site_policy;

use harness::{APP, FLEET_WAIT, Fleet, cli, describe, pg_fleet};

/// A push of alice/app (forward auth: the `info/refs` request that starts it).
const PUSH: &str = "/alice/app.git/info/refs?service=git-receive-pack";

/// The freeze: one window from 2025-01-01 to 2100-01-01, covering the real clock the
/// hosts decide with and the gate's generated worlds' fixed clock (2026-01-01) alike.
const FREEZE: &str = r#"{"freeze":{"windows":[
  {"from":1735689600,"until":4102444800,"reason":"supply-chain test freeze"}
]}}"#;

/// Write `bytes` to `dir/name` and `name.minisig` beside it: signed by `key` with the real
/// `minisign -S`, its trusted comment the statement of README "Trusting a module".
fn signed(ms: &Minisign, key: &Key, dir: &Path, name: &str, bytes: &[u8], version: u64) -> String {
    let statement = format!(
        "forge-authz-module contract={} version={version} sha256={}",
        forge_authz_host::wit::WIT_VERSION,
        hex::encode(sha2::Sha256::digest(bytes))
    );
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let signature = ms.sign(key, bytes, &statement);
    std::fs::write(dir.join(format!("{name}.minisig")), signature).unwrap();
    path.display().to_string()
}

/// `forge-authz check CANDIDATE --against LIVE --site SITE --report OUT`: the gate
/// passes its corpus and every invariant, and differs from the shipped module exactly as
/// the freeze says: exit 3 (differences only), every group a write (`git-push`,
/// `api-write`, a creation) the shipped module allowed and the site policy refuses
/// `site-refused`. Returns the report's path (what `publish --accept-differences` takes).
fn check_shows_only_the_freeze(f: &Fleet, candidate: &str, live: &str, site: &str) -> String {
    let report = f.dir.join("report.json").display().to_string();
    let args = [
        "check",
        candidate,
        "--against",
        live,
        "--site",
        site,
        "--report",
        &report,
    ];
    let o = cli(&args);
    assert_eq!(
        o.status.code(),
        Some(3),
        "differences only: {}",
        describe(&args, &o)
    );
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["verdict"], "differences", "{r:#}");
    let site_sha = hex::encode(sha2::Sha256::digest(FREEZE.as_bytes()));
    assert_eq!(r["site_sha256"], site_sha.as_str(), "run with the freeze");
    let failed: Vec<&Value> = (r["invariants"].as_array().unwrap().iter())
        .filter(|i| i["failed"] != 0)
        .collect();
    assert!(failed.is_empty(), "every invariant holds: {failed:?}");
    assert_eq!(
        r["corpus"]["failures"],
        Value::Array(vec![]),
        "{:#}",
        r["corpus"]
    );
    let groups = r["differences"].as_array().unwrap();
    assert!(!groups.is_empty(), "the freeze changes decisions: {r:#}");
    let mut kinds: Vec<&str> = Vec::new();
    for g in groups {
        let (kind, before, after) = (
            g["kind"].as_str(),
            g["before"].as_str(),
            g["after"].as_str(),
        );
        let (kind, before, after) = (kind.unwrap(), before.unwrap(), after.unwrap());
        let freeze_refuses = match kind {
            // A push's permissions per ref: all of them withdrawn.
            "ref-permissions" => before != "none" && after == "none",
            // A write the shipped module granted (every ref of a push too), refused.
            "git-push" | "batch-push" | "api-write" | "create" => {
                before.starts_with("granted")
                    && after.starts_with("site-refused")
                    && !after.contains("granted")
            }
            _ => false,
        };
        assert!(
            freeze_refuses,
            "only writes the shipped module allowed change, to site-refused: {kind}: {before} -> {after}"
        );
        kinds.push(kind);
    }
    for kind in ["git-push", "api-write", "create"] {
        assert!(kinds.contains(&kind), "a {kind} is among them: {kinds:?}");
    }
    report
}

/// `publish ARGS --trusted-signers PUB --db DB --json`, then every host answers `push`
/// for a token push (and still `granted` for its pull). Returns the seconds `publish` took
/// (the gate included) and the seconds from its end until both hosts decided so.
fn publish_and_wait(
    f: &Fleet,
    public: &str,
    args: &[&str],
    token: &str,
    push: (u16, &str),
    what: &str,
) -> (f64, f64) {
    let mut all = vec!["publish"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--trusted-signers", public, "--db", &f.db, "--json"]);
    let started = Instant::now();
    f.json(&all);
    let published = Instant::now();
    f.wait_answers(FLEET_WAIT, PUSH, Some(token), push, what);
    let took = published.elapsed().as_secs_f64();
    f.wait_answers(FLEET_WAIT, APP, Some(token), (200, "granted"), what);
    ((published - started).as_secs_f64(), took)
}

#[test]
fn a_site_policy_is_built_signed_checked_published_to_two_hosts_and_rolled_back() {
    let test = "supply_chain";
    let Some(ms) = Minisign::find_or_skip(test) else {
        return;
    };
    let Some(mut f) = pg_fleet("supply") else {
        return;
    };
    let dir = f.dir.clone();
    // 1. Built from the template, as an operator builds it.
    let site_bytes = site_policy::build();
    // 2. A key pair and two signatures made with the real minisign: the shipped module as
    //    version 1, the site policy as version 2.
    let key = ms.keygen("release");
    let public = dir.join("release.pub").display().to_string();
    std::fs::write(&public, &key.public).unwrap();
    let shipped = forge_authz_host::policy::EMBEDDED_POLICY;
    let shipped = signed(&ms, &key, &dir, "shipped.wasm", shipped, 1);
    let site_policy = signed(&ms, &key, &dir, "site-policy.wasm", site_bytes, 2);
    // 3. Checked against the shipped module with the freeze: exactly its differences.
    let freeze = dir.join("freeze.json").display().to_string();
    std::fs::write(&freeze, FREEZE).unwrap();
    let report = check_shows_only_the_freeze(&f, &site_policy, &shipped, &freeze);
    // 4. The freeze becomes site data in the store (a configuration version).
    f.ok(&[
        "site",
        "set",
        &freeze,
        "--db",
        &f.db,
        "--by",
        "release-manager",
    ]);
    let history = f.json(&["site", "history", "--db", &f.db, "--json"]);
    assert_eq!(
        history["events"][0]["actor"], "release-manager",
        "{history}"
    );
    // 5. Two hosts over the PostgreSQL store, trusting the release key only.
    f.serve_args = vec!["--trusted-signers".into(), public.clone()];
    f.start_two("chain");
    let (token, _) = f.create_token_with("pusher", &["--scope", "write:repository"]);
    let first = publish_and_wait(
        &f,
        &public,
        &[&shipped],
        &token,
        (200, "granted"),
        "shipped v1",
    );
    // The gate is on the way: without the reviewed report nothing is published.
    let args = [
        "publish",
        &site_policy,
        "--trusted-signers",
        &public,
        "--db",
        &f.db,
    ];
    f.refused(&args, "--accept-differences");
    assert_eq!(f.fleet()["published"]["live"]["version"], 1, "still v1");
    let frozen = publish_and_wait(
        &f,
        &public,
        &[&site_policy, "--accept-differences", &report],
        &token,
        (403, "site-refused"),
        "the site policy refuses a push during the freeze, on both hosts",
    );
    // 6. Rolled back: the shipped module again, pushes allowed on both hosts.
    let back = publish_and_wait(
        &f,
        &public,
        &["--rollback"],
        &token,
        (200, "granted"),
        "rolled back",
    );
    eprintln!(
        "supply chain: (publish s, then until both hosts decide s): shipped {first:.1?}, \
         site policy {frozen:.1?}, rollback {back:.1?}"
    );
    let fleet = f.fleet();
    assert_eq!(fleet["published"]["live"]["version"], 1, "{fleet}");
}
